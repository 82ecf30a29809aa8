/*
 * store.c - the storage thread: group commit of work functions into SQLite
 * (WAL, synchronous=FULL)
 *
 * The loop queues work functions under a mutex; the storage thread takes
 * all that wait, runs each in a savepoint of the one batch transaction and
 * fsyncs once, then hands the replies back through an event the loop runs.
 * A batch with no durable work in it is written with synchronous=NORMAL:
 * its writes need no fsync, the next durable batch's fsync covers them (the
 * WAL is written in order). What a work function defers (posts, after-
 * commit functions, log lines) lives in one list per batch and is kept or
 * dropped with it (store_later.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "store_db.h"
#include "store_int.h"
#include "store_priv.h"

#define STORE_BACKLOG_LOW (DD_STORE_BACKLOG_MAX / 2)

/* store_rc_of - map an SQLite result to a store result */
enum store_rc store_rc_of(int rc)
{
    return rc == SQLITE_FULL ? STORE_E_FULL : STORE_E_IO;
}

static const char *const store_fixed_sql[STORE_FIXED_N] = {
    [STORE_BEGIN] = "BEGIN IMMEDIATE",
    [STORE_COMMIT] = "COMMIT",
    [STORE_ROLLBACK] = "ROLLBACK",
    [STORE_SYNC_NORMAL] = "PRAGMA synchronous=NORMAL",
    [STORE_SYNC_FULL] = "PRAGMA synchronous=FULL",
    [STORE_SP_BEGIN] = "SAVEPOINT work",
    [STORE_SP_RELEASE] = "RELEASE work",
    [STORE_SP_UNDO] = "ROLLBACK TO work",
    [STORE_FREE_PAGES] = ("SELECT (SELECT freelist_count FROM pragma_freelist_count) * "
                          "(SELECT page_size FROM pragma_page_size)"),
};

/* store_fixed_run - one of the batch statements, unchecked */
static int store_fixed_run(struct store *s, enum store_fixed which)
{
    int rc = sqlite3_step(s->fixed[which]);

    sqlite3_reset(s->fixed[which]);
    return store_ok(rc) ? SQLITE_OK : rc;
}

/* store_exec - a batch statement through the fault hook; failures logged */
static int store_exec(struct store *s, enum store_fixed which)
{
    int rc = store_fault_check(s, store_fixed_sql[which]);

    if (rc == SQLITE_OK)
        rc = store_fixed_run(s, which);
    if (rc != SQLITE_OK)
        log_err("store", "%s: %s", store_fixed_sql[which], sqlite3_errstr(rc));
    return rc;
}

/* store_savepoint - run one savepoint statement through the fault hook */
static int store_savepoint(struct store *s, enum store_fixed which)
{
    return store_run(s, s->fixed[which]);
}

/* store_do_call - a work function in a savepoint of its own (a reader
 * without one) */
static int store_do_call(struct store *s, struct store_op *op)
{
    struct store_later **mark = s->later_tail;
    int rc = op->readonly ? SQLITE_OK : store_savepoint(s, STORE_SP_BEGIN);

    if (rc != SQLITE_OK)
        return rc;
    rc = op->work(s, op->arg);
    if (store_ok(rc) && (op->readonly || (rc = store_savepoint(s, STORE_SP_RELEASE)) == SQLITE_OK))
        return SQLITE_OK;
    log_err("store", "work failed: %s", sqlite3_errstr(rc));
    s->full_seen |= rc == SQLITE_FULL;
    store_drop_later(s, mark);
    if (!op->readonly && !sqlite3_get_autocommit(s->db)) {
        store_fixed_run(s, STORE_SP_UNDO);
        store_fixed_run(s, STORE_SP_RELEASE);
    }
    op->rc = store_rc_of(rc);
    return SQLITE_OK; /* this work failed; the batch goes on */
}

/* store_fail_batch - the transaction is lost: every work in it failed */
static void store_fail_batch(struct store *s, struct store_op *ops, int rc)
{
    for (struct store_op *op = ops; op; op = op->next)
        if (op->rc == STORE_OK)
            op->rc = store_rc_of(rc);
    store_drop_later(s, &s->later);
}

/* store_run_after - the batch committed: after-commit functions now */
static void store_run_after(struct store *s)
{
    struct store_later **keep = &s->later;

    while (*keep) {
        struct store_later *l = *keep;
        if (l->post) {
            keep = &l->next;
            continue;
        }
        *keep = l->next;
        l->after(l->data, true);
        free(l);
    }
    s->later_tail = keep;
}

/* store_run_batch - one transaction over every operation in ops */
static void store_run_batch(struct store *s, struct store_op *ops)
{
    size_t ndurable = 0;
    int64_t t0 = clock_mono_us();
    int rc;

    for (struct store_op *op = ops; op; op = op->next)
        ndurable += op->durable;
    if (ndurable == 0)
        store_fixed_run(s, STORE_SYNC_NORMAL);
    rc = store_exec(s, STORE_BEGIN);
    for (struct store_op *op = ops; op && rc == SQLITE_OK; op = op->next) {
        rc = store_do_call(s, op);
        if (rc == SQLITE_OK && sqlite3_get_autocommit(s->db))
            rc = SQLITE_ABORT; /* SQLite rolled the transaction back */
    }
    if (rc == SQLITE_OK)
        rc = store_exec(s, STORE_COMMIT);
    if (rc != SQLITE_OK) {
        log_err("store", "batch failed: %s", sqlite3_errstr(rc));
        if (!sqlite3_get_autocommit(s->db))
            store_fixed_run(s, STORE_ROLLBACK);
        store_fail_batch(s, ops, rc);
    } else {
        store_run_after(s);
    }
    if (rc == SQLITE_FULL || s->full_seen)
        store_wal_truncate(s);
    s->full_seen = false;
    if (ndurable == 0)
        store_fixed_run(s, STORE_SYNC_FULL);
    store_account(s, rc == SQLITE_OK ? ndurable : 0, clock_mono_us() - t0);
}

/* store_linger_until - with s->mu held: until when the pending work may
 * wait for more (monotonic µs), or 0 when it goes now (work that may not
 * wait, a full batch, stopping, or the first lazy work's time is up) */
static int64_t store_linger_until(const struct store *s)
{
    if (s->stop || s->pending_eager > 0 || s->pending_n >= DD_STORE_BATCH_MAX)
        return 0;
    int64_t until = s->pending->queued_us + s->linger_us;
    return until > clock_mono_us() ? until : 0;
}

/* store_wait_until - with s->mu held: wait for a signal or until us (the
 * condition variable runs on CLOCK_MONOTONIC, as clock_mono_us does) */
static void store_wait_until(struct store *s, int64_t us)
{
    struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = (us % 1000000) * 1000};

    pthread_cond_timedwait(&s->cv, &s->mu, &ts);
}

/* store_take - wait for work (lazy work alone: until it is due or other
 * work comes); take up to DD_STORE_BATCH_MAX operations and
 * DD_STORE_BATCH_BYTES of content (at least one operation) */
static struct store_op *store_take(struct store *s)
{
    struct store_op *ops, **cut;
    size_t n = 0, bytes = 0;
    int64_t until;

    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (s->pending == NULL && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (s->pending == NULL || (until = store_linger_until(s)) == 0)
            break;
        store_wait_until(s, until);
    }
    ops = s->pending;
    for (cut = &s->pending; *cut && n < DD_STORE_BATCH_MAX; cut = &(*cut)->next) {
        if (n > 0 && bytes + (*cut)->bytes > DD_STORE_BATCH_BYTES)
            break;
        bytes += (*cut)->bytes;
        s->pending_eager -= !(*cut)->lazy;
        n++;
    }
    s->pending_n -= n;
    s->pending = *cut;
    if (s->pending == NULL)
        s->pending_tail = &s->pending;
    *cut = NULL;
    pthread_mutex_unlock(&s->mu);
    return ops;
}

/* store_resync_posts - one "re-read" post per mirror after dropped posts */
static void store_resync_posts(struct store *s)
{
    for (size_t i = 0; i < s->nresyncs; i++) {
        struct store_later *l = calloc(1, sizeof(*l));
        if (l == NULL)
            abort();
        l->post = s->resyncs[i].fn;
        l->ctx = s->resyncs[i].ctx;
        *s->posts_tail = l;
        s->posts_tail = &l->next;
    }
    s->resync = false;
}

/* store_finish_batch - hand replies and posts to the loop */
static void store_finish_batch(struct store *s, struct store_op *ops)
{
    size_t written = 0;

    pthread_mutex_lock(&s->mu);
    if (s->later) { /* only posts are left in it */
        *s->posts_tail = s->later;
        s->posts_tail = s->later_tail;
        s->later = NULL;
        s->later_tail = &s->later;
    }
    if (s->resync)
        store_resync_posts(s);
    for (struct store_op *op = ops; op; op = op->next)
        written += op->bytes;
    *s->done_tail = ops;
    while (*s->done_tail)
        s->done_tail = &(*s->done_tail)->next;
    pthread_mutex_unlock(&s->mu);
    atomic_fetch_sub(&s->backlog, written);
    event_active(s->done_ev, EV_READ, 0);
}

/* store_reusable_bytes - free pages inside the database file (new content
 * reuses them before the file grows), as of the last batch */
uint64_t store_reusable_bytes(const struct store *s)
{
    return atomic_load(&s->reusable);
}

/* store_note_reusable - storage thread (or before it starts): count them */
static void store_note_reusable(struct store *s)
{
    sqlite3_stmt *st = s->fixed[STORE_FREE_PAGES];

    if (sqlite3_step(st) == SQLITE_ROW)
        atomic_store(&s->reusable, (uint64_t)sqlite3_column_int64(st, 0));
    sqlite3_reset(st);
}

/* store_thread - the storage thread: batches until told to stop */
static void *store_thread(void *arg)
{
    struct store *s = arg;
    struct store_op *ops;

    while ((ops = store_take(s)) != NULL) {
        store_run_batch(s, ops);
        store_note_reusable(s); /* before the replies: a MAIL after them sees it */
        store_finish_batch(s, ops);
        store_wal_checkpoint(s); /* after the replies: off their path */
    }
    return NULL;
}

/* store_done_cb - on the loop: posts, then replies, then drain */
static void store_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct store *s = arg;
    struct store_op *ops;
    struct store_later *posts;

    (void)fd;
    (void)what;
    pthread_mutex_lock(&s->mu);
    ops = s->done;
    posts = s->posts;
    s->done = NULL;
    s->done_tail = &s->done;
    s->posts = NULL;
    s->posts_tail = &s->posts;
    pthread_mutex_unlock(&s->mu);
    while (posts) {
        struct store_later *next = posts->next;
        posts->post(posts->ctx, posts->data);
        free(posts->data);
        free(posts);
        posts = next;
    }
    while (ops) {
        struct store_op *next = ops->next;
        if (ops->reply)
            ops->reply(ops->arg, ops->rc);
        free(ops);
        ops = next;
    }
    if (!s->stop && atomic_load(&s->backlog) < STORE_BACKLOG_LOW && s->drain_fn)
        s->drain_fn(s->ctx);
}

/* store_queue - queue op for the storage thread */
static void store_queue(struct store *s, struct store_op *op)
{
    atomic_fetch_add(&s->backlog, op->bytes);
    op->queued_us = clock_mono_us();
    pthread_mutex_lock(&s->mu);
    *s->pending_tail = op;
    s->pending_tail = &op->next;
    s->pending_n++;
    s->pending_eager += !op->lazy;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* store_new_op - an operation of work, reply and arg */
static struct store_op *store_new_op(store_work_fn work, store_reply_fn reply, void *arg)
{
    struct store_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("store", "out of memory");
        abort();
    }
    op->work = work;
    op->reply = reply;
    op->arg = arg;
    return op;
}

/* store_call_bytes - queue work for the storage thread */
void store_call_bytes(struct store *s, store_work_fn work, store_reply_fn reply, void *arg,
                      bool durable, size_t bytes)
{
    struct store_op *op = store_new_op(work, reply, arg);

    op->durable = durable;
    op->bytes = bytes;
    store_queue(s, op);
}

/* store_call - queue work without content */
void store_call(struct store *s, store_work_fn work, store_reply_fn reply, void *arg, bool durable)
{
    store_call_bytes(s, work, reply, arg, durable, 0);
}

/* store_call_lazy - queue work that may wait for company */
void store_call_lazy(struct store *s, store_work_fn work, store_reply_fn reply, void *arg)
{
    struct store_op *op = store_new_op(work, reply, arg);

    op->lazy = true;
    store_queue(s, op);
}

/* store_set_linger - see store_int.h */
void store_set_linger(struct store *s, int ms)
{
    s->linger_us = (int64_t)ms * 1000;
}

/* store_read - queue work that writes nothing */
void store_read(struct store *s, store_work_fn work, store_reply_fn reply, void *arg)
{
    struct store_op *op = store_new_op(work, reply, arg);

    op->readonly = true;
    store_queue(s, op);
}

/* store_run_now - startup work on the calling thread, in its own transaction */
int store_run_now(struct store *s, store_work_fn work, void *arg)
{
    int rc;

    if (s->thread_started)
        abort(); /* the storage thread owns the connection now */
    if ((rc = sqlite3_exec(s->db, "BEGIN IMMEDIATE", NULL, NULL, NULL)) != SQLITE_OK)
        return rc;
    rc = work(s, arg);
    if (store_ok(rc))
        rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        store_run_after(s);
    else
        store_drop_later(s, &s->later);
    return rc;
}

/* store_db - the connection, for work functions */
sqlite3 *store_db(struct store *s)
{
    return s->db;
}

/* store_set_fault - the tests' fault hook */
void store_set_fault(struct store *s, store_fault_fn fn, void *ctx)
{
    s->fault = fn;
    s->fault_ctx = ctx;
}

/* store_backlog_high - sessions should stop reading */
bool store_backlog_high(const struct store *s)
{
    return atomic_load(&s->backlog) > DD_STORE_BACKLOG_MAX;
}

/* store_prep_fixed - the statements of every batch, prepared once (an
 * exec would parse them again each time) */
static int store_prep_fixed(struct store *s)
{
    for (size_t i = 0; i < STORE_FIXED_N; i++)
        if (sqlite3_prepare_v3(s->db, store_fixed_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                               &s->fixed[i], NULL) != SQLITE_OK)
            return -1;
    return 0;
}

/* store_open - open the database; the thread starts later */
struct store *store_open(const char *data_dir, struct event_base *base, store_drain_fn drain,
                         void *ctx, char *err, size_t errlen)
{
    struct store *s = calloc(1, sizeof(*s));

    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->pending_tail = &s->pending;
    s->linger_us = DD_STORE_LINGER_MS * 1000;
    s->done_tail = &s->done;
    s->posts_tail = &s->posts;
    s->later_tail = &s->later;
    s->drain_fn = drain;
    s->ctx = ctx;
    if (store_db_open(data_dir, &s->db, err, errlen) < 0)
        return store_close(s);
    if (store_prep_fixed(s) < 0) {
        snprintf(err, errlen, "prepare: %s", sqlite3_errmsg(s->db));
        return store_close(s);
    }
    store_note_reusable(s);
    store_wal_watch(s, data_dir);
    if ((s->done_ev = event_new(base, -1, 0, store_done_cb, s)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return store_close(s);
    }
    return s;
}

/* store_start - the storage thread */
int store_start(struct store *s, char *err, size_t errlen)
{
    if (pthread_create(&s->thread, NULL, store_thread, s) != 0) {
        snprintf(err, errlen, "cannot start the storage thread: %s", strerror(errno));
        return -1;
    }
    s->thread_started = true;
    return 0;
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
    } else if (s->pending) { /* never started: the work fails, its owners free it */
        store_fail_batch(s, s->pending, SQLITE_ABORT);
        *s->done_tail = s->pending;
        s->pending = NULL;
    }
    if (s->done_ev)
        store_done_cb(-1, 0, s); /* the last results: their owners free their state */
    store_drop_later(s, &s->later);
    for (size_t i = 0; i < STORE_FIXED_N; i++)
        sqlite3_finalize(s->fixed[i]);
    for (size_t i = 0; i < s->cache.n; i++)
        sqlite3_finalize(s->cache.st[i]);
    if (s->db)
        sqlite3_close(s->db);
    store_wal_unwatch(s);
    if (s->done_ev)
        event_free(s->done_ev);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
    return NULL;
}
