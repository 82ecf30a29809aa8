/*
 * peer.c - the scripted SMTP/LMTP server of the unit tests (peer.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "peer.h"

/* One connection the peer accepted. */
struct peer_conn {
    struct peer_conn *next;
    struct peer *p;
    struct bufferevent *bev;
    unsigned n;
    bool in_data, closing;
    struct peer_msg cur;   /* the envelope in progress */
    struct evbuffer *data; /* the content as it comes, stuffed, with ".\r\n" */
    size_t msg_len;
    struct evbuffer *late;  /* PEER_OUT_OF_STEP: RCPT replies kept back */
    struct evbuffer *held;  /* PEER_HOLD: end-of-data replies kept back */
    struct event *greet_ev; /* greet_delay_ms: the 220 comes then */
};

/* pc_say - one reply line (or several, CRLF between) */
static void pc_say(struct peer_conn *c, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    va_list ap;

    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    evbuffer_add(out, "\r\n", 2);
}

/* pc_free - forget a connection */
static void pc_free(struct peer_conn *c)
{
    struct peer_conn **pp = &c->p->list;

    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    c->p->open--;
    if (c->greet_ev)
        event_free(c->greet_ev);
    bufferevent_free(c->bev);
    evbuffer_free(c->data);
    evbuffer_free(c->late);
    evbuffer_free(c->held);
    free(c);
}

/* pc_hangup - close once what was said is written (pc_written); every
 * hang-up follows a reply, so the output is never empty here */
static void pc_hangup(struct peer_conn *c)
{
    c->closing = true;
    bufferevent_disable(c->bev, EV_READ);
}

/* peer_rule_of - the rule of rcpt, or NULL */
static const struct peer_rule *peer_rule_of(const struct peer *p, const char *rcpt)
{
    for (size_t i = 0; i < p->nrules; i++)
        if (strcasecmp(p->rules[i].rcpt, rcpt) == 0)
            return &p->rules[i];
    return NULL;
}

/* peer_addr - the path of "MAIL FROM:<a>" or "RCPT TO:<a>" into out */
static void peer_addr(const char *line, char *out, size_t cap)
{
    const char *lt = strchr(line, '<'), *gt = lt ? strchr(lt, '>') : NULL;

    if (lt == NULL || gt == NULL)
        snprintf(out, cap, "?");
    else
        snprintf(out, cap, "%.*s", (int)(gt - lt - 1), lt + 1);
}

/* pc_envelope_reset - a new transaction */
static void pc_envelope_reset(struct peer_conn *c)
{
    memset(&c->cur, 0, sizeof(c->cur));
    c->cur.conn = c->n;
}

/* pc_hello - EHLO, LHLO or HELO */
static void pc_hello(struct peer_conn *c, bool extended)
{
    if (!extended)
        pc_say(c, "250 peer.test");
    else if (c->p->pipelining)
        pc_say(c, "250-peer.test\r\n250-PIPELINING\r\n250 8BITMIME");
    else
        pc_say(c, "250-peer.test\r\n250 8BITMIME");
}

/* pc_rcpt - RCPT TO: the rule's reply; a 2xx adds the recipient */
static void pc_rcpt(struct peer_conn *c, const char *line)
{
    char addr[PEER_TEXT_MAX];
    const struct peer_rule *r;
    const char *reply;

    c->p->rcpt_cmds++;
    peer_addr(line, addr, sizeof(addr));
    r = peer_rule_of(c->p, addr);
    reply = r && r->at_rcpt[0] ? r->at_rcpt : "250 2.1.5 ok";
    if (reply[0] == '2' && c->cur.nrcpts < PEER_RCPTS_MAX)
        snprintf(c->cur.rcpts[c->cur.nrcpts++], PEER_TEXT_MAX, "%s", addr);
    if (c->p->fault == PEER_OUT_OF_STEP)
        evbuffer_add_printf(c->late, "%s\r\n", reply);
    else
        pc_say(c, "%s", reply);
}

/* pc_data - DATA: 354, or out of step: 503 first, then the RCPT replies */
static void pc_data(struct peer_conn *c)
{
    if (c->p->fault == PEER_OUT_OF_STEP && evbuffer_get_length(c->late) > 0) {
        pc_say(c, "503 5.5.1 Error: need RCPT command");
        evbuffer_add_buffer(bufferevent_get_output(c->bev), c->late);
        pc_envelope_reset(c);
        return;
    }
    if (c->cur.nrcpts == 0) {
        pc_say(c, "554 5.5.1 Error: no valid recipients");
        return;
    }
    pc_say(c, "354 End data with <CR><LF>.<CR><LF>");
    c->in_data = true;
    c->msg_len = 0;
}

/* pc_command - one command line */
static void pc_command(struct peer_conn *c, const char *line)
{
    evbuffer_add_printf(c->p->log, "%s\r\n", line);
    if (strncasecmp(line, "EHLO", 4) == 0 || strncasecmp(line, "LHLO", 4) == 0)
        pc_hello(c, true);
    else if (strncasecmp(line, "HELO", 4) == 0)
        pc_hello(c, false);
    else if (strncasecmp(line, "MAIL FROM:", 10) == 0) {
        pc_envelope_reset(c);
        peer_addr(line, c->cur.sender, sizeof(c->cur.sender));
        pc_say(c, "250 2.1.0 ok");
    } else if (strncasecmp(line, "RCPT TO:", 8) == 0)
        pc_rcpt(c, line);
    else if (strcasecmp(line, "DATA") == 0)
        pc_data(c);
    else if (strcasecmp(line, "RSET") == 0) {
        c->p->rsets++;
        pc_envelope_reset(c);
        pc_say(c, "250 2.0.0 ok");
    } else if (strcasecmp(line, "NOOP") == 0)
        pc_say(c, "250 2.0.0 ok");
    else if (strcasecmp(line, "QUIT") == 0) {
        c->p->quits++;
        pc_say(c, "221 2.0.0 bye");
        pc_hangup(c);
    } else
        pc_say(c, "502 5.5.2 Error: command not recognized");
}

/* peer_unstuff - the content without the final "." and the stuffing */
static void peer_unstuff(struct peer_msg *m, struct evbuffer *data)
{
    size_t n = evbuffer_get_length(data) - 3; /* the final ".\r\n" */
    const char *s = (const char *)evbuffer_pullup(data, -1);
    bool bol = true;

    m->content = calloc(1, n + 1);
    assert_non_null(m->content);
    for (size_t i = 0; i < n; i++) {
        if (!(bol && s[i] == '.'))
            m->content[m->len++] = s[i];
        bol = s[i] == '\n';
    }
    evbuffer_drain(data, evbuffer_get_length(data));
}

/* pc_dot_replies - the end-of-data replies: one, or one per recipient */
static void pc_dot_replies(struct peer_conn *c, struct evbuffer *out)
{
    struct peer *p = c->p;

    for (size_t i = 0; i < c->cur.nrcpts; i++) {
        const struct peer_rule *r = peer_rule_of(p, c->cur.rcpts[i]);
        evbuffer_add_printf(out, "%s\r\n",
                            r && r->at_dot[0] ? r->at_dot : "250 2.0.0 ok: delivered");
        if (!p->lmtp || (p->fault == PEER_CUT_DOT && i == 0))
            break;
    }
}

/* pc_end_data - the content is in: record it and answer (or not) */
static void pc_end_data(struct peer_conn *c)
{
    struct peer *p = c->p;
    struct peer_msg *m = p->nmsgs < PEER_MSGS_MAX ? &p->msgs[p->nmsgs] : NULL;

    c->in_data = false;
    if (m != NULL) {
        *m = c->cur;
        peer_unstuff(m, c->data);
    }
    p->nmsgs++;
    if (p->fault == PEER_HOLD) {
        pc_dot_replies(c, c->held);
        p->held++;
    } else {
        pc_dot_replies(c, bufferevent_get_output(c->bev));
        if (p->fault == PEER_CUT_DOT)
            pc_hangup(c);
    }
    evbuffer_drain(c->data, evbuffer_get_length(c->data));
}

/* pc_content - content up to CRLF.CRLF; true when it ended */
static bool pc_content(struct peer_conn *c, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    struct evbuffer_ptr end;
    char head[3];

    if (c->p->fault == PEER_CUT_DATA && len > 0) {
        pc_free(c);
        return false;
    }
    if (c->msg_len == 0 && evbuffer_copyout(in, head, 3) == 3 && memcmp(head, ".\r\n", 3) == 0) {
        evbuffer_remove_buffer(in, c->data, 3);
        pc_end_data(c);
        return true;
    }
    end = evbuffer_search(in, "\r\n.\r\n", 5, NULL);
    if (end.pos >= 0) {
        evbuffer_remove_buffer(in, c->data, (size_t)end.pos + 5);
        pc_end_data(c);
        return true;
    }
    if (len > 4) {
        evbuffer_remove_buffer(in, c->data, len - 4);
        c->msg_len += len - 4;
    }
    return false;
}

/* pc_read - command lines and content */
static void pc_read(struct bufferevent *bev, void *arg)
{
    struct peer_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t n;
    char *line;

    while (!c->closing) {
        if (c->in_data) {
            bool fault = c->p->fault == PEER_CUT_DATA;
            if (!pc_content(c, in) || fault)
                return; /* more to come, or c is gone */
            continue;
        }
        if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL)
            return;
        pc_command(c, line);
        free(line);
    }
}

/* pc_written - a hang-up waits for the output to drain */
static void pc_written(struct bufferevent *bev, void *arg)
{
    struct peer_conn *c = arg;

    if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        pc_free(c);
}

/* pc_event - the client went away */
static void pc_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
        pc_free(arg);
}

/* pc_greet - the greeting (or the refusal of greeting) */
static void pc_greet(struct peer_conn *c)
{
    struct peer *p = c->p;

    if (p->greeting[0])
        pc_say(c, "%s", p->greeting);
    else
        pc_say(c, "220 peer.test %s ready", p->lmtp ? "LMTP" : "ESMTP");
    if (p->greeting[0] && p->greeting[0] != '2')
        pc_hangup(c);
}

/* pc_greet_cb - greet_delay_ms is over */
static void pc_greet_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pc_greet(arg);
}

/* peer_accept - a connection: greet it (now, or after greet_delay_ms) */
static void peer_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
    struct peer *p = arg;
    struct peer_conn *c = calloc(1, sizeof(*c));

    (void)lis;
    (void)sa;
    (void)salen;
    assert_non_null(c);
    c->p = p;
    c->n = ++p->conns;
    c->bev = bufferevent_socket_new(p->base, fd, BEV_OPT_CLOSE_ON_FREE);
    c->data = evbuffer_new();
    c->late = evbuffer_new();
    c->held = evbuffer_new();
    assert_true(c->bev && c->data && c->late && c->held);
    c->next = p->list;
    p->list = c;
    if (++p->open > p->max_open)
        p->max_open = p->open;
    pc_envelope_reset(c);
    bufferevent_setcb(c->bev, pc_read, pc_written, pc_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    if (p->greet_delay_ms == 0) {
        pc_greet(c);
        return;
    }
    struct timeval tv = {p->greet_delay_ms / 1000, (p->greet_delay_ms % 1000) * 1000};
    c->greet_ev = evtimer_new(p->base, pc_greet_cb, c);
    assert_non_null(c->greet_ev);
    evtimer_add(c->greet_ev, &tv);
}

/* peer_listen - 127.0.0.1 port 0, or a unix socket */
static void peer_listen(struct peer *p, const char *unix_path)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_un *sun = (struct sockaddr_un *)&ss;
    socklen_t len = sizeof(*sin);
    const char *proto = p->lmtp ? "lmtp" : "smtp";

    if (unix_path) {
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", unix_path);
        snprintf(p->path, sizeof(p->path), "%s", unix_path);
        unlink(unix_path);
        len = sizeof(*sun);
    } else {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    }
    p->lis =
        evconnlistener_new_bind(p->base, peer_accept, p, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                64, (struct sockaddr *)&ss, (int)len);
    assert_non_null(p->lis);
    if (unix_path) {
        snprintf(p->dest, sizeof(p->dest), "%s:unix:%s", proto, unix_path);
        return;
    }
    getsockname(evconnlistener_get_fd(p->lis), (struct sockaddr *)sin, &len);
    p->port = ntohs(sin->sin_port);
    snprintf(p->dest, sizeof(p->dest), "%s:[127.0.0.1]:%u", proto, (unsigned)p->port);
}

/* peer_new - a server that plays by the rules until told otherwise */
struct peer *peer_new(struct event_base *base, bool lmtp, const char *unix_path)
{
    struct peer *p = calloc(1, sizeof(*p));

    assert_non_null(p);
    p->base = base;
    p->lmtp = lmtp;
    p->pipelining = true;
    p->log = evbuffer_new();
    assert_non_null(p->log);
    peer_listen(p, unix_path);
    return p;
}

/* peer_rule - the replies of one recipient */
void peer_rule(struct peer *p, const char *rcpt, const char *at_rcpt, const char *at_dot)
{
    struct peer_rule *r = (struct peer_rule *)peer_rule_of(p, rcpt);

    if (r == NULL) {
        assert_true(p->nrules < PEER_RULES_MAX);
        r = &p->rules[p->nrules++];
    }
    snprintf(r->rcpt, sizeof(r->rcpt), "%s", rcpt);
    snprintf(r->at_rcpt, sizeof(r->at_rcpt), "%s", at_rcpt ? at_rcpt : "");
    snprintf(r->at_dot, sizeof(r->at_dot), "%s", at_dot ? at_dot : "");
}

/* peer_release - the held end-of-data replies go out */
void peer_release(struct peer *p)
{
    for (struct peer_conn *c = p->list; c; c = c->next)
        if (evbuffer_get_length(c->held) > 0)
            evbuffer_add_buffer(bufferevent_get_output(c->bev), c->held);
    p->held = 0;
}

/* peer_saw - a command line containing text */
bool peer_saw(const struct peer *p, const char *text)
{
    return evbuffer_search(p->log, text, strlen(text), NULL).pos >= 0;
}

/* peer_free - everything goes */
struct peer *peer_free(struct peer *p)
{
    if (p == NULL)
        return NULL;
    while (p->list)
        pc_free(p->list);
    evconnlistener_free(p->lis);
    if (p->path[0])
        unlink(p->path);
    for (size_t i = 0; i < p->nmsgs && i < PEER_MSGS_MAX; i++)
        free(p->msgs[i].content);
    evbuffer_free(p->log);
    free(p);
    return NULL;
}

/* peer_dead_port - bound, never listening: every connect is refused */
uint16_t peer_dead_port(int *fd)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(*fd >= 0);
    assert_int_equal(bind(*fd, (struct sockaddr *)&sin, len), 0);
    assert_int_equal(getsockname(*fd, (struct sockaddr *)&sin, &len), 0);
    return ntohs(sin.sin_port);
}
