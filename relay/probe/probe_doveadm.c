/*
 * probe_doveadm.c - the doveadm backend of the mailbox probes: a batch of
 * search commands in one POST /doveadm/v1 (probe_int.h)
 *
 * One connection per request (Dovecot answers each with Connection:
 * close), on the loop through libevent's HTTP client, with the
 * request's timeout and a bound on the answer's size. The API key goes in
 * the X-Dovecot-API header, base64-encoded, and nowhere else. A request's
 * connection cannot be freed inside its own callback, so finished
 * requests wait in a list that a zero-timeout event empties. A batch with
 * no question the API can carry (doveadm.h) is answered from that event
 * too, without a request.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "bounds.h"
#include "clock.h"
#include "doveadm.h"
#include "log.h"
#include "probe_int.h"

struct pd_req {
    LIST_ENTRY(pd_req) link;
    struct pd *b;
    struct evhttp_connection *conn;
    struct evhttp_request *req;
    struct probe_query *q; /* the questions; their strings stay valid until done */
    size_t n;
    bool instant; /* nothing to ask: every answer is known, told by pd_reap_cb */
    probe_req_fn done;
    void *ctx;
};
LIST_HEAD(pd_req_list, pd_req);

struct pd {
    struct event_base *base;
    char host[64];
    uint16_t port;
    char name[96];                        /* "doveadm:http://IP:PORT", for logs */
    char auth[2 * DD_PROBE_KEY_MAX + 32]; /* the Authorization header's value */
    struct pd_req_list live, dead;
    struct event *reap;
};

/* pd_finish - tell the caller once; the request waits to be reaped */
static void pd_finish(struct pd_req *r, const enum probe_answer *answers, const char *error)
{
    LIST_REMOVE(r, link);
    LIST_INSERT_HEAD(&r->b->dead, r, link);
    event_active(r->b->reap, EV_TIMEOUT, 0);
    r->done(r->ctx, answers, r->n, error);
}

/* pd_answers - the answers of a 200 response; NULL with why */
static enum probe_answer *pd_answers(struct pd_req *r, struct evhttp_request *req, char *why,
                                     size_t cap)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    enum probe_answer *pa = calloc(r->n ? r->n : 1, sizeof(*pa));
    const char *body = (const char *)evbuffer_pullup(in, -1);

    if (pa == NULL || (len > 0 && body == NULL) ||
        doveadm_search_parse(body ? body : "", len, r->q, pa, r->n, why, cap) < 0) {
        if (pa == NULL)
            snprintf(why, cap, "out of memory");
        free(pa);
        return NULL;
    }
    return pa;
}

/* pd_done_cb - the answer came, or the connection failed or timed out */
static void pd_done_cb(struct evhttp_request *req, void *arg)
{
    struct pd_req *r = arg;
    enum probe_answer *pa = NULL;
    char why[160] = "";
    int code = req ? evhttp_request_get_response_code(req) : 0;

    r->req = NULL; /* evhttp frees it after this callback */
    if (code == 200)
        pa = pd_answers(r, req, why, sizeof(why));
    else if (code == 0)
        snprintf(why, sizeof(why), "no answer (refused, closed or timed out)");
    else
        snprintf(why, sizeof(why), "HTTP %d", code);
    if (pa == NULL)
        log_warn("probe", "%s: %s", r->b->name, why);
    pd_finish(r, pa, pa ? NULL : why);
    free(pa);
}

/* pd_tell_instant - the batches that needed no request: every answer
 * missing (doveadm_search_parse of an empty answer) */
static void pd_tell_instant(struct pd *b)
{
    struct pd_req *r, *next;

    for (r = LIST_FIRST(&b->live); r != NULL; r = next) {
        enum probe_answer pa[DD_PROBE_BATCH_MAX];
        char why[64];

        next = LIST_NEXT(r, link);
        if (!r->instant)
            continue;
        (void)doveadm_search_parse("[]", 2, r->q, pa, r->n, why, sizeof(why));
        pd_finish(r, pa, NULL);
        next = LIST_FIRST(&b->live); /* done may have asked again */
    }
}

/* pd_reap_cb - answer the instant batches, free the connections of
 * finished requests */
static void pd_reap_cb(evutil_socket_t fd, short what, void *arg)
{
    struct pd *b = arg;
    struct pd_req *r;

    (void)fd;
    (void)what;
    pd_tell_instant(b);
    while ((r = LIST_FIRST(&b->dead)) != NULL) {
        LIST_REMOVE(r, link);
        if (r->conn)
            evhttp_connection_free(r->conn);
        free(r->q);
        free(r);
    }
}

/* pd_headers - what every request carries */
static int pd_headers(struct pd *b, struct evhttp_request *req)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char host[96];

    snprintf(host, sizeof(host), strchr(b->host, ':') ? "[%s]:%u" : "%s:%u", b->host, b->port);
    return evhttp_add_header(h, "Host", host) | evhttp_add_header(h, "Authorization", b->auth) |
           evhttp_add_header(h, "Content-Type", "application/json") |
           evhttp_add_header(h, "Connection", "close");
}

/* pd_start - connection, request, body; -1 when one of them failed (the
 * request is freed then) */
static int pd_start(struct pd *b, struct pd_req *r, const char *body)
{
    struct evhttp_request *req;

    r->conn = evhttp_connection_base_new(b->base, NULL, b->host, b->port);
    if (r->conn == NULL || (req = evhttp_request_new(pd_done_cb, r)) == NULL)
        return -1;
    evhttp_connection_set_timeout(r->conn, DD_PROBE_TIMEOUT);
    evhttp_connection_set_max_body_size(r->conn, DD_PROBE_RESPONSE_MAX);
    evhttp_connection_set_retries(r->conn, 0);
    if (pd_headers(b, req) != 0 ||
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body)) < 0) {
        evhttp_request_free(req);
        return -1;
    }
    if (evhttp_make_request(r->conn, req, EVHTTP_REQ_POST, "/doveadm/v1") < 0)
        return -1; /* evhttp freed the request */
    r->req = req;
    return 0;
}

/* pd_ask - one POST for q[0..n) */
static void pd_ask(void *backend, const struct probe_query *q, size_t n, probe_req_fn done,
                   void *ctx)
{
    struct pd *b = backend;
    struct pd_req *r = calloc(1, sizeof(*r));
    struct probe_query *dq = calloc(n ? n : 1, sizeof(*dq));
    size_t asked = 0;
    char *body = NULL;

    if (r == NULL || dq == NULL || n > DD_PROBE_BATCH_MAX) {
        log_err("probe", n > DD_PROBE_BATCH_MAX ? "batch too large" : "out of memory");
        abort();
    }
    for (size_t i = 0; i < n; i++) {
        dq[i] = q[i];
        if (doveadm_askable(&dq[i]))
            asked++;
        else
            log_info("probe", "%s: %s / %s cannot be asked (not UTF-8): resent", b->name, q[i].user,
                     q[i].message_id);
    }
    r->b = b;
    r->q = dq;
    r->n = n;
    r->done = done;
    r->ctx = ctx;
    LIST_INSERT_HEAD(&b->live, r, link);
    if (asked == 0) {
        r->instant = true;
        event_active(b->reap, EV_TIMEOUT, 0);
        return;
    }
    body = doveadm_search_body(dq, n);
    if (body == NULL || pd_start(b, r, body) < 0)
        pd_finish(r, NULL, body ? "cannot start the request" : "out of memory");
    free(body);
}

/* pd_cancel - every live request ends now with an error */
static void pd_cancel(void *backend)
{
    struct pd *b = backend;
    struct pd_req *r;

    while ((r = LIST_FIRST(&b->live)) != NULL) {
        if (r->req)
            evhttp_cancel_request(r->req);
        r->req = NULL;
        pd_finish(r, NULL, "stopping");
    }
    pd_reap_cb(-1, 0, b);
}

/* pd_close - release (nothing in flight) */
static void pd_close(void *backend)
{
    struct pd *b = backend;

    if (b == NULL)
        return;
    pd_cancel(b);
    if (b->reap)
        event_free(b->reap);
    sodium_memzero(b->auth, sizeof(b->auth));
    free(b);
}

/* pd_open - a backend for group g with its key */
static void *pd_open(struct event_base *base, const struct conf_sg *g, const char *key,
                     size_t keylen, char *err, size_t errlen)
{
    static const char prefix[] = "X-Dovecot-API ";
    struct pd *b = calloc(1, sizeof(*b));

    if (b == NULL || (b->reap = event_new(base, -1, 0, pd_reap_cb, b)) == NULL) {
        snprintf(err, errlen, "out of memory");
        free(b);
        return NULL;
    }
    b->base = base;
    snprintf(b->host, sizeof(b->host), "%s", g->probe_addr.host);
    b->port = g->probe_addr.port;
    snprintf(b->name, sizeof(b->name), "%s", g->probe);
    memcpy(b->auth, prefix, sizeof(prefix) - 1);
    sodium_bin2base64(b->auth + sizeof(prefix) - 1, sizeof(b->auth) - sizeof(prefix) + 1,
                      (const unsigned char *)key, keylen, sodium_base64_VARIANT_ORIGINAL);
    LIST_INIT(&b->live);
    LIST_INIT(&b->dead);
    return b;
}

const struct probe_backend probe_doveadm = {"doveadm", pd_open, pd_ask, pd_cancel, pd_close};
