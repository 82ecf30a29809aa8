/*
 * api_req.h - the admin API's JSON request bodies, decoded (pure; jansson)
 *
 * Each decoder takes the body bytes and fills a struct, or fills a
 * struct api_error with the HTTP status, a short code and a message that
 * names the field at fault (SPEC section 8). Decoding is strict: unknown
 * fields, duplicate keys, wrong JSON types, trailing bytes and bodies over
 * DD_API_BODY_MAX are errors. A JSON null for an optional field counts as
 * absent. Times are RFC 3339 strings or unix seconds (integer or fraction),
 * see timefmt.h.
 */
#ifndef DD_API_REQ_H
#define DD_API_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "conf.h"
#include "resubmit_types.h"

#define API_ERR_CODE_MAX 32
#define API_ERR_MESSAGE_MAX 256

/* What went wrong: status 400 (code bad_json, bad_field, bad_time,
 * bad_range, missing_field) or 413 (too_large). The message is printable
 * ASCII: octets of the input quoted in it are replaced by '?' unless they
 * are printable ASCII. */
struct api_error {
    int status;
    char code[API_ERR_CODE_MAX];
    char message[API_ERR_MESSAGE_MAX];
};

/* PUT /v1/storage-groups/{sg}/destination */
struct dest_req {
    struct dest dest;
    char dest_text[DD_DEST_TEXT_MAX + 1]; /* canonical (conf_dest_format) */
};

/*
 * api_req_resubmit - decode {storage_group, start, end, match?, destination?,
 * sender?, recipient?, message_id?, reason?, dry_run?, force?}. sender and
 * recipient may be written with or without angle brackets; they and
 * message_id and reason refuse control characters. Returns 0, or -1 with
 * err filled (then *out is unspecified).
 */
int api_req_resubmit(const char *body, size_t len, struct resubmit_req *out, struct api_error *err);

/* api_req_destination - decode {"destination": "lmtp:[127.0.0.1]:2424"}. 0 or -1. */
int api_req_destination(const char *body, size_t len, struct dest_req *out, struct api_error *err);

/* api_req_replicated - decode {"until": T} into *until_ms. 0 or -1. */
int api_req_replicated(const char *body, size_t len, int64_t *until_ms, struct api_error *err);

/* api_sg_name_ok - whether s[0..len) is a storage group name: [A-Za-z0-9._-]{1,64}. */
bool api_sg_name_ok(const char *s, size_t len);

/* api_match_name - "delivered" or "received". */
const char *api_match_name(enum resubmit_match m);

/* api_error_set - fill err (printf-style message, made printable ASCII). */
void api_error_set(struct api_error *err, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * api_error_json - the error body {"error":{"code":"...","message":"..."}}
 * as a NUL-terminated string; the caller frees it with free(). NULL when out
 * of memory.
 */
char *api_error_json(const struct api_error *err);

#endif
