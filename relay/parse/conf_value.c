/*
 * conf_value.c - the value types of the configuration: each one's setter
 * (strict: digits only, names, paths, addresses, networks, enums, every
 * bound checked) and formatter (conf_key.h)
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "conf_key.h"
#include "tls_policy.h"

/* conf_fail - a setter's message; returns -1 */
int conf_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* conf_set_num - digits only: no sign, no blank, no suffix, no overflow */
static int conf_set_num(char *base, const struct conf_key *k, const char *v, char *err,
                        size_t errlen)
{
    uint64_t n = 0;

    if (*v == 0)
        return conf_fail(err, errlen, "empty value, expected a number");
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return conf_fail(err, errlen, "\"%.*s\" is not a number (digits only)", CONF_QUOTE, v);
        if (n > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            return conf_fail(err, errlen, "\"%.*s\" is too large", CONF_QUOTE, v);
        n = n * 10 + (uint64_t)(*p - '0');
    }
    if (n < k->min || n > k->max)
        return conf_fail(err, errlen, "%" PRIu64 " is out of range %" PRIu64 "..%" PRIu64, n,
                         k->min, k->max);
    if (k->size == sizeof(unsigned))
        *(unsigned *)(base + k->off) = (unsigned)n;
    else
        *(uint64_t *)(base + k->off) = n;
    return 0;
}

/* conf_set_enum - one of the key's names, exactly */
static int conf_set_enum(char *base, const struct conf_key *k, const char *v, char *err,
                         size_t errlen)
{
    char list[128];
    size_t n = 0;

    list[0] = 0;
    for (unsigned i = 0; k->names[i] != NULL; i++) {
        if (strcmp(v, k->names[i]) == 0) {
            *(unsigned *)(base + k->off) = i;
            return 0;
        }
        n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s",
                              i ? ", " : "", k->names[i]);
    }
    return conf_fail(err, errlen, "\"%.*s\" is not one of %s", CONF_QUOTE, v, list);
}

/* conf_set_bool - the eight spellings, lowercase */
static int conf_set_bool(char *base, const struct conf_key *k, const char *v, char *err,
                         size_t errlen)
{
    static const char *const yes[] = {"yes", "true", "on", "1"};
    static const char *const no[] = {"no", "false", "off", "0"};

    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcmp(v, yes[i]) == 0 || strcmp(v, no[i]) == 0) {
            *(bool *)(base + k->off) = strcmp(v, yes[i]) == 0;
            return 0;
        }
    }
    return conf_fail(err, errlen, "\"%.*s\" is not a boolean (yes/no/true/false/on/off/1/0)",
                     CONF_QUOTE, v);
}

/* conf_name_ok - [A-Za-z0-9._-]{1,64}: hub and storage group names */
int conf_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > DD_SG_NAME_MAX)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* conf_str_check - the syntax of a string key; 0 or -1 with a message */
static int conf_str_check(const struct conf_key *k, const char *v, char *err, size_t errlen)
{
    size_t n = strlen(v);
    int q = CONF_QUOTE;

    switch (k->type) {
    case CT_NAME:
        if (!conf_name_ok(v))
            return conf_fail(err, errlen, "\"%.*s\": use 1..64 of A-Z a-z 0-9 . _ -", q, v);
        break;
    case CT_HOST:
        if (!conf_dest_dns_name_ok(v, n))
            return conf_fail(err, errlen, "\"%.*s\" is not a valid domain name", q, v);
        break;
    case CT_PATH:
        if (n == 0)
            return conf_fail(err, errlen, "empty path");
        break;
    case CT_HASH:
        if (n != 0 && (n != 64 || strspn(v, "0123456789abcdef") != 64))
            return conf_fail(err, errlen, "expected empty or 64 lowercase hex digits");
        break;
    case CT_OPTHOST:
        if (n != 0 && !conf_dest_dns_name_ok(v, n))
            return conf_fail(err, errlen, "\"%.*s\" is not a valid domain name", q, v);
        break;
    case CT_TEXT:
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)v[i] >= 0x7f)
                return conf_fail(err, errlen, "only printable ASCII is allowed");
        break;
    default:
        break;
    }
    if (n >= k->size)
        return conf_fail(err, errlen, "longer than %zu octets", k->size - 1);
    return 0;
}

/* conf_set_str - a checked string */
static int conf_set_str(char *base, const struct conf_key *k, const char *v, char *err,
                        size_t errlen)
{
    if (conf_str_check(k, v, err, errlen) < 0)
        return -1;
    memcpy(base + k->off, v, strlen(v) + 1);
    return 0;
}

/* conf_set_listen - comma list of distinct IPv4:PORT / [IPv6]:PORT */
static int conf_set_listen(char *base, const struct conf_key *k, const char *v, char *err,
                           size_t errlen)
{
    struct conf_listen l[DD_LISTEN_MAX];
    size_t n;

    if (conf_dest_listen_list_parse(v, l, (size_t)k->max, &n, err, errlen) < 0)
        return -1;
    if (n < k->min)
        return conf_fail(err, errlen, "expected at least %" PRIu64 " address", k->min);
    memcpy(base + k->off, l, n * sizeof(l[0]));
    *(size_t *)(base + k->off2) = n;
    return 0;
}

/* conf_set_nets - a comma list of distinct networks */
static int conf_set_nets(char *base, const struct conf_key *k, const char *v, char *err,
                         size_t errlen)
{
    struct conf_net l[DD_CONF_NETS_MAX];
    size_t n;

    if (conf_net_list_parse(v, l, (size_t)k->max, &n, err, errlen) < 0)
        return -1;
    memcpy(base + k->off, l, n * sizeof(l[0]));
    *(size_t *)(base + k->off2) = n;
    return 0;
}

/* conf_set_urls - NATS server URLs, kept canonical */
static int conf_set_urls(char *base, const struct conf_key *k, const char *v, char *err,
                         size_t errlen)
{
    char canon[DD_CONF_LINE_MAX + 1];
    size_t n;

    if (conf_url_list_parse(v, (size_t)k->max, canon, sizeof(canon), &n, err, errlen) < 0)
        return -1;
    if (strlen(canon) >= k->size)
        return conf_fail(err, errlen, "longer than %zu octets", k->size - 1);
    memcpy(base + k->off, canon, strlen(canon) + 1);
    *(size_t *)(base + k->off2) = n;
    return 0;
}

/* conf_set_resolver - "system" or IP:PORT of a DNS server, kept canonical */
static int conf_set_resolver(char *base, const struct conf_key *k, const char *v, char *err,
                             size_t errlen)
{
    struct conf_listen l;

    if (strcmp(v, "system") == 0) {
        snprintf(base + k->off, k->size, "system");
        return 0;
    }
    if (conf_dest_listen_parse(v, strlen(v), &l, err, errlen) < 0) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (or \"system\")");
        return -1;
    }
    conf_dest_listen_format(&l, base + k->off, k->size);
    return 0;
}

/* conf_set_dest - a destination; its canonical text must fit the text buffer */
static int conf_set_dest(char *base, const struct conf_key *k, const char *v, char *err,
                         size_t errlen)
{
    struct dest d;
    char text[DD_DEST_ADDRS_MAX * (DD_HOSTNAME_MAX + 32)];

    if (*v == 0 && k->min == 0) {
        memset(&d, 0, sizeof(d));
        text[0] = 0;
    } else {
        if (conf_dest_parse(v, &d, err, errlen) < 0)
            return -1;
        conf_dest_format(&d, text, sizeof(text));
        if (strlen(text) >= k->size)
            return conf_fail(err, errlen, "longer than %zu octets", k->size - 1);
    }
    if (k->off != NO_OFF)
        memcpy(base + k->off, &d, sizeof(d));
    memcpy(base + k->off2, text, strlen(text) + 1);
    return 0;
}

/* conf_set_probe - "doveadm:http://IP:PORT", kept canonical */
static int conf_set_probe(char *base, const struct conf_key *k, const char *v, char *err,
                          size_t errlen)
{
    static const char scheme[] = "doveadm:http://";
    struct conf_listen l;
    char canon[96];

    if (strncmp(v, scheme, sizeof(scheme) - 1) != 0)
        return conf_fail(err, errlen, "\"%.*s\": expected doveadm:http://IP:PORT", CONF_QUOTE, v);
    v += sizeof(scheme) - 1;
    if (conf_dest_listen_parse(v, strlen(v), &l, err, errlen) < 0) {
        size_t n = strlen(err);
        snprintf(err + n, errlen - n, " (the probe takes an IP literal: doveadm:http://IP:PORT)");
        return -1;
    }
    conf_dest_listen_format(&l, canon, sizeof(canon));
    snprintf(base + k->off, k->size, "%s%s", scheme, canon);
    memcpy(base + k->off2, &l, sizeof(l));
    return 0;
}

/* conf_fmt_num - decimal */
static void conf_fmt_num(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    uint64_t n = k->size == sizeof(unsigned) ? *(const unsigned *)(base + k->off)
                                             : *(const uint64_t *)(base + k->off);
    snprintf(buf, cap, "%" PRIu64, n);
}

/* conf_fmt_bool - yes or no */
static void conf_fmt_bool(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", *(const bool *)(base + k->off) ? "yes" : "no");
}

/* conf_fmt_enum - the name */
static void conf_fmt_enum(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", k->names[*(const unsigned *)(base + k->off)]);
}

/* conf_fmt_str - as stored */
static void conf_fmt_str(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", base + (k->type == CT_DEST ? k->off2 : k->off));
}

/* conf_fmt_listen - "a:p, [b]:q" */
static void conf_fmt_listen(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    conf_dest_listen_list_format((const struct conf_listen *)(base + k->off),
                                 *(const size_t *)(base + k->off2), buf, cap);
}

/* conf_fmt_nets - "a/p, b/q" */
static void conf_fmt_nets(const char *base, const struct conf_key *k, char *buf, size_t cap)
{
    conf_net_format((const struct conf_net *)(base + k->off), *(const size_t *)(base + k->off2),
                    buf, cap);
}

const struct conf_type_ops conf_ops[] = {
    [CT_NUM] = {conf_set_num, conf_fmt_num},
    [CT_BOOL] = {conf_set_bool, conf_fmt_bool},
    [CT_NAME] = {conf_set_str, conf_fmt_str},
    [CT_HOST] = {conf_set_str, conf_fmt_str},
    [CT_PATH] = {conf_set_str, conf_fmt_str},
    [CT_HASH] = {conf_set_str, conf_fmt_str},
    [CT_LISTEN] = {conf_set_listen, conf_fmt_listen},
    [CT_RESOLVER] = {conf_set_resolver, conf_fmt_str},
    [CT_DEST] = {conf_set_dest, conf_fmt_str},
    [CT_PROBE] = {conf_set_probe, conf_fmt_str},
    [CT_ENUM] = {conf_set_enum, conf_fmt_enum},
    [CT_OPTPATH] = {conf_set_str, conf_fmt_str},
    [CT_OPTHOST] = {conf_set_str, conf_fmt_str},
    [CT_TEXT] = {conf_set_str, conf_fmt_str},
    [CT_NETS] = {conf_set_nets, conf_fmt_nets},
    [CT_URLS] = {conf_set_urls, conf_fmt_str},
};

/* conf_key_has_flag - off2 is the "set in this section" flag of an override */
bool conf_key_has_flag(const struct conf_key *k)
{
    return k->off2 != NO_OFF && k->type != CT_DEST && k->type != CT_LISTEN && k->type != CT_PROBE &&
           k->type != CT_NETS && k->type != CT_URLS;
}

/* How conf_key_info() names each type, for the generated key lists. */
const char *const conf_type_names[] = {
    [CT_NUM] = "number",
    [CT_BOOL] = "boolean",
    [CT_NAME] = "name",
    [CT_HOST] = "host",
    [CT_PATH] = "path",
    [CT_HASH] = "hash",
    [CT_LISTEN] = "listen",
    [CT_RESOLVER] = "resolver",
    [CT_DEST] = "destination",
    [CT_PROBE] = "probe",
    [CT_ENUM] = "enum",
    [CT_OPTPATH] = "optional path",
    [CT_OPTHOST] = "optional host",
    [CT_TEXT] = "text",
    [CT_NETS] = "networks",
    [CT_URLS] = "urls",
};
