/*
 * test_queueid.c - queue ids: the time prefix, the random part, the order
 *
 * Known times against their base32 spelling; ids of later times sort after
 * ids of earlier ones whatever their random parts; every character comes
 * from the alphabet; queueid_new carries the wall clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "queueid.h"

static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

struct prefix_case {
    uint64_t ms;
    const char *prefix; /* DD_QUEUEID_TIME_LEN characters */
};

static const struct prefix_case prefix_cases[] = {
    {0, "0000000000"},
    {1, "0000000001"},
    {31, "000000000Z"},
    {32, "0000000010"},
    {UINT64_C(1795600800000), "01M892BP80"}, /* 2026-11-25T10:00:00Z */
    {(UINT64_C(1) << 50) - 1, "ZZZZZZZZZZ"},
};

/* decode - the ms of an id's prefix */
static uint64_t decode(const char *id)
{
    uint64_t ms = 0;

    for (int i = 0; i < DD_QUEUEID_TIME_LEN; i++)
        ms = ms << 5 | (uint64_t)(strchr(alphabet, id[i]) - alphabet);
    return ms;
}

static void test_prefix(void **state)
{
    (void)state;
    unsigned char rnd[DD_QUEUEID_LEN - DD_QUEUEID_TIME_LEN] = {0};
    char id[DD_QUEUEID_LEN + 1];

    for (size_t i = 0; i < sizeof(prefix_cases) / sizeof(prefix_cases[0]); i++) {
        queueid_format(id, prefix_cases[i].ms, rnd);
        assert_int_equal(strlen(id), DD_QUEUEID_LEN);
        assert_memory_equal(id, prefix_cases[i].prefix, DD_QUEUEID_TIME_LEN);
        assert_true(decode(id) == prefix_cases[i].ms);
    }
}

static void test_random_part(void **state)
{
    (void)state;
    unsigned char rnd[DD_QUEUEID_LEN - DD_QUEUEID_TIME_LEN];
    char id[DD_QUEUEID_LEN + 1];

    for (int v = 0; v < 256; v++) {
        memset(rnd, v, sizeof(rnd));
        queueid_format(id, 12345, rnd);
        for (size_t i = 0; i < DD_QUEUEID_LEN; i++)
            assert_non_null(strchr(alphabet, id[i]));
        assert_int_equal(id[DD_QUEUEID_TIME_LEN], alphabet[v & 31]);
    }
}

static void test_order(void **state)
{
    (void)state;
    unsigned char lo[DD_QUEUEID_LEN - DD_QUEUEID_TIME_LEN];
    unsigned char hi[DD_QUEUEID_LEN - DD_QUEUEID_TIME_LEN];
    char a[DD_QUEUEID_LEN + 1], b[DD_QUEUEID_LEN + 1];
    static const uint64_t times[] = {0,
                                     1,
                                     31,
                                     32,
                                     1023,
                                     1024,
                                     UINT64_C(1795600800000),
                                     UINT64_C(1795600800001),
                                     (UINT64_C(1) << 50) - 2};

    memset(lo, 0, sizeof(lo));
    memset(hi, 31, sizeof(hi));
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        queueid_format(a, times[i], hi); /* the earlier time, largest random part */
        queueid_format(b, times[i] + 1, lo);
        assert_true(strcmp(a, b) < 0);
    }
}

static void test_new_carries_clock(void **state)
{
    (void)state;
    char a[DD_QUEUEID_LEN + 1], b[DD_QUEUEID_LEN + 1];
    struct timeval tv;

    gettimeofday(&tv, NULL);
    uint64_t before = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    queueid_new(a);
    queueid_new(b);
    gettimeofday(&tv, NULL);
    uint64_t after = (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000;
    assert_true(decode(a) >= before && decode(b) <= after);
    assert_true(decode(a) <= decode(b));
    assert_string_not_equal(a, b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prefix),
        cmocka_unit_test(test_random_part),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_new_carries_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
