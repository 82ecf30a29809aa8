/*
 * test_admin.c - the admin API's handlers (admin.h) over the real store,
 * queue, dumpster, resubmission, delivery and SMTP server of one loop,
 * driven by libevent's HTTP client on 127.0.0.1
 *
 * The hub's wiring order (relay/hub.c): the SMTP server binds first (port
 * 0), the store, the queue, delivery, the dumpster and resubmission follow,
 * the storage thread starts, then the admin API serves a listener bound
 * on 127.0.0.1 port 0 beforehand (as prebind.h does for the hub). SG1 goes to an LMTP
 * peer, SG2 to a second one. Every answer is checked by its status and its
 * JSON body, and writes by what they changed in the store: health, stats
 * and metrics; resubmission requests (202, dry run, 400, 404, 409 once
 * done, cancel); the queue listing with recipient state names; early
 * release; a destination moved; 401 for writes without the token; a store
 * error answered 500 with the JSON error body.
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <sqlite3.h>

#include "admin.h"
#include "admin_int.h"
#include "dlvfix.h"
#include "smtpd_server.h"

#define TOKEN "s3cret-admin-token"

struct aworld {
    struct dlvfix *x;
    struct peer *mbox, *other;
    struct smtpd_server *srv;
    struct admin *a;
    struct evconnlistener *lis[1]; /* the admin's, taken by admin_new */
    uint16_t port;
};

/* An answer of the API. */
struct reply {
    int done, status;
    char *body;
    json_t *json; /* the body parsed, NULL when it is not JSON */
    char ctype[96], location[96], www_auth[128];
};

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

/* setup - the hub's parts in its order, the admin API last */
static int setup(void **state)
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
    token_hash(TOKEN, c->admin.token_hash);
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

/* teardown - the hub's order: admin, SMTP, delivery, store */
static int teardown(void **state)
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

/* call - one request on a new connection, answered */
static struct reply call(struct aworld *w, enum evhttp_cmd_type m, const char *token,
                         const char *body, const char *path)
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

/* callf - call with the path from a format */
static struct reply callf(struct aworld *w, enum evhttp_cmd_type m, const char *token,
                          const char *body, const char *fmt, ...)
{
    char path[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return call(w, m, token, body, path);
}

/* reply_free - what an answer holds */
static void reply_free(struct reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* jget - the member at a dotted path ("error.code"), or NULL */
static json_t *jget(json_t *j, const char *path)
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

/* jstr - a string member ("" when absent) */
static const char *jstr(const struct reply *r, const char *path)
{
    const char *s = json_string_value(jget(r->json, path));

    return s ? s : "";
}

/* jint - an integer member (-1 when absent) */
static long long jint(const struct reply *r, const char *path)
{
    json_t *v = jget(r->json, path);

    return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* expect - status and, for an error, its code */
static void expect(const struct reply *r, int status, const char *code)
{
    if (r->status != status)
        fail_msg("status %d, want %d: %s", r->status, status, r->body ? r->body : "");
    if (r->json == NULL)
        fail_msg("not JSON: %s", r->body);
    if (code != NULL && strcmp(jstr(r, "error.code"), code) != 0)
        fail_msg("code [%s], want [%s]: %s", jstr(r, "error.code"), code, r->body);
    if (code != NULL && jstr(r, "error.message")[0] == 0)
        fail_msg("no message: %s", r->body);
}

/* deliver_items - n messages to SG1, delivered and kept; the time before */
static int64_t deliver_items(struct aworld *w, int n)
{
    int64_t t0 = clock_now_ms();
    const char *rcpt = "alice@example.org:SG1";

    for (int i = 0; i < n; i++)
        df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait(w->x, n, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'");
    return t0;
}

/* test_health_stats_metrics - reads from the counters and the store */
static void test_health_stats_metrics(void **state)
{
    struct aworld *w = *state;

    deliver_items(w, 2);
    struct reply r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    expect(&r, 200, NULL);
    assert_string_equal(jstr(&r, "status"), "ok");
    assert_non_null(strstr(r.ctype, "application/json"));
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(jget(r.json, "storage_groups")), 2);
    assert_string_equal(jstr(&r, "storage_groups.0.name"), "SG1");
    assert_int_equal(jint(&r, "storage_groups.0.items"), 2);
    assert_int_equal(jint(&r, "storage_groups.0.bytes"), 2 * (long long)strlen(df_content));
    assert_string_equal(jstr(&r, "storage_groups.0.destination"), w->mbox->dest);
    assert_int_equal(jint(&r, "storage_groups.1.items"), 0);
    assert_int_equal(json_array_size(jget(r.json, "outstanding_requests")), 0);
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats/SG2");
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(jget(r.json, "storage_groups")), 1);
    assert_string_equal(jstr(&r, "storage_groups.0.name"), "SG2");
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats/NOPE");
    expect(&r, 404, "unknown_storage_group");
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    assert_non_null(strstr(r.body, "\ndumpsterd_dumpster_items{storage_group=\"SG1\"} 2\n"));
    assert_non_null(strstr(r.body, "\ndumpsterd_dumpster_max_bytes{storage_group=\"SG1\"} "
                                   "18874368\n"));
    reply_free(&r);
}

/* test_metrics_integers - counts and bounds print as integers */
static void test_metrics_integers(void **state)
{
    struct aworld *w = *state;

    struct reply r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/metrics");
    assert_int_equal(r.status, 200);
    bool integer = strstr(r.body, "\ndumpsterd_dumpster_max_age_seconds{storage_group=\"SG1\"} "
                                  "604800\n") != NULL;
    bool no_exponent = strstr(r.body, "e+") == NULL;
    reply_free(&r);
    assert_true(integer);
    assert_true(no_exponent);
}

/* fill_fds - take every descriptor below a lowered soft limit; returns
 * how many were taken into fds[] */
static int fill_fds(int *fds, int cap)
{
    int n = 0, fd, null = open("/dev/null", O_RDONLY);

    assert_true(null >= 0);
    fds[n++] = null;
    while (n < cap && (fd = dup(null)) >= 0)
        fds[n++] = fd;
    assert_int_equal(errno, EMFILE);
    return n;
}

/* test_accept_emfile - accept() failing with EMFILE rests the listener
 * (ADMIN_ACCEPT_PAUSE_MS) instead of being retried at once forever, and
 * accepting resumes once descriptors are free */
static void test_accept_emfile(void **state)
{
    struct aworld *w = *state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(w->port)};
    struct rlimit old, low;
    int fds[4096], n, cl;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true((cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
    low = old;
    low.rlim_cur = (rlim_t)cl + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    n = fill_fds(fds, 4096);
    /* the connection waits in the backlog; accepting it fails */
    assert_true(connect(cl, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
    sf_run_ms(w->x->f, 350);
    uint64_t errors = w->a->accept_errors;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    print_message("accept() failed %llu times in 350 ms\n", (unsigned long long)errors);
    assert_true(errors >= 1);
    assert_true(errors <= 10); /* at once, forever, it would be thousands */
    struct reply r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    expect(&r, 200, NULL);
    reply_free(&r);
    close(cl);
}

/* rs_body - a resubmission request body over [start_ms, end_ms] of sg */
static void rs_body(char *buf, size_t cap, const char *sg, int64_t start_ms, int64_t end_ms,
                    const char *extra)
{
    snprintf(buf, cap, "{\"storage_group\":\"%s\",\"start\":%lld.%03lld,\"end\":%lld.%03lld%s}", sg,
             (long long)(start_ms / 1000), (long long)(start_ms % 1000), (long long)(end_ms / 1000),
             (long long)(end_ms % 1000), extra);
}

/* wait_rs_state - poll GET /v1/resubmit/{id} until it is in state */
static struct reply wait_rs_state(struct aworld *w, long long id, const char *st)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    for (;;) {
        struct reply r = callf(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/resubmit/%lld", id);
        expect(&r, 200, NULL);
        if (strcmp(jstr(&r, "state"), st) == 0)
            return r;
        if (clock_mono_ms() > end)
            fail_msg("request %lld: state %s, want %s", id, jstr(&r, "state"), st);
        reply_free(&r);
        sf_run_ms(w->x->f, 20);
    }
}

/* test_resubmit_requests - create, dry run, read, cancel, and the refusals */
static void test_resubmit_requests(void **state)
{
    struct aworld *w = *state;
    int64_t t0 = deliver_items(w, 3);
    char body[512];

    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, ",\"dry_run\":true");
    struct reply r = call(w, EVHTTP_REQ_POST, TOKEN, body, "/v1/resubmit");
    expect(&r, 200, NULL);
    assert_true(json_is_true(jget(r.json, "dry_run")));
    assert_int_equal(jint(&r, "matched"), 3);
    assert_int_equal(jint(&r, "messages"), 3);
    assert_int_equal(json_array_size(jget(r.json, "first_ids")), 3);
    reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, "");
    r = call(w, EVHTTP_REQ_POST, TOKEN, body, "/v1/resubmit");
    expect(&r, 202, NULL);
    long long id = jint(&r, "id");
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/resubmit/%lld", id);
    assert_string_equal(r.location, loc);
    assert_string_equal(jstr(&r, "state"), "pending");
    assert_string_equal(jstr(&r, "storage_group"), "SG1");
    reply_free(&r);
    r = wait_rs_state(w, id, "done");
    assert_int_equal(jint(&r, "matched"), 3);
    assert_int_equal(jint(&r, "queued"), 3);
    reply_free(&r);
    r = callf(w, EVHTTP_REQ_DELETE, TOKEN, NULL, "/v1/resubmit/%lld", id);
    expect(&r, 409, "already_final");
    reply_free(&r);
    /* a second one, cancelled while it runs (one copy per tick) */
    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, ",\"force\":true");
    r = call(w, EVHTTP_REQ_POST, TOKEN, body, "/v1/resubmit");
    expect(&r, 202, NULL);
    long long id2 = jint(&r, "id");
    reply_free(&r);
    r = callf(w, EVHTTP_REQ_DELETE, TOKEN, NULL, "/v1/resubmit/%lld", id2);
    expect(&r, 200, NULL);
    assert_string_equal(jstr(&r, "state"), "cancelled");
    reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 2);
    r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/resubmit");
    expect(&r, 200, NULL);
    assert_int_equal(json_array_size(jget(r.json, "requests")), 2);
    reply_free(&r);
}

static const struct {
    const char *body, *path;
    int status;
    const char *code;
} rs_refusals[] = {
    {"{\"storage_group\":\"SG1\",\"start\":\"yesterday\",\"end\":\"now\"}", "/v1/resubmit", 400,
     "bad_time"},
    {"{\"storage_group\":\"SG1\",\"start\":100,\"end\":50}", "/v1/resubmit", 400, "bad_range"},
    {"{\"storage_group\":\"SG1\",\"start\":1", "/v1/resubmit", 400, "bad_json"},
    {"{\"storage_group\":\"NOPE\",\"start\":1,\"end\":2}", "/v1/resubmit", 404,
     "unknown_storage_group"},
    {NULL, "/v1/resubmit/999999", 404, "unknown_request"},
    {NULL, "/v1/resubmit/abc", 404, "unknown_request"},
};

/* test_resubmit_refused - bad requests and unknown ids, nothing stored */
static void test_resubmit_refused(void **state)
{
    struct aworld *w = *state;

    for (size_t i = 0; i < sizeof(rs_refusals) / sizeof(rs_refusals[0]); i++) {
        enum evhttp_cmd_type m = rs_refusals[i].body ? EVHTTP_REQ_POST : EVHTTP_REQ_GET;
        struct reply r = call(w, m, TOKEN, rs_refusals[i].body, rs_refusals[i].path);
        expect(&r, rs_refusals[i].status, rs_refusals[i].code);
        reply_free(&r);
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
}

/* rcpt_json - the recipient addr of the queue listing, or NULL */
static json_t *rcpt_json(const struct reply *r, const char *addr)
{
    json_t *msgs = jget(r->json, "messages"), *m, *rc;
    size_t i, k;

    json_array_foreach(msgs, i, m)
    {
        json_array_foreach(json_object_get(m, "recipients"), k, rc)
        {
            if (strcmp(json_string_value(json_object_get(rc, "address")), addr) == 0)
                return rc;
        }
    }
    return NULL;
}

/* test_queue_listing - recipient states by name: one active (its peer
 * holds it), one pending after a 450 */
static void test_queue_listing(void **state)
{
    struct aworld *w = *state;
    const char *held = "carol@example.org:SG2", *deferred = "bob@example.org:SG1";

    w->other->fault = PEER_HOLD;
    peer_rule(w->mbox, "bob@example.org", "450 4.2.1 busy", NULL);
    df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &held, 1);
    uint64_t b = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &deferred, 1);
    df_wait_for(w->x, &w->other->held, 1);
    df_wait(w->x, 1, "SELECT attempts FROM recipient WHERE msg = %lld", (long long)b);
    struct reply r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/queue");
    expect(&r, 200, NULL);
    assert_int_equal(jint(&r, "count"), 2);
    json_t *c = rcpt_json(&r, "carol@example.org"), *bob = rcpt_json(&r, "bob@example.org");
    assert_true(c && bob);
    assert_string_equal(json_string_value(json_object_get(c, "state")), "active");
    assert_string_equal(json_string_value(json_object_get(c, "storage_group")), "SG2");
    assert_string_equal(json_string_value(json_object_get(bob, "state")), "pending");
    assert_int_equal(json_integer_value(json_object_get(bob, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(bob, "last_reply")), "450 4.2.1 busy");
    assert_true(json_is_string(json_object_get(bob, "next_attempt")));
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/queue?storage_group=SG1");
    expect(&r, 200, NULL);
    assert_int_equal(jint(&r, "count"), 1);
    assert_null(rcpt_json(&r, "carol@example.org"));
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/queue?storage_group=NOPE");
    expect(&r, 404, "unknown_storage_group");
    reply_free(&r);
    w->other->fault = PEER_OK;
    peer_release(w->other);
}

/* test_replicated - early release lets SG1's copies go */
static void test_replicated(void **state)
{
    struct aworld *w = *state;
    char body[128];

    deliver_items(w, 2);
    int64_t until = clock_now_ms() + 1000;
    snprintf(body, sizeof(body), "{\"until\":%lld}", (long long)(until / 1000 + 1));
    struct reply r = call(w, EVHTTP_REQ_POST, TOKEN, body, "/v1/storage-groups/SG1/replicated");
    expect(&r, 200, NULL);
    assert_int_equal(jint(&r, "released"), 2);
    assert_int_equal(jint(&r, "released_copies"), 2);
    reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 0);
    r = call(w, EVHTTP_REQ_POST, TOKEN, body, "/v1/storage-groups/NOPE/replicated");
    expect(&r, 404, "unknown_storage_group");
    reply_free(&r);
    r = call(w, EVHTTP_REQ_POST, TOKEN, "{\"until\":\"soon\"}",
             "/v1/storage-groups/SG1/replicated");
    expect(&r, 400, "bad_time");
    reply_free(&r);
}

/* test_destination - PUT moves SG1; GET shows it; the next mail goes there */
static void test_destination(void **state)
{
    struct aworld *w = *state;
    struct peer *moved = df_peer(w->x, true);
    const char *rcpt = "alice@example.org:SG1";
    char body[256];

    snprintf(body, sizeof(body), "{\"destination\":\"%s\"}", moved->dest);
    struct reply r = call(w, EVHTTP_REQ_PUT, TOKEN, body, "/v1/storage-groups/SG1/destination");
    expect(&r, 200, NULL);
    assert_string_equal(jstr(&r, "destination"), moved->dest);
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/storage-groups/SG1/destination");
    expect(&r, 200, NULL);
    assert_string_equal(jstr(&r, "destination"), moved->dest);
    reply_free(&r);
    char dest[256];
    sf_sql_text(w->x->f, dest, sizeof(dest), "SELECT dest FROM route WHERE sg = 'SG1'");
    assert_string_equal(dest, moved->dest);
    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait(w->x, RCPT_DELIVERED, "SELECT state FROM recipient WHERE msg = %lld", (long long)id);
    assert_int_equal(moved->nmsgs, 1);
    assert_int_equal(w->mbox->nmsgs, 0);
    r = call(w, EVHTTP_REQ_PUT, TOKEN, "{\"destination\":\"bogus\"}",
             "/v1/storage-groups/SG1/destination");
    expect(&r, 400, NULL);
    reply_free(&r);
    r = call(w, EVHTTP_REQ_PUT, TOKEN, body, "/v1/storage-groups/NOPE/destination");
    expect(&r, 404, "unknown_storage_group");
    reply_free(&r);
}

static const struct {
    enum evhttp_cmd_type m;
    const char *path, *body;
} writes[] = {
    {EVHTTP_REQ_POST, "/v1/resubmit", "{\"storage_group\":\"SG1\",\"start\":1,\"end\":2}"},
    {EVHTTP_REQ_DELETE, "/v1/resubmit/1", NULL},
    {EVHTTP_REQ_PUT, "/v1/storage-groups/SG1/destination",
     "{\"destination\":\"lmtp:[127.0.0.1]:1\"}"},
    {EVHTTP_REQ_POST, "/v1/storage-groups/SG1/replicated", "{\"until\":4000000000}"},
    {EVHTTP_REQ_POST, "/v1/queue/flush", NULL},
    {EVHTTP_REQ_GET, "/v1/queue", NULL}, /* not a public read */
};

/* test_token_required - writes without the token, or with another: 401
 * and nothing changed */
static void test_token_required(void **state)
{
    struct aworld *w = *state;
    const char *tokens[] = {NULL, "not-the-token"};

    deliver_items(w, 1);
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        for (size_t t = 0; t < 2; t++) {
            struct reply r = call(w, writes[i].m, tokens[t], writes[i].body, writes[i].path);
            expect(&r, 401, "unauthorized");
            assert_non_null(strstr(r.www_auth, "Bearer realm=\"dumpsterd\""));
            assert_true((strstr(r.www_auth, "invalid_token") != NULL) == (t == 1));
            reply_free(&r);
        }
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM route"), 0);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_item"), 1);
    /* reads are public by default, and only then */
    struct reply r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    expect(&r, 200, NULL);
    reply_free(&r);
    w->x->f->c.admin.public_reads = false;
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    expect(&r, 401, "unauthorized");
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, TOKEN, NULL, "/v1/stats");
    expect(&r, 200, NULL);
    reply_free(&r);
    r = call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    expect(&r, 200, NULL);
    reply_free(&r);
}

static const struct {
    const char *sql; /* the statement that fails */
    int rc;
    enum evhttp_cmd_type m;
    const char *path, *body, *message;
} store_faults[] = {
    {"INSERT INTO resubmit_request", SQLITE_FULL, EVHTTP_REQ_POST, "/v1/resubmit",
     "{\"storage_group\":\"SG1\",\"start\":1,\"end\":2}", "cannot store the request"},
    {"SELECT DISTINCT msg FROM recipient", SQLITE_IOERR, EVHTTP_REQ_GET, "/v1/queue", NULL,
     "cannot list the queue"},
    {"INSERT OR REPLACE INTO route", SQLITE_FULL, EVHTTP_REQ_PUT,
     "/v1/storage-groups/SG1/destination", "{\"destination\":\"lmtp:[127.0.0.1]:1\"}",
     "cannot store the destination"},
    {"AND delivered < ?", SQLITE_BUSY, EVHTTP_REQ_POST, "/v1/storage-groups/SG1/replicated",
     "{\"until\":4000000000}", "cannot release the items"},
};

/* test_store_error - the store fails: 500 with the JSON error body, and
 * the same request works once the store does */
static void test_store_error(void **state)
{
    struct aworld *w = *state;

    deliver_items(w, 1);
    for (size_t i = 0; i < sizeof(store_faults) / sizeof(store_faults[0]); i++) {
        sf_fault(w->x->f, store_faults[i].sql, store_faults[i].rc, 1);
        struct reply r =
            call(w, store_faults[i].m, TOKEN, store_faults[i].body, store_faults[i].path);
        expect(&r, 500, "store_error");
        assert_string_equal(jstr(&r, "error.message"), store_faults[i].message);
        assert_int_equal(sf_fault_hits(w->x->f), 1);
        reply_free(&r);
        r = call(w, store_faults[i].m, TOKEN, store_faults[i].body, store_faults[i].path);
        if (r.status / 100 != 2)
            fail_msg("%s after the fault: %d %s", store_faults[i].path, r.status, r.body);
        reply_free(&r);
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 1);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_stats_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_integers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_accept_emfile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_listing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replicated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destination, setup, teardown),
        cmocka_unit_test_setup_teardown(test_token_required, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_error, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
