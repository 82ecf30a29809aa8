/*
 * test_smtpd_parse.c - table tests of the SMTP command and argument parsers
 *
 * Every verb, case and spacing, every error with the reply code it maps
 * to, MAIL parameters, RCPT parameters and BDAT arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "smtpd_parse.h"

#define OK SMTPD_P_OK

/* ---- smtpd_cmd_parse ---- */

struct cmd_case {
    const char *line;
    size_t len; /* 0: strlen */
    enum smtpd_perr err;
    enum smtpd_verb verb;
    const char *arg; /* expected argument when the verb is known */
};

static const struct cmd_case cmd_cases[] = {
    {"HELO client.example", 0, OK, SMTP_HELO, "client.example"},
    {"helo client.example", 0, OK, SMTP_HELO, "client.example"},
    {"EhLo  client.example  ", 0, OK, SMTP_EHLO, "client.example"},
    {"EHLO", 0, OK, SMTP_EHLO, ""},
    {"MAIL FROM:<a@b>", 0, OK, SMTP_MAIL, "FROM:<a@b>"},
    {"mail from:<a@b> SIZE=10", 0, OK, SMTP_MAIL, "from:<a@b> SIZE=10"},
    {"RCPT TO:<a@b>", 0, OK, SMTP_RCPT, "TO:<a@b>"},
    {"RCPT TO:<\xc3\xbc@b>", 0, OK, SMTP_RCPT, "TO:<\xc3\xbc@b>"},
    {"DATA", 0, OK, SMTP_DATA, ""},
    {"data", 0, OK, SMTP_DATA, ""},
    {"DATA  ", 0, OK, SMTP_DATA, ""},
    {"DATA x", 0, SMTPD_P_SYNTAX, SMTP_DATA, "x"},
    {"BDAT 10 LAST", 0, OK, SMTP_BDAT, "10 LAST"},
    {"bdat 0", 0, OK, SMTP_BDAT, "0"},
    {"RSET", 0, OK, SMTP_RSET, ""},
    {"RSET now", 0, SMTPD_P_SYNTAX, SMTP_RSET, "now"},
    {"NOOP", 0, OK, SMTP_NOOP, ""},
    {"noop anything at all", 0, OK, SMTP_NOOP, "anything at all"},
    {"QUIT", 0, OK, SMTP_QUIT, ""},
    {"Quit", 0, OK, SMTP_QUIT, ""},
    {"QUIT now", 0, SMTPD_P_SYNTAX, SMTP_QUIT, "now"},
    {"VRFY", 0, OK, SMTP_VRFY, ""},
    {"VRFY user", 0, OK, SMTP_VRFY, "user"},
    {"HELP", 0, OK, SMTP_HELP, ""},
    {"HELP MAIL", 0, OK, SMTP_HELP, "MAIL"},
    {"EXPN list", 0, SMTPD_P_NOT_IMPLEMENTED, SMTP_EXPN, "list"},
    {"STARTTLS", 0, SMTPD_P_OK, SMTP_STARTTLS, ""},
    {"starttls now", 0, SMTPD_P_SYNTAX, SMTP_STARTTLS, "now"},
    {"auth PLAIN AGZvbwBiYXI=", 0, SMTPD_P_NOT_IMPLEMENTED, SMTP_AUTH, "PLAIN AGZvbwBiYXI="},
    /* Unknown. */
    {"FOO", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {" DATA", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"MAILFROM:<a@b>", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"MAIL:FROM", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"DATAX", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"HEL", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    {"GET / HTTP/1.0", 0, SMTPD_P_UNKNOWN, SMTP_UNKNOWN, NULL},
    /* Control octets anywhere, 8-bit in the verb. */
    {"DATA\0", 5, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"\0DATA", 5, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"NOOP \x01", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"NOOP \x7f", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"NOOP\tx", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"MAIL FROM:<a@b>\r", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"RCPT TO:<a@b>\nDATA", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"MA\xc3\x8fL FROM:<a@b>", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
    {"\xff", 0, SMTPD_P_BAD_CHARS, SMTP_UNKNOWN, NULL},
};

/* test_cmd - verbs, spacing, errors */
static void test_cmd(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cmd_cases) / sizeof(cmd_cases[0]); i++) {
        const struct cmd_case *c = &cmd_cases[i];
        size_t len = c->len ? c->len : strlen(c->line);
        struct smtpd_cmd cmd;

        print_message("cmd case %zu: %s\n", i, c->line);
        assert_int_equal(smtpd_cmd_parse(c->line, len, &cmd), c->err);
        assert_int_equal(cmd.verb, c->verb);
        if (c->arg) {
            assert_int_equal(cmd.arglen, strlen(c->arg));
            assert_memory_equal(cmd.arg, c->arg, cmd.arglen);
        }
    }
}

/* test_verb_names - every verb's name parses back to the verb */
static void test_verb_names(void **state)
{
    struct smtpd_cmd cmd;
    int v;

    (void)state;
    assert_string_equal(smtpd_verb_name(SMTP_UNKNOWN), "UNKNOWN");
    assert_string_equal(smtpd_verb_name((enum smtpd_verb)1000), "UNKNOWN");
    assert_string_equal(smtpd_verb_name(SMTP_MAIL), "MAIL");
    assert_string_equal(smtpd_verb_name(SMTP_STARTTLS), "STARTTLS");
    for (v = SMTP_HELO; v <= SMTP_AUTH; v++) {
        const char *name = smtpd_verb_name((enum smtpd_verb)v);

        assert_string_not_equal(name, "UNKNOWN");
        smtpd_cmd_parse(name, strlen(name), &cmd);
        assert_int_equal(cmd.verb, v);
    }
}

/* ---- smtpd_helo_parse ---- */

struct helo_case {
    const char *arg;
    size_t cap;
    enum smtpd_perr err;
};

static const struct helo_case helo_cases[] = {
    {"mx.example.com", 256, OK},
    {"[192.0.2.1]", 256, OK},
    {"[IPv6:::1]", 256, OK},
    {"under_score.example", 256, OK}, /* lenient, like Postfix */
    {"localhost", 256, OK},
    {"x", 2, OK},
    {"xy", 2, SMTPD_P_HELO_SYNTAX}, /* does not fit the caller's buffer */
    {"", 256, SMTPD_P_HELO_SYNTAX},
    {"a b", 256, SMTPD_P_HELO_SYNTAX},
    {"a\tb", 256, SMTPD_P_HELO_SYNTAX},
    {"\xc3\xbc.example", 256, SMTPD_P_HELO_SYNTAX},
    {"a\x7f", 256, SMTPD_P_HELO_SYNTAX},
};

/* test_helo - the lenient HELO/EHLO argument check */
static void test_helo(void **state)
{
    char out[DD_HELO_MAX + 2], longarg[DD_HELO_MAX + 2];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(helo_cases) / sizeof(helo_cases[0]); i++) {
        const struct helo_case *c = &helo_cases[i];
        enum smtpd_perr e;

        print_message("helo case %zu: %s\n", i, c->arg);
        e = smtpd_helo_parse(c->arg, strlen(c->arg), out, c->cap);
        assert_int_equal(e, c->err);
        if (e == OK)
            assert_string_equal(out, c->arg);
    }
    memset(longarg, 'h', sizeof(longarg));
    assert_int_equal(smtpd_helo_parse(longarg, DD_HELO_MAX, out, sizeof(out)), OK);
    assert_int_equal(strlen(out), DD_HELO_MAX);
    assert_int_equal(smtpd_helo_parse(longarg, DD_HELO_MAX + 1, out, sizeof(out)),
                     SMTPD_P_HELO_SYNTAX);
}

/* ---- smtpd_mail_parse ---- */

struct mail_case {
    const char *arg;
    enum smtpd_perr err;
    const char *addr; /* when OK */
    bool has_size;
    uint64_t size;
    enum smtpd_body body;
    bool smtputf8;
};

#define B7 SMTP_BODY_7BIT
#define B8 SMTP_BODY_8BITMIME

static const struct mail_case mail_cases[] = {
    {"FROM:<a@b>", OK, "a@b", false, 0, B7, false},
    {"from:<A@B>", OK, "A@b", false, 0, B7, false},
    {"FROM: <a@b>", OK, "a@b", false, 0, B7, false},
    {"FROM:<a@b> ", OK, "a@b", false, 0, B7, false},
    {"FROM:<>", OK, "", false, 0, B7, false},
    {"FROM:<> SIZE=100", OK, "", true, 100, B7, false},
    {"FROM:<a@b> SIZE=0", OK, "a@b", true, 0, B7, false},
    {"FROM:<a@b> size=18446744073709551615", OK, "a@b", true, UINT64_MAX, B7, false},
    {"FROM:<a@b> BODY=8BITMIME", OK, "a@b", false, 0, B8, false},
    {"FROM:<a@b> body=7bit", OK, "a@b", false, 0, B7, false},
    {"FROM:<a@b> SMTPUTF8", OK, "a@b", false, 0, B7, true},
    {"FROM:<\xc3\xbc@b> SMTPUTF8", OK, "\xc3\xbc@b", false, 0, B7, true},
    {"FROM:<a@b>  SIZE=1  BODY=8BITMIME  smtputf8", OK, "a@b", true, 1, B8, true},
    {"FROM:<@r1,@r2:a@b> SIZE=5", OK, "a@b", true, 5, B7, false},
    {"FROM:<\"a b\"@b>", OK, "\"a b\"@b", false, 0, B7, false},
    /* SIZE. */
    {"FROM:<a@b> SIZE=18446744073709551616", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=99999999999999999999999", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=12a", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=-1", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=+1", SMTPD_P_BAD_SIZE, NULL, false, 0, B7, false},
    /* BODY. */
    {"FROM:<a@b> BODY=BINARYMIME", SMTPD_P_BAD_BODY, NULL, false, 0, B7, false},
    {"FROM:<a@b> BODY=8BIT", SMTPD_P_BAD_BODY, NULL, false, 0, B7, false},
    {"FROM:<a@b> BODY=", SMTPD_P_BAD_BODY, NULL, false, 0, B7, false},
    {"FROM:<a@b> BODY", SMTPD_P_BAD_BODY, NULL, false, 0, B7, false},
    /* SMTPUTF8 takes no value. */
    {"FROM:<a@b> SMTPUTF8=yes", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    /* Duplicates. */
    {"FROM:<a@b> SIZE=1 SIZE=2", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> BODY=7BIT body=8BITMIME", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> SMTPUTF8 smtputf8", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    /* Parameters we do not offer. */
    {"FROM:<a@b> AUTH=<>", SMTPD_P_BAD_PARAM, NULL, false, 0, B7, false},
    {"FROM:<a@b> RET=HDRS", SMTPD_P_BAD_PARAM, NULL, false, 0, B7, false},
    {"FROM:<a@b> ENVID=x", SMTPD_P_BAD_PARAM, NULL, false, 0, B7, false},
    {"FROM:<a@b> XFOO", SMTPD_P_BAD_PARAM, NULL, false, 0, B7, false},
    {"FROM:<a@b> SIZE=1 XFOO", SMTPD_P_BAD_PARAM, NULL, false, 0, B7, false},
    /* Parameter syntax. */
    {"FROM:<a@b>SIZE=1", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> =x", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> -X", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> X_Y", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> X=a=b", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM:<a@b> X=\x01", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    /* The "FROM:" keyword. */
    {"TO:<a@b>", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"FROM <a@b>", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    {"", SMTPD_P_SYNTAX, NULL, false, 0, B7, false},
    /* Bad sender addresses. */
    {"FROM:", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:a@b", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:  <a@b>", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:<a@b@c>", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:<postmaster>", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:<a@b", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
    {"FROM:<a..b@c>", SMTPD_P_BAD_SENDER, NULL, false, 0, B7, false},
};

/* mentions_body - arg has a "BODY=" parameter (any case) */
static bool mentions_body(const char *arg)
{
    for (const char *p = arg; *p; p++)
        if (strncasecmp(p, " BODY=", 6) == 0)
            return true;
    return false;
}

/* test_mail - MAIL FROM arguments and parameters */
static void test_mail(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(mail_cases) / sizeof(mail_cases[0]); i++) {
        const struct mail_case *c = &mail_cases[i];
        struct smtpd_mail m;
        enum smtpd_perr e;

        print_message("mail case %zu: %s\n", i, c->arg);
        e = smtpd_mail_parse(c->arg, strlen(c->arg), &m);
        assert_int_equal(e, c->err);
        if (e != OK)
            continue;
        assert_string_equal(m.from.addr, c->addr);
        assert_int_equal(m.from.null, c->addr[0] == 0);
        assert_int_equal(m.has_size, c->has_size);
        assert_true(m.size == c->size);
        assert_int_equal(m.body, c->body);
        assert_int_equal(m.has_body, mentions_body(c->arg));
        assert_int_equal(m.smtputf8, c->smtputf8);
    }
}

/* ---- smtpd_rcpt_parse ---- */

struct rcpt_case {
    const char *arg;
    enum smtpd_perr err;
    const char *addr;
};

static const struct rcpt_case rcpt_cases[] = {
    {"TO:<a@b>", OK, "a@b"},
    {"to:<A@B>", OK, "A@b"},
    {"To: <a@b>", OK, "a@b"},
    {"TO:<a@b>  ", OK, "a@b"},
    {"TO:<@r:a@b>", OK, "a@b"},
    {"TO:<\"u@ext\"@ours>", OK, "\"u@ext\"@ours"},
    {"TO:<u%ext@ours>", OK, "u%ext@ours"},
    {"TO:<ext!u@ours>", OK, "ext!u@ours"},
    {"TO:<u@[192.0.2.1]>", OK, "u@[192.0.2.1]"},
    {"TO:<>", SMTPD_P_NULL_RCPT, NULL},
    {"TO:<> NOTIFY=NEVER", SMTPD_P_NULL_RCPT, NULL},
    {"TO:<postmaster>", SMTPD_P_BAD_RCPT, NULL},
    {"TO:<u@x@ours>", SMTPD_P_BAD_RCPT, NULL},
    {"TO:u@ours", SMTPD_P_BAD_RCPT, NULL},
    {"TO:", SMTPD_P_BAD_RCPT, NULL},
    {"TO:  <a@b>", SMTPD_P_BAD_RCPT, NULL},
    {"TO:<a@b> NOTIFY=NEVER", SMTPD_P_BAD_PARAM, NULL},
    {"TO:<a@b> ORCPT=rfc822;a@b", SMTPD_P_BAD_PARAM, NULL},
    {"TO:<a@b>x", SMTPD_P_SYNTAX, NULL},
    {"FROM:<a@b>", SMTPD_P_SYNTAX, NULL},
    {"TO", SMTPD_P_SYNTAX, NULL},
    {"", SMTPD_P_SYNTAX, NULL},
};

/* test_rcpt - RCPT TO arguments */
static void test_rcpt(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(rcpt_cases) / sizeof(rcpt_cases[0]); i++) {
        const struct rcpt_case *c = &rcpt_cases[i];
        struct smtpd_rcpt r;
        enum smtpd_perr e;

        print_message("rcpt case %zu: %s\n", i, c->arg);
        e = smtpd_rcpt_parse(c->arg, strlen(c->arg), &r);
        assert_int_equal(e, c->err);
        if (e == OK)
            assert_string_equal(r.to.addr, c->addr);
    }
}

/* test_too_long - local part, domain and path limits all give PATH_TOO_LONG */
static void test_too_long(void **state)
{
    static const struct {
        const char *prefix;
        size_t local, domain;
        enum smtpd_perr err;
    } cases[] = {
        {"FROM:", 64, 10, OK},
        {"FROM:", 65, 10, SMTPD_P_PATH_TOO_LONG},
        {"FROM:", 1, 300, SMTPD_P_PATH_TOO_LONG},
        {"FROM:", 64, 190, SMTPD_P_PATH_TOO_LONG},
        {"TO:", 64, 10, OK},
        {"TO:", 65, 10, SMTPD_P_PATH_TOO_LONG},
        {"TO:", 1, 300, SMTPD_P_PATH_TOO_LONG},
        {"TO:", 64, 190, SMTPD_P_PATH_TOO_LONG},
    };
    char buf[1024];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = (size_t)snprintf(buf, sizeof(buf), "%s<", cases[i].prefix), d;
        struct smtpd_mail m;
        struct smtpd_rcpt r;

        memset(buf + n, 'l', cases[i].local);
        n += cases[i].local;
        buf[n++] = '@';
        for (d = 0; d < cases[i].domain; d++) /* labels of 9 letters */
            buf[n++] = (d % 10 == 9 && d + 1 < cases[i].domain) ? '.' : 'd';
        buf[n++] = '>';
        print_message("too long case %zu\n", i);
        if (cases[i].prefix[0] == 'F')
            assert_int_equal(smtpd_mail_parse(buf, n, &m), cases[i].err);
        else
            assert_int_equal(smtpd_rcpt_parse(buf, n, &r), cases[i].err);
    }
}

/* ---- smtpd_bdat_parse ---- */

struct bdat_case {
    const char *arg;
    enum smtpd_perr err;
    uint64_t size;
    bool last;
};

static const struct bdat_case bdat_cases[] = {
    {"10", OK, 10, false},
    {"0", OK, 0, false},
    {"10 LAST", OK, 10, true},
    {"0 last", OK, 0, true},
    {"10  LaSt", OK, 10, true},
    {"10 LAST ", OK, 10, true},
    {"10 ", OK, 10, false},
    {"007", OK, 7, false},
    {"9223372036854775808", OK, UINT64_C(9223372036854775808), false},
    {"9223372036854775809", SMTPD_P_BAD_BDAT, 0, false},
    {"99999999999999999999999", SMTPD_P_BAD_BDAT, 0, false},
    {"", SMTPD_P_BAD_BDAT, 0, false},
    {"LAST", SMTPD_P_BAD_BDAT, 0, false},
    {" 10", SMTPD_P_BAD_BDAT, 0, false},
    {"-1", SMTPD_P_BAD_BDAT, 0, false},
    {"+1", SMTPD_P_BAD_BDAT, 0, false},
    {"1x", SMTPD_P_BAD_BDAT, 0, false},
    {"10LAST", SMTPD_P_BAD_BDAT, 0, false},
    {"10 LASTX", SMTPD_P_BAD_BDAT, 0, false},
    {"10 LAS", SMTPD_P_BAD_BDAT, 0, false},
    {"10 LAST x", SMTPD_P_BAD_BDAT, 0, false},
    {"10 FIRST", SMTPD_P_BAD_BDAT, 0, false},
    {"10 20", SMTPD_P_BAD_BDAT, 0, false},
};

/* test_bdat - BDAT size and LAST */
static void test_bdat(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bdat_cases) / sizeof(bdat_cases[0]); i++) {
        const struct bdat_case *c = &bdat_cases[i];
        uint64_t size = 1;
        bool last = true;
        enum smtpd_perr e;

        print_message("bdat case %zu: %s\n", i, c->arg);
        e = smtpd_bdat_parse(c->arg, strlen(c->arg), &size, &last);
        assert_int_equal(e, c->err);
        if (e == OK) {
            assert_true(size == c->size);
            assert_int_equal(last, c->last);
        }
    }
}

/* ---- smtpd_parse_reply ---- */

static const struct {
    enum smtpd_perr err;
    const char *prefix;
} reply_cases[] = {
    {SMTPD_P_OK, "250 2.0.0 "},
    {SMTPD_P_UNKNOWN, "500 5.5.1 Command unrecognized"},
    {SMTPD_P_SYNTAX, "501 5.5.4 "},
    {SMTPD_P_NOT_IMPLEMENTED, "502 5.5.1 Command not implemented"},
    {SMTPD_P_BAD_CHARS, "500 5.5.2 Invalid characters in command"},
    {SMTPD_P_HELO_SYNTAX, "501 5.5.4 "},
    {SMTPD_P_BAD_SENDER, "501 5.1.7 Bad sender address syntax"},
    {SMTPD_P_BAD_RCPT, "501 5.1.3 Bad recipient address syntax"},
    {SMTPD_P_NULL_RCPT, "501 5.1.3 "},
    {SMTPD_P_PATH_TOO_LONG, "501 5.1.0 Address too long"},
    {SMTPD_P_BAD_PARAM, "555 5.5.4 Unsupported parameter"},
    {SMTPD_P_BAD_SIZE, "501 5.5.4 "},
    {SMTPD_P_BAD_BODY, "501 5.5.4 "},
    {SMTPD_P_BAD_BDAT, "501 5.5.4 "},
    {SMTPD_P__COUNT, "501 5.5.4 "},
    {(enum smtpd_perr) - 1, "501 5.5.4 "},
};

/* test_replies - each outcome's reply line: code, enhanced code, no CRLF */
static void test_replies(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(reply_cases) / sizeof(reply_cases[0]); i++) {
        const char *r = smtpd_parse_reply(reply_cases[i].err);

        print_message("reply case %zu: %s\n", i, r);
        assert_non_null(r);
        assert_memory_equal(r, reply_cases[i].prefix, strlen(reply_cases[i].prefix));
        assert_null(strpbrk(r, "\r\n"));
        assert_true(strlen(r) > 10 && strlen(r) < 100);
        /* The enhanced code's class matches the reply's (RFC 3463). */
        assert_int_equal(r[0], r[4]);
    }
    assert_int_equal(sizeof(reply_cases) / sizeof(reply_cases[0]), SMTPD_P__COUNT + 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cmd),  cmocka_unit_test(test_verb_names),
        cmocka_unit_test(test_helo), cmocka_unit_test(test_mail),
        cmocka_unit_test(test_rcpt), cmocka_unit_test(test_too_long),
        cmocka_unit_test(test_bdat), cmocka_unit_test(test_replies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
