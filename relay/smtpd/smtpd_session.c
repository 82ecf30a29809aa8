/*
 * smtpd_session.c - the I/O side of an inbound SMTP session
 *
 * Reads command lines (bounded: a line longer than DD_SMTP_CMD_MAX is
 * refused before it is read whole) and content, writes replies, enforces
 * timeouts, the greet pause, the pipelining rule for HELO clients and
 * max_errors. What a command means is smtpd_cmd.c's job. Timeouts are of
 * two kinds, both answered 421 4.4.2: silence (command_timeout between
 * reads or writes, the bufferevent's) and deadlines, which a client that
 * drips an octet at a time cannot push back (as Postfix's
 * smtpd_per_record_deadline): command_timeout for a whole command line
 * from its first octet, data_timeout for a message's content from the 354
 * (or the first BDAT) to its end.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>

#include "bev_read.h"
#include "bev_write.h"
#include "log.h"
#include "smtpd_session_int.h"
#include "tls.h"

static void smtpd_process(struct smtpd_session *s);
static void smtpd_settle(struct smtpd_session *s);

/* smtpd_reply_v - one reply line; CRLF is added */
__attribute__((format(printf, 2, 0))) static void smtpd_reply_v(struct smtpd_session *s,
                                                                const char *fmt, va_list ap)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);

    evbuffer_add_vprintf(out, fmt, ap);
    evbuffer_add(out, "\r\n", 2);
}

/* smtpd_reply - queue one reply line */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    smtpd_reply_v(s, fmt, ap);
    va_end(ap);
}

/* smtpd_reply_error - an error reply that counts toward max_errors */
void smtpd_reply_error(struct smtpd_session *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    smtpd_reply_v(s, fmt, ap);
    va_end(ap);
    if (++s->errors >= s->c->smtp.max_errors && s->state != SMTPD_S_CLOSING) {
        log_warn("smtpd", "too many errors from %s", s->peer);
        smtpd_reply(s, "421 4.7.0 %s Error: too many errors", s->c->smtp.hostname);
        smtpd_close_after_reply(s);
    }
}

/* smtpd_close_after_reply - stop reading; close once the output is out */
void smtpd_close_after_reply(struct smtpd_session *s)
{
    s->state = SMTPD_S_CLOSING;
    bufferevent_disable(s->bev, EV_READ);
}

/* smtpd_greet - the 220 banner */
static void smtpd_greet(struct smtpd_session *s)
{
    smtpd_reply(s, "220 %s ESMTP dumpsterd", s->c->smtp.hostname);
    s->state = SMTPD_S_CMD;
}

/* smtpd_greet_cb - the greet pause is over and the client kept quiet */
static void smtpd_greet_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;
    (void)fd;
    (void)what;
    if (s->state == SMTPD_S_PREGREET) {
        smtpd_greet(s);
        smtpd_settle(s);
    }
}

/* smtpd_read_command - take one command line from in, if whole */
static bool smtpd_read_command(struct smtpd_session *s, struct evbuffer *in)
{
    size_t avail = evbuffer_get_length(in);
    size_t limit = avail < DD_SMTP_CMD_MAX ? avail : DD_SMTP_CMD_MAX;
    struct evbuffer_ptr end;
    char line[DD_SMTP_CMD_MAX];

    evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET);
    struct evbuffer_ptr nl = evbuffer_search_range(in, "\n", 1, NULL, &end);
    if (nl.pos < 0) {
        if (avail < DD_SMTP_CMD_MAX)
            return false; /* wait for the rest of the line */
        s->state = SMTPD_S_DISCARD;
        smtpd_reply_error(s, "500 5.5.2 Error: line too long");
        return true;
    }
    size_t len = (size_t)nl.pos;
    evbuffer_remove(in, line, len + 1);
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (!s->pipelining && evbuffer_get_length(in) > 0) {
        log_warn("smtpd", "improper command pipelining after %.*s from %s", 4, line, s->peer);
        smtpd_reply(s, "554 5.5.0 Error: improper command pipelining");
        smtpd_close_after_reply(s);
        return true;
    }
    smtpd_cmd_dispatch(s, line, len);
    return true;
}

/* smtpd_discard - skip the rest of an over-long command line */
static void smtpd_discard(struct smtpd_session *s, struct evbuffer *in)
{
    struct evbuffer_ptr nl = evbuffer_search(in, "\n", 1, NULL);
    if (nl.pos < 0) {
        evbuffer_drain(in, evbuffer_get_length(in));
        return;
    }
    evbuffer_drain(in, (size_t)nl.pos + 1);
    s->state = SMTPD_S_CMD;
}

/* smtpd_pause_for_store - too much waits for the disk: stop reading */
static void smtpd_pause_for_store(struct smtpd_session *s)
{
    s->paused = true;
    bufferevent_disable(s->bev, EV_READ);
    s->env->wait_store(s->env->ctx, s->id);
}

/* smtpd_feed - content octets from in[], at most max; returns octets used */
static size_t smtpd_feed(struct smtpd_session *s, struct evbuffer *in, size_t max)
{
    struct evbuffer_iovec v[8];
    int n = evbuffer_peek(in, (ev_ssize_t)max, NULL, v, 8);
    size_t used = 0;

    for (int i = 0; i < n && used < max; i++) {
        size_t len = v[i].iov_len;
        if (len > max - used)
            len = max - used;
        size_t k = len;
        if (s->txn.content_started)
            k = smtpd_content_feed(&s->txn.content, v[i].iov_base, len);
        used += k;
        if (k < len)
            break;
    }
    evbuffer_drain(in, used);
    return used;
}

/* smtpd_read_content - DATA or BDAT octets */
static void smtpd_read_content(struct smtpd_session *s, struct evbuffer *in)
{
    if (s->txn.content_started && store_backlog_high(s->env->st)) {
        smtpd_pause_for_store(s);
        return;
    }
    if (s->state == SMTPD_S_DATA) {
        smtpd_feed(s, in, evbuffer_get_length(in));
        if (s->txn.content.data.done)
            smtpd_cmd_content_done(s);
        return;
    }
    s->bdat_left -= smtpd_feed(s, in, s->bdat_left);
    if (s->bdat_left == 0)
        smtpd_cmd_content_done(s);
}

/* smtpd_blocked - stop when the client does not read its replies */
static bool smtpd_blocked(struct smtpd_session *s)
{
    return evbuffer_get_length(bufferevent_get_output(s->bev)) > DD_SMTP_OUTPUT_MAX;
}

/* smtpd_process_input - work through the input while the state allows */
static void smtpd_process_input(struct smtpd_session *s)
{
    struct evbuffer *in = bufferevent_get_input(s->bev);

    while (!s->paused && !smtpd_blocked(s)) {
        size_t before = evbuffer_get_length(in);
        enum smtpd_state st = s->state;
        if (st == SMTPD_S_BDAT && s->bdat_left == 0) {
            smtpd_cmd_content_done(s); /* BDAT 0 */
            continue;
        }
        if (before == 0 || st == SMTPD_S_COMMIT || st == SMTPD_S_CLOSING ||
            st == SMTPD_S_TLS_WAIT || st == SMTPD_S_TLS_HANDSHAKE)
            return;
        if (st == SMTPD_S_PREGREET) {
            log_warn("smtpd", "PREGREET from %s", s->peer);
            smtpd_reply(s, "554 5.5.0 %s Error: talking before the greeting", s->c->smtp.hostname);
            smtpd_close_after_reply(s);
            return;
        }
        if (st == SMTPD_S_CMD && !smtpd_read_command(s, in))
            return;
        if (st == SMTPD_S_DISCARD)
            smtpd_discard(s, in);
        if (st == SMTPD_S_DATA || st == SMTPD_S_BDAT)
            smtpd_read_content(s, in);
    }
    if (smtpd_blocked(s))
        bufferevent_disable(s->bev, EV_READ);
}

/* smtpd_process - the input, then the deadline of a line left half read */
static void smtpd_process(struct smtpd_session *s)
{
    size_t left;

    smtpd_process_input(s);
    left = evbuffer_get_length(bufferevent_get_input(s->bev));
    if (s->state == SMTPD_S_DISCARD || (s->state == SMTPD_S_CMD && left > 0))
        smtpd_line_deadline(s, s->c->smtp.command_timeout);
    else if (s->state != SMTPD_S_TLS_HANDSHAKE)
        smtpd_line_deadline(s, 0);
}

/*
 * smtpd_settle - every call from the loop ends here: write the replies now,
 * and hand the loop (EV_WRITE) only what the socket refuses. A write error
 * also goes to the loop, whose write fails again and reports it. Once the
 * output is empty: close, start TLS after a STARTTLS, or take up reading
 * again. May free s.
 */
static void smtpd_settle(struct smtpd_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);

    for (;;) {
        if (bev_write_now(s->bev) > 0) {
            bufferevent_enable(s->bev, EV_WRITE);
            return;
        }
        if (s->state == SMTPD_S_CLOSING) {
            smtpd_session_free(s);
            return;
        }
        if (s->state == SMTPD_S_TLS_WAIT) {
            smtpd_tls_start(s);
            return;
        }
        if (s->state == SMTPD_S_TLS_HANDSHAKE)
            return;
        if (s->paused || s->state == SMTPD_S_COMMIT || (bufferevent_get_enabled(s->bev) & EV_READ))
            return;
        bufferevent_enable(s->bev, EV_READ);
        smtpd_process(s);
        if (evbuffer_get_length(out) == 0)
            return;
    }
}

/* smtpd_read_more - content whose last read filled libevent's 4 KiB may
 * have more waiting: take up to DD_SMTP_READ_MORE of it in this pass,
 * within the input bound */
static void smtpd_read_more(struct smtpd_session *s, struct bufferevent *bev)
{
    size_t len = evbuffer_get_length(bufferevent_get_input(bev));

    if ((s->state == SMTPD_S_DATA || s->state == SMTPD_S_BDAT) && len >= BEV_READ_LIBEVENT &&
        len < DD_SMTP_INPUT_MAX)
        (void)bev_read_more(bev, DD_SMTP_INPUT_MAX - len < DD_SMTP_READ_MORE
                                     ? DD_SMTP_INPUT_MAX - len
                                     : DD_SMTP_READ_MORE);
}

/* smtpd_read_cb - bytes arrived */
void smtpd_read_cb(struct bufferevent *bev, void *arg)
{
    smtpd_read_more(arg, bev);
    smtpd_process(arg);
    smtpd_settle(arg);
}

/* smtpd_write_cb - the loop drained what the socket had refused */
void smtpd_write_cb(struct bufferevent *bev, void *arg)
{
    bufferevent_disable(bev, EV_WRITE);
    smtpd_settle(arg);
}

/* smtpd_state_name - for "timeout after X" / "lost connection after X" */
static const char *smtpd_state_name(const struct smtpd_session *s)
{
    switch (s->state) {
    case SMTPD_S_DATA:
        return "DATA";
    case SMTPD_S_BDAT:
        return "BDAT";
    case SMTPD_S_COMMIT:
        return "END-OF-MESSAGE";
    case SMTPD_S_PREGREET:
        return "CONNECT";
    case SMTPD_S_TLS_WAIT:
    case SMTPD_S_TLS_HANDSHAKE:
        return "STARTTLS";
    default:
        return s->txn.active ? "MAIL" : s->helo_seen ? "EHLO" : "CONNECT";
    }
}

/* smtpd_timed_out - 421 4.4.2 and close; why: which deadline, or NULL */
static void smtpd_timed_out(struct smtpd_session *s, const char *why)
{
    log_info("smtpd", "timeout after %s from %s%s%s", smtpd_state_name(s), s->peer,
             why != NULL ? ": " : "", why != NULL ? why : "");
    smtpd_reply(s, "421 4.4.2 %s Error: timeout exceeded", s->c->smtp.hostname);
    smtpd_close_after_reply(s);
    smtpd_settle(s);
}

/* smtpd_line_deadline_cb - a command line (or a handshake) took too long */
static void smtpd_line_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;

    (void)fd;
    (void)what;
    if (s->state == SMTPD_S_TLS_HANDSHAKE) {
        s->env->stats->tls_handshake_failures++;
        log_info("smtpd", "timeout after STARTTLS from %s: handshake not complete in %u s", s->peer,
                 s->c->smtp.tls_handshake_timeout);
        smtpd_session_free(s);
        return;
    }
    if (s->state == SMTPD_S_CMD || s->state == SMTPD_S_DISCARD)
        smtpd_timed_out(s, "command line not complete in time");
}

/* smtpd_data_deadline_cb - the content took longer than data_timeout */
static void smtpd_data_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_session *s = arg;

    (void)fd;
    (void)what;
    if (s->state != SMTPD_S_CLOSING && s->state != SMTPD_S_COMMIT)
        smtpd_timed_out(s, "message content not complete in time");
}

/* smtpd_line_deadline - start (unless running) or stop (secs 0) */
void smtpd_line_deadline(struct smtpd_session *s, unsigned secs)
{
    struct timeval tv = {(time_t)secs, 0};

    if (secs == 0)
        evtimer_del(s->line_ev);
    else if (!evtimer_pending(s->line_ev, NULL))
        evtimer_add(s->line_ev, &tv);
}

/* smtpd_data_deadline - start (unless running) or stop */
void smtpd_data_deadline(struct smtpd_session *s, bool on)
{
    struct timeval tv = {(time_t)s->c->smtp.data_timeout, 0};

    if (!on)
        evtimer_del(s->data_ev);
    else if (!evtimer_pending(s->data_ev, NULL))
        evtimer_add(s->data_ev, &tv);
}

/* smtpd_event_cb - end of file, error or timeout (the handshake's: smtpd_tls.c) */
void smtpd_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct smtpd_session *s = arg;

    if (smtpd_tls_event(s, what))
        return;
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && s->state == SMTPD_S_COMMIT) {
        bufferevent_enable(bev, EV_READ); /* the client waits for us: no timeout */
        return;
    }
    if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && s->state != SMTPD_S_CLOSING) {
        smtpd_timed_out(s, NULL);
        return;
    }
    if (s->state != SMTPD_S_CLOSING)
        log_info("smtpd", "lost connection after %s from %s", smtpd_state_name(s), s->peer);
    smtpd_session_free(s);
}

/* smtpd_txn_reset - forget the transaction; drop content not committed */
void smtpd_txn_reset(struct smtpd_session *s)
{
    struct smtpd_txn *t = &s->txn;

    if (t->content_started) {
        queue_abort(s->env->q, t->msg_id);
        smtpd_content_free(&t->content);
    }
    if (s->data_ev != NULL)
        smtpd_data_deadline(s, false);
    free(t->held);
    free(t->rcpts);
    memset(t, 0, sizeof(*t));
}

/* smtpd_peer_name - "unknown[ip]": no reverse DNS, ever */
static void smtpd_peer_name(struct smtpd_session *s, const struct sockaddr *sa)
{
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;
    if (inet_ntop(sa->sa_family, addr, s->ip, sizeof(s->ip)) == NULL)
        snprintf(s->ip, sizeof(s->ip), "unknown");
    snprintf(s->peer, sizeof(s->peer), "unknown[%s]", s->ip);
}

/* smtpd_session_new - a session on an accepted socket */
struct smtpd_session *smtpd_session_new(const struct smtpd_env *env, uint64_t id, int fd,
                                        const struct sockaddr *sa, socklen_t salen)
{
    struct smtpd_session *s = calloc(1, sizeof(*s));
    (void)salen;
    if (s == NULL) {
        evutil_closesocket(fd);
        return NULL;
    }
    s->id = id;
    s->env = env;
    s->c = env->c;
    ((struct conf *)s->c)->refs++; /* a reload does not free a conf a session reads */
    smtpd_peer_name(s, sa);
    s->fd = fd; /* not the bufferevent's: STARTTLS replaces it on the same socket */
    s->bev = bufferevent_socket_new(env->base, fd, 0);
    s->line_ev = evtimer_new(env->base, smtpd_line_deadline_cb, s);
    s->data_ev = evtimer_new(env->base, smtpd_data_deadline_cb, s);
    if (s->bev == NULL || s->line_ev == NULL || s->data_ev == NULL) {
        if (s->bev != NULL)
            bufferevent_free(s->bev);
        if (s->line_ev != NULL)
            event_free(s->line_ev);
        if (s->data_ev != NULL)
            event_free(s->data_ev);
        evutil_closesocket(fd);
        ((struct conf *)s->c)->refs--;
        free(s);
        return NULL;
    }
    struct timeval tmo = {(time_t)s->c->smtp.command_timeout, 0};
    bufferevent_setcb(s->bev, smtpd_read_cb, smtpd_write_cb, smtpd_event_cb, s);
    bufferevent_set_timeouts(s->bev, &tmo, &tmo);
    bufferevent_disable(s->bev, EV_WRITE); /* on by default; smtpd_settle() writes */
    bufferevent_setwatermark(s->bev, EV_READ, 0, DD_SMTP_INPUT_MAX);
    bufferevent_enable(s->bev, EV_READ);
    log_info("smtpd", "connect from %s", s->peer);
    if (s->c->smtp.greet_pause_ms == 0) {
        smtpd_greet(s);
        smtpd_settle(s); /* the state is not CLOSING: s stays */
        return s;
    }
    struct timeval pause = {(time_t)(s->c->smtp.greet_pause_ms / 1000),
                            (suseconds_t)(s->c->smtp.greet_pause_ms % 1000) * 1000};
    s->state = SMTPD_S_PREGREET;
    s->greet_ev = evtimer_new(env->base, smtpd_greet_cb, s);
    if (s->greet_ev)
        evtimer_add(s->greet_ev, &pause);
    else {
        smtpd_greet(s);
        smtpd_settle(s);
    }
    return s;
}

/* smtpd_log_disconnect - Postfix's command statistics line */
static void smtpd_log_disconnect(const struct smtpd_session *s)
{
    const struct smtpd_counts *k = &s->counts;
    char buf[256];
    size_t n = 0;
    const struct {
        const char *name;
        unsigned v;
    } items[] = {{"helo", k->helo},      {"ehlo", k->ehlo}, {"starttls", k->starttls},
                 {"mail", k->mail},      {"rcpt", k->rcpt}, {"data", k->data},
                 {"bdat", k->bdat},      {"rset", k->rset}, {"noop", k->noop},
                 {"vrfy", k->vrfy},      {"help", k->help}, {"quit", k->quit},
                 {"unknown", k->unknown}};

    buf[0] = 0;
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]) && n < sizeof(buf); i++)
        if (items[i].v)
            n += (size_t)snprintf(buf + n, sizeof(buf) - n, " %s=%u", items[i].name, items[i].v);
    log_info("smtpd", "disconnect from %s%s commands=%u", s->peer, buf, k->total);
}

/* smtpd_session_free - close the connection and release everything */
void smtpd_session_free(struct smtpd_session *s)
{
    smtpd_log_disconnect(s);
    smtpd_txn_reset(s);
    if (s->greet_ev)
        event_free(s->greet_ev);
    event_free(s->line_ev);
    event_free(s->data_ev);
    if (s->tls)
        tls_bev_close_notify(s->bev, s->state == SMTPD_S_CLOSING);
    bufferevent_free(s->bev); /* a TLS one closes the socket itself */
    if (s->fd >= 0)
        evutil_closesocket(s->fd);
    s->env->gone(s->env->ctx, s->id);
    ((struct conf *)s->c)->refs--;
    free(s);
}

/* smtpd_session_committed - the store answered: 250 only now */
void smtpd_session_committed(struct smtpd_session *s, enum store_rc rc)
{
    if (s->state != SMTPD_S_COMMIT)
        return;
    if (rc == STORE_OK) {
        s->env->stats->messages_accepted++;
        smtpd_reply(s, "250 2.0.0 Ok: queued as %s", s->txn.queue_id);
    } else if (rc == STORE_E_SHADOW) {
        s->env->stats->messages_rejected++;
        smtpd_reply_error(s, "451 4.4.0 Error: no shadow copy could be stored; try again later");
    } else {
        s->env->stats->messages_rejected++;
        log_err("smtpd", "%s: store %s; message not accepted", s->txn.queue_id,
                rc == STORE_E_FULL ? "full" : "error");
        smtpd_reply_error(s, "451 4.3.0 Error: queue file write error");
    }
    s->txn.content_started = false; /* the store owns it now */
    smtpd_txn_reset(s);
    if (s->state != SMTPD_S_CLOSING) {
        s->state = SMTPD_S_CMD;
        bufferevent_enable(s->bev, EV_READ);
        smtpd_process(s);
    }
    smtpd_settle(s);
}

/* smtpd_session_resume - the store caught up: read again */
void smtpd_session_resume(struct smtpd_session *s)
{
    if (!s->paused)
        return;
    s->paused = false;
    if (s->state != SMTPD_S_CLOSING) {
        bufferevent_enable(s->bev, EV_READ);
        smtpd_process(s);
    }
    smtpd_settle(s);
}

/* smtpd_session_shutdown - the hub stops: best-effort 421, then close */
void smtpd_session_shutdown(struct smtpd_session *s)
{
    struct evbuffer *out = bufferevent_get_output(s->bev);
    char line[DD_HOSTNAME_MAX + 64];
    int n =
        snprintf(line, sizeof(line), "421 4.3.2 %s Service shutting down\r\n", s->c->smtp.hostname);

    if (!smtpd_tls_bye(s, line, (size_t)n)) {
        evbuffer_add(out, line, (size_t)n);
        (void)bev_write_now(s->bev);
    }
    smtpd_session_free(s);
}
