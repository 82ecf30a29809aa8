/*
 * dumpster_rcpt.c - the dumpster_rcpt table (dumpster_rcpt.h)
 */
#include <stdio.h>

#include "dumpster_rcpt.h"

/* dumpster_rcpt_read - the current row of (msg, rcpt, delivered) */
static int dumpster_rcpt_read(void *ctx, sqlite3_stmt *st)
{
    struct dumpster_rcpt_row *r = ctx;

    r->msg = (uint64_t)sqlite3_column_int64(st, 0);
    store_col_text(st, 1, r->rcpt, sizeof(r->rcpt));
    r->delivered_ms = sqlite3_column_int64(st, 2);
    return SQLITE_OK;
}

struct dumpster_rcpt_walk {
    dumpster_rcpt_fn fn;
    void *ctx;
};

/* dumpster_rcpt_row - one row of a walk to its callback */
static int dumpster_rcpt_row(void *ctx, sqlite3_stmt *st)
{
    struct dumpster_rcpt_walk *w = ctx;
    struct dumpster_rcpt_row r;

    dumpster_rcpt_read(&r, st);
    return w->fn(w->ctx, &r);
}

static const char *const sql_add =
    "INSERT INTO dumpster_rcpt(sg, msg, rcpt, delivered) VALUES (?, ?, ?, ?)"
    " ON CONFLICT(sg, msg, rcpt) DO UPDATE SET delivered = max(delivered, excluded.delivered)";

/* dumpster_rcpt_add - a delivered copy */
int dumpster_rcpt_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                      int64_t delivered_ms)
{
    return store_do(s, sql_add, "tuti", sg, msg, rcpt, delivered_ms);
}

static const char *const sql_of_item = "SELECT msg, rcpt, delivered FROM dumpster_rcpt"
                                       " WHERE sg = ? AND msg = ? ORDER BY delivered, rcpt";

/* dumpster_rcpt_of_item - the recipients of one item */
int dumpster_rcpt_of_item(struct store *s, const char *sg, uint64_t msg, dumpster_rcpt_fn fn,
                          void *ctx)
{
    struct dumpster_rcpt_walk w = {fn, ctx};

    return store_each(s, store_bind(s, sql_of_item, "tu", sg, msg), dumpster_rcpt_row, &w);
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
    struct dumpster_rcpt_walk w = {fn, ctx};

    return store_each(s,
                      store_bind(s, sql_delivered, "tiiiitd", sg, start_ms, end_ms, after_t,
                                 after_msg, after_rcpt, limit),
                      dumpster_rcpt_row, &w);
}

static const char *const sql_first =
    "SELECT msg, rcpt, delivered FROM dumpster_rcpt WHERE sg = ? AND delivered < ?"
    " ORDER BY delivered, msg, rcpt LIMIT 1";

/* dumpster_rcpt_first_before - the earliest delivery before until_ms */
int dumpster_rcpt_first_before(struct store *s, const char *sg, int64_t until_ms,
                               struct dumpster_rcpt_row *out, bool *found)
{
    return store_first(s, store_bind(s, sql_first, "ti", sg, until_ms), dumpster_rcpt_read, out,
                       found);
}

static const char *const sql_count = "SELECT count(*) FROM dumpster_rcpt WHERE sg = ? AND msg = ?";

/* dumpster_rcpt_count - rows of one item */
int dumpster_rcpt_count(struct store *s, const char *sg, uint64_t msg, int64_t *n)
{
    return store_get_int(s, n, sql_count, "tu", sg, msg);
}

static const char *const sql_delete =
    "DELETE FROM dumpster_rcpt WHERE sg = ?1 AND msg = ?2 AND (?3 IS NULL OR rcpt = ?3)";

/* dumpster_rcpt_delete - one recipient's row, or the item's */
int dumpster_rcpt_delete(struct store *s, const char *sg, uint64_t msg, const char *rcpt)
{
    return store_do(s, sql_delete, "tuo", sg, msg, rcpt);
}
