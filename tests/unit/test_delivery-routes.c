/*
 * test_delivery-routes.c - destinations changed while the hub runs
 * (dworldfix.h's world)
 *
 * A destination changed at runtime (delivery_route_set), by a new
 * configuration (delivery_set_conf) or across a restart takes the mail not
 * yet delivered; a runtime route outlives a restart until the
 * configuration file names another destination for the group.
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

/* route_stored - delivery_route_set's answer */
static void route_stored(void *ctx, enum store_rc rc)
{
    *(int *)ctx = rc == STORE_OK ? 1 : 1000;
}

/* test_route_set - a runtime destination takes what is not yet delivered */
static void test_route_set(void **state)
{
    struct world *w = *state;
    struct peer *moved = df_peer(w->x, true);
    int done = 0;

    uint64_t early = dw_send1(w, "bob@example.org:SG1");
    dw_wait_state(w, early, "bob@example.org", RCPT_DELIVERED);
    peer_rule(w->lmtp, "alice@example.org", "450 4.2.1 busy", NULL);
    uint64_t late = dw_send1(w, "alice@example.org:SG1");
    dw_wait_state(w, late, "alice@example.org", RCPT_PENDING);
    delivery_route_set(w->x->d, "SG1", moved->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    assert_int_equal(done, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), moved->dest);
    dw_wait_state(w, late, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(moved->msgs[0].rcpts[0], "alice@example.org");
    assert_int_equal(w->lmtp->nmsgs, 1); /* bob's only */
    char dest[256];
    sf_sql_text(w->x->f, dest, sizeof(dest), "SELECT dest FROM route WHERE sg = 'SG1'");
    assert_string_equal(dest, moved->dest);
}

/* wait_route - SG1 is routed to dest (after the stored routes loaded) */
static void wait_route(struct world *w, const char *dest)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (strcmp(delivery_route_get(w->x->d, "SG1"), dest) != 0 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), dest);
}

/* test_route_restart - a runtime destination outlives a restart, until
 * the configuration file names another one for the group */
static void test_route_restart(void **state)
{
    struct world *w = *state;
    struct peer *moved = df_peer(w->x, true), *filed = df_peer(w->x, true);
    struct conf_sg *g = &w->x->f->c.sg[0];
    char err[256];
    int done = 0;

    delivery_route_set(w->x->d, "SG1", moved->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    df_reopen(w->x);
    wait_route(w, moved->dest);
    uint64_t a = dw_send1(w, "alice@example.org:SG1");
    dw_wait_state(w, a, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(g->name, "SG1");
    assert_int_equal(conf_dest_parse(filed->dest, &g->dest, err, sizeof(err)), 0);
    conf_dest_format(&g->dest, g->dest_text, sizeof(g->dest_text));
    df_reopen(w->x); /* the file changed while the hub was down */
    uint64_t b = dw_send1(w, "bob@example.org:SG1");
    dw_wait_state(w, b, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(filed->nmsgs, 1);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), filed->dest);
    assert_int_equal(w->lmtp->nmsgs, 0);
}

/* test_set_conf - a new configuration's destination takes the waiting mail
 * and replaces a runtime route of the old one */
static void test_set_conf(void **state)
{
    struct world *w = *state;
    struct peer *routed = df_peer(w->x, true), *conf2 = df_peer(w->x, true);
    int done = 0;

    delivery_route_set(w->x->d, "SG1", routed->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    peer_rule(routed, "alice@example.org", "450 4.2.1 busy", NULL);
    uint64_t id = dw_send1(w, "alice@example.org:SG1");
    dw_wait_state(w, id, "alice@example.org", RCPT_PENDING);
    df_alt_sg(w->x, "SG1", conf2->dest);
    delivery_set_conf(w->x->d, &w->x->alt);
    dw_wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(conf2->nmsgs, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), conf2->dest);
    df_wait(w->x, 0, "SELECT count(*) FROM route WHERE sg = 'SG1'");
    assert_int_equal(w->lmtp->nmsgs, 0);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_route_set, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_route_restart, dw_setup, dw_teardown),
        cmocka_unit_test_setup_teardown(test_set_conf, dw_setup, dw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
