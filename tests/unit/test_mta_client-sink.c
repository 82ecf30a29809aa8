/* test_mta_client-sink.c - five messages on one connection to Postfix's smtp-sink */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "mtafix.h"

#define SINK "/usr/sbin/smtp-sink" /* the test is skipped when it is not there */

/* sink_start - smtp-sink on a free port of 127.0.0.1 */
static pid_t sink_start(struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char where[64];
    pid_t pid;

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
    close(fd);
    snprintf(where, sizeof(where), "127.0.0.1:%d", ntohs(sin->sin_port));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1); /* -c prints its counters there */
        dup2(null, 2);
        if (geteuid() == 0)
            execl(SINK, "smtp-sink", "-u", "nobody", "-c", where, "100", (char *)NULL);
        else
            execl(SINK, "smtp-sink", "-c", where, "100", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* test_smtp_sink - five messages on one connection to Postfix's smtp-sink */
static void test_smtp_sink(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_in sin;
    int tries, status;
    size_t i, k;
    pid_t pid;

    if (access(SINK, X_OK) != 0)
        skip();
    pid = sink_start(&sin);
    for (i = 0; i < 5; i++)
        mf_job_set(h, i, "a@x", mf_rcpt2, 2, "Subject: sink\r\n\r\n.hello\r\n");
    h->quit_after = true;
    for (tries = 0; tries < 50; tries++) { /* until smtp-sink listens */
        h->finished = false;
        h->closed = 0;
        mf_h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&sin, sizeof(sin), 10);
        assert_true(mf_run_until(f->base, &h->finished, 10));
        if (h->ready > 0 || h->why.code != 0)
            break;
        struct timeval tv = {0, 100000};
        bool never = false;
        event_base_once(f->base, -1, EV_TIMEOUT, mf_guard_cb, &never, &tv);
        mf_run_until(f->base, &never, 2);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->done, 5);
    for (i = 0; i < 5; i++)
        for (k = 0; k < 2; k++)
            assert_int_equal(h->res[i][k].code, 250);
    assert_int_equal(h->why.code, 221);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_smtp_sink, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
