/*
 * dumpster_store.h - the dumpster's storage-thread half: keeping copies,
 * evicting, expiring and releasing, over the dumpster_* tables
 *
 * struct dumpster_core is what the storage thread knows of the dumpster:
 * the bounds of the configured groups (replaced by a work function when the
 * configuration changes, so they are read and written on the storage
 * thread only) and where counters are posted on the loop.
 */
#ifndef DD_DUMPSTER_STORE_H
#define DD_DUMPSTER_STORE_H

#include <stdint.h>

#include "dumpster_stats.h"
#include "dumpster_gone.h"
#include "queue.h"
#include "store_int.h"

/* Bounds of one group. */
struct dumpster_bound {
    char sg[DD_SG_NAME_MAX + 1];
    uint64_t max_bytes;
    uint64_t max_age_s;
};

struct dumpster_core {
    struct dumpster_bound *b; /* sorted by name; storage thread */
    size_t nb;
    store_post_fn post; /* counters of a group to the loop (a struct dumpster_stats) */
    void *post_ctx;
};

/* dumpster_store_bounds - b (malloc'd; the core takes it and sorts it)
 * becomes the core's bounds. */
void dumpster_store_bounds(struct dumpster_core *c, struct dumpster_bound *b, size_t n);

/* dumpster_store_bound - the bounds of sg, or NULL when it is not configured. */
const struct dumpster_bound *dumpster_store_bound(const struct dumpster_core *c, const char *sg);

/* dumpster_store_keep - the queue's observer: delivered copies of o enter
 * their group's dumpster (ctx: the core). */
int dumpster_store_keep(void *ctx, struct store *s, const struct queue_outcome *o);

/* dumpster_store_enforce - a group within its bounds at now_ms. */
int dumpster_store_enforce(struct dumpster_core *c, struct store *s, const struct dumpster_bound *b,
                           int64_t now_ms);

/* dumpster_store_release - early release of sg's copies delivered before until_ms. */
int dumpster_store_release(struct dumpster_core *c, struct store *s, const char *sg,
                           int64_t until_ms, uint64_t *copies, uint64_t *items);

/* dumpster_store_post - the group's counters to the loop. */
int dumpster_store_post(struct dumpster_core *c, struct store *s, const char *sg);

#endif
