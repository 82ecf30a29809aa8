/*
 * recipient.h - the recipient table (storage thread)
 *
 * One row per (message, request, address): request 0 is the mail as it
 * was accepted, every resubmission request queues rows of its own, so two
 * requests never share (or take over) a row. A row's state is stored as
 * enum rcpt_state; RCPT_ACTIVE never is (queue.c keeps it in memory).
 * next_attempt is when a pending row is due; on a failed row it is when a
 * failure kept without a report (no route for it) stops keeping its
 * message in the store, 0 when nothing keeps it.
 */
#ifndef DD_RECIPIENT_H
#define DD_RECIPIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "queue_msg.h"
#include "queue_tally.h"
#include "store_int.h"

/* A row as the scans hand it over; pointers valid during the callback. */
struct recipient_row {
    uint64_t id, msg, request;
    const char *addr;
    enum rcpt_route route;
    const char *sg;   /* "" for the smarthost */
    const char *dest; /* override, or NULL */
    enum rcpt_state state;
    unsigned attempts;
    int64_t next_attempt_ms, queued_ms;
    const char *last_reply; /* "" before the first attempt */
};

/* Called per row: SQLITE_OK goes on, SQLITE_DONE stops the scan, anything
 * else is an SQLite error that ends it. */
typedef int (*recipient_row_fn)(void *ctx, const struct recipient_row *r);

/* The functions that make a row pending or end a pending one note it in t
 * (queue_tally.h), once their batch commits. */

/* recipient_insert - a recipient of a new message (a repeated address
 * once), with a destination override unless dest is NULL. */
int recipient_insert(struct store *s, struct queue_tally *t, uint64_t msg, int64_t queued_ms,
                     const struct queue_msg_rcpt *r, const char *dest);

/* recipient_requeue - addr of msg pending again for a resubmission request
 * (nothing when that request queued it already). */
int recipient_requeue(struct store *s, struct queue_tally *t, uint64_t msg, uint64_t request,
                      const char *addr, const char *sg, const char *dest, int64_t now_ms);

/* recipient_count - t counted again from the pending rows (the start:
 * nothing is active). */
int recipient_count(struct store *s, struct queue_tally *t);

/* recipient_due - pending rows due at now_ms, by next attempt. */
int recipient_due(struct store *s, int64_t now_ms, recipient_row_fn fn, void *ctx);

/* recipient_of_msg - the open rows of msg (of storage group sg unless NULL). */
int recipient_of_msg(struct store *s, uint64_t msg, const char *sg, recipient_row_fn fn, void *ctx);

/* recipient_open_msgs - up to max messages with an open row (of storage
 * group sg unless NULL), lowest id first, into ids[]; *n how many. */
int recipient_open_msgs(struct store *s, const char *sg, size_t max, uint64_t *ids, size_t *n);

/* recipient_open - every open row (of storage group sg unless NULL), by message. */
int recipient_open(struct store *s, const char *sg, recipient_row_fn fn, void *ctx);

/* recipient_fate - the outcome of an attempt on a pending row: state, next
 * attempt (pending), delivery time (delivered), reply. A row no longer
 * pending is left as it is. */
int recipient_fate(struct store *s, struct queue_tally *t, uint64_t id, enum rcpt_state state,
                   int64_t next_attempt_ms, int64_t delivered_ms, const char *reply);

/* recipient_fail_msg - every open row of msg failed with reason (none kept for a report). */
int recipient_fail_msg(struct store *s, struct queue_tally *t, uint64_t msg, const char *reason);

/* recipient_open_count - open rows of msg. */
int recipient_open_count(struct store *s, uint64_t msg, int64_t *n);

/* recipient_kept_count - failed rows of msg kept (next_attempt > 0). */
int recipient_kept_count(struct store *s, uint64_t msg, int64_t *n);

/* recipient_kept_due - up to max messages with a kept failed row whose time
 * is over at now_ms, into ids[]; *n how many. */
int recipient_kept_due(struct store *s, int64_t now_ms, size_t max, uint64_t *ids, size_t *n);

/* recipient_kept_end - the failed rows of msg kept until now_ms or before
 * keep it no longer. */
int recipient_kept_end(struct store *s, uint64_t msg, int64_t now_ms);

/* recipient_kept_next - the earliest end of a kept failed row, 0 when none. */
int recipient_kept_next(struct store *s, int64_t *next_ms);

/* recipient_delete_msg - every row of msg, none of them pending (the
 * caller counted: queue_release_msg), so the counts do not move. */
int recipient_delete_msg(struct store *s, uint64_t msg);

/* recipient_flush - pending rows with a later attempt due now: of storage
 * group sg (NULL: every group), or the smarthost's; *n how many. */
int recipient_flush(struct store *s, const char *sg, bool smarthost, uint64_t *n);

#endif
