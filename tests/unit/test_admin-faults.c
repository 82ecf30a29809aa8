/*
 * test_admin-faults.c - the admin API when the system fails under it
 *
 * Over the hub of adminfix.h: accept() failing with EMFILE rests the
 * listener instead of being retried at once forever, and accepting
 * resumes once descriptors are free; a store error is answered 500 with
 * the JSON error body, and the same request works once the store does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/http.h>
#include <jansson.h>
#include <sqlite3.h>

#include "admin_int.h"

#include "adminfix.h"

/* fill_fds - take every descriptor below a lowered soft limit; returns
 * how many were taken into fds[] */
static int fill_fds(int *fds, int cap)
{
    int n = 0, fd, null = open("/dev/null", O_RDONLY);

    assert_true(null >= 0);
    fds[n++] = null;
    while (n < cap && (fd = dup(null)) >= 0)
        fds[n++] = fd;
    assert_int_equal(errno, EMFILE);
    return n;
}

/* test_accept_emfile - accept() failing with EMFILE rests the listener
 * (ADMIN_ACCEPT_PAUSE_MS) instead of being retried at once forever, and
 * accepting resumes once descriptors are free */
static void test_accept_emfile(void **state)
{
    struct aworld *w = *state;
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(w->port)};
    struct rlimit old, low;
    int fds[4096], n, cl;

    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
    assert_true((cl = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) >= 0);
    low = old;
    low.rlim_cur = (rlim_t)cl + 64;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
    n = fill_fds(fds, 4096);
    /* the connection waits in the backlog; accepting it fails */
    assert_true(connect(cl, (struct sockaddr *)&sin, sizeof(sin)) == 0 || errno == EINPROGRESS);
    sf_run_ms(w->x->f, 350);
    uint64_t errors = w->a->accept_errors;
    for (int i = 0; i < n; i++)
        close(fds[i]);
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
    print_message("accept() failed %llu times in 350 ms\n", (unsigned long long)errors);
    assert_true(errors >= 1);
    assert_true(errors <= 10); /* at once, forever, it would be thousands */
    struct reply r = aw_call(w, EVHTTP_REQ_GET, NULL, NULL, "/healthz");
    aw_expect(&r, 200, NULL);
    aw_reply_free(&r);
    close(cl);
}

static const struct {
    const char *sql; /* the statement that fails */
    int rc;
    enum evhttp_cmd_type m;
    const char *path, *body, *message;
} store_faults[] = {
    {"INSERT INTO resubmit_request", SQLITE_FULL, EVHTTP_REQ_POST, "/v1/resubmit",
     "{\"storage_group\":\"SG1\",\"start\":1,\"end\":2}", "cannot store the request"},
    {"SELECT DISTINCT msg FROM recipient", SQLITE_IOERR, EVHTTP_REQ_GET, "/v1/queue", NULL,
     "cannot list the queue"},
    {"INSERT OR REPLACE INTO route", SQLITE_FULL, EVHTTP_REQ_PUT,
     "/v1/storage-groups/SG1/destination", "{\"destination\":\"lmtp:[127.0.0.1]:1\"}",
     "cannot store the destination"},
    {"AND delivered < ?", SQLITE_BUSY, EVHTTP_REQ_POST, "/v1/storage-groups/SG1/replicated",
     "{\"until\":4000000000}", "cannot release the items"},
};

/* test_store_error - the store fails: 500 with the JSON error body, and
 * the same request works once the store does */
static void test_store_error(void **state)
{
    struct aworld *w = *state;

    aw_deliver_items(w, 1);
    for (size_t i = 0; i < sizeof(store_faults) / sizeof(store_faults[0]); i++) {
        sf_fault(w->x->f, store_faults[i].sql, store_faults[i].rc, 1);
        struct reply r =
            aw_call(w, store_faults[i].m, AW_TOKEN, store_faults[i].body, store_faults[i].path);
        aw_expect(&r, 500, "store_error");
        assert_string_equal(aw_jstr(&r, "error.message"), store_faults[i].message);
        assert_int_equal(sf_fault_hits(w->x->f), 1);
        aw_reply_free(&r);
        r = aw_call(w, store_faults[i].m, AW_TOKEN, store_faults[i].body, store_faults[i].path);
        if (r.status / 100 != 2)
            fail_msg("%s after the fault: %d %s", store_faults[i].path, r.status, r.body);
        aw_reply_free(&r);
    }
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM resubmit_request"), 1);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_accept_emfile, aw_setup, aw_teardown),
        cmocka_unit_test_setup_teardown(test_store_error, aw_setup, aw_teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
