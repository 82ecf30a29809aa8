/*
 * test_admin-resubmit.c - the admin API's resubmission requests
 *
 * Over the hub of adminfix.h: a dry run (nothing stored), a request
 * answered 202 with its Location and run until done, 409 for a cancel once
 * done, a second one cancelled while it runs, the listing; bad bodies,
 * ranges and times (400), unknown groups and ids (404), nothing stored.
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
        struct reply r = aw_callf(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/resubmit/%lld", id);
        aw_expect(&r, 200, NULL);
        if (strcmp(aw_jstr(&r, "state"), st) == 0)
            return r;
        if (clock_mono_ms() > end)
            fail_msg("request %lld: state %s, want %s", id, aw_jstr(&r, "state"), st);
        aw_reply_free(&r);
        sf_run_ms(w->x->f, 20);
    }
}

/* test_resubmit_requests - create, dry run, read, cancel, and the refusals */
static void test_resubmit_requests(void **state)
{
    struct aworld *w = *state;
    int64_t t0 = aw_deliver_items(w, 3);
    char body[512];

    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, ",\"dry_run\":true");
    struct reply r = aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, body, "/v1/resubmit");
    aw_expect(&r, 200, NULL);
    assert_true(json_is_true(aw_jget(r.json, "dry_run")));
    assert_int_equal(aw_jint(&r, "matched"), 3);
    assert_int_equal(aw_jint(&r, "messages"), 3);
    assert_int_equal(json_array_size(aw_jget(r.json, "first_ids")), 3);
    aw_reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, "");
    r = aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, body, "/v1/resubmit");
    aw_expect(&r, 202, NULL);
    long long id = aw_jint(&r, "id");
    char loc[64];
    snprintf(loc, sizeof(loc), "/v1/resubmit/%lld", id);
    assert_string_equal(r.location, loc);
    assert_string_equal(aw_jstr(&r, "state"), "pending");
    assert_string_equal(aw_jstr(&r, "storage_group"), "SG1");
    aw_reply_free(&r);
    r = wait_rs_state(w, id, "done");
    assert_int_equal(aw_jint(&r, "matched"), 3);
    assert_int_equal(aw_jint(&r, "queued"), 3);
    aw_reply_free(&r);
    r = aw_callf(w, EVHTTP_REQ_DELETE, AW_TOKEN, NULL, "/v1/resubmit/%lld", id);
    aw_expect(&r, 409, "already_final");
    aw_reply_free(&r);
    /* a second one, cancelled while it runs (one copy per tick) */
    rs_body(body, sizeof(body), "SG1", t0, clock_now_ms() + 1000, ",\"force\":true");
    r = aw_call(w, EVHTTP_REQ_POST, AW_TOKEN, body, "/v1/resubmit");
    aw_expect(&r, 202, NULL);
    long long id2 = aw_jint(&r, "id");
    aw_reply_free(&r);
    r = aw_callf(w, EVHTTP_REQ_DELETE, AW_TOKEN, NULL, "/v1/resubmit/%lld", id2);
    aw_expect(&r, 200, NULL);
    assert_string_equal(aw_jstr(&r, "state"), "cancelled");
    aw_reply_free(&r);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 2);
    r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/resubmit");
    aw_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(aw_jget(r.json, "requests")), 2);
    aw_reply_free(&r);
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
        struct reply r = aw_call(w, m, AW_TOKEN, rs_refusals[i].body, rs_refusals[i].path);
        aw_expect(&r, rs_refusals[i].status, rs_refusals[i].code);
        aw_reply_free(&r);
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 0);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resubmit_requests, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_refused, aw_setup, aw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
