/*
 * shadow_gate.h - the commit of a message with its shadow copy: what the
 * SMTP sessions call instead of queue_commit() when [shadow] servers is set
 *
 * The message is committed held (queue.h), its copy published; only once
 * the cluster acked it is the message released to delivery and the
 * session told STORE_OK (250). When the copy fails: with shadow_failure =
 * accept the message is released all the same and the failure logged;
 * with defer it is withdrawn from the store and the session told
 * STORE_E_SHADOW (451 4.4.0), so the client sends it again and nothing is
 * delivered twice.
 */
#ifndef DD_SHADOW_GATE_H
#define DD_SHADOW_GATE_H

#include <stdint.h>

#include "queue.h"
#include "shadow.h"

struct shadow_gate; /* opaque; one owner (the hub) */

struct shadow_gate *shadow_gate_new(struct queue *q, struct shadow *sh, unsigned failure);

/* shadow_gate_commit - queue_commit with the shadow copy (see above). */
void shadow_gate_commit(void *gate, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                        uint64_t cookie);

/* shadow_gate_final - queue_on_final's callback: the copy of a message
 * whose recipients are all final goes. */
void shadow_gate_final(void *gate, const char *queue_id);

struct delivery_delivered;

/* shadow_gate_delivered - delivery_on_delivered's callback: the delivered
 * copy goes to its storage group's shadow dumpster (shadow_keep). */
void shadow_gate_delivered(void *gate, const struct delivery_delivered *what);

struct shadow_gate *shadow_gate_free(struct shadow_gate *g);

#endif
