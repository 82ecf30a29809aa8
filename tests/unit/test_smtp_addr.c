/*
 * test_smtp_addr.c - table tests of smtp_path_parse()
 *
 * Fixed paths (routing characters, source routes, quoting, literals, UTF-8,
 * the null path) and generated ones that sit exactly on each length limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "smtp_addr.h"

struct addr_case {
    const char *in;
    size_t len; /* 0: strlen(in) */
    bool allow_null;
    enum smtp_addr_err err;
    const char *addr;   /* expected addr when OK */
    const char *local;  /* expected local when OK, NULL: not checked */
    const char *domain; /* expected domain when OK, NULL: not checked */
    bool utf8;
    size_t consumed; /* 0: the whole input */
};

#define OK SMTP_ADDR_OK
#define SYN SMTP_ADDR_SYNTAX

static const struct addr_case cases[] = {
    /* Plain mailboxes, case of the domain folded, local part kept. */
    {"<user@example.com>", 0, false, OK, "user@example.com", "user", "example.com", false, 0},
    {"<User@Example.COM>", 0, false, OK, "User@example.com", "User", "example.com", false, 0},
    {"<a+tag@x.y>", 0, false, OK, "a+tag@x.y", NULL, NULL, false, 0},
    {"<{}'*/=?^_`|~#$&@x>", 0, false, OK, "{}'*/=?^_`|~#$&@x", NULL, NULL, false, 0},
    {"<a.b.c@x-y.z9>", 0, false, OK, "a.b.c@x-y.z9", NULL, NULL, false, 0},
    {"<u@1.2.3.4>", 0, false, OK, "u@1.2.3.4", NULL, "1.2.3.4", false, 0},
    {"<u@localhost>", 0, false, OK, "u@localhost", NULL, NULL, false, 0},
    /* '%' and '!' are plain characters, never routing. */
    {"<u%ext.example@ours>", 0, false, OK, "u%ext.example@ours", "u%ext.example", "ours", false, 0},
    {"<ext!u@ours>", 0, false, OK, "ext!u@ours", "ext!u", "ours", false, 0},
    /* Source routes are checked and dropped. */
    {"<@a:u@ours>", 0, false, OK, "u@ours", NULL, NULL, false, 0},
    {"<@a.example,@B.example:u@Ours>", 0, false, OK, "u@ours", NULL, NULL, false, 0},
    {"<@a,b:u@ours>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<@a u@ours>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<@a,@:u@ours>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<@a>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<@:u@ours>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    /* Quoted local parts keep their quotes. */
    {"<\"u@ext\"@ours>", 0, false, OK, "\"u@ext\"@ours", "\"u@ext\"", "ours", false, 0},
    {"<\"a b\\\"c\"@x>", 0, false, OK, "\"a b\\\"c\"@x", NULL, NULL, false, 0},
    {"<\"\"@x>", 0, false, OK, "\"\"@x", "\"\"", NULL, false, 0},
    {"<\"unterminated@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\"a\\\x01\"@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\"a\x01\"@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\"a\"b@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    /* An unquoted second '@' never routes: syntax error. */
    {"<u@x@ours>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@x@ours>", 0, true, SYN, NULL, NULL, NULL, false, 0},
    /* No domain. */
    {"<postmaster>", 0, false, SMTP_ADDR_NO_DOMAIN, NULL, NULL, NULL, false, 0},
    {"<Postmaster>", 0, true, SMTP_ADDR_NO_DOMAIN, NULL, NULL, NULL, false, 0},
    {"<\"q\">", 0, false, SMTP_ADDR_NO_DOMAIN, NULL, NULL, NULL, false, 0},
    {"<u@>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    /* The null path. */
    {"<>", 0, true, OK, "", "", "", false, 0},
    {"<> SIZE=10", 0, true, OK, "", "", "", false, 2},
    {"<>", 0, false, SMTP_ADDR_NULL_NOT_ALLOWED, NULL, NULL, NULL, false, 0},
    /* Address literals, kept as sent. */
    {"<u@[192.0.2.1]>", 0, false, OK, "u@[192.0.2.1]", NULL, "[192.0.2.1]", false, 0},
    {"<u@[IPv6:2001:DB8::1]>", 0, false, OK, "u@[IPv6:2001:DB8::1]", NULL, "[IPv6:2001:DB8::1]",
     false, 0},
    {"<u@[ipv6:::1]>", 0, false, OK, "u@[ipv6:::1]", NULL, NULL, false, 0},
    {"<u@[300.1.1.1]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[1.2.3]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[IPv6:zz]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[IPv6:1.2.3.4]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[2001:db8::1]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[1.2.3.4>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[x:1.2.3.4]>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@[IPv6:1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa:bbbb]>", 0, false, SYN, NULL, NULL,
     NULL, false, 0},
    /* Domain syntax. */
    {"<u@-a.com>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@a-.com>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@a..com>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@a.com.>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@.a.com>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@a_b.com>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@x >", 0, false, SYN, NULL, NULL, NULL, false, 0},
    /* Local part syntax. */
    {"<a..b@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<.a@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<a.@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u @x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u(c)@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u\x01@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u\0@x>", 6, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@x\0>", 6, false, SYN, NULL, NULL, NULL, false, 0},
    /* Not a path. */
    {"", 0, true, SYN, NULL, NULL, NULL, false, 0},
    {"<", 0, true, SYN, NULL, NULL, NULL, false, 0},
    {"u@x", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@x", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {" <u@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<<u@x>>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    /* Parameters may follow: consumed stops after '>'. */
    {"<u@x> SIZE=1", 0, false, OK, "u@x", NULL, NULL, false, 5},
    {"<u@x>>", 0, false, OK, "u@x", NULL, NULL, false, 5},
    /* UTF-8: flagged, checked for well-formedness. */
    {"<\xc3\xbc@example.com>", 0, false, OK, "\xc3\xbc@example.com", NULL, NULL, true, 0},
    {"<u@B\xc3\xbc"
     "CHER.de>",
     0, false, OK,
     "u@b\xc3\xbc"
     "cher.de",
     NULL, NULL, true, 0},
    {"<\"\xe2\x82\xac\"@x>", 0, false, OK, "\"\xe2\x82\xac\"@x", NULL, NULL, true, 0},
    {"<\xf0\x9f\x93\xa7@x>", 0, false, OK, "\xf0\x9f\x93\xa7@x", NULL, NULL, true, 0},
    {"<@r\xc3\xbc:u@x>", 0, false, OK, "u@x", NULL, NULL, true, 0},
    {"<\xff@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\xc3@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\xc0\xaf@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\xe0\x80\xaf@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\xed\xa0\x80@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\xf4\x90\x80\x80@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<u@\x80x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
    {"<\"\xc3\"@x>", 0, false, SYN, NULL, NULL, NULL, false, 0},
};

/* test_fixed - every fixed case of the table */
static void test_fixed(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct addr_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        struct smtp_addr a;
        size_t used = 99;
        enum smtp_addr_err e = smtp_path_parse(c->in, len, c->allow_null, &a, &used);

        print_message("case %zu: %s\n", i, c->in);
        assert_int_equal(e, c->err);
        if (e != SMTP_ADDR_OK) {
            assert_int_equal(used, 0);
            continue;
        }
        assert_string_equal(a.addr, c->addr);
        if (c->local)
            assert_string_equal(a.local, c->local);
        if (c->domain)
            assert_string_equal(a.domain, c->domain);
        assert_int_equal(a.utf8, c->utf8);
        assert_int_equal(a.null, c->addr[0] == 0);
        assert_int_equal(used, c->consumed ? c->consumed : len);
    }
}

/* make_domain - d octets of dotted labels of at most 63 octets */
static void make_domain(char *p, size_t d)
{
    while (d > 0) {
        size_t label = d < 63 ? d : 63;

        if (d - label == 1) /* never leave a lone dot at the end */
            label--;
        memset(p, 'b', label);
        p += label;
        d -= label;
        if (d > 0) {
            *p++ = '.';
            d--;
        }
    }
    *p = 0;
}

struct len_case {
    size_t route;  /* octets of a source route "@r...:" (0: none) */
    bool quoted;   /* local part quoted: the quotes count */
    size_t local;  /* octets of the local part, quotes included */
    size_t domain; /* octets of the domain */
    enum smtp_addr_err err;
};

static const struct len_case len_cases[] = {
    {0, false, 64, 10, OK},
    {0, false, 65, 10, SMTP_ADDR_LOCAL_TOO_LONG},
    {0, false, 1000, 10, SMTP_ADDR_LOCAL_TOO_LONG},
    {0, true, 64, 10, OK},
    {0, true, 65, 10, SMTP_ADDR_LOCAL_TOO_LONG},
    /* A 255-octet domain is fine by itself; with "<u@" ">" the path is 259. */
    {0, false, 1, 255, SMTP_ADDR_PATH_TOO_LONG},
    {0, false, 1, 256, SMTP_ADDR_DOMAIN_TOO_LONG},
    {0, false, 1, 2000, SMTP_ADDR_DOMAIN_TOO_LONG},
    {0, false, 65, 256, SMTP_ADDR_LOCAL_TOO_LONG},
    /* The path: 64 + 1 + 189 + 2 = 256. */
    {0, false, 64, 189, OK},
    {0, false, 64, 190, SMTP_ADDR_PATH_TOO_LONG},
    {0, false, 1, 252, OK},
    {0, false, 1, 253, SMTP_ADDR_PATH_TOO_LONG},
    /* A source route counts in the path. */
    {100, false, 64, 89, OK},
    {100, false, 64, 90, SMTP_ADDR_PATH_TOO_LONG},
};

/* make_path - build the path of a length case into buf */
static size_t make_path(char *buf, const struct len_case *c)
{
    char *p = buf;

    *p++ = '<';
    if (c->route) {
        *p++ = '@';
        make_domain(p, c->route - 2);
        p += strlen(p);
        *p++ = ':';
    }
    if (c->quoted) {
        *p++ = '"';
        memset(p, 'q', c->local - 2);
        p += c->local - 2;
        *p++ = '"';
    } else {
        memset(p, 'a', c->local);
        p += c->local;
    }
    *p++ = '@';
    make_domain(p, c->domain);
    p += strlen(p);
    *p++ = '>';
    *p = 0;
    return (size_t)(p - buf);
}

/* test_lengths - each limit at the bound and one past it */
static void test_lengths(void **state)
{
    static char buf[4096];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
        const struct len_case *c = &len_cases[i];
        size_t len = make_path(buf, c), used;
        struct smtp_addr a;
        enum smtp_addr_err e;

        print_message("length case %zu: route %zu local %zu domain %zu\n", i, c->route, c->local,
                      c->domain);
        assert_int_equal(len, 1 + c->route + c->local + 1 + c->domain + 1);
        e = smtp_path_parse(buf, len, false, &a, &used);
        assert_int_equal(e, c->err);
        if (e == SMTP_ADDR_OK) {
            assert_int_equal(used, len);
            assert_int_equal(strlen(a.local), c->local);
            assert_int_equal(strlen(a.domain), c->domain);
            assert_int_equal(strlen(a.addr), c->local + 1 + c->domain);
        }
    }
}

/* test_label_length - a label of 63 octets is fine, 64 is not */
static void test_label_length(void **state)
{
    char buf[128];
    struct smtp_addr a;
    size_t used;

    (void)state;
    snprintf(buf, sizeof(buf), "<u@%.*s.x>", 63,
             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(smtp_path_parse(buf, strlen(buf), false, &a, &used), SMTP_ADDR_OK);
    snprintf(buf, sizeof(buf), "<u@%.*s.x>", 64,
             "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb");
    assert_int_equal(smtp_path_parse(buf, strlen(buf), false, &a, &used), SMTP_ADDR_SYNTAX);
}

/* test_prefixes - no prefix of a good path parses, and none reads past len */
static void test_prefixes(void **state)
{
    static const char *good[] = {"<@a,@b:\"u@x\"@[IPv6:::1]>", "<u@example.com>", "<\xc3\xbc@x.y>"};
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        size_t len = strlen(good[i]);

        for (n = 0; n < len; n++) {
            char *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
            struct smtp_addr a;
            size_t used;

            memcpy(copy, good[i], n);
            assert_int_not_equal(smtp_path_parse(copy, n, true, &a, &used), SMTP_ADDR_OK);
            free(copy);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_label_length),
        cmocka_unit_test(test_prefixes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
