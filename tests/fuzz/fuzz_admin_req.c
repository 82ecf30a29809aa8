/*
 * fuzz_admin_req.c - libFuzzer target for the admin API's request path as
 * far as it is ours: the head judge (http_head.h), the routes and query
 * strings (api_route.h) and the bearer token check (auth.h)
 *
 * The input is a request as it comes off the socket, in a buffer of its
 * exact size. Invariants: a head that is accepted ends in CRLF CRLF within
 * the bound, has one known method, a body only where evhttp reads one and
 * within the bound, and is judged the same when the bytes after it are cut
 * off, while cutting into it gives "more"; a refusal names a reason with an
 * answer; an incomplete head stays incomplete when cut shorter. The
 * accepted head's path routes to a route of that path and method (HEAD as
 * GET) or to none with an empty capture; its query parses to a bounded
 * value or to a 400 bad_query; an Authorization value passes only with
 * the token the hash was made of. The whole input, as a string, is also
 * routed and parsed as a query.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_route.h"
#include "auth.h"
#include "bounds.h"
#include "http_head.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TOKEN "fuzz-token"
#define FUZZ_QUERY_CAP 64

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_admin_req: invariant broken: %s\n", what);
        abort();
    }
}

/* judge - http_head_parse of buf[0..len) from a copy of exactly len octets */
static enum http_head_rc judge(const char *buf, size_t len, struct http_head *h)
{
    char *copy = malloc(len ? len : 1);
    enum http_head_rc rc;

    check(copy != NULL, "malloc");
    memcpy(copy, buf, len);
    rc = http_head_parse(copy, len, ADMIN_HEADERS_MAX, DD_API_BODY_MAX, h);
    free(copy);
    return rc;
}

/* check_route - route path (NUL-terminated) with method */
static void check_route(unsigned method, const char *path)
{
    char arg[API_ROUTE_ARG_MAX + 1], allow[64];
    unsigned allowed = 0;
    int id = api_route_find(method, path, arg, sizeof(arg), &allowed);

    check(strlen(arg) <= API_ROUTE_ARG_MAX, "capture bounded");
    if (id < 0) {
        check(id == -1 && arg[0] == 0, "no route: no capture");
        api_allow_text(allowed, allow, sizeof(allow));
        check((allowed == 0) == (allow[0] == 0), "Allow names the methods");
        return;
    }
    check(id < API_R_COUNT, "route id");
    check(api_route_get(id)->method == (method == HTTP_M_HEAD ? HTTP_M_GET : method),
          "route of that method");
    check((strchr(api_route_get(id)->pattern, '*') != NULL) == (arg[0] != 0), "capture iff '*'");
    check(strchr(arg, '/') == NULL, "a capture is one segment");
}

/* check_query - the query (NUL-terminated) for a parameter */
static void check_query(const char *query, const char *name)
{
    char out[FUZZ_QUERY_CAP];
    struct api_error err;
    int rc = api_query_param(query, name, out, sizeof(out), &err);

    check(rc >= -1 && rc <= 1, "query result");
    if (rc == 1)
        check(strlen(out) < sizeof(out), "value bounded");
    if (rc == -1)
        check(err.status == 400 && strcmp(err.code, "bad_query") == 0, "400 bad_query");
}

/* check_target - the path and query of the request line */
static void check_target(const char *buf, const struct http_head *h)
{
    const char *sp = memchr(buf, ' ', h->head_len), *end;
    char *target;
    size_t n;

    check(sp != NULL, "request line has a space");
    end = memchr(sp + 1, ' ', h->head_len - (size_t)(sp + 1 - buf));
    check(end != NULL, "request line has two spaces");
    n = (size_t)(end - sp - 1);
    check((target = malloc(n + 1)) != NULL, "malloc");
    memcpy(target, sp + 1, n);
    target[n] = 0;
    char *q = strchr(target, '?');
    if (q != NULL)
        *q++ = 0;
    check_route(h->method, target);
    check_query(q, "state");
    check_query(q, "storage_group");
    free(target);
}

/* check_auth - every Authorization header of the head */
static void check_auth(const char *buf, const struct http_head *h, const char *hash)
{
    const char *p = buf, *end = buf + h->head_len;

    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL && ++p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        size_t n = eol != NULL ? (size_t)(eol - p) : 0;
        char *v;

        if (n < 14 || strncasecmp(p, "authorization:", 14) != 0)
            continue;
        check((v = malloc(n - 13)) != NULL, "malloc");
        memcpy(v, p + 14, n - 14);
        v[n - 14] = 0;
        if (auth_check_bearer(hash, v))
            check(strstr(v, FUZZ_TOKEN) != NULL, "only the token passes");
        free(v);
    }
}

/* check_ok - an accepted head */
static void check_ok(const char *buf, size_t size, const struct http_head *h, const char *hash)
{
    struct http_head again;
    unsigned m = h->method;

    check(h->head_len >= 4 && h->head_len <= size && h->head_len <= ADMIN_HEADERS_MAX, "length");
    check(memcmp(buf + h->head_len - 4, "\r\n\r\n", 4) == 0, "ends with CRLF CRLF");
    check(m != 0 && (m & (m - 1)) == 0, "one method");
    check(h->body_len <= DD_API_BODY_MAX, "body bounded");
    if ((m & (HTTP_M_POST | HTTP_M_PUT | HTTP_M_PATCH)) == 0)
        check(h->body_len == 0 && !h->needs_length, "a body only where evhttp reads one");
    check(judge(buf, h->head_len, &again) == HTTP_HEAD_OK, "the head alone is accepted");
    check(again.head_len == h->head_len && again.body_len == h->body_len &&
              again.method == h->method && again.needs_length == h->needs_length,
          "the head alone is judged the same");
    check(judge(buf, h->head_len - 1, &again) == HTTP_HEAD_MORE, "cut into: more");
    check_target(buf, h);
    check_auth(buf, h, hash);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char hash[AUTH_HASH_HEX_BUF];
    struct http_head h, shorter;
    char *s;

    if (hash[0] == 0)
        auth_token_hash_hex(FUZZ_TOKEN, strlen(FUZZ_TOKEN), hash);
    switch (judge((const char *)data, size, &h)) {
    case HTTP_HEAD_OK:
        check_ok((const char *)data, size, &h, hash);
        break;
    case HTTP_HEAD_BAD:
        check(http_reject_info(h.why) != NULL, "a refusal has an answer");
        check(http_reject_info(h.why)->status >= 400, "an error status");
        break;
    default:
        check(size < ADMIN_HEADERS_MAX, "more only within the bound");
        if (size > 0)
            check(judge((const char *)data, size - 1, &shorter) == HTTP_HEAD_MORE,
                  "shorter stays incomplete");
    }
    /* the whole input as a path and as a query */
    check((s = malloc(size + 1)) != NULL, "malloc");
    memcpy(s, data, size);
    s[size] = 0;
    check_route(HTTP_M_GET, s);
    check_route(HTTP_M_DELETE, s);
    check_query(s, "state");
    free(s);
    return 0;
}
