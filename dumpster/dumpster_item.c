/*
 * dumpster_item.c - the dumpster_item table (dumpster_item.h)
 */
#include <stdio.h>

#include "dumpster_item.h"

#define ITEM_COLS "msg, queue_id, coalesce(message_id, ''), sender, size, received"

/* dumpster_item_read - the current row of a query over ITEM_COLS */
static void dumpster_item_read(sqlite3_stmt *st, struct dumpster_item_row *it)
{
    it->msg = (uint64_t)sqlite3_column_int64(st, 0);
    store_col_text(st, 1, it->queue_id, sizeof(it->queue_id));
    store_col_text(st, 2, it->message_id, sizeof(it->message_id));
    store_col_text(st, 3, it->sender, sizeof(it->sender));
    it->size = (uint64_t)sqlite3_column_int64(st, 4);
    it->received_ms = sqlite3_column_int64(st, 5);
}

/* dumpster_item_scan - every row of a bound statement to fn */
static int dumpster_item_scan(struct store *s, sqlite3_stmt *st, dumpster_item_fn fn, void *ctx)
{
    struct dumpster_item_row it;
    int rc, go = SQLITE_OK;

    while (go == SQLITE_OK && (rc = store_step(s, st)) == SQLITE_ROW) {
        dumpster_item_read(st, &it);
        go = fn(ctx, &it);
    }
    sqlite3_reset(st);
    if (go != SQLITE_OK && go != SQLITE_DONE)
        return go;
    return go == SQLITE_DONE || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* dumpster_item_one - the first row of a bound statement, if any */
static int dumpster_item_one(struct store *s, sqlite3_stmt *st, struct dumpster_item_row *out,
                             bool *found)
{
    int rc = store_step(s, st);

    *found = rc == SQLITE_ROW;
    if (*found)
        dumpster_item_read(st, out);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_insert =
    "INSERT INTO dumpster_item(sg, msg, queue_id, message_id, sender, size, received)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)";

/* dumpster_item_insert - a new item */
int dumpster_item_insert(struct store *s, const char *sg, const struct dumpster_item_row *it)
{
    sqlite3_stmt *st = store_prep(s, sql_insert);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)it->msg);
    sqlite3_bind_text(st, 3, it->queue_id, -1, SQLITE_STATIC);
    store_bind_opt(st, 4, it->message_id[0] != 0, it->message_id);
    sqlite3_bind_text(st, 5, it->sender, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)it->size);
    sqlite3_bind_int64(st, 7, it->received_ms);
    return store_run(s, st);
}

static const char *const sql_get =
    "SELECT " ITEM_COLS " FROM dumpster_item WHERE sg = ? AND msg = ?";

/* dumpster_item_get - one item */
int dumpster_item_get(struct store *s, const char *sg, uint64_t msg, struct dumpster_item_row *out,
                      bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_get);

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    return dumpster_item_one(s, st, out, found);
}

static const char *const sql_oldest =
    "SELECT " ITEM_COLS " FROM dumpster_item WHERE sg = ? ORDER BY received, msg LIMIT 1";

/* dumpster_item_oldest - received first */
int dumpster_item_oldest(struct store *s, const char *sg, struct dumpster_item_row *out,
                         bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_oldest);

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    return dumpster_item_one(s, st, out, found);
}

static const char *const sql_received =
    "SELECT " ITEM_COLS " FROM dumpster_item WHERE sg = ?1 AND received BETWEEN ?2 AND ?3"
    " AND (received > ?4 OR (received = ?4 AND msg > ?5)) ORDER BY received, msg LIMIT ?6";

/* dumpster_item_received - a range by received time, after a cursor */
int dumpster_item_received(struct store *s, const char *sg, int64_t start_ms, int64_t end_ms,
                           int64_t after_t, int64_t after_msg, int limit, dumpster_item_fn fn,
                           void *ctx)
{
    sqlite3_stmt *st = store_prep(s, sql_received);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, start_ms);
    sqlite3_bind_int64(st, 3, end_ms);
    sqlite3_bind_int64(st, 4, after_t);
    sqlite3_bind_int64(st, 5, after_msg);
    sqlite3_bind_int(st, 6, limit);
    return dumpster_item_scan(s, st, fn, ctx);
}

static const char *const sql_delete = "DELETE FROM dumpster_item WHERE sg = ? AND msg = ?";

/* dumpster_item_delete - an item leaves */
int dumpster_item_delete(struct store *s, const char *sg, uint64_t msg)
{
    sqlite3_stmt *st = store_prep(s, sql_delete);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    return store_run(s, st);
}
