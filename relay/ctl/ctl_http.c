/*
 * ctl_http.c - dumpsterctl's HTTP client: every hub at once, on libevent
 *
 * One connection per hub, all started together; a hub's requests follow
 * one another (a failover moves the route first, then resubmits), each
 * bounded by the --timeout and by CTL_REPLY_MAX octets of answer. A hub
 * that cannot be reached, times out or closes gets an answer with status
 * 0 and the reason; the others go on. The next request of a hub is sent
 * from a fresh callback, never from inside evhttp's. An https:// hub is
 * asked over a verified TLS connection (ctl_tls.c); when TLS fails, the
 * answer says why.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>

#include "ctl.h"

struct ctl_conn {
    struct ctl_run *run;
    struct ctl_hub *h;
    struct evhttp_connection *evcon;
    int error; /* enum evhttp_request_error + 1, 0: none */
    struct ctl_tls tls;
};

struct ctl_run {
    struct ctl *ctl;
    ctl_step_fn step;
    struct event_base *base;
    struct evdns_base *dns;
    struct ctl_conn *conns;
    size_t pending; /* hubs not done */
};

static void ctl_conn_next(struct ctl_conn *c);

/* ctl_url_host - host and port of a parsed URL into h */
static int ctl_url_host(const struct evhttp_uri *u, struct ctl_hub *h, char *why, size_t cap)
{
    const char *host = evhttp_uri_get_host(u);
    int port = evhttp_uri_get_port(u);
    size_t n;

    if (host == NULL || host[0] == 0) {
        snprintf(why, cap, "no host");
        return -1;
    }
    n = strlen(host);
    if (host[0] == '[' && n > 2 && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n >= sizeof(h->host)) {
        snprintf(why, cap, "host name too long");
        return -1;
    }
    memcpy(h->host, host, n);
    h->host[n] = 0;
    h->port = port < 0 ? (h->https ? 443 : 80) : (uint16_t)port;
    if (port == 0 || port > 65535) {
        snprintf(why, cap, "bad port");
        return -1;
    }
    snprintf(h->hosthdr, sizeof(h->hosthdr), "%s%s%s:%u", strchr(h->host, ':') ? "[" : "", h->host,
             strchr(h->host, ':') ? "]" : "", (unsigned)h->port);
    return 0;
}

/* ctl_url_parse - http[s]://host[:port][/base] */
int ctl_url_parse(const char *url, struct ctl_hub *h, char *why, size_t cap)
{
    struct evhttp_uri *u;
    const char *path;
    int rc = -1;

    if (strlen(url) > CTL_URL_MAX) {
        snprintf(why, cap, "URL too long");
        return -1;
    }
    snprintf(h->url, sizeof(h->url), "%s", url);
    if ((u = evhttp_uri_parse_with_flags(url, 0)) == NULL) {
        snprintf(why, cap, "not a URL");
        return -1;
    }
    path = evhttp_uri_get_path(u);
    h->https = evhttp_uri_get_scheme(u) != NULL && strcmp(evhttp_uri_get_scheme(u), "https") == 0;
    if (evhttp_uri_get_scheme(u) == NULL ||
        (strcmp(evhttp_uri_get_scheme(u), "http") != 0 && !h->https))
        snprintf(why, cap, "only http:// and https:// URLs are supported");
    else if (evhttp_uri_get_query(u) != NULL || evhttp_uri_get_fragment(u) != NULL ||
             evhttp_uri_get_userinfo(u) != NULL)
        snprintf(why, cap, "no user, query or fragment allowed");
    else if (ctl_url_host(u, h, why, cap) == 0) {
        snprintf(h->base, sizeof(h->base), "%s", path != NULL ? path : "");
        for (size_t n = strlen(h->base); n > 0 && h->base[n - 1] == '/'; n--)
            h->base[n - 1] = 0;
        rc = 0;
    }
    evhttp_uri_free(u);
    return rc;
}

/* ctl_error_text - why a request got no answer */
static void ctl_error_text(int error, int saved_errno, char *out, size_t cap)
{
    switch (error - 1) {
    case EVREQ_HTTP_TIMEOUT:
        snprintf(out, cap, "timed out");
        return;
    case EVREQ_HTTP_EOF:
        snprintf(out, cap, "connection closed before an answer");
        return;
    case EVREQ_HTTP_INVALID_HEADER:
        snprintf(out, cap, "malformed answer");
        return;
    case EVREQ_HTTP_DATA_TOO_LONG:
        snprintf(out, cap, "answer too long");
        return;
    default:
        break;
    }
    /* a failed connect leaves no reliable errno behind in evhttp */
    if (saved_errno != 0 && saved_errno != ENOTCONN && saved_errno != EINPROGRESS)
        snprintf(out, cap, "cannot connect: %s", strerror(saved_errno));
    else
        snprintf(out, cap, "cannot connect");
}

/* ctl_answer_read - status, body and the hub's error message */
static void ctl_answer_read(struct evhttp_request *req, struct ctl_answer *a)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const char *body = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
    json_error_t jerr;
    const char *msg = NULL;

    a->status = evhttp_request_get_response_code(req);
    a->json = len > 0 ? json_loadb(body, len, 0, &jerr) : NULL;
    if (a->status >= 200 && a->status < 300)
        return;
    if (a->json != NULL)
        msg = json_string_value(json_object_get(json_object_get(a->json, "error"), "message"));
    snprintf(a->error, sizeof(a->error), "HTTP %d%s%s", a->status, msg ? ": " : "", msg ? msg : "");
}

/* ctl_http_error - evhttp says why a request failed */
static void ctl_http_error(enum evhttp_request_error e, void *arg)
{
    struct ctl_conn *c = arg;

    c->error = (int)e + 1;
}

/* ctl_conn_later - the next step, outside evhttp's callback */
static void ctl_conn_later(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ctl_conn_next(arg);
}

/* ctl_http_done - an answer, or none */
static void ctl_http_done(struct evhttp_request *req, void *arg)
{
    int saved = errno;
    struct ctl_conn *c = arg;
    struct ctl_answer *a = &c->h->ans[c->h->nans++];
    struct timeval now = {0, 0};

    if (req != NULL && evhttp_request_get_response_code(req) != 0)
        ctl_answer_read(req, a);
    else {
        a->status = 0;
        if (!c->h->https || !ctl_tls_error(&c->tls, a->error, sizeof(a->error)))
            ctl_error_text(c->error, saved, a->error, sizeof(a->error));
    }
    c->error = 0;
    if (event_base_once(c->run->base, -1, EV_TIMEOUT, ctl_conn_later, c, &now) < 0) {
        c->run->pending--; /* cannot go on with this hub */
        if (c->run->pending == 0)
            event_base_loopbreak(c->run->base);
    }
}

/* ctl_conn_send - one request on c's connection; -1 when it cannot go */
static int ctl_conn_send(struct ctl_conn *c, struct ctl_call *call)
{
    struct ctl *ctl = c->run->ctl;
    struct evhttp_request *req = evhttp_request_new(ctl_http_done, c);
    struct evkeyvalq *hd;
    char path[CTL_URL_MAX + sizeof(call->path) + 1], auth[AUTH_TOKEN_MAX + 16];

    if (req == NULL)
        return -1;
    evhttp_request_set_error_cb(req, ctl_http_error);
    hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Host", c->h->hosthdr);
    evhttp_add_header(hd, "Accept", "application/json");
    evhttp_add_header(hd, "User-Agent", "dumpsterctl");
    if (ctl->token[0] != 0) {
        snprintf(auth, sizeof(auth), "Bearer %s", ctl->token);
        evhttp_add_header(hd, "Authorization", auth);
    }
    if (call->body != NULL) {
        evhttp_add_header(hd, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), call->body, strlen(call->body));
    }
    snprintf(path, sizeof(path), "%s%s", c->h->base, call->path);
    return evhttp_make_request(c->evcon, req, (enum evhttp_cmd_type)call->method, path);
}

/* ctl_conn_next - ask the command for the hub's next request */
static void ctl_conn_next(struct ctl_conn *c)
{
    struct ctl_run *run = c->run;
    struct ctl_call call = {0};

    if (c->h->nans < CTL_STEPS_MAX && run->step(run->ctl, c->h, c->h->nans, &call) == 1) {
        int rc = ctl_conn_send(c, &call);

        free(call.body);
        if (rc == 0)
            return;
        c->h->ans[c->h->nans].status = 0;
        snprintf(c->h->ans[c->h->nans].error, sizeof(c->h->ans[0].error), "cannot send");
        c->h->nans++;
    }
    if (--run->pending == 0)
        event_base_loopbreak(run->base);
}

/* ctl_conn_new - the connection of c's hub, plain or TLS; 0, 1 when TLS
 * cannot be set up (the hub's answer says why), -1 out of memory */
static int ctl_conn_new(struct ctl_run *run, struct ctl_conn *c)
{
    struct ctl_answer *a = &c->h->ans[0];
    struct bufferevent *bev = NULL;

    if (c->h->https) {
        bev = ctl_tls_bev(&c->tls, run->base, c->h, run->ctl->cacert, a->error, sizeof(a->error));
        if (bev == NULL) {
            c->h->nans = 1;
            return 1;
        }
    }
    c->evcon =
        evhttp_connection_base_bufferevent_new(run->base, run->dns, bev, c->h->host, c->h->port);
    if (c->evcon == NULL)
        return -1;
    evhttp_connection_set_timeout(c->evcon, run->ctl->timeout);
    evhttp_connection_set_max_body_size(c->evcon, CTL_REPLY_MAX);
    return 0;
}

/* ctl_run_start - a connection per hub, each with its first request */
static int ctl_run_start(struct ctl_run *run)
{
    struct ctl *ctl = run->ctl;
    int rc;

    run->pending = ctl->nhubs;
    for (size_t i = 0; i < ctl->nhubs; i++) {
        struct ctl_conn *c = &run->conns[i];

        c->run = run;
        c->h = &ctl->hubs[i];
        if ((rc = ctl_conn_new(run, c)) < 0)
            return -1;
        if (rc > 0) /* no connection: this hub is done */
            run->pending--;
    }
    for (size_t i = 0; i < ctl->nhubs; i++)
        if (run->conns[i].evcon != NULL)
            ctl_conn_next(&run->conns[i]);
    return 0;
}

/* ctl_http_run - all hubs, until each is done */
int ctl_http_run(struct ctl *ctl, ctl_step_fn step)
{
    struct ctl_run run = {.ctl = ctl, .step = step};
    int rc = -1;

    if ((run.base = event_base_new()) == NULL)
        return -1;
    /* hosts and resolv.conf; without them names still resolve, blocking */
    run.dns = evdns_base_new(run.base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if ((run.conns = calloc(ctl->nhubs ? ctl->nhubs : 1, sizeof(*run.conns))) != NULL &&
        ctl_run_start(&run) == 0) {
        if (run.pending > 0)
            event_base_dispatch(run.base);
        rc = 0;
    }
    for (size_t i = 0; run.conns != NULL && i < ctl->nhubs; i++) {
        if (run.conns[i].evcon != NULL)
            evhttp_connection_free(run.conns[i].evcon);
        ctl_tls_free(&run.conns[i].tls);
    }
    free(run.conns);
    if (run.dns != NULL)
        evdns_base_free(run.dns, 0);
    event_base_free(run.base);
    return rc;
}

/* ctl_answer_ok - the last answer is a 2xx JSON object */
bool ctl_answer_ok(const struct ctl_hub *h)
{
    const struct ctl_answer *a = h->nans > 0 ? &h->ans[h->nans - 1] : NULL;

    return a != NULL && a->status >= 200 && a->status < 300 && json_is_object(a->json);
}

/* ctl_hubs_free - every answer and the hubs */
void ctl_hubs_free(struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->nhubs; i++)
        for (int k = 0; k < ctl->hubs[i].nans; k++)
            json_decref(ctl->hubs[i].ans[k].json);
    free(ctl->hubs);
    ctl->hubs = NULL;
    ctl->nhubs = 0;
}
