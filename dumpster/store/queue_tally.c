/*
 * queue_tally.c - the queue's counts by state (queue_tally.h)
 *
 * An open-addressing hash of the messages with a pending row, kept at most
 * half full, deletion by shifting the run back (as queue_active.c). A
 * message's share of the three totals is computed before and after each
 * change, so a change costs O(1) whatever the queue holds. The totals are
 * atomics: the loop reads them while the storage thread moves them.
 * Notes commute: a message's counts may pass below zero between notes of
 * one batch (a pick applied before the insert it read); its share then is
 * nothing, and the sum of the notes is exact.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "log.h"
#include "queue_tally.h"

struct queue_tally_slot {
    uint64_t msg; /* 0: empty (message ids start at 1) */
    struct queue_tally_delta n;
};

struct queue_tally {
    struct queue_tally_slot *slot;
    size_t cap, used; /* cap: a power of two */
    _Atomic uint64_t pending, deferred, active;
};

struct queue_tally_later {
    struct queue_tally *t;
    uint64_t msg;
    struct queue_tally_delta d;
};

#define QUEUE_TALLY_MIN 1024

/* queue_tally_hash - a 64-bit mix of the message id */
static size_t queue_tally_hash(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

/* queue_tally_oom - p, or abort: counts that lose a change are wrong forever */
static void *queue_tally_oom(void *p)
{
    if (p == NULL) {
        log_err("queue", "out of memory for the queue counts");
        abort();
    }
    return p;
}

/* queue_tally_new - empty counts */
struct queue_tally *queue_tally_new(void)
{
    struct queue_tally *t = calloc(1, sizeof(*t));

    if (t == NULL || (t->slot = calloc(QUEUE_TALLY_MIN, sizeof(*t->slot))) == NULL) {
        free(t);
        return NULL;
    }
    t->cap = QUEUE_TALLY_MIN;
    return t;
}

/* queue_tally_find - the slot of msg, or the empty slot where it would go */
static size_t queue_tally_find(const struct queue_tally *t, uint64_t msg)
{
    size_t i = queue_tally_hash(msg, t->cap);

    while (t->slot[i].msg != 0 && t->slot[i].msg != msg)
        i = (i + 1) & (t->cap - 1);
    return i;
}

/* queue_tally_grow - twice the table, entries placed again */
static void queue_tally_grow(struct queue_tally *t)
{
    struct queue_tally_slot *old = t->slot;
    size_t oldcap = t->cap;

    t->slot = queue_tally_oom(calloc(oldcap * 2, sizeof(*t->slot)));
    t->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].msg != 0)
            t->slot[queue_tally_find(t, old[i].msg)] = old[i];
    free(old);
}

/* queue_tally_remove - the slot at i is empty now: shift its run back */
static void queue_tally_remove(struct queue_tally *t, size_t i)
{
    size_t mask = t->cap - 1;

    t->slot[i].msg = 0;
    t->used--;
    for (size_t j = (i + 1) & mask; t->slot[j].msg != 0; j = (j + 1) & mask) {
        size_t home = queue_tally_hash(t->slot[j].msg, t->cap);
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        t->slot[i] = t->slot[j];
        t->slot[j].msg = 0;
        i = j;
    }
}

/* queue_tally_share - what one message adds to the totals */
static void queue_tally_share(const struct queue_tally_delta *n, int out[3])
{
    out[0] = n->pending - n->active > 0;
    out[1] = n->deferred - n->active_deferred > 0;
    out[2] = n->active > 0;
}

/* queue_tally_move - one total by the change of a message's share */
static void queue_tally_move(_Atomic uint64_t *total, int before, int after)
{
    if (after > before)
        atomic_fetch_add(total, 1);
    else if (after < before)
        atomic_fetch_sub(total, 1);
}

/* queue_tally_add - apply a change now */
void queue_tally_add(struct queue_tally *t, uint64_t msg, struct queue_tally_delta d)
{
    int before[3], after[3];
    size_t i;

    if ((t->used + 1) * 2 > t->cap)
        queue_tally_grow(t);
    i = queue_tally_find(t, msg);
    if (t->slot[i].msg == 0) {
        t->slot[i] = (struct queue_tally_slot){.msg = msg};
        t->used++;
    }
    struct queue_tally_delta *n = &t->slot[i].n;
    queue_tally_share(n, before);
    n->pending += d.pending;
    n->deferred += d.deferred;
    n->active += d.active;
    n->active_deferred += d.active_deferred;
    queue_tally_share(n, after);
    queue_tally_move(&t->pending, before[0], after[0]);
    queue_tally_move(&t->deferred, before[1], after[1]);
    queue_tally_move(&t->active, before[2], after[2]);
    if (n->pending == 0 && n->deferred == 0 && n->active == 0 && n->active_deferred == 0)
        queue_tally_remove(t, i);
}

/* queue_tally_apply - a note's batch committed (or was dropped) */
static void queue_tally_apply(void *arg, bool committed)
{
    struct queue_tally_later *l = arg;

    if (committed)
        queue_tally_add(l->t, l->msg, l->d);
    free(l);
}

/* queue_tally_note - a change, once the batch commits */
void queue_tally_note(struct store *s, struct queue_tally *t, uint64_t msg,
                      struct queue_tally_delta d)
{
    struct queue_tally_later *l;

    if (d.pending == 0 && d.deferred == 0 && d.active == 0 && d.active_deferred == 0)
        return;
    l = queue_tally_oom(malloc(sizeof(*l)));
    *l = (struct queue_tally_later){t, msg, d};
    store_after(s, queue_tally_apply, l);
}

/* queue_tally_get - the totals */
void queue_tally_get(const struct queue_tally *t, struct queue_counts *c)
{
    c->pending_msgs = atomic_load(&t->pending);
    c->deferred_msgs = atomic_load(&t->deferred);
    c->active_msgs = atomic_load(&t->active);
}

/* queue_tally_clear - nothing counted */
void queue_tally_clear(struct queue_tally *t)
{
    for (size_t i = 0; i < t->cap; i++)
        t->slot[i].msg = 0;
    t->used = 0;
    atomic_store(&t->pending, 0);
    atomic_store(&t->deferred, 0);
    atomic_store(&t->active, 0);
}

/* queue_tally_free - release the counts */
struct queue_tally *queue_tally_free(struct queue_tally *t)
{
    if (t) {
        free(t->slot);
        free(t);
    }
    return NULL;
}
