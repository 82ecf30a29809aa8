/*
 * admin.h - the admin HTTP API of the hub (SPEC section 8), on evhttp
 *
 * JSON in and out, times as RFC 3339 UTC with milliseconds, errors as
 * {"error":{"code":"...","message":"..."}}. Writes (POST, PUT, DELETE)
 * need "Authorization: Bearer TOKEN" matching [admin] token_hash; reads
 * need it too when public_reads = no (GET /healthz never does). The
 * handlers ask the dumpster, the queue, the delivery scheduler and the
 * statistics interfaces; answers that need the store come later, from
 * their callbacks, and a client that went away meanwhile is simply not
 * answered. Every bound below is enforced before the request is handled.
 */
#ifndef DD_ADMIN_H
#define DD_ADMIN_H

#include <stddef.h>

#include "bounds.h"
#include "conf.h"

struct event_base;
struct store;
struct smtpd_server;
struct delivery;
struct dumpster;
struct queue;
struct resubmit;
struct evconnlistener;

/* What the handlers ask; owned by the caller, must outlive the admin. */
struct resubmit_req;

struct admin_deps {
    const struct conf *conf; /* replaced with admin_set_conf() */
    struct store *store;
    struct queue *queue;
    struct smtpd_server *srv;
    struct delivery *delivery;
    struct dumpster *dumpster;
    struct resubmit *resubmit;
    /* Optional (NULL: admin_new binds the addresses itself): one idle
     * listener per [admin] listen address, bound earlier (prebind.h);
     * admin_new() takes every one of them, also when it fails. */
    struct evconnlistener **listeners;
    const struct probes *probes; /* optional: the mailbox probes, for /metrics */
    const struct shadow *shadow; /* optional: the shadow copies, for /metrics */
    /* optional: POST /v1/resubmit's unresponsive_hubs, resent from their
     * shadow dumpsters; 0, or -1 with why */
    int (*shadow_resubmit)(void *ctx, const struct resubmit_req *req, char *why, size_t whylen);
    void *shadow_ctx;
};

struct admin; /* opaque; one owner (the hub), admin_free() */

/*
 * admin_new - bind every [admin] listen address of deps->conf (or serve
 * deps->listeners). Returns NULL with a message in err when an address
 * cannot be bound.
 */
struct admin *admin_new(struct event_base *base, const struct admin_deps *deps, char *err,
                        size_t errlen);

/* admin_set_conf - token_hash, public_reads and the storage groups of c
 * apply to the next request (the listen addresses stay). */
void admin_set_conf(struct admin *a, const struct conf *c);

struct tls;
/* admin_set_tls - HTTPS with t's [admin] context for the next connections
 * (none: plain HTTP); t must outlive its use here (admin_tls.c). */
void admin_set_tls(struct admin *a, const struct tls *t);

/* admin_free - close the listeners and every connection; answers still
 * owed are dropped. Call before the dumpster and the store go. Returns
 * NULL. */
struct admin *admin_free(struct admin *a);

#endif
