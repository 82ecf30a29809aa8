/*
 * test_delivery-pool.c - the delivery scheduler's connection pools
 * (dworldfix.h's world)
 *
 * Connections are counted at the peers: one connection carries every
 * message with RSET between them; never more than
 * concurrency_per_destination connections to one destination; a pool
 * grows only while its connections are busy, and a burst that keeps them
 * busy fills it, each connection carrying mail.
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

/* test_connection_reuse - one connection carries every message, RSET
 * between them */
static void test_connection_reuse(void **state)
{
    struct world *w = *state;
    uint64_t ids[5];

    w->x->f->c.delivery.concurrency_per_destination = 1;
    for (size_t i = 0; i < 5; i++)
        ids[i] = dw_send1(w, "alice@example.org:SG1");
    for (size_t i = 0; i < 5; i++)
        dw_wait_state(w, ids[i], "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 1);
    assert_int_equal(w->lmtp->nmsgs, 5);
    assert_int_equal(w->lmtp->rsets, 4);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(w->lmtp->msgs[i].conn, 1);
}

/* test_concurrency_bound - never more than concurrency_per_destination
 * connections to one destination, however much waits */
static void test_concurrency_bound(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.concurrency_per_destination = 3;
    w->lmtp->fault = PEER_HOLD;
    for (size_t i = 0; i < 8; i++)
        dw_send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->held, 3);
    sf_run_ms(w->x->f, 300); /* room for a fourth, which must not come */
    assert_int_equal(w->lmtp->conns, 3);
    assert_int_equal(w->lmtp->max_open, 3);
    w->lmtp->fault = PEER_OK;
    peer_release(w->lmtp);
    df_wait(w->x, 8, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 3); /* the three carried the rest */
    assert_int_equal(w->lmtp->max_open, 3);
    assert_int_equal(w->lmtp->nmsgs, 8);
}

/* empty_conns - connections to p that carried no message */
static unsigned empty_conns(const struct peer *p)
{
    unsigned carried = 0;

    for (unsigned c = 1; c <= p->conns; c++)
        for (unsigned i = 0; i < p->nmsgs && i < PEER_MSGS_MAX; i++)
            if (p->msgs[i].conn == c) {
                carried++;
                break;
            }
    return p->conns - carried;
}

/* test_pool_grows_when_busy - a trickle uses one connection; a burst that
 * one connection drains before a new one is greeted (slow greetings) opens
 * no idle ones: a connection is opened only while every open one is busy,
 * one connect at a time */
static void test_pool_grows_when_busy(void **state)
{
    struct world *w = *state;
    const char *frank = "frank@example.org:SG1";

    w->x->f->c.delivery.concurrency_per_destination = 16;
    for (size_t i = 0; i < 4; i++)
        dw_wait_state(w, dw_send1(w, "alice@example.org:SG1"), "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 1);
    peer_rule(w->lmtp, "frank@example.org", "451 4.3.0 try later", NULL);
    for (size_t i = 0; i < 16; i++)
        dw_send1(w, frank);
    df_wait(w->x, 16, "SELECT count(*) FROM recipient WHERE state = %d AND attempts = 1",
            RCPT_PENDING);
    peer_rule(w->lmtp, "frank@example.org", NULL, NULL);
    unsigned before = w->lmtp->conns;
    w->lmtp->greet_delay_ms = 2000;
    queue_flush(w->x->f->q, "SG1", false, NULL, NULL); /* 16 due at once: a burst */
    df_wait(w->x, 20, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->nmsgs, 20);
    sf_run_ms(w->x->f, 200); /* the accepts of whatever was opened meanwhile */
    if (w->lmtp->conns > before + 1)
        fail_msg("the burst opened %u connections; the open one carried it",
                 w->lmtp->conns - before);
    if (empty_conns(w->lmtp) > 1)
        fail_msg("%u of %u connections carried no message", empty_conns(w->lmtp), w->lmtp->conns);
}

/* test_burst_fills_pool - a burst that keeps every connection busy opens
 * them up to the bound, and each carries mail */
static void test_burst_fills_pool(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.concurrency_per_destination = 4;
    w->lmtp->fault = PEER_HOLD;
    for (size_t i = 0; i < 10; i++)
        dw_send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->held, 4);
    assert_int_equal(w->lmtp->conns, 4);
    w->lmtp->fault = PEER_OK;
    peer_release(w->lmtp);
    df_wait(w->x, 10, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 4);
    assert_int_equal(empty_conns(w->lmtp), 0);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connection_reuse, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_bound, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_pool_grows_when_busy, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_burst_fills_pool, dw_setup, dw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
