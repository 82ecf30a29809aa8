/*
 * test_store_linger.c - work that may wait (store_call_lazy) for company
 *
 * On a real store and loop: lazy work alone waits DD_STORE_LINGER_MS and
 * is then written; lazy work shares the transaction of the first work that
 * may not wait, in the order both were queued; many lazy works go in one
 * transaction; lazy work queued at the stop is still written and answered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "storefix.h"
#include "store_int.h"

#define NWORK 16

struct trace {
    struct storefix *f;
    int replies;
    _Atomic int nran;
    int order[NWORK];      /* which work ran n-th */
    uint64_t batch[NWORK]; /* the store's batch count when it ran */
    int64_t queued[NWORK]; /* when it was handed over (µs) */
    int64_t ran[NWORK];    /* when it ran (µs) */
    enum store_rc rc[NWORK];
};

struct work {
    struct trace *t;
    int i;
};

static struct work works[NWORK];

static int trace_work(struct store *s, void *arg)
{
    struct work *w = arg;
    struct store_stats st;
    int n = atomic_fetch_add(&w->t->nran, 1);

    store_get_stats(s, &st);
    w->t->order[n] = w->i;
    w->t->batch[w->i] = st.batches;
    w->t->ran[w->i] = clock_mono_us();
    return SQLITE_OK;
}

static void trace_reply(void *arg, enum store_rc rc)
{
    struct work *w = arg;

    w->t->rc[w->i] = rc;
    w->t->replies++;
}

/* queue_work - work i of t, lazy or not */
static void queue_work(struct trace *t, int i, bool lazy)
{
    works[i] = (struct work){t, i};
    t->queued[i] = clock_mono_us();
    if (lazy)
        store_call_lazy(t->f->st, trace_work, trace_reply, &works[i]);
    else
        store_call(t->f->st, trace_work, trace_reply, &works[i], true);
}

static int setup(void **state)
{
    struct storefix *f = sf_setup(0, false);
    static struct trace t;

    f->linger = true;
    sf_open(f);
    memset(&t, 0, sizeof(t));
    t.f = f;
    *state = &t;
    return 0;
}

static int teardown(void **state)
{
    struct trace *t = *state;

    if (t->f)
        sf_teardown(t->f);
    return 0;
}

static void test_alone_waits(void **state)
{
    struct trace *t = *state;

    sf_run_ms(t->f, 200); /* the queue's own first work is done */
    queue_work(t, 0, true);
    sf_loop_until(t->f, &t->replies, 1);
    assert_int_equal(t->rc[0], STORE_OK);
    if (t->ran[0] - t->queued[0] < DD_STORE_LINGER_MS * 1000)
        fail_msg("ran after %lld us", (long long)(t->ran[0] - t->queued[0]));
}

/* shapes: which of the works queued one after the other are lazy */
static const char *const shapes[] = {
    "LE",   /* lazy, then one that may not wait: one transaction */
    "LLLE", /* three lazy ones ride along */
    "LELE", /* the second lazy one may wait for the next */
};

static void test_rides_with_eager(void **state)
{
    struct trace *t = *state;

    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        int n = (int)strlen(shapes[s]);
        memset(t->order, 0, sizeof(t->order));
        atomic_store(&t->nran, 0);
        t->replies = 0;
        for (int i = 0; i < n; i++)
            queue_work(t, i, shapes[s][i] == 'L');
        sf_loop_until(t->f, &t->replies, n);
        for (int i = 0; i < n; i++) {
            assert_int_equal(t->order[i], i); /* the order they were queued in */
            assert_int_equal(t->rc[i], STORE_OK);
        }
        /* every lazy work before the first eager one shares its batch */
        int first_e = (int)(strchr(shapes[s], 'E') - shapes[s]);
        for (int i = 0; i < first_e; i++)
            assert_true(t->batch[i] == t->batch[first_e]);
    }
}

static void test_many_lazy_one_batch(void **state)
{
    struct trace *t = *state;

    for (int i = 0; i < NWORK; i++)
        queue_work(t, i, true);
    sf_loop_until(t->f, &t->replies, NWORK);
    for (int i = 0; i < NWORK; i++) {
        assert_int_equal(t->order[i], i);
        assert_true(t->batch[i] == t->batch[0]);
    }
}

static void test_stop_writes_lazy(void **state)
{
    struct trace *t = *state;

    queue_work(t, 0, true);
    sf_close(t->f); /* the stop takes the lingering work at once */
    assert_int_equal(atomic_load(&t->nran), 1);
    assert_int_equal(t->replies, 1);
    assert_int_equal(t->rc[0], STORE_OK);
    sf_open(t->f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alone_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rides_with_eager, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_lazy_one_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_writes_lazy, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
