/*
 * delivery_pool.c - the connections of one destination
 *
 * A pool keeps at most concurrency_per_destination connections and the
 * jobs that wait for one. An idle connection takes the next job at once
 * (RSET between), so a busy destination sees few connects. Addresses are
 * tried in their configured order: a connection that fails before it is
 * ready moves the pool to the next address; when every address failed in a
 * row and no connection is left, the waiting jobs are deferred. A new
 * connection is opened only when jobs wait, every open connection is busy
 * and none is connecting: the pool grows one connect at a time while the
 * load keeps its connections busy, so a trickle uses one connection and a
 * dead mailbox server never gets a burst of connects. A pool is one
 * destination under one TLS policy (delivery_tls.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/util.h>

#include "bounds.h"
#include "delivery_int.h"
#include "log.h"

#define DELIVERY_POOL_SLOTS 1024

static void dpool_dispatch(struct dpool *p);

/* dpool_hash - FNV-1a of the destination text */
static size_t dpool_hash(const char *s)
{
    uint32_t h = 2166136261u;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % DELIVERY_POOL_SLOTS;
}

/* dpool_get - the pool of a destination and sg's TLS policy, made on first use */
struct dpool *dpool_get(struct delivery *d, const char *text, const struct dest *dest,
                        const char *sg)
{
    size_t h = dpool_hash(text);

    if (d->pools == NULL && (d->pools = calloc(DELIVERY_POOL_SLOTS, sizeof(*d->pools))) == NULL)
        return NULL;
    for (struct dpool *p = d->pools[h]; p; p = p->next)
        if (strcmp(p->text, text) == 0 && dpool_tls_same(&p->tls, d->c, sg))
            return p;
    struct dpool *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    if (dpool_tls_init(&p->tls, d->c, sg) < 0) {
        free(p);
        return NULL;
    }
    p->d = d;
    snprintf(p->text, sizeof(p->text), "%s", text);
    p->dest = *dest;
    TAILQ_INIT(&p->jobs);
    LIST_INIT(&p->conns);
    p->next = d->pools[h];
    d->pools[h] = p;
    return p;
}

/* dpool_static_addr - an IP literal or unix socket as a daddr */
static int dpool_static_addr(const struct dest_addr *a, struct daddr *out)
{
    memset(out, 0, sizeof(*out));
    out->proto = a->proto;
    if (a->kind == DEST_UNIX) {
        struct sockaddr_un *un = (struct sockaddr_un *)&out->ss;
        un->sun_family = AF_UNIX;
        snprintf(un->sun_path, sizeof(un->sun_path), "%s", a->path);
        out->len = sizeof(*un);
        snprintf(out->name, sizeof(out->name), "unix:%s", a->path);
        return 0;
    }
    char text[DD_HOSTNAME_MAX + 16];
    int len = (int)sizeof(out->ss);
    snprintf(text, sizeof(text), strchr(a->host, ':') ? "[%s]:%u" : "%s:%u", a->host, a->port);
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&out->ss, &len) < 0)
        return -1;
    out->len = (socklen_t)len;
    snprintf(out->name, sizeof(out->name), "%s[%s]:%u", a->host, a->host, a->port);
    return 0;
}

/* dpool_flatten - the fresh per-address answers, in configured order */
static void dpool_flatten(struct dpool *p)
{
    p->naddrs = 0;
    for (size_t i = 0; i < p->dest.n; i++) {
        for (size_t k = 0; k < p->nfresh[i] && p->naddrs < DPOOL_ADDRS_MAX; k++)
            p->addrs[p->naddrs++] = p->fresh[i][k];
        free(p->fresh[i]);
        p->fresh[i] = NULL;
        p->nfresh[i] = 0;
    }
    p->resolving = false;
    p->failed_run = 0;
    if (p->next_addr >= p->naddrs)
        p->next_addr = 0;
}

/* dpool_ip_text - the IP of an address as text */
static void dpool_ip_text(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
    const void *src = ss->ss_family == AF_INET6
                          ? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
                          : (const void *)&((const struct sockaddr_in *)ss)->sin_addr;
    if (evutil_inet_ntop(ss->ss_family, src, buf, cap) == NULL)
        snprintf(buf, cap, "?");
}

/* dpool_resolved - a HOST answered */
static void dpool_resolved(void *ctx, const struct sockaddr_storage *addrs, size_t n,
                           const char *error)
{
    struct dpool_lookup *lk = ctx;
    struct dpool *p = lk->p;
    const struct dest_addr *a = &p->dest.addr[lk->i];

    if (n == 0)
        snprintf(p->last_err, sizeof(p->last_err), "%s: %s", a->host, error);
    p->fresh[lk->i] = calloc(n ? n : 1, sizeof(struct daddr));
    for (size_t k = 0; p->fresh[lk->i] && k < n; k++) {
        struct daddr *da = &p->fresh[lk->i][k];
        char ip[64];
        da->ss = addrs[k];
        da->len = addrs[k].ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                 : sizeof(struct sockaddr_in);
        da->proto = a->proto;
        dpool_ip_text(&addrs[k], ip, sizeof(ip));
        snprintf(da->name, sizeof(da->name), "%s[%s]:%u", a->host, ip, a->port);
        p->nfresh[lk->i]++;
    }
    if (--p->lookups == 0) {
        dpool_flatten(p);
        dpool_dispatch(p);
    }
}

/* dpool_resolve - (re)build the address list; false while lookups run */
static bool dpool_resolve(struct dpool *p)
{
    bool hosts = false;

    for (size_t i = 0; i < p->dest.n; i++)
        hosts |= p->dest.addr[i].kind == DEST_HOST;
    if (p->resolving || (p->naddrs > 0 && (!hosts || clock_now_ms() < p->addrs_until_ms)))
        return !p->resolving;
    p->resolving = true;
    p->lookups = 1;                            /* held until every lookup is started */
    p->addrs_until_ms = clock_now_ms() + 1000; /* the resolver caches for the TTL */
    for (size_t i = 0; i < p->dest.n; i++) {
        const struct dest_addr *a = &p->dest.addr[i];
        if (a->kind != DEST_HOST) {
            if ((p->fresh[i] = calloc(1, sizeof(struct daddr))) != NULL &&
                dpool_static_addr(a, p->fresh[i]) == 0)
                p->nfresh[i] = 1;
            continue;
        }
        struct dpool_lookup *lk = &p->lk[i];
        lk->p = p;
        lk->i = i;
        p->lookups++;
        resolve_host(p->d->res, a->host, a->port, dpool_resolved, lk);
    }
    if (--p->lookups == 0)
        dpool_flatten(p);
    return !p->resolving;
}

/* dpool_conn_free - forget a connection */
static void dpool_conn_free(struct dconn *cn)
{
    struct dpool *p = cn->pool;

    LIST_REMOVE(cn, link);
    p->nconn--;
    if (cn->ready)
        p->nready--;
    else
        p->nconnecting--;
    if (cn->idle_ev)
        event_free(cn->idle_ev);
    if (cn->load)
        cn->load->cn = NULL;
    mta_client_free(cn->c);
    free(cn);
}

/* dpool_fail_waiting - every address failed: defer what waits */
static void dpool_fail_waiting(struct dpool *p)
{
    struct mta_client_reply why = {.code = 0};
    struct djob *j;

    snprintf(why.text, sizeof(why.text), "%s", p->last_err[0] ? p->last_err : "no address");
    while ((j = TAILQ_FIRST(&p->jobs)) != NULL) {
        TAILQ_REMOVE(&p->jobs, j, link);
        p->njobs--;
        delivery_job_fail(p->d, j, NULL, &why);
    }
    p->failed_run = 0;
}

/* dpool_idle_cb - nothing to send for a while: say goodbye */
static void dpool_idle_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dconn *cn = arg;

    (void)fd;
    (void)what;
    if (cn->job == NULL && mta_client_usable(cn->c))
        mta_client_quit(cn->c);
}

/* dpool_next - a connection whose job ended without a transaction: the
 * next job, or the idle timer */
static void dpool_next(struct dpool *p, struct dconn *cn)
{
    dpool_dispatch(p);
    if (cn->job == NULL && mta_client_usable(cn->c))
        event_add(cn->idle_ev, &(struct timeval){DD_DELIVERY_IDLE_SECONDS, 0});
}

/* dpool_start - the job's content is here: send it */
static void dpool_start(struct dconn *cn)
{
    struct dpool *p = cn->pool;
    struct djob *j = cn->job;
    struct mta_client_job job = {0};

    if (j->rcptv == NULL && (j->rcptv = calloc(j->q->nrcpts, sizeof(*j->rcptv))) == NULL) {
        log_err("delivery", "out of memory");
        abort();
    }
    for (size_t i = 0; i < j->q->nrcpts; i++)
        j->rcptv[i] = j->q->rcpts[i].addr;
    job.sender = j->q->sender;
    job.rcpts = j->rcptv;
    job.nrcpts = j->q->nrcpts;
    delivery_keep_content(p->d, j);
    job.content = j->q->content;
    job.size = j->q->size;
    job.body = j->q->body == MSG_BODY_8BITMIME ? MTA_CLIENT_BODY_8BITMIME
               : j->q->body == MSG_BODY_7BIT   ? MTA_CLIENT_BODY_7BIT
                                               : MTA_CLIENT_BODY_NONE;
    job.smtputf8 = j->q->smtputf8 != MSG_UTF8_NO;
    job.utf8_headers = j->q->smtputf8 == MSG_UTF8_HEADERS;
    job.queue_id = j->q->queue_id;
    struct mta_client_reply why;
    if (mta_client_job_refused(cn->c, &job, &why)) { /* 5.6.7: this server cannot take it */
        cn->job = NULL;
        delivery_job_fail(p->d, j, mta_client_peer(cn->c), &why);
        dpool_next(p, cn);
        return;
    }
    if (mta_client_send(cn->c, &job) == 0)
        return;
    cn->job = NULL;
    if (mta_client_usable(cn->c)) { /* the client refused the job itself */
        struct mta_client_reply r = {.code = 550, .enh = "5.1.3"};
        snprintf(r.text, sizeof(r.text), "5.1.3 bad address syntax in the envelope");
        delivery_job_fail(p->d, j, p->text, &r);
        dpool_next(p, cn);
        return;
    }
    TAILQ_INSERT_HEAD(&p->jobs, j, link);
    p->njobs++;
}

/* dpool_loaded - a job's content was read from the store */
static void dpool_loaded(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct dload *ld = ctx;
    struct dconn *cn = ld->cn;

    free(ld);
    if (cn == NULL) { /* the connection went away meanwhile; its job was handled */
        if (content)
            evbuffer_free(content);
        return;
    }
    cn->load = NULL;
    if (content == NULL) {
        struct djob *j = cn->job;
        struct mta_client_reply r = {.code = 0};
        snprintf(r.text, sizeof(r.text), "cannot read the message from the store (%d)", (int)rc);
        cn->job = NULL;
        delivery_job_fail(cn->pool->d, j, NULL, &r);
        if (mta_client_usable(cn->c))
            event_add(cn->idle_ev, &(struct timeval){DD_DELIVERY_IDLE_SECONDS, 0});
        dpool_dispatch(cn->pool);
        return;
    }
    cn->job->q->content = content;
    delivery_headers(cn->job);
    dpool_start(cn);
}

/* dpool_send - give the first waiting job to an idle connection; its
 * content is read now, so waiting jobs hold no content */
static void dpool_send(struct dpool *p, struct dconn *cn)
{
    struct djob *j = TAILQ_FIRST(&p->jobs);

    TAILQ_REMOVE(&p->jobs, j, link);
    p->njobs--;
    event_del(cn->idle_ev);
    cn->job = j;
    if (j->q->content != NULL) {
        dpool_start(cn);
        return;
    }
    if ((cn->load = calloc(1, sizeof(*cn->load))) == NULL) {
        log_err("delivery", "out of memory");
        abort();
    }
    cn->load->cn = cn;
    queue_content(p->d->q, j->q->msg_id, j->q->size, dpool_loaded, cn->load);
}

static void dpool_on_ready(void *ctx, struct mta_client *c);
static void dpool_on_done(void *ctx, struct mta_client *c, const struct mta_client_result *r);
static void dpool_on_closed(void *ctx, struct mta_client *c, const struct mta_client_reply *why);

/* dpool_connect - one more connection, to the pool's current address */
static void dpool_connect(struct dpool *p)
{
    const struct daddr *a = &p->addrs[p->next_addr];
    const struct conf *c = p->d->c;
    struct dconn *cn = calloc(1, sizeof(*cn));
    char name[DD_HOSTNAME_MAX + 1];

    if (cn == NULL || (cn->idle_ev = evtimer_new(p->d->base, dpool_idle_cb, cn)) == NULL) {
        free(cn);
        return;
    }
    struct mta_client_cfg cfg = {
        .proto = a->proto == DEST_LMTP ? MTA_CLIENT_LMTP : MTA_CLIENT_SMTP,
        .addr = (const struct sockaddr *)&a->ss,
        .addrlen = a->len,
        .helo_name = c->smtp.hostname,
        .connect_timeout = c->delivery.connect_timeout,
        .reply_timeout = DD_DELIVERY_REPLY_TIMEOUT,
        .peer_name = a->name,
        .tls = dpool_tls_cfg(p, a, name, sizeof(name)),
    };
    struct mta_client_cb cb = {dpool_on_ready, dpool_on_done, dpool_on_closed, cn};
    cn->pool = p;
    LIST_INSERT_HEAD(&p->conns, cn, link);
    p->nconn++;
    p->nconnecting++;
    p->d->stats.connections++;
    if ((cn->c = mta_client_connect(p->d->base, &cfg, &cb)) == NULL) {
        snprintf(p->last_err, sizeof(p->last_err), "connect to %s: cannot create a socket",
                 a->name);
        dpool_conn_free(cn);
    }
}

/* dpool_want_conn - work waits, every open connection is busy and none is
 * on its way: one more, up to the bound. One connect at a time, so a burst
 * that one connection drains does not open idle ones (and a dead server
 * does not get a burst of connects) */
static bool dpool_want_conn(const struct dpool *p)
{
    return p->njobs > 0 && p->nconnecting == 0 &&
           p->nconn < p->d->c->delivery.concurrency_per_destination;
}

/* dpool_dispatch - jobs to idle connections; one more connection if needed */
static void dpool_dispatch(struct dpool *p)
{
    struct dconn *cn;

    if (p->d->stopping)
        return;
    LIST_FOREACH(cn, &p->conns, link)
    {
        if (p->njobs == 0)
            break;
        if (cn->ready && cn->job == NULL && mta_client_usable(cn->c))
            dpool_send(p, cn);
    }
    if (p->njobs == 0 || !dpool_resolve(p))
        return;
    if (p->naddrs == 0) {
        dpool_fail_waiting(p);
        return;
    }
    if (dpool_want_conn(p))
        dpool_connect(p); /* out of sockets: the next tick tries again */
}

/* dpool_enqueue - a job waits for a connection of its destination */
void dpool_enqueue(struct dpool *p, struct djob *j)
{
    TAILQ_INSERT_TAIL(&p->jobs, j, link);
    p->njobs++;
    dpool_dispatch(p);
}

/* dpool_on_ready - greeted and introduced: take work */
static void dpool_on_ready(void *ctx, struct mta_client *c)
{
    struct dconn *cn = ctx;
    struct dpool *p = cn->pool;

    dpool_tls_ready(p, c);
    cn->ready = true;
    p->nconnecting--;
    p->nready++;
    p->failed_run = 0;
    if (p->njobs > 0)
        dpool_send(p, cn);
    else
        event_add(cn->idle_ev, &(struct timeval){DD_DELIVERY_IDLE_SECONDS, 0});
    dpool_dispatch(p);
}

/* dpool_on_done - a job ended: record it, take the next */
static void dpool_on_done(void *ctx, struct mta_client *c, const struct mta_client_result *r)
{
    struct dconn *cn = ctx;
    struct djob *j = cn->job;

    cn->job = NULL;
    if (j != NULL)
        delivery_job_done(cn->pool->d, j, mta_client_peer(c), r->rcpt, r->nrcpts);
    if (!mta_client_usable(c))
        return;
    if (cn->pool->njobs > 0)
        dpool_send(cn->pool, cn);
    else
        event_add(cn->idle_ev, &(struct timeval){DD_DELIVERY_IDLE_SECONDS, 0});
}

/* dpool_on_closed - a connection is gone; before ready it counts as a failure
 * of its address */
static void dpool_on_closed(void *ctx, struct mta_client *c, const struct mta_client_reply *why)
{
    struct dconn *cn = ctx;
    struct dpool *p = cn->pool;
    bool failed = !cn->ready;
    bool plain_now = failed && dpool_tls_closed(p, c); /* may: plaintext at once */

    if (cn->job != NULL) { /* done() should have come; never lose the job */
        struct djob *j = cn->job;
        cn->job = NULL;
        delivery_job_fail(p->d, j, mta_client_peer(c), why);
    }
    if (failed) {
        if (why->code)
            snprintf(p->last_err, sizeof(p->last_err), "host %s refused to talk to me: %s",
                     mta_client_peer(c), why->text);
        else
            snprintf(p->last_err, sizeof(p->last_err), "%s", why->text);
        log_info("smtp", "%s", p->last_err);
    }
    dpool_conn_free(cn);
    if (failed && !plain_now && p->naddrs > 0) {
        p->next_addr = (p->next_addr + 1) % p->naddrs;
        if (++p->failed_run >= p->naddrs && p->nready == 0 && p->nconnecting == 0)
            dpool_fail_waiting(p);
    }
    dpool_dispatch(p);
}

/* dpool_free_all - close every connection, forget every waiting job */
void dpool_free_all(struct delivery *d)
{
    if (d->pools == NULL)
        return;
    for (size_t h = 0; h < DELIVERY_POOL_SLOTS; h++) {
        struct dpool *p = d->pools[h], *next;
        for (; p; p = next) {
            next = p->next;
            while (!LIST_EMPTY(&p->conns)) {
                struct dconn *cn = LIST_FIRST(&p->conns);
                if (cn->job)
                    TAILQ_INSERT_TAIL(&p->jobs, cn->job, link);
                cn->job = NULL;
                dpool_conn_free(cn);
            }
            for (struct djob *j; (j = TAILQ_FIRST(&p->jobs)) != NULL;) {
                TAILQ_REMOVE(&p->jobs, j, link);
                delivery_job_free(j);
            }
            for (size_t i = 0; i < DD_DEST_ADDRS_MAX; i++)
                free(p->fresh[i]);
            dpool_tls_free(&p->tls);
            free(p);
        }
    }
    free(d->pools);
    d->pools = NULL;
}
