/* test_mta_client-close.c - the connection ends amid a job: 421, hang-up, RSET refused, timeout */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>

#include "mtafix.h"

/* test_421_mid_transaction - the open recipients get the 421, then closed() */
static void test_421_mid_transaction(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PLAIN, OK_MAIL, "550 5.1.1 no b\r\n", "421 4.3.2 shutting down\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt3, 3, "m\r\n");
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 550, "5.1.1", NULL);
    mf_reply_is(&h->res[0][1], 421, "4.3.2", "421 4.3.2 shutting down");
    mf_reply_is(&h->res[0][2], 421, "4.3.2", "421 4.3.2 shutting down");
    assert_int_equal(h->closed, 1);
    mf_reply_is(&h->why, 421, "4.3.2", "421 4.3.2 shutting down");
    assert_false(mf_buf_has(f->srv->cmds, "r2@x"));
}

/* test_421_idle - a 421 between jobs closes without a done() */
static void test_421_idle(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED "421 4.4.2 idle timeout\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "m\r\n");
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_true(mf_run_until(f->base, &h->gone, 10));
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    assert_int_equal(h->closed, 1);
    mf_reply_is(&h->why, 421, "4.4.2", NULL);
}

/* test_dropped - the server hangs up mid-transaction: code 0 for the open */
static void test_dropped(void **state)
{
    static const char *const script[] = {GREET,    EHLO_PLAIN, OK_MAIL, "550 5.1.1 no\r\n",
                                         "!close", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt3, 3, "m\r\n");
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 550, "5.1.1", NULL);
    mf_reply_is(&h->res[0][1], 0, "", NULL);
    mf_reply_is(&h->res[0][2], 0, "", NULL);
    assert_non_null(strstr(h->res[0][1].text, "lost connection"));
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
}

/* test_rset_refused - a refused RSET leaves the connection in doubt: the
 * job's recipients stay undecided (code 0), closed() has the reply */
static void test_rset_refused(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PLAIN, OK_MAIL, OK_RCPT, GO, QUEUED, "500 5.5.1 what RSET\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "1\r\n");
    mf_job_set(h, 1, "a@x", mf_rcpt2, 2, "2\r\n");
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 2);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    mf_reply_is(&h->res[1][0], 0, "", NULL);
    mf_reply_is(&h->res[1][1], 0, "", NULL);
    assert_non_null(strstr(h->res[1][0].text, "RSET refused"));
    mf_reply_is(&h->why, 500, "5.5.1", "500 5.5.1 what RSET");
}

/* test_reply_amid_content - a reply while the content is still going out
 * decides the open recipients and ends the connection */
static void test_reply_amid_content(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, OK_RCPT, GO "552 5.3.4 too big\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    size_t len;
    char *content = mf_big_content(4u << 20, &len);

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 2, "");
    evbuffer_add(h->jobs[0].content, content, len);
    free(content);
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 552, "5.3.4", "552 5.3.4 too big");
    mf_reply_is(&h->res[0][1], 552, "5.3.4", "552 5.3.4 too big");
    mf_reply_is(&h->why, 552, "5.3.4", NULL);
    assert_true(evbuffer_get_length(h->jobs[0].content) > 0); /* not all moved */
}

/* test_dot_timeout - no reply to the end of data: undecided, code 0 */
static void test_dot_timeout(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, "", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "m\r\n");
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 1);
    assert_true(mf_run_until(f->base, &h->gone, 10));
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 0, "", NULL);
    assert_non_null(strstr(h->res[0][0].text, "timed out while sending end of data"));
    assert_int_equal(h->why.code, 0);
    assert_int_equal(f->srv->messages, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_421_mid_transaction, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_421_idle, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_dropped, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_rset_refused, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_reply_amid_content, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_dot_timeout, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
