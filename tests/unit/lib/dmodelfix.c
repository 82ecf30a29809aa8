/*
 * dmodelfix.c - the model of the dumpster's storage half (dmodelfix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dmodelfix.h"

/* m_addr - the address of recipient r of a message */
const char *m_addr(const struct m_rcpt *r, char *buf, size_t cap)
{
    if (r->g == SH)
        snprintf(buf, cap, "b%u@sh.test", r->ri);
    else
        snprintf(buf, cap, "u%u@g%u.test", r->ri, r->g + 1);
    return buf;
}

/* m_rcpt_of - the model recipient of msg with address addr */
struct m_rcpt *m_rcpt_of(struct model *md, struct m_msg *m, const char *addr)
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
unsigned m_holds(const struct model *md, uint64_t msg)
{
    unsigned n = 0;

    for (size_t i = 0; i < NB; i++)
        n += m_find(&md->g[i], msg) >= 0;
    return n;
}

/* m_live - envelope and content are in the store */
bool m_live(const struct model *md, uint64_t msg)
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
void m_keep(struct model *md, unsigned gi, uint64_t msg, const unsigned *ris, size_t n)
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
void m_enforce(struct model *md, struct m_group *g)
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
void m_release(struct model *md, struct m_group *g, int64_t until, uint64_t *copies,
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
