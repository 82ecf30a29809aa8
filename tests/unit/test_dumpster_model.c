/*
 * test_dumpster_model.c - the dumpster's storage half against a model
 *
 * Random operations from fixed seeds, checked after every step. Messages with several recipients in
 * several storage groups reach the store through the intake and leave the queue through queue_pick
 * and queue_done, with deliveries, deferrals, failures and late recipients; the test's own struct
 * dumpster_core watches the outcomes (dumpster_store_keep) and is driven with the test's clock:
 * enforce by age and size, bounds that change, early release per recipient copy, restarts. After
 * every step a small model, the counter rows (dumpster_sg), the counters posted to the loop and SQL
 * over the database file (items, copies with their delivery times, gone copies, holds, content,
 * recipients) must agree. SG1..SG3 have bounds; SG4 has none (not kept); some recipients go to the
 * smarthost (never kept).
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

#include "dumpster_sg.h"
#include "dumpster_store.h"
#include "queue_int.h"
#include "storefix.h"

#define NG 4         /* storage groups a recipient may have: SG1..SG4 */
#define NB 3         /* of them with bounds (the core's): SG1..SG3 */
#define SH NG        /* a smarthost recipient's group index */
#define RCPTS_MAX 12 /* model recipients of one message */
#define MSGS_MAX 1024
#define ITEMS_MAX 256
#define SEEDS 20
#define STEPS 200
#define T0 1764064900000LL /* the test's clock starts here */
#define TXT_MAX 65536
#define NOPS 6

/* ---- the model ---- */

struct m_rcpt {
    unsigned g, ri; /* group index (SH: smarthost), number in the group */
    enum rcpt_state st;
};

struct m_msg {
    bool used, had_item[NB];
    uint64_t size;
    int64_t received;
    struct m_rcpt r[RCPTS_MAX]; /* in commit order, as the recipient rows */
    size_t nr;
    unsigned open; /* recipients pending */
};

struct m_copy {
    unsigned ri;
    int64_t delivered;
};

struct m_item {
    uint64_t msg, size;
    int64_t received;
    struct m_copy c[RCPTS_MAX]; /* by ri: by address */
    size_t nc;
};

/* Sums over the copies gone for one reason (dumpster_gone rows). */
struct m_gone {
    int64_t n, msg, received, delivered;
};

struct m_group {
    char name[8];
    uint64_t max_bytes, max_age_s;
    struct m_item it[ITEMS_MAX]; /* by (received, msg): it[0] is the oldest */
    size_t n;
    uint64_t bytes;
    uint64_t left[4]; /* items by enum dumpster_reason: evicted_*, not_kept */
    struct m_gone gone[4];
    bool gone_msg[MSGS_MAX]; /* a gone row names the message */
    int64_t repl_until;
};

/* What the operations did, over every seed: each case must come up (but
 * reused). T_SIZE + enum dumpster_reason: items evicted (size, age,
 * replicated) or not kept; held: content kept for an open recipient after
 * its last item left; rekept: an item again after one left (a late copy). */
enum { T_KEPT, T_REKEPT, T_LATE, T_RELEASED, T_PARTIAL, T_SIZE, T_AGE, T_REPL, T_TOO_LARGE };
enum { T_HELD = T_TOO_LARGE + 1, T_SMARTHOST, T_UNBOUNDED, T_DUP, T_REUSED, T_N };
static const char *const t_names[T_N] = {
    "kept",      "rekept",    "late copies", "copies released", "released in part",
    "size",      "age",       "replicated",  "not kept",        "held",
    "smarthost", "unbounded", "duplicates",  "reused ids"};
struct m_tally {
    uint64_t ops[NOPS], c[T_N];
};

struct model {
    struct m_group g[NB];
    struct m_msg msg[MSGS_MAX]; /* by message id */
    int64_t now;
    uint64_t rng;
    unsigned seed, step;
    const char *op;
    struct m_tally *t;
    /* the hub side */
    struct storefix *f;
    struct dumpster_core core;
    struct dumpster_stats posted[NB]; /* what the core posted to the loop */
    unsigned resyncs;
};

/* rnd - xorshift64*: the same sequence for the same seed everywhere */
static uint64_t rnd(struct model *md, uint64_t n)
{
    md->rng ^= md->rng >> 12;
    md->rng ^= md->rng << 25;
    md->rng ^= md->rng >> 27;
    return (md->rng * 2685821657736338717ull >> 11) % n;
}

#define PT_EQ(md, what, got, want)                                                                 \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_)                                                                              \
            fail_msg("seed %u step %u (%s): %s is %lld, the model says %lld", (md)->seed,          \
                     (md)->step, (md)->op, what, g_, w_);                                          \
    } while (0)

#define PT_STR(md, what, got, want)                                                                \
    do {                                                                                           \
        if (strcmp((got), (want)) != 0)                                                            \
            fail_msg("seed %u step %u (%s): %s is\n  [%s]\nthe model says\n  [%s]", (md)->seed,    \
                     (md)->step, (md)->op, what, (got), (want));                                   \
    } while (0)

/* m_addr - the address of recipient r of a message */
static const char *m_addr(const struct m_rcpt *r, char *buf, size_t cap)
{
    if (r->g == SH)
        snprintf(buf, cap, "b%u@sh.test", r->ri);
    else
        snprintf(buf, cap, "u%u@g%u.test", r->ri, r->g + 1);
    return buf;
}

/* m_rcpt_of - the model recipient of msg with address addr */
static struct m_rcpt *m_rcpt_of(struct model *md, struct m_msg *m, const char *addr)
{
    char buf[64];

    for (size_t i = 0; i < m->nr; i++)
        if (strcmp(m_addr(&m->r[i], buf, sizeof(buf)), addr) == 0)
            return &m->r[i];
    fail_msg("seed %u step %u: a job for unknown recipient %s", md->seed, md->step, addr);
    return NULL;
}

/* m_find - index of msg's item in group g, or -1 */
static int m_find(const struct m_group *g, uint64_t msg)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->it[i].msg == msg)
            return (int)i;
    return -1;
}

/* m_holds - the items that hold msg */
static unsigned m_holds(const struct model *md, uint64_t msg)
{
    unsigned n = 0;

    for (size_t i = 0; i < NB; i++)
        n += m_find(&md->g[i], msg) >= 0;
    return n;
}

/* m_live - envelope and content are in the store */
static bool m_live(const struct model *md, uint64_t msg)
{
    return md->msg[msg].used && (md->msg[msg].open > 0 || m_holds(md, msg) > 0);
}

/* m_gone_copy - one dumpster_gone row */
static void m_gone_copy(struct m_group *g, uint64_t msg, int64_t received, int64_t delivered,
                        enum dumpster_reason why)
{
    g->gone[why].n++;
    g->gone[why].msg += (int64_t)msg;
    g->gone[why].received += received;
    g->gone[why].delivered += delivered;
    g->gone_msg[msg] = true;
}

/* m_drop - item i leaves group g for reason why (its copies are gone already) */
static void m_drop(struct model *md, struct m_group *g, size_t i, enum dumpster_reason why)
{
    uint64_t msg = g->it[i].msg;

    g->bytes -= g->it[i].size;
    memmove(&g->it[i], &g->it[i + 1], (g->n - i - 1) * sizeof(g->it[0]));
    g->n--;
    g->left[why]++;
    md->t->c[T_SIZE + why]++;
    md->t->c[T_HELD] += m_holds(md, msg) == 0 && md->msg[msg].open > 0;
}

/* m_evict - item i and every copy it holds leave */
static void m_evict(struct model *md, struct m_group *g, size_t i, enum dumpster_reason why)
{
    const struct m_item *it = &g->it[i];

    for (size_t k = 0; k < it->nc; k++)
        m_gone_copy(g, it->msg, it->received, it->c[k].delivered, why);
    m_drop(md, g, i, why);
}

/* m_copy_add - ri's copy delivered at now (a recipient is delivered once) */
static void m_copy_add(struct m_item *it, unsigned ri, int64_t now)
{
    size_t at = 0;

    while (at < it->nc && it->c[at].ri < ri)
        at++;
    assert_true(at == it->nc || it->c[at].ri != ri);
    memmove(&it->c[at + 1], &it->c[at], (it->nc - at) * sizeof(it->c[0]));
    it->c[at] = (struct m_copy){ri, now};
    it->nc++;
}

/* m_insert - a new item of g in (received, msg) order; its index */
static struct m_item *m_insert(struct m_group *g, uint64_t msg, const struct m_msg *m)
{
    size_t at = 0;

    assert_true(g->n < ITEMS_MAX);
    while (at < g->n && (g->it[at].received < m->received ||
                         (g->it[at].received == m->received && g->it[at].msg < msg)))
        at++;
    memmove(&g->it[at + 1], &g->it[at], (g->n - at) * sizeof(g->it[0]));
    g->it[at] = (struct m_item){.msg = msg, .size = m->size, .received = m->received};
    g->n++;
    g->bytes += m->size;
    return &g->it[at];
}

/* m_keep - the copies ris[0..n) of msg delivered to group gi at now */
static void m_keep(struct model *md, unsigned gi, uint64_t msg, const unsigned *ris, size_t n)
{
    struct m_group *g = &md->g[gi];
    struct m_msg *m = &md->msg[msg];
    int at = m_find(g, msg);
    struct m_item *it;

    if (at >= 0) { /* a late recipient: a row more, counted once */
        for (size_t k = 0; k < n; k++)
            m_copy_add(&g->it[at], ris[k], md->now);
        md->t->c[T_LATE]++;
        return;
    }
    if (m->size > g->max_bytes) {
        g->left[DUMPSTER_TOO_LARGE]++;
        md->t->c[T_TOO_LARGE]++;
        for (size_t k = 0; k < n; k++)
            m_gone_copy(g, msg, m->received, md->now, DUMPSTER_TOO_LARGE);
        return;
    }
    while (g->n > 0 && g->bytes + m->size > g->max_bytes)
        m_evict(md, g, 0, DUMPSTER_SIZE);
    it = m_insert(g, msg, m);
    for (size_t k = 0; k < n; k++)
        m_copy_add(it, ris[k], md->now);
    md->t->c[T_KEPT]++;
    md->t->c[T_REKEPT] += m->had_item[gi];
    m->had_item[gi] = true;
}

/* m_enforce - expire by age, then shrink to the bound, oldest first */
static void m_enforce(struct model *md, struct m_group *g)
{
    int64_t cutoff = md->now - (int64_t)g->max_age_s * 1000;

    while (g->n > 0 && (g->it[0].received <= cutoff || g->bytes > g->max_bytes))
        m_evict(md, g, 0, g->it[0].received <= cutoff ? DUMPSTER_AGE : DUMPSTER_SIZE);
}

/* m_release_item - item i's copies delivered before until; whether it stays */
static bool m_release_item(struct model *md, struct m_group *g, size_t i, int64_t until,
                           uint64_t *copies)
{
    struct m_item *it = &g->it[i];
    size_t keep = 0;

    for (size_t k = 0; k < it->nc; k++) {
        if (it->c[k].delivered < until) {
            m_gone_copy(g, it->msg, it->received, it->c[k].delivered, DUMPSTER_REPLICATED);
            (*copies)++;
        } else {
            it->c[keep++] = it->c[k];
        }
    }
    md->t->c[T_PARTIAL] += keep > 0 && keep < it->nc;
    it->nc = keep;
    if (keep > 0)
        return true;
    m_drop(md, g, i, DUMPSTER_REPLICATED);
    return false;
}

/* m_release - every copy delivered before until; items left without copies go */
static void m_release(struct model *md, struct m_group *g, int64_t until, uint64_t *copies,
                      uint64_t *items)
{
    *copies = *items = 0;
    for (size_t i = 0; i < g->n;) {
        if (m_release_item(md, g, i, until, copies))
            i++;
        else
            (*items)++;
    }
    if (until > g->repl_until)
        g->repl_until = until;
    md->t->c[T_RELEASED] += *copies;
}

/* ---- the test's dumpster core on the storage thread ---- */

struct pt_work {
    struct model *md;
    struct dumpster_bound *b; /* new bounds for the core, or NULL */
    char sg[DD_SG_NAME_MAX + 1];
    int64_t now_ms, until_ms;
    uint64_t copies, items;
    struct dumpster_stats rows[NB];
    int done;
    enum store_rc rc;
};

/* pt_load_work - new bounds (if any), then every group's counter row */
static int pt_load_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;
    int rc = SQLITE_OK;

    if (w->b)
        dumpster_store_bounds(&w->md->core, w->b, NB);
    w->b = NULL;
    for (size_t i = 0; i < NB && rc == SQLITE_OK; i++) { /* in place, as the hub reads */
        snprintf(w->rows[i].sg, sizeof(w->rows[i].sg), "%s", w->md->g[i].name);
        rc = dumpster_sg_read(s, w->rows[i].sg, &w->rows[i]);
    }
    return rc;
}

/* pt_enforce_work - every group within the core's bounds at the test's now */
static int pt_enforce_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;
    struct dumpster_core *c = &w->md->core;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < NB && rc == SQLITE_OK; i++) {
        const struct dumpster_bound *b = dumpster_store_bound(c, w->md->g[i].name);
        rc = b ? dumpster_store_enforce(c, s, b, w->now_ms) : SQLITE_MISUSE;
    }
    return rc;
}

/* pt_release_work - early release of one group */
static int pt_release_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;

    return dumpster_store_release(&w->md->core, s, w->sg, w->until_ms, &w->copies, &w->items);
}

/* pt_reply - the work's result */
static void pt_reply(void *arg, enum store_rc rc)
{
    struct pt_work *w = arg;

    free(w->b); /* bounds the work never took */
    w->b = NULL;
    w->rc = rc;
    w->done++;
}

/* pt_call - run work on the storage thread and wait for it */
static void pt_call(struct model *md, store_work_fn work, struct pt_work *w, bool durable)
{
    w->md = md;
    w->done = 0;
    store_call(md->f->st, work, pt_reply, w, durable);
    sf_loop_until(md->f, &w->done, 1);
    PT_EQ(md, "work result", w->rc, STORE_OK);
}

/* pt_on_post - counters the core posts to the loop; NULL: posts dropped */
static void pt_on_post(void *ctx, void *data)
{
    struct model *md = ctx;
    const struct dumpster_stats *p = data;

    if (p == NULL) {
        md->resyncs++;
        return;
    }
    for (size_t i = 0; i < NB; i++)
        if (strcmp(md->posted[i].sg, p->sg) == 0)
            md->posted[i] = *p;
}

/* pt_before_start - the core watches the queue; its bounds are gone (a restart) */
static void pt_before_start(struct storefix *f)
{
    struct model *md = f->user;

    free(md->core.b);
    md->core.b = NULL;
    md->core.nb = 0;
    md->core.post = pt_on_post;
    md->core.post_ctx = md;
    queue_observe(f->q, dumpster_store_keep, &md->core);
    store_on_resync(f->st, pt_on_post, md);
}

/* pt_bounds - the model's bounds to the core, the counters to the loop's copy
 * (what the hub does at start and after a reload) */
static void pt_bounds(struct model *md)
{
    struct pt_work w = {0};

    w.b = calloc(NB, sizeof(*w.b));
    assert_non_null(w.b);
    for (size_t i = 0; i < NB; i++) { /* reversed: the core sorts them */
        const struct m_group *g = &md->g[NB - 1 - i];
        snprintf(w.b[i].sg, sizeof(w.b[i].sg), "%s", g->name);
        w.b[i].max_bytes = g->max_bytes;
        w.b[i].max_age_s = g->max_age_s;
    }
    pt_call(md, pt_load_work, &w, false);
    memcpy(md->posted, w.rows, sizeof(w.rows));
}

/* ---- checks: the store against the model ---- */

struct sb {
    char s[TXT_MAX];
    size_t n;
};

/* sb_add - append an entry to a text of entries separated by blanks */
static void sb_add(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(struct sb *b, const char *fmt, ...)
{
    va_list ap;

    if (b->n > 0 && b->n + 1 < sizeof(b->s))
        b->s[b->n++] = ' ';
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->n, sizeof(b->s) - b->n, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(b->s) - b->n);
    b->n += (size_t)n;
}

/* pt_check_stats - a copy of the counters (row or posted) against the model */
static void pt_check_stats(struct model *md, const char *what, const struct dumpster_stats *s,
                           const struct m_group *g)
{
    static const char *const names[] = {"items",        "bytes",           "oldest",
                                        "evicted_size", "evicted_age",     "evicted_replicated",
                                        "not_kept",     "replicated_until"};
    const long long v[][2] = {
        {(long long)s->items, (long long)g->n},
        {(long long)s->bytes, (long long)g->bytes},
        {s->oldest_received_ms, g->n ? g->it[0].received : 0},
        {(long long)s->evicted_size, (long long)g->left[DUMPSTER_SIZE]},
        {(long long)s->evicted_age, (long long)g->left[DUMPSTER_AGE]},
        {(long long)s->evicted_replicated, (long long)g->left[DUMPSTER_REPLICATED]},
        {(long long)s->not_kept, (long long)g->left[DUMPSTER_TOO_LARGE]},
        {s->replicated_until_ms, g->repl_until},
    };
    char name[96];

    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        snprintf(name, sizeof(name), "%s %s (%s)", g->name, names[i], what);
        PT_EQ(md, name, v[i][0], v[i][1]);
    }
}

/* The expected texts of the dumpster tables, every group in one. */
struct pt_want {
    struct sb count, items, copies, gone, distinct, env, body, rcpt;
};

/* pt_want_group - group g's items, copies, gone copies */
static void pt_want_group(struct pt_want *w, const struct m_group *g, unsigned gi)
{
    static const enum dumpster_reason by_name[] = {DUMPSTER_AGE, DUMPSTER_REPLICATED, DUMPSTER_SIZE,
                                                   DUMPSTER_TOO_LARGE};
    long long distinct = 0;

    if (g->n > 0)
        sb_add(&w->count, "%s:%zu:%llu:%lld", g->name, g->n, (unsigned long long)g->bytes,
               (long long)g->it[0].received);
    for (size_t i = 0; i < g->n; i++) {
        const struct m_item *it = &g->it[i];
        sb_add(&w->items, "%s:%llu:%llu:%lld", g->name, (unsigned long long)it->msg,
               (unsigned long long)it->size, (long long)it->received);
        for (size_t k = 0; k < it->nc; k++)
            sb_add(&w->copies, "%s:%llu:u%u@g%u.test:%lld", g->name, (unsigned long long)it->msg,
                   it->c[k].ri, gi + 1, (long long)it->c[k].delivered);
    }
    for (size_t r = 0; r < 4; r++) {
        const struct m_gone *m = &g->gone[by_name[r]];
        if (m->n > 0)
            sb_add(&w->gone, "%s:%s:%lld:%lld:%lld:%lld", g->name, dumpster_reason_name(by_name[r]),
                   (long long)m->n, (long long)m->msg, (long long)m->received,
                   (long long)m->delivered);
    }
    for (size_t i = 0; i < MSGS_MAX; i++)
        distinct += g->gone_msg[i];
    if (distinct > 0)
        sb_add(&w->distinct, "%s:%lld", g->name, distinct);
}

/* pt_want_msgs - the model's messages: envelopes with holds, content, recipients */
static void pt_want_msgs(struct model *md, struct pt_want *w)
{
    char addr[64];

    for (uint64_t id = 0; id < MSGS_MAX; id++) {
        const struct m_msg *m = &md->msg[id];
        if (!m_live(md, id))
            continue;
        sb_add(&w->env, "%llu:%u", (unsigned long long)id, m_holds(md, id));
        sb_add(&w->body, "%llu:%llu", (unsigned long long)id, (unsigned long long)m->size);
        for (size_t i = 0; i < m->nr; i++)
            sb_add(&w->rcpt, "%llu:%s:%d", (unsigned long long)id,
                   m_addr(&m->r[i], addr, sizeof(addr)), (int)m->r[i].st);
    }
}

/* What SQL over the file says, to compare with struct pt_want in order. */
static const struct {
    const char *what, *sql;
} pt_sql[] = {
    {"item recount (sg:items:bytes:oldest)",
     "SELECT group_concat(sg || ':' || n || ':' || b || ':' || o, ' ') FROM (SELECT sg, count(*)"
     " AS n, sum(size) AS b, min(received) AS o FROM dumpster_item GROUP BY sg ORDER BY sg)"},
    {"items in eviction order (sg:msg:size:received)",
     "SELECT group_concat(sg || ':' || msg || ':' || size || ':' || received, ' ')"
     " FROM (SELECT * FROM dumpster_item ORDER BY sg, received, msg)"},
    {"copies (sg:msg:rcpt:delivered)",
     "SELECT group_concat(sg || ':' || msg || ':' || rcpt || ':' || delivered, ' ')"
     " FROM (SELECT r.* FROM dumpster_rcpt r LEFT JOIN dumpster_item i ON i.sg = r.sg"
     " AND i.msg = r.msg ORDER BY r.sg, i.received, r.msg, r.rcpt)"},
    {"gone copies (sg:reason:rows:sum msg:sum received:sum delivered)",
     "SELECT group_concat(sg || ':' || reason || ':' || n || ':' || m || ':' || r || ':' || d, ' ')"
     " FROM (SELECT sg, reason, count(*) AS n, sum(msg) AS m, sum(received) AS r,"
     " sum(delivered) AS d FROM dumpster_gone GROUP BY sg, reason ORDER BY sg, reason)"},
    {"coverage (sg:distinct msgs gone)",
     "SELECT group_concat(sg || ':' || n, ' ') FROM (SELECT sg, count(DISTINCT msg) AS n"
     " FROM dumpster_gone GROUP BY sg ORDER BY sg)"},
    {"messages (id:holds)",
     "SELECT group_concat(id || ':' || holds, ' ') FROM (SELECT * FROM message ORDER BY id)"},
    {"content (msg:octets)",
     "SELECT group_concat(msg || ':' || n, ' ') FROM (SELECT msg, sum(length(data)) AS n"
     " FROM message_body GROUP BY msg ORDER BY msg)"},
    {"recipients (msg:rcpt:state)", "SELECT group_concat(msg || ':' || rcpt || ':' || state, ' ')"
                                    " FROM (SELECT * FROM recipient ORDER BY msg, id)"},
};

/* pt_check_sql - the database file against the model, table by table */
static void pt_check_sql(struct model *md)
{
    static struct pt_want w;
    static char got[TXT_MAX];
    const struct sb *want[] = {&w.count,    &w.items, &w.copies, &w.gone,
                               &w.distinct, &w.env,   &w.body,   &w.rcpt};

    memset(&w, 0, sizeof(w));
    for (unsigned i = 0; i < NB; i++)
        pt_want_group(&w, &md->g[i], i);
    pt_want_msgs(md, &w);
    for (size_t i = 0; i < sizeof(pt_sql) / sizeof(pt_sql[0]); i++) {
        sf_sql_text(md->f, got, sizeof(got), pt_sql[i].sql);
        PT_STR(md, pt_sql[i].what, got, want[i]->s);
    }
}

/* pt_check - after every step: counter rows, posted counters, the bound, SQL */
static void pt_check(struct model *md)
{
    struct pt_work w = {0};

    pt_call(md, pt_load_work, &w, false);
    for (unsigned i = 0; i < NB; i++) {
        pt_check_stats(md, "counter row", &w.rows[i], &md->g[i]);
        pt_check_stats(md, "posted", &md->posted[i], &md->g[i]);
        PT_EQ(md, "bytes <= max_bytes", w.rows[i].bytes <= md->g[i].max_bytes, 1);
    }
    PT_EQ(md, "counter rows of other groups",
          sf_sql_int(md->f, "SELECT count(*) FROM dumpster_sg WHERE sg NOT IN ('SG1', 'SG2',"
                            " 'SG3')"),
          0);
    PT_EQ(md, "posts dropped (resyncs)", md->resyncs, 0);
    pt_check_sql(md);
}

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
