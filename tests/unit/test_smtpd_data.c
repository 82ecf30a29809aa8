/*
 * test_smtpd_data.c - table tests of the DATA / BDAT content machine
 *
 * Every case runs fed in one piece, one octet at a time, and in random
 * splits; all three must give the same content, errors, end and octets
 * consumed. The smuggling cases (CVE-2023-51764) must set an error and must
 * never end the data; followed by a real CRLF.CRLF they end exactly there.
 * With bare_lf (normalize) the same variants are content or a bare-CR/NUL
 * error, and still never end the data before the real CRLF.CRLF.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bounds.h"
#include "smtpd_data.h"

#define LF SMTPD_DATA_E_BARE_LF
#define CR SMTPD_DATA_E_BARE_CR
#define NUL SMTPD_DATA_E_NUL
#define LONG SMTPD_DATA_E_LINE_TOO_LONG

/* The outcome of feeding one input. */
struct result {
    char *out; /* content written, malloc'ed */
    size_t outlen;
    size_t consumed;
    unsigned errs;
    bool done;
};

/* The machines of the tests take a bare LF as a line end ([smtp] bare_newline
 * = normalize) while this is set. */
static bool bare_lf;

/* out_max - the most content n input octets may give (a bare LF: CRLF) */
static size_t out_max(size_t n)
{
    return (bare_lf ? 2 * n : n) + 2;
}

/* run - feed in[0..len) in chunks of the sizes split() gives; then finish */
static struct result run(enum smtpd_data_mode mode, const char *in, size_t len, bool finish,
                         size_t (*split)(size_t left, unsigned *seed), unsigned seed)
{
    struct result r = {malloc(out_max(len) + 1), 0, 0, 0, false};
    struct smtpd_data d;
    size_t pos = 0;

    assert_non_null(r.out);
    smtpd_data_init(&d, mode);
    d.bare_lf = bare_lf;
    while (pos < len) {
        size_t n = split(len - pos, &seed), outlen = 99999, used;
        char *chunk = malloc(n); /* exact size: ASan sees any overread */
        char *out = malloc(out_max(n));

        memcpy(chunk, in + pos, n);
        used = smtpd_data_feed(&d, chunk, n, out, &outlen);
        assert_true(used <= n);
        assert_true(outlen <= out_max(n));
        assert_true(r.outlen + outlen <= out_max(len));
        memcpy(r.out + r.outlen, out, outlen);
        r.outlen += outlen;
        pos += used;
        free(chunk);
        free(out);
        if (used < n) {
            assert_true(d.done);
            break;
        }
    }
    if (d.done) { /* nothing more is taken after the end */
        size_t outlen = 99999;
        char out[8];

        assert_int_equal(smtpd_data_feed(&d, "x\r\n", 3, out, &outlen), 0);
        assert_int_equal(outlen, 0);
    }
    if (finish) {
        size_t outlen = 99999;

        smtpd_data_finish(&d, r.out + r.outlen, &outlen);
        assert_true(outlen <= 2);
        r.outlen += outlen;
    }
    r.consumed = pos;
    r.errs = d.errs;
    r.done = d.done;
    return r;
}

/* split_all - one piece */
static size_t split_all(size_t left, unsigned *seed)
{
    (void)seed;
    return left;
}

/* split_one - one octet at a time */
static size_t split_one(size_t left, unsigned *seed)
{
    (void)left;
    (void)seed;
    return 1;
}

/* split_random - 1..7 octets, or the rest, from a fixed pseudo-random sequence */
static size_t split_random(size_t left, unsigned *seed)
{
    size_t n;

    *seed = *seed * 1103515245u + 12345u;
    n = (*seed >> 16) % 9;
    if (n == 8 || n == 0)
        n = (n == 8) ? left : 1;
    return n < left ? n : left;
}

/* check_all_splits - the one-piece result; every other split must agree */
static struct result check_all_splits(enum smtpd_data_mode mode, const char *in, size_t len,
                                      bool finish)
{
    struct result one = run(mode, in, len, finish, split_all, 0), r;
    unsigned seed;

    for (seed = 0; seed <= 40; seed++) {
        r = seed == 0 ? run(mode, in, len, finish, split_one, 0)
                      : run(mode, in, len, finish, split_random, seed);
        assert_int_equal(r.errs, one.errs);
        assert_int_equal(r.done, one.done);
        assert_int_equal(r.consumed, one.consumed);
        assert_int_equal(r.outlen, one.outlen);
        assert_memory_equal(r.out, one.out, one.outlen);
        free(r.out);
    }
    return one;
}

/* crlf_only - every CR is followed by LF and every LF follows a CR */
static bool crlf_only(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n'))
            return false;
        if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r'))
            return false;
        if (s[i] == 0)
            return false;
    }
    return true;
}

struct data_case {
    enum smtpd_data_mode mode;
    const char *in;
    size_t len; /* 0: strlen */
    bool finish;
    const char *out; /* expected content when errs == 0 */
    unsigned errs;
    bool done;
    size_t consumed; /* 0: all of it */
};

#define DOT SMTPD_DATA_DOT
#define BDAT SMTPD_DATA_BDAT

static const struct data_case data_cases[] = {
    /* The end, and nothing but the end. */
    {DOT, ".\r\n", 0, false, "", 0, true, 0},
    {DOT, "\r\n.\r\n", 0, false, "\r\n", 0, true, 0},
    {DOT, "a\r\n.\r\n", 0, false, "a\r\n", 0, true, 0},
    {DOT, "Subject: x\r\n\r\nbody\r\n.\r\n", 0, false, "Subject: x\r\n\r\nbody\r\n", 0, true, 0},
    {DOT, "a\r\n.\r\nMAIL FROM:<x@y>\r\n", 0, false, "a\r\n", 0, true, 6},
    {DOT, ".\r\n.\r\n", 0, false, "", 0, true, 3},
    {DOT, "a\r\n", 0, false, "a\r\n", 0, false, 0},
    {DOT, "a\r\n.", 0, false, "a\r\n", 0, false, 0},
    {DOT, "a\r\n.\r", 0, false, "a\r\n", 0, false, 0},
    {DOT, "", 0, false, "", 0, false, 0},
    {DOT, "a.\r\n.\r\n", 0, false, "a.\r\n", 0, true, 0},
    {DOT, "a\r\n .\r\n.\r\n", 0, false, "a\r\n .\r\n", 0, true, 0},
    /* Dot-unstuffing. */
    {DOT, "..\r\n.\r\n", 0, false, ".\r\n", 0, true, 0},
    {DOT, "..x\r\n.\r\n", 0, false, ".x\r\n", 0, true, 0},
    {DOT, "...\r\n.\r\n", 0, false, "..\r\n", 0, true, 0},
    {DOT, ".x\r\n.\r\n", 0, false, "x\r\n", 0, true, 0},
    {DOT, "a\r\n..\r\nb\r\n.\r\n", 0, false, "a\r\n.\r\nb\r\n", 0, true, 0},
    {DOT, "a\r\n..\r\n", 0, false, "a\r\n.\r\n", 0, false, 0},
    {DOT, "8bit \xc3\xbc\r\n.\r\n", 0, false, "8bit \xc3\xbc\r\n", 0, true, 0},
    /* Smuggling variants in the middle of a message: rejected, not ended. */
    {DOT, "a\r\n\n.\nb\r\n.\r\n", 0, false, NULL, LF, true, 0},
    {DOT, "a\n.\r\nb\r\n.\r\n", 0, false, NULL, LF, true, 0},
    {DOT, "a\r\n.\nb\r\n.\r\n", 0, false, NULL, LF, true, 0},
    {DOT, "a\r.\rb\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\r.\r\nb\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\n.\rb\r\n.\r\n", 0, false, NULL, LF | CR, true, 0},
    {DOT, "a\r.\nb\r\n.\r\n", 0, false, NULL, CR | LF, true, 0},
    {DOT, "a\r\n\0.\r\nb\r\n.\r\n", 13, false, NULL, NUL, true, 0},
    {DOT, "a\r\n.\r\r\nb\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\r\n.\r\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\n\n.\n\n", 0, false, NULL, LF, false, 0},
    {DOT, "a\r\r.\r\r", 0, false, NULL, CR, false, 0},
    {DOT, "a\0", 2, false, NULL, NUL, false, 0},
    /* After an error the real end is still found, and only it. */
    {DOT, "a\nb\r\n.\r\nNEXT", 0, false, NULL, LF, true, 8},
    /* BDAT: no dots, no end. */
    {BDAT, "a\r\nb\r\n", 0, false, "a\r\nb\r\n", 0, false, 0},
    {BDAT, ".\r\n", 0, false, ".\r\n", 0, false, 0},
    {BDAT, "..x\r\n.\r\n", 0, false, "..x\r\n.\r\n", 0, false, 0},
    {BDAT, "", 0, true, "", 0, false, 0},
    {BDAT, "a\r\n", 0, true, "a\r\n", 0, false, 0},
    {BDAT, "a\r\nb", 0, true, "a\r\nb\r\n", 0, false, 0},
    {BDAT, "a\r\nb", 0, false, "a\r\nb", 0, false, 0},
    {BDAT, "a\r", 0, true, NULL, CR, false, 0},
    {BDAT, "a\r", 0, false, "a", 0, false, 0},
    {BDAT, "a\nb", 0, true, NULL, LF, false, 0},
    {BDAT, "a\rb\r\n", 0, true, NULL, CR, false, 0},
    {BDAT, "a\0b\r\n", 5, true, NULL, NUL, false, 0},
    {BDAT, "a\r\n\n.\nb\r\n.\r\n", 0, false, NULL, LF, false, 0},
    /* DOT mode ignores finish. */
    {DOT, "a", 0, true, "a", 0, false, 0},
};

/* check_case - run one case in every split and compare with the table */
static void check_case(const struct data_case *c)
{
    size_t len = c->len ? c->len : strlen(c->in);
    struct result r = check_all_splits(c->mode, c->in, len, c->finish);

    assert_int_equal(r.errs, c->errs);
    assert_int_equal(r.done, c->done);
    assert_int_equal(r.consumed, c->consumed ? c->consumed : len);
    if (c->errs == 0) {
        assert_int_equal(r.outlen, strlen(c->out));
        assert_memory_equal(r.out, c->out, r.outlen);
    }
    if (c->errs == 0 && (c->done || (c->finish && c->mode == SMTPD_DATA_BDAT)))
        assert_true(crlf_only(r.out, r.outlen));
    free(r.out);
}

/* test_table - the fixed cases */
static void test_table(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(data_cases) / sizeof(data_cases[0]); i++) {
        print_message("data case %zu\n", i);
        check_case(&data_cases[i]);
    }
}

/* The smuggling variants of the brief, and the errors each one sets. */
static const struct {
    const char *v;
    size_t len;
    unsigned errs;      /* alone, at the end of input */
    unsigned errs_then; /* followed by "x\r\n.\r\n" */
} smuggle[] = {
    {"\n.\n", 3, LF, LF},           {"\n.\r\n", 4, LF, LF},       {"\r\n.\n", 4, LF, LF},
    {"\r.\r", 3, CR, CR},           {"\r.\r\n", 4, CR, CR},       {"\n.\r", 3, LF, LF | CR},
    {"\r.\n", 3, CR | LF, CR | LF}, {"\r\n\0.\r\n", 6, NUL, NUL}, {"\r\n.\r\r\n", 6, CR, CR},
    {"\n..\n", 4, LF, LF},          {"\r..\r\n", 5, CR, CR},
};

/* test_smuggling - each variant, after "", "a" and "a\r\n": error, no end */
static void test_smuggling(void **state)
{
    static const char *prefixes[] = {"", "a", "a\r\n", "a\r\n\r\n"};
    static const char tail[] = "x\r\n.\r\n";
    char buf[64];
    size_t i, p;

    (void)state;
    for (i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
        for (p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
            size_t pl = strlen(prefixes[p]), len = pl + smuggle[i].len;
            struct result r;

            print_message("smuggle %zu prefix %zu\n", i, p);
            memcpy(buf, prefixes[p], pl);
            memcpy(buf + pl, smuggle[i].v, smuggle[i].len);
            r = check_all_splits(SMTPD_DATA_DOT, buf, len, false);
            assert_int_equal(r.errs, smuggle[i].errs);
            assert_false(r.done);
            assert_int_equal(r.consumed, len);
            free(r.out);
            /* Then the real end: it ends exactly there, and not before. */
            memcpy(buf + len, tail, sizeof(tail) - 1);
            memcpy(buf + len + sizeof(tail) - 1, "MORE", 4);
            r = check_all_splits(SMTPD_DATA_DOT, buf, len + sizeof(tail) - 1 + 4, false);
            assert_int_equal(r.errs, smuggle[i].errs_then);
            assert_true(r.done);
            assert_int_equal(r.consumed, len + sizeof(tail) - 1);
            free(r.out);
        }
    }
}

/* test_octet_at_every_offset - a CR, LF or NUL anywhere in a long line (the
 * scan over plain text takes 16 or 8 octets at a time) is seen exactly
 * there: the same error, and the content written before it is the text */
static void test_octet_at_every_offset(void **state)
{
    static const struct {
        char c;
        unsigned errs;
    } odd[] = {{'\r', CR}, {'\n', LF}, {'\0', NUL}};
    char buf[128];

    (void)state;
    for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
        for (size_t at = 0; at < 70; at++) {
            size_t len = 0;
            buf[len++] = 'a'; /* not at the start of a line: no dot rule */
            for (size_t i = 0; i < at; i++)
                buf[len++] = (char)('b' + i % 20);
            buf[len++] = odd[k].c;
            memcpy(buf + len, "yz\r\n", 4);
            len += 4;
            struct result r = check_all_splits(SMTPD_DATA_DOT, buf, len, false);
            assert_int_equal(r.errs, odd[k].errs);
            assert_false(r.done);
            assert_int_equal(r.consumed, len);
            free(r.out);
            memcpy(buf + len, ".\r\n", 3); /* a clean line of the same length ends */
            buf[at + 1] = 'q';
            r = check_all_splits(SMTPD_DATA_DOT, buf, len + 3, false);
            assert_int_equal(r.errs, 0);
            assert_true(r.done);
            assert_int_equal(r.outlen, len);
            assert_memory_equal(r.out, buf, len);
            free(r.out);
        }
    }
}

struct line_case {
    enum smtpd_data_mode mode;
    bool dot;    /* the line starts with a stuffed dot (counted as sent) */
    size_t text; /* octets before the CRLF, the dot included */
    bool crlf;   /* the line ends with CRLF (else: BDAT finish adds one) */
    unsigned errs;
};

static const struct line_case line_cases[] = {
    {DOT, false, 998, true, 0},      {DOT, false, 999, true, LONG},
    {DOT, false, 5000, true, LONG},  {DOT, true, 998, true, 0},
    {DOT, true, 999, true, LONG},    {BDAT, false, 998, true, 0},
    {BDAT, false, 999, true, LONG},  {BDAT, false, 998, false, 0},
    {BDAT, false, 999, false, LONG}, {BDAT, false, 1001, false, LONG},
};

/* test_line_length - 1000 octets with CRLF is fine, 1001 is not */
static void test_line_length(void **state)
{
    static char in[8192], want[8192];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(line_cases) / sizeof(line_cases[0]); i++) {
        const struct line_case *c = &line_cases[i];
        size_t len = 0, wl;
        struct result r;

        print_message("line case %zu\n", i);
        len += (size_t)sprintf(in, "ok\r\n");
        memset(in + len, c->dot ? '.' : 'x', 1);
        memset(in + len + 1, 'x', c->text - 1);
        len += c->text;
        if (c->crlf)
            len += (size_t)sprintf(in + len, "\r\n");
        if (c->mode == SMTPD_DATA_DOT)
            len += (size_t)sprintf(in + len, ".\r\n");
        r = check_all_splits(c->mode, in, len, !c->crlf);
        assert_int_equal(r.errs, c->errs);
        assert_int_equal(r.done, c->mode == SMTPD_DATA_DOT);
        assert_int_equal(r.consumed, len);
        if (c->errs == 0) {
            wl = (size_t)sprintf(want, "ok\r\n%s", c->dot && c->mode == SMTPD_DATA_DOT ? "" : "x");
            memset(want + wl, 'x', c->text - 1);
            wl += c->text - 1;
            wl += (size_t)sprintf(want + wl, "\r\n");
            assert_int_equal(r.outlen, wl);
            assert_memory_equal(r.out, want, wl);
        }
        free(r.out);
    }
}

/* test_many_lines - a long message of 1000-octet lines: counts reset per line */
static void test_many_lines(void **state)
{
    size_t lines = 200, len = 0, i;
    char *in = malloc(lines * 1000 + 3);
    struct result r;

    (void)state;
    for (i = 0; i < lines; i++) {
        memset(in + len, 'm', 998);
        memcpy(in + len + 998, "\r\n", 2);
        len += 1000;
    }
    memcpy(in + len, ".\r\n", 3);
    r = run(SMTPD_DATA_DOT, in, len + 3, false, split_all, 0);
    assert_int_equal(r.errs, 0);
    assert_true(r.done);
    assert_int_equal(r.outlen, len);
    assert_memory_equal(r.out, in, len);
    free(r.out);
    free(in);
}

/* test_reply - the reply for each error, by priority */
static void test_reply(void **state)
{
    static const struct {
        unsigned errs;
        const char *reply;
    } cases[] = {
        {NUL, "550 5.6.0 Message rejected: NUL received"},
        {NUL | CR | LF | LONG, "550 5.6.0 Message rejected: NUL received"},
        {CR, "550 5.6.0 Message rejected: bare <CR> received"},
        {CR | LF | LONG, "550 5.6.0 Message rejected: bare <CR> received"},
        {LF, "550 5.6.0 Message rejected: bare <LF> received"},
        {LF | LONG, "550 5.6.0 Message rejected: bare <LF> received"},
        {LONG, "500 5.5.2 Message rejected: line longer than 1000 octets"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_string_equal(smtpd_data_reply(cases[i].errs), cases[i].reply);
    /* No error is no reason to reject, but must never read as success. */
    assert_int_equal(smtpd_data_reply(0)[0], '4');
}

/* Normalize: a bare LF ends a line; the end is still only CRLF.CRLF. */
static const struct data_case lf_cases[] = {
    {DOT, "a\nb\r\n.\r\n", 0, false, "a\r\nb\r\n", 0, true, 0},
    {DOT, "a\n\nb\r\n.\r\n", 0, false, "a\r\n\r\nb\r\n", 0, true, 0},
    {DOT, "Subject: x\n\nbody\n..dot\nend\r\n.\r\n", 0, false,
     "Subject: x\r\n\r\nbody\r\n.dot\r\nend\r\n", 0, true, 0},
    /* A "." line after a bare LF, or ended by one, is an empty line, never the end. */
    {DOT, "a\n.\nb\r\n.\r\n", 0, false, "a\r\n\r\nb\r\n", 0, true, 0},
    {DOT, "a\n.\r\nb\r\n.\r\n", 0, false, "a\r\n\r\nb\r\n", 0, true, 0},
    {DOT, "a\r\n.\nb\r\n.\r\n", 0, false, "a\r\n\r\nb\r\n", 0, true, 0},
    {DOT, "a\n.\r\n", 0, false, "a\r\n\r\n", 0, false, 0},
    {DOT, "a\n.\n", 0, false, "a\r\n\r\n", 0, false, 0},
    {DOT, "\n.\r\n", 0, false, "\r\n\r\n", 0, false, 0},
    {DOT, ".\n", 0, false, "\r\n", 0, false, 0},
    {DOT, "a\n.\r\n.\r\nNEXT", 0, false, "a\r\n\r\n", 0, true, 8},
    {DOT, "a\n..\r\n.\r\n", 0, false, "a\r\n.\r\n", 0, true, 0},
    /* A bare CR and a NUL still reject. */
    {DOT, "a\r.\rb\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\n\r.\r\nb\r\n.\r\n", 0, false, NULL, CR, true, 0},
    {DOT, "a\n\0.\r\nb\r\n.\r\n", 12, false, NULL, NUL, true, 0},
    /* BDAT: LF lines too, still no dots. */
    {BDAT, "a\nb", 0, true, "a\r\nb\r\n", 0, false, 0},
    {BDAT, "a\n", 0, true, "a\r\n", 0, false, 0},
    {BDAT, "..x\n.\n", 0, true, "..x\r\n.\r\n", 0, false, 0},
    {BDAT, "a\n\r", 0, true, NULL, CR, false, 0},
};

/* test_lf_table - the normalize cases */
static void test_lf_table(void **state)
{
    (void)state;
    bare_lf = true;
    for (size_t i = 0; i < sizeof(lf_cases) / sizeof(lf_cases[0]); i++) {
        print_message("lf case %zu\n", i);
        check_case(&lf_cases[i]);
    }
    bare_lf = false;
}

/* test_lf_smuggling - every variant, after every prefix: content or a bare
 * CR/NUL error, never the end; then the real end, exactly there */
static void test_lf_smuggling(void **state)
{
    static const char *prefixes[] = {"", "a", "a\r\n", "a\n", "a\r\n\r\n", "a\n\n"};
    static const char tail[] = "x\r\n.\r\n";
    char buf[64];

    (void)state;
    bare_lf = true;
    for (size_t i = 0; i < sizeof(smuggle) / sizeof(smuggle[0]); i++) {
        for (size_t p = 0; p < sizeof(prefixes) / sizeof(prefixes[0]); p++) {
            size_t pl = strlen(prefixes[p]), len = pl + smuggle[i].len;
            struct result r;

            print_message("lf smuggle %zu prefix %zu\n", i, p);
            memcpy(buf, prefixes[p], pl);
            memcpy(buf + pl, smuggle[i].v, smuggle[i].len);
            r = check_all_splits(SMTPD_DATA_DOT, buf, len, false);
            assert_int_equal(r.errs, smuggle[i].errs & ~(unsigned)LF);
            assert_false(r.done);
            assert_int_equal(r.consumed, len);
            free(r.out);
            memcpy(buf + len, tail, sizeof(tail) - 1);
            memcpy(buf + len + sizeof(tail) - 1, "MORE", 4);
            r = check_all_splits(SMTPD_DATA_DOT, buf, len + sizeof(tail) - 1 + 4, false);
            assert_int_equal(r.errs, smuggle[i].errs_then & ~(unsigned)LF);
            assert_true(r.done);
            assert_int_equal(r.consumed, len + sizeof(tail) - 1);
            if (r.errs == 0)
                assert_true(crlf_only(r.out, r.outlen));
            free(r.out);
        }
    }
    bare_lf = false;
}

/* test_lf_line_length - a bare LF counts as the CRLF it becomes: 998 octets
 * and LF are a line of 1000, 999 and LF too long; empty LF lines double */
static void test_lf_line_length(void **state)
{
    static char in[2100];
    struct result r;

    (void)state;
    bare_lf = true;
    for (size_t text = 998; text <= 999; text++) {
        memset(in, 'x', text);
        memcpy(in + text, "\n.\r\n\r\n.\r\n", 10);
        r = check_all_splits(SMTPD_DATA_DOT, in, text + 10, false);
        assert_int_equal(r.errs, text == 998 ? 0 : LONG);
        assert_true(r.done);
        if (r.errs == 0) {
            assert_int_equal(r.outlen, 1000 + 4);
            assert_memory_equal(r.out + 998, "\r\n\r\n\r\n", 6);
        }
        free(r.out);
    }
    memset(in, '\n', 1000);
    memcpy(in + 1000, "\r\n.\r\n", 5);
    r = check_all_splits(SMTPD_DATA_DOT, in, 1005, false);
    assert_int_equal(r.errs, 0);
    assert_int_equal(r.outlen, 2002); /* 1000 bare LFs, then the empty CRLF line */
    free(r.out);
    bare_lf = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_octet_at_every_offset),
        cmocka_unit_test(test_line_length),
        cmocka_unit_test(test_many_lines),
        cmocka_unit_test(test_reply),
        cmocka_unit_test(test_lf_table),
        cmocka_unit_test(test_lf_smuggling),
        cmocka_unit_test(test_lf_line_length),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
