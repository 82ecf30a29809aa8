/*
 * test_conf_doc.c - the generated key lists cover the parser's table exactly
 *
 * Every key conf_key_info() names appears once in README's table and once
 * in the man page list, with the parser's default; the man page text has no
 * line a roff reader would take for a request, and nothing is reported as
 * undocumented.
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
#include "conf_doc.h"

/* render - conf_doc_print() into a string (caller frees); errors into *errs */
static char *render(enum conf_doc_format fmt, char **errs)
{
    char *out = NULL, *err = NULL;
    size_t outlen = 0, errlen = 0;
    FILE *o = open_memstream(&out, &outlen), *e = open_memstream(&err, &errlen);

    assert_non_null(o);
    assert_non_null(e);
    assert_int_equal(conf_doc_print(o, fmt, e), 0);
    fclose(o);
    fclose(e);
    *errs = err;
    return out;
}

/* count - occurrences of needle in hay */
static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

/* test_markdown_has_every_key - one row per key, with its default */
static void test_markdown_has_every_key(void **state)
{
    struct conf_key_info k;
    char *errs, *md = render(CONF_DOC_MARKDOWN, &errs);
    char row[256];
    size_t i;

    (void)state;
    assert_string_equal(errs, "");
    for (i = 0; conf_key_info(i, &k); i++) {
        snprintf(row, sizeof(row), "\n| %s | %s | ", k.section, k.name);
        assert_int_equal(count(md, row), 1);
        if (k.def != NULL && *k.def != 0) {
            snprintf(row, sizeof(row), "\n| %s | %s | %s | ", k.section, k.name, k.def);
            assert_int_equal(count(md, row), 1);
        }
    }
    assert_true(i > 20);
    assert_int_equal(count(md, "\n"), i + 2); /* header, separator, a row per key */
    assert_non_null(strstr(md, "| hub | user | dumpsterd | "));
    assert_non_null(strstr(md, "| smtp | banner_version | no | boolean | "));
    assert_non_null(strstr(md, "| smtp | command_timeout | 300 | s, 1..3600 | "));
    free(md);
    free(errs);
}

/* test_man_has_every_key - one .TP per key, sections once, no stray requests */
static void test_man_has_every_key(void **state)
{
    struct conf_key_info k;
    char *errs, *man = render(CONF_DOC_MAN, &errs);
    char tag[256];
    size_t i;

    (void)state;
    assert_string_equal(errs, "");
    for (i = 0; conf_key_info(i, &k); i++) {
        snprintf(tag, sizeof(tag), ".TP\n\\fB%s\\fR = ", k.name);
        assert_true(count(man, tag) >= 1);
    }
    assert_int_equal(count(man, ".TP\n"), i);
    assert_int_equal(count(man, ".SS [hub]\n"), 1);
    assert_int_equal(count(man, ".SS [storage_group NAME]\n"), 1);
    assert_non_null(strstr(man, "A\\-Za\\-z0\\-9._\\-"));  /* minus signs escaped */
    assert_non_null(strstr(man, "\\(<= max_connections")); /* no raw UTF-8 */
    for (const char *line = man; *line; line = strchr(line, '\n') + 1)
        if (*line == '.' || *line == '\'')
            assert_true(strncmp(line, ".TP\n", 4) == 0 || strncmp(line, ".SS ", 4) == 0);
    free(man);
    free(errs);
}

/* test_key_info_end - past the last key: false, storage group keys last */
static void test_key_info_end(void **state)
{
    struct conf_key_info k, last;
    size_t i;

    (void)state;
    for (i = 0; conf_key_info(i, &k); i++)
        last = k;
    assert_false(conf_key_info(i, &k));
    assert_false(conf_key_info(i + 1000, &k));
    assert_string_equal(last.section, "storage_group NAME");
    assert_true(conf_key_info(0, &k));
    assert_string_equal(k.section, "hub");
    assert_string_equal(k.name, "name");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_markdown_has_every_key),
        cmocka_unit_test(test_man_has_every_key),
        cmocka_unit_test(test_key_info_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
