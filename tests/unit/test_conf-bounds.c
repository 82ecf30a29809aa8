/*
 * test_conf-bounds.c - the configuration parser at its limits
 *
 * Generated inputs sit exactly on the bounds: lines of 1024 octets (LF or
 * CRLF) and one more, 64 errors kept and the rest counted, DD_SG_MAX
 * storage groups and one more, files of DD_CONF_FILE_MAX octets and one
 * more (and a missing one).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "conffix.h"

/* line_of - "[hub]\ndata_dir = /xxx...\n": a line of exactly n octets */
static char *line_of(size_t n, const char *eol)
{
    char *t = malloc(n + 64);
    size_t pre = strlen("[hub]\n");

    strcpy(t, "[hub]\ndata_dir = /");
    size_t have = strlen(t) - pre;
    memset(t + strlen(t), 'x', n - have);
    t[pre + n] = 0;
    strcat(t, eol);
    strcat(t, "[smtp]\nmax_errors = 0\n"); /* after the long line, parsing goes on */
    return t;
}

/* test_line_length - 1024 octets are fine, with LF or CRLF; 1025 are not */
static void test_line_length(void **state)
{
    static const struct {
        size_t n;
        const char *eol;
        int too_long;
    } cases[] = {
        {1023, "\n", 0},   {1024, "\n", 0}, {1024, "\r\n", 0}, {1025, "\n", 1},
        {1025, "\r\n", 1}, {1026, "\n", 1}, {5000, "\n", 1},   {100000, "\r\n", 1},
    };
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = line_of(cases[i].n, cases[i].eol);
        assert_int_equal(parse(&c, t, strlen(t), errs), -1);
        /* the error after the long line is found at its own line number */
        assert_true(has_error(errs, 4, "out of range"));
        assert_int_equal(errs->n, cases[i].too_long ? 2 : 1);
        assert_int_equal(has_error(errs, 2, "line longer than 1024 octets"), cases[i].too_long);
        if (!cases[i].too_long)
            assert_int_equal(strlen(c.hub.data_dir), cases[i].n - strlen("data_dir = "));
        conf_free(&c);
        free(t);
    }
    /* The last line, without a newline, over the limit by one. */
    char *t = line_of(1025, "");
    t[strlen(t) - strlen("[smtp]\nmax_errors = 0\n")] = 0;
    assert_int_equal(parse(&c, t, strlen(t), errs), -1);
    assert_true(has_error(errs, 2, "line longer than"));
    conf_free(&c);
    t[strlen(t) - 1] = 0; /* 1024: fine */
    assert_int_equal(parse(&c, t, strlen(t), errs), 0);
    conf_free(&c);
    free(t);
    free(errs);
}

/* test_many_errors - 64 kept, the rest counted, all printed as file:line */
static void test_many_errors(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));
    char *text = malloc(100 * 16 + 16);

    (void)state;
    strcpy(text, "[smtp]\n");
    for (int i = 0; i < 100; i++)
        strcat(text, "bogus = 1\n");
    assert_int_equal(parse(&c, text, strlen(text), errs), -1);
    assert_int_equal(errs->n, DD_CONF_ERRORS_MAX);
    assert_int_equal(errs->dropped, 100 - DD_CONF_ERRORS_MAX);
    assert_int_equal(errs->e[0].line, 2);
    assert_int_equal(errs->e[63].line, 65);
    char *out = errors_text(errs);
    assert_non_null(strstr(out, "t.conf:2: unknown key \"bogus\" in [smtp]\n"));
    assert_non_null(strstr(out, "t.conf:65: unknown key"));
    assert_null(strstr(out, "t.conf:66:"));
    assert_non_null(strstr(out, "t.conf: 36 more errors not shown\n"));
    free(out);
    conf_free(&c);

    /* Errors already in errs do not make a good parse fail. */
    conf_init(&c);
    assert_int_equal(conf_parse(&c, "u.conf", "[hub]\n", 6, errs), 0);
    conf_free(&c);

    /* conf_error_add() and line 0. */
    memset(errs, 0, sizeof(*errs));
    conf_error_add(errs, "x.conf", 0, "cannot open: %s", "No such file");
    conf_error_add(errs, "x.conf", 7, "n=%d", 42);
    out = errors_text(errs);
    assert_string_equal(out, "x.conf: cannot open: No such file\nx.conf:7: n=42\n");
    free(out);
    free(text);
    free(errs);
}

/* test_many_sgs - DD_SG_MAX storage groups are fine, one more is not */
static void test_many_sgs(void **state)
{
    struct conf c;
    struct conf_errors *errs = malloc(sizeof(*errs));
    size_t cap = (DD_SG_MAX + 1) * 64;
    char *text = malloc(cap), *p = text;

    (void)state;
    for (int i = 0; i < DD_SG_MAX; i++)
        p += sprintf(p, "[storage_group g%d]\ndestination = lmtp:[::1]:%d\n", i, i % 65535 + 1);
    assert_int_equal(parse(&c, text, (size_t)(p - text), errs), 0);
    assert_int_equal(c.nsg, DD_SG_MAX);
    assert_non_null(conf_sg_find(&c, "g4095"));
    assert_string_equal(conf_sg_find(&c, "g77")->dest_text, "lmtp:[::1]:78");
    conf_free(&c);
    p += sprintf(p, "[storage_group extra]\ndestination = lmtp:[::1]:1\n");
    assert_int_equal(parse(&c, text, (size_t)(p - text), errs), -1);
    assert_int_equal(errs->n, 1);
    assert_true(has_error(errs, 2 * DD_SG_MAX + 1, "more than 4096 storage groups"));
    conf_free(&c);
    free(text);
    free(errs);
}

/* write_file - a temporary file holding n octets of text */
static void write_file(char *path, const char *text, size_t n)
{
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
}

/* test_load - files: good, missing, too big */
static void test_load(void **state)
{
    char path[] = "/tmp/test_conf.XXXXXX";
    struct conf c;
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    const char *text = "[hub]\nname = loaded\n" SG1;

    (void)state;
    write_file(path, text, strlen(text));
    assert_int_equal(conf_load(&c, path, errs), 0);
    assert_string_equal(c.hub.name, "loaded");
    assert_string_equal(c.file, path);
    assert_int_equal(c.nsg, 1);
    conf_free(&c);
    unlink(path);

    memset(errs, 0, sizeof(*errs));
    assert_int_equal(conf_load(&c, "/nonexistent/dumpsterd.conf", errs), -1);
    assert_int_equal(errs->n, 1);
    assert_int_equal(errs->e[0].line, 0);
    assert_non_null(strstr(errs->e[0].msg, "cannot open"));
    conf_free(&c);

    /* Exactly DD_CONF_FILE_MAX octets is read; one more is refused. */
    char *big = malloc(DD_CONF_FILE_MAX + 1);
    memset(big, '\n', DD_CONF_FILE_MAX + 1);
    memcpy(big, "[hub]\nname = big\n", 17);
    strcpy(path, "/tmp/test_conf.XXXXXX");
    write_file(path, big, DD_CONF_FILE_MAX);
    memset(errs, 0, sizeof(*errs));
    assert_int_equal(conf_load(&c, path, errs), 0);
    assert_string_equal(c.hub.name, "big");
    conf_free(&c);
    unlink(path);
    strcpy(path, "/tmp/test_conf.XXXXXX");
    write_file(path, big, DD_CONF_FILE_MAX + 1);
    assert_int_equal(conf_load(&c, path, errs), -1);
    assert_int_equal(errs->n, 1);
    assert_non_null(strstr(errs->e[0].msg, "larger than 1048576 octets"));
    conf_free(&c);
    unlink(path);
    free(big);
    free(errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_many_errors),
        cmocka_unit_test(test_many_sgs),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
