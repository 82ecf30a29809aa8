/*
 * store_priv.h - the storage thread's state, shared by its files: the
 * thread and batches (store.c), statements (store_sql.c), counters
 * (store_stats.c)
 */
#ifndef DD_STORE_PRIV_H
#define DD_STORE_PRIV_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "store_int.h"

struct store_op {
    struct store_op *next;
    store_work_fn work;
    store_reply_fn reply;
    void *arg;
    size_t bytes;
    bool durable;
    bool readonly;     /* no savepoint: store_read */
    bool lazy;         /* may wait DD_STORE_LINGER_MS for company: store_call_lazy */
    int64_t queued_us; /* when it was queued (monotonic) */
    enum store_rc rc;
};

/* A deferred post (to the loop) or after-commit function (this thread). */
struct store_later {
    struct store_later *next;
    store_post_fn post; /* NULL for an after-commit function */
    void *ctx;
    void *data;
    store_after_fn after;
};

/* The statements of every batch, prepared once (store_fixed_sql). */
enum store_fixed {
    STORE_BEGIN,
    STORE_COMMIT,
    STORE_ROLLBACK,
    STORE_SYNC_NORMAL,
    STORE_SYNC_FULL,
    STORE_SP_BEGIN,
    STORE_SP_RELEASE,
    STORE_SP_UNDO,
    STORE_FREE_PAGES, /* the database's free pages, in octets */
    STORE_FIXED_N
};

struct store_stmt_cache {
    const char *sql[STORE_STMT_CACHE_MAX];
    sqlite3_stmt *st[STORE_STMT_CACHE_MAX];
    size_t n;
};

struct store {
    sqlite3 *db;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct store_op *pending, **pending_tail; /* loop -> thread */
    size_t pending_eager;                     /* of them, not lazy */
    size_t pending_n;                         /* all of them */
    int64_t linger_us;                        /* how long lazy work waits */
    struct store_op *done, **done_tail;       /* thread -> loop */
    struct store_later *posts, **posts_tail;  /* thread -> loop, ahead of done */
    bool stop;
    _Atomic size_t backlog; /* bytes of queued work, not yet written */
    struct event *done_ev;
    store_drain_fn drain_fn;
    void *ctx;
    struct store_stmt_cache cache;           /* storage thread */
    struct store_later *later, **later_tail; /* storage thread: this batch */
    bool full_seen;                          /* storage thread: SQLITE_FULL in this batch */
    int wal_pages;                           /* storage thread: the WAL's length (store_wal.c) */
    struct {                                 /* storage thread: the data dir's room (store_wal.c) */
        char *dir;
        store_room_fn fn;
        void *ctx;
        int64_t checked_ms; /* when fn was last asked (monotonic; 0: never) */
        bool roomy;         /* what it said: DD_STORE_ROOM_LOW or more free */
    } room;
    bool resync;                        /* storage thread: posts were dropped */
    sqlite3_stmt *fixed[STORE_FIXED_N]; /* storage thread: enum store_fixed */
    _Atomic uint64_t reusable;          /* what STORE_FREE_PAGES said after the last batch */
    store_fault_fn fault;
    void *fault_ctx;
    struct {
        store_post_fn fn;
        void *ctx;
    } resyncs[STORE_RESYNC_MAX];
    size_t nresyncs;
    _Atomic uint64_t n_batches, n_commits, n_fsync_batches;
    _Atomic uint64_t commit_us_sum, batch_msgs_sum;
    _Atomic uint64_t commit_hist[STORE_HIST_BUCKETS];
    _Atomic uint64_t batch_hist[STORE_HIST_BUCKETS];
};

/* store_fault_check - what the fault hook says of sql (SQLITE_OK: run it) */
static inline int store_fault_check(struct store *s, const char *sql)
{
    return s->fault ? s->fault(s->fault_ctx, sql) : SQLITE_OK;
}

/* store_ok - an SQLite code that means success */
static inline bool store_ok(int rc)
{
    return rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW;
}

/* the WAL's checkpoints (store_wal.c) */
void store_wal_watch(struct store *s, const char *data_dir);
void store_wal_unwatch(struct store *s);
void store_wal_checkpoint(struct store *s);
void store_wal_truncate(struct store *s);

/* store_drop_later - the batch's deferred entries after mark are dropped:
 * after functions told so, posts freed, a resync due (store_later.c) */
void store_drop_later(struct store *s, struct store_later **mark);

/* store_account - batch counters and histograms (store_stats.c) */
void store_account(struct store *s, size_t ndurable, int64_t us);

#endif
