/*
 * test_dsn.c - table tests of the delivery status notification composer
 *
 * Each case composes a DSN from a variation of one set of parameters and
 * checks the shape every DSN must have (CRLF only, lines <= 998 octets,
 * one header block, three parts, the boundary as delimiter exactly four
 * times, one per-recipient block per listed recipient), then the strings
 * the case wants and the line starts it must never produce (injection).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dsn.h"

#define NOW INT64_C(1795600800123)     /* Wed, 25 Nov 2026 10:00:00 */
#define ARRIVAL INT64_C(1795427999000) /* Mon, 23 Nov 2026 09:59:59 */

static const char hdrs[] = "Received: from client ([192.0.2.1])\r\n"
                           "\tby hub1.example.test (dumpsterd) with ESMTP id Q1;\r\n"
                           "From: Alice <alice@example.org>\r\n"
                           "Subject: quarterly numbers\r\n"
                           "Message-ID: <m1@example.org>\r\n"
                           "\r\n"
                           "BODY-MUST-NOT-APPEAR\r\n";

static const struct dsn_rcpt one[] = {
    {"bob@example.test", "failed", "5.1.1", "mbx1.example.test", "550 5.1.1 <bob>: unknown user",
     ARRIVAL + 60000},
};

static const struct dsn_rcpt two[] = {
    {"bob@example.test", "failed", "5.1.1", "mbx1.example.test", "550 5.1.1 unknown user", 0},
    {"carol@example.test", "delayed", "4.4.1", "", "connect to mbx1: Connection refused",
     ARRIVAL + 1000},
};

static const struct dsn_rcpt delayed[] = {
    {"bob@example.test", "delayed", "4.2.2", "mbx1", "452 4.2.2 mailbox full", NOW - 1000},
};

static const struct dsn_rcpt inject[] = {
    {"bob@example.test\r\nBcc: eve@evil.test", "failed", "5.1.1\r\nX-Evil: 1", "mbx1\nX-Evil: 2",
     "550 no\r\nBcc: eve@evil.test\r\n\r\n--=_dsn_seed1--\r\n", 1},
};

static const struct dsn_rcpt badstatus[] = {
    {"a@example.test", "failed", "550", NULL, NULL, 0},
    {"b@example.test", "delayed", "4.x.1", NULL, NULL, 0},
    {"c@example.test", "failed", "5.1234.1", NULL, NULL, 0},
    {"d@example.test", "failed", "2.0.0", NULL, NULL, 0},
};

static const struct dsn_rcpt utf8[] = {
    {"j\xc3\xbcrgen@example.test", "failed", "5.1.1", NULL, "550 5.1.1 unknown", 0},
};

static const struct dsn_rcpt noaction[] = {
    {"bob@example.test", "relayed", "2.0.0", NULL, NULL, 0},
};

static const struct dsn_rcpt noaddr[] = {
    {NULL, "failed", "5.0.0", NULL, NULL, 0},
};

static char longdiag[3000];
static char longhdrs[3000];
static char bighdrs[DSN_HEADERS_MAX + 4000];
static struct dsn_rcpt longrcpt[1];
static struct dsn_rcpt many[DSN_RCPTS_MAX + 5];

/* One case: the parameters that differ from the base, and what to expect. */
struct dsn_case {
    const char *name;
    const char *sender;
    const struct dsn_rcpt *rcpts;
    size_t nrcpts;
    const char *headers; /* NULL: hdrs */
    size_t headers_len;  /* 0: strlen(headers) */
    const char *seed;
    bool null;            /* dsn_compose must refuse */
    size_t blocks;        /* per-recipient blocks expected */
    const char *want[8];  /* substrings */
    const char *never[4]; /* substrings that must not occur */
};

static const struct dsn_case cases[] = {
    {"one recipient",
     "alice@example.org",
     one,
     1,
     NULL,
     0,
     "seed1",
     false,
     1,
     {"From: MAILER-DAEMON@hub1.example.test\r\n", "To: <alice@example.org>\r\n",
      "Subject: Undelivered Mail Returned to Sender\r\n",
      "Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n", "Message-ID: <seed1@hub1.example.test>\r\n",
      "Auto-Submitted: auto-replied\r\n", "MIME-Version: 1.0\r\n",
      "Content-Type: multipart/report; report-type=delivery-status;\r\n"
      "\tboundary=\"=_dsn_seed1\"\r\n"},
     {"BODY-MUST-NOT-APPEAR", "Content-Transfer-Encoding", NULL}},
    {"per-message and per-recipient fields",
     "alice@example.org",
     one,
     1,
     NULL,
     0,
     "seed1",
     false,
     1,
     {"\r\n\r\nReporting-MTA: dns; hub1.example.test\r\nX-Dumpsterd-Queue-ID: Q1\r\n"
      "X-Dumpsterd-Hub: hub1\r\nX-Dumpsterd-Sender: rfc822; alice@example.org\r\n"
      "Arrival-Date: Mon, 23 Nov 2026 09:59:59 +0000\r\n\r\n"
      "Final-Recipient: rfc822; bob@example.test\r\nAction: failed\r\nStatus: 5.1.1\r\n"
      "Remote-MTA: dns; mbx1.example.test\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 <bob>: unknown user\r\n"
      "Last-Attempt-Date: Mon, 23 Nov 2026 10:00:59 +0000\r\n",
      "Content-Type: message/delivery-status\r\n",
      "Content-Type: text/rfc822-headers\r\n\r\nReceived: from client ([192.0.2.1])\r\n"
      "\tby hub1.example.test (dumpsterd) with ESMTP id Q1;\r\n",
      "Message-ID: <m1@example.org>\r\n\r\n--=_dsn_seed1--\r\n",
      "<bob@example.test>: host mbx1.example.test said: 550 5.1.1 <bob>: unknown user\r\n",
      "queue id Q1.", "Content-Type: text/plain; charset=utf-8\r\n"},
     {NULL}},
    {"two recipients, failed and delayed",
     "alice@example.org",
     two,
     2,
     NULL,
     0,
     "s2",
     false,
     2,
     {"Subject: Undelivered Mail Returned to Sender\r\n",
      "Final-Recipient: rfc822; carol@example.test\r\nAction: delayed\r\nStatus: 4.4.1\r\n"
      "Diagnostic-Code: X-Dumpsterd; connect to mbx1: Connection refused\r\n"
      "Last-Attempt-Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n",
      "Status: 5.1.1\r\nRemote-MTA: dns; mbx1.example.test\r\n"
      "Diagnostic-Code: smtp; 550 5.1.1 unknown user\r\n\r\n",
      "<carol@example.test>: delivery temporarily suspended: connect to mbx1"},
     {"Remote-MTA: dns; \r\n", "Last-Attempt-Date: Thu, 01 Jan 1970"}},
    {"only delayed",
     "alice@example.org",
     delayed,
     1,
     NULL,
     0,
     "s3",
     false,
     1,
     {"Subject: Delayed Mail (still being retried)\r\n", "THIS IS A WARNING ONLY",
      "Action: delayed\r\nStatus: 4.2.2\r\n"},
     {"Undelivered Mail"}},
    {"injection through every input",
     "alice@example.org\r\nBcc: eve@evil.test",
     inject,
     1,
     "X-A: 1\r\nX-B: \x01\x02\x7f\r\nX-C: bare\rCR\r\n",
     0,
     "sinj",
     false,
     1,
     {"To: <alice@example.org  Bcc: eve@evil.test>\r\n",
      "Final-Recipient: rfc822; bob@example.test  Bcc: eve@evil.test\r\n", "Status: 5.0.0\r\n",
      "Remote-MTA: dns; mbx1 X-Evil: 2\r\n", "X-B:    \r\nX-C: bare CR\r\n"},
     {"\nBcc:", "\nX-Evil", "\r\r", "\n\n"}},
    {"malformed status codes",
     "alice@example.org",
     badstatus,
     4,
     NULL,
     0,
     "s4",
     false,
     4,
     {"a@example.test\r\nAction: failed\r\nStatus: 5.0.0\r\n",
      "b@example.test\r\nAction: delayed\r\nStatus: 4.0.0\r\n",
      "c@example.test\r\nAction: failed\r\nStatus: 5.0.0\r\n",
      "d@example.test\r\nAction: failed\r\nStatus: 2.0.0\r\n", "<a@example.test>: delivery failed"},
     {"Remote-MTA", "Diagnostic-Code", "Last-Attempt-Date"}},
    {"UTF-8 recipient: 8bit",
     "alice@example.org",
     utf8,
     1,
     NULL,
     0,
     "s5",
     false,
     1,
     {"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n",
      "Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: 8bit\r\n",
      "boundary=\"=_dsn_s5\"\r\nContent-Transfer-Encoding: 8bit\r\n",
      "Final-Recipient: rfc822; j\xc3\xbcrgen@example.test\r\n"},
     {"text/rfc822-headers\r\nContent-Transfer-Encoding"}},
    {"seed with specials is cleaned",
     "alice@example.org",
     one,
     1,
     NULL,
     0,
     "a b\"c<d>.e\r\n",
     false,
     1,
     {"Message-ID: <a_b_c_d__e__@hub1.example.test>\r\n", "boundary=\"=_dsn_a_b_c_d__e__\""},
     {NULL}},
    {"no headers",
     "alice@example.org",
     one,
     1,
     "",
     0,
     "s6",
     false,
     1,
     {"Content-Type: text/rfc822-headers\r\n\r\n\r\n--=_dsn_s6--\r\n"},
     {NULL}},
    {"headers without CR, without final newline",
     "alice@example.org",
     one,
     1,
     "X-A: 1\nX-B: 2",
     0,
     "s7",
     false,
     1,
     {"\r\nX-A: 1\r\nX-B: 2\r\n\r\n--=_dsn_s7--\r\n"},
     {NULL}},
    {"headers with 8-bit text",
     "alice@example.org",
     one,
     1,
     "Subject: gr\xc3\xbc\xc3\x9f\r\n",
     0,
     "s8",
     false,
     1,
     {"text/rfc822-headers\r\nContent-Transfer-Encoding: 8bit\r\n\r\nSubject: gr\xc3\xbc\xc3\x9f"},
     {"text/plain; charset=utf-8\r\nContent-Transfer-Encoding"}},
    {"long header line cut",
     "alice@example.org",
     one,
     1,
     longhdrs,
     0,
     "s9",
     false,
     1,
     {"X-Long: xxxx"},
     {NULL}},
    {"long diagnostic cut",
     "alice@example.org",
     longrcpt,
     1,
     NULL,
     0,
     "s10",
     false,
     1,
     {"Diagnostic-Code: smtp; 550 5.7.1 yyyy"},
     {NULL}},
    {"huge header section cut at a line",
     "alice@example.org",
     one,
     1,
     bighdrs,
     0,
     "s11",
     false,
     1,
     {"X-Fill: "},
     {"X-Fill-Last"}},
    {"more than DSN_RCPTS_MAX recipients",
     "alice@example.org",
     many,
     DSN_RCPTS_MAX + 5,
     NULL,
     0,
     "s12",
     false,
     DSN_RCPTS_MAX,
     {"X-Dumpsterd-Recipients-Not-Listed: 5\r\n", "... and 5 more recipients, not listed.\r\n",
      "Final-Recipient: rfc822; r999@example.test\r\n"},
     {"r1000@example.test"}},
    /* Refused. */
    {"null sender", "", one, 1, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"NULL sender", NULL, one, 1, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"no recipients", "a@b", one, 0, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"NULL recipients", "a@b", NULL, 1, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"unknown action", "a@b", noaction, 1, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"recipient without address", "a@b", noaddr, 1, NULL, 0, "s", true, 0, {NULL}, {NULL}},
    {"no seed", "a@b", one, 1, NULL, 0, "", true, 0, {NULL}, {NULL}},
    {"NULL seed", "a@b", one, 1, NULL, 0, NULL, true, 0, {NULL}, {NULL}},
    {"boundary in the headers",
     "a@b",
     one,
     1,
     "X-A: --=_dsn_s13\r\n",
     0,
     "s13",
     true,
     0,
     {NULL},
     {NULL}},
    {"boundary in a diagnostic", "a@b", inject, 1, NULL, 0, "seed1", true, 0, {NULL}, {NULL}},
};

/* count - occurrences of needle in hay[0..len) */
static size_t count(const char *hay, size_t len, const char *needle)
{
    size_t n = 0, nl = strlen(needle);
    const char *p = hay, *end = hay + len;

    while ((p = memmem(p, (size_t)(end - p), needle, nl)) != NULL) {
        n++;
        p += nl;
    }
    return n;
}

/* check_lines - CRLF only, no line over DSN_LINE_MAX, no NUL */
static void check_lines(const char *m, size_t len)
{
    size_t i, start = 0;

    assert_true(len >= 2 && m[len - 2] == '\r' && m[len - 1] == '\n');
    assert_int_equal(m[len], 0);
    for (i = 0; i < len; i++) {
        assert_true(m[i] != 0);
        if (m[i] == '\r')
            assert_true(i + 1 < len && m[i + 1] == '\n');
        if (m[i] == '\n') {
            assert_true(i > 0 && m[i - 1] == '\r');
            assert_true(i - 1 - start <= DSN_LINE_MAX);
            start = i + 1;
        }
    }
}

/* check_shape - what every DSN has; the boundary is read from its header */
static void check_shape(const char *m, size_t len, size_t blocks)
{
    static const char *const once[] = {
        "\r\nTo: <",          "\r\nSubject: ",        "\r\nDate: ",
        "\r\nMessage-ID: <",  "\r\nAuto-Submitted: ", "\r\nMIME-Version: 1.0\r\n",
        "\r\nContent-Type: ",
    };
    char delim[128], close[128], boundary[80];
    const char *body = strstr(m, "\r\n\r\n"), *b = strstr(m, "\tboundary=\"=_dsn_");
    size_t i, blen;

    check_lines(m, len);
    assert_memory_equal(m, "From: MAILER-DAEMON@", 20);
    assert_non_null(body);
    for (i = 0; i < sizeof(once) / sizeof(once[0]); i++) /* in the header block */
        assert_int_equal(count(m, (size_t)(body - m) + 2, once[i]), 1);
    assert_int_equal(count(m, len, "\r\nReporting-MTA: dns; "), 1);
    assert_int_equal(count(m, len, "\r\nArrival-Date: "), 1);
    assert_true(b != NULL && b < body);
    b += strlen("\tboundary=\"");
    blen = strcspn(b, "\"");
    assert_true(blen > 6 && blen <= 70 &&
                blen == strspn(b, "=_-0123456789abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"));
    memcpy(boundary, b, blen);
    boundary[blen] = 0;
    assert_int_equal(count(m, len, boundary), 5); /* the header and the four delimiters */
    snprintf(delim, sizeof(delim), "\r\n--%s\r\n", boundary);
    snprintf(close, sizeof(close), "\r\n--%s--\r\n", boundary);
    assert_int_equal(count(m, len, delim), 3);
    assert_int_equal(count(m, len, close), 1);
    assert_int_equal(count(m, len, close + 2) + count(m, len, delim + 2), 4);
    assert_int_equal(len - (size_t)(strstr(m, close) - m), strlen(close)); /* last */
    assert_int_equal(count(m, len, "\r\nFinal-Recipient: rfc822; "), blocks);
    assert_int_equal(count(m, len, "\r\nAction: "), blocks);
    assert_int_equal(count(m, len, "\r\nStatus: "), blocks);
}

/* setup_data - the long and many-recipient inputs */
static void setup_data(void)
{
    static char addrs[DSN_RCPTS_MAX + 5][32];
    size_t i, pos = 0;

    memcpy(longdiag, "550 5.7.1 ", 10);
    memset(longdiag + 10, 'y', sizeof(longdiag) - 11);
    longrcpt[0] = (struct dsn_rcpt){"bob@example.test", "failed", "5.7.1", NULL, longdiag, 0};
    memcpy(longhdrs, "X-Long: ", 8);
    memset(longhdrs + 8, 'x', sizeof(longhdrs) - 11);
    memcpy(longhdrs + sizeof(longhdrs) - 3, "\r\n", 3);
    for (i = 0; i < DSN_RCPTS_MAX + 5; i++) {
        snprintf(addrs[i], sizeof(addrs[i]), "r%zu@example.test", i);
        many[i] = (struct dsn_rcpt){addrs[i], "failed", "5.1.1", "mbx", "550 5.1.1 no", 0};
    }
    while (pos + 100 < DSN_HEADERS_MAX - 20)
        pos += (size_t)snprintf(bighdrs + pos, sizeof(bighdrs) - pos, "X-Fill: %090zu\r\n", pos);
    snprintf(bighdrs + pos, sizeof(bighdrs) - pos, "X-Fill-Last: %0*d\r\n",
             (int)(sizeof(bighdrs) - pos - 20), 1);
}

/* test_compose - every case of the table */
static void test_compose(void **state)
{
    size_t i, j, len;

    (void)state;
    setup_data();
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct dsn_case *c = &cases[i];
        const char *h = c->headers ? c->headers : hdrs;
        struct dsn_params p = {"hub1.example.test",
                               "hub1",
                               "Q1",
                               c->sender,
                               ARRIVAL,
                               NOW,
                               c->rcpts,
                               c->nrcpts,
                               h,
                               c->headers_len ? c->headers_len : strlen(h),
                               c->seed};
        char *m;

        print_message("dsn case %zu: %s\n", i, c->name);
        len = 12345;
        m = dsn_compose(&p, &len);
        if (c->null) {
            assert_null(m);
            assert_int_equal(len, 12345);
            continue;
        }
        assert_non_null(m);
        check_shape(m, len, c->blocks);
        for (j = 0; j < 8 && c->want[j]; j++)
            assert_non_null(memmem(m, len, c->want[j], strlen(c->want[j])));
        for (j = 0; j < 4 && c->never[j]; j++)
            assert_null(memmem(m, len, c->never[j], strlen(c->never[j])));
        free(m);
    }
}

/* test_null_params - NULL params and a NULL len_out */
static void test_null_params(void **state)
{
    struct dsn_params p = {"h.example", NULL, "Q", "a@b", 0, 0, one, 1, NULL, 0, "s"};
    char *m;

    (void)state;
    assert_null(dsn_compose(NULL, NULL));
    m = dsn_compose(&p, NULL); /* no hub name, no headers, no len_out */
    assert_non_null(m);
    assert_non_null(strstr(m, "X-Dumpsterd-Hub: -\r\n"));
    free(m);
    p.hostname = "";
    assert_null(dsn_compose(&p, NULL));
    p.hostname = "h.example";
    p.queue_id = NULL;
    assert_null(dsn_compose(&p, NULL));
    p.queue_id = "Q";
    p.headers_len = 5; /* with NULL headers */
    assert_null(dsn_compose(&p, NULL));
}

/* line_with - the length of the line that starts with prefix, or 0 */
static size_t line_with(const char *m, const char *prefix)
{
    const char *l = strstr(m, prefix);

    return l ? (size_t)(strstr(l, "\r\n") - l) : 0;
}

/* test_line_cut - long values are cut at DSN_LINE_MAX, never inside UTF-8 */
static void test_line_cut(void **state)
{
    static char diag[2000], hdr[2000];
    struct dsn_rcpt r = {"bob@example.test", "failed", "5.1.1", NULL, diag, 0};
    struct dsn_params p = {"h.example", "hub1", "Q", "a@b", 0, 0, &r, 1, hdr, 0, "s"};
    const char *l;
    size_t i, n;
    char *m;

    (void)state;
    memcpy(diag, "550 ", 4);
    for (i = 4; i + 2 < sizeof(diag); i += 2)
        memcpy(diag + i, "\xc3\xa9", 2); /* U+00E9, two octets */
    diag[i] = 0;
    memcpy(hdr, "X-Long:", 7);
    memset(hdr + 7, 'x', sizeof(hdr) - 8);
    p.headers_len = sizeof(hdr) - 1;
    m = dsn_compose(&p, NULL);
    assert_non_null(m);
    /* "Diagnostic-Code: smtp; 550 " is 27 octets: 971 more end mid-sequence. */
    n = line_with(m, "Diagnostic-Code: ");
    assert_int_equal(n, DSN_LINE_MAX - 1);
    l = strstr(m, "Diagnostic-Code: ");
    assert_int_equal((unsigned char)l[n - 1], 0xa9);
    assert_int_equal(line_with(m, "X-Long:"), DSN_LINE_MAX);
    /* "<bob@example.test>: 550 " is 24 octets: whole sequences fill the line. */
    assert_int_equal(line_with(m, "<bob@example.test>: 550 "), DSN_LINE_MAX);
    free(m);
}

/* test_mta_name - the name of the server in Remote-MTA, from delivery's peer text */
static void test_mta_name(void **state)
{
    static const struct {
        const char *peer, *want; /* want NULL: no Remote-MTA */
    } names[] = {
        {"mbx1.example.test[192.0.2.7]:24", "mbx1.example.test"},
        {"mbx1.example.test[2001:db8::7]:24", "mbx1.example.test"},
        {"192.0.2.7[192.0.2.7]:2424", "[192.0.2.7]"},
        {"2001:db8::7[2001:db8::7]:25", "[IPv6:2001:db8::7]"},
        {"::1[::1]:25", "[IPv6:::1]"},
        {"192.0.2.7[192.0.2.8]:25", "192.0.2.7"}, /* not the same: the name as given */
        {"mbx1.example.test", "mbx1.example.test"},
        {"unix:/run/dovecot/lmtp", NULL},
        {"", NULL},
        {NULL, NULL},
        {"[192.0.2.7]:25", NULL},
    };
    char buf[300];

    (void)state;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = dsn_mta_name(names[i].peer, buf, sizeof(buf));

        print_message("mta name case %zu\n", i);
        if (names[i].want == NULL) {
            assert_int_equal(n, 0);
            continue;
        }
        assert_int_equal(n, strlen(names[i].want));
        assert_string_equal(buf, names[i].want);
        assert_int_equal(dsn_mta_name(names[i].peer, buf, n + 1), n);
        assert_int_equal(dsn_mta_name(names[i].peer, buf, n), 0); /* never cut */
    }
}

/* test_remote_mta_field - an IP literal destination is "[IP]" in Remote-MTA,
 * never "ip[ip]:port"; the human-readable part keeps the whole peer */
static void test_remote_mta_field(void **state)
{
    struct dsn_rcpt r = {"bob@example.test",       "failed", "5.1.1", "127.0.0.1[127.0.0.1]:2424",
                         "550 5.1.1 unknown user", 0};
    struct dsn_params p = {"h.example", "hub1", "Q", "a@b", 0, 0, &r, 1, NULL, 0, "s"};
    char *m;

    (void)state;
    m = dsn_compose(&p, NULL);
    assert_non_null(m);
    assert_non_null(strstr(m, "\r\nRemote-MTA: dns; [127.0.0.1]\r\n"));
    assert_null(strstr(m, "Remote-MTA: dns; 127"));
    assert_non_null(strstr(m, "host 127.0.0.1[127.0.0.1]:2424 said: 550 5.1.1"));
    free(m);
    r.remote_mta = "unix:/run/dovecot/lmtp";
    m = dsn_compose(&p, NULL);
    assert_non_null(m);
    assert_null(strstr(m, "Remote-MTA"));
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compose),          cmocka_unit_test(test_mta_name),
        cmocka_unit_test(test_remote_mta_field), cmocka_unit_test(test_null_params),
        cmocka_unit_test(test_line_cut),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
