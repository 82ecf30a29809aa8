/*
 * dumpster.h - the transport dumpster: a bounded copy of delivered mail per
 * storage group
 *
 * The dumpster watches the queue's outcomes (a callback the queue calls in
 * the transaction that records them): a delivered recipient's copy enters
 * its storage group's dumpster, one item per message with one row per
 * recipient and its own delivery time. Counters (items, bytes, oldest
 * received, evictions by reason) change in the same transaction as the
 * items and are mirrored here on the loop, so statistics are answered from
 * memory at O(1) per storage group. Bounds: max_size (evict the oldest
 * until a new item fits; an item larger than max_size is not kept) and
 * max_age (a 1 s timer expires items), per group with the [dumpster]
 * defaults. Early release lets the copies go that the mailbox holds safely.
 *
 * Every function here runs on the loop thread. Callbacks come later on the
 * loop (never from inside the call).
 */
#ifndef DD_DUMPSTER_H
#define DD_DUMPSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "conf.h"
#include "dumpster_stats.h"
#include "store.h"

struct event_base;
struct queue;
struct dumpster; /* opaque; one owner (the hub), dumpster_free() */

/* dumpster_new - watch q's outcomes, load the counters, start the expiry
 * timer. Before store_start(). c must outlive it or be replaced with
 * dumpster_set_conf(). NULL with a message in err. */
struct dumpster *dumpster_new(struct event_base *base, struct store *st, struct queue *q,
                              const struct conf *c, char *err, size_t errlen);

/* dumpster_ready - the counters were loaded from the store. */
bool dumpster_ready(const struct dumpster *d);

/* dumpster_set_conf - new groups and bounds apply at once. */
void dumpster_set_conf(struct dumpster *d, const struct conf *c);

/* dumpster_stats - the statistics of storage group sg (every configured
 * group when sg is NULL) into out[0..cap). Returns how many there are (may
 * be more than cap); 0 for an unknown sg. From memory, never blocks. */
size_t dumpster_stats(const struct dumpster *d, const char *sg, struct dumpster_stats *out,
                      size_t cap);

/* dumpster_replicated - the mailbox of sg is safe up to until_ms: every
 * recipient's copy delivered before it is released, and each item left
 * without copies (evicted reason=replicated). fn(ctx, copies, items, rc). */
typedef void (*dumpster_released_fn)(void *ctx, uint64_t copies, uint64_t items, enum store_rc rc);
void dumpster_replicated(struct dumpster *d, const char *sg, int64_t until_ms,
                         dumpster_released_fn fn, void *ctx);

/* dumpster_stop - no more timers; dumpster_free after store_close. */
void dumpster_stop(struct dumpster *d);
struct dumpster *dumpster_free(struct dumpster *d);

#endif
