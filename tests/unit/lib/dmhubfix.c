/*
 * dmhubfix.c - the test's dumpster core on the storage thread, and the
 * checks of the store against the model (dmhubfix.h)
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

#include "dmhubfix.h"

#define TXT_MAX 65536

/* ---- the test's dumpster core on the storage thread ---- */

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
int pt_enforce_work(struct store *s, void *arg)
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
int pt_release_work(struct store *s, void *arg)
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
void pt_call(struct model *md, store_work_fn work, struct pt_work *w, bool durable)
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
void pt_before_start(struct storefix *f)
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
void pt_bounds(struct model *md)
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
void pt_check(struct model *md)
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
