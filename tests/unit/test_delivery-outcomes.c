/*
 * test_delivery-outcomes.c - what the delivery scheduler makes of each
 * destination's answers (dworldfix.h's world)
 *
 * Outcomes are read from the recipient table: delivered, failed with one
 * bounce, deferred with the doubling backoff, failed once the queue
 * lifetime is over; an SMTP fallback after a refused address, an LMTP
 * peer on a unix socket, every address refused (deferred, no bounce), a
 * host name resolved once on the loopback DNS server and cached, an
 * unknown one deferred.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dworldfix.h"

/* wait_failed - msg's recipient rcpt failed: its row says so, or the
 * message left the store because nothing else was open (failed mail with a
 * bounce queued is not kept) */
static void wait_failed(struct world *w, uint64_t msg, const char *rcpt)
{
    df_wait(w->x, 1,
            "SELECT count(*) = 0 OR max(state) = %d FROM recipient WHERE msg = %lld AND rcpt = %Q",
            RCPT_FAILED, (long long)msg, rcpt);
}

static const struct {
    const char *rcpt, *at_rcpt, *at_dot;
    enum rcpt_state state;
    const char *reply; /* how the stored last reply starts */
} lmtp_cases[] = {
    {"alice@example.org", NULL, NULL, RCPT_DELIVERED, "250 2.0.0"},
    {"bob@example.org", "550 5.1.1 <bob@example.org>: unknown user", NULL, RCPT_FAILED,
     "550 5.1.1"},
    {"carol@example.org", NULL, "452 4.2.2 mailbox full", RCPT_PENDING, "452 4.2.2"},
    {"dave@example.org", NULL, "554 5.6.0 content refused", RCPT_FAILED, "554 5.6.0"},
    {"erin@example.org", "451 4.3.0 try later", NULL, RCPT_PENDING, "451 4.3.0"},
};
#define NLMTP (sizeof(lmtp_cases) / sizeof(lmtp_cases[0]))

/* test_lmtp_outcomes - each recipient's own reply decides its fate */
static void test_lmtp_outcomes(void **state)
{
    struct world *w = *state;
    const char *rcpts[NLMTP];
    char addr[NLMTP][96], reply[512];
    int64_t t0 = clock_now_ms();

    for (size_t i = 0; i < NLMTP; i++) {
        peer_rule(w->lmtp, lmtp_cases[i].rcpt, lmtp_cases[i].at_rcpt, lmtp_cases[i].at_dot);
        snprintf(addr[i], sizeof(addr[i]), "%s:SG1", lmtp_cases[i].rcpt);
        rcpts[i] = addr[i];
    }
    uint64_t id = df_send(w->x, DF_SENDER, df_content, t0, rcpts, NLMTP);
    for (size_t i = 0; i < NLMTP; i++) {
        dw_wait_state(w, id, lmtp_cases[i].rcpt, lmtp_cases[i].state);
        dw_reply_of(w, id, lmtp_cases[i].rcpt, reply, sizeof(reply));
        if (strncmp(reply, lmtp_cases[i].reply, strlen(lmtp_cases[i].reply)) != 0)
            fail_msg("%s: reply [%s]", lmtp_cases[i].rcpt, reply);
    }
    /* deferred ones wait retry_initial (no attempt before) */
    assert_int_equal(sf_sql_int(w->x->f,
                                "SELECT count(*) FROM recipient WHERE msg = %lld AND state = 0"
                                " AND next_attempt BETWEEN %lld AND %lld",
                                (long long)id, (long long)(t0 + 600000),
                                (long long)(clock_now_ms() + 600000)),
                     2);
    /* the one delivered copy is kept, with alice only */
    df_wait(w->x, 1, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1' AND msg = %lld",
            (long long)id);
    assert_int_equal(sf_sql_int(w->x->f,
                                "SELECT count(*) FROM dumpster_rcpt WHERE sg = 'SG1' AND msg = %lld"
                                " AND rcpt = 'alice@example.org'",
                                (long long)id),
                     1);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_rcpt"), 1);
    /* one bounce for bob and dave, delivered to the smarthost */
    df_wait_for(w->x, &w->smarthost->nmsgs, 1);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE sender = ''"); /* delivered, gone */
    assert_int_equal(w->smarthost->nmsgs, 1);
    assert_string_equal(w->smarthost->msgs[0].sender, "");
    assert_string_equal(w->smarthost->msgs[0].rcpts[0], DF_SENDER);
    struct delivery_stats st = dw_stats(w);
    assert_int_equal(st.attempts_delivered, 1 + 1); /* alice, then the bounce */
    assert_int_equal(st.attempts_failed, 2);
    assert_int_equal(st.attempts_deferred, 2);
    assert_int_equal(st.bounces, 1);
    /* the content went over the wire as it was committed */
    assert_int_equal(w->lmtp->msgs[0].len, strlen(df_content));
    assert_memory_equal(w->lmtp->msgs[0].content, df_content, strlen(df_content));
    assert_true(peer_saw(w->lmtp, "LHLO"));
}

/* test_smtp_fallback - SG2's first address refuses: its second one takes
 * the mail over SMTP, one reply for every recipient */
static void test_smtp_fallback(void **state)
{
    struct world *w = *state;
    const char *rcpts[] = {"alice@example.org:SG2", "bob@example.org:SG2"};

    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
    dw_wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    dw_wait_state(w, id, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(w->smtp->conns, 1);
    assert_int_equal(w->smtp->nmsgs, 1);
    assert_int_equal(w->smtp->msgs[0].nrcpts, 2);
    assert_true(peer_saw(w->smtp, "EHLO"));
    assert_int_equal(dw_stats(w).connections, 2); /* the refused one, then the peer */
    assert_int_equal(df_bounces(w->x), 0);
}

/* test_unix_socket - an LMTP destination on a unix socket */
static void test_unix_socket(void **state)
{
    struct world *w = *state;

    uint64_t id = dw_send1(w, "alice@example.org:SG6");
    dw_wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->local->nmsgs, 1);
    assert_true(peer_saw(w->local, "LHLO"));
    assert_int_equal(w->lmtp->conns + w->smtp->conns, 0);
}

/* test_refused_everywhere - every address refuses: deferred, no bounce */
static void test_refused_everywhere(void **state)
{
    struct world *w = *state;
    int64_t t0 = clock_now_ms();
    char reply[512];

    uint64_t id = dw_send1(w, "alice@example.org:SG3");
    dw_wait_state(w, id, "alice@example.org", RCPT_PENDING);
    long long next =
        sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld", (long long)id);
    assert_true(next >= t0 + 600000 && next <= clock_now_ms() + 600000);
    dw_reply_of(w, id, "alice@example.org", reply, sizeof(reply));
    if (strstr(reply, "refused") == NULL)
        fail_msg("reply [%s]", reply);
    assert_int_equal(dw_stats(w).connections, 2); /* each address once, one at a time */
    sf_run_ms(w->x->f, 200);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(dw_stats(w).bounces, 0);
}

/* test_backoff_doubles - retry_initial doubled per attempt up to retry_max,
 * counted from the outcome */
static void test_backoff_doubles(void **state)
{
    struct world *w = *state;
    static const long long backoff_s[] = {60, 120, 200, 200, 200};
    uint64_t id = 0;

    w->x->f->c.delivery.retry_initial = 60;
    w->x->f->c.delivery.retry_max = 200;
    peer_rule(w->lmtp, "alice@example.org", "450 4.2.1 busy", NULL);
    for (size_t k = 0; k < sizeof(backoff_s) / sizeof(backoff_s[0]); k++) {
        int64_t t0 = clock_now_ms();
        if (k == 0)
            id = dw_send1(w, "alice@example.org:SG1");
        else { /* due now, as a flush makes it */
            queue_flush(w->x->f->q, "SG1", false, NULL, NULL);
            delivery_kick(w->x->d);
        }
        df_wait(w->x, (long long)k + 1, "SELECT attempts FROM recipient WHERE msg = %lld",
                (long long)id);
        long long next = sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld",
                                    (long long)id) -
                         backoff_s[k] * 1000;
        if (next < t0 || next > clock_now_ms())
            fail_msg("attempt %zu: next attempt %lld ms off", k + 1, (long long)(next - t0));
    }
    assert_int_equal(df_rcpt_state(w->x, id, "alice@example.org"), RCPT_PENDING);
    assert_int_equal(w->lmtp->rcpt_cmds, 5);
}

static const struct {
    const char *sg, *at_rcpt;
} expired_cases[] = {
    {"SG1", "450 4.2.1 busy"}, /* a temporary reply */
    {"SG3", NULL},             /* no connection at all: content never read */
};

/* test_lifetime_over - a deferral past max_queue_lifetime is a failure,
 * bounced */
static void test_lifetime_over(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.max_queue_lifetime = 3600;
    peer_rule(w->lmtp, "old0@example.org", expired_cases[0].at_rcpt, NULL);
    for (size_t i = 0; i < sizeof(expired_cases) / sizeof(expired_cases[0]); i++) {
        char rcpt[64];
        const char *r = rcpt;
        snprintf(rcpt, sizeof(rcpt), "old%zu@example.org:%s", i, expired_cases[i].sg);
        uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms() - 7200 * 1000, &r, 1);
        *strrchr(rcpt, ':') = 0;
        wait_failed(w, id, rcpt);
        df_wait_for(w->x, &w->smarthost->nmsgs, (unsigned)i + 1);
        assert_non_null(strstr(w->smarthost->msgs[i].content, rcpt));
        assert_non_null(strstr(w->smarthost->msgs[i].content, "Action: failed\r\nStatus: 4."));
    }
    assert_int_equal(dw_stats(w).bounces, 2);
    assert_int_equal(dw_stats(w).attempts_failed, 2);
    assert_int_equal(dw_stats(w).attempts_deferred, 0);
}

/* test_host_resolved - a HOST destination is looked up on the loopback
 * DNS server once and cached; an unknown name defers */
static void test_host_resolved(void **state)
{
    struct world *w = *state;
    char reply[512];

    uint64_t a = dw_send1(w, "alice@example.org:SG4");
    dw_wait_state(w, a, "alice@example.org", RCPT_DELIVERED);
    uint64_t b = dw_send1(w, "bob@example.org:SG4");
    dw_wait_state(w, b, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(dnsfix_asked(w->dns, "mx.test", DNSFIX_A), 1);
    assert_int_equal(w->smtp->nmsgs, 2);
    uint64_t c = dw_send1(w, "carol@example.org:SG5");
    dw_wait_state(w, c, "carol@example.org", RCPT_PENDING);
    dw_reply_of(w, c, "carol@example.org", reply, sizeof(reply));
    if (strstr(reply, "nx.test") == NULL)
        fail_msg("reply [%s]", reply);
    assert_true(dnsfix_asked(w->dns, "nx.test", DNSFIX_A) >= 1);
    assert_int_equal(w->dns->queries, w->dns->wildcard_queries +
                                          dnsfix_asked(w->dns, "mx.test", 0) +
                                          dnsfix_asked(w->dns, "nx.test", 0));
    assert_int_equal(df_bounces(w->x), 0);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lmtp_outcomes, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_smtp_fallback, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_refused_everywhere, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_lifetime_over, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_host_resolved, dw_setup, dw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
