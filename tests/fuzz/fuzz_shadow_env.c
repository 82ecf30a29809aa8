/*
 * fuzz_shadow_env.c - libFuzzer target for shadow_env_parse()
 *
 * The input is a control octet (odd: a shadow dumpster's copy, with its
 * delivered times; even: a queue copy) and then the "key\0value\0..." pairs
 * of a shadow copy, from a buffer of its exact size. Invariants: a parse that succeeds has a
 * recipient, routes that match their storage group (empty for the smarthost), bodies and SMTPUTF8
 * values in range and addresses within their bounds; one that fails gives a reason and holds
 * nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_env.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_shadow_env: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct queue_msg m;
    char why[256] = "";
    int64_t *delivered = (int64_t *)1; /* overwritten by the parser in that mode */
    bool kept = size > 0 && (data[0] & 1);

    if (size == 0)
        return 0;
    size--;
    char *env = malloc(size ? size : 1);
    check(env != NULL, "malloc");
    memcpy(env, data + 1, size);
    if (shadow_env_parse(env, size, &m, kept ? &delivered : NULL, why, sizeof(why)) == 0) {
        for (size_t i = 0; kept && i < m.nrcpts; i++)
            check(delivered[i] >= 0 && m.rcpts[i].route == RCPT_ROUTE_SG, "delivered times");
        if (kept)
            free(delivered);
        check(m.nrcpts > 0 && m.nrcpts <= SHADOW_ENV_RCPTS_MAX, "recipients");
        check(strlen(m.sender) <= DD_ADDR_MAX, "sender bound");
        for (size_t i = 0; i < m.nrcpts; i++) {
            check(m.rcpts[i].addr[0] && strlen(m.rcpts[i].addr) <= DD_ADDR_MAX, "rcpt bound");
            check((m.rcpts[i].route == RCPT_ROUTE_SG) == (m.rcpts[i].sg[0] != 0), "route");
            check(strchr(m.rcpts[i].sg, '.') == NULL, "no dot in an SG");
        }
        check(m.body <= MSG_BODY_8BITMIME && m.smtputf8 <= MSG_UTF8_HEADERS, "enums");
        check(m.message_id == NULL || strlen(m.message_id) <= SHADOW_ENV_MSGID_MAX, "msgid");
        free(m.rcpts);
        free(m.message_id);
    } else {
        check(why[0] != 0 && m.rcpts == NULL && m.message_id == NULL, "clean failure");
        check(!kept || delivered == NULL, "no delivered times on a failure");
    }
    free(env);
    return 0;
}
