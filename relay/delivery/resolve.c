/*
 * resolve.c - destination host names with evdns, cached for their TTL
 *
 * One cache entry per host: A and AAAA are asked together; the answer is
 * kept for the smaller TTL (clamped to 1 s .. 1 h), a failure for a few
 * seconds. Callers that ask while a lookup runs wait for it.
 *
 * A waiter's callback may ask again, for any name: the entry being
 * answered is busy (e->telling) until its last waiter is told, so a full
 * cache never drops it from under resolve_finish(), and a new question
 * for its name is answered from it at once.
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "bounds.h"
#include "clock.h"
#include "resolve.h"

struct rwait {
    struct rwait *next;
    resolve_fn fn;
    void *ctx;
    uint16_t port;
};

struct rentry {
    struct rentry *next;
    struct resolver *r;
    char host[DD_HOSTNAME_MAX + 1];
    struct sockaddr_storage v4[RESOLVE_ADDRS_MAX], v6[RESOLVE_ADDRS_MAX];
    size_t n4, n6;
    uint32_t ttl;
    int64_t until_ms;
    int outstanding; /* queries in flight */
    bool telling;    /* resolve_finish() is calling the waiters: not idle */
    char err[128];
    struct rwait *waiters;
};

struct resolver {
    struct evdns_base *dns;
    struct rentry *cache;
    size_t ncache;
};

/* resolver_new - "system" (resolv.conf) or one server at IP:PORT */
struct resolver *resolver_new(struct event_base *base, const char *spec, char *err, size_t errlen)
{
    struct resolver *r = calloc(1, sizeof(*r));

    if (r == NULL || (r->dns = evdns_base_new(base, 0)) == NULL) {
        snprintf(err, errlen, "cannot create the DNS resolver");
        free(r);
        return NULL;
    }
    evdns_base_set_option(r->dns, "randomize-case:", "0");
    if (strcmp(spec, "system") == 0) {
        /* errors leave the default server; nothing is asked until a HOST is used */
        evdns_base_resolv_conf_parse(r->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
    } else if (evdns_base_nameserver_ip_add(r->dns, spec) != 0) {
        snprintf(err, errlen, "resolver %s: not an IP:PORT", spec);
        return resolver_free(r);
    }
    return r;
}

/* resolve_answer - give the cached answer to one caller, port applied */
static void resolve_answer(const struct rentry *e, resolve_fn fn, void *ctx, uint16_t port)
{
    struct sockaddr_storage out[RESOLVE_ADDRS_MAX];
    size_t n = 0;

    for (size_t i = 0; i < e->n4 && n < RESOLVE_ADDRS_MAX; i++) {
        out[n] = e->v4[i];
        ((struct sockaddr_in *)&out[n++])->sin_port = htons(port);
    }
    for (size_t i = 0; i < e->n6 && n < RESOLVE_ADDRS_MAX; i++) {
        out[n] = e->v6[i];
        ((struct sockaddr_in6 *)&out[n++])->sin6_port = htons(port);
    }
    fn(ctx, out, n, n ? "" : e->err[0] ? e->err : "no address");
}

/* resolve_finish - both answers are in: cache and tell every waiter */
static void resolve_finish(struct rentry *e)
{
    uint32_t ttl = e->n4 + e->n6 ? e->ttl : RESOLVE_NEG_TTL;

    if (ttl < RESOLVE_TTL_MIN)
        ttl = RESOLVE_TTL_MIN;
    if (ttl > RESOLVE_TTL_MAX)
        ttl = RESOLVE_TTL_MAX;
    e->until_ms = clock_mono_ms() + (int64_t)ttl * 1000;
    e->telling = true;
    while (e->waiters) {
        struct rwait *w = e->waiters;
        e->waiters = w->next;
        resolve_answer(e, w->fn, w->ctx, w->port);
        free(w);
    }
    e->telling = false;
}

/* resolve_idle - no query in flight and nobody being told: may be dropped */
static bool resolve_idle(const struct rentry *e)
{
    return e->outstanding == 0 && !e->telling;
}

/* resolve_cb - one query answered (A or AAAA) */
static void resolve_cb(int result, char type, int count, int ttl, void *addresses, void *arg)
{
    struct rentry *e = arg;

    if (result == DNS_ERR_NONE && count > 0) {
        if (e->ttl == 0 || (uint32_t)ttl < e->ttl)
            e->ttl = ttl > 0 ? (uint32_t)ttl : 1;
        for (int i = 0; i < count && type == DNS_IPv4_A && e->n4 < RESOLVE_ADDRS_MAX; i++) {
            struct sockaddr_in *sin = (struct sockaddr_in *)&e->v4[e->n4++];
            sin->sin_family = AF_INET;
            memcpy(&sin->sin_addr, (char *)addresses + 4 * i, 4);
        }
        for (int i = 0; i < count && type == DNS_IPv6_AAAA && e->n6 < RESOLVE_ADDRS_MAX; i++) {
            struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&e->v6[e->n6++];
            sin6->sin6_family = AF_INET6;
            memcpy(&sin6->sin6_addr, (char *)addresses + 16 * i, 16);
        }
    } else if (result != DNS_ERR_NONE && result != DNS_ERR_NODATA) {
        snprintf(e->err, sizeof(e->err), "host not found: %s", evdns_err_to_string(result));
    }
    if (--e->outstanding == 0)
        resolve_finish(e);
}

/* resolve_entry - the cache entry of host, made when missing */
static struct rentry *resolve_entry(struct resolver *r, const char *host)
{
    struct rentry **pp = &r->cache;

    for (; *pp; pp = &(*pp)->next)
        if (strcasecmp((*pp)->host, host) == 0)
            return *pp;
    if (r->ncache >= RESOLVE_CACHE_MAX) { /* drop every idle entry */
        for (pp = &r->cache; *pp;) {
            if (resolve_idle(*pp)) {
                struct rentry *old = *pp;
                *pp = old->next;
                free(old);
                r->ncache--;
            } else {
                pp = &(*pp)->next;
            }
        }
    }
    struct rentry *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->r = r;
    snprintf(e->host, sizeof(e->host), "%s", host);
    e->next = r->cache;
    r->cache = e;
    r->ncache++;
    return e;
}

/* resolve_host - from the cache, or ask */
void resolve_host(struct resolver *r, const char *host, uint16_t port, resolve_fn fn, void *ctx)
{
    struct rentry *e = resolve_entry(r, host);
    struct rwait *w;

    if (e == NULL || (w = calloc(1, sizeof(*w))) == NULL) {
        fn(ctx, NULL, 0, "out of memory");
        return;
    }
    if (e->outstanding == 0 && (e->telling || clock_mono_ms() < e->until_ms)) {
        free(w);
        resolve_answer(e, fn, ctx, port);
        return;
    }
    w->fn = fn;
    w->ctx = ctx;
    w->port = port;
    w->next = e->waiters;
    e->waiters = w;
    if (e->outstanding > 0)
        return;
    e->n4 = e->n6 = 0;
    e->ttl = 0;
    e->err[0] = 0;
    e->outstanding = 2;
    if (evdns_base_resolve_ipv4(r->dns, host, DNS_QUERY_NO_SEARCH, resolve_cb, e) == NULL)
        resolve_cb(DNS_ERR_UNKNOWN, DNS_IPv4_A, 0, 0, NULL, e);
    if (e->outstanding > 0 &&
        evdns_base_resolve_ipv6(r->dns, host, DNS_QUERY_NO_SEARCH, resolve_cb, e) == NULL)
        resolve_cb(DNS_ERR_UNKNOWN, DNS_IPv6_AAAA, 0, 0, NULL, e);
}

/* resolver_free - drop pending lookups without their callbacks */
struct resolver *resolver_free(struct resolver *r)
{
    if (r == NULL)
        return NULL;
    if (r->dns)
        evdns_base_free(r->dns, 0);
    while (r->cache) {
        struct rentry *e = r->cache;
        r->cache = e->next;
        while (e->waiters) {
            struct rwait *w = e->waiters;
            e->waiters = w->next;
            free(w);
        }
        free(e);
    }
    free(r);
    return NULL;
}
