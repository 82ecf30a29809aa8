/*
 * smtpd_server.h - the SMTP side of the hub: listeners, the session table,
 * connection limits, and the link between sessions and the store
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

/* smtpd_server_set_store - the store that sessions write to (before traffic). */
void smtpd_server_set_store(struct smtpd_server *srv, struct store *st);

/* smtpd_server_set_directory - use a new directory from now on (SIGHUP). */
void smtpd_server_set_directory(struct smtpd_server *srv, const struct directory *dir);

/* smtpd_server_set_tls - the certificate of STARTTLS from now on (NULL:
 * none); t must outlive its use here. Sessions in TLS keep theirs. */
void smtpd_server_set_tls(struct smtpd_server *srv, const struct tls *t);
/* smtpd_server_tls - the contexts set last (NULL: none) */
const struct tls *smtpd_server_tls(const struct smtpd_server *srv);

/* The store's callbacks; ctx is the server. */
void smtpd_server_store_done(void *ctx, uint64_t cookie, enum store_rc rc);
void smtpd_server_store_drain(void *ctx);

/* smtpd_server_shutdown - stop accepting and close every session (421). */
void smtpd_server_shutdown(struct smtpd_server *srv);

/* smtpd_server_free - release everything; returns NULL. */
struct smtpd_server *smtpd_server_free(struct smtpd_server *srv);

/* For sessions: */
struct event_base *smtpd_server_base(const struct smtpd_server *srv);
const struct conf *smtpd_server_conf(const struct smtpd_server *srv);
/* smtpd_server_conf_hold - the current conf, held until smtpd_server_conf_release(): a
 * reload does not free a conf a session still reads */
const struct conf *smtpd_server_conf_hold(struct smtpd_server *srv);
void smtpd_server_conf_release(const struct conf *c);
/* smtpd_server_set_conf - new sessions use c (listeners stay as they are) */
void smtpd_server_set_conf(struct smtpd_server *srv, const struct conf *c);
const struct directory *smtpd_server_directory(const struct smtpd_server *srv);
struct store *smtpd_server_store(const struct smtpd_server *srv);
/* smtpd_server_session_gone - a session closed; forget its slot. */
void smtpd_server_session_gone(struct smtpd_server *srv, uint64_t id);

struct smtpd_server_stats {
    uint64_t messages_accepted; /* 250 after the commit */
    uint64_t messages_rejected; /* 4xx/5xx at the end of data or commit */
    uint64_t rcpts_rejected;
    uint64_t connections_total;
    uint64_t connections_rejected;       /* 421 at accept: limits */
    uint64_t sessions;                   /* open now */
    uint64_t tls_sessions[TLS_V__COUNT]; /* STARTTLS handshakes completed, by version */
    uint64_t tls_resumed;                /* of those, resumed sessions */
    uint64_t tls_handshake_failures;     /* failed or timed out after the 220 */
};
void smtpd_server_get_stats(const struct smtpd_server *srv, struct smtpd_server_stats *st);
/* smtpd_server_count - the counters sessions update */
struct smtpd_server_stats *smtpd_server_counters(struct smtpd_server *srv);
/* smtpd_server_ready - every listener is bound */
bool smtpd_server_ready(const struct smtpd_server *srv);
/* smtpd_server_wait_store - session id waits for the store backlog to drain. */
void smtpd_server_wait_store(struct smtpd_server *srv, uint64_t id);

#endif
