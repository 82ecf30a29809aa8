/*
 * test_conf_net.c - table tests of network lists (conf_net.c) through the
 * key that holds one, [smtp] bare_newline_exclusions: which client IPs
 * match, the canonical text, the bound
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

static const struct {
    const char *list;
    const char *ip;
    bool match;
} match_cases[] = {
    {"10.0.0.0/8", "10.255.1.2", true},
    {"10.0.0.0/8", "11.0.0.1", false},
    {"192.0.2.128/25", "192.0.2.128", true},
    {"192.0.2.128/25", "192.0.2.127", false},
    {"192.0.2.7", "192.0.2.7", true},
    {"192.0.2.7", "192.0.2.8", false},
    {"0.0.0.0/0", "203.0.113.9", true},
    {"0.0.0.0/0", "::1", false}, /* IPv4 networks do not hold IPv6 clients */
    {"::/0", "127.0.0.1", false},
    {"::/0", "2001:db8::1", true},
    {"2001:db8::/32", "2001:db8:ffff::1", true},
    {"2001:db8::/32", "2001:db9::1", false},
    {"2001:db8:0:8000::/49", "2001:db8:0:8000::1", true},
    {"2001:db8:0:8000::/49", "2001:db8:0:7fff::1", false},
    {"[::1]/128", "::1", true},
    {"::1", "::2", false},
    {"127.0.0.0/8", "::ffff:127.0.0.1", true}, /* IPv4-mapped: matched as IPv4 */
    {"::ffff:0:0/96", "::ffff:127.0.0.1", false},
    {"10.0.0.0/8, 127.0.0.1", "127.0.0.1", true},
    {"10.0.0.0/8, 127.0.0.1", "unknown", false},
    {"", "127.0.0.1", false},
};

/* parse_conf - [smtp] bare_newline_exclusions = list into c; 0 or -1 */
static int parse_conf(struct conf *c, const char *list, struct conf_errors *errs)
{
    char text[DD_CONF_NETS_MAX * 24 + 64];

    snprintf(text, sizeof(text), "[smtp]\nbare_newline_exclusions = %s\n", list);
    conf_init(c);
    memset(errs, 0, sizeof(*errs));
    return conf_parse(c, "t.conf", text, strlen(text), errs);
}

/* parse - the list, which must be good; its networks in c */
static size_t parse(struct conf *c, const char *list)
{
    struct conf_errors *errs = calloc(1, sizeof(*errs));

    assert_non_null(errs);
    if (parse_conf(c, list, errs) < 0)
        fail_msg("%s: %s", list, errs->e[0].msg);
    free(errs);
    return c->smtp.nbare_newline_exclusions;
}

/* test_match - client IPs against lists */
static void test_match(void **state)
{
    struct conf c;

    (void)state;
    for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]); i++) {
        size_t n = parse(&c, match_cases[i].list);

        print_message("match case %zu: %s in %s\n", i, match_cases[i].ip, match_cases[i].list);
        assert_int_equal(conf_net_match(c.smtp.bare_newline_exclusions, n, match_cases[i].ip),
                         match_cases[i].match);
        conf_free(&c);
    }
    parse(&c, "127.0.0.0/8");
    assert_false(conf_net_match(c.smtp.bare_newline_exclusions, 0, "127.0.0.1"));
    assert_false(conf_net_match(c.smtp.bare_newline_exclusions, 1, NULL));
    conf_free(&c);
}

/* nondefault - what conf_print_nondefault() says (the canonical text) */
static void nondefault(const struct conf *c, char *buf, size_t cap)
{
    FILE *f = fmemopen(buf, cap, "w");

    assert_non_null(f);
    conf_print_nondefault(c, f);
    fclose(f);
}

/* test_format - the canonical text parses back to the same list */
static void test_format(void **state)
{
    struct conf a, b;
    char text[512], again[512];

    (void)state;
    assert_int_equal(parse(&a, " 10.0.0.0/8,\t[2001:DB8::]/32 , 192.0.2.1 "), 3);
    nondefault(&a, text, sizeof(text));
    assert_string_equal(text,
                        "smtp.bare_newline_exclusions = 10.0.0.0/8, 2001:db8::/32, 192.0.2.1/32\n");
    *strchr(text, '\n') = 0;
    assert_int_equal(parse(&b, strchr(text, '=') + 2), 3);
    nondefault(&b, again, sizeof(again));
    assert_string_equal(again, "smtp.bare_newline_exclusions = 10.0.0.0/8, 2001:db8::/32, "
                               "192.0.2.1/32\n");
    assert_memory_equal(a.smtp.bare_newline_exclusions, b.smtp.bare_newline_exclusions,
                        3 * sizeof(struct conf_net));
    conf_free(&a);
    conf_free(&b);
}

/* test_bound - DD_CONF_NETS_MAX networks, not one more */
static void test_bound(void **state)
{
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    char list[DD_CONF_NETS_MAX * 20];
    size_t used = 0;
    struct conf c;

    (void)state;
    assert_non_null(errs);
    for (int i = 0; i <= DD_CONF_NETS_MAX; i++)
        used +=
            (size_t)snprintf(list + used, sizeof(list) - used, "%s10.%d.0.0/16", i ? "," : "", i);
    assert_true(used < DD_CONF_LINE_MAX - 30); /* the line bound is not what refuses it */
    assert_int_equal(parse_conf(&c, list, errs), -1);
    assert_non_null(strstr(errs->e[0].msg, "more than 64 networks"));
    conf_free(&c);
    *strrchr(list, ',') = 0;
    assert_int_equal(parse(&c, list), DD_CONF_NETS_MAX);
    conf_free(&c);
    free(errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_format),
        cmocka_unit_test(test_bound),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
