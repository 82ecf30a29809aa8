/* conn.c - connections: accepting, reading lines, replying, closing */
#include <stdarg.h>
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "mbxsink.h"

/*
 * Connections: shared plumbing.
 */

/* mbx_reply - one line to the peer: CRLF added for SMTP/LMTP, LF for the control port */
void mbx_reply(struct conn *c, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    va_list ap;

    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    if (c->control)
        evbuffer_add(out, "\n", 1);
    else
        evbuffer_add(out, "\r\n", 2);
}

/* mbx_txn_reset - forget the transaction (sender, recipients, content) */
void mbx_txn_reset(struct conn *c)
{
    free(c->sender);
    c->sender = NULL;
    for (size_t i = 0; i < c->nrcpts; i++)
        free(c->rcpts[i].addr);
    free(c->rcpts);
    c->rcpts = NULL;
    c->nrcpts = 0;
    if (c->body)
        evbuffer_drain(c->body, evbuffer_get_length(c->body));
    c->body_len = 0;
    c->too_big = 0;
}

/* mbx_conn_free - close and free c */
void mbx_conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->sink->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    mbx_txn_reset(c);
    if (c->body)
        evbuffer_free(c->body);
    bufferevent_free(c->bev);
    free(c);
}

/* mbx_conn_close - stop reading; c is freed once its output is written */
void mbx_conn_close(struct conn *c)
{
    c->state = ST_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
}
/*
 * Reading lines, driving a connection.
 */

/* line_step - one line to its handler; 0 if no complete line is waiting */
static int line_step(struct conn *c, struct evbuffer *in)
{
    size_t max = c->control ? MBX_CTL_LINE_MAX : MBX_LINE_MAX, eol = 0, len;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
    char line[MBX_LINE_MAX + 1];

    if (p.pos < 0) {
        if (evbuffer_get_length(in) > max) {
            /* Refused before it is read whole: drop it, answer at its end. */
            evbuffer_drain(in, evbuffer_get_length(in));
            c->skipping = 1;
        }
        return 0;
    }
    len = (size_t)p.pos;
    if (c->skipping || len + eol > max) {
        evbuffer_drain(in, len + eol);
        c->skipping = 0;
        if (c->control)
            mbx_reply(c, "ERR line too long");
        else
            mbx_reply(c, "500 5.5.2 Line too long");
        return 1;
    }
    evbuffer_remove(in, line, len + eol);
    line[len] = '\0';
    if (c->control)
        mbx_ctl_line(c, line);
    else
        mbx_smtp_line(c, line);
    return 1;
}

/* conn_drive - handle every complete line waiting in the input, in order */
static void conn_drive(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);

    while (c->state != ST_CLOSING) {
        if (evbuffer_get_length(out) > MBX_OUT_HIGH) {
            /* The peer does not read its replies: wait until it does. */
            c->paused = 1;
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        if (!(c->state == ST_DATA ? mbx_data_step(c, in) : line_step(c, in)))
            return;
    }
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* conn_read_cb - input arrived */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    conn_drive(c);
    if (c->state == ST_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        mbx_conn_free(c);
}

/* conn_write_cb - the output is written: close, or read again */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->state == ST_CLOSING) {
        mbx_conn_free(c);
    } else if (c->paused) {
        c->paused = 0;
        bufferevent_enable(bev, EV_READ);
        conn_read_cb(bev, c);
    }
}

/* conn_event_cb - end of input, error or timeout */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        mbx_conn_close(c); /* write what is left, then close */
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        mbx_logmsg("connection timed out");
    mbx_conn_free(c);
}

/* conn_new - a connection on fd; NULL (fd closed) on failure */
static struct conn *conn_new(struct sink *k, evutil_socket_t fd, int control)
{
    struct timeval tv = {MBX_IDLE_SECS, 0};
    struct conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = bufferevent_socket_new(k->base, fd, BEV_OPT_CLOSE_ON_FREE);

    if (c && bev && !control)
        c->body = evbuffer_new();
    if (!c || !bev || (!control && !c->body)) {
        mbx_logmsg("out of memory for a connection");
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    c->sink = k;
    c->bev = bev;
    c->control = control;
    c->next = k->conns;
    if (k->conns)
        k->conns->prev = c;
    k->conns = c;
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    if (!control)
        bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

/* mbx_smtp_accept_cb - a mail connection: greet (or refuse, if injected) */
void mbx_smtp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg)
{
    struct sink *k = arg;
    struct conn *c;
    int code = k->faults.connect;

    (void)l, (void)sa, (void)salen;
    k->stats.connections++;
    if ((c = conn_new(k, fd, 0)) == NULL)
        return;
    if (code) {
        mbx_logmsg("connection refused with %d (injected)", code);
        mbx_reply(c, "%d %s %s mbxsink injected", code, mbx_enh_for(code, "5.3.0"), k->name);
        mbx_conn_close(c);
        return;
    }
    mbx_reply(c, "220 %s %s mbxsink", k->name, k->lmtp ? "LMTP" : "ESMTP");
}

/* mbx_ctl_accept_cb - a control connection */
void mbx_ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg)
{
    (void)l, (void)sa, (void)salen;
    conn_new(arg, fd, 1);
}
