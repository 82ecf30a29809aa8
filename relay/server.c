/*
 * server.c - listeners, the session table and connection limits
 *
 * Slots are preallocated for max_connections; a session's id is its slot
 * and the slot's generation, so stale ids from the store are harmless.
 * Limits are enforced at accept, before a session exists: 421 4.7.0 and
 * close.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "log.h"
#include "server.h"
#include "smtp_session.h"

struct server_slot {
    struct smtp_session *s;
    uint32_t gen;
    unsigned char ipkey[17]; /* family + 16 address octets */
};

struct server {
    struct event_base *base;
    const struct conf *c;
    const struct directory *dir;
    struct store *st;
    struct evconnlistener *ls[DD_LISTEN_MAX];
    size_t nls;
    struct event *relisten; /* re-enables listeners after EMFILE */
    struct server_stats stats;
    struct server_slot *slots;
    uint32_t *free_slots; /* stack of free slot indexes */
    size_t nfree;
    size_t nslots;
    uint64_t *waiting; /* session ids waiting for the store to drain */
    size_t nwaiting;
    bool shutting_down;
};

/* server_ipkey - comparable key of a peer address */
static void server_ipkey(const struct sockaddr *sa, unsigned char key[17])
{
    memset(key, 0, 17);
    key[0] = (unsigned char)sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* server_count_ip - sessions from the same address */
static unsigned server_count_ip(const struct server *srv, const unsigned char key[17])
{
    unsigned n = 0;
    for (size_t i = 0; i < srv->nslots; i++)
        if (srv->slots[i].s && memcmp(srv->slots[i].ipkey, key, 17) == 0)
            n++;
    return n;
}

/* server_refuse - answer 421 on a fresh socket and close it; never blocks */
static void server_refuse(struct server *srv, evutil_socket_t fd, const char *why,
                          const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    char line[DD_HOSTNAME_MAX + 128];
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

    inet_ntop(sa->sa_family, addr, ip, sizeof(ip));
    int n = snprintf(line, sizeof(line), "421 4.7.0 %s Error: %s\r\n", srv->c->smtp.hostname, why);
    srv->stats.connections_rejected++;
    ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    evutil_closesocket(fd);
    log_warn("smtpd", "NOQUEUE: reject: CONNECT from unknown[%s]: 421 4.7.0 %s", ip, why);
}

/* server_accept_cb - a new connection: limits, then a session */
static void server_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                             int salen, void *arg)
{
    struct server *srv = arg;
    unsigned char key[17];

    (void)l;
    server_ipkey(sa, key);
    if (srv->shutting_down || srv->nfree == 0) {
        server_refuse(srv, fd, "too many connections", sa);
        return;
    }
    if (server_count_ip(srv, key) >= srv->c->smtp.max_connections_per_ip) {
        server_refuse(srv, fd, "too many connections from your IP address", sa);
        return;
    }
    uint32_t slot = srv->free_slots[--srv->nfree];
    struct server_slot *sl = &srv->slots[slot];
    uint64_t id = ((uint64_t)++sl->gen << 32) | slot;
    memcpy(sl->ipkey, key, 17);
    sl->s = smtp_session_new(srv, id, fd, sa, (socklen_t)salen);
    srv->stats.connections_total++;
    if (sl->s == NULL)
        srv->free_slots[srv->nfree++] = slot;
}

/* server_find - the live session with this id, or NULL */
static struct smtp_session *server_find(const struct server *srv, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (slot >= srv->nslots || srv->slots[slot].gen != (uint32_t)(id >> 32))
        return NULL;
    return srv->slots[slot].s;
}

/* server_session_gone - free the slot of a closed session */
void server_session_gone(struct server *srv, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (server_find(srv, id) == NULL)
        return;
    srv->slots[slot].s = NULL;
    srv->free_slots[srv->nfree++] = slot;
}

/* server_relisten_cb - accept again after running out of descriptors */
static void server_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
    struct server *srv = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_enable(srv->ls[i]);
}

/* server_accept_error_cb - EMFILE and friends: pause accepting briefly */
static void server_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct server *srv = arg;
    struct timeval tv = {0, 100000};
    int err = EVUTIL_SOCKET_ERROR();

    log_warn("smtpd", "accept: %s", evutil_socket_error_to_string(err));
    (void)l;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_disable(srv->ls[i]);
    event_add(srv->relisten, &tv);
}

/* server_listen - bind one listen address */
static int server_listen(struct server *srv, const struct conf_listen *cl, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char text[96];

    snprintf(text, sizeof(text), strchr(cl->host, ':') ? "[%s]:%u" : "%s:%u", cl->host,
             (unsigned)cl->port);
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "bad listen address %s", text);
        return -1;
    }
    struct evconnlistener *l = evconnlistener_new_bind(srv->base, server_accept_cb, srv,
                                                       LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                                       1024, (struct sockaddr *)&ss, sslen);
    if (l == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(l, server_accept_error_cb);
    srv->ls[srv->nls++] = l;
    return 0;
}

/* server_new - allocate the table and bind the listeners */
struct server *server_new(struct event_base *base, const struct conf *c,
                          const struct directory *dir, char *err, size_t errlen)
{
    struct server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->base = base;
    srv->c = c;
    srv->dir = dir;
    srv->nslots = c->smtp.max_connections;
    srv->slots = calloc(srv->nslots, sizeof(*srv->slots));
    srv->free_slots = calloc(srv->nslots, sizeof(*srv->free_slots));
    srv->waiting = calloc(srv->nslots, sizeof(*srv->waiting));
    srv->relisten = event_new(base, -1, 0, server_relisten_cb, srv);
    if (!srv->slots || !srv->free_slots || !srv->waiting || !srv->relisten) {
        snprintf(err, errlen, "out of memory");
        return server_free(srv);
    }
    for (size_t i = 0; i < srv->nslots; i++)
        srv->free_slots[srv->nfree++] = (uint32_t)(srv->nslots - 1 - i);
    for (size_t i = 0; i < c->smtp.nlisten; i++)
        if (server_listen(srv, &c->smtp.listen[i], err, errlen) < 0)
            return server_free(srv);
    return srv;
}

/* server_store_done - a commit finished: tell its session, if still there */
void server_store_done(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct server *srv = ctx;
    struct smtp_session *s = server_find(srv, cookie);
    if (s)
        smtp_session_committed(s, rc);
}

/* server_wait_store - remember a session that paused for the store */
void server_wait_store(struct server *srv, uint64_t id)
{
    for (size_t i = 0; i < srv->nwaiting; i++)
        if (srv->waiting[i] == id)
            return;
    if (srv->nwaiting < srv->nslots)
        srv->waiting[srv->nwaiting++] = id;
}

/* server_store_drain - the backlog fell: let paused sessions read again */
void server_store_drain(void *ctx)
{
    struct server *srv = ctx;
    size_t n = srv->nwaiting;

    srv->nwaiting = 0;
    for (size_t i = 0; i < n; i++) {
        struct smtp_session *s = server_find(srv, srv->waiting[i]);
        if (s)
            smtp_session_resume(s);
    }
}

/* server_shutdown - stop listening, 421 to every session */
void server_shutdown(struct server *srv)
{
    srv->shutting_down = true;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_disable(srv->ls[i]);
    for (size_t i = 0; i < srv->nslots; i++)
        if (srv->slots[i].s)
            smtp_session_shutdown(srv->slots[i].s);
}

/* server_free - listeners and tables (sessions must be gone) */
struct server *server_free(struct server *srv)
{
    if (srv == NULL)
        return NULL;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_free(srv->ls[i]);
    if (srv->relisten)
        event_free(srv->relisten);
    free(srv->slots);
    free(srv->free_slots);
    free(srv->waiting);
    free(srv);
    return NULL;
}

void server_set_store(struct server *srv, struct store *st)
{
    srv->st = st;
}

void server_set_directory(struct server *srv, const struct directory *dir)
{
    srv->dir = dir;
}

/* server_get_stats - the counters, and sessions open now */
void server_get_stats(const struct server *srv, struct server_stats *st)
{
    *st = srv->stats;
    st->sessions = srv->nslots - srv->nfree;
}

/* server_counters - for the sessions to count in */
struct server_stats *server_counters(struct server *srv)
{
    return &srv->stats;
}

/* server_ready - listening on every address */
bool server_ready(const struct server *srv)
{
    return !srv->shutting_down && srv->nls > 0 && srv->st != NULL;
}

/* server_conf_hold - the current conf, counted */
const struct conf *server_conf_hold(struct server *srv)
{
    ((struct conf *)srv->c)->refs++;
    return srv->c;
}

/* server_conf_release - a session is done with its conf */
void server_conf_release(const struct conf *c)
{
    ((struct conf *)c)->refs--;
}

/* server_set_conf - after a reload */
void server_set_conf(struct server *srv, const struct conf *c)
{
    srv->c = c;
}

const struct conf *server_conf(const struct server *srv)
{
    return srv->c;
}

const struct directory *server_directory(const struct server *srv)
{
    return srv->dir;
}

struct store *server_store(const struct server *srv)
{
    return srv->st;
}

struct event_base *server_base(const struct server *srv)
{
    return srv->base;
}
