/*
 * resubmit_int.h - what the resubmission engine's files share: the loop
 * object (resubmit.c), the storage-thread batches (resubmit_batch.c) and
 * the queries (resubmit_query.c)
 */
#ifndef DD_RESUBMIT_INT_H
#define DD_RESUBMIT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "probe_types.h"
#include "queue.h"
#include "resubmit.h"
#include "resubmit_request.h"
#include "store_int.h"

struct event;

struct resubmit {
    struct event_base *base;
    struct store *st;
    struct queue *q; /* where candidates are queued again */
    const struct conf *c;
    resubmit_dest_fn dest_fn;
    void *dest_ctx;
    void (*queued_fn)(void *ctx);
    void *queued_ctx;
    struct event *tick;
    bool busy;   /* a batch is with the storage thread or the probe */
    bool active; /* there may be open requests */
    bool started, stopping;
    struct probe_ops probe;            /* has == NULL: no probes */
    unsigned probe_failures;           /* in a row: the retry delay grows */
    uint64_t counts[RESUBMIT_NSTATES]; /* mirrored from the store */
};

/* A copy a batch would resend (or a dry run would). */
struct resubmit_cand {
    uint64_t msg;
    char *rcpt;       /* owned */
    char *message_id; /* owned: the item's */
    char queue_id[DD_QUEUEID_LEN + 1];
};

/* What a walk collected: the request as read and as it will be written. */
struct resubmit_collect {
    bool found;               /* there was an open request */
    struct resubmit_row row;  /* as read: the cursor the walk started at */
    struct resubmit_row next; /* cursor moved, matched and skipped_duplicate counted, state */
    struct resubmit_cand *c;  /* the candidates, in walk order */
    size_t n, cap;
    uint64_t unkept; /* candidates past the bound (dry runs) */
    int seen;        /* rows looked at */
};

/* One batch of the oldest open request. */
struct resubmit_batch {
    struct resubmit *rs;
    int limit; /* rows looked at, at most */
    int64_t now_ms;
    struct resubmit_collect col;
    enum probe_answer *answers; /* from the probe, or NULL: resend every candidate */
    uint64_t queued;            /* messages queued by this batch */
};

/* resubmit_batch_collect - the next batch of the oldest open request, in
 * col; nothing is written. */
int resubmit_batch_collect(struct store *s, int limit, struct resubmit_collect *col);

/* resubmit_batch_apply - queue col's candidates but those answers says are
 * present (answers NULL: all), move the cursor; *msgs: messages queued. */
int resubmit_batch_apply(struct store *s, struct resubmit *rs, struct resubmit_collect *col,
                         const enum probe_answer *answers, int64_t now_ms, uint64_t *msgs);

/* resubmit_collect_free - the candidates of col */
void resubmit_collect_free(struct resubmit_collect *col);

/* resubmit_batch_coverage - does the dumpster still hold the whole range. */
int resubmit_batch_coverage(struct store *s, const struct resubmit_req *r,
                            struct resubmit_coverage *c);

/* resubmit_batch_dry - what the request would resend; nothing is queued;
 * the first candidates go to col for the probe. */
int resubmit_batch_dry(struct store *s, const struct resubmit_req *r, const char *dest_eff,
                       struct resubmit_preview *pv, struct resubmit_collect *col);

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
