/*
 * resolve.h - host names of destinations to addresses, with evdns
 *
 * Only destinations that name a HOST cause DNS queries; clients are never
 * looked up. Answers are cached for their TTL (at least 1 s, at most 1 h);
 * A and AAAA are both asked, IPv4 addresses first. "system" uses
 * /etc/resolv.conf; "IP:PORT" asks that one server only (tests run one on
 * loopback).
 */
#ifndef DD_RESOLVE_H
#define DD_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bounds.h"

struct event_base;
struct resolver; /* opaque; one owner, resolver_free() */

/* The answer: n addresses with the port set, or n = 0 and error. */
typedef void (*resolve_fn)(void *ctx, const struct sockaddr_storage *addrs, size_t n,
                           const char *error);

/* resolver_new - NULL with a message in err when spec is bad. */
struct resolver *resolver_new(struct event_base *base, const char *spec, char *err, size_t errlen);

/* resolve_host - fn(ctx, ...) later on the loop (or at once from the cache). */
void resolve_host(struct resolver *r, const char *host, uint16_t port, resolve_fn fn, void *ctx);

/* resolver_free - pending lookups are dropped without their callback. */
struct resolver *resolver_free(struct resolver *r);

#endif
