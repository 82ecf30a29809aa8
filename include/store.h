/*
 * store.h - the durable store: SQLite (WAL, synchronous=FULL) behind one
 * storage thread
 *
 * The event loop never touches the disk. Sessions hand message content to
 * the storage thread in chunks (store_chunk) while it arrives, then ask for
 * the commit (store_commit). The thread takes every waiting operation into
 * one transaction (group commit), fsyncs once, and tells the loop through
 * the completion callback; only then may the session answer 250. Content is
 * written once, keyed by a message id the loop allocates; what was never
 * committed is removed at the next start.
 */
#ifndef DD_STORE_H
#define DD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

struct event_base;
struct store; /* opaque; one owner, released with store_close() */

enum store_rc {
    STORE_OK = 0,
    STORE_E_FULL, /* disk or database full */
    STORE_E_IO,   /* any other store error */
};

struct store_rcpt {
    char addr[DD_ADDR_MAX + 2];
    char sg[DD_SG_NAME_MAX + 1];
};

/* What a committed message is, besides its content. */
struct store_msg {
    uint64_t msg_id; /* from store_new_msg_id() */
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2]; /* "" for <> */
    char *message_id;             /* Message-ID value; owned (malloc) */
    uint64_t size;                /* content octets, sum of the chunks */
    uint32_t nchunks;             /* chunks handed over, seq 0..n-1 */
    int64_t received_ms;          /* unix time in ms */
    char client_ip[64];
    char helo[DD_HELO_MAX + 1];
    char proto[16];
    struct store_rcpt *rcpts; /* owned (malloc) */
    size_t nrcpts;
};

/* Completion of store_commit(), on the loop thread. */
typedef void (*store_commit_fn)(void *ctx, uint64_t cookie, enum store_rc rc);
/* Called on the loop thread when the backlog fell below its low mark. */
typedef void (*store_drain_fn)(void *ctx);

/*
 * store_open - open or create DATA_DIR/dumpsterd.db, migrate the schema,
 * remove uncommitted content, start the storage thread. Returns NULL with a
 * message in err on failure.
 */
struct store *store_open(const char *data_dir, struct event_base *base, store_commit_fn done,
                         store_drain_fn drain, void *ctx, char *err, size_t errlen);

/* store_new_msg_id - a message id no row of this database uses. */
uint64_t store_new_msg_id(struct store *s);

/* store_chunk - append data[0..len) (malloc'd; the store takes it) as chunk
 * seq of message msg_id. Never blocks. */
void store_chunk(struct store *s, uint64_t msg_id, uint32_t seq, void *data, size_t len);

/* store_commit - commit m (the store takes m, its rcpts and message_id);
 * done(ctx, cookie, rc) follows on the loop thread. */
void store_commit(struct store *s, struct store_msg *m, uint64_t cookie);

/* store_commit_to - store_commit, with fn(ctx, cookie, rc) on completion
 * instead of the store's default callback. */
void store_commit_to(struct store *s, struct store_msg *m, store_commit_fn fn, void *ctx,
                     uint64_t cookie);

/* Called on the loop after a batch committed at least one message. */
typedef void (*store_commit_hook_fn)(void *ctx);
void store_set_commit_hook(struct store *s, store_commit_hook_fn fn, void *ctx);

/* Histograms have STORE_HIST_BUCKETS buckets: the bounds below, then +Inf. */
#define STORE_HIST_BUCKETS 12
extern const double store_commit_bounds[STORE_HIST_BUCKETS - 1]; /* seconds */
extern const double store_batch_bounds[STORE_HIST_BUCKETS - 1];  /* messages */

struct store_stats {
    uint64_t batches;       /* transactions */
    uint64_t fsync_batches; /* transactions with synchronous=FULL */
    uint64_t commits;       /* messages committed */
    double commit_seconds_sum;
    uint64_t commit_hist[STORE_HIST_BUCKETS]; /* per bucket, not cumulative */
    uint64_t batch_msgs_sum;
    uint64_t batch_hist[STORE_HIST_BUCKETS];
    size_t backlog; /* octets waiting for the storage thread */
};

/* store_get_stats - a snapshot of the counters (any thread). */
void store_get_stats(const struct store *s, struct store_stats *st);

/* store_abort - forget the chunks of a message that will not be committed. */
void store_abort(struct store *s, uint64_t msg_id);

/* store_backlog_high - too many bytes wait for the storage thread: stop
 * reading until the drain callback. */
bool store_backlog_high(const struct store *s);

/* store_close - finish every waiting operation, stop the thread, close the
 * database. Returns NULL. */
struct store *store_close(struct store *s);

#endif
