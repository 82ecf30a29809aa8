/*
 * queue.h - the delivery queue in the store: due work, outcomes, cleanup
 *
 * A recipient of a committed message is pending until its delivery is
 * final. queue_pick() takes due recipients (by the (state, next_attempt)
 * index: never a scan of the whole queue), marks them as being delivered
 * and hands them over grouped as jobs: one message for the recipients of
 * one storage group and destination, with its content. queue_done() records
 * the outcome per recipient; once every recipient of a message is final and
 * nothing else holds the message, its content leaves the store. A stop cuts
 * deliveries short: the next start makes them pending again (at least once).
 * All of it runs on the storage thread; replies come back on the loop.
 */
#ifndef DD_QUEUE_H
#define DD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "store.h"

struct evbuffer;

struct queue_rcpt {
    char addr[DD_ADDR_MAX + 2];
    unsigned attempts; /* before this one */
};

/* One message for the recipients of one storage group and destination. */
struct queue_job {
    uint64_t msg_id;
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2]; /* "" for <> */
    char sg[DD_SG_NAME_MAX + 2];  /* "@smarthost" for bounces routed there */
    char *dest;                   /* destination override text, or NULL; owned */
    uint64_t request;             /* resubmit request id, 0 for normal mail */
    int64_t received_ms;          /* accepted by the hub */
    int64_t queued_ms;            /* (re)entered the queue: lifetime counts from here */
    uint64_t size;
    struct evbuffer *content; /* owned; the message as stored, CRLF lines */
    struct queue_rcpt *rcpts; /* owned */
    size_t nrcpts;
};

/* queue_job_free - release a job and what it owns; returns NULL. */
struct queue_job *queue_job_free(struct queue_job *j);

/* The jobs queue_pick() found; the callee owns jobs[] and each job. */
typedef void (*queue_pick_fn)(void *ctx, struct queue_job **jobs, size_t njobs, enum store_rc rc);

/*
 * queue_pick - at most max_jobs jobs whose content totals at most max_bytes
 * (one job always, however large), due at now_ms. fn(ctx, ...) follows on
 * the loop; jobs is NULL when nothing is due.
 */
void queue_pick(struct store *s, int64_t now_ms, size_t max_jobs, uint64_t max_bytes,
                queue_pick_fn fn, void *ctx);

enum queue_fate { QUEUE_DELIVERED, QUEUE_DEFERRED, QUEUE_FAILED };

struct queue_outcome_rcpt {
    char addr[DD_ADDR_MAX + 2];
    enum queue_fate fate;
    int64_t next_attempt_ms; /* QUEUE_DEFERRED */
    char reply[512];         /* the reply or the reason, for the queue listing */
};

struct queue_outcome {
    uint64_t msg_id;
    char sg[DD_SG_NAME_MAX + 2];
    uint64_t request;
    int64_t now_ms;
    struct queue_outcome_rcpt *rcpts; /* owned */
    size_t nrcpts;
};

/* queue_done - record o (the store takes it); fn(ctx, rc) follows on the loop
 * once it is durable. fn may be NULL. */
void queue_done(struct store *s, struct queue_outcome *o, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx);

/* queue_flush - make every pending recipient (of storage group sg, or all
 * when sg is NULL) due now; fn(ctx, n) gets how many. fn may be NULL. */
void queue_flush(struct store *s, const char *sg, void (*fn)(void *ctx, uint64_t n), void *ctx);

/* Counts by state, for statistics. */
struct queue_counts {
    uint64_t pending_msgs;  /* messages with a pending recipient */
    uint64_t active_msgs;   /* messages with a recipient being delivered */
    uint64_t deferred_msgs; /* pending after a failed attempt */
};
void queue_count(struct store *s, void (*fn)(void *ctx, const struct queue_counts *c), void *ctx);

#endif
