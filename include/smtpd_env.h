/*
 * smtpd_env.h - what an inbound session gets from the server that owns it
 *
 * Calls go one way: the server creates sessions and hands each this table
 * (it lives as long as the server); a session tells the server what it
 * needs to know only through the callbacks here, never by calling the
 * server by name.
 */
#ifndef DD_SMTPD_ENV_H
#define DD_SMTPD_ENV_H

#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "queue.h"
#include "store.h"
#include "tls.h"

struct event_base;

/* Counters the sessions update (metrics). */
struct smtpd_stats {
    uint64_t messages_accepted; /* 250 after the commit */
    uint64_t messages_rejected; /* 4xx/5xx at the end of data or commit */
    uint64_t rcpts_rejected;
    uint64_t connections_total;
    uint64_t connections_rejected;       /* 421 at accept: limits */
    uint64_t sessions;                   /* open now */
    uint64_t tls_sessions[TLS_V__COUNT]; /* STARTTLS handshakes completed, by version */
    uint64_t tls_resumed;                /* of those, resumed sessions */
    uint64_t tls_handshake_failures;     /* failed or timed out after the 220 */
};

struct smtpd_env {
    struct event_base *base;
    struct store *st;            /* whose backlog sessions watch */
    struct queue *q;             /* where mail goes */
    const struct conf *c;        /* for new sessions; a session holds its own (refs) */
    const struct directory *dir; /* the current directory (replaced on SIGHUP) */
    const struct tls *tls;       /* the contexts of STARTTLS now (NULL: none) */
    struct smtpd_stats *stats;
    void *ctx;                                  /* the server: the callbacks' first argument */
    void (*gone)(void *ctx, uint64_t id);       /* the session with this id closed */
    void (*wait_store)(void *ctx, uint64_t id); /* it waits for the backlog to drain */
    queue_commit_fn committed; /* commit completions; the cookie is the session id */
    /* how a finished message is committed: queue_commit() on q, or one
     * that adds a shadow copy (shadow_gate.h) */
    void (*commit)(void *commit_ctx, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                   uint64_t cookie);
    void *commit_ctx;
};

#endif
