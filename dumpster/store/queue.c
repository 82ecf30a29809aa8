/*
 * queue.c - the delivery queue: due recipients, outcomes, content cleanup
 *
 * Work functions on the storage thread (store_int.h). Picking marks the
 * picked recipients as being delivered (state 1) in a batch without fsync:
 * after a crash store_open() makes them pending again, so a message may be
 * delivered twice but never lost. Outcomes are written in batches without
 * fsync too (as a queue file's removal is not synced): the WAL keeps them
 * through a crash of the process, and a power loss can only make a message
 * go out again, which the mailbox server drops by its Message-ID. The
 * dumpster item and its counters change in the same transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "queue.h"
#include "store_int.h"

/* Rows looked at per pick: jobs are built from these. */
#define QUEUE_PICK_ROWS 1024

struct queue_pick_op {
    int64_t now_ms;
    size_t max_jobs;
    queue_pick_fn fn;
    void *ctx;
    struct queue_job **jobs;
    size_t njobs;
};

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

/* queue_copy - bounded copy of a text column */
static void queue_copy(char *dst, size_t cap, const unsigned char *src)
{
    snprintf(dst, cap, "%s", src ? (const char *)src : "");
}

/* queue_same - does row (msg, sg, dest, request) belong to job j */
static bool queue_same(const struct queue_job *j, uint64_t msg, const char *sg, const char *dest,
                       uint64_t request)
{
    if (j->msg_id != msg || j->request != request || strcmp(j->sg, sg) != 0)
        return false;
    if (j->dest == NULL || dest == NULL)
        return j->dest == dest;
    return strcmp(j->dest, dest) == 0;
}

/* queue_job_for - the job of this row: found, or a new one; NULL when full */
static struct queue_job *queue_job_for(struct queue_pick_op *op, sqlite3_stmt *st)
{
    uint64_t msg = (uint64_t)sqlite3_column_int64(st, 0);
    const char *sg = (const char *)sqlite3_column_text(st, 2);
    const char *dest = (const char *)sqlite3_column_text(st, 4);
    uint64_t request = (uint64_t)sqlite3_column_int64(st, 5);

    for (size_t i = 0; i < op->njobs; i++)
        if (queue_same(op->jobs[i], msg, sg, dest, request) &&
            op->jobs[i]->nrcpts < DD_DELIVERY_JOB_RCPTS_MAX)
            return op->jobs[i];
    if (op->njobs == op->max_jobs)
        return NULL;
    struct queue_job *j = calloc(1, sizeof(*j));
    if (j == NULL || (dest && (j->dest = strdup(dest)) == NULL)) {
        free(j);
        return NULL;
    }
    j->msg_id = msg;
    j->request = request;
    j->queued_ms = sqlite3_column_int64(st, 6);
    queue_copy(j->sg, sizeof(j->sg), (const unsigned char *)sg);
    op->jobs[op->njobs++] = j;
    return j;
}

/* queue_add_rcpt - append the row's recipient to its job */
static int queue_add_rcpt(struct queue_job *j, sqlite3_stmt *st)
{
    struct queue_rcpt *r = realloc(j->rcpts, (j->nrcpts + 1) * sizeof(*r));

    if (r == NULL)
        return -1;
    j->rcpts = r;
    r += j->nrcpts++;
    queue_copy(r->addr, sizeof(r->addr), sqlite3_column_text(st, 1));
    r->attempts = (unsigned)sqlite3_column_int(st, 3);
    return 0;
}

static const char *const sql_due =
    "SELECT msg, rcpt, sg, attempts, dest, coalesce(request, 0), queued FROM recipient"
    " WHERE state = 0 AND next_attempt <= ? ORDER BY next_attempt, msg LIMIT ?";

/* queue_collect - group due rows into jobs */
static int queue_collect(struct store *s, struct queue_pick_op *op)
{
    sqlite3_stmt *st = store_prep(s, sql_due);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, op->now_ms);
    sqlite3_bind_int(st, 2, QUEUE_PICK_ROWS);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct queue_job *j = queue_job_for(op, st);
        if (j != NULL && queue_add_rcpt(j, st) < 0)
            rc = SQLITE_NOMEM;
        if (rc != SQLITE_ROW)
            break;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_msg =
    "SELECT queue_id, sender, size, received FROM message WHERE id = ?";
static const char *const sql_body = "SELECT data FROM body WHERE msg = ? ORDER BY seq";

/* queue_load - the envelope of a job */
static int queue_load(struct store *s, struct queue_job *j)
{
    sqlite3_stmt *st = store_prep(s, sql_msg);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)j->msg_id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_CORRUPT : rc;
    }
    queue_copy(j->queue_id, sizeof(j->queue_id), sqlite3_column_text(st, 0));
    queue_copy(j->sender, sizeof(j->sender), sqlite3_column_text(st, 1));
    j->size = (uint64_t)sqlite3_column_int64(st, 2);
    j->received_ms = sqlite3_column_int64(st, 3);
    sqlite3_reset(st);
    return SQLITE_OK;
}

/* queue_read_content - the content of a message into a new evbuffer */
static int queue_read_content(struct store *s, uint64_t msg_id, uint64_t size,
                              struct evbuffer **out)
{
    sqlite3_stmt *st = store_prep(s, sql_body);
    int rc;

    if (st == NULL || (*out = evbuffer_new()) == NULL)
        return SQLITE_NOMEM;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)msg_id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (evbuffer_add(*out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0)
            break;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? SQLITE_NOMEM : rc;
    return evbuffer_get_length(*out) == size ? SQLITE_OK : SQLITE_CORRUPT;
}

struct queue_content_op {
    uint64_t msg_id, size;
    struct evbuffer *content;
    void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc);
    void *ctx;
};

/* queue_content_work - storage thread */
static int queue_content_work(struct store *s, void *arg)
{
    struct queue_content_op *op = arg;
    int rc = queue_read_content(s, op->msg_id, op->size, &op->content);

    if (rc == SQLITE_CORRUPT) {
        log_err("queue", "message %llu: content incomplete in the store",
                (unsigned long long)op->msg_id);
        return SQLITE_OK; /* a read error, not a write to undo */
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
void queue_content(struct store *s, uint64_t msg_id, uint64_t size,
                   void (*fn)(void *ctx, struct evbuffer *content, enum store_rc rc), void *ctx)
{
    struct queue_content_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->msg_id = msg_id;
    op->size = size;
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_content_work, queue_content_reply, op, false);
}

static const char *const sql_take =
    "UPDATE recipient SET state = 1 WHERE msg = ? AND rcpt = ? AND state = 0";

/* queue_take - mark a job's recipients as being delivered */
static int queue_take(struct store *s, const struct queue_job *j)
{
    for (size_t i = 0; i < j->nrcpts; i++) {
        sqlite3_stmt *st = store_prep(s, sql_take);
        if (st == NULL)
            return SQLITE_ERROR;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)j->msg_id);
        sqlite3_bind_text(st, 2, j->rcpts[i].addr, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_DONE)
            return rc;
    }
    return SQLITE_OK;
}

static const char *const sql_lost =
    "UPDATE recipient SET state = 3, last_reply = 'content missing from the store' WHERE msg = ?";

/* queue_lost - a message whose content is gone can never be delivered */
static int queue_lost(struct store *s, struct queue_job *j)
{
    sqlite3_stmt *st = store_prep(s, sql_lost);

    log_err("queue", "%s: content missing from the store, recipients failed", j->queue_id);
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)j->msg_id);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* queue_pick_work - storage thread: collect, load within the byte budget, take */
static int queue_pick_work(struct store *s, void *arg)
{
    struct queue_pick_op *op = arg;
    size_t n;
    int rc = queue_collect(s, op);

    n = op->njobs;
    op->njobs = 0;
    for (size_t i = 0; i < n; i++) {
        struct queue_job *j = op->jobs[i];
        op->jobs[i] = NULL;
        if (rc != SQLITE_OK) {
            queue_job_free(j);
            continue;
        }
        int lrc = queue_load(s, j);
        if (lrc == SQLITE_CORRUPT)
            rc = queue_lost(s, j);
        else if ((rc = lrc) == SQLITE_OK)
            rc = queue_take(s, j);
        if (rc != SQLITE_OK || lrc != SQLITE_OK) {
            queue_job_free(j);
            continue;
        }
        op->jobs[op->njobs++] = j;
    }
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
    free(op);
}

/* queue_pick - due jobs, later, on the loop */
void queue_pick(struct store *s, int64_t now_ms, size_t max_jobs, queue_pick_fn fn, void *ctx)
{
    struct queue_pick_op *op = calloc(1, sizeof(*op));

    if (op == NULL || (op->jobs = calloc(max_jobs ? max_jobs : 1, sizeof(*op->jobs))) == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->now_ms = now_ms;
    op->max_jobs = max_jobs ? max_jobs : 1;
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_pick_work, queue_pick_reply, op, false);
}

struct queue_done_op {
    struct queue_outcome *o;
    void (*fn)(void *ctx, enum store_rc rc);
    void *ctx;
};

static const char *const sql_fate =
    "UPDATE recipient SET state = ?, attempts = attempts + 1, next_attempt = ?,"
    " delivered = ?, last_reply = ? WHERE msg = ? AND rcpt = ?";

/* queue_fate - one recipient's outcome */
static int queue_fate(struct store *s, const struct queue_outcome *o,
                      const struct queue_outcome_rcpt *r)
{
    static const int state[] = {[QUEUE_DELIVERED] = 2, [QUEUE_DEFERRED] = 0, [QUEUE_FAILED] = 3};
    sqlite3_stmt *st = store_prep(s, sql_fate);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, state[r->fate]);
    sqlite3_bind_int64(st, 2, r->fate == QUEUE_DEFERRED ? r->next_attempt_ms : 0);
    if (r->fate == QUEUE_DELIVERED)
        sqlite3_bind_int64(st, 3, o->now_ms);
    sqlite3_bind_text(st, 4, r->reply, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)o->msg_id);
    sqlite3_bind_text(st, 6, r->addr, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_open_rcpts =
    "SELECT count(*) FROM recipient WHERE msg = ? AND state < 2";
static const char *const sql_del_body = "DELETE FROM body WHERE msg = ?";
static const char *const sql_del_rcpts = "DELETE FROM recipient WHERE msg = ?";
static const char *const sql_del_msg = "DELETE FROM message WHERE id = ?";

/* queue_step_id - run a statement bound to one id; SQLITE_OK or the error */
static int queue_step_id(struct store *s, const char *sql, uint64_t id, int64_t *out)
{
    sqlite3_stmt *st = store_prep(s, sql);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* queue_release - once every recipient is final and nothing holds the
 * message, its envelope and content leave the store */
int queue_release(struct store *s, uint64_t msg_id)
{
    int64_t open = 0;
    int rc = queue_step_id(s, sql_open_rcpts, msg_id, &open);

    if (rc != SQLITE_OK || open > 0 || dumpster_holds(s, msg_id))
        return rc;
    if ((rc = queue_step_id(s, sql_del_body, msg_id, NULL)) == SQLITE_OK &&
        (rc = queue_step_id(s, sql_del_rcpts, msg_id, NULL)) == SQLITE_OK)
        rc = queue_step_id(s, sql_del_msg, msg_id, NULL);
    return rc;
}

/* queue_done_work - storage thread: every outcome, the dumpster, cleanup */
static int queue_done_work(struct store *s, void *arg)
{
    struct queue_done_op *op = arg;
    const struct queue_outcome *o = op->o;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < o->nrcpts && rc == SQLITE_OK; i++)
        rc = queue_fate(s, o, &o->rcpts[i]);
    if (rc == SQLITE_OK)
        rc = dumpster_keep(s, o);
    if (rc == SQLITE_OK)
        rc = queue_release(s, o->msg_id);
    return rc;
}

/* queue_done_reply - loop: tell the caller */
static void queue_done_reply(void *arg, enum store_rc rc)
{
    struct queue_done_op *op = arg;

    if (op->fn)
        op->fn(op->ctx, rc);
    free(op->o->rcpts);
    free(op->o);
    free(op);
}

/* queue_done - record outcomes, durably */
void queue_done(struct store *s, struct queue_outcome *o, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx)
{
    struct queue_done_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->o = o;
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_done_work, queue_done_reply, op, false);
}

struct queue_flush_op {
    char sg[DD_SG_NAME_MAX + 2];
    bool all;
    uint64_t n;
    void (*fn)(void *ctx, uint64_t n);
    void *ctx;
};

static const char *const sql_flush_all =
    "UPDATE recipient SET next_attempt = 0 WHERE state = 0 AND next_attempt > 0";
static const char *const sql_flush_sg =
    "UPDATE recipient SET next_attempt = 0 WHERE sg = ? AND state = 0 AND next_attempt > 0";

/* queue_flush_work - storage thread */
static int queue_flush_work(struct store *s, void *arg)
{
    struct queue_flush_op *op = arg;
    sqlite3_stmt *st = store_prep(s, op->all ? sql_flush_all : sql_flush_sg);

    if (st == NULL)
        return SQLITE_ERROR;
    if (!op->all)
        sqlite3_bind_text(st, 1, op->sg, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    op->n = (uint64_t)sqlite3_changes(store_db(s));
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
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
void queue_flush(struct store *s, const char *sg, void (*fn)(void *ctx, uint64_t n), void *ctx)
{
    struct queue_flush_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->all = sg == NULL;
    snprintf(op->sg, sizeof(op->sg), "%s", sg ? sg : "");
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_flush_work, queue_flush_reply, op, false);
}

struct queue_count_op {
    struct queue_counts c;
    void (*fn)(void *ctx, const struct queue_counts *c);
    void *ctx;
};

static const char *const sql_count =
    "SELECT count(DISTINCT CASE WHEN state = 0 THEN msg END),"
    " count(DISTINCT CASE WHEN state = 1 THEN msg END),"
    " count(DISTINCT CASE WHEN state = 0 AND attempts > 0 THEN msg END)"
    " FROM recipient WHERE state < 2";

/* queue_count_work - storage thread */
static int queue_count_work(struct store *s, void *arg)
{
    struct queue_count_op *op = arg;
    sqlite3_stmt *st = store_prep(s, sql_count);

    if (st == NULL)
        return SQLITE_ERROR;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        op->c.pending_msgs = (uint64_t)sqlite3_column_int64(st, 0);
        op->c.active_msgs = (uint64_t)sqlite3_column_int64(st, 1);
        op->c.deferred_msgs = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* queue_count_reply - loop */
static void queue_count_reply(void *arg, enum store_rc rc)
{
    struct queue_count_op *op = arg;

    if (op->fn)
        op->fn(op->ctx, rc == STORE_OK ? &op->c : NULL);
    free(op);
}

/* queue_count - messages by state */
void queue_count(struct store *s, void (*fn)(void *ctx, const struct queue_counts *c), void *ctx)
{
    struct queue_count_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_count_work, queue_count_reply, op, false);
}

struct queue_list_op {
    char sg[DD_SG_NAME_MAX + 2];
    bool all;
    size_t max;
    struct queue_entry *e;
    size_t n;
    void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc);
    void *ctx;
};

static const char *const sql_list_msgs_all =
    "SELECT m.id, m.queue_id, m.sender, m.size, m.received FROM message m WHERE m.id IN"
    " (SELECT msg FROM recipient WHERE state < 2) ORDER BY m.id LIMIT ?";
static const char *const sql_list_msgs_sg =
    "SELECT m.id, m.queue_id, m.sender, m.size, m.received FROM message m WHERE m.id IN"
    " (SELECT msg FROM recipient WHERE sg = ? AND state < 2) ORDER BY m.id LIMIT ?";
static const char *const sql_list_rcpts =
    "SELECT rcpt, sg, state, attempts, next_attempt, coalesce(last_reply, ''),"
    " coalesce(request, 0) FROM recipient WHERE msg = ? AND state < 2";

/* queue_list_rcpts - the open recipients of one listed message */
static int queue_list_rcpts(struct store *s, uint64_t id, struct queue_entry *e)
{
    sqlite3_stmt *st = store_prep(s, sql_list_rcpts);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        struct queue_entry_rcpt *r = realloc(e->rcpts, (e->nrcpts + 1) * sizeof(*r));
        if (r == NULL) {
            rc = SQLITE_NOMEM;
            break;
        }
        e->rcpts = r;
        r += e->nrcpts++;
        queue_copy(r->addr, sizeof(r->addr), sqlite3_column_text(st, 0));
        queue_copy(r->sg, sizeof(r->sg), sqlite3_column_text(st, 1));
        r->state = sqlite3_column_int(st, 2);
        r->attempts = (unsigned)sqlite3_column_int(st, 3);
        r->next_attempt_ms = sqlite3_column_int64(st, 4);
        queue_copy(r->last_reply, sizeof(r->last_reply), sqlite3_column_text(st, 5));
        e->request = (uint64_t)sqlite3_column_int64(st, 6);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* queue_list_work - storage thread */
static int queue_list_work(struct store *s, void *arg)
{
    struct queue_list_op *op = arg;
    sqlite3_stmt *st = store_prep(s, op->all ? sql_list_msgs_all : sql_list_msgs_sg);
    uint64_t *ids;
    int rc, k = 1;

    if (st == NULL || (op->e = calloc(op->max ? op->max : 1, sizeof(*op->e))) == NULL ||
        (ids = calloc(op->max ? op->max : 1, sizeof(*ids))) == NULL)
        return SQLITE_NOMEM;
    if (!op->all)
        sqlite3_bind_text(st, k++, op->sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, k, (sqlite3_int64)op->max);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && op->n < op->max) {
        struct queue_entry *e = &op->e[op->n];
        ids[op->n++] = (uint64_t)sqlite3_column_int64(st, 0);
        queue_copy(e->queue_id, sizeof(e->queue_id), sqlite3_column_text(st, 1));
        queue_copy(e->sender, sizeof(e->sender), sqlite3_column_text(st, 2));
        e->size = (uint64_t)sqlite3_column_int64(st, 3);
        e->received_ms = sqlite3_column_int64(st, 4);
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
    for (size_t i = 0; i < op->n && rc == SQLITE_OK; i++)
        rc = queue_list_rcpts(s, ids[i], &op->e[i]);
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
void queue_list(struct store *s, const char *sg, size_t max,
                void (*fn)(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc),
                void *ctx)
{
    struct queue_list_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("queue", "out of memory");
        abort();
    }
    op->all = sg == NULL;
    snprintf(op->sg, sizeof(op->sg), "%s", sg ? sg : "");
    op->max = max;
    op->fn = fn;
    op->ctx = ctx;
    store_call(s, queue_list_work, queue_list_reply, op, false);
}
