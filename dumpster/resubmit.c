/*
 * resubmit.c - the resubmission engine on the loop: the object, paced
 * batches, new requests and dry runs (resubmit.h)
 *
 * A tick (every DD_RESUBMIT_TICK_MS while requests are open) hands the
 * storage thread one batch of the oldest open request (resubmit_batch.c);
 * resubmit_rate sets how many rows a batch looks at. The request counts by
 * state are mirrored from the store for metrics.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "queue_int.h"
#include "resubmit_int.h"
#include "timefmt.h"

/* resubmit_oom - allocation failures here are fatal */
void *resubmit_oom(void *p)
{
    if (p == NULL) {
        log_err("resubmit", "out of memory");
        abort();
    }
    return p;
}

/* rs_counts_work - storage thread: the counts, at start and after a resync */
static int rs_counts_work(struct store *s, void *arg)
{
    return resubmit_batch_post_counts(s, arg);
}

/* resubmit_on_counts - the mirror of the counts; NULL: re-read them */
void resubmit_on_counts(void *ctx, void *data)
{
    struct resubmit *rs = ctx;

    if (rs->stopping)
        return;
    if (data == NULL) { /* posts were dropped: count again, look for work again */
        store_call(rs->st, rs_counts_work, NULL, rs, false);
        if (rs->started)
            resubmit_start(rs);
        return;
    }
    memcpy(rs->counts, data, sizeof(rs->counts));
}

static void rs_schedule(struct resubmit *rs, int ms);

/* rs_batch_free - a batch and what it holds */
static void rs_batch_free(struct resubmit_batch *b)
{
    resubmit_collect_free(&b->col);
    free(b->answers);
    free(b);
}

/* rs_batch_end - the batch is over; the next one after delay_ms (< 0: at
 * the pace of resubmit_rate) unless no request is open */
static void rs_batch_end(struct resubmit_batch *b, int delay_ms, bool none_open)
{
    struct resubmit *rs = b->rs;

    rs->busy = false;
    if (b->queued > 0 && rs->queued_fn)
        rs->queued_fn(rs->queued_ctx);
    if (none_open)
        rs->active = false;
    else if (!rs->stopping)
        rs_schedule(rs, delay_ms >= 0                   ? delay_ms
                        : rs->c->dumpster.resubmit_rate ? DD_RESUBMIT_TICK_MS
                                                        : 0);
    rs_batch_free(b);
}

/* rs_apply_work - storage thread: queue what the probe did not find */
static int rs_apply_work(struct store *s, void *arg)
{
    struct resubmit_batch *b = arg;

    return resubmit_batch_apply(s, b->rs, &b->col, b->answers, b->now_ms, &b->queued);
}

/* rs_apply_reply - loop: the batch is written (or not: it runs again) */
static void rs_apply_reply(void *arg, enum store_rc rc)
{
    rs_batch_end(arg, rc != STORE_OK ? 1000 : -1, false);
}

/* rs_probe_delay - ms before a batch whose probe failed is tried again */
static int rs_probe_delay(unsigned failures)
{
    int64_t ms = DD_PROBE_RETRY_FIRST_MS;

    for (unsigned i = 0; i < failures && ms < DD_PROBE_RETRY_MAX_MS; i++)
        ms *= 2;
    return (int)(ms < DD_PROBE_RETRY_MAX_MS ? ms : DD_PROBE_RETRY_MAX_MS);
}

/* rs_probed - the probe answered for the batch's candidates */
static void rs_probed(void *ctx, const enum probe_answer *answers, size_t n, const char *error)
{
    struct resubmit_batch *b = ctx;
    struct resubmit *rs = b->rs;
    bool unsure = error != NULL || rs->stopping;

    for (size_t i = 0; i < n && !unsure; i++)
        unsure = answers[i] == PROBE_ERROR;
    if (unsure) { /* never resend blindly: the batch waits and runs again */
        int delay = rs_probe_delay(rs->probe_failures++);
        if (!rs->stopping)
            log_warn("dumpster",
                     "resubmit request=%llu sg=%s: the probe cannot say (%s);"
                     " trying again in %d ms",
                     (unsigned long long)b->col.row.info.id, b->col.row.info.req.storage_group,
                     error ? error : "an answer failed", delay);
        rs_batch_end(b, delay, false);
        return;
    }
    rs->probe_failures = 0;
    b->answers = resubmit_oom(malloc((n ? n : 1) * sizeof(*b->answers)));
    memcpy(b->answers, answers, n * sizeof(*answers));
    store_call(rs->st, rs_apply_work, rs_apply_reply, b, false);
}

/* rs_probe_wanted - the request's group has a probe and the request uses it */
static bool rs_probe_wanted(const struct resubmit *rs, const struct resubmit_req *r)
{
    return !r->skip_probe && rs->probe.has && rs->probe.has(rs->probe.ctx, r->storage_group);
}

/* rs_ask_probe - the probe about every candidate of col; fn(ctx, ...) follows */
static void rs_ask_probe(struct resubmit *rs, const struct resubmit_collect *col, const char *sg,
                         probe_done_fn fn, void *ctx)
{
    struct probe_query *q = resubmit_oom(calloc(col->n ? col->n : 1, sizeof(*q)));

    for (size_t i = 0; i < col->n; i++)
        q[i] = (struct probe_query){col->c[i].rcpt, col->c[i].message_id};
    rs->probe.ask(rs->probe.ctx, sg, q, col->n, fn, ctx);
    free(q);
}

/* rs_collect_reply - loop: the probe first when the group has one */
static void rs_collect_reply(void *arg, enum store_rc rc)
{
    struct resubmit_batch *b = arg;
    struct resubmit *rs = b->rs;
    const struct resubmit_req *r = &b->col.row.info.req;

    if (rc != STORE_OK || rs->stopping)
        rs_batch_end(b, 1000, false);
    else if (!b->col.found)
        rs_batch_end(b, -1, true);
    else if (b->col.n > 0 && rs_probe_wanted(rs, r))
        rs_ask_probe(rs, &b->col, r->storage_group, rs_probed, b);
    else
        store_call(rs->st, rs_apply_work, rs_apply_reply, b, false);
}

/* rs_collect_work - storage thread: the next batch, nothing written */
static int rs_collect_work(struct store *s, void *arg)
{
    struct resubmit_batch *b = arg;

    return resubmit_batch_collect(s, b->limit, &b->col);
}

/* rs_limit - rows per batch: resubmit_rate per second, in ticks */
static int rs_limit(unsigned rate)
{
    unsigned n = rate * DD_RESUBMIT_TICK_MS / 1000;

    if (rate == 0 || n > DD_RESUBMIT_BATCH_MAX)
        return DD_RESUBMIT_BATCH_MAX;
    return n ? (int)n : 1;
}

/* rs_tick_cb - take a batch */
static void rs_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct resubmit *rs = arg;
    struct resubmit_batch *b;

    (void)fd;
    (void)what;
    if (rs->busy || !rs->active || rs->stopping)
        return;
    b = resubmit_oom(calloc(1, sizeof(*b)));
    b->rs = rs;
    b->now_ms = clock_now_ms();
    b->limit = rs_limit(rs->c->dumpster.resubmit_rate);
    rs->busy = true;
    store_call(rs->st, rs_collect_work, rs_collect_reply, b, false);
}

/* rs_schedule - the next tick in ms */
static void rs_schedule(struct resubmit *rs, int ms)
{
    event_add(rs->tick, &(struct timeval){ms / 1000, (ms % 1000) * 1000});
}

/* resubmit_new - the engine; it watches outcomes of resent copies */
struct resubmit *resubmit_new(struct event_base *base, struct store *st, struct queue *q,
                              const struct conf *c, char *err, size_t errlen)
{
    struct resubmit *rs = calloc(1, sizeof(*rs));

    if (rs == NULL || (rs->tick = evtimer_new(base, rs_tick_cb, rs)) == NULL) {
        snprintf(err, errlen, "cannot create the resubmission timer");
        free(rs);
        return NULL;
    }
    rs->base = base;
    rs->st = st;
    rs->q = q;
    rs->c = c;
    queue_observe(q, resubmit_batch_outcome, rs);
    store_on_resync(st, resubmit_on_counts, rs);
    store_call(st, rs_counts_work, NULL, rs, false);
    return rs;
}

/* resubmit_set_conf - the rate of the next batches */
void resubmit_set_conf(struct resubmit *rs, const struct conf *c)
{
    rs->c = c;
}

/* resubmit_set_dest_fn - where a group's mail goes now */
void resubmit_set_dest_fn(struct resubmit *rs, resubmit_dest_fn fn, void *ctx)
{
    rs->dest_fn = fn;
    rs->dest_ctx = ctx;
}

/* resubmit_set_prober - how to ask the groups' probes */
void resubmit_set_prober(struct resubmit *rs, const struct probe_ops *ops)
{
    rs->probe = *ops;
}

/* resubmit_on_queued - told when a batch queued mail */
void resubmit_on_queued(struct resubmit *rs, void (*fn)(void *ctx), void *ctx)
{
    rs->queued_fn = fn;
    rs->queued_ctx = ctx;
}

/* resubmit_start - resume open requests (at start, and after a new one) */
void resubmit_start(struct resubmit *rs)
{
    rs->started = true;
    rs->active = true;
    if (!rs->busy && !rs->stopping)
        rs_schedule(rs, 0);
}

struct rs_create {
    struct resubmit *rs;
    struct resubmit_row row;
    struct resubmit_preview preview;
    struct resubmit_collect col; /* a dry run's candidates, for the probe */
    int64_t now_ms;
    resubmit_created_fn fn;
    void *ctx;
};

/* rs_create_work - storage thread: coverage, then the row or the preview */
static int rs_create_work(struct store *s, void *arg)
{
    struct rs_create *c = arg;
    struct resubmit_req *r = &c->row.info.req;
    int rc = resubmit_batch_coverage(s, r, &c->row.info.coverage);

    c->preview.coverage = c->row.info.coverage;
    if (rc != SQLITE_OK)
        return rc;
    if (r->dry_run)
        return resubmit_batch_dry(s, r, c->row.dest_eff, &c->preview, &c->col);
    if ((rc = resubmit_request_insert(s, &c->row, c->now_ms)) != SQLITE_OK)
        return rc;
    return resubmit_batch_post_counts(s, c->rs);
}

/* rs_create_log - the new request's log line */
static void rs_create_log(const struct rs_create *c)
{
    const struct resubmit_req *r = &c->row.info.req;
    char a[32], b[32];

    timefmt_format(r->start_ms, a);
    timefmt_format(r->end_ms, b);
    log_info("dumpster", "resubmit request=%llu sg=%s %s..%s match=%s dest=%s%s%s",
             (unsigned long long)c->row.info.id, r->storage_group, a, b,
             r->match == RESUBMIT_MATCH_RECEIVED ? "received" : "delivered", c->row.dest_eff,
             r->reason[0] ? " reason=" : "", r->reason);
}

/* rs_create_answer - the caller learns the request or the preview */
static void rs_create_answer(struct rs_create *c, enum store_rc rc)
{
    bool dry = c->row.info.req.dry_run;

    c->fn(c->ctx, rc == STORE_OK && !dry ? &c->row.info : NULL,
          rc == STORE_OK && dry ? &c->preview : NULL, rc);
    resubmit_collect_free(&c->col);
    free(c);
}

/* rs_dry_probed - what the probe says of a dry run's candidates */
static void rs_dry_probed(void *ctx, const enum probe_answer *answers, size_t n, const char *error)
{
    struct rs_create *c = ctx;
    struct resubmit_preview *pv = &c->preview;

    pv->probed = true;
    for (size_t i = 0; i < n; i++) {
        enum probe_answer a = error ? PROBE_ERROR : answers[i];
        pv->probe_present += a == PROBE_PRESENT;
        pv->probe_missing += a == PROBE_MISSING || a == PROBE_NO_USER;
        pv->probe_unknown += a == PROBE_ERROR;
    }
    pv->probe_unknown += c->col.unkept; /* past the bound: not asked */
    rs_create_answer(c, STORE_OK);
}

/* rs_create_reply - loop */
static void rs_create_reply(void *arg, enum store_rc rc)
{
    struct rs_create *c = arg;
    const struct resubmit_req *r = &c->row.info.req;
    bool dry = r->dry_run;

    if (rc == STORE_OK && dry && c->col.n > 0 && !c->rs->stopping && rs_probe_wanted(c->rs, r)) {
        rs_ask_probe(c->rs, &c->col, r->storage_group, rs_dry_probed, c);
        return;
    }
    if (rc == STORE_OK && dry) /* no probe asked: nobody can say */
        c->preview.probe_unknown = c->col.n + c->col.unkept;
    if (rc == STORE_OK && !dry) {
        rs_create_log(c);
        if (!c->rs->stopping)
            resubmit_start(c->rs);
    }
    rs_create_answer(c, rc);
}

/* resubmit_create - store a request or run a dry run */
void resubmit_create(struct resubmit *rs, const struct resubmit_req *req, resubmit_created_fn fn,
                     void *ctx)
{
    struct rs_create *c = resubmit_oom(calloc(1, sizeof(*c)));
    const char *dest = rs->dest_fn ? rs->dest_fn(rs->dest_ctx, req->storage_group) : NULL;

    c->rs = rs;
    c->row.info.req = *req;
    c->now_ms = clock_now_ms();
    c->fn = fn;
    c->ctx = ctx;
    snprintf(c->row.dest_eff, sizeof(c->row.dest_eff), "%s",
             req->has_dest ? req->dest_text
             : dest        ? dest
                           : "");
    store_call(rs->st, rs_create_work, rs_create_reply, c, !req->dry_run);
}

/* resubmit_counts - requests by state, from memory */
void resubmit_counts(const struct resubmit *rs, uint64_t counts[RESUBMIT_NSTATES])
{
    memcpy(counts, rs->counts, sizeof(rs->counts));
}

/* resubmit_state_name - for JSON and metrics */
const char *resubmit_state_name(enum resubmit_state s)
{
    static const char *const names[] = {"pending", "running", "done", "cancelled"};

    return (unsigned)s < RESUBMIT_NSTATES ? names[s] : "unknown";
}

/* resubmit_stop - no more batches */
void resubmit_stop(struct resubmit *rs)
{
    if (rs == NULL)
        return;
    rs->stopping = true;
    if (rs->tick)
        event_del(rs->tick);
}

/* resubmit_free - after store_close */
struct resubmit *resubmit_free(struct resubmit *rs)
{
    if (rs == NULL)
        return NULL;
    resubmit_stop(rs);
    if (rs->tick)
        event_free(rs->tick);
    free(rs);
    return NULL;
}
