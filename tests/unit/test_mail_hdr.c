/*
 * test_mail_hdr.c - table tests of the header section classifier and of
 * the Received:, Message-ID: and date builders
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "mail_hdr.h"

#define F MAIL_HDR_FIELD
#define BLANK MAIL_HDR_END_BLANK
#define BODY MAIL_HDR_END_BODY
#define MAXL 8

struct hdr_case {
    const char *lines[MAXL]; /* NULL-terminated */
    enum mail_hdr_kind kinds[MAXL];
    unsigned received;
    bool message_id;
};

static const struct hdr_case hdr_cases[] = {
    {{"Subject: x\r\n", "\r\n"}, {F, BLANK}, 0, false},
    {{"Subject: x\r\n", " folded\r\n", "\tmore\r\n", "\r\n"}, {F, F, F, BLANK}, 0, false},
    {{" leading space\r\n"}, {BODY}, 0, false},
    {{"\tleading tab\r\n"}, {BODY}, 0, false},
    {{"\r\n"}, {BLANK}, 0, false},
    {{"not a header\r\n"}, {BODY}, 0, false},
    {{"From a@b Sat Jan  3 01:05:34 1996\r\n"}, {BODY}, 0, false},
    {{":no name\r\n"}, {BODY}, 0, false},
    {{"X-\x80: eight bit name\r\n"}, {BODY}, 0, false},
    {{"X-\x01: control\r\n"}, {BODY}, 0, false},
    {{"NoColon\r\n"}, {BODY}, 0, false},
    {{"\n"}, {BODY}, 0, false},
    {{"Subject:\r\n", "\r\n"}, {F, BLANK}, 0, false},
    {{"Subject : obsolete form\r\n", "\r\n"}, {F, BLANK}, 0, false},
    {{"Subject:no CRLF"}, {F}, 0, false},
    {{"X-~!#$%&'*+-.^_`|{}[]\"<>?/=;,@(): all printable\r\n"}, {F}, 0, false},
    {{"From: a@b\r\n", "body line\r\n"}, {F, BODY}, 0, false},
    {{"From: a@b\r\n", "\r\n", "Received: after the header\r\n"}, {F, BLANK, BODY}, 0, false},
    {{"From: a@b\r\n", "body\r\n", "Message-ID: <late@x>\r\n"}, {F, BODY, BODY}, 0, false},
    /* Received: counted without case; look-alike names are not counted. */
    {{"Received: a\r\n", "received: b\r\n", " cont\r\n", "RECEIVED: c\r\n", "Received-SPF: p\r\n",
      "X-Received: n\r\n", "Received :d\r\n", "\r\n"},
     {F, F, F, F, F, F, F, BLANK},
     4,
     false},
    /* Message-ID: noticed without case. */
    {{"Message-ID: <a@b>\r\n", "\r\n"}, {F, BLANK}, 0, true},
    {{"message-id: <a@b>\r\n"}, {F}, 0, true},
    {{"Message-Id: <a@b>\r\n"}, {F}, 0, true},
    {{"Message-IDs: <a@b>\r\n", "Resent-Message-ID: <a@b>\r\n"}, {F, F}, 0, false},
    {{"X: y\r\n", " Message-ID: <a@b>\r\n"}, {F, F}, 0, false},
};

/* test_lines - classification, counts, and the end of the header section */
static void test_lines(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < sizeof(hdr_cases) / sizeof(hdr_cases[0]); i++) {
        const struct hdr_case *c = &hdr_cases[i];
        struct mail_hdr h;
        bool ended = false;

        print_message("hdr case %zu\n", i);
        mail_hdr_init(&h);
        assert_true(h.in_header);
        for (j = 0; j < MAXL && c->lines[j]; j++) {
            enum mail_hdr_kind k = mail_hdr_line(&h, c->lines[j], strlen(c->lines[j]));

            print_message("  line %zu\n", j);
            assert_int_equal(k, c->kinds[j]);
            if (k != MAIL_HDR_FIELD)
                ended = true;
            assert_int_equal(h.in_header, !ended);
        }
        assert_int_equal(h.received, c->received);
        assert_int_equal(h.message_id, c->message_id);
    }
}

struct msgid_case {
    const char *lines[MAXL]; /* NULL-terminated */
    const char *want;        /* NULL: none */
};

static const struct msgid_case msgid_cases[] = {
    {{"Message-ID: <a@b>\r\n", "\r\n"}, "<a@b>"},
    {{"message-id:<a@b>\r\n"}, "<a@b>"},
    {{"Message-Id : <a@b>\r\n"}, "<a@b>"},
    {{"Message-ID: \t<a@b> \t\r\n"}, "<a@b>"},
    /* Folded: the value is on the continuation line(s). */
    {{"Message-ID:\r\n", " <a@b>\r\n", "\r\n"}, "<a@b>"},
    {{"Message-ID:\r\n", "\t<a@b>\r\n", "Subject: x\r\n", " y\r\n"}, "<a@b>"},
    {{"Message-ID:\r\n", " \r\n", " <a@b>\r\n"}, "<a@b>"},
    {{"Message-ID: <a@\r\n", " b>\r\n"}, "<a@ b>"},
    {{"Message-ID: <a@b>\r\n", " (comment)\r\n"}, "<a@b> (comment)"},
    /* The first field only. */
    {{"Message-ID: <a@b>\r\n", "Message-ID: <c@d>\r\n"}, "<a@b>"},
    {{"Message-ID:\r\n", "Subject: x\r\n", "Message-ID: <c@d>\r\n"}, NULL},
    {{"Message-ID: <a@b>\r\n", "Subject: x\r\n", " <c@d>\r\n"}, "<a@b>"},
    /* Not a Message-ID: field, or not in the header section. */
    {{"Subject: x\r\n", " Message-ID: <a@b>\r\n"}, NULL},
    {{"Resent-Message-ID: <r@x>\r\n", "X-Message-ID: <x@x>\r\n"}, NULL},
    {{"From: a@b\r\n", "body\r\n", "Message-ID: <late@x>\r\n"}, NULL},
    {{"From: a@b\r\n", "\r\n", "Message-ID: <late@x>\r\n"}, NULL},
    {{"Message-ID:\r\n", "\r\n", " <body@x>\r\n"}, NULL},
    {{"Message-ID:   \r\n", "\r\n"}, NULL},
};

/* test_msgid - the first Message-ID value, unfolded and trimmed */
static void test_msgid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(msgid_cases) / sizeof(msgid_cases[0]); i++) {
        const struct msgid_case *c = &msgid_cases[i];
        struct mail_hdr h;
        size_t n = 0;

        print_message("msgid case %zu\n", i);
        mail_hdr_init(&h);
        for (size_t j = 0; j < MAXL && c->lines[j] && h.in_header; j++)
            mail_hdr_line(&h, c->lines[j], strlen(c->lines[j]));
        const char *v = mail_hdr_msgid(&h, &n);
        if (c->want == NULL) {
            assert_null(v);
            continue;
        }
        assert_non_null(v);
        assert_int_equal(n, strlen(c->want));
        assert_memory_equal(v, c->want, n);
    }
}

/* test_eight_bit - 8-bit text anywhere in the header section, not the body */
static void test_eight_bit(void **state)
{
    static const struct {
        const char *lines[MAXL];
        bool eight_bit;
    } cases[] = {
        {{"Subject: ascii\r\n", "\r\n",
          "b\xc3\xa9"
          "dy\r\n"},
         false},
        {{"Subject: \xc3\xa9t\xc3\xa9\r\n", "\r\n"}, true},
        {{"Subject: x\r\n", " \xc3\xa9\r\n", "\r\n"}, true},
        {{"To: <j\xc3\xbcrgen@example.test>\r\n"}, true},
        {{"Subject: x\r\n", "not a field \xc3\xa9\r\n"}, false}, /* the body */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct mail_hdr h;

        mail_hdr_init(&h);
        for (size_t j = 0; j < MAXL && cases[i].lines[j] && h.in_header; j++)
            mail_hdr_line(&h, cases[i].lines[j], strlen(cases[i].lines[j]));
        assert_int_equal(h.eight_bit, cases[i].eight_bit);
    }
}

/* test_msgid_bound - a value of DD_MSGID_MAX octets is kept, one more is not
 * (it is never cut short: a cut id would name another message) */
static void test_msgid_bound(void **state)
{
    static char line[DD_MSGID_MAX + 8];

    (void)state;
    for (size_t extra = 0; extra < 2; extra++) {
        struct mail_hdr h;
        size_t n = 0, len = 0;

        mail_hdr_init(&h);
        mail_hdr_line(&h, "Message-ID:\r\n", 13);
        /* two continuation lines: " <" + x... and " x...>" */
        size_t first = DD_MSGID_MAX / 2;
        len = (size_t)snprintf(line, sizeof(line), " <%0*d\r\n", (int)(first - 2), 0);
        mail_hdr_line(&h, line, len);
        size_t rest = DD_MSGID_MAX - first + extra;
        len = (size_t)snprintf(line, sizeof(line), " %0*d>\r\n", (int)(rest - 2), 0);
        mail_hdr_line(&h, line, len);
        mail_hdr_line(&h, "\r\n", 2);
        const char *v = mail_hdr_msgid(&h, &n);
        if (extra) {
            assert_null(v);
            assert_true(h.message_id); /* the message has one: none is added */
        } else {
            assert_non_null(v);
            assert_int_equal(n, DD_MSGID_MAX - 1); /* the leading blank trimmed */
        }
    }
}

/* test_received_limit - a loop of many Received: fields is counted in full */
static void test_received_limit(void **state)
{
    struct mail_hdr h;
    unsigned i;

    (void)state;
    mail_hdr_init(&h);
    for (i = 0; i < 1000; i++)
        assert_int_equal(mail_hdr_line(&h, "Received: x\r\n", 13), MAIL_HDR_FIELD);
    assert_int_equal(h.received, 1000);
    assert_int_equal(mail_hdr_line(&h, "", 0), MAIL_HDR_END_BODY);
    assert_false(h.in_header);
}

struct received_case {
    struct mail_hdr_received r;
    const char *want; /* NULL: must fail */
};

static const struct received_case received_cases[] = {
    {{"client.example", "192.0.2.1", "hub1.example.test", "ESMTP", "4Rk9abcdEFGH12345x",
      "user@example.com", 1795600800, NULL, NULL},
     "Received: from client.example ([192.0.2.1])\r\n"
     "\tby hub1.example.test (dumpsterd) with ESMTP id 4Rk9abcdEFGH12345x\r\n"
     "\tfor <user@example.com>; Wed, 25 Nov 2026 10:00:00 +0000\r\n"},
    {{"client.example", "192.0.2.1", "hub1.example.test", "ESMTP", "Q1", NULL, 1795600800, NULL,
      NULL},
     "Received: from client.example ([192.0.2.1])\r\n"
     "\tby hub1.example.test (dumpsterd) with ESMTP id Q1;\r\n"
     "\tWed, 25 Nov 2026 10:00:00 +0000\r\n"},
    {{"[IPv6:::1]", "::1", "h", "UTF8SMTP", "Q2", "\xc3\xbc@x", 0, NULL, NULL},
     "Received: from [IPv6:::1] ([IPv6:::1])\r\n"
     "\tby h (dumpsterd) with UTF8SMTP id Q2\r\n"
     "\tfor <\xc3\xbc@x>; Thu, 01 Jan 1970 00:00:00 +0000\r\n"},
    {{"c", "IPv6:2001:db8::1", "h", "SMTP", "Q3", NULL, 1709251199, NULL, NULL},
     "Received: from c ([IPv6:2001:db8::1])\r\n"
     "\tby h (dumpsterd) with SMTP id Q3;\r\n"
     "\tThu, 29 Feb 2024 23:59:59 +0000\r\n"},
    {{"c", "10.0.0.1", "h", NULL, "Q4", NULL, 2147483648, NULL, NULL},
     "Received: from c ([10.0.0.1])\r\n"
     "\tby h (dumpsterd) with ESMTP id Q4;\r\n"
     "\tTue, 19 Jan 2038 03:14:08 +0000\r\n"},
    {{"c", "10.0.0.1", "h", "ESMTP", "Q5", NULL, 0, "0.1.0", NULL},
     "Received: from c ([10.0.0.1])\r\n"
     "\tby h (dumpsterd 0.1.0) with ESMTP id Q5;\r\n"
     "\tThu, 01 Jan 1970 00:00:00 +0000\r\n"},
    /* Nothing may inject a header line. */
    {{"c", "10.0.0.1", "h", "ESMTP", "Q", NULL, 0, "1\r\nX-Evil: 1", NULL}, NULL},
    /* After STARTTLS: Postfix's "(using ...)" line. */
    {{"client.example", "192.0.2.1", "hub1.example.test", "ESMTPS", "Q5", "u@example.com",
      1795600800, NULL, "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)"},
     "Received: from client.example ([192.0.2.1])\r\n"
     "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\r\n"
     "\tby hub1.example.test (dumpsterd) with ESMTPS id Q5\r\n"
     "\tfor <u@example.com>; Wed, 25 Nov 2026 10:00:00 +0000\r\n"},
    {{"c", "10.0.0.1", "h", "ESMTPS", "Q", NULL, 0, NULL, "TLSv1.3\r\nX-Evil: 1"}, NULL},
    {{"c\r\nX-Evil: 1", "10.0.0.1", "h", "ESMTP", "Q", NULL, 0, NULL, NULL}, NULL},
    {{"c", "10.0.0.1", "h", "ESMTP", "Q", "a@b>\nX-Evil: 1", 0, NULL, NULL}, NULL},
    {{"c", "10.0.0.1\r", "h", "ESMTP", "Q", NULL, 0, NULL, NULL}, NULL},
    {{NULL, "10.0.0.1", "h", "ESMTP", "Q", NULL, 0, NULL, NULL}, NULL},
    {{"c", NULL, "h", "ESMTP", "Q", NULL, 0, NULL, NULL}, NULL},
    {{"c", "10.0.0.1", NULL, "ESMTP", "Q", NULL, 0, NULL, NULL}, NULL},
    {{"c", "10.0.0.1", "h", "ESMTP", NULL, NULL, 0, NULL, NULL}, NULL},
};

/* test_received - exact output, exact fit, too small, refused inputs */
static void test_received(void **state)
{
    char buf[2048];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(received_cases) / sizeof(received_cases[0]); i++) {
        const struct received_case *c = &received_cases[i];
        size_t n, want;

        print_message("received case %zu\n", i);
        n = mail_hdr_received(buf, sizeof(buf), &c->r);
        if (c->want == NULL) {
            assert_int_equal(n, 0);
            continue;
        }
        want = strlen(c->want);
        assert_int_equal(n, want);
        assert_memory_equal(buf, c->want, want);
        assert_int_equal(mail_hdr_received(buf, want + 1, &c->r), want);
        assert_int_equal(mail_hdr_received(buf, want, &c->r), 0);
        assert_int_equal(mail_hdr_received(buf, 0, &c->r), 0);
    }
}

/* test_received_long - no line of ours reaches the text line limit */
static void test_received_long(void **state)
{
    static char helo[1200], rcpt[400], buf[4096];
    struct mail_hdr_received r = {helo, "192.0.2.1", "h", "ESMTP", "Q", rcpt, 0, NULL, NULL};

    (void)state;
    memset(helo, 'h', 255);
    memset(rcpt, 'r', 321);
    assert_true(mail_hdr_received(buf, sizeof(buf), &r) > 0);
    memset(helo, 'h', 1000);
    assert_int_equal(mail_hdr_received(buf, sizeof(buf), &r), 0);
}

/* test_message_id - exact output and capacity */
static void test_message_id(void **state)
{
    static const char want[] = "Message-ID: <4Rk9abcdEFGH12345x@hub1.example.test>\r\n";
    char buf[128];
    size_t n = sizeof(want) - 1;

    (void)state;
    assert_int_equal(
        mail_hdr_message_id(buf, sizeof(buf), "4Rk9abcdEFGH12345x", "hub1.example.test"), n);
    assert_memory_equal(buf, want, n);
    assert_int_equal(mail_hdr_message_id(buf, n + 1, "4Rk9abcdEFGH12345x", "hub1.example.test"), n);
    assert_int_equal(mail_hdr_message_id(buf, n, "4Rk9abcdEFGH12345x", "hub1.example.test"), 0);
    assert_int_equal(mail_hdr_message_id(buf, sizeof(buf), "Q\r\nX: y", "h"), 0);
    assert_int_equal(mail_hdr_message_id(buf, sizeof(buf), NULL, "h"), 0);
}

/* test_date - fixed instants, including a leap day and past 2038 */
static void test_date(void **state)
{
    static const struct {
        time_t t;
        const char *want;
    } cases[] = {
        {0, "Thu, 01 Jan 1970 00:00:00 +0000"},
        {1000000000, "Sun, 09 Sep 2001 01:46:40 +0000"},
        {1709251199, "Thu, 29 Feb 2024 23:59:59 +0000"},
        {1795600800, "Wed, 25 Nov 2026 10:00:00 +0000"},
        {2147483648, "Tue, 19 Jan 2038 03:14:08 +0000"},
    };
    char buf[64];
    size_t i, n;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        n = strlen(cases[i].want);
        assert_int_equal(mail_hdr_date(buf, sizeof(buf), cases[i].t), n);
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(mail_hdr_date(buf, n + 1, cases[i].t), n);
        assert_int_equal(mail_hdr_date(buf, n, cases[i].t), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),          cmocka_unit_test(test_msgid),
        cmocka_unit_test(test_msgid_bound),    cmocka_unit_test(test_eight_bit),
        cmocka_unit_test(test_received_limit), cmocka_unit_test(test_received),
        cmocka_unit_test(test_received_long),  cmocka_unit_test(test_message_id),
        cmocka_unit_test(test_date),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
