/*
 * conf_doc.c - the generated key lists: dumpsterd.conf(5) and README's table
 *
 * What the parser's table knows (section, name, type, hard range, default)
 * is taken from it through conf_key_info(); the lines below add only what a
 * table of setters cannot know: the unit, a limit that ties two keys
 * together, a default that is not a value (required, inherited) and what
 * the key does. Every key of the parser must have exactly one line here and
 * every line here a key, or conf_doc_print() fails: documentation cannot
 * drift from the parser. Pure: text out, no I/O but the FILE given.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "conf_doc.h"

#define CONF_DOC_TEXT_MAX 512 /* one cell of the table */

struct conf_doc {
    const char *section;
    const char *name;
    const char *unit;    /* "s", "ms", "bytes", "messages/s" or NULL */
    const char *limit;   /* a bound set by another key, or NULL */
    const char *def;     /* shown instead of the parser's default, or NULL */
    const char *meaning; /* `code` in backquotes; no '|' */
};

/* clang-format off */
static const struct conf_doc conf_docs[] = {
    {"hub", "name", NULL, NULL, NULL, "host field of log lines, bounces, stats"},
    {"hub", "data_dir", NULL, NULL, NULL,
     "holds dumpsterd.db; created mode 0700; must belong to the user the hub runs as"},
    {"hub", "user", NULL, NULL, NULL,
     "started as root: bind the listeners, then run as this user; `root`: stay root"},
    {"hub", "min_free", "bytes", NULL, NULL,
     "free space data_dir's file system keeps for the store's own writes (delivery outcomes, "
     "expiry, checkpoints): below it, or below it plus a MAIL's SIZE, MAIL gets 452 4.3.1; 0: "
     "no reserve"},
    {"smtp", "listen", NULL, NULL, NULL, "SMTP listeners"},
    {"smtp", "hostname", NULL, NULL, NULL, "greeting, EHLO, Received:, Message-ID:"},
    {"smtp", "banner_version", NULL, NULL, NULL,
     "yes: `(dumpsterd VERSION)` in the Received: comment instead of `(dumpsterd)`"},
    {"smtp", "max_message_size", "bytes", NULL, NULL, "announced in EHLO SIZE"},
    {"smtp", "max_recipients", NULL, NULL, NULL, "per message; more: 452 4.5.3"},
    {"smtp", "max_connections", NULL, NULL, NULL, "more: 421 4.7.0"},
    {"smtp", "max_connections_per_ip", NULL, "≤ max_connections", NULL, "more: 421 4.7.0"},
    {"smtp", "command_timeout", "s", NULL, NULL,
     "idle read or write, and a whole command line from its first octet: 421 4.4.2"},
    {"smtp", "data_timeout", "s", NULL, NULL,
     "a message's content, from the 354 (or the first BDAT) to its end: 421 4.4.2"},
    {"smtp", "max_errors", NULL, NULL, NULL, "then 421 4.7.0 and close"},
    {"smtp", "greet_pause_ms", "ms", NULL, NULL, "> 0: wait before the 220"},
    {"smtp", "max_received_headers", NULL, NULL, NULL, "more: 554 5.4.6"},
    {"smtp", "bare_newline", NULL, NULL, NULL,
     "a bare LF in message content: reject: 550 5.6.0; normalize: a line end (the end of "
     "data is still only CRLF.CRLF)"},
    {"smtp", "bare_newline_exclusions", NULL, NULL, NULL,
     "clients in these networks get normalize whatever bare_newline says"},
    {"smtp", "tls", NULL, NULL, NULL,
     "may: STARTTLS offered when a certificate is set; encrypt: 530 5.7.0 before it"},
    {"smtp", "tls_cert_file", NULL, NULL, NULL,
     "PEM: the certificate, then its chain; empty: no STARTTLS"},
    {"smtp", "tls_key_file", NULL, NULL, NULL, "PEM; empty: the key is in tls_cert_file"},
    {"smtp", "tls_min_protocol", NULL, NULL, NULL, "the oldest protocol accepted"},
    {"smtp", "tls_ciphers", NULL, NULL, NULL,
     "an OpenSSL cipher list for TLS up to 1.2; empty: OpenSSL's defaults"},
    {"smtp", "tls_handshake_timeout", "s", NULL, NULL, "then the connection is closed"},
    {"admin", "listen", NULL, "no address shared with smtp.listen", NULL, "admin HTTP API"},
    {"admin", "token_hash", NULL, NULL, NULL, "empty: writes refused"},
    {"admin", "public_reads", NULL, NULL, NULL, "GET /metrics and /v1/stats without a token"},
    {"admin", "max_connections", NULL, NULL, NULL,
     "connections at once; more wait in the listen backlog until one closes"},
    {"admin", "request_timeout", "s", NULL, NULL,
     "a request, from its first octet to its last: 408 and close"},
    {"admin", "tls_cert_file", NULL, NULL, NULL, "HTTPS with this certificate; empty: plain HTTP"},
    {"admin", "tls_key_file", NULL, NULL, NULL, "PEM; empty: the key is in tls_cert_file"},
    {"delivery", "concurrency_per_destination", NULL, NULL, NULL, "connections per destination"},
    {"delivery", "retry_initial", "s", "≤ max_queue_lifetime", NULL, "first retry delay"},
    {"delivery", "retry_max", "s", "≥ retry_initial", NULL, "backoff cap"},
    {"delivery", "max_queue_lifetime", "s", NULL, NULL, "then fail and bounce"},
    {"delivery", "connect_timeout", "s", NULL, NULL, "connect and greeting"},
    {"delivery", "smarthost", NULL, NULL, NULL, "bounces to non-local senders"},
    {"delivery", "resolver", NULL, NULL, NULL, "DNS for HOST destinations"},
    {"delivery", "tls", NULL, NULL, NULL,
     "outbound TLS of the smarthost and every SG's default: may: STARTTLS when offered; "
     "encrypt: never in plaintext; verify: and the certificate checked"},
    {"delivery", "tls_ca_file", NULL, NULL, NULL, "verify: the CAs; empty: the system's"},
    {"delivery", "tls_verify_name", NULL, NULL, NULL,
     "verify: the name the certificate must carry; empty: the destination's host or IP"},
    {"delivery", "tls_client_cert_file", NULL, NULL, NULL, "a client certificate to present"},
    {"delivery", "tls_client_key_file", NULL, NULL, NULL, "its key"},
    {"dumpster", "max_age", "s", NULL, NULL, "per SG default; 0 keeps nothing"},
    {"dumpster", "max_size", "bytes", NULL, NULL, "per SG default; 0 keeps nothing"},
    {"dumpster", "resubmit_rate", "messages/s", NULL, NULL, "0: no limit"},
    {"directory", "file", NULL, NULL, NULL, "the directory; reloaded on SIGHUP"},
    {"shadow", "servers", NULL, NULL, "(none)",
     "the NATS JetStream cluster that keeps a copy of every message before its 250; empty: no "
     "shadow copies"},
    {"shadow", "user", NULL, "with password_file", "(none)", "the NATS user"},
    {"shadow", "password_file", NULL, "with user", "(none)",
     "the NATS password (its first line); never in the configuration"},
    {"shadow", "token_file", NULL, "not with user", "(none)", "a NATS token (its first line)"},
    {"shadow", "ca_file", NULL, NULL, "(none)", "tls:// servers: the CAs; empty: the system's"},
    {"shadow", "replicas", NULL, NULL, NULL, "copies of every stream in the cluster"},
    {"shadow", "shadow_failure", NULL, NULL, NULL,
     "the cluster cannot store a copy: accept: 250 after the local commit, logged; defer: "
     "451 4.4.0"},
    {"shadow", "takeover_after", "s", NULL, NULL,
     "a hub silent this long has its undelivered copies delivered by another"},
    {"shadow", "publish_timeout", "s", NULL, NULL,
     "a copy not acknowledged by the cluster by then is a shadow failure"},
    {"storage_group NAME", "destination", NULL, NULL, "required", "where the SG's mail goes"},
    {"storage_group NAME", "max_size", "bytes", NULL, "[dumpster] max_size", "override"},
    {"storage_group NAME", "max_age", "s", NULL, "[dumpster] max_age", "override"},
    {"storage_group NAME", "tls", NULL, NULL, "[delivery] tls", "override"},
    {"storage_group NAME", "tls_ca_file", NULL, NULL, "[delivery] tls_ca_file", "override"},
    {"storage_group NAME", "tls_verify_name", NULL, NULL, "[delivery] tls_verify_name",
     "override"},
    {"storage_group NAME", "tls_client_cert_file", NULL, NULL, "[delivery] tls_client_cert_file",
     "override"},
    {"storage_group NAME", "tls_client_key_file", NULL, NULL, "[delivery] tls_client_key_file",
     "override"},
    {"storage_group NAME", "probe", NULL, "with probe_key_file", "(none)",
     "the mailbox probe asked before a copy is resent (Dovecot's doveadm HTTP API)"},
    {"storage_group NAME", "probe_key_file", NULL, "with probe", "(none)",
     "the doveadm API key (one trailing newline is taken off); never in the configuration"},
};
/* clang-format on */
#define CONF_NDOCS (sizeof(conf_docs) / sizeof(conf_docs[0]))

/* conf_doc_find - the line of a key, or NULL */
static const struct conf_doc *conf_doc_find(const struct conf_key_info *k)
{
    for (size_t i = 0; i < CONF_NDOCS; i++)
        if (strcmp(conf_docs[i].section, k->section) == 0 &&
            strcmp(conf_docs[i].name, k->name) == 0)
            return &conf_docs[i];
    return NULL;
}

/* conf_doc_is_key - a documentation line names a key of the parser */
static bool conf_doc_is_key(const struct conf_doc *d)
{
    struct conf_key_info k;

    for (size_t i = 0; conf_key_info(i, &k); i++)
        if (strcmp(d->section, k.section) == 0 && strcmp(d->name, k.name) == 0)
            return true;
    return false;
}

/* conf_doc_check - every key documented once, every line a key; 0 or -1 */
static int conf_doc_check(FILE *err)
{
    struct conf_key_info k;
    int rc = 0;

    for (size_t i = 0; conf_key_info(i, &k); i++) {
        if (conf_doc_find(&k) == NULL) {
            fprintf(err, "conf_doc: key [%s] %s has no line in relay/parse/conf_doc.c\n", k.section,
                    k.name);
            rc = -1;
        }
    }
    for (size_t i = 0; i < CONF_NDOCS; i++) {
        const struct conf_doc *d = &conf_docs[i];
        if (!conf_doc_is_key(d) || strchr(d->meaning, '|') != NULL) {
            fprintf(err, "conf_doc: line [%s] %s names no key of the parser (or holds a '|')\n",
                    d->section, d->name);
            rc = -1;
        }
    }
    return rc;
}

/* conf_doc_type - what a value of a non-numeric type looks like */
static void conf_doc_type(const struct conf_key_info *k, char *buf, size_t cap)
{
    if (strcmp(k->type, "name") == 0)
        snprintf(buf, cap, "1..64 of `A-Za-z0-9._-`");
    else if (strcmp(k->type, "host") == 0)
        snprintf(buf, cap, "domain name");
    else if (strcmp(k->type, "hash") == 0)
        snprintf(buf, cap, "empty or 64 lowercase hex");
    else if (strcmp(k->type, "listen") == 0)
        snprintf(buf, cap, "%" PRIu64 "..%" PRIu64 " of `IPv4:PORT` / `[IPv6]:PORT`", k->min,
                 k->max);
    else if (strcmp(k->type, "resolver") == 0)
        snprintf(buf, cap, "`system` or `IP:PORT`");
    else if (strcmp(k->type, "destination") == 0 && k->min == 0)
        snprintf(buf, cap, "empty or a destination of 1..%" PRIu64 " addresses", k->max);
    else if (strcmp(k->type, "destination") == 0)
        snprintf(buf, cap, "%" PRIu64 "..%" PRIu64 " addresses", k->min, k->max);
    else if (strcmp(k->type, "probe") == 0)
        snprintf(buf, cap, "`doveadm:http://IP:PORT`");
    else if (strcmp(k->type, "enum") == 0 && k->names != NULL) {
        size_t n = 0;
        buf[0] = 0;
        for (size_t i = 0; k->names[i] && n < cap; i++)
            n += (size_t)snprintf(buf + n, cap - n, "%s`%s`", i ? ", " : "", k->names[i]);
    } else if (strcmp(k->type, "networks") == 0)
        snprintf(buf, cap, "comma list of 0..%" PRIu64 " `IP[/PREFIX]`", k->max);
    else if (strcmp(k->type, "optional path") == 0)
        snprintf(buf, cap, "empty or a path");
    else if (strcmp(k->type, "optional host") == 0)
        snprintf(buf, cap, "empty or a domain name");
    else
        snprintf(buf, cap, "%s", k->type); /* boolean, path */
}

/* conf_doc_range - the "unit, range" cell */
static void conf_doc_range(const struct conf_key_info *k, const struct conf_doc *d, char *buf,
                           size_t cap)
{
    size_t n;

    if (strcmp(k->type, "number") == 0)
        snprintf(buf, cap, "%s%s%" PRIu64 "..%" PRIu64, d->unit ? d->unit : "", d->unit ? ", " : "",
                 k->min, k->max);
    else
        conf_doc_type(k, buf, cap);
    n = strlen(buf);
    if (d->limit != NULL)
        snprintf(buf + n, cap - n, ", %s", d->limit);
}

/* conf_doc_default - the default as shown */
static const char *conf_doc_default(const struct conf_key_info *k, const struct conf_doc *d)
{
    if (d->def != NULL)
        return d->def;
    if (k->def == NULL || *k->def == 0)
        return "(empty)";
    return k->def;
}

/* conf_doc_md_row - one row of README's table */
static void conf_doc_md_row(FILE *out, const struct conf_key_info *k, const struct conf_doc *d)
{
    char range[CONF_DOC_TEXT_MAX];

    conf_doc_range(k, d, range, sizeof(range));
    fprintf(out, "| %s | %s | %s | %s | %s |\n", k->section, k->name, conf_doc_default(k, d), range,
            d->meaning);
}

/* conf_doc_roff - man page text: \ - escaped, . ' at a line start too, `code` bold, <= >= */
static void conf_doc_roff(FILE *out, const char *s, bool line_start)
{
    bool code = false;

    if (line_start && (*s == '.' || *s == '\''))
        fputs("\\&", out);
    for (; *s; s++) {
        if (*s == '`') {
            fputs((code = !code) ? "\\fB" : "\\fR", out);
        } else if (*s == '\\')
            fputs("\\e", out);
        else if (*s == '-')
            fputs("\\-", out);
        else if (strncmp(s, "≤", strlen("≤")) == 0) {
            fputs("\\(<=", out);
            s += strlen("≤") - 1;
        } else if (strncmp(s, "≥", strlen("≥")) == 0) {
            fputs("\\(>=", out);
            s += strlen("≥") - 1;
        } else
            fputc(*s, out);
    }
}

/* conf_doc_man_key - one .TP entry of dumpsterd.conf(5) */
static void conf_doc_man_key(FILE *out, const struct conf_key_info *k, const struct conf_doc *d)
{
    char range[CONF_DOC_TEXT_MAX];

    conf_doc_range(k, d, range, sizeof(range));
    fputs(".TP\n\\fB", out);
    conf_doc_roff(out, k->name, false);
    fputs("\\fR = ", out);
    conf_doc_roff(out, conf_doc_default(k, d), false);
    fputs("\n", out);
    conf_doc_roff(out, range, true);
    fputs(";\n", out);
    conf_doc_roff(out, d->meaning, true);
    fputs(".\n", out);
}

/* conf_doc_print - the table or the man page section, after the check */
int conf_doc_print(FILE *out, enum conf_doc_format fmt, FILE *err)
{
    struct conf_key_info k;
    const char *section = "";

    if (conf_doc_check(err) < 0)
        return -1;
    if (fmt == CONF_DOC_MARKDOWN)
        fputs("| section | key | default | unit, range | meaning |\n|---|---|---|---|---|\n", out);
    for (size_t i = 0; conf_key_info(i, &k); i++) {
        const struct conf_doc *d = conf_doc_find(&k);
        if (fmt == CONF_DOC_MARKDOWN) {
            conf_doc_md_row(out, &k, d);
            continue;
        }
        if (strcmp(section, k.section) != 0)
            fprintf(out, ".SS [%s]\n", section = k.section);
        conf_doc_man_key(out, &k, d);
    }
    return 0;
}
