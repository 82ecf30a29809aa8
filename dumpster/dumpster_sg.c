/*
 * dumpster_sg.c - the dumpster_sg table (dumpster_sg.h)
 */
#include <stdio.h>
#include <string.h>

#include "dumpster_sg.h"

#define SG_COLS                                                                                    \
    "items, bytes, oldest, evicted_size, evicted_age, evicted_replicated, not_kept,"               \
    " replicated_until"

static const char *const sql_read = "SELECT " SG_COLS " FROM dumpster_sg WHERE sg = ?";

/* dumpster_sg_row - the counters of the current row */
static int dumpster_sg_row(void *ctx, sqlite3_stmt *st)
{
    struct dumpster_stats *out = ctx;

    out->items = (uint64_t)sqlite3_column_int64(st, 0);
    out->bytes = (uint64_t)sqlite3_column_int64(st, 1);
    out->oldest_received_ms = sqlite3_column_int64(st, 2);
    out->evicted_size = (uint64_t)sqlite3_column_int64(st, 3);
    out->evicted_age = (uint64_t)sqlite3_column_int64(st, 4);
    out->evicted_replicated = (uint64_t)sqlite3_column_int64(st, 5);
    out->not_kept = (uint64_t)sqlite3_column_int64(st, 6);
    out->replicated_until_ms = sqlite3_column_int64(st, 7);
    return SQLITE_OK;
}

/* dumpster_sg_read - the counter row of a group; sg may be out->sg */
int dumpster_sg_read(struct store *s, const char *sg, struct dumpster_stats *out)
{
    char name[DD_SG_NAME_MAX + 1];
    bool found;

    snprintf(name, sizeof(name), "%s", sg);
    memset(out, 0, sizeof(*out));
    memcpy(out->sg, name, sizeof(name));
    return store_first(s, store_bind(s, sql_read, "t", name), dumpster_sg_row, out, &found);
}

static const char *const sql_ensure = "INSERT OR IGNORE INTO dumpster_sg(sg) VALUES (?)";

/* dumpster_sg_ensure - a row for sg */
int dumpster_sg_ensure(struct store *s, const char *sg)
{
    return store_do(s, sql_ensure, "t", sg);
}

static const char *const sql_add =
    "UPDATE dumpster_sg SET items = items + ?2, bytes = bytes + ?3, oldest = ?4 WHERE sg = ?1";

/* dumpster_sg_add - counters follow the items */
int dumpster_sg_add(struct store *s, const char *sg, int64_t ditems, int64_t dbytes,
                    int64_t oldest_ms)
{
    return store_do(s, sql_add, "tiii", sg, ditems, dbytes, oldest_ms);
}

static const char *const sql_enter =
    "INSERT INTO dumpster_sg(sg, items, bytes, oldest) VALUES (?1, 1, ?2, ?3)"
    " ON CONFLICT(sg) DO UPDATE SET items = items + 1, bytes = bytes + excluded.bytes,"
    " oldest = CASE WHEN items = 0 OR excluded.oldest < oldest THEN excluded.oldest"
    " ELSE oldest END RETURNING " SG_COLS;

/* dumpster_sg_enter - one item came in: the row made or counted, and read */
int dumpster_sg_enter(struct store *s, const char *sg, uint64_t bytes, int64_t received_ms,
                      struct dumpster_stats *out)
{
    char name[DD_SG_NAME_MAX + 1];
    bool found;

    snprintf(name, sizeof(name), "%s", sg);
    memset(out, 0, sizeof(*out));
    memcpy(out->sg, name, sizeof(name));
    return store_first(s, store_bind(s, sql_enter, "tui", name, bytes, received_ms),
                       dumpster_sg_row, out, &found);
}

static const char *const sql_gone[] = {
    [DUMPSTER_SIZE] = "UPDATE dumpster_sg SET evicted_size = evicted_size + 1 WHERE sg = ?",
    [DUMPSTER_AGE] = "UPDATE dumpster_sg SET evicted_age = evicted_age + 1 WHERE sg = ?",
    [DUMPSTER_REPLICATED] =
        "UPDATE dumpster_sg SET evicted_replicated = evicted_replicated + 1 WHERE sg = ?",
    [DUMPSTER_TOO_LARGE] = "UPDATE dumpster_sg SET not_kept = not_kept + 1 WHERE sg = ?",
};

/* dumpster_sg_count_gone - the counter of a reason */
int dumpster_sg_count_gone(struct store *s, const char *sg, enum dumpster_reason reason)
{
    return store_do(s, sql_gone[reason], "t", sg);
}

static const char *const sql_replicated =
    "UPDATE dumpster_sg SET replicated_until = max(replicated_until, ?2) WHERE sg = ?1";

/* dumpster_sg_replicated - remember the newest early release */
int dumpster_sg_replicated(struct store *s, const char *sg, int64_t until_ms)
{
    return store_do(s, sql_replicated, "ti", sg, until_ms);
}
