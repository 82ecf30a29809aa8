/*
 * queue_priv.h - what the queue's files share: the object (queue.c),
 * picking and outcomes (queue_pick.c), listing and the recount (queue_list.c),
 * failures kept without a report (queue_keep.c)
 */
#ifndef DD_QUEUE_PRIV_H
#define DD_QUEUE_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "queue_active.h"
#include "queue_int.h"
#include "queue_tally.h"

struct event;

/* An outcome whose write failed, or the content of a refused message whose
 * removal failed, waiting for its next try (loop). */
struct queue_retry {
    TAILQ_ENTRY(queue_retry) link;
    struct queue_outcome *o; /* NULL: drop the content of msg_id */
    uint64_t msg_id;
    void (*fn)(void *ctx, enum store_rc rc);
    void *ctx;
    int64_t due_ms; /* monotonic */
};
TAILQ_HEAD(queue_retry_list, queue_retry);
struct queue_held;
TAILQ_HEAD(queue_held_list, queue_held);

struct queue {
    struct event_base *base;
    struct store *st;
    uint64_t next_id;       /* loop thread */
    uint64_t orphans_below; /* set once at start: uncommitted content below it */
    void (*commit_fn)(void *ctx);
    void *commit_ctx;
    struct {
        queue_observer_fn fn;
        void *ctx;
    } observers[QUEUE_OBSERVERS_MAX];
    size_t nobservers;
    struct queue_active *active;     /* storage thread */
    struct queue_tally *tally;       /* counts by state: written by the storage thread */
    struct queue_hot *hot;           /* loop: contents just committed (queue_hot.c) */
    struct queue_retry_list retries; /* loop */
    unsigned retry_run;              /* failed writes in a row: the delay grows */
    struct event *retry_ev;
    struct event *keep_ev;       /* queue_keep.c: the next end of a kept failure */
    int64_t keep_at_ms;          /* when keep_ev fires (wall clock), 0: not armed */
    int64_t keep_noted_ms;       /* an end noted while a sweep ran, 0: none */
    bool keep_running;           /* a sweep is on the storage thread */
    struct queue_held_list held; /* loop: committed, waiting for queue_unhold() */
    void (*final_fn)(void *ctx, const char *queue_id);
    void *final_ctx;
    bool stopping;
};

/* queue_oom - p, or abort with a log line when it is NULL */
void *queue_oom(void *p);

/* queue_pick.c: the retry timer, keeping and dropping what waits */
void queue_retry_cb(int fd, short what, void *arg);
void queue_retry_later(struct queue *q, struct queue_outcome *o, uint64_t msg_id,
                       void (*fn)(void *ctx, enum store_rc rc), void *ctx);
void queue_retry_drop(struct queue *q);

/* queue.c: queue_release, saying whether the message left (*gone) */
int queue_release_msg(struct store *s, uint64_t msg_id, bool *gone);

/* queue_hold.c: mark a held message's rows (storage thread, in the
 * commit's work); remember them (loop); forget them all at the end; the
 * final check of an outcome (storage thread) */
void queue_hold_mark(struct queue *q, struct store *s, uint64_t msg, const uint64_t *ids, size_t n);
void queue_hold_keep(struct queue *q, uint64_t msg_id, uint64_t *ids, size_t n);
void queue_hold_free(struct queue *q);
int queue_final_check(struct queue *q, struct store *s, uint64_t msg_id);

/* queue_hold.c: mark a held message's rows (storage thread, in the
 * commit's work); remember them (loop); forget them all at the end; the
 * final check of an outcome (storage thread) */
void queue_hold_mark(struct queue *q, struct store *s, uint64_t msg, const uint64_t *ids, size_t n);
void queue_hold_keep(struct queue *q, uint64_t msg_id, uint64_t *ids, size_t n);
void queue_hold_free(struct queue *q);
int queue_final_check(struct queue *q, struct store *s, uint64_t msg_id);

/* queue_keep.c: the timer of kept failures (-1: no memory); an outcome
 * that kept failures until until_ms committed; stop; free */
int queue_keep_init(struct queue *q);
void queue_keep_note(struct queue *q, int64_t until_ms);
void queue_keep_stop(struct queue *q);
void queue_keep_free(struct queue *q);

#endif
