/*
 * resubmit.h - resubmission of a time range of a storage group's dumpster
 * (SPEC section 7)
 *
 * A request names a storage group and a range of delivery times (the
 * mailbox's clock, the default) or of receipt times. It is a row in the
 * store; a tick on the loop asks the storage thread for the next batch of
 * the oldest open request: the recipients' copies of the range after the
 * request's cursor. match=delivered queues each item again for exactly
 * those of its recipients whose delivery falls in the range; match=received
 * for all of the item's recipients; a recipient filter narrows the
 * envelope to that recipient. Every queued copy is written to the ledger
 * (item, recipient, destination) in the same transaction as the cursor, so
 * a restart resumes where it stopped and never resends a copy to the same
 * destination twice; force ignores the ledger. Each request's copies are
 * queue rows of its own, so requests never change what another queued.
 * resubmit_rate paces the batches. Progress counts recipient copies.
 *
 * The engine is its own object, owned by the hub; it hears of deliveries
 * through the queue's outcome callback. Every function here runs on the
 * loop thread; callbacks come later on the loop.
 */
#ifndef DD_RESUBMIT_H
#define DD_RESUBMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "conf.h"
#include "probe_types.h"
#include "resubmit_types.h"
#include "store.h"

struct event_base;
struct queue;
struct resubmit; /* opaque; one owner (the hub), resubmit_free() */

/* The destination text an SG's mail goes to now (for the ledger). */
typedef const char *(*resubmit_dest_fn)(void *ctx, const char *sg);

/* resubmit_new - watch q's outcomes for resent copies; start the requests
 * left open once started with resubmit_start(). Before store_start(). c
 * must outlive it or be replaced with resubmit_set_conf(). NULL with a
 * message in err. */
struct resubmit *resubmit_new(struct event_base *base, struct store *st, struct queue *q,
                              const struct conf *c, char *err, size_t errlen);

/* resubmit_set_conf - resubmit_rate and the like apply at the next batch. */
void resubmit_set_conf(struct resubmit *rs, const struct conf *c);

/* resubmit_set_dest_fn - where a group's mail goes now. */
void resubmit_set_dest_fn(struct resubmit *rs, resubmit_dest_fn fn, void *ctx);

/* resubmit_set_prober - before a copy of a group with a probe is resent,
 * the probe is asked; present copies are skipped (skipped_present), and a
 * probe that cannot say makes the batch wait and run again. */
void resubmit_set_prober(struct resubmit *rs, const struct probe_ops *ops);

/* resubmit_on_queued - fn(ctx) after a batch queued mail (delivery looks). */
void resubmit_on_queued(struct resubmit *rs, void (*fn)(void *ctx), void *ctx);

/* resubmit_start - resume open requests. */
void resubmit_start(struct resubmit *rs);

/* resubmit_create - store a request (or run a dry run when req->dry_run).
 * fn(ctx, info, preview, rc): info for a request (state pending), preview
 * for a dry run; rc != STORE_OK on a store error. The caller checked that
 * the storage group exists. */
typedef void (*resubmit_created_fn)(void *ctx, const struct resubmit_info *info,
                                    const struct resubmit_preview *preview, enum store_rc rc);
void resubmit_create(struct resubmit *rs, const struct resubmit_req *req, resubmit_created_fn fn,
                     void *ctx);

/* resubmit_get - one request; info NULL when there is no such id. */
void resubmit_get(struct resubmit *rs, uint64_t id,
                  void (*fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc),
                  void *ctx);

/* resubmit_list - requests, newest first; outstanding_only: pending and
 * running only. At most DD_RESUBMIT_LIST_MAX. */
void resubmit_list(struct resubmit *rs, bool outstanding_only,
                   void (*fn)(void *ctx, const struct resubmit_info *infos, size_t n,
                              enum store_rc rc),
                   void *ctx);

enum resubmit_cancel_rc { RESUBMIT_CANCELLED_OK, RESUBMIT_NOT_FOUND, RESUBMIT_ALREADY_DONE };

/* resubmit_cancel - stop a pending or running request (what it queued stays
 * queued). */
void resubmit_cancel(struct resubmit *rs, uint64_t id,
                     void (*fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc), void *ctx);

/* resubmit_counts - requests by state (indexed by enum resubmit_state),
 * from memory, for metrics. */
void resubmit_counts(const struct resubmit *rs, uint64_t counts[RESUBMIT_NSTATES]);

/* resubmit_state_name - "pending", "running", "done", "cancelled" */
const char *resubmit_state_name(enum resubmit_state s);

/* resubmit_stop - no more batches; resubmit_free after store_close. */
void resubmit_stop(struct resubmit *rs);
struct resubmit *resubmit_free(struct resubmit *rs);

#endif
