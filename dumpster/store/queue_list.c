/*
 * queue_list.c - what waits for delivery: the listing, the recount by
 * state (a scan; queue_tally.c keeps the counts), and flushing deferred
 * mail (queue.h)
 *
 * Storage thread work over recipient.c and message.c; a recipient is
 * shown active when the queue's active set holds it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "queue_priv.h"
#include "recipient.h"

struct queue_flush_op {
    char sg[DD_SG_NAME_MAX + 1];
    bool all, smarthost;
    uint64_t n;
    void (*fn)(void *ctx, uint64_t n);
    void *ctx;
};

/* queue_flush_work - storage thread */
static int queue_flush_work(struct store *s, void *arg)
{
    struct queue_flush_op *op = arg;

    return recipient_flush(s, op->all ? NULL : op->sg, op->smarthost, &op->n);
}

/* queue_flush_reply - loop */
static void queue_flush_reply(void *arg, enum store_rc rc)
{
    struct queue_flush_op *op = arg;

    if (op->fn)
        op->fn(op->ctx, rc == STORE_OK ? op->n : 0);
    free(op);
}

/* queue_flush - every pending recipient due now */
void queue_flush(struct queue *q, const char *sg, bool smarthost, void (*fn)(void *ctx, uint64_t n),
                 void *ctx)
{
    struct queue_flush_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->all = sg == NULL && !smarthost;
    op->smarthost = smarthost;
    snprintf(op->sg, sizeof(op->sg), "%s", sg ? sg : "");
    op->fn = fn;
    op->ctx = ctx;
    store_call(q->st, queue_flush_work, queue_flush_reply, op, false);
}

struct queue_count_op {
    struct queue *q;
    struct queue_counts c;
    uint64_t last_msg;      /* rows come by message */
    bool pending, deferred; /* of last_msg so far */
    void (*fn)(void *ctx, const struct queue_counts *c);
    void *ctx;
};

/* queue_count_flush - the message before the current one is counted */
static void queue_count_flush(struct queue_count_op *op)
{
    op->c.pending_msgs += op->pending;
    op->c.deferred_msgs += op->deferred;
    op->pending = op->deferred = false;
}

/* queue_count_row - one open recipient */
static int queue_count_row(void *ctx, const struct recipient_row *r)
{
    struct queue_count_op *op = ctx;

    if (r->msg != op->last_msg)
        queue_count_flush(op);
    op->last_msg = r->msg;
    if (queue_active_has(op->q->active, r->id))
        return SQLITE_OK;
    op->pending = true;
    op->deferred |= r->attempts > 0;
    return SQLITE_OK;
}

/* queue_count_work - storage thread */
static int queue_count_work(struct store *s, void *arg)
{
    struct queue_count_op *op = arg;
    int rc = recipient_open(s, NULL, queue_count_row, op);

    queue_count_flush(op);
    op->c.active_msgs = queue_active_msgs(op->q->active);
    return rc;
}

/* queue_count_reply - loop */
static void queue_count_reply(void *arg, enum store_rc rc)
{
    struct queue_count_op *op = arg;

    if (op->fn)
        op->fn(op->ctx, rc == STORE_OK ? &op->c : NULL);
    free(op);
}

/* queue_recount - messages by state, by a scan */
void queue_recount(struct queue *q, void (*fn)(void *ctx, const struct queue_counts *c), void *ctx)
{
    struct queue_count_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->fn = fn;
    op->ctx = ctx;
    store_call(q->st, queue_count_work, queue_count_reply, op, false);
}

struct queue_list_op {
    struct queue *q;
    char sg[DD_SG_NAME_MAX + 1];
    bool all;
    size_t max;
    struct queue_entry *e;
    size_t n;
    void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc);
    void *ctx;
};

struct queue_list_rows {
    struct queue *q;
    struct queue_entry *e;
};

/* queue_list_row - one open recipient of a listed message */
static int queue_list_row(void *ctx, const struct recipient_row *r)
{
    struct queue_list_rows *lr = ctx;
    struct queue_entry *e = lr->e;
    struct queue_entry_rcpt *x;

    e->rcpts = queue_oom(realloc(e->rcpts, (e->nrcpts + 1) * sizeof(*e->rcpts)));
    x = &e->rcpts[e->nrcpts++];
    memset(x, 0, sizeof(*x));
    snprintf(x->addr, sizeof(x->addr), "%s", r->addr);
    snprintf(x->sg, sizeof(x->sg), "%s", r->sg);
    x->state = queue_active_has(lr->q->active, r->id) ? RCPT_ACTIVE : RCPT_PENDING;
    x->attempts = r->attempts;
    x->next_attempt_ms = r->next_attempt_ms;
    x->request = r->request;
    snprintf(x->last_reply, sizeof(x->last_reply), "%s", r->last_reply ? r->last_reply : "");
    return SQLITE_OK;
}

/* queue_list_msg - one listed message with its open recipients */
static int queue_list_msg(struct store *s, struct queue_list_op *op, uint64_t id)
{
    struct queue_entry *e = &op->e[op->n];
    struct queue_list_rows lr = {op->q, e};
    struct message_row m;
    bool found;
    int rc = message_get(s, id, &m, &found);

    if (rc != SQLITE_OK || !found)
        return rc;
    snprintf(e->queue_id, sizeof(e->queue_id), "%s", m.queue_id);
    snprintf(e->sender, sizeof(e->sender), "%s", m.sender);
    e->size = m.size;
    e->received_ms = m.received_ms;
    op->n++;
    return recipient_of_msg(s, id, op->all ? NULL : op->sg, queue_list_row, &lr);
}

/* queue_list_work - storage thread */
static int queue_list_work(struct store *s, void *arg)
{
    struct queue_list_op *op = arg;
    size_t cap = op->max ? op->max : 1, n = 0;
    uint64_t *ids = queue_oom(calloc(cap, sizeof(*ids)));
    int rc;

    op->e = queue_oom(calloc(cap, sizeof(*op->e)));
    rc = recipient_open_msgs(s, op->all ? NULL : op->sg, op->max, ids, &n);
    for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
        rc = queue_list_msg(s, op, ids[i]);
    free(ids);
    return rc;
}

/* queue_list_reply - loop */
static void queue_list_reply(void *arg, enum store_rc rc)
{
    struct queue_list_op *op = arg;

    op->fn(op->ctx, op->e, rc == STORE_OK ? op->n : 0, rc);
    for (size_t i = 0; op->e && i < op->n; i++)
        free(op->e[i].rcpts);
    free(op->e);
    free(op);
}

/* queue_list - what waits for delivery */
void queue_list(struct queue *q, const char *sg, size_t max,
                void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc),
                void *ctx)
{
    struct queue_list_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->all = sg == NULL;
    snprintf(op->sg, sizeof(op->sg), "%s", sg ? sg : "");
    op->max = max;
    op->fn = fn;
    op->ctx = ctx;
    store_call(q->st, queue_list_work, queue_list_reply, op, false);
}
