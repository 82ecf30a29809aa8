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
    struct evbuffer *content; /* owned; NULL until queue_content(); CRLF lines */
    struct queue_rcpt *rcpts; /* owned */
    size_t nrcpts;
};

/* queue_job_free - release a job and what it owns; returns NULL. */
struct queue_job *queue_job_free(struct queue_job *j);

/* The jobs queue_pick() found; the callee owns jobs[] and each job. */
typedef void (*queue_pick_fn)(void *ctx, struct queue_job **jobs, size_t njobs, enum store_rc rc);

/*
 * queue_pick - at most max_jobs jobs due at now_ms, without their content
 * (queue_content() reads it when a connection is ready). fn(ctx, ...)
 * follows on the loop; jobs is NULL when nothing is due.
 */
void queue_pick(struct store *s, int64_t now_ms, size_t max_jobs, queue_pick_fn fn, void *ctx);

/* queue_content - the content of message msg_id (size octets); fn gets a
 * new evbuffer it owns, or NULL with rc != STORE_OK. */
void queue_content(struct store *s, uint64_t msg_id, uint64_t size,
                   void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc), void *ctx);

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
    bool keep;               /* delivered recipients enter the group's dumpster */
    uint64_t keep_max_bytes; /* the group's max_size */
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

/* A message waiting for delivery, for GET /v1/queue. */
struct queue_entry_rcpt {
    char addr[DD_ADDR_MAX + 2];
    char sg[DD_SG_NAME_MAX + 2];
    int state; /* 0 pending, 1 being delivered */
    unsigned attempts;
    int64_t next_attempt_ms;
    char last_reply[256]; /* "" before the first attempt */
};
struct queue_entry {
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2];
    uint64_t size;
    int64_t received_ms;
    uint64_t request; /* resubmit request, 0 for normal mail */
    struct queue_entry_rcpt *rcpts;
    size_t nrcpts;
};

/* queue_list - messages with a pending recipient (of storage group sg, or
 * all when NULL), oldest first, at most max; fn gets them (valid during the
 * call only). */
void queue_list(struct store *s, const char *sg, size_t max,
                void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc),
                void *ctx);

/* Counts by state, for statistics. */
struct queue_counts {
    uint64_t pending_msgs;  /* messages with a pending recipient */
    uint64_t active_msgs;   /* messages with a recipient being delivered */
    uint64_t deferred_msgs; /* pending after a failed attempt */
};
/* queue_count - fn(ctx, counts), or fn(ctx, NULL) on a store error. */
void queue_count(struct store *s, void (*fn)(void *ctx, const struct queue_counts *c), void *ctx);

#endif
