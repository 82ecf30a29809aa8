/*
 * admin_reply.c - answers of the admin API: JSON bodies, errors, the log
 * line, and the small readers of a request (body, query parameter)
 *
 * Every answer goes through admin_reply_buffer(), which sets the headers
 * every reply carries and logs writes, 401s and server errors (reads are
 * not logged: a Prometheus scrape every few seconds would drown the log).
 * JSON values built here never fail on odd input: text from the store
 * (addresses, replies of remote servers) may be any octets, and JSON
 * wants UTF-8.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "admin_int.h"
#include "api_req.h"
#include "http_head.h"
#include "log.h"
#include "timefmt.h"

/* Logged octets of a request's URI. */
#define ADMIN_LOG_URI_MAX 200

static const char admin_oom_json[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of "
                                     "memory\"}}";

/* admin_reply_log - one line for writes, 401s, server errors and requests
 * refused before routing (admin_conn.c's stand-ins) */
static void admin_reply_log(struct evhttp_request *req, int status)
{
    unsigned m = admin_method(req);
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    const char *uri = evhttp_request_get_uri(req);
    char *peer = NULL;
    ev_uint16_t port = 0;
    char safe[ADMIN_LOG_URI_MAX + 1];
    size_t i;

    bool refused =
        evhttp_find_header(evhttp_request_get_input_headers(req), HTTP_REJECT_HEADER) != NULL;

    if (!refused && (m == HTTP_M_GET || m == HTTP_M_HEAD) && status != 401 && status < 500)
        return;
    if (evcon != NULL)
        evhttp_connection_get_peer(evcon, &peer, &port);
    if (refused) {
        log_info("admin", "client=[%s]:%u request refused status=%d", peer ? peer : "?",
                 (unsigned)port, status);
        return;
    }
    for (i = 0; uri != NULL && uri[i] != 0 && i < ADMIN_LOG_URI_MAX; i++)
        safe[i] = uri[i] > 0x20 && uri[i] < 0x7f ? uri[i] : '?';
    safe[i] = 0;
    log_info("admin", "client=[%s]:%u %s %s status=%d", peer ? peer : "?", (unsigned)port,
             http_method_name(m), safe, status);
}

/* admin_reply_buffer - status with body (drained into the reply); HEAD
 * gets the headers of the GET answer, Content-Length included, and no
 * body (evhttp 2.1 would send it) */
void admin_reply_buffer(struct evhttp_request *req, int status, const char *content_type,
                        struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evhttp_add_header(h, "Content-Type", content_type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    if (body != NULL)
        evbuffer_add_buffer(out, body);
    if (admin_method(req) == HTTP_M_HEAD) {
        char len[24];

        snprintf(len, sizeof(len), "%zu", evbuffer_get_length(out));
        evhttp_add_header(h, "Content-Length", len);
        evbuffer_drain(out, evbuffer_get_length(out));
    }
    admin_reply_log(req, status);
    evhttp_send_reply(req, status, NULL, NULL);
}

/* admin_reply_raw - status with a JSON text */
static void admin_reply_raw(struct evhttp_request *req, int status, const char *text)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);

    evbuffer_add(out, text, strlen(text));
    evbuffer_add(out, "\n", 1);
    admin_reply_buffer(req, status, "application/json", NULL);
}

/* admin_reply_json - status with body as compact JSON */
void admin_reply_json(struct evhttp_request *req, int status, json_t *body)
{
    char *s = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;

    json_decref(body);
    if (s == NULL) {
        admin_reply_raw(req, 500, admin_oom_json);
        return;
    }
    admin_reply_raw(req, status, s);
    free(s);
}

/* admin_reply_error - {"error":{"code","message"}} */
void admin_reply_error(struct evhttp_request *req, int status, const char *code, const char *fmt,
                       ...)
{
    struct api_error e;
    char msg[API_ERR_MESSAGE_MAX];
    char *s;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    api_error_set(&e, status, code, "%s", msg);
    if ((s = api_error_json(&e)) == NULL) {
        admin_reply_raw(req, 500, admin_oom_json);
        return;
    }
    admin_reply_raw(req, status, s);
    free(s);
}

/* admin_body - the body as one string; 413 past DD_API_BODY_MAX */
int admin_body(struct admin_call *c, const char **body, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(c->req);
    size_t n = evbuffer_get_length(in);

    if (n > DD_API_BODY_MAX) {
        admin_reply_error(c->req, 413, "too_large", "request body over %d octets", DD_API_BODY_MAX);
        return -1;
    }
    *body = n > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    *len = n;
    return 0;
}

/* admin_query_param - the one parameter a path takes, if given */
int admin_query_param(struct admin_call *c, const char *name, char *out, size_t cap)
{
    struct api_error err;
    int rc = api_query_param(c->query, name, out, cap, &err);

    if (rc < 0)
        admin_reply_error(c->req, err.status, err.code, "%s", err.message);
    return rc;
}

/* admin_json_str - a JSON string of any octets (non-UTF-8 made '?') */
json_t *admin_json_str(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j != NULL || (copy = strdup(s)) == NULL)
        return j;
    for (char *p = copy; *p != 0; p++)
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

/* admin_json_str_or_null - null for NULL or "" */
json_t *admin_json_str_or_null(const char *s)
{
    return s == NULL || s[0] == 0 ? json_null() : admin_json_str(s);
}

/* admin_json_time - RFC 3339 UTC with ms */
json_t *admin_json_time(int64_t ms)
{
    char buf[TIMEFMT_RFC3339_BUF];

    timefmt_format(ms, buf);
    return json_string(buf);
}

/* admin_json_time_or_null - null for 0 (never happened) */
json_t *admin_json_time_or_null(int64_t ms)
{
    return ms == 0 ? json_null() : admin_json_time(ms);
}

/* admin_json_u64 - a counter as a JSON integer */
json_t *admin_json_u64(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* admin_json_set - obj[key] = v, taken; NULL (out of memory) is skipped */
void admin_json_set(json_t *obj, const char *key, json_t *v)
{
    if (obj != NULL && v != NULL)
        json_object_set_new(obj, key, v);
    else
        json_decref(v);
}
