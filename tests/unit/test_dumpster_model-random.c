/*
 * test_dumpster_model-random.c - the dumpster's storage half against a
 * model, under random operations
 *
 * Random operations from fixed seeds, checked after every step. Messages with several recipients in
 * several storage groups reach the store through the intake and leave the queue through queue_pick
 * and queue_done, with deliveries, deferrals, failures and late recipients; the test's own struct
 * dumpster_core watches the outcomes (dumpster_store_keep) and is driven with the test's clock:
 * enforce by age and size, bounds that change, early release per recipient copy, restarts. After
 * every step a small model (lib/dmodelfix.c), the counter rows (dumpster_sg), the counters posted
 * to the loop and SQL over the database file (items, copies with their delivery times, gone
 * copies, holds, content, recipients) must agree (lib/dmhubfix.c). SG1..SG3 have bounds; SG4 has
 * none (not kept); some recipients go to the smarthost (never kept).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "dmhubfix.h"
#include "dmodelfix.h"

#define SEEDS 20
#define STEPS 200
#define T0 1764064900000LL /* the test's clock starts here */

/* t_names - the tally's cases (dmodelfix.h) by name */
static const char *const t_names[T_N] = {
    "kept",      "rekept",    "late copies", "copies released", "released in part",
    "size",      "age",       "replicated",  "not kept",        "held",
    "smarthost", "unbounded", "duplicates",  "reused ids"};

/* ---- operations ---- */

/* pt_fate - delivered mostly; sometimes deferred (stays pending) or failed */
static enum queue_fate pt_fate(struct model *md)
{
    uint64_t r = rnd(md, 100);

    return r < 80 ? QUEUE_DELIVERED : r < 93 ? QUEUE_DEFERRED : QUEUE_FAILED;
}

/* pt_group_of - a job's group index (SH for the smarthost) */
static unsigned pt_group_of(struct model *md, const struct queue_job *j)
{
    if (j->route == RCPT_ROUTE_SMARTHOST)
        return SH;
    for (unsigned i = 0; i < NG; i++) {
        char name[8];
        snprintf(name, sizeof(name), "SG%u", i + 1);
        if (strcmp(j->sg, name) == 0)
            return i;
    }
    fail_msg("seed %u step %u: a job for unknown group %s", md->seed, md->step, j->sg);
    return SH;
}

/* pt_outcome - random fates for job j, the model follows; the outcome */
static struct queue_outcome *pt_outcome(struct model *md, const struct queue_job *j)
{
    static const enum rcpt_state state[] = {
        [QUEUE_DELIVERED] = RCPT_DELIVERED,
        [QUEUE_DEFERRED] = RCPT_PENDING,
        [QUEUE_FAILED] = RCPT_FAILED,
    };
    enum queue_fate fates[RCPTS_MAX];
    unsigned gi = pt_group_of(md, j), ris[RCPTS_MAX];
    struct m_msg *m = &md->msg[j->msg_id];
    size_t nd = 0;

    assert_true(j->msg_id < MSGS_MAX && j->nrcpts <= RCPTS_MAX);
    for (size_t k = 0; k < j->nrcpts; k++) {
        struct m_rcpt *r = m_rcpt_of(md, m, j->rcpts[k].addr);
        PT_EQ(md, "picked recipient pending", r->st, RCPT_PENDING);
        PT_EQ(md, "picked recipient's group", r->g, gi);
        fates[k] = pt_fate(md);
        r->st = state[fates[k]];
        m->open -= fates[k] != QUEUE_DEFERRED;
        if (fates[k] == QUEUE_DELIVERED)
            ris[nd++] = r->ri;
    }
    if (gi < NB && nd > 0)
        m_keep(md, gi, j->msg_id, ris, nd);
    md->t->c[T_SMARTHOST] += gi == SH && nd > 0;
    md->t->c[T_UNBOUNDED] += gi == NB && nd > 0;
    return sf_outcome(j, fates, md->now);
}

/* pt_on_done - an outcome written */
static void pt_on_done(void *ctx, enum store_rc rc)
{
    *(int *)ctx += rc == STORE_OK ? 1 : 1000;
}

/* pt_deliver - pick what is due now and record an outcome for every job,
 * in the order the storage thread applies them (several per batch) */
static void pt_deliver(struct model *md)
{
    struct sf_picked p = sf_pick(md->f, md->now);
    int done = 0;

    for (size_t i = 0; i < p.n; i++)
        queue_done(md->f->q, pt_outcome(md, p.jobs[i]), pt_on_done, &done);
    sf_loop_until(md->f, &done, (int)p.n);
    PT_EQ(md, "outcomes written", done, (int)p.n);
    sf_free_picked(&p);
}

/* pt_size - 100..4000 octets; now and then more than a group's bound, or
 * exactly at it (or 1 over) */
static uint64_t pt_size(struct model *md)
{
    uint64_t r = rnd(md, 20);

    if (r == 0)
        return md->g[rnd(md, NB)].max_bytes + rnd(md, 2);
    return r < 3 ? 6000 + rnd(md, 7001) : 100 + rnd(md, 3901);
}

/* pt_rcpts - one to three groups (of four), one to three recipients each,
 * now and then the smarthost; the model's recipients of m */
static void pt_rcpts(struct model *md, struct m_msg *m)
{
    unsigned g0 = (unsigned)rnd(md, NG), ng = 1 + (unsigned)rnd(md, 3);

    m->nr = 0;
    for (unsigned gi = 0; gi < ng; gi++) {
        unsigned nr = 1 + (unsigned)rnd(md, 3);
        for (unsigned ri = 0; ri < nr; ri++)
            m->r[m->nr++] = (struct m_rcpt){(g0 + gi) % NG, ri, RCPT_PENDING};
    }
    if (rnd(md, 8) == 0)
        m->r[m->nr++] = (struct m_rcpt){SH, 0, RCPT_PENDING};
    m->open = (unsigned)m->nr;
}

/* pt_commit_one - a new message for random recipients (an address given
 * twice now and then: one recipient) */
static void pt_commit_one(struct model *md)
{
    struct m_msg m = {.used = true};
    char buf[RCPTS_MAX + 1][64], addr[64];
    const char *list[RCPTS_MAX + 1];
    size_t n = 0;

    m.size = pt_size(md);
    /* received: mostly just now (ties happen), sometimes long ago */
    m.received = rnd(md, 8) == 0 ? md->now - (int64_t)rnd(md, 2400) * 1000
                                 : md->now - 1000 * (int64_t)rnd(md, 3);
    pt_rcpts(md, &m);
    for (; n < m.nr; n++) {
        const struct m_rcpt *r = &m.r[n];
        m_addr(r, addr, sizeof(addr));
        if (r->g == SH)
            snprintf(buf[n], sizeof(buf[n]), "%s:", addr); /* ":" alone: the smarthost */
        else
            snprintf(buf[n], sizeof(buf[n]), "%s:SG%u", addr, r->g + 1);
        list[n] = buf[n];
    }
    if (rnd(md, 8) == 0) {
        list[n++] = buf[rnd(md, m.nr)];
        md->t->c[T_DUP]++;
    }
    uint64_t id = sf_commit(md->f, m.size, 1 + (uint32_t)rnd(md, 3), m.received, list, n);
    assert_true(id < MSGS_MAX);
    md->t->c[T_REUSED] += md->msg[id].used; /* after a restart: see the test at the end */
    md->msg[id] = m;
}

/* pt_insert - one to three messages, then delivery */
static void pt_insert(struct model *md)
{
    int k = 1 + (int)rnd(md, 3), want = md->f->commits + k;

    md->now += 1000 * (int64_t)rnd(md, 3);
    for (int i = 0; i < k; i++)
        pt_commit_one(md);
    sf_wait_commits(md->f, want);
    pt_deliver(md);
}

/* pt_on_flush - queue_flush answered */
static void pt_on_flush(void *ctx, uint64_t n)
{
    (void)n;
    (*(int *)ctx)++;
}

/* pt_retry - time passes, every deferred recipient is due, delivered again:
 * late recipients of items */
static void pt_retry(struct model *md)
{
    int flushed = 0;

    md->now += 1000 * (int64_t)(1 + rnd(md, 120));
    queue_flush(md->f->q, NULL, false, pt_on_flush, &flushed);
    sf_loop_until(md->f, &flushed, 1);
    pt_deliver(md);
}

/* pt_enforce - the expiry tick's work at the test's now */
static void pt_enforce(struct model *md)
{
    struct pt_work w = {.now_ms = md->now};
    char what[64];

    pt_call(md, pt_enforce_work, &w, false);
    for (size_t i = 0; i < NB; i++) {
        struct m_group *g = &md->g[i];
        m_enforce(md, g);
        snprintf(what, sizeof(what), "%s items of max_age after enforce", g->name);
        PT_EQ(md, what,
              sf_sql_int(md->f,
                         "SELECT count(*) FROM dumpster_item WHERE sg = %Q AND"
                         " received <= %lld",
                         g->name, (long long)(md->now - (int64_t)g->max_age_s * 1000)),
              0);
    }
}

/* pt_until - a release time: near now, or exactly at (or 1 ms after) a copy's */
static int64_t pt_until(struct model *md, const struct m_group *g)
{
    if (g->n > 0 && rnd(md, 2) == 0) {
        const struct m_item *it = &g->it[rnd(md, g->n)];
        for (size_t i = 0; i < g->n; i++) /* rather one with late copies */
            if (g->it[i].nc > 1 && rnd(md, 2) == 0)
                it = &g->it[i];
        return it->c[rnd(md, it->nc)].delivered + (int64_t)rnd(md, 2);
    }
    return md->now - (int64_t)rnd(md, 600) * 1000;
}

/* pt_release - the mailbox of one group is safe up to a time near now */
static void pt_release(struct model *md)
{
    struct pt_work w = {0};
    struct m_group *g = &md->g[rnd(md, NB)];
    uint64_t copies, items;

    snprintf(w.sg, sizeof(w.sg), "%s", g->name);
    w.until_ms = pt_until(md, g);
    pt_call(md, pt_release_work, &w, true);
    m_release(md, g, w.until_ms, &copies, &items);
    PT_EQ(md, "copies released", w.copies, copies);
    PT_EQ(md, "items released", w.items, items);
}

/* pt_advance - time passes; now and then exactly to the age bound of a
 * group's oldest item (an item received at now - max_age expires) */
static void pt_advance(struct model *md)
{
    const struct m_group *g = &md->g[rnd(md, NB)];
    int64_t edge = g->n ? g->it[0].received + (int64_t)g->max_age_s * 1000 : 0;

    if (rnd(md, 3) == 0 && edge >= md->now)
        md->now = edge - (int64_t)rnd(md, 2); /* at the bound, or 1 ms before it */
    else
        md->now += (int64_t)rnd(md, 600) * 1000;
}

/* pt_new_bound - a reload: one group's bounds change, the core gets them */
static void pt_new_bound(struct model *md)
{
    static const uint64_t ages[] = {300, 600, 900, 1800};
    struct m_group *g = &md->g[rnd(md, NB)];

    g->max_bytes = 3000 + rnd(md, 9001);
    if (rnd(md, 2) == 0)
        g->max_age_s = ages[rnd(md, 4)];
    pt_bounds(md);
    pt_enforce(md);
}

/* pt_restart - the hub stops and starts: the core's bounds come again first */
static void pt_restart(struct model *md)
{
    sf_reopen(md->f);
    memset(md->posted, 0, sizeof(md->posted));
    pt_bounds(md);
}

/* pt_expire - time passes, the expiry tick runs */
static void pt_expire(struct model *md)
{
    pt_advance(md);
    pt_enforce(md);
}

static const struct {
    const char *name;
    unsigned upto; /* of 100 */
    void (*fn)(struct model *md);
} pt_ops[NOPS] = {
    {"insert", 45, pt_insert},   {"retry", 57, pt_retry},         {"expire", 73, pt_expire},
    {"release", 89, pt_release}, {"new bound", 94, pt_new_bound}, {"restart", 100, pt_restart},
};

/* pt_step - one random operation */
static void pt_step(struct model *md)
{
    uint64_t r = rnd(md, 100);
    size_t op = 0;

    while (r >= pt_ops[op].upto)
        op++;
    md->t->ops[op]++;
    md->op = pt_ops[op].name;
    pt_ops[op].fn(md);
}

/* pt_seed_init - a fresh model and hub for one seed */
static void pt_seed_init(struct model *md, unsigned seed, struct m_tally *t)
{
    static const uint64_t max_bytes[NB] = {10000, 8000, 5000};
    static const uint64_t max_age_s[NB] = {600, 900, 1800};

    memset(md, 0, sizeof(*md));
    md->seed = seed;
    md->t = t;
    md->rng = 0x9E3779B97F4A7C15ull * seed;
    md->now = T0;
    md->op = "start";
    for (size_t i = 0; i < NB; i++) {
        snprintf(md->g[i].name, sizeof(md->g[i].name), "SG%zu", i + 1);
        md->g[i].max_bytes = max_bytes[i];
        md->g[i].max_age_s = max_age_s[i];
    }
    md->f = sf_setup(0, false);
    md->f->user = md;
    md->f->before_start = pt_before_start;
    sf_open(md->f);
    pt_bounds(md);
}

/* pt_seed_done - the hub goes */
static void pt_seed_done(struct model *md)
{
    sf_teardown(md->f);
    free(md->core.b);
    md->core.b = NULL;
}

/* pt_tally_print - what the seeds did */
static void pt_tally_print(const struct m_tally *t)
{
    print_message("%u seeds x %u steps:", SEEDS, STEPS);
    for (size_t i = 0; i < NOPS; i++)
        print_message(" %s %llu", pt_ops[i].name, (unsigned long long)t->ops[i]);
    for (size_t i = 0; i < T_N; i++)
        print_message("%s %s %llu", i ? "," : ";", t_names[i], (unsigned long long)t->c[i]);
    print_message("\n");
}

/* pt_tally_check - every case came up */
static void pt_tally_check(const struct m_tally *t)
{
    for (size_t i = 0; i < NOPS; i++)
        assert_true(t->ops[i] > 0);
    for (size_t i = 0; i < T_N; i++)
        if (i != T_REUSED && t->c[i] == 0)
            fail_msg("never came up: %s", t_names[i]);
}

/* test_dumpster_model - SEEDS x STEPS random steps, each one checked */
static void test_dumpster_model(void **state)
{
    static struct model md; /* large: off the stack */
    struct m_tally t = {0};

    (void)state;
    for (unsigned seed = 1; seed <= SEEDS; seed++) {
        pt_seed_init(&md, seed, &t);
        for (md.step = 0; md.step < STEPS; md.step++) {
            pt_step(&md);
            pt_check(&md);
        }
        pt_seed_done(&md);
    }
    pt_tally_print(&t);
    pt_tally_check(&t);
}

/* main - the tests */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dumpster_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
