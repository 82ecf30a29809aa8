/*
 * test_timefmt.c - table tests of the time parser and formatters
 *
 * RFC 3339 in every accepted spelling, unix seconds, every field's range
 * (leap years, leap seconds, offsets that leave the valid range), trailing
 * garbage and the length bound; the calendar against known days; format
 * and parse round trips over the whole range.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "timefmt.h"

#define BAD (-2) /* expected: timefmt_parse() fails */

struct parse_case {
    const char *in;
    int64_t ms; /* BAD: must fail */
};

static const struct parse_case parse_cases[] = {
    /* RFC 3339, the spellings we accept. */
    {"2026-11-25T10:00:00Z", INT64_C(1795600800000)},
    {"2026-11-25t10:00:00z", INT64_C(1795600800000)},
    {"2026-11-25 10:00:00Z", INT64_C(1795600800000)},
    {"2026-11-25T10:00:00+00:00", INT64_C(1795600800000)},
    {"2026-11-25T10:00:00-00:00", INT64_C(1795600800000)},
    {"2026-11-25T11:30:00+01:30", INT64_C(1795600800000)},
    {"2026-11-25T05:00:00-05:00", INT64_C(1795600800000)},
    {"2026-11-25T10:00:00.1Z", INT64_C(1795600800100)},
    {"2026-11-25T10:00:00.12Z", INT64_C(1795600800120)},
    {"2026-11-25T10:00:00.123Z", INT64_C(1795600800123)},
    {"2026-11-25T10:00:00.123456789Z", INT64_C(1795600800123)},
    {"2026-11-25T10:00:00.999999999Z", INT64_C(1795600800999)},
    {"1970-01-01T00:00:00Z", 0},
    {"1970-01-01T01:00:00+01:00", 0},
    {"2000-02-29T00:00:00Z", INT64_C(951782400000)},
    {"2024-02-29T23:59:59Z", INT64_C(1709251199000)},
    {"2016-12-31T23:59:60Z", INT64_C(1483228799999)},
    {"2016-12-31T23:59:60.5Z", INT64_C(1483228799999)},
    {"9999-12-31T23:59:59.999Z", TIMEFMT_MS_MAX},
    {"9999-12-31T23:59:59.999+00:00", TIMEFMT_MS_MAX},
    {"9999-12-31T23:59:59+23:59", INT64_C(253402214459000)},
    /* Unix seconds. */
    {"1764064800", INT64_C(1764064800000)},
    {"1764064800.250", INT64_C(1764064800250)},
    {"1764064800.2", INT64_C(1764064800200)},
    {"1764064800.123456789", INT64_C(1764064800123)},
    {"0", 0},
    {"0.001", 1},
    {"00001", 1000},
    {"253402300799", INT64_C(253402300799000)},
    {"253402300799.999", TIMEFMT_MS_MAX},
    /* Dates out of range. */
    {"2026-02-29T00:00:00Z", BAD},
    {"1900-02-29T00:00:00Z", BAD},
    {"2026-04-31T00:00:00Z", BAD},
    {"2026-13-01T00:00:00Z", BAD},
    {"2026-00-01T00:00:00Z", BAD},
    {"2026-01-00T00:00:00Z", BAD},
    {"2026-01-32T00:00:00Z", BAD},
    {"1969-12-31T23:59:59Z", BAD},
    {"1970-01-01T00:00:00+00:01", BAD}, /* before the epoch in UTC */
    {"9999-12-31T23:59:59-00:01", BAD}, /* year 10000 in UTC */
    {"10000-01-01T00:00:00Z", BAD},
    /* Times out of range. */
    {"2026-11-25T24:00:00Z", BAD},
    {"2026-11-25T10:60:00Z", BAD},
    {"2026-11-25T10:00:61Z", BAD},
    {"2026-11-25T10:00:00+24:00", BAD},
    {"2026-11-25T10:00:00+01:60", BAD},
    /* Syntax. */
    {"2026-11-25T10:00:00", BAD},
    {"2026-11-25T10:00Z", BAD},
    {"2026-11-25", BAD},
    {"2026-11-25T10:00:00.Z", BAD},
    {"2026-11-25T10:00:00.1234567890Z", BAD},
    {"2026-11-25T10:00:00,5Z", BAD},
    {"2026-11-25T10:00:00+0100", BAD},
    {"2026-11-25T10:00:00+1:00", BAD},
    {"2026-11-25T10:00:00 Z", BAD},
    {"2026-11-25  10:00:00Z", BAD},
    {"2026-11-25X10:00:00Z", BAD},
    {"2026-1-25T10:00:00Z", BAD},
    {"2026-11-5T10:00:00Z", BAD},
    {"2026-11-25T1:00:00Z", BAD},
    {" 2026-11-25T10:00:00Z", BAD},
    {"2026-11-25T10:00:00Z ", BAD},
    {"2026-11-25T10:00:00ZZ", BAD},
    {"2026-11-25T10:00:00Z\n", BAD},
    {"+026-11-25T10:00:00Z", BAD},
    {"2026-+1-25T10:00:00Z", BAD},
    {"", BAD},
    {"-1", BAD},
    {"+1", BAD},
    {"1e9", BAD},
    {"0x10", BAD},
    {".5", BAD},
    {"5.", BAD},
    {"1.2.3", BAD},
    {"1764064800.1234567890", BAD},
    {"253402300800", BAD},
    {"1000000000000", BAD},
    {"99999999999999999999999", BAD},
    {" 1", BAD},
    {"1 ", BAD},
    {"1764064800s", BAD},
    {"\xef\xbc\x91", BAD}, /* FULLWIDTH DIGIT ONE */
};

/* test_parse - every row of the table */
static void test_parse(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        int64_t ms = -12345;
        int rc = timefmt_parse(c->in, strlen(c->in), &ms);

        print_message("parse case %zu: \"%s\"\n", i, c->in);
        if (c->ms == BAD) {
            assert_int_equal(rc, -1);
            assert_int_equal(ms, -12345); /* untouched */
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, c->ms);
        }
    }
}

/* test_parse_bounds - length bound, NUL inside, NULL, no NUL needed */
static void test_parse_bounds(void **state)
{
    char buf[TIMEFMT_INPUT_MAX + 2];
    int64_t ms;

    (void)state;
    /* Zeros: too many integer digits at 64 octets, over the bound at 65. */
    memset(buf, '0', sizeof(buf));
    assert_int_equal(timefmt_parse(buf, TIMEFMT_INPUT_MAX, &ms), -1);
    assert_int_equal(timefmt_parse(buf, TIMEFMT_INPUT_MAX + 1, &ms), -1);
    assert_int_equal(timefmt_parse("12\0"
                                   "3",
                                   4, &ms),
                     -1);
    assert_int_equal(timefmt_parse("2026-11-25T10:00:00Z\0", 21, &ms), -1);
    assert_int_equal(timefmt_parse(NULL, 0, &ms), -1);
    /* The length is what counts, not a NUL. */
    assert_int_equal(timefmt_parse("1764064800999", 10, &ms), 0);
    assert_int_equal(ms, INT64_C(1764064800000));
    assert_int_equal(timefmt_parse("2026-11-25T10:00:00Zjunk", 20, &ms), 0);
    assert_int_equal(ms, INT64_C(1795600800000));
}

struct format_case {
    int64_t ms;
    const char *rfc3339;
    const char *rfc5322;
};

static const struct format_case format_cases[] = {
    {0, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 +0000"},
    {1, "1970-01-01T00:00:00.001Z", "Thu, 01 Jan 1970 00:00:00 +0000"},
    {INT64_C(1795600800123), "2026-11-25T10:00:00.123Z", "Wed, 25 Nov 2026 10:00:00 +0000"},
    {INT64_C(1764064800250), "2025-11-25T10:00:00.250Z", "Tue, 25 Nov 2025 10:00:00 +0000"},
    {INT64_C(951782400000), "2000-02-29T00:00:00.000Z", "Tue, 29 Feb 2000 00:00:00 +0000"},
    {INT64_C(1483228799999), "2016-12-31T23:59:59.999Z", "Sat, 31 Dec 2016 23:59:59 +0000"},
    {INT64_C(4107542399000), "2100-02-28T23:59:59.000Z", "Sun, 28 Feb 2100 23:59:59 +0000"},
    {INT64_C(4107542400000), "2100-03-01T00:00:00.000Z", "Mon, 01 Mar 2100 00:00:00 +0000"},
    {TIMEFMT_MS_MAX, "9999-12-31T23:59:59.999Z", "Fri, 31 Dec 9999 23:59:59 +0000"},
    /* Clamped. */
    {-1, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 +0000"},
    {INT64_MIN, "1970-01-01T00:00:00.000Z", "Thu, 01 Jan 1970 00:00:00 +0000"},
    {TIMEFMT_MS_MAX + 1, "9999-12-31T23:59:59.999Z", "Fri, 31 Dec 9999 23:59:59 +0000"},
    {INT64_MAX, "9999-12-31T23:59:59.999Z", "Fri, 31 Dec 9999 23:59:59 +0000"},
};

/* test_format - RFC 3339 and RFC 5322 output */
static void test_format(void **state)
{
    char out[TIMEFMT_RFC5322_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(format_cases) / sizeof(format_cases[0]); i++) {
        const struct format_case *c = &format_cases[i];

        print_message("format case %zu: %lld\n", i, (long long)c->ms);
        timefmt_format(c->ms, out);
        assert_string_equal(out, c->rfc3339);
        timefmt_rfc5322(c->ms, out);
        assert_string_equal(out, c->rfc5322);
    }
}

struct civil_case {
    int64_t y;
    unsigned m, d;
    int64_t days;
};

static const struct civil_case civil_cases[] = {
    {1970, 1, 1, 0},       {1970, 1, 2, 1},         {1969, 12, 31, -1},
    {2000, 3, 1, 11017},   {2000, 2, 29, 11016},    {1600, 1, 1, -135140},
    {2026, 11, 25, 20782}, {9999, 12, 31, 2932896}, {0, 3, 1, -719468},
};

/* test_civil - the calendar against known day numbers, both ways */
static void test_civil(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(civil_cases) / sizeof(civil_cases[0]); i++) {
        const struct civil_case *c = &civil_cases[i];
        int64_t y;
        unsigned m, d;

        print_message("civil case %zu: %lld-%u-%u\n", i, (long long)c->y, c->m, c->d);
        assert_int_equal(timefmt_days_from_civil(c->y, c->m, c->d), c->days);
        timefmt_civil_from_days(c->days, &y, &m, &d);
        assert_int_equal(y, c->y);
        assert_int_equal(m, c->m);
        assert_int_equal(d, c->d);
    }
}

/* test_roundtrip - every day of 1970..9999, at a varying time of day */
static void test_roundtrip(void **state)
{
    char out[TIMEFMT_RFC3339_BUF];
    int64_t day, last = TIMEFMT_MS_MAX / 86400000, ms, back;

    (void)state;
    for (day = 0; day <= last; day++) {
        ms = day * 86400000 + (day * 7919 * 1000 + day % 1000) % 86400000;
        timefmt_format(ms, out);
        assert_int_equal(strlen(out), 24);
        assert_int_equal(timefmt_parse(out, strlen(out), &back), 0);
        assert_int_equal(back, ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),     cmocka_unit_test(test_parse_bounds),
        cmocka_unit_test(test_format),    cmocka_unit_test(test_civil),
        cmocka_unit_test(test_roundtrip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
