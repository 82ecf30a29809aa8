/*
 * shadow_take.h - a silent hub's copy becomes this hub's message
 *
 * shadow_on_take()'s callback: the copy's envelope (shadow_env.h) and
 * content are committed here as a new message, through the shadow gate (so
 * it has its own shadow copy before the silent hub's goes), and delivered
 * through this hub's pools and retries. The answer goes back with
 * shadow_taken(): only a message committed here lets the silent hub's copy
 * go; a malformed copy is logged and left where it is.
 */
#ifndef DD_SHADOW_TAKE_H
#define DD_SHADOW_TAKE_H

#include "queue.h"
#include "shadow.h"
#include "shadow_gate.h"

struct shadow_taker; /* opaque; one owner (the hub) */

struct shadow_taker *shadow_taker_new(struct queue *q, struct shadow_gate *gate, struct shadow *sh);

/* shadow_taker_take - shadow_on_take's callback (taker: the shadow_taker). */
void shadow_taker_take(void *taker, const struct shadow_take *t);

struct shadow_taker *shadow_taker_free(struct shadow_taker *tk);

#endif
