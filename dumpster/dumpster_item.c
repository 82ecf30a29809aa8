/*
 * dumpster_item.c - the dumpster_item table (dumpster_item.h)
 */
#include <stdio.h>

#include "dumpster_item.h"

#define ITEM_COLS "msg, queue_id, coalesce(message_id, ''), sender, size, received"

/* dumpster_item_read - the current row of a query over ITEM_COLS */
static int dumpster_item_read(void *ctx, sqlite3_stmt *st)
{
    struct dumpster_item_row *it = ctx;

    it->msg = (uint64_t)sqlite3_column_int64(st, 0);
    store_col_text(st, 1, it->queue_id, sizeof(it->queue_id));
    store_col_text(st, 2, it->message_id, sizeof(it->message_id));
    store_col_text(st, 3, it->sender, sizeof(it->sender));
    it->size = (uint64_t)sqlite3_column_int64(st, 4);
    it->received_ms = sqlite3_column_int64(st, 5);
    return SQLITE_OK;
}

struct dumpster_item_walk {
    dumpster_item_fn fn;
    void *ctx;
};

/* dumpster_item_row - one row of a walk to its callback */
static int dumpster_item_row(void *ctx, sqlite3_stmt *st)
{
    struct dumpster_item_walk *w = ctx;
    struct dumpster_item_row it;

    dumpster_item_read(&it, st);
    return w->fn(w->ctx, &it);
}

static const char *const sql_insert =
    "INSERT INTO dumpster_item(sg, msg, queue_id, message_id, sender, size, received)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";

/* dumpster_item_insert - a new item */
int dumpster_item_insert(struct store *s, const char *sg, const struct dumpster_item_row *it)
{
    return store_do(s, sql_insert, "tutotui", sg, it->msg, it->queue_id,
                    it->message_id[0] ? it->message_id : NULL, it->sender, it->size,
                    it->received_ms);
}

static const char *const sql_get =
    "SELECT " ITEM_COLS " FROM dumpster_item WHERE sg = ? AND msg = ?";

/* dumpster_item_get - one item */
int dumpster_item_get(struct store *s, const char *sg, uint64_t msg, struct dumpster_item_row *out,
                      bool *found)
{
    return store_first(s, store_bind(s, sql_get, "tu", sg, msg), dumpster_item_read, out, found);
}

static const char *const sql_oldest = "SELECT " ITEM_COLS " FROM dumpster_item"
                                      " WHERE sg = ? AND msg != ? ORDER BY received, msg LIMIT 1";

/* dumpster_item_oldest - received first, but for except */
int dumpster_item_oldest(struct store *s, const char *sg, uint64_t except,
                         struct dumpster_item_row *out, bool *found)
{
    return store_first(s, store_bind(s, sql_oldest, "tu", sg, except), dumpster_item_read, out,
                       found);
}

static const char *const sql_received =
    "SELECT " ITEM_COLS " FROM dumpster_item WHERE sg = ?1 AND received BETWEEN ?2 AND ?3"
    " AND (received > ?4 OR (received = ?4 AND msg > ?5)) ORDER BY received, msg LIMIT ?6";

/* dumpster_item_received - a range by received time, after a cursor */
int dumpster_item_received(struct store *s, const char *sg, int64_t start_ms, int64_t end_ms,
                           int64_t after_t, int64_t after_msg, int limit, dumpster_item_fn fn,
                           void *ctx)
{
    struct dumpster_item_walk w = {fn, ctx};

    return store_each(
        s, store_bind(s, sql_received, "tiiiid", sg, start_ms, end_ms, after_t, after_msg, limit),
        dumpster_item_row, &w);
}

static const char *const sql_delete = "DELETE FROM dumpster_item WHERE sg = ? AND msg = ?";

/* dumpster_item_delete - an item leaves */
int dumpster_item_delete(struct store *s, const char *sg, uint64_t msg)
{
    return store_do(s, sql_delete, "tu", sg, msg);
}
