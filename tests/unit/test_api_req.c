/*
 * test_api_req.c - table tests of the admin API's request decoders
 *
 * For each body: the outcome (status, code, a piece of the message that
 * names the field) or the decoded values. Crosses every bound: body size,
 * string lengths, time range; checks strictness: unknown fields, duplicate
 * keys, wrong types, trailing bytes, non-objects.
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

#include "api_req.h"

#define T0 INT64_C(1795600800000) /* 2026-11-25T10:00:00Z */
#define T1 INT64_C(1795604400000) /* 2026-11-25T11:00:00Z */
#define SG "\"storage_group\":\"SG1\""
#define RANGE "\"start\":\"2026-11-25T10:00:00Z\",\"end\":\"2026-11-25T11:00:00Z\""
#define BASE SG "," RANGE

/* Expected outcome of one body. */
struct rs_case {
    const char *body;
    int status;       /* 0: decodes */
    const char *code; /* error code */
    const char *msg;  /* a piece of the error message */
    /* When it decodes: */
    const char *sg;
    int64_t start, end;
    enum resubmit_match match;
    const char *dest;      /* canonical text; NULL: no override */
    const char *sender;    /* NULL: no filter */
    const char *recipient; /* NULL: no filter */
    const char *message_id;
    const char *reason;
    bool dry_run, force;
    const char *hubs; /* unresponsive_hubs joined by ',' ("" or NULL: none) */
};

#define OKR(b, ...)                                                                                \
    {                                                                                              \
        .body = (b), .sg = "SG1", .start = T0, .end = T1, __VA_ARGS__                              \
    }
#define ERR(b, st, c, m)                                                                           \
    {                                                                                              \
        .body = (b), .status = (st), .code = (c), .msg = (m)                                       \
    }

static const struct rs_case rs_cases[] = {
    OKR("{" BASE "}", .reason = ""),
    OKR("{\"end\":\"2026-11-25T11:00:00Z\",\"start\":\"2026-11-25T10:00:00Z\"," SG "}",
        .reason = ""),
    OKR(" \n{" BASE "}\r\n ", .reason = ""),
    {.body = "{\"storage_group\":\"a.B_c-9\",\"start\":1795600800,\"end\":1795604400.5}",
     .sg = "a.B_c-9",
     .start = T0,
     .end = T1 + 500,
     .reason = ""},
    {.body = "{\"storage_group\":\"SG1\",\"start\":\"1795600800\",\"end\":\"1795600800\"}",
     .sg = "SG1",
     .start = T0,
     .end = T0,
     .reason = ""},
    {.body = "{\"storage_group\":\"SG1\",\"start\":0,\"end\":253402300799.999}",
     .sg = "SG1",
     .start = 0,
     .end = INT64_C(253402300799999),
     .reason = ""},
    OKR("{" BASE ",\"match\":\"received\"}", .match = RESUBMIT_MATCH_RECEIVED, .reason = ""),
    OKR("{" BASE ",\"match\":\"delivered\"}", .reason = ""),
    OKR("{" BASE ",\"destination\":\"lmtp:[127.0.0.1]:2424\"}", .dest = "lmtp:[127.0.0.1]:2424",
        .reason = ""),
    OKR("{" BASE ",\"destination\":\"LMTP:[::1]:24 ,smtp:mx.example:25\"}",
        .dest = "lmtp:[::1]:24, smtp:mx.example:25", .reason = ""),
    OKR("{" BASE ",\"sender\":\"Alice@Example.COM\"}", .sender = "Alice@Example.COM", .reason = ""),
    OKR("{" BASE ",\"sender\":\"<bob@example.com>\"}", .sender = "bob@example.com", .reason = ""),
    OKR("{" BASE ",\"sender\":\"<>\"}", .sender = "", .reason = ""),
    OKR("{" BASE ",\"sender\":\"\"}", .sender = "", .reason = ""),
    OKR("{" BASE ",\"recipient\":\"<Carol@Example.COM>\"}", .recipient = "carol@example.com",
        .reason = ""),
    OKR("{" BASE ",\"recipient\":\"J\\u00dcRGEN@Example.com\"}",
        .recipient = "j\xc3\x9crgen@example.com", .reason = ""),
    OKR("{" BASE ",\"message_id\":\"<abc@x>\"}", .message_id = "<abc@x>", .reason = ""),
    OKR("{" BASE ",\"reason\":\"mbx1 lost 10 minutes\"}", .reason = "mbx1 lost 10 minutes"),
    OKR("{" BASE ",\"dry_run\":true,\"force\":false}", .dry_run = true, .reason = ""),
    OKR("{" BASE ",\"dry_run\":false,\"force\":true}", .force = true, .reason = ""),
    /* null is absent for optional fields */
    OKR("{" BASE ",\"match\":null,\"destination\":null,\"sender\":null,\"recipient\":null,"
        "\"message_id\":null,\"reason\":null,\"dry_run\":null,\"force\":null}",
        .reason = ""),
    /* Not JSON, not an object, too large. */
    ERR("", 400, "bad_json", "empty"),
    ERR("{", 400, "bad_json", "invalid JSON"),
    ERR("{" BASE "} x", 400, "bad_json", "invalid JSON"),
    ERR("{" BASE "}{}", 400, "bad_json", "invalid JSON"),
    ERR("{" BASE ",}", 400, "bad_json", "invalid JSON"),
    ERR("{'storage_group':'SG1'}", 400, "bad_json", "invalid JSON"),
    ERR("[]", 400, "bad_json", "JSON object"),
    ERR("\"x\"", 400, "bad_json", "JSON object"),
    ERR("42", 400, "bad_json", "JSON object"),
    ERR("null", 400, "bad_json", "JSON object"),
    ERR("{" BASE ",\"start\":\"2026-11-25T10:00:00Z\"}", 400, "bad_json", "duplicate"),
    ERR("{\"storage_group\":\"S\\u0000G\"," RANGE "}", 400, "bad_json", "invalid JSON"),
    ERR("{\"storage_group\":\"\xff\"," RANGE "}", 400, "bad_json", "invalid JSON"),
    /* Required fields. */
    ERR("{}", 400, "missing_field", "\"storage_group\""),
    ERR("{" RANGE "}", 400, "missing_field", "\"storage_group\""),
    ERR("{" SG ",\"end\":0}", 400, "missing_field", "\"start\""),
    ERR("{" SG ",\"start\":0}", 400, "missing_field", "\"end\""),
    ERR("{\"storage_group\":null," RANGE "}", 400, "bad_field", "\"storage_group\" must be"),
    ERR("{" SG ",\"start\":null,\"end\":0}", 400, "bad_field", "\"start\" must be"),
    /* Unknown fields. */
    ERR("{" BASE ",\"Start\":0}", 400, "bad_field", "unknown field \"Start\""),
    ERR("{" BASE ",\"dryrun\":true}", 400, "bad_field", "unknown field \"dryrun\""),
    ERR("{" BASE ",\"\":1}", 400, "bad_field", "unknown field \"\""),
    ERR("{" BASE ",\"a\\nb\":1}", 400, "bad_field", "unknown field \"a?b\""),
    /* storage_group. */
    ERR("{\"storage_group\":\"\"," RANGE "}", 400, "bad_field", "\"storage_group\" must be 1..64"),
    ERR("{\"storage_group\":\"SG 1\"," RANGE "}", 400, "bad_field", "\"storage_group\""),
    ERR("{\"storage_group\":\"SG/1\"," RANGE "}", 400, "bad_field", "\"storage_group\""),
    ERR("{\"storage_group\":\"S\\u00e9\"," RANGE "}", 400, "bad_field", "\"storage_group\""),
    ERR("{\"storage_group\":1," RANGE "}", 400, "bad_field", "\"storage_group\" must be a string"),
    ERR("{\"storage_group\":[\"SG1\"]," RANGE "}", 400, "bad_field", "\"storage_group\""),
    /* Times. */
    ERR("{" SG ",\"start\":\"yesterday\",\"end\":0}", 400, "bad_time", "\"start\": \"yesterday\""),
    ERR("{" SG ",\"start\":0,\"end\":\"2026-02-29T00:00:00Z\"}", 400, "bad_time", "\"end\""),
    ERR("{" SG ",\"start\":-1,\"end\":0}", 400, "bad_time", "\"start\": unix seconds"),
    ERR("{" SG ",\"start\":-0.5,\"end\":0}", 400, "bad_time", "\"start\""),
    ERR("{" SG ",\"start\":0,\"end\":253402300800}", 400, "bad_time", "\"end\""),
    ERR("{" SG ",\"start\":0,\"end\":253402300799.9996}", 400, "bad_time", "\"end\""),
    ERR("{" SG ",\"start\":0,\"end\":1e300}", 400, "bad_time", "\"end\""),
    ERR("{" SG ",\"start\":0,\"end\":99999999999999999999}", 400, "bad_json", "too big"),
    ERR("{" SG ",\"start\":true,\"end\":0}", 400, "bad_field", "\"start\" must be a string"),
    ERR("{" SG ",\"start\":{},\"end\":0}", 400, "bad_field", "\"start\""),
    ERR("{" SG ",\"start\":\"2026-11-25T11:00:00Z\",\"end\":\"2026-11-25T10:59:59.999Z\"}", 400,
        "bad_range", "start 2026-11-25T11:00:00.000Z is after end 2026-11-25T10:59:59.999Z"),
    ERR("{" SG ",\"start\":2,\"end\":1}", 400, "bad_range", "after"),
    /* match. */
    ERR("{" BASE ",\"match\":\"Delivered\"}", 400, "bad_field", "\"match\" must be"),
    ERR("{" BASE ",\"match\":\"\"}", 400, "bad_field", "\"match\""),
    ERR("{" BASE ",\"match\":1}", 400, "bad_field", "\"match\" must be a string"),
    /* destination. */
    ERR("{" BASE ",\"destination\":\"\"}", 400, "bad_field", "\"destination\" is not a dest"),
    ERR("{" BASE ",\"destination\":\"http://x\"}", 400, "bad_field", "lmtp: or smtp:"),
    ERR("{" BASE ",\"destination\":\"lmtp:127.0.0.1:24\"}", 400, "bad_field", "brackets"),
    ERR("{" BASE ",\"destination\":\"lmtp:[127.0.0.1]:0\"}", 400, "bad_field", "port"),
    ERR("{" BASE ",\"destination\":\"lmtp:[127.0.0.1]:24\\t\"}", 400, "bad_field", "control"),
    ERR("{" BASE ",\"destination\":[\"lmtp:[127.0.0.1]:24\"]}", 400, "bad_field",
        "\"destination\" must be a string"),
    /* Filters. */
    ERR("{" BASE ",\"sender\":\"a\\r\\nb@x\"}", 400, "bad_field", "\"sender\" contains a control"),
    ERR("{" BASE ",\"sender\":\"a\\u007fb@x\"}", 400, "bad_field", "control"),
    ERR("{" BASE ",\"sender\":1}", 400, "bad_field", "\"sender\" must be a string"),
    ERR("{" BASE ",\"recipient\":\"\"}", 400, "bad_field", "\"recipient\" must not be empty"),
    ERR("{" BASE ",\"recipient\":\"<>\"}", 400, "bad_field", "\"recipient\" must not be empty"),
    ERR("{" BASE ",\"recipient\":false}", 400, "bad_field", "\"recipient\""),
    ERR("{" BASE ",\"message_id\":\"\"}", 400, "bad_field", "\"message_id\" must not be empty"),
    ERR("{" BASE ",\"message_id\":\"<a\\tb>\"}", 400, "bad_field", "control"),
    ERR("{" BASE ",\"reason\":7}", 400, "bad_field", "\"reason\" must be a string"),
    ERR("{" BASE ",\"dry_run\":1}", 400, "bad_field", "\"dry_run\" must be true or false"),
    ERR("{" BASE ",\"dry_run\":\"true\"}", 400, "bad_field", "\"dry_run\""),
    ERR("{" BASE ",\"force\":0}", 400, "bad_field", "\"force\" must be true or false"),
    OKR("{" BASE ",\"unresponsive_hubs\":[\"hub2\",\"hub-3_x\"]}", .reason = "",
        .hubs = "hub2,hub-3_x"),
    OKR("{" BASE ",\"unresponsive_hubs\":[]}", .reason = "", .hubs = ""),
    OKR("{" BASE ",\"unresponsive_hubs\":null}", .reason = "", .hubs = ""),
    ERR("{" BASE ",\"unresponsive_hubs\":\"hub2\"}", 400, "bad_field", "array of hub names"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"a.b\"]}", 400, "bad_field", "[A-Za-z0-9_-]"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"\"]}", 400, "bad_field", "unresponsive_hubs"),
    ERR("{" BASE ",\"unresponsive_hubs\":[7]}", 400, "bad_field", "unresponsive_hubs"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"h\",\"h\"]}", 400, "bad_field", "named twice"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\","
        "\"10\",\"11\",\"12\",\"13\",\"14\",\"15\",\"16\",\"17\"]}",
        400, "bad_field", "at most 16"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"h\"],\"dry_run\":true}", 400, "bad_field",
        "without destination and dry_run"),
    ERR("{" BASE ",\"unresponsive_hubs\":[\"h\"],\"destination\":\"smtp:[127.0.0.1]:25\"}", 400,
        "bad_field", "move the group's route first"),
};

/* str_or_empty - NULL as "" for comparisons */
static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* check_error - status, code, a piece of the message, printable ASCII */
static void check_error(const struct api_error *err, int status, const char *code, const char *msg)
{
    size_t i;

    print_message("  -> %d %s: %s\n", err->status, err->code, err->message);
    assert_int_equal(err->status, status);
    assert_string_equal(err->code, code);
    assert_non_null(strstr(err->message, msg));
    for (i = 0; err->message[i]; i++)
        assert_true(err->message[i] >= 0x20 && err->message[i] < 0x7f);
}

/* check_resubmit - the decoded values of a row that must decode */
static void check_resubmit(const struct rs_case *c, const struct resubmit_req *r)
{
    assert_string_equal(r->storage_group, c->sg);
    assert_int_equal(r->start_ms, c->start);
    assert_int_equal(r->end_ms, c->end);
    assert_int_equal(r->match, c->match);
    assert_int_equal(r->has_dest, c->dest != NULL);
    assert_string_equal(r->has_dest ? r->dest_text : "", str_or_empty(c->dest));
    assert_int_equal(r->has_sender, c->sender != NULL);
    assert_string_equal(r->sender, str_or_empty(c->sender));
    assert_int_equal(r->has_recipient, c->recipient != NULL);
    assert_string_equal(r->recipient, str_or_empty(c->recipient));
    assert_int_equal(r->has_message_id, c->message_id != NULL);
    assert_string_equal(r->message_id, str_or_empty(c->message_id));
    assert_string_equal(r->reason, str_or_empty(c->reason));
    assert_int_equal(r->dry_run, c->dry_run);
    assert_int_equal(r->force, c->force);
    char joined[DD_API_HUBS_MAX * (DD_SG_NAME_MAX + 1) + 1] = "";
    for (size_t k = 0; k < r->nunresponsive; k++)
        snprintf(joined + strlen(joined), sizeof(joined) - strlen(joined), "%s%s", k ? "," : "",
                 r->unresponsive[k]);
    assert_string_equal(joined, str_or_empty(c->hubs));
}

/* test_resubmit - every row of the table */
static void test_resubmit(void **state)
{
    struct resubmit_req *r = malloc(sizeof(*r));
    struct api_error err;
    size_t i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < sizeof(rs_cases) / sizeof(rs_cases[0]); i++) {
        const struct rs_case *c = &rs_cases[i];
        int rc;

        print_message("resubmit case %zu: %s\n", i, c->body);
        memset(&err, 0, sizeof(err));
        rc = api_req_resubmit(c->body, strlen(c->body), r, &err);
        if (c->status == 0) {
            assert_int_equal(rc, 0);
            check_resubmit(c, r);
        } else {
            assert_int_equal(rc, -1);
            check_error(&err, c->status, c->code, c->msg);
        }
    }
    free(r);
}

/* body_with - a valid request whose `field` is pre + n x fill + post; caller frees */
static char *body_with(const char *field, const char *pre, char fill, size_t n, const char *post)
{
    size_t cap = n + 512, used;
    char *b = malloc(cap);

    assert_non_null(b);
    used = (size_t)snprintf(b, cap, "{" RANGE ",%s\"%s\":\"%s",
                            strcmp(field, "storage_group") ? SG "," : "", field, pre);
    memset(b + used, fill, n);
    snprintf(b + used + n, cap - used - n, "%s\"}", post);
    return b;
}

struct len_case {
    const char *field;
    const char *pre, *post; /* around the fill */
    size_t n;               /* octets of fill */
    bool ok;
};

static const struct len_case len_cases[] = {
    {"sender", "", "", DD_API_ADDR_MAX, true},
    {"sender", "", "", DD_API_ADDR_MAX + 1, false},
    {"sender", "<", ">", DD_API_ADDR_MAX, true},
    {"sender", "<", ">", DD_API_ADDR_MAX + 1, false},
    {"recipient", "", "", DD_API_ADDR_MAX, true},
    {"recipient", "", "", DD_API_ADDR_MAX + 1, false},
    {"message_id", "", "", DD_API_MSGID_MAX, true},
    {"message_id", "", "", DD_API_MSGID_MAX + 1, false},
    {"reason", "", "", DD_API_REASON_MAX, true},
    {"reason", "", "", DD_API_REASON_MAX + 1, false},
    {"storage_group", "", "", DD_SG_NAME_MAX, true},
    {"storage_group", "", "", DD_SG_NAME_MAX + 1, false},
    {"destination", "lmtp:unix:/", "", 100, true},
    {"destination", "lmtp:", ".example:25", DD_API_DEST_IN_MAX, false},
};

/* test_lengths - every string bound, at and past it */
static void test_lengths(void **state)
{
    struct resubmit_req *r = malloc(sizeof(*r));
    struct api_error err;
    size_t i;

    (void)state;
    assert_non_null(r);
    for (i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
        const struct len_case *c = &len_cases[i];
        char *body = body_with(c->field, c->pre, 'a', c->n, c->post);
        int rc;

        print_message("length case %zu: %s %zu\n", i, c->field, c->n);
        rc = api_req_resubmit(body, strlen(body), r, &err);
        if (c->ok) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, -1);
            check_error(&err, 400, "bad_field", c->field);
        }
        free(body);
    }
    free(r);
}

/* test_body_size - DD_API_BODY_MAX octets decode, one more is 413 */
static void test_body_size(void **state)
{
    struct resubmit_req *r = malloc(sizeof(*r));
    char *body = malloc(DD_API_BODY_MAX + 2);
    const char *head = "{" BASE "}";
    struct api_error err;

    (void)state;
    assert_non_null(r);
    assert_non_null(body);
    memset(body, ' ', DD_API_BODY_MAX + 1); /* trailing whitespace is fine JSON */
    memcpy(body, head, strlen(head));
    assert_int_equal(api_req_resubmit(body, DD_API_BODY_MAX, r, &err), 0);
    assert_int_equal(api_req_resubmit(body, DD_API_BODY_MAX + 1, r, &err), -1);
    check_error(&err, 413, "too_large", "65536");
    /* The length counts, not a NUL: a body cut short is bad JSON. */
    assert_int_equal(api_req_resubmit(head, strlen(head) - 1, r, &err), -1);
    check_error(&err, 400, "bad_json", "invalid JSON");
    assert_int_equal(api_req_resubmit(NULL, 0, r, &err), -1);
    check_error(&err, 400, "bad_json", "empty");
    free(body);
    free(r);
}

struct dest_case {
    const char *body;
    const char *text; /* canonical; NULL: error */
    const char *code;
    const char *msg;
};

static const struct dest_case dest_cases[] = {
    {"{\"destination\":\"lmtp:[127.0.0.1]:2424\"}", "lmtp:[127.0.0.1]:2424", NULL, NULL},
    {"{\"destination\":\"smtp:[::1]:25\"}", "smtp:[::1]:25", NULL, NULL},
    {"{\"destination\":\"lmtp:unix:/run/mbx.sock\"}", "lmtp:unix:/run/mbx.sock", NULL, NULL},
    {"{\"destination\":\" lmtp:mbx1.example:24 , lmtp:mbx2.example:24 \"}",
     "lmtp:mbx1.example:24, lmtp:mbx2.example:24", NULL, NULL},
    {"{}", NULL, "missing_field", "\"destination\""},
    {"{\"destination\":null}", NULL, "bad_field", "\"destination\" must be a string"},
    {"{\"destination\":\"\"}", NULL, "bad_field", "empty destination"},
    {"{\"destination\":\"lmtp:[127.0.0.1]:2424,\"}", NULL, "bad_field", "empty address"},
    {"{\"destination\":\"smtp:unix:/x\"}", NULL, "bad_field", "lmtp only"},
    {"{\"destination\":\"lmtp:[127.0.0.1]:2424\",\"storage_group\":\"SG1\"}", NULL, "bad_field",
     "unknown field \"storage_group\""},
    {"{\"destination\":\"a\",\"destination\":\"b\"}", NULL, "bad_json", "duplicate"},
    {"[\"lmtp:[127.0.0.1]:2424\"]", NULL, "bad_json", "JSON object"},
    {"\"lmtp:[127.0.0.1]:2424\"", NULL, "bad_json", "JSON object"},
};

/* test_destination - PUT .../destination bodies */
static void test_destination(void **state)
{
    struct dest_req *d = malloc(sizeof(*d));
    struct api_error err;
    size_t i;

    (void)state;
    assert_non_null(d);
    for (i = 0; i < sizeof(dest_cases) / sizeof(dest_cases[0]); i++) {
        const struct dest_case *c = &dest_cases[i];
        int rc = api_req_destination(c->body, strlen(c->body), d, &err);

        print_message("destination case %zu: %s\n", i, c->body);
        if (c->text) {
            assert_int_equal(rc, 0);
            assert_string_equal(d->dest_text, c->text);
            assert_true(d->dest.n >= 1);
        } else {
            assert_int_equal(rc, -1);
            check_error(&err, 400, c->code, c->msg);
        }
    }
    free(d);
}

struct until_case {
    const char *body;
    int64_t ms; /* -1: error */
    const char *code;
    const char *msg;
};

static const struct until_case until_cases[] = {
    {"{\"until\":\"2026-11-25T10:00:00Z\"}", T0, NULL, NULL},
    {"{\"until\":\"2026-11-25T11:00:00+01:00\"}", T0, NULL, NULL},
    {"{\"until\":1795600800}", T0, NULL, NULL},
    {"{\"until\":1795600800.123}", T0 + 123, NULL, NULL},
    {"{\"until\":\"1795600800.5\"}", T0 + 500, NULL, NULL},
    {"{\"until\":0}", 0, NULL, NULL},
    {"{}", -1, "missing_field", NULL},
    {"{\"until\":null}", -1, "bad_field", NULL},
    {"{\"until\":\"now\"}", -1, "bad_time", NULL},
    {"{\"until\":-5}", -1, "bad_time", NULL},
    {"{\"until\":true}", -1, "bad_field", NULL},
    {"{\"until\":0,\"since\":0}", -1, "bad_field", "unknown field \"since\""},
    {"{\"until\":0,\"until\":1}", -1, "bad_json", NULL},
    {"{\"until\":0}}", -1, "bad_json", "invalid JSON"},
    {"[0]", -1, "bad_json", "JSON object"},
};

/* test_replicated - POST .../replicated bodies */
static void test_replicated(void **state)
{
    struct api_error err;
    int64_t ms;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(until_cases) / sizeof(until_cases[0]); i++) {
        const struct until_case *c = &until_cases[i];
        int rc = api_req_replicated(c->body, strlen(c->body), &ms, &err);

        print_message("replicated case %zu: %s\n", i, c->body);
        if (c->ms >= 0) {
            assert_int_equal(rc, 0);
            assert_int_equal(ms, c->ms);
        } else {
            assert_int_equal(rc, -1);
            check_error(&err, 400, c->code, c->msg ? c->msg : "until");
        }
    }
}

/* test_error_json - the error body, made safe for JSON */
static void test_error_json(void **state)
{
    struct api_error err;
    char *s;

    (void)state;
    api_error_set(&err, 404, "not_found", "no storage group \"%s\"", "S\"G\n\xc3\xa9");
    assert_int_equal(err.status, 404);
    assert_string_equal(err.message, "no storage group \"S\"G???\"");
    s = api_error_json(&err);
    assert_non_null(s);
    assert_string_equal(s, "{\"error\":{\"code\":\"not_found\","
                           "\"message\":\"no storage group \\\"S\\\"G???\\\"\"}}");
    free(s);
    /* Filled by hand, without NULs: still a bounded, valid body. */
    memset(&err, 0xff, sizeof(err));
    s = api_error_json(&err);
    assert_non_null(s);
    assert_true(strlen(s) < 400);
    free(s);
    assert_true(api_sg_name_ok("SG1", 3));
    assert_false(api_sg_name_ok("SG1", 0));
    assert_string_equal(api_match_name(RESUBMIT_MATCH_RECEIVED), "received");
    assert_string_equal(api_match_name(RESUBMIT_MATCH_DELIVERED), "delivered");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resubmit),   cmocka_unit_test(test_lengths),
        cmocka_unit_test(test_body_size),  cmocka_unit_test(test_destination),
        cmocka_unit_test(test_replicated), cmocka_unit_test(test_error_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
