/*
 * test_queue_hold.c - messages committed held (queue_commit with m->hold):
 * never picked until queue_unhold() releases them, gone with their rows
 * when it withdraws them (also after a withdrawal that met a full disk),
 * pending again after a restart; counted as active meanwhile, the kept
 * counts equal to a recount after every step; queue_on_final, told
 * the queue id once an outcome leaves a message with no open recipient;
 * and queue_drop (a message another hub took over): gone when pending or
 * deferred, left alone while in delivery, nothing for an unknown id
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

#include "storefix.h"

#define NOW 1764064900000LL

enum op {
    HELD,     /* a message held, to rcpts "a:SG1" and "b:SG1" */
    PICK,     /* every due job: want jobs */
    RELEASE,  /* queue_unhold(release) of message msg */
    WITHDRAW, /* queue_unhold(withdraw) of msg, its first DELETE meets a full disk when full */
    RESTART,  /* the hub stops and starts */
    DELIVER,  /* the picked job of msg: every recipient delivered (fates "D"), or "DR" */
    DROP,     /* queue_drop of msg's queue id (msg -1: an unknown one): want the result */
};

struct step {
    enum op op;
    int msg;
    int want; /* PICK: jobs; DELIVER: final calls so far */
    const char *fates;
    bool full;
    long long msgs, rcpts;    /* rows of message and recipient after the step */
    uint64_t pending, active; /* counts after the step */
};

struct scenario {
    const char *name;
    struct step steps[8];
    size_t n;
};

static const struct scenario scenarios[] = {
    {"held, then released and delivered",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {PICK, 0, 0, NULL, false, 1, 2, 0, 1},
      {RELEASE, 0, 0, NULL, false, 1, 2, 1, 0},
      {PICK, 0, 1, NULL, false, 1, 2, 0, 1},
      {DELIVER, 0, 1, "DD", false, 1, 2, 0, 0}},
     5},
    {"withdrawn: nothing left",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {WITHDRAW, 0, 0, NULL, false, 0, 0, 0, 0},
      {PICK, 0, 0, NULL, false, 0, 0, 0, 0}},
     3},
    {"withdrawn on a full disk: retried, never picked meanwhile",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {WITHDRAW, 0, 0, NULL, true, 0, 0, 0, 0},
      {PICK, 0, 0, NULL, false, 0, 0, 0, 0}},
     3},
    {"held across a restart: pending again",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {RESTART, 0, 0, NULL, false, 1, 2, 1, 0},
      {PICK, 0, 1, NULL, false, 1, 2, 0, 1}},
     3},
    {"one held, one released: only that one goes",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {HELD, 1, 0, NULL, false, 2, 4, 0, 2},
      {RELEASE, 1, 0, NULL, false, 2, 4, 1, 1},
      {PICK, 0, 1, NULL, false, 2, 4, 0, 2},
      {DELIVER, 1, 0, "DR", false, 2, 4, 1, 1},
      {RELEASE, 0, 0, NULL, false, 2, 4, 2, 0}},
     6},
    {"dropped when pending: nothing left",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {RESTART, 0, 0, NULL, false, 1, 2, 1, 0},
      {DROP, 0, QUEUE_DROP_DONE, NULL, false, 0, 0, 0, 0},
      {PICK, 0, 0, NULL, false, 0, 0, 0, 0}},
     4},
    {"dropped after a deferral: nothing kept",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {RELEASE, 0, 0, NULL, false, 1, 2, 1, 0},
      {PICK, 0, 1, NULL, false, 1, 2, 0, 1},
      {DELIVER, 0, 0, "RR", false, 1, 2, 1, 0},
      {DROP, 0, QUEUE_DROP_DONE, NULL, false, 0, 0, 0, 0}},
     5},
    {"dropped while in delivery: left alone",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1},
      {RELEASE, 0, 0, NULL, false, 1, 2, 1, 0},
      {PICK, 0, 1, NULL, false, 1, 2, 0, 1},
      {DROP, 0, QUEUE_DROP_BUSY, NULL, false, 1, 2, 0, 1},
      {DELIVER, 0, 1, "DD", false, 1, 2, 0, 0}},
     5},
    {"an unknown id: nothing",
     {{HELD, 0, 0, NULL, false, 1, 2, 0, 1}, {DROP, -1, QUEUE_DROP_NONE, NULL, false, 1, 2, 0, 1}},
     2},
};

struct world {
    struct storefix *f;
    uint64_t ids[4];
    struct sf_picked picked;
    int finals;
    char final_qid[DD_QUEUEID_LEN + 1];
    int unheld;
    int drops;
    enum queue_drop_result dropped;
};

static void on_dropped(void *ctx, enum queue_drop_result result)
{
    struct world *w = ctx;

    w->dropped = result;
    w->drops++;
}

static void on_final(void *ctx, const char *queue_id)
{
    struct world *w = ctx;

    w->finals++;
    snprintf(w->final_qid, sizeof(w->final_qid), "%s", queue_id);
}

static void on_unheld(void *ctx, enum store_rc rc)
{
    struct world *w = ctx;

    assert_int_equal(rc, STORE_OK);
    w->unheld++;
}

struct recount {
    int calls;
    bool ok;
    struct queue_counts c;
};

static void on_recount(void *ctx, const struct queue_counts *c)
{
    struct recount *r = ctx;

    r->calls++;
    r->ok = c != NULL;
    if (c)
        r->c = *c;
}

/* check - rows and counts after step i */
static void check(struct world *w, const char *name, size_t i, const struct step *s)
{
    struct recount r = {0};
    struct queue_counts kept;
    long long msgs = sf_sql_int(w->f, "SELECT count(*) FROM message");
    long long rcpts = sf_sql_int(w->f, "SELECT count(*) FROM recipient");

    if (msgs != s->msgs || rcpts != s->rcpts)
        fail_msg("%s, step %zu: %lld messages, %lld recipients; want %lld, %lld", name, i, msgs,
                 rcpts, s->msgs, s->rcpts);
    queue_recount(w->f->q, on_recount, &r);
    sf_loop_until(w->f, &r.calls, 1);
    assert_true(r.ok);
    queue_counts(w->f->q, &kept);
    if (kept.pending_msgs != s->pending || kept.active_msgs != s->active ||
        r.c.pending_msgs != s->pending || r.c.active_msgs != s->active)
        fail_msg("%s, step %zu: pending %llu active %llu (recount %llu %llu); want %llu %llu", name,
                 i, (unsigned long long)kept.pending_msgs, (unsigned long long)kept.active_msgs,
                 (unsigned long long)r.c.pending_msgs, (unsigned long long)r.c.active_msgs,
                 (unsigned long long)s->pending, (unsigned long long)s->active);
}

/* job_of - the picked job of message id */
static const struct queue_job *job_of(const struct world *w, uint64_t id)
{
    for (size_t i = 0; i < w->picked.n; i++)
        if (w->picked.jobs[i]->msg_id == id)
            return w->picked.jobs[i];
    return NULL;
}

static void run_step(struct world *w, const char *name, size_t i, const struct step *s)
{
    static const char *const rcpts[] = {"a@x.test:SG1", "b@x.test:SG1"};
    int want;

    switch (s->op) {
    case HELD:
        w->f->hold = true;
        w->ids[s->msg] = sf_commit(w->f, 300, 1, NOW, rcpts, 2);
        sf_wait_commits(w->f, w->f->commits + 1);
        break;
    case PICK:
        sf_free_picked(&w->picked);
        w->picked = sf_pick(w->f, NOW + 1000);
        if ((int)w->picked.n != s->want)
            fail_msg("%s, step %zu: %zu jobs picked, want %d", name, i, w->picked.n, s->want);
        break;
    case RELEASE:
    case WITHDRAW:
        if (s->full)
            sf_fault(w->f, "DELETE FROM recipient", SQLITE_FULL, 1);
        want = w->unheld + 1;
        queue_unhold(w->f->q, w->ids[s->msg], s->op == WITHDRAW, on_unheld, w);
        sf_loop_until(w->f, &w->unheld, want);
        if (s->full)
            assert_int_equal(sf_fault_hits(w->f), 1);
        break;
    case RESTART:
        sf_free_picked(&w->picked);
        sf_reopen(w->f);
        queue_on_final(w->f->q, on_final, w);
        break;
    case DELIVER: {
        const struct queue_job *j = job_of(w, w->ids[s->msg]);
        enum queue_fate fates[2];
        assert_non_null(j);
        for (size_t k = 0; k < 2; k++)
            fates[k] = s->fates[k] == 'D' ? QUEUE_DELIVERED : QUEUE_DEFERRED;
        /* deferred: retried at NOW + 2000 + the delay, after every later pick */
        sf_done(w->f, sf_outcome(j, fates, NOW + 2000));
        sf_run_ms(w->f, 20); /* the final call is posted once the batch commits */
        if (w->finals != s->want)
            fail_msg("%s, step %zu: %d final calls, want %d", name, i, w->finals, s->want);
        if (s->want) {
            char qid[DD_QUEUEID_LEN + 1];
            sf_sql_text(w->f, qid, sizeof(qid), "SELECT queue_id FROM message WHERE id = %llu",
                        (unsigned long long)w->ids[s->msg]);
            assert_string_equal(w->final_qid, qid);
        }
        break;
    }
    case DROP: {
        char qid[DD_QUEUEID_LEN + 1] = "NOSUCHQUEUEID00000";
        if (s->msg >= 0)
            sf_sql_text(w->f, qid, sizeof(qid), "SELECT queue_id FROM message WHERE id = %llu",
                        (unsigned long long)w->ids[s->msg]);
        want = w->drops + 1;
        queue_drop(w->f->q, qid, "taken over by another hub", on_dropped, w);
        sf_loop_until(w->f, &w->drops, want);
        if ((int)w->dropped != s->want)
            fail_msg("%s, step %zu: drop result %d, want %d", name, i, (int)w->dropped, s->want);
        break;
    }
    }
    check(w, name, i, s);
}

static void test_scenarios(void **state)
{
    (void)state;
    for (size_t k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
        const struct scenario *sc = &scenarios[k];
        struct world w = {0};
        w.f = sf_setup(SF_DUMPSTER, false);
        sf_add_sg(w.f, "SG1", "lmtp:[127.0.0.1]:24", 0);
        sf_open(w.f);
        queue_on_final(w.f->q, on_final, &w);
        for (size_t i = 0; i < sc->n; i++)
            run_step(&w, sc->name, i, &sc->steps[i]);
        sf_free_picked(&w.picked);
        sf_teardown(w.f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
