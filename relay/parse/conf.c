/*
 * conf.c - the strict INI configuration of dumpsterd (SPEC section 3)
 *
 * Every key is described once, in conf_keys[] (and conf_sg_keys[] for the
 * keys of a [storage_group NAME] section): section, name, type, where the
 * value lives, its hard range and its default. conf_init() applies the
 * defaults through the same setters that parse the file, and
 * conf_print_nondefault() formats both sides the same way, so a key cannot
 * be parsed one way and printed another.
 *
 * Parsing is pure: bytes in, a struct conf or error lines (file:line) out.
 * Nothing is ignored silently: unknown sections and keys, duplicates, lines
 * over DD_CONF_LINE_MAX octets (found without reading on past them), control
 * characters, bad numbers, values out of range and inconsistent pairs of
 * keys are all errors. ';' and '#' start a comment at the start of a line or
 * after whitespace, so "a#b" is a value and "a #b" is "a".
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conf_int.h"
#include "tls_policy.h"

#define NO_OFF ((size_t)-1)
#define MIB (1024ULL * 1024)
#define GIB (1024ULL * MIB)
#define TIB (1024ULL * GIB)
#define DAY 86400ULL
#define CONF_QUOTE 64                       /* octets of a bad value quoted in a message */
#define CONF_FMT_MAX (DD_PATHNAME_MAX + 64) /* a value as text */

enum conf_sec {
    SEC_NONE,
    SEC_HUB,
    SEC_SMTP,
    SEC_ADMIN,
    SEC_DELIVERY,
    SEC_DUMPSTER,
    SEC_DIRECTORY,
    SEC_SG,   /* [storage_group NAME], once per name */
    SEC_SKIP, /* after a bad section header: its keys are not checked */
};

/* clang-format off */
static const char *const conf_sec_names[] = {
    "", "hub", "smtp", "admin", "delivery", "dumpster", "directory", "storage_group", "",
};
/* clang-format on */

enum conf_type {
    CT_NUM,      /* unsigned or uint64_t (by size), digits only, min..max */
    CT_BOOL,     /* yes/no/true/false/on/off/1/0 */
    CT_NAME,     /* [A-Za-z0-9._-]{1,64} */
    CT_HOST,     /* a DNS name */
    CT_PATH,     /* a non-empty path */
    CT_HASH,     /* "" or 64 lowercase hex digits */
    CT_LISTEN,   /* comma list of IPv4:PORT / [IPv6]:PORT, min..max items */
    CT_RESOLVER, /* "system" or IP:PORT */
    CT_DEST,     /* a destination, min..max addresses; text in off2 */
    CT_PROBE,    /* "doveadm:http://IP:PORT"; the address in off2 */
    CT_ENUM,     /* one of names[], stored as its index (unsigned) */
    CT_OPTPATH,  /* "" or a path */
    CT_OPTHOST,  /* "" or a DNS name */
    CT_TEXT,     /* printable text, "" allowed (an OpenSSL cipher list) */
    CT_NETS,     /* comma list of IP[/PREFIX], 0..max items; the count in off2 */
};

/* [smtp] bare_newline, by enum conf_bare_newline */
static const char *const conf_bare_newline_names[] = {"reject", "normalize", NULL};

/*
 * One key. off: the value; off2: the count (CT_LISTEN, CT_NETS), the text (CT_DEST)
 * or the "has" flag of a storage group override (other types); size: the
 * buffer or integer size; def: the default as it would be written in the
 * file; names: the values of a CT_ENUM.
 */
struct conf_key {
    enum conf_sec sec;
    const char *name;
    enum conf_type type;
    size_t off;
    size_t off2;
    size_t size;
    uint64_t min;
    uint64_t max;
    const char *def;
    const char *const *names;
};

#define CF(m) offsetof(struct conf, m)
#define CS(m) sizeof(((struct conf *)0)->m)
#define SF(m) offsetof(struct conf_sg, m)
#define SS(m) sizeof(((struct conf_sg *)0)->m)
/* clang-format off */
#define NUM(S, s, f, lo, hi, d) {S, #f, CT_NUM, CF(s.f), NO_OFF, CS(s.f), lo, hi, d, NULL}
#define STR(S, s, f, t, d) {S, #f, t, CF(s.f), NO_OFF, CS(s.f), 0, 0, d, NULL}
#define LISTEN(S, s, d) {S, "listen", CT_LISTEN, CF(s.listen), CF(s.nlisten), 0, 1, DD_LISTEN_MAX, d, NULL}
#define ENUM(S, s, f, n, d) {S, #f, CT_ENUM, CF(s.f), NO_OFF, CS(s.f), 0, 0, d, n}
#define DTLS(f, t, d) {SEC_DELIVERY, #f, t, CF(delivery.tls.f), NO_OFF, CS(delivery.tls.f), 0, 0, d, NULL}
#define SGTLS(f, t) {SEC_SG, #f, t, SF(tls.f), SF(has_##f), SS(tls.f), 0, 0, NULL, NULL}
/* clang-format on */

static const struct conf_key conf_keys[] = {
    STR(SEC_HUB, hub, name, CT_NAME, "hub1"),
    STR(SEC_HUB, hub, data_dir, CT_PATH, "./var"),
    STR(SEC_HUB, hub, user, CT_NAME, "dumpsterd"),
    LISTEN(SEC_SMTP, smtp, "127.0.0.1:2525"),
    STR(SEC_SMTP, smtp, hostname, CT_HOST, "hub1.example.test"),
    STR(SEC_SMTP, smtp, banner_version, CT_BOOL, "no"),
    NUM(SEC_SMTP, smtp, max_message_size, 1024, 2 * GIB, "36700160"),
    NUM(SEC_SMTP, smtp, max_recipients, 1, 100000, "1000"),
    NUM(SEC_SMTP, smtp, max_connections, 1, 100000, "2000"),
    NUM(SEC_SMTP, smtp, max_connections_per_ip, 1, 100000, "200"),
    NUM(SEC_SMTP, smtp, command_timeout, 1, 3600, "300"),
    NUM(SEC_SMTP, smtp, data_timeout, 1, DAY, "1800"),
    NUM(SEC_SMTP, smtp, max_errors, 1, 1000, "10"),
    NUM(SEC_SMTP, smtp, greet_pause_ms, 0, 60000, "0"),
    NUM(SEC_SMTP, smtp, max_received_headers, 1, 1000, "50"),
    ENUM(SEC_SMTP, smtp, bare_newline, conf_bare_newline_names, "reject"),
    {SEC_SMTP, "bare_newline_exclusions", CT_NETS, CF(smtp.bare_newline_exclusions),
     CF(smtp.nbare_newline_exclusions), 0, 0, DD_CONF_NETS_MAX, "", NULL},
    ENUM(SEC_SMTP, smtp, tls, tls_in_level_names, "may"),
    STR(SEC_SMTP, smtp, tls_cert_file, CT_OPTPATH, ""),
    STR(SEC_SMTP, smtp, tls_key_file, CT_OPTPATH, ""),
    ENUM(SEC_SMTP, smtp, tls_min_protocol, tls_version_names, "TLSv1.2"),
    STR(SEC_SMTP, smtp, tls_ciphers, CT_TEXT, ""),
    NUM(SEC_SMTP, smtp, tls_handshake_timeout, 1, 3600, "30"),
    LISTEN(SEC_ADMIN, admin, "127.0.0.1:8025"),
    STR(SEC_ADMIN, admin, token_hash, CT_HASH, ""),
    STR(SEC_ADMIN, admin, public_reads, CT_BOOL, "yes"),
    NUM(SEC_ADMIN, admin, max_connections, 1, 10000, "64"),
    NUM(SEC_ADMIN, admin, request_timeout, 1, 3600, "10"),
    STR(SEC_ADMIN, admin, tls_cert_file, CT_OPTPATH, ""),
    STR(SEC_ADMIN, admin, tls_key_file, CT_OPTPATH, ""),
    NUM(SEC_DELIVERY, delivery, concurrency_per_destination, 1, 10000, "20"),
    NUM(SEC_DELIVERY, delivery, retry_initial, 1, DAY, "30"),
    NUM(SEC_DELIVERY, delivery, retry_max, 1, 7 * DAY, "900"),
    NUM(SEC_DELIVERY, delivery, max_queue_lifetime, 1, 30 * DAY, "172800"),
    NUM(SEC_DELIVERY, delivery, connect_timeout, 1, 3600, "30"),
    {SEC_DELIVERY, "smarthost", CT_DEST, NO_OFF, CF(delivery.smarthost), CS(delivery.smarthost), 0,
     DD_DEST_ADDRS_MAX, "", NULL},
    STR(SEC_DELIVERY, delivery, resolver, CT_RESOLVER, "system"),
    {SEC_DELIVERY, "tls", CT_ENUM, CF(delivery.tls.tls), NO_OFF, CS(delivery.tls.tls), 0, 0, "may",
     tls_out_level_names},
    DTLS(tls_ca_file, CT_OPTPATH, ""),
    DTLS(tls_verify_name, CT_OPTHOST, ""),
    DTLS(tls_client_cert_file, CT_OPTPATH, ""),
    DTLS(tls_client_key_file, CT_OPTPATH, ""),
    NUM(SEC_DUMPSTER, dumpster, max_age, 0, 365 * DAY, "604800"),
    NUM(SEC_DUMPSTER, dumpster, max_size, 0, TIB, "18874368"),
    NUM(SEC_DUMPSTER, dumpster, resubmit_rate, 0, 1000000, "1000"),
    STR(SEC_DIRECTORY, directory, file, CT_PATH, "conf/directory.tsv"),
};
#define CONF_NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))
_Static_assert(CONF_NKEYS <= CONF_KEYS_MAX, "struct conf key_line[] is too small");

/* [storage_group NAME]: max_size and max_age default to the [dumpster]
 * ones, the TLS keys to the [delivery] ones. */
static const struct conf_key conf_sg_keys[] = {
    {SEC_SG, "destination", CT_DEST, SF(dest), SF(dest_text), SS(dest_text), 1, DD_DEST_ADDRS_MAX,
     NULL, NULL},
    {SEC_SG, "max_size", CT_NUM, SF(max_size), SF(has_max_size), SS(max_size), 0, TIB, NULL, NULL},
    {SEC_SG, "max_age", CT_NUM, SF(max_age), SF(has_max_age), SS(max_age), 0, 365 * DAY, NULL,
     NULL},
    {SEC_SG, "probe", CT_PROBE, SF(probe), SF(probe_addr), SS(probe), 0, 0, NULL, NULL},
    {SEC_SG, "probe_key_file", CT_PATH, SF(probe_key_file), NO_OFF, SS(probe_key_file), 0, 0,
     NULL, NULL},
    {SEC_SG, "tls", CT_ENUM, SF(tls.tls), SF(has_tls), SS(tls.tls), 0, 0, NULL,
     tls_out_level_names},
    SGTLS(tls_ca_file, CT_OPTPATH),
    SGTLS(tls_verify_name, CT_OPTHOST),
    SGTLS(tls_client_cert_file, CT_OPTPATH),
    SGTLS(tls_client_key_file, CT_OPTPATH),
};
#define CONF_SG_NKEYS (sizeof(conf_sg_keys) / sizeof(conf_sg_keys[0]))
#define CONF_SG_DEST 0      /* index of destination in conf_sg_keys[] */
#define CONF_SG_PROBE 3     /* of probe */
#define CONF_SG_PROBE_KEY 4 /* of probe_key_file */
_Static_assert(CONF_SG_NKEYS <= CONF_SG_KEYS_MAX, "struct conf_sg key_line[] is too small");

struct conf_parse_state {
    struct conf *c;
    const char *file;
    struct conf_errors *errs;
    unsigned lineno;
    enum conf_sec sec;
    size_t sg_idx;                       /* SEC_SG: the section's storage group */
    unsigned sec_line[SEC_SG];           /* where each global section started */
    unsigned key_line[CONF_NKEYS];       /* where each key was set, 0: not set */
    bool key_bad[CONF_NKEYS];            /* set, but to a bad value */
    unsigned sg_key_line[CONF_SG_NKEYS]; /* the same, in the current storage group */
    bool sg_key_bad[CONF_SG_NKEYS];
};

/* conf_is_ws - blank */
static int conf_is_ws(int ch)
{
    return ch == ' ' || ch == '\t';
}

/* conf_trim - strip blanks at both ends, in place */
static char *conf_trim(char *s)
{
    while (conf_is_ws((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && conf_is_ws((unsigned char)s[n - 1]))
        s[--n] = 0;
    return s;
}

/* conf_strip_comment - cut at ';' or '#' that starts s or follows a blank */
static void conf_strip_comment(char *s)
{
    for (size_t i = 0; s[i]; i++) {
        if ((s[i] == ';' || s[i] == '#') && (i == 0 || conf_is_ws((unsigned char)s[i - 1]))) {
            s[i] = 0;
            return;
        }
    }
}

/* conf_err_at - an error at a line of the file; returns -1 */
static int __attribute__((format(printf, 3, 4)))
conf_err_at(struct conf_parse_state *st, unsigned line, const char *fmt, ...)
{
    char msg[sizeof(st->errs->e[0].msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_error_add(st->errs, st->file, line, "%s", msg);
    return -1;
}
#define conf_err(st, ...) conf_err_at((st), (st)->lineno, __VA_ARGS__)

/* conf_fail - a setter's message; returns -1 */
static int __attribute__((format(printf, 3, 4)))
conf_fail(char *err, size_t errlen, const char *fmt, ...)
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
static int conf_name_ok(const char *s)
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

typedef int conf_set_fn(char *, const struct conf_key *, const char *, char *, size_t);
typedef void conf_fmt_fn(const char *, const struct conf_key *, char *, size_t);

static const struct conf_type_ops {
    conf_set_fn *set;
    conf_fmt_fn *fmt;
} conf_ops[] = {
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
};

/* conf_key_has_flag - off2 is the "set in this section" flag of an override */
static bool conf_key_has_flag(const struct conf_key *k)
{
    return k->off2 != NO_OFF && k->type != CT_DEST && k->type != CT_LISTEN && k->type != CT_PROBE &&
           k->type != CT_NETS;
}

/* How conf_key_info() names each type, for the generated key lists. */
static const char *const conf_type_names[] = {
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
};

/* conf_key_info - key i of conf_keys[], then of conf_sg_keys[] */
bool conf_key_info(size_t i, struct conf_key_info *out)
{
    const struct conf_key *k;

    if (i < CONF_NKEYS) {
        k = &conf_keys[i];
        out->section = conf_sec_names[k->sec];
    } else if (i - CONF_NKEYS < CONF_SG_NKEYS) {
        k = &conf_sg_keys[i - CONF_NKEYS];
        out->section = "storage_group NAME";
    } else
        return false;
    out->name = k->name;
    out->type = conf_type_names[k->type];
    out->min = k->min;
    out->max = k->max;
    out->def = k->def;
    out->names = k->type == CT_ENUM ? k->names : NULL;
    return true;
}

/* conf_init - every default, through the setters the parser uses */
void conf_init(struct conf *c)
{
    char err[256];

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_keys[i];
        if (conf_ops[k->type].set((char *)c, k, k->def, err, sizeof(err)) < 0) {
            fprintf(stderr, "conf_init: bad default %s.%s: %s\n", conf_sec_names[k->sec], k->name,
                    err);
            abort();
        }
    }
}

/* conf_free - the storage group array */
void conf_free(struct conf *c)
{
    free(c->sg);
    c->sg = NULL;
    c->nsg = 0;
}

/* conf_sg_find - linear: a config holds at most DD_SG_MAX groups */
const struct conf_sg *conf_sg_find(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nsg; i++)
        if (strcmp(c->sg[i].name, name) == 0)
            return &c->sg[i];
    return NULL;
}

/* conf_sec_label - "[smtp]" or "[storage_group SG1]" for messages */
static const char *conf_sec_label(const struct conf_parse_state *st, char *buf, size_t cap)
{
    if (st->sec == SEC_SG)
        snprintf(buf, cap, "[storage_group %s]", st->c->sg[st->sg_idx].name);
    else
        snprintf(buf, cap, "[%s]", conf_sec_names[st->sec]);
    return buf;
}

/* conf_section_end - a storage group must have said where its mail goes */
static void conf_section_end(struct conf_parse_state *st)
{
    if (st->sec == SEC_SG) {
        struct conf_sg *sg = &st->c->sg[st->sg_idx];
        memcpy(sg->key_line, st->sg_key_line, sizeof(st->sg_key_line));
        if (st->sg_key_line[CONF_SG_DEST] == 0)
            conf_err_at(st, sg->line, "storage group \"%s\" has no destination", sg->name);
    }
    if (st->sec == SEC_SG &&
        !st->sg_key_line[CONF_SG_PROBE] != !st->sg_key_line[CONF_SG_PROBE_KEY]) {
        unsigned line = st->sg_key_line[CONF_SG_PROBE] ? st->sg_key_line[CONF_SG_PROBE]
                                                       : st->sg_key_line[CONF_SG_PROBE_KEY];
        conf_err_at(st, line,
                    "probe and probe_key_file go together (the doveadm API key is read"
                    " from probe_key_file, never written in the configuration)");
    }
    st->sec = SEC_SKIP;
    memset(st->sg_key_line, 0, sizeof(st->sg_key_line));
    memset(st->sg_key_bad, 0, sizeof(st->sg_key_bad));
}

/* conf_section_sg - [storage_group NAME]: a new group, once per name */
static int conf_section_sg(struct conf_parse_state *st, const char *name)
{
    struct conf *c = st->c;
    const struct conf_sg *old;

    if (*name == 0)
        return conf_err(st, "[storage_group] needs a name: [storage_group NAME]");
    if (!conf_name_ok(name))
        return conf_err(st, "bad storage group name \"%.*s\": use 1..64 of A-Z a-z 0-9 . _ -",
                        CONF_QUOTE, name);
    if ((old = conf_sg_find(c, name)) != NULL)
        return conf_err(st, "duplicate section [storage_group %s] (first at line %u)", name,
                        old->line);
    if (c->nsg >= DD_SG_MAX)
        return conf_err(st, "more than %d storage groups", DD_SG_MAX);
    if ((c->nsg & (c->nsg - 1)) == 0) { /* 0 or a power of two: the array is full */
        size_t cap = c->nsg ? 2 * c->nsg : 1;
        struct conf_sg *grown = realloc(c->sg, cap * sizeof(*grown));
        if (grown == NULL)
            return conf_err(st, "out of memory");
        c->sg = grown;
    }
    struct conf_sg *sg = &c->sg[c->nsg];
    memset(sg, 0, sizeof(*sg));
    snprintf(sg->name, sizeof(sg->name), "%s", name);
    sg->line = st->lineno;
    st->sg_idx = c->nsg++;
    st->sec = SEC_SG;
    return 0;
}

/* conf_section - a section header; on error its keys are skipped */
static int conf_section(struct conf_parse_state *st, char *s)
{
    conf_section_end(st);
    conf_strip_comment(s);
    s = conf_trim(s);
    size_t len = strlen(s);
    if (len < 2 || s[len - 1] != ']')
        return conf_err(st, "section header must end with ]");
    s[len - 1] = 0;
    char *name = conf_trim(s + 1);
    for (int i = SEC_HUB; i < SEC_SG; i++) {
        if (strcmp(name, conf_sec_names[i]) != 0)
            continue;
        if (st->sec_line[i] != 0)
            return conf_err(st, "duplicate section [%s] (first at line %u)", name, st->sec_line[i]);
        st->sec_line[i] = st->lineno;
        st->sec = (enum conf_sec)i;
        return 0;
    }
    if (strncmp(name, "storage_group", 13) == 0 && (name[13] == 0 || conf_is_ws(name[13])))
        return conf_section_sg(st, conf_trim(name + 13));
    return conf_err(st, "unknown section [%.*s]", CONF_QUOTE, name);
}

/* conf_key_find - the key of the current section, with its line and bad slots */
static const struct conf_key *conf_key_find(struct conf_parse_state *st, const char *name,
                                            unsigned **line, bool **bad)
{
    bool sg = st->sec == SEC_SG;
    const struct conf_key *keys = sg ? conf_sg_keys : conf_keys;
    size_t n = sg ? CONF_SG_NKEYS : CONF_NKEYS;

    for (size_t i = 0; i < n; i++) {
        if (keys[i].sec == st->sec && strcmp(keys[i].name, name) == 0) {
            *line = sg ? &st->sg_key_line[i] : &st->key_line[i];
            *bad = sg ? &st->sg_key_bad[i] : &st->key_bad[i];
            return &keys[i];
        }
    }
    return NULL;
}

/* conf_keyval - "key = value [comment]" */
static int conf_keyval(struct conf_parse_state *st, char *s)
{
    char label[DD_SG_NAME_MAX + 32];
    char err[200];
    unsigned *line;
    bool *bad;

    if (st->sec == SEC_SKIP)
        return 0;
    char *eq = strchr(s, '=');
    if (eq == NULL)
        return conf_err(st, "expected \"key = value\", a [section] or a comment");
    *eq = 0;
    char *key = conf_trim(s);
    char *val = eq + 1;
    conf_strip_comment(val);
    val = conf_trim(val);
    if (*key == 0)
        return conf_err(st, "missing key before =");
    if (st->sec == SEC_NONE)
        return conf_err(st, "key \"%.*s\" outside any section", CONF_QUOTE, key);
    const struct conf_key *k = conf_key_find(st, key, &line, &bad);
    if (k == NULL)
        return conf_err(st, "unknown key \"%.*s\" in %s", CONF_QUOTE, key,
                        conf_sec_label(st, label, sizeof(label)));
    if (*line != 0)
        return conf_err(st, "duplicate key \"%s\" in %s (first at line %u)", k->name,
                        conf_sec_label(st, label, sizeof(label)), *line);
    *line = st->lineno;
    char *base = st->sec == SEC_SG ? (char *)&st->c->sg[st->sg_idx] : (char *)st->c;
    if (conf_ops[k->type].set(base, k, val, err, sizeof(err)) < 0) {
        *bad = true;
        return conf_err(st, "%s: %s", k->name, err);
    }
    if (conf_key_has_flag(k))
        *(bool *)(base + k->off2) = true;
    return 0;
}

/* conf_line - one line of at most DD_CONF_LINE_MAX octets */
static int conf_line(struct conf_parse_state *st, const char *p, size_t n)
{
    char line[DD_CONF_LINE_MAX + 1];

    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)p[i];
        if ((ch < ' ' && ch != '\t') || ch == 0x7f)
            return conf_err(st, "control character 0x%02x in line", ch);
    }
    memcpy(line, p, n);
    line[n] = 0;
    char *s = conf_trim(line);
    if (*s == 0 || *s == ';' || *s == '#')
        return 0;
    if (*s == '[')
        return conf_section(st, s);
    return conf_keyval(st, s);
}

/* conf_key_index - a global key by section and name (the table is known) */
static size_t conf_key_index(enum conf_sec sec, const char *name)
{
    for (size_t i = 0; i < CONF_NKEYS; i++)
        if (conf_keys[i].sec == sec && strcmp(conf_keys[i].name, name) == 0)
            return i;
    abort();
}

/* conf_later - the line of the later of two keys; 0 when a check is moot */
static unsigned conf_later(const struct conf_parse_state *st, enum conf_sec sa, const char *a,
                           enum conf_sec sb, const char *b)
{
    size_t ia = conf_key_index(sa, a), ib = conf_key_index(sb, b);

    if (st->key_bad[ia] || st->key_bad[ib])
        return 0;
    return st->key_line[ia] > st->key_line[ib] ? st->key_line[ia] : st->key_line[ib];
}

/* conf_listen_overlap - an address both in [smtp] and in [admin] listen */
static const struct conf_listen *conf_listen_overlap(const struct conf *c)
{
    for (size_t i = 0; i < c->smtp.nlisten; i++)
        for (size_t j = 0; j < c->admin.nlisten; j++)
            if (strcmp(c->smtp.listen[i].host, c->admin.listen[j].host) == 0 &&
                c->smtp.listen[i].port == c->admin.listen[j].port)
                return &c->smtp.listen[i];
    return NULL;
}

/* conf_line_of - where a global key was set, 0 when it was not (or is bad) */
static unsigned conf_line_of(const struct conf_parse_state *st, enum conf_sec sec, const char *k)
{
    size_t i = conf_key_index(sec, k);

    return st->key_bad[i] ? 0 : st->key_line[i];
}

/* conf_tls_check - TLS keys that need others: encrypt needs a certificate,
 * a key file needs its certificate file */
static void conf_tls_check(struct conf_parse_state *st)
{
    const struct conf *c = st->c;
    unsigned line;

    line = conf_line_of(st, SEC_SMTP, "tls");
    if (line && c->smtp.tls == TLS_IN_ENCRYPT && c->smtp.tls_cert_file[0] == 0)
        conf_err_at(st, line, "tls = encrypt needs tls_cert_file in [smtp]");
    line = conf_line_of(st, SEC_SMTP, "tls_key_file");
    if (line && c->smtp.tls_key_file[0] && c->smtp.tls_cert_file[0] == 0)
        conf_err_at(st, line, "tls_key_file without tls_cert_file in [smtp]");
    line = conf_line_of(st, SEC_ADMIN, "tls_key_file");
    if (line && c->admin.tls_key_file[0] && c->admin.tls_cert_file[0] == 0)
        conf_err_at(st, line, "tls_key_file without tls_cert_file in [admin]");
    line = conf_line_of(st, SEC_DELIVERY, "tls_client_key_file");
    if (line && c->delivery.tls.tls_client_key_file[0] &&
        c->delivery.tls.tls_client_cert_file[0] == 0)
        conf_err_at(st, line, "tls_client_key_file without tls_client_cert_file in [delivery]");
    for (size_t i = 0; i < c->nsg; i++) {
        const struct conf_sg *sg = &c->sg[i];
        if (sg->has_tls_client_key_file && sg->tls.tls_client_key_file[0] &&
            sg->tls.tls_client_cert_file[0] == 0)
            conf_err_at(st, conf_sg_key_line(c, sg, "tls_client_key_file"),
                        "tls_client_key_file without tls_client_cert_file in [storage_group %s]",
                        sg->name);
    }
}

/* conf_sg_inherit - the [dumpster] and [delivery] values an SG did not set */
static void conf_sg_inherit(struct conf *c, struct conf_sg *sg)
{
    const struct conf_tls_out *d = &c->delivery.tls;

    if (!sg->has_max_size)
        sg->max_size = c->dumpster.max_size;
    if (!sg->has_max_age)
        sg->max_age = c->dumpster.max_age;
    if (!sg->has_tls)
        sg->tls.tls = d->tls;
    if (!sg->has_tls_ca_file)
        memcpy(sg->tls.tls_ca_file, d->tls_ca_file, sizeof(d->tls_ca_file));
    if (!sg->has_tls_verify_name)
        memcpy(sg->tls.tls_verify_name, d->tls_verify_name, sizeof(d->tls_verify_name));
    if (!sg->has_tls_client_cert_file)
        memcpy(sg->tls.tls_client_cert_file, d->tls_client_cert_file,
               sizeof(d->tls_client_cert_file));
    if (!sg->has_tls_client_key_file)
        memcpy(sg->tls.tls_client_key_file, d->tls_client_key_file, sizeof(d->tls_client_key_file));
}

/* conf_cross_check - pairs of keys that must agree; the error is at the later one */
static void conf_cross_check(struct conf_parse_state *st)
{
    const struct conf *c = st->c;
    const struct conf_listen *l;
    unsigned line;
    char buf[80];

    line = conf_later(st, SEC_SMTP, "max_connections", SEC_SMTP, "max_connections_per_ip");
    if (line && c->smtp.max_connections_per_ip > c->smtp.max_connections)
        conf_err_at(st, line, "max_connections_per_ip (%u) exceeds max_connections (%u)",
                    c->smtp.max_connections_per_ip, c->smtp.max_connections);
    line = conf_later(st, SEC_DELIVERY, "retry_initial", SEC_DELIVERY, "retry_max");
    if (line && c->delivery.retry_max < c->delivery.retry_initial)
        conf_err_at(st, line, "retry_max (%u) is less than retry_initial (%u)",
                    c->delivery.retry_max, c->delivery.retry_initial);
    line = conf_later(st, SEC_DELIVERY, "retry_initial", SEC_DELIVERY, "max_queue_lifetime");
    if (line && c->delivery.retry_initial > c->delivery.max_queue_lifetime)
        conf_err_at(st, line, "retry_initial (%u) exceeds max_queue_lifetime (%u)",
                    c->delivery.retry_initial, c->delivery.max_queue_lifetime);
    line = conf_later(st, SEC_SMTP, "listen", SEC_ADMIN, "listen");
    if (line && (l = conf_listen_overlap(c)) != NULL) {
        conf_dest_listen_format(l, buf, sizeof(buf));
        conf_err_at(st, line, "%s is both an [smtp] and an [admin] listen address", buf);
    }
    conf_tls_check(st);
}

/* conf_parse - line by line, then the checks that need the whole file */
int conf_parse(struct conf *c, const char *file, const char *buf, size_t len,
               struct conf_errors *errs)
{
    struct conf_parse_state st;
    size_t pos = 0, n, adv;

    memset(&st, 0, sizeof(st));
    st.c = c;
    st.file = file ? file : "-";
    st.errs = errs;
    size_t nerr = errs->n + errs->dropped;
    if (st.file != c->file)
        snprintf(c->file, sizeof(c->file), "%s", st.file);
    if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
        pos = 3; /* a UTF-8 byte order mark from some editor */
    while (pos < len) {
        st.lineno++;
        if (conf_line_span(buf + pos, len - pos, DD_CONF_LINE_MAX, &n, &adv) < 0)
            conf_err(&st, "line longer than %d octets", DD_CONF_LINE_MAX);
        else
            conf_line(&st, buf + pos, n);
        pos += adv;
    }
    conf_section_end(&st);
    memcpy(c->key_line, st.key_line, sizeof(st.key_line));
    for (size_t i = 0; i < c->nsg; i++)
        conf_sg_inherit(c, &c->sg[i]);
    conf_cross_check(&st);
    return errs->n + errs->dropped > nerr ? -1 : 0;
}

/* conf_load - defaults, then the file */
int conf_load(struct conf *c, const char *path, struct conf_errors *errs)
{
    char *buf;
    size_t len;

    conf_init(c);
    snprintf(c->file, sizeof(c->file), "%s", path);
    if (conf_file_read(path, DD_CONF_FILE_MAX, &buf, &len, errs) < 0)
        return -1;
    int rc = conf_parse(c, path, buf, len, errs);
    free(buf);
    return rc;
}

/* conf_key_line - where the file set a global key */
unsigned conf_key_line(const struct conf *c, const char *section, const char *key)
{
    for (size_t i = 0; i < CONF_NKEYS; i++)
        if (strcmp(conf_sec_names[conf_keys[i].sec], section) == 0 &&
            strcmp(conf_keys[i].name, key) == 0)
            return c->key_line[i];
    return 0;
}

/* conf_sg_key_line - the group's own line, else the inherited [delivery] one */
unsigned conf_sg_key_line(const struct conf *c, const struct conf_sg *sg, const char *key)
{
    for (size_t i = 0; i < CONF_SG_NKEYS; i++)
        if (strcmp(conf_sg_keys[i].name, key) == 0 && sg->key_line[i] != 0)
            return sg->key_line[i];
    return strncmp(key, "tls", 3) == 0 ? conf_key_line(c, "delivery", key) : 0;
}

/* conf_print_nondefault - like postconf -n: what the file changed, then the groups */
void conf_print_nondefault(const struct conf *c, FILE *out)
{
    struct conf def;
    char a[CONF_FMT_MAX], b[CONF_FMT_MAX];

    conf_init(&def);
    for (size_t i = 0; i < CONF_NKEYS; i++) {
        const struct conf_key *k = &conf_keys[i];
        conf_ops[k->type].fmt((const char *)c, k, a, sizeof(a));
        conf_ops[k->type].fmt((const char *)&def, k, b, sizeof(b));
        if (strcmp(a, b) != 0)
            fprintf(out, "%s.%s = %s\n", conf_sec_names[k->sec], k->name, a);
    }
    for (size_t i = 0; i < c->nsg; i++) {
        const struct conf_sg *sg = &c->sg[i];
        for (size_t j = 0; j < CONF_SG_NKEYS; j++) {
            const struct conf_key *k = &conf_sg_keys[j];
            if (conf_key_has_flag(k) && !*(const bool *)((const char *)sg + k->off2))
                continue; /* not overridden: the [dumpster] or [delivery] value */
            if ((k->type == CT_PROBE || (k->type == CT_PATH && k->off2 == NO_OFF)) &&
                *((const char *)sg + k->off) == 0)
                continue; /* an optional text not given */
            conf_ops[k->type].fmt((const char *)sg, k, a, sizeof(a));
            fprintf(out, "storage_group.%s.%s = %s\n", sg->name, k->name, a);
        }
    }
}
