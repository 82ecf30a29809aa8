/*
 * test_http_head.c - table tests of the admin API's request head judge
 *
 * Every refusal of http_head.h by the input that provokes it (the ones
 * libevent answered with an HTML page, or not at all: a bad request line,
 * headers over 8 KiB, Content-Length: abc, an unknown method, two
 * Authorization headers, a Content-Length over the bound with the body
 * not sent), heads that are fine with what evhttp will read after them,
 * and incomplete heads at every cut.
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
#include "http_head.h"

#define MAX_HEAD 8192
#define MAX_BODY 65536

struct bad_case {
    const char *in;
    enum http_reject why;
    int status;
};

static const struct bad_case bad_cases[] = {
    {"GARBAGE\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET /\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET  / HTTP/1.1\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTP/1.1 \r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTP/1.1\n\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTP/1.1\r\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"\r\nGET / HTTP/1.1\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTX/1.1\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTP/11\r\n\r\n", HTTP_R_REQUEST_LINE, 400},
    {"GET / HTTP/2.0\r\n\r\n", HTTP_R_VERSION, 505},
    {"GET / HTTP/1.2\r\n\r\n", HTTP_R_VERSION, 505},
    {"BREW /v1/stats HTTP/1.1\r\n\r\n", HTTP_R_METHOD, 501},
    {"get /v1/stats HTTP/1.1\r\n\r\n", HTTP_R_METHOD, 501},
    {"GET v1/stats HTTP/1.1\r\n\r\n", HTTP_R_TARGET, 400},
    {"GET * HTTP/1.1\r\n\r\n", HTTP_R_TARGET, 400},
    {"GET /a\x01 HTTP/1.1\r\n\r\n", HTTP_R_TARGET, 400},
    {"GET //[bad/v1/stats HTTP/1.1\r\n\r\n", HTTP_R_TARGET, 400},
    {"GET http://127.0.0.1:8025/v1/stats HTTP/1.1\r\n\r\n", HTTP_R_TARGET, 400},
    {"GET / HTTP/1.1\r\nHost x\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\nHost : x\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\nHost: x\ny: z\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\nHost: x\ry: z\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\nHost: x\x7f\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"GET / HTTP/1.1\r\n: x\r\n\r\n", HTTP_R_HEADER_LINE, 400},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length: abc\r\n\r\n", HTTP_R_LENGTH, 400},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length: +5\r\n\r\n", HTTP_R_LENGTH, 400},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", HTTP_R_LENGTH, 400},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length:\r\n\r\n", HTTP_R_LENGTH, 400},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", HTTP_R_LENGTH,
     400},
    {"POST / HTTP/1.1\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\n", HTTP_R_TWO_LENGTHS, 400},
    {"GET /v1/resubmit HTTP/1.1\r\nAuthorization: Bearer a\r\nAuthorization: Bearer b\r\n\r\n",
     HTTP_R_TWO_AUTH, 400},
    {"GET / HTTP/1.1\r\nX-Dumpsterd-Reject: 1\r\n\r\n", HTTP_R_RESERVED, 400},
    {"GET /v1/stats HTTP/1.1\r\nContent-Length: 3\r\n\r\n", HTTP_R_NO_BODY, 400},
    {"HEAD /v1/stats HTTP/1.1\r\nContent-Length: 3\r\n\r\n", HTTP_R_NO_BODY, 400},
    {"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP_R_CHUNKED, 411},
    {"POST / HTTP/1.1\r\nContent-Length: 65537\r\n\r\n", HTTP_R_BODY_SIZE, 413},
    {"POST / HTTP/1.1\r\nContent-Length: 1000000\r\n\r\n0123456789", HTTP_R_BODY_SIZE, 413},
    {"POST / HTTP/1.1\r\nExpect: the-unexpected\r\nContent-Length: 1\r\n\r\n", HTTP_R_EXPECT, 417},
};

/* test_bad - each refusal, with its status */
static void test_bad(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        struct http_head h;

        print_message("bad case %zu: %s\n", i, c->in);
        assert_int_equal(http_head_parse(c->in, strlen(c->in), MAX_HEAD, MAX_BODY, &h),
                         HTTP_HEAD_BAD);
        assert_int_equal(h.why, c->why);
        assert_int_equal(http_reject_info(h.why)->status, c->status);
        assert_non_null(http_reject_info(h.why)->code);
    }
}

/* test_bad_at_once - a bad request line is refused before the headers come */
static void test_bad_at_once(void **state)
{
    struct http_head h;
    const char *in = "BREW /pot HTTP/1.1\r\nHost: x\r\n";

    (void)state;
    assert_int_equal(http_head_parse(in, strlen(in), MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_BAD);
    assert_int_equal(h.why, HTTP_R_METHOD);
    in = "GET / HTTP/1.1\r\nHost: x\r\n"; /* fine so far */
    assert_int_equal(http_head_parse(in, strlen(in), MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_MORE);
}

/* test_head_size - the bound, with and without a line end */
static void test_head_size(void **state)
{
    char *big = malloc(MAX_HEAD + 64);
    struct http_head h;
    size_t n;

    (void)state;
    assert_non_null(big);
    memset(big, 'a', MAX_HEAD + 64);
    assert_int_equal(http_head_parse(big, MAX_HEAD - 1, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_MORE);
    assert_int_equal(http_head_parse(big, MAX_HEAD, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_BAD);
    assert_int_equal(h.why, HTTP_R_HEAD_SIZE);
    /* a request line, then a header that never ends */
    n = (size_t)snprintf(big, 64, "GET / HTTP/1.1\r\nX-Pad: ");
    memset(big + n, 'a', MAX_HEAD + 64 - n);
    assert_int_equal(http_head_parse(big, MAX_HEAD + 64, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_BAD);
    assert_int_equal(h.why, HTTP_R_HEAD_SIZE);
    /* exactly at the bound, complete: fine; one more octet: refused */
    memcpy(big + MAX_HEAD - 4, "\r\n\r\n", 4);
    assert_int_equal(http_head_parse(big, MAX_HEAD, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_OK);
    assert_int_equal(h.head_len, MAX_HEAD);
    big[MAX_HEAD - 4] = 'a';
    memcpy(big + MAX_HEAD - 3, "\r\n\r\n", 4);
    assert_int_equal(http_head_parse(big, MAX_HEAD + 1, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_BAD);
    assert_int_equal(h.why, HTTP_R_HEAD_SIZE);
    free(big);
}

struct ok_case {
    const char *in;
    unsigned method;
    uint64_t body;
    bool needs_length;
};

static const struct ok_case ok_cases[] = {
    {"GET /v1/stats HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_M_GET, 0, false},
    {"GET /v1/stats HTTP/1.0\r\n\r\n", HTTP_M_GET, 0, false},
    {"HEAD /v1/stats HTTP/1.1\r\nContent-Length: 0\r\n\r\n", HTTP_M_HEAD, 0, false},
    {"POST /v1/resubmit HTTP/1.1\r\nContent-Length: 12\r\n\r\n", HTTP_M_POST, 12, false},
    {"POST /v1/resubmit HTTP/1.1\r\ncontent-length:\t65536 \r\n\r\n", HTTP_M_POST, 65536, false},
    {"POST /v1/queue/flush HTTP/1.1\r\nHost: x\r\n\r\n", HTTP_M_POST, 0, true},
    {"PUT /v1/storage-groups/SG1/destination HTTP/1.1\r\nExpect: 100-Continue\r\n"
     "Content-Length: 5\r\n\r\n",
     HTTP_M_PUT, 5, false},
    {"DELETE /v1/resubmit/1 HTTP/1.1\r\nAuthorization: Bearer x\r\nX-Empty:\r\n\r\n", HTTP_M_DELETE,
     0, false},
    {"OPTIONS * HTTP/1.1\r\n\r\n", HTTP_M_OPTIONS, 0, false},
    {"GET /v1/stats?x=1#frag HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", HTTP_M_GET, 0, false},
    {"GET / HTTP/1.1\r\n\r\n", HTTP_M_GET, 0, false},
    {"PATCH /x HTTP/1.1\r\nContent-Length: 0\r\nX-Bin: caf\xc3\xa9\r\n\r\n", HTTP_M_PATCH, 0,
     false},
};

/* test_ok - heads that pass, what evhttp will read, every cut of them */
static void test_ok(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(ok_cases) / sizeof(ok_cases[0]); i++) {
        const struct ok_case *c = &ok_cases[i];
        size_t len = strlen(c->in);
        char buf[512];
        struct http_head h;

        print_message("ok case %zu: %s\n", i, c->in);
        /* a pipelined next request after it changes nothing */
        snprintf(buf, sizeof(buf), "%sGET / HTTP/1.1\r\n\r\n", c->in);
        assert_int_equal(http_head_parse(buf, strlen(buf), MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_OK);
        assert_int_equal(h.method, c->method);
        assert_int_equal(h.head_len, len);
        assert_int_equal(h.body_len, c->body);
        assert_int_equal(h.needs_length, c->needs_length);
        for (size_t cut = 0; cut < len; cut++)
            assert_int_equal(http_head_parse(c->in, cut, MAX_HEAD, MAX_BODY, &h), HTTP_HEAD_MORE);
    }
}

/* test_reject_info - every reason has an answer; names of methods */
static void test_reject_info(void **state)
{
    (void)state;
    assert_null(http_reject_info(HTTP_R_NONE));
    assert_null(http_reject_info(HTTP_R_COUNT));
    for (int r = HTTP_R_NONE + 1; r < HTTP_R_COUNT; r++) {
        const struct http_reject_info *ri = http_reject_info((enum http_reject)r);

        assert_non_null(ri);
        assert_true(ri->status >= 400 && ri->status < 600);
        assert_true(strlen(ri->code) > 0 && strlen(ri->message) > 0);
    }
    assert_int_equal(http_reject_info(HTTP_R_TIMEOUT)->status, 408);
    assert_string_equal(http_method_name(HTTP_M_DELETE), "DELETE");
    assert_string_equal(http_method_name(0), "OTHER");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad),         cmocka_unit_test(test_bad_at_once),
        cmocka_unit_test(test_head_size),   cmocka_unit_test(test_ok),
        cmocka_unit_test(test_reject_info),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
