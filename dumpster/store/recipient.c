/*
 * recipient.c - the recipient table (recipient.h)
 *
 * The only file that writes it. States are bound as parameters from enum
 * rcpt_state, never written as numbers in the SQL. The due scan walks the
 * (state, next_attempt) index; the rest go by message (recipient_key).
 * Every statement that makes a row pending or ends a pending one notes the
 * change in the queue's counts (queue_tally.h), in the same work function:
 * inserts by their change count, updates by the rows they return.
 * Storage thread only.
 */
#include "recipient.h"

#define RECIPIENT_COLS                                                                             \
    "id, msg, request, rcpt, route, sg, dest, state, attempts, next_attempt, queued,"              \
    " coalesce(last_reply, '')"

/* recipient_read - the current row of a scan over RECIPIENT_COLS */
static void recipient_read(sqlite3_stmt *st, struct recipient_row *r)
{
    r->id = (uint64_t)sqlite3_column_int64(st, 0);
    r->msg = (uint64_t)sqlite3_column_int64(st, 1);
    r->request = (uint64_t)sqlite3_column_int64(st, 2);
    r->addr = (const char *)sqlite3_column_text(st, 3);
    r->route =
        sqlite3_column_int(st, 4) == RCPT_ROUTE_SMARTHOST ? RCPT_ROUTE_SMARTHOST : RCPT_ROUTE_SG;
    r->sg = (const char *)sqlite3_column_text(st, 5);
    r->dest = (const char *)sqlite3_column_text(st, 6);
    r->state = (enum rcpt_state)sqlite3_column_int(st, 7);
    r->attempts = (unsigned)sqlite3_column_int(st, 8);
    r->next_attempt_ms = sqlite3_column_int64(st, 9);
    r->queued_ms = sqlite3_column_int64(st, 10);
    r->last_reply = (const char *)sqlite3_column_text(st, 11);
    if (r->addr == NULL)
        r->addr = "";
    if (r->sg == NULL)
        r->sg = "";
}

struct recipient_walk {
    recipient_row_fn fn;
    void *ctx;
};

/* recipient_walk_row - one row of a walk to its callback */
static int recipient_walk_row(void *ctx, sqlite3_stmt *st)
{
    struct recipient_walk *w = ctx;
    struct recipient_row r;

    recipient_read(st, &r);
    return w->fn(w->ctx, &r);
}

/* recipient_scan - every row of a bound statement to fn */
static int recipient_scan(struct store *s, sqlite3_stmt *st, recipient_row_fn fn, void *ctx)
{
    struct recipient_walk w = {fn, ctx};

    return store_each(s, st, recipient_walk_row, &w);
}

static const char *const sql_insert =
    "INSERT OR IGNORE INTO recipient(msg, rcpt, route, sg, request, dest, state, queued)"
    " VALUES (?, ?, ?, ?, 0, ?, ?, ?)";

/* recipient_new_row - a row inserted (or ignored: a repeat) is one more pending */
static int recipient_new_row(struct store *s, struct queue_tally *t, uint64_t msg, int rc)
{
    if (rc == SQLITE_OK && store_changes(s) > 0)
        queue_tally_note(s, t, msg, (struct queue_tally_delta){.pending = 1});
    return rc;
}

/* recipient_insert - one recipient of a new message */
int recipient_insert(struct store *s, struct queue_tally *t, uint64_t msg, int64_t queued_ms,
                     const struct queue_msg_rcpt *r, const char *dest)
{
    int rc = store_do(s, sql_insert, "utdtodi", msg, r->addr, (int)r->route,
                      r->route == RCPT_ROUTE_SG ? r->sg : "", dest, RCPT_PENDING, queued_ms);

    return recipient_new_row(s, t, msg, rc);
}

static const char *const sql_requeue =
    "INSERT OR IGNORE INTO recipient(msg, rcpt, route, sg, request, dest, state, queued)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)";

/* recipient_requeue - a row of a resubmission request */
int recipient_requeue(struct store *s, struct queue_tally *t, uint64_t msg, uint64_t request,
                      const char *addr, const char *sg, const char *dest, int64_t now_ms)
{
    int rc = store_do(s, sql_requeue, "utdtuodi", msg, addr, RCPT_ROUTE_SG, sg, request, dest,
                      RCPT_PENDING, now_ms);

    return recipient_new_row(s, t, msg, rc);
}

static const char *const sql_due =
    "SELECT " RECIPIENT_COLS " FROM recipient"
    " WHERE state = ? AND next_attempt <= ? ORDER BY next_attempt, msg";

/* recipient_due - pending rows due now, soonest first */
int recipient_due(struct store *s, int64_t now_ms, recipient_row_fn fn, void *ctx)
{
    return recipient_scan(s, store_bind(s, sql_due, "di", RCPT_PENDING, now_ms), fn, ctx);
}

static const char *const sql_of_msg =
    "SELECT " RECIPIENT_COLS " FROM recipient WHERE msg = ?1 AND state = ?2"
    " AND (?3 IS NULL OR sg = ?3) ORDER BY request, rcpt";

/* recipient_of_msg - the open rows of one message */
int recipient_of_msg(struct store *s, uint64_t msg, const char *sg, recipient_row_fn fn, void *ctx)
{
    return recipient_scan(s, store_bind(s, sql_of_msg, "udo", msg, RCPT_PENDING, sg), fn, ctx);
}

static const char *const sql_open_msgs =
    "SELECT DISTINCT msg FROM recipient WHERE state = ?1 AND (?2 IS NULL OR sg = ?2)"
    " ORDER BY msg LIMIT ?3";

/* recipient_open_msgs - messages with an open row, lowest id first */
int recipient_open_msgs(struct store *s, const char *sg, size_t max, uint64_t *ids, size_t *n)
{
    return store_ids(s, store_bind(s, sql_open_msgs, "dou", RCPT_PENDING, sg, (uint64_t)max), ids,
                     max, n);
}

static const char *const sql_open = "SELECT " RECIPIENT_COLS " FROM recipient"
                                    " WHERE state = ?1 AND (?2 IS NULL OR sg = ?2) ORDER BY msg";

/* recipient_open - every open row */
int recipient_open(struct store *s, const char *sg, recipient_row_fn fn, void *ctx)
{
    return recipient_scan(s, store_bind(s, sql_open, "do", RCPT_PENDING, sg), fn, ctx);
}

struct recipient_ended {
    uint64_t msg;
    struct queue_tally_delta d;
};

/* recipient_ended_row - a pending row that an update changed: msg and the
 * attempts it had before (the update counted one more when asked) */
static int recipient_ended_row(void *ctx, sqlite3_stmt *st)
{
    struct recipient_ended *e = ctx;

    e->msg = (uint64_t)sqlite3_column_int64(st, 0);
    e->d.pending--;
    e->d.deferred -= sqlite3_column_int64(st, 1) > 0;
    return SQLITE_OK;
}

static const char *const sql_fate =
    "UPDATE recipient SET state = ?, attempts = attempts + 1, next_attempt = ?, delivered = ?,"
    " last_reply = ? WHERE id = ? AND state = ? RETURNING msg, attempts - 1";

/* recipient_fate - one attempt's outcome, for a row still pending */
int recipient_fate(struct store *s, struct queue_tally *t, uint64_t id, enum rcpt_state state,
                   int64_t next_attempt_ms, int64_t delivered_ms, const char *reply)
{
    struct recipient_ended e = {0};
    sqlite3_stmt *st = store_bind(s, sql_fate, "diitud", (int)state, next_attempt_ms, delivered_ms,
                                  reply, id, RCPT_PENDING);
    int rc;

    if (st != NULL && state != RCPT_DELIVERED)
        sqlite3_bind_null(st, 3);
    if ((rc = store_each(s, st, recipient_ended_row, &e)) != SQLITE_OK || e.msg == 0)
        return rc;
    if (state == RCPT_PENDING) { /* deferred: pending again, after an attempt */
        e.d.pending++;
        e.d.deferred++;
    }
    queue_tally_note(s, t, e.msg, e.d);
    return SQLITE_OK;
}

static const char *const sql_fail_msg = "UPDATE recipient SET state = ?2, last_reply = ?3, "
                                        "next_attempt = 0 WHERE msg = ?1 AND state = ?4"
                                        " RETURNING msg, attempts";

/* recipient_fail_msg - every open row of a message failed */
int recipient_fail_msg(struct store *s, struct queue_tally *t, uint64_t msg, const char *reason)
{
    struct recipient_ended e = {0};
    int rc =
        store_each(s, store_bind(s, sql_fail_msg, "udtd", msg, RCPT_FAILED, reason, RCPT_PENDING),
                   recipient_ended_row, &e);

    if (rc == SQLITE_OK && e.msg != 0)
        queue_tally_note(s, t, e.msg, e.d);
    return rc;
}

struct recipient_counting {
    struct queue_tally *t;
};

/* recipient_count_row - one pending row (no GROUP BY: no sort at the start) */
static int recipient_count_row(void *ctx, sqlite3_stmt *st)
{
    struct recipient_counting *c = ctx;
    struct queue_tally_delta d = {.pending = 1, .deferred = sqlite3_column_int(st, 1) > 0};

    queue_tally_add(c->t, (uint64_t)sqlite3_column_int64(st, 0), d);
    return SQLITE_OK;
}

static const char *const sql_count = "SELECT msg, attempts FROM recipient WHERE state = ?1";

/* recipient_count - the queue's counts from the rows (the start) */
int recipient_count(struct store *s, struct queue_tally *t)
{
    struct recipient_counting c = {t};

    queue_tally_clear(t);
    return store_each(s, store_bind(s, sql_count, "d", RCPT_PENDING), recipient_count_row, &c);
}

static const char *const sql_open_count =
    "SELECT count(*) FROM recipient WHERE msg = ?1 AND state = ?2";

/* recipient_open_count - open rows of a message */
int recipient_open_count(struct store *s, uint64_t msg, int64_t *n)
{
    return store_get_int(s, n, sql_open_count, "ud", msg, RCPT_PENDING);
}

static const char *const sql_kept_count =
    "SELECT count(*) FROM recipient WHERE msg = ?1 AND state = ?2 AND next_attempt > 0";

/* recipient_kept_count - kept failed rows of a message */
int recipient_kept_count(struct store *s, uint64_t msg, int64_t *n)
{
    return store_get_int(s, n, sql_kept_count, "ud", msg, RCPT_FAILED);
}

static const char *const sql_kept_due =
    "SELECT DISTINCT msg FROM recipient WHERE state = ?1 AND next_attempt BETWEEN 1 AND ?2"
    " LIMIT ?3";

/* recipient_kept_due - messages whose kept failure is over (the due index) */
int recipient_kept_due(struct store *s, int64_t now_ms, size_t max, uint64_t *ids, size_t *n)
{
    return store_ids(s, store_bind(s, sql_kept_due, "diu", RCPT_FAILED, now_ms, (uint64_t)max), ids,
                     max, n);
}

static const char *const sql_kept_end = "UPDATE recipient SET next_attempt = 0"
                                        " WHERE msg = ?1 AND state = ?2 AND next_attempt <= ?3";

/* recipient_kept_end - kept failed rows of msg whose time is over */
int recipient_kept_end(struct store *s, uint64_t msg, int64_t now_ms)
{
    return store_do(s, sql_kept_end, "udi", msg, RCPT_FAILED, now_ms);
}

static const char *const sql_kept_next =
    "SELECT coalesce(min(next_attempt), 0) FROM recipient WHERE state = ?1 AND next_attempt > 0";

/* recipient_kept_next - when the next kept failure is over */
int recipient_kept_next(struct store *s, int64_t *next_ms)
{
    return store_get_int(s, next_ms, sql_kept_next, "d", RCPT_FAILED);
}

static const char *const sql_delete = "DELETE FROM recipient WHERE msg = ?";

/* recipient_delete_msg - every row of a message */
int recipient_delete_msg(struct store *s, uint64_t msg)
{
    return store_do(s, sql_delete, "u", msg);
}

static const char *const sql_flush =
    "UPDATE recipient SET next_attempt = 0 WHERE state = ?1 AND next_attempt > 0"
    " AND (?2 IS NULL OR (route = ?3 AND sg = ?2))";

/* recipient_flush - pending rows due now */
int recipient_flush(struct store *s, const char *sg, bool smarthost, uint64_t *n)
{
    int rc = store_do(s, sql_flush, "dod", RCPT_PENDING, smarthost ? "" : sg,
                      smarthost ? RCPT_ROUTE_SMARTHOST : RCPT_ROUTE_SG);

    *n = rc == SQLITE_OK ? (uint64_t)store_changes(s) : 0;
    return rc;
}
