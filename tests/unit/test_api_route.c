/*
 * test_api_route.c - table tests of the admin API's routes and query
 * strings (api_route.h)
 *
 * Every route by its path and method, the captured segment and its bound,
 * 404 and 405 with the methods a path takes, HEAD routed as GET; query
 * strings: absent, present, decoded, and every malformed shape.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api_route.h"

struct route_case {
    unsigned method;
    const char *path;
    int id; /* -1: none */
    const char *arg;
    const char *allow; /* when id is -1: "" for 404 */
};

static const struct route_case route_cases[] = {
    {HTTP_M_GET, "/healthz", API_R_HEALTHZ, "", NULL},
    {HTTP_M_HEAD, "/healthz", API_R_HEALTHZ, "", NULL},
    {HTTP_M_GET, "/metrics", API_R_METRICS, "", NULL},
    {HTTP_M_GET, "/v1/stats", API_R_STATS, "", NULL},
    {HTTP_M_GET, "/v1/stats/SG1", API_R_STATS_SG, "SG1", NULL},
    {HTTP_M_GET, "/v1/resubmit", API_R_RESUBMIT_LIST, "", NULL},
    {HTTP_M_POST, "/v1/resubmit", API_R_RESUBMIT_POST, "", NULL},
    {HTTP_M_GET, "/v1/resubmit/42", API_R_RESUBMIT_GET, "42", NULL},
    {HTTP_M_DELETE, "/v1/resubmit/42", API_R_RESUBMIT_CANCEL, "42", NULL},
    {HTTP_M_GET, "/v1/storage-groups", API_R_SG_LIST, "", NULL},
    {HTTP_M_GET, "/v1/storage-groups/SG2", API_R_SG_GET, "SG2", NULL},
    {HTTP_M_GET, "/v1/storage-groups/SG2/destination", API_R_SG_DEST_GET, "SG2", NULL},
    {HTTP_M_PUT, "/v1/storage-groups/SG2/destination", API_R_SG_DEST_PUT, "SG2", NULL},
    {HTTP_M_POST, "/v1/storage-groups/a.b-c_d/replicated", API_R_SG_REPLICATED, "a.b-c_d", NULL},
    {HTTP_M_GET, "/v1/queue", API_R_QUEUE_LIST, "", NULL},
    {HTTP_M_POST, "/v1/queue/flush", API_R_QUEUE_FLUSH, "", NULL},
    {HTTP_M_GET, "/", -1, NULL, ""},
    {HTTP_M_GET, "/v1/stats/", -1, NULL, ""},
    {HTTP_M_GET, "/v1/stats//x", -1, NULL, ""},
    {HTTP_M_GET, "/v1/statsx", -1, NULL, ""},
    {HTTP_M_GET, "/healthz/", -1, NULL, ""},
    {HTTP_M_GET, "/v1/storage-groups/SG1/nope", -1, NULL, ""},
    {HTTP_M_DELETE, "/v1/stats", -1, NULL, "GET, HEAD"},
    {HTTP_M_PUT, "/v1/resubmit", -1, NULL, "GET, HEAD, POST"},
    {HTTP_M_POST, "/v1/resubmit/1", -1, NULL, "GET, HEAD, DELETE"},
    {HTTP_M_GET, "/v1/queue/flush", -1, NULL, "POST"},
    {HTTP_M_PATCH, "/v1/storage-groups/SG1/destination", -1, NULL, "GET, HEAD, PUT"},
    {HTTP_M_OPTIONS, "/metrics", -1, NULL, "GET, HEAD"},
};

/* test_routes - the table, by path and method */
static void test_routes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(route_cases) / sizeof(route_cases[0]); i++) {
        const struct route_case *c = &route_cases[i];
        char arg[API_ROUTE_ARG_MAX + 1], allow[64];
        unsigned allowed = 1234;
        int id;

        print_message("route case %zu: %s %s\n", i, http_method_name(c->method), c->path);
        id = api_route_find(c->method, c->path, arg, sizeof(arg), &allowed);
        assert_int_equal(id, c->id);
        if (id >= 0) {
            assert_string_equal(arg, c->arg);
            continue;
        }
        assert_string_equal(arg, "");
        api_allow_text(allowed, allow, sizeof(allow));
        assert_string_equal(allow, c->allow);
    }
}

/* test_arg_bound - a segment longer than the capture buffer matches nothing */
static void test_arg_bound(void **state)
{
    char path[300], arg[API_ROUTE_ARG_MAX + 1];
    unsigned allowed;

    (void)state;
    snprintf(path, sizeof(path), "/v1/stats/%0*d", API_ROUTE_ARG_MAX + 1, 7);
    assert_int_equal(api_route_find(HTTP_M_GET, path, arg, sizeof(arg), &allowed), -1);
    assert_int_equal(allowed, 0);
    snprintf(path, sizeof(path), "/v1/stats/%0*d", API_ROUTE_ARG_MAX, 7);
    assert_int_equal(api_route_find(HTTP_M_GET, path, arg, sizeof(arg), &allowed), API_R_STATS_SG);
    assert_int_equal(strlen(arg), API_ROUTE_ARG_MAX);
    assert_int_equal(api_route_get(API_R_RESUBMIT_POST)->access, API_TOKEN);
    assert_int_equal(api_route_get(API_R_STATS)->access, API_PUBLIC_READ);
    assert_int_equal(api_route_get(API_R_HEALTHZ)->access, API_OPEN);
}

struct query_case {
    const char *query;
    int rc;
    const char *value; /* rc 1 */
    const char *msg;   /* rc -1: a substring of the message */
};

static const struct query_case query_cases[] = {
    {NULL, 0, NULL, NULL},
    {"", 0, NULL, NULL},
    {"state=outstanding", 1, "outstanding", NULL},
    {"state=out%73tanding", 1, "outstanding", NULL},
    {"state=a+b%2Bc", 1, "a b+c", NULL},
    {"state=", 1, "", NULL},
    {"state=a=b", 1, "a=b", NULL},
    {"state=x&", 1, "x", NULL},
    {"state", -1, NULL, "malformed"},
    {"=x", -1, NULL, "malformed"},
    {"&state=x", -1, NULL, "malformed"},
    {"state=x&&", -1, NULL, "malformed"},
    {"state=%zz", -1, NULL, "malformed"},
    {"state=%4", -1, NULL, "malformed"},
    {"state=%00", -1, NULL, "malformed"},
    {"colour=blue", -1, NULL, "unknown query parameter \"colour\""},
    {"state=a&state=b", -1, NULL, "repeated"},
    {"state=0123456789abcdef", -1, NULL, "too long"},
};

/* test_query - the one parameter, decoded, and the refusals */
static void test_query(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
        const struct query_case *c = &query_cases[i];
        struct api_error err = {0};
        char out[16];
        int rc;

        print_message("query case %zu: %s\n", i, c->query ? c->query : "(null)");
        rc = api_query_param(c->query, "state", out, sizeof(out), &err);
        assert_int_equal(rc, c->rc);
        if (rc == 1)
            assert_string_equal(out, c->value);
        if (rc < 0) {
            assert_int_equal(err.status, 400);
            assert_string_equal(err.code, "bad_query");
            assert_non_null(strstr(err.message, c->msg));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_arg_bound),
        cmocka_unit_test(test_query),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
