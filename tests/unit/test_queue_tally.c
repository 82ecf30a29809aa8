/*
 * test_queue_tally.c - the queue's counts by state (queue_counts), kept as
 * the rows change, against a fresh recount (queue_recount, a scan) after
 * every step of a table: enqueue, pick, deliver, defer, fail, flush,
 * resubmit, expire (a deferred recipient failed once its lifetime is over),
 * a restart (counted again at the start), and failing COMMITs of an
 * enqueue, a pick and an outcome (the store's fault hook), checked while
 * the outcome waits for its retry and after it is written
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "queue_int.h"
#include "storefix.h"

#define NOW 1764064900000LL
#define NMSGS 4

enum op {
    ENQ,        /* msg: a new message to rcpts */
    ENQ_FAILS,  /* the same, its COMMIT fails: nothing counted */
    PICK,       /* every due job (at NOW, or far when msg says so) */
    PICK_FAILS, /* a pick whose batch's COMMIT fails: no mark stays */
    DONE,       /* the job of msg (sg) gets fates: D delivered, R deferred, F failed */
    DONE_FAILS, /* the same, its COMMIT fails until the check, then written */
    FLUSH,      /* every deferred recipient due now */
    REQUEUE,    /* request 7 queues rcpts[0] of msg again (a resubmission) */
    RESTART,    /* the hub stops and starts: counted again */
};

struct step {
    enum op op;
    int msg;
    const char *sg;
    const char *fates;
    const char *rcpts[3];
    uint64_t pending, active, deferred; /* the counts after the step */
};

static const struct step steps[] = {
    {ENQ, 0, NULL, NULL, {"a@x.test:SG1", "b@x.test:SG1", "c@y.test:SG2"}, 1, 0, 0},
    {ENQ, 1, NULL, NULL, {"d@x.test:SG1"}, 2, 0, 0},
    {PICK, 0, NULL, NULL, {NULL}, 0, 2, 0},
    {DONE, 0, "SG1", "DR", {NULL}, 1, 2, 1}, /* b deferred, c still active */
    {DONE, 1, "SG1", "D", {NULL}, 1, 1, 1},
    {DONE, 0, "SG2", "F", {NULL}, 1, 0, 1},
    {ENQ_FAILS, 2, NULL, NULL, {"e@x.test:SG1"}, 1, 0, 1},
    {ENQ, 2, NULL, NULL, {"e@x.test:SG1"}, 2, 0, 1},
    {FLUSH, 0, NULL, NULL, {NULL}, 2, 0, 1},
    {PICK_FAILS, 0, NULL, NULL, {NULL}, 2, 0, 1},
    {PICK, 0, NULL, NULL, {NULL}, 0, 2, 0},
    {DONE_FAILS, 2, "SG1", "D", {NULL}, 0, 1, 0},
    {DONE, 0, "SG1", "F", {NULL}, 0, 0, 0}, /* b: its lifetime is over */
    {REQUEUE, 0, "SG1", NULL, {NULL}, 1, 0, 0},
    {PICK, 0, NULL, NULL, {NULL}, 0, 1, 0},
    {DONE, 0, "SG1", "R", {NULL}, 1, 0, 1},
    {RESTART, 0, NULL, NULL, {NULL}, 1, 0, 1},
    {PICK, 1, NULL, NULL, {NULL}, 0, 1, 0},
    {DONE, 0, "SG1", "F", {NULL}, 0, 0, 0},
};

struct world {
    struct storefix *f;
    uint64_t ids[NMSGS];
    struct sf_picked picked;
    bool *open; /* per picked job: no outcome yet */
};

static int setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));

    w->f = sf_setup(SF_DUMPSTER, false);
    sf_add_sg(w->f, "SG1", "lmtp:[127.0.0.1]:24", 0);
    sf_add_sg(w->f, "SG2", "lmtp:[127.0.0.1]:25", 0);
    sf_open(w->f);
    *state = w;
    return 0;
}

static int teardown(void **state)
{
    struct world *w = *state;

    sf_free_picked(&w->picked);
    free(w->open);
    sf_teardown(w->f);
    free(w);
    return 0;
}

struct recount {
    int calls;
    bool ok;
    struct queue_counts c;
};

/* on_recount - the scan's answer */
static void on_recount(void *ctx, const struct queue_counts *c)
{
    struct recount *r = ctx;

    r->calls++;
    r->ok = c != NULL;
    if (c != NULL)
        r->c = *c;
}

/* check - the kept counts equal a fresh recount and what the step says */
static void check(struct world *w, size_t i, uint64_t pending, uint64_t active, uint64_t deferred)
{
    struct recount r = {0};
    struct queue_counts kept;

    queue_recount(w->f->q, on_recount, &r);
    sf_loop_until(w->f, &r.calls, 1);
    assert_true(r.ok);
    queue_counts(w->f->q, &kept);
    if (kept.pending_msgs != r.c.pending_msgs || kept.active_msgs != r.c.active_msgs ||
        kept.deferred_msgs != r.c.deferred_msgs)
        fail_msg("step %zu: kept pending %llu active %llu deferred %llu, recount %llu %llu %llu", i,
                 (unsigned long long)kept.pending_msgs, (unsigned long long)kept.active_msgs,
                 (unsigned long long)kept.deferred_msgs, (unsigned long long)r.c.pending_msgs,
                 (unsigned long long)r.c.active_msgs, (unsigned long long)r.c.deferred_msgs);
    if (kept.pending_msgs != pending || kept.active_msgs != active ||
        kept.deferred_msgs != deferred)
        fail_msg("step %zu: pending %llu active %llu deferred %llu, want %llu %llu %llu", i,
                 (unsigned long long)kept.pending_msgs, (unsigned long long)kept.active_msgs,
                 (unsigned long long)kept.deferred_msgs, (unsigned long long)pending,
                 (unsigned long long)active, (unsigned long long)deferred);
}

/* enqueue - a message to the step's recipients; false when its commit failed */
static bool enqueue(struct world *w, const struct step *st)
{
    size_t n = 0;
    int before = w->f->commits, errors = w->f->commit_errors;

    while (n < 3 && st->rcpts[n] != NULL)
        n++;
    w->ids[st->msg] = sf_commit(w->f, 200, 1, NOW - 1000, st->rcpts, n);
    sf_loop_until(w->f, &w->f->commits, before + 1);
    return w->f->commit_errors == errors;
}

/* pick - every due job, kept for the outcomes to come */
static void pick(struct world *w, int64_t at)
{
    sf_free_picked(&w->picked);
    w->picked = sf_pick(w->f, at);
    free(w->open);
    w->open = calloc(w->picked.n ? w->picked.n : 1, sizeof(*w->open));
    for (size_t i = 0; i < w->picked.n; i++)
        w->open[i] = true;
}

/* job_of - the picked job of message msg for sg, not yet done */
static size_t job_of(struct world *w, int msg, const char *sg)
{
    for (size_t i = 0; i < w->picked.n; i++)
        if (w->open[i] && w->picked.jobs[i]->msg_id == w->ids[msg] &&
            strcmp(w->picked.jobs[i]->sg, sg) == 0)
            return i;
    fail_msg("no job of message %d for %s", msg, sg);
    return 0;
}

/* outcome - the job's outcome by the step's fates */
static struct queue_outcome *outcome(struct world *w, const struct step *st, size_t *job)
{
    enum queue_fate fates[8];
    const struct queue_job *j;

    *job = job_of(w, st->msg, st->sg);
    j = w->picked.jobs[*job];
    assert_int_equal(strlen(st->fates), j->nrcpts);
    for (size_t i = 0; i < j->nrcpts; i++)
        fates[i] = st->fates[i] == 'D'   ? QUEUE_DELIVERED
                   : st->fates[i] == 'R' ? QUEUE_DEFERRED
                                         : QUEUE_FAILED;
    w->open[*job] = false;
    return sf_outcome(j, fates, NOW);
}

static void on_done(void *ctx, enum store_rc rc)
{
    *(int *)ctx = rc == STORE_OK ? 1 : 1000;
}

static void on_flushed(void *ctx, uint64_t n)
{
    *(int *)ctx = n > 0 ? 1 : 1000;
}

/* done_fails - the outcome's COMMIT fails (checked meanwhile), then it is written */
static void done_fails(struct world *w, const struct step *st, size_t i)
{
    size_t job;
    struct queue_outcome *o = outcome(w, st, &job);
    int done = 0;
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    sf_fault_after(w->f, "UPDATE recipient SET state = ?, attempts", "COMMIT", SQLITE_IOERR, -1);
    queue_done(w->f->q, o, on_done, &done);
    while (sf_fault_hits(w->f) < 1 && clock_mono_ms() < end)
        sf_run_ms(w->f, 5);
    assert_true(sf_fault_hits(w->f) >= 1);
    assert_int_equal(done, 0);
    check(w, i, 0, 2, 0); /* as before: the recipient is still active */
    sf_fault(w->f, NULL, 0, 0);
    sf_loop_until(w->f, &done, 1);
    assert_int_equal(done, 1);
}

struct requeue_op {
    struct queue *q;
    uint64_t msg;
    const char *addr, *sg;
    int done;
};

/* requeue_work - storage thread: what a resubmission batch does */
static int requeue_work(struct store *s, void *arg)
{
    struct requeue_op *op = arg;
    struct queue_requeue rq = {op->msg, op->sg, NULL, 7, NOW};

    return queue_requeue(op->q, s, &rq, op->addr);
}

static void requeue_reply(void *arg, enum store_rc rc)
{
    ((struct requeue_op *)arg)->done = rc == STORE_OK ? 1 : 1000;
}

/* requeue - the step's message again for request 7, to its first recipient */
static void requeue(struct world *w, const struct step *st)
{
    struct requeue_op op = {w->f->q, w->ids[st->msg], "a@x.test", st->sg, 0};

    store_call(w->f->st, requeue_work, requeue_reply, &op, true);
    sf_loop_until(w->f, &op.done, 1);
    assert_int_equal(op.done, 1);
}

/* run_step - one step of the table */
static void run_step(struct world *w, const struct step *st, size_t i)
{
    size_t job;

    switch (st->op) {
    case ENQ:
        assert_true(enqueue(w, st));
        break;
    case ENQ_FAILS:
        sf_fault_after(w->f, "INSERT OR IGNORE INTO recipient(msg, rcpt, route", "COMMIT",
                       SQLITE_IOERR, 1);
        assert_false(enqueue(w, st));
        sf_fault(w->f, NULL, 0, 0);
        break;
    case PICK:
        pick(w, st->msg ? SF_FAR_MS + 1 : NOW);
        break;
    case PICK_FAILS: {
        sf_fault_after(w->f, "WHERE state = ? AND next_attempt <= ?", "COMMIT", SQLITE_IOERR, 1);
        struct sf_picked p = sf_pick_rc(w->f, NOW);
        assert_int_not_equal(p.rc, STORE_OK);
        sf_free_picked(&p);
        sf_fault(w->f, NULL, 0, 0);
        break;
    }
    case DONE:
        sf_done(w->f, outcome(w, st, &job));
        break;
    case DONE_FAILS:
        done_fails(w, st, i);
        break;
    case FLUSH: {
        int done = 0;
        queue_flush(w->f->q, NULL, false, on_flushed, &done);
        sf_loop_until(w->f, &done, 1);
        break;
    }
    case REQUEUE:
        requeue(w, st);
        break;
    case RESTART:
        sf_free_picked(&w->picked);
        sf_reopen(w->f);
        break;
    }
}

/* test_counts_follow_the_rows - every step of the table */
static void test_counts_follow_the_rows(void **state)
{
    struct world *w = *state;

    check(w, 0, 0, 0, 0);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        run_step(w, &steps[i], i);
        check(w, i, steps[i].pending, steps[i].active, steps[i].deferred);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_counts_follow_the_rows, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
