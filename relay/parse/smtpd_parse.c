/*
 * smtpd_parse.c - SMTP command lines and MAIL/RCPT/BDAT arguments (pure)
 *
 * smtpd_cmd_parse() splits a command line (CRLF already removed) into verb
 * and argument and refuses control octets, NUL and 8-bit verbs. The other
 * parsers take the argument it found. Every error maps to one reply line
 * (smtpd_parse_reply), so the session never builds SMTP error text itself.
 *
 * Commands we do not offer (EXPN, AUTH) are recognised, their verb is set,
 * and smtpd_cmd_parse() returns SMTPD_P_NOT_IMPLEMENTED for them. STARTTLS
 * takes no argument; whether it is offered is the session's business
 * (tls_policy.h).
 */
#include <string.h>

#include "ascii.h"
#include "smtpd_parse.h"

/* RFC 3030 and our own bound: a BDAT chunk size is at most 2^63. */
#define BDAT_SIZE_MAX (UINT64_C(1) << 63)

/* Verb flags. */
#define V_NOARG 1   /* an argument is a syntax error */
#define V_NOTIMPL 2 /* recognised, not offered: 502 */

static const struct verb_info {
    const char *name;
    enum smtpd_verb verb;
    unsigned flags;
} verbs[] = {
    {"HELO", SMTP_HELO, 0},
    {"EHLO", SMTP_EHLO, 0},
    {"MAIL", SMTP_MAIL, 0},
    {"RCPT", SMTP_RCPT, 0},
    {"DATA", SMTP_DATA, V_NOARG},
    {"BDAT", SMTP_BDAT, 0},
    {"RSET", SMTP_RSET, V_NOARG},
    {"NOOP", SMTP_NOOP, 0},
    {"QUIT", SMTP_QUIT, V_NOARG},
    {"VRFY", SMTP_VRFY, 0},
    {"HELP", SMTP_HELP, 0},
    {"EXPN", SMTP_EXPN, V_NOTIMPL},
    {"STARTTLS", SMTP_STARTTLS, V_NOARG},
    {"AUTH", SMTP_AUTH, V_NOTIMPL},
};

static const char *const replies[SMTPD_P__COUNT] = {
    [SMTPD_P_OK] = "250 2.0.0 Ok",
    [SMTPD_P_UNKNOWN] = "500 5.5.1 Command unrecognized",
    [SMTPD_P_SYNTAX] = "501 5.5.4 Syntax error in parameters or arguments",
    [SMTPD_P_NOT_IMPLEMENTED] = "502 5.5.1 Command not implemented",
    [SMTPD_P_BAD_CHARS] = "500 5.5.2 Invalid characters in command",
    [SMTPD_P_HELO_SYNTAX] = "501 5.5.4 Syntax: EHLO/HELO needs a domain or address literal",
    [SMTPD_P_BAD_SENDER] = "501 5.1.7 Bad sender address syntax",
    [SMTPD_P_BAD_RCPT] = "501 5.1.3 Bad recipient address syntax",
    [SMTPD_P_NULL_RCPT] = "501 5.1.3 Null recipient <> not allowed",
    [SMTPD_P_PATH_TOO_LONG] = "501 5.1.0 Address too long",
    [SMTPD_P_BAD_PARAM] = "555 5.5.4 Unsupported parameter",
    [SMTPD_P_BAD_SIZE] = "501 5.5.4 Bad SIZE parameter value",
    [SMTPD_P_BAD_BODY] = "501 5.5.4 Bad BODY parameter value (7BIT or 8BITMIME)",
    [SMTPD_P_BAD_BDAT] = "501 5.5.4 Syntax: BDAT size [LAST]",
};

/* prefix_is - s[0..n) starts with the upper-case word w, ignoring case */
static bool prefix_is(const char *s, size_t n, const char *w)
{
    size_t wl = strlen(w);

    return n >= wl && ascii_word_is(s, wl, w);
}

/* find_verb - the verb table entry for s[0..n), or NULL */
static const struct verb_info *find_verb(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (ascii_word_is(s, n, verbs[i].name))
            return &verbs[i];
    return NULL;
}

/* smtpd_cmd_parse - split a command line into verb and argument */
enum smtpd_perr smtpd_cmd_parse(const char *line, size_t len, struct smtpd_cmd *out)
{
    const struct verb_info *v;
    size_t i, vlen;

    memset(out, 0, sizeof(*out));
    out->arg = line + len;
    for (i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)line[i];

        if (ch < 0x20 || ch == 0x7f)
            return SMTPD_P_BAD_CHARS;
    }
    for (vlen = 0; vlen < len && line[vlen] != ' '; vlen++)
        if ((unsigned char)line[vlen] >= 0x80)
            return SMTPD_P_BAD_CHARS;
    if ((v = find_verb(line, vlen)) == NULL)
        return SMTPD_P_UNKNOWN;
    out->verb = v->verb;
    for (i = vlen; i < len && line[i] == ' '; i++)
        ;
    out->arg = line + i;
    out->arglen = len - i;
    while (out->arglen > 0 && out->arg[out->arglen - 1] == ' ')
        out->arglen--;
    if (v->flags & V_NOTIMPL)
        return SMTPD_P_NOT_IMPLEMENTED;
    if ((v->flags & V_NOARG) && out->arglen > 0)
        return SMTPD_P_SYNTAX;
    return SMTPD_P_OK;
}

/* smtpd_helo_parse - HELO/EHLO argument, leniently: one printable token */
enum smtpd_perr smtpd_helo_parse(const char *arg, size_t len, char *out, size_t cap)
{
    size_t i;

    if (cap > 0)
        out[0] = 0;
    if (len == 0 || len > DD_HELO_MAX || len >= cap)
        return SMTPD_P_HELO_SYNTAX;
    for (i = 0; i < len; i++)
        if ((unsigned char)arg[i] < 33 || (unsigned char)arg[i] > 126)
            return SMTPD_P_HELO_SYNTAX;
    memcpy(out, arg, len);
    out[len] = 0;
    return SMTPD_P_OK;
}

/* addr_perr - map a path error to the MAIL or RCPT reply */
static enum smtpd_perr addr_perr(enum smtp_addr_err e, enum smtpd_perr syntax)
{
    switch (e) {
    case SMTP_ADDR_OK:
        return SMTPD_P_OK;
    case SMTP_ADDR_LOCAL_TOO_LONG:
    case SMTP_ADDR_DOMAIN_TOO_LONG:
    case SMTP_ADDR_PATH_TOO_LONG:
        return SMTPD_P_PATH_TOO_LONG;
    case SMTP_ADDR_NULL_NOT_ALLOWED:
        return syntax == SMTPD_P_BAD_RCPT ? SMTPD_P_NULL_RCPT : syntax;
    default:
        return syntax;
    }
}

/* parse_decimal - s[0..n) as decimal digits, at most max; false if not */
static bool parse_decimal(const char *s, size_t n, uint64_t max, uint64_t *val)
{
    uint64_t v = 0;
    size_t i;

    if (n == 0)
        return false;
    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');

        if (d > 9 || v > (max - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *val = v;
    return true;
}

/* One ESMTP parameter: keyword [= value]. */
struct param {
    const char *kw;
    size_t kwlen;
    const char *val; /* NULL: no '=' */
    size_t vallen;
};

/* param_split - split tok[0..n) at '=' and check RFC 5321 4.1.2 esmtp-param */
static bool param_split(const char *tok, size_t n, struct param *p)
{
    const char *eq = memchr(tok, '=', n);
    size_t i;

    p->kw = tok;
    p->kwlen = eq ? (size_t)(eq - tok) : n;
    p->val = eq ? eq + 1 : NULL;
    p->vallen = eq ? n - p->kwlen - 1 : 0;
    if (p->kwlen == 0 || tok[0] == '-')
        return false;
    for (i = 0; i < p->kwlen; i++) {
        unsigned char ch = ascii_upper((unsigned char)tok[i]);

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return false;
    }
    /* esmtp-value: no '=', SP or control; UTF-8 allowed (RFC 6531). An
     * empty value is left to the keyword, for its own reply. */
    for (i = 0; i < p->vallen; i++) {
        unsigned char ch = (unsigned char)p->val[i];

        if (ch < 33 || ch == '=' || ch == 127)
            return false;
    }
    return true;
}

/* Parameters of MAIL seen so far, for duplicates. */
enum { SEEN_SIZE = 1, SEEN_BODY = 2, SEEN_UTF8 = 4 };

/* mail_param - apply one MAIL parameter */
static enum smtpd_perr mail_param(const struct param *p, unsigned *seen, struct smtpd_mail *out)
{
    if (ascii_word_is(p->kw, p->kwlen, "SIZE")) {
        if (*seen & SEEN_SIZE)
            return SMTPD_P_SYNTAX;
        *seen |= SEEN_SIZE;
        if (p->val == NULL || !parse_decimal(p->val, p->vallen, UINT64_MAX, &out->size))
            return SMTPD_P_BAD_SIZE;
        out->has_size = true;
    } else if (ascii_word_is(p->kw, p->kwlen, "BODY")) {
        if (*seen & SEEN_BODY)
            return SMTPD_P_SYNTAX;
        *seen |= SEEN_BODY;
        out->has_body = true;
        if (p->val && ascii_word_is(p->val, p->vallen, "7BIT"))
            out->body = SMTP_BODY_7BIT;
        else if (p->val && ascii_word_is(p->val, p->vallen, "8BITMIME"))
            out->body = SMTP_BODY_8BITMIME;
        else
            return SMTPD_P_BAD_BODY; /* BINARYMIME too: we offer no CHUNKING binary */
    } else if (ascii_word_is(p->kw, p->kwlen, "SMTPUTF8")) {
        if ((*seen & SEEN_UTF8) || p->val != NULL)
            return SMTPD_P_SYNTAX;
        *seen |= SEEN_UTF8;
        out->smtputf8 = true;
    } else {
        return SMTPD_P_BAD_PARAM;
    }
    return SMTPD_P_OK;
}

/* mail_params - the SP-separated parameters after the reverse-path */
static enum smtpd_perr mail_params(const char *s, size_t len, struct smtpd_mail *out)
{
    unsigned seen = 0;
    size_t i = 0, start;
    struct param p;
    enum smtpd_perr e;

    while (i < len) {
        if (s[i] != ' ')
            return SMTPD_P_SYNTAX;
        while (i < len && s[i] == ' ')
            i++;
        if (i == len)
            break;
        for (start = i; i < len && s[i] != ' '; i++)
            ;
        if (!param_split(s + start, i - start, &p))
            return SMTPD_P_SYNTAX;
        if ((e = mail_param(&p, &seen, out)) != SMTPD_P_OK)
            return e;
    }
    return SMTPD_P_OK;
}

/* smtpd_mail_parse - "FROM:<path> [SIZE=n] [BODY=...] [SMTPUTF8]" */
enum smtpd_perr smtpd_mail_parse(const char *arg, size_t len, struct smtpd_mail *out)
{
    enum smtp_addr_err ae;
    size_t i = 5, used;

    memset(out, 0, sizeof(*out));
    out->body = SMTP_BODY_7BIT;
    if (!prefix_is(arg, len, "FROM:"))
        return SMTPD_P_SYNTAX;
    if (i < len && arg[i] == ' ')
        i++;
    ae = smtp_path_parse(arg + i, len - i, true, &out->from, &used);
    if (ae != SMTP_ADDR_OK)
        return addr_perr(ae, SMTPD_P_BAD_SENDER);
    i += used;
    return mail_params(arg + i, len - i, out);
}

/* smtpd_rcpt_parse - "TO:<path>"; any parameter is unsupported */
enum smtpd_perr smtpd_rcpt_parse(const char *arg, size_t len, struct smtpd_rcpt *out)
{
    enum smtp_addr_err ae;
    size_t i = 3, used;

    memset(out, 0, sizeof(*out));
    if (!prefix_is(arg, len, "TO:"))
        return SMTPD_P_SYNTAX;
    if (i < len && arg[i] == ' ')
        i++;
    ae = smtp_path_parse(arg + i, len - i, false, &out->to, &used);
    if (ae != SMTP_ADDR_OK)
        return addr_perr(ae, SMTPD_P_BAD_RCPT);
    i += used;
    if (i < len && arg[i] != ' ')
        return SMTPD_P_SYNTAX;
    while (i < len && arg[i] == ' ')
        i++;
    return i < len ? SMTPD_P_BAD_PARAM : SMTPD_P_OK;
}

/* smtpd_bdat_parse - "SIZE [LAST]" (RFC 3030) */
enum smtpd_perr smtpd_bdat_parse(const char *arg, size_t len, uint64_t *size, bool *last)
{
    size_t n, i;

    *size = 0;
    *last = false;
    for (n = 0; n < len && arg[n] != ' '; n++)
        ;
    if (!parse_decimal(arg, n, BDAT_SIZE_MAX, size))
        return SMTPD_P_BAD_BDAT;
    for (i = n; i < len && arg[i] == ' '; i++)
        ;
    if (i == len)
        return SMTPD_P_OK;
    if (i == n || !prefix_is(arg + i, len - i, "LAST"))
        return SMTPD_P_BAD_BDAT;
    for (i += 4; i < len && arg[i] == ' '; i++)
        ;
    if (i != len) /* nothing may follow LAST */
        return SMTPD_P_BAD_BDAT;
    *last = true;
    return SMTPD_P_OK;
}

/* smtpd_parse_reply - the reply line for a parse outcome */
const char *smtpd_parse_reply(enum smtpd_perr e)
{
    if ((unsigned)e >= SMTPD_P__COUNT || replies[e] == NULL)
        return replies[SMTPD_P_SYNTAX];
    return replies[e];
}

/* smtpd_verb_name - the verb as text, for logs */
const char *smtpd_verb_name(enum smtpd_verb v)
{
    size_t i;

    for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        if (verbs[i].verb == v)
            return verbs[i].name;
    return "UNKNOWN";
}
