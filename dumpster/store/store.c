/*
 * store.c - the storage thread: group commit of message content and
 * envelopes into SQLite (WAL, synchronous=FULL)
 *
 * The loop queues operations (chunk, commit, abort) under a mutex; the
 * storage thread takes all that wait, runs them in one transaction and
 * fsyncs once, then hands the commit results back through an event the loop
 * runs. A batch with no commit in it is written with synchronous=NORMAL:
 * content alone needs no fsync, the next commit's fsync covers it (the WAL
 * is written in order).
 */
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "log.h"
#include "store.h"
#include "store_int.h"
#include "store_db.h"

enum store_op_kind {
    STORE_OP_CHUNK,
    STORE_OP_COMMIT,
    STORE_OP_ABORT,
    STORE_OP_CALL,
    STORE_OP_POST
};

struct store_op {
    struct store_op *next;
    enum store_op_kind kind;
    uint64_t msg_id;
    uint32_t seq;
    void *data;
    size_t len;
    struct store_msg *msg;
    uint64_t cookie;
    enum store_rc rc;
    store_commit_fn commit_fn; /* NULL: the store's default */
    void *commit_ctx;
    store_work_fn work; /* STORE_OP_CALL */
    store_reply_fn reply;
    void *arg;
    bool durable;
};

/* Prepared statements of the work functions, keyed by their SQL text. */
struct store_stmt_cache {
    const char *sql[STORE_STMT_CACHE_MAX];
    sqlite3_stmt *st[STORE_STMT_CACHE_MAX];
    size_t n;
};

struct store_list {
    struct store_op *head;
    struct store_op **tail;
};

struct store {
    sqlite3 *db;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_list pending; /* loop -> thread */
    struct store_list done;    /* thread -> loop */
    bool stop;
    _Atomic size_t backlog; /* chunk octets queued, not yet written */
    struct event *done_ev;
    store_commit_fn done_fn;
    store_drain_fn drain_fn;
    void *ctx;
    uint64_t next_id;  /* loop thread only */
    uint64_t *cleanup; /* storage thread: content of failed commits to delete */
    size_t ncleanup, capcleanup;
    sqlite3_stmt *st_chunk, *st_count, *st_msg, *st_rcpt, *st_abort;
    struct store_stmt_cache cache; /* storage thread */
    struct store_list posts;       /* storage thread: posted in this batch */
    bool resync;                   /* storage thread: a batch with posts failed */
    store_post_fn post_fn;         /* loop */
    void *post_ctx;
    store_commit_hook_fn hook; /* loop: after a batch with commits */
    void *hook_ctx;
    _Atomic uint64_t n_batches, n_commits, n_fsync_batches;
    _Atomic uint64_t commit_us_sum, batch_msgs_sum;
    _Atomic uint64_t commit_hist[STORE_HIST_BUCKETS];
    _Atomic uint64_t batch_hist[STORE_HIST_BUCKETS];
};

/* Upper bounds of the histogram buckets; the last bucket is +Inf. */
const double store_commit_bounds[STORE_HIST_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
const double store_batch_bounds[STORE_HIST_BUCKETS - 1] = {1,  2,   4,   8,   16,  32,
                                                           64, 128, 256, 512, 1024};

#define STORE_BACKLOG_LOW (DD_STORE_BACKLOG_MAX / 2)

static struct store_op *store_op_new(enum store_op_kind kind, uint64_t msg_id);

/* store_list_init - empty list */
static void store_list_init(struct store_list *l)
{
    l->head = NULL;
    l->tail = &l->head;
}

/* store_list_push - append op */
static void store_list_push(struct store_list *l, struct store_op *op)
{
    op->next = NULL;
    *l->tail = op;
    l->tail = &op->next;
}

/* store_msg_free - release a message description and what it owns */
static void store_msg_free(struct store_msg *m)
{
    if (m == NULL)
        return;
    free(m->message_id);
    free(m->rcpts);
    free(m);
}

/* store_op_free - release an operation and its payload */
static void store_op_free(struct store_op *op)
{
    free(op->data);
    store_msg_free(op->msg);
    free(op);
}

/* store_rc_of - map an SQLite result to a store result */
static enum store_rc store_rc_of(int rc)
{
    return rc == SQLITE_FULL ? STORE_E_FULL : STORE_E_IO;
}

/* store_exec - run SQL without results; returns the SQLite code */
static int store_exec(struct store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        log_err("store", "%s: %s", sql, sqlite3_errmsg(s->db));
    return rc;
}

/* store_step_done - step a statement that returns no rows, then reset it */
static int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* store_do_chunk - write one chunk of content */
static int store_do_chunk(struct store *s, struct store_op *op)
{
    sqlite3_bind_int64(s->st_chunk, 1, (sqlite3_int64)op->msg_id);
    sqlite3_bind_int64(s->st_chunk, 2, op->seq);
    sqlite3_bind_blob(s->st_chunk, 3, op->data, (int)op->len, SQLITE_STATIC);
    return store_step_done(s->st_chunk);
}

/* store_do_abort - drop the content of a message that was not committed */
static int store_do_abort(struct store *s, uint64_t msg_id)
{
    sqlite3_bind_int64(s->st_abort, 1, (sqlite3_int64)msg_id);
    return store_step_done(s->st_abort);
}

/* store_check_content - every chunk the session sent is there, whole */
static int store_check_content(struct store *s, const struct store_msg *m)
{
    sqlite3_stmt *st = s->st_count;
    int rc;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)m->msg_id);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        bool whole = (uint64_t)sqlite3_column_int64(st, 0) == m->nchunks &&
                     (uint64_t)sqlite3_column_int64(st, 1) == m->size;
        rc = whole ? SQLITE_OK : SQLITE_CORRUPT;
    }
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc;
}

/* store_insert_msg - the envelope row */
static int store_insert_msg(struct store *s, const struct store_msg *m)
{
    sqlite3_stmt *st = s->st_msg;

    sqlite3_bind_int64(st, 1, (sqlite3_int64)m->msg_id);
    sqlite3_bind_text(st, 2, m->queue_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, m->sender, -1, SQLITE_STATIC);
    if (m->message_id)
        sqlite3_bind_text(st, 4, m->message_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)m->size);
    sqlite3_bind_int64(st, 6, m->nchunks);
    sqlite3_bind_int64(st, 7, m->received_ms);
    sqlite3_bind_text(st, 8, m->client_ip, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 9, m->helo, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, m->proto, -1, SQLITE_STATIC);
    return store_step_done(st);
}

/* store_insert_rcpts - one row per recipient (a repeated address once) */
static int store_insert_rcpts(struct store *s, const struct store_msg *m)
{
    for (size_t i = 0; i < m->nrcpts; i++) {
        sqlite3_bind_int64(s->st_rcpt, 1, (sqlite3_int64)m->msg_id);
        sqlite3_bind_text(s->st_rcpt, 2, m->rcpts[i].addr, -1, SQLITE_STATIC);
        sqlite3_bind_text(s->st_rcpt, 3, m->rcpts[i].sg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(s->st_rcpt, 4, m->received_ms);
        int rc = store_step_done(s->st_rcpt);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* store_do_commit - envelope and recipients of one message, all or nothing */
static int store_do_commit(struct store *s, struct store_op *op)
{
    int rc = sqlite3_exec(s->db, "SAVEPOINT msg", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = store_check_content(s, op->msg);
    if (rc == SQLITE_OK)
        rc = store_insert_msg(s, op->msg);
    if (rc == SQLITE_OK)
        rc = store_insert_rcpts(s, op->msg);
    if (rc == SQLITE_OK)
        return sqlite3_exec(s->db, "RELEASE msg", NULL, NULL, NULL);
    log_err("store", "%s: commit failed: %s", op->msg->queue_id,
            rc == SQLITE_CORRUPT ? "content incomplete" : sqlite3_errmsg(s->db));
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK TO msg", NULL, NULL, NULL);
        sqlite3_exec(s->db, "RELEASE msg", NULL, NULL, NULL);
        store_do_abort(s, op->msg_id);
    }
    op->rc = store_rc_of(rc);
    return SQLITE_OK; /* this message failed; the batch goes on */
}

/* store_drop_posts - forget what was posted after mark (its writes are undone) */
static void store_drop_posts(struct store *s, struct store_op **mark)
{
    struct store_op *op = *mark;

    *mark = NULL;
    s->posts.tail = mark;
    while (op) {
        struct store_op *next = op->next;
        store_op_free(op);
        op = next;
    }
    s->resync = true;
}

/* store_do_call - a work function in a savepoint of its own: its failure
 * undoes only its own writes */
static int store_do_call(struct store *s, struct store_op *op)
{
    struct store_op **mark = s->posts.tail;
    int rc = sqlite3_exec(s->db, "SAVEPOINT call", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = op->work(s, op->arg);
    if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW)
        return sqlite3_exec(s->db, "RELEASE call", NULL, NULL, NULL);
    log_err("store", "work failed: %s", sqlite3_errmsg(s->db));
    store_drop_posts(s, mark);
    if (!sqlite3_get_autocommit(s->db)) {
        sqlite3_exec(s->db, "ROLLBACK TO call", NULL, NULL, NULL);
        sqlite3_exec(s->db, "RELEASE call", NULL, NULL, NULL);
    }
    op->rc = store_rc_of(rc);
    return SQLITE_OK;
}

/* store_apply - run one operation inside the batch transaction */
static int store_apply(struct store *s, struct store_op *op)
{
    switch (op->kind) {
    case STORE_OP_CHUNK:
        return store_do_chunk(s, op);
    case STORE_OP_COMMIT:
        return store_do_commit(s, op);
    case STORE_OP_ABORT:
        return store_do_abort(s, op->msg_id);
    case STORE_OP_CALL:
        return store_do_call(s, op);
    case STORE_OP_POST:
        break;
    }
    return SQLITE_MISUSE;
}

/* store_fail_batch - the transaction is lost: every commit in it failed */
static void store_fail_batch(struct store_op *ops, int rc)
{
    for (struct store_op *op = ops; op; op = op->next)
        if ((op->kind == STORE_OP_COMMIT || op->kind == STORE_OP_CALL) && op->rc == STORE_OK)
            op->rc = store_rc_of(rc);
}

/* store_now_us - a monotonic clock in microseconds */
static int64_t store_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* store_bucket - the histogram bucket of v */
static size_t store_bucket(const double *bounds, double v)
{
    size_t i = 0;

    while (i < STORE_HIST_BUCKETS - 1 && v > bounds[i])
        i++;
    return i;
}

/* store_account - batch counters and histograms (read by the loop) */
static void store_account(struct store *s, size_t ncommits, bool synced, int64_t us)
{
    atomic_fetch_add(&s->n_batches, 1);
    if (!synced)
        return;
    atomic_fetch_add(&s->n_fsync_batches, 1);
    atomic_fetch_add(&s->n_commits, ncommits);
    atomic_fetch_add(&s->commit_us_sum, (uint64_t)us);
    atomic_fetch_add(&s->commit_hist[store_bucket(store_commit_bounds, (double)us / 1e6)], 1);
    atomic_fetch_add(&s->batch_msgs_sum, ncommits);
    atomic_fetch_add(&s->batch_hist[store_bucket(store_batch_bounds, (double)ncommits)], 1);
}

/* store_run_batch - one transaction over every operation in ops */
static void store_run_batch(struct store *s, struct store_op *ops)
{
    bool has_commit = false;
    size_t ncommits = 0;
    int rc;
    int64_t t0 = store_now_us();

    for (struct store_op *op = ops; op; op = op->next) {
        ncommits += op->kind == STORE_OP_COMMIT;
        has_commit |= op->kind == STORE_OP_COMMIT || (op->kind == STORE_OP_CALL && op->durable);
    }
    if (!has_commit)
        store_exec(s, "PRAGMA synchronous=NORMAL");
    rc = store_exec(s, "BEGIN IMMEDIATE");
    for (struct store_op *op = ops; op && rc == SQLITE_OK; op = op->next) {
        rc = store_apply(s, op);
        if (rc == SQLITE_OK && sqlite3_get_autocommit(s->db))
            rc = SQLITE_ABORT; /* SQLite rolled the transaction back */
        if (rc != SQLITE_OK)
            log_err("store", "batch failed: %s", sqlite3_errmsg(s->db));
    }
    if (rc == SQLITE_OK)
        rc = store_exec(s, "COMMIT");
    if (rc != SQLITE_OK) {
        if (!sqlite3_get_autocommit(s->db))
            sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        store_fail_batch(ops, rc);
        store_drop_posts(s, &s->posts.head);
    }
    if (!has_commit)
        store_exec(s, "PRAGMA synchronous=FULL");
    store_account(s, ncommits, has_commit, store_now_us() - t0);
}

/* store_cleanup_add - remember the content of a commit that failed */
static void store_cleanup_add(struct store *s, uint64_t msg_id)
{
    if (s->ncleanup == s->capcleanup) {
        size_t cap = s->capcleanup ? s->capcleanup * 2 : 16;
        uint64_t *n = realloc(s->cleanup, cap * sizeof(*n));
        if (n == NULL)
            return; /* the next start removes it */
        s->cleanup = n;
        s->capcleanup = cap;
    }
    s->cleanup[s->ncleanup++] = msg_id;
}

/* store_cleanup - delete content of failed commits, in a transaction of its
 * own so a full disk cannot fail the next batch; kept for later on error */
static void store_cleanup(struct store *s, struct store_op *ops)
{
    for (struct store_op *op = ops; op; op = op->next)
        if (op->kind == STORE_OP_COMMIT && op->rc != STORE_OK)
            store_cleanup_add(s, op->msg_id);
    if (s->ncleanup == 0)
        return;
    int rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    for (size_t i = 0; i < s->ncleanup && rc == SQLITE_OK; i++)
        rc = store_do_abort(s, s->cleanup[i]);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) {
        s->ncleanup = 0;
        return;
    }
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

/* store_take - wait for work; take up to DD_STORE_BATCH_MAX operations */
static struct store_op *store_take(struct store *s)
{
    struct store_op *ops;
    struct store_op **cut;
    size_t n = 0;

    pthread_mutex_lock(&s->mu);
    while (s->pending.head == NULL && !s->stop)
        pthread_cond_wait(&s->cv, &s->mu);
    ops = s->pending.head;
    for (cut = &s->pending.head; *cut && n < DD_STORE_BATCH_MAX; cut = &(*cut)->next)
        n++;
    s->pending.head = *cut;
    if (s->pending.head == NULL)
        s->pending.tail = &s->pending.head;
    *cut = NULL;
    pthread_mutex_unlock(&s->mu);
    return ops;
}

/* store_finish_batch - give commit results to the loop, free the rest */
static void store_finish_batch(struct store *s, struct store_op *ops)
{
    size_t written = 0;

    pthread_mutex_lock(&s->mu);
    while (ops) {
        struct store_op *next = ops->next;
        written += ops->len;
        if (ops->kind == STORE_OP_COMMIT || ops->kind == STORE_OP_CALL)
            store_list_push(&s->done, ops);
        else
            store_op_free(ops);
        ops = next;
    }
    if (s->resync) { /* the loop re-reads what posts would have told */
        store_list_push(&s->posts, store_op_new(STORE_OP_POST, 0));
        s->resync = false;
    }
    if (s->posts.head) {
        *s->done.tail = s->posts.head;
        s->done.tail = s->posts.tail;
        store_list_init(&s->posts);
    }
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_sub(&s->backlog, written);
    event_active(s->done_ev, EV_READ, 0);
}

/* store_thread - the storage thread: batches until told to stop */
static void *store_thread(void *arg)
{
    struct store *s = arg;

    for (;;) {
        struct store_op *ops = store_take(s);
        if (ops == NULL)
            break; /* stop, and nothing left */
        store_run_batch(s, ops);
        store_cleanup(s, ops);
        store_finish_batch(s, ops);
    }
    return NULL;
}

/* store_done_cb - on the loop: deliver commit results, then drain */
static void store_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store *s = arg;
    struct store_op *ops;
    bool committed = false;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    ops = s->done.head;
    store_list_init(&s->done);
    pthread_mutex_unlock(&s->mu);
    while (ops) {
        struct store_op *next = ops->next;
        if (ops->kind == STORE_OP_POST) {
            if (s->post_fn)
                s->post_fn(s->post_ctx, ops->data);
        } else if (ops->kind == STORE_OP_CALL) {
            if (ops->reply)
                ops->reply(ops->arg, ops->rc);
        } else {
            committed |= ops->rc == STORE_OK;
            if (ops->commit_fn)
                ops->commit_fn(ops->commit_ctx, ops->cookie, ops->rc);
            else
                s->done_fn(s->ctx, ops->cookie, ops->rc);
        }
        store_op_free(ops);
        ops = next;
    }
    if (committed && s->hook)
        s->hook(s->hook_ctx);
    if (!s->stop && atomic_load(&s->backlog) < STORE_BACKLOG_LOW && s->drain_fn)
        s->drain_fn(s->ctx);
}

/* store_submit - queue an operation for the storage thread */
static void store_submit(struct store *s, struct store_op *op)
{
    atomic_fetch_add(&s->backlog, op->len);
    pthread_mutex_lock(&s->mu);
    store_list_push(&s->pending, op);
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* store_op_new - a zeroed operation; aborts when memory is gone */
static struct store_op *store_op_new(enum store_op_kind kind, uint64_t msg_id)
{
    struct store_op *op = calloc(1, sizeof(*op));
    if (op == NULL) {
        log_err("store", "out of memory");
        abort();
    }
    op->kind = kind;
    op->msg_id = msg_id;
    return op;
}

/* store_chunk - hand a chunk of content to the storage thread */
void store_chunk(struct store *s, uint64_t msg_id, uint32_t seq, void *data, size_t len)
{
    struct store_op *op = store_op_new(STORE_OP_CHUNK, msg_id);
    op->seq = seq;
    op->data = data;
    op->len = len;
    store_submit(s, op);
}

/* store_commit - ask for a durable commit; the result comes back later */
void store_commit(struct store *s, struct store_msg *m, uint64_t cookie)
{
    struct store_op *op = store_op_new(STORE_OP_COMMIT, m->msg_id);
    op->msg = m;
    op->cookie = cookie;
    store_submit(s, op);
}

/* store_commit_to - store_commit with its own completion callback */
void store_commit_to(struct store *s, struct store_msg *m, store_commit_fn fn, void *ctx,
                     uint64_t cookie)
{
    struct store_op *op = store_op_new(STORE_OP_COMMIT, m->msg_id);
    op->msg = m;
    op->cookie = cookie;
    op->commit_fn = fn;
    op->commit_ctx = ctx;
    store_submit(s, op);
}

/* store_call - run work(s, arg) on the storage thread in the next batch;
 * reply(arg, rc) follows on the loop */
void store_call(struct store *s, store_work_fn work, store_reply_fn reply, void *arg, bool durable)
{
    struct store_op *op = store_op_new(STORE_OP_CALL, 0);
    op->work = work;
    op->reply = reply;
    op->arg = arg;
    op->durable = durable;
    store_submit(s, op);
}

/* store_prep - a cached prepared statement for sql (storage thread); the
 * cache is keyed by the address of the SQL text, so pass a constant */
sqlite3_stmt *store_prep(struct store *s, const char *sql)
{
    struct store_stmt_cache *c = &s->cache;

    for (size_t i = 0; i < c->n; i++)
        if (c->sql[i] == sql) {
            sqlite3_reset(c->st[i]);
            sqlite3_clear_bindings(c->st[i]);
            return c->st[i];
        }
    if (c->n == STORE_STMT_CACHE_MAX) {
        log_err("store", "statement cache full");
        abort();
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[c->n], NULL) !=
        SQLITE_OK) {
        log_err("store", "prepare %s: %s", sql, sqlite3_errmsg(s->db));
        return NULL;
    }
    c->sql[c->n] = sql;
    return c->st[c->n++];
}

/* store_post - storage thread: hand data (malloc'd) to the post callback on
 * the loop once this batch committed; dropped if it does not */
void store_post(struct store *s, void *data)
{
    struct store_op *op = store_op_new(STORE_OP_POST, 0);

    op->data = data;
    store_list_push(&s->posts, op);
}

/* store_set_post_fn - who gets posts; fn(ctx, NULL) means "re-read all" */
void store_set_post_fn(struct store *s, store_post_fn fn, void *ctx)
{
    s->post_fn = fn;
    s->post_ctx = ctx;
}

/* store_db - the connection, for work functions on the storage thread */
sqlite3 *store_db(struct store *s)
{
    return s->db;
}

/* store_set_commit_hook - fn(ctx) on the loop after commits succeeded */
void store_set_commit_hook(struct store *s, store_commit_hook_fn fn, void *ctx)
{
    s->hook = fn;
    s->hook_ctx = ctx;
}

/* store_get_stats - counters of the storage thread, for metrics */
void store_get_stats(const struct store *s, struct store_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->batches = atomic_load(&s->n_batches);
    st->fsync_batches = atomic_load(&s->n_fsync_batches);
    st->commits = atomic_load(&s->n_commits);
    st->commit_seconds_sum = (double)atomic_load(&s->commit_us_sum) / 1e6;
    st->batch_msgs_sum = atomic_load(&s->batch_msgs_sum);
    for (size_t i = 0; i < STORE_HIST_BUCKETS; i++) {
        st->commit_hist[i] = atomic_load(&s->commit_hist[i]);
        st->batch_hist[i] = atomic_load(&s->batch_hist[i]);
    }
    st->backlog = atomic_load(&s->backlog);
}

/* store_abort - drop the content of a message that will not be committed */
void store_abort(struct store *s, uint64_t msg_id)
{
    store_submit(s, store_op_new(STORE_OP_ABORT, msg_id));
}

/* store_backlog_high - sessions should stop reading */
bool store_backlog_high(const struct store *s)
{
    return atomic_load(&s->backlog) > DD_STORE_BACKLOG_MAX;
}

/* store_new_msg_id - next unused message id (loop thread) */
uint64_t store_new_msg_id(struct store *s)
{
    return s->next_id++;
}

/* store_prepare - every statement the thread runs */
static int store_prepare(struct store *s)
{
    static const struct {
        size_t off;
        const char *sql;
    } stmts[] = {
        {offsetof(struct store, st_chunk), "INSERT INTO body(msg, seq, data) VALUES (?, ?, ?)"},
        {offsetof(struct store, st_count),
         "SELECT count(*), coalesce(sum(length(data)), 0) FROM body WHERE msg = ?"},
        {offsetof(struct store, st_msg),
         "INSERT INTO message(id, queue_id, sender, message_id, size, nchunks, received,"
         " client_ip, helo, proto) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
        {offsetof(struct store, st_rcpt),
         "INSERT OR IGNORE INTO recipient(msg, rcpt, sg, queued) VALUES (?, ?, ?, ?)"},
        {offsetof(struct store, st_abort), "DELETE FROM body WHERE msg = ?"},
    };
    for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++) {
        sqlite3_stmt **st = (sqlite3_stmt **)((char *)s + stmts[i].off);
        if (sqlite3_prepare_v3(s->db, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL) !=
            SQLITE_OK)
            return -1;
    }
    return 0;
}

/* store_open_db - open, configure, migrate and recover the database */
static int store_open_db(struct store *s, const char *data_dir, char *err, size_t errlen)
{
    if (store_db_open(data_dir, &s->db, &s->next_id, err, errlen) < 0)
        return -1;
    if (store_prepare(s) < 0) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(s->db));
        return -1;
    }
    return 0;
}

/* store_open - open the store and start its thread */
struct store *store_open(const char *data_dir, struct event_base *base, store_commit_fn done,
                         store_drain_fn drain, void *ctx, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    store_list_init(&s->pending);
    store_list_init(&s->done);
    store_list_init(&s->posts);
    s->done_fn = done;
    s->drain_fn = drain;
    s->ctx = ctx;
    if (store_open_db(s, data_dir, err, errlen) < 0)
        return store_close(s);
    s->done_ev = event_new(base, -1, 0, store_done_cb, s);
    if (s->done_ev == NULL || pthread_create(&s->thread, NULL, store_thread, s) != 0) {
        snprintf(err, errlen, "cannot start the storage thread: %s", strerror(errno));
        return store_close(s);
    }
    s->thread_started = true;
    return s;
}

/* store_close - drain, stop the thread, close the database */
struct store *store_close(struct store *s)
{
    if (s == NULL)
        return NULL;
    if (s->thread_started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        store_done_cb(-1, 0, s); /* the last results: their owners free their state */
    }
    for (struct store_op *op = s->done.head, *next; op; op = next) {
        next = op->next;
        store_op_free(op);
    }
    sqlite3_stmt *sts[] = {s->st_chunk, s->st_count, s->st_msg, s->st_rcpt, s->st_abort};
    for (size_t i = 0; i < sizeof(sts) / sizeof(sts[0]); i++)
        sqlite3_finalize(sts[i]);
    for (size_t i = 0; i < s->cache.n; i++)
        sqlite3_finalize(s->cache.st[i]);
    if (s->db)
        sqlite3_close(s->db);
    if (s->done_ev)
        event_free(s->done_ev);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->cleanup);
    free(s);
    return NULL;
}
