/*
 * conf_url.c - the NATS server URLs of [shadow] servers (conf_int.h; pure)
 *
 * nats://HOST:PORT or tls://HOST:PORT, HOST an IPv4 literal, an [IPv6]
 * literal or a DNS name, the port always written: the list is kept in one
 * canonical text the shadow module splits at its commas.
 */
#include <stdio.h>
#include <string.h>

#include "conf_int.h"

#define URL_QUOTE 64

/* url_fail - an error message; returns -1 */
static int url_fail(char *err, size_t errlen, const char *what, const char *s, size_t len)
{
    snprintf(err, errlen, "\"%.*s\": %s", (int)(len > URL_QUOTE ? URL_QUOTE : len), s, what);
    return -1;
}

/* url_parse - one URL into out (canonical); 0 or -1 */
static int url_parse(const char *s, size_t len, char *out, size_t cap, char *err, size_t errlen)
{
    static const char *const schemes[] = {"nats://", "tls://"};
    const char *scheme = NULL;

    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
        if (len > strlen(schemes[i]) && strncmp(s, schemes[i], strlen(schemes[i])) == 0)
            scheme = schemes[i];
    if (scheme == NULL)
        return url_fail(err, errlen, "expected nats://HOST:PORT or tls://HOST:PORT", s, len);
    const char *h = s + strlen(scheme);
    size_t hl = len - strlen(scheme);
    struct conf_listen l;
    char hostport[DD_HOSTNAME_MAX + 16];

    if (memchr(h, '/', hl) || memchr(h, '@', hl))
        return url_fail(err, errlen, "no path or credentials in the URL (use user, token_file)", s,
                        len);
    const char *colon = memrchr(h, ':', hl);
    uint16_t port;
    if (colon == NULL || colon == h || (h[0] == '[' && colon[-1] != ']'))
        return url_fail(err, errlen, "expected HOST:PORT after the scheme", s, len);
    if (conf_dest_port_parse(colon + 1, (size_t)(h + hl - colon - 1), &port))
        return url_fail(err, errlen, "port must be 1..65535", s, len);
    if (conf_dest_listen_parse(h, hl, &l, err, errlen) == 0)
        conf_dest_listen_format(&l, hostport, sizeof(hostport));
    else if (h[0] != '[' && conf_dest_dns_name_ok(h, (size_t)(colon - h)))
        snprintf(hostport, sizeof(hostport), "%.*s:%u", (int)(colon - h), h, (unsigned)port);
    else
        return url_fail(err, errlen, "HOST must be an IP address or a domain name", s, len);
    if ((size_t)snprintf(out, cap, "%s%s", scheme, hostport) >= cap)
        return url_fail(err, errlen, "too long", s, len);
    return 0;
}

/* conf_url_list_parse - the comma list, each URL once */
int conf_url_list_parse(const char *v, size_t max, char *canon, size_t cap, size_t *np, char *err,
                        size_t errlen)
{
    const char *p = v, *item;
    size_t len, n = 0, pos = 0;
    char one[DD_HOSTNAME_MAX + 32];

    canon[0] = 0;
    *np = 0;
    if (*v == 0)
        return 0;
    while (p) {
        conf_list_next(&p, &item, &len);
        if (len == 0)
            return url_fail(err, errlen, "empty item in the list", v, strlen(v));
        if (n == max) {
            snprintf(err, errlen, "more than %zu servers", max);
            return -1;
        }
        if (url_parse(item, len, one, sizeof(one), err, errlen) < 0)
            return -1;
        size_t ol = strlen(one);
        for (const char *q = canon; *q;) {
            const char *e = strchr(q, ',');
            size_t ql = e ? (size_t)(e - q) : strlen(q);
            if (ql == ol && memcmp(q, one, ol) == 0)
                return url_fail(err, errlen, "listed twice", item, len);
            q = e ? e + 1 : q + ql;
        }
        if (pos + (n ? 1 : 0) + ol + 1 > cap) {
            snprintf(err, errlen, "the list is longer than %zu octets", cap - 1);
            return -1;
        }
        if (n)
            canon[pos++] = ',';
        memcpy(canon + pos, one, ol + 1);
        pos += ol;
        n++;
    }
    *np = n;
    return 0;
}
