/*
 * test_admin-reads.c - the admin API's reads: health, stats, metrics and
 * the queue listing
 *
 * Over the hub of adminfix.h: every answer is checked by its status and
 * its JSON body against what the store holds: health, stats per storage
 * group and metrics (integers, no exponents); the queue listing with
 * recipient state names (one active, its peer holding it; one pending
 * after a 450), filtered by storage group.
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

/* test_health_stats_metrics - reads from the counters and the store */
static void test_health_stats_metrics(void **state)
{
    struct aworld *w = *state;

    aw_deliver_items(w, 2);
    struct reply r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    aw_expect(&r, 200, NULL);
    assert_string_equal(aw_jstr(&r, "status"), "ok");
    assert_non_null(strstr(r.ctype, "application/json"));
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats");
    aw_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(aw_jget(r.json, "storage_groups")), 2);
    assert_string_equal(aw_jstr(&r, "storage_groups.0.name"), "SG1");
    assert_int_equal(aw_jint(&r, "storage_groups.0.items"), 2);
    assert_int_equal(aw_jint(&r, "storage_groups.0.bytes"), 2 * (long long)strlen(df_content));
    assert_string_equal(aw_jstr(&r, "storage_groups.0.destination"), w->mbox->dest);
    assert_int_equal(aw_jint(&r, "storage_groups.1.items"), 0);
    assert_int_equal(json_array_size(aw_jget(r.json, "outstanding_requests")), 0);
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats/SG2");
    aw_expect(&r, 200, NULL);
    assert_int_equal(json_array_size(aw_jget(r.json, "storage_groups")), 1);
    assert_string_equal(aw_jstr(&r, "storage_groups.0.name"), "SG2");
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/v1/stats/NOPE");
    aw_expect(&r, 404, "unknown_storage_group");
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/metrics");
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.ctype, "text/plain"));
    assert_non_null(strstr(r.body, "\ndumpsterd_dumpster_items{storage_group=\"SG1\"} 2\n"));
    assert_non_null(strstr(r.body, "\ndumpsterd_dumpster_max_bytes{storage_group=\"SG1\"} "
                                   "18874368\n"));
    aw_reply_free(&r);
}

/* test_metrics_integers - counts and bounds print as integers */
static void test_metrics_integers(void **state)
{
    struct aworld *w = *state;

    struct reply r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/metrics");
    assert_int_equal(r.status, 200);
    bool integer = strstr(r.body, "\ndumpsterd_dumpster_max_age_seconds{storage_group=\"SG1\"} "
                                  "604800\n") != NULL;
    bool no_exponent = strstr(r.body, "e+") == NULL;
    aw_reply_free(&r);
    assert_true(integer);
    assert_true(no_exponent);
}

/* rcpt_json - the recipient addr of the queue listing, or NULL */
static json_t *rcpt_json(const struct reply *r, const char *addr)
{
    json_t *msgs = aw_jget(r->json, "messages"), *m, *rc;
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
    struct reply r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/queue");
    aw_expect(&r, 200, NULL);
    assert_int_equal(aw_jint(&r, "count"), 2);
    json_t *c = rcpt_json(&r, "carol@example.org"), *bob = rcpt_json(&r, "bob@example.org");
    assert_true(c && bob);
    assert_string_equal(json_string_value(json_object_get(c, "state")), "active");
    assert_string_equal(json_string_value(json_object_get(c, "storage_group")), "SG2");
    assert_string_equal(json_string_value(json_object_get(bob, "state")), "pending");
    assert_int_equal(json_integer_value(json_object_get(bob, "attempts")), 1);
    assert_string_equal(json_string_value(json_object_get(bob, "last_reply")), "450 4.2.1 busy");
    assert_true(json_is_string(json_object_get(bob, "next_attempt")));
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/queue?storage_group=SG1");
    aw_expect(&r, 200, NULL);
    assert_int_equal(aw_jint(&r, "count"), 1);
    assert_null(rcpt_json(&r, "carol@example.org"));
    aw_reply_free(&r);
    r = aw_call(w, EVHTTP_REQ_GET, AW_TOKEN, NULL, "/v1/queue?storage_group=NOPE");
    aw_expect(&r, 404, "unknown_storage_group");
    aw_reply_free(&r);
    w->other->fault = PEER_OK;
    peer_release(w->other);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_health_stats_metrics, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_metrics_integers, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_queue_listing, aw_setup, aw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
