/*
 * resubmit_batch.c - resubmission on the storage thread: one batch of a
 * request, the dry run, coverage, progress (resubmit_int.h)
 *
 * A batch walks the request's range after its cursor: recipient copies by
 * (delivered, msg, rcpt) for match=delivered, items by (received, msg) for
 * match=received. Each item makes one envelope: for match=delivered the
 * item's recipients delivered in the range (taken when the walk reaches
 * the first of them, so an item is never taken twice), for match=received
 * all of its recipients; a recipient filter narrows it to that recipient.
 * A copy the ledger names for this destination is skipped unless forced;
 * the others are queued as rows of this request and written to the ledger,
 * with the cursor, in one transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dumpster_gone.h"
#include "dumpster_item.h"
#include "dumpster_ledger.h"
#include "dumpster_rcpt.h"
#include "dumpster_sg.h"
#include "queue_int.h"
#include "resubmit_int.h"

/* One item's copies that a request takes. */
struct rs_envelope {
    struct dumpster_rcpt_row *r;
    size_t n, cap;
};

/* The walk of one batch or dry run. */
struct rs_walk {
    struct store *s;
    const struct resubmit_req *req;
    const char *dest_eff;
    struct resubmit_row *row;    /* a batch: cursor and counters; NULL for a dry run */
    struct resubmit_preview *pv; /* a dry run */
    int64_t now_ms;
    int seen;
    uint64_t messages; /* envelopes queued (or that would be) */
    struct rs_envelope env;
};

/* rs_rcpt_wanted - the request's recipient filter */
static bool rs_rcpt_wanted(const struct resubmit_req *r, const char *rcpt)
{
    return !r->has_recipient || strcasecmp(r->recipient, rcpt) == 0;
}

/* rs_item_wanted - the request's sender and Message-ID filters */
static bool rs_item_wanted(const struct resubmit_req *r, const struct dumpster_item_row *it)
{
    if (r->has_sender && strcasecmp(r->sender, it->sender) != 0)
        return false;
    return !r->has_message_id || strcmp(r->message_id, it->message_id) == 0;
}

/* rs_env_row - collect one copy of the item into the envelope */
static int rs_env_row(void *ctx, const struct dumpster_rcpt_row *r)
{
    struct rs_walk *w = ctx;
    const struct resubmit_req *q = w->req;
    struct rs_envelope *e = &w->env;

    if (!rs_rcpt_wanted(q, r->rcpt))
        return SQLITE_OK;
    if (q->match == RESUBMIT_MATCH_DELIVERED &&
        (r->delivered_ms < q->start_ms || r->delivered_ms > q->end_ms))
        return SQLITE_OK;
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 8;
        e->r = resubmit_oom(realloc(e->r, e->cap * sizeof(*e->r)));
    }
    e->r[e->n++] = *r;
    return SQLITE_OK;
}

/* rs_copy - one copy of an envelope: counted, skipped or queued */
static int rs_copy(struct rs_walk *w, const struct dumpster_item_row *it, const char *rcpt,
                   bool *queued)
{
    const struct resubmit_req *q = w->req;
    bool resent = false;
    int rc = q->force
                 ? SQLITE_OK
                 : dumpster_ledger_has(w->s, q->storage_group, it->msg, rcpt, w->dest_eff, &resent);

    if (rc != SQLITE_OK)
        return rc;
    if (w->row == NULL) {
        w->pv->matched++;
        w->pv->skipped_duplicate += resent;
        return SQLITE_OK;
    }
    w->row->info.matched++;
    if (resent) {
        w->row->info.skipped_duplicate++;
        return SQLITE_OK;
    }
    struct queue_requeue rq = {it->msg, q->storage_group, q->has_dest ? q->dest_text : NULL,
                               w->row->info.id, w->now_ms};
    if ((rc = queue_requeue(w->s, &rq, rcpt)) == SQLITE_OK &&
        (rc = dumpster_ledger_add(w->s, q->storage_group, it->msg, rcpt, w->dest_eff,
                                  w->row->info.id)) == SQLITE_OK) {
        w->row->info.queued++;
        *queued = true;
    }
    return rc;
}

/* rs_envelope - the envelope of one item, resent (or previewed) */
static int rs_envelope(struct rs_walk *w, const struct dumpster_item_row *it)
{
    bool queued = false;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < w->env.n && rc == SQLITE_OK; i++)
        rc = rs_copy(w, it, w->env.r[i].rcpt, &queued);
    if (rc != SQLITE_OK)
        return rc;
    if (w->row == NULL) {
        struct resubmit_preview *pv = w->pv;
        pv->messages++;
        pv->bytes += it->size;
        if (pv->nids < RESUBMIT_PREVIEW_IDS)
            snprintf(pv->queue_ids[pv->nids++], DD_QUEUEID_LEN + 1, "%s", it->queue_id);
    } else if (queued) {
        w->messages++;
        store_log(w->s, "dumpster", "%s: dumpster sg=%s resubmitted request=%llu", it->queue_id,
                  w->req->storage_group, (unsigned long long)w->row->info.id);
    }
    return SQLITE_OK;
}

/* rs_cursor - the walk got here */
static void rs_cursor(struct rs_walk *w, int64_t t, uint64_t msg, const char *rcpt)
{
    w->seen++;
    if (w->row == NULL)
        return;
    w->row->cursor_time = t;
    w->row->cursor_msg = (int64_t)msg;
    snprintf(w->row->cursor_rcpt, sizeof(w->row->cursor_rcpt), "%s", rcpt);
}

/* rs_item_envelope - gather an item's copies; *ok false when it is not wanted */
static int rs_item_envelope(struct rs_walk *w, uint64_t msg, struct dumpster_item_row *it, bool *ok)
{
    int rc = dumpster_item_get(w->s, w->req->storage_group, msg, it, ok);

    w->env.n = 0;
    if (rc != SQLITE_OK || !*ok || !(*ok = rs_item_wanted(w->req, it)))
        return rc;
    rc = dumpster_rcpt_of_item(w->s, w->req->storage_group, msg, rs_env_row, w);
    *ok = rc == SQLITE_OK && w->env.n > 0;
    return rc;
}

/* rs_by_delivered - one copy of the walk by delivery time */
static int rs_by_delivered(void *ctx, const struct dumpster_rcpt_row *r)
{
    struct rs_walk *w = ctx;
    struct dumpster_item_row it;
    bool ok;
    int rc;

    rs_cursor(w, r->delivered_ms, r->msg, r->rcpt);
    if (!rs_rcpt_wanted(w->req, r->rcpt))
        return SQLITE_OK;
    if ((rc = rs_item_envelope(w, r->msg, &it, &ok)) != SQLITE_OK || !ok)
        return rc;
    /* the item is taken at its first copy of the range, in the walk's order */
    if (w->env.r[0].delivered_ms != r->delivered_ms || strcmp(w->env.r[0].rcpt, r->rcpt) != 0)
        return SQLITE_OK;
    return rs_envelope(w, &it);
}

/* rs_by_received - one item of the walk by received time */
static int rs_by_received(void *ctx, const struct dumpster_item_row *row)
{
    struct rs_walk *w = ctx;
    struct dumpster_item_row it;
    bool ok;
    int rc;

    rs_cursor(w, row->received_ms, row->msg, "");
    if ((rc = rs_item_envelope(w, row->msg, &it, &ok)) != SQLITE_OK || !ok)
        return rc;
    return rs_envelope(w, &it);
}

/* rs_walk_range - up to limit rows of the range after the cursor */
static int rs_walk_range(struct rs_walk *w, int64_t t, int64_t msg, const char *rcpt, int limit)
{
    const struct resubmit_req *q = w->req;
    int rc;

    if (q->match == RESUBMIT_MATCH_RECEIVED)
        rc = dumpster_item_received(w->s, q->storage_group, q->start_ms, q->end_ms, t, msg, limit,
                                    rs_by_received, w);
    else
        rc = dumpster_rcpt_delivered(w->s, q->storage_group, q->start_ms, q->end_ms, t, msg, rcpt,
                                     limit, rs_by_delivered, w);
    free(w->env.r);
    w->env.r = NULL;
    return rc;
}

/* resubmit_batch_post_counts - requests by state, to the loop */
int resubmit_batch_post_counts(struct store *s, struct resubmit *rs)
{
    uint64_t *counts = resubmit_oom(calloc(RESUBMIT_NSTATES, sizeof(*counts)));
    int rc = resubmit_request_counts(s, counts);

    if (rc != SQLITE_OK) {
        free(counts);
        return rc;
    }
    store_post(s, resubmit_on_counts, rs, counts);
    return SQLITE_OK;
}

/* resubmit_batch_run - the next batch of the oldest open request */
int resubmit_batch_run(struct store *s, struct resubmit_batch *b)
{
    struct resubmit_row row;
    int rc = resubmit_request_next_open(s, &row, &b->found);

    if (rc != SQLITE_OK || !b->found)
        return rc;
    struct rs_walk w = {s, &row.info.req, row.dest_eff, &row, NULL, b->now_ms, 0, 0, {0}};
    enum resubmit_state was = row.info.state;
    if ((rc = rs_walk_range(&w, row.cursor_time, row.cursor_msg, row.cursor_rcpt, b->limit)) !=
        SQLITE_OK)
        return rc;
    b->queued = w.messages;
    row.info.state = w.seen < b->limit ? RESUBMIT_DONE : RESUBMIT_RUNNING;
    if (row.info.state == RESUBMIT_DONE)
        store_log(s, "dumpster",
                  "resubmit request=%llu done: matched=%llu queued=%llu skipped_duplicate=%llu",
                  (unsigned long long)row.info.id, (unsigned long long)row.info.matched,
                  (unsigned long long)row.info.queued,
                  (unsigned long long)row.info.skipped_duplicate);
    if ((rc = resubmit_request_advance(s, &row, b->now_ms)) != SQLITE_OK)
        return rc;
    return row.info.state != was ? resubmit_batch_post_counts(s, b->rs) : SQLITE_OK;
}

/* resubmit_batch_dry - a walk of the whole range that queues nothing */
int resubmit_batch_dry(struct store *s, const struct resubmit_req *r, const char *dest_eff,
                       struct resubmit_preview *pv)
{
    struct rs_walk w = {s, r, dest_eff, NULL, pv, 0, 0, 0, {0}};

    return rs_walk_range(&w, INT64_MIN, INT64_MIN, "", DD_DRY_RUN_SCAN_MAX);
}

/* resubmit_batch_coverage - items of the range already gone */
int resubmit_batch_coverage(struct store *s, const struct resubmit_req *r,
                            struct resubmit_coverage *c)
{
    struct dumpster_stats now;
    int rc = dumpster_sg_read(s, r->storage_group, &now);

    if (rc == SQLITE_OK)
        rc = dumpster_gone_count(s, r->storage_group, r->match == RESUBMIT_MATCH_RECEIVED,
                                 r->start_ms, r->end_ms, &c->evicted_in_range);
    c->oldest_available_ms = now.oldest_received_ms;
    c->complete = c->evicted_in_range == 0;
    return rc;
}

/* resubmit_batch_outcome - progress of the request that resent o's copies */
int resubmit_batch_outcome(void *ctx, struct store *s, const struct queue_outcome *o)
{
    uint64_t delivered = 0, failed = 0;

    (void)ctx;
    if (o->request == 0)
        return SQLITE_OK;
    for (size_t i = 0; i < o->nrcpts; i++) {
        delivered += o->rcpts[i].fate == QUEUE_DELIVERED;
        failed += o->rcpts[i].fate == QUEUE_FAILED;
    }
    if (delivered == 0 && failed == 0)
        return SQLITE_OK;
    return resubmit_request_progress(s, o->request, delivered, failed, o->now_ms);
}
