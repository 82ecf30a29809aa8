/*
 * test_shadow_env.c - table tests of the shadow copy's envelope reader
 *
 * Each case is a list of header pairs as a copy carries them; a good one
 * gives its sender, recipients with their routes, received time, body and
 * SMTPUTF8 and Message-ID; a bad one fails with the reason named, and
 * leaves nothing allocated (ASan's leak check sees it).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "shadow_env.h"

#define E(k, v) k "\0" v "\0"

struct env_case {
    const char *name;
    const char *env;
    size_t len;         /* 0: sizeof the literal - 1 */
    const char *reason; /* NULL: parses */
    const char *sender;
    size_t nrcpts;
    const char *rcpt0, *sg0; /* sg0 "" for the smarthost */
    int64_t received_ms;
    int body, utf8;
    const char *msgid;
};

#define GOOD E("Dd-Hub", "hub1") E("Dd-Queue-Id", "Q1") E("Dd-From", "<s@example.org>")
static const struct env_case cases[] = {
    {"one rcpt", GOOD E("Dd-Rcpt", "SG1 <u@example.test>") E("Dd-Received", "1764064800000"), 0,
     NULL, "s@example.org", 1, "u@example.test", "SG1", 1764064800000, 0, 0, NULL},
    {"two rcpts, body, msgid",
     GOOD E("Dd-Rcpt", "SG1 <u@example.test>") E("Dd-Rcpt", "@smarthost <b@example.net>")
         E("Dd-Received", "5") E("Dd-Body", "2 1") E("Dd-Message-Id", "<m@x>"),
     0, NULL, "s@example.org", 2, "u@example.test", "SG1", 5, 2, 1, "<m@x>"},
    {"null sender",
     E("Dd-From", "<>") E("Dd-Rcpt", "SG-2_x <u@example.test>") E("Dd-Received", "0"), 0, NULL, "",
     1, "u@example.test", "SG-2_x", 0, 0, 0, NULL},
    {"unknown headers ignored",
     GOOD E("Dd-Size", "9") E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Future", "x") E("Dd-Received", "1"), 0,
     NULL, "s@example.org", 1, "u@e", "SG1", 1, 0, 0, NULL},
    {"no rcpt", GOOD E("Dd-Received", "1"), 0, "are needed", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"no from", E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "1"), 0, "are needed", NULL, 0, NULL,
     NULL, 0, 0, 0, NULL},
    {"no received", GOOD E("Dd-Rcpt", "SG1 <u@e>"), 0, "are needed", NULL, 0, NULL, NULL, 0, 0, 0,
     NULL},
    {"from twice", GOOD E("Dd-From", "<t@e>") E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "1"), 0,
     "repeated Dd-From", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"from without brackets", E("Dd-From", "s@e") E("Dd-Rcpt", "SG1 <u@e>"), 0, "bad", NULL, 0,
     NULL, NULL, 0, 0, 0, NULL},
    {"from with a blank", E("Dd-From", "<s @e>"), 0, "bad", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"rcpt without sg", GOOD E("Dd-Rcpt", "<u@e>"), 0, "bad Dd-Rcpt", NULL, 0, NULL, NULL, 0, 0, 0,
     NULL},
    {"rcpt sg with a dot", GOOD E("Dd-Rcpt", "S.G <u@e>"), 0, "bad Dd-Rcpt", NULL, 0, NULL, NULL, 0,
     0, 0, NULL},
    {"rcpt empty address", GOOD E("Dd-Rcpt", "SG1 <>"), 0, "bad Dd-Rcpt", NULL, 0, NULL, NULL, 0, 0,
     0, NULL},
    {"received not a number", GOOD E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "12a"), 0,
     "Dd-Received", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"received too long", GOOD E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "1234567890123456789"), 0,
     "Dd-Received", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"body out of range", GOOD E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "1") E("Dd-Body", "3 0"),
     0, "Dd-Body", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"body trailing", GOOD E("Dd-Rcpt", "SG1 <u@e>") E("Dd-Received", "1") E("Dd-Body", "1 0x"), 0,
     "Dd-Body", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"msgid twice",
     GOOD E("Dd-Message-Id", "<a>") E("Dd-Message-Id", "<b>") E("Dd-Rcpt", "SG1 <u@e>"), 0,
     "Dd-Message-Id", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"key without value", "Dd-From", 7, "without its value", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
    {"value without end", "Dd-From\0<s@e>", 13, "without its end", NULL, 0, NULL, NULL, 0, 0, 0,
     NULL},
    {"empty", "", 0, "are needed", NULL, 0, NULL, NULL, 0, 0, 0, NULL},
};

static size_t case_len(const struct env_case *c)
{
    if (c->len || c->env[0] == 0)
        return c->len;
    size_t n = 0; /* a literal of pairs (no empty value): up to its terminating NUL */
    while (c->env[n] != 0)
        n += strlen(c->env + n) + 1;
    return n;
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct env_case *c = &cases[i];
        struct queue_msg m;
        char why[256] = "";
        memset(&m, 0xa5, sizeof(m));
        int rc = shadow_env_parse(c->env, case_len(c), &m, NULL, why, sizeof(why));
        if (c->reason) {
            if (rc != -1 || strstr(why, c->reason) == NULL)
                fail_msg("%s: want failure with \"%s\", got %d \"%s\"", c->name, c->reason, rc,
                         why);
            assert_null(m.rcpts);
            assert_null(m.message_id);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", c->name, why);
        assert_string_equal(m.sender, c->sender);
        assert_int_equal(m.nrcpts, c->nrcpts);
        assert_string_equal(m.rcpts[0].addr, c->rcpt0);
        assert_string_equal(m.rcpts[0].sg, c->sg0);
        assert_int_equal(m.rcpts[0].route, c->sg0[0] ? RCPT_ROUTE_SG : RCPT_ROUTE_SMARTHOST);
        assert_int_equal(m.received_ms, c->received_ms);
        assert_int_equal(m.body, c->body);
        assert_int_equal(m.smtputf8, c->utf8);
        if (c->msgid)
            assert_string_equal(m.message_id, c->msgid);
        else
            assert_null(m.message_id);
        if (c->nrcpts > 1)
            assert_int_equal(m.rcpts[1].route, RCPT_ROUTE_SMARTHOST);
        free(m.rcpts);
        free(m.message_id);
    }
}

/* too many recipients: refused at the bound, not before */
static void test_rcpt_bound(void **state)
{
    const char pair[] = E("Dd-Rcpt", "SG1 <u@e>");
    const char head[] = E("Dd-From", "<>") E("Dd-Received", "1");
    for (size_t n = SHADOW_ENV_RCPTS_MAX; n <= SHADOW_ENV_RCPTS_MAX + 1; n++) {
        size_t len = sizeof(head) - 1 + n * (sizeof(pair) - 1);
        char *env = malloc(len);
        struct queue_msg m;
        char why[128];
        (void)state;
        assert_non_null(env);
        memcpy(env, head, sizeof(head) - 1);
        for (size_t i = 0; i < n; i++)
            memcpy(env + sizeof(head) - 1 + i * (sizeof(pair) - 1), pair, sizeof(pair) - 1);
        int rc = shadow_env_parse(env, len, &m, NULL, why, sizeof(why));
        assert_int_equal(rc, n == SHADOW_ENV_RCPTS_MAX ? 0 : -1);
        if (rc == 0)
            assert_int_equal(m.nrcpts, n);
        free(m.rcpts);
        free(m.message_id);
        free(env);
    }
}

struct kept_case {
    const char *name;
    const char *env;
    const char *reason; /* NULL: parses */
    size_t nrcpts;
    const char *rcpt1; /* the last recipient */
    int64_t delivered1;
};

#define KEPT E("Dd-Hub", "hub1") E("Dd-From", "<s@e>") E("Dd-Received", "7")
static const struct kept_case kept_cases[] = {
    {"two delivered",
     KEPT E("Dd-Sg", "SG1") E("Dd-Delivered", "<a@e> 10") E("Dd-Delivered", "<b@e> 11"), NULL, 2,
     "b@e", 11},
    {"sg after the recipients", KEPT E("Dd-Delivered", "<a@e> 10") E("Dd-Sg", "SG1"), NULL, 1,
     "a@e", 10},
    {"no sg", KEPT E("Dd-Delivered", "<a@e> 10"), "without Dd-Sg", 0, NULL, 0},
    {"sg twice", KEPT E("Dd-Sg", "SG1") E("Dd-Sg", "SG2") E("Dd-Delivered", "<a@e> 1"),
     "repeated Dd-Sg", 0, NULL, 0},
    {"sg with a dot", KEPT E("Dd-Sg", "S.1") E("Dd-Delivered", "<a@e> 1"), "Dd-Sg", 0, NULL, 0},
    {"no time", KEPT E("Dd-Sg", "SG1") E("Dd-Delivered", "<a@e>"), "bad Dd-Delivered", 0, NULL, 0},
    {"bad time", KEPT E("Dd-Sg", "SG1") E("Dd-Delivered", "<a@e> 1x"), "bad Dd-Delivered", 0, NULL,
     0},
    {"mixed", KEPT E("Dd-Sg", "SG1") E("Dd-Delivered", "<a@e> 1") E("Dd-Rcpt", "SG1 <b@e>"),
     "mixed", 0, NULL, 0},
    {"no recipient", KEPT E("Dd-Sg", "SG1"), "are needed", 0, NULL, 0},
};

static void test_kept(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(kept_cases) / sizeof(kept_cases[0]); i++) {
        const struct kept_case *c = &kept_cases[i];
        struct env_case as = {.env = c->env};
        struct queue_msg m;
        int64_t *delivered = NULL;
        char why[256] = "";
        int rc = shadow_env_parse(c->env, case_len(&as), &m, &delivered, why, sizeof(why));
        if (c->reason) {
            if (rc != -1 || strstr(why, c->reason) == NULL)
                fail_msg("%s: want failure with \"%s\", got %d \"%s\"", c->name, c->reason, rc,
                         why);
            assert_null(delivered);
            assert_null(m.rcpts);
            continue;
        }
        if (rc != 0)
            fail_msg("%s: %s", c->name, why);
        assert_int_equal(m.nrcpts, c->nrcpts);
        assert_string_equal(m.rcpts[m.nrcpts - 1].addr, c->rcpt1);
        assert_string_equal(m.rcpts[m.nrcpts - 1].sg, "SG1");
        assert_int_equal(m.rcpts[0].route, RCPT_ROUTE_SG);
        assert_int_equal(delivered[m.nrcpts - 1], c->delivered1);
        assert_int_equal(m.received_ms, 7);
        free(delivered);
        free(m.rcpts);
        free(m.message_id);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_rcpt_bound),
        cmocka_unit_test(test_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
