/*
 * api_route.c - the admin API's route table and its matching (api_route.h)
 */
#include <stdio.h>
#include <string.h>

#include "api_route.h"

static const struct api_route api_routes[API_R_COUNT] = {
    [API_R_HEALTHZ] = {"/healthz", HTTP_M_GET, API_OPEN},
    [API_R_METRICS] = {"/metrics", HTTP_M_GET, API_PUBLIC_READ},
    [API_R_STATS] = {"/v1/stats", HTTP_M_GET, API_PUBLIC_READ},
    [API_R_STATS_SG] = {"/v1/stats/*", HTTP_M_GET, API_PUBLIC_READ},
    [API_R_RESUBMIT_LIST] = {"/v1/resubmit", HTTP_M_GET, API_TOKEN},
    [API_R_RESUBMIT_POST] = {"/v1/resubmit", HTTP_M_POST, API_TOKEN},
    [API_R_RESUBMIT_GET] = {"/v1/resubmit/*", HTTP_M_GET, API_TOKEN},
    [API_R_RESUBMIT_CANCEL] = {"/v1/resubmit/*", HTTP_M_DELETE, API_TOKEN},
    [API_R_SG_LIST] = {"/v1/storage-groups", HTTP_M_GET, API_TOKEN},
    [API_R_SG_GET] = {"/v1/storage-groups/*", HTTP_M_GET, API_TOKEN},
    [API_R_SG_DEST_GET] = {"/v1/storage-groups/*/destination", HTTP_M_GET, API_TOKEN},
    [API_R_SG_DEST_PUT] = {"/v1/storage-groups/*/destination", HTTP_M_PUT, API_TOKEN},
    [API_R_SG_REPLICATED] = {"/v1/storage-groups/*/replicated", HTTP_M_POST, API_TOKEN},
    [API_R_QUEUE_LIST] = {"/v1/queue", HTTP_M_GET, API_TOKEN},
    [API_R_QUEUE_FLUSH] = {"/v1/queue/flush", HTTP_M_POST, API_TOKEN},
};

/* api_path_match - path against pat; the '*' segment goes to arg */
static bool api_path_match(const char *pat, const char *path, char *arg, size_t cap)
{
    while (*pat != 0) {
        if (*pat == '*') {
            size_t n = strcspn(path, "/");

            if (n == 0 || n >= cap)
                return false;
            memcpy(arg, path, n);
            arg[n] = 0;
            path += n;
            pat++;
            continue;
        }
        if (*pat++ != *path++)
            return false;
    }
    return *path == 0;
}

/* api_route_find - the route of method and path; *allowed when none */
int api_route_find(unsigned method, const char *path, char *arg, size_t cap, unsigned *allowed)
{
    if (method == HTTP_M_HEAD)
        method = HTTP_M_GET;
    *allowed = 0;
    if (cap > 0)
        arg[0] = 0;
    for (int i = 0; i < API_R_COUNT; i++) {
        if (!api_path_match(api_routes[i].pattern, path, arg, cap))
            continue;
        if (api_routes[i].method == method)
            return i;
        *allowed |= api_routes[i].method;
    }
    if (cap > 0)
        arg[0] = 0;
    return -1;
}

/* api_route_get - the route of id */
const struct api_route *api_route_get(enum api_route_id id)
{
    return &api_routes[id];
}

/* api_allow_text - the Allow header of mask */
void api_allow_text(unsigned mask, char *buf, size_t cap)
{
    static const struct {
        unsigned m;
        const char *name;
    } names[] = {{HTTP_M_GET, "GET, HEAD"},
                 {HTTP_M_POST, "POST"},
                 {HTTP_M_PUT, "PUT"},
                 {HTTP_M_DELETE, "DELETE"}};
    size_t used = 0;

    if (cap == 0)
        return;
    buf[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (mask & names[i].m)
            used += (size_t)snprintf(buf + used, used < cap ? cap - used : 0, "%s%s",
                                     used ? ", " : "", names[i].name);
}

/* api_hex - the value of a hex digit, -1 for another octet */
static int api_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* api_decode - s[0..n) with %XX and '+' decoded into out[cap]; -1 when
 * malformed or a NUL comes out, -2 when it does not fit */
static int api_decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int ch = (unsigned char)s[i];

        if (ch == '%') {
            int hi = i + 2 < n ? api_hex(s[i + 1]) : -1;
            int lo = hi >= 0 ? api_hex(s[i + 2]) : -1;

            if (lo < 0)
                return -1;
            ch = hi * 16 + lo;
            i += 2;
        } else if (ch == '+') {
            ch = ' ';
        }
        if (ch == 0)
            return -1;
        if (o + 1 >= cap)
            return -2;
        out[o++] = (char)ch;
    }
    out[o] = 0;
    return 0;
}

/* api_query_one - the parameter s[0..n) ("key=value") against name */
static int api_query_one(const char *s, size_t n, const char *name, bool seen, char *out,
                         size_t cap, struct api_error *err)
{
    const char *eq = memchr(s, '=', n);
    size_t kn = eq != NULL ? (size_t)(eq - s) : 0;

    if (eq == NULL || kn == 0) {
        api_error_set(err, 400, "bad_query", "malformed query string");
        return -1;
    }
    if (strlen(name) != kn || memcmp(s, name, kn) != 0) {
        api_error_set(err, 400, "bad_query", "unknown query parameter \"%.*s\"",
                      (int)(kn < 64 ? kn : 64), s);
        return -1;
    }
    if (seen) {
        api_error_set(err, 400, "bad_query", "query parameter \"%s\" repeated", name);
        return -1;
    }
    switch (api_decode(eq + 1, n - kn - 1, out, cap)) {
    case 0:
        return 0;
    case -1:
        api_error_set(err, 400, "bad_query", "malformed query string");
        return -1;
    default:
        api_error_set(err, 400, "bad_query", "query parameter \"%s\" too long", name);
        return -1;
    }
}

/* api_query_param - the one parameter a path takes, if given */
int api_query_param(const char *query, const char *name, char *out, size_t cap,
                    struct api_error *err)
{
    int found = 0;

    if (query == NULL || query[0] == 0)
        return 0;
    while (*query != 0) {
        size_t n = strcspn(query, "&");

        if (api_query_one(query, n, name, found, out, cap, err) < 0)
            return -1;
        found = 1;
        query += n;
        if (*query == '&')
            query++;
    }
    return found;
}
