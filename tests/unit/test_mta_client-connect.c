/* test_mta_client-connect.c - connect and greeting: refused, timeouts, malformed replies, HELO */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "bounds.h"
#include "mtafix.h"

/* test_refused - nobody listens: closed() with code 0, never ready() */
static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd); /* the port is closed now */
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&sin, sizeof(sin), 5);
    assert_true(mf_run_until(f->base, &h->finished, 10));
    assert_int_equal(h->ready, 0);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    print_message("why: %s\n", h->why.text);
    assert_non_null(strstr(h->why.text, "connect to test"));
}

/* test_unix_missing - a unix socket that does not exist: the same */
static void test_unix_missing(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "/nonexistent/lmtp.sock");
    mf_h_connect(h, MTA_CLIENT_LMTP, (struct sockaddr *)&sun, sizeof(sun), 5);
    assert_int_equal(h->closed, 0); /* never from inside connect */
    assert_true(mf_run_until(f->base, &h->finished, 10));
    assert_int_equal(h->ready, 0);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    print_message("why: %s\n", h->why.text);
}

/* test_reply_timeout - the server says nothing after the greeting */
static void test_reply_timeout(void **state)
{
    static const char *const script[] = {GREET, "", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct timeval t0, t1;

    f->srv = mf_srv_new(f->base, script, NULL);
    evutil_gettimeofday(&t0, NULL);
    mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 1);
    assert_true(mf_run_until(f->base, &h->finished, 10));
    evutil_gettimeofday(&t1, NULL);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    assert_non_null(strstr(h->why.text, "timed out while sending EHLO"));
    assert_true(t1.tv_sec - t0.tv_sec <= 3);
}

/* test_greeting_timeout - connected, but no greeting within connect_timeout */
static void test_greeting_timeout(void **state)
{
    static const char *const script[] = {"", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_cfg cfg = {
        MTA_CLIENT_SMTP, NULL, 0, "client.test", 1, 30, "test", {TLS_OUT_NONE, NULL, NULL, NULL}};
    struct mta_client_cb cb = {mf_h_ready, mf_h_done, mf_h_closed, h};

    f->srv = mf_srv_new(f->base, script, NULL);
    cfg.addr = (struct sockaddr *)&f->srv->addr;
    cfg.addrlen = f->srv->addrlen;
    h->c = mta_client_connect(f->base, &cfg, &cb);
    assert_non_null(h->c);
    assert_true(mf_run_until(f->base, &h->finished, 10));
    assert_int_equal(h->why.code, 0);
    assert_non_null(strstr(h->why.text, "initial server greeting"));
}

/* test_malformed - a reply that breaks the grammar or its bounds closes */
static void test_malformed(void **state)
{
    static char long_line[DD_SMTP_REPLY_LINE_MAX + 16];
    static const char *const bad[] = {"250-t\r\n251 x\r\n", "25O x\r\n", "250-t\r\nPIPELINING\r\n",
                                      long_line, NULL};
    struct fixture *f = *state;
    size_t i;

    memset(long_line, 'x', sizeof(long_line));
    memcpy(long_line, "250 ", 4);
    memcpy(long_line + sizeof(long_line) - 3, "\r\n", 3);
    for (i = 0; bad[i]; i++) {
        const char *script[] = {GREET, bad[i], NULL};
        struct harness h = {.base = f->base};

        print_message("malformed case %zu\n", i);
        f->srv = mf_srv_new(f->base, script, NULL);
        mf_h_run(&h, f->srv, MTA_CLIENT_SMTP);
        assert_int_equal(h.ready, 0);
        assert_int_equal(h.closed, 1);
        assert_int_equal(h.why.code, 0);
        assert_non_null(strstr(h.why.text, "malformed reply"));
        mf_srv_free(f->srv);
        f->srv = NULL;
    }
}

/* test_greeting_refused - a 554 greeting is why the connection closed */
static void test_greeting_refused(void **state)
{
    static const char *const script[] = {"554 5.3.2 go away\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->ready, 0);
    mf_reply_is(&h->why, 554, "5.3.2", "554 5.3.2 go away");
    assert_int_equal(evbuffer_get_length(f->srv->cmds), 0);
}

/* test_helo_fallback - EHLO refused with 5xx: HELO, and no extensions */
static void test_helo_fallback(void **state)
{
    static const char *const script[] = {
        GREET, "502 5.5.1 no EHLO\r\n", "250 t\r\n", OK_MAIL, OK_RCPT, GO, QUEUED, BYE, NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = mf_srv_new(f->base, script, NULL);
    mf_job_set(h, 0, "a@x", mf_rcpt2, 1, "m\r\n");
    h->quit_after = true;
    mf_h_run(h, f->srv, MTA_CLIENT_SMTP);
    mf_buf_equal(f->srv->cmds, "EHLO client.test\r\nHELO client.test\r\nMAIL FROM:<a@x>\r\n"
                               "RCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    mf_reply_is(&h->res[0][0], 250, "2.0.0", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refused, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_unix_missing, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_reply_timeout, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_greeting_timeout, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_malformed, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_greeting_refused, mf_setup, mf_teardown),
        cmocka_unit_test_setup_teardown(test_helo_fallback, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
