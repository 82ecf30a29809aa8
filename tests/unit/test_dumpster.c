/*
 * test_dumpster.c - the dumpster through dumpster.h on a real store: the
 * loop's counters come back exactly after a restart, and message ids are
 * never handed out again while dumpster_gone still names them
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storefix.h"

#define DEST2 "lmtp:[127.0.0.1]:2425"
#define SG2_MAX 1000

struct released {
    uint64_t copies, items;
    int done;
};

/* on_released - dumpster_replicated answered */
static void on_released(void *ctx, uint64_t copies, uint64_t items, enum store_rc rc)
{
    struct released *r = ctx;

    assert_int_equal(rc, STORE_OK);
    r->copies = copies;
    r->items = items;
    r->done++;
}

/* put_round - n messages of size octets received from t0 a second apart
 * for rcpts, delivered at now */
static void put_round(struct storefix *f, size_t n, int64_t t0, uint64_t size, int64_t now)
{
    static const char *const rcpts[] = {"d@y.test:SG2", "e@y.test:SG2"};
    int want = f->commits + (int)n;

    for (size_t i = 0; i < n; i++)
        sf_commit(f, size, 1, t0 + (int64_t)i * 1000, rcpts, 2);
    sf_wait_commits(f, want);
    assert_int_equal(sf_deliver_due(f, now, now), n);
}

/* The loop's counters come back from the store at start: dumpster_new()
 * reads every group's row in place (dumpster_sg_read with sg == out->sg). */
static void test_dumpster_counters_after_restart(void **state)
{
    struct storefix *f = sf_setup(SF_DUMPSTER, false);
    struct dumpster_stats a, b;
    int64_t t0 = sf_base_ms();
    struct released rel = {0};

    (void)state;
    sf_add_sg(f, "SG2", DEST2, SG2_MAX);
    sf_open(f);
    put_round(f, 4, t0, 300, t0 + 10000);                /* 3 fit: one evicted */
    put_round(f, 2, t0 + 4000, 300, t0 + 20000);         /* two more evicted */
    put_round(f, 1, t0 + 6000, SG2_MAX + 1, t0 + 20000); /* not kept */
    dumpster_replicated(f->d, "SG2", t0 + 15000, on_released, &rel);
    sf_loop_until(f, &rel.done, 1);
    assert_int_equal(rel.copies, 2); /* both copies of the one delivered at t0 + 10 s */
    assert_int_equal(rel.items, 1);
    assert_int_equal(dumpster_stats(f->d, "SG2", &b, 1), 1);
    sf_reopen(f);
    assert_int_equal(dumpster_stats(f->d, "SG2", &a, 1), 1);
    assert_string_equal(a.sg, "SG2");
    const long long v[][3] = {
        {(long long)a.items, (long long)b.items, 2},
        {(long long)a.bytes, (long long)b.bytes, 600},
        {a.oldest_received_ms, b.oldest_received_ms, t0 + 4000},
        {(long long)a.evicted_size, (long long)b.evicted_size, 3},
        {(long long)a.evicted_age, (long long)b.evicted_age, 0},
        {(long long)a.evicted_replicated, (long long)b.evicted_replicated, 1},
        {(long long)a.not_kept, (long long)b.not_kept, 1},
        {a.replicated_until_ms, b.replicated_until_ms, t0 + 15000},
        {(long long)a.max_bytes, (long long)b.max_bytes, SG2_MAX},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) { /* after == before == expected */
        assert_int_equal(v[i][0], v[i][1]);
        assert_int_equal(v[i][1], v[i][2]);
    }
    sf_teardown(f);
}

/* put_too_large - one message too large for SG2 (a gone row, and it leaves
 * the store at once), received and delivered at t; its id */
static uint64_t put_too_large(struct storefix *f, int64_t t)
{
    static const char *const rcpt[] = {"d@y.test:SG2"};
    uint64_t id = sf_commit(f, SG2_MAX + 1, 1, t, rcpt, 1);

    sf_wait_commits(f, f->commits + 1);
    assert_int_equal(sf_deliver_due(f, t, t), 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message WHERE id = %lld", (long long)id),
                     0);
    return id;
}

/* Coverage counts the distinct messages of dumpster_gone (dumpster_gone_count:
 * count(DISTINCT msg)), so a message id must not come again after a restart
 * while a gone row still names it. */
static void test_gone_ids_unique_after_restart(void **state)
{
    struct storefix *f = sf_setup(SF_DUMPSTER, false);
    int64_t t0 = sf_base_ms();

    (void)state;
    sf_add_sg(f, "SG2", DEST2, SG2_MAX);
    sf_open(f);
    uint64_t first = put_too_large(f, t0);
    sf_reopen(f);
    uint64_t second = put_too_large(f, t0 + 1000);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_gone WHERE sg = 'SG2'"), 2);
    assert_int_equal(sf_sql_int(f, "SELECT count(DISTINCT msg) FROM dumpster_gone"
                                   " WHERE sg = 'SG2'"),
                     2);
    assert_int_not_equal(first, second);
    sf_teardown(f);
}

/* main - the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dumpster_counters_after_restart),
        cmocka_unit_test(test_gone_ids_unique_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
