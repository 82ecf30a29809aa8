/*
 * shadow_take.h - a silent hub's copy becomes this hub's message
 *
 * shadow_on_take()'s callback: the copy's envelope (shadow_env.h) and
 * content are committed here as a new message, through the shadow gate (so
 * it has its own shadow copy before the silent hub's goes), and delivered
 * through this hub's pools and retries. The answer goes back with
 * shadow_taken(): only a message committed here lets the silent hub's copy
 * go; a malformed copy is logged and left where it is.
 *
 * The other way round, a hub that comes back after it was taken over: at
 * the start delivery waits (shadow_taker_hold) until the cluster said
 * which of this hub's messages another hub took (shadow_on_away), and
 * those leave the queue (queue_drop), or SHADOW_AWAY_WAIT_MS passed.
 */
#ifndef DD_SHADOW_TAKE_H
#define DD_SHADOW_TAKE_H

#include <stdbool.h>
#include <stdint.h>

#include "probe_types.h"
#include "queue.h"
#include "shadow.h"
#include "shadow_gate.h"

struct shadow_taker; /* opaque; one owner (the hub) */

#define SHADOW_AWAY_WAIT_MS 10000 /* delivery waits at most this for the answer */
#define TAKE_DROP_AGAIN_MS 1000   /* a removal the store could not write goes again after */
#define RESEND_KEY_HEX 16         /* hex digits of a destination's key in the ledger */

struct event_base;

struct shadow_taker *shadow_taker_new(struct event_base *base, struct queue *q,
                                      struct shadow_gate *gate, struct shadow *sh);

/* shadow_taker_hold - ready(ctx) once the messages taken from this hub left
 * the queue, or after wait_ms without an answer (SHADOW_AWAY_WAIT_MS; a hub
 * taken over waits longer, shadow_taker_away_later). */
void shadow_taker_hold(struct shadow_taker *tk, int64_t wait_ms, void (*ready)(void *ctx),
                       void *ctx);

/* shadow_taker_away_later - shadow_on_away's later callback: the hold's
 * bound becomes ms + SHADOW_AWAY_WAIT_MS from now. */
void shadow_taker_away_later(void *taker, int64_t ms);

/* shadow_taker_away - shadow_on_away's callback (taker: the shadow_taker). */
void shadow_taker_away(void *taker, const char *const *ids, size_t n);

/* shadow_taker_take - shadow_on_take's callback (taker: the shadow_taker). */
void shadow_taker_take(void *taker, const struct shadow_take *t);

struct resubmit_req;

/* shadow_taker_resubmit - the share of req's unresponsive hubs, read from
 * their shadow dumpsters of req's storage group: each copy's recipients
 * whose delivered (or, with match received, received) time is in the
 * range and that pass req's filters are committed here as a new message,
 * routed to the group's destination (the admin API's callback).
 * The ledger in the cluster (shadow.h) keeps a recipient from being resent
 * to the same destination twice, unless req says force; req's probe
 * setting is followed. 0, or -1 with why when the cluster is not
 * reachable. */
int shadow_taker_resubmit(void *taker, const struct resubmit_req *req, char *why, size_t whylen);

/* shadow_on_resend's callbacks (taker: the shadow_taker). */
void shadow_taker_resend_copy(void *taker, uint64_t id, const struct shadow_take *t);
void shadow_taker_resend_done(void *taker, uint64_t id, bool ok, uint64_t count, const char *why);

/* shadow_taker_set_dest_fn - where a group's mail goes now (the key of a
 * resend's ledger when the request names no destination). */
void shadow_taker_set_dest_fn(struct shadow_taker *tk, const char *(*fn)(void *ctx, const char *sg),
                              void *ctx);

/* shadow_taker_set_probes - the mailbox probes a taken or resent copy's
 * recipients are asked first (shadow_ask.h): what a mailbox holds is not
 * sent again. */
void shadow_taker_set_probes(struct shadow_taker *tk, struct probe_ops ops);

struct shadow_taker *shadow_taker_free(struct shadow_taker *tk);

#endif
