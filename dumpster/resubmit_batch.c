/*
 * resubmit_batch.c - resubmission on the storage thread: collecting one
 * batch of a request, applying it, the dry run, coverage, progress
 * (resubmit_int.h)
 *
 * A batch walks the request's range after its cursor: recipient copies by
 * (delivered, msg, rcpt) for match=delivered, items by (received, msg) for
 * match=received. Each item makes one envelope: for match=delivered the
 * item's recipients delivered in the range (taken when the walk reaches
 * the first of them, so an item is never taken twice), for match=received
 * all of its recipients; a recipient filter narrows it to that recipient.
 * A copy the ledger names for this destination is skipped unless forced;
 * the others are candidates. Collecting writes nothing: the loop may ask
 * the group's probe about the candidates first. Applying queues the
 * candidates the probe did not find as rows of this request, writes the
 * ledger and moves the cursor, in one transaction; a request cancelled or
 * moved on meanwhile is left alone.
 */
#include <stdint.h>
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
    struct resubmit_collect *col; /* the candidates and the request's counters */
    struct resubmit_preview *pv;  /* a dry run: counted here too */
    size_t cand_max;              /* candidates kept at most */
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

/* rs_candidate - keep a copy to resend (or to ask the probe about) */
static void rs_candidate(struct resubmit_collect *col, const struct dumpster_item_row *it,
                         const char *rcpt)
{
    if (col->n == col->cap) {
        col->cap = col->cap ? col->cap * 2 : 64;
        col->c = resubmit_oom(realloc(col->c, col->cap * sizeof(*col->c)));
    }
    struct resubmit_cand *c = &col->c[col->n++];
    c->msg = it->msg;
    c->rcpt = resubmit_oom(strdup(rcpt));
    c->message_id = resubmit_oom(strdup(it->message_id));
    snprintf(c->queue_id, sizeof(c->queue_id), "%s", it->queue_id);
}

/* rs_envelope - the envelope of one item: counted, its copies kept */
static int rs_envelope(struct rs_walk *w, const struct dumpster_item_row *it)
{
    struct resubmit_info *in = &w->col->next.info;
    const struct resubmit_req *q = w->req;
    size_t kept = 0;

    for (size_t i = 0; i < w->env.n; i++) {
        bool resent = false;
        int rc = q->force ? SQLITE_OK
                          : dumpster_ledger_has(w->s, q->storage_group, it->msg, w->env.r[i].rcpt,
                                                w->dest_eff, &resent);
        if (rc != SQLITE_OK)
            return rc;
        in->matched++;
        in->skipped_duplicate += resent;
        if (!resent && w->col->n < w->cand_max) {
            rs_candidate(w->col, it, w->env.r[i].rcpt);
            kept++;
        } else if (!resent) {
            w->col->unkept++;
        }
    }
    if (w->pv) {
        w->pv->messages++;
        w->pv->bytes += it->size;
        if (w->pv->nids < RESUBMIT_PREVIEW_IDS)
            snprintf(w->pv->queue_ids[w->pv->nids++], DD_QUEUEID_LEN + 1, "%s", it->queue_id);
    }
    (void)kept;
    return SQLITE_OK;
}

/* rs_cursor - the walk got here */
static void rs_cursor(struct rs_walk *w, int64_t t, uint64_t msg, const char *rcpt)
{
    struct resubmit_row *next = &w->col->next;

    w->col->seen++;
    next->cursor_time = t;
    next->cursor_msg = (int64_t)msg;
    snprintf(next->cursor_rcpt, sizeof(next->cursor_rcpt), "%s", rcpt);
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

/* resubmit_collect_free - the candidates of a collected batch */
void resubmit_collect_free(struct resubmit_collect *col)
{
    for (size_t i = 0; i < col->n; i++) {
        free(col->c[i].rcpt);
        free(col->c[i].message_id);
    }
    free(col->c);
    col->c = NULL;
    col->n = col->cap = 0;
}

/* resubmit_batch_collect - the next batch of the oldest open request,
 * without writing anything */
int resubmit_batch_collect(struct store *s, int limit, struct resubmit_collect *col)
{
    int rc = resubmit_request_next_open(s, &col->row, &col->found);

    if (rc != SQLITE_OK || !col->found)
        return rc;
    col->next = col->row;
    struct rs_walk w = {s, &col->row.info.req, col->row.dest_eff, col, NULL, SIZE_MAX, {0}};
    if ((rc = rs_walk_range(&w, col->row.cursor_time, col->row.cursor_msg, col->row.cursor_rcpt,
                            limit)) != SQLITE_OK)
        return rc;
    col->next.info.state = col->seen < limit ? RESUBMIT_DONE : RESUBMIT_RUNNING;
    return SQLITE_OK;
}

/* rs_still_ours - the request is open and where the collect found it */
static int rs_still_ours(struct store *s, const struct resubmit_collect *col, bool *ours)
{
    struct resubmit_row now;
    int rc = resubmit_request_get(s, col->row.info.id, &now, ours);

    *ours = *ours && (now.info.state == RESUBMIT_PENDING || now.info.state == RESUBMIT_RUNNING) &&
            now.cursor_time == col->row.cursor_time && now.cursor_msg == col->row.cursor_msg &&
            strcmp(now.cursor_rcpt, col->row.cursor_rcpt) == 0;
    return rc;
}

/* rs_queue_one - one candidate queued for this request, with its ledger entry */
static int rs_queue_one(struct store *s, struct queue *qu, struct resubmit_collect *col,
                        const struct resubmit_cand *c, int64_t now_ms)
{
    const struct resubmit_req *q = &col->row.info.req;
    struct queue_requeue rq = {c->msg, q->storage_group, q->has_dest ? q->dest_text : NULL,
                               col->row.info.id, now_ms};
    int rc = queue_requeue(qu, s, &rq, c->rcpt);

    if (rc == SQLITE_OK)
        rc = dumpster_ledger_add(s, q->storage_group, c->msg, c->rcpt, col->row.dest_eff,
                                 col->row.info.id);
    return rc;
}

/* rs_log_done - the request's last batch */
static void rs_log_done(struct store *s, const struct resubmit_info *in)
{
    store_log(s, "dumpster",
              "resubmit request=%llu done: matched=%llu queued=%llu skipped_duplicate=%llu"
              " skipped_present=%llu",
              (unsigned long long)in->id, (unsigned long long)in->matched,
              (unsigned long long)in->queued, (unsigned long long)in->skipped_duplicate,
              (unsigned long long)in->skipped_present);
}

/* rs_still_kept - the candidate's item is still in the dumpster: it may
 * have left (and its message with it) since the batch was collected */
static int rs_still_kept(struct store *s, const struct resubmit_collect *col,
                         const struct resubmit_cand *c, bool *kept)
{
    struct dumpster_item_row it;

    return dumpster_item_get(s, col->row.info.req.storage_group, c->msg, &it, kept);
}

/* resubmit_batch_apply - queue the candidates the probe did not find
 * (present NULL: every one) and whose item is still kept, move the
 * cursor; *msgs: messages queued */
int resubmit_batch_apply(struct store *s, struct resubmit *rs, struct resubmit_collect *col,
                         const enum probe_answer *answers, int64_t now_ms, uint64_t *msgs)
{
    struct resubmit_info *in = &col->next.info;
    bool ours, kept;
    int rc = rs_still_ours(s, col, &ours);

    *msgs = 0;
    if (rc != SQLITE_OK || !ours)
        return rc;
    for (size_t i = 0; i < col->n && rc == SQLITE_OK; i++) {
        if ((rc = rs_still_kept(s, col, &col->c[i], &kept)) != SQLITE_OK)
            break;
        if (!kept) { /* gone meanwhile: as if the walk had come after */
            in->matched--;
            continue;
        }
        if (answers && answers[i] == PROBE_PRESENT) {
            in->skipped_present++;
            continue;
        }
        if ((rc = rs_queue_one(s, rs->q, col, &col->c[i], now_ms)) != SQLITE_OK)
            break;
        in->queued++;
        if (i == 0 || col->c[i].msg != col->c[i - 1].msg) {
            (*msgs)++;
            store_log(s, "dumpster", "%s: dumpster sg=%s resubmitted request=%llu",
                      col->c[i].queue_id, in->req.storage_group, (unsigned long long)in->id);
        }
    }
    if (rc != SQLITE_OK || (rc = resubmit_request_advance(s, &col->next, now_ms)) != SQLITE_OK)
        return rc;
    if (in->state == RESUBMIT_DONE)
        rs_log_done(s, in);
    return in->state != col->row.info.state ? resubmit_batch_post_counts(s, rs) : SQLITE_OK;
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

/* resubmit_batch_dry - a walk of the whole range that queues nothing; the
 * first DD_DRY_RUN_PROBE_MAX candidates are kept for the probe */
int resubmit_batch_dry(struct store *s, const struct resubmit_req *r, const char *dest_eff,
                       struct resubmit_preview *pv, struct resubmit_collect *col)
{
    col->next.info.req = *r;
    struct rs_walk w = {s, r, dest_eff, col, pv, DD_DRY_RUN_PROBE_MAX, {0}};
    int rc = rs_walk_range(&w, INT64_MIN, INT64_MIN, "", DD_DRY_RUN_SCAN_MAX);

    pv->matched = col->next.info.matched;
    pv->skipped_duplicate = col->next.info.skipped_duplicate;
    return rc;
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
