/*
 * smtp_addr.c - RFC 5321 paths and mailboxes, parsed from bytes (pure)
 *
 * smtp_path_parse() reads Path = "<" [ A-d-l ":" ] Mailbox ">" (RFC 5321
 * 4.1.2) and then applies the length limits of 4.5.3.1. Syntax comes first
 * and limits after, so a well-formed but long path gets the specific length
 * error. The source route is checked and dropped (RFC 5321 C). Octets >= 0x80
 * are taken in the local part and the domain only as well-formed UTF-8
 * (RFC 6531); the caller decides whether SMTPUTF8 was asked for.
 *
 * Nothing here routes: '%', '!' and a quoted '@' are plain characters of the
 * local part, and an unquoted second '@' (u@x@ours) is a syntax error.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "smtp_addr.h"

/* Longest address literal content we look at: "IPv6:" + the longest IPv6 text. */
#define LITERAL_MAX (5 + INET6_ADDRSTRLEN)
/* RFC 1035 2.3.4: a label is at most 63 octets (checked on ASCII labels). */
#define LABEL_MAX 63

/* A read position over the path; utf8 notes any octet >= 0x80. */
struct cur {
    const unsigned char *s;
    size_t len;
    size_t pos;
    bool utf8;
};

/* utf8_seq - length of the well-formed UTF-8 sequence at s[0..n), or 0 */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned char lo = 0x80, hi = 0xbf;
    size_t need, i;

    if (s[0] >= 0xc2 && s[0] <= 0xdf) {
        need = 2;
    } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
        need = 3;
        if (s[0] == 0xe0)
            lo = 0xa0; /* overlong */
        if (s[0] == 0xed)
            hi = 0x9f; /* surrogates */
    } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        need = 4;
        if (s[0] == 0xf0)
            lo = 0x90; /* overlong */
        if (s[0] == 0xf4)
            hi = 0x8f; /* > U+10FFFF */
    } else {
        return 0;
    }
    if (n < need || s[1] < lo || s[1] > hi)
        return 0;
    for (i = 2; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return need;
}

/* cur_utf8 - step over one UTF-8 sequence at the cursor; false if malformed */
static bool cur_utf8(struct cur *c)
{
    size_t n = utf8_seq(c->s + c->pos, c->len - c->pos);

    if (n == 0)
        return false;
    c->pos += n;
    c->utf8 = true;
    return true;
}

/* is_alnum - ASCII letter or digit, independent of the locale */
static bool is_alnum(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

/* is_atext - RFC 5322 atext (ASCII part) */
static bool is_atext(unsigned char ch)
{
    return is_alnum(ch) || (ch != 0 && strchr("!#$%&'*+-/=?^_`{|}~", ch) != NULL);
}

/* scan_atom - one atom of a dot-string: 1*atext (UTF-8 allowed) */
static bool scan_atom(struct cur *c)
{
    size_t start = c->pos;

    while (c->pos < c->len) {
        unsigned char ch = c->s[c->pos];

        if (is_atext(ch))
            c->pos++;
        else if (ch >= 0x80) {
            if (!cur_utf8(c))
                return false;
        } else
            break;
    }
    return c->pos > start;
}

/* scan_dot_string - Dot-string = Atom *("." Atom) */
static bool scan_dot_string(struct cur *c)
{
    for (;;) {
        if (!scan_atom(c))
            return false;
        if (c->pos >= c->len || c->s[c->pos] != '.')
            return true;
        c->pos++;
    }
}

/* scan_quoted - Quoted-string: DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE */
static bool scan_quoted(struct cur *c)
{
    c->pos++; /* the opening quote */
    while (c->pos < c->len) {
        unsigned char ch = c->s[c->pos];

        if (ch == '"') {
            c->pos++;
            return true;
        }
        if (ch == '\\') {
            if (c->pos + 1 >= c->len || c->s[c->pos + 1] < 32 || c->s[c->pos + 1] > 126)
                return false;
            c->pos += 2;
        } else if (ch >= 32 && ch <= 126) {
            c->pos++;
        } else if (ch < 0x80 || !cur_utf8(c)) {
            return false;
        }
    }
    return false;
}

/* scan_label - Let-dig [Ldh-str]: no hyphen first or last, <= 63 octets */
static bool scan_label(struct cur *c)
{
    size_t start = c->pos;
    bool utf8 = false;

    while (c->pos < c->len) {
        unsigned char ch = c->s[c->pos];

        if (is_alnum(ch) || ch == '-') {
            c->pos++;
        } else if (ch >= 0x80) {
            if (!cur_utf8(c))
                return false;
            utf8 = true;
        } else {
            break;
        }
    }
    if (c->pos == start || c->s[start] == '-' || c->s[c->pos - 1] == '-')
        return false;
    /* A U-label's octet count says little about its A-label: the domain
     * length limit bounds those. */
    return utf8 || c->pos - start <= LABEL_MAX;
}

/* scan_domain_name - Domain = sub-domain *("." sub-domain) */
static bool scan_domain_name(struct cur *c)
{
    for (;;) {
        if (!scan_label(c))
            return false;
        if (c->pos >= c->len || c->s[c->pos] != '.')
            return true;
        c->pos++;
    }
}

/* scan_literal - address-literal: [IPv4] or [IPv6:...], checked by inet_pton */
static bool scan_literal(struct cur *c)
{
    char text[LITERAL_MAX + 1];
    unsigned char addr[sizeof(struct in6_addr)];
    size_t n = 0;

    c->pos++; /* '[' */
    while (c->pos < c->len && c->s[c->pos] != ']') {
        if (n >= LITERAL_MAX)
            return false;
        text[n++] = (char)c->s[c->pos++];
    }
    if (c->pos >= c->len)
        return false;
    c->pos++; /* ']' */
    text[n] = 0;
    if (memchr(text, 0, n) != NULL)
        return false;
    if (n > 5 && strncasecmp(text, "IPv6:", 5) == 0)
        return inet_pton(AF_INET6, text + 5, addr) == 1;
    return inet_pton(AF_INET, text, addr) == 1;
}

/* scan_adl - A-d-l = At-domain *( "," At-domain ) ":" ; the route is dropped */
static bool scan_adl(struct cur *c)
{
    for (;;) {
        if (c->pos >= c->len || c->s[c->pos] != '@')
            return false;
        c->pos++;
        if (!scan_domain_name(c) || c->pos >= c->len)
            return false;
        if (c->s[c->pos++] == ':')
            return true;
        if (c->s[c->pos - 1] != ',')
            return false;
    }
}

/* fill_addr - copy the checked parts out; the domain is folded to lower case */
static void fill_addr(struct smtp_addr *out, const unsigned char *local, size_t llen,
                      const unsigned char *domain, size_t dlen)
{
    size_t i;

    memcpy(out->local, local, llen);
    out->local[llen] = 0;
    memcpy(out->domain, domain, dlen);
    out->domain[dlen] = 0;
    if (domain[0] != '[') {
        for (i = 0; i < dlen; i++)
            if (out->domain[i] >= 'A' && out->domain[i] <= 'Z')
                out->domain[i] = (char)(out->domain[i] - 'A' + 'a');
    }
    memcpy(out->addr, out->local, llen);
    out->addr[llen] = '@';
    memcpy(out->addr + llen + 1, out->domain, dlen + 1);
}

/* parse_null - the path "<>" */
static enum smtp_addr_err parse_null(bool allow_null, struct smtp_addr *out, size_t *consumed)
{
    if (!allow_null)
        return SMTP_ADDR_NULL_NOT_ALLOWED;
    out->null = true;
    *consumed = 2;
    return SMTP_ADDR_OK;
}

/* smtp_path_parse - parse a path at s[0..len) */
enum smtp_addr_err smtp_path_parse(const char *s, size_t len, bool allow_null,
                                   struct smtp_addr *out, size_t *consumed)
{
    struct cur c = {(const unsigned char *)s, len, 1, false};
    size_t lstart, llen, dstart, dlen;

    memset(out, 0, sizeof(*out));
    *consumed = 0;
    if (len < 2 || s[0] != '<')
        return SMTP_ADDR_SYNTAX;
    if (s[1] == '>')
        return parse_null(allow_null, out, consumed);
    if (s[1] == '@' && !scan_adl(&c))
        return SMTP_ADDR_SYNTAX;
    lstart = c.pos;
    if ((c.pos < len && s[c.pos] == '"') ? !scan_quoted(&c) : !scan_dot_string(&c))
        return SMTP_ADDR_SYNTAX;
    llen = c.pos - lstart;
    if (c.pos < len && s[c.pos] == '>')
        return SMTP_ADDR_NO_DOMAIN;
    if (c.pos >= len || s[c.pos] != '@')
        return SMTP_ADDR_SYNTAX;
    dstart = ++c.pos;
    if ((c.pos < len && s[c.pos] == '[') ? !scan_literal(&c) : !scan_domain_name(&c))
        return SMTP_ADDR_SYNTAX;
    dlen = c.pos - dstart;
    if (c.pos >= len || s[c.pos] != '>')
        return SMTP_ADDR_SYNTAX;
    c.pos++;
    if (llen > DD_LOCAL_PART_MAX)
        return SMTP_ADDR_LOCAL_TOO_LONG;
    if (dlen > DD_DOMAIN_MAX)
        return SMTP_ADDR_DOMAIN_TOO_LONG;
    if (c.pos > DD_PATH_MAX)
        return SMTP_ADDR_PATH_TOO_LONG;
    fill_addr(out, c.s + lstart, llen, c.s + dstart, dlen);
    out->utf8 = c.utf8;
    *consumed = c.pos;
    return SMTP_ADDR_OK;
}
