/*
 * test_bev_read.c - bev_read_more on a socket pair: what it reads, how
 * much at most, the octets in order across the input's chains, and what it
 * leaves to the bufferevent (EOF)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bev_read.h"

struct pair {
    struct event_base *base;
    struct bufferevent *bev;
    int peer;
};

static int setup(void **state)
{
    static struct pair p;
    int fds[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    assert_int_equal(evutil_make_socket_nonblocking(fds[0]), 0);
    p.base = event_base_new();
    p.bev = bufferevent_socket_new(p.base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(p.bev);
    p.peer = fds[1];
    *state = &p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;

    bufferevent_free(p->bev);
    close(p->peer);
    event_base_free(p->base);
    return 0;
}

/* send_pattern - n octets of a counting pattern starting at from */
static void send_pattern(int fd, size_t from, size_t n)
{
    unsigned char buf[4096];

    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        for (size_t i = 0; i < k; i++)
            buf[i] = (unsigned char)((from + i) % 251);
        assert_int_equal(write(fd, buf, k), (ssize_t)k);
        from += k;
        n -= k;
    }
}

/* check_pattern - the input holds the pattern from 0, len octets */
static void check_pattern(struct evbuffer *in, size_t len)
{
    unsigned char *p = evbuffer_pullup(in, -1);

    assert_int_equal(evbuffer_get_length(in), len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != (unsigned char)(i % 251))
            fail_msg("octet %zu is %u, not %u", i, p[i], (unsigned)(i % 251));
}

/* the rows: octets waiting, octets already in the input (the pattern's
 * start, as a first read of libevent's put them), max; what is read */
static const struct {
    size_t waiting, already, max, want;
} cases[] = {
    {50 * 1024, 0, 64 * 1024, 50 * 1024},           /* all of it in one read */
    {100 * 1024, 0, 64 * 1024, 64 * 1024},          /* no more than max */
    {50 * 1024, 4096, 60 * 1024, 50 * 1024 - 4096}, /* appended after what is there */
    {10, 0, 4, 4},
    {0, 0, 64 * 1024, 0}, /* nothing waiting: EAGAIN, nothing committed */
    {1000, 0, 0, 0},      /* max 0: no read */
};

static void test_reads(void **state)
{
    struct pair *p = *state;

    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct evbuffer *in = bufferevent_get_input(p->bev);
        evbuffer_drain(in, evbuffer_get_length(in));
        unsigned char junk[65536];
        while (read(bufferevent_getfd(p->bev), junk, sizeof(junk)) > 0)
            ;
        if (cases[c].already) {
            send_pattern(p->peer, 0, cases[c].already);
            unsigned char first[8192];
            ssize_t got = read(bufferevent_getfd(p->bev), first, cases[c].already);
            assert_int_equal(got, (ssize_t)cases[c].already);
            evbuffer_unfreeze(in, 0);
            evbuffer_add(in, first, (size_t)got);
            evbuffer_freeze(in, 0);
        }
        send_pattern(p->peer, cases[c].already, cases[c].waiting - cases[c].already);
        size_t got = bev_read_more(p->bev, cases[c].max);
        assert_int_equal(got, cases[c].want);
        check_pattern(in, cases[c].already + cases[c].want);
    }
}

static bool eof_seen;

static void on_event(struct bufferevent *bev, short what, void *arg)
{
    (void)bev;
    (void)arg;
    if (what & BEV_EVENT_EOF)
        eof_seen = true;
}

/* test_eof_left_to_the_loop - the peer closed: nothing read, and the
 * bufferevent's own read still reports the EOF */
static void test_eof_left_to_the_loop(void **state)
{
    struct pair *p = *state;

    send_pattern(p->peer, 0, 100);
    close(p->peer);
    p->peer = -1;
    assert_int_equal(bev_read_more(p->bev, 64 * 1024), 100);
    assert_int_equal(bev_read_more(p->bev, 64 * 1024), 0);
    eof_seen = false;
    bufferevent_setcb(p->bev, NULL, NULL, on_event, NULL);
    bufferevent_enable(p->bev, EV_READ);
    for (int i = 0; i < 100 && !eof_seen; i++)
        event_base_loop(p->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    assert_true(eof_seen);
    check_pattern(bufferevent_get_input(p->bev), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_reads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_eof_left_to_the_loop, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
