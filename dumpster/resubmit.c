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

/* rs_batch_reply - loop: the next batch, paced */
static void rs_batch_reply(void *arg, enum store_rc rc)
{
    struct resubmit_batch *b = arg;
    struct resubmit *rs = b->rs;

    rs->busy = false;
    if (b->queued > 0 && rs->queued_fn)
        rs->queued_fn(rs->queued_ctx);
    if (rc == STORE_OK && !b->found)
        rs->active = false;
    else if (!rs->stopping)
        rs_schedule(rs, rc != STORE_OK                  ? 1000
                        : rs->c->dumpster.resubmit_rate ? DD_RESUBMIT_TICK_MS
                                                        : 0);
    free(b);
}

/* rs_batch_work - storage thread */
static int rs_batch_work(struct store *s, void *arg)
{
    return resubmit_batch_run(s, arg);
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
    store_call(rs->st, rs_batch_work, rs_batch_reply, b, false);
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
        return resubmit_batch_dry(s, r, c->row.dest_eff, &c->preview);
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

/* rs_create_reply - loop */
static void rs_create_reply(void *arg, enum store_rc rc)
{
    struct rs_create *c = arg;
    bool dry = c->row.info.req.dry_run;

    if (rc == STORE_OK && !dry) {
        rs_create_log(c);
        if (!c->rs->stopping)
            resubmit_start(c->rs);
    }
    c->fn(c->ctx, rc == STORE_OK && !dry ? &c->row.info : NULL,
          rc == STORE_OK && dry ? &c->preview : NULL, rc);
    free(c);
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
