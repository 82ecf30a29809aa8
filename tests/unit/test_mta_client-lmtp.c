/* test_mta_client-lmtp.c - LMTP: a reply per recipient, over TCP and a unix socket; LHLO refused */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <unistd.h>

#include <cmocka.h>

#include "mtafix.h"

/* test_lmtp - one reply per accepted recipient, in order, with a partial
 * failure at RCPT and another at the end of data */
static void test_lmtp(void **state)
{
    static const char *const script[] = {GREET,
                                         "250-t\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
                                         OK_MAIL,
                                         OK_RCPT,
                                         "550 5.1.1 <r1@x>: no such user\r\n",
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 <r0@x> delivered\r\n"
                                         "452 4.2.2 <r2@x> over quota\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt3, 3, "m\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_true(mf_buf_has(f->srv->cmds, "LHLO client.test\r\n"));
    mf_reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 <r0@x> delivered");
    mf_reply_is(&h->res[0][1], 550, "5.1.1", "550 5.1.1 <r1@x>: no such user");
    mf_reply_is(&h->res[0][2], 452, "4.2.2", "452 4.2.2 <r2@x> over quota");
    mf_reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_lmtp_unix - LMTP over a unix socket, no PIPELINING */
static void test_lmtp_unix(void **state)
{
    static const char *const script[] = {
        GREET,   "250 t\r\n", OK_MAIL, OK_RCPT,
        OK_RCPT, OK_RCPT,     GO,      "250 2.0.0 a\r\n451 4.3.0 b\r\n250 2.0.0 c\r\n",
        BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    char path[64];

    snprintf(path, sizeof(path), "/tmp/test_smtp_client.%d.sock", (int)getpid());
    f->srv = mf_srv_new(f->base, script, path);
    mf_job_set(h, 0, "a@x", mf_rcpt3, 3, "m\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_int_equal(f->srv->max_batch, 1);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 a");
    mf_reply_is(&h->res[0][1], 451, "4.3.0", "451 4.3.0 b");
    mf_reply_is(&h->res[0][2], 250, "2.0.0", "250 2.0.0 c");
    mf_reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_lhlo_refused - LMTP has no HELO: a refused LHLO closes */
static void test_lhlo_refused(void **state)
{
    static const char *const script[] = {GREET, "500 5.5.1 what\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_int_equal(h->ready, 0);
    mf_reply_is(&h->why, 500, "5.5.1", NULL);
    mf_buf_equal(f->srv->cmds, "LHLO client.test\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lmtp, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_lmtp_unix, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_lhlo_refused, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
