/*
 * dumpster_gone.c - the dumpster_gone table (dumpster_gone.h)
 */
#include "dumpster_gone.h"

/* dumpster_reason_name - for logs and metrics */
const char *dumpster_reason_name(enum dumpster_reason r)
{
    static const char *const names[] = {
        [DUMPSTER_SIZE] = "size",
        [DUMPSTER_AGE] = "age",
        [DUMPSTER_REPLICATED] = "replicated",
        [DUMPSTER_TOO_LARGE] = "too_large",
    };

    return (unsigned)r <= DUMPSTER_TOO_LARGE ? names[r] : "unknown";
}

static const char *const sql_add =
    "INSERT INTO dumpster_gone(sg, msg, received, delivered, reason, at) VALUES (?, ?, ?, ?, ?, ?)";

/* dumpster_gone_add - remember a copy that left */
int dumpster_gone_add(struct store *s, const char *sg, uint64_t msg, int64_t received_ms,
                      int64_t delivered_ms, enum dumpster_reason reason)
{
    return store_do(s, sql_add, "tuiiti", sg, msg, received_ms, delivered_ms,
                    dumpster_reason_name(reason),
                    delivered_ms > received_ms ? delivered_ms : received_ms);
}

static const char *const sql_by_delivered =
    "SELECT count(DISTINCT msg) FROM dumpster_gone WHERE sg = ? AND delivered BETWEEN ? AND ?";
static const char *const sql_by_received =
    "SELECT count(DISTINCT msg) FROM dumpster_gone WHERE sg = ? AND received BETWEEN ? AND ?";

/* dumpster_gone_count - items of a range with a copy gone */
int dumpster_gone_count(struct store *s, const char *sg, bool by_received, int64_t start_ms,
                        int64_t end_ms, uint64_t *n)
{
    int64_t v;
    int rc = store_get_int(s, &v, by_received ? sql_by_received : sql_by_delivered, "tii", sg,
                           start_ms, end_ms);

    *n = (uint64_t)v;
    return rc;
}

static const char *const sql_prune = "DELETE FROM dumpster_gone WHERE rowid IN"
                                     " (SELECT rowid FROM dumpster_gone WHERE at < ? LIMIT 1000)";

/* dumpster_gone_prune - forget old evictions */
int dumpster_gone_prune(struct store *s, int64_t before_ms)
{
    return store_do(s, sql_prune, "i", before_ms);
}
