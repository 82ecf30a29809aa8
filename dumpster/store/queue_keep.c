/*
 * queue_keep.c - failures kept without a report, and their end (queue.h)
 *
 * A recipient that failed when no report could go to its sender (no
 * storage group and no smarthost for it) stays in the store as failed,
 * with its message and content, until the time its outcome gave
 * (keep_failed_until_ms: the delivery makes it max_queue_lifetime after
 * the failure); the failed rows' next_attempt holds it. One timer on the
 * loop is armed for the earliest such end; the sweep it starts lets go of
 * what is over, at most QUEUE_KEEP_SWEEP_MAX messages a run, and a
 * message nothing else holds leaves the store ("QUEUEID: removed"). The
 * first sweep runs when the loop starts, for what an earlier run kept.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "clock.h"
#include "message.h"
#include "queue_priv.h"
#include "recipient.h"

struct queue_keep_op {
    struct queue *q;
    int64_t now_ms;
    int64_t next_ms; /* the earliest end left, 0: none */
    bool more;       /* the run stopped at its bound */
};

/* queue_keep_end - msg's kept failures that are over; the message leaves
 * when nothing else holds it */
static int queue_keep_end(struct store *s, uint64_t msg, int64_t now_ms)
{
    struct message_row m;
    bool found = false, gone = false;
    int rc = message_get(s, msg, &m, &found);

    if (rc == SQLITE_OK)
        rc = recipient_kept_end(s, msg, now_ms);
    if (rc == SQLITE_OK)
        rc = queue_release_msg(s, msg, &gone);
    if (rc == SQLITE_OK && gone && found)
        store_log(s, "qmgr", "%s: removed", m.queue_id);
    return rc;
}

/* queue_keep_work - storage thread: one bounded run */
static int queue_keep_work(struct store *s, void *arg)
{
    struct queue_keep_op *op = arg;
    uint64_t ids[QUEUE_KEEP_SWEEP_MAX];
    size_t n = 0;
    int rc = recipient_kept_due(s, op->now_ms, QUEUE_KEEP_SWEEP_MAX, ids, &n);

    for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
        rc = queue_keep_end(s, ids[i], op->now_ms);
    op->more = n == QUEUE_KEEP_SWEEP_MAX;
    if (rc == SQLITE_OK)
        rc = recipient_kept_next(s, &op->next_ms);
    return rc;
}

/* queue_keep_arm - the timer for at_ms (wall clock), waiting at most
 * QUEUE_KEEP_WAIT_MAX_MS so a clock that moves is looked at again */
static void queue_keep_arm(struct queue *q, int64_t at_ms)
{
    int64_t now = clock_now_ms(), ms = at_ms - now;

    if (ms < 0)
        ms = 0;
    if (ms > QUEUE_KEEP_WAIT_MAX_MS)
        ms = QUEUE_KEEP_WAIT_MAX_MS;
    q->keep_at_ms = now + ms;
    event_add(q->keep_ev, &(struct timeval){ms / 1000, (ms % 1000) * 1000});
}

/* queue_keep_reply - loop: arm for what is left */
static void queue_keep_reply(void *arg, enum store_rc rc)
{
    struct queue_keep_op *op = arg;
    struct queue *q = op->q;
    int64_t next = op->next_ms, noted = q->keep_noted_ms;

    q->keep_running = false;
    q->keep_noted_ms = 0;
    if (!q->stopping) {
        if (noted > 0 && (next == 0 || noted < next))
            next = noted;   /* written after this run looked */
        if (rc != STORE_OK) /* a full disk: look again later */
            queue_keep_arm(q, clock_now_ms() + QUEUE_RETRY_MAX_MS);
        else if (op->more)
            queue_keep_arm(q, 0);
        else if (next > 0)
            queue_keep_arm(q, next);
    }
    free(op);
}

/* queue_keep_cb - the earliest end came: sweep */
static void queue_keep_cb(evutil_socket_t fd, short what, void *arg)
{
    struct queue *q = arg;
    struct queue_keep_op *op = queue_oom(calloc(1, sizeof(*op)));

    (void)fd;
    (void)what;
    q->keep_at_ms = 0;
    q->keep_running = true;
    op->q = q;
    op->now_ms = clock_now_ms();
    store_call(q->st, queue_keep_work, queue_keep_reply, op, false);
}

/* queue_keep_note - an outcome kept failures until until_ms (committed) */
void queue_keep_note(struct queue *q, int64_t until_ms)
{
    if (q->stopping || until_ms <= 0)
        return;
    if (q->keep_running) {
        if (q->keep_noted_ms == 0 || until_ms < q->keep_noted_ms)
            q->keep_noted_ms = until_ms;
        return;
    }
    if (q->keep_at_ms == 0 || until_ms < q->keep_at_ms)
        queue_keep_arm(q, until_ms);
}

/* queue_keep_init - the timer; the first sweep once the loop runs */
int queue_keep_init(struct queue *q)
{
    if ((q->keep_ev = evtimer_new(q->base, queue_keep_cb, q)) == NULL)
        return -1;
    queue_keep_arm(q, 0);
    return 0;
}

/* queue_keep_stop - no more sweeps */
void queue_keep_stop(struct queue *q)
{
    if (q->keep_ev)
        event_del(q->keep_ev);
    q->keep_at_ms = 0;
}

/* queue_keep_free - the timer */
void queue_keep_free(struct queue *q)
{
    if (q->keep_ev)
        event_free(q->keep_ev);
    q->keep_ev = NULL;
}
