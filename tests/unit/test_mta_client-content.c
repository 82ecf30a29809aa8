/* test_mta_client-content.c - the content (dot-stuffing, 24 MiB) and what MAIL FROM says of it */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "mtafix.h"

/* test_dot_stuffing - "." and ".x" lines, a missing final CRLF, an empty
 * message, on one connection */
static void test_dot_stuffing(void **state)
{
    static const char *const script[] = {
        GREET,   EHLO_PIPE, OK_MAIL, OK_RCPT, GO,     QUEUED, /* job 0 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,         /* RSET, job 1 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED, BYE,    NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, ".\r\n.x\r\nok\r\n..y\r\nz.\r\n.");
    mf_job_set(h, 1, "a@x", mf_rcpt2, 1, "");
    mf_job_set(h, 2, "a@x", mf_rcpt2, 1, "no final line end");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->data, "..\r\n..x\r\nok\r\n...y\r\nz.\r\n..\r\n.\r\n"
                               ".\r\n"
                               "no final line end\r\n.\r\n");
    assert_int_equal(f->srv->messages, 3);
    assert_int_equal(h->done, 3);
    mf_reply_is(&h->res[2][0], 250, "2.0.0", NULL);
    assert_int_equal(evbuffer_get_length(h->jobs[0].content), 0); /* drained */
}

/* stuff - the reference: RFC 5321 4.5.2 on a whole buffer */
static size_t stuff(const char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (in[i] == '.' && (i == 0 || in[i - 1] == '\n'))
            out[o++] = '.';
        out[o++] = in[i];
    }
    return o;
}

/* resume_cb - the stalled server reads again */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tsrv *s = arg;

    (void)fd;
    (void)what;
    s->stall = false;
    bufferevent_enable(s->bev, EV_READ);
}

/* test_big_content - 24 MiB through the watermarks: while the server does
 * not read, the client moves only what the socket and its output take */
static void test_big_content(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED, BYE, NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    size_t len, slen, moved;
    char *content = mf_big_content(24u << 20, &len), *want = malloc(len * 2 + 3);
    struct timeval half = {0, 500000};
    struct event *resume;
    bool never = false;

    assert_non_null(want);
    f->srv = mf_srv_new(f->base, script, NULL);
    f->srv->stall = true;
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "");
    evbuffer_add(h->jobs[0].content, content, len);
    h->quit_after = true;
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 10);
    mf_run_until(f->base, &never, 1); /* the server stalls; the client cannot go on */
    moved = len - evbuffer_get_length(h->jobs[0].content);
    print_message("moved %zu of %zu octets while the server stalled\n", moved, len);
    assert_true(moved > 0 && moved < (12u << 20));
    resume = evtimer_new(f->base, resume_cb, f->srv);
    evtimer_add(resume, &half);
    assert_true(mf_run_until(f->base, &h->finished, 60));
    event_free(resume);
    slen = stuff(content, len, want);
    memcpy(want + slen, ".\r\n", 3);
    assert_int_equal(evbuffer_get_length(f->srv->data), slen + 3);
    assert_memory_equal(evbuffer_pullup(f->srv->data, -1), want, slen + 3);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    free(content);
    free(want);
}

/* ---- what MAIL FROM passes on (RFC 6152, 6531) ---- */

#define EHLO_UTF8 "250-t\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
#define EHLO_NONE "250-t\r\n250 PIPELINING\r\n"

/* test_mail_params - BODY= as the message came, SMTPUTF8 when it came with it */
static void test_mail_params(void **state)
{
    static const char *const script[] = {
        GREET,   EHLO_UTF8, OK_MAIL, OK_RCPT, GO,     QUEUED,        /* job 0 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,                /* RSET, job 1 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,                /* RSET, job 2 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED, BYE,    NULL}; /* RSET, job 3 */
    static const char *const utf8_rcpt[] = {"j\xc3\xbcrgen@x"};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "Subject: \xc3\xbc\r\n\r\n\xc3\xa9t\xc3\xa9\r\n");
    h->jobs[0].body = MTA_CLIENT_BODY_8BITMIME;
    h->jobs[0].smtputf8 = h->jobs[0].utf8_headers = true;
    mf_job_set(h, 1, "a@x", mf_rcpt2, 1, "x\r\n");
    h->jobs[1].body = MTA_CLIENT_BODY_7BIT;
    mf_job_set(h, 2, "a@x", mf_rcpt2, 1, "x\r\n");
    mf_job_set(h, 3, "a@x", utf8_rcpt, 1, "x\r\n"); /* an address needs it all the same */
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\n"
                               "MAIL FROM:<a@x> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                               "RSET\r\nMAIL FROM:<a@x> BODY=7BIT\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                               "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                               "RSET\r\nMAIL FROM:<a@x> SMTPUTF8\r\n"
                               "RCPT TO:<j\xc3\xbcrgen@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(h->done, 4);
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
}

/* test_mail_params_not_offered - a server without 8BITMIME gets the
 * 8BITMIME body as it is, without BODY=; one without SMTPUTF8 gets a
 * SMTPUTF8 message whose header section and envelope are ASCII, without
 * SMTPUTF8; a message that needs it is refused with 5.6.7, before MAIL */
static void test_mail_params_not_offered(void **state)
{
    static const char *const script[] = {GREET,   EHLO_NONE, OK_MAIL, OK_RCPT, GO,  QUEUED, OK_RCPT,
                                         OK_MAIL, OK_RCPT,   GO,      QUEUED,  BYE, NULL};
    static const char *const utf8_rcpt[] = {"j\xc3\xbcrgen@x"};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_reply why;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "Subject: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n");
    h->jobs[0].body = MTA_CLIENT_BODY_8BITMIME;
    mf_job_set(h, 1, "a@x", mf_rcpt2, 1, "Subject: ascii\r\n\r\nx\r\n");
    h->jobs[1].smtputf8 = true;
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_true(mf_run_until(f->base, &h->finished, 20));
    assert_int_equal(h->done, 2);
    assert_true(mta_client_usable(h->c));
    struct mta_client_job need = h->jobs[1];
    need.utf8_headers = true;
    assert_false(mta_client_job_refused(h->c, &h->jobs[1], &why));
    assert_true(mta_client_job_refused(h->c, &need, &why));
    mf_reply_is(&why, 550, "5.6.7", "SMTPUTF8 is required, but was not offered by host test");
    assert_int_equal(mta_client_send(h->c, &need), -1);
    need.utf8_headers = false;
    need.rcpts = utf8_rcpt;
    assert_true(mta_client_job_refused(h->c, &need, &why));
    need.smtputf8 = false; /* not asked for: the address alone is no reason to refuse here */
    assert_false(mta_client_job_refused(h->c, &need, &why));
    h->finished = false;
    mta_client_quit(h->c);
    assert_true(mf_run_until(f->base, &h->finished, 10));
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                               "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    mf_buf_equal(f->srv->data, "Subject: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n"
                               "Subject: ascii\r\n\r\nx\r\n.\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dot_stuffing, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_big_content, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_mail_params, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_mail_params_not_offered, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
