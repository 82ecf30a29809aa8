/*
 * rsfix.c - resubmission helpers of the unit tests (rsfix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsfix.h"

/* rs_setup - two groups, dumpster and resubmission */
struct rsfix *rs_setup(void)
{
    struct rsfix *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    r->f = sf_setup(SF_DUMPSTER | SF_RESUBMIT, false);
    sf_add_sg(r->f, "SG1", RS_DEST1, 0);
    sf_add_sg(r->f, "SG2", RS_DEST2, RS_SG2_MAX);
    r->f->c.dumpster.resubmit_rate = 1000;
    sf_open(r->f);
    return r;
}

/* rs_teardown - everything goes */
void rs_teardown(struct rsfix *r)
{
    sf_teardown(r->f);
    free(r);
}

/* rs_deliver_due - every due job, delivered */
size_t rs_deliver_due(struct rsfix *r)
{
    size_t total = 0;

    for (;;) {
        struct sf_picked p = sf_pick(r->f, clock_now_ms());
        if (p.n == 0)
            return total;
        for (size_t i = 0; i < p.n; i++) {
            struct queue_job *j = p.jobs[i];
            int64_t at = j->request ? clock_now_ms() : j->received_ms + RS_DELAY_MS;
            assert_true(j->msg_id < RS_MSG_IDS_MAX);
            if (j->request)
                r->resent[j->msg_id] += (unsigned)j->nrcpts;
            sf_done(r->f, sf_outcome(j, NULL, at));
        }
        total += p.n;
        sf_free_picked(&p);
    }
}

/* rs_put - items in the dumpster */
void rs_put(struct rsfix *r, size_t n, int64_t t0, int64_t gap_ms, uint64_t size,
            const char *const *rcpts, size_t nr, uint64_t *ids)
{
    int want = r->f->commits + (int)n;

    for (size_t i = 0; i < n; i++)
        ids[i] = sf_commit(r->f, size, 1, t0 + (int64_t)i * gap_ms, rcpts, nr);
    sf_wait_commits(r->f, want);
    rs_deliver_due(r);
}

/* rs_req - a request by delivery time */
struct resubmit_req rs_req(const char *sg, int64_t start, int64_t end)
{
    struct resubmit_req q;

    memset(&q, 0, sizeof(q));
    snprintf(q.storage_group, sizeof(q.storage_group), "%s", sg);
    q.start_ms = start;
    q.end_ms = end;
    q.match = RESUBMIT_MATCH_DELIVERED;
    return q;
}

/* rs_set_dest - a destination override */
void rs_set_dest(struct resubmit_req *q, const char *dest)
{
    char err[256];

    q->has_dest = true;
    assert_int_equal(conf_dest_parse(dest, &q->dest, err, sizeof(err)), 0);
    conf_dest_format(&q->dest, q->dest_text, sizeof(q->dest_text));
}

/* rs_on_create - a request or a preview */
static void rs_on_create(void *ctx, const struct resubmit_info *info,
                         const struct resubmit_preview *preview, enum store_rc rc)
{
    struct rs_got *g = ctx;

    g->calls++;
    g->rc = rc;
    g->found = info != NULL;
    if (info)
        g->info = *info;
    g->has_preview = preview != NULL;
    if (preview)
        g->pv = *preview;
}

/* rs_on_get - one request */
static void rs_on_get(void *ctx, const struct resubmit_info *info, enum store_rc rc)
{
    rs_on_create(ctx, info, NULL, rc);
}

/* rs_on_list - requests */
static void rs_on_list(void *ctx, const struct resubmit_info *infos, size_t n, enum store_rc rc)
{
    struct rs_got *g = ctx;

    g->calls++;
    g->rc = rc;
    g->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        g->list_ids[i] = infos[i].id;
}

/* rs_on_cancel - a cancel's answer */
static void rs_on_cancel(void *ctx, enum resubmit_cancel_rc c, enum store_rc rc)
{
    struct rs_got *g = ctx;

    g->calls++;
    g->cancel = c;
    g->rc = rc;
}

/* rs_create_rc - resubmit_create, waited for, whatever the result */
struct rs_got rs_create_rc(struct rsfix *r, const struct resubmit_req *q)
{
    struct rs_got g;

    memset(&g, 0, sizeof(g));
    resubmit_create(r->f->rs, q, rs_on_create, &g);
    sf_loop_until(r->f, &g.calls, 1);
    return g;
}

/* rs_create - resubmit_create, waited for: stored or previewed */
struct rs_got rs_create(struct rsfix *r, const struct resubmit_req *q)
{
    struct rs_got g = rs_create_rc(r, q);

    assert_int_equal(g.rc, STORE_OK);
    assert_true(q->dry_run ? g.has_preview && !g.found : g.found && !g.has_preview);
    return g;
}

/* rs_get - one request's info */
struct resubmit_info rs_get(struct rsfix *r, uint64_t id)
{
    struct rs_got g;

    memset(&g, 0, sizeof(g));
    resubmit_get(r->f->rs, id, rs_on_get, &g);
    sf_loop_until(r->f, &g.calls, 1);
    assert_int_equal(g.rc, STORE_OK);
    assert_true(g.found);
    return g.info;
}

/* rs_cancel - resubmit_cancel, waited for */
enum resubmit_cancel_rc rs_cancel(struct rsfix *r, uint64_t id)
{
    struct rs_got g;

    memset(&g, 0, sizeof(g));
    resubmit_cancel(r->f->rs, id, rs_on_cancel, &g);
    sf_loop_until(r->f, &g.calls, 1);
    assert_int_equal(g.rc, STORE_OK);
    return g.cancel;
}

/* rs_list - how many requests, the first ids */
size_t rs_list(struct rsfix *r, bool outstanding, struct rs_got *g)
{
    memset(g, 0, sizeof(*g));
    resubmit_list(r->f->rs, outstanding, rs_on_list, g);
    sf_loop_until(r->f, &g->calls, 1);
    assert_int_equal(g->rc, STORE_OK);
    return g->n;
}

/* rs_wait_done - poll until done */
struct resubmit_info rs_wait_done(struct rsfix *r, uint64_t id, bool *saw_running)
{
    struct resubmit_info in = rs_get(r, id), last = in;
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    *saw_running = false;
    while (in.state != RESUBMIT_DONE && clock_mono_ms() < end) {
        assert_true(in.state == RESUBMIT_PENDING || in.state == RESUBMIT_RUNNING);
        *saw_running |= in.state == RESUBMIT_RUNNING;
        sf_run_ms(r->f, 20);
        in = rs_get(r, id);
        assert_true(in.matched >= last.matched && in.queued >= last.queued);
        last = in;
    }
    assert_int_equal(in.state, RESUBMIT_DONE);
    return in;
}

/* rs_run_with_delivery - deliver while a request runs */
struct resubmit_info rs_run_with_delivery(struct rsfix *r, uint64_t id, uint64_t min_queued)
{
    struct resubmit_info in = rs_get(r, id);
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    while (in.state != RESUBMIT_DONE && in.queued < min_queued && clock_mono_ms() < end) {
        sf_run_ms(r->f, 30);
        rs_deliver_due(r);
        in = rs_get(r, id);
    }
    rs_deliver_due(r);
    return rs_get(r, id);
}
