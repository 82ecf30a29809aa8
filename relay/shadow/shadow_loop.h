/*
 * shadow_loop.h - the loop side's state, shared by shadow.c (the ops, the
 * worker's events) and shadow_keep.c (shadow dumpster copies). Private to
 * relay/shadow.
 */
#ifndef DD_SHADOW_LOOP_H
#define DD_SHADOW_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "shadow.h"
#include "shadow_int.h"

#define SHADOW_KEEPS_MAX 256 /* shadow dumpster publishes in flight; more are dropped */

struct shadow_op {
    uint32_t gen;
    bool used;
    bool sent; /* handed to the worker since the link came up */
    shadow_done_fn fn;
    void *ctx;
    char queue_id[DD_QUEUEID_LEN + 1];
    char sg[DD_SG_NAME_MAX + 1]; /* a shadow dumpster copy: its SG; "" a queue copy */
    uint64_t seq, msg_id;
    bool again;        /* shadow_keep_again: fn answers, nothing is owed */
    bool forget_after; /* the queue copy's removal waits for this one */
    char *env;
    size_t envlen;
    void *data;
    size_t len;
    uint8_t *acked; /* by part, once the first ack says how many */
    uint32_t nparts, nacked;
    int64_t start_us, deadline_ms;
    int64_t again_ms;         /* > 0: send again at this time (a failure that passes) */
    char why[SHADOW_WHY_MAX]; /* the last such failure */
};

struct shadow {
    struct event_base *base;
    struct shadow_link link;
    struct event *wake_ev, *tick_ev;
    struct shadow_op *ops;
    uint32_t nops, used, keeps;
    uint32_t *free_slots;
    uint32_t nfree;
    bool up, stopping;
    int64_t down_since_ms; /* monotonic; the link is down since */
    char down_why[SHADOW_WHY_MAX];
    struct shadow_stats stats;
    void (*take_fn)(void *ctx, const struct shadow_take *t);
    void *take_ctx;
    void (*away_fn)(void *ctx, const char *const *ids, size_t n);
    void (*away_later_fn)(void *ctx, int64_t ms);
    void *away_ctx;
    void (*resend_copy)(void *ctx, uint64_t id, const struct shadow_take *t);
    void (*resend_done)(void *ctx, uint64_t id, bool ok, uint64_t count, const char *why);
    void *resend_ctx;
    uint64_t resend_ids;
    struct shadow_dstat *dstats; /* as the worker last read them */
    size_t ndstats;
    void (*owed_fn)(void *ctx, const struct shadow_owed_copy *c);
    void *owed_ctx;
    struct shadow_sg *sgs; /* the groups with a shadow dumpster, the loop's copy */
    size_t nsgs;
};

/* shadow_oom - p, or abort */
void *shadow_oom(void *p);

/* shadow_op_new - a free slot's op for a copy of content (nfree > 0) */
struct shadow_op *shadow_op_new(struct shadow *sh, const char *queue_id, const void *content,
                                size_t len, shadow_done_fn fn, void *ctx);

/* shadow_send - a job for op to the worker */
void shadow_send(struct shadow *sh, struct shadow_op *op);

/* shadow_down_long - the link is down past the grace */
bool shadow_down_long(const struct shadow *sh, int64_t now_ms);

#endif
