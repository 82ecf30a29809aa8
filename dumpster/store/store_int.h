/*
 * store_int.h - the storage thread's interface for the modules of dumpster/
 *
 * Only dumpster/ speaks SQL. Its modules run their SQL as work functions on
 * the storage thread: store_call() queues one, the thread runs it inside
 * the next batch transaction, in a savepoint of its own (its failure undoes
 * only its own writes), and its reply runs on the loop. A durable work
 * function makes its batch fsync (synchronous=FULL) before any reply of
 * the batch.
 *
 * What must not happen unless the batch commits is deferred: store_post()
 * hands data to the loop, store_after() runs a function on the storage
 * thread, store_log() writes a log line; all three only once the batch
 * committed, and all three are dropped with the work function that made
 * them when it or its batch fails.
 */
#ifndef DD_STORE_INT_H
#define DD_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* On the storage thread: returns an SQLite code (SQLITE_OK, SQLITE_DONE
 * or SQLITE_ROW for success); any other code undoes the function's writes. */
typedef int (*store_work_fn)(struct store *s, void *arg);
/* On the loop: rc is STORE_OK when the work and its batch committed. Runs
 * also from store_close() for work still queued: free arg there. */
typedef void (*store_reply_fn)(void *arg, enum store_rc rc);

/* store_call - queue work(s, arg); reply(arg, rc) follows on the loop.
 * bytes: what arg holds of content, counted in the backlog until written. */
void store_call(struct store *s, store_work_fn work, store_reply_fn reply, void *arg, bool durable);
void store_call_bytes(struct store *s, store_work_fn work, store_reply_fn reply, void *arg,
                      bool durable, size_t bytes);

/* store_call_lazy - store_call for work that need not be written at once
 * (delivery outcomes): alone in the queue it waits up to
 * DD_STORE_LINGER_MS for other work to share its transaction, and goes at
 * once with the first work that may not wait. Never durable. */
void store_call_lazy(struct store *s, store_work_fn work, store_reply_fn reply, void *arg);

/* store_set_linger - how long lazy work waits (ms; DD_STORE_LINGER_MS
 * unless set; 0: it goes at once). Before store_start(). */
void store_set_linger(struct store *s, int ms);

/* store_read - store_call for work that writes nothing (reads, and state
 * of its own in memory): it runs without a savepoint, as there is nothing
 * of its to undo when it fails. */
void store_read(struct store *s, store_work_fn work, store_reply_fn reply, void *arg);

/* store_run_now - before store_start() only: run work at once on the
 * calling thread in a transaction of its own. Returns its SQLite code. */
int store_run_now(struct store *s, store_work_fn work, void *arg);

/* store_prep - a prepared statement for sql, reset and unbound; keyed by the
 * address of sql (pass a string constant). NULL on error. Storage thread. */
sqlite3_stmt *store_prep(struct store *s, const char *sql);

/* store_step - sqlite3_step() through the fault hook. */
int store_step(struct store *s, sqlite3_stmt *st);

/* store_run - step a statement that returns no row (or whose first row is
 * of no interest) and reset it: SQLITE_OK or the error. */
int store_run(struct store *s, sqlite3_stmt *st);

/*
 * Statement helpers (store_sql.c). fmt has one letter per parameter: i
 * int64_t, u uint64_t, d int, t text, o text or NULL, b blob (pointer,
 * size_t); texts and blobs are not copied.
 */
/* store_bind - the cached statement of sql (a constant), bound; NULL on error */
sqlite3_stmt *store_bind(struct store *s, const char *sql, const char *fmt, ...);
/* store_do - bind and run; SQLITE_OK or the error */
int store_do(struct store *s, const char *sql, const char *fmt, ...);
/* store_get_int - the first column of the first row into *out (0: no row) */
int store_get_int(struct store *s, int64_t *out, const char *sql, const char *fmt, ...);
/* Called per row: SQLITE_OK goes on, SQLITE_DONE stops, else an error. */
typedef int (*store_row_fn)(void *ctx, sqlite3_stmt *st);
/* store_each - fn for every row of st (NULL: a failed prepare), then reset */
int store_each(struct store *s, sqlite3_stmt *st, store_row_fn fn, void *ctx);
/* store_first - read(out, st) for the first row, if any; *found */
int store_first(struct store *s, sqlite3_stmt *st, store_row_fn read, void *out, bool *found);
/* store_ids - the first column of st's rows into ids[0..max), *n of them */
int store_ids(struct store *s, sqlite3_stmt *st, uint64_t *ids, size_t max, size_t *n);

/* store_changes - rows the last statement changed. */
int64_t store_changes(struct store *s);

/* store_last_id - the rowid of the last INSERT. */
int64_t store_last_id(struct store *s);

/* store_col_text - copy text column i of st into dst[cap] ("" for NULL);
 * returns whether it was not NULL. */
bool store_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap);

/* store_rc_of - an SQLite code as a store result. */
enum store_rc store_rc_of(int rc);

/* Posts: fn(ctx, data) on the loop once the batch committed; data is
 * malloc'd and freed by the store after the call. */
typedef void (*store_post_fn)(void *ctx, void *data);
void store_post(struct store *s, store_post_fn fn, void *ctx, void *data);

/* store_on_resync - fn(ctx, NULL) on the loop after a batch whose posts
 * were dropped: re-read whatever the posts mirror. */
void store_on_resync(struct store *s, store_post_fn fn, void *ctx);

/* After-commit work on the storage thread: fn(arg, true) once the batch
 * committed, fn(arg, false) when it is dropped; fn frees arg. */
typedef void (*store_after_fn)(void *arg, bool committed);
void store_after(struct store *s, store_after_fn fn, void *arg);

/* store_log - a log line (tag, printf format) written once the batch
 * committed. */
void store_log(struct store *s, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* store_db - the connection (storage thread, or before store_start). */
sqlite3 *store_db(struct store *s);

#endif
