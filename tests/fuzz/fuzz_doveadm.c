/*
 * fuzz_doveadm.c - libFuzzer target for the doveadm search batch
 *
 * The first octet picks how many questions were asked (1..8) and which of
 * them the batch could not carry; the rest is the response body, fed in a
 * buffer of its exact size so ASan sees any read past it. Invariants: rc
 * is 0 or -1; after -1 every answer is an error and a reason is given;
 * every answer is a known one; a question the batch left out is never an
 * error after 0 and never present. Then the body of those questions is
 * built from the input's bytes as strings and must be JSON that parses.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "doveadm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_doveadm: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct probe_query q[8];
    enum probe_answer a[8];
    char err[128] = "", users[8][24], mids[8][24];
    size_t n;
    char *body;

    if (size < 1)
        return 0;
    n = (size_t)(data[0] & 7) + 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(users[i], sizeof(users[i]), (data[0] >> 3) & (1u << (i % 5)) ? "u%zu\xff" : "u%zu",
                 i);
        snprintf(mids[i], sizeof(mids[i]), "<m%zu@x>", i);
        q[i] = (struct probe_query){users[i], mids[i]};
    }
    char *copy = malloc(size - 1 ? size - 1 : 1);
    check(copy != NULL, "malloc");
    memcpy(copy, data + 1, size - 1);
    int rc = doveadm_search_parse(copy, size - 1, q, a, n, err, sizeof(err));
    free(copy);
    check(rc == 0 || rc == -1, "rc");
    for (size_t i = 0; i < n; i++) {
        check(a[i] <= PROBE_ERROR, "a known answer");
        if (rc < 0)
            check(a[i] == PROBE_ERROR, "every answer an error after -1");
        else if (!doveadm_askable(&q[i]))
            check(a[i] == PROBE_MISSING, "a question left out is missing");
    }
    check(rc == 0 || err[0] != 0, "a reason after -1");

    /* the input's bytes as the strings of the questions */
    char s1[64], s2[64];
    size_t h = (size - 1) / 2, l1 = h < 63 ? h : 63, l2 = size - 1 - h < 63 ? size - 1 - h : 63;
    memcpy(s1, data + 1, l1);
    s1[l1] = 0;
    memcpy(s2, data + 1 + h, l2);
    s2[l2] = 0;
    struct probe_query fq[2] = {{s1, s2}, {s2, s1}};
    body = doveadm_search_body(fq, 2);
    check(body != NULL, "a body");
    json_t *j = json_loads(body, 0, NULL);
    check(j != NULL && json_is_array(j), "the body parses");
    check(json_array_size(j) == (size_t)doveadm_askable(&fq[0]) + doveadm_askable(&fq[1]),
          "one command per askable question");
    json_decref(j);
    free(body);
    return 0;
}
