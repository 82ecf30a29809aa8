/* test_mta_client-txn.c - transactions: pipelined or not, refusals, RSET and reuse, bad jobs */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "mtafix.h"

/* test_pipelined - MAIL, RCPTs and DATA in one write when PIPELINING */
static void test_pipelined(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, OK_RCPT,
                                         GO,    QUEUED,    BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 2, "Subject: t\r\n\r\nhello\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=21\r\nRCPT TO:<b@x>\r\n"
                               "RCPT TO:<c@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(f->srv->max_batch, 4);
    mf_buf_equal(f->srv->data, "Subject: t\r\n\r\nhello\r\n.\r\n");
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->done, 1);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 Ok: queued as Q1");
    mf_reply_is(&h->res[0][1], 250, "2.0.0", "250 2.0.0 Ok: queued as Q1");
    assert_int_equal(h->closed, 1);
    mf_reply_is(&h->why, 221, "2.0.0", "221 2.0.0 Bye");
}

/* test_one_at_a_time - without PIPELINING one command per reply, no SIZE */
static void test_one_at_a_time(void **state)
{
    static const char *const script[] = {GREET, EHLO_PLAIN, OK_MAIL, OK_RCPT, OK_RCPT,
                                         GO,    QUEUED,     BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "", mf_rcpt2, 2, "x\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<b@x>\r\n"
                               "RCPT TO:<c@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(f->srv->max_batch, 1);
    mf_buf_equal(f->srv->data, "x\r\n.\r\n");
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    mf_reply_is(&h->res[0][1], 250, "2.0.0", NULL);
    mf_reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_all_rejected - no RCPT accepted: no DATA; the next job sends RSET */
static void test_all_rejected(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PLAIN,
                                         OK_MAIL,
                                         "550 5.1.1 no b\r\n",
                                         "550 5.1.1 no c\r\n", /* job 0 */
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         QUEUED, /* job 1 */
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 2, "never sent\r\n");
    mf_job_set(h, 1, "a@x", mf_rcpt2, 1, "sent\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
                               "RCPT TO:<c@x>\r\nRSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
                               "DATA\r\nQUIT\r\n");
    mf_buf_equal(f->srv->data, "sent\r\n.\r\n");
    mf_reply_is(&h->res[0][0], 550, "5.1.1", "550 5.1.1 no b");
    mf_reply_is(&h->res[0][1], 550, "5.1.1", "550 5.1.1 no c");
    mf_reply_is(&h->res[1][0], 250, "2.0.0", NULL);
}

/* test_all_rejected_pipelined - DATA went out anyway: a 554 to it is
 * fine, and after a 354 only "." follows, never the content */
static void test_all_rejected_pipelined(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         OK_MAIL,
                                         "550 5.1.1 no b\r\n",
                                         "554 5.5.1 no valid recipients\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         "551 5.1.6 moved\r\n",
                                         GO,
                                         "554 5.5.1 no valid recipients\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "never sent\r\n");
    mf_job_set(h, 1, "a@x", mf_rcpt2 + 1, 1, "never sent either\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=12\r\nRCPT TO:<b@x>\r\n"
                               "DATA\r\nRSET\r\nMAIL FROM:<a@x> SIZE=19\r\nRCPT TO:<c@x>\r\n"
                               "DATA\r\nQUIT\r\n");
    mf_buf_equal(f->srv->data, ".\r\n");
    assert_int_equal(h->done, 2);
    mf_reply_is(&h->res[0][0], 550, "5.1.1", "550 5.1.1 no b");
    mf_reply_is(&h->res[1][0], 551, "5.1.6", "551 5.1.6 moved");
    mf_reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_mail_refused - a failed MAIL decides every recipient */
static void test_mail_refused(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         "452 4.3.1 Insufficient system storage\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 2, "m\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_reply_is(&h->res[0][0], 452, "4.3.1", NULL);
    mf_reply_is(&h->res[0][1], 452, "4.3.1", NULL);
    assert_int_equal(f->srv->messages, 0);
}

/* test_reuse - three jobs on one connection, RSET in front of the 2nd and
 * 3rd, in the same batch as MAIL */
static void test_reuse(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 one\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 two\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 three\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "1\r\n");
    mf_job_set(h, 1, "a@x", mf_rcpt2, 1, "2\r\n");
    mf_job_set(h, 2, "a@x", mf_rcpt2, 1, "3\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(f->srv->conns, 1);
    assert_int_equal(f->srv->max_batch, 4);
    mf_buf_equal(f->srv->cmds,
                 "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                 "RSET\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                 "RSET\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    mf_buf_equal(f->srv->data, "1\r\n.\r\n2\r\n.\r\n3\r\n.\r\n");
    assert_int_equal(h->done, 3);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 one");
    mf_reply_is(&h->res[1][0], 250, "2.0.0", "250 2.0.0 two");
    mf_reply_is(&h->res[2][0], 250, "2.0.0", "250 2.0.0 three");
}

/* test_free_in_done - freeing inside done(): nothing follows, nothing leaks */
static void test_free_in_done(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED "421 4.4.2 bye\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "m\r\n");
    h->free_in_done = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_null(h->c);
    assert_int_equal(h->done, 1);
    assert_int_equal(h->closed, 0);
}

/* test_bad_jobs - jobs the client refuses at once, with no callback */
static void test_bad_jobs(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, BYE, NULL};
    static const char *const crlf[] = {"b@x\r\nDATA"};
    static const char *const empty[] = {""};
    static const char *const angle[] = {"<b@x>"};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_job j = {.sender = "a@x", .rcpts = mf_rcpt2};

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_int_equal(mta_client_send(h->c, &j), -1); /* not ready yet */
    assert_true(mf_run_until(f->base, &h->finished, 10));
    assert_true(mta_client_usable(h->c));
    assert_int_equal(mta_client_send(h->c, &j), -1); /* no recipient */
    j.nrcpts = 1;
    j.rcpts = crlf;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = empty;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = angle;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = mf_rcpt2;
    j.sender = "a@x\n";
    assert_int_equal(mta_client_send(h->c, &j), -1);
    assert_true(mta_client_usable(h->c));
    h->finished = false;
    mta_client_quit(h->c);
    assert_true(mf_run_until(f->base, &h->finished, 10));
    mf_reply_is(&h->why, 221, "2.0.0", NULL);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nQUIT\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_one_at_a_time, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_all_rejected, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_all_rejected_pipelined, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_mail_refused, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_reuse, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_free_in_done, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_bad_jobs, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
