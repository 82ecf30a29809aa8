/*
 * http_head.c - judge the head of an admin API request (http_head.h)
 *
 * The request line is judged once its CRLF is there, the headers once the
 * empty line is: a client that sends a bad first line hears so at once,
 * and one that announces too large a body hears 413 before sending it.
 */
#include <string.h>

#include "ascii.h"
#include "bounds.h"
#include "http_head.h"

#define HTTP_METHOD_MAX 16 /* octets of a method token we look at */

static const struct http_reject_info http_rejects[HTTP_R_COUNT] = {
    [HTTP_R_REQUEST_LINE] = {400, "bad_request", "malformed request line"},
    [HTTP_R_TARGET] = {400, "bad_request", "the request target must be a path"},
    [HTTP_R_HEADER_LINE] = {400, "bad_request", "malformed header line"},
    [HTTP_R_LENGTH] = {400, "bad_request", "Content-Length is not a number"},
    [HTTP_R_TWO_LENGTHS] = {400, "bad_request", "more than one Content-Length"},
    [HTTP_R_TWO_AUTH] = {400, "bad_request", "more than one Authorization header"},
    [HTTP_R_RESERVED] = {400, "bad_request", HTTP_REJECT_HEADER " is reserved"},
    [HTTP_R_NO_BODY] = {400, "bad_request", "this method takes no body"},
    [HTTP_R_TIMEOUT] = {408, "request_timeout", "the request did not arrive in time"},
    [HTTP_R_CHUNKED] = {411, "length_required",
                        "Transfer-Encoding is not supported; send Content-Length"},
    [HTTP_R_BODY_SIZE] = {413, "too_large", "request body over " DD_STR(DD_API_BODY_MAX) " octets"},
    [HTTP_R_EXPECT] = {417, "expectation_failed", "only Expect: 100-continue is supported"},
    [HTTP_R_HEAD_SIZE] = {431, "headers_too_large",
                          "request line and headers over " DD_STR(ADMIN_HEADERS_MAX) " octets"},
    [HTTP_R_METHOD] = {501, "not_implemented", "unknown method"},
    [HTTP_R_VERSION] = {505, "http_version_not_supported", "only HTTP/1.0 and HTTP/1.1"},
};

static const struct {
    const char *name;
    unsigned method;
} http_methods[] = {
    {"GET", HTTP_M_GET},     {"HEAD", HTTP_M_HEAD},       {"POST", HTTP_M_POST},
    {"PUT", HTTP_M_PUT},     {"DELETE", HTTP_M_DELETE},   {"OPTIONS", HTTP_M_OPTIONS},
    {"TRACE", HTTP_M_TRACE}, {"CONNECT", HTTP_M_CONNECT}, {"PATCH", HTTP_M_PATCH},
};
#define HTTP_NMETHODS (sizeof(http_methods) / sizeof(http_methods[0]))

/* http_reject_info - status, code and message of a refusal */
const struct http_reject_info *http_reject_info(enum http_reject r)
{
    if (r <= HTTP_R_NONE || r >= HTTP_R_COUNT)
        return NULL;
    return &http_rejects[r];
}

/* http_method_name - the method's token */
const char *http_method_name(unsigned method)
{
    for (size_t i = 0; i < HTTP_NMETHODS; i++)
        if (http_methods[i].method == method)
            return http_methods[i].name;
    return "OTHER";
}

/* http_bad - h->why = r; HTTP_HEAD_BAD */
static enum http_head_rc http_bad(struct http_head *h, enum http_reject r)
{
    h->why = r;
    return HTTP_HEAD_BAD;
}

/* http_tchar - a token octet (RFC 9110 5.6.2) */
static bool http_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           (ch != 0 && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

/* http_token_len - octets of the token at s[0..n) */
static size_t http_token_len(const char *s, size_t n)
{
    size_t i = 0;

    while (i < n && http_tchar((unsigned char)s[i]))
        i++;
    return i;
}

/* http_version - "HTTP/1.0" or "HTTP/1.1": 0 (http10 set), another
 * HTTP/d.d: 505, anything else: 400 */
static enum http_reject http_version(const char *s, size_t n, bool *http10)
{
    if (n != 8 || memcmp(s, "HTTP/", 5) != 0 || s[6] != '.' || s[5] < '0' || s[5] > '9' ||
        s[7] < '0' || s[7] > '9')
        return HTTP_R_REQUEST_LINE;
    if (s[5] != '1' || (s[7] != '0' && s[7] != '1'))
        return HTTP_R_VERSION;
    *http10 = s[7] == '0';
    return HTTP_R_NONE;
}

/* http_target_ok - a path ("/...", visible ASCII), or "*" for OPTIONS; no
 * absolute URI and no "//" (evhttp would read an authority there and
 * refuse a bad one with its own page) */
static bool http_target_ok(const char *s, size_t n, unsigned method)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    if (n == 1 && s[0] == '*')
        return method == HTTP_M_OPTIONS;
    return n > 0 && s[0] == '/' && (n == 1 || s[1] != '/');
}

/* http_method_of - the method named s[0..n), 0 when unknown */
static unsigned http_method_of(const char *s, size_t n)
{
    for (size_t i = 0; i < HTTP_NMETHODS; i++)
        if (strlen(http_methods[i].name) == n && memcmp(http_methods[i].name, s, n) == 0)
            return http_methods[i].method;
    return 0;
}

/* http_request_line - METHOD SP TARGET SP VERSION, line[0..n) without CRLF */
static enum http_reject http_request_line(const char *line, size_t n, struct http_head *h)
{
    size_t m = http_token_len(line, n), t, v;
    enum http_reject r;

    if (m == 0 || m >= n || line[m] != ' ')
        return HTTP_R_REQUEST_LINE;
    for (t = m + 1; t < n && line[t] != ' '; t++)
        ;
    if (t == m + 1 || t >= n)
        return HTTP_R_REQUEST_LINE;
    v = t + 1;
    if ((r = http_version(line + v, n - v, &h->http10)) != HTTP_R_NONE)
        return r;
    h->method = m <= HTTP_METHOD_MAX ? http_method_of(line, m) : 0;
    if (h->method == 0)
        return HTTP_R_METHOD;
    if (!http_target_ok(line + m + 1, t - m - 1, h->method))
        return HTTP_R_TARGET;
    return HTTP_R_NONE;
}

/* http_length - Content-Length: 1..19 digits */
static enum http_reject http_length(const char *v, size_t n, uint64_t max, uint64_t *out)
{
    uint64_t x = 0;

    if (n == 0 || n > 19)
        return HTTP_R_LENGTH;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return HTTP_R_LENGTH;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    *out = x;
    return x > max ? HTTP_R_BODY_SIZE : HTTP_R_NONE;
}

/* What the header lines said. */
struct http_seen {
    unsigned lengths, auths;
    uint64_t length;
};

/* http_field - one NAME: VALUE, value without the blanks around it */
static enum http_reject http_field(const char *name, size_t nn, const char *v, size_t vn,
                                   uint64_t max_body, struct http_seen *seen)
{
    if (ascii_word_is(name, nn, "CONTENT-LENGTH")) {
        if (++seen->lengths > 1)
            return HTTP_R_TWO_LENGTHS;
        return http_length(v, vn, max_body, &seen->length);
    }
    if (ascii_word_is(name, nn, "AUTHORIZATION"))
        return ++seen->auths > 1 ? HTTP_R_TWO_AUTH : HTTP_R_NONE;
    if (ascii_word_is(name, nn, "TRANSFER-ENCODING"))
        return HTTP_R_CHUNKED;
    if (ascii_word_is(name, nn, "EXPECT"))
        return ascii_word_is(v, vn, "100-CONTINUE") ? HTTP_R_NONE : HTTP_R_EXPECT;
    if (ascii_word_is(name, nn, "X-DUMPSTERD-REJECT")) /* HTTP_REJECT_HEADER */
        return HTTP_R_RESERVED;
    return HTTP_R_NONE;
}

/* http_header_line - line[0..n) without CRLF: NAME ":" OWS VALUE OWS */
static enum http_reject http_header_line(const char *line, size_t n, uint64_t max_body,
                                         struct http_seen *seen)
{
    size_t nn = http_token_len(line, n), b, e;

    if (nn == 0 || nn >= n || line[nn] != ':')
        return HTTP_R_HEADER_LINE;
    for (size_t i = nn + 1; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];

        if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
            return HTTP_R_HEADER_LINE;
    }
    for (b = nn + 1; b < n && (line[b] == ' ' || line[b] == '\t'); b++)
        ;
    for (e = n; e > b && (line[e - 1] == ' ' || line[e - 1] == '\t'); e--)
        ;
    return http_field(line, nn, line + b, e - b, max_body, seen);
}

/* http_headers - the lines of buf[from..end), each ending in CRLF */
static enum http_reject http_headers(const char *buf, size_t from, size_t end, uint64_t max_body,
                                     struct http_seen *seen)
{
    while (from < end) {
        const char *nl = memchr(buf + from, '\n', end - from);
        size_t n = (size_t)(nl - (buf + from));
        enum http_reject r;

        if (n == 0 || buf[from + n - 1] != '\r' || memchr(buf + from, '\r', n - 1) != NULL)
            return HTTP_R_HEADER_LINE;
        if ((r = http_header_line(buf + from, n - 1, max_body, seen)) != HTTP_R_NONE)
            return r;
        from += n + 1;
    }
    return HTTP_R_NONE;
}

/* http_body - what evhttp will read after the head */
static enum http_reject http_body(const struct http_seen *seen, struct http_head *h)
{
    bool takes = (h->method & (HTTP_M_POST | HTTP_M_PUT | HTTP_M_PATCH)) != 0;

    if (!takes)
        return seen->lengths && seen->length > 0 ? HTTP_R_NO_BODY : HTTP_R_NONE;
    h->body_len = seen->length;
    h->needs_length = seen->lengths == 0;
    return HTTP_R_NONE;
}

/* http_head_parse - the request line, then the headers */
enum http_head_rc http_head_parse(const char *buf, size_t len, size_t max_head, uint64_t max_body,
                                  struct http_head *h)
{
    const char *nl = memchr(buf, '\n', len < max_head ? len : max_head);
    struct http_seen seen = {0};
    const char *end;
    size_t first, scan = len < max_head ? len : max_head;
    enum http_reject r;

    memset(h, 0, sizeof(*h));
    if (nl == NULL)
        return len >= max_head ? http_bad(h, HTTP_R_HEAD_SIZE) : HTTP_HEAD_MORE;
    first = (size_t)(nl - buf);
    if (first == 0 || buf[first - 1] != '\r' || memchr(buf, '\r', first - 1) != NULL ||
        memchr(buf, 0, first) != NULL)
        return http_bad(h, HTTP_R_REQUEST_LINE);
    if ((r = http_request_line(buf, first - 1, h)) != HTTP_R_NONE)
        return http_bad(h, r);
    /* the empty line: CRLF right after the request line's, or CRLFCRLF later */
    end = memmem(buf + first - 1, scan - (first - 1), "\r\n\r\n", 4);
    if (end == NULL)
        return len >= max_head ? http_bad(h, HTTP_R_HEAD_SIZE) : HTTP_HEAD_MORE;
    h->head_len = (size_t)(end - buf) + 4;
    if ((r = http_headers(buf, first + 1, h->head_len - 2, max_body, &seen)) != HTTP_R_NONE ||
        (r = http_body(&seen, h)) != HTTP_R_NONE)
        return http_bad(h, r);
    return HTTP_HEAD_OK;
}
