/*
 * test_admin-writes.c - the admin API's writes besides resubmission:
 * early release, a destination moved, and the token they need
 *
 * Over the hub of adminfix.h: early release lets SG1's copies go; PUT
 * moves SG1's destination, stored, and the next mail goes there; writes
 * without the token, or with another, are 401 and change nothing; reads
 * are public only while public_reads is on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/http.h>
#include <jansson.h>

#include "adminfix.h"

/* test_replicated - early release lets SG1's copies go */
static void test_replicated(void **state)
{
    struct aworld *w = *state;
    char body[128];

    aw_deliver_items(w, 2);
    int64_t until = clock_now_ms() + 1000;
    snprintf(body, sizeof(body), "{\"until\":%lld}", (long long)(until / 1000 + 1));
    struct reply r =
        aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, body, "/v1/storage-groups/SG1/replicated");
    aw_expect(&r, 200, NULL);
    assert_int_equal(aw_jint(&r, "released"), 2);
    assert_int_equal(aw_jint(&r, "released_copies"), 2);
    aw_reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 0);
    r = aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, body, "/v1/storage-groups/NOPE/replicated");
    aw_expect(&r, 404, "unknown_storage_group");
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, "{\"until\":\"soon\"}",
                "/v1/storage-groups/SG1/replicated");
    aw_expect(&r, 400, "bad_time");
    aw_reply_free(&r);
}

/* test_destination - PUT moves SG1; GET shows it; the next mail goes there */
static void test_destination(void **state)
{
    struct aworld *w = *state;
    struct peer *moved = df_peer(w->x, true);
    const char *rcpt = "alice@example.org:SG1";
    char body[256];

    snprintf(body, sizeof(body), "{\"destination\":\"%s\"}", moved->dest);
    struct reply r =
        aw_call(w, EVHTTP_REQ_PUT, AW_TOKEN, body, "/v1/storage-groups/SG1/destination");
    aw_expect(&r, 200, NULL);
    assert_string_equal(aw_jstr(&r, "destination"), moved->dest);
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/storage-groups/SG1/destination");
    aw_expect(&r, 200, NULL);
    assert_string_equal(aw_jstr(&r, "destination"), moved->dest);
    aw_reply_free(&r);
    char dest[256];
    sf_sql_text(w->x->f, dest, sizeof(dest), "SELECT dest FROM route WHERE sg = 'SG1'");
    assert_string_equal(dest, moved->dest);
    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait(w->x, RCPT_DELIVERED, "SELECT state FROM recipient WHERE msg = %lld", (long long)id);
    assert_int_equal(moved->nmsgs, 1);
    assert_int_equal(w->mbox->nmsgs, 0);
    r = aw_call(w, EVHTTP_REQ_PUT, AW_TOKEN, "{\"destination\":\"bogus\"}",
                "/v1/storage-groups/SG1/destination");
    aw_expect(&r, 400, NULL);
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_PUT, AW_TOKEN, body, "/v1/storage-groups/NOPE/destination");
    aw_expect(&r, 404, "unknown_storage_group");
    aw_reply_free(&r);
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

    aw_deliver_items(w, 1);
    for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++) {
        for (size_t t = 0; t < 2; t++) {
            struct reply r = aw_call(w, writes[i].m, tokens[t], writes[i].body, writes[i].path);
            aw_expect(&r, 401, "unauthorized");
            assert_non_null(strstr(r.www_auth, "Bearer realm=\"dumpsterd\""));
            assert_true((strstr(r.www_auth, "invalid_token") != NULL) == (t == 1));
            aw_reply_free(&r);
        }
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM route"), 0);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_item"), 1);
    /* reads are public by default, and only then */
    struct reply r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    aw_expect(&r, 200, NULL);
    aw_reply_free(&r);
    w->x->f->c.admin.public_reads = false;
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    aw_expect(&r, 401, "unauthorized");
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/stats");
    aw_expect(&r, 200, NULL);
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    aw_expect(&r, 200, NULL);
    aw_reply_free(&r);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replicated, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_destination, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_token_required, aw_setup, aw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
