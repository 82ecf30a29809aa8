/*
 * conffix.h - what the test_conf-* pieces share: a minimal storage group,
 * parse() of a text as "t.conf", and the parser's output as strings
 *
 * The configuration tests link only the parsers (dd_pure), not dd_testlib:
 * hence static inline functions in a header, not a part of tests/unit/lib.
 */
#ifndef DD_CONFFIX_H
#define DD_CONFFIX_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

/* A minimal storage group, so that good files also exercise the SG path. */
#define SG1 "[storage_group SG1]\ndestination = lmtp:[127.0.0.1]:2424\n"
#define SG1_OUT "storage_group.SG1.destination = lmtp:[127.0.0.1]:2424\n"
#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* parse - conf_init + conf_parse of text */
static inline int parse(struct conf *c, const char *text, size_t len, struct conf_errors *errs)
{
    conf_init(c);
    memset(errs, 0, sizeof(*errs));
    return conf_parse(c, "t.conf", text, len, errs);
}

/* nondefault - conf_print_nondefault() as a string (caller frees) */
static inline char *nondefault(const struct conf *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    conf_print_nondefault(c, f);
    fclose(f);
    return buf;
}

/* errors_text - conf_errors_print() as a string (caller frees) */
static inline char *errors_text(const struct conf_errors *errs)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    assert_non_null(f);
    conf_errors_print(errs, f);
    fclose(f);
    return buf;
}

/* has_error - an error at line whose message contains msg */
static inline int has_error(const struct conf_errors *errs, unsigned line, const char *msg)
{
    for (size_t i = 0; i < errs->n; i++)
        if (errs->e[i].line == line && strstr(errs->e[i].msg, msg) != NULL &&
            strcmp(errs->e[i].file, "t.conf") == 0)
            return 1;
    return 0;
}

#endif
