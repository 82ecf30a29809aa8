/*
 * dnsfix.h - a DNS server on 127.0.0.1 for the unit tests, on the test's
 * own event loop (UDP, port 0)
 *
 * It answers A and AAAA queries from a table of records (name, type,
 * address, TTL); a name of the table asked for a type it lacks gets an
 * empty answer (NODATA), a name ending in the wildcard suffix gets A
 * 127.0.0.1 with the wildcard TTL, any other name NXDOMAIN. It counts the
 * queries per name and type, so a test can tell a cached answer from a
 * new lookup. Nothing is ever forwarded.
 */
#ifndef DD_DNSFIX_H
#define DD_DNSFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct event;

#define DNSFIX_RR_MAX 32
#define DNSFIX_NAMES_MAX 64 /* names whose queries are counted one by one */
#define DNSFIX_A 1
#define DNSFIX_AAAA 28

struct dnsfix_rr {
    char name[128];
    int type; /* DNSFIX_A or DNSFIX_AAAA */
    char addr[64];
    uint32_t ttl;
};

struct dnsfix_asked {
    char name[128];
    unsigned a, aaaa;
};

struct dnsfix {
    struct event_base *base;
    int fd;
    struct event *ev;
    uint16_t port;
    char spec[32]; /* "127.0.0.1:PORT": the resolver spec */
    struct dnsfix_rr rr[DNSFIX_RR_MAX];
    size_t nrr;
    char wildcard[64]; /* "" = none */
    uint32_t wildcard_ttl;
    unsigned queries, wildcard_queries;
    struct dnsfix_asked asked[DNSFIX_NAMES_MAX];
    size_t nasked;
};

/* dnsfix_new - listening on 127.0.0.1, an empty table. */
struct dnsfix *dnsfix_new(struct event_base *base);

/* dnsfix_add - one record; type DNSFIX_A or DNSFIX_AAAA. */
void dnsfix_add(struct dnsfix *d, const char *name, int type, const char *addr, uint32_t ttl);

/* dnsfix_asked - queries seen for name of type (0: both). */
unsigned dnsfix_asked(const struct dnsfix *d, const char *name, int type);

/* dnsfix_free - stop and release; returns NULL. */
struct dnsfix *dnsfix_free(struct dnsfix *d);

#endif
