/*
 * conf_dest.c - destination syntax, and the address checks the config shares
 *
 * A destination is a comma list of fallback addresses, tried in order:
 * lmtp:[IP]:PORT, smtp:[IP]:PORT, lmtp:HOST:PORT, smtp:HOST:PORT and
 * lmtp:unix:/absolute/path. IPv6 goes in brackets (lmtp:[::1]:2424). A HOST
 * must be a DNS name; an IP address written without brackets is refused so
 * that nobody resolves "10.0.0.1" as a name. Pure: inet_pton/inet_ntop only,
 * no resolver, no I/O.
 */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "conf_int.h"

#define DEST_QUOTE_MAX 80 /* octets of bad input quoted in a message */

/* dest_is_digit - ASCII digit, whatever the locale */
static int dest_is_digit(int ch)
{
    return ch >= '0' && ch <= '9';
}

/* dest_is_alnum - ASCII letter or digit */
static int dest_is_alnum(int ch)
{
    return dest_is_digit(ch) || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* dest_err - format a message into err (which may be NULL) */
static int __attribute__((format(printf, 3, 4)))
dest_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err == NULL || errlen == 0)
        return -1;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* dest_qlen - how much of a bad input to quote in a message */
static int dest_qlen(size_t len)
{
    return len > DEST_QUOTE_MAX ? DEST_QUOTE_MAX : (int)len;
}

/* conf_dest_port_parse - decimal port 1..65535, digits only */
int conf_dest_port_parse(const char *s, size_t len, uint16_t *port)
{
    unsigned long v = 0;

    if (len == 0 || len > 5)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (!dest_is_digit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *port = (uint16_t)v;
    return 0;
}

/* conf_dest_dns_name_ok - LDH host name, RFC 1123 2.1 and RFC 3696 2 */
int conf_dest_dns_name_ok(const char *s, size_t len)
{
    size_t label = 0;
    int all_digits = 1;

    if (len == 0 || len > 253)
        return 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '.') {
            if (label == 0 || s[i - 1] == '-')
                return 0;
            label = 0;
            all_digits = 1;
            continue;
        }
        if (!dest_is_alnum(ch) && ch != '-')
            return 0;
        if (label == 0 && ch == '-')
            return 0;
        if (++label > 63)
            return 0;
        if (!dest_is_digit(ch))
            all_digits = 0;
    }
    /* An empty last label is a trailing dot; an all-digit one is an IP. */
    return label > 0 && s[len - 1] != '-' && !all_digits;
}

/* dest_ip_canon - IP literal s[0..len) of family af (0: either) in inet_ntop form */
static int dest_ip_canon(const char *s, size_t len, int af, char *out, size_t cap)
{
    char tmp[INET6_ADDRSTRLEN + 1];
    unsigned char bin[sizeof(struct in6_addr)];

    if (len == 0 || len >= sizeof(tmp))
        return -1;
    memcpy(tmp, s, len);
    tmp[len] = 0;
    if ((af == 0 || af == AF_INET) && inet_pton(AF_INET, tmp, bin) == 1)
        return inet_ntop(AF_INET, bin, out, (socklen_t)cap) ? 0 : -1;
    if ((af == 0 || af == AF_INET6) && inet_pton(AF_INET6, tmp, bin) == 1)
        return inet_ntop(AF_INET6, bin, out, (socklen_t)cap) ? 0 : -1;
    return -1;
}

/* conf_dest_listen_parse - "IPv4:PORT" or "[IPv6]:PORT" */
int conf_dest_listen_parse(const char *s, size_t len, struct conf_listen *out, char *err,
                           size_t errlen)
{
    const char *colon;
    int ql = dest_qlen(len);

    memset(out, 0, sizeof(*out));
    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (rb == NULL)
            return dest_err(err, errlen, "\"%.*s\": missing ]", ql, s);
        if (dest_ip_canon(s + 1, (size_t)(rb - s - 1), AF_INET6, out->host, sizeof(out->host)))
            return dest_err(err, errlen, "\"%.*s\": bad IPv6 address", ql, s);
        colon = rb + 1;
        if (colon == s + len || *colon != ':')
            return dest_err(err, errlen, "\"%.*s\": expected [IPv6]:PORT", ql, s);
    } else {
        colon = memrchr(s, ':', len);
        if (colon == NULL)
            return dest_err(err, errlen, "\"%.*s\": expected IPv4:PORT or [IPv6]:PORT", ql, s);
        if (memchr(s, ':', (size_t)(colon - s)) != NULL)
            return dest_err(err, errlen, "\"%.*s\": IPv6 addresses go in brackets", ql, s);
        if (dest_ip_canon(s, (size_t)(colon - s), AF_INET, out->host, sizeof(out->host)))
            return dest_err(err, errlen, "\"%.*s\": bad IPv4 address", ql, s);
    }
    if (conf_dest_port_parse(colon + 1, (size_t)(s + len - colon - 1), &out->port))
        return dest_err(err, errlen, "\"%.*s\": port must be 1..65535", ql, s);
    return 0;
}

/* conf_dest_listen_format - brackets for IPv6 */
void conf_dest_listen_format(const struct conf_listen *l, char *buf, size_t cap)
{
    if (strchr(l->host, ':') != NULL)
        snprintf(buf, cap, "[%s]:%u", l->host, (unsigned)l->port);
    else
        snprintf(buf, cap, "%s:%u", l->host, (unsigned)l->port);
}

/* conf_dest_listen_list_parse - comma list of at most max distinct listen addresses */
int conf_dest_listen_list_parse(const char *v, struct conf_listen *l, size_t max, size_t *np,
                                char *err, size_t errlen)
{
    size_t n = 0, len;
    const char *s;

    for (const char *p = v; p != NULL;) {
        conf_list_next(&p, &s, &len);
        if (len == 0 && p == NULL && n == 0)
            break; /* an empty value: no address */
        if (len == 0)
            return dest_err(err, errlen, "empty address in list");
        if (n == max)
            return dest_err(err, errlen, "more than %zu addresses", max);
        if (conf_dest_listen_parse(s, len, &l[n], err, errlen) < 0)
            return -1;
        for (size_t i = 0; i < n; i++)
            if (strcmp(l[i].host, l[n].host) == 0 && l[i].port == l[n].port)
                return dest_err(err, errlen, "%.*s listed twice", dest_qlen(len), s);
        n++;
    }
    *np = n;
    return 0;
}

/* conf_dest_listen_list_format - "a:p, [b]:q", truncated past cap */
void conf_dest_listen_list_format(const struct conf_listen *l, size_t n, char *buf, size_t cap)
{
    size_t pos = 0;

    if (cap == 0)
        return;
    buf[0] = 0;
    for (size_t i = 0; i < n && pos + 1 < cap; i++) {
        if (i > 0)
            pos += strlen(strncat(buf + pos, ", ", cap - pos - 1));
        if (pos + 1 < cap)
            conf_dest_listen_format(&l[i], buf + pos, cap - pos);
        pos += strlen(buf + pos);
    }
}

/* dest_parse_unix - "/path" of lmtp:unix:/path; sun_path holds it with its NUL */
static const char *dest_parse_unix(const char *s, size_t len, struct dest_addr *a)
{
    if (a->proto != DEST_LMTP)
        return "unix sockets are for lmtp only";
    if (len == 0 || s[0] != '/')
        return "socket path must be absolute";
    if (len >= sizeof(a->path))
        return "socket path longer than 107 octets";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return "blank or control character in socket path";
    a->kind = DEST_UNIX;
    memcpy(a->path, s, len);
    a->path[len] = 0;
    return NULL;
}

/* dest_parse_host - "HOST:PORT": a DNS name; an IPv4 address wants brackets */
static const char *dest_parse_host(const char *s, size_t len, struct dest_addr *a,
                                   const char **colon)
{
    char ip[INET6_ADDRSTRLEN];

    if ((*colon = memrchr(s, ':', len)) == NULL)
        return "missing :PORT";
    size_t hlen = (size_t)(*colon - s);
    if (memchr(s, ':', hlen) != NULL)
        return "IPv6 addresses go in brackets: [IPv6]:PORT";
    if (dest_ip_canon(s, hlen, AF_INET, ip, sizeof(ip)) == 0)
        return "write an IP address in brackets: [IP]:PORT";
    if (!conf_dest_dns_name_ok(s, hlen))
        return "bad host name";
    memcpy(a->host, s, hlen);
    a->host[hlen] = 0;
    a->kind = DEST_HOST;
    return NULL;
}

/* dest_parse_inet - "[IP]:PORT" or "HOST:PORT" */
static const char *dest_parse_inet(const char *s, size_t len, struct dest_addr *a)
{
    const char *colon, *msg;

    if (len > 0 && s[0] == '[') {
        const char *rb = memchr(s, ']', len);
        if (rb == NULL)
            return "missing ]";
        if (dest_ip_canon(s + 1, (size_t)(rb - s - 1), 0, a->host, sizeof(a->host)))
            return "bad IP address in brackets";
        colon = rb + 1;
        if (colon == s + len || *colon != ':')
            return "expected [IP]:PORT";
        a->kind = DEST_IP;
    } else if ((msg = dest_parse_host(s, len, a, &colon)) != NULL) {
        return msg;
    }
    if (conf_dest_port_parse(colon + 1, (size_t)(s + len - colon - 1), &a->port))
        return "port must be 1..65535";
    return NULL;
}

/* dest_parse_one - one address of the list, already trimmed */
static int dest_parse_one(const char *s, size_t len, struct dest_addr *a, char *err, size_t errlen)
{
    const char *msg;

    memset(a, 0, sizeof(*a));
    if (len >= 5 && strncasecmp(s, "lmtp:", 5) == 0)
        a->proto = DEST_LMTP;
    else if (len >= 5 && strncasecmp(s, "smtp:", 5) == 0)
        a->proto = DEST_SMTP;
    else
        return dest_err(err, errlen, "\"%.*s\": expected lmtp: or smtp:", dest_qlen(len), s);
    if (len >= 10 && memcmp(s + 5, "unix:", 5) == 0)
        msg = dest_parse_unix(s + 10, len - 10, a);
    else
        msg = dest_parse_inet(s + 5, len - 5, a);
    if (msg != NULL)
        return dest_err(err, errlen, "\"%.*s\": %s", dest_qlen(len), s, msg);
    return 0;
}

/* conf_dest_parse - the comma list; whitespace around commas is allowed */
int conf_dest_parse(const char *s, struct dest *out, char *err, size_t errlen)
{
    const char *item;
    size_t len;

    memset(out, 0, sizeof(*out));
    for (const char *p = s; p != NULL;) {
        conf_list_next(&p, &item, &len);
        if (len == 0)
            return dest_err(err, errlen, "%s",
                            out->n == 0 && p == NULL ? "empty destination"
                                                     : "empty address in list");
        if (out->n == DD_DEST_ADDRS_MAX)
            return dest_err(err, errlen, "more than %d addresses", DD_DEST_ADDRS_MAX);
        if (dest_parse_one(item, len, &out->addr[out->n], err, errlen) < 0)
            return -1;
        out->n++;
    }
    return 0;
}

/* dest_addr_format - one address in canonical form */
static int dest_addr_format(const struct dest_addr *a, char *buf, size_t cap)
{
    const char *proto = a->proto == DEST_LMTP ? "lmtp" : "smtp";

    switch (a->kind) {
    case DEST_UNIX:
        return snprintf(buf, cap, "%s:unix:%s", proto, a->path);
    case DEST_IP:
        return snprintf(buf, cap, "%s:[%s]:%u", proto, a->host, (unsigned)a->port);
    case DEST_HOST:
    default:
        return snprintf(buf, cap, "%s:%s:%u", proto, a->host, (unsigned)a->port);
    }
}

/* conf_dest_format - addresses joined by ", "; truncated (NUL-terminated) past cap */
void conf_dest_format(const struct dest *d, char *buf, size_t cap)
{
    size_t pos = 0;

    if (cap == 0)
        return;
    buf[0] = 0;
    for (size_t i = 0; i < d->n && i < DD_DEST_ADDRS_MAX && pos + 1 < cap; i++) {
        int n = 0;
        if (i > 0)
            n = snprintf(buf + pos, cap - pos, ", ");
        if (n >= 0 && (size_t)n < cap - pos)
            pos += (size_t)n;
        else
            return;
        n = dest_addr_format(&d->addr[i], buf + pos, cap - pos);
        if (n < 0 || (size_t)n >= cap - pos)
            return;
        pos += (size_t)n;
    }
}
