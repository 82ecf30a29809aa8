/*
 * queue.c - the mail queue: the object, intake (chunks, commits) and
 * releasing what nothing needs any more (queue.h)
 *
 * Work functions on the storage thread over message.c and recipient.c,
 * the owners of their tables. A commit writes the envelope and the
 * recipients in one durable work function (250 follows its fsync). Picking,
 * outcomes and their retries are in queue_pick.c, listing and the recount
 * in queue_list.c, failures kept without a report in queue_keep.c, the
 * counts by state in queue_tally.c (counted here once at the start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "message.h"
#include "queue_hot.h"
#include "queue_int.h"
#include "queue_priv.h"
#include "recipient.h"

/* queue_oom - allocation failures on these paths are fatal */
void *queue_oom(void *p)
{
    if (p == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    return p;
}

/* queue_next_id_work - startup: the next id (a read: a full disk does not
 * stop the start) */
static int queue_next_id_work(struct store *s, void *arg)
{
    return message_next_id(s, arg);
}

/* queue_count_work - startup: the counts by state, from the rows */
static int queue_count_work(struct store *s, void *arg)
{
    return recipient_count(s, arg);
}

/* queue_orphans_work - startup: content never committed goes (in a
 * transaction of its own: it may fail on a full disk) */
static int queue_orphans_work(struct store *s, void *arg)
{
    return message_drop_orphans(s, *(uint64_t *)arg);
}

/* queue_new - the queue; recovery runs at once (before store_start) */
struct queue *queue_new(struct event_base *base, struct store *s, char *err, size_t errlen)
{
    struct queue *q = calloc(1, sizeof(*q));
    uint64_t next_id = 1;
    int rc;

    if (q == NULL || (q->active = queue_active_new()) == NULL ||
        (q->tally = queue_tally_new()) == NULL || (q->hot = queue_hot_new(base)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return queue_free(q);
    }
    q->base = base;
    q->st = s;
    TAILQ_INIT(&q->retries);
    TAILQ_INIT(&q->held);
    if ((q->retry_ev = evtimer_new(base, queue_retry_cb, q)) == NULL || queue_keep_init(q) < 0) {
        snprintf(err, errlen, "cannot create the queue timer");
        return queue_free(q);
    }
    if (store_run_now(s, queue_next_id_work, &next_id) != SQLITE_OK) {
        snprintf(err, errlen, "recovery: %s", sqlite3_errmsg(store_db(s)));
        return queue_free(q);
    }
    q->next_id = next_id;
    if (store_run_now(s, queue_count_work, q->tally) != SQLITE_OK) {
        snprintf(err, errlen, "recovery: cannot count the queue: %s", sqlite3_errmsg(store_db(s)));
        return queue_free(q);
    }
    if ((rc = store_run_now(s, queue_orphans_work, &next_id)) != SQLITE_OK) {
        /* a full disk: again later, with the retries */
        log_warn("queue", "recovery: cannot remove uncommitted content yet: %s; retrying",
                 sqlite3_errstr(rc));
        q->orphans_below = next_id;
        queue_retry_later(q, NULL, 0, NULL, NULL);
    }
    return q;
}

/* queue_new_msg_id - next unused message id (loop thread) */
uint64_t queue_new_msg_id(struct queue *q)
{
    return q->next_id++;
}

/* queue_on_commit - told after every committed message */
void queue_on_commit(struct queue *q, void (*fn)(void *ctx), void *ctx)
{
    q->commit_fn = fn;
    q->commit_ctx = ctx;
}

/* queue_observe - fn sees every outcome in its transaction */
void queue_observe(struct queue *q, queue_observer_fn fn, void *ctx)
{
    if (q->nobservers == QUEUE_OBSERVERS_MAX) {
        log_err("queue", "too many observers");
        abort();
    }
    q->observers[q->nobservers].fn = fn;
    q->observers[q->nobservers++].ctx = ctx;
}

/* ---- intake ---- */

struct queue_chunk_op {
    uint64_t msg_id;
    uint32_t seq;
    void *data;
    size_t len;
};

/* queue_chunk_work - storage thread */
static int queue_chunk_work(struct store *s, void *arg)
{
    struct queue_chunk_op *op = arg;

    return message_chunk(s, op->msg_id, op->seq, op->data, op->len);
}

/* queue_chunk_reply - loop: a failed chunk shows at the commit's check */
static void queue_chunk_reply(void *arg, enum store_rc rc)
{
    struct queue_chunk_op *op = arg;

    (void)rc;
    free(op->data);
    free(op);
}

/* queue_chunk - hand a chunk of content to the storage thread */
void queue_chunk(struct queue *q, uint64_t msg_id, uint32_t seq, void *data, size_t len)
{
    struct queue_chunk_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->msg_id = msg_id;
    op->seq = seq;
    op->data = data;
    op->len = len;
    store_call_bytes(q->st, queue_chunk_work, queue_chunk_reply, op, false, len);
}

struct queue_commit_op {
    struct queue *q;
    struct queue_msg *m;
    queue_commit_fn fn;
    void *ctx;
    uint64_t cookie;
    uint64_t *held; /* m->hold: the rows inserted */
    size_t nheld;
};

/* queue_commit_work - storage thread: envelope and recipients, or nothing */
static int queue_commit_work(struct store *s, void *arg)
{
    struct queue_commit_op *op = arg;
    const struct queue_msg *m = op->m;
    int rc = m->tail && m->nchunks > 0
                 ? message_chunk(s, m->msg_id, m->nchunks - 1, m->tail, m->tail_len)
                 : SQLITE_OK;

    if (rc == SQLITE_OK)
        rc = message_insert(s, m);

    op->nheld = 0;
    for (size_t i = 0; i < m->nrcpts && rc == SQLITE_OK; i++) {
        rc = recipient_insert(s, op->q->tally, m->msg_id, m->received_ms, &m->rcpts[i], m->dest);
        if (rc == SQLITE_OK && m->hold && store_changes(s) > 0)
            op->held[op->nheld++] = (uint64_t)store_last_id(s);
    }
    if (rc == SQLITE_OK && m->hold)
        queue_hold_mark(op->q, s, m->msg_id, op->held, op->nheld);
    if (rc != SQLITE_OK)
        log_err("queue", "%s: commit failed: %s", m->queue_id,
                rc == SQLITE_CORRUPT ? "content incomplete" : sqlite3_errstr(rc));
    return rc;
}

/* queue_commit_reply - loop: the session may answer now */
static void queue_commit_reply(void *arg, enum store_rc rc)
{
    struct queue_commit_op *op = arg;

    if (rc != STORE_OK && !op->q->stopping)
        queue_abort(op->q, op->m->msg_id); /* the content of a failed commit */
    if (rc == STORE_OK && op->m->tail && op->m->nchunks == 1 && op->m->tail_len == op->m->size) {
        queue_hot_keep(op->q->hot, op->m->msg_id, op->m->tail, op->m->tail_len);
        op->m->tail = NULL; /* the first delivery takes it from memory */
    }
    if (rc == STORE_OK && op->m->hold) {
        queue_hold_keep(op->q, op->m->msg_id, op->held, op->nheld);
        op->held = NULL;
    }
    op->fn(op->ctx, op->cookie, rc);
    if (rc == STORE_OK && !op->m->hold && op->q->commit_fn)
        op->q->commit_fn(op->q->commit_ctx);
    queue_msg_free(op->m);
    free(op->held);
    free(op);
}

/* queue_commit - ask for a durable commit; the result comes back later */
void queue_commit(struct queue *q, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                  uint64_t cookie)
{
    struct queue_commit_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->m = m;
    op->fn = fn;
    op->ctx = ctx;
    op->cookie = cookie;
    if (m->hold)
        op->held = queue_oom(calloc(m->nrcpts ? m->nrcpts : 1, sizeof(*op->held)));
    store_call_bytes(q->st, queue_commit_work, queue_commit_reply, op, true, m->tail_len);
}

struct queue_abort_op {
    struct queue *q;
    uint64_t msg_id;
};

/* queue_abort_work - storage thread; msg_id 0: the orphans of the start */
static int queue_abort_work(struct store *s, void *arg)
{
    struct queue_abort_op *op = arg;

    if (op->msg_id == 0)
        return message_drop_orphans(s, op->q->orphans_below);
    return message_drop_content(s, op->msg_id);
}

/* queue_abort_reply - loop: a removal that failed (a full disk) goes again
 * later; the next start removes what is left at a stop */
static void queue_abort_reply(void *arg, enum store_rc rc)
{
    struct queue_abort_op *op = arg;

    if (rc != STORE_OK && !op->q->stopping)
        queue_retry_later(op->q, NULL, op->msg_id, NULL, NULL);
    else if (rc == STORE_OK)
        op->q->retry_run = 0;
    free(op);
}

/* queue_abort - drop the content of a message that will not be committed */
void queue_abort(struct queue *q, uint64_t msg_id)
{
    struct queue_abort_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->msg_id = msg_id;
    store_call(q->st, queue_abort_work, queue_abort_reply, op, false);
}

/* queue_msg_free - a message description and what it owns */
void queue_msg_free(struct queue_msg *m)
{
    if (m == NULL)
        return;
    free(m->message_id);
    free(m->rcpts);
    free(m->tail);
    free(m->dest);
    free(m);
}

/* ---- what the dumpster and resubmission ask on the storage thread ---- */

/* queue_release_msg - once every recipient is final, no dumpster item
 * holds the message and no failure is kept with it, its rows and content
 * leave the store; *gone says whether they did */
int queue_release_msg(struct store *s, uint64_t msg_id, bool *gone)
{
    int64_t open = 0, holds = 0, kept = 0;
    int rc = recipient_open_count(s, msg_id, &open);

    *gone = false;
    if (rc == SQLITE_OK && open == 0)
        rc = message_holds(s, msg_id, &holds);
    if (rc == SQLITE_OK && open == 0 && holds == 0)
        rc = recipient_kept_count(s, msg_id, &kept);
    if (rc != SQLITE_OK || open > 0 || holds > 0 || kept > 0)
        return rc;
    if ((rc = recipient_delete_msg(s, msg_id)) == SQLITE_OK)
        rc = message_delete(s, msg_id);
    *gone = rc == SQLITE_OK;
    return rc;
}

/* queue_release - queue_release_msg without the answer */
int queue_release(struct store *s, uint64_t msg_id)
{
    bool gone;

    return queue_release_msg(s, msg_id, &gone);
}

/* queue_requeue - a recipient queued again by a request */
int queue_requeue(struct queue *q, struct store *s, const struct queue_requeue *r, const char *addr)
{
    return recipient_requeue(s, q->tally, r->msg_id, r->request, addr, r->sg, r->dest, r->now_ms);
}

/* queue_counts - the counts by state, kept as the rows change */
void queue_counts(const struct queue *q, struct queue_counts *c)
{
    queue_tally_get(q->tally, c);
}

/* queue_state_name - for JSON and logs */
const char *queue_state_name(enum rcpt_state st)
{
    static const char *const names[] = {
        [RCPT_PENDING] = "pending",
        [RCPT_ACTIVE] = "active",
        [RCPT_DELIVERED] = "delivered",
        [RCPT_FAILED] = "failed",
    };

    return (unsigned)st <= RCPT_FAILED ? names[st] : "unknown";
}

/* queue_stop - no more retries: what waits gets an error */
void queue_stop(struct queue *q)
{
    if (q == NULL)
        return;
    q->stopping = true;
    if (q->retry_ev)
        event_del(q->retry_ev);
    queue_keep_stop(q);
    queue_retry_drop(q);
    queue_hot_stop(q->hot);
}

/* queue_free - after store_close */
struct queue *queue_free(struct queue *q)
{
    if (q == NULL)
        return NULL;
    queue_stop(q);
    if (q->retry_ev)
        event_free(q->retry_ev);
    queue_keep_free(q);
    queue_hold_free(q);
    q->active = queue_active_free(q->active);
    q->tally = queue_tally_free(q->tally);
    q->hot = queue_hot_free(q->hot);
    free(q);
    return NULL;
}
