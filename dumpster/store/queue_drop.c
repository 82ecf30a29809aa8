/*
 * queue_drop.c - a message another hub delivers now leaves this queue
 * (queue.h: queue_drop)
 *
 * When a hub comes back after another one took its copies over, the
 * messages taken must not go twice: their open recipients end as failed
 * with the reason (no report: nothing went wrong with the mail), and the
 * message leaves the store unless a dumpster item holds it. A message with
 * a recipient in delivery right now is left alone (it is too late).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "queue_priv.h"
#include "recipient.h"

struct queue_drop_op {
    struct queue *q;
    char queue_id[DD_QUEUEID_LEN + 1];
    char reason[256];
    enum queue_drop_result result;
    void (*fn)(void *ctx, enum queue_drop_result result);
    void *ctx;
};

/* queue_drop_active - a row of msg in delivery stops the scan */
static int queue_drop_active(void *ctx, const struct recipient_row *r)
{
    struct queue_drop_op *op = ctx;

    if (queue_active_has(op->q->active, r->id)) {
        op->result = QUEUE_DROP_BUSY;
        return SQLITE_DONE;
    }
    return SQLITE_OK;
}

static int queue_drop_work(struct store *s, void *arg)
{
    struct queue_drop_op *op = arg;
    uint64_t msg = 0;
    bool found = false;
    int rc = message_find(s, op->queue_id, &msg, &found);

    op->result = QUEUE_DROP_NONE;
    if (rc != SQLITE_OK || !found)
        return rc;
    op->result = QUEUE_DROP_DONE;
    if ((rc = recipient_of_msg(s, msg, NULL, queue_drop_active, op)) != SQLITE_OK ||
        op->result == QUEUE_DROP_BUSY)
        return rc;
    if ((rc = recipient_fail_msg(s, op->q->tally, msg, op->reason)) == SQLITE_OK)
        rc = queue_release(s, msg);
    return rc;
}

static void queue_drop_reply(void *arg, enum store_rc rc)
{
    struct queue_drop_op *op = arg;

    if (op->fn)
        op->fn(op->ctx, rc == STORE_OK ? op->result : QUEUE_DROP_FAILED);
    free(op);
}

void queue_drop(struct queue *q, const char *queue_id, const char *reason,
                void (*fn)(void *ctx, enum queue_drop_result result), void *ctx)
{
    struct queue_drop_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    snprintf(op->queue_id, sizeof(op->queue_id), "%s", queue_id);
    snprintf(op->reason, sizeof(op->reason), "%s", reason);
    op->fn = fn;
    op->ctx = ctx;
    store_call(q->st, queue_drop_work, queue_drop_reply, op, true);
}
