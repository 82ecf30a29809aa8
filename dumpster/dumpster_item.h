/*
 * dumpster_item.h - the dumpster_item table: one item per (storage group,
 * message) kept after delivery (storage thread)
 *
 * An item holds what a resubmission needs of its message besides the
 * content (which stays in message_body while the item holds it); its
 * recipients are rows of dumpster_rcpt.
 */
#ifndef DD_DUMPSTER_ITEM_H
#define DD_DUMPSTER_ITEM_H

#include <stdbool.h>
#include <stdint.h>

#include "bounds.h"
#include "store_int.h"

struct dumpster_item_row {
    uint64_t msg;
    char queue_id[DD_QUEUEID_LEN + 1];
    char message_id[DD_MSGID_MAX + 1]; /* "" when the message had none */
    char sender[DD_ADDR_MAX + 2];
    uint64_t size;
    int64_t received_ms;
};

/* Called per item: SQLITE_OK goes on, SQLITE_DONE stops, else an error. */
typedef int (*dumpster_item_fn)(void *ctx, const struct dumpster_item_row *it);

/* dumpster_item_insert - a new item of sg. */
int dumpster_item_insert(struct store *s, const char *sg, const struct dumpster_item_row *it);

/* dumpster_item_get - one item; *found false when sg does not keep msg. */
int dumpster_item_get(struct store *s, const char *sg, uint64_t msg, struct dumpster_item_row *out,
                      bool *found);

/* dumpster_item_oldest - the item of sg received first other than except
 * (0: none; message ids start at 1); *found false when there is none. */
int dumpster_item_oldest(struct store *s, const char *sg, uint64_t except,
                         struct dumpster_item_row *out, bool *found);

/* dumpster_item_received - items of sg received in [start, end] after
 * (after_t, after_msg) in (received, msg) order, at most limit. */
int dumpster_item_received(struct store *s, const char *sg, int64_t start_ms, int64_t end_ms,
                           int64_t after_t, int64_t after_msg, int limit, dumpster_item_fn fn,
                           void *ctx);

/* dumpster_item_delete - the item leaves. */
int dumpster_item_delete(struct store *s, const char *sg, uint64_t msg);

#endif
