/*
 * dmodelfix.h - the model of the dumpster's storage half for
 * test_dumpster_model-*: messages with their recipients, and per storage
 * group the items in eviction order with their copies, the copies gone
 * by reason and the counters, driven by the test's clock
 *
 * The model does what the store must do (keep, evict by size and age,
 * release early, refuse what is too large) and tallies which cases came
 * up; PT_EQ and PT_STR fail the test naming the seed, step and operation.
 * dmhubfix.h holds the hub side and the checks of the store against it.
 */
#ifndef DD_DMODELFIX_H
#define DD_DMODELFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
static inline uint64_t rnd(struct model *md, uint64_t n)
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
const char *m_addr(const struct m_rcpt *r, char *buf, size_t cap);

/* m_rcpt_of - the model recipient of msg with address addr */
struct m_rcpt *m_rcpt_of(struct model *md, struct m_msg *m, const char *addr);

/* m_holds - the items that hold msg */
unsigned m_holds(const struct model *md, uint64_t msg);

/* m_live - envelope and content are in the store */
bool m_live(const struct model *md, uint64_t msg);

/* m_keep - the copies ris[0..n) of msg delivered to group gi at now */
void m_keep(struct model *md, unsigned gi, uint64_t msg, const unsigned *ris, size_t n);

/* m_enforce - expire by age, then shrink to the bound, oldest first */
void m_enforce(struct model *md, struct m_group *g);

/* m_release - every copy delivered before until; items left without copies go */
void m_release(struct model *md, struct m_group *g, int64_t until, uint64_t *copies,
               uint64_t *items);

#endif
