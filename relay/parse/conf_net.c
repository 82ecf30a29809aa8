/*
 * conf_net.c - network lists of the configuration: "192.0.2.0/24, 2001:db8::/32"
 *
 * A list is comma-separated networks, each an IPv4 or IPv6 address with an
 * optional /prefix (none: the one host), IPv6 also as "[2001:db8::]/32" the
 * way Postfix's mynetworks writes it. A network with bits set past its
 * prefix is an error (did "10.1.2.3/8" mean 10.0.0.0/8 or the host?), as
 * are a duplicate, an empty item and a list longer than DD_CONF_NETS_MAX.
 * A client matches by its IP text as the hub logs it; an IPv4-mapped IPv6
 * client (::ffff:192.0.2.1, a dual-stack listener) matches as its IPv4
 * address. Pure: inet_pton/inet_ntop only.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"

/* net_mask_ok - no bit of a[0..16) is set past the first prefix bits of len octets */
static bool net_mask_ok(const unsigned char *a, size_t len, unsigned prefix)
{
    for (size_t bit = prefix; bit < len * 8; bit++)
        if (a[bit / 8] & (0x80u >> (bit % 8)))
            return false;
    return true;
}

/* net_prefix - the digits after '/': 0..max; -1 when bad */
static int net_prefix(const char *s, size_t n, unsigned max)
{
    unsigned v = 0;

    if (n == 0 || n > 3)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || (i == 0 && s[i] == '0' && n > 1))
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    return v <= max ? (int)v : -1;
}

/* net_clear_host - the network of a: the bits past its prefix cleared */
static void net_clear_host(struct conf_net *a)
{
    for (size_t bit = a->prefix; bit < (a->v6 ? 128u : 32u); bit++)
        a->addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
}

/* conf_net_parse - one network s[0..n): IP, IP/PREFIX, [IPv6]/PREFIX; 0, or -1 with err */
static int conf_net_parse(const char *s, size_t n, struct conf_net *out, char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', n), *a = s;
    size_t alen = slash ? (size_t)(slash - s) : n;
    int q = (int)(n > 64 ? 64 : n);
    char ip[64];

    if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
        a++;
        alen -= 2;
        if (memchr(a, ':', alen) == NULL) {
            snprintf(err, errlen, "\"%.*s\": brackets are for IPv6 only", q, s);
            return -1;
        }
    }
    if (alen == 0 || alen >= sizeof(ip)) {
        snprintf(err, errlen, "\"%.*s\" is not a network (IP or IP/PREFIX)", q, s);
        return -1;
    }
    memcpy(ip, a, alen);
    ip[alen] = 0;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, ip, out->addr) == 1)
        out->v6 = false;
    else if (inet_pton(AF_INET6, ip, out->addr) == 1)
        out->v6 = true;
    else {
        snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", ip);
        return -1;
    }
    unsigned max = out->v6 ? 128 : 32;
    int prefix = slash ? net_prefix(slash + 1, (size_t)(s + n - slash - 1), max) : (int)max;
    if (prefix < 0) {
        snprintf(err, errlen, "\"%.*s\": the prefix must be 0..%u", q, s, max);
        return -1;
    }
    out->prefix = (unsigned)prefix;
    if (!net_mask_ok(out->addr, out->v6 ? 16 : 4, out->prefix)) {
        struct conf_net fixed = *out;
        char canon[96];
        net_clear_host(&fixed);
        conf_net_format(&fixed, 1, canon, sizeof(canon));
        snprintf(err, errlen, "\"%.*s\" has host bits set past the prefix (did you mean %s?)", q, s,
                 canon);
        return -1;
    }
    return 0;
}

/* conf_net_list_parse - comma list of distinct networks */
int conf_net_list_parse(const char *v, struct conf_net *l, size_t max, size_t *np, char *err,
                        size_t errlen)
{
    size_t n = 0;

    *np = 0;
    if (*v == 0)
        return 0;
    for (const char *p = v, *s; p != NULL;) {
        size_t len;

        conf_list_next(&p, &s, &len);
        if (len == 0) {
            snprintf(err, errlen, "empty item in the network list");
            return -1;
        }
        if (n == max) {
            snprintf(err, errlen, "more than %zu networks", max);
            return -1;
        }
        if (conf_net_parse(s, len, &l[n], err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (memcmp(&l[i], &l[n], sizeof(l[n])) == 0) {
                snprintf(err, errlen, "\"%.*s\" is listed twice", (int)(len > 64 ? 64 : len), s);
                return -1;
            }
        }
        n++;
    }
    *np = n;
    return 0;
}

/* conf_net_format - "192.0.2.0/24, 2001:db8::/32" (NUL-terminated, cut past cap) */
void conf_net_format(const struct conf_net *l, size_t n, char *buf, size_t cap)
{
    size_t used = 0;

    if (cap == 0)
        return;
    buf[0] = 0;
    for (size_t i = 0; i < n && used < cap; i++) {
        char ip[64];
        if (inet_ntop(l[i].v6 ? AF_INET6 : AF_INET, l[i].addr, ip, sizeof(ip)) == NULL)
            snprintf(ip, sizeof(ip), "?");
        int w = snprintf(buf + used, cap - used, "%s%s/%u", i ? ", " : "", ip, l[i].prefix);
        used += w < 0 ? cap : (size_t)w;
    }
}

/* net_in - a (v6 or v4) is inside network net */
static bool net_in(const struct conf_net *net, const unsigned char *a, bool v6)
{
    unsigned full = net->prefix / 8, rest = net->prefix % 8;

    if (net->v6 != v6)
        return false;
    if (memcmp(net->addr, a, full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xffu << (8 - rest));
    return (net->addr[full] & mask) == (a[full] & mask);
}

/* conf_net_match - the client's IP (as text) is inside one of the networks */
bool conf_net_match(const struct conf_net *l, size_t n, const char *ip)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned char a[16];
    bool v6;

    if (ip == NULL || n == 0)
        return false;
    if (inet_pton(AF_INET, ip, a) == 1)
        v6 = false;
    else if (inet_pton(AF_INET6, ip, a) == 1)
        v6 = true;
    else
        return false;
    if (v6 && memcmp(a, mapped, sizeof(mapped)) == 0) { /* ::ffff:a.b.c.d */
        memmove(a, a + 12, 4);
        v6 = false;
    }
    for (size_t i = 0; i < n; i++)
        if (net_in(&l[i], a, v6))
            return true;
    return false;
}
