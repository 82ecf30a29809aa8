/*
 * dumpster_stats.h - the statistics of one storage group's dumpster (a
 * type: the dumpster's functions are in dumpster.h)
 */
#ifndef DD_DUMPSTER_STATS_H
#define DD_DUMPSTER_STATS_H

#include <stdint.h>

#include "bounds.h"

/* Statistics of one storage group (SPEC section 6 and 8). */
struct dumpster_stats {
    char sg[DD_SG_NAME_MAX + 1];
    uint64_t items;
    uint64_t bytes;
    int64_t oldest_received_ms; /* 0 when empty */
    uint64_t max_bytes;
    uint64_t max_age_s;
    uint64_t evicted_size, evicted_age, evicted_replicated;
    uint64_t not_kept;           /* larger than max_bytes: delivered, not kept */
    int64_t replicated_until_ms; /* 0: never told */
};

#endif
