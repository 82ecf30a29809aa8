/*
 * conf.c - the strict INI configuration of dumpsterd (SPEC section 3)
 *
 * Every key is described once, in conf_keys.c (section, name, type, where
 * the value lives, its hard range, its default), and every value type has
 * its setter and formatter in conf_value.c; this file reads the lines,
 * sections and keys, checks what spans keys, and prints.
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
#include "conf_key.h"
#include "tls_policy.h"

struct conf_parse_state {
    struct conf *c;
    const char *file;
    struct conf_errors *errs;
    unsigned lineno;
    enum conf_sec sec;
    size_t sg_idx;                          /* SEC_SG: the section's storage group */
    unsigned sec_line[SEC_SG];              /* where each global section started */
    unsigned key_line[CONF_KEYS_MAX];       /* where each key was set, 0: not set */
    bool key_bad[CONF_KEYS_MAX];            /* set, but to a bad value */
    unsigned sg_key_line[CONF_SG_KEYS_MAX]; /* the same, in the current storage group */
    bool sg_key_bad[CONF_SG_KEYS_MAX];
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

/* conf_init - every default, through the setters the parser uses */
void conf_init(struct conf *c)
{
    char err[256];

    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < conf_nkeys; i++) {
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
    size_t n = sg ? conf_sg_nkeys : conf_nkeys;

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
    for (size_t i = 0; i < conf_nkeys; i++)
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

/* conf_shadow_check - credentials come as a user with a password file, or
 * a token file; the hub name is a NATS subject token */
static void conf_shadow_check(struct conf_parse_state *st)
{
    const struct conf *c = st->c;
    unsigned line;

    line = conf_later(st, SEC_SHADOW, "user", SEC_SHADOW, "password_file");
    if (line && (c->shadow.user[0] == 0) != (c->shadow.password_file[0] == 0))
        conf_err_at(st, line, "user and password_file go together in [shadow]");
    line = conf_later(st, SEC_SHADOW, "user", SEC_SHADOW, "token_file");
    if (line && c->shadow.user[0] && c->shadow.token_file[0])
        conf_err_at(st, line, "[shadow] takes user and password_file, or token_file, not both");
    for (const char *p = c->shadow.user; *p; p++)
        if (*p == ' ' || *p == '"' || *p == '\\') {
            conf_err_at(st, conf_line_of(st, SEC_SHADOW, "user"),
                        "user: no blanks, quotes or backslashes");
            break;
        }
    line = conf_later(st, SEC_SHADOW, "servers", SEC_HUB, "name");
    if (line && c->shadow.nservers > 0 && strchr(c->hub.name, '.'))
        conf_err_at(st, line,
                    "with [shadow] servers set, [hub] name \"%s\" must not contain a dot (it is "
                    "a NATS subject token)",
                    c->hub.name);
    for (size_t i = 0; c->shadow.nservers > 0 && i < c->nsg; i++)
        if (strchr(c->sg[i].name, '.'))
            conf_err_at(st, c->sg[i].line,
                        "with [shadow] servers set, storage group name \"%s\" must not contain a "
                        "dot (it is a NATS subject token)",
                        c->sg[i].name);
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
    conf_shadow_check(st);
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
    for (size_t i = 0; i < conf_nkeys; i++)
        if (strcmp(conf_sec_names[conf_keys[i].sec], section) == 0 &&
            strcmp(conf_keys[i].name, key) == 0)
            return c->key_line[i];
    return 0;
}

/* conf_sg_key_line - the group's own line, else the inherited [delivery] one */
unsigned conf_sg_key_line(const struct conf *c, const struct conf_sg *sg, const char *key)
{
    for (size_t i = 0; i < conf_sg_nkeys; i++)
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
    for (size_t i = 0; i < conf_nkeys; i++) {
        const struct conf_key *k = &conf_keys[i];
        conf_ops[k->type].fmt((const char *)c, k, a, sizeof(a));
        conf_ops[k->type].fmt((const char *)&def, k, b, sizeof(b));
        if (strcmp(a, b) != 0)
            fprintf(out, "%s.%s = %s\n", conf_sec_names[k->sec], k->name, a);
    }
    for (size_t i = 0; i < c->nsg; i++) {
        const struct conf_sg *sg = &c->sg[i];
        for (size_t j = 0; j < conf_sg_nkeys; j++) {
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
