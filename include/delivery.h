/*
 * delivery.h - relaying queued mail to the destinations of storage groups
 *
 * The scheduler asks the queue for due jobs (queue.h), groups them by
 * destination, and hands each to a pool of at most
 * concurrency_per_destination connections (mta_client.h) that carry many
 * messages each. Outcomes go back to the queue: delivered, deferred with a
 * doubling backoff (next address first), or failed and bounced to the
 * sender as an RFC 3464 report. The destination of a storage group is read
 * when a job is dispatched, so a change applies to every message not yet
 * delivered.
 */
#ifndef DD_DELIVERY_H
#define DD_DELIVERY_H

#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "store.h"
#include "tls_policy.h"

struct event_base;
struct queue;
struct tls;
struct delivery; /* opaque; one owner (the hub), delivery_free() */

/* delivery_new - c and dir stay owned by the caller and must outlive the
 * delivery or be replaced with delivery_set_conf / delivery_set_directory.
 * NULL with a message in err. */
struct delivery *delivery_new(struct event_base *base, const struct conf *c,
                              const struct directory *dir, struct store *st, struct queue *q,
                              char *err, size_t errlen);

/* delivery_kick - new mail was committed: look for due work soon. */
void delivery_kick(struct delivery *d);

/* delivery_set_conf - destinations may have changed: deferred mail of a
 * changed storage group is made due now. */
void delivery_set_conf(struct delivery *d, const struct conf *c);
void delivery_set_directory(struct delivery *d, const struct directory *dir);

/* delivery_route_set - move storage group sg to dest_text (canonical text
 * of a parsed destination): stored, so it outlives restarts until the
 * configuration file changes that group's destination; mail not yet
 * delivered is made due at once. fn(ctx, rc) follows; fn may be NULL. */
void delivery_route_set(struct delivery *d, const char *sg, const char *dest_text,
                        void (*fn)(void *ctx, enum store_rc rc), void *ctx);

/* delivery_route_get - the destination text sg's mail goes to now, or NULL
 * for a storage group that is not configured. */
const char *delivery_route_get(const struct delivery *d, const char *sg);

/* delivery_set_tls - the client contexts of connections made from now on
 * (delivery_tls.c); t must outlive its use here. */
void delivery_set_tls(struct delivery *d, const struct tls *t);

/* Why outbound TLS was required and not had (dumpsterd_delivery_tls_policy_failures_total). */
enum delivery_tls_failure {
    DELIVERY_TLS_NOT_OFFERED,  /* STARTTLS not in the EHLO reply */
    DELIVERY_TLS_REFUSED,      /* STARTTLS answered other than 220 */
    DELIVERY_TLS_NOT_VERIFIED, /* verify: the certificate did not verify */
    DELIVERY_TLS_FAILURE__COUNT
};

struct delivery_stats {
    uint64_t attempts_delivered, attempts_deferred, attempts_failed; /* per recipient */
    uint64_t bounces;
    uint64_t connections;
    uint64_t inflight_jobs;
    uint64_t tls_sessions[TLS_TRUST__COUNT][TLS_V__COUNT]; /* established, by trust and version */
    uint64_t tls_resumed;                                  /* of those, resumed sessions */
    uint64_t tls_handshake_failures;
    uint64_t tls_failures[DELIVERY_TLS_FAILURE__COUNT];
    uint64_t tls_plaintext; /* may: not offered or refused, delivered in plaintext */
};
void delivery_get_stats(const struct delivery *d, struct delivery_stats *st);

/* What a delivery of normal mail (not a resubmission) to a storage group
 * handed over: valid during the call only. */
struct delivery_delivered {
    const struct queue_job *job; /* its content went to the peer: see content */
    const void *content;         /* a copy taken before it went, len octets */
    size_t len;
    const char *const *addrs; /* the recipients delivered in this attempt */
    size_t naddrs;
    uint64_t first_rcpt; /* the row of addrs[0]: tells attempts of one message apart */
    int64_t delivered_ms;
};

/* delivery_on_delivered - fn(ctx, what) after each such delivery (the shadow
 * dumpster). One function; NULL clears it. */
void delivery_on_delivered(struct delivery *d,
                           void (*fn)(void *ctx, const struct delivery_delivered *what), void *ctx);

/* delivery_pause - while on, no due work is picked (connections under way
 * finish); off looks at once. At the start, the hub holds delivery until
 * it knows which of its messages another hub took over. */
void delivery_pause(struct delivery *d, bool on);

/* delivery_stop - close every connection, take no more work. */
void delivery_stop(struct delivery *d);

/* delivery_free - after delivery_stop and store_close. Returns NULL. */
struct delivery *delivery_free(struct delivery *d);

#endif
