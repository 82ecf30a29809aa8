/*
 * dnsfix.c - the DNS server of the unit tests (dnsfix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/util.h>

#include "dnsfix.h"

#define DNSFIX_PACKET_MAX 1500

/* A query as read off the wire. */
struct dnsfix_query {
    char name[256];
    int type;
    size_t qend; /* where the question section ends */
};

/* dnsfix_parse - the question of a query; -1 when it is none */
static int dnsfix_parse(const unsigned char *b, size_t n, struct dnsfix_query *q)
{
    size_t pos = 12, used = 0;

    if (n < 17 || (b[2] & 0x80) || b[4] != 0 || b[5] != 1)
        return -1;
    while (pos < n && b[pos] != 0) {
        size_t len = b[pos];
        if (len > 63 || pos + 1 + len >= n || used + len + 2 > sizeof(q->name))
            return -1;
        if (used)
            q->name[used++] = '.';
        memcpy(q->name + used, b + pos + 1, len);
        used += len;
        pos += 1 + len;
    }
    q->name[used] = 0;
    if (pos + 5 > n)
        return -1;
    q->type = b[pos + 1] << 8 | b[pos + 2];
    q->qend = pos + 5;
    return 0;
}

/* dnsfix_count - one more query for q */
static void dnsfix_count(struct dnsfix *d, const struct dnsfix_query *q, bool wild)
{
    struct dnsfix_asked *a = NULL;

    d->queries++;
    if (wild) {
        d->wildcard_queries++;
        return;
    }
    for (size_t i = 0; i < d->nasked && a == NULL; i++)
        if (strcasecmp(d->asked[i].name, q->name) == 0)
            a = &d->asked[i];
    if (a == NULL && d->nasked < DNSFIX_NAMES_MAX) {
        a = &d->asked[d->nasked++];
        snprintf(a->name, sizeof(a->name), "%s", q->name);
    }
    if (a != NULL && q->type == DNSFIX_A)
        a->a++;
    else if (a != NULL && q->type == DNSFIX_AAAA)
        a->aaaa++;
}

/* dnsfix_rr_put - one answer record; false when it does not fit */
static bool dnsfix_rr_put(unsigned char *out, size_t *len, int type, const char *addr, uint32_t ttl)
{
    unsigned char rdata[16];
    size_t rlen = type == DNSFIX_AAAA ? 16 : 4;
    unsigned char *p = out + *len;

    if (*len + 12 + rlen > DNSFIX_PACKET_MAX ||
        inet_pton(type == DNSFIX_AAAA ? AF_INET6 : AF_INET, addr, rdata) != 1)
        return false;
    p[0] = 0xc0; /* the name: a pointer to the question's */
    p[1] = 12;
    p[2] = 0;
    p[3] = (unsigned char)type;
    p[4] = 0;
    p[5] = 1;
    p[6] = (unsigned char)(ttl >> 24);
    p[7] = (unsigned char)(ttl >> 16);
    p[8] = (unsigned char)(ttl >> 8);
    p[9] = (unsigned char)ttl;
    p[10] = 0;
    p[11] = (unsigned char)rlen;
    memcpy(p + 12, rdata, rlen);
    *len += 12 + rlen;
    return true;
}

/* dnsfix_wild - whether name falls under the wildcard suffix */
static bool dnsfix_wild(const struct dnsfix *d, const char *name)
{
    size_t n = strlen(name), w = strlen(d->wildcard);

    return w > 0 && n > w && strcasecmp(name + n - w, d->wildcard) == 0;
}

/* dnsfix_answer - the reply to q in out (the question copied already) */
static size_t dnsfix_answer(struct dnsfix *d, const struct dnsfix_query *q, unsigned char *out)
{
    size_t len = q->qend;
    unsigned an = 0;
    bool known = false, wild = dnsfix_wild(d, q->name);

    dnsfix_count(d, q, wild);
    for (size_t i = 0; i < d->nrr; i++) {
        if (strcasecmp(d->rr[i].name, q->name) != 0)
            continue;
        known = true;
        if (d->rr[i].type == q->type &&
            dnsfix_rr_put(out, &len, q->type, d->rr[i].addr, d->rr[i].ttl))
            an++;
    }
    if (wild && q->type == DNSFIX_A &&
        dnsfix_rr_put(out, &len, DNSFIX_A, "127.0.0.1", d->wildcard_ttl))
        an++;
    out[2] = 0x81;                                            /* QR, RD */
    out[3] = (unsigned char)(0x80 | (known || wild ? 0 : 3)); /* RA; NXDOMAIN */
    out[6] = 0;
    out[7] = (unsigned char)an;
    memset(out + 8, 0, 4);
    return len;
}

/* dnsfix_read - every waiting query, answered */
static void dnsfix_read(evutil_socket_t fd, short what, void *arg)
{
    struct dnsfix *d = arg;
    unsigned char in[DNSFIX_PACKET_MAX], out[DNSFIX_PACKET_MAX];
    struct sockaddr_storage from;
    socklen_t flen = sizeof(from);
    struct dnsfix_query q;
    ssize_t n;

    (void)what;
    while ((n = recvfrom(fd, in, sizeof(in), 0, (struct sockaddr *)&from, &flen)) > 0) {
        if (dnsfix_parse(in, (size_t)n, &q) == 0) {
            memcpy(out, in, q.qend);
            size_t len = dnsfix_answer(d, &q, out);
            (void)sendto(fd, out, len, 0, (struct sockaddr *)&from, flen);
        }
        flen = sizeof(from);
    }
}

/* dnsfix_new - a UDP socket on 127.0.0.1, read on the loop */
struct dnsfix *dnsfix_new(struct event_base *base)
{
    struct dnsfix *d = calloc(1, sizeof(*d));
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);

    assert_non_null(d);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    d->base = base;
    d->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(d->fd >= 0);
    assert_int_equal(bind(d->fd, (struct sockaddr *)&sin, len), 0);
    assert_int_equal(getsockname(d->fd, (struct sockaddr *)&sin, &len), 0);
    evutil_make_socket_nonblocking(d->fd);
    d->port = ntohs(sin.sin_port);
    snprintf(d->spec, sizeof(d->spec), "127.0.0.1:%u", (unsigned)d->port);
    d->ev = event_new(base, d->fd, EV_READ | EV_PERSIST, dnsfix_read, d);
    assert_non_null(d->ev);
    event_add(d->ev, NULL);
    return d;
}

/* dnsfix_add - a record of the table */
void dnsfix_add(struct dnsfix *d, const char *name, int type, const char *addr, uint32_t ttl)
{
    assert_true(d->nrr < DNSFIX_RR_MAX);
    struct dnsfix_rr *r = &d->rr[d->nrr++];
    snprintf(r->name, sizeof(r->name), "%s", name);
    r->type = type;
    snprintf(r->addr, sizeof(r->addr), "%s", addr);
    r->ttl = ttl;
}

/* dnsfix_asked - queries for name */
unsigned dnsfix_asked(const struct dnsfix *d, const char *name, int type)
{
    for (size_t i = 0; i < d->nasked; i++) {
        const struct dnsfix_asked *a = &d->asked[i];
        if (strcasecmp(a->name, name) == 0)
            return type == DNSFIX_A ? a->a : type == DNSFIX_AAAA ? a->aaaa : a->a + a->aaaa;
    }
    return 0;
}

/* dnsfix_free - stop and close */
struct dnsfix *dnsfix_free(struct dnsfix *d)
{
    if (d == NULL)
        return NULL;
    event_free(d->ev);
    close(d->fd);
    free(d);
    return NULL;
}
