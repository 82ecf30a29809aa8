/*
 * dumpster_gone.h - the dumpster_gone table: copies that left the dumpster
 * (or never entered it), without their content, for coverage reports
 * (storage thread)
 */
#ifndef DD_DUMPSTER_GONE_H
#define DD_DUMPSTER_GONE_H

#include <stdbool.h>
#include <stdint.h>

#include "store_int.h"

/* Why a copy left the dumpster (or was never kept). */
enum dumpster_reason {
    DUMPSTER_SIZE = 0,   /* evicted to make room */
    DUMPSTER_AGE,        /* older than max_age */
    DUMPSTER_REPLICATED, /* early release: the mailbox has it */
    DUMPSTER_TOO_LARGE,  /* larger than max_size: never kept */
};

/* dumpster_reason_name - "size", "age", "replicated", "too_large" */
const char *dumpster_reason_name(enum dumpster_reason r);

/* dumpster_gone_add - one copy of message msg gone. */
int dumpster_gone_add(struct store *s, const char *sg, uint64_t msg, int64_t received_ms,
                      int64_t delivered_ms, enum dumpster_reason reason);

/* dumpster_gone_count - items with a copy gone whose received (by_received)
 * or delivery time is in [start_ms, end_ms]. */
int dumpster_gone_count(struct store *s, const char *sg, bool by_received, int64_t start_ms,
                        int64_t end_ms, uint64_t *n);

/* dumpster_gone_prune - forget copies gone before before_ms, a little at a
 * time. */
int dumpster_gone_prune(struct store *s, int64_t before_ms);

#endif
