/*
 * shadow_owed.h - shadow dumpster copies the cluster did not store, sent
 * again
 *
 * A delivered copy whose shadow dumpster publish failed (the cluster down,
 * too many copies in flight, no ack in publish_timeout, the hub stopping)
 * is written to the store (the shadow_owed table: its SG, message, seq and
 * Dd- headers; the content stays where the dumpster keeps it). Every
 * SHADOW_OWED_EVERY_MS while the link is up, up to SHADOW_OWED_ROUND of
 * them go again (shadow_keep_again: the same Nats-Msg-Id, so a copy stored
 * after all is not stored twice); a stored one leaves the table. A round
 * that stores none waits twice as long, up to SHADOW_OWED_MAX_MS. A row
 * whose message left the store (evicted from the dumpster) is dropped: its
 * content is gone. The rows survive a restart.
 */
#ifndef DD_SHADOW_OWED_H
#define DD_SHADOW_OWED_H

#include <stdint.h>

#include "queue.h"
#include "shadow.h"
#include "store.h"

#define SHADOW_OWED_EVERY_MS 2000
#define SHADOW_OWED_MAX_MS 60000
#define SHADOW_OWED_ROUND 32

struct event_base;
struct shadow_owed; /* opaque; one owner (the hub) */

/* shadow_owed_new - takes shadow_on_owed() of sh; NULL when out of memory */
struct shadow_owed *shadow_owed_new(struct event_base *base, struct store *st, struct queue *q,
                                    struct shadow *sh);

/* shadow_owed_stop - no more rounds (copies owed from now on are still
 * written: the store stops after). Before shadow_stop(). */
void shadow_owed_stop(struct shadow_owed *o);

/* shadow_owed_free - after the store closed. NULL. */
struct shadow_owed *shadow_owed_free(struct shadow_owed *o);

#endif
