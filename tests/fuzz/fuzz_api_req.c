/*
 * fuzz_api_req.c - libFuzzer target for the admin API request decoders
 *
 * The same bytes, in a buffer of their exact size, go to all three
 * decoders. Invariants: an error is 400 or 413 with a known code and a
 * printable message, and its JSON body parses back with that code; a
 * resubmit request that decodes has start <= end within the valid range, a
 * good storage group name, bounded NUL-terminated strings, a lower-cased
 * recipient, and a destination whose canonical text parses to itself.
 * Everything is freed, so LeakSanitizer sees any leak of jansson values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_req.h"
#include "timefmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_api_req: invariant broken: %s\n", what);
        abort();
    }
}

/* check_error - status, code, printable message, and the JSON body */
static void check_error(const struct api_error *err)
{
    static const char *const codes[] = {"bad_json",  "bad_field",     "bad_time",
                                        "bad_range", "missing_field", "too_large"};
    json_t *root, *code;
    size_t i, known = 0;
    char *body;

    check(err->status == 400 || err->status == 413, "status 400 or 413");
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        known += strcmp(err->code, codes[i]) == 0;
    check(known == 1, "known code");
    check(memchr(err->message, 0, sizeof(err->message)) != NULL, "message NUL-terminated");
    for (i = 0; err->message[i]; i++)
        check(err->message[i] >= 0x20 && err->message[i] < 0x7f, "message printable");
    body = api_error_json(err);
    check(body != NULL, "error body");
    root = json_loads(body, 0, NULL);
    check(root != NULL, "error body is JSON");
    code = json_object_get(json_object_get(root, "error"), "code");
    check(json_is_string(code) && strcmp(json_string_value(code), err->code) == 0, "code kept");
    json_decref(root);
    free(body);
}

/* check_dest - canonical text parses to the same destination */
static void check_dest(const struct dest *d, const char *text)
{
    static struct dest again;
    char err[256];

    check(d->n >= 1 && d->n <= DD_DEST_ADDRS_MAX, "1..16 addresses");
    check(strlen(text) < DD_DEST_TEXT_MAX, "canonical text bounded");
    check(conf_dest_parse(text, &again, err, sizeof(err)) == 0, "canonical text parses");
    check(memcmp(&again, d, sizeof(again)) == 0, "canonical text parses to itself");
}

/* check_resubmit - a decoded resubmit request */
static void check_resubmit(const struct resubmit_req *r)
{
    size_t i;

    check(api_sg_name_ok(r->storage_group, strlen(r->storage_group)), "storage group name");
    check(r->start_ms >= TIMEFMT_MS_MIN && r->end_ms <= TIMEFMT_MS_MAX, "range in bounds");
    check(r->start_ms <= r->end_ms, "start <= end");
    check(r->match == RESUBMIT_MATCH_DELIVERED || r->match == RESUBMIT_MATCH_RECEIVED, "match");
    check(strlen(r->sender) <= DD_API_ADDR_MAX && strlen(r->recipient) <= DD_API_ADDR_MAX, "addr");
    check(strlen(r->message_id) <= DD_API_MSGID_MAX && strlen(r->reason) <= DD_API_REASON_MAX, "text");
    check(!r->has_recipient || r->recipient[0] != 0, "recipient not empty");
    for (i = 0; r->recipient[i]; i++)
        check(r->recipient[i] < 'A' || r->recipient[i] > 'Z', "recipient lower-cased");
    if (r->has_dest)
        check_dest(&r->dest, r->dest_text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct resubmit_req rs;
    static struct dest_req dr;
    struct api_error err;
    char *body = malloc(size ? size : 1);
    int64_t until;

    check(body != NULL, "malloc");
    memcpy(body, data, size);
    if (api_req_resubmit(body, size, &rs, &err) == 0)
        check_resubmit(&rs);
    else
        check_error(&err);
    if (api_req_destination(body, size, &dr, &err) == 0)
        check_dest(&dr.dest, dr.dest_text);
    else
        check_error(&err);
    if (api_req_replicated(body, size, &until, &err) == 0)
        check(until >= TIMEFMT_MS_MIN && until <= TIMEFMT_MS_MAX, "until in range");
    else
        check_error(&err);
    free(body);
    return 0;
}
