/*
 * store_int.h - the storage thread's interface for the modules of dumpster/
 *
 * Only dumpster/ speaks SQL. Its modules (queue, dumpster, resubmit) run
 * their SQL as work functions on the storage thread: store_call() queues
 * one, the thread runs it inside the next batch transaction (in a savepoint
 * of its own), and its reply runs on the loop. A durable work function makes
 * its batch fsync (synchronous=FULL) before any reply of the batch.
 */
#ifndef DD_STORE_INT_H
#define DD_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>

#include "store.h"

/* Statements the work functions may keep prepared. */
#define STORE_STMT_CACHE_MAX 128

/* On the storage thread: returns an SQLite code (SQLITE_OK or SQLITE_DONE
 * for success); any other code undoes the function's writes. */
typedef int (*store_work_fn)(struct store *s, void *arg);
/* On the loop: rc is STORE_OK when the work and its batch committed. Runs
 * also from store_close() for work still queued: free arg there. */
typedef void (*store_reply_fn)(void *arg, enum store_rc rc);

void store_call(struct store *s, store_work_fn work, store_reply_fn reply, void *arg, bool durable);

/* store_prep - a prepared statement for sql, reset and unbound; keyed by the
 * address of sql (pass a string constant). NULL on error. Storage thread. */
sqlite3_stmt *store_prep(struct store *s, const char *sql);

/* store_post - storage thread: give data (malloc'd; the store frees it
 * after the callback) to the post callback on the loop, once the batch
 * committed. If a batch fails, its posts are dropped and the callback gets
 * data NULL instead: re-read whatever the posts mirror. */
typedef void (*store_post_fn)(void *ctx, void *data);
void store_post(struct store *s, void *data);
void store_set_post_fn(struct store *s, store_post_fn fn, void *ctx);

/* store_db - the connection (storage thread only). */
sqlite3 *store_db(struct store *s);

struct queue_outcome;

/* queue_release - remove a message whose recipients are all final and that
 * the dumpster does not hold (queue.c). */
int queue_release(struct store *s, uint64_t msg_id);

/* dumpster_keep - the delivered recipients of o enter their storage group's
 * dumpster, once per group (dumpster.c). */
int dumpster_keep(struct store *s, const struct queue_outcome *o);

/* dumpster_holds - the dumpster keeps a copy of message msg_id. */
bool dumpster_holds(struct store *s, uint64_t msg_id);

#endif
