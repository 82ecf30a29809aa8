/*
 * test_shadow_take-drop.c - a hub back after another took its messages
 * over: the removal of a taken message that meets a full disk is tried
 * again (every TAKE_DROP_AGAIN_MS) and delivery stays held until it is
 * written; a taken message already in delivery is left alone; with no
 * taken message delivery goes at once. Each case counts the store's
 * faults, when the hold ended, and which recipient rows stay open.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "shadow_take.h"
#include "storefix.h"

#define NOW 1764064900000LL

struct world {
    struct storefix *f;
    int ready;      /* delivery may go */
    int hits_ready; /* the store's faults when it could */
};

static void on_ready(void *ctx)
{
    struct world *w = ctx;

    w->hits_ready = sf_fault_hits(w->f);
    w->ready++;
}

struct drop_case {
    const char *name;
    int nmsgs;  /* committed, each to "a@x.test:SG1" */
    int taken;  /* of them, named by the away list */
    int faults; /* the removal's UPDATE meets a full disk this many times */
};

static const struct drop_case cases[] = {
    {"nothing taken: delivery goes at once", 1, 0, 0},
    {"one taken, written at once", 2, 1, 0},
    {"one taken, the disk full twice: tried again, delivery held", 2, 1, 2},
    {"two taken, the disk full once", 3, 2, 1},
};

static void run_case(const struct drop_case *c)
{
    static const char *const rcpts[] = {"a@x.test:SG1"};
    struct world w = {0};
    char qids[4][DD_QUEUEID_LEN + 1];
    const char *ids[4];

    w.f = sf_setup(SF_DUMPSTER, false);
    sf_add_sg(w.f, "SG1", "lmtp:[127.0.0.1]:24", 0);
    sf_open(w.f);
    for (int i = 0; i < c->nmsgs; i++) {
        uint64_t id = sf_commit(w.f, 300, 1, NOW, rcpts, 1);
        sf_wait_commits(w.f, w.f->commits + 1);
        sf_sql_text(w.f, qids[i], sizeof(qids[i]), "SELECT queue_id FROM message WHERE id = %llu",
                    (unsigned long long)id);
        ids[i] = qids[i];
    }
    struct shadow_taker *tk = shadow_taker_new(w.f->base, w.f->q, NULL, NULL);
    assert_non_null(tk);
    shadow_taker_hold(tk, SHADOW_AWAY_WAIT_MS, on_ready, &w);
    if (c->faults > 0)
        sf_fault(w.f, "UPDATE recipient SET state = ?2, last_reply = ?3", SQLITE_FULL, c->faults);
    shadow_taker_away(tk, ids, (size_t)c->taken);
    sf_loop_until(w.f, &w.ready, 1);
    if (w.hits_ready != c->faults)
        fail_msg("%s: delivery went after %d faults, want %d", c->name, w.hits_ready, c->faults);
    sf_run_ms(w.f, 20);
    assert_int_equal(w.ready, 1);
    long long open = sf_sql_int(w.f, "SELECT count(*) FROM recipient WHERE state = 0");
    if (open != c->nmsgs - c->taken)
        fail_msg("%s: %lld recipients open, want %d", c->name, open, c->nmsgs - c->taken);
    for (int i = 0; i < c->taken; i++)
        if (sf_sql_int(w.f,
                       "SELECT count(*) FROM recipient r JOIN message m ON m.id = r.msg"
                       " WHERE m.queue_id = '%s' AND r.state = 0",
                       qids[i]) != 0)
            fail_msg("%s: taken message %s still open", c->name, qids[i]);
    shadow_taker_free(tk);
    sf_teardown(w.f);
}

static void test_drops(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++)
        run_case(&cases[k]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
