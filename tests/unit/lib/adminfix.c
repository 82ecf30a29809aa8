/*
 * adminfix.c - the admin API's unit tests' hub and HTTP client (adminfix.h)
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "adminfix.h"
#include "smtpd_server.h"

/* token_hash - lowercase hex BLAKE2b-256 of the token (SPEC 8) */
static void token_hash(const char *token, char out[65])
{
    unsigned char h[32];

    crypto_generichash(h, sizeof(h), (const unsigned char *)token, strlen(token), NULL, 0);
    sodium_bin2hex(out, 65, h, sizeof(h));
}

/* idle_listener - a listener on 127.0.0.1 port 0 with no callback yet
 * (what prebind_listen gives for a fixed port); its port into *port */
static struct evconnlistener *idle_listener(struct event_base *base, uint16_t *port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct evconnlistener *l =
        evconnlistener_new_bind(base, NULL, NULL, LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE, -1,
                                (struct sockaddr *)&sin, sizeof(sin));
    assert_non_null(l);
    assert_int_equal(getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &len), 0);
    *port = ntohs(sin.sin_port);
    return l;
}

/* free_port - a 127.0.0.1 port free a moment ago (smtpd_server_new binds
 * its addresses itself and refuses port 0) */
static uint16_t free_port(struct event_base *base)
{
    uint16_t port;

    evconnlistener_free(idle_listener(base, &port));
    return port;
}

/* aw_admin - the admin API over every part, serving a listener bound
 * beforehand as the hub does (prebind.h) */
static void aw_admin(struct aworld *w)
{
    struct storefix *f = w->x->f;
    char err[256] = "";

    w->lis[0] = idle_listener(f->base, &w->port);
    struct admin_deps deps = {
        .conf = &f->c,
        .store = f->st,
        .queue = f->q,
        .srv = w->srv,
        .delivery = w->x->d,
        .dumpster = f->d,
        .resubmit = f->rs,
        .listeners = w->lis,
    };
    if ((w->a = admin_new(f->base, &deps, err, sizeof(err))) == NULL)
        fail_msg("admin_new: %s", err);
}

/* aw_setup - the hub's parts in its order, the admin API last */
int aw_setup(void **state)
{
    struct aworld *w = calloc(1, sizeof(*w));
    char err[256] = "";

    assert_true(sodium_init() >= 0);
    w->x = df_setup(SF_DUMPSTER | SF_RESUBMIT);
    struct conf *c = &w->x->f->c;
    w->mbox = df_peer(w->x, true);
    w->other = df_peer(w->x, true);
    sf_add_sg(w->x->f, "SG1", w->mbox->dest, 0);
    sf_add_sg(w->x->f, "SG2", w->other->dest, 0);
    c->smtp.listen[0] = (struct conf_listen){"127.0.0.1", free_port(w->x->f->base)};
    c->smtp.nlisten = 1;
    c->smtp.max_connections = 8;
    c->admin.listen[0] = (struct conf_listen){"127.0.0.1", 0};
    c->admin.nlisten = 1;
    token_hash(AW_TOKEN, c->admin.token_hash);
    c->dumpster.resubmit_rate = 10; /* one copy per tick: a request runs a while */
    w->srv = smtpd_server_new(w->x->f->base, c, NULL, err, sizeof(err));
    if (w->srv == NULL)
        fail_msg("smtpd_server_new: %s", err);
    df_open(w->x);
    smtpd_server_set_store(w->srv, w->x->f->st, w->x->f->q);
    aw_admin(w);
    *state = w;
    return 0;
}

/* aw_teardown - the hub's order: admin, SMTP, delivery, store */
int aw_teardown(void **state)
{
    struct aworld *w = *state;

    w->a = admin_free(w->a); /* the hub's order: admin, SMTP, then the rest */
    smtpd_server_shutdown(w->srv);
    df_close(w->x);
    smtpd_server_free(w->srv);
    df_teardown(w->x);
    free(w);
    return 0;
}

/* header_copy - one response header into out ("" when absent) */
static void header_copy(struct evhttp_request *req, const char *name, char *out, size_t cap)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), name);

    snprintf(out, cap, "%s", v ? v : "");
}

/* on_reply - the client's callback: keep what the checks need */
static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;

    r->done = 1;
    if (req == NULL || evhttp_request_get_response_code(req) == 0) {
        r->status = -1;
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    r->status = evhttp_request_get_response_code(req);
    assert_non_null(r->body = calloc(1, n + 1));
    evbuffer_copyout(in, r->body, n);
    r->json = json_loads(r->body, 0, NULL);
    header_copy(req, "Content-Type", r->ctype, sizeof(r->ctype));
    header_copy(req, "Location", r->location, sizeof(r->location));
    header_copy(req, "WWW-Authenticate", r->www_auth, sizeof(r->www_auth));
}

/* aw_call - one request on a new connection, answered */
struct reply aw_call(struct aworld *w, enum evhttp_cmd_type m, const char *token, const char *body,
                     const char *path)
{
    struct reply r = {0};
    struct evhttp_connection *cn =
        evhttp_connection_base_new(w->x->f->base, NULL, "127.0.0.1", w->port);
    struct evhttp_request *req = evhttp_request_new(on_reply, &r);
    char auth[300];

    assert_true(cn && req);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Host", "127.0.0.1");
    if (token) {
        snprintf(auth, sizeof(auth), "Bearer %s", token);
        evhttp_add_header(h, "Authorization", auth);
    }
    if (body) {
        evhttp_add_header(h, "Content-Type", "application/json");
        evbuffer_add(evhttp_request_get_output_buffer(req), body, strlen(body));
    }
    assert_int_equal(evhttp_make_request(cn, req, m, path), 0);
    sf_loop_until(w->x->f, &r.done, 1);
    evhttp_connection_free(cn);
    return r;
}

/* aw_callf - aw_call with the path from a format */
struct reply aw_callf(struct aworld *w, enum evhttp_cmd_type m, const char *token, const char *body,
                      const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return aw_call(w, m, token, body, path);
}

/* aw_reply_free - what an answer holds */
void aw_reply_free(struct reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* aw_jget - the member at a dotted path ("error.code"), or NULL */
json_t *aw_jget(json_t *j, const char *path)
{
    char key[64];

    while (j != NULL && *path) {
        size_t n = strcspn(path, ".");
        snprintf(key, sizeof(key), "%.*s", (int)n, path);
        j = json_is_array(j) ? json_array_get(j, (size_t)atoi(key)) : json_object_get(j, key);
        path += n + (path[n] == '.');
    }
    return j;
}

/* aw_jstr - a string member ("" when absent) */
const char *aw_jstr(const struct reply *r, const char *path)
{
    const char *s = json_string_value(aw_jget(r->json, path));

    return s ? s : "";
}

/* aw_jint - an integer member (-1 when absent) */
long long aw_jint(const struct reply *r, const char *path)
{
    json_t *v = aw_jget(r->json, path);

    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* aw_expect - status and, for an error, its code */
void aw_expect(const struct reply *r, int status, const char *code)
{
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->body ? r->body : "");
    if (r->json == NULL)
        fail_msg("not JSON: %s", r->body);
    if (code != NULL && strcmp(aw_jstr(r, "error.code"), code) != 0)
        fail_msg("code [%s], want [%s]: %s", aw_jstr(r, "error.code"), code, r->body);
    if (code != NULL && aw_jstr(r, "error.message")[0] == 0)
        fail_msg("no message: %s", r->body);
}

/* aw_deliver_items - n messages to SG1, delivered and kept; the time before */
int64_t aw_deliver_items(struct aworld *w, int n)
{
    int64_t t0 = clock_now_ms();
    const char *rcpt = "alice@example.org:SG1";

    for (int i = 0; i < n; i++)
        df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait(w->x, n, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'");
    return t0;
}
