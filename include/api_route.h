/*
 * api_route.h - the admin API's paths, methods and who may call them, and
 * its query strings (pure; SPEC section 8)
 *
 * A request is routed by a table of (path pattern, method, access): a
 * path no route knows is 404, a known path with another method 405 with
 * the methods it takes. HEAD is routed as GET. The handlers themselves are
 * bound to the route ids in relay/admin/admin_http.c.
 */
#ifndef DD_API_ROUTE_H
#define DD_API_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "api_req.h"
#include "http_head.h"

/* A path segment a route captures ({sg} or {id}), at most this long. */
#define API_ROUTE_ARG_MAX 128

enum api_route_id {
    API_R_HEALTHZ,
    API_R_METRICS,
    API_R_STATS,
    API_R_STATS_SG,
    API_R_RESUBMIT_LIST,
    API_R_RESUBMIT_POST,
    API_R_RESUBMIT_GET,
    API_R_RESUBMIT_CANCEL,
    API_R_SG_LIST,
    API_R_SG_GET,
    API_R_SG_DEST_GET,
    API_R_SG_DEST_PUT,
    API_R_SG_REPLICATED,
    API_R_QUEUE_LIST,
    API_R_QUEUE_FLUSH,
    API_R_COUNT
};

/* Who may call a route: anyone; anyone when public_reads = yes (GET
 * /metrics and /v1/stats); only holders of the token. */
enum api_access { API_OPEN, API_PUBLIC_READ, API_TOKEN };

struct api_route {
    const char *pattern; /* '*' captures one non-empty segment */
    unsigned method;     /* one enum http_method */
    enum api_access access;
};

/*
 * api_route_find - the route of method (enum http_method) and path: its
 * id, with the captured segment in arg[cap] ("" when none); -1 when no
 * route matches, with *allowed the methods the path takes (0: no such
 * path: 404; else 405).
 */
int api_route_find(unsigned method, const char *path, char *arg, size_t cap, unsigned *allowed);

/* api_route_get - the route of id (0..API_R_COUNT-1) */
const struct api_route *api_route_get(enum api_route_id id);

/* api_allow_text - the Allow header of the methods in mask ("GET, HEAD,
 * POST"), into buf[cap] */
void api_allow_text(unsigned mask, char *buf, size_t cap);

/*
 * api_query_param - the one parameter name a path takes, from the raw
 * query string (NULL or "": none): 1 with its value (%XX and '+'
 * decoded) in out[cap], 0 when absent, -1 with err (400 bad_query) when
 * the query is malformed, names another parameter, repeats it, or its
 * value does not fit or decodes to a NUL.
 */
int api_query_param(const char *query, const char *name, char *out, size_t cap,
                    struct api_error *err);

#endif
