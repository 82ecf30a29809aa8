/*
 * admin_int.h - what the admin API's files share: the server, one call
 * being handled, asynchronous answers, JSON replies
 *
 * admin_http.c owns the server and routes a request to a handler
 * (admin_stats.c, admin_resubmit.c, admin_queue.c). A handler answers at
 * once (admin_reply_*) or starts an operation (admin_op_new) whose
 * callback answers later with admin_op_reply(). An operation outlives its
 * client and even the admin: when either is gone, admin_op_req() and
 * admin_op_admin() return NULL and the reply is dropped, never sent.
 */
#ifndef DD_ADMIN_INT_H
#define DD_ADMIN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "admin.h"
#include "api_route.h"
#include "store.h"

struct evbuffer;
struct event;
struct evhttp;
struct evhttp_request;

struct admin_op;

struct admin_conn;
struct evconnlistener;
struct admin_share_batch;

/* A store read many requests share (admin_share.c). */
struct admin_share {
    struct admin_share_batch *open; /* the read in flight, or NULL */
};

struct admin {
    struct event_base *base;
    struct admin_deps deps;
    struct evhttp *http;
    const struct tls *tls; /* HTTPS when it has an [admin] context */
    struct admin_op *ops;  /* waiting for the store, doubly linked */
    size_t nops;
    size_t nshared;           /* of them, waiting for a shared read (admin_share.c) */
    struct admin_conn *conns; /* open or lingering (admin_conn.c) */
    size_t nconns;
    struct evconnlistener *ls[DD_LISTEN_MAX]; /* evhttp's (admin_listen.c) */
    size_t nls;
    bool accepting, resting;         /* resting: after a failed accept() */
    struct event *relisten;          /* ends the rest */
    int64_t full_logged_ms;          /* the last "not accepting" line */
    uint64_t accept_errors;          /* accept() failures seen */
    struct admin *alive_next;        /* the list of admins alive */
    struct admin_share stats_read;   /* the outstanding requests, for /v1/stats */
};

/* One request being routed. */
struct admin_call {
    struct admin *a;
    struct evhttp_request *req;
    const char *query;               /* raw query string or NULL */
    char arg[API_ROUTE_ARG_MAX + 1]; /* the captured segment, "" when none */
};

/* The head of every asynchronous operation; handlers embed it first. */
struct admin_op {
    struct admin *a;            /* NULL once the admin is gone or it timed out */
    struct evhttp_request *req; /* NULL once nobody waits for the answer */
    struct admin_op *prev, *next;
    struct event *timer;               /* ADMIN_OP_TIMEOUT: answered 503 if the store is silent */
    bool shared;                       /* waits for a shared read: not in ADMIN_INFLIGHT_MAX */
    void (*dtor)(struct admin_op *op); /* releases what the handler added */
};

typedef void (*admin_handler_fn)(struct admin_call *c);

/* ---- admin_http.c ---- */

/* admin_op_new - an operation of size octets (zeroed, the head filled) for
 * call c; NULL when too many wait already (503 sent) or out of memory (500
 * sent). Unanswered after ADMIN_OP_TIMEOUT, the client gets a 503 and the
 * operation is detached like at admin_free(). */
void *admin_op_new(struct admin_call *c, size_t size);
/* admin_op_new_shared - the same for an operation that waits for a read
 * other requests share (admin_share.c): it costs the store nothing more,
 * so it is bounded by ADMIN_SHARE_WAITERS_MAX, not ADMIN_INFLIGHT_MAX */
void *admin_op_new_shared(struct admin_call *c, size_t size);
/* admin_op_admin - the admin, or NULL when it was freed meanwhile */
struct admin *admin_op_admin(const struct admin_op *op);
/* admin_op_settle - at the start of a later answer: the admin, or NULL
 * when op is done with (the client or the admin is gone: freed; rc is a
 * store error: 500 store_error with the message what, freed) */
struct admin *admin_op_settle(struct admin_op *op, enum store_rc rc, const char *what);
/* admin_op_reply - answer (body: a new reference, taken) and free op */
void admin_op_reply(struct admin_op *op, int status, json_t *body);
/* admin_op_reply_buffer - answer with another content type, free op */
void admin_op_reply_buffer(struct admin_op *op, int status, const char *content_type,
                           struct evbuffer *body);
/* admin_op_error - an error answer and free op */
void admin_op_error(struct admin_op *op, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* admin_op_free - free op without an answer (the client is gone) */
void admin_op_free(struct admin_op *op);

/* admin_method - the request's method as an http_head.h bit (0: other) */
unsigned admin_method(const struct evhttp_request *req);

/* ---- admin_conn.c ---- */

/* admin_conn_bevcb - evhttp's bufferevent callback: a new connection,
 * filtered and counted (arg: the admin) */
struct bufferevent *admin_conn_bevcb(struct event_base *base, void *arg);
/* admin_conns_detach - before evhttp_free(): lingering sockets close, the
 * others forget the admin */
void admin_conns_detach(struct admin *a);

/* ---- admin_listen.c ---- */

/* admin_listen_start - bind or take every [admin] listen address; -1 with
 * err (the pre-bound listeners not served are freed) */
int admin_listen_start(struct admin *a, const struct admin_deps *deps, char *err, size_t errlen);
/* admin_listen_update - accept, or stop at the cap or while resting */
void admin_listen_update(struct admin *a);
/* admin_listen_stop - before evhttp_free() */
void admin_listen_stop(struct admin *a);
/* admin_listeners_free - deps' pre-bound listeners from index i on */
void admin_listeners_free(const struct admin_deps *deps, size_t i);

/* ---- admin_share.c ---- */

/* admin_share_full - a read is in flight with ADMIN_SHARE_WAITERS_MAX waiting */
bool admin_share_full(const struct admin_share *s);
/* admin_share_join - op waits for the read of s; *start: the caller must
 * start it, with the returned batch as the callback's context; NULL out
 * of memory */
struct admin_share_batch *admin_share_join(struct admin_share *s, struct admin_op *op, bool *start);
/* admin_share_done - in the read's callback: the batch leaves s; *ops and
 * the count returned are the operations waiting for the answer */
size_t admin_share_done(struct admin_share_batch *b, struct admin_op ***ops);
/* admin_share_free - the batch, once every waiter was answered */
void admin_share_free(struct admin_share_batch *b);
/* admin_share_detach - at admin_free(): a read in flight forgets s */
void admin_share_detach(struct admin_share *s);

/* ---- admin_reply.c ---- */

/* admin_reply_json - status with body (a new reference, taken) as JSON */
void admin_reply_json(struct evhttp_request *req, int status, json_t *body);
/* admin_reply_error - status with {"error":{"code","message"}} */
void admin_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                       ...) __attribute__((format(printf, 4, 5)));
/* admin_reply_buffer - status with body (drained) of another type (metrics) */
void admin_reply_buffer(struct evhttp_request *req, int status, const char *content_type,
                        struct evbuffer *body);
/* admin_body - the request body as a contiguous string; -1 after a 413 */
int admin_body(struct admin_call *c, const char **body, size_t *len);
/* admin_query_param - the one query parameter name may carry: 1 and its
 * value in out, 0 when absent, -1 after a 400 (malformed, another name,
 * repeated, too long) */
int admin_query_param(struct admin_call *c, const char *name, char *out, size_t cap);

/* JSON values that never fail on odd input: a string that is not UTF-8 has
 * its bad octets replaced with '?'; numbers past INT64_MAX are clamped. */
json_t *admin_json_str(const char *s);
json_t *admin_json_str_or_null(const char *s); /* null for NULL or "" */
json_t *admin_json_time(int64_t ms);           /* RFC 3339 UTC ms */
json_t *admin_json_time_or_null(int64_t ms);   /* null for 0 */
json_t *admin_json_u64(uint64_t v);
/* admin_json_set - obj[key] = v (taken); tolerates v == NULL */
void admin_json_set(json_t *obj, const char *key, json_t *v);

/* ---- handlers ---- */

void admin_stats_healthz(struct admin_call *c);   /* GET /healthz */
void admin_stats_metrics(struct admin_call *c);   /* GET /metrics */
void admin_stats_get(struct admin_call *c);       /* GET /v1/stats[/{sg}] */
void admin_sg_list(struct admin_call *c);         /* GET /v1/storage-groups */
void admin_sg_dest_get(struct admin_call *c);     /* GET .../{sg}/destination */
void admin_sg_dest_put(struct admin_call *c);     /* PUT .../{sg}/destination */
void admin_sg_replicated(struct admin_call *c);   /* POST .../{sg}/replicated */
void admin_resubmit_post(struct admin_call *c);   /* POST /v1/resubmit */
void admin_resubmit_list(struct admin_call *c);   /* GET /v1/resubmit */
void admin_resubmit_get(struct admin_call *c);    /* GET /v1/resubmit/{id} */
void admin_resubmit_cancel(struct admin_call *c); /* DELETE /v1/resubmit/{id} */
void admin_queue_list(struct admin_call *c);      /* GET /v1/queue */
void admin_queue_flush(struct admin_call *c);     /* POST /v1/queue/flush */

/* admin_sg_known - sg is a configured storage group; else a 404 was sent */
bool admin_sg_known(struct admin_call *c, const char *sg);

struct dumpster_stats;
/* admin_stats_all - the dumpster's statistics of sg, or of every group
 * when sg is NULL, into *n entries; the caller frees; NULL out of memory */
struct dumpster_stats *admin_stats_all(struct admin *a, const char *sg, size_t *n);

#endif
