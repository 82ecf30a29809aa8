/*
 * dumpster_rcpt.h - the dumpster_rcpt table: an item's recipients, each
 * with the time the mailbox accepted its copy (storage thread)
 *
 * A row per (storage group, message, recipient) as queued: a resubmission
 * uses the same envelope, so the address is kept exactly (a quoted local
 * part may hold a comma or a blank).
 */
#ifndef DD_DUMPSTER_RCPT_H
#define DD_DUMPSTER_RCPT_H

#include <stdbool.h>
#include <stdint.h>

#include "bounds.h"
#include "store_int.h"

struct dumpster_rcpt_row {
    uint64_t msg;
    char rcpt[DD_ADDR_MAX + 2];
    int64_t delivered_ms;
};

/* Called per row: SQLITE_OK goes on, SQLITE_DONE stops, else an error. */
typedef int (*dumpster_rcpt_fn)(void *ctx, const struct dumpster_rcpt_row *r);

/* dumpster_rcpt_add - rcpt's copy of msg was delivered at delivered_ms
 * (a later delivery of the same copy moves the time on). */
int dumpster_rcpt_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                      int64_t delivered_ms);

/* dumpster_rcpt_of_item - the recipients of an item, by (delivered, rcpt). */
int dumpster_rcpt_of_item(struct store *s, const char *sg, uint64_t msg, dumpster_rcpt_fn fn,
                          void *ctx);

/* dumpster_rcpt_delivered - rows of sg delivered in [start, end] after
 * (after_t, after_msg, after_rcpt) in (delivered, msg, rcpt) order, at
 * most limit. */
int dumpster_rcpt_delivered(struct store *s, const char *sg, int64_t start_ms, int64_t end_ms,
                            int64_t after_t, int64_t after_msg, const char *after_rcpt, int limit,
                            dumpster_rcpt_fn fn, void *ctx);

/* dumpster_rcpt_first_before - the row of sg delivered first, if before
 * until_ms (*found false otherwise). */
int dumpster_rcpt_first_before(struct store *s, const char *sg, int64_t until_ms,
                               struct dumpster_rcpt_row *out, bool *found);

/* dumpster_rcpt_count - the rows of an item. */
int dumpster_rcpt_count(struct store *s, const char *sg, uint64_t msg, int64_t *n);

/* dumpster_rcpt_delete - one row (rcpt) or every row (rcpt NULL) of an item. */
int dumpster_rcpt_delete(struct store *s, const char *sg, uint64_t msg, const char *rcpt);

#endif
