/*
 * dumpster_ledger.c - the dumpster_ledger table (dumpster_ledger.h)
 */
#include "dumpster_ledger.h"

static const char *const sql_has =
    "SELECT 1 FROM dumpster_ledger WHERE sg = ? AND msg = ? AND rcpt = ? AND dest = ?";

/* dumpster_ledger_has - resent there before? */
int dumpster_ledger_has(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, bool *has)
{
    sqlite3_stmt *st = store_prep(s, sql_has);
    int rc;

    *has = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
    rc = store_step(s, st);
    *has = rc == SQLITE_ROW;
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_add = "INSERT OR REPLACE INTO dumpster_ledger(sg, msg, rcpt, dest,"
                                   " request) VALUES (?, ?, ?, ?, ?)";

/* dumpster_ledger_add - remember a resent copy */
int dumpster_ledger_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, uint64_t request)
{
    sqlite3_stmt *st = store_prep(s, sql_add);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    sqlite3_bind_text(st, 3, rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, dest, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)request);
    return store_run(s, st);
}

static const char *const sql_drop =
    "DELETE FROM dumpster_ledger WHERE sg = ?1 AND msg = ?2 AND (?3 IS NULL OR rcpt = ?3)";

/* dumpster_ledger_drop - entries leave with their recipient or item */
int dumpster_ledger_drop(struct store *s, const char *sg, uint64_t msg, const char *rcpt)
{
    sqlite3_stmt *st = store_prep(s, sql_drop);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    store_bind_opt(st, 3, rcpt != NULL, rcpt);
    return store_run(s, st);
}
