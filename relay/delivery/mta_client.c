/*
 * mta_client.c - one outbound SMTP or LMTP connection on libevent
 *
 * A small state machine over one bufferevent: connect, greeting, EHLO
 * (LHLO; HELO when an SMTP server refuses EHLO), then transactions. Reply
 * lines are read bounded (smtpd_reply.h measures them before they are
 * looked at) and every wait runs under one timer: the connect timeout for
 * connect and greeting, the reply timeout after that. The content is
 * written through the output watermarks, a bounded slice at a time
 * (mta_client_txn.c), so a large message never sits twice in memory.
 *
 * Output is written at once when the loop's call (or a call from outside
 * the loop) ends: EV_WRITE is enabled only while the socket refuses part
 * of it, so a command costs no epoll_ctl.
 *
 * Callbacks may free the client. Every entry from the loop counts itself
 * in c->depth; mta_client_free() inside a callback closes the connection
 * at once and marks the client dead, and the memory goes when the last
 * entry leaves. Code after a callback checks c->dead before anything else.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bev_write.h"
#include "mta_client_int.h"
#include "tls.h"

static void client_release(struct mta_client *c);

/* client_enter - the loop calls into c */
static void client_enter(struct mta_client *c)
{
    c->depth++;
}

/* client_leave - the loop's call returns; free a client freed meanwhile */
static void client_leave(struct mta_client *c)
{
    if (--c->depth > 0)
        return;
    if (c->dead)
        client_release(c);
    else
        mta_client_flush(c);
}

/*
 * mta_client_flush - write what waits, topping the content up while the
 * socket takes it; the loop (EV_WRITE) gets only what it refuses. A write
 * error goes to the loop too: its write fails again and reports it.
 */
void mta_client_flush(struct mta_client *c)
{
    if (c->dead || c->bev == NULL || !c->connected || c->depth > 0 || c->st == C_TLS)
        return; /* the handshake drives its own reads and writes */
    struct evbuffer *out = bufferevent_get_output(c->bev);
    c->depth++;
    for (;;) {
        if (bev_write_now(c->bev) > 0) {
            bufferevent_enable(c->bev, EV_WRITE);
            break;
        }
        bufferevent_disable(c->bev, EV_WRITE);
        if (c->dead || c->st != C_CONTENT)
            break;
        mta_client_content_fill(c);
        if (c->dead || c->bev == NULL || evbuffer_get_length(out) == 0)
            break;
    }
    c->depth--;
    if (c->depth == 0 && c->dead)
        client_release(c);
}

/* mta_client_put - queue a command line; CRLF is added */
void mta_client_put(struct mta_client *c, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    if (n < 0 || evbuffer_add(out, "\r\n", 2) < 0)
        mta_client_fail_later(c, "out of memory writing to %s", c->peer_name);
}

/* mta_client_set_timer - the timeout of the wait the state implies */
void mta_client_set_timer(struct mta_client *c)
{
    struct timeval tv = {0, 0};
    unsigned secs;

    switch (c->st) {
    case C_EHLO:
    case C_HELO:
    case C_STARTTLS:
    case C_TXN:
    case C_QUIT:
        secs = c->reply_timeout;
        break;
    case C_TLS: /* the handshake: like connect and greeting */
        secs = c->connect_timeout;
        break;
    case C_DOT: /* RFC 5321 4.5.3.2.6 waits 10 minutes; we wait no longer */
        secs = c->reply_timeout < DOT_TIMEOUT_MAX ? c->reply_timeout : DOT_TIMEOUT_MAX;
        break;
    case C_CONNECT: /* one budget for connect and greeting */
        return;
    default:
        evtimer_del(c->timer);
        return;
    }
    tv.tv_sec = secs > 0 ? (time_t)secs : 1;
    evtimer_add(c->timer, &tv);
}

/* mta_client_what - the wait in progress, for failure texts */
const char *mta_client_what(const struct mta_client *c)
{
    switch (c->st) {
    case C_CONNECT:
        return c->connected ? "receiving the initial server greeting" : "connecting";
    case C_EHLO:
        return c->proto == MTA_CLIENT_LMTP ? "sending LHLO" : "sending EHLO";
    case C_HELO:
        return "sending HELO";
    case C_STARTTLS:
        return "sending STARTTLS";
    case C_TLS:
        return "performing the TLS handshake";
    case C_TXN:
        return mta_client_txn_what(c);
    case C_CONTENT:
        return "sending message content";
    case C_DOT:
        return "sending end of data -- message may be sent more than once";
    case C_QUIT:
        return "sending QUIT";
    default:
        return "idle";
    }
}

/* client_drop - the bufferevent, and the socket when it is not its own */
static void client_drop(struct mta_client *c)
{
    SSL *ssl = c->bev != NULL ? bufferevent_openssl_get_ssl(c->bev) : NULL;

    if (ssl != NULL) {
        tls_bev_close_notify(c->bev, c->st == C_QUIT);
        tls_cache_detach(ssl);
    }
    if (c->bev != NULL)
        bufferevent_free(c->bev);
    if (c->fd >= 0)
        evutil_closesocket(c->fd);
    c->bev = NULL;
    c->fd = -1;
}

/* client_close - drop the connection; the client waits for its free */
static void client_close(struct mta_client *c)
{
    client_drop(c);
    evtimer_del(c->timer);
    event_del(c->later);
    c->st = C_CLOSED;
}

/* mta_client_shut - close; the job in progress gets for_job for its open
 * recipients, then the caller hears closed(why) */
void mta_client_shut(struct mta_client *c, const struct mta_client_reply *for_job,
                     const struct mta_client_reply *why)
{
    bool job = c->res != NULL;

    client_close(c);
    if (job) {
        mta_client_txn_settle(c, for_job);
        mta_client_job_done(c);
        if (c->dead)
            return;
    }
    c->cb.closed(c->cb.ctx, c, why);
}

/* mta_client_fail - close with code 0 and a description */
void mta_client_fail(struct mta_client *c, const char *fmt, ...)
{
    struct mta_client_reply why;
    va_list ap;

    memset(&why, 0, sizeof(why));
    va_start(ap, fmt);
    vsnprintf(why.text, sizeof(why.text), fmt, ap);
    va_end(ap);
    mta_client_shut(c, &why, &why);
}

/* mta_client_fail_later - a failure found outside a loop callback:
 * report it from the loop, never from inside the caller's call */
void mta_client_fail_later(struct mta_client *c, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(c->later_why, sizeof(c->later_why), fmt, ap);
    va_end(ap);
    if (c->bev != NULL)
        bufferevent_disable(c->bev, EV_READ | EV_WRITE);
    evtimer_del(c->timer);
    event_active(c->later, 0, 0);
}

/* later_cb - report the failure mta_client_fail_later() kept */
static void later_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mta_client *c = arg;

    (void)fd;
    (void)what;
    client_enter(c);
    if (c->st != C_CLOSED)
        mta_client_fail(c, "%s", c->later_why);
    client_leave(c);
}

/* timer_cb - the wait in progress took too long */
static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
    struct mta_client *c = arg;

    (void)fd;
    (void)what;
    client_enter(c);
    if (c->st == C_TLS)
        c->tinfo.result = MTA_CLIENT_TLS_HANDSHAKE;
    if (c->st != C_CLOSED)
        mta_client_fail(c, "conversation with %s timed out while %s", c->peer_name,
                        mta_client_what(c));
    client_leave(c);
}

/* reply_of - the parsed reply as the caller sees it */
static void reply_of(const struct mta_reply *p, struct mta_client_reply *r)
{
    r->code = p->code;
    snprintf(r->enh, sizeof(r->enh), "%s", p->enh);
    snprintf(r->text, sizeof(r->text), "%s", p->line);
}

/* on_greeting - 2xx: say EHLO (LHLO); anything else ends it */
static void on_greeting(struct mta_client *c, const struct mta_client_reply *r)
{
    if (r->code / 100 != 2) {
        mta_client_shut(c, r, r);
        return;
    }
    mta_client_put(c, "%s %s", c->proto == MTA_CLIENT_LMTP ? "LHLO" : "EHLO", c->helo_name);
    c->st = C_EHLO;
}

/* mta_client_ready - idle: the caller may send a job */
void mta_client_ready(struct mta_client *c)
{
    c->st = C_IDLE;
    c->cb.ready(c->cb.ctx, c);
}

/* on_hello - the EHLO/LHLO/HELO reply: TLS, ready, HELO, or the end */
static void on_hello(struct mta_client *c, const struct mta_client_reply *r)
{
    if (r->code / 100 == 2) {
        c->ext = c->st == C_EHLO ? c->reply.ext : 0;
        if (!mta_tls_hello(c))
            mta_client_ready(c);
        return;
    }
    if (c->st == C_EHLO && c->proto == MTA_CLIENT_SMTP && r->code / 100 == 5) {
        mta_client_put(c, "HELO %s", c->helo_name);
        c->st = C_HELO;
        return;
    }
    mta_client_shut(c, r, r);
}

/* on_reply - a complete reply: 421 ends everything, else by state */
static void on_reply(struct mta_client *c)
{
    struct mta_client_reply r;

    reply_of(&c->reply, &r);
    if (r.code == 421 || c->st == C_QUIT) {
        mta_client_shut(c, &r, &r);
        return;
    }
    if (c->st == C_CONTENT) { /* a reply amid the content ends it too */
        mta_client_content_reply(c, &r);
        return;
    }
    switch (c->st) {
    case C_CONNECT:
        on_greeting(c, &r);
        break;
    case C_EHLO:
    case C_HELO:
        on_hello(c, &r);
        break;
    case C_STARTTLS:
        mta_tls_reply(c, &r);
        break;
    case C_TXN:
        mta_client_txn_reply(c, &r);
        break;
    case C_DOT:
        mta_client_dot_reply(c, &r);
        break;
    default:
        mta_client_fail(c, "unexpected reply from %s while idle: %s", c->peer_name, r.text);
        return;
    }
    if (!c->dead)
        mta_client_set_timer(c);
}

/* take_line - one reply line from in: 1 taken, 0 not whole yet, -1 too long */
static int take_line(struct evbuffer *in, char *line, size_t *len)
{
    size_t avail = evbuffer_get_length(in);
    size_t limit = avail < LINE_BUF ? avail : LINE_BUF;
    struct evbuffer_ptr end, nl;

    evbuffer_ptr_set(in, &end, limit, EVBUFFER_PTR_SET);
    nl = evbuffer_search_range(in, "\n", 1, NULL, &end);
    if (nl.pos < 0)
        return avail >= LINE_BUF ? -1 : 0;
    *len = (size_t)nl.pos;
    evbuffer_remove(in, line, *len + 1);
    if (*len > 0 && line[*len - 1] == '\r')
        (*len)--;
    return 1;
}

/* read_input - every whole reply line in the input, while the state lasts */
static void read_input(struct mta_client *c)
{
    char line[LINE_BUF];
    enum mta_reply_status st;
    size_t len = 0;
    int got;

    while (!c->dead && c->bev != NULL) {
        got = take_line(bufferevent_get_input(c->bev), line, &len);
        if (got == 0)
            return;
        st = got < 0 ? MTA_R_TOO_LONG : mta_reply_feed(&c->reply, line, len);
        if (st == MTA_R_MORE)
            continue;
        if (st != MTA_R_DONE) {
            mta_client_fail(c, "malformed reply from %s while %s: %s", c->peer_name,
                            mta_client_what(c), mta_reply_strerror(st));
            return;
        }
        on_reply(c);
    }
}

/* read_cb - bytes arrived */
static void read_cb(struct bufferevent *bev, void *arg)
{
    struct mta_client *c = arg;

    (void)bev;
    client_enter(c);
    c->connected = true;
    read_input(c);
    client_leave(c);
}

/* write_cb - the output drained below its low watermark */
static void write_cb(struct bufferevent *bev, void *arg)
{
    struct mta_client *c = arg;

    (void)bev;
    client_enter(c);
    if (c->st == C_CONTENT)
        mta_client_content_fill(c);
    client_leave(c);
}

/* event_cb - connected, end of file, error, or the content write stalled */
static void event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct mta_client *c = arg;
    int err = EVUTIL_SOCKET_ERROR();

    (void)bev;
    client_enter(c);
    if ((what & BEV_EVENT_CONNECTED) && c->st == C_TLS) {
        mta_tls_connected(c);
    } else if (what & BEV_EVENT_CONNECTED) {
        c->connected = true;
    } else if (c->st == C_TLS) {
        mta_tls_failed(c, what);
    } else if (what & BEV_EVENT_TIMEOUT) {
        mta_client_fail(c, "conversation with %s timed out while %s", c->peer_name,
                        mta_client_what(c));
    } else {
        read_input(c); /* a last reply may wait there */
        if (!c->dead && c->st == C_CONNECT && !c->connected)
            mta_client_fail(c, "connect to %s: %s", c->peer_name,
                            evutil_socket_error_to_string(err));
        else if (!c->dead && c->st != C_CLOSED)
            mta_client_fail(c, "lost connection with %s while %s", c->peer_name,
                            mta_client_what(c));
    }
    client_leave(c);
}

/* client_setup - strings, events and the socket of a new client */
static int client_setup(struct mta_client *c, struct event_base *base,
                        const struct mta_client_cfg *cfg)
{
    int fd;

    c->helo_name = strdup(cfg->helo_name ? cfg->helo_name : "localhost");
    c->peer_name = strdup(cfg->peer_name ? cfg->peer_name : "unknown");
    c->timer = evtimer_new(base, timer_cb, c);
    c->later = event_new(base, -1, 0, later_cb, c);
    if (!c->helo_name || !c->peer_name || !c->timer || !c->later) {
        errno = ENOMEM;
        return -1;
    }
    if (cfg->tls.verify_name != NULL &&
        (c->tls.verify_name = strdup(cfg->tls.verify_name)) == NULL) {
        errno = ENOMEM;
        return -1;
    }
    fd = socket(cfg->addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    c->fd = fd; /* not the bufferevent's: STARTTLS replaces it on the same socket */
    c->bev = bufferevent_socket_new(base, fd, 0);
    if (c->bev == NULL) {
        errno = ENOMEM;
        return -1;
    }
    bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
    bufferevent_disable(c->bev, EV_WRITE); /* on by default; the connect watches it itself */
    bufferevent_enable(c->bev, EV_READ);
    return 0;
}

/* mta_client_connect - start connecting to cfg->addr */
struct mta_client *mta_client_connect(struct event_base *base, const struct mta_client_cfg *cfg,
                                      const struct mta_client_cb *cb)
{
    struct mta_client *c = calloc(1, sizeof(*c));
    struct timeval tv;
    int err;

    if (c == NULL)
        return NULL;
    c->cb = *cb;
    c->fd = -1;
    c->proto = cfg->proto;
    c->local = cfg->addr->sa_family == AF_UNIX;
    c->tls = cfg->tls;
    c->tls.verify_name = NULL; /* client_setup() copies it */
    c->connect_timeout = cfg->connect_timeout;
    c->reply_timeout = cfg->reply_timeout;
    c->st = C_CONNECT;
    mta_reply_init(&c->reply);
    if (client_setup(c, base, cfg) < 0) {
        err = errno;
        client_release(c);
        errno = err;
        return NULL;
    }
    tv.tv_sec = c->connect_timeout > 0 ? (time_t)c->connect_timeout : 1;
    tv.tv_usec = 0;
    evtimer_add(c->timer, &tv);
    if (bufferevent_socket_connect(c->bev, cfg->addr, (int)cfg->addrlen) < 0)
        mta_client_fail_later(c, "connect to %s: %s", c->peer_name,
                              evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    return c;
}

/* mta_client_usable - idle and connected */
bool mta_client_usable(const struct mta_client *c)
{
    return c != NULL && !c->dead && c->st == C_IDLE;
}

/* mta_client_quit - QUIT; closed() follows with its reply */
void mta_client_quit(struct mta_client *c)
{
    if (!mta_client_usable(c))
        return;
    mta_client_put(c, "QUIT");
    c->st = C_QUIT;
    mta_client_set_timer(c);
    mta_client_flush(c);
}

/* mta_client_peer - the name given at connect, for logs */
const char *mta_client_peer(const struct mta_client *c)
{
    return c->peer_name;
}

/* mta_client_tls - what became of TLS */
const struct mta_client_tls_info *mta_client_tls(const struct mta_client *c)
{
    return &c->tinfo;
}

/* mta_client_set_bev - the new bufferevent, with the client's callbacks */
void mta_client_set_bev(struct mta_client *c, struct bufferevent *bev)
{
    if (c->bev != NULL)
        bufferevent_free(c->bev); /* its input goes too: nothing read in clear counts */
    c->bev = bev;
    c->fd = -1;
    bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
    bufferevent_enable(bev, EV_READ);
}

/* client_release - the memory, at last */
static void client_release(struct mta_client *c)
{
    client_drop(c);
    if (c->timer != NULL)
        event_free(c->timer);
    if (c->later != NULL)
        event_free(c->later);
    mta_client_txn_free(c);
    free(c->helo_name);
    free(c->peer_name);
    free((char *)c->tls.verify_name);
    free(c);
}

/* mta_client_free - close now; inside a callback the memory goes later */
struct mta_client *mta_client_free(struct mta_client *c)
{
    if (c == NULL || c->dead)
        return NULL;
    client_close(c);
    c->dead = true;
    if (c->depth == 0)
        client_release(c);
    return NULL;
}
