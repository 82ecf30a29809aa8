/*
 * dumpster.h - the transport dumpster: a bounded copy of delivered mail per
 * storage group, and resubmission of a time range of it
 *
 * Items live in the store (dumpster/); their counters (items, bytes,
 * oldest received, evictions by reason) change in the same transaction as
 * the items and are mirrored here on the loop, so statistics are answered
 * from memory at O(1) per storage group. Bounds: max_size (evict the oldest
 * until a new item fits; an item larger than max_size is not kept) and
 * max_age (a 1 s timer expires items), per group with the [dumpster]
 * defaults. Resubmission requests are stored, run in paced batches in the
 * background, survive restarts, and keep a ledger so an item is not resent
 * to the same destination twice unless forced.
 *
 * Every function here runs on the loop thread. Callbacks come later on the
 * loop (never from inside the call).
 */
#ifndef DD_DUMPSTER_H
#define DD_DUMPSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_req.h"
#include "bounds.h"
#include "conf.h"
#include "store.h"

struct event_base;
struct dumpster; /* opaque; one owner (the hub), dumpster_free() */

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

/* dumpster_new - load the counters, start the expiry timer and any
 * resubmission left unfinished. c must outlive it or be replaced with
 * dumpster_set_conf(). NULL with a message in err. */
struct dumpster *dumpster_new(struct event_base *base, struct store *st, const struct conf *c,
                              char *err, size_t errlen);

/* dumpster_ready - the counters were loaded from the store. */
bool dumpster_ready(const struct dumpster *d);

/* dumpster_set_conf - new bounds apply at once (the next expiry tick). */
void dumpster_set_conf(struct dumpster *d, const struct conf *c);

/* dumpster_stats - the statistics of storage group sg (every configured
 * group when sg is NULL) into out[0..cap). Returns how many there are (may
 * be more than cap); 0 for an unknown sg. From memory, never blocks. */
size_t dumpster_stats(const struct dumpster *d, const char *sg, struct dumpster_stats *out,
                      size_t cap);

/* dumpster_replicated - the mailbox of sg is safe up to until_ms: items
 * delivered before it are released (evicted reason=replicated).
 * fn(ctx, released, rc) follows. */
void dumpster_replicated(struct dumpster *d, const char *sg, int64_t until_ms,
                         void (*fn)(void *ctx, uint64_t released, enum store_rc rc), void *ctx);

/* ---- resubmission (SPEC section 7) ---- */

enum resubmit_state {
    RESUBMIT_PENDING = 0,
    RESUBMIT_RUNNING,
    RESUBMIT_DONE,
    RESUBMIT_CANCELLED,
};

/* Whether the dumpster still holds the whole range. */
struct resubmit_coverage {
    bool complete;
    int64_t oldest_available_ms; /* oldest item of the group now, 0 if empty */
    uint64_t evicted_in_range;   /* items of the range already evicted or not kept */
};

/* A request with its progress. */
struct resubmit_info {
    uint64_t id;
    struct resubmit_req req; /* what was asked (dest_text "" when no override) */
    enum resubmit_state state;
    int64_t created_ms, updated_ms;
    uint64_t matched, queued, delivered, failed, skipped_duplicate;
    struct resubmit_coverage coverage;
};

/* A dry run: what would be resent. */
#define RESUBMIT_PREVIEW_IDS 20
struct resubmit_preview {
    uint64_t matched, bytes, skipped_duplicate;
    size_t nids;
    char queue_ids[RESUBMIT_PREVIEW_IDS][DD_QUEUEID_LEN + 1]; /* the first ones */
    struct resubmit_coverage coverage;
};

/* resubmit_create - store a request (or run a dry run when req->dry_run).
 * fn(ctx, info, preview, rc): info for a request (state pending), preview
 * for a dry run; rc != STORE_OK on a store error. The caller checked that
 * the storage group exists. */
void resubmit_create(struct dumpster *d, const struct resubmit_req *req,
                     void (*fn)(void *ctx, const struct resubmit_info *info,
                                const struct resubmit_preview *preview, enum store_rc rc),
                     void *ctx);

/* resubmit_get - one request; info NULL when there is no such id. */
void resubmit_get(struct dumpster *d, uint64_t id,
                  void (*fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc),
                  void *ctx);

/* resubmit_list - requests, newest first; outstanding_only: pending and
 * running only. At most DD_RESUBMIT_LIST_MAX. */
void resubmit_list(struct dumpster *d, bool outstanding_only,
                   void (*fn)(void *ctx, const struct resubmit_info *infos, size_t n,
                              enum store_rc rc),
                   void *ctx);

enum resubmit_cancel_rc { RESUBMIT_CANCELLED_OK, RESUBMIT_NOT_FOUND, RESUBMIT_ALREADY_DONE };

/* resubmit_cancel - stop a pending or running request (what it queued stays
 * queued). */
void resubmit_cancel(struct dumpster *d, uint64_t id,
                     void (*fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc), void *ctx);

/* resubmit_counts - requests by state (indexed by enum resubmit_state),
 * from memory, for metrics. */
void resubmit_counts(const struct dumpster *d, uint64_t counts[4]);

/* resubmit_state_name - "pending", "running", "done", "cancelled" */
const char *resubmit_state_name(enum resubmit_state s);

/* The destination text an SG's mail goes to now (for the ledger). */
typedef const char *(*dumpster_dest_fn)(void *ctx, const char *sg);
void dumpster_set_dest_fn(struct dumpster *d, dumpster_dest_fn fn, void *ctx);

/* dumpster_set_queued_fn - fn(ctx) after a resubmission batch queued mail */
void dumpster_set_queued_fn(struct dumpster *d, void (*fn)(void *ctx), void *ctx);

/* dumpster_stop - no more timers; dumpster_free after store_close. */
void dumpster_stop(struct dumpster *d);
struct dumpster *dumpster_free(struct dumpster *d);

#endif
