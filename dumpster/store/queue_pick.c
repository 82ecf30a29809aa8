/*
 * queue_pick.c - due work and outcomes of the queue (queue.h)
 *
 * Picking walks the due rows, skips the active ones and groups the rest
 * into jobs; it marks them active in memory and writes nothing, so it
 * works on a full disk and a crash only forgets the marks. An outcome is
 * written with its observers' work (the dumpster keeps a copy, a request
 * counts its progress) in one work function; only once that committed are
 * its recipients released from the active set. A write that fails is
 * tried again later with a growing delay: the outcome is never dropped
 * and its recipients are never picked twice meanwhile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "message.h"
#include "queue_hot.h"
#include "queue_priv.h"
#include "recipient.h"

/* queue_job_free - a job and what it owns */
struct queue_job *queue_job_free(struct queue_job *j)
{
    if (j == NULL)
        return NULL;
    if (j->content)
        evbuffer_free(j->content);
    free(j->dest);
    free(j->rcpts);
    free(j);
    return NULL;
}

/* queue_outcome_free - an outcome and its rows */
void queue_outcome_free(struct queue_outcome *o)
{
    if (o) {
        free(o->rcpts);
        free(o);
    }
}

struct queue_pick_op {
    struct queue *q;
    int64_t now_ms;
    size_t max_jobs, rows, scanned;
    queue_pick_fn fn;
    void *ctx;
    struct queue_job **jobs;
    size_t njobs;
    uint64_t *marked; /* ids marked active by this pick */
    size_t nmarked;
};

/* queue_same - does row r belong to job j */
static bool queue_same(const struct queue_job *j, const struct recipient_row *r)
{
    if (j->msg_id != r->msg || j->request != r->request || j->route != r->route ||
        strcmp(j->sg, r->sg) != 0 || j->nrcpts >= DD_DELIVERY_JOB_RCPTS_MAX)
        return false;
    if (j->dest == NULL || r->dest == NULL)
        return j->dest == NULL && r->dest == NULL;
    return strcmp(j->dest, r->dest) == 0;
}

/* queue_job_for - the job of row r: found, or a new one; NULL when full */
static struct queue_job *queue_job_for(struct queue_pick_op *op, const struct recipient_row *r)
{
    for (size_t i = 0; i < op->njobs; i++)
        if (queue_same(op->jobs[i], r))
            return op->jobs[i];
    if (op->njobs == op->max_jobs)
        return NULL;
    struct queue_job *j = queue_oom(calloc(1, sizeof(*j)));
    if (r->dest)
        j->dest = queue_oom(strdup(r->dest));
    j->msg_id = r->msg;
    j->request = r->request;
    j->route = r->route;
    j->queued_ms = r->queued_ms;
    snprintf(j->sg, sizeof(j->sg), "%s", r->sg);
    op->jobs[op->njobs++] = j;
    return j;
}

/* queue_pick_row - take a due row unless it is active */
static int queue_pick_row(void *ctx, const struct recipient_row *r)
{
    struct queue_pick_op *op = ctx;
    struct queue_job *j;

    if (++op->scanned > QUEUE_PICK_ROWS + queue_active_count(op->q->active))
        return SQLITE_DONE;
    if (queue_active_has(op->q->active, r->id) || (j = queue_job_for(op, r)) == NULL)
        return SQLITE_OK;
    j->rcpts = queue_oom(realloc(j->rcpts, (j->nrcpts + 1) * sizeof(*j->rcpts)));
    struct queue_rcpt *qr = &j->rcpts[j->nrcpts++];
    qr->id = r->id;
    qr->attempts = r->attempts;
    snprintf(qr->addr, sizeof(qr->addr), "%s", r->addr);
    return ++op->rows == QUEUE_PICK_ROWS ? SQLITE_DONE : SQLITE_OK;
}

/* queue_load - the envelope of a job; a message gone from the store fails
 * its recipients (content cannot come back) */
static int queue_load(struct store *s, struct queue_tally *t, struct queue_job *j, bool *ok)
{
    struct message_row m;
    int rc = message_get(s, j->msg_id, &m, ok);

    if (rc != SQLITE_OK)
        return rc;
    if (!*ok) {
        log_err("queue", "message %llu: missing from the store, recipients failed",
                (unsigned long long)j->msg_id);
        return recipient_fail_msg(s, t, j->msg_id, "message missing from the store");
    }
    snprintf(j->queue_id, sizeof(j->queue_id), "%s", m.queue_id);
    snprintf(j->sender, sizeof(j->sender), "%s", m.sender);
    j->size = m.size;
    j->received_ms = m.received_ms;
    j->body = m.body;
    j->smtputf8 = m.smtputf8;
    return SQLITE_OK;
}

/* queue_mark - the job's recipients are active from now on (counted so
 * once the pick's batch commits) */
static void queue_mark(struct store *s, struct queue_pick_op *op, const struct queue_job *j)
{
    struct queue_tally_delta d = {.active = (int32_t)j->nrcpts};

    for (size_t i = 0; i < j->nrcpts; i++) {
        bool deferred = j->rcpts[i].attempts > 0;
        if (queue_active_add(op->q->active, j->rcpts[i].id, j->msg_id, deferred) < 0)
            queue_oom(NULL);
        d.active_deferred += deferred;
        op->marked = queue_oom(realloc(op->marked, (op->nmarked + 1) * sizeof(*op->marked)));
        op->marked[op->nmarked++] = j->rcpts[i].id;
    }
    queue_tally_note(s, op->q->tally, j->msg_id, d);
}

struct queue_unmark {
    struct queue *q;
    uint64_t *ids;
    size_t n;
};

/* queue_unmark - the marks of u go */
static void queue_unmark(struct queue_unmark *u)
{
    for (size_t i = 0; i < u->n; i++)
        queue_active_del(u->q->active, u->ids[i]);
    free(u->ids);
    free(u);
}

/* queue_unmark_free - u without touching the marks */
static void queue_unmark_free(struct queue_unmark *u)
{
    free(u->ids);
    free(u);
}

/* queue_pick_undo - after a pick's batch: one that failed hands nothing
 * over, so its marks go */
static void queue_pick_undo(void *arg, bool committed)
{
    struct queue_unmark *u = arg;

    if (committed)
        queue_unmark_free(u);
    else
        queue_unmark(u);
}

/* queue_release_marks - the marks of u go, and the counts say so */
static void queue_release_marks(struct queue_unmark *u)
{
    for (size_t i = 0; i < u->n; i++) {
        uint64_t msg;
        bool deferred;
        if (queue_active_get(u->q->active, u->ids[i], &msg, &deferred))
            queue_tally_add(u->q->tally, msg,
                            (struct queue_tally_delta){.active = -1, .active_deferred = -deferred});
    }
    queue_unmark(u);
}

/* queue_done_release - after an outcome's batch: one that committed
 * releases its recipients; one that failed (its COMMIT, or the batch
 * around it) keeps them active, since the outcome is written again later
 * (queue_done_reply) and that write releases them */
static void queue_done_release(void *arg, bool committed)
{
    struct queue_unmark *u = arg;

    if (committed)
        queue_release_marks(u);
    else
        queue_unmark_free(u);
}

/* queue_pick_work - storage thread: collect, load, mark */
static int queue_pick_work(struct store *s, void *arg)
{
    struct queue_pick_op *op = arg;
    size_t n;
    int rc = recipient_due(s, op->now_ms, queue_pick_row, op);

    n = op->njobs;
    op->njobs = 0;
    for (size_t i = 0; i < n; i++) {
        struct queue_job *j = op->jobs[i];
        bool ok = false;
        op->jobs[i] = NULL;
        if (rc == SQLITE_OK)
            rc = queue_load(s, op->q->tally, j, &ok);
        if (rc != SQLITE_OK || !ok) {
            queue_job_free(j);
            continue;
        }
        queue_mark(s, op, j);
        op->jobs[op->njobs++] = j;
    }
    struct queue_unmark *u = queue_oom(calloc(1, sizeof(*u)));
    u->q = op->q;
    u->ids = op->marked;
    u->n = op->nmarked;
    op->marked = NULL;
    store_after(s, queue_pick_undo, u);
    return rc;
}

/* queue_pick_reply - loop: hand the jobs over */
static void queue_pick_reply(void *arg, enum store_rc rc)
{
    struct queue_pick_op *op = arg;

    if (rc != STORE_OK) {
        for (size_t i = 0; i < op->njobs; i++)
            queue_job_free(op->jobs[i]);
        op->njobs = 0;
    }
    if (op->njobs == 0) {
        free(op->jobs);
        op->jobs = NULL;
    }
    op->fn(op->ctx, op->jobs, op->njobs, rc);
    free(op->marked);
    free(op);
}

/* queue_pick - due jobs, later, on the loop */
void queue_pick(struct queue *q, int64_t now_ms, size_t max_jobs, queue_pick_fn fn, void *ctx)
{
    struct queue_pick_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->max_jobs = max_jobs ? max_jobs : 1;
    op->jobs = queue_oom(calloc(op->max_jobs, sizeof(*op->jobs)));
    op->now_ms = now_ms;
    op->fn = fn;
    op->ctx = ctx;
    store_call(q->st, queue_pick_work, queue_pick_reply, op, false);
}

struct queue_content_op {
    uint64_t msg_id, size;
    struct evbuffer *content;
    void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc);
    void *ctx;
};

/* queue_content_work - storage thread; a short content is a read error */
static int queue_content_work(struct store *s, void *arg)
{
    struct queue_content_op *op = arg;
    int rc = message_content(s, op->msg_id, op->size, &op->content);

    if (rc == SQLITE_CORRUPT) {
        log_err("queue", "message %llu: content incomplete in the store",
                (unsigned long long)op->msg_id);
        return SQLITE_OK; /* nothing written to undo; the reply sees the length */
    }
    return rc;
}

/* queue_content_reply - loop: the callee owns the content */
static void queue_content_reply(void *arg, enum store_rc rc)
{
    struct queue_content_op *op = arg;
    bool whole = op->content && evbuffer_get_length(op->content) == op->size;

    if (rc != STORE_OK || !whole) {
        if (op->content)
            evbuffer_free(op->content);
        op->content = NULL;
        if (rc == STORE_OK)
            rc = STORE_E_IO;
    }
    op->fn(op->ctx, op->content, rc);
    free(op);
}

/* queue_content - read a message's content for its delivery */
void queue_content(struct queue *q, uint64_t msg_id, uint64_t size,
                   void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc), void *ctx)
{
    struct queue_content_op *op;

    if (queue_hot_take(q->hot, msg_id, size, fn, ctx))
        return;
    op = queue_oom(calloc(1, sizeof(*op)));
    op->msg_id = msg_id;
    op->size = size;
    op->fn = fn;
    op->ctx = ctx;
    store_read(q->st, queue_content_work, queue_content_reply, op);
}

struct queue_done_op {
    struct queue *q;
    struct queue_outcome *o;
    void (*fn)(void *ctx, enum store_rc rc);
    void *ctx;
};

/* queue_fate - one recipient's outcome */
static int queue_fate(struct store *s, struct queue_tally *t, const struct queue_outcome *o,
                      const struct queue_outcome_rcpt *r)
{
    static const enum rcpt_state state[] = {
        [QUEUE_DELIVERED] = RCPT_DELIVERED,
        [QUEUE_DEFERRED] = RCPT_PENDING,
        [QUEUE_FAILED] = RCPT_FAILED,
    };

    int64_t next = r->fate == QUEUE_DEFERRED ? r->next_attempt_ms
                   : r->fate == QUEUE_FAILED ? o->keep_failed_until_ms /* 0: not kept */
                                             : 0;

    return recipient_fate(s, t, r->id, state[r->fate], next, o->now_ms, r->reply);
}

/* queue_done_work - storage thread: outcomes, observers, cleanup */
static int queue_done_work(struct store *s, void *arg)
{
    struct queue_done_op *op = arg;
    const struct queue_outcome *o = op->o;
    struct queue *q = op->q;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < o->nrcpts && rc == SQLITE_OK; i++)
        rc = queue_fate(s, q->tally, o, &o->rcpts[i]);
    for (size_t i = 0; i < q->nobservers && rc == SQLITE_OK; i++)
        rc = q->observers[i].fn(q->observers[i].ctx, s, o);
    if (rc == SQLITE_OK && o->request == 0)
        rc = queue_final_check(q, s, o->msg_id);
    if (rc == SQLITE_OK)
        rc = queue_release(s, o->msg_id);
    if (rc != SQLITE_OK)
        return rc;
    struct queue_unmark *u = queue_oom(calloc(1, sizeof(*u)));
    u->q = q;
    u->ids = queue_oom(calloc(o->nrcpts ? o->nrcpts : 1, sizeof(*u->ids)));
    for (size_t i = 0; i < o->nrcpts; i++)
        u->ids[u->n++] = o->rcpts[i].id;
    store_after(s, queue_done_release, u);
    return SQLITE_OK;
}

/* queue_retry_arm - the timer for the earliest waiting retry */
static void queue_retry_arm(struct queue *q)
{
    struct queue_retry *r = TAILQ_FIRST(&q->retries);

    if (r == NULL || q->stopping)
        return;
    int64_t ms = r->due_ms - clock_mono_ms();
    if (ms < 0)
        ms = 0;
    event_add(q->retry_ev, &(struct timeval){ms / 1000, (ms % 1000) * 1000});
}

/* queue_retry_later - keep a failed outcome (or content removal) for its
 * next try */
void queue_retry_later(struct queue *q, struct queue_outcome *o, uint64_t msg_id,
                       void (*fn)(void *ctx, enum store_rc rc), void *ctx)
{
    struct queue_retry *r = queue_oom(calloc(1, sizeof(*r)));
    int64_t delay = QUEUE_RETRY_FIRST_MS;

    for (unsigned i = 0; i < q->retry_run && delay < QUEUE_RETRY_MAX_MS; i++)
        delay *= 2;
    if (delay > QUEUE_RETRY_MAX_MS)
        delay = QUEUE_RETRY_MAX_MS;
    q->retry_run++;
    r->o = o;
    r->msg_id = msg_id;
    r->fn = fn;
    r->ctx = ctx;
    r->due_ms = clock_mono_ms() + delay;
    TAILQ_INSERT_TAIL(&q->retries, r, link);
    if (q->retry_run == 1 || q->retry_run % 100 == 0)
        log_warn("queue", "cannot write to the store (%u times in a row); retrying in %lld ms",
                 q->retry_run, (long long)delay);
    queue_retry_arm(q);
}

/* queue_done_reply - loop: written, or kept for a retry */
static void queue_done_reply(void *arg, enum store_rc rc)
{
    struct queue_done_op *op = arg;
    struct queue *q = op->q;

    if (rc != STORE_OK && !q->stopping) {
        queue_retry_later(q, op->o, 0, op->fn, op->ctx);
        free(op);
        return;
    }
    if (rc == STORE_OK) {
        q->retry_run = 0;
        queue_keep_note(q, op->o->keep_failed_until_ms);
    }
    if (op->fn)
        op->fn(op->ctx, rc);
    queue_outcome_free(op->o);
    free(op);
}

/* queue_done_submit - hand an outcome to the storage thread */
static void queue_done_submit(struct queue *q, struct queue_outcome *o,
                              void (*fn)(void *ctx, enum store_rc rc), void *ctx)
{
    struct queue_done_op *op = queue_oom(calloc(1, sizeof(*op)));

    op->q = q;
    op->o = o;
    op->fn = fn;
    op->ctx = ctx;
    store_call_lazy(q->st, queue_done_work, queue_done_reply, op);
}

/* queue_done - record outcomes */
void queue_done(struct queue *q, struct queue_outcome *o, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx)
{
    queue_done_submit(q, o, fn, ctx);
}

/* queue_retry_cb - the outcomes whose time came go again */
void queue_retry_cb(int fd, short what, void *arg)
{
    struct queue *q = arg;
    struct queue_retry *r;
    int64_t now = clock_mono_ms();

    (void)fd;
    (void)what;
    while ((r = TAILQ_FIRST(&q->retries)) != NULL && r->due_ms <= now) {
        TAILQ_REMOVE(&q->retries, r, link);
        if (r->o)
            queue_done_submit(q, r->o, r->fn, r->ctx);
        else
            queue_abort(q, r->msg_id);
        free(r);
    }
    queue_retry_arm(q);
}

/* queue_retry_drop - stopping: what waits gets an error */
void queue_retry_drop(struct queue *q)
{
    struct queue_retry *r;

    while ((r = TAILQ_FIRST(&q->retries)) != NULL) {
        TAILQ_REMOVE(&q->retries, r, link);
        if (r->fn)
            r->fn(r->ctx, STORE_E_IO);
        queue_outcome_free(r->o);
        free(r);
    }
}
