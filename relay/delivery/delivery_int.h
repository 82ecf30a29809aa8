/*
 * delivery_int.h - what delivery.c (scheduling, outcomes) and
 * delivery_pool.c (connections per destination) share
 */
#ifndef DD_DELIVERY_INT_H
#define DD_DELIVERY_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "clock.h"
#include "conf.h"
#include "delivery.h"
#include "queue.h"
#include "resolve.h"
#include "route.h"
#include "mta_client.h"

/* One queue job on its way to a destination. */
struct djob {
    TAILQ_ENTRY(djob) link;
    struct queue_job *q;
    char *headers; /* the content's header section, for a bounce */
    size_t hlen;
    const char **rcptv; /* the recipients' addresses, for the client */
    void *kept;         /* a copy of the content for the on_delivered hook, or NULL */
    size_t kept_len;
};
TAILQ_HEAD(djob_list, djob);

/* One address of a destination, resolved. */
struct daddr {
    struct sockaddr_storage ss;
    socklen_t len;
    enum dest_proto proto;
    char name[DD_HOSTNAME_MAX + 80]; /* "host[ip]:port" or "unix:/path" for logs */
};

struct dpool;

/* A HOST lookup in flight: where its answer goes. */
struct dpool_lookup {
    struct dpool *p;
    size_t i;
};

/* A content read for a connection; cn NULL once the connection is gone. */
struct dload {
    struct dconn *cn;
};

/* One connection of a pool. */
struct dconn {
    LIST_ENTRY(dconn) link;
    struct dpool *pool;
    struct mta_client *c;
    struct djob *job;   /* in progress (or its content loading), or NULL */
    struct dload *load; /* content being read for job */
    struct event *idle_ev;
    bool ready;
};
LIST_HEAD(dconn_list, dconn);

#define DPOOL_ADDRS_MAX (DD_DEST_ADDRS_MAX * RESOLVE_ADDRS_MAX)

/* The TLS of a pool: its storage group's policy (or [delivery]'s), the
 * sessions to resume, and the plaintext fallback of may (delivery_tls.c). */
struct dpool_tls {
    struct conf_tls_out p;
    struct tls_cache *cache;
    int64_t plain_until_ms; /* may, after a failed handshake: plaintext until then */
};

/* The connections and waiting jobs of one destination and TLS policy. */
struct dpool {
    struct dpool *next; /* hash chain */
    struct delivery *d;
    char text[DD_CONF_LINE_MAX + 1];
    struct dest dest;
    struct dpool_tls tls;
    struct djob_list jobs; /* waiting for a connection */
    size_t njobs;
    struct dconn_list conns;
    unsigned nconn, nready, nconnecting;
    struct daddr addrs[DPOOL_ADDRS_MAX];
    size_t naddrs;
    int64_t addrs_until_ms; /* re-resolve after this when a HOST is named */
    bool resolving;
    unsigned lookups;                       /* HOST lookups outstanding */
    struct daddr *fresh[DD_DEST_ADDRS_MAX]; /* per dest address, during resolution */
    size_t nfresh[DD_DEST_ADDRS_MAX];
    struct dpool_lookup lk[DD_DEST_ADDRS_MAX];
    size_t next_addr;   /* where the next connection goes */
    size_t failed_run;  /* addresses failed since the last success */
    char last_err[512]; /* why the last connection failed */
};

struct delivery {
    struct event_base *base;
    const struct conf *c;
    const struct tls *tls; /* client contexts (delivery_set_tls) */
    const struct directory *dir;
    struct store *st; /* routes */
    struct queue *q;
    struct resolver *res;
    struct event *tick_ev, *kick_ev;
    bool picking, again, stopping, paused;
    uint64_t inflight_jobs;
    struct dpool **pools; /* hash table of DELIVERY_POOL_SLOTS chains */
    struct route *routes; /* runtime destinations (admin API) */
    size_t nroutes;
    bool routes_ready;               /* loaded from the store: delivery may start */
    struct bounce_msg **bounce_msgs; /* messages with jobs in flight (bounce.c) */
    struct delivery_stats stats;
    void (*on_delivered)(void *ctx, const struct delivery_delivered *what);
    void *on_delivered_ctx;
};

/* delivery_pool.c: the pool of a destination for storage group sg's TLS policy */
struct dpool *dpool_get(struct delivery *d, const char *text, const struct dest *dest,
                        const char *sg);
void dpool_enqueue(struct dpool *p, struct djob *j);
void dpool_free_all(struct delivery *d);

/* delivery.c: a job ended; replies[i] decided recipient i (code 0: no reply) */
void delivery_job_done(struct delivery *d, struct djob *j, const char *peer,
                       const struct mta_client_reply *replies, size_t n);
/* delivery_keep_content - a copy of j's content (loaded, not yet sent) for the
 * on_delivered hook, when it wants this job */
void delivery_keep_content(struct delivery *d, struct djob *j);
/* delivery_headers - keep j's header section (content loaded) for a bounce */
void delivery_headers(struct djob *j);
/* delivery_job_free - a job and what it holds, without an outcome */
void delivery_job_free(struct djob *j);
/* delivery_job_fail - every recipient of j gets why (connection-level) */
void delivery_job_fail(struct delivery *d, struct djob *j, const char *peer,
                       const struct mta_client_reply *why);

/* delivery_tls.c */
/* dpool_tls_init - sg's policy (or [delivery]'s) for a new pool; -1 out of memory */
int dpool_tls_init(struct dpool_tls *t, const struct conf *c, const char *sg);
/* dpool_tls_same - a pool's policy is sg's */
bool dpool_tls_same(const struct dpool_tls *t, const struct conf *c, const char *sg);
/* dpool_tls_cfg - the TLS of a connection to a; name: room for the name to verify */
struct mta_client_tls dpool_tls_cfg(struct dpool *p, const struct daddr *a, char *name, size_t cap);
/* dpool_tls_ready - count what became of TLS on a ready connection */
void dpool_tls_ready(struct dpool *p, const struct mta_client *c);
/* dpool_tls_closed - count a TLS failure before ready; true when may falls
 * back to plaintext and the next connection should go at once */
bool dpool_tls_closed(struct dpool *p, const struct mta_client *c);
/* dpool_tls_free - what the pool's TLS holds */
void dpool_tls_free(struct dpool_tls *t);

/* bounce.c: one report per message to its sender, over the message's jobs.
 * bounce_job_start - a job of msg_id entered delivery. */
struct bounce_msg;
void bounce_job_start(struct delivery *d, uint64_t msg_id);
/* bounce_job_end - j ended with outcome o (replies[i] decided o->rcpts[i]):
 * the failures o holds leave it to wait for the report, which goes with
 * them once the message's last job in flight has ended. Without a route
 * for the report they stay in o, kept as failed; for the null sender they
 * stay in o. The caller records what is left of o. */
void bounce_job_end(struct delivery *d, const struct djob *j, struct queue_outcome *o,
                    const char *peer, const struct mta_client_reply *replies);
/* bounce_free_all - at the stop: forget what waits (the next start retries it) */
void bounce_free_all(struct delivery *d);

#endif
