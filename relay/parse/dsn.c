/*
 * dsn.c - compose RFC 3464 delivery status notifications (pure)
 *
 * The body (three MIME parts) is written first, so that we know whether it
 * holds 8-bit text and whether the boundary occurs in it before the header
 * is written in front. Every line goes through line_end(), which cuts it to
 * DSN_LINE_MAX octets (never inside a UTF-8 sequence) and adds CRLF; every
 * value from the input goes through put_text(), which turns control octets
 * into spaces. Those two are the whole defence against header injection and
 * over-long lines, so nothing else writes line ends.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "timefmt.h"

#define DSN_TOKEN_MAX 255 /* hostname, queue id, hub name, as used */
#define DSN_BUF_INITIAL 4096

/* A growing output buffer; fail sticks after the first allocation error. */
struct dsn_buf {
    char *p;
    size_t len;
    size_t cap;
    size_t line; /* where the current line starts */
    bool fail;
};

/* Cleaned identifiers used in several places. */
struct dsn_ids {
    char host[DSN_TOKEN_MAX + 1];
    char hub[DSN_TOKEN_MAX + 1];
    char qid[DSN_TOKEN_MAX + 1];
    char seed[DSN_SEED_MAX + 1];
    char boundary[DSN_SEED_MAX + 8];
    bool all_delayed;
    size_t listed; /* recipients listed */
};

/* buf_reserve - room for n more octets and a NUL */
static bool buf_reserve(struct dsn_buf *b, size_t n)
{
    size_t cap;
    char *p;

    if (b->fail)
        return false;
    if (b->len + n + 1 <= b->cap)
        return true;
    for (cap = b->cap ? b->cap : DSN_BUF_INITIAL; cap < b->len + n + 1; cap *= 2)
        ;
    if ((p = realloc(b->p, cap)) == NULL) {
        b->fail = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

/* put - our own text, trusted (no line ends in it) */
static void put(struct dsn_buf *b, const char *s)
{
    size_t n = strlen(s);

    if (buf_reserve(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

/* put_text - input bytes; control octets (TAB too unless keep_tab) become spaces */
static void put_text(struct dsn_buf *b, const char *s, size_t n, bool keep_tab)
{
    size_t used = b->len - b->line, i;

    /* Past the line limit nothing shows: copy no more than line_end keeps. */
    if (s == NULL || used > DSN_LINE_MAX)
        return;
    if (n > DSN_LINE_MAX + 1 - used)
        n = DSN_LINE_MAX + 1 - used;
    if (!buf_reserve(b, n))
        return;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        if ((ch < 0x20 && !(keep_tab && ch == '\t')) || ch == 0x7f)
            ch = ' ';
        b->p[b->len++] = (char)ch;
    }
}

/* put_str - a NUL-terminated input string, cleaned */
static void put_str(struct dsn_buf *b, const char *s)
{
    put_text(b, s, s ? strlen(s) : 0, false);
}

/* line_end - cut the line to DSN_LINE_MAX octets (not inside UTF-8), add CRLF */
static void line_end(struct dsn_buf *b)
{
    size_t cut = b->line + DSN_LINE_MAX;

    if (b->fail)
        return;
    if (b->len > cut) {
        while (cut > b->line && ((unsigned char)b->p[cut] & 0xC0) == 0x80)
            cut--;
        b->len = cut;
    }
    put(b, "\r\n");
    b->line = b->len;
}

/* line - one whole line of our own text */
static void line(struct dsn_buf *b, const char *s)
{
    put(b, s);
    line_end(b);
}

/* field - "Name: prefix VALUE" with the value cleaned */
static void field(struct dsn_buf *b, const char *name, const char *prefix, const char *value)
{
    put(b, name);
    put(b, ": ");
    put(b, prefix);
    put_str(b, value);
    line_end(b);
}

/* token_copy - an identifier for headers: no blanks, controls or specials */
static void token_copy(char *out, size_t cap, const char *s, const char *fallback)
{
    size_t i;

    if (s == NULL || *s == 0)
        s = fallback;
    for (i = 0; s[i] && i + 1 < cap; i++) {
        unsigned char ch = (unsigned char)s[i];

        out[i] = (ch <= 0x20 || ch >= 0x7f || strchr("<>()\",;@\\", ch)) ? '_' : (char)ch;
    }
    out[i] = 0;
}

/* ids_init - the cleaned identifiers; seed keeps [A-Za-z0-9_-] only */
static void ids_init(struct dsn_ids *ids, const struct dsn_params *p)
{
    size_t i;

    memset(ids, 0, sizeof(*ids));
    token_copy(ids->host, sizeof(ids->host), p->hostname, "localhost");
    token_copy(ids->hub, sizeof(ids->hub), p->hub_name, "-");
    token_copy(ids->qid, sizeof(ids->qid), p->queue_id, "-");
    for (i = 0; p->seed[i] && i < DSN_SEED_MAX; i++) {
        char ch = p->seed[i];

        ids->seed[i] = ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                        (ch >= '0' && ch <= '9') || ch == '-')
                           ? ch
                           : '_';
    }
    snprintf(ids->boundary, sizeof(ids->boundary), "=_dsn_%s", ids->seed);
    ids->listed = p->nrcpts < DSN_RCPTS_MAX ? p->nrcpts : DSN_RCPTS_MAX;
    ids->all_delayed = true;
    for (i = 0; i < p->nrcpts; i++)
        if (strcmp(p->rcpts[i].action, "delayed") != 0)
            ids->all_delayed = false;
}

/* params_ok - what dsn_compose() needs; never a DSN to the null sender */
static bool params_ok(const struct dsn_params *p)
{
    size_t i;

    if (p == NULL || p->sender == NULL || p->sender[0] == 0 || p->hostname == NULL ||
        p->hostname[0] == 0 || p->queue_id == NULL || p->seed == NULL || p->seed[0] == 0 ||
        p->rcpts == NULL || p->nrcpts == 0 || (p->headers == NULL && p->headers_len > 0))
        return false;
    for (i = 0; i < p->nrcpts; i++) {
        const struct dsn_rcpt *r = &p->rcpts[i];

        if (r->address == NULL || r->action == NULL ||
            (strcmp(r->action, "failed") != 0 && strcmp(r->action, "delayed") != 0))
            return false;
    }
    return true;
}

/* status_ok - RFC 3463 status: class "." subject "." detail */
static bool status_ok(const char *s)
{
    size_t i = 0, n, part;

    if (s == NULL || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
        return false;
    for (i = 2, part = 0; part < 2; part++) {
        for (n = 0; s[i] >= '0' && s[i] <= '9'; i++)
            if (++n > 3)
                return false;
        if (n == 0 || (part == 0 && s[i++] != '.'))
            return false;
    }
    return s[i] == 0;
}

/* rcpt_status - the status to report: the given one when well-formed */
static const char *rcpt_status(const struct dsn_rcpt *r)
{
    if (status_ok(r->status))
        return r->status;
    return strcmp(r->action, "delayed") == 0 ? "4.0.0" : "5.0.0";
}

/* is_smtp_reply - "550 ..." or "550-...": a diagnostic of type smtp */
static bool is_smtp_reply(const char *s)
{
    return s[0] >= '2' && s[0] <= '5' && s[1] >= '0' && s[1] <= '9' && s[2] >= '0' && s[2] <= '9' &&
           (s[3] == ' ' || s[3] == '-' || s[3] == 0);
}

/* has_text - a non-empty optional string */
static bool has_text(const char *s)
{
    return s != NULL && s[0] != 0;
}

/* date_field - "Name: RFC 5322 date" */
static void date_field(struct dsn_buf *b, const char *name, int64_t ms)
{
    char date[TIMEFMT_RFC5322_BUF];

    timefmt_rfc5322(ms, date);
    field(b, name, "", date);
}

/* put_intro - the first paragraphs of the human-readable part */
static void put_intro(struct dsn_buf *b, const struct dsn_ids *ids)
{
    put(b, "This is the mail system at host ");
    put(b, ids->host);
    put(b, " (dumpsterd hub ");
    put(b, ids->hub);
    put(b, ").");
    line_end(b);
    line(b, "");
    if (ids->all_delayed) {
        line(b, "####################################################################");
        line(b, "# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #");
        line(b, "####################################################################");
        line(b, "");
        line(b, "Your message could not be delivered yet to the recipients below.");
        line(b, "Delivery will be retried until the message expires.");
    } else {
        line(b, "I'm sorry to have to inform you that your message could not");
        line(b, "be delivered to one or more recipients. Its headers are attached below.");
    }
    line(b, "");
    line(b, "For further assistance, please send mail to postmaster.");
    line(b, "If you do so, please include this problem report.");
    line(b, "");
    put(b, "The message had queue id ");
    put(b, ids->qid);
    put(b, ".");
    line_end(b);
    line(b, "");
    line(b, "                   The mail system");
    line(b, "");
}

/* put_notification - part 1: text/plain for people */
static void put_notification(struct dsn_buf *b, const struct dsn_params *p,
                             const struct dsn_ids *ids)
{
    char more[96];
    size_t i;

    put_intro(b, ids);
    for (i = 0; i < ids->listed; i++) {
        const struct dsn_rcpt *r = &p->rcpts[i];

        put(b, "<");
        put_str(b, r->address);
        put(b, strcmp(r->action, "delayed") == 0 ? ">: delivery temporarily suspended: " : ">: ");
        if (has_text(r->remote_mta)) {
            put(b, "host ");
            put_str(b, r->remote_mta);
            put(b, " said: ");
        }
        put_str(b, has_text(r->diagnostic) ? r->diagnostic : "delivery failed");
        line_end(b);
        line(b, "");
    }
    if (p->nrcpts > ids->listed) {
        snprintf(more, sizeof(more), "... and %zu more recipients, not listed.",
                 p->nrcpts - ids->listed);
        line(b, more);
        line(b, "");
    }
}

/* dsn_mta_name - HOST of "HOST[IP]:PORT", "[IP]" when HOST is the IP, none for unix: */
size_t dsn_mta_name(const char *peer, char *buf, size_t cap)
{
    const char *open = peer ? strchr(peer, '[') : NULL, *close;
    size_t hlen, n;
    int w;

    if (cap == 0 || !has_text(peer) || strncmp(peer, "unix:", 5) == 0)
        return 0;
    hlen = open ? (size_t)(open - peer) : strlen(peer);
    close = open ? strchr(open, ']') : NULL;
    if (close != NULL && (size_t)(close - open - 1) == hlen && hlen > 0 &&
        memcmp(peer, open + 1, hlen) == 0) /* an IP literal destination */
        w = snprintf(buf, cap, "[%s%.*s]", memchr(peer, ':', hlen) ? "IPv6:" : "", (int)hlen, peer);
    else
        w = snprintf(buf, cap, "%.*s", (int)hlen, peer);
    n = w < 0 ? 0 : (size_t)w;
    if (n == 0 || n >= cap) {
        buf[0] = 0;
        return 0;
    }
    return n;
}

/* put_rcpt_fields - one per-recipient block of the delivery-status part */
static void put_rcpt_fields(struct dsn_buf *b, const struct dsn_rcpt *r)
{
    char mta[DSN_TOKEN_MAX + 16];

    line(b, "");
    field(b, "Final-Recipient", "rfc822; ", r->address);
    field(b, "Action", "", r->action);
    field(b, "Status", "", rcpt_status(r));
    if (dsn_mta_name(r->remote_mta, mta, sizeof(mta)) > 0)
        field(b, "Remote-MTA", "dns; ", mta);
    if (has_text(r->diagnostic))
        field(b, "Diagnostic-Code", is_smtp_reply(r->diagnostic) ? "smtp; " : "X-Dumpsterd; ",
              r->diagnostic);
    if (r->last_attempt_ms > 0)
        date_field(b, "Last-Attempt-Date", r->last_attempt_ms);
}

/* put_report - part 2: message/delivery-status (RFC 3464 section 2) */
static void put_report(struct dsn_buf *b, const struct dsn_params *p, const struct dsn_ids *ids)
{
    char more[32];
    size_t i;

    field(b, "Reporting-MTA", "dns; ", ids->host);
    field(b, "X-Dumpsterd-Queue-ID", "", ids->qid);
    field(b, "X-Dumpsterd-Hub", "", ids->hub);
    field(b, "X-Dumpsterd-Sender", "rfc822; ", p->sender);
    if (p->nrcpts > ids->listed) {
        snprintf(more, sizeof(more), "%zu", p->nrcpts - ids->listed);
        field(b, "X-Dumpsterd-Recipients-Not-Listed", "", more);
    }
    date_field(b, "Arrival-Date", p->arrival_ms);
    for (i = 0; i < ids->listed; i++)
        put_rcpt_fields(b, &p->rcpts[i]);
}

/* put_headers - part 3: the original header section, whole lines, cleaned */
static void put_headers(struct dsn_buf *b, const char *h, size_t len)
{
    bool cut = len > DSN_HEADERS_MAX;
    size_t pos = 0, end, n;
    const char *nl;

    if (cut)
        len = DSN_HEADERS_MAX;
    while (pos < len) {
        nl = memchr(h + pos, '\n', len - pos);
        if (nl == NULL && cut) /* a line cut by the bound is left out */
            break;
        end = nl ? (size_t)(nl - h) : len;
        n = end - pos;
        if (n > 0 && h[pos + n - 1] == '\r')
            n--;
        if (n == 0) /* the blank line: the body follows, never quoted */
            break;
        put_text(b, h + pos, n, true);
        line_end(b);
        pos = end + 1;
    }
}

/* part_start - a boundary delimiter and the part's header */
static void part_start(struct dsn_buf *b, const struct dsn_ids *ids, const char *desc,
                       const char *type, bool eightbit)
{
    put(b, "--");
    put(b, ids->boundary);
    line_end(b);
    field(b, "Content-Description", "", desc);
    field(b, "Content-Type", "", type);
    if (eightbit)
        line(b, "Content-Transfer-Encoding: 8bit");
    line(b, "");
}

/* has_8bit - whether s[0..n) has an octet >= 0x80 */
static bool has_8bit(const char *s, size_t n)
{
    size_t i;

    for (i = 0; s != NULL && i < n; i++)
        if ((unsigned char)s[i] >= 0x80)
            return true;
    return false;
}

/* str_8bit - has_8bit of an optional string */
static bool str_8bit(const char *s)
{
    return s != NULL && has_8bit(s, strlen(s));
}

/* rcpts_8bit - whether a listed recipient's text has 8-bit octets (UTF-8) */
static bool rcpts_8bit(const struct dsn_params *p, const struct dsn_ids *ids)
{
    size_t i;

    for (i = 0; i < ids->listed; i++)
        if (str_8bit(p->rcpts[i].address) || str_8bit(p->rcpts[i].remote_mta) ||
            str_8bit(p->rcpts[i].diagnostic))
            return true;
    return false;
}

/* put_body - the three parts, each saying 8bit when its input has 8-bit text */
static void put_body(struct dsn_buf *b, const struct dsn_params *p, const struct dsn_ids *ids)
{
    bool r8 = rcpts_8bit(p, ids);
    size_t hlen = p->headers_len < DSN_HEADERS_MAX ? p->headers_len : DSN_HEADERS_MAX;

    line(b, "This is a MIME-encapsulated message.");
    line(b, "");
    part_start(b, ids, "Notification", "text/plain; charset=utf-8", r8);
    put_notification(b, p, ids);
    part_start(b, ids, "Delivery report", "message/delivery-status", r8 || str_8bit(p->sender));
    put_report(b, p, ids);
    line(b, "");
    part_start(b, ids, "Undelivered Message Headers", "text/rfc822-headers",
               has_8bit(p->headers, hlen));
    put_headers(b, p->headers, p->headers_len);
    line(b, "");
    put(b, "--");
    put(b, ids->boundary);
    put(b, "--");
    line_end(b);
}

/* boundary_count - occurrences of the boundary in the body */
static size_t boundary_count(const struct dsn_buf *b, const char *boundary)
{
    size_t n = 0, blen = strlen(boundary), pos = 0;
    const char *hit;

    while (!b->fail && (hit = memmem(b->p + pos, b->len - pos, boundary, blen)) != NULL) {
        n++;
        pos = (size_t)(hit - b->p) + blen;
    }
    return n;
}

/* put_head - the message header */
static void put_head(struct dsn_buf *b, const struct dsn_params *p, const struct dsn_ids *ids,
                     bool eightbit)
{
    char date[TIMEFMT_RFC5322_BUF];

    field(b, "From", "MAILER-DAEMON@", ids->host);
    put(b, "To: <");
    put_str(b, p->sender);
    put(b, ">");
    line_end(b);
    field(b, "Subject", "",
          ids->all_delayed ? "Delayed Mail (still being retried)"
                           : "Undelivered Mail Returned to Sender");
    timefmt_rfc5322(p->now_ms, date);
    field(b, "Date", "", date);
    put(b, "Message-ID: <");
    put(b, ids->seed);
    put(b, "@");
    put(b, ids->host);
    put(b, ">");
    line_end(b);
    line(b, "Auto-Submitted: auto-replied");
    line(b, "MIME-Version: 1.0");
    line(b, "Content-Type: multipart/report; report-type=delivery-status;");
    put(b, "\tboundary=\"");
    put(b, ids->boundary);
    put(b, "\"");
    line_end(b);
    if (eightbit)
        line(b, "Content-Transfer-Encoding: 8bit");
    line(b, "");
}

/* dsn_compose - the whole notification; see dsn.h */
char *dsn_compose(const struct dsn_params *p, size_t *len_out)
{
    struct dsn_buf head = {0}, body = {0};
    struct dsn_ids ids;

    if (!params_ok(p))
        return NULL;
    ids_init(&ids, p);
    put_body(&body, p, &ids);
    /* Three delimiters and the close; any more means the content has it. */
    if (body.fail || boundary_count(&body, ids.boundary) != 4) {
        free(body.p);
        return NULL;
    }
    put_head(&head, p, &ids, has_8bit(body.p, body.len));
    if (buf_reserve(&head, body.len)) {
        memcpy(head.p + head.len, body.p, body.len);
        head.len += body.len;
        head.p[head.len] = 0;
    }
    free(body.p);
    if (head.fail) {
        free(head.p);
        return NULL;
    }
    if (len_out)
        *len_out = head.len;
    return head.p;
}
