/*
 * admin_stats.c - GET /healthz, GET /metrics, GET /v1/stats[/{sg}]
 *
 * Statistics of storage groups come from the dumpster's counters in
 * memory, so an answer costs memory in proportion to the storage groups
 * it covers. /metrics is answered at once from counters: the queue's
 * counts by state are kept as its rows change (queue_counts), so no
 * gauge costs more as the queue or the dumpster grow. What needs the
 * store (outstanding requests for /v1/stats) is asked first, once for
 * every request that waits for it (admin_share.c), and each answer is
 * built in its callback from the counters of that moment; /v1/stats asks
 * nothing when the engine's counts (in memory) say no request is
 * outstanding.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "admin_int.h"
#include "clock.h"
#include "api_req.h"
#include "delivery.h"
#include "dumpster.h"
#include "queue.h"
#include "resubmit.h"
#include "metrics.h"
#include "shadow.h"
#include "smtpd_server.h"

struct admin_stats_op {
    struct admin_op op;
    bool one;                    /* /v1/stats/{sg} */
    char sg[DD_SG_NAME_MAX + 1]; /* when one */
};

/* admin_stats_all - the statistics of sg (NULL: every group); caller frees */
struct dumpster_stats *admin_stats_all(struct admin *a, const char *sg, size_t *n)
{
    size_t cap = sg != NULL ? 1 : a->deps.conf->nsg + 1;
    struct dumpster_stats *st = calloc(cap, sizeof(*st));
    size_t got;

    *n = 0;
    if (st == NULL)
        return NULL;
    got = dumpster_stats(a->deps.dumpster, sg, st, cap);
    if (got > cap) { /* more groups than the conf knows: take them all */
        struct dumpster_stats *more = realloc(st, got * sizeof(*st));

        if (more == NULL)
            return st;
        st = more;
        cap = got;
        got = dumpster_stats(a->deps.dumpster, sg, st, cap);
    }
    *n = got < cap ? got : cap;
    return st;
}

/* admin_stats_healthz - 200 when the listeners and the dumpster are ready */
void admin_stats_healthz(struct admin_call *c)
{
    bool smtp = smtpd_server_ready(c->a->deps.srv);
    bool dumpster = dumpster_ready(c->a->deps.dumpster);
    json_t *j = json_object();

    admin_json_set(j, "status", json_string(smtp && dumpster ? "ok" : "unavailable"));
    if (!(smtp && dumpster)) {
        admin_json_set(j, "smtp", json_boolean(smtp));
        admin_json_set(j, "dumpster", json_boolean(dumpster));
    }
    admin_reply_json(c->req, smtp && dumpster ? 200 : 503, j);
}

/* admin_metrics_render - every family, from the counters of now */
static struct evbuffer *admin_metrics_render(struct admin *a)
{
    struct metrics_snapshot m = {0};
    struct dumpster_stats *sg = admin_stats_all(a, NULL, &m.nsg);
    struct evbuffer *out = sg != NULL ? evbuffer_new() : NULL;

    m.sg = sg;
    resubmit_counts(a->deps.resubmit, m.resubmit);
    smtpd_server_get_stats(a->deps.srv, &m.smtp);
    delivery_get_stats(a->deps.delivery, &m.delivery);
    store_get_stats(a->deps.store, &m.store);
    if (a->deps.probes != NULL)
        probes_get_stats(a->deps.probes, &m.probe);
    if (a->deps.shadow != NULL) {
        shadow_get_stats(a->deps.shadow, &m.shadow);
        m.has_shadow = true;
    }
    queue_counts(a->deps.queue, &m.queue);
    m.has_queue = true;
    m.now_ms = clock_now_ms();
    if (out != NULL && metrics_render(out, &m) < 0) {
        evbuffer_free(out);
        out = NULL;
    }
    free(sg);
    return out;
}

/* admin_busy - 503: the shared read has all the waiters it takes */
static void admin_busy(struct admin_call *c)
{
    evhttp_add_header(evhttp_request_get_output_headers(c->req), "Retry-After", "1");
    admin_reply_error(c->req, 503, "busy", "%d requests wait for the same read already",
                      ADMIN_SHARE_WAITERS_MAX);
}

/* admin_share_start - op joins the read of s; true when the caller starts
 * it (ctx: *batch); false after an answer (out of memory) */
static bool admin_share_start(struct admin_op *op, struct admin_share *s,
                              struct admin_share_batch **batch, bool *start)
{
    if ((*batch = admin_share_join(s, op, start)) != NULL)
        return true;
    admin_op_error(op, 500, "internal", "out of memory");
    return false;
}

/* admin_stats_metrics - GET /metrics: every gauge from counters, at once */
void admin_stats_metrics(struct admin_call *c)
{
    struct evbuffer *out = admin_metrics_render(c->a);

    if (out == NULL) {
        admin_reply_error(c->req, 500, "internal", "out of memory");
        return;
    }
    admin_reply_buffer(c->req, 200, METRICS_CONTENT_TYPE, out);
    evbuffer_free(out);
}

/* admin_stats_group - one storage group as JSON */
static json_t *admin_stats_group(struct admin *a, const struct dumpster_stats *s, int64_t now)
{
    json_t *j = json_object(), *ev = json_object();
    const char *dest = delivery_route_get(a->deps.delivery, s->sg);
    int64_t cov = s->items > 0 && s->oldest_received_ms > 0 ? now - s->oldest_received_ms : 0;

    admin_json_set(j, "name", admin_json_str(s->sg));
    admin_json_set(j, "items", admin_json_u64(s->items));
    admin_json_set(j, "bytes", admin_json_u64(s->bytes));
    admin_json_set(j, "oldest_received",
                   admin_json_time_or_null(s->items > 0 ? s->oldest_received_ms : 0));
    admin_json_set(j, "coverage_seconds", json_integer(cov > 0 ? cov / 1000 : 0));
    admin_json_set(j, "max_bytes", admin_json_u64(s->max_bytes));
    admin_json_set(j, "max_age_seconds", admin_json_u64(s->max_age_s));
    admin_json_set(ev, "size", admin_json_u64(s->evicted_size));
    admin_json_set(ev, "age", admin_json_u64(s->evicted_age));
    admin_json_set(ev, "replicated", admin_json_u64(s->evicted_replicated));
    admin_json_set(j, "evicted", ev);
    admin_json_set(j, "not_kept", admin_json_u64(s->not_kept));
    admin_json_set(j, "replicated_until", admin_json_time_or_null(s->replicated_until_ms));
    admin_json_set(j, "destination", admin_json_str_or_null(dest));
    return j;
}

/* admin_stats_request - an outstanding request, as the stats list it */
static json_t *admin_stats_request(const struct resubmit_info *r)
{
    json_t *j = json_object();

    admin_json_set(j, "id", admin_json_u64(r->id));
    admin_json_set(j, "storage_group", admin_json_str(r->req.storage_group));
    admin_json_set(j, "start", admin_json_time(r->req.start_ms));
    admin_json_set(j, "end", admin_json_time(r->req.end_ms));
    admin_json_set(j, "match", json_string(api_match_name(r->req.match)));
    admin_json_set(j, "state", json_string(resubmit_state_name(r->state)));
    return j;
}

/* admin_stats_json - the answer of /v1/stats (one: of sg only) */
/* admin_stats_shadow - every hub's shadow dumpster (of group sg, or all),
 * as the cluster last said (read every 30 s) */
static json_t *admin_stats_shadow(struct admin *a, const char *sg)
{
    struct shadow_stats st;
    json_t *arr = json_array();

    shadow_get_stats(a->deps.shadow, &st);
    for (size_t i = 0; i < st.ndstats; i++) {
        const struct shadow_dstat *d = &st.dstats[i];
        if (sg != NULL && strcmp(d->sg, sg) != 0)
            continue;
        json_t *j = json_object();
        admin_json_set(j, "hub", admin_json_str(d->hub));
        admin_json_set(j, "storage_group", admin_json_str(d->sg));
        admin_json_set(j, "items", admin_json_u64(d->items));
        admin_json_set(j, "bytes", admin_json_u64(d->bytes));
        admin_json_set(j, "oldest_stored", admin_json_time_or_null(d->oldest_ms));
        json_array_append_new(arr, j);
    }
    return arr;
}

static json_t *admin_stats_json(struct admin *a, bool one, const char *sg,
                                const struct resubmit_info *infos, size_t n)
{
    json_t *j = json_object(), *groups = json_array(), *reqs = json_array();
    int64_t now = clock_now_ms();
    size_t nst;
    struct dumpster_stats *st = admin_stats_all(a, one ? sg : NULL, &nst);

    for (size_t i = 0; i < nst; i++)
        json_array_append_new(groups, admin_stats_group(a, &st[i], now));
    for (size_t i = 0; i < n; i++)
        if (!one || strcmp(infos[i].req.storage_group, sg) == 0)
            json_array_append_new(reqs, admin_stats_request(&infos[i]));
    free(st);
    admin_json_set(j, "hub", admin_json_str(a->deps.conf->hub.name));
    admin_json_set(j, "time", admin_json_time(now));
    admin_json_set(j, "storage_groups", groups);
    admin_json_set(j, "outstanding_requests", reqs);
    if (a->deps.shadow != NULL)
        admin_json_set(j, "shadow_dumpsters", admin_stats_shadow(a, one ? sg : NULL));
    return j;
}

/* admin_stats_listed - the outstanding requests came: every waiter's answer */
static void admin_stats_listed(void *ctx, const struct resubmit_info *infos, size_t n,
                               enum store_rc rc)
{
    struct admin_op **ops;
    size_t nops = admin_share_done(ctx, &ops);

    for (size_t i = 0; i < nops; i++) {
        struct admin_stats_op *op = (struct admin_stats_op *)ops[i];
        struct admin *a = admin_op_settle(&op->op, rc, "cannot list the requests");

        if (a != NULL)
            admin_op_reply(&op->op, 200, admin_stats_json(a, op->one, op->sg, infos, n));
    }
    admin_share_free(ctx);
}

/* admin_stats_outstanding - requests pending or running, from memory */
static uint64_t admin_stats_outstanding(const struct admin *a)
{
    uint64_t counts[RESUBMIT_NSTATES];

    resubmit_counts(a->deps.resubmit, counts);
    return counts[RESUBMIT_PENDING] + counts[RESUBMIT_RUNNING];
}

/* admin_stats_get - GET /v1/stats and /v1/stats/{sg}: the counters are in
 * memory; only outstanding requests need the store, read once for all
 * who wait, and not at all when there are none */
void admin_stats_get(struct admin_call *c)
{
    bool one = c->arg[0] != 0, start;
    struct admin_share_batch *b;
    struct admin_stats_op *op;

    if (one && !admin_sg_known(c, c->arg))
        return;
    if (admin_stats_outstanding(c->a) == 0) {
        admin_reply_json(c->req, 200, admin_stats_json(c->a, one, c->arg, NULL, 0));
        return;
    }
    if (admin_share_full(&c->a->stats_read)) {
        admin_busy(c);
        return;
    }
    if ((op = admin_op_new_shared(c, sizeof(*op))) == NULL ||
        !admin_share_start(&op->op, &c->a->stats_read, &b, &start))
        return;
    op->one = one;
    snprintf(op->sg, sizeof(op->sg), "%s", c->arg);
    if (start)
        resubmit_list(c->a->deps.resubmit, true, admin_stats_listed, b);
}
