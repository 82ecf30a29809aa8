/*
 * admin_http.c - the admin API server: bounds, routing, tokens, refusals,
 * and the operations that answer later
 *
 * One evhttp server takes every [admin] listen address (admin_listen.c);
 * each connection passes through admin_conn.c, which shows evhttp only
 * heads that http_head.h accepted and, for one it refused, a stand-in
 * request answered here with the JSON error. A request is routed by the
 * table of api_route.h: a path no route knows is 404, a known path with
 * another method 405 with an Allow header. The token is checked after
 * routing, so a wrong method is 405 even without one. evhttp stops reading
 * a connection while its request is being handled, so the request stays
 * valid until it is answered; only admin_free() takes requests away, and
 * it first detaches every operation still waiting (admin_op_*), whose late
 * callbacks then find neither admin nor request and only free themselves.
 * An operation the store leaves unanswered for ADMIN_OP_TIMEOUT is
 * answered 503 and detached the same way, so no client waits forever and
 * the in-flight bound (ADMIN_INFLIGHT_MAX) cannot fill up for good.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "admin_int.h"
#include "api_req.h"
#include "api_route.h"
#include "auth.h"
#include "log.h"

/* The handler of each route of api_route.h. */
static const admin_handler_fn admin_handlers[API_R_COUNT] = {
    [API_R_HEALTHZ] = admin_stats_healthz,
    [API_R_METRICS] = admin_stats_metrics,
    [API_R_STATS] = admin_stats_get,
    [API_R_STATS_SG] = admin_stats_get,
    [API_R_RESUBMIT_LIST] = admin_resubmit_list,
    [API_R_RESUBMIT_POST] = admin_resubmit_post,
    [API_R_RESUBMIT_GET] = admin_resubmit_get,
    [API_R_RESUBMIT_CANCEL] = admin_resubmit_cancel,
    [API_R_SG_LIST] = admin_sg_list,
    [API_R_SG_GET] = admin_sg_list,
    [API_R_SG_DEST_GET] = admin_sg_dest_get,
    [API_R_SG_DEST_PUT] = admin_sg_dest_put,
    [API_R_SG_REPLICATED] = admin_sg_replicated,
    [API_R_QUEUE_LIST] = admin_queue_list,
    [API_R_QUEUE_FLUSH] = admin_queue_flush,
};

/* Methods evhttp lets through to us: the rest get 405 from the table. */
#define ADMIN_METHODS                                                                              \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |     \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

/* admin_method - evhttp's method as an http_head.h bit */
unsigned admin_method(const struct evhttp_request *req)
{
    switch (evhttp_request_get_command(req)) {
    case EVHTTP_REQ_GET:
        return HTTP_M_GET;
    case EVHTTP_REQ_HEAD:
        return HTTP_M_HEAD;
    case EVHTTP_REQ_POST:
        return HTTP_M_POST;
    case EVHTTP_REQ_PUT:
        return HTTP_M_PUT;
    case EVHTTP_REQ_DELETE:
        return HTTP_M_DELETE;
    case EVHTTP_REQ_OPTIONS:
        return HTTP_M_OPTIONS;
    case EVHTTP_REQ_TRACE:
        return HTTP_M_TRACE;
    case EVHTTP_REQ_CONNECT:
        return HTTP_M_CONNECT;
    case EVHTTP_REQ_PATCH:
        return HTTP_M_PATCH;
    default:
        return 0;
    }
}

/* admin_auth - the token a request needs; 0, or -1 after a 401 */
static int admin_auth(struct admin *a, struct evhttp_request *req, enum api_access access)
{
    const struct conf *cf = a->deps.conf;
    const char *h;

    if (access == API_OPEN || (access == API_PUBLIC_READ && cf->admin.public_reads))
        return 0;
    h = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (auth_check_bearer(cf->admin.token_hash, h))
        return 0;
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      h == NULL ? "Bearer realm=\"dumpsterd\""
                                : "Bearer realm=\"dumpsterd\", error=\"invalid_token\"");
    if (cf->admin.token_hash[0] == 0)
        admin_reply_error(req, 401, "unauthorized",
                          "no token is configured ([admin] token_hash is empty)");
    else
        admin_reply_error(req, 401, "unauthorized",
                          h == NULL ? "an Authorization: Bearer token is required"
                                    : "the bearer token is not valid");
    return -1;
}

/* admin_rejected - the stand-in request of a refusal (admin_conn.c): its
 * JSON error, and the connection closes; false for a real request */
static bool admin_rejected(struct admin *a, struct evhttp_request *req)
{
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    const char *v = evhttp_find_header(in, HTTP_REJECT_HEADER);
    const struct http_reject_info *ri = v != NULL ? http_reject_info(atoi(v)) : NULL;

    if (v == NULL)
        return false;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
    if (ri == NULL)
        admin_reply_error(req, 400, "bad_request", "bad request");
    else if (ri->status == 408)
        admin_reply_error(req, 408, ri->code, "the request was not complete within %u s",
                          a->deps.conf->admin.request_timeout);
    else
        admin_reply_error(req, ri->status, ri->code, "%s", ri->message);
    return true;
}

/* admin_dispatch - every request: refusal, route, method, token, handler */
static void admin_dispatch(struct evhttp_request *req, void *arg)
{
    struct admin_call c = {.a = arg, .req = req};
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    unsigned m = admin_method(req), allowed;
    int id;
    char allow[64];

    if (admin_rejected(c.a, req))
        return;
    if (path == NULL || path[0] == 0) {
        admin_reply_error(req, 400, "bad_request", "no path");
        return;
    }
    c.query = evhttp_uri_get_query(uri);
    id = api_route_find(m, path, c.arg, sizeof(c.arg), &allowed);
    if (id < 0 && allowed == 0) {
        admin_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    if (id < 0) {
        api_allow_text(allowed, allow, sizeof(allow));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
        admin_reply_error(req, 405, "method_not_allowed", "allowed: %s", allow);
        return;
    }
    const struct api_route *r = api_route_get((enum api_route_id)id);
    if (admin_auth(c.a, req, r->method == HTTP_M_GET ? r->access : API_TOKEN) < 0)
        return;
    admin_handlers[id](&c);
}

/* admin_sg_known - a configured storage group, else 404 */
bool admin_sg_known(struct admin_call *c, const char *sg)
{
    if (conf_sg_find(c->a->deps.conf, sg) != NULL)
        return true;
    admin_reply_error(c->req, 404, "unknown_storage_group", "no storage group \"%s\"", sg);
    return false;
}

/* admin_op_detach - the admin lets go of op: a late callback only frees it */
static void admin_op_detach(struct admin_op *op)
{
    struct admin *a = op->a;

    if (a != NULL) {
        if (op->prev != NULL)
            op->prev->next = op->next;
        else
            a->ops = op->next;
        if (op->next != NULL)
            op->next->prev = op->prev;
        a->nops--;
        a->nshared -= op->shared;
    }
    if (op->timer != NULL)
        event_free(op->timer);
    op->timer = NULL;
    op->a = NULL;
    op->req = NULL;
    op->prev = op->next = NULL;
}

/* admin_op_timeout - the store did not answer in time: 503, then detach */
static void admin_op_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct admin_op *op = arg;
    struct evhttp_request *req = op->req;

    (void)fd;
    (void)what;
    log_warn("admin", "no answer from the store within %d s", ADMIN_OP_TIMEOUT);
    admin_op_detach(op);
    if (req != NULL)
        admin_reply_error(req, 503, "unavailable", "the store did not answer within %d s",
                          ADMIN_OP_TIMEOUT);
}

/* admin_op_start - an operation that will answer c later; a shared one
 * (waiting for a read already asked) does not count toward the bound */
static void *admin_op_start(struct admin_call *c, size_t size, bool shared)
{
    struct admin *a = c->a;
    struct timeval tv = {ADMIN_OP_TIMEOUT, 0};
    struct admin_op *op;

    if (!shared && a->nops - a->nshared >= ADMIN_INFLIGHT_MAX) {
        evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
        admin_reply_error(c->req, 503, "busy", "%d requests are waiting for the store",
                          ADMIN_INFLIGHT_MAX);
        return NULL;
    }
    if ((op = calloc(1, size)) == NULL ||
        (op->timer = evtimer_new(a->base, admin_op_timeout, op)) == NULL) {
        free(op);
        admin_reply_error(c->req, 500, "internal", "out of memory");
        return NULL;
    }
    evtimer_add(op->timer, &tv);
    op->a = a;
    op->req = c->req;
    op->next = a->ops;
    if (a->ops != NULL)
        a->ops->prev = op;
    a->ops = op;
    a->nops++;
    op->shared = shared;
    a->nshared += shared;
    return op;
}

/* admin_op_new - an operation of its own */
void *admin_op_new(struct admin_call *c, size_t size)
{
    return admin_op_start(c, size, false);
}

/* admin_op_new_shared - an operation that waits for a shared read */
void *admin_op_new_shared(struct admin_call *c, size_t size)
{
    return admin_op_start(c, size, true);
}

/* admin_op_admin - NULL once the admin is gone */
struct admin *admin_op_admin(const struct admin_op *op)
{
    return op->a;
}

/* admin_op_settle - the opening of every later answer: NULL when nothing
 * more is to be done (the admin or the client went: op freed; the store
 * failed: answered 500) */
struct admin *admin_op_settle(struct admin_op *op, enum store_rc rc, const char *what)
{
    struct admin *a = op->a;

    if (a == NULL)
        admin_op_free(op);
    else if (rc != STORE_OK)
        admin_op_error(op, 500, "store_error", "%s", what);
    return a && rc == STORE_OK ? a : NULL;
}

/* admin_op_unlink - op leaves the admin for good; returns its request */
static struct evhttp_request *admin_op_unlink(struct admin_op *op)
{
    struct evhttp_request *req = op->req;

    admin_op_detach(op);
    if (op->dtor != NULL)
        op->dtor(op);
    return req;
}

/* admin_op_reply - answer and free */
void admin_op_reply(struct admin_op *op, int status, json_t *body)
{
    struct evhttp_request *req = admin_op_unlink(op);

    free(op);
    if (req != NULL)
        admin_reply_json(req, status, body);
    else
        json_decref(body);
}

/* admin_op_reply_buffer - answer with another content type and free */
void admin_op_reply_buffer(struct admin_op *op, int status, const char *content_type,
                           struct evbuffer *body)
{
    struct evhttp_request *req = admin_op_unlink(op);

    free(op);
    if (req != NULL)
        admin_reply_buffer(req, status, content_type, body);
}

/* admin_op_error - an error answer and free */
void admin_op_error(struct admin_op *op, int status, const char *code, const char *fmt, ...)
{
    char msg[API_ERR_MESSAGE_MAX], codebuf[API_ERR_CODE_MAX];
    struct evhttp_request *req;
    va_list ap;

    /* the arguments may live in op: format before it goes */
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(codebuf, sizeof(codebuf), "%s", code);
    req = admin_op_unlink(op);
    free(op);
    if (req != NULL)
        admin_reply_error(req, status, codebuf, "%s", msg);
}

/* admin_op_free - free without an answer; a client still waiting gets 500 */
void admin_op_free(struct admin_op *op)
{
    struct evhttp_request *req = admin_op_unlink(op);

    free(op);
    if (req != NULL)
        admin_reply_error(req, 500, "internal", "the operation ended without an answer");
}

/* admin_new - the server, bounded, on every [admin] listen address */
struct admin *admin_new(struct event_base *base, const struct admin_deps *deps, char *err,
                        size_t errlen)
{
    struct admin *a;

    if (deps->conf == NULL || deps->store == NULL || deps->srv == NULL || deps->delivery == NULL ||
        deps->dumpster == NULL) {
        snprintf(err, errlen, "admin: a dependency is missing");
        if (deps->conf != NULL)
            admin_listeners_free(deps, 0);
        return NULL;
    }
    if ((a = calloc(1, sizeof(*a))) == NULL || (a->http = evhttp_new(base)) == NULL) {
        snprintf(err, errlen, "out of memory");
        admin_listeners_free(deps, 0);
        return admin_free(a);
    }
    a->base = base;
    a->deps = *deps;
    /* admin_conn.c judges every head first (request line and headers
     * within ADMIN_HEADERS_MAX, bodies within DD_API_BODY_MAX): evhttp's
     * own bounds sit above ours, so it never answers with its HTML page */
    evhttp_set_max_headers_size(a->http, 2 * ADMIN_HEADERS_MAX);
    evhttp_set_max_body_size(a->http, DD_API_BODY_MAX);
    evhttp_set_timeout(a->http, ADMIN_TIMEOUT);
    evhttp_set_allowed_methods(a->http, ADMIN_METHODS);
    evhttp_set_bevcb(a->http, admin_conn_bevcb, a);
    evhttp_set_gencb(a->http, admin_dispatch, a);
    if (admin_listen_start(a, deps, err, errlen) < 0)
        return admin_free(a);
    return a;
}

/* admin_set_conf - tokens and storage groups of a reloaded conf */
void admin_set_conf(struct admin *a, const struct conf *c)
{
    a->deps.conf = c;
}

/* admin_free - detach waiting operations, close everything */
struct admin *admin_free(struct admin *a)
{
    if (a == NULL)
        return NULL;
    while (a->ops != NULL)
        admin_op_detach(a->ops); /* its callback finds no admin and only frees it */
    admin_share_detach(&a->stats_read);
    admin_conns_detach(a);
    admin_listen_stop(a);
    if (a->http != NULL)
        evhttp_free(a->http);
    free(a);
    return NULL;
}
