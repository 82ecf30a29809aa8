/*
 * fuzz_timefmt.c - libFuzzer target for timefmt_parse() and the formatters
 *
 * The input is parsed from a buffer of its exact size, so ASan sees any
 * read past it. Invariants: a time that parses lies in the valid range and
 * formats to 24 characters that parse back to it (to the millisecond); the
 * first 8 input octets as any int64_t format (clamped) to a text that
 * parses back to the clamped value; RFC 5322 output has its fixed shape.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_timefmt: invariant broken: %s\n", what);
        abort();
    }
}

/* check_roundtrip - ms formats to RFC 3339 that parses back to it */
static void check_roundtrip(int64_t ms)
{
    char out[TIMEFMT_RFC3339_BUF], date[TIMEFMT_RFC5322_BUF];
    int64_t back = -1;

    check(ms >= TIMEFMT_MS_MIN && ms <= TIMEFMT_MS_MAX, "in range");
    timefmt_format(ms, out);
    check(strlen(out) == 24 && out[10] == 'T' && out[23] == 'Z', "RFC 3339 shape");
    check(timefmt_parse(out, strlen(out), &back) == 0, "formatted time parses");
    check(back == ms, "format/parse round trip");
    timefmt_rfc5322(ms, date);
    check(strlen(date) == 31 && date[3] == ',' && strcmp(date + 25, " +0000") == 0,
          "RFC 5322 shape");
}

/* clamp - what timefmt_format() does with an out-of-range value */
static int64_t clamp(int64_t ms)
{
    return ms < TIMEFMT_MS_MIN ? TIMEFMT_MS_MIN : ms > TIMEFMT_MS_MAX ? TIMEFMT_MS_MAX : ms;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    int64_t ms = -1, raw;

    check(s != NULL, "malloc");
    memcpy(s, data, size);
    if (timefmt_parse(s, size, &ms) == 0) {
        check(size <= TIMEFMT_INPUT_MAX, "length bound");
        check_roundtrip(ms);
    } else {
        check(ms == -1, "untouched on failure");
    }
    free(s);
    if (size >= sizeof(raw)) {
        memcpy(&raw, data, sizeof(raw));
        check_roundtrip(clamp(raw));
    }
    return 0;
}
