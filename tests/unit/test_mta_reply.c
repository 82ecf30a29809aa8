/*
 * test_mta_reply.c - table tests of the server reply parser
 *
 * Single and multi-line replies, enhanced status codes, every error,
 * the line and line-count bounds (an endless "250-" stream), safe
 * truncation of the kept line, EHLO keyword extraction, and which
 * replies can answer which step of a transaction (mta_reply_in_step).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mta_reply.h"

#define DONE MTA_R_DONE
#define MORE MTA_R_MORE

/* ---- whole replies ---- */

struct reply_case {
    const char *lines[6];       /* fed in order; NULL ends */
    enum mta_reply_status last; /* status of the last line */
    int code;                   /* when the last status is DONE */
    const char *enh;
    const char *text;
};

static const struct reply_case reply_cases[] = {
    {{"250 Ok"}, DONE, 250, "", "Ok"},
    {{"250 2.0.0 Ok: queued as X"}, DONE, 250, "2.0.0", "Ok: queued as X"},
    {{"250"}, DONE, 250, "", ""},
    {{"250 "}, DONE, 250, "", ""},
    {{"221 2.0.0 Bye"}, DONE, 221, "2.0.0", "Bye"},
    {{"354 End data with <CR><LF>.<CR><LF>"}, DONE, 354, "", "End data with <CR><LF>.<CR><LF>"},
    {{"421 4.3.2 Service shutting down"}, DONE, 421, "4.3.2", "Service shutting down"},
    {{"550 5.1.1 <u@x>: Recipient address rejected"},
     DONE,
     550,
     "5.1.1",
     "<u@x>: Recipient address rejected"},
    {{"599 5.999.999 max"}, DONE, 599, "5.999.999", "max"},
    {{"200 2.0.0"}, DONE, 200, "2.0.0", ""},
    {{"452 4.5.3  two spaces"}, DONE, 452, "4.5.3", "two spaces"},
    /* Enhanced codes that are not taken. */
    {{"250 5.0.0 class differs"}, DONE, 250, "", "5.0.0 class differs"},
    {{"354 3.0.0 no class 3"}, DONE, 354, "", "3.0.0 no class 3"},
    {{"550 5.1000.1 subject too long"}, DONE, 550, "", "5.1000.1 subject too long"},
    {{"550 5.1.1000 detail too long"}, DONE, 550, "", "5.1.1000 detail too long"},
    {{"550 5..1 empty subject"}, DONE, 550, "", "5..1 empty subject"},
    {{"550 5.1. empty detail"}, DONE, 550, "", "5.1. empty detail"},
    {{"550 5.1.1x glued"}, DONE, 550, "", "5.1.1x glued"},
    {{"550 5.1"}, DONE, 550, "", "5.1"},
    {{"550  5.1.1 two spaces before"}, DONE, 550, "", " 5.1.1 two spaces before"},
    /* Multi-line: the final line decides. */
    {{"250-first", "250-second", "250 2.1.0 last"}, DONE, 250, "2.1.0", "last"},
    {{"250-", "250"}, DONE, 250, "", ""},
    {{"550-5.1.1 first", "550 no code here"}, DONE, 550, "", "no code here"},
    {{"250-one"}, MORE, 0, NULL, NULL},
    /* Errors. */
    {{""}, MTA_R_NO_CODE, 0, NULL, NULL},
    {{"25"}, MTA_R_NO_CODE, 0, NULL, NULL},
    {{"abc Ok"}, MTA_R_BAD_CODE, 0, NULL, NULL},
    {{"25O Ok"}, MTA_R_BAD_CODE, 0, NULL, NULL},
    {{" 250 Ok"}, MTA_R_BAD_CODE, 0, NULL, NULL},
    {{"-250 Ok"}, MTA_R_BAD_CODE, 0, NULL, NULL},
    {{"199 Ok"}, MTA_R_CODE_RANGE, 0, NULL, NULL},
    {{"600 Ok"}, MTA_R_CODE_RANGE, 0, NULL, NULL},
    {{"099 Ok"}, MTA_R_CODE_RANGE, 0, NULL, NULL},
    {{"250-a", "251 b"}, MTA_R_CODE_MISMATCH, 0, NULL, NULL},
    {{"250-a", "550-b"}, MTA_R_CODE_MISMATCH, 0, NULL, NULL},
    {{"250Ok"}, MTA_R_BAD_SEP, 0, NULL, NULL},
    {{"250_Ok"}, MTA_R_BAD_SEP, 0, NULL, NULL},
    {{"250\tOk"}, MTA_R_BAD_SEP, 0, NULL, NULL},
    {{"2500 Ok"}, MTA_R_BAD_SEP, 0, NULL, NULL},
    {{"250-a", "x"}, MTA_R_NO_CODE, 0, NULL, NULL},
    /* An error sticks: later lines do not revive the reply. */
    {{"bad", "250 Ok"}, MTA_R_BAD_CODE, 0, NULL, NULL},
};

/* test_replies - each case's lines, then its outcome */
static void test_replies(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const struct reply_case *c = &reply_cases[i];
        enum mta_reply_status st = MTA_R__COUNT;
        struct mta_reply r;

        print_message("reply case %zu: %s\n", i, c->lines[0]);
        mta_reply_init(&r);
        for (j = 0; j < 6 && c->lines[j]; j++) {
            if (j > 0 && c->last != MTA_R_BAD_CODE)
                assert_int_equal(st, MORE);
            st = mta_reply_feed(&r, c->lines[j], strlen(c->lines[j]));
        }
        assert_int_equal(st, c->last);
        assert_int_equal(r.err, st == DONE || st == MORE ? DONE : st);
        assert_int_equal(r.done, st == DONE);
        if (st != DONE)
            continue;
        assert_int_equal(r.code, c->code);
        assert_string_equal(r.enh, c->enh);
        assert_string_equal(mta_reply_text(&r), c->text);
        assert_string_equal(r.line, c->lines[j - 1]);
        assert_int_equal(r.lines, j);
    }
}

/* test_next_reply - a feed after the final line starts the next reply */
static void test_next_reply(void **state)
{
    struct mta_reply r;

    (void)state;
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, "250-a", 5), MORE);
    assert_int_equal(mta_reply_feed(&r, "250 2.0.0 b", 11), DONE);
    assert_int_equal(mta_reply_feed(&r, "550 c", 5), DONE);
    assert_int_equal(r.code, 550);
    assert_int_equal(r.lines, 1);
    assert_string_equal(r.enh, "");
    assert_string_equal(r.line, "550 c");
    /* After an error, only init helps. */
    assert_int_equal(mta_reply_feed(&r, "x", 1), MTA_R_NO_CODE);
    assert_int_equal(mta_reply_feed(&r, "250 ok", 6), MTA_R_NO_CODE);
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, "250 ok", 6), DONE);
}

/* ---- bounds ---- */

/* test_line_length - DD_SMTP_REPLY_LINE_MAX octets pass, one more fails;
 * the kept line is cut to fit, never inside a UTF-8 character */
static void test_line_length(void **state)
{
    char line[DD_SMTP_REPLY_LINE_MAX + 2];
    struct mta_reply r;
    size_t n;

    (void)state;
    memset(line, 'x', sizeof(line));
    memcpy(line, "250 ", 4);
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, line, DD_SMTP_REPLY_LINE_MAX), DONE);
    n = strlen(r.line);
    assert_int_equal(n, sizeof(r.line) - 1);
    assert_memory_equal(r.line, line, n);
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, line, DD_SMTP_REPLY_LINE_MAX + 1), MTA_R_TOO_LONG);
    /* A continuation line too long in the middle of a reply. */
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, "250-a", 5), MORE);
    line[3] = '-';
    assert_int_equal(mta_reply_feed(&r, line, DD_SMTP_REPLY_LINE_MAX + 1), MTA_R_TOO_LONG);
    /* "ü" (2 octets) straddling the cut: the whole character goes. */
    line[3] = ' ';
    memcpy(line + sizeof(r.line) - 2, "\xc3\xbc", 2);
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, line, DD_SMTP_REPLY_LINE_MAX), DONE);
    assert_int_equal(strlen(r.line), sizeof(r.line) - 2);
    /* "€" (3 octets) straddling it. */
    memset(line + 4, 'x', sizeof(line) - 4);
    memcpy(line + sizeof(r.line) - 3, "\xe2\x82\xac", 3);
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, line, DD_SMTP_REPLY_LINE_MAX), DONE);
    assert_int_equal(strlen(r.line), sizeof(r.line) - 3);
}

/* test_control_octets - the kept line shows NUL, CR, TAB and DEL as '?' */
static void test_control_octets(void **state)
{
    static const char line[] = "550 5.7.1 a\0b\rc\td\x7f"
                               "e \xc3\xbc";
    struct mta_reply r;

    (void)state;
    mta_reply_init(&r);
    assert_int_equal(mta_reply_feed(&r, line, sizeof(line) - 1), DONE);
    assert_string_equal(r.line, "550 5.7.1 a?b?c?d?e \xc3\xbc");
    assert_string_equal(mta_reply_text(&r), "a?b?c?d?e \xc3\xbc");
    assert_string_equal(r.enh, "5.7.1");
}

/* test_endless - "250-" forever ends at DD_SMTP_REPLY_LINES_MAX lines */
static void test_endless(void **state)
{
    struct mta_reply r;
    unsigned i;

    (void)state;
    mta_reply_init(&r);
    for (i = 0; i < DD_SMTP_REPLY_LINES_MAX - 1; i++)
        assert_int_equal(mta_reply_feed(&r, "250-more", 8), MORE);
    assert_int_equal(mta_reply_feed(&r, "250 last", 8), DONE);
    assert_int_equal(r.lines, DD_SMTP_REPLY_LINES_MAX);
    mta_reply_init(&r);
    for (i = 0; i < DD_SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(mta_reply_feed(&r, "250-more", 8), MORE);
    assert_int_equal(mta_reply_feed(&r, "250-more", 8), MTA_R_TOO_MANY);
    assert_int_equal(mta_reply_feed(&r, "250 last", 8), MTA_R_TOO_MANY);
    mta_reply_init(&r);
    for (i = 0; i < DD_SMTP_REPLY_LINES_MAX; i++)
        assert_int_equal(mta_reply_feed(&r, "250-more", 8), MORE);
    assert_int_equal(mta_reply_feed(&r, "250 last", 8), MTA_R_TOO_MANY);
}

/* ---- EHLO keywords ---- */

struct ehlo_case {
    const char *lines[10];
    unsigned ext;
    uint64_t size;
};

#define PIPE SMTP_EXT_PIPELINING
#define SIZE SMTP_EXT_SIZE
#define MIME SMTP_EXT_8BITMIME
#define ENH SMTP_EXT_ENHANCEDSTATUSCODES
#define CHUNK SMTP_EXT_CHUNKING
#define UTF8 SMTP_EXT_SMTPUTF8
#define TLS SMTP_EXT_STARTTLS

static const struct ehlo_case ehlo_cases[] = {
    {{"250-mx.example Hello", "250-PIPELINING", "250-SIZE 36700160", "250-8BITMIME",
      "250-ENHANCEDSTATUSCODES", "250-CHUNKING", "250-SMTPUTF8", "250 DSN"},
     PIPE | SIZE | MIME | ENH | CHUNK | UTF8,
     36700160},
    {{"250 mx.example"}, 0, 0},
    {{"250-mx.example", "250-STARTTLS", "250 PIPELINING"}, TLS | PIPE, 0},
    {{"250-mx.example", "250 starttls"}, TLS, 0},
    {{"250-mx.example", "250-STARTTLSX", "250 XSTARTTLS"}, 0, 0},
    /* The greeting line is not a keyword. */
    {{"250-PIPELINING", "250 8BITMIME"}, MIME, 0},
    {{"250-mx", "250-pipelining", "250 Size 10"}, PIPE | SIZE, 10},
    {{"250-mx", "250 SIZE"}, SIZE, 0},
    {{"250-mx", "250 SIZE 0"}, SIZE, 0},
    {{"250-mx", "250 SIZE abc"}, SIZE, 0},
    {{"250-mx", "250 SIZE 18446744073709551616"}, SIZE, 0},
    {{"250-mx", "250 SIZE 18446744073709551615"}, SIZE, UINT64_MAX},
    {{"250-mx", "250 SIZE  77"}, SIZE, 77},
    /* Near misses. */
    {{"250-mx", "250-PIPELININGX", "250-XPIPELINING", "250-SIZE=10", "250-8BIT", "250 AUTH PLAIN"},
     0,
     0},
    {{"250-mx", "250-PIPELINING extra", "250 CHUNKING"}, PIPE | CHUNK, 0},
    {{"250-mx", "250-", "250"}, 0, 0},
    /* Not a 2xx reply: nothing is offered. */
    {{"550-mx", "550-PIPELINING", "550 SIZE 10"}, 0, 0},
};

/* test_ehlo - keywords become flags */
static void test_ehlo(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(ehlo_cases) / sizeof(ehlo_cases[0]); i++) {
        const struct ehlo_case *c = &ehlo_cases[i];
        enum mta_reply_status st = MTA_R__COUNT;
        struct mta_reply r;

        print_message("ehlo case %zu: %s\n", i, c->lines[1] ? c->lines[1] : c->lines[0]);
        mta_reply_init(&r);
        for (j = 0; j < 10 && c->lines[j]; j++)
            st = mta_reply_feed(&r, c->lines[j], strlen(c->lines[j]));
        assert_int_equal(st, DONE);
        assert_int_equal(r.ext, c->ext);
        assert_true(r.size == c->size);
    }
}

/* test_strerror - every status has a distinct description */
static void test_strerror(void **state)
{
    int i, j;

    (void)state;
    for (i = 0; i < MTA_R__COUNT; i++) {
        assert_non_null(mta_reply_strerror((enum mta_reply_status)i));
        for (j = 0; j < i; j++)
            assert_string_not_equal(mta_reply_strerror((enum mta_reply_status)i),
                                    mta_reply_strerror((enum mta_reply_status)j));
    }
    assert_string_equal(mta_reply_strerror(MTA_R__COUNT), "unknown reply error");
    assert_string_equal(mta_reply_strerror((enum mta_reply_status) - 1), "unknown reply error");
}

/* ---- replies in step ---- */

static const struct step_case {
    enum mta_step step;
    int code;
    const char *enh;
    bool expected, in_step;
} step_cases[] = {
    /* MAIL: 2xx, 4xx, 5xx; a sequencing error is out of step */
    {MTA_STEP_MAIL, 250, "2.1.0", true, true},
    {MTA_STEP_MAIL, 452, "4.3.1", true, true},
    {MTA_STEP_MAIL, 553, "5.1.8", true, true},
    {MTA_STEP_MAIL, 555, "5.5.4", true, true}, /* a parameter refused */
    {MTA_STEP_MAIL, 501, "5.5.2", true, true}, /* syntax */
    {MTA_STEP_MAIL, 503, "5.5.1", true, false},
    {MTA_STEP_MAIL, 503, "", true, false},
    {MTA_STEP_MAIL, 354, "", true, false},
    /* RCPT: after an accepted MAIL, 503 or X.5.1 means the server missed it */
    {MTA_STEP_RCPT, 250, "2.1.5", true, true},
    {MTA_STEP_RCPT, 251, "", true, true},
    {MTA_STEP_RCPT, 550, "5.1.1", true, true},
    {MTA_STEP_RCPT, 451, "4.3.0", true, true},
    {MTA_STEP_RCPT, 452, "4.5.3", true, true}, /* too many recipients */
    {MTA_STEP_RCPT, 503, "5.5.1", true, false},
    {MTA_STEP_RCPT, 550, "5.5.1", true, false},
    {MTA_STEP_RCPT, 450, "4.5.1", true, false},
    {MTA_STEP_RCPT, 503, "5.5.1", false, true}, /* MAIL failed: 503 is the answer */
    {MTA_STEP_RCPT, 354, "", false, false},     /* never, whatever came before */
    {MTA_STEP_RCPT, 354, "", true, false},
    /* DATA: 354 or a refusal; after an accepted RCPT no X.5.x fits */
    {MTA_STEP_DATA, 354, "", true, true},
    {MTA_STEP_DATA, 451, "4.3.0", true, true},
    {MTA_STEP_DATA, 554, "5.7.1", true, true},
    {MTA_STEP_DATA, 503, "5.5.1", true, false},
    {MTA_STEP_DATA, 554, "5.5.1", true, false},
    {MTA_STEP_DATA, 554, "5.5.0", true, false},
    {MTA_STEP_DATA, 554, "5.5.1", false, true}, /* no valid recipients: right */
    {MTA_STEP_DATA, 503, "", false, true},
    {MTA_STEP_DATA, 250, "2.0.0", true, false},
    {MTA_STEP_DATA, 250, "2.0.0", false, false},
    {MTA_STEP_DATA, 334, "", true, false},
    /* amid the content: an early refusal only */
    {MTA_STEP_CONTENT, 552, "5.3.4", true, true},
    {MTA_STEP_CONTENT, 451, "4.3.0", true, true},
    {MTA_STEP_CONTENT, 250, "2.1.5", true, false},
    {MTA_STEP_CONTENT, 354, "", true, false},
    {MTA_STEP_CONTENT, 503, "5.5.1", true, false},
    /* the end of data */
    {MTA_STEP_DOT, 250, "2.0.0", true, true},
    {MTA_STEP_DOT, 452, "4.2.2", true, true},
    {MTA_STEP_DOT, 554, "5.6.0", true, true},
    {MTA_STEP_DOT, 354, "", true, false},
    {MTA_STEP_DOT, 503, "5.5.1", true, false},
    {MTA_STEP_DOT, 550, "5.5.1", true, false},
    {MTA_STEP_DOT, 550, "5.5.10", true, true}, /* not X.5.1 */
    {MTA_STEP_DOT, 550, "5.15.1", true, true},
};

/* test_in_step - each case's verdict */
static void test_in_step(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(step_cases) / sizeof(step_cases[0]); i++) {
        const struct step_case *c = &step_cases[i];

        if (mta_reply_in_step(c->step, c->code, c->enh, c->expected) != c->in_step)
            fail_msg("step case %zu: step %d, %d %s, expected %d: not %s", i, (int)c->step, c->code,
                     c->enh, (int)c->expected, c->in_step ? "in step" : "out of step");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replies),     cmocka_unit_test(test_next_reply),
        cmocka_unit_test(test_line_length), cmocka_unit_test(test_control_octets),
        cmocka_unit_test(test_endless),     cmocka_unit_test(test_ehlo),
        cmocka_unit_test(test_strerror),    cmocka_unit_test(test_in_step),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
