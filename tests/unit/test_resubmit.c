/*
 * test_resubmit.c - resubmission through resubmit.h on a real SQLite file
 * and a real event loop: ranges, the ledger and force, dry runs, coverage,
 * a restart in the middle of a large request, cancel, the ledger leaving
 * with its items (SPEC section 7). Counts are recipient copies.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsfix.h"

static int setup(void **state)
{
    *state = rs_setup();
    return 0;
}

static int teardown(void **state)
{
    rs_teardown(*state);
    return 0;
}

static const char *const rcpts_sg1_sg2[] = {"a@x.test:SG1", "b@x.test:SG1", "c@y.test:SG2"};
static const char *const rcpt_sg2[] = {"d@y.test:SG2"};

static void test_resubmit_range(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[10], got_ids[16];
    int64_t t0 = sf_base_ms();
    bool saw_running;

    rs_put(r, 10, t0, 10000, 200, rcpts_sg1_sg2, 3, ids);
    f->c.dumpster.resubmit_rate = 10; /* one row per batch: several batches */
    /* delivery times of items 3..6, the bounds included */
    struct resubmit_req q =
        rs_req("SG1", t0 + 3 * 10000 + RS_DELAY_MS, t0 + 6 * 10000 + RS_DELAY_MS);
    struct rs_got g = rs_create(r, &q);
    assert_int_equal(g.info.state, RESUBMIT_PENDING);
    assert_int_equal(g.info.matched, 0);
    assert_true(g.info.coverage.complete);
    struct resubmit_info in = rs_wait_done(r, g.info.id, &saw_running);
    assert_true(saw_running);
    assert_int_equal(in.matched, 8); /* a and b of 4 items */
    assert_int_equal(in.queued, 8);
    assert_int_equal(in.skipped_duplicate, 0);
    /* exactly the items of the range, for SG1's recipients only */
    size_t n = sf_sql_ids(f, got_ids, 16,
                          "SELECT DISTINCT msg FROM recipient WHERE state = %d AND request = %lld"
                          " ORDER BY msg",
                          RCPT_PENDING, (long long)g.info.id);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(got_ids[i], ids[3 + i]);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_PENDING),
                     8);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE sg = 'SG1'"
                                " AND request = %lld AND dest IS NULL"
                                " AND rcpt IN ('a@x.test', 'b@x.test')",
                                (long long)g.info.id),
                     8);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM dumpster_ledger WHERE request = %lld"
                                " AND dest = %Q",
                                (long long)g.info.id, conf_sg_find(&f->c, "SG1")->dest_text),
                     8);
    /* one item in the dumpster, not copied again */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 10);
    struct rs_got lg;
    assert_int_equal(rs_list(r, true, &lg), 0);
    assert_int_equal(rs_list(r, false, &lg), 1);
    assert_int_equal(lg.list_ids[0], g.info.id);
    /* the resent mail is delivered (one envelope per item): progress, the
     * item stays */
    assert_int_equal(rs_deliver_due(r), 4);
    in = rs_get(r, g.info.id);
    assert_int_equal(in.delivered, 8);
    assert_int_equal(in.failed, 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 10);
}

static void test_resubmit_duplicate_force(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[6];
    int64_t t0 = sf_base_ms();
    bool saw_running;

    rs_put(r, 6, t0, 1000, 300, rcpts_sg1_sg2, 2, ids);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 10 * 1000);
    struct rs_got first = rs_create(r, &q);
    assert_int_equal(rs_wait_done(r, first.info.id, &saw_running).queued, 12);
    assert_int_equal(rs_deliver_due(r), 6);
    /* the same again: every copy went to that destination already */
    struct rs_got second = rs_create(r, &q);
    struct resubmit_info in = rs_wait_done(r, second.info.id, &saw_running);
    assert_int_equal(in.matched, 12);
    assert_int_equal(in.queued, 0);
    assert_int_equal(in.skipped_duplicate, 12);
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld", (long long)in.id), 0);
    assert_int_equal(rs_deliver_due(r), 0);
    /* a dry run says so too */
    q.dry_run = true;
    struct rs_got dry = rs_create(r, &q);
    assert_int_equal(dry.pv.matched, 12);
    assert_int_equal(dry.pv.messages, 6);
    assert_int_equal(dry.pv.skipped_duplicate, 12);
    q.dry_run = false;
    /* force: resent all the same */
    q.force = true;
    struct rs_got forced = rs_create(r, &q);
    in = rs_wait_done(r, forced.info.id, &saw_running);
    assert_int_equal(in.matched, 12);
    assert_int_equal(in.queued, 12);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(rs_deliver_due(r), 6);
    /* another destination is not a duplicate */
    q.force = false;
    rs_set_dest(&q, RS_DEST_OVERRIDE);
    struct rs_got other = rs_create(r, &q);
    in = rs_wait_done(r, other.info.id, &saw_running);
    assert_int_equal(in.queued, 12);
    assert_string_equal(in.req.dest_text, q.dest_text);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE request = %lld AND"
                                " dest = %Q",
                                (long long)in.id, q.dest_text),
                     12);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger"), 24);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(r->resent[ids[i]], 4); /* two recipients, twice */
}

static void test_resubmit_dry_run(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[25];
    int64_t t0 = sf_base_ms();
    char qid[DD_QUEUEID_LEN + 1];

    rs_put(r, 25, t0, 1000, 150, rcpts_sg1_sg2, 1, ids);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 60000);
    q.dry_run = true;
    struct rs_got g = rs_create(r, &q);
    assert_int_equal(g.pv.matched, 25);
    assert_int_equal(g.pv.messages, 25);
    assert_int_equal(g.pv.bytes, 25 * 150);
    assert_int_equal(g.pv.skipped_duplicate, 0);
    assert_int_equal(g.pv.nids, RESUBMIT_PREVIEW_IDS);
    for (size_t i = 0; i < RESUBMIT_PREVIEW_IDS; i++) { /* the first ones, in time order */
        snprintf(qid, sizeof(qid), "DT%016llu", (unsigned long long)(i + 1));
        assert_string_equal(g.pv.queue_ids[i], qid);
    }
    assert_true(g.pv.coverage.complete);
    assert_int_equal(g.pv.coverage.oldest_available_ms, t0);
    /* by received time: items 10..14 */
    q.match = RESUBMIT_MATCH_RECEIVED;
    q.start_ms = t0 + 10000;
    q.end_ms = t0 + 14000;
    struct rs_got g2 = rs_create(r, &q);
    assert_int_equal(g2.pv.matched, 5);
    assert_int_equal(g2.pv.nids, 5);
    assert_string_equal(g2.pv.queue_ids[0], "DT0000000000000011");
    /* nothing stored, nothing queued */
    sf_run_ms(f, 250);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM resubmit_request"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_PENDING),
                     0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger"), 0);
}

static void test_resubmit_coverage(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[6], big;
    int64_t t0 = sf_base_ms();
    bool saw_running;

    /* 300 octets each, 1000 at most: items 0..2 are evicted by 3..5 */
    rs_put(r, 6, t0, 10000, 300, rcpt_sg2, 1, ids);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG2'"), 3);
    struct dumpster_stats ds;
    assert_int_equal(dumpster_stats(f->d, "SG2", &ds, 1), 1);
    assert_int_equal(ds.items, 3);
    assert_int_equal(ds.evicted_size, 3);
    assert_int_equal(ds.oldest_received_ms, t0 + 30000);
    /* delivery times of items 1..4: two of them were evicted */
    struct resubmit_req q = rs_req("SG2", t0 + 10000 + RS_DELAY_MS, t0 + 40000 + RS_DELAY_MS);
    q.dry_run = true;
    struct rs_got dry = rs_create(r, &q);
    assert_false(dry.pv.coverage.complete);
    assert_int_equal(dry.pv.coverage.evicted_in_range, 2);
    assert_int_equal(dry.pv.coverage.oldest_available_ms, t0 + 30000);
    assert_int_equal(dry.pv.matched, 2);
    q.dry_run = false;
    struct rs_got g = rs_create(r, &q);
    assert_false(g.info.coverage.complete);
    assert_int_equal(g.info.coverage.evicted_in_range, 2);
    struct resubmit_info in = rs_wait_done(r, g.info.id, &saw_running);
    assert_false(in.coverage.complete); /* stored with the request */
    assert_int_equal(in.coverage.evicted_in_range, 2);
    assert_int_equal(in.coverage.oldest_available_ms, t0 + 30000);
    assert_int_equal(in.matched, 2);
    assert_int_equal(in.queued, 2);
    /* a message larger than max_size is not kept: the range is not whole */
    rs_put(r, 1, t0 + 100000, 0, RS_SG2_MAX + 1, rcpt_sg2, 1, &big);
    assert_int_equal(dumpster_stats(f->d, "SG2", &ds, 1), 1);
    assert_int_equal(ds.not_kept, 1);
    struct resubmit_req q2 = rs_req("SG2", t0 + 40000, t0 + 200000);
    q2.dry_run = true;
    struct rs_got dry2 = rs_create(r, &q2);
    assert_false(dry2.pv.coverage.complete);
    assert_int_equal(dry2.pv.coverage.evicted_in_range, 1);
    assert_int_equal(dry2.pv.matched, 2); /* items 4 and 5 */
    /* a range the dumpster still holds whole */
    q2.end_ms = t0 + 60000;
    struct rs_got dry3 = rs_create(r, &q2);
    assert_true(dry3.pv.coverage.complete);
    assert_int_equal(dry3.pv.coverage.evicted_in_range, 0);
}

static void test_resubmit_restart(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    enum { N = 1000 };
    static uint64_t ids[N];
    int64_t t0 = sf_base_ms();

    rs_put(r, N, t0, 1000, 100, rcpts_sg1_sg2, 2, ids);
    /* 50 items (100 copies) a batch, a batch each 100 ms: 20 batches, so a
     * slow loop (ASan on a busy box) still finds it in the middle */
    f->c.dumpster.resubmit_rate = 500;
    struct resubmit_req q = rs_req("SG1", t0, t0 + (int64_t)N * 1000);
    struct rs_got g = rs_create(r, &q);
    struct resubmit_info in = rs_run_with_delivery(r, g.info.id, 100);
    assert_int_equal(in.state, RESUBMIT_RUNNING);
    assert_true(in.queued >= 100 && in.queued < 2 * N);
    /* stop in the middle, start again: it resumes where it stopped */
    sf_reopen(f);
    in = rs_run_with_delivery(r, g.info.id, 2 * N + 1);
    assert_int_equal(in.state, RESUBMIT_DONE);
    assert_int_equal(in.matched, 2 * N);
    assert_int_equal(in.queued, 2 * N);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(in.delivered, 2 * N);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger WHERE request = %lld",
                                (long long)g.info.id),
                     2 * N);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE request = %lld AND"
                                " state = %d",
                                (long long)g.info.id, RCPT_DELIVERED),
                     2 * N);
    /* every item's recipients were queued once, and delivered once */
    for (size_t i = 0; i < N; i++)
        if (r->resent[ids[i]] != 2)
            fail_msg("item %zu (msg %llu) resent to %u recipients", i, (unsigned long long)ids[i],
                     r->resent[ids[i]]);
}

static void test_resubmit_cancel(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[40];
    int64_t t0 = sf_base_ms();
    bool saw_running;

    rs_put(r, 40, t0, 1000, 100, rcpts_sg1_sg2, 1, ids);
    /* a small request, done */
    struct resubmit_req small = rs_req("SG1", t0 + RS_DELAY_MS, t0 + RS_DELAY_MS);
    struct rs_got done = rs_create(r, &small);
    assert_int_equal(rs_wait_done(r, done.info.id, &saw_running).queued, 1);
    /* a pending one (cancelled before its first batch) and a running one */
    f->c.dumpster.resubmit_rate = 10;
    struct resubmit_req q = rs_req("SG1", t0, t0 + 60000);
    struct rs_got pending = rs_create(r, &q);
    assert_int_equal(rs_cancel(r, pending.info.id), RESUBMIT_CANCELLED_OK);
    struct rs_got running = rs_create(r, &q);
    struct resubmit_info in = rs_get(r, running.info.id);
    for (int64_t end = clock_mono_ms() + SF_WAIT_MS;
         in.state != RESUBMIT_RUNNING && clock_mono_ms() < end;) {
        sf_run_ms(f, 20);
        in = rs_get(r, running.info.id);
    }
    assert_int_equal(in.state, RESUBMIT_RUNNING);
    struct rs_got lg;
    assert_int_equal(rs_list(r, true, &lg), 1);
    assert_int_equal(lg.list_ids[0], running.info.id);
    assert_int_equal(rs_cancel(r, running.info.id), RESUBMIT_CANCELLED_OK);
    in = rs_get(r, running.info.id);
    assert_int_equal(in.state, RESUBMIT_CANCELLED);
    uint64_t queued = in.queued;
    assert_true(queued < 40);
    sf_run_ms(f, 300); /* no more batches */
    assert_int_equal(rs_get(r, running.info.id).queued, queued);
    assert_int_equal(rs_get(r, pending.info.id).state, RESUBMIT_CANCELLED);
    assert_int_equal(rs_get(r, pending.info.id).queued, 0);
    assert_int_equal(rs_list(r, true, &lg), 0);
    uint64_t counts[RESUBMIT_NSTATES];
    resubmit_counts(f->rs, counts);
    assert_int_equal(counts[RESUBMIT_DONE], 1);
    assert_int_equal(counts[RESUBMIT_CANCELLED], 2);
    /* cancelled or done already; unknown */
    assert_int_equal(rs_cancel(r, running.info.id), RESUBMIT_ALREADY_DONE);
    assert_int_equal(rs_cancel(r, done.info.id), RESUBMIT_ALREADY_DONE);
    assert_int_equal(rs_cancel(r, 999999), RESUBMIT_NOT_FOUND);
}

struct released {
    int calls;
    uint64_t copies, items;
    enum store_rc rc;
};

/* on_released - early release answered */
static void on_released(void *ctx, uint64_t copies, uint64_t items, enum store_rc rc)
{
    struct released *g = ctx;

    g->calls++;
    g->copies = copies;
    g->items = items;
    g->rc = rc;
}

/* The ledger belongs to the items' recipients: when they leave, their
 * entries go, so a new message that takes the id of one that left is
 * never taken for a copy resent already. */
static void test_resubmit_after_items_left(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t old_ids[3], new_ids[3], queued[4];
    int64_t t0 = sf_base_ms();
    bool saw_running;
    struct released rel = {0};

    rs_put(r, 3, t0, 1000, 100, rcpts_sg1_sg2, 1, old_ids);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 10000);
    struct rs_got first = rs_create(r, &q);
    assert_int_equal(rs_wait_done(r, first.info.id, &saw_running).queued, 3);
    assert_int_equal(rs_deliver_due(r), 3);
    /* the mailbox is safe: every item leaves, and with it every message */
    dumpster_replicated(f->d, "SG1", t0 + 20000, on_released, &rel);
    sf_loop_until(f, &rel.calls, 1);
    assert_int_equal(rel.rc, STORE_OK);
    assert_int_equal(rel.copies, 3);
    assert_int_equal(rel.items, 3);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger"), 0);
    sf_reopen(f);
    rs_put(r, 3, t0 + 30000, 1000, 100, rcpts_sg1_sg2, 1, new_ids);
    q.start_ms = t0 + 30000;
    q.end_ms = t0 + 40000;
    struct rs_got second = rs_create(r, &q);
    struct resubmit_info in = rs_wait_done(r, second.info.id, &saw_running);
    assert_int_equal(in.matched, 3);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(in.queued, 3);
    assert_int_equal(sf_sql_ids(f, queued, 4,
                                "SELECT msg FROM recipient WHERE state = %d AND request = %lld"
                                " ORDER BY msg",
                                RCPT_PENDING, (long long)in.id),
                     3);
    assert_memory_equal(queued, new_ids, sizeof(new_ids));
}

/* A probe that holds its answer until the test gives it. */
struct held_probe {
    int calls;
    size_t n;
    probe_done_fn fn;
    void *fn_ctx;
};

static int held_has(void *ctx, const char *sg)
{
    (void)ctx;
    return strcmp(sg, "SG1") == 0;
}

static void held_ask(void *ctx, const char *sg, const struct probe_query *q, size_t n,
                     probe_done_fn fn, void *fn_ctx)
{
    struct held_probe *h = ctx;

    (void)sg;
    (void)q;
    h->calls++;
    h->n = n;
    h->fn = fn;
    h->fn_ctx = fn_ctx;
}

/* Items that leave the dumpster between a batch's collect and its apply
 * (here while the probe is asked; without a probe other work runs between
 * the two) are not queued: queueing them made recipient rows of messages
 * gone from the store, failed at the next pick ("missing from the store",
 * found by tests/torture/torture_sigkill.py), and ledger rows of nothing. */
static void test_resubmit_item_left_meanwhile(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[3];
    int64_t t0 = sf_base_ms();
    bool saw_running;
    struct released rel = {0};
    struct held_probe h = {0};
    struct probe_ops ops = {held_has, held_ask, &h};
    enum probe_answer missing[3] = {PROBE_MISSING, PROBE_MISSING, PROBE_MISSING};

    rs_put(r, 3, t0, 1000, 100, rcpts_sg1_sg2, 1, ids);
    resubmit_set_prober(f->rs, &ops);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 10000);
    struct rs_got g = rs_create(r, &q);
    sf_loop_until(f, &h.calls, 1);
    assert_int_equal(h.n, 3);
    /* meanwhile the mailbox is safe: every item leaves, and with it every message */
    dumpster_replicated(f->d, "SG1", t0 + 20000, on_released, &rel);
    sf_loop_until(f, &rel.calls, 1);
    assert_int_equal(rel.items, 3);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    h.fn(h.fn_ctx, missing, h.n, NULL);
    struct resubmit_info in = rs_wait_done(r, g.info.id, &saw_running);
    assert_int_equal(in.queued, 0);
    assert_int_equal(in.matched, 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resubmit_range, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_duplicate_force, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_dry_run, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_coverage, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_after_items_left, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_item_left_meanwhile, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
