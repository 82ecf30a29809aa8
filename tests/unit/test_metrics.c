/*
 * test_metrics.c - the Prometheus text of a snapshot
 *
 * Expected lines of a known snapshot (per group gauges, evictions by
 * reason, cumulative histograms with +Inf equal to _count), the shape of
 * the format (a HELP and a TYPE line before the samples of every family,
 * no family twice, counters ending in _total), label escaping by table,
 * and the queue family missing when the store could not count.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "metrics.h"

#define NOW_MS INT64_C(1795600800000)

/* render - the text of m, NUL-terminated; caller frees */
static char *render(const struct metrics_snapshot *m)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;
    char *s;

    assert_non_null(b);
    assert_int_equal(metrics_render(b, m), 0);
    n = evbuffer_get_length(b);
    s = malloc(n + 1);
    assert_non_null(s);
    evbuffer_remove(b, s, n);
    s[n] = 0;
    evbuffer_free(b);
    return s;
}

/* snapshot - two groups (SG1 with items, SG2 empty) and some counters */
static void snapshot(struct metrics_snapshot *m, struct dumpster_stats sg[2])
{
    memset(m, 0, sizeof(*m));
    memset(sg, 0, 2 * sizeof(*sg));
    snprintf(sg[0].sg, sizeof(sg[0].sg), "SG1");
    sg[0].items = 3;
    sg[0].bytes = 4096;
    sg[0].oldest_received_ms = NOW_MS - 90500;
    sg[0].max_bytes = 18874368;
    sg[0].max_age_s = 604800;
    sg[0].evicted_size = 5;
    sg[0].evicted_age = 6;
    sg[0].evicted_replicated = 7;
    sg[0].not_kept = 8;
    snprintf(sg[1].sg, sizeof(sg[1].sg), "SG2");
    m->sg = sg;
    m->nsg = 2;
    m->resubmit[RESUBMIT_PENDING] = 1;
    m->resubmit[RESUBMIT_DONE] = 4;
    m->smtp.messages_accepted = 42;
    m->delivery.attempts_deferred = 9;
    m->smtp.tls_sessions[TLS_V1_3] = 12;
    m->smtp.tls_handshake_failures = 2;
    m->delivery.tls_sessions[TLS_VERIFIED][TLS_V1_3] = 5;
    m->delivery.tls_sessions[TLS_UNTRUSTED][TLS_V1_2] = 1;
    m->delivery.tls_resumed = 4;
    m->delivery.tls_failures[DELIVERY_TLS_NOT_OFFERED] = 3;
    m->store.commit_hist[0] = 2;
    m->store.commit_hist[3] = 1;
    m->store.commit_hist[STORE_HIST_BUCKETS - 1] = 1;
    m->store.commit_seconds_sum = 1.5;
    m->store.batch_hist[1] = 4;
    m->store.batch_msgs_sum = 8;
    m->has_queue = true;
    m->queue.pending_msgs = 11;
    m->probe.requests_ok = 6;
    m->probe.requests_failed = 2;
    m->probe.answers[PROBE_PRESENT] = 19;
    m->probe.answers[PROBE_MISSING] = 5;
    m->probe.answers[PROBE_ERROR] = 24;
    m->probe.latency_hist[2] = 6;
    m->probe.latency_hist[PROBE_HIST_BUCKETS - 1] = 2;
    m->probe.latency_sum = 10.25;
    m->now_ms = NOW_MS;
}

static const char *const expected_lines[] = {
    "dumpsterd_dumpster_items{storage_group=\"SG1\"} 3\n",
    "dumpsterd_dumpster_items{storage_group=\"SG2\"} 0\n",
    "dumpsterd_dumpster_bytes{storage_group=\"SG1\"} 4096\n",
    "dumpsterd_dumpster_oldest_received_timestamp_seconds{storage_group=\"SG1\"} 1795600709.5\n",
    "dumpsterd_dumpster_coverage_seconds{storage_group=\"SG1\"} 90.5\n",
    "dumpsterd_dumpster_coverage_seconds{storage_group=\"SG2\"} 0\n",
    "dumpsterd_dumpster_max_bytes{storage_group=\"SG1\"} 18874368\n",
    "dumpsterd_dumpster_evicted_total{storage_group=\"SG1\",reason=\"size\"} 5\n",
    "dumpsterd_dumpster_evicted_total{storage_group=\"SG1\",reason=\"age\"} 6\n",
    "dumpsterd_dumpster_evicted_total{storage_group=\"SG1\",reason=\"replicated\"} 7\n",
    "dumpsterd_dumpster_evicted_total{storage_group=\"SG1\",reason=\"too_large\"} 8\n",
    "dumpsterd_resubmit_requests{state=\"pending\"} 1\n",
    "dumpsterd_resubmit_requests{state=\"done\"} 4\n",
    "dumpsterd_smtp_messages_accepted_total 42\n",
    "dumpsterd_queue_messages{state=\"pending\"} 11\n",
    "dumpsterd_delivery_attempts_total{result=\"deferred\"} 9\n",
    "dumpsterd_store_commit_seconds_bucket{le=\"0.0005\"} 2\n",
    "dumpsterd_store_commit_seconds_bucket{le=\"0.005\"} 3\n",
    "dumpsterd_store_commit_seconds_bucket{le=\"1\"} 3\n",
    "dumpsterd_store_commit_seconds_bucket{le=\"+Inf\"} 4\n",
    "dumpsterd_store_commit_seconds_sum 1.5\n",
    "dumpsterd_store_commit_seconds_count 4\n",
    "dumpsterd_store_batch_messages_bucket{le=\"1\"} 0\n",
    "dumpsterd_store_batch_messages_bucket{le=\"2\"} 4\n",
    "dumpsterd_store_batch_messages_sum 8\n",
    "dumpsterd_smtp_tls_sessions_total{protocol=\"TLSv1.3\"} 12\n",
    "dumpsterd_smtp_tls_sessions_total{protocol=\"other\"} 0\n",
    "dumpsterd_smtp_tls_handshake_failures_total 2\n",
    "dumpsterd_delivery_tls_sessions_total{result=\"verified\",protocol=\"TLSv1.3\"} 5\n",
    "dumpsterd_delivery_tls_sessions_total{result=\"untrusted\",protocol=\"TLSv1.2\"} 1\n",
    "dumpsterd_delivery_tls_sessions_total{result=\"trusted\",protocol=\"TLSv1.3\"} 0\n",
    "dumpsterd_delivery_tls_resumed_total 4\n",
    "dumpsterd_delivery_tls_policy_failures_total{reason=\"not_offered\"} 3\n",
    "dumpsterd_delivery_tls_policy_failures_total{reason=\"not_verified\"} 0\n",
    "dumpsterd_delivery_tls_plaintext_total 0\n",
    "dumpsterd_probe_requests_total{result=\"ok\"} 6\n",
    "dumpsterd_probe_requests_total{result=\"failed\"} 2\n",
    "dumpsterd_probe_answers_total{answer=\"present\"} 19\n",
    "dumpsterd_probe_answers_total{answer=\"missing\"} 5\n",
    "dumpsterd_probe_answers_total{answer=\"no_user\"} 0\n",
    "dumpsterd_probe_answers_total{answer=\"error\"} 24\n",
    "dumpsterd_probe_request_seconds_bucket{le=\"0.0025\"} 0\n",
    "dumpsterd_probe_request_seconds_bucket{le=\"0.005\"} 6\n",
    "dumpsterd_probe_request_seconds_bucket{le=\"5\"} 6\n",
    "dumpsterd_probe_request_seconds_bucket{le=\"+Inf\"} 8\n",
    "dumpsterd_probe_request_seconds_sum 10.25\n",
    "dumpsterd_probe_request_seconds_count 8\n",
    "# TYPE dumpsterd_probe_request_seconds histogram\n",
    "# TYPE dumpsterd_delivery_tls_sessions_total counter\n",
    "# TYPE dumpsterd_store_commit_seconds histogram\n",
    "# TYPE dumpsterd_dumpster_evicted_total counter\n",
};

/* test_lines - every expected sample is there, at a line start */
static void test_lines(void **state)
{
    struct dumpster_stats sg[2];
    struct metrics_snapshot m;
    char *s;

    (void)state;
    snapshot(&m, sg);
    s = render(&m);
    for (size_t i = 0; i < sizeof(expected_lines) / sizeof(expected_lines[0]); i++) {
        const char *p = strstr(s, expected_lines[i]);

        if (p == NULL || (p != s && p[-1] != '\n'))
            fail_msg("missing line: %s", expected_lines[i]);
    }
    assert_null(strstr(s, "oldest_received_timestamp_seconds{storage_group=\"SG2\"}"));
    free(s);
}

/* check_family_line - a HELP/TYPE line: the family is new, TYPE follows HELP */
static void check_family_line(const char *line, char *seen, size_t cap, char *cur, size_t curcap)
{
    char name[128], type[32];

    if (strncmp(line, "# HELP ", 7) == 0) {
        assert_int_equal(sscanf(line + 7, "%127s", name), 1);
        char key[132];
        snprintf(key, sizeof(key), "|%s|", name);
        if (strstr(seen, key) != NULL)
            fail_msg("family twice: %s", name);
        assert_true(strlen(seen) + strlen(key) < cap);
        strcat(seen, key);
        snprintf(cur, curcap, "%s", name);
        return;
    }
    assert_int_equal(strncmp(line, "# TYPE ", 7), 0);
    assert_int_equal(sscanf(line + 7, "%127s %31s", name, type), 2);
    assert_string_equal(name, cur);
    if (strcmp(type, "counter") == 0)
        assert_non_null(strstr(name, "_total"));
}

/* test_shape - HELP and TYPE once per family, samples of the current one */
static void test_shape(void **state)
{
    struct dumpster_stats sg[2];
    struct metrics_snapshot m;
    char seen[8192] = "", cur[128] = "";
    char *s, *line, *save = NULL;

    (void)state;
    snapshot(&m, sg);
    s = render(&m);
    assert_true(strlen(s) > 0 && s[strlen(s) - 1] == '\n');
    for (line = strtok_r(s, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            check_family_line(line, seen, sizeof(seen), cur, sizeof(cur));
            continue;
        }
        if (strncmp(line, cur, strlen(cur)) != 0)
            fail_msg("sample outside its family %s: %s", cur, line);
    }
    free(s);
}

/* test_no_queue - the store could not count: no queue family */
static void test_no_queue(void **state)
{
    struct dumpster_stats sg[2];
    struct metrics_snapshot m;
    char *s;

    (void)state;
    snapshot(&m, sg);
    m.has_queue = false;
    s = render(&m);
    assert_null(strstr(s, "dumpsterd_queue_messages"));
    assert_non_null(strstr(s, "dumpsterd_delivery_attempts_total"));
    free(s);
}

struct escape_case {
    const char *in;
    size_t cap;
    const char *out;
};

static const struct escape_case escape_cases[] = {
    {"SG1", 64, "SG1"},    {"a\"b", 64, "a\\\"b"},        {"a\\b", 64, "a\\\\b"},
    {"a\nb", 64, "a\\nb"}, {"\"\\\n", 64, "\\\"\\\\\\n"}, {"abcdef", 4, "abc"},
    {"ab\"cd", 4, "ab"}, /* an escape is never cut in half */
    {"", 1, ""},
};

/* test_escape - label values per the format */
static void test_escape(void **state)
{
    char out[64];

    (void)state;
    for (size_t i = 0; i < sizeof(escape_cases) / sizeof(escape_cases[0]); i++) {
        metrics_escape(escape_cases[i].in, out, escape_cases[i].cap);
        assert_string_equal(out, escape_cases[i].out);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_no_queue),
        cmocka_unit_test(test_escape),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
