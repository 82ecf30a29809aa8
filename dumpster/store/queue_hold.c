/*
 * queue_hold.c - messages committed but held back from delivery until
 * their shadow copy is stored (queue.h: queue_commit with m->hold,
 * queue_unhold), and the end of a message's last open recipient
 * (queue_on_final)
 *
 * A held message's recipients are marked active in memory by the work
 * function that inserts them, so no pick takes them; the marks go once the
 * shadow copy is acknowledged (a release, nothing written), or the message
 * leaves the store with them (a withdrawal: the client got a 4xx, so the
 * hub must not deliver it). A crash forgets the marks like every active
 * mark: the recipients are pending at the next start, as for any message
 * committed before its 250 was sent.
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "message.h"
#include "queue_priv.h"
#include "recipient.h"

#define QUEUE_UNHOLD_RETRY_MS 1000

struct queue_held {
    TAILQ_ENTRY(queue_held) link;
    uint64_t msg_id;
    uint64_t *ids; /* its recipient rows */
    size_t n;
};

struct queue_hold_undo {
    struct queue *q;
    uint64_t *ids;
    size_t n;
};

/* queue_hold_undo - after the commit's batch: one that failed inserted no
 * rows, so their marks go */
static void queue_hold_undo(void *arg, bool committed)
{
    struct queue_hold_undo *u = arg;

    if (!committed)
        for (size_t i = 0; i < u->n; i++)
            queue_active_del(u->q->active, u->ids[i]);
    free(u->ids);
    free(u);
}

/* queue_hold_mark - storage thread, in the commit's work function: rows
 * ids[0..n) of msg are active until queue_unhold() */
void queue_hold_mark(struct queue *q, struct store *s, uint64_t msg, const uint64_t *ids, size_t n)
{
    struct queue_hold_undo *u = queue_oom(calloc(1, sizeof(*u)));

    u->q = q;
    u->ids = queue_oom(calloc(n ? n : 1, sizeof(*u->ids)));
    for (size_t i = 0; i < n; i++) {
        if (queue_active_add(q->active, ids[i], msg, false) < 0)
            queue_oom(NULL);
        u->ids[u->n++] = ids[i];
    }
    queue_tally_note(s, q->tally, msg, (struct queue_tally_delta){.active = (int32_t)n});
    store_after(s, queue_hold_undo, u);
}

/* queue_hold_keep - loop, after the commit: remember the held rows */
void queue_hold_keep(struct queue *q, uint64_t msg_id, uint64_t *ids, size_t n)
{
    struct queue_held *h = queue_oom(calloc(1, sizeof(*h)));

    h->msg_id = msg_id;
    h->ids = ids;
    h->n = n;
    TAILQ_INSERT_TAIL(&q->held, h, link);
}

struct queue_unhold_op {
    struct queue *q;
    struct queue_held *h;
    bool withdraw;
    void (*fn)(void *ctx, enum store_rc rc);
    void *ctx;
};

/* queue_unhold_marks - the marks of h go, and the counts say so */
static void queue_unhold_marks(struct queue *q, const struct queue_held *h, bool counted)
{
    for (size_t i = 0; i < h->n; i++)
        queue_active_del(q->active, h->ids[i]);
    if (counted)
        queue_tally_add(q->tally, h->msg_id, (struct queue_tally_delta){.active = -(int32_t)h->n});
}

/* queue_unhold_after - a withdrawal committed: its marks go (the rows and
 * their counts went with the batch) */
static void queue_unhold_after(void *arg, bool committed)
{
    struct queue_unhold_op *op = arg;

    if (committed)
        queue_unhold_marks(op->q, op->h, false);
}

/* queue_unhold_work - storage thread: release the marks, or remove the
 * message with its rows */
static int queue_unhold_work(struct store *s, void *arg)
{
    struct queue_unhold_op *op = arg;
    const struct queue_held *h = op->h;
    int rc;

    if (!op->withdraw) {
        queue_unhold_marks(op->q, h, true);
        return SQLITE_OK;
    }
    rc = recipient_delete_msg(s, h->msg_id);
    if (rc == SQLITE_OK)
        rc = message_delete(s, h->msg_id);
    if (rc != SQLITE_OK)
        return rc;
    queue_tally_note(
        s, op->q->tally, h->msg_id,
        (struct queue_tally_delta){.pending = -(int32_t)h->n, .active = -(int32_t)h->n});
    store_after(s, queue_unhold_after, op);
    return SQLITE_OK;
}

static void queue_unhold_submit(struct queue_unhold_op *op);

/* queue_unhold_again - a withdrawal that failed goes again */
static void queue_unhold_again(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    queue_unhold_submit(arg);
}

/* queue_unhold_reply - loop: done; a withdrawal that failed (a full disk)
 * is tried again, the message held meanwhile */
static void queue_unhold_reply(void *arg, enum store_rc rc)
{
    struct queue_unhold_op *op = arg;
    struct queue *q = op->q;

    if (rc != STORE_OK && op->withdraw && !q->stopping) {
        struct timeval tv = {QUEUE_UNHOLD_RETRY_MS / 1000, (QUEUE_UNHOLD_RETRY_MS % 1000) * 1000};
        log_warn("queue", "message %llu: cannot withdraw it yet; retrying",
                 (unsigned long long)op->h->msg_id);
        if (event_base_once(q->base, -1, EV_TIMEOUT, queue_unhold_again, op, &tv) == 0)
            return;
    }
    if (op->fn)
        op->fn(op->ctx, rc);
    if (rc == STORE_OK && !op->withdraw && q->commit_fn)
        q->commit_fn(q->commit_ctx);
    free(op->h->ids);
    free(op->h);
    free(op);
}

/* queue_unhold_submit - to the storage thread */
static void queue_unhold_submit(struct queue_unhold_op *op)
{
    store_call(op->q->st, queue_unhold_work, queue_unhold_reply, op, op->withdraw);
}

/* queue_unhold - release a held message, or withdraw it */
void queue_unhold(struct queue *q, uint64_t msg_id, bool withdraw,
                  void (*fn)(void *ctx, enum store_rc rc), void *ctx)
{
    struct queue_held *h;

    TAILQ_FOREACH(h, &q->held, link)
    if (h->msg_id == msg_id)
        break;
    if (h == NULL) {
        log_err("queue", "message %llu is not held", (unsigned long long)msg_id);
        abort();
    }
    TAILQ_REMOVE(&q->held, h, link);
    struct queue_unhold_op *op = queue_oom(calloc(1, sizeof(*op)));
    op->q = q;
    op->h = h;
    op->withdraw = withdraw;
    op->fn = fn;
    op->ctx = ctx;
    queue_unhold_submit(op);
}

/* queue_hold_free - at the end: what is still held is forgotten (the next
 * start finds its recipients pending) */
void queue_hold_free(struct queue *q)
{
    struct queue_held *h;

    while ((h = TAILQ_FIRST(&q->held)) != NULL) {
        TAILQ_REMOVE(&q->held, h, link);
        free(h->ids);
        free(h);
    }
}

/* ---- the end of a message's last open recipient ---- */

void queue_on_final(struct queue *q, void (*fn)(void *ctx, const char *queue_id), void *ctx)
{
    q->final_fn = fn;
    q->final_ctx = ctx;
}

/* queue_final_post - loop: the message's last recipient is final */
static void queue_final_post(void *ctx, void *data)
{
    struct queue *q = ctx;

    if (q->final_fn && !q->stopping)
        q->final_fn(q->final_ctx, data); /* the store frees data */
}

/* queue_final_check - storage thread, in an outcome's work function
 * before the message may leave: no open recipient left, tell the loop */
int queue_final_check(struct queue *q, struct store *s, uint64_t msg_id)
{
    int64_t open = 0;
    struct message_row row;
    bool found = false;
    int rc;

    if (q->final_fn == NULL)
        return SQLITE_OK;
    if ((rc = recipient_open_count(s, msg_id, &open)) != SQLITE_OK || open > 0)
        return rc;
    if ((rc = message_get(s, msg_id, &row, &found)) != SQLITE_OK || !found)
        return rc;
    store_post(s, queue_final_post, q, queue_oom(strdup(row.queue_id)));
    return SQLITE_OK;
}
