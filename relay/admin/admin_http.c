/*
 * admin_http.c - the admin API server: listeners, bounds, routing, tokens,
 * and the operations that answer later
 *
 * One evhttp server takes every [admin] listen address, with the header,
 * body and time bounds of admin.h set before the first connection. A
 * request is routed by a table of (path pattern, method, handler): a path
 * no route knows is 404, a known path with another method 405 with an
 * Allow header. The token is checked after routing, so a wrong method is
 * 405 even without one. evhttp stops reading a connection while its
 * request is being handled, so the request stays valid until it is
 * answered; only admin_free() takes requests away, and it first detaches
 * every operation still waiting (admin_op_*), whose late callbacks then
 * find neither admin nor request and only free themselves. An operation
 * the store leaves unanswered for ADMIN_OP_TIMEOUT is answered 503 and
 * detached the same way, so no client waits forever and the in-flight
 * bound (ADMIN_INFLIGHT_MAX) cannot fill up for good.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "admin_int.h"
#include "api_req.h"
#include "auth.h"
#include "log.h"

/* Who may call a route: anyone; anyone when public_reads = yes (SPEC 3:
 * GET /metrics and /v1/stats); only holders of the token. */
enum admin_access { ADMIN_OPEN, ADMIN_PUBLIC_READ, ADMIN_TOKEN };

struct admin_route {
    const char *pattern; /* '*' captures one non-empty segment */
    enum evhttp_cmd_type method;
    admin_handler_fn fn;
    enum admin_access access;
};

static const struct admin_route admin_routes[] = {
    {"/healthz", EVHTTP_REQ_GET, admin_stats_healthz, ADMIN_OPEN},
    {"/metrics", EVHTTP_REQ_GET, admin_stats_metrics, ADMIN_PUBLIC_READ},
    {"/v1/stats", EVHTTP_REQ_GET, admin_stats_get, ADMIN_PUBLIC_READ},
    {"/v1/stats/*", EVHTTP_REQ_GET, admin_stats_get, ADMIN_PUBLIC_READ},
    {"/v1/resubmit", EVHTTP_REQ_GET, admin_resubmit_list, ADMIN_TOKEN},
    {"/v1/resubmit", EVHTTP_REQ_POST, admin_resubmit_post, ADMIN_TOKEN},
    {"/v1/resubmit/*", EVHTTP_REQ_GET, admin_resubmit_get, ADMIN_TOKEN},
    {"/v1/resubmit/*", EVHTTP_REQ_DELETE, admin_resubmit_cancel, ADMIN_TOKEN},
    {"/v1/storage-groups", EVHTTP_REQ_GET, admin_sg_list, ADMIN_TOKEN},
    {"/v1/storage-groups/*", EVHTTP_REQ_GET, admin_sg_list, ADMIN_TOKEN},
    {"/v1/storage-groups/*/destination", EVHTTP_REQ_GET, admin_sg_dest_get, ADMIN_TOKEN},
    {"/v1/storage-groups/*/destination", EVHTTP_REQ_PUT, admin_sg_dest_put, ADMIN_TOKEN},
    {"/v1/storage-groups/*/replicated", EVHTTP_REQ_POST, admin_sg_replicated, ADMIN_TOKEN},
    {"/v1/queue", EVHTTP_REQ_GET, admin_queue_list, ADMIN_TOKEN},
    {"/v1/queue/flush", EVHTTP_REQ_POST, admin_queue_flush, ADMIN_TOKEN},
};
#define ADMIN_NROUTES (sizeof(admin_routes) / sizeof(admin_routes[0]))

/* Methods evhttp lets through to us: the rest get 405 from the table. */
#define ADMIN_METHODS                                                                              \
    (EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |     \
     EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

/* admin_path_match - path against pat; the '*' segment goes to arg */
static bool admin_path_match(const char *pat, const char *path, char *arg, size_t cap)
{
    while (*pat != 0) {
        if (*pat == '*') {
            size_t n = strcspn(path, "/");

            if (n == 0 || n >= cap)
                return false;
            memcpy(arg, path, n);
            arg[n] = 0;
            path += n;
            pat++;
            continue;
        }
        if (*pat++ != *path++)
            return false;
    }
    return *path == 0;
}

/* admin_allow - the Allow header of the methods in mask */
static void admin_allow(unsigned mask, char *buf, size_t cap)
{
    static const struct {
        enum evhttp_cmd_type m;
        const char *name;
    } names[] = {{EVHTTP_REQ_GET, "GET, HEAD"},
                 {EVHTTP_REQ_POST, "POST"},
                 {EVHTTP_REQ_PUT, "PUT"},
                 {EVHTTP_REQ_DELETE, "DELETE"}};
    size_t used = 0;

    buf[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (mask & names[i].m)
            used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s",
                                     used ? ", " : "", names[i].name);
}

/* admin_auth - the token a request needs; 0, or -1 after a 401 */
static int admin_auth(struct admin *a, struct evhttp_request *req, enum admin_access access)
{
    const struct conf *cf = a->deps.conf;
    const char *h;

    if (access == ADMIN_OPEN || (access == ADMIN_PUBLIC_READ && cf->admin.public_reads))
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

/* admin_route_find - the route of path and method; *allowed collects the
 * methods of the path when none matches */
static const struct admin_route *admin_route_find(const char *path, enum evhttp_cmd_type m,
                                                  char *arg, size_t cap, unsigned *allowed)
{
    if (m == EVHTTP_REQ_HEAD)
        m = EVHTTP_REQ_GET; /* evhttp sends no body for HEAD */
    *allowed = 0;
    for (size_t i = 0; i < ADMIN_NROUTES; i++) {
        if (!admin_path_match(admin_routes[i].pattern, path, arg, cap))
            continue;
        if (admin_routes[i].method == m)
            return &admin_routes[i];
        *allowed |= (unsigned)admin_routes[i].method;
    }
    return NULL;
}

/* admin_dispatch - every request: route, method, token, handler */
static void admin_dispatch(struct evhttp_request *req, void *arg)
{
    struct admin_call c = {.a = arg, .req = req};
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    const struct admin_route *r;
    unsigned allowed;
    char allow[64];

    if (path == NULL || path[0] == 0) {
        admin_reply_error(req, 400, "bad_request", "no path");
        return;
    }
    c.query = evhttp_uri_get_query(uri);
    r = admin_route_find(path, m, c.arg, sizeof(c.arg), &allowed);
    if (r == NULL && allowed == 0) {
        admin_reply_error(req, 404, "not_found", "no such resource");
        return;
    }
    if (r == NULL) {
        admin_allow(allowed, allow, sizeof(allow));
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", allow);
        admin_reply_error(req, 405, "method_not_allowed", "allowed: %s", allow);
        return;
    }
    if (admin_auth(c.a, req, r->method == EVHTTP_REQ_GET ? r->access : ADMIN_TOKEN) < 0)
        return;
    r->fn(&c);
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

/* admin_op_new - an operation that will answer c later */
void *admin_op_new(struct admin_call *c, size_t size)
{
    struct admin *a = c->a;
    struct timeval tv = {ADMIN_OP_TIMEOUT, 0};
    struct admin_op *op;

    if (a->nops >= ADMIN_INFLIGHT_MAX) {
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
    return op;
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

/* admin_bind - listen on one [admin] address */
static int admin_bind(struct admin *a, const struct conf_listen *l, char *err, size_t errlen)
{
    bool v6 = strchr(l->host, ':') != NULL;

    if (evhttp_bind_socket_with_handle(a->http, l->host, l->port) != NULL)
        return 0;
    snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", l->host, v6 ? "]" : "",
             (unsigned)l->port, errno ? strerror(errno) : "bind failed");
    return -1;
}

/* admin_listeners_free - the pre-bound listeners from index i on */
static void admin_listeners_free(const struct admin_deps *deps, size_t i)
{
    for (; deps->listeners != NULL && i < deps->conf->admin.nlisten; i++)
        evconnlistener_free(deps->listeners[i]);
}

/* admin_listen - bind address i, or serve its pre-bound listener; frees the rest on error */
static int admin_listen(struct admin *a, const struct admin_deps *deps, size_t i, char *err,
                        size_t errlen)
{
    if (deps->listeners == NULL) {
        errno = 0;
        return admin_bind(a, &deps->conf->admin.listen[i], err, errlen);
    }
    if (evhttp_bind_listener(a->http, deps->listeners[i]) != NULL)
        return 0;
    snprintf(err, errlen, "cannot serve a listener: out of memory");
    admin_listeners_free(deps, i);
    return -1;
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
    evhttp_set_max_headers_size(a->http, ADMIN_HEADERS_MAX);
    evhttp_set_max_body_size(a->http, ADMIN_BODY_HARD_MAX);
    evhttp_set_timeout(a->http, ADMIN_TIMEOUT);
    evhttp_set_allowed_methods(a->http, ADMIN_METHODS);
    /* an oversized body is read and dropped, so the client sees the 413 */
    evhttp_set_flags(a->http, EVHTTP_SERVER_LINGERING_CLOSE);
    evhttp_set_gencb(a->http, admin_dispatch, a);
    for (size_t i = 0; i < deps->conf->admin.nlisten; i++)
        if (admin_listen(a, deps, i, err, errlen) < 0)
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
    if (a->http != NULL)
        evhttp_free(a->http);
    free(a);
    return NULL;
}
