/*
 * shadow.h - shadow copies on a NATS JetStream cluster
 *
 * Every message the hub commits is published to the cluster's queue stream
 * (one subject per message: dd.q.HUB.QUEUEID, Nats-Msg-Id HUB.QUEUEID.PART,
 * so a publish sent again is stored once) and its 250 waits for the
 * cluster's ack, which comes only once a quorum of the stream's replicas
 * stored it. When the message's last recipient is final its shadow copy
 * goes (shadow_forget). libnats runs its own threads; the connection, the
 * streams and every call that may block live on the shadow's worker
 * thread, and their completions reach the loop through a pipe: no call
 * here blocks, and callbacks come later on the loop.
 *
 * The link is up once connected with the streams checked. While it is down
 * a publish waits for it at most SHADOW_GRACE_MS (a reconnect to another
 * node of the cluster), then fails at once: the caller decides what a
 * failure means (shadow_failure = accept or defer).
 */
#ifndef DD_SHADOW_H
#define DD_SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "queue_msg.h"

struct event_base;
struct shadow; /* opaque; one owner (the hub), shadow_free() */

#define SHADOW_GRACE_MS 3000 /* a link down longer: publishes fail at once */

/* shadow_new - read the credentials (before the privileges drop) and set
 * up; nothing connects yet. NULL with a message in err. */
struct shadow *shadow_new(struct event_base *base, const struct conf *c, char *err, size_t errlen);

/* shadow_set_conf - a reload: the groups with a dumpster and their bounds
 * go to the worker, which creates the shadow dumpster streams of new ones
 * and brings the limits of the others in line (logged either way). The
 * servers and credentials keep their values until a restart. */
void shadow_set_conf(struct shadow *sh, const struct conf *c);

/* shadow_start - the worker thread starts connecting (in the background:
 * an unreachable cluster is logged and tried again, never fatal). */
int shadow_start(struct shadow *sh, char *err, size_t errlen);

/* shadow_done_fn - stored: the cluster acked every part; else why not. */
typedef void (*shadow_done_fn)(void *ctx, bool stored, const char *why);

/* shadow_publish - the shadow copy of committed message m (its envelope;
 * m stays the caller's) with content[0..len) (copied). fn follows once
 * every part is acked, or on the first failure, a timeout
 * ([shadow] publish_timeout) or a stop. */
void shadow_publish(struct shadow *sh, const struct queue_msg *m, const void *content, size_t len,
                    shadow_done_fn fn, void *ctx);

/* What a delivery handed to a storage group's shadow dumpster. */
struct shadow_kept {
    const char *queue_id, *sg, *sender; /* sender: "" for <> */
    int64_t received_ms, delivered_ms;  /* unix ms */
    uint64_t size;
    uint64_t seq;    /* tells deliveries of one message to one SG apart (a row id) */
    uint64_t msg_id; /* the message in the store (what keeps its content) */
    int body, smtputf8;
    const char *const *addrs; /* the recipients delivered */
    size_t naddrs;
};

/* shadow_keep - recipients of a message were delivered: its copy goes to
 * the storage group's shadow dumpster, the stream DD_D_<len(SG)>_<SG>_<HUB>
 * (subject dd.d.SG.HUB.QUEUEID, Nats-Msg-Id HUB.QUEUEID.SG.SEQ.PART, the
 * delivered time per recipient in Dd-Delivered headers), whose limits are
 * the group's dumpster bounds. content[0..len) is copied. Best effort: a
 * failure is counted and logged; the removal of the message's queue copy
 * (shadow_forget) waits until the cluster answered. */
void shadow_keep(struct shadow *sh, const struct shadow_kept *k, const void *content, size_t len);

/* A shadow dumpster copy the cluster did not store, as it would have gone:
 * valid during the call. */
struct shadow_owed_copy {
    const char *queue_id, *sg;
    uint64_t seq, msg_id;
    const char *env; /* its Dd- headers, as published */
    size_t envlen;
};

/* shadow_on_owed - fn(ctx, c) for each shadow dumpster copy that failed
 * (the link down, too many in flight, no ack, the hub stopping), so the
 * copy can go again later with shadow_keep_again. One function. */
void shadow_on_owed(struct shadow *sh, void (*fn)(void *ctx, const struct shadow_owed_copy *c),
                    void *ctx);

/* shadow_keep_again - an owed copy goes again: the same subject and
 * Nats-Msg-Id, so a copy the cluster stored after all is not stored twice.
 * false: not now (the link is not up, too many copies in flight, the hub
 * is stopping), fn is not called; else fn(ctx, stored, why) follows, and a
 * failure is not owed again by shadow_on_owed's function. */
bool shadow_keep_again(struct shadow *sh, const struct shadow_owed_copy *c, const void *content,
                       size_t len, shadow_done_fn fn, void *ctx);

/* shadow_note_owed - how many owed copies wait (for the statistics); ok
 * false: unknown, the count stays */
void shadow_note_owed(struct shadow *sh, uint64_t n, bool ok);

/* shadow_forget - the shadow copy of queue_id is not needed any more (its
 * recipients are final, or it was withdrawn). Best effort, bounded: a
 * copy left over is skipped by a takeover's probe. */
void shadow_forget(struct shadow *sh, const char *queue_id);

/* A silent hub's copy, taken over (shadow_watch.c): valid during the call. */
struct shadow_take {
    const char *hub;      /* the silent hub */
    const char *queue_id; /* its queue id there */
    const char *env;      /* its Dd- headers, "key\0value\0..." (Dd-Rcpt repeated) */
    size_t envlen;
    const void *content;
    size_t len;
    /* a resend's copy: its ledger entry, the recipients an earlier request
     * resent to this destination ("addr\n" each; NULL: none), and whether
     * the ledger could be read at all */
    const char *ledger;
    size_t ledgerlen;
    bool ledger_ok;
    /* a taken copy: the recipients the silent hub delivered, as its groups'
     * shadow dumpsters say ("SG addr\n" each, shadow_list.h) */
    const char *delivered;
    size_t deliveredlen;
};

/* shadow_on_take - fn(ctx, t) for each copy this hub takes over; fn
 * answers with shadow_taken() once it committed the message as its own
 * (or could not). One function. */
void shadow_on_take(struct shadow *sh, void (*fn)(void *ctx, const struct shadow_take *t),
                    void *ctx);

/* shadow_taken - the answer to a take: ok, the silent hub's copy is marked
 * taken and goes; else it is offered again in a later round. */
void shadow_taken(struct shadow *sh, const char *hub, const char *queue_id, bool ok);

/* shadow_on_away - later(ctx, ms) first when another hub took this one
 * over while it was away (the answer waits ms for its takes to settle);
 * fn(ctx, ids, n) once after the start, when the cluster
 * answered: the queue ids of this hub's messages that another hub took
 * over while this one was silent (ids valid during the call). */
void shadow_on_away(struct shadow *sh, void (*fn)(void *ctx, const char *const *ids, size_t n),
                    void (*later)(void *ctx, int64_t ms), void *ctx);

/* shadow_resend - read hub's shadow dumpster of storage group sg: each
 * copy stored from start_ms to stop_ms goes to shadow_on_resend's copy
 * callback with id and its ledger entry under key (the destination's: a
 * subject token), answer each with shadow_resent; then the done callback.
 * Returns the resend's id (never 0). */
uint64_t shadow_resend(struct shadow *sh, const char *sg, const char *hub, const char *key,
                       int64_t start_ms, int64_t stop_ms);

/* shadow_ledger_note - the ledger entry of hub's copy queue_id of sg for
 * the destination key is now rcpts ("addr\n" each, len octets): the
 * recipients resent there. Stored on the cluster by the worker; a failure
 * is logged (a later request may then resend them again). */
void shadow_ledger_note(struct shadow *sh, const char *sg, const char *hub, const char *queue_id,
                        const char *key, const char *rcpts, size_t len);

/* shadow_on_resend - one copy of a resend (t valid during the call), and
 * its end: ok false with why when the stream could not be read; count the
 * copies handed over. */
void shadow_on_resend(
    struct shadow *sh, void (*copy)(void *ctx, uint64_t id, const struct shadow_take *t),
    void (*done)(void *ctx, uint64_t id, bool ok, uint64_t count, const char *why), void *ctx);

/* shadow_resent - the answer to one copy of resend id: more may come. */
void shadow_resent(struct shadow *sh, uint64_t id);

/* One hub's shadow dumpster of one storage group, as the cluster last said. */
struct shadow_dstat {
    char hub[DD_SG_NAME_MAX + 1];
    char sg[DD_SG_NAME_MAX + 1];
    uint64_t items, bytes;
    int64_t oldest_ms; /* 0: empty */
};
#define SHADOW_DSTATS_MAX 1024 /* streams read; more are left out */
#define SHADOW_DSTATS_EVERY_MS 30000

struct shadow_stats {
    bool up;                 /* connected, streams checked */
    bool down_long;          /* down for more than SHADOW_GRACE_MS (not a reconnect) */
    uint64_t published;      /* messages whose copy was acked */
    uint64_t failed;         /* messages whose copy failed (or timed out) */
    uint64_t forgotten;      /* copies removed */
    uint64_t forget_failed;  /* removals that failed or were dropped */
    uint64_t in_flight;      /* publishes waiting for their ack */
    uint64_t latency_us_sum; /* publish to ack, of the acked ones */
    uint64_t latency_us_max;
    uint64_t kept;        /* copies stored in a shadow dumpster */
    uint64_t keep_failed; /* copies that could not be (or were dropped) */
    uint64_t kept_again;  /* of the kept, stored by shadow_keep_again */
    uint64_t owed;        /* copies waiting to go again (shadow_note_owed) */
    uint64_t hubs_live;   /* the other hubs whose beat is recent */
    uint64_t hubs_silent; /* silent for more than takeover_after */
    uint64_t takeovers;   /* silent hubs this hub took over */
    uint64_t taken;       /* their copies committed here */
    /* every hub's shadow dumpsters (DD_D_* streams), read every
     * SHADOW_DSTATS_EVERY_MS; valid until control returns to the loop */
    const struct shadow_dstat *dstats;
    size_t ndstats;
};

/* shadow_get_stats - the counters (loop thread). */
void shadow_get_stats(const struct shadow *sh, struct shadow_stats *st);

/* shadow_stop - no more publishes; those waiting fail now. */
void shadow_stop(struct shadow *sh);

/* shadow_free - after shadow_stop; joins the worker. NULL. */
struct shadow *shadow_free(struct shadow *sh);

#endif
