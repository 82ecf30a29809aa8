/*
 * test_delivery-faults.c - the delivery scheduler when peers or the store
 * fail (dworldfix.h's world)
 *
 * A peer that hangs up or answers out of step defers, never bounces, and
 * the hub hangs up; an outcome whose commit fails is written later, its
 * recipient delivered once and kept once in the dumpster.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sqlite3.h>

#include "dworldfix.h"

/* wait_closed - run the loop until no connection to peer p is open */
static void wait_closed(struct world *w, const struct peer *p)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (p->open > 0 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    if (p->open > 0)
        fail_msg("timed out: %u connections still open", p->open);
}

static const struct {
    enum peer_fault fault;
    enum rcpt_state alice, bob;
} cut_cases[] = {
    {PEER_CUT_DATA, RCPT_PENDING, RCPT_PENDING},  /* gone inside the content */
    {PEER_CUT_DOT, RCPT_DELIVERED, RCPT_PENDING}, /* gone after alice's reply */
};

/* test_peer_hangs_up - a connection lost in a transaction defers what it
 * did not decide, and nothing bounces */
static void test_peer_hangs_up(void **state)
{
    struct world *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "bob@example.org:SG1"};

    for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        w->lmtp->fault = cut_cases[i].fault;
        uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
        dw_wait_state(w, id, "alice@example.org", cut_cases[i].alice);
        dw_wait_state(w, id, "bob@example.org", cut_cases[i].bob);
    }
    sf_run_ms(w->x->f, 200);
    assert_int_equal(dw_stats(w).bounces, 0);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(w->smarthost->conns, 0);
}

/* test_out_of_step - replies that break the order of the pipelined
 * commands (DATA's 503 before the RCPT's 250) are a failure of the
 * connection: deferred with the backoff, never bounced, the connection
 * closed */
static void test_out_of_step(void **state)
{
    struct world *w = *state;
    int64_t t0 = clock_now_ms();
    char reply[512];

    w->lmtp->fault = PEER_OUT_OF_STEP;
    uint64_t id = dw_send1(w, "alice@example.org:SG1");
    df_wait_attempts(w->x, 1);
    assert_true(peer_saw(w->lmtp, "DATA"));
    dw_wait_state(w, id, "alice@example.org", RCPT_PENDING);
    dw_reply_of(w, id, "alice@example.org", reply, sizeof(reply));
    if (strstr(reply, "out of step") == NULL)
        fail_msg("reply [%s]", reply);
    long long next =
        sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld", (long long)id);
    assert_true(next >= t0 + 600000 && next <= clock_now_ms() + 600000);
    struct delivery_stats st = dw_stats(w);
    assert_int_equal(st.attempts_deferred, 1);
    assert_int_equal(st.attempts_failed, 0);
    assert_int_equal(st.bounces, 0);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(w->lmtp->nmsgs, 0);
    wait_closed(w, w->lmtp); /* the hub hung up, without QUIT */
    assert_int_equal(w->lmtp->quits, 0);
}

/* test_outcome_commit_fails - the outcome of a delivery cannot be
 * committed for a while (issue 11 item 3): the recipient is neither
 * dropped nor stuck nor delivered again; once the disk works the outcome
 * is written: delivered, kept once in the dumpster */
static void test_outcome_commit_fails(void **state)
{
    struct world *w = *state;
    int64_t end;

    sf_fault_after(w->x->f, "UPDATE recipient SET state = ?, attempts", "COMMIT", SQLITE_IOERR, -1);
    uint64_t id = dw_send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->nmsgs, 1);
    end = clock_mono_ms() + DF_WAIT_MS; /* written again 250, 500, 1000 ms later: >= 2 ticks */
    while (sf_fault_hits(w->x->f) < 4 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    assert_true(sf_fault_hits(w->x->f) >= 4);
    assert_int_equal(df_rcpt_state(w->x, id, "alice@example.org"), RCPT_PENDING);
    assert_int_equal(w->lmtp->nmsgs, 1); /* active meanwhile: never handed out again */
    sf_fault(w->x->f, NULL, 0, 0);
    dw_wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    df_wait(w->x, 1, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1' AND msg = %lld",
            (long long)id);
    assert_int_equal(w->lmtp->nmsgs, 1);
    assert_int_equal(dw_stats(w).attempts_delivered, 1);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_peer_hangs_up, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_step, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_outcome_commit_fails, dw_setup, dw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
