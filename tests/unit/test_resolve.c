/*
 * test_resolve.c - the resolver's cache (resolve.h) against a DNS server
 * on 127.0.0.1 (dnsfix.h) on the same loop: answers in order (IPv4 first)
 * with the caller's port, the TTL clamped to RESOLVE_TTL_MIN ..
 * RESOLVE_TTL_MAX (the smaller of A and AAAA), a failure kept
 * RESOLVE_NEG_TTL, concurrent askers served by one lookup, the cache
 * bounded by RESOLVE_CACHE_MAX names, lookups in flight dropped by
 * resolver_free, a callback that asks for a new name while the cache is
 * full (the answered name stays cached), a bad server spec refused
 *
 * Cache lifetimes are hours long, so this file moves the monotonic clock
 * the resolver reads: it defines clock_gettime, which adds a skew to
 * CLOCK_MONOTONIC and passes every other clock through. libevent's timers
 * use CLOCK_MONOTONIC_COARSE and are not moved. The resolver is only ever
 * pointed at the test's server; nothing leaves 127.0.0.1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "bounds.h"
#include "dnsfix.h"
#include "resolve.h"

#define WAIT_MS 10000

static int64_t skew_ms; /* added to CLOCK_MONOTONIC */

/* clock_gettime - the C library's, with CLOCK_MONOTONIC moved by skew_ms */
int clock_gettime(clockid_t id, struct timespec *ts)
{
    long rc = syscall(SYS_clock_gettime, id, ts);

    if (rc == 0 && id == CLOCK_MONOTONIC && skew_ms != 0) {
        int64_t ns = (int64_t)ts->tv_nsec + (skew_ms % 1000) * 1000000;
        ts->tv_sec += (time_t)(skew_ms / 1000 + ns / 1000000000);
        ts->tv_nsec = (long)(ns % 1000000000);
    }
    return (int)rc;
}

/* real_ms - a clock the skew does not move, for the waits */
static int64_t real_ms(void)
{
    struct timespec ts;

    syscall(SYS_clock_gettime, CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct rworld {
    struct event_base *base;
    struct event *tick; /* keeps EVLOOP_ONCE from waiting for ever */
    struct dnsfix *dns;
    struct resolver *r;
};

/* One caller's answer. */
struct answer {
    int calls;
    struct sockaddr_storage addrs[RESOLVE_ADDRS_MAX];
    size_t n;
    char error[128];
};

/* noop - the tick */
static void noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* setup - a DNS server and a resolver that asks only it */
static int setup(void **state)
{
    struct rworld *w = calloc(1, sizeof(*w));
    char err[256] = "";

    assert_non_null(w);
    w->base = event_base_new();
    w->tick = event_new(w->base, -1, EV_PERSIST, noop, NULL);
    event_add(w->tick, &(struct timeval){0, 50000});
    w->dns = dnsfix_new(w->base);
    dnsfix_add(w->dns, "both.test", DNSFIX_A, "127.0.0.2", 300);
    dnsfix_add(w->dns, "both.test", DNSFIX_AAAA, "::1", 300);
    dnsfix_add(w->dns, "zero.test", DNSFIX_A, "127.0.0.3", 0);
    dnsfix_add(w->dns, "short.test", DNSFIX_A, "127.0.0.4", 300);
    dnsfix_add(w->dns, "short.test", DNSFIX_AAAA, "::1", 30);
    dnsfix_add(w->dns, "long.test", DNSFIX_A, "127.0.0.5", 100000);
    dnsfix_add(w->dns, "v6only.test", DNSFIX_AAAA, "::1", 300);
    dnsfix_add(w->dns, "keep.test", DNSFIX_A, "127.0.0.6", 3600);
    snprintf(w->dns->wildcard, sizeof(w->dns->wildcard), ".bulk.test");
    w->dns->wildcard_ttl = 3600;
    w->r = resolver_new(w->base, w->dns->spec, err, sizeof(err));
    if (w->r == NULL)
        fail_msg("resolver_new: %s", err);
    *state = w;
    return 0;
}

/* teardown - resolver, server and loop gone */
static int teardown(void **state)
{
    struct rworld *w = *state;

    resolver_free(w->r);
    dnsfix_free(w->dns);
    event_free(w->tick);
    event_base_free(w->base);
    free(w);
    return 0;
}

/* on_answer - keep what the resolver said */
static void on_answer(void *ctx, const struct sockaddr_storage *addrs, size_t n, const char *error)
{
    struct answer *a = ctx;

    a->calls++;
    a->n = n;
    for (size_t i = 0; i < n && i < RESOLVE_ADDRS_MAX; i++)
        a->addrs[i] = addrs[i];
    snprintf(a->error, sizeof(a->error), "%s", error ? error : "");
}

/* wait_calls - run the loop until *calls reaches want */
static void wait_calls(struct rworld *w, const int *calls, int want)
{
    int64_t end = real_ms() + WAIT_MS;

    while (*calls < want && real_ms() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    if (*calls < want)
        fail_msg("timed out: %d of %d answers", *calls, want);
}

/* ask - one lookup; *now: answered inside the call (from the cache) */
static struct answer ask(struct rworld *w, const char *host, uint16_t port, bool *now)
{
    struct answer a = {0};

    resolve_host(w->r, host, port, on_answer, &a);
    *now = a.calls == 1;
    wait_calls(w, &a.calls, 1);
    assert_int_equal(a.calls, 1);
    return a;
}

/* addr_is - address i of a is family af, text ip, port */
static void addr_is(const struct answer *a, size_t i, int af, const char *ip, uint16_t port)
{
    char text[64];
    const struct sockaddr_storage *ss = &a->addrs[i];
    const void *src = af == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
                                    : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
    uint16_t p = af == AF_INET ? ((const struct sockaddr_in *)ss)->sin_port
                               : ((const struct sockaddr_in6 *)ss)->sin6_port;

    assert_true(i < a->n);
    assert_int_equal(ss->ss_family, af);
    assert_non_null(inet_ntop(af, src, text, sizeof(text)));
    assert_string_equal(text, ip);
    assert_int_equal(ntohs(p), port);
}

/* test_answer_order - A and AAAA asked together, IPv4 first, the port set
 * per caller; a name is cached whatever its case */
static void test_answer_order(void **state)
{
    struct rworld *w = *state;
    bool now;

    struct answer a = ask(w, "both.test", 2525, &now);
    assert_false(now);
    assert_int_equal(a.n, 2);
    addr_is(&a, 0, AF_INET, "127.0.0.2", 2525);
    addr_is(&a, 1, AF_INET6, "::1", 2525);
    assert_int_equal(dnsfix_asked(w->dns, "both.test", DNSFIX_A), 1);
    assert_int_equal(dnsfix_asked(w->dns, "both.test", DNSFIX_AAAA), 1);
    a = ask(w, "BOTH.test", 24, &now);
    assert_true(now);
    addr_is(&a, 0, AF_INET, "127.0.0.2", 24);
    assert_int_equal(dnsfix_asked(w->dns, "both.test", 0), 2);
    a = ask(w, "v6only.test", 25, &now); /* the A query has no data: still an answer */
    assert_int_equal(a.n, 1);
    addr_is(&a, 0, AF_INET6, "::1", 25);
}

static const struct {
    const char *host;
    int64_t kept_ms; /* how long the answer is cached */
} ttl_cases[] = {
    {"zero.test", RESOLVE_TTL_MIN * 1000LL}, /* TTL 0: the minimum */
    {"short.test", 30 * 1000LL},             /* A 300, AAAA 30: the smaller */
    {"long.test", RESOLVE_TTL_MAX * 1000LL}, /* TTL 100000: the maximum */
    {"nx.test", RESOLVE_NEG_TTL * 1000LL},   /* NXDOMAIN: the negative TTL */
};

/* test_ttl_clamped - cached until the clamped TTL ends, asked again after */
static void test_ttl_clamped(void **state)
{
    struct rworld *w = *state;
    bool now;

    for (size_t i = 0; i < sizeof(ttl_cases) / sizeof(ttl_cases[0]); i++) {
        const char *h = ttl_cases[i].host;
        struct answer first = ask(w, h, 25, &now);
        assert_false(now);
        assert_int_equal(dnsfix_asked(w->dns, h, DNSFIX_A), 1);
        skew_ms += ttl_cases[i].kept_ms - 200;
        struct answer cached = ask(w, h, 25, &now);
        if (!now)
            fail_msg("%s: asked again before %lld ms", h, (long long)ttl_cases[i].kept_ms);
        assert_int_equal(cached.n, first.n);
        assert_int_equal(dnsfix_asked(w->dns, h, DNSFIX_A), 1);
        skew_ms += 400;
        ask(w, h, 25, &now);
        if (now)
            fail_msg("%s: still cached after %lld ms", h, (long long)ttl_cases[i].kept_ms);
        assert_int_equal(dnsfix_asked(w->dns, h, DNSFIX_A), 2);
        assert_int_equal(dnsfix_asked(w->dns, h, DNSFIX_AAAA), 2);
    }
}

/* test_failure_answer - an unknown name: no address, the reason given,
 * from the cache too */
static void test_failure_answer(void **state)
{
    struct rworld *w = *state;
    bool now;

    struct answer a = ask(w, "nx.test", 25, &now);
    assert_int_equal(a.n, 0);
    assert_non_null(strstr(a.error, "host not found"));
    a = ask(w, "nx.test", 25, &now);
    assert_true(now);
    assert_int_equal(a.n, 0);
    assert_non_null(strstr(a.error, "host not found"));
    assert_int_equal(dnsfix_asked(w->dns, "nx.test", 0), 2);
}

/* test_concurrent_askers - callers during a lookup wait for it: one query
 * per type, every caller answered with its own port */
static void test_concurrent_askers(void **state)
{
    struct rworld *w = *state;
    struct answer a[3] = {{0}};
    int total = 0;

    for (uint16_t i = 0; i < 3; i++)
        resolve_host(w->r, "both.test", (uint16_t)(2525 + i), on_answer, &a[i]);
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(a[i].calls, 0);
    while (total < 3) {
        wait_calls(w, &a[total].calls, 1);
        total++;
    }
    for (uint16_t i = 0; i < 3; i++) {
        assert_int_equal(a[i].calls, 1);
        assert_int_equal(a[i].n, 2);
        addr_is(&a[i], 0, AF_INET, "127.0.0.2", (uint16_t)(2525 + i));
    }
    assert_int_equal(dnsfix_asked(w->dns, "both.test", DNSFIX_A), 1);
    assert_int_equal(dnsfix_asked(w->dns, "both.test", DNSFIX_AAAA), 1);
}

/* ask_bulk - n wildcard names, all asked at once, all answered */
static void ask_bulk(struct rworld *w, size_t from, size_t n)
{
    struct answer *a = calloc(n, sizeof(*a));
    char host[64];
    int done = 0;

    assert_non_null(a);
    for (size_t i = 0; i < n; i++) {
        snprintf(host, sizeof(host), "b%zu.bulk.test", from + i);
        resolve_host(w->r, host, 25, on_answer, &a[i]);
    }
    for (size_t i = 0; i < n; i++) {
        wait_calls(w, &a[i].calls, 1);
        done += a[i].n == 1;
    }
    free(a);
    assert_int_equal(done, (int)n);
}

/* test_cache_bound - RESOLVE_CACHE_MAX names are kept; one more drops the
 * idle ones, so a kept name is asked again */
static void test_cache_bound(void **state)
{
    struct rworld *w = *state;
    bool now;

    ask(w, "keep.test", 25, &now);
    ask_bulk(w, 0, RESOLVE_CACHE_MAX - 1); /* the cache is full now */
    assert_int_equal(w->dns->wildcard_queries, 2 * (RESOLVE_CACHE_MAX - 1));
    ask(w, "keep.test", 25, &now);
    assert_true(now);
    ask(w, "b0.bulk.test", 25, &now);
    assert_true(now);
    assert_int_equal(dnsfix_asked(w->dns, "keep.test", DNSFIX_A), 1);
    ask_bulk(w, RESOLVE_CACHE_MAX, 1); /* one over the bound */
    ask(w, "keep.test", 25, &now);
    assert_false(now);
    assert_int_equal(dnsfix_asked(w->dns, "keep.test", DNSFIX_A), 2);
}

/* test_free_pending - resolver_free drops a lookup in flight: its caller
 * never hears back */
static void test_free_pending(void **state)
{
    struct rworld *w = *state;
    struct answer a = {0};
    int64_t end;

    resolve_host(w->r, "both.test", 25, on_answer, &a);
    w->r = resolver_free(w->r);
    end = real_ms() + 200;
    while (real_ms() < end)
        event_base_loop(w->base, EVLOOP_ONCE);
    assert_int_equal(a.calls, 0);
}

/* on_reenter - a caller that asks for a new name from its callback */
static void on_reenter(void *ctx, const struct sockaddr_storage *addrs, size_t n, const char *error)
{
    struct rworld *w = ctx;
    static struct answer later;

    (void)addrs;
    (void)n;
    (void)error;
    resolve_host(w->r, "over.bulk.test", 25, on_answer, &later);
}

/* reenter_child - the scenario of test_reentrant_full_cache, run by the
 * re-executed binary outside cmocka's runner: exit 0 when it survives and
 * every waiter heard the answer, 1 when the answered name left the cache,
 * 2 when a waiter got a wrong answer */
static int reenter_child(void)
{
    struct rworld *w;
    struct answer first = {0}, last = {0};
    bool now;

    setup((void **)&w);
    ask_bulk(w, 0, RESOLVE_CACHE_MAX - 1);
    /* Waiters are told newest first: last, then the reentrant one, then first. */
    resolve_host(w->r, "both.test", 24, on_answer, &first); /* the cache's last slot */
    resolve_host(w->r, "both.test", 25, on_reenter, w);
    resolve_host(w->r, "both.test", 26, on_answer, &last);
    wait_calls(w, &first.calls, 1);
    wait_calls(w, &last.calls, 1);
    if (first.n != 2 || last.n != 2 || first.calls != 1 || last.calls != 1)
        return 2;
    /* The answered entry was busy while its waiters were told: still cached. */
    ask(w, "both.test", 27, &now);
    if (!now || dnsfix_asked(w->dns, "both.test", DNSFIX_A) != 1)
        return 1;
    teardown((void **)&w);
    return 0;
}

/* test_reentrant_full_cache - a caller that asks for a new name inside its
 * callback while the cache is full must not pull the answered entry from
 * under the resolver (the other waiters are still to be told); run in a
 * child process, since a use after free ends the process under ASan */
static void test_reentrant_full_cache(void **state)
{
    char log[160], line[256] = "";
    int status = 0;
    pid_t pid;

    (void)state;
    snprintf(log, sizeof(log), "/tmp/test_resolve.%d.log", (int)getpid());
    fflush(NULL);
    if ((pid = fork()) == 0) {
        if (freopen(log, "w", stderr) == NULL)
            _exit(3);
        execl("/proc/self/exe", "test_resolve", "--reenter", (char *)NULL);
        _exit(4);
    }
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    FILE *fp = fopen(log, "r");
    while (fp && fgets(line, sizeof(line), fp) && strstr(line, "ERROR") == NULL)
        ;
    if (fp)
        fclose(fp);
    unlink(log);
    if (line[0])
        print_message("child: %s", line);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* test_bad_spec - a server that is not IP:PORT is refused */
static void test_bad_spec(void **state)
{
    struct rworld *w = *state;
    char err[256] = "";

    assert_null(resolver_new(w->base, "not-an-address", err, sizeof(err)));
    assert_non_null(strstr(err, "not-an-address"));
}

/* main - the cases */
int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--reenter") == 0)
        return reenter_child();

    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_answer_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ttl_clamped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_askers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_pending, setup, teardown),
        cmocka_unit_test(test_reentrant_full_cache),
        cmocka_unit_test_setup_teardown(test_bad_spec, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
