/*
 * resubmit_request.c - the resubmit_request table (resubmit_request.h)
 *
 * The only file that writes it. States are bound from enum
 * resubmit_state; match is stored as enum resubmit_match.
 */
#include <stdio.h>
#include <string.h>

#include "resubmit_request.h"

#define REQUEST_COLS                                                                               \
    "id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason, force,"     \
    " state, created, updated, cursor_time, cursor_msg, cursor_rcpt, matched, queued, delivered,"  \
    " failed, skipped_duplicate, skipped_present, cov_complete, cov_oldest, cov_evicted"

/* resubmit_request_read - the current row of a query over REQUEST_COLS */
static void resubmit_request_read(sqlite3_stmt *st, struct resubmit_row *row)
{
    struct resubmit_info *in = &row->info;
    struct resubmit_req *r = &in->req;

    memset(row, 0, sizeof(*row));
    in->id = (uint64_t)sqlite3_column_int64(st, 0);
    store_col_text(st, 1, r->storage_group, sizeof(r->storage_group));
    r->start_ms = sqlite3_column_int64(st, 2);
    r->end_ms = sqlite3_column_int64(st, 3);
    r->match = sqlite3_column_int(st, 4) == RESUBMIT_MATCH_RECEIVED ? RESUBMIT_MATCH_RECEIVED
                                                                    : RESUBMIT_MATCH_DELIVERED;
    r->has_dest = store_col_text(st, 5, r->dest_text, sizeof(r->dest_text));
    store_col_text(st, 6, row->dest_eff, sizeof(row->dest_eff));
    r->has_sender = store_col_text(st, 7, r->sender, sizeof(r->sender));
    r->has_recipient = store_col_text(st, 8, r->recipient, sizeof(r->recipient));
    r->has_message_id = store_col_text(st, 9, r->message_id, sizeof(r->message_id));
    store_col_text(st, 10, r->reason, sizeof(r->reason));
    r->force = sqlite3_column_int(st, 11) != 0;
    in->state = (enum resubmit_state)sqlite3_column_int(st, 12);
    in->created_ms = sqlite3_column_int64(st, 13);
    in->updated_ms = sqlite3_column_int64(st, 14);
    row->cursor_time = sqlite3_column_int64(st, 15);
    row->cursor_msg = sqlite3_column_int64(st, 16);
    store_col_text(st, 17, row->cursor_rcpt, sizeof(row->cursor_rcpt));
    uint64_t *counters[] = {&in->matched,           &in->queued,
                            &in->delivered,         &in->failed,
                            &in->skipped_duplicate, &in->skipped_present};
    for (int i = 0; i < 6; i++)
        *counters[i] = (uint64_t)sqlite3_column_int64(st, 18 + i);
    in->coverage.complete = sqlite3_column_int(st, 24) != 0;
    in->coverage.oldest_available_ms = sqlite3_column_int64(st, 25);
    in->coverage.evicted_in_range = (uint64_t)sqlite3_column_int64(st, 26);
}

static const char *const sql_insert =
    "INSERT INTO resubmit_request(sg, start, end, match, dest, dest_eff, sender, recipient,"
    " message_id, reason, force, state, created, updated, cov_complete, cov_oldest,"
    " cov_evicted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* resubmit_request_insert - the request row */
int resubmit_request_insert(struct store *s, struct resubmit_row *row, int64_t now_ms)
{
    struct resubmit_info *in = &row->info;
    const struct resubmit_req *r = &in->req;
    sqlite3_stmt *st = store_prep(s, sql_insert);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, r->storage_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->start_ms);
    sqlite3_bind_int64(st, 3, r->end_ms);
    sqlite3_bind_int(st, 4, (int)r->match);
    store_bind_opt(st, 5, r->has_dest, r->dest_text);
    sqlite3_bind_text(st, 6, row->dest_eff, -1, SQLITE_STATIC);
    store_bind_opt(st, 7, r->has_sender, r->sender);
    store_bind_opt(st, 8, r->has_recipient, r->recipient);
    store_bind_opt(st, 9, r->has_message_id, r->message_id);
    sqlite3_bind_text(st, 10, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, r->force);
    sqlite3_bind_int(st, 12, RESUBMIT_PENDING);
    sqlite3_bind_int64(st, 13, now_ms);
    sqlite3_bind_int64(st, 14, now_ms);
    sqlite3_bind_int(st, 15, in->coverage.complete);
    sqlite3_bind_int64(st, 16, in->coverage.oldest_available_ms);
    sqlite3_bind_int64(st, 17, (sqlite3_int64)in->coverage.evicted_in_range);
    if ((rc = store_run(s, st)) != SQLITE_OK)
        return rc;
    in->id = (uint64_t)store_last_id(s);
    in->state = RESUBMIT_PENDING;
    in->created_ms = in->updated_ms = now_ms;
    return SQLITE_OK;
}

/* resubmit_request_one - the first row of a bound query; *found */
static int resubmit_request_one(struct store *s, sqlite3_stmt *st, struct resubmit_row *row,
                                bool *found)
{
    int rc = store_step(s, st);

    *found = rc == SQLITE_ROW;
    if (*found)
        resubmit_request_read(st, row);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static const char *const sql_get = "SELECT " REQUEST_COLS " FROM resubmit_request WHERE id = ?";

/* resubmit_request_get - one request by id */
int resubmit_request_get(struct store *s, uint64_t id, struct resubmit_row *row, bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_get);

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    return resubmit_request_one(s, st, row, found);
}

static const char *const sql_next_open = "SELECT " REQUEST_COLS " FROM resubmit_request"
                                         " WHERE state IN (?, ?) ORDER BY id LIMIT 1";

/* resubmit_request_next_open - the oldest open request */
int resubmit_request_next_open(struct store *s, struct resubmit_row *row, bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_next_open);

    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, RESUBMIT_PENDING);
    sqlite3_bind_int(st, 2, RESUBMIT_RUNNING);
    return resubmit_request_one(s, st, row, found);
}

static const char *const sql_list = "SELECT " REQUEST_COLS " FROM resubmit_request"
                                    " WHERE ?1 = 0 OR state IN (?2, ?3) ORDER BY id DESC LIMIT ?4";

/* resubmit_request_list - newest first */
int resubmit_request_list(struct store *s, bool outstanding, struct resubmit_info *out, size_t max,
                          size_t *n)
{
    sqlite3_stmt *st = store_prep(s, sql_list);
    struct resubmit_row row;
    int rc;

    *n = 0;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, outstanding);
    sqlite3_bind_int(st, 2, RESUBMIT_PENDING);
    sqlite3_bind_int(st, 3, RESUBMIT_RUNNING);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
    while ((rc = store_step(s, st)) == SQLITE_ROW && *n < max) {
        resubmit_request_read(st, &row);
        out[(*n)++] = row.info;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static const char *const sql_advance =
    "UPDATE resubmit_request SET state = ?, updated = ?, cursor_time = ?, cursor_msg = ?,"
    " cursor_rcpt = ?, matched = ?, queued = ?, skipped_duplicate = ?, skipped_present = ?"
    " WHERE id = ?";

/* resubmit_request_advance - cursor and counters, in the batch's transaction */
int resubmit_request_advance(struct store *s, const struct resubmit_row *row, int64_t now_ms)
{
    const struct resubmit_info *in = &row->info;
    sqlite3_stmt *st = store_prep(s, sql_advance);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, (int)in->state);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, row->cursor_time);
    sqlite3_bind_int64(st, 4, row->cursor_msg);
    sqlite3_bind_text(st, 5, row->cursor_rcpt, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)in->matched);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)in->queued);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)in->skipped_duplicate);
    sqlite3_bind_int64(st, 9, (sqlite3_int64)in->skipped_present);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)in->id);
    return store_run(s, st);
}

static const char *const sql_progress =
    "UPDATE resubmit_request SET delivered = delivered + ?, failed = failed + ?, updated = ?"
    " WHERE id = ?";

/* resubmit_request_progress - outcomes of resent copies */
int resubmit_request_progress(struct store *s, uint64_t id, uint64_t delivered, uint64_t failed,
                              int64_t now_ms)
{
    sqlite3_stmt *st = store_prep(s, sql_progress);

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)delivered);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)failed);
    sqlite3_bind_int64(st, 3, now_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)id);
    return store_run(s, st);
}

static const char *const sql_cancel =
    "UPDATE resubmit_request SET state = ?1, updated = ?2 WHERE id = ?3 AND state IN (?4, ?5)";

/* resubmit_request_cancel - an open request cancelled */
int resubmit_request_cancel(struct store *s, uint64_t id, int64_t now_ms, bool *changed)
{
    sqlite3_stmt *st = store_prep(s, sql_cancel);
    int rc;

    *changed = false;
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, RESUBMIT_CANCELLED);
    sqlite3_bind_int64(st, 2, now_ms);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)id);
    sqlite3_bind_int(st, 4, RESUBMIT_PENDING);
    sqlite3_bind_int(st, 5, RESUBMIT_RUNNING);
    if ((rc = store_run(s, st)) == SQLITE_OK)
        *changed = store_changes(s) == 1;
    return rc;
}

static const char *const sql_counts = "SELECT state, count(*) FROM resubmit_request GROUP BY state";

/* resubmit_request_counts - requests by state */
int resubmit_request_counts(struct store *s, uint64_t counts[RESUBMIT_NSTATES])
{
    sqlite3_stmt *st = store_prep(s, sql_counts);
    int rc;

    memset(counts, 0, RESUBMIT_NSTATES * sizeof(counts[0]));
    if (st == NULL)
        return SQLITE_ERROR;
    while ((rc = store_step(s, st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < RESUBMIT_NSTATES)
            counts[state] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}
