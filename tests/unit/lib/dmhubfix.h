/*
 * dmhubfix.h - the hub side of test_dumpster_model-*: the test's own
 * struct dumpster_core on the storage thread of a storefix, driven with
 * the test's clock, and the checks of the store against the model
 * (dmodelfix.h)
 *
 * The core watches the queue's outcomes (dumpster_store_keep) and posts
 * its counters to the loop; after every step the counter rows
 * (dumpster_sg), the posted counters and SQL over the database file
 * (items, copies with their delivery times, gone copies, holds, content,
 * recipients) must agree with the model.
 */
#ifndef DD_DMHUBFIX_H
#define DD_DMHUBFIX_H

#include <stdbool.h>
#include <stdint.h>

#include "dmodelfix.h"

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

/* pt_enforce_work - every group within the core's bounds at the test's now */
int pt_enforce_work(struct store *s, void *arg);

/* pt_release_work - early release of one group */
int pt_release_work(struct store *s, void *arg);

/* pt_call - run work on the storage thread and wait for it */
void pt_call(struct model *md, store_work_fn work, struct pt_work *w, bool durable);

/* pt_before_start - the core watches the queue; its bounds are gone (a
 * restart): the storefix's before_start, with the model as its user */
void pt_before_start(struct storefix *f);

/* pt_bounds - the model's bounds to the core, the counters to the loop's copy
 * (what the hub does at start and after a reload) */
void pt_bounds(struct model *md);

/* pt_check - after every step: counter rows, posted counters, the bound, SQL */
void pt_check(struct model *md);

#endif
