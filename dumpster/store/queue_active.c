/*
 * queue_active.c - the set of active recipient ids (queue_active.h)
 *
 * Linear probing over a power-of-two table kept at most half full;
 * deletion shifts the following entries back (no tombstones), so a lookup
 * never walks more than the run it is in. Id 0 marks an empty slot (row
 * ids start at 1).
 */
#include <stdlib.h>
#include <string.h>

#include "queue_active.h"

struct queue_active_slot {
    uint64_t id, msg;
    bool deferred;
};

struct queue_active {
    struct queue_active_slot *slot;
    size_t cap, n; /* cap: a power of two */
};

#define QUEUE_ACTIVE_MIN 256

/* queue_active_hash - a 64-bit mix of the id */
static size_t queue_active_hash(uint64_t id, size_t cap)
{
    id ^= id >> 33;
    id *= 0xff51afd7ed558ccdULL;
    id ^= id >> 33;
    return (size_t)id & (cap - 1);
}

/* queue_active_new - an empty set */
struct queue_active *queue_active_new(void)
{
    struct queue_active *a = calloc(1, sizeof(*a));

    if (a == NULL || (a->slot = calloc(QUEUE_ACTIVE_MIN, sizeof(*a->slot))) == NULL) {
        free(a);
        return NULL;
    }
    a->cap = QUEUE_ACTIVE_MIN;
    return a;
}

/* queue_active_find - the slot of id, or the empty slot where it would go */
static size_t queue_active_find(const struct queue_active *a, uint64_t id)
{
    size_t i = queue_active_hash(id, a->cap);

    while (a->slot[i].id != 0 && a->slot[i].id != id)
        i = (i + 1) & (a->cap - 1);
    return i;
}

/* queue_active_grow - twice the table, entries placed again */
static int queue_active_grow(struct queue_active *a)
{
    struct queue_active_slot *old = a->slot;
    size_t oldcap = a->cap;

    if ((a->slot = calloc(oldcap * 2, sizeof(*a->slot))) == NULL) {
        a->slot = old;
        return -1;
    }
    a->cap = oldcap * 2;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].id != 0)
            a->slot[queue_active_find(a, old[i].id)] = old[i];
    free(old);
    return 0;
}

/* queue_active_add - mark an id */
int queue_active_add(struct queue_active *a, uint64_t id, uint64_t msg, bool deferred)
{
    if ((a->n + 1) * 2 > a->cap && queue_active_grow(a) < 0)
        return -1;
    size_t i = queue_active_find(a, id);
    if (a->slot[i].id == 0)
        a->n++;
    a->slot[i] = (struct queue_active_slot){id, msg, deferred};
    return 0;
}

/* queue_active_del - unmark, shifting the run back over the hole */
void queue_active_del(struct queue_active *a, uint64_t id)
{
    size_t i = queue_active_find(a, id), mask = a->cap - 1;

    if (a->slot[i].id == 0)
        return;
    a->slot[i].id = 0;
    a->n--;
    for (size_t j = (i + 1) & mask; a->slot[j].id != 0; j = (j + 1) & mask) {
        size_t home = queue_active_hash(a->slot[j].id, a->cap);
        /* move j into the hole at i unless its home lies in (i, j] */
        bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (stays)
            continue;
        a->slot[i] = a->slot[j];
        a->slot[j].id = 0;
        i = j;
    }
}

/* queue_active_has - is id marked */
bool queue_active_has(const struct queue_active *a, uint64_t id)
{
    return a->slot[queue_active_find(a, id)].id == id;
}

/* queue_active_get - id's entry, if it is marked */
bool queue_active_get(const struct queue_active *a, uint64_t id, uint64_t *msg, bool *deferred)
{
    const struct queue_active_slot *sl = &a->slot[queue_active_find(a, id)];

    if (sl->id != id)
        return false;
    *msg = sl->msg;
    *deferred = sl->deferred;
    return true;
}

/* queue_active_count - how many ids */
size_t queue_active_count(const struct queue_active *a)
{
    return a->n;
}

/* queue_active_cmp - order of message ids */
static int queue_active_cmp(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

    return a < b ? -1 : a > b;
}

/* queue_active_msgs - distinct messages (0 when out of memory) */
size_t queue_active_msgs(const struct queue_active *a)
{
    uint64_t *m = malloc((a->n ? a->n : 1) * sizeof(*m));
    size_t k = 0, distinct = 0;

    if (m == NULL)
        return 0;
    for (size_t i = 0; i < a->cap; i++)
        if (a->slot[i].id != 0)
            m[k++] = a->slot[i].msg;
    qsort(m, k, sizeof(*m), queue_active_cmp);
    for (size_t i = 0; i < k; i++)
        distinct += i == 0 || m[i] != m[i - 1];
    free(m);
    return distinct;
}

/* queue_active_free - release the set */
struct queue_active *queue_active_free(struct queue_active *a)
{
    if (a) {
        free(a->slot);
        free(a);
    }
    return NULL;
}
