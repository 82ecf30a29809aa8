/*
 * test_directory.c - table tests of the address -> storage group directory
 *
 * Lookups over one fixed directory (case, exact entry over @domain, unknown
 * user versus not local, quoted local parts, '%' and '!'); bad files by the
 * line and a piece of each error message; generated lines on the length
 * bounds; the shipped conf/directory.tsv; and a million entries, which must
 * load and answer quickly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "directory.h"

#define FOUND DIRECTORY_FOUND
#define UNKNOWN DIRECTORY_UNKNOWN_USER
#define NOTLOCAL DIRECTORY_NOT_LOCAL

static const char conf_text[] = "[storage_group SG1]\ndestination = lmtp:[127.0.0.1]:2424\n"
                                "[storage_group SG2]\ndestination = smtp:[127.0.0.1]:2426\n"
                                "[storage_group sg.3-x_y]\ndestination = lmtp:unix:/run/l\n";

/* The directory the lookups run against; the comments say what each line tests. */
static const char dir_text[] =
    "# a comment\n"
    "\n"
    "@example.test\tSG1\n"               /* 3: a domain */
    "postmaster@example.test\tSG2\n"     /* 4: exact wins over @example.test */
    "Alice@Example.ORG\t\tSG2\r\n"       /* 5: stored lower case; CRLF; two tabs */
    "  \"john doe\"@example.net   SG1\n" /* 6: quoted blank, spaces as separator */
    "\"u@ext\"@example.net\tSG2\n"       /* 7: '@' inside quotes */
    "bob%relay@example.com\tSG1\n"       /* 8: '%' is not routing */
    "foo!bar@example.com\tsg.3-x_y\n"    /* 9: '!' is not routing */
    "carol@sub.example.test SG2\n"       /* 10: a subdomain, address entry only */
    "   # an indented comment\n"         /* 11 */
    "\t\n"                               /* 12: blanks only */
    "@[192.0.2.1]\tSG1\n"                /* 13: an address literal domain */
    "dave@caf\xc3\xa9.example\tSG2";     /* 14: 8-bit, no final newline */

struct lookup_case {
    const char *addr;
    enum directory_result res;
    const char *sg; /* when FOUND */
};

static const struct lookup_case lookups[] = {
    {"user@example.test", FOUND, "SG1"},
    {"USER@EXAMPLE.TEST", FOUND, "SG1"},
    {"postmaster@example.test", FOUND, "SG2"},
    {"PostMaster@Example.Test", FOUND, "SG2"},
    {"postmaster2@example.test", FOUND, "SG1"},
    {"alice@example.org", FOUND, "SG2"},
    {"ALICE@EXAMPLE.ORG", FOUND, "SG2"},
    {"bob@example.org", UNKNOWN, NULL},
    {"alice@other.example", NOTLOCAL, NULL},
    {"alice@example.org.evil", NOTLOCAL, NULL},
    {"carol@sub.example.test", FOUND, "SG2"},
    {"CAROL@SUB.EXAMPLE.TEST", FOUND, "SG2"},
    {"x@sub.example.test", UNKNOWN, NULL},
    {"x@deeper.example.test", NOTLOCAL, NULL}, /* @domain does not cover subdomains */
    {"x@test", NOTLOCAL, NULL},
    {"\"john doe\"@example.net", FOUND, "SG1"},
    {"\"John Doe\"@EXAMPLE.net", FOUND, "SG1"},
    {"john doe@example.net", UNKNOWN, NULL},
    {"\"johndoe\"@example.net", UNKNOWN, NULL},
    {"\"u@ext\"@example.net", FOUND, "SG2"},
    {"u@ext@example.net", UNKNOWN, NULL}, /* the domain is after the last '@' */
    {"\"u@ext\"@elsewhere.test", NOTLOCAL, NULL},
    {"\"x@example.test\"@elsewhere.test", NOTLOCAL, NULL},
    {"u@elsewhere.test@example.test", FOUND, "SG1"},
    {"bob%relay@example.com", FOUND, "SG1"},
    {"BOB%RELAY@EXAMPLE.COM", FOUND, "SG1"},
    {"bob%other@example.com", UNKNOWN, NULL},
    {"bob@relay", NOTLOCAL, NULL},
    {"foo!bar@example.com", FOUND, "sg.3-x_y"},
    {"bar@foo", NOTLOCAL, NULL},
    {"bar@example.com", UNKNOWN, NULL},
    {"x@[192.0.2.1]", FOUND, "SG1"},
    {"x@[192.0.2.2]", NOTLOCAL, NULL},
    {"dave@caf\xc3\xa9.example", FOUND, "SG2"},
    {"DAVE@CAF\xc3\xa9.EXAMPLE", FOUND, "SG2"},
    {"eve@caf\xc3\xa9.example", UNKNOWN, NULL},
    {"eve@CAF\xc3\x89.example", NOTLOCAL, NULL}, /* only ASCII case is folded */
    {"", NOTLOCAL, NULL},
    {"postmaster", NOTLOCAL, NULL},
    {"user@", NOTLOCAL, NULL},
    {"@", NOTLOCAL, NULL},
    {"example.test", NOTLOCAL, NULL},
    {"user@example.test ", NOTLOCAL, NULL},
};

struct bad_case {
    const char *name;
    const char *text;
    unsigned line;
    const char *msg;
    size_t nerr; /* 0: exactly one */
};

static const struct bad_case bad_cases[] = {
    {"unknown SG", "a@example.test\tSG1\n@example.test\tSG9\n", 2, "unknown storage group \"SG9\"",
     0},
    {"SG case matters", "a@example.test\tsg1\n", 1, "unknown storage group \"sg1\"", 0},
    {"one field", "a@example.test\n", 1, "expected \"address<TAB>storage group\"", 0},
    {"one field with blanks", "  SG1  \n", 1, "expected \"address", 0},
    {"no @", "postmaster\tSG1\n", 1, "expected local@domain or @domain", 0},
    {"empty domain entry", "@\tSG1\n", 1, "empty domain", 0},
    {"empty domain", "user@\tSG1\n", 1, "empty domain", 0},
    {"@@domain", "@@example.test\tSG1\n", 1, "bad character in domain", 0},
    {"blank outside quotes", "a b@example.test\tSG1\n", 1, "blank outside quotes", 0},
    {"third field", "a@example.test SG1 SG2\n", 1, "bad character in domain", 0},
    {"trailing comment", "a@example.test\tSG1 # x\n", 1, "unknown storage group \"x\"", 0},
    {"unbalanced quote", "\"a@example.test\tSG1\n", 1, "unbalanced quote", 0},
    {"bad domain character", "a@exa,mple.test\tSG1\n", 1, "bad character in domain", 0},
    {"domain with quote", "a@\"x\"\tSG1\n", 1, "bad character in domain", 0},
    {"control character", "a@example.test\x01\tSG1\n", 1, "control character 0x01", 0},
    {"NUL", "a@exa\0mple.test\tSG1\n", 1, "control character 0x00", 0},
    {"duplicate address", "a@example.test\tSG1\n\nA@EXAMPLE.test\tSG2\n", 3,
     "duplicate entry \"A@EXAMPLE.test\" (first at line 1)", 0},
    {"duplicate domain", "@example.test\tSG1\n@Example.Test\tSG1\n", 2,
     "duplicate entry \"@Example.Test\" (first at line 1)", 0},
    {"local part 65",
     "12345678901234567890123456789012345678901234567890123456789012345@x.test\tSG1\n", 1,
     "local part longer than 64 octets", 0},
    {"errors go on", "a@x.test\tSG1\nb\tSG1\nc@x.test\tSG7\na@x.test\tSG2\nd@x.test\tSG2\n", 2,
     "expected local@domain", 3},
};

/* new_conf - the storage groups of conf_text */
static struct conf *new_conf(void)
{
    struct conf *c = malloc(sizeof(*c));
    struct conf_errors *errs = calloc(1, sizeof(*errs));

    assert_non_null(c);
    conf_init(c);
    assert_int_equal(conf_parse(c, "t.conf", conf_text, strlen(conf_text), errs), 0);
    free(errs);
    return c;
}

/* free_conf - conf_free and the struct */
static void free_conf(struct conf *c)
{
    conf_free(c);
    free(c);
}

/* print_errors - for a failed assertion */
static void print_errors(const struct conf_errors *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error("%s:%u: %s\n", errs->e[i].file, errs->e[i].line, errs->e[i].msg);
}

/* has_error - an error at line whose message contains msg */
static int has_error(const struct conf_errors *errs, unsigned line, const char *msg)
{
    for (size_t i = 0; i < errs->n; i++)
        if (errs->e[i].line == line && strstr(errs->e[i].msg, msg) != NULL &&
            strcmp(errs->e[i].file, "t.tsv") == 0)
            return 1;
    return 0;
}

/* test_lookup - every case of the table against dir_text */
static void test_lookup(void **state)
{
    struct conf *c = new_conf();
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    enum directory_result res;

    (void)state;
    struct directory *d = directory_parse("t.tsv", dir_text, strlen(dir_text), c, errs);
    print_errors(errs);
    assert_non_null(d);
    assert_int_equal(errs->n, 0);
    assert_int_equal(directory_count(d), 10);
    free_conf(c); /* the directory owns its storage group names */
    for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++) {
        const struct lookup_case *l = &lookups[i];
        res = (enum directory_result) - 1;
        const char *sg = directory_lookup(d, l->addr, &res);
        if (res != l->res || (sg == NULL) != (l->sg == NULL) || (sg && strcmp(sg, l->sg)))
            print_error("lookup \"%s\": res %d sg %s, want %d %s\n", l->addr, (int)res,
                        sg ? sg : "(null)", (int)l->res, l->sg ? l->sg : "(null)");
        assert_int_equal(res, l->res);
        if (l->sg == NULL)
            assert_null(sg);
        else
            assert_string_equal(sg, l->sg);
    }
    assert_string_equal(directory_lookup(d, "user@example.test", NULL), "SG1");
    assert_null(directory_lookup(NULL, "user@example.test", &res));
    assert_int_equal(res, NOTLOCAL);
    assert_null(directory_lookup(d, NULL, &res));
    assert_int_equal(res, NOTLOCAL);
    assert_null(directory_free(d));
    assert_null(directory_free(NULL));
    assert_int_equal(directory_count(NULL), 0);
    free(errs);
}

/* test_bad - each bad file fails with the expected error(s) */
static void test_bad(void **state)
{
    struct conf *c = new_conf();
    struct conf_errors *errs = malloc(sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *b = &bad_cases[i];
        size_t len = strlen(b->text), want = b->nerr ? b->nerr : 1;
        if (strcmp(b->name, "NUL") == 0)
            len = sizeof("a@exa\0mple.test\tSG1\n") - 1;
        memset(errs, 0, sizeof(*errs));
        struct directory *d = directory_parse("t.tsv", b->text, len, c, errs);
        if (d != NULL || errs->n != want || !has_error(errs, b->line, b->msg)) {
            print_error("bad case \"%s\": want %zu error(s), line %u \"%s\"; got:\n", b->name, want,
                        b->line, b->msg);
            print_errors(errs);
        }
        assert_null(d);
        assert_int_equal(errs->n, want);
        assert_true(has_error(errs, b->line, b->msg));
    }
    free_conf(c);
    free(errs);
}

/* test_good_forms - blank lines, comments only, no conf storage groups needed */
static void test_good_forms(void **state)
{
    static const struct {
        const char *text;
        size_t count;
    } cases[] = {
        {"", 0},
        {"\n\n\r\n", 0},
        {"# only\n#comments\n", 0},
        {"a@x.test SG1", 1},
        {"a@x.test\t \tSG1\r\nb@x.test  SG2\n\n@y.test\tSG1\n", 3},
        {"\"a b\\\" c\"@x.test\tSG1\n", 1},
        {"a#b@x.test\tSG1\n", 1},
    };
    struct conf *c = new_conf();
    struct conf_errors *errs = calloc(1, sizeof(*errs));

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct directory *d =
            directory_parse("t.tsv", cases[i].text, strlen(cases[i].text), c, errs);
        print_errors(errs);
        assert_non_null(d);
        assert_int_equal(errs->n, 0);
        assert_int_equal(directory_count(d), cases[i].count);
        directory_free(d);
    }
    /* A conf without storage groups: any entry names an unknown one. */
    struct conf empty;
    conf_init(&empty);
    assert_null(directory_parse("t.tsv", "a@x.test\tSG1\n", 13, &empty, errs));
    assert_true(has_error(errs, 1, "unknown storage group"));
    memset(errs, 0, sizeof(*errs));
    struct directory *d = directory_parse("t.tsv", "# nothing\n", 10, &empty, errs);
    assert_non_null(d);
    directory_free(d);
    conf_free(&empty);
    free_conf(c);
    free(errs);
}

/* test_bounds - line length and address length, exactly at and past the limits */
static void test_bounds(void **state)
{
    struct conf *c = new_conf();
    struct conf_errors *errs = malloc(sizeof(*errs));
    char *text = malloc(4 * DD_DIRECTORY_LINE_MAX);
    char addr[1024];
    enum directory_result res;

    (void)state;
    /* A line of 1024 octets (a comment) is fine, 1025 is not, CRLF or not. */
    static const struct {
        size_t n;
        const char *eol;
        int bad;
    } lines[] = {
        {1024, "\n", 0}, {1024, "\r\n", 0}, {1025, "\n", 1}, {1025, "\r\n", 1}, {3000, "\n", 1}};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        memset(text, '#', lines[i].n);
        strcpy(text + lines[i].n, lines[i].eol);
        strcat(text, "a@x.test\tSG1\n");
        memset(errs, 0, sizeof(*errs));
        struct directory *d = directory_parse("t.tsv", text, strlen(text), c, errs);
        assert_int_equal(d == NULL, lines[i].bad);
        assert_int_equal(errs->n, lines[i].bad);
        if (lines[i].bad)
            assert_true(has_error(errs, 1, "line longer than 1024 octets"));
        else
            assert_int_equal(directory_count(d), 1);
        directory_free(d);
    }
    /* An address of DD_ADDR_MAX - 1 octets (64 + 1 + 255) loads and is found. */
    memset(addr, 'l', 64);
    addr[64] = '@';
    memset(addr + 65, 'd', 255);
    addr[320] = 0;
    snprintf(text, 4 * DD_DIRECTORY_LINE_MAX, "%s\tSG2\n", addr);
    memset(errs, 0, sizeof(*errs));
    struct directory *d = directory_parse("t.tsv", text, strlen(text), c, errs);
    print_errors(errs);
    assert_non_null(d);
    assert_string_equal(directory_lookup(d, addr, &res), "SG2");
    addr[0] = 'm';
    assert_null(directory_lookup(d, addr, &res));
    assert_int_equal(res, UNKNOWN);
    /* longer than any entry can be, in our domain: still an unknown user */
    memset(text, 'z', 900);
    snprintf(text + 900, 400, "@%s", addr + 65);
    assert_null(directory_lookup(d, text, &res));
    assert_int_equal(res, UNKNOWN);
    directory_free(d);
    /* One octet more in the domain: an address longer than DD_ADDR_MAX - 1. */
    snprintf(text, 4 * DD_DIRECTORY_LINE_MAX, "%sd\tSG2\n", addr);
    memset(errs, 0, sizeof(*errs));
    assert_null(directory_parse("t.tsv", text, strlen(text), c, errs));
    assert_true(has_error(errs, 1, "address longer than 320 octets"));
    /* A domain of 256 octets with a short local part. */
    snprintf(text, 4 * DD_DIRECTORY_LINE_MAX, "a@d%s\tSG2\n", addr + 65);
    memset(errs, 0, sizeof(*errs));
    assert_null(directory_parse("t.tsv", text, strlen(text), c, errs));
    assert_true(has_error(errs, 1, "domain longer than 255 octets"));
    free(text);
    free_conf(c);
    free(errs);
}

/* write_file - a temporary file holding text */
static void write_file(char *path, const char *text)
{
    int fd = mkstemp(path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* test_load - directory_load() of a file, a missing file */
static void test_load(void **state)
{
    char path[] = "/tmp/test_directory.XXXXXX";
    struct conf *c = new_conf();
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    enum directory_result res;

    (void)state;
    write_file(path, "@example.test\tSG1\n");
    struct directory *d = directory_load(path, c, errs);
    assert_non_null(d);
    assert_string_equal(directory_lookup(d, "x@Example.Test", &res), "SG1");
    directory_free(d);
    unlink(path);
    assert_null(directory_load("/nonexistent/directory.tsv", c, errs));
    assert_int_equal(errs->n, 1);
    assert_int_equal(errs->e[0].line, 0);
    assert_non_null(strstr(errs->e[0].msg, "cannot open"));
    free_conf(c);
    free(errs);
}

/* test_shipped - conf/dumpsterd.conf with conf/directory.tsv */
static void test_shipped(void **state)
{
    const char *src = getenv("DD_SOURCE_DIR");
    char path[2 * DD_PATHNAME_MAX];
    struct conf c;
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    enum directory_result res;

    (void)state;
    snprintf(path, sizeof(path), "%s/conf/dumpsterd.conf", src ? src : ".");
    assert_int_equal(conf_load(&c, path, errs), 0);
    snprintf(path, sizeof(path), "%s/%s", src ? src : ".", c.directory.file);
    struct directory *d = directory_load(path, &c, errs);
    print_errors(errs);
    assert_non_null(d);
    assert_int_equal(directory_count(d), 4);
    assert_string_equal(directory_lookup(d, "anyone@example.test", &res), "SG1");
    assert_string_equal(directory_lookup(d, "postmaster@example.test", &res), "SG1");
    assert_string_equal(directory_lookup(d, "x@sales.example.test", &res), "SG2");
    assert_string_equal(directory_lookup(d, "Alice@Example.Org", &res), "SG2");
    assert_null(directory_lookup(d, "bob@example.org", &res));
    assert_int_equal(res, UNKNOWN);
    assert_null(directory_lookup(d, "bob@example.com", &res));
    assert_int_equal(res, NOTLOCAL);
    directory_free(d);
    conf_free(&c);
    free(errs);
}

/* now - monotonic seconds */
static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* test_million - a million entries load and answer in bounded time */
static void test_million(void **state)
{
    enum { N = 1000000 };
    struct conf *c = new_conf();
    struct conf_errors *errs = calloc(1, sizeof(*errs));
    char *text = malloc((size_t)N * 40), *p = text;
    char addr[64];
    enum directory_result res;

    (void)state;
    for (int i = 0; i < N; i++)
        p += sprintf(p, "user%07d@d%03d.example.test\tSG%d\n", i, i % 1000, 1 + i % 2);
    double t0 = now();
    struct directory *d = directory_parse("t.tsv", text, (size_t)(p - text), c, errs);
    double t1 = now();
    assert_non_null(d);
    assert_int_equal(directory_count(d), N);
    size_t found = 0;
    for (int i = 0; i < N; i++) {
        snprintf(addr, sizeof(addr), "USER%07d@D%03d.example.test", i, i % 1000);
        const char *sg = directory_lookup(d, addr, &res);
        found += res == FOUND && sg[2] == (char)('1' + i % 2);
    }
    double t2 = now();
    assert_int_equal(found, N);
    assert_null(directory_lookup(d, "user9999999@d001.example.test", &res));
    assert_int_equal(res, UNKNOWN);
    fprintf(stderr, "# directory: %d entries parsed in %.3f s, looked up in %.3f s\n", N, t1 - t0,
            t2 - t1);
    /* Generous for sanitizer builds; an optimized build takes a fraction of this. */
    assert_true(t1 - t0 < 10.0);
    assert_true(t2 - t1 < 10.0);
    directory_free(d);
    free(text);
    free_conf(c);
    free(errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),     cmocka_unit_test(test_bad),
        cmocka_unit_test(test_good_forms), cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_load),       cmocka_unit_test(test_shipped),
        cmocka_unit_test(test_million),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
