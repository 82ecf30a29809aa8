/*
 * smtpd_server.c - listeners, the session table and connection limits
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
#include "smtpd_server.h"
#include "smtpd_session.h"

struct smtpd_server_slot {
    struct smtpd_session *s;
    uint32_t gen;
    unsigned char ipkey[17]; /* family + 16 address octets */
};

struct smtpd_server {
    struct smtpd_env env; /* what sessions get: shared state, callbacks */
    struct evconnlistener *ls[DD_LISTEN_MAX];
    size_t nls;
    struct event *relisten; /* re-enables listeners after EMFILE */
    struct smtpd_stats stats;
    struct smtpd_server_slot *slots;
    uint32_t *free_slots; /* stack of free slot indexes */
    size_t nfree;
    size_t nslots;
    uint64_t *waiting; /* session ids waiting for the store to drain */
    size_t nwaiting;
    bool shutting_down;
};

/* smtpd_server_ipkey - comparable key of a peer address */
static void smtpd_server_ipkey(const struct sockaddr *sa, unsigned char key[17])
{
    memset(key, 0, 17);
    key[0] = (unsigned char)sa->sa_family;
    if (sa->sa_family == AF_INET)
        memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    else if (sa->sa_family == AF_INET6)
        memcpy(key + 1, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
}

/* smtpd_server_count_ip - sessions from the same address */
static unsigned smtpd_server_count_ip(const struct smtpd_server *srv, const unsigned char key[17])
{
    unsigned n = 0;
    for (size_t i = 0; i < srv->nslots; i++)
        if (srv->slots[i].s && memcmp(srv->slots[i].ipkey, key, 17) == 0)
            n++;
    return n;
}

/* smtpd_server_refuse - answer 421 on a fresh socket and close it; never blocks */
static void smtpd_server_refuse(struct smtpd_server *srv, evutil_socket_t fd, const char *why,
                                const struct sockaddr *sa)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    char line[DD_HOSTNAME_MAX + 128];
    const void *addr = sa->sa_family == AF_INET6
                           ? (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr
                           : (const void *)&((const struct sockaddr_in *)sa)->sin_addr;

    inet_ntop(sa->sa_family, addr, ip, sizeof(ip));
    int n =
        snprintf(line, sizeof(line), "421 4.7.0 %s Error: %s\r\n", srv->env.c->smtp.hostname, why);
    srv->stats.connections_rejected++;
    ssize_t w = send(fd, line, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)w;
    evutil_closesocket(fd);
    log_warn("smtpd", "NOQUEUE: reject: CONNECT from unknown[%s]: 421 4.7.0 %s", ip, why);
}

/* smtpd_server_accept_cb - a new connection: limits, then a session */
static void smtpd_server_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
                                   struct sockaddr *sa, int salen, void *arg)
{
    struct smtpd_server *srv = arg;
    unsigned char key[17];

    (void)l;
    smtpd_server_ipkey(sa, key);
    if (srv->shutting_down || srv->nfree == 0) {
        smtpd_server_refuse(srv, fd, "too many connections", sa);
        return;
    }
    if (smtpd_server_count_ip(srv, key) >= srv->env.c->smtp.max_connections_per_ip) {
        smtpd_server_refuse(srv, fd, "too many connections from your IP address", sa);
        return;
    }
    uint32_t slot = srv->free_slots[--srv->nfree];
    struct smtpd_server_slot *sl = &srv->slots[slot];
    uint64_t id = ((uint64_t)++sl->gen << 32) | slot;
    memcpy(sl->ipkey, key, 17);
    sl->s = smtpd_session_new(&srv->env, id, fd, sa, (socklen_t)salen);
    srv->stats.connections_total++;
    if (sl->s == NULL)
        srv->free_slots[srv->nfree++] = slot;
}

/* smtpd_server_find - the live session with this id, or NULL */
static struct smtpd_session *smtpd_server_find(const struct smtpd_server *srv, uint64_t id)
{
    uint32_t slot = (uint32_t)id;
    if (slot >= srv->nslots || srv->slots[slot].gen != (uint32_t)(id >> 32))
        return NULL;
    return srv->slots[slot].s;
}

/* smtpd_server_session_gone - free the slot of a closed session */
static void smtpd_server_session_gone(void *ctx, uint64_t id)
{
    struct smtpd_server *srv = ctx;
    uint32_t slot = (uint32_t)id;
    if (smtpd_server_find(srv, id) == NULL)
        return;
    srv->slots[slot].s = NULL;
    srv->free_slots[srv->nfree++] = slot;
}

/* smtpd_server_relisten_cb - accept again after running out of descriptors */
static void smtpd_server_relisten_cb(evutil_socket_t fd, short what, void *arg)
{
    struct smtpd_server *srv = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_enable(srv->ls[i]);
}

/* smtpd_server_accept_error_cb - EMFILE and friends: pause accepting briefly */
static void smtpd_server_accept_error_cb(struct evconnlistener *l, void *arg)
{
    struct smtpd_server *srv = arg;
    struct timeval tv = {0, 100000};
    int err = EVUTIL_SOCKET_ERROR();

    log_warn("smtpd", "accept: %s", evutil_socket_error_to_string(err));
    (void)l;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_disable(srv->ls[i]);
    event_add(srv->relisten, &tv);
}

/* smtpd_server_listen - bind one listen address */
static int smtpd_server_listen(struct smtpd_server *srv, const struct conf_listen *cl, char *err,
                               size_t errlen)
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
    struct evconnlistener *l = evconnlistener_new_bind(srv->env.base, smtpd_server_accept_cb, srv,
                                                       LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE,
                                                       1024, (struct sockaddr *)&ss, sslen);
    if (l == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", text, strerror(errno));
        return -1;
    }
    evconnlistener_set_error_cb(l, smtpd_server_accept_error_cb);
    srv->ls[srv->nls++] = l;
    return 0;
}

/* smtpd_server_store_done - a commit finished: tell its session, if still there */
static void smtpd_server_store_done(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct smtpd_server *srv = ctx;
    struct smtpd_session *s = smtpd_server_find(srv, cookie);
    if (s)
        smtpd_session_committed(s, rc);
}

/* smtpd_server_wait_store - remember a session that paused for the store */
static void smtpd_server_wait_store(void *ctx, uint64_t id)
{
    struct smtpd_server *srv = ctx;

    for (size_t i = 0; i < srv->nwaiting; i++)
        if (srv->waiting[i] == id)
            return;
    if (srv->nwaiting < srv->nslots)
        srv->waiting[srv->nwaiting++] = id;
}

/* smtpd_server_new - allocate the table and bind the listeners */
struct smtpd_server *smtpd_server_new(struct event_base *base, const struct conf *c,
                                      const struct directory *dir, char *err, size_t errlen)
{
    struct smtpd_server *srv = calloc(1, sizeof(*srv));
    if (srv == NULL)
        return NULL;
    srv->env.base = base;
    srv->env.c = c;
    srv->env.dir = dir;
    srv->env.stats = &srv->stats;
    srv->env.ctx = srv;
    srv->env.gone = smtpd_server_session_gone;
    srv->env.wait_store = smtpd_server_wait_store;
    srv->env.committed = smtpd_server_store_done;
    srv->nslots = c->smtp.max_connections;
    srv->slots = calloc(srv->nslots, sizeof(*srv->slots));
    srv->free_slots = calloc(srv->nslots, sizeof(*srv->free_slots));
    srv->waiting = calloc(srv->nslots, sizeof(*srv->waiting));
    srv->relisten = event_new(base, -1, 0, smtpd_server_relisten_cb, srv);
    if (!srv->slots || !srv->free_slots || !srv->waiting || !srv->relisten) {
        snprintf(err, errlen, "out of memory");
        return smtpd_server_free(srv);
    }
    for (size_t i = 0; i < srv->nslots; i++)
        srv->free_slots[srv->nfree++] = (uint32_t)(srv->nslots - 1 - i);
    for (size_t i = 0; i < c->smtp.nlisten; i++)
        if (smtpd_server_listen(srv, &c->smtp.listen[i], err, errlen) < 0)
            return smtpd_server_free(srv);
    return srv;
}

/* smtpd_server_store_drain - the backlog fell: let paused sessions read again */
void smtpd_server_store_drain(void *ctx)
{
    struct smtpd_server *srv = ctx;
    size_t n = srv->nwaiting;

    srv->nwaiting = 0;
    for (size_t i = 0; i < n; i++) {
        struct smtpd_session *s = smtpd_server_find(srv, srv->waiting[i]);
        if (s)
            smtpd_session_resume(s);
    }
}

/* smtpd_server_shutdown - stop listening, 421 to every session */
void smtpd_server_shutdown(struct smtpd_server *srv)
{
    srv->shutting_down = true;
    for (size_t i = 0; i < srv->nls; i++)
        evconnlistener_disable(srv->ls[i]);
    for (size_t i = 0; i < srv->nslots; i++)
        if (srv->slots[i].s)
            smtpd_session_shutdown(srv->slots[i].s);
}

/* smtpd_server_free - listeners and tables (sessions must be gone) */
struct smtpd_server *smtpd_server_free(struct smtpd_server *srv)
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

/* smtpd_server_commit - the plain commit: the queue's */
static void smtpd_server_commit(void *cctx, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                                uint64_t cookie)
{
    queue_commit(cctx, m, fn, ctx, cookie);
}

/* smtpd_server_set_store - where sessions put mail, and whose backlog they watch */
void smtpd_server_set_store(struct smtpd_server *srv, struct store *st, struct queue *q)
{
    srv->env.st = st;
    srv->env.q = q;
    srv->env.commit = smtpd_server_commit;
    srv->env.commit_ctx = q;
}

/* smtpd_server_set_commit - commit through fn (the shadow gate) instead */
void smtpd_server_set_commit(struct smtpd_server *srv,
                             void (*fn)(void *cctx, struct queue_msg *m, queue_commit_fn done,
                                        void *ctx, uint64_t cookie),
                             void *cctx)
{
    srv->env.commit = fn;
    srv->env.commit_ctx = cctx;
}

void smtpd_server_set_directory(struct smtpd_server *srv, const struct directory *dir)
{
    srv->env.dir = dir;
}

/* smtpd_server_set_tls - the contexts STARTTLS uses from now on */
void smtpd_server_set_tls(struct smtpd_server *srv, const struct tls *t)
{
    srv->env.tls = t;
}

/* smtpd_server_tls - for sessions: the certificate of their STARTTLS */
const struct tls *smtpd_server_tls(const struct smtpd_server *srv)
{
    return srv->env.tls;
}

/* smtpd_server_get_stats - the counters, and sessions open now */
void smtpd_server_get_stats(const struct smtpd_server *srv, struct smtpd_stats *st)
{
    *st = srv->stats;
    st->sessions = srv->nslots - srv->nfree;
}

/* smtpd_server_ready - listening on every address */
bool smtpd_server_ready(const struct smtpd_server *srv)
{
    return !srv->shutting_down && srv->nls > 0 && srv->env.st != NULL;
}

/* smtpd_server_set_conf - after a reload */
void smtpd_server_set_conf(struct smtpd_server *srv, const struct conf *c)
{
    srv->env.c = c;
}
