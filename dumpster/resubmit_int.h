/*
 * resubmit_int.h - what the resubmission engine's files share: the loop
 * object (resubmit.c), the storage-thread batches (resubmit_batch.c) and
 * the queries (resubmit_query.c)
 */
#ifndef DD_RESUBMIT_INT_H
#define DD_RESUBMIT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "queue.h"
#include "resubmit.h"
#include "resubmit_request.h"
#include "store_int.h"

struct event;

struct resubmit {
    struct event_base *base;
    struct store *st;
    const struct conf *c;
    resubmit_dest_fn dest_fn;
    void *dest_ctx;
    void (*queued_fn)(void *ctx);
    void *queued_ctx;
    struct event *tick;
    bool busy;   /* a batch is with the storage thread */
    bool active; /* there may be open requests */
    bool started, stopping;
    uint64_t counts[RESUBMIT_NSTATES]; /* mirrored from the store */
};

/* One batch of the oldest open request (storage thread). */
struct resubmit_batch {
    struct resubmit *rs;
    int limit; /* rows looked at, at most */
    int64_t now_ms;
    bool found;      /* there was an open request */
    uint64_t queued; /* messages queued by this batch */
};

/* resubmit_batch_run - the next batch of the oldest open request. */
int resubmit_batch_run(struct store *s, struct resubmit_batch *b);

/* resubmit_batch_coverage - does the dumpster still hold the whole range. */
int resubmit_batch_coverage(struct store *s, const struct resubmit_req *r,
                            struct resubmit_coverage *c);

/* resubmit_batch_dry - what the request would resend; nothing is queued. */
int resubmit_batch_dry(struct store *s, const struct resubmit_req *r, const char *dest_eff,
                       struct resubmit_preview *pv);

/* resubmit_batch_outcome - the queue's observer: resent copies reached
 * their outcome (ctx: the engine). */
int resubmit_batch_outcome(void *ctx, struct store *s, const struct queue_outcome *o);

/* resubmit_batch_post_counts - requests by state to the loop. */
int resubmit_batch_post_counts(struct store *s, struct resubmit *rs);

/* resubmit.c: the mirror of the counts; NULL data means re-read. */
void resubmit_on_counts(void *ctx, void *data);

/* resubmit.c: allocation failures are fatal */
void *resubmit_oom(void *p);

#endif
