/*
 * resubmit_request.c - the resubmit_request table (resubmit_request.h)
 *
 * The only file that writes it. States are bound from enum
 * resubmit_state; match is stored as enum resubmit_match.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resubmit_request.h"

#define REQUEST_COLS                                                                               \
    "id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason, force,"     \
    " state, created, updated, cursor_time, cursor_msg, cursor_rcpt, matched, queued, delivered,"  \
    " failed, skipped_duplicate, skipped_present, cov_complete, cov_oldest, cov_evicted, probe"

/* resubmit_request_read - the current row of a query over REQUEST_COLS */
static int resubmit_request_read(void *ctx, sqlite3_stmt *st)
{
    struct resubmit_row *row = ctx;
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
    r->skip_probe = sqlite3_column_int(st, 27) == 0;
    return SQLITE_OK;
}

static const char *const sql_insert =
    "INSERT INTO resubmit_request(sg, start, end, match, dest, dest_eff, sender, recipient,"
    " message_id, reason, force, state, created, updated, cov_complete, cov_oldest,"
    " cov_evicted, probe) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* resubmit_request_insert - the request row */
int resubmit_request_insert(struct store *s, struct resubmit_row *row, int64_t now_ms)
{
    struct resubmit_info *in = &row->info;
    const struct resubmit_req *r = &in->req;
    int rc = store_do(s, sql_insert, "tiidotoootddiidiud", r->storage_group, r->start_ms, r->end_ms,
                      (int)r->match, r->has_dest ? r->dest_text : NULL, row->dest_eff,
                      r->has_sender ? r->sender : NULL, r->has_recipient ? r->recipient : NULL,
                      r->has_message_id ? r->message_id : NULL, r->reason, (int)r->force,
                      RESUBMIT_PENDING, now_ms, now_ms, (int)in->coverage.complete,
                      in->coverage.oldest_available_ms, in->coverage.evicted_in_range,
                      (int)!r->skip_probe);

    if (rc != SQLITE_OK)
        return rc;
    in->id = (uint64_t)store_last_id(s);
    in->state = RESUBMIT_PENDING;
    in->created_ms = in->updated_ms = now_ms;
    return SQLITE_OK;
}

static const char *const sql_get = "SELECT " REQUEST_COLS " FROM resubmit_request WHERE id = ?";

/* resubmit_request_get - one request by id */
int resubmit_request_get(struct store *s, uint64_t id, struct resubmit_row *row, bool *found)
{
    return store_first(s, store_bind(s, sql_get, "u", id), resubmit_request_read, row, found);
}

static const char *const sql_next_open = "SELECT " REQUEST_COLS " FROM resubmit_request"
                                         " WHERE state IN (?, ?) ORDER BY id LIMIT 1";

/* resubmit_request_next_open - the oldest open request */
int resubmit_request_next_open(struct store *s, struct resubmit_row *row, bool *found)
{
    return store_first(s, store_bind(s, sql_next_open, "dd", RESUBMIT_PENDING, RESUBMIT_RUNNING),
                       resubmit_request_read, row, found);
}

static const char *const sql_list = "SELECT " REQUEST_COLS " FROM resubmit_request"
                                    " WHERE ?1 = 0 OR state IN (?2, ?3) ORDER BY id DESC LIMIT ?4";

struct resubmit_list_ctx {
    struct resubmit_info **out;
    size_t max, *n, cap;
};

/* resubmit_list_row - one listed request; the array doubles when full */
static int resubmit_list_row(void *ctx, sqlite3_stmt *st)
{
    struct resubmit_list_ctx *l = ctx;
    struct resubmit_row row;

    if (*l->n == l->max)
        return SQLITE_DONE;
    if (*l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 8;
        struct resubmit_info *p = realloc(*l->out, (cap < l->max ? cap : l->max) * sizeof(*p));
        if (p == NULL)
            return SQLITE_NOMEM;
        *l->out = p;
        l->cap = cap < l->max ? cap : l->max;
    }
    resubmit_request_read(&row, st);
    (*l->out)[(*l->n)++] = row.info;
    return SQLITE_OK;
}

/* resubmit_request_list - newest first */
int resubmit_request_list(struct store *s, bool outstanding, struct resubmit_info **out, size_t max,
                          size_t *n)
{
    struct resubmit_list_ctx l = {out, max, n, 0};

    *n = 0;
    return store_each(s,
                      store_bind(s, sql_list, "dddu", (int)outstanding, RESUBMIT_PENDING,
                                 RESUBMIT_RUNNING, (uint64_t)max),
                      resubmit_list_row, &l);
}

static const char *const sql_advance =
    "UPDATE resubmit_request SET state = ?, updated = ?, cursor_time = ?, cursor_msg = ?,"
    " cursor_rcpt = ?, matched = ?, queued = ?, skipped_duplicate = ?, skipped_present = ?"
    " WHERE id = ?";

/* resubmit_request_advance - cursor and counters, in the batch's transaction */
int resubmit_request_advance(struct store *s, const struct resubmit_row *row, int64_t now_ms)
{
    const struct resubmit_info *in = &row->info;

    return store_do(s, sql_advance, "diiituuuuu", (int)in->state, now_ms, row->cursor_time,
                    row->cursor_msg, row->cursor_rcpt, in->matched, in->queued,
                    in->skipped_duplicate, in->skipped_present, in->id);
}

static const char *const sql_progress =
    "UPDATE resubmit_request SET delivered = delivered + ?, failed = failed + ?, updated = ?"
    " WHERE id = ?";

/* resubmit_request_progress - outcomes of resent copies */
int resubmit_request_progress(struct store *s, uint64_t id, uint64_t delivered, uint64_t failed,
                              int64_t now_ms)
{
    return store_do(s, sql_progress, "uuiu", delivered, failed, now_ms, id);
}

static const char *const sql_cancel =
    "UPDATE resubmit_request SET state = ?1, updated = ?2 WHERE id = ?3 AND state IN (?4, ?5)";

/* resubmit_request_cancel - an open request cancelled */
int resubmit_request_cancel(struct store *s, uint64_t id, int64_t now_ms, bool *changed)
{
    int rc = store_do(s, sql_cancel, "diudd", RESUBMIT_CANCELLED, now_ms, id, RESUBMIT_PENDING,
                      RESUBMIT_RUNNING);

    *changed = rc == SQLITE_OK && store_changes(s) == 1;
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
