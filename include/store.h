/*
 * store.h - the durable store: SQLite (WAL, synchronous=FULL) behind one
 * storage thread
 *
 * The event loop never touches the disk. The modules of dumpster/ hand the
 * storage thread work functions (store_int.h); the thread takes every
 * waiting one into one transaction (group commit), fsyncs once when any of
 * them asked for durability, and then runs their replies on the loop. This
 * header is what the rest of the hub sees of it: opening and closing,
 * statistics, the backlog bound, and the fault hook of the tests.
 */
#ifndef DD_STORE_H
#define DD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct event_base;
struct store; /* opaque; one owner (the hub), released with store_close() */

enum store_rc {
    STORE_OK = 0,
    STORE_E_FULL,   /* disk or database full */
    STORE_E_IO,     /* any other store error */
    STORE_E_SHADOW, /* not the store's: the shadow copy failed (shadow_gate.h) */
};

/* Called on the loop thread when the backlog fell below its low mark. */
typedef void (*store_drain_fn)(void *ctx);

/* The file that says a data_dir held a store (store_check). */
#define STORE_MARKER "dumpsterd.db.created"

/*
 * store_check - before store_open: -1 with a message in err when
 * DATA_DIR/dumpsterd.db is 0 bytes, or missing while STORE_MARKER says the
 * data_dir held a store (SQLite would begin an empty one: the mail would be
 * gone without a word). init: the operator asks for a new store; 0.
 */
int store_check(const char *data_dir, bool init, char *err, size_t errlen);

/*
 * store_open - open or create DATA_DIR/dumpsterd.db and migrate the schema;
 * a new store writes STORE_MARKER.
 * The storage thread starts with store_start(); work queued before runs
 * then, in order. NULL with a message in err on failure.
 */
struct store *store_open(const char *data_dir, struct event_base *base, store_drain_fn drain,
                         void *ctx, char *err, size_t errlen);

/* store_start - start the storage thread. 0, or -1 with a message in err. */
int store_start(struct store *s, char *err, size_t errlen);

/* Histograms have STORE_HIST_BUCKETS buckets: the bounds below, then +Inf. */
#define STORE_HIST_BUCKETS 12
extern const double store_commit_bounds[STORE_HIST_BUCKETS - 1]; /* seconds */
extern const double store_batch_bounds[STORE_HIST_BUCKETS - 1];  /* durable works */

struct store_stats {
    uint64_t batches;       /* transactions */
    uint64_t fsync_batches; /* transactions with synchronous=FULL */
    uint64_t commits;       /* durable works committed (messages, requests, ...) */
    double commit_seconds_sum;
    uint64_t commit_hist[STORE_HIST_BUCKETS]; /* per bucket, not cumulative */
    uint64_t batch_msgs_sum;
    uint64_t batch_hist[STORE_HIST_BUCKETS];
    size_t backlog; /* octets waiting for the storage thread */
};

/* store_get_stats - a snapshot of the counters (any thread). */
void store_get_stats(const struct store *s, struct store_stats *st);

/* store_reusable_bytes - octets of free pages inside the database file, as
 * of the last batch: room new content takes before the file grows (what
 * [hub] min_free counts besides the file system's free space) */
uint64_t store_reusable_bytes(const struct store *s);

/* store_backlog_high - too many bytes wait for the storage thread: stop
 * reading until the drain callback. */
bool store_backlog_high(const struct store *s);

/*
 * The fault hook (tests): called on the storage thread before every
 * statement the store runs for a work function, and before the BEGIN and
 * COMMIT of each batch, with the statement's SQL text. A return other than
 * SQLITE_OK (0) is what the statement gives instead of running: SQLITE_FULL,
 * SQLITE_IOERR or SQLITE_BUSY play a full disk, an I/O error or a lock.
 * Set it before store_start(); NULL removes it.
 */
typedef int (*store_fault_fn)(void *ctx, const char *sql);
void store_set_fault(struct store *s, store_fault_fn fn, void *ctx);

/*
 * The room hook (tests): what the data directory's file system has free, in
 * octets, asked by the storage thread at most once a second when the WAL
 * could be checkpointed (statvfs by default). Below DD_STORE_ROOM_LOW the
 * store checkpoints every DD_STORE_CHECKPOINT_PAGES instead of every
 * DD_STORE_CHECKPOINT_PAGES_ROOMY pages. Set it before store_start(); NULL
 * restores statvfs.
 */
typedef uint64_t (*store_room_fn)(void *ctx);
void store_set_room(struct store *s, store_room_fn fn, void *ctx);

/* store_close - finish every waiting operation, stop the thread, close the
 * database. Returns NULL. */
struct store *store_close(struct store *s);

#endif
