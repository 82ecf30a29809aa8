/*
 * test_queue_hot.c - the contents the queue keeps in memory for a first
 * delivery: taken once, bounded by count and octets (the oldest goes), a
 * size that does not match is not served, a stop answers the waiting
 * callers; and through the queue: the first read of a message committed
 * whole needs no store read, the next one goes to the store
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "bounds.h"
#include "queue.h"
#include "queue_hot.h"
#include "storefix.h"

struct got {
    int calls;
    size_t len;
    char first;
    enum store_rc rc;
};

/* on_got - what a take handed over (the content is checked and freed) */
static void on_got(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct got *g = ctx;

    g->calls++;
    g->rc = rc;
    g->len = content ? evbuffer_get_length(content) : 0;
    if (content && g->len > 0)
        evbuffer_copyout(content, &g->first, 1);
    if (content)
        evbuffer_free(content);
}

/* blob - len octets of c, for the cache to own */
static void *blob(size_t len, char c)
{
    char *p = malloc(len ? len : 1);

    assert_non_null(p);
    memset(p, c, len);
    return p;
}

/* A row: contents kept (ids 1..nkeep, each len octets), then which id is
 * asked with which size, and whether the cache serves it. */
struct hot_case {
    const char *name;
    size_t nkeep, len;
    uint64_t ask, ask_size;
    bool served;
};

static const struct hot_case hot_cases[] = {
    {"the newest", 3, 100, 3, 100, true},
    {"the oldest of a few", 3, 100, 1, 100, true},
    {"never kept", 3, 100, 9, 100, false},
    {"size differs", 3, 100, 2, 99, false},
    {"count bound: the first went", DD_QUEUE_HOT_MAX + 1, 10, 1, 10, false},
    {"count bound: the second stays", DD_QUEUE_HOT_MAX + 1, 10, 2, 10, true},
    {"octet bound: the first went", 3, DD_QUEUE_HOT_BYTES / 2, 1, DD_QUEUE_HOT_BYTES / 2, false},
    {"octet bound: the second stays", 3, DD_QUEUE_HOT_BYTES / 2, 2, DD_QUEUE_HOT_BYTES / 2, true},
    {"larger than the bound: not kept", 1, DD_QUEUE_HOT_BYTES + 1, 1, DD_QUEUE_HOT_BYTES + 1,
     false},
    {"empty content", 1, 0, 1, 0, true},
};

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(hot_cases) / sizeof(hot_cases[0]); i++) {
        const struct hot_case *c = &hot_cases[i];
        struct event_base *base = event_base_new();
        struct queue_hot *h = queue_hot_new(base);
        struct got g = {0};

        print_message("case: %s\n", c->name);
        assert_non_null(h);
        for (size_t k = 1; k <= c->nkeep; k++)
            queue_hot_keep(h, k, blob(c->len, (char)('a' + k % 26)), c->len);
        bool served = queue_hot_take(h, c->ask, c->ask_size, on_got, &g);
        assert_int_equal(served, c->served);
        assert_int_equal(g.calls, 0); /* never from inside the take */
        event_base_loop(base, EVLOOP_NONBLOCK);
        assert_int_equal(g.calls, served ? 1 : 0);
        if (served) {
            assert_int_equal(g.rc, STORE_OK);
            assert_int_equal(g.len, c->ask_size);
            if (c->ask_size > 0)
                assert_int_equal(g.first, 'a' + c->ask % 26);
            /* taken once: the next read is the store's */
            assert_false(queue_hot_take(h, c->ask, c->ask_size, on_got, &g));
        }
        queue_hot_free(h);
        event_base_free(base);
    }
}

/* test_stop_answers_waiting - a take not yet handed out when the queue
 * stops gets STORE_E_IO, once; after the stop nothing is served */
static void test_stop_answers_waiting(void **state)
{
    struct event_base *base = event_base_new();
    struct queue_hot *h = queue_hot_new(base);
    struct got g = {0};

    (void)state;
    queue_hot_keep(h, 1, blob(10, 'x'), 10);
    queue_hot_keep(h, 2, blob(10, 'y'), 10);
    assert_true(queue_hot_take(h, 1, 10, on_got, &g));
    queue_hot_stop(h);
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.rc, STORE_E_IO);
    assert_false(queue_hot_take(h, 2, 10, on_got, &g));
    event_base_loop(base, EVLOOP_NONBLOCK);
    assert_int_equal(g.calls, 1);
    queue_hot_free(h);
    event_base_free(base);
}

static const char *const rcpts1[] = {"a@x.test:SG1"};

/* read_content - queue_content of msg_id (size octets) to its end */
static struct got read_content(struct storefix *f, uint64_t msg_id, uint64_t size)
{
    struct got g = {0};

    queue_content(f->q, msg_id, size, on_got, &g);
    sf_loop_until(f, &g.calls, 1);
    return g;
}

/* test_first_read_from_memory - every store read of content fails: the
 * first read of a message committed whole still gets it, the second does
 * not (it went to the store); a message committed in chunks goes to the
 * store at once */
static void test_first_read_from_memory(void **state)
{
    struct storefix *f = sf_setup(0, false);

    (void)state;
    sf_open(f);
    f->whole = true;
    uint64_t whole = sf_commit(f, 5000, 1, sf_base_ms(), rcpts1, 1);
    f->whole = false;
    uint64_t chunked = sf_commit(f, 5000, 1, sf_base_ms(), rcpts1, 1);
    sf_wait_commits(f, 2);
    sf_fault(f, "SELECT data FROM message_body", SQLITE_IOERR, 100);
    struct got g = read_content(f, whole, 5000);
    assert_int_equal(g.rc, STORE_OK);
    assert_int_equal(g.len, 5000);
    assert_int_equal(g.first, 'a');
    assert_int_equal(sf_fault_hits(f), 0);
    g = read_content(f, whole, 5000);
    assert_int_not_equal(g.rc, STORE_OK);
    g = read_content(f, chunked, 5000);
    assert_int_not_equal(g.rc, STORE_OK);
    assert_int_equal(sf_fault_hits(f), 2);
    sf_fault(f, "", SQLITE_OK, 0);
    g = read_content(f, whole, 5000); /* the store holds the same octets */
    assert_int_equal(g.rc, STORE_OK);
    assert_int_equal(g.len, 5000);
    assert_int_equal(g.first, 'a');
    sf_teardown(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_stop_answers_waiting),
        cmocka_unit_test(test_first_read_from_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
