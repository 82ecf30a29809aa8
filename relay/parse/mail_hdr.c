/*
 * mail_hdr.c - the header section of a message as it streams past (pure)
 *
 * mail_hdr_line() classifies each content line while the header section
 * lasts: a field (RFC 5322 2.2: field-name ":" ...), a continuation (starts
 * with SP or HTAB, after a field), the empty line that ends the section, or
 * anything else, which means the body started without an empty line. Like
 * Postfix we also take the obsolete "Name :" form (RFC 5322 4.5.2).
 *
 * The first Message-ID: field is the message's id (a later one is not: a
 * message has at most one, RFC 5322 3.6); its value is gathered over its
 * continuation lines, so "Message-ID:\r\n <id>" gives "<id>".
 *
 * The builders write the Received: and Message-ID: fields the hub adds. They
 * refuse CR or LF in their inputs, so nothing can inject a header line.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bounds.h"
#include "mail_hdr.h"

/* mail_hdr_init - before the first line */
void mail_hdr_init(struct mail_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->in_header = true;
}

/* field_name_len - length of the field name if line[0..len) starts a field, else 0 */
static size_t field_name_len(const char *line, size_t len)
{
    size_t n, i;

    for (n = 0; n < len; n++) {
        unsigned char ch = (unsigned char)line[n];

        if (ch < 33 || ch > 126 || ch == ':')
            break;
    }
    if (n == 0)
        return 0;
    for (i = n; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
        ;
    return (i < len && line[i] == ':') ? n : 0;
}

/* name_is - the field name line[0..n) is name, ignoring case */
static bool name_is(const char *line, size_t n, const char *name)
{
    return strlen(name) == n && strncasecmp(line, name, n) == 0;
}

/* hdr_end - the header section is over */
static enum mail_hdr_kind hdr_end(struct mail_hdr *h, enum mail_hdr_kind k)
{
    h->in_header = false;
    return k;
}

/* msgid_add - more of the first Message-ID: value: line[0..len) without its line end */
static void msgid_add(struct mail_hdr *h, const char *p, size_t len)
{
    while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r'))
        len--;
    if (h->msgid_over || len > DD_MSGID_MAX - h->msgid_len) {
        h->msgid_over = true;
        return;
    }
    memcpy(h->msgid + h->msgid_len, p, len);
    h->msgid_len += len;
}

/* msgid_start - the first Message-ID: field: its value starts after the colon */
static void msgid_start(struct mail_hdr *h, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);

    h->message_id = true;
    h->in_msgid = true;
    msgid_add(h, colon + 1, len - (size_t)(colon + 1 - line));
}

/* note_8bit - a header line with an octet >= 0x80 */
static void note_8bit(struct mail_hdr *h, const char *line, size_t len)
{
    for (size_t i = 0; i < len && !h->eight_bit; i++)
        h->eight_bit = (unsigned char)line[i] >= 0x80;
}

/* mail_hdr_line - classify one whole line of the header section */
enum mail_hdr_kind mail_hdr_line(struct mail_hdr *h, const char *line, size_t len)
{
    size_t n;

    if (!h->in_header)
        return MAIL_HDR_END_BODY;
    if (len == 2 && line[0] == '\r' && line[1] == '\n')
        return hdr_end(h, MAIL_HDR_END_BLANK);
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        if (!h->seen_field)
            return hdr_end(h, MAIL_HDR_END_BODY);
        if (h->in_msgid)
            msgid_add(h, line, len);
        note_8bit(h, line, len);
        return MAIL_HDR_FIELD;
    }
    if ((n = field_name_len(line, len)) == 0)
        return hdr_end(h, MAIL_HDR_END_BODY);
    h->seen_field = true;
    note_8bit(h, line, len);
    h->in_msgid = false;
    if (name_is(line, n, "Received"))
        h->received++;
    else if (name_is(line, n, "Message-ID") && !h->message_id)
        msgid_start(h, line, len);
    return MAIL_HDR_FIELD;
}

/* mail_hdr_msgid - the first Message-ID: value, trimmed, or NULL */
const char *mail_hdr_msgid(const struct mail_hdr *h, size_t *len)
{
    size_t b = 0, e = h->msgid_len;

    if (!h->message_id || h->msgid_over)
        return NULL;
    while (b < e && (h->msgid[b] == ' ' || h->msgid[b] == '\t'))
        b++;
    while (e > b && (h->msgid[e - 1] == ' ' || h->msgid[e - 1] == '\t'))
        e--;
    if (b == e)
        return NULL;
    *len = e - b;
    return h->msgid + b;
}

/* A bounded text buffer for the builders. */
struct out {
    char *buf;
    size_t cap;
    size_t len;
    bool fail;
};

/* out_printf - append, or mark the output failed when it does not fit */
__attribute__((format(printf, 2, 3))) static void out_printf(struct out *o, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (o->fail)
        return;
    va_start(ap, fmt);
    n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->fail = true;
    else
        o->len += (size_t)n;
}

/* out_check_line - the line written since start stays under the text line limit */
static void out_check_line(struct out *o, size_t start)
{
    if (!o->fail && o->len - start > DD_SMTP_TEXT_LINE_MAX - 2)
        o->fail = true;
}

/* out_end - the length written, or 0 on failure */
static size_t out_end(struct out *o)
{
    if (o->fail) {
        if (o->cap > 0)
            o->buf[0] = 0;
        return 0;
    }
    return o->len;
}

/* safe_text - s is present and holds no octet that could end a header line */
static bool safe_text(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") == NULL;
}

/* mail_hdr_date - RFC 5322 date-time in UTC */
size_t mail_hdr_date(char *buf, size_t cap, time_t t)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct out o = {buf, cap, 0, cap == 0};
    struct tm tm;

    /* Month and day names are ours, never the locale's. */
    if (gmtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 || tm.tm_mon < 0 ||
        tm.tm_mon > 11)
        o.fail = true;
    else
        out_printf(&o, "%s, %02d %s %04lld %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
                   months[tm.tm_mon], (long long)tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                   tm.tm_sec);
    return out_end(&o);
}

/* is_ipv6 - an IP literal that needs the "IPv6:" tag (RFC 5321 4.1.3) */
static bool is_ipv6(const char *ip)
{
    return strchr(ip, ':') != NULL && strncasecmp(ip, "IPv6:", 5) != 0;
}

/* mail_hdr_received - the Received: field we prepend */
size_t mail_hdr_received(char *buf, size_t cap, const struct mail_hdr_received *r)
{
    struct out o = {buf, cap, 0, cap == 0};
    char date[64];
    const char *proto = r->proto ? r->proto : "ESMTP";
    size_t start = 0;

    if (!safe_text(r->helo) || !safe_text(r->ip) || !safe_text(r->hostname) ||
        !safe_text(r->queueid) || !safe_text(proto) || (r->rcpt && !safe_text(r->rcpt)) ||
        (r->version && !safe_text(r->version)) || (r->tls && !safe_text(r->tls)) ||
        mail_hdr_date(date, sizeof(date), r->when) == 0) {
        o.fail = true;
        return out_end(&o);
    }
    out_printf(&o, "Received: from %s ([%s%s])\r\n", r->helo, is_ipv6(r->ip) ? "IPv6:" : "", r->ip);
    out_check_line(&o, start);
    start = o.len;
    if (r->tls) { /* Postfix's wording, so log and header tools read it */
        out_printf(&o, "\t(using %s)\r\n", r->tls);
        out_check_line(&o, start);
        start = o.len;
    }
    out_printf(&o, "\tby %s (dumpsterd%s%s) with %s id %s%s\r\n", r->hostname,
               r->version ? " " : "", r->version ? r->version : "", proto, r->queueid,
               r->rcpt ? "" : ";");
    out_check_line(&o, start);
    start = o.len;
    if (r->rcpt)
        out_printf(&o, "\tfor <%s>; %s\r\n", r->rcpt, date);
    else
        out_printf(&o, "\t%s\r\n", date);
    out_check_line(&o, start);
    return out_end(&o);
}

/* mail_hdr_message_id - "Message-ID: <QUEUEID@hostname>\r\n" */
size_t mail_hdr_message_id(char *buf, size_t cap, const char *queueid, const char *hostname)
{
    struct out o = {buf, cap, 0, cap == 0};

    if (!safe_text(queueid) || !safe_text(hostname))
        o.fail = true;
    out_printf(&o, "Message-ID: <%s@%s>\r\n", queueid, hostname);
    out_check_line(&o, 0);
    return out_end(&o);
}
