/*
 * fuzz_directory.c - libFuzzer target for directory_parse()
 *
 * The directory is parsed against a conf with two storage groups, SG1 and
 * SG2. Invariants: it fails exactly when it reports errors, each error is on
 * a line of the input, the entries are no more than the lines. On success,
 * every line of the input, and the whole input, is looked up: an answer is
 * SG1 or SG2 with FOUND, or NULL otherwise, and does not depend on ASCII
 * case. Everything is freed, so LeakSanitizer sees any leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char conf_text[] = "[storage_group SG1]\ndestination = lmtp:[127.0.0.1]:2424\n"
                                "[storage_group SG2]\ndestination = smtp:mx.example:25\n";

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_directory: invariant broken: %s\n", what);
        abort();
    }
}

/* fuzz_conf - the conf, parsed once and kept for the whole run */
static const struct conf *fuzz_conf(struct conf_errors *errs)
{
    static struct conf *c;

    if (c == NULL) {
        c = malloc(sizeof(*c));
        check(c != NULL, "malloc");
        conf_init(c);
        memset(errs, 0, sizeof(*errs));
        check(conf_parse(c, "fuzz.conf", conf_text, strlen(conf_text), errs) == 0, "conf");
    }
    return c;
}

/* check_lookup - one address: a consistent answer, the same in upper case */
static void check_lookup(const struct directory *d, char *addr)
{
    enum directory_result res, res2;
    const char *sg = directory_lookup(d, addr, &res);

    check((sg != NULL) == (res == DIRECTORY_FOUND), "FOUND with a name");
    check(res == DIRECTORY_FOUND || res == DIRECTORY_UNKNOWN_USER || res == DIRECTORY_NOT_LOCAL,
          "known result");
    check(sg == NULL || strcmp(sg, "SG1") == 0 || strcmp(sg, "SG2") == 0, "a known group");
    for (char *p = addr; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    const char *sg2 = directory_lookup(d, addr, &res2);
    check(res2 == res && (sg == sg2 || (sg && sg2 && strcmp(sg, sg2) == 0)), "case ignored");
}

/* check_lines - look up every line of the input, and its first field */
static void check_lines(const struct directory *d, const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    check(s != NULL, "malloc");
    memcpy(s, data, size);
    s[size] = 0;
    for (char *line = s, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = 0;
        line[strcspn(line, " \t\r")] = 0; /* the key of an entry line */
        check_lookup(d, line);
    }
    memcpy(s, data, size);
    s[size] = 0;
    check_lookup(d, s);
    free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct conf_errors errs; /* 280 KB: not allocated per run */
    const struct conf *c = fuzz_conf(&errs);
    unsigned nlines = 1;

    for (size_t i = 0; i < size; i++)
        nlines += data[i] == '\n';
    memset(&errs, 0, sizeof(errs));
    struct directory *d = directory_parse("fuzz.tsv", (const char *)data, size, c, &errs);
    check((d == NULL) == (errs.n > 0), "NULL exactly when there are errors");
    for (size_t i = 0; i < errs.n; i++)
        check(errs.e[i].line >= 1 && errs.e[i].line <= nlines, "error line inside the input");
    if (d != NULL) {
        check(directory_count(d) <= nlines, "at most one entry per line");
        check_lines(d, data, size);
    }
    directory_free(d);
    return 0;
}
