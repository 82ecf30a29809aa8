/*
 * shadow_ask.h - before a taken or resent copy goes: does the mailbox hold
 * it already? (private to relay/shadow)
 *
 * Each recipient whose storage group has a mailbox probe is asked by its
 * Message-ID; those the mailbox holds (PROBE_PRESENT) leave the message,
 * so a takeover or a resubmission for a dead hub sends only what is
 * missing. A copy without a Message-ID, or groups without a probe, go as
 * they are.
 */
#ifndef DD_SHADOW_ASK_H
#define DD_SHADOW_ASK_H

#include <stdbool.h>
#include <stddef.h>

#include "probe_types.h"
#include "queue_msg.h"

/* fn(ctx, m, present, ok): m's recipients now only those to send; present
 * how many the mailbox held; ok false when a probe could not answer (send
 * nothing blindly: m is as it came, try again later). */
typedef void (*shadow_ask_fn)(void *ctx, struct queue_msg *m, size_t present, bool ok);

/* shadow_ask - ask ops (NULL: no probes) for m's recipients; fn may come
 * at once when nothing is to be asked. */
void shadow_ask(const struct probe_ops *ops, struct queue_msg *m, shadow_ask_fn fn, void *ctx);

#endif
