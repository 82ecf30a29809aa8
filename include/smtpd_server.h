/*
 * smtpd_server.h - the SMTP side of the hub: listeners, the session table,
 * connection limits; it owns the sessions and hands each its env
 *
 * Sessions are known by id (slot and generation); the store's completions
 * come back by id, so a session that went away meanwhile is simply not
 * found.
 */
#ifndef DD_SMTPD_SERVER_H
#define DD_SMTPD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "queue.h"
#include "smtpd_env.h"
#include "store.h"
#include "tls_policy.h"

struct event_base;
struct tls;
struct smtpd_server; /* opaque; one owner (main), released with smtpd_server_free() */

/*
 * smtpd_server_new - bind every [smtp] listen address. c and dir must outlive the
 * server (smtpd_server_set_directory() swaps the directory). Returns NULL with a
 * message in err when a listener cannot be set up.
 */
struct smtpd_server *smtpd_server_new(struct event_base *base, const struct conf *c,
                                      const struct directory *dir, char *err, size_t errlen);

/* smtpd_server_set_store - the queue that sessions put mail in and the
 * store whose backlog they watch (before traffic). */
void smtpd_server_set_store(struct smtpd_server *srv, struct store *st, struct queue *q);

/* smtpd_server_set_commit - commit finished messages through fn(cctx, ...)
 * instead of queue_commit() (the shadow gate; before traffic). */
void smtpd_server_set_commit(struct smtpd_server *srv,
                             void (*fn)(void *cctx, struct queue_msg *m, queue_commit_fn done,
                                        void *ctx, uint64_t cookie),
                             void *cctx);

/* smtpd_server_set_directory - use a new directory from now on (SIGHUP). */
void smtpd_server_set_directory(struct smtpd_server *srv, const struct directory *dir);

/* smtpd_server_set_tls - the certificate of STARTTLS from now on (NULL:
 * none); t must outlive its use here. Sessions in TLS keep theirs. */
void smtpd_server_set_tls(struct smtpd_server *srv, const struct tls *t);
/* smtpd_server_tls - the contexts set last (NULL: none) */
const struct tls *smtpd_server_tls(const struct smtpd_server *srv);

/* smtpd_server_store_drain - the store's drain callback (ctx: the server):
 * sessions paused for the backlog read again. */
void smtpd_server_store_drain(void *ctx);

/* smtpd_server_shutdown - stop accepting and close every session (421). */
void smtpd_server_shutdown(struct smtpd_server *srv);

/* smtpd_server_free - release everything; returns NULL. */
struct smtpd_server *smtpd_server_free(struct smtpd_server *srv);

/* smtpd_server_set_conf - new sessions use c (listeners stay as they are) */
void smtpd_server_set_conf(struct smtpd_server *srv, const struct conf *c);

/* smtpd_server_get_stats - the counters (smtpd_env.h) */
void smtpd_server_get_stats(const struct smtpd_server *srv, struct smtpd_stats *st);
/* smtpd_server_ready - every listener is bound */
bool smtpd_server_ready(const struct smtpd_server *srv);

#endif
