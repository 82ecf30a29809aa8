/*
 * queue.h - the mail queue in the store: intake, due work, outcomes
 *
 * Sessions hand a message's content to the queue in chunks while it
 * arrives (queue_chunk) and then commit it (queue_commit): its envelope and
 * recipients become durable in one group-committed transaction, and only
 * then may the session answer 250. A recipient of a committed message is
 * pending until its delivery is final. queue_pick() takes due recipients
 * (by the (state, next_attempt) index: never a scan of the whole queue),
 * marks them active in memory and hands them over grouped as jobs: one
 * message for the recipients of one route, destination and request.
 * queue_done() records the outcome per recipient; observers (the dumpster,
 * resubmission) see every outcome inside the same transaction. Once every
 * recipient of a message is final and no dumpster item holds it, its
 * content leaves the store, unless an outcome keeps its failures (no report
 * could be sent): then it stays until the time the outcome says. A crash
 * forgets what was active: those
 * recipients are pending again at the next start (at least once).
 *
 * Every function here runs on the loop thread; callbacks come later on the
 * loop (never from inside the call).
 */
#ifndef DD_QUEUE_H
#define DD_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "queue_msg.h"
#include "store.h"

struct evbuffer;
struct event_base;
struct queue; /* opaque; one owner (the hub), queue_free() */

/* queue_state_name - "pending", "active", "delivered", "failed" */
const char *queue_state_name(enum rcpt_state st);

/* queue_new - the queue over store s: forgets content that was never
 * committed (startup: before store_start()). NULL with a message in err. */
struct queue *queue_new(struct event_base *base, struct store *s, char *err, size_t errlen);

/* queue_new_msg_id - a message id no row of this database uses. */
uint64_t queue_new_msg_id(struct queue *q);

/* queue_chunk - append data[0..len) (malloc'd; the queue takes it) as chunk
 * seq of message msg_id. Never blocks. */
void queue_chunk(struct queue *q, uint64_t msg_id, uint32_t seq, void *data, size_t len);

/* queue_commit - commit m (the queue takes m, its rcpts, message_id and
 * tail: the last chunk, written in the same work as the envelope, which
 * saves a message that fits one chunk a second trip to the store);
 * fn(ctx, cookie, rc) follows once it is durable, or failed. */
typedef void (*queue_commit_fn)(void *ctx, uint64_t cookie, enum store_rc rc);
void queue_commit(struct queue *q, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                  uint64_t cookie);

/* queue_unhold - a message committed with m->hold: release it to delivery,
 * or withdraw it (it leaves the store with its recipients: the client was
 * refused). fn(ctx, rc) follows (may be NULL); a withdrawal that cannot be
 * written is tried again, the message held meanwhile. */
void queue_unhold(struct queue *q, uint64_t msg_id, bool withdraw,
                  void (*fn)(void *ctx, enum store_rc rc), void *ctx);

/* queue_drop - the message queue_id is delivered by another hub now: its
 * open recipients end as failed with reason (no report) and it leaves the
 * store unless a dumpster item holds it. fn(ctx, result) follows; a
 * message with a recipient in delivery is left alone (BUSY). fn may be NULL. */
enum queue_drop_result {
    QUEUE_DROP_DONE,   /* its open recipients ended */
    QUEUE_DROP_NONE,   /* no such message here */
    QUEUE_DROP_BUSY,   /* a recipient is in delivery: left alone */
    QUEUE_DROP_FAILED, /* the store could not write it */
};
void queue_drop(struct queue *q, const char *queue_id, const char *reason,
                void (*fn)(void *ctx, enum queue_drop_result result), void *ctx);

/* queue_on_final - fn(ctx, queue_id) on the loop once an outcome left a
 * message (of normal mail, not a resubmission) with no open recipient. */
void queue_on_final(struct queue *q, void (*fn)(void *ctx, const char *queue_id), void *ctx);

/* queue_abort - forget the chunks of a message that will not be committed. */
void queue_abort(struct queue *q, uint64_t msg_id);

/* queue_msg_free - a message that was not handed to queue_commit(). */
void queue_msg_free(struct queue_msg *m);

/* queue_on_commit - fn(ctx) after each message committed (delivery looks). */
void queue_on_commit(struct queue *q, void (*fn)(void *ctx), void *ctx);

struct queue_rcpt {
    uint64_t id; /* the recipient row */
    char addr[DD_ADDR_MAX + 2];
    unsigned attempts; /* before this one */
};

/* One message for the recipients of one route, destination and request. */
struct queue_job {
    uint64_t msg_id;
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2]; /* "" for <> */
    enum rcpt_route route;
    char sg[DD_SG_NAME_MAX + 1]; /* "" for the smarthost */
    char *dest;                  /* destination override text, or NULL; owned */
    uint64_t request;            /* resubmit request id, 0 for normal mail */
    int64_t received_ms;         /* accepted by the hub */
    int64_t queued_ms;           /* (re)entered the queue: lifetime counts from here */
    uint64_t size;
    enum msg_body body; /* what the client's MAIL FROM said, for the next hop */
    enum msg_utf8 smtputf8;
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
 * follows; jobs is NULL when nothing is due. Picking writes nothing to the
 * disk, so it works on a full disk too.
 */
void queue_pick(struct queue *q, int64_t now_ms, size_t max_jobs, queue_pick_fn fn, void *ctx);

/* queue_content - the content of message msg_id (size octets); fn gets a
 * new evbuffer it owns, or NULL with rc != STORE_OK. */
void queue_content(struct queue *q, uint64_t msg_id, uint64_t size,
                   void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc), void *ctx);

enum queue_fate { QUEUE_DELIVERED, QUEUE_DEFERRED, QUEUE_FAILED };

struct queue_outcome_rcpt {
    uint64_t id; /* the recipient row (queue_rcpt.id) */
    char addr[DD_ADDR_MAX + 2];
    enum queue_fate fate;
    int64_t next_attempt_ms; /* QUEUE_DEFERRED */
    char reply[512];         /* the reply or the reason, for the queue listing */
};

struct queue_outcome {
    uint64_t msg_id;
    enum rcpt_route route;
    char sg[DD_SG_NAME_MAX + 1];
    uint64_t request;
    bool resent; /* a copy with a destination override (queue_msg.h): not kept again */
    int64_t now_ms;
    /* > 0: no report of the failures could be sent; the failed recipients
     * stay in the store as failed, with the message, until then (unix ms) */
    int64_t keep_failed_until_ms;
    struct queue_outcome_rcpt *rcpts; /* owned */
    size_t nrcpts;
};

/* queue_outcome_free - an outcome not handed to queue_done(). */
void queue_outcome_free(struct queue_outcome *o);

/*
 * queue_done - record o (the queue takes it); fn(ctx, STORE_OK) follows
 * once it is written. Until then its recipients stay active. A write that
 * fails (a full disk) is retried with a growing delay, never dropped; fn
 * gets an error only when the queue stops first (the next start makes the
 * recipients pending again). fn may be NULL.
 */
void queue_done(struct queue *q, struct queue_outcome *o, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx);

/* queue_flush - make every pending recipient (of storage group sg, or all
 * when sg is NULL; the smarthost's when smarthost) due now; fn(ctx, n)
 * gets how many. fn may be NULL. */
void queue_flush(struct queue *q, const char *sg, bool smarthost, void (*fn)(void *ctx, uint64_t n),
                 void *ctx);

/* A message waiting for delivery, for GET /v1/queue. */
struct queue_entry_rcpt {
    char addr[DD_ADDR_MAX + 2];
    char sg[DD_SG_NAME_MAX + 1];
    enum rcpt_state state; /* pending or active */
    unsigned attempts;
    int64_t next_attempt_ms;
    uint64_t request;     /* resubmit request, 0 for normal mail */
    char last_reply[256]; /* "" before the first attempt */
};
struct queue_entry {
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2];
    uint64_t size;
    int64_t received_ms;
    struct queue_entry_rcpt *rcpts;
    size_t nrcpts;
};

/* queue_list - messages with an open recipient (of storage group sg, or
 * all when NULL), oldest first, at most max; fn gets them (valid during the
 * call only). */
void queue_list(struct queue *q, const char *sg, size_t max,
                void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc),
                void *ctx);

/* Counts by state, for statistics. */
struct queue_counts {
    uint64_t pending_msgs;  /* messages with a pending recipient */
    uint64_t active_msgs;   /* messages with an active recipient */
    uint64_t deferred_msgs; /* pending after a failed attempt */
};
/* queue_counts - the counts of what committed, kept as the rows change (a
 * read of three counters, whatever the queue holds); any thread. */
void queue_counts(const struct queue *q, struct queue_counts *c);

/* queue_recount - the same counts from a scan of the open recipients (the
 * tests check queue_counts against it): fn(ctx, counts), or fn(ctx, NULL)
 * on a store error. */
void queue_recount(struct queue *q, void (*fn)(void *ctx, const struct queue_counts *c), void *ctx);

/* queue_stop - no more retries; outcomes still waiting get an error. */
void queue_stop(struct queue *q);

/* queue_free - after store_close(). Returns NULL. */
struct queue *queue_free(struct queue *q);

#endif
