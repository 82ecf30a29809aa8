/*
 * dumpster_rcpt.c - the dumpster_rcpt table (dumpster_rcpt.h)
 */
#include <stdio.h>

#include "dumpster_rcpt.h"

/* dumpster_rcpt_read - the current row of (msg, rcpt, delivered) */
static void dumpster_rcpt_read(sqlite3_stmt *st, struct dumpster_rcpt_row *r)
{
    r->msg = (uint64_t)sqlite3_column_int64(st, 0);
    store_col_text(st, 1, r->rcpt, sizeof(r->rcpt));
    r->delivered_ms = sqlite3_column_int64(st, 2);
}

/* dumpster_rcpt_scan - every row of a bound statement to fn */
static int dumpster_rcpt_scan(struct store *s, sqlite3_stmt *st, dumpster_rcpt_fn fn, void *ctx)
{
    struct dumpster_rcpt_row r;
    int rc, go = SQLITE_OK;

    while (go == SQLITE_OK && (rc = store_step(s, st)) == SQLITE_ROW) {
        dumpster_rcpt_read(st, &r);
        go = fn(ctx, &r);
    }
    sqlite3_reset(st);
    if (go != SQLITE_OK && go != SQLITE_DONE)
        return go;
    return go == SQLITE_DONE || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_add =
    "INSERT INTO dumpster_rcpt(sg, msg, rcpt, delivered) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(sg, msg, rcpt) DO UPDATE SET delivered = max(delivered, excluded.delivered)";

/* dumpster_rcpt_add - a delivered copy */
int dumpster_rcpt_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                      int64_t delivered_ms)
{
    sqlite3_stmt *st = store_prep(s, sql_add);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, delivered_ms);
    return store_run(s, st);
}

static const char *const sql_of_item = "SELECT msg, rcpt, delivered FROM dumpster_rcpt"
                                       " WHERE sg = ? AND msg = ? ORDER BY delivered, rcpt";

/* dumpster_rcpt_of_item - the recipients of one item */
int dumpster_rcpt_of_item(struct store *s, const char *sg, uint64_t msg, dumpster_rcpt_fn fn,
                          void *ctx)
{
    sqlite3_stmt *st = store_prep(s, sql_of_item);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    return dumpster_rcpt_scan(s, st, fn, ctx);
}

static const char *const sql_delivered =
    "SELECT msg, rcpt, delivered FROM dumpster_rcpt WHERE sg = ?1 AND delivered BETWEEN ?2 AND ?3"
    " AND (delivered > ?4 OR (delivered = ?4 AND (msg > ?5 OR (msg = ?5 AND rcpt > ?6))))"
    " ORDER BY delivered, msg, rcpt LIMIT ?7";

/* dumpster_rcpt_delivered - a range by delivery time, after a cursor */
int dumpster_rcpt_delivered(struct store *s, const char *sg, int64_t start_ms, int64_t end_ms,
                            int64_t after_t, int64_t after_msg, const char *after_rcpt, int limit,
                            dumpster_rcpt_fn fn, void *ctx)
{
    sqlite3_stmt *st = store_prep(s, sql_delivered);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, start_ms);
    sqlite3_bind_int64(st, 3, end_ms);
    sqlite3_bind_int64(st, 4, after_t);
    sqlite3_bind_int64(st, 5, after_msg);
    sqlite3_bind_text(st, 6, after_rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 7, limit);
    return dumpster_rcpt_scan(s, st, fn, ctx);
}

static const char *const sql_first =
    "SELECT msg, rcpt, delivered FROM dumpster_rcpt WHERE sg = ? AND delivered < ?"
    " ORDER BY delivered, msg, rcpt LIMIT 1";

/* dumpster_rcpt_first_before - the earliest delivery before until_ms */
int dumpster_rcpt_first_before(struct store *s, const char *sg, int64_t until_ms,
                               struct dumpster_rcpt_row *out, bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_first);
    int rc;

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, until_ms);
    if ((rc = store_step(s, st)) == SQLITE_ROW) {
        dumpster_rcpt_read(st, out);
        *found = true;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_count = "SELECT count(*) FROM dumpster_rcpt WHERE sg = ? AND msg = ?";

/* dumpster_rcpt_count - rows of one item */
int dumpster_rcpt_count(struct store *s, const char *sg, uint64_t msg, int64_t *n)
{
    sqlite3_stmt *st = store_prep(s, sql_count);
    int rc;

    *n = 0;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    if ((rc = store_step(s, st)) == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static const char *const sql_delete =
    "DELETE FROM dumpster_rcpt WHERE sg = ?1 AND msg = ?2 AND (?3 IS NULL OR rcpt = ?3)";

/* dumpster_rcpt_delete - one recipient's row, or the item's */
int dumpster_rcpt_delete(struct store *s, const char *sg, uint64_t msg, const char *rcpt)
{
    sqlite3_stmt *st = store_prep(s, sql_delete);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    store_bind_opt(st, 3, rcpt != NULL, rcpt);
    return store_run(s, st);
}
