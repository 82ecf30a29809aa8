/*
 * test_doveadm.c - table tests of the doveadm search batch (doveadm.h)
 *
 * The body: one tagged search per askable question, the Message-ID and
 * the user carried exactly (quotes, backslashes, UTF-8), unaskable ones
 * left out. The answers: present, missing, no such user, every other
 * error, and every body that must not be taken for "missing" (not JSON,
 * not an array, a wrong shape, a tag out of range or seen twice, a
 * question never answered).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "doveadm.h"

#define P PROBE_PRESENT
#define M PROBE_MISSING
#define U PROBE_NO_USER
#define E PROBE_ERROR

static const struct probe_query q3[] = {
    {"alice@example.test", "<a-1@example.net>"},
    {"bob@example.test", "<b-2@example.net>"},
    {"carol@example.test", "<c-3@example.net>"},
};

/* ---- the body ---- */

/* check_command - element i of the batch asks q about tag */
static void check_command(const json_t *el, const struct probe_query *q, const char *tag)
{
    const json_t *args = json_array_get(el, 1), *query = json_object_get(args, "query");
    static const char *const words[] = {"mailbox", "*", "header", "Message-ID"};

    assert_int_equal(json_array_size(el), 3);
    assert_string_equal(json_string_value(json_array_get(el, 0)), "search");
    assert_string_equal(json_string_value(json_array_get(el, 2)), tag);
    assert_int_equal(json_object_size(args), 2);
    assert_string_equal(json_string_value(json_object_get(args, "user")), q->user);
    assert_int_equal(json_array_size(query), 5);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_array_get(query, i)), words[i]);
    assert_string_equal(json_string_value(json_array_get(query, 4)), q->message_id);
}

static void test_body(void **state)
{
    static const struct probe_query odd[] = {
        {"alice@example.test", "<\"quoted\\\\back\"@example.net>"},
        {"\"a,b\"@example.test", "<id with space@x>"},
        {"jörg@example.test", "<ü-1@example.net>"},
        {"bad\xff@example.test", "<d-4@example.net>"}, /* not UTF-8: left out */
        {"dave@example.test", "<e-5@\xc0\xaf>"},       /* overlong: left out */
        {"erin@example.test", ""},                     /* empty: left out */
    };
    char *body;
    json_t *j;

    (void)state;
    body = doveadm_search_body(q3, 3);
    assert_non_null(body);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 3);
    for (size_t i = 0; i < 3; i++) {
        char tag[4] = {(char)('0' + i), 0};
        check_command(json_array_get(j, i), &q3[i], tag);
    }
    json_decref(j);
    free(body);

    body = doveadm_search_body(odd, 6);
    assert_non_null(body);
    j = json_loads(body, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 3);
    check_command(json_array_get(j, 0), &odd[0], "0");
    check_command(json_array_get(j, 1), &odd[1], "1");
    check_command(json_array_get(j, 2), &odd[2], "2");
    json_decref(j);
    free(body);

    body = doveadm_search_body(odd + 3, 3); /* nothing askable */
    assert_string_equal(body, "[]");
    free(body);
}

struct utf8_case {
    const char *s;
    bool ok;
};

static const struct utf8_case utf8_cases[] = {
    {"a@b", true},
    {"\xc3\xa9", true},          /* é */
    {"\xe2\x82\xac", true},      /* € */
    {"\xf0\x9f\x93\xa7", true},  /* U+1F4E7 */
    {"\xf4\x8f\xbf\xbf", true},  /* U+10FFFF */
    {"", false},                 /* empty */
    {"\x80", false},             /* a continuation alone */
    {"\xc3", false},             /* cut */
    {"\xc3(", false},            /* bad continuation */
    {"\xc0\x80", false},         /* overlong NUL */
    {"\xe0\x80\xaf", false},     /* overlong / */
    {"\xed\xa0\x80", false},     /* surrogate */
    {"\xf4\x90\x80\x80", false}, /* past U+10FFFF */
    {"\xf5\x80\x80\x80", false},
    {"\xff", false},
};

static void test_askable(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(utf8_cases) / sizeof(utf8_cases[0]); i++) {
        struct probe_query a = {utf8_cases[i].s, "<m@x>"}, b = {"u@x", utf8_cases[i].s};
        if (doveadm_askable(&a) != utf8_cases[i].ok || doveadm_askable(&b) != utf8_cases[i].ok)
            fail_msg("case %zu: askable should be %d", i, utf8_cases[i].ok);
    }
    struct probe_query nul = {NULL, "<m@x>"};
    assert_false(doveadm_askable(&nul));
}

/* ---- the answers ---- */

struct parse_case {
    const char *name;
    const char *body;
    int rc;
    enum probe_answer want[3];
};

static const struct parse_case parse_cases[] = {
    {"one of each",
     "[[\"doveadmResponse\",[{\"mailbox-guid\":\"g\",\"uid\":\"1\"}],\"0\"],"
     "[\"doveadmResponse\",[],\"1\"],"
     "[\"error\",{\"type\":\"exitCode\",\"exitCode\":67},\"2\"]]",
     0,
     {P, M, U}},
    {"out of order",
     "[[\"doveadmResponse\",[],\"2\"],[\"doveadmResponse\",[{}],\"0\"],"
     "[\"doveadmResponse\",[],\"1\"]]",
     0,
     {P, M, M}},
    {"two copies in two folders are present",
     "[[\"doveadmResponse\",[{\"uid\":\"1\"},{\"uid\":\"7\"}],\"0\"],"
     "[\"doveadmResponse\",[],\"1\"],[\"doveadmResponse\",[],\"2\"]]",
     0,
     {P, M, M}},
    {"a tag never answered",
     "[[\"doveadmResponse\",[],\"0\"],[\"doveadmResponse\",[],\"2\"]]",
     0,
     {M, E, M}},
    {"another exit code",
     "[[\"error\",{\"type\":\"exitCode\",\"exitCode\":75},\"0\"],"
     "[\"error\",{\"type\":\"exitCode\"},\"1\"],[\"error\",\"x\",\"2\"]]",
     0,
     {E, E, E}},
    {"an unknown type", "[[\"whatever\",[],\"0\"],[\"doveadmResponse\",{},\"1\"]]", 0, {E, E, E}},
    {"empty array", "[]", 0, {E, E, E}},
    {"not JSON", "[[\"doveadmResponse\",[],\"0\"]", -1, {E, E, E}},
    {"empty body", "", -1, {E, E, E}},
    {"an object", "{\"error\":\"x\"}", -1, {E, E, E}},
    {"an HTML page", "<html>500</html>", -1, {E, E, E}},
    {"a tag twice",
     "[[\"doveadmResponse\",[],\"0\"],[\"doveadmResponse\",[{}],\"0\"]]",
     -1,
     {E, E, E}},
    {"a tag out of range", "[[\"doveadmResponse\",[],\"3\"]]", -1, {E, E, E}},
    {"a negative tag", "[[\"doveadmResponse\",[],\"-1\"]]", -1, {E, E, E}},
    {"a tag not decimal", "[[\"doveadmResponse\",[],\"0x1\"]]", -1, {E, E, E}},
    {"a tag of one hundred digits",
     "[[\"doveadmResponse\",[],"
     "\"0000000000000000000000000000000000000000000000000000000000000000000000000001\"]]",
     -1,
     {E, E, E}},
    {"a number tag", "[[\"doveadmResponse\",[],0]]", -1, {E, E, E}},
    {"two elements", "[[\"doveadmResponse\",[]]]", -1, {E, E, E}},
    {"four elements", "[[\"doveadmResponse\",[],\"0\",\"x\"]]", -1, {E, E, E}},
    {"not an element", "[\"doveadmResponse\"]", -1, {E, E, E}},
    {"a duplicate key", "[[\"error\",{\"exitCode\":67,\"exitCode\":0},\"0\"]]", -1, {E, E, E}},
};

static void test_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]); i++) {
        const struct parse_case *c = &parse_cases[i];
        enum probe_answer got[3] = {P, P, P};
        char err[128] = "";
        int rc = doveadm_search_parse(c->body, strlen(c->body), q3, got, 3, err, sizeof(err));

        if (rc != c->rc)
            fail_msg("%s: rc %d, want %d (%s)", c->name, rc, c->rc, err);
        if (rc < 0 && err[0] == 0)
            fail_msg("%s: no reason given", c->name);
        for (size_t k = 0; k < 3; k++)
            if (got[k] != c->want[k])
                fail_msg("%s: answer %zu is %s, want %s", c->name, k, probe_answer_name(got[k]),
                         probe_answer_name(c->want[k]));
    }
}

/* test_parse_unaskable - a question left out of the body is missing; an
 * answer to it is a wrong shape (it was never asked) */
static void test_parse_unaskable(void **state)
{
    static const struct probe_query q[] = {
        {"alice@example.test", "<a@x>"},
        {"b\xff@example.test", "<b@x>"},
    };
    enum probe_answer got[2];
    char err[64];
    const char *ok = "[[\"doveadmResponse\",[{}],\"0\"]]";
    const char *bad = "[[\"doveadmResponse\",[{}],\"0\"],[\"doveadmResponse\",[{}],\"1\"]]";

    (void)state;
    assert_int_equal(doveadm_search_parse(ok, strlen(ok), q, got, 2, err, sizeof(err)), 0);
    assert_int_equal(got[0], P);
    assert_int_equal(got[1], M);
    assert_int_equal(doveadm_search_parse(bad, strlen(bad), q, got, 2, err, sizeof(err)), -1);
    assert_int_equal(got[0], E);
    assert_int_equal(got[1], E);
    assert_int_equal(doveadm_search_parse("[]", 2, q + 1, got, 1, err, sizeof(err)), 0);
    assert_int_equal(got[0], M);
}

/* test_parse_bounds - a body with a NUL inside, and n = 0 */
static void test_parse_bounds(void **state)
{
    static const char nul[] = "[[\"doveadmResponse\",[],\"0\"]]\0[[]]";
    enum probe_answer got[1] = {P};
    char err[64];

    (void)state;
    assert_int_equal(doveadm_search_parse(nul, sizeof(nul) - 1, q3, got, 1, err, sizeof(err)), -1);
    assert_int_equal(got[0], E);
    assert_int_equal(doveadm_search_parse("[]", 2, q3, got, 0, err, sizeof(err)), 0);
    assert_string_equal(probe_answer_name(PROBE_NO_USER), "no_user");
    assert_string_equal(probe_answer_name((enum probe_answer)99), "error");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_body),         cmocka_unit_test(test_askable),
        cmocka_unit_test(test_parse),        cmocka_unit_test(test_parse_unaskable),
        cmocka_unit_test(test_parse_bounds),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
