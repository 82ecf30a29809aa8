/*
 * server.h - the SMTP side of the hub: listeners, the session table,
 * connection limits, and the link between sessions and the store
 *
 * Sessions are known by id (slot and generation); the store's completions
 * come back by id, so a session that went away meanwhile is simply not
 * found.
 */
#ifndef DD_SERVER_H
#define DD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "conf.h"
#include "directory.h"
#include "store.h"

struct event_base;
struct server; /* opaque; one owner (main), released with server_free() */

/*
 * server_new - bind every [smtp] listen address. c and dir must outlive the
 * server (server_set_directory() swaps the directory). Returns NULL with a
 * message in err when a listener cannot be set up.
 */
struct server *server_new(struct event_base *base, const struct conf *c,
                          const struct directory *dir, char *err, size_t errlen);

/* server_set_store - the store that sessions write to (before traffic). */
void server_set_store(struct server *srv, struct store *st);

/* server_set_directory - use a new directory from now on (SIGHUP). */
void server_set_directory(struct server *srv, const struct directory *dir);

/* The store's callbacks; ctx is the server. */
void server_store_done(void *ctx, uint64_t cookie, enum store_rc rc);
void server_store_drain(void *ctx);

/* server_shutdown - stop accepting and close every session (421). */
void server_shutdown(struct server *srv);

/* server_free - release everything; returns NULL. */
struct server *server_free(struct server *srv);

/* For sessions: */
struct event_base *server_base(const struct server *srv);
const struct conf *server_conf(const struct server *srv);
/* server_conf_hold - the current conf, held until server_conf_release(): a
 * reload does not free a conf a session still reads */
const struct conf *server_conf_hold(struct server *srv);
void server_conf_release(const struct conf *c);
/* server_set_conf - new sessions use c (listeners stay as they are) */
void server_set_conf(struct server *srv, const struct conf *c);
const struct directory *server_directory(const struct server *srv);
struct store *server_store(const struct server *srv);
/* server_session_gone - a session closed; forget its slot. */
void server_session_gone(struct server *srv, uint64_t id);

struct server_stats {
    uint64_t messages_accepted; /* 250 after the commit */
    uint64_t messages_rejected; /* 4xx/5xx at the end of data or commit */
    uint64_t rcpts_rejected;
    uint64_t connections_total;
    uint64_t connections_rejected; /* 421 at accept: limits */
    uint64_t sessions;             /* open now */
};
void server_get_stats(const struct server *srv, struct server_stats *st);
/* server_count - the counters sessions update */
struct server_stats *server_counters(struct server *srv);
/* server_ready - every listener is bound */
bool server_ready(const struct server *srv);
/* server_wait_store - session id waits for the store backlog to drain. */
void server_wait_store(struct server *srv, uint64_t id);

#endif
