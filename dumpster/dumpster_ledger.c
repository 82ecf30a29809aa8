/*
 * dumpster_ledger.c - the dumpster_ledger table (dumpster_ledger.h)
 */
#include "dumpster_ledger.h"

static const char *const sql_has =
    "SELECT count(*) FROM dumpster_ledger WHERE sg = ? AND msg = ? AND rcpt = ? AND dest = ?";

/* dumpster_ledger_has - resent there before? */
int dumpster_ledger_has(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, bool *has)
{
    int64_t n;
    int rc = store_get_int(s, &n, sql_has, "tutt", sg, msg, rcpt, dest);

    *has = n > 0;
    return rc;
}

static const char *const sql_add = "INSERT OR REPLACE INTO dumpster_ledger(sg, msg, rcpt, dest,"
                                   " request) VALUES (?, ?, ?, ?, ?)";

/* dumpster_ledger_add - remember a resent copy */
int dumpster_ledger_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, uint64_t request)
{
    return store_do(s, sql_add, "tuttu", sg, msg, rcpt, dest, request);
}

static const char *const sql_drop =
    "DELETE FROM dumpster_ledger WHERE sg = ?1 AND msg = ?2 AND (?3 IS NULL OR rcpt = ?3)";

/* dumpster_ledger_drop - entries leave with their recipient or item */
int dumpster_ledger_drop(struct store *s, const char *sg, uint64_t msg, const char *rcpt)
{
    return store_do(s, sql_drop, "tuo", sg, msg, rcpt);
}
