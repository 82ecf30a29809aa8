/*
 * shadow_take_int.h - what the takeover of a silent hub's copies
 * (shadow_take.c) and the resubmission of an unresponsive hub's share
 * (shadow_take_resend.c) share: the taker and how a copy becomes a message
 * of this hub. Private to relay/shadow.
 */
#ifndef DD_SHADOW_TAKE_INT_H
#define DD_SHADOW_TAKE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow_loop.h"
#include "shadow_take.h"

struct resend;
struct drop_op;

struct shadow_taker {
    struct event_base *base;
    struct queue *q;
    struct shadow_gate *gate;
    struct shadow *sh;
    struct event *wait_ev; /* the bound of the hold */
    int64_t wait_ms;
    void (*ready)(void *ctx); /* NULL once called */
    void *ready_ctx;
    size_t drops;             /* taken messages not yet out of the queue */
    bool answered;            /* the away list came */
    struct drop_op *dropping; /* the removals not answered or tried again */
    struct resend *resends;
    struct probe_ops ops; /* the mailbox probes */
    bool has_ops;
    const char *(*dest_fn)(void *ctx, const char *sg); /* a group's destination now */
    void *dest_ctx;
};

/* shadow_take_fill - m (its envelope parsed) becomes a new message of this
 * hub with t's content as its one chunk; proto its Received: protocol */
void shadow_take_fill(struct shadow_taker *tk, struct queue_msg *m, const struct shadow_take *t,
                      const char *proto);

/* shadow_take_resends_free - the resubmissions under way go (at the end) */
void shadow_take_resends_free(struct shadow_taker *tk);

#endif
