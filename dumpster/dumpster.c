/*
 * dumpster.c - the per-storage-group transport dumpster in the store
 *
 * Storage thread only. A delivered message enters the dumpster of its
 * storage group once (later deliveries of other recipients of the same
 * group extend the item's recipient list). Inserting evicts the oldest
 * items until the new one fits under max_size; an item larger than max_size
 * is not kept. Every change updates the group's counter row in the same
 * transaction and posts the new counters to the loop, so statistics never
 * scan items and stay exact after a crash. What leaves (or never enters)
 * is remembered without its content in dumpster_gone, for coverage reports.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dumpster_int.h"
#include "log.h"
#include "queue.h"

/* dumpster_step - step a prepared statement that returns no row */
static int dumpster_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static const char *const sql_sg_row = "INSERT OR IGNORE INTO dumpster_sg(sg) VALUES (?)";
static const char *const sql_sg_read =
    "SELECT items, bytes, oldest, evicted_size, evicted_age, evicted_replicated, not_kept,"
    " replicated_until FROM dumpster_sg WHERE sg = ?";

/* dumpster_read_sg - the counter row of a group (zeros when it has none);
 * sg may be out->sg (the loader reads rows in place) */
int dumpster_read_sg(struct store *s, const char *sg, struct dumpster_stats *out)
{
    sqlite3_stmt *st = store_prep(s, sql_sg_read);
    char name[DD_SG_NAME_MAX + 1];
    int rc;

    snprintf(name, sizeof(name), "%s", sg);
    memset(out, 0, sizeof(*out));
    memcpy(out->sg, name, sizeof(name));
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->items = (uint64_t)sqlite3_column_int64(st, 0);
        out->bytes = (uint64_t)sqlite3_column_int64(st, 1);
        out->oldest_received_ms = sqlite3_column_int64(st, 2);
        out->evicted_size = (uint64_t)sqlite3_column_int64(st, 3);
        out->evicted_age = (uint64_t)sqlite3_column_int64(st, 4);
        out->evicted_replicated = (uint64_t)sqlite3_column_int64(st, 5);
        out->not_kept = (uint64_t)sqlite3_column_int64(st, 6);
        out->replicated_until_ms = sqlite3_column_int64(st, 7);
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* dumpster_post_sg - tell the loop a group's counters now */
int dumpster_post_sg(struct store *s, const char *sg)
{
    struct dumpster_post *p = calloc(1, sizeof(*p));
    int rc;

    if (p == NULL)
        return SQLITE_NOMEM;
    p->kind = DUMPSTER_POST_SG;
    if ((rc = dumpster_read_sg(s, sg, &p->sg)) != SQLITE_OK) {
        free(p);
        return rc;
    }
    store_post(s, p);
    return SQLITE_OK;
}

static const char *const sql_oldest =
    "SELECT received FROM dumpster_item WHERE sg = ? ORDER BY received, msg LIMIT 1";
static const char *const sql_counts =
    "UPDATE dumpster_sg SET items = items + ?, bytes = bytes + ?, oldest = ? WHERE sg = ?";

/* dumpster_count - add to a group's counters and refresh its oldest item */
static int dumpster_count(struct store *s, const char *sg, int64_t ditems, int64_t dbytes)
{
    sqlite3_stmt *st = store_prep(s, sql_oldest);
    int64_t oldest = 0;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        oldest = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if ((st = store_prep(s, sql_counts)) == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, ditems);
    sqlite3_bind_int64(st, 2, dbytes);
    sqlite3_bind_int64(st, 3, oldest);
    sqlite3_bind_text(st, 4, sg, -1, SQLITE_STATIC);
    return dumpster_step(st);
}

static const char *const sql_gone =
    "INSERT INTO dumpster_gone(sg, received, delivered, reason, at) VALUES (?, ?, ?, ?, ?)";
static const char *const sql_reason[] = {
    "UPDATE dumpster_sg SET evicted_size = evicted_size + 1 WHERE sg = ?",
    "UPDATE dumpster_sg SET evicted_age = evicted_age + 1 WHERE sg = ?",
    "UPDATE dumpster_sg SET evicted_replicated = evicted_replicated + 1 WHERE sg = ?",
    "UPDATE dumpster_sg SET not_kept = not_kept + 1 WHERE sg = ?",
};
static const char *const reason_name[] = {"size", "age", "replicated", "too_large"};
enum { REASON_SIZE, REASON_AGE, REASON_REPLICATED, REASON_TOO_LARGE };

/* dumpster_gone - remember an item that left (or never entered) */
static int dumpster_gone(struct store *s, const char *sg, int64_t received, int64_t delivered,
                         int reason, const char *queue_id)
{
    sqlite3_stmt *st = store_prep(s, sql_gone);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, received);
    sqlite3_bind_int64(st, 3, delivered);
    sqlite3_bind_text(st, 4, reason_name[reason], -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, delivered > received ? delivered : received);
    if ((rc = dumpster_step(st)) != SQLITE_OK || (st = store_prep(s, sql_reason[reason])) == NULL)
        return rc != SQLITE_OK ? rc : SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    log_info("dumpster", "%s: dumpster sg=%s %s reason=%s", queue_id, sg,
             reason == REASON_TOO_LARGE ? "not kept" : "evicted", reason_name[reason]);
    return dumpster_step(st);
}

static const char *const sql_first =
    "SELECT msg, size, received, delivered, queue_id FROM dumpster_item WHERE sg = ?"
    " ORDER BY received, msg LIMIT 1";
static const char *const sql_first_delivered =
    "SELECT msg, size, received, delivered, queue_id FROM dumpster_item WHERE sg = ?"
    " AND delivered < ? ORDER BY delivered, msg LIMIT 1";
static const char *const sql_del_item = "DELETE FROM dumpster_item WHERE sg = ? AND msg = ?";
/* the ledger speaks of items: it goes with them */
static const char *const sql_del_ledger = "DELETE FROM resubmit_ledger WHERE sg = ? AND msg = ?";

/* dumpster_evict_next - remove the first item sql gives (bound to sg and
 * arg); *found is false when there is none */
static int dumpster_evict_next(struct store *s, const char *sql, const char *sg, int64_t arg,
                               int reason, bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql);
    char qid[DD_QUEUEID_LEN + 1];

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    if (sql == sql_first_delivered)
        sqlite3_bind_int64(st, 2, arg);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    uint64_t msg = (uint64_t)sqlite3_column_int64(st, 0);
    int64_t size = sqlite3_column_int64(st, 1), received = sqlite3_column_int64(st, 2);
    int64_t delivered = sqlite3_column_int64(st, 3);
    snprintf(qid, sizeof(qid), "%s", (const char *)sqlite3_column_text(st, 4));
    sqlite3_reset(st);
    *found = true;
    if ((st = store_prep(s, sql_del_item)) == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    if ((rc = dumpster_step(st)) == SQLITE_OK)
        rc = (st = store_prep(s, sql_del_ledger)) == NULL ? SQLITE_ERROR : SQLITE_OK;
    if (rc == SQLITE_OK) {
        sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
        rc = dumpster_step(st);
    }
    if (rc == SQLITE_OK &&
        (rc = dumpster_gone(s, sg, received, delivered, reason, qid)) == SQLITE_OK &&
        (rc = dumpster_count(s, sg, -1, -size)) == SQLITE_OK)
        rc = queue_release(s, msg);
    return rc;
}

/* dumpster_shrink - evict the oldest until bytes + need <= max_bytes */
static int dumpster_shrink(struct store *s, const char *sg, uint64_t max_bytes, uint64_t need)
{
    struct dumpster_stats now;
    bool found = true;
    int rc = SQLITE_OK;

    while (rc == SQLITE_OK && found) {
        if ((rc = dumpster_read_sg(s, sg, &now)) != SQLITE_OK || now.bytes + need <= max_bytes)
            break;
        rc = dumpster_evict_next(s, sql_first, sg, 0, REASON_SIZE, &found);
    }
    return rc;
}

/* dumpster_rcpts - the delivered recipients of o, comma separated */
static char *dumpster_rcpts(const struct queue_outcome *o)
{
    size_t cap = 1, len = 0;
    char *out;

    for (size_t i = 0; i < o->nrcpts; i++)
        cap += strlen(o->rcpts[i].addr) + 1;
    if ((out = malloc(cap)) == NULL)
        return NULL;
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (o->rcpts[i].fate != QUEUE_DELIVERED)
            continue;
        if (len > 0)
            out[len++] = ',';
        for (const char *p = o->rcpts[i].addr; *p; p++)
            out[len++] = *p; /* as queued: a resubmission uses the same envelope */
    }
    out[len] = 0;
    return out;
}

static const char *const sql_extend =
    "UPDATE dumpster_item SET rcpts = rcpts || ',' || ? WHERE sg = ? AND msg = ?";
static const char *const sql_insert =
    "INSERT INTO dumpster_item(sg, msg, queue_id, message_id, sender, rcpts, size, received,"
    " delivered) SELECT ?, id, queue_id, message_id, sender, ?, size, received, ?"
    " FROM message WHERE id = ?";
static const char *const sql_msg_size = "SELECT size, received, queue_id FROM message WHERE id = ?";

/* dumpster_insert - a new item, evicting the oldest until it fits */
static int dumpster_insert(struct store *s, const struct queue_outcome *o, const char *rcpts)
{
    sqlite3_stmt *st = store_prep(s, sql_msg_size);
    char qid[DD_QUEUEID_LEN + 1];
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)o->msg_id);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        sqlite3_reset(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc; /* gone already: nothing to keep */
    }
    uint64_t size = (uint64_t)sqlite3_column_int64(st, 0);
    int64_t received = sqlite3_column_int64(st, 1);
    snprintf(qid, sizeof(qid), "%s", (const char *)sqlite3_column_text(st, 2));
    sqlite3_reset(st);
    if (size > o->keep_max_bytes)
        return dumpster_gone(s, o->sg, received, o->now_ms, REASON_TOO_LARGE, qid);
    if ((rc = dumpster_shrink(s, o->sg, o->keep_max_bytes, size)) != SQLITE_OK ||
        (st = store_prep(s, sql_insert)) == NULL)
        return rc != SQLITE_OK ? rc : SQLITE_ERROR;
    sqlite3_bind_text(st, 1, o->sg, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, rcpts, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, o->now_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)o->msg_id);
    if ((rc = dumpster_step(st)) != SQLITE_OK)
        return rc;
    log_info("dumpster", "%s: dumpster sg=%s kept", qid, o->sg);
    return dumpster_count(s, o->sg, 1, (int64_t)size);
}

/* dumpster_keep - the delivered recipients of o enter their group's dumpster */
int dumpster_keep(struct store *s, const struct queue_outcome *o)
{
    sqlite3_stmt *st;
    char *rcpts;
    int rc;

    if (o->request != 0)
        return resubmit_progress(s, o); /* resent: already an item, not kept twice */
    if (!o->keep || (rcpts = dumpster_rcpts(o)) == NULL)
        return SQLITE_OK;
    if (rcpts[0] == 0 || (st = store_prep(s, sql_sg_row)) == NULL) {
        rc = rcpts[0] == 0 ? SQLITE_OK : SQLITE_ERROR;
        free(rcpts);
        return rc;
    }
    sqlite3_bind_text(st, 1, o->sg, -1, SQLITE_STATIC);
    if ((rc = dumpster_step(st)) == SQLITE_OK && (st = store_prep(s, sql_extend)) != NULL) {
        sqlite3_bind_text(st, 1, rcpts, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, o->sg, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)o->msg_id);
        if ((rc = dumpster_step(st)) == SQLITE_OK && sqlite3_changes(store_db(s)) == 0)
            rc = dumpster_insert(s, o, rcpts);
    }
    free(rcpts);
    return rc == SQLITE_OK ? dumpster_post_sg(s, o->sg) : rc;
}

static const char *const sql_holds = "SELECT 1 FROM dumpster_item WHERE msg = ? LIMIT 1";

/* dumpster_holds - the dumpster keeps a copy of msg_id */
bool dumpster_holds(struct store *s, uint64_t msg_id)
{
    sqlite3_stmt *st = store_prep(s, sql_holds);

    if (st == NULL)
        return true; /* when in doubt, keep the content */
    sqlite3_bind_int64(st, 1, (sqlite3_int64)msg_id);
    bool held = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return held;
}

/* dumpster_enforce - a group's bounds now: expire by age, then by size
 * (bounds may have shrunk in a reload). *oldest_out: the oldest left. */
int dumpster_enforce(struct store *s, const struct dumpster_bound *b, int64_t now_ms,
                     int64_t *oldest_out)
{
    struct dumpster_stats now;
    int64_t cutoff = now_ms - (int64_t)b->max_age_s * 1000;
    bool changed = false, found = true;
    int rc = dumpster_read_sg(s, b->sg, &now);

    for (int n = 0; rc == SQLITE_OK && found && now.items > 0 && n < 10000; n++) {
        if (now.oldest_received_ms > cutoff && now.bytes <= b->max_bytes)
            break;
        int reason = now.oldest_received_ms <= cutoff ? REASON_AGE : REASON_SIZE;
        if ((rc = dumpster_evict_next(s, sql_first, b->sg, 0, reason, &found)) == SQLITE_OK)
            rc = dumpster_read_sg(s, b->sg, &now);
        changed |= found;
    }
    *oldest_out = now.oldest_received_ms;
    return rc == SQLITE_OK && changed ? dumpster_post_sg(s, b->sg) : rc;
}

static const char *const sql_replicated =
    "UPDATE dumpster_sg SET replicated_until = max(replicated_until, ?) WHERE sg = ?";

/* dumpster_release - early release: items delivered before until_ms */
int dumpster_release(struct store *s, const char *sg, int64_t until_ms, uint64_t *released)
{
    sqlite3_stmt *st = store_prep(s, sql_sg_row);
    bool found = true;
    int rc;

    *released = 0;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    rc = dumpster_step(st);
    while (rc == SQLITE_OK && found) {
        rc = dumpster_evict_next(s, sql_first_delivered, sg, until_ms, REASON_REPLICATED, &found);
        *released += found;
    }
    if (rc == SQLITE_OK && (st = store_prep(s, sql_replicated)) != NULL) {
        sqlite3_bind_int64(st, 1, until_ms);
        sqlite3_bind_text(st, 2, sg, -1, SQLITE_STATIC);
        rc = dumpster_step(st);
    }
    return rc == SQLITE_OK ? dumpster_post_sg(s, sg) : rc;
}

static const char *const sql_prune = "DELETE FROM dumpster_gone WHERE rowid IN"
                                     " (SELECT rowid FROM dumpster_gone WHERE at < ? LIMIT 1000)";

/* dumpster_prune_gone - forget evictions older than before_ms, a little at a time */
int dumpster_prune_gone(struct store *s, int64_t before_ms)
{
    sqlite3_stmt *st = store_prep(s, sql_prune);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, before_ms);
    return dumpster_step(st);
}
