/*
 * test_bounce.c - delivery status notifications (bounce.c with dsn.c) as
 * the scheduler sends them: a job whose recipients failed yields one
 * report from <> to its sender, routed to the storage group the directory
 * gives the sender or to the smarthost, never to the null sender, not at
 * all without a route (logged, the failure kept as failed in the store
 * for max_queue_lifetime, then removed); one report per message, also
 * when its failures come from jobs of two storage groups; the report names the
 * failed recipients only and quotes the original header section, also
 * when the content was never read for a delivery
 *
 * The world: SG1 is the mailbox an LMTP peer plays, SG2 the storage group
 * of local@example.net (the directory says so) on a second peer, SG3 a
 * refused address; the smarthost a third peer. The peers that take reports
 * hold them, so the report's queue row can be read while it is delivered.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dlvfix.h"

#define LOCAL_SENDER "local@example.net"

struct bworld {
    struct dlvfix *x;
    struct peer *mbox, *local, *sh;
    int dead;
};

/* bw_new - the world, with or without a smarthost */
static struct bworld *bw_new(bool smarthost)
{
    struct bworld *w = calloc(1, sizeof(*w));
    char dest[64];

    assert_non_null(w);
    w->x = df_setup(SF_DUMPSTER);
    w->mbox = df_peer(w->x, true);
    w->local = df_peer(w->x, true);
    w->sh = df_peer(w->x, false);
    snprintf(dest, sizeof(dest), "lmtp:[127.0.0.1]:%u", (unsigned)peer_dead_port(&w->dead));
    sf_add_sg(w->x->f, "SG1", w->mbox->dest, 0);
    sf_add_sg(w->x->f, "SG2", w->local->dest, 0);
    sf_add_sg(w->x->f, "SG3", dest, 0);
    if (smarthost)
        snprintf(w->x->f->c.delivery.smarthost, sizeof(w->x->f->c.delivery.smarthost), "%s",
                 w->sh->dest);
    df_directory(w->x, LOCAL_SENDER "\tSG2\n@example.org\tSG1\n");
    df_open(w->x);
    return w;
}

/* bw_free - everything stops */
static void bw_free(struct bworld *w)
{
    df_teardown(w->x);
    close(w->dead);
    free(w);
}

/* setup - the world with a smarthost */
static int setup(void **state)
{
    *state = bw_new(true);
    return 0;
}

/* teardown - the world gone */
static int teardown(void **state)
{
    bw_free(*state);
    return 0;
}

/* bounces_sent - reports queued so far */
static uint64_t bounces_sent(struct bworld *w)
{
    struct delivery_stats st;

    delivery_get_stats(w->x->d, &st);
    return st.bounces;
}

/* has - content holds text */
static void has(const char *content, const char *text)
{
    if (strstr(content, text) == NULL)
        fail_msg("no [%s] in:\n%s", text, content);
}

/* lacks - content does not hold text */
static void lacks(const char *content, const char *text)
{
    if (strstr(content, text) != NULL)
        fail_msg("[%s] in:\n%s", text, content);
}

/* test_one_report - three recipients, two refused: one report naming the
 * two, with the original headers and without the body */
static void test_one_report(void **state)
{
    struct bworld *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "bob@example.org:SG1", "carol@example.org:SG1"};

    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 <alice@example.org>: unknown user", NULL);
    peer_rule(w->mbox, "bob@example.org", NULL, "554 5.7.1 bob does not want it");
    df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 3);
    df_wait_for(w->x, &w->sh->nmsgs, 1);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE sender = ''"); /* delivered */
    assert_int_equal(w->sh->nmsgs, 1);
    assert_int_equal(bounces_sent(w), 1);
    const struct peer_msg *m = &w->sh->msgs[0];
    assert_string_equal(m->sender, "");
    assert_int_equal(m->nrcpts, 1);
    assert_string_equal(m->rcpts[0], DF_SENDER);
    const char *c = m->content;
    has(c, "From: MAILER-DAEMON@");
    has(c, "To: <" DF_SENDER ">");
    has(c, "Content-Type: multipart/report; report-type=delivery-status;");
    has(c, "X-Dumpsterd-Queue-ID: DL0000000000000001");
    has(c, "Final-Recipient: rfc822; alice@example.org\r\nAction: failed\r\nStatus: 5.1.1\r\n");
    has(c, "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.org>: unknown user");
    has(c, "Final-Recipient: rfc822; bob@example.org\r\nAction: failed\r\nStatus: 5.7.1\r\n");
    has(c, "Diagnostic-Code: smtp; 554 5.7.1 bob does not want it");
    has(c, "\r\nRemote-MTA: dns; [127.0.0.1]\r\n"); /* the destination is an IP literal */
    lacks(c, "Remote-MTA: dns; 127.0.0.1[");
    lacks(c, "carol@example.org");
    has(c, "Content-Type: text/rfc822-headers");
    has(c, "\r\nSubject: quarterly figures\r\n");
    has(c, "\r\nMessage-ID: <m1@example.net>\r\n");
    lacks(c, "the figures follow");
    assert_int_equal(w->local->nmsgs, 0);
}

/* The report's recipient row while its peer holds it. */
struct route_row {
    long long route;
    char sg[64];
};

/* held_report - the report's queue row, read while a peer holds it */
static struct route_row held_report(struct bworld *w, struct peer *at)
{
    struct route_row r;

    df_wait_for(w->x, &at->held, 1);
    r.route = sf_sql_int(w->x->f, "SELECT r.route FROM recipient r JOIN message m"
                                  " ON m.id = r.msg WHERE m.sender = ''");
    sf_sql_text(w->x->f, r.sg, sizeof(r.sg),
                "SELECT r.sg FROM recipient r JOIN message m ON m.id = r.msg WHERE m.sender = ''");
    at->fault = PEER_OK;
    peer_release(at);
    return r;
}

static const struct {
    const char *sender;
    bool smarthost;
    int where; /* 0 none, 1 the sender's storage group, 2 the smarthost */
    const char *why;
} route_cases[] = {
    {LOCAL_SENDER, true, 1, "the directory knows the sender"},
    {"LOCAL@Example.NET", true, 1, "the directory ignores case"},
    {DF_SENDER, true, 2, "an unknown sender: the smarthost"},
    {LOCAL_SENDER, false, 1, "no smarthost needed for a local sender"},
    {"", true, 0, "never to the null sender"},
};

/* test_report_route - the directory's storage group, else the smarthost,
 * never the null sender */
static void test_report_route(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        struct bworld *w = bw_new(route_cases[i].smarthost);
        const char *rcpt = "alice@example.org:SG1";
        print_message("case %zu: %s\n", i, route_cases[i].why);
        w->local->fault = w->sh->fault = PEER_HOLD;
        peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
        df_send(w->x, route_cases[i].sender, df_content, clock_now_ms(), &rcpt, 1);
        if (route_cases[i].where == 1) {
            struct route_row r = held_report(w, w->local);
            assert_int_equal(r.route, RCPT_ROUTE_SG);
            assert_string_equal(r.sg, "SG2");
            df_wait_for(w->x, &w->local->nmsgs, 1);
            assert_string_equal(w->local->msgs[0].rcpts[0], route_cases[i].sender);
        } else if (route_cases[i].where == 2) {
            struct route_row r = held_report(w, w->sh);
            assert_int_equal(r.route, RCPT_ROUTE_SMARTHOST);
            assert_string_equal(r.sg, "");
        } else {
            df_wait_attempts(w->x, 1);
            sf_run_ms(w->x->f, 200);
            assert_int_equal(df_bounces(w->x), 0);
        }
        assert_int_equal(bounces_sent(w), route_cases[i].where ? 1 : 0);
        assert_int_equal(w->local->nmsgs + w->local->held, route_cases[i].where == 1);
        assert_int_equal(w->sh->nmsgs + w->sh->held, route_cases[i].where == 2);
        bw_free(w);
    }
}

/* test_report_not_reported - a report that fails itself is not reported */
static void test_report_not_reported(void **state)
{
    struct bworld *w = *state;
    const char *rcpt = "alice@example.org:SG1";

    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    peer_rule(w->sh, DF_SENDER, "550 5.1.1 no such sender", NULL);
    df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait_attempts(w->x, 2); /* alice, then the report */
    sf_run_ms(w->x->f, 200);
    assert_int_equal(bounces_sent(w), 1);
    assert_int_equal(df_attempts(w->x), 2);
    assert_int_equal(w->sh->rcpt_cmds, 1);
    assert_int_equal(df_bounces(w->x), 0);
}

/* kept_failed - msg's recipient rcpt: failed and kept with its message
 * and content (its row, its reply) */
static void kept_failed(struct bworld *w, uint64_t id, const char *rcpt, const char *reply)
{
    char got[512];

    assert_int_equal(df_rcpt_state(w->x, id, rcpt), RCPT_FAILED);
    sf_sql_text(w->x->f, got, sizeof(got),
                "SELECT last_reply FROM recipient WHERE msg = %lld AND rcpt = %Q", (long long)id,
                rcpt);
    if (strncmp(got, reply, strlen(reply)) != 0)
        fail_msg("reply [%s]", got);
    assert_int_equal(
        sf_sql_int(w->x->f, "SELECT count(*) FROM message WHERE id = %lld", (long long)id), 1);
    assert_int_equal(sf_sql_int(w->x->f,
                                "SELECT sum(length(data)) = %d FROM message_body"
                                " WHERE msg = %lld",
                                (int)strlen(df_content), (long long)id),
                     1);
}

/* test_no_route - no smarthost and a sender the directory does not know:
 * no report, the failure logged and kept as failed in the store, also
 * across a restart */
static void test_no_route(void **state)
{
    struct bworld *w = bw_new(false);
    const char *rcpt = "alice@example.org:SG1";

    (void)state;
    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
    df_wait(w->x, RCPT_FAILED, "SELECT coalesce(max(state), -1) FROM recipient WHERE msg = %lld",
            (long long)id);
    sf_run_ms(w->x->f, 200);
    assert_int_equal(bounces_sent(w), 0);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(w->sh->conns, 0);
    kept_failed(w, id, "alice@example.org", "550 5.1.1 unknown user");
    df_reopen(w->x); /* kept for max_queue_lifetime (2 days here), restarts included */
    sf_run_ms(w->x->f, 200);
    kept_failed(w, id, "alice@example.org", "550 5.1.1 unknown user");
    assert_int_equal(w->mbox->rcpt_cmds, 1); /* failed for good: never tried again */
    bw_free(w);
}

/* test_no_route_expires - a failure kept without a report leaves the store
 * once max_queue_lifetime has passed since it failed: its rows and
 * content, unless the dumpster holds the message for a delivered copy */
static void test_no_route_expires(void **state)
{
    struct bworld *w = bw_new(false);
    const char *alone = "alice@example.org:SG1";
    const char *both[] = {"alice@example.org:SG1", "bob@example.org:SG1"};

    (void)state;
    w->x->f->c.delivery.max_queue_lifetime = 1;
    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    uint64_t m1 = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &alone, 1);
    uint64_t m2 = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), both, 2);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE id = %lld", (long long)m1);
    assert_int_equal(
        sf_sql_int(w->x->f, "SELECT count(*) FROM recipient WHERE msg = %lld", (long long)m1), 0);
    assert_int_equal(
        sf_sql_int(w->x->f, "SELECT count(*) FROM message_body WHERE msg = %lld", (long long)m1),
        0);
    /* m2: alice's failure expired too, bob's copy keeps the message in the dumpster */
    df_wait(w->x, 0,
            "SELECT next_attempt FROM recipient WHERE msg = %lld AND rcpt = 'alice@example.org'",
            (long long)m2);
    assert_int_equal(df_rcpt_state(w->x, m2, "alice@example.org"), RCPT_FAILED);
    assert_int_equal(df_rcpt_state(w->x, m2, "bob@example.org"), RCPT_DELIVERED);
    assert_int_equal(
        sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_item WHERE msg = %lld", (long long)m2),
        1);
    assert_int_equal(
        sf_sql_int(w->x->f, "SELECT count(*) FROM message WHERE id = %lld", (long long)m2), 1);
    assert_int_equal(w->mbox->nmsgs, 1);
    assert_int_equal(bounces_sent(w), 0);
    bw_free(w);
}

/* test_headers_from_store - a message that expired before any connection
 * (its content never read for delivery): the report quotes its headers,
 * read from the store */
static void test_headers_from_store(void **state)
{
    struct bworld *w = *state;
    const char *rcpt = "dora@example.org:SG3";

    w->x->f->c.delivery.max_queue_lifetime = 3600;
    df_send(w->x, DF_SENDER, df_content, clock_now_ms() - 7200 * 1000, &rcpt, 1);
    df_wait_for(w->x, &w->sh->nmsgs, 1);
    const char *c = w->sh->msgs[0].content;
    has(c, "Final-Recipient: rfc822; dora@example.org\r\nAction: failed\r\n");
    has(c, "\r\nSubject: quarterly figures\r\n");
    has(c, "\r\nFrom: Sender <s@example.net>\r\n");
    lacks(c, "the figures follow");
    lacks(c, "Remote-MTA"); /* no server ever answered */
    lacks(c, "said:");
}

/* test_two_jobs - recipients of two storage groups fail in two jobs: one
 * report names both, each with the server that refused it */
static void test_two_jobs(void **state)
{
    struct bworld *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "erin@example.org:SG2"};

    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    peer_rule(w->local, "erin@example.org", "550 5.1.1 no erin here", NULL);
    df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
    df_wait_for(w->x, &w->sh->nmsgs, 1);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE sender = ''");
    df_wait(w->x, 0, "SELECT count(*) FROM message");
    sf_run_ms(w->x->f, 200);
    assert_int_equal(w->sh->nmsgs, 1);
    assert_int_equal(bounces_sent(w), 1);
    const char *c = w->sh->msgs[0].content;
    has(c, "Final-Recipient: rfc822; alice@example.org\r\n");
    has(c, "Final-Recipient: rfc822; erin@example.org\r\n");
    has(c, "Diagnostic-Code: smtp; 550 5.1.1 no erin here");
    char remote[64];
    snprintf(remote, sizeof(remote), "host 127.0.0.1[127.0.0.1]:%u said: 550 5.1.1 unknown",
             (unsigned)w->mbox->port);
    has(c, remote);
    snprintf(remote, sizeof(remote), "host 127.0.0.1[127.0.0.1]:%u said: 550 5.1.1 no erin",
             (unsigned)w->local->port);
    has(c, remote);
}

/* test_report_waits - the report waits for the message's other job in
 * flight (its failures stay undecided in the store meanwhile), and names
 * only what failed */
static void test_report_waits(void **state)
{
    struct bworld *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "erin@example.org:SG2", "dave@example.org:SG2"};

    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    peer_rule(w->local, "erin@example.org", NULL, "552 5.2.2 erin is over quota");
    w->local->fault = PEER_HOLD;
    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 3);
    df_wait_for(w->x, &w->local->held, 1);
    df_wait_attempts(w->x, 1); /* alice failed */
    sf_run_ms(w->x->f, 200);
    assert_int_equal(bounces_sent(w), 0);
    assert_int_equal(w->sh->conns, 0);
    assert_int_equal(df_rcpt_state(w->x, id, "alice@example.org"), RCPT_PENDING); /* active */
    w->local->fault = PEER_OK;
    peer_release(w->local);
    df_wait_for(w->x, &w->sh->nmsgs, 1);
    assert_int_equal(bounces_sent(w), 1);
    const char *c = w->sh->msgs[0].content;
    has(c, "Final-Recipient: rfc822; alice@example.org\r\n");
    has(c, "Final-Recipient: rfc822; erin@example.org\r\nAction: failed\r\nStatus: 5.2.2\r\n");
    lacks(c, "dave@example.org");
    df_wait(w->x, RCPT_FAILED,
            "SELECT coalesce(min(state), -1) FROM recipient WHERE msg = %lld"
            " AND rcpt IN ('alice@example.org', 'erin@example.org')",
            (long long)id);
    assert_int_equal(df_rcpt_state(w->x, id, "dave@example.org"), RCPT_DELIVERED);
}

/* test_report_waits_restart - a stop while failures wait for the report
 * forgets them: the next start tries those recipients again, and one report
 * follows */
static void test_report_waits_restart(void **state)
{
    struct bworld *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "erin@example.org:SG2"};

    peer_rule(w->mbox, "alice@example.org", "550 5.1.1 unknown user", NULL);
    peer_rule(w->local, "erin@example.org", NULL, "550 5.1.1 no erin here");
    w->local->fault = PEER_HOLD;
    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
    df_wait_for(w->x, &w->local->held, 1);
    df_wait_attempts(w->x, 1);
    df_reopen(w->x);
    w->local->fault = PEER_OK;
    df_wait_for(w->x, &w->sh->nmsgs, 1);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE id = %lld", (long long)id);
    sf_run_ms(w->x->f, 200);
    assert_int_equal(w->sh->nmsgs, 1);
    assert_int_equal(w->mbox->rcpt_cmds, 2); /* alice was tried again */
    const char *c = w->sh->msgs[0].content;
    has(c, "Final-Recipient: rfc822; alice@example.org\r\n");
    has(c, "Final-Recipient: rfc822; erin@example.org\r\n");
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_report, setup, teardown),
        cmocka_unit_test(test_report_route),
        cmocka_unit_test_setup_teardown(test_report_not_reported, setup, teardown),
        cmocka_unit_test(test_no_route),
        cmocka_unit_test(test_no_route_expires),
        cmocka_unit_test_setup_teardown(test_headers_from_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_waits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_report_waits_restart, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
