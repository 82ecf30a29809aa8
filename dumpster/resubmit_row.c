/*
 * resubmit_row.c - a resubmission request's row: reading it, loading one
 * by id or the next open one; small statement helpers (resubmit_int.h)
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "resubmit_int.h"

/* rs_now_ms - wall clock, ms */
int64_t rs_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* rs_step - step a statement that returns no row */
int rs_step(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* rs_text - bind text or NULL for "" when absent */
void rs_text(sqlite3_stmt *st, int i, bool has, const char *v)
{
    if (has)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static const char *const sql_get =
    "SELECT id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason,"
    " force, state, created, updated, cursor_time, cursor_msg, matched, queued, delivered,"
    " failed, skipped_duplicate, cov_complete, cov_oldest, cov_evicted FROM resubmit_request"
    " WHERE id = ?";
static const char *const sql_next_open =
    "SELECT id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason,"
    " force, state, created, updated, cursor_time, cursor_msg, matched, queued, delivered,"
    " failed, skipped_duplicate, cov_complete, cov_oldest, cov_evicted FROM resubmit_request"
    " WHERE state IN (0, 1) ORDER BY id LIMIT 1";

/* rs_col_text - copy a text column ("" for NULL); whether it was not NULL */
static bool rs_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, cap, "%s", t ? (const char *)t : "");
    return t != NULL;
}

/* rs_read_row - the current row of a request query */
void rs_read_row(sqlite3_stmt *st, struct rs_row *row)
{
    struct resubmit_info *in = &row->info;
    struct resubmit_req *r = &in->req;

    memset(row, 0, sizeof(*row));
    in->id = (uint64_t)sqlite3_column_int64(st, 0);
    rs_col_text(st, 1, r->storage_group, sizeof(r->storage_group));
    r->start_ms = sqlite3_column_int64(st, 2);
    r->end_ms = sqlite3_column_int64(st, 3);
    r->match = sqlite3_column_int(st, 4) ? RESUBMIT_MATCH_RECEIVED : RESUBMIT_MATCH_DELIVERED;
    r->has_dest = rs_col_text(st, 5, r->dest_text, sizeof(r->dest_text));
    rs_col_text(st, 6, row->dest_eff, sizeof(row->dest_eff));
    r->has_sender = rs_col_text(st, 7, r->sender, sizeof(r->sender));
    r->has_recipient = rs_col_text(st, 8, r->recipient, sizeof(r->recipient));
    r->has_message_id = rs_col_text(st, 9, r->message_id, sizeof(r->message_id));
    rs_col_text(st, 10, r->reason, sizeof(r->reason));
    r->force = sqlite3_column_int(st, 11) != 0;
    in->state = (enum resubmit_state)sqlite3_column_int(st, 12);
    in->created_ms = sqlite3_column_int64(st, 13);
    in->updated_ms = sqlite3_column_int64(st, 14);
    row->cursor_time = sqlite3_column_int64(st, 15);
    row->cursor_msg = sqlite3_column_int64(st, 16);
    in->matched = (uint64_t)sqlite3_column_int64(st, 17);
    in->queued = (uint64_t)sqlite3_column_int64(st, 18);
    in->delivered = (uint64_t)sqlite3_column_int64(st, 19);
    in->failed = (uint64_t)sqlite3_column_int64(st, 20);
    in->skipped_duplicate = (uint64_t)sqlite3_column_int64(st, 21);
    in->coverage.complete = sqlite3_column_int(st, 22) != 0;
    in->coverage.oldest_available_ms = sqlite3_column_int64(st, 23);
    in->coverage.evicted_in_range = (uint64_t)sqlite3_column_int64(st, 24);
}

/* rs_load - the first row of st (bound already) into row; found? */
static int rs_load(struct store *s, sqlite3_stmt *st, struct rs_row *row, bool *found)
{
    int rc;

    (void)s;
    *found = false;
    if (st == NULL)
        return SQLITE_ERROR;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rs_read_row(st, row);
        *found = true;
    }
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* rs_load_id - one request by id; found? */
int rs_load_id(struct store *s, uint64_t id, struct rs_row *row, bool *found)
{
    sqlite3_stmt *st = store_prep(s, sql_get);

    if (st != NULL)
        sqlite3_bind_int64(st, 1, (sqlite3_int64)id);
    return rs_load(s, st, row, found);
}

/* rs_load_next_open - the oldest pending or running request; found? */
int rs_load_next_open(struct store *s, struct rs_row *row, bool *found)
{
    return rs_load(s, store_prep(s, sql_next_open), row, found);
}
