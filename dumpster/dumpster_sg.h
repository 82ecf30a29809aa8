/*
 * dumpster_sg.h - the dumpster_sg table: one counter row per storage group
 * (storage thread)
 *
 * Items, bytes and the oldest item's received time change in the same
 * transaction as the items, so statistics never scan items and stay exact
 * after a crash.
 */
#ifndef DD_DUMPSTER_SG_H
#define DD_DUMPSTER_SG_H

#include <stdint.h>

#include "dumpster_stats.h"
#include "dumpster_gone.h"
#include "store_int.h"

/* dumpster_sg_read - the counters of sg (zeros when it has no row). */
int dumpster_sg_read(struct store *s, const char *sg, struct dumpster_stats *out);

/* dumpster_sg_ensure - sg has a row. */
int dumpster_sg_ensure(struct store *s, const char *sg);

/* dumpster_sg_add - items += ditems, bytes += dbytes, oldest = oldest_ms. */
int dumpster_sg_add(struct store *s, const char *sg, int64_t ditems, int64_t dbytes,
                    int64_t oldest_ms);

/* dumpster_sg_enter - an item of bytes received at received_ms came in:
 * sg's row made or counted (oldest kept the earliest), *out its counters
 * after. One statement: the path every delivered message takes. */
int dumpster_sg_enter(struct store *s, const char *sg, uint64_t bytes, int64_t received_ms,
                      struct dumpster_stats *out);
/* dumpster_sg_count_gone - one more item gone (or not kept) for reason. */
int dumpster_sg_count_gone(struct store *s, const char *sg, enum dumpster_reason reason);

/* dumpster_sg_replicated - the mailbox of sg is safe up to until_ms. */
int dumpster_sg_replicated(struct store *s, const char *sg, int64_t until_ms);

#endif
