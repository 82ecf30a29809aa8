/*
 * test_resubmit_rcpt.c - the dumpster per recipient: a recipient delivered
 * late is healed by a window around its own delivery, only the window's
 * recipients are resent, the recipient filter narrows the envelope, a
 * comma in a quoted local part comes back exact, early release goes copy
 * by copy, and overlapping requests never take each other's copies
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

/*
 * two_times - one message for a and b of SG1, received at t0: a is
 * delivered at t0 + 1 s, b deferred once and delivered at t0 + 60 s (a
 * retry). Its id.
 */
static uint64_t two_times(struct rsfix *r, const char *a, const char *b, int64_t t0)
{
    char ra[320], rb[320];
    const char *rcpts[] = {ra, rb};
    enum queue_fate first[] = {QUEUE_DELIVERED, QUEUE_DEFERRED};

    snprintf(ra, sizeof(ra), "%s:SG1", a);
    snprintf(rb, sizeof(rb), "%s:SG1", b);
    int want = r->f->commits + 1;
    uint64_t id = sf_commit(r->f, 200, 1, t0, rcpts, 2);
    sf_wait_commits(r->f, want);
    struct sf_picked p = sf_pick(r->f, t0);
    assert_int_equal(p.n, 1);
    struct queue_outcome *o = sf_outcome(p.jobs[0], first, t0 + 1000);
    o->rcpts[1].next_attempt_ms = t0 + 2000;
    sf_done(r->f, o);
    sf_free_picked(&p);
    p = sf_pick(r->f, t0 + 2000);
    assert_int_equal(p.n, 1);
    assert_int_equal(p.jobs[0]->nrcpts, 1);
    assert_string_equal(p.jobs[0]->rcpts[0].addr, b);
    sf_done(r->f, sf_outcome(p.jobs[0], NULL, t0 + 60000));
    sf_free_picked(&p);
    return id;
}

/* queued_rcpts - the addresses request id queued, sorted, comma joined
 * for the comparison (rows in the store are one per address) */
static void queued_rcpts(struct rsfix *r, uint64_t id, char *buf, size_t cap)
{
    sf_sql_text(r->f, buf, cap,
                "SELECT group_concat(rcpt, ' | ') FROM (SELECT rcpt FROM recipient"
                " WHERE request = %lld ORDER BY rcpt)",
                (long long)id);
}

static void test_late_recipient_healed(void **state)
{
    struct rsfix *r = *state;
    int64_t t0 = sf_base_ms();
    bool saw;
    char got[512];

    two_times(r, "alice@x.test", "bob@x.test", t0);
    /* the mailbox lost what it took in the last seconds: bob's copy only */
    struct resubmit_req q = rs_req("SG1", t0 + 50000, t0 + 70000);
    q.dry_run = true;
    struct rs_got dry = rs_create(r, &q);
    assert_int_equal(dry.pv.matched, 1);
    assert_int_equal(dry.pv.messages, 1);
    assert_true(dry.pv.coverage.complete);
    q.dry_run = false;
    struct rs_got g = rs_create(r, &q);
    struct resubmit_info in = rs_wait_done(r, g.info.id, &saw);
    assert_int_equal(in.matched, 1);
    assert_int_equal(in.queued, 1);
    queued_rcpts(r, g.info.id, got, sizeof(got));
    assert_string_equal(got, "bob@x.test");
}

static void test_only_the_windows_recipients(void **state)
{
    struct rsfix *r = *state;
    int64_t t0 = sf_base_ms();
    bool saw;
    char got[512];

    uint64_t id = two_times(r, "alice@x.test", "bob@x.test", t0);
    /* a window over both deliveries: one envelope with both */
    struct resubmit_req q = rs_req("SG1", t0, t0 + 70000);
    struct rs_got both = rs_create(r, &q);
    assert_int_equal(rs_wait_done(r, both.info.id, &saw).queued, 2);
    queued_rcpts(r, both.info.id, got, sizeof(got));
    assert_string_equal(got, "alice@x.test | bob@x.test");
    struct sf_picked p = sf_pick(r->f, clock_now_ms());
    assert_int_equal(p.n, 1); /* one message, not one per recipient */
    assert_int_equal(p.jobs[0]->msg_id, id);
    assert_int_equal(p.jobs[0]->nrcpts, 2);
    sf_free_picked(&p);
    /* a window over alice's delivery only: alice alone, never bob */
    struct resubmit_req qa = rs_req("SG1", t0, t0 + 5000);
    qa.force = true;
    struct rs_got a = rs_create(r, &qa);
    assert_int_equal(rs_wait_done(r, a.info.id, &saw).queued, 1);
    queued_rcpts(r, a.info.id, got, sizeof(got));
    assert_string_equal(got, "alice@x.test");
    /* the recipient filter narrows a window over both to that recipient */
    struct resubmit_req qb = rs_req("SG1", t0, t0 + 70000);
    qb.force = true;
    qb.has_recipient = true;
    snprintf(qb.recipient, sizeof(qb.recipient), "bob@x.test");
    struct rs_got b = rs_create(r, &qb);
    assert_int_equal(rs_wait_done(r, b.info.id, &saw).queued, 1);
    queued_rcpts(r, b.info.id, got, sizeof(got));
    assert_string_equal(got, "bob@x.test");
    /* by received time: every recipient of the item */
    struct resubmit_req qr = rs_req("SG1", t0, t0);
    qr.match = RESUBMIT_MATCH_RECEIVED;
    qr.force = true;
    struct rs_got rcv = rs_create(r, &qr);
    assert_int_equal(rs_wait_done(r, rcv.info.id, &saw).queued, 2);
}

static void test_quoted_comma_exact(void **state)
{
    struct rsfix *r = *state;
    int64_t t0 = sf_base_ms();
    bool saw;
    char got[512];

    two_times(r, "\"a,b\"@x.test", "\"c d\"@x.test", t0);
    assert_int_equal(
        sf_sql_int(r->f, "SELECT count(*) FROM dumpster_rcpt WHERE rcpt = %Q", "\"a,b\"@x.test"),
        1);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 70000);
    struct rs_got g = rs_create(r, &q);
    assert_int_equal(rs_wait_done(r, g.info.id, &saw).queued, 2);
    queued_rcpts(r, g.info.id, got, sizeof(got));
    assert_string_equal(got, "\"a,b\"@x.test | \"c d\"@x.test");
    struct sf_picked p = sf_pick(r->f, clock_now_ms());
    assert_int_equal(p.n, 1);
    assert_int_equal(p.jobs[0]->nrcpts, 2);
    assert_string_equal(p.jobs[0]->rcpts[0].addr, "\"a,b\"@x.test");
    sf_free_picked(&p);
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

/* release - early release of SG1 until until_ms, waited for */
static struct released release(struct rsfix *r, int64_t until_ms)
{
    struct released rel = {0};

    dumpster_replicated(r->f->d, "SG1", until_ms, on_released, &rel);
    sf_loop_until(r->f, &rel.calls, 1);
    assert_int_equal(rel.rc, STORE_OK);
    return rel;
}

static void test_early_release_per_recipient(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    int64_t t0 = sf_base_ms();
    struct dumpster_stats ds;

    uint64_t id = two_times(r, "alice@x.test", "bob@x.test", t0);
    /* safe up to between the two deliveries: alice's copy goes, bob's stays */
    struct released rel = release(r, t0 + 30000);
    assert_int_equal(rel.copies, 1);
    assert_int_equal(rel.items, 0);
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt WHERE msg = %lld", (long long)id), 1);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM dumpster_gone WHERE msg = %lld AND"
                                " reason = 'replicated'",
                                (long long)id),
                     1);
    assert_int_equal(dumpster_stats(f->d, "SG1", &ds, 1), 1);
    assert_int_equal(ds.items, 1);
    assert_int_equal(ds.evicted_replicated, 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 1);
    /* past bob's delivery: the last copy goes, and the item with it */
    rel = release(r, t0 + 61000);
    assert_int_equal(rel.copies, 1);
    assert_int_equal(rel.items, 1);
    assert_int_equal(dumpster_stats(f->d, "SG1", &ds, 1), 1);
    assert_int_equal(ds.items, 0);
    assert_int_equal(ds.bytes, 0);
    assert_int_equal(ds.evicted_replicated, 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 0);
}

static void test_overlapping_requests(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    static const char *const rcpts[] = {"a@x.test:SG1"};
    uint64_t ids[5];
    int64_t t0 = sf_base_ms();
    bool saw;

    rs_put(r, 5, t0, 1000, 100, rcpts, 1, ids);
    /* request 1 to a destination that is down: its copies wait */
    struct resubmit_req q1 = rs_req("SG1", t0, t0 + 10000);
    rs_set_dest(&q1, RS_DEST_OVERRIDE);
    struct rs_got g1 = rs_create(r, &q1);
    assert_int_equal(rs_wait_done(r, g1.info.id, &saw).queued, 5);
    /* request 2, same window, another destination: rows of its own */
    struct resubmit_req q2 = rs_req("SG1", t0, t0 + 10000);
    struct rs_got g2 = rs_create(r, &q2);
    assert_int_equal(rs_wait_done(r, g2.info.id, &saw).queued, 5);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE request = %lld AND"
                                " dest = %Q AND state = %d",
                                (long long)g1.info.id, q1.dest_text, RCPT_PENDING),
                     5);
    /* request 2's copies are delivered; request 1's still wait, untouched */
    struct sf_picked p = sf_pick(f, clock_now_ms());
    assert_int_equal(p.n, 10);
    for (size_t i = 0; i < p.n; i++)
        if (p.jobs[i]->request == g2.info.id)
            sf_done(f, sf_outcome(p.jobs[i], NULL, clock_now_ms()));
    sf_free_picked(&p);
    struct resubmit_info i1 = rs_get(r, g1.info.id), i2 = rs_get(r, g2.info.id);
    assert_int_equal(i2.delivered, 5);
    assert_int_equal(i1.delivered, 0);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE request = %lld AND"
                                " state = %d",
                                (long long)g1.info.id, RCPT_PENDING),
                     5);
    /* a third request to request 1's destination: the ledger skips what
     * request 1 queued, and request 1 keeps its copies */
    struct rs_got g3 = rs_create(r, &q1);
    struct resubmit_info i3 = rs_wait_done(r, g3.info.id, &saw);
    assert_int_equal(i3.skipped_duplicate, 5);
    assert_int_equal(i3.queued, 0);
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld", (long long)g1.info.id),
        5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_late_recipient_healed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_only_the_windows_recipients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quoted_comma_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_release_per_recipient, setup, teardown),
        cmocka_unit_test_setup_teardown(test_overlapping_requests, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
