/*
 * resubmit.c - resubmission requests: stored, paced, resumable, with a
 * ledger against duplicates
 *
 * A request names a storage group and a time range (of delivery, by
 * default, or of receipt). It is a row in the store; a tick on the loop
 * (every DD_RESUBMIT_TICK_MS) asks the storage thread to take the next
 * batch of the oldest open request: items after the request's cursor, in
 * time order. Each matching item is queued again for the group's
 * recipients, byte-identical, and written to the ledger (group, message,
 * destination) in the same transaction as the cursor, so a restart resumes
 * where it stopped and never resends an item to the same destination
 * twice; force ignores the ledger. resubmit_rate paces the batches.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/event.h>

#include "dumpster_int.h"
#include "resubmit_int.h"
#include "log.h"
#include "queue.h"
#include "timefmt.h"

struct resubmit_loop {
    struct event *tick;
    bool busy;   /* a batch is with the storage thread */
    bool active; /* there may be open requests */
};

static const char *const sql_counts = "SELECT state, count(*) FROM resubmit_request GROUP BY state";

/* resubmit_post_counts - requests by state, to the loop */
int resubmit_post_counts(struct store *s)
{
    sqlite3_stmt *st = store_prep(s, sql_counts);
    struct dumpster_post *p = calloc(1, sizeof(*p));
    int rc;

    if (st == NULL || p == NULL) {
        free(p);
        return st == NULL ? SQLITE_ERROR : SQLITE_NOMEM;
    }
    p->kind = DUMPSTER_POST_RESUBMIT;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int state = sqlite3_column_int(st, 0);
        if (state >= 0 && state < 4)
            p->resubmit_counts[state] = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        free(p);
        return rc;
    }
    store_post(s, p);
    return SQLITE_OK;
}

static const char *const sql_progress =
    "UPDATE resubmit_request SET delivered = delivered + ?, failed = failed + ?, updated = ?"
    " WHERE id = ?";

/* resubmit_progress - a resent message reached its outcome */
int resubmit_progress(struct store *s, const struct queue_outcome *o)
{
    bool delivered = false, open = false;
    sqlite3_stmt *st;

    for (size_t i = 0; i < o->nrcpts; i++) {
        delivered |= o->rcpts[i].fate == QUEUE_DELIVERED;
        open |= o->rcpts[i].fate == QUEUE_DEFERRED;
    }
    if ((!delivered && open) || (st = store_prep(s, sql_progress)) == NULL)
        return open ? SQLITE_OK : SQLITE_ERROR;
    sqlite3_bind_int(st, 1, delivered);
    sqlite3_bind_int(st, 2, !delivered);
    sqlite3_bind_int64(st, 3, o->now_ms);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)o->request);
    return rs_step(st);
}

/* ---- coverage and item matching ---- */

static const char *const sql_gone_delivered =
    "SELECT count(*) FROM dumpster_gone WHERE sg = ? AND delivered BETWEEN ? AND ?";
static const char *const sql_gone_received =
    "SELECT count(*) FROM dumpster_gone WHERE sg = ? AND received BETWEEN ? AND ?";

/* rs_coverage - does the dumpster still hold the whole range */
static int rs_coverage(struct store *s, const struct resubmit_req *r, struct resubmit_coverage *c)
{
    struct dumpster_stats now;
    sqlite3_stmt *st;
    int rc = dumpster_read_sg(s, r->storage_group, &now);

    if (rc != SQLITE_OK)
        return rc;
    st =
        store_prep(s, r->match == RESUBMIT_MATCH_RECEIVED ? sql_gone_received : sql_gone_delivered);
    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, r->storage_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->start_ms);
    sqlite3_bind_int64(st, 3, r->end_ms);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW)
        c->evicted_in_range = (uint64_t)sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    c->oldest_available_ms = now.oldest_received_ms;
    c->complete = c->evicted_in_range == 0;
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* rs_has_rcpt - is addr in the comma list (case-insensitive) */
static bool rs_has_rcpt(const char *list, const char *addr)
{
    size_t n = strlen(addr);

    for (const char *p = list; p && *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncasecmp(p, addr, n) == 0)
            return true;
        p = e ? e + 1 : NULL;
    }
    return false;
}

/* One item of a range, as the scans read it. */
struct rs_item {
    uint64_t msg;
    int64_t t;
    const char *sender, *rcpts, *message_id, *queue_id;
    uint64_t size;
};

/* rs_filter - the request's sender, recipient and Message-ID filters */
static bool rs_filter(const struct resubmit_req *r, const struct rs_item *it)
{
    if (r->has_sender && strcasecmp(r->sender, it->sender ? it->sender : "") != 0)
        return false;
    if (r->has_recipient && !rs_has_rcpt(it->rcpts, r->recipient))
        return false;
    if (r->has_message_id && strcmp(r->message_id, it->message_id ? it->message_id : "") != 0)
        return false;
    return true;
}

static const char *const sql_scan_delivered =
    "SELECT msg, delivered, sender, rcpts, message_id, size, queue_id FROM dumpster_item"
    " WHERE sg = ? AND delivered BETWEEN ? AND ? AND (delivered > ? OR (delivered = ? AND"
    " msg > ?)) ORDER BY delivered, msg LIMIT ?";
static const char *const sql_scan_received =
    "SELECT msg, received, sender, rcpts, message_id, size, queue_id FROM dumpster_item"
    " WHERE sg = ? AND received BETWEEN ? AND ? AND (received > ? OR (received = ? AND"
    " msg > ?)) ORDER BY received, msg LIMIT ?";

/* rs_scan - items of the range after the cursor (t, msg) */
static sqlite3_stmt *rs_scan(struct store *s, const struct resubmit_req *r, int64_t t, int64_t msg,
                             int limit)
{
    sqlite3_stmt *st =
        store_prep(s, r->match == RESUBMIT_MATCH_RECEIVED ? sql_scan_received : sql_scan_delivered);
    if (st == NULL)
        return NULL;
    sqlite3_bind_text(st, 1, r->storage_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->start_ms);
    sqlite3_bind_int64(st, 3, r->end_ms);
    sqlite3_bind_int64(st, 4, t);
    sqlite3_bind_int64(st, 5, t);
    sqlite3_bind_int64(st, 6, msg);
    sqlite3_bind_int(st, 7, limit);
    return st;
}

/* rs_item_of - the current row of a scan */
static void rs_item_of(sqlite3_stmt *st, struct rs_item *it)
{
    it->msg = (uint64_t)sqlite3_column_int64(st, 0);
    it->t = sqlite3_column_int64(st, 1);
    it->sender = (const char *)sqlite3_column_text(st, 2);
    it->rcpts = (const char *)sqlite3_column_text(st, 3);
    it->message_id = (const char *)sqlite3_column_text(st, 4);
    it->size = (uint64_t)sqlite3_column_int64(st, 5);
    it->queue_id = (const char *)sqlite3_column_text(st, 6);
}

static const char *const sql_ledger_has =
    "SELECT 1 FROM resubmit_ledger WHERE sg = ? AND msg = ? AND dest = ?";

/* rs_resent - the ledger says the item went to dest already */
static bool rs_resent(struct store *s, const char *sg, uint64_t msg, const char *dest)
{
    sqlite3_stmt *st = store_prep(s, sql_ledger_has);

    if (st == NULL)
        return false;
    sqlite3_bind_text(st, 1, sg, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)msg);
    sqlite3_bind_text(st, 3, dest, -1, SQLITE_STATIC);
    bool has = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return has;
}

/* ---- one batch of the oldest open request ---- */

static const char *const sql_requeue =
    "INSERT INTO recipient(msg, rcpt, sg, state, attempts, next_attempt, queued, dest, request)"
    " VALUES (?, ?, ?, 0, 0, 0, ?, ?, ?) ON CONFLICT(msg, rcpt) DO UPDATE SET sg = excluded.sg,"
    " state = 0, attempts = 0, next_attempt = 0, queued = excluded.queued, dest = excluded.dest,"
    " request = excluded.request, delivered = NULL, last_reply = NULL";
static const char *const sql_ledger_add =
    "INSERT OR REPLACE INTO resubmit_ledger(sg, msg, dest, request) VALUES (?, ?, ?, ?)";

/* rs_requeue - queue an item again for the group's recipients; ledger it */
static int rs_requeue(struct store *s, const struct rs_row *row, const struct rs_item *it,
                      int64_t now)
{
    const struct resubmit_req *r = &row->info.req;
    int rc = SQLITE_OK;

    for (const char *p = it->rcpts; p && *p && rc == SQLITE_OK;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        sqlite3_stmt *st = store_prep(s, sql_requeue);
        if (st == NULL)
            return SQLITE_ERROR;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)it->msg);
        sqlite3_bind_text(st, 2, p, (int)len, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, r->storage_group, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, now);
        rs_text(st, 5, r->has_dest, r->dest_text);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)row->info.id);
        rc = rs_step(st);
        p = e ? e + 1 : NULL;
    }
    sqlite3_stmt *st = store_prep(s, sql_ledger_add);
    if (rc != SQLITE_OK || st == NULL)
        return rc != SQLITE_OK ? rc : SQLITE_ERROR;
    sqlite3_bind_text(st, 1, r->storage_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)it->msg);
    sqlite3_bind_text(st, 3, row->dest_eff, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)row->info.id);
    log_info("dumpster", "%s: dumpster sg=%s resubmitted request=%llu", it->queue_id,
             r->storage_group, (unsigned long long)row->info.id);
    return rs_step(st);
}

static const char *const sql_advance =
    "UPDATE resubmit_request SET state = ?, updated = ?, cursor_time = ?, cursor_msg = ?,"
    " matched = ?, queued = ?, skipped_duplicate = ? WHERE id = ?";

/* rs_advance - cursor and counters, in the transaction of the batch */
static int rs_advance(struct store *s, struct rs_row *row, int64_t now)
{
    sqlite3_stmt *st = store_prep(s, sql_advance);
    const struct resubmit_info *in = &row->info;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, (int)in->state);
    sqlite3_bind_int64(st, 2, now);
    sqlite3_bind_int64(st, 3, row->cursor_time);
    sqlite3_bind_int64(st, 4, row->cursor_msg);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)in->matched);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)in->queued);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)in->skipped_duplicate);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)in->id);
    return rs_step(st);
}

struct rs_batch {
    struct dumpster *d;
    int limit;
    int64_t now_ms;
    bool found;    /* there was an open request */
    size_t queued; /* items queued by this batch */
};

/* rs_batch_items - up to limit items after the cursor */
static int rs_batch_items(struct store *s, struct rs_row *row, struct rs_batch *b, int *seen)
{
    const struct resubmit_req *r = &row->info.req;
    sqlite3_stmt *st = rs_scan(s, r, row->cursor_time, row->cursor_msg, b->limit);
    struct rs_item it;
    int rc = SQLITE_OK;

    if (st == NULL)
        return SQLITE_ERROR;
    *seen = 0;
    /* the scan holds its row while the item is queued: copy what is needed */
    struct rs_item *items = calloc((size_t)b->limit, sizeof(*items));
    char **texts = calloc((size_t)b->limit * 4, sizeof(*texts));
    while (items && texts && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        rs_item_of(st, &it);
        char **t = &texts[*seen * 4];
        t[0] = strdup(it.sender ? it.sender : "");
        t[1] = strdup(it.rcpts ? it.rcpts : "");
        t[2] = it.message_id ? strdup(it.message_id) : NULL;
        t[3] = strdup(it.queue_id ? it.queue_id : "");
        it.sender = t[0], it.rcpts = t[1], it.message_id = t[2], it.queue_id = t[3];
        items[(*seen)++] = it;
    }
    sqlite3_reset(st);
    rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : items && texts ? rc : SQLITE_NOMEM;
    for (int i = 0; i < *seen && rc == SQLITE_OK; i++) {
        row->cursor_time = items[i].t;
        row->cursor_msg = (int64_t)items[i].msg;
        if (!rs_filter(r, &items[i]))
            continue;
        row->info.matched++;
        if (!r->force && rs_resent(s, r->storage_group, items[i].msg, row->dest_eff)) {
            row->info.skipped_duplicate++;
            continue;
        }
        if ((rc = rs_requeue(s, row, &items[i], b->now_ms)) == SQLITE_OK) {
            row->info.queued++;
            b->queued++;
        }
    }
    for (int i = 0; texts && i < *seen * 4; i++)
        free(texts[i]);
    free(texts);
    free(items);
    return rc;
}

/* rs_batch_work - storage thread: the next batch of the oldest open request */
static int rs_batch_work(struct store *s, void *arg)
{
    struct rs_batch *b = arg;
    struct rs_row row;
    int seen, rc = rs_load_next_open(s, &row, &b->found);

    if (rc != SQLITE_OK || !b->found)
        return rc;
    enum resubmit_state was = row.info.state;
    if ((rc = rs_batch_items(s, &row, b, &seen)) != SQLITE_OK)
        return rc;
    row.info.state = seen < b->limit ? RESUBMIT_DONE : RESUBMIT_RUNNING;
    if (row.info.state == RESUBMIT_DONE)
        log_info("dumpster",
                 "resubmit request=%llu done: matched=%llu queued=%llu"
                 " skipped_duplicate=%llu",
                 (unsigned long long)row.info.id, (unsigned long long)row.info.matched,
                 (unsigned long long)row.info.queued,
                 (unsigned long long)row.info.skipped_duplicate);
    if ((rc = rs_advance(s, &row, b->now_ms)) != SQLITE_OK)
        return rc;
    return row.info.state != was ? resubmit_post_counts(s) : SQLITE_OK;
}

static void rs_schedule(struct dumpster *d, int ms);

/* rs_batch_reply - loop: the next batch, paced */
static void rs_batch_reply(void *arg, enum store_rc rc)
{
    struct rs_batch *b = arg;
    struct dumpster *d = b->d;
    struct resubmit_loop *rl = *dumpster_resubmit_slot(d);

    rl->busy = false;
    if (b->queued > 0)
        dumpster_queued(d);
    if (rc == STORE_OK && !b->found)
        rl->active = false;
    else if (!dumpster_stopping(d))
        rs_schedule(d, rc != STORE_OK                             ? 1000
                       : dumpster_conf(d)->dumpster.resubmit_rate ? DD_RESUBMIT_TICK_MS
                                                                  : 0);
    free(b);
}

/* rs_tick_cb - take a batch */
static void rs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dumpster *d = arg;
    struct resubmit_loop *rl = *dumpster_resubmit_slot(d);
    unsigned rate = dumpster_conf(d)->dumpster.resubmit_rate;
    struct rs_batch *b;

    (void)fd;
    (void)what;
    if (rl->busy || !rl->active || dumpster_stopping(d) || (b = calloc(1, sizeof(*b))) == NULL)
        return;
    b->d = d;
    b->now_ms = rs_now_ms();
    b->limit =
        rate == 0
            ? DD_RESUBMIT_BATCH_MAX
            : (int)(rate * DD_RESUBMIT_TICK_MS / 1000 ? rate * DD_RESUBMIT_TICK_MS / 1000 : 1);
    if (b->limit > DD_RESUBMIT_BATCH_MAX)
        b->limit = DD_RESUBMIT_BATCH_MAX;
    rl->busy = true;
    store_call(dumpster_store(d), rs_batch_work, rs_batch_reply, b, false);
}

/* rs_schedule - the next tick in ms */
static void rs_schedule(struct dumpster *d, int ms)
{
    struct resubmit_loop *rl = *dumpster_resubmit_slot(d);

    event_add(rl->tick, &(struct timeval){ms / 1000, (ms % 1000) * 1000});
}

/* resubmit_start - resume open requests (at start, and after a new one) */
void resubmit_start(struct dumpster *d)
{
    struct resubmit_loop **slot = dumpster_resubmit_slot(d);

    if (*slot == NULL) {
        if ((*slot = calloc(1, sizeof(**slot))) == NULL)
            return;
        (*slot)->tick = evtimer_new(dumpster_base(d), rs_tick_cb, d);
    }
    (*slot)->active = true;
    if (!(*slot)->busy && (*slot)->tick)
        rs_schedule(d, 0);
}

/* resubmit_stop - no more batches */
void resubmit_stop(struct dumpster *d)
{
    struct resubmit_loop *rl = *dumpster_resubmit_slot(d);

    if (rl && rl->tick)
        event_del(rl->tick);
}

/* resubmit_free - release the loop state */
void resubmit_free(struct dumpster *d)
{
    struct resubmit_loop **slot = dumpster_resubmit_slot(d);

    if (*slot && (*slot)->tick)
        event_free((*slot)->tick);
    free(*slot);
    *slot = NULL;
}

/* ---- create, dry run, get, list, cancel ---- */

struct rs_create {
    struct dumpster *d;
    struct resubmit_req req;
    char dest_eff[API_DEST_TEXT_MAX + 1];
    int64_t now_ms;
    struct resubmit_info info;
    struct resubmit_preview preview;
    void (*fn)(void *ctx, const struct resubmit_info *info, const struct resubmit_preview *preview,
               enum store_rc rc);
    void *ctx;
};

static const char *const sql_insert =
    "INSERT INTO resubmit_request(sg, start, end, match, dest, dest_eff, sender, recipient,"
    " message_id, reason, force, state, created, updated, cov_complete, cov_oldest,"
    " cov_evicted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?)";

/* rs_insert - the request row */
static int rs_insert(struct store *s, struct rs_create *c)
{
    const struct resubmit_req *r = &c->req;
    sqlite3_stmt *st = store_prep(s, sql_insert);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_text(st, 1, r->storage_group, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, r->start_ms);
    sqlite3_bind_int64(st, 3, r->end_ms);
    sqlite3_bind_int(st, 4, r->match == RESUBMIT_MATCH_RECEIVED);
    rs_text(st, 5, r->has_dest, r->dest_text);
    sqlite3_bind_text(st, 6, c->dest_eff, -1, SQLITE_STATIC);
    rs_text(st, 7, r->has_sender, r->sender);
    rs_text(st, 8, r->has_recipient, r->recipient);
    rs_text(st, 9, r->has_message_id, r->message_id);
    sqlite3_bind_text(st, 10, r->reason, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 11, r->force);
    sqlite3_bind_int64(st, 12, c->now_ms);
    sqlite3_bind_int64(st, 13, c->now_ms);
    sqlite3_bind_int(st, 14, c->info.coverage.complete);
    sqlite3_bind_int64(st, 15, c->info.coverage.oldest_available_ms);
    sqlite3_bind_int64(st, 16, (sqlite3_int64)c->info.coverage.evicted_in_range);
    if ((rc = rs_step(st)) != SQLITE_OK)
        return rc;
    c->info.id = (uint64_t)sqlite3_last_insert_rowid(store_db(s));
    c->info.req = *r;
    c->info.state = RESUBMIT_PENDING;
    c->info.created_ms = c->info.updated_ms = c->now_ms;
    return resubmit_post_counts(s);
}

/* rs_dry_run - what the request would resend; nothing is queued */
static int rs_dry_run(struct store *s, struct rs_create *c)
{
    struct resubmit_preview *pv = &c->preview;
    sqlite3_stmt *st = rs_scan(s, &c->req, INT64_MIN, INT64_MIN, DD_DRY_RUN_SCAN_MAX);
    struct rs_item it;
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        rs_item_of(st, &it);
        if (!rs_filter(&c->req, &it))
            continue;
        pv->matched++;
        pv->bytes += it.size;
        if (pv->nids < RESUBMIT_PREVIEW_IDS)
            snprintf(pv->queue_ids[pv->nids++], DD_QUEUEID_LEN + 1, "%s",
                     it.queue_id ? it.queue_id : "");
        if (!c->req.force && rs_resent(s, c->req.storage_group, it.msg, c->dest_eff))
            pv->skipped_duplicate++;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* rs_create_work - storage thread: coverage, then the row or the preview */
static int rs_create_work(struct store *s, void *arg)
{
    struct rs_create *c = arg;
    int rc = rs_coverage(s, &c->req, &c->info.coverage);

    c->preview.coverage = c->info.coverage;
    if (rc != SQLITE_OK)
        return rc;
    return c->req.dry_run ? rs_dry_run(s, c) : rs_insert(s, c);
}

/* rs_create_reply - loop */
static void rs_create_reply(void *arg, enum store_rc rc)
{
    struct rs_create *c = arg;

    if (rc == STORE_OK && !c->req.dry_run) {
        char a[32], b[32];
        timefmt_format(c->req.start_ms, a);
        timefmt_format(c->req.end_ms, b);
        log_info("dumpster", "resubmit request=%llu sg=%s %s..%s match=%s dest=%s%s%s",
                 (unsigned long long)c->info.id, c->req.storage_group, a, b,
                 api_match_name(c->req.match), c->dest_eff, c->req.reason[0] ? " reason=" : "",
                 c->req.reason);
        if (!dumpster_stopping(c->d))
            resubmit_start(c->d);
    }
    c->fn(c->ctx, rc == STORE_OK && !c->req.dry_run ? &c->info : NULL,
          rc == STORE_OK && c->req.dry_run ? &c->preview : NULL, rc);
    free(c);
}

/* resubmit_create - store a request or run a dry run */
void resubmit_create(struct dumpster *d, const struct resubmit_req *req,
                     void (*fn)(void *ctx, const struct resubmit_info *info,
                                const struct resubmit_preview *preview, enum store_rc rc),
                     void *ctx)
{
    struct rs_create *c = calloc(1, sizeof(*c));

    if (c == NULL) {
        log_err("dumpster", "out of memory");
        abort();
    }
    c->d = d;
    c->req = *req;
    c->now_ms = rs_now_ms();
    c->fn = fn;
    c->ctx = ctx;
    snprintf(c->dest_eff, sizeof(c->dest_eff), "%s",
             req->has_dest ? req->dest_text : dumpster_dest_of(d, req->storage_group));
    store_call(dumpster_store(d), rs_create_work, rs_create_reply, c, !req->dry_run);
}
