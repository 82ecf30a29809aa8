/*
 * admin_conn.c - every admin connection before evhttp: the head of each
 * request held and judged, the request deadline, the count the
 * connection cap looks at, and the lingering close
 *
 * evhttp asks for the bufferevent of each new connection; we give it a
 * filter over the socket's (or TLS) bufferevent. Coming in, the filter
 * keeps the head of a request to itself until it is complete and judged
 * (http_head.h): a good head goes to evhttp, then the body it announced
 * passes straight through; a bad one is never shown to evhttp, which gets
 * a stand-in request carrying the reason (HTTP_REJECT_HEADER) instead, so
 * the refusal is answered by admin_http.c in the API's JSON and in order
 * after any answer still owed. What follows a refusal is read and dropped.
 * [admin] request_timeout runs from a request's first octet: while its
 * head is held the stand-in says 408; once evhttp reads its body, the
 * connection is dropped. Going out, the filter passes the answer down and
 * tells evhttp that it was written only once the socket took all of it,
 * because evhttp closes a connection as soon as it hears that. Plain
 * connections are closed here, not by evhttp: the socket is read and
 * dropped for ADMIN_LINGER_MS after evhttp let go, so a client still
 * sending gets to read its answer rather than a reset. A connection counts
 * toward [admin] max_connections until its socket is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "admin_int.h"
#include "http_head.h"
#include "log.h"
#include "tls.h"

#define ADMIN_PEER_BUF (INET6_ADDRSTRLEN + 10) /* "[IP]:PORT" */

struct admin_conn {
    struct admin *a; /* NULL once the admin is gone */
    struct admin_conn *prev, *next;
    struct bufferevent *under; /* the socket's or the TLS one, below the filter */
    struct bufferevent *bev;   /* the filter evhttp owns */
    struct evbuffer_cb_entry *written, *queued;
    struct event *kick;     /* passes what evhttp wrote before it enabled writing */
    struct evbuffer *head;  /* the head being read, not yet shown to evhttp */
    struct event *deadline; /* request_timeout, from a request's first octet */
    uint64_t body_left;     /* octets of a shown request's body yet to pass */
    bool rejected;          /* a refusal went to evhttp: drop what follows */
    bool owed;              /* an answer went down: tell evhttp once written */
    bool tls;               /* its bufferevent closes the socket itself */
    evutil_socket_t fd;     /* lingering: read and dropped, then closed */
    struct event *linger;
};

/* admin_conn_release - the socket is closed: free c, uncount it */
static void admin_conn_release(struct admin_conn *c)
{
    struct admin *a = c->a;

    if (c->linger != NULL)
        event_free(c->linger);
    if (c->kick != NULL)
        event_free(c->kick);
    if (c->fd >= 0)
        evutil_closesocket(c->fd);
    if (c->deadline != NULL)
        event_free(c->deadline);
    if (c->head != NULL)
        evbuffer_free(c->head);
    if (a != NULL) {
        if (c->prev != NULL)
            c->prev->next = c->next;
        else
            a->conns = c->next;
        if (c->next != NULL)
            c->next->prev = c->prev;
        a->nconns--;
        admin_listen_update(a);
    }
    free(c);
}

/* admin_conn_alive - evhttp still holds the filter (bufferevent_free()
 * clears its callbacks at once; its memory goes only later) */
static bool admin_conn_alive(const struct admin_conn *c)
{
    bufferevent_data_cb writecb = NULL;

    if (c->bev == NULL)
        return false;
    bufferevent_getcb(c->bev, NULL, &writecb, NULL, NULL);
    return writecb != NULL;
}

/* admin_conn_stand_in - evhttp's input gets the stand-in of refusal why */
static void admin_conn_stand_in(struct admin_conn *c, enum http_reject why)
{
    evbuffer_add_printf(bufferevent_get_input(c->bev), "GET / HTTP/1.1\r\n%s: %d\r\n\r\n",
                        HTTP_REJECT_HEADER, (int)why);
    c->rejected = true;
    evbuffer_drain(c->head, evbuffer_get_length(c->head));
    evtimer_del(c->deadline);
}

/* admin_conn_show - hand the judged head to evhttp; what came after it
 * goes back in front of src */
static void admin_conn_show(struct admin_conn *c, const struct http_head *h, struct evbuffer *src,
                            struct evbuffer *dst)
{
    if (h->needs_length) {
        evbuffer_remove_buffer(c->head, dst, h->head_len - 2);
        evbuffer_add_printf(dst, "Content-Length: 0\r\n");
        evbuffer_remove_buffer(c->head, dst, 2);
    } else {
        evbuffer_remove_buffer(c->head, dst, h->head_len);
    }
    evbuffer_prepend_buffer(src, c->head);
    c->body_left = h->body_len;
    if (c->body_left == 0)
        evtimer_del(c->deadline);
}

/* admin_conn_head - more of a head from src: shown, refused or kept; true
 * when something went to evhttp */
static bool admin_conn_head(struct admin_conn *c, struct evbuffer *src, struct evbuffer *dst)
{
    size_t have = evbuffer_get_length(c->head);
    size_t take = evbuffer_get_length(src);
    struct timeval tv = {(time_t)c->a->deps.conf->admin.request_timeout, 0};
    struct http_head h;

    if (have == 0)
        evtimer_add(c->deadline, &tv);
    if (take > ADMIN_HEADERS_MAX - have)
        take = ADMIN_HEADERS_MAX - have;
    evbuffer_remove_buffer(src, c->head, take);
    have += take;
    switch (http_head_parse((const char *)evbuffer_pullup(c->head, -1), have, ADMIN_HEADERS_MAX,
                            DD_API_BODY_MAX, &h)) {
    case HTTP_HEAD_MORE:
        return false;
    case HTTP_HEAD_OK:
        admin_conn_show(c, &h, src, dst);
        return true;
    default:
        admin_conn_stand_in(c, h.why);
        evbuffer_drain(src, evbuffer_get_length(src));
        return true;
    }
}

/* admin_conn_in - the input filter: heads judged, bodies passed */
static enum bufferevent_filter_result admin_conn_in(struct evbuffer *src, struct evbuffer *dst,
                                                    ev_ssize_t lim, enum bufferevent_flush_mode m,
                                                    void *ctx)
{
    struct admin_conn *c = ctx;
    bool shown = false;

    (void)lim;
    (void)m;
    while (evbuffer_get_length(src) > 0 && !c->rejected && c->a != NULL) {
        if (c->body_left > 0) {
            size_t n = evbuffer_get_length(src);

            if (n > c->body_left)
                n = (size_t)c->body_left;
            evbuffer_remove_buffer(src, dst, n);
            c->body_left -= n;
            if (c->body_left == 0)
                evtimer_del(c->deadline);
            shown = true;
        } else if (admin_conn_head(c, src, dst)) {
            shown = true;
        }
    }
    if (c->rejected || c->a == NULL)
        evbuffer_drain(src, evbuffer_get_length(src));
    return shown ? BEV_OK : BEV_NEED_MORE;
}

/* admin_conn_out - the output filter: pass down, remember the debt */
static enum bufferevent_filter_result admin_conn_out(struct evbuffer *src, struct evbuffer *dst,
                                                     ev_ssize_t lim, enum bufferevent_flush_mode m,
                                                     void *ctx)
{
    struct admin_conn *c = ctx;

    (void)lim;
    (void)m;
    if (evbuffer_get_length(src) > 0) {
        evbuffer_add_buffer(dst, src);
        c->owed = true;
    }
    return BEV_NEED_MORE; /* evhttp hears of the write in admin_conn_written */
}

/* admin_conn_kick_cb - evhttp adds an answer, then enables writing, and
 * the filter looks at its output only on an add while writing is on:
 * pass what is there once evhttp is done adding */
static void admin_conn_kick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_conn *c = arg;

    (void)fd;
    (void)what;
    if (admin_conn_alive(c) && evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
        bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
}

/* admin_conn_queued - evhttp added output */
static void admin_conn_queued(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct admin_conn *c = arg;

    (void)buf;
    if (info->n_added > 0)
        event_active(c->kick, EV_TIMEOUT, 0);
}

/* admin_conn_written - the socket took everything: evhttp's write is done */
static void admin_conn_written(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct admin_conn *c = arg;

    if (c->owed && info->n_deleted > 0 && evbuffer_get_length(buf) == 0 && admin_conn_alive(c)) {
        c->owed = false;
        bufferevent_trigger(c->bev, EV_WRITE, BEV_TRIG_DEFER_CALLBACKS);
    }
}

/* admin_conn_peer - "[IP]:PORT" of the client, for the log */
static const char *admin_conn_peer(const struct admin_conn *c, char buf[ADMIN_PEER_BUF])
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;

    if (getpeername(bufferevent_getfd(c->under), (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else if (ss.ss_family == AF_INET) {
            inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(buf, ADMIN_PEER_BUF, "[%s]:%u", host, port);
    return buf;
}

/* admin_conn_deadline_cb - the request took too long */
static void admin_conn_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
    struct admin_conn *c = arg;
    char peer[ADMIN_PEER_BUF];

    (void)fd;
    (void)what;
    if (c->a == NULL || c->rejected || !admin_conn_alive(c))
        return;
    log_info("admin", "client=%s request not complete within %u s: %s", admin_conn_peer(c, peer),
             c->a->deps.conf->admin.request_timeout,
             c->body_left > 0 ? "connection dropped" : "408");
    if (c->body_left > 0) { /* evhttp reads a body: no answer can come in order */
        c->rejected = true;
        bufferevent_trigger_event(c->bev, BEV_EVENT_EOF | BEV_EVENT_READING,
                                  BEV_TRIG_DEFER_CALLBACKS);
        return;
    }
    admin_conn_stand_in(c, HTTP_R_TIMEOUT);
    /* evhttp reads it now if it waits for a request, else once it answered */
    if (bufferevent_get_enabled(c->bev) & EV_READ)
        bufferevent_trigger(c->bev, EV_READ, 0);
}

/* admin_conn_linger_cb - drop what the client still sends; close at its
 * end of file, an error, or ADMIN_LINGER_MS */
static void admin_conn_linger_cb(evutil_socket_t fd, short what, void *arg)
{
    char buf[4096];
    ssize_t n = 1;

    if (what & EV_READ)
        while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
            ;
    if ((what & EV_TIMEOUT) || n == 0 ||
        (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
        admin_conn_release(arg);
}

/* admin_conn_gone - evhttp freed the filter: close the socket, lingering */
static void admin_conn_gone(void *arg)
{
    struct admin_conn *c = arg;
    struct timeval tv = {ADMIN_LINGER_MS / 1000, (ADMIN_LINGER_MS % 1000) * 1000};

    evbuffer_remove_cb_entry(bufferevent_get_output(c->under), c->written);
    evtimer_del(c->deadline);
    event_del(c->kick);
    evbuffer_remove_cb_entry(bufferevent_get_output(c->bev), c->queued);
    c->fd = c->tls ? -1 : bufferevent_getfd(c->under);
    c->under = c->bev = NULL;
    if (c->fd >= 0 && c->a != NULL) {
        shutdown(c->fd, SHUT_WR);
        c->linger = event_new(c->a->base, c->fd, EV_READ | EV_PERSIST, admin_conn_linger_cb, c);
        if (c->linger != NULL && event_add(c->linger, &tv) == 0)
            return;
    }
    admin_conn_release(c);
}

/* admin_conn_under - the bufferevent below the filter (the fd set later
 * by evhttp): TLS with an [admin] certificate; a plain one we close */
static struct bufferevent *admin_conn_under(struct admin *a, bool *tls)
{
    SSL_CTX *ctx = a->tls != NULL ? tls_admin_ctx(a->tls) : NULL;

    *tls = ctx != NULL;
    if (ctx != NULL)
        return tls_bev_new(a->base, -1, ctx, true);
    return bufferevent_socket_new(a->base, -1, 0);
}

/* admin_conn_bevcb - evhttp's new connection: the filter, counted */
struct bufferevent *admin_conn_bevcb(struct event_base *base, void *arg)
{
    struct admin *a = arg;
    struct admin_conn *c = calloc(1, sizeof(*c));

    (void)base;
    if (c != NULL)
        c->fd = -1;
    if (c == NULL || (c->head = evbuffer_new()) == NULL ||
        (c->deadline = evtimer_new(a->base, admin_conn_deadline_cb, c)) == NULL ||
        (c->kick = event_new(a->base, -1, 0, admin_conn_kick_cb, c)) == NULL ||
        (c->under = admin_conn_under(a, &c->tls)) == NULL)
        goto fail;
    c->bev = bufferevent_filter_new(c->under, admin_conn_in, admin_conn_out, BEV_OPT_CLOSE_ON_FREE,
                                    admin_conn_gone, c);
    if (c->bev == NULL)
        goto fail;
    c->written = evbuffer_add_cb(bufferevent_get_output(c->under), admin_conn_written, c);
    c->queued = evbuffer_add_cb(bufferevent_get_output(c->bev), admin_conn_queued, c);
    c->a = a;
    c->next = a->conns;
    if (a->conns != NULL)
        a->conns->prev = c;
    a->conns = c;
    a->nconns++;
    admin_listen_update(a);
    return c->bev;
fail:
    log_err("admin", "out of memory for a connection");
    if (c != NULL && c->under != NULL)
        bufferevent_free(c->under);
    if (c != NULL)
        admin_conn_release(c);
    return NULL; /* evhttp makes a plain one, uncounted */
}

/* admin_conns_detach - the admin goes: lingering sockets close now, the
 * others when evhttp frees them */
void admin_conns_detach(struct admin *a)
{
    while (a->conns != NULL) {
        struct admin_conn *c = a->conns;

        a->conns = c->next;
        c->a = NULL;
        c->prev = c->next = NULL;
        if (c->linger != NULL)
            admin_conn_release(c);
    }
    a->nconns = 0;
}
