/*
 * api_req.c - decode the admin API's JSON request bodies (pure; jansson)
 *
 * One generic walk (api_decode) loads the body with duplicate keys
 * refused, requires an object, and hands every member to the decoder of
 * its field from a table; a member not in the table is an error, and so is
 * a required field that never came. Field decoders check the JSON type
 * first, then the value, and name the field in every message. Cross-field
 * rules (start <= end) come after the walk.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_req.h"
#include "timefmt.h"

#define API_QUOTE_MAX 64 /* octets of client input quoted in a message */

/* Decoders of one field; out is the struct the request fills. */
typedef int (*api_field_fn)(const json_t *v, const char *name, void *out, struct api_error *err);

struct api_field {
    const char *name;
    api_field_fn fn;
    bool required;
};

/* printable - printable ASCII, the only octets an error message carries */
static bool printable(unsigned char ch)
{
    return ch >= 0x20 && ch < 0x7f;
}

/* copy_printable - copy src into dst[cap], other octets as '?' */
static void copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i;

    for (i = 0; i + 1 < cap && src[i] != 0; i++)
        dst[i] = printable((unsigned char)src[i]) ? src[i] : '?';
    dst[i] = 0;
}

/* api_error_set - fill err; the message is made printable ASCII */
void api_error_set(struct api_error *err, int status, const char *code, const char *fmt, ...)
{
    char msg[API_ERR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    err->status = status;
    copy_printable(err->code, sizeof(err->code), code);
    copy_printable(err->message, sizeof(err->message), msg);
}

/* api_error_json - {"error":{"code":...,"message":...}}; caller frees */
char *api_error_json(const struct api_error *err)
{
    char code[API_ERR_CODE_MAX], msg[API_ERR_MESSAGE_MAX];
    json_t *root;
    char *s;

    /* Copies: a caller may have filled err by hand, without NULs or ASCII. */
    memcpy(code, err->code, sizeof(code));
    code[sizeof(code) - 1] = 0;
    memcpy(msg, err->message, sizeof(msg));
    msg[sizeof(msg) - 1] = 0;
    copy_printable(code, sizeof(code), code);
    copy_printable(msg, sizeof(msg), msg);
    root = json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", msg);
    if (root == NULL)
        return NULL;
    s = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return s;
}

/* api_sg_name_ok - [A-Za-z0-9._-]{1,64} */
bool api_sg_name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > DD_SG_NAME_MAX)
        return false;
    for (i = 0; i < len; i++) {
        char ch = s[i];

        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

/* api_match_name - the JSON spelling of a match mode */
const char *api_match_name(enum resubmit_match m)
{
    return m == RESUBMIT_MATCH_RECEIVED ? "received" : "delivered";
}

/* bad_field - a 400 bad_field error naming the field; returns -1 */
static int __attribute__((format(printf, 3, 4)))
bad_field(struct api_error *err, const char *name, const char *fmt, ...)
{
    char what[API_ERR_MESSAGE_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    api_error_set(err, 400, "bad_field", "field \"%s\" %s", name, what);
    return -1;
}

/* get_string - a JSON string of at most max octets, no NUL or control */
static int get_string(const json_t *v, const char *name, size_t max, const char **s, size_t *n,
                      struct api_error *err)
{
    size_t i;

    *s = NULL; /* set on every path: the compiler cannot see bad_field() < 0 */
    *n = 0;
    if (!json_is_string(v))
        return bad_field(err, name, "must be a string");
    *s = json_string_value(v);
    *n = json_string_length(v);
    if (*n > max)
        return bad_field(err, name, "is longer than %zu octets", max);
    for (i = 0; i < *n; i++)
        if ((unsigned char)(*s)[i] < 0x20 || (*s)[i] == 0x7f)
            return bad_field(err, name, "contains a control character");
    return 0;
}

/* get_time - an RFC 3339 / unix seconds string, or a number of unix seconds */
static int get_time(const json_t *v, const char *name, int64_t *ms, struct api_error *err)
{
    double d;

    if (json_is_string(v)) {
        if (timefmt_parse(json_string_value(v), json_string_length(v), ms) == 0)
            return 0;
        api_error_set(err, 400, "bad_time",
                      "field \"%s\": \"%.*s\" is not an RFC 3339 time or unix seconds "
                      "(1970..9999)",
                      name, API_QUOTE_MAX, json_string_value(v));
        return -1;
    }
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);

        if (i >= 0 && i <= TIMEFMT_MS_MAX / 1000) {
            *ms = (int64_t)i * 1000;
            return 0;
        }
    } else if (json_is_real(v)) {
        /* Nearest millisecond; the comparisons also refuse NaN. */
        if ((d = json_real_value(v)) >= 0 && d * 1000.0 + 0.5 < (double)TIMEFMT_MS_MAX + 1) {
            *ms = (int64_t)(d * 1000.0 + 0.5);
            return 0;
        }
    } else {
        return bad_field(err, name, "must be a string (RFC 3339) or a number (unix seconds)");
    }
    api_error_set(err, 400, "bad_time", "field \"%s\": unix seconds out of range (1970..9999)",
                  name);
    return -1;
}

/* get_bool - a JSON true or false */
static int get_bool(const json_t *v, const char *name, bool *b, struct api_error *err)
{
    if (!json_is_boolean(v))
        return bad_field(err, name, "must be true or false");
    *b = json_is_true(v);
    return 0;
}

/* get_dest - a destination string, parsed and in canonical form */
static int get_dest(const json_t *v, const char *name, struct dest *d, char *text,
                    struct api_error *err)
{
    char msg[API_ERR_MESSAGE_MAX];
    const char *s;
    size_t n;

    if (get_string(v, name, DD_API_DEST_IN_MAX, &s, &n, err) < 0)
        return -1;
    if (conf_dest_parse(s, d, msg, sizeof(msg)) < 0)
        return bad_field(err, name, "is not a destination: %s", msg);
    conf_dest_format(d, text, DD_DEST_TEXT_MAX + 1);
    if (strlen(text) >= DD_DEST_TEXT_MAX)
        return bad_field(err, name, "is too long");
    return 0;
}

/* get_addr - a sender or recipient filter, angle brackets optional */
static int get_addr(const json_t *v, const char *name, bool allow_null, bool lower, char *out,
                    struct api_error *err)
{
    const char *s;
    size_t n, i;

    /* Bounded by the body; the bound that counts applies without brackets. */
    if (get_string(v, name, DD_API_BODY_MAX, &s, &n, err) < 0)
        return -1;
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    if (n > DD_API_ADDR_MAX)
        return bad_field(err, name, "is longer than %d octets", DD_API_ADDR_MAX);
    if (n == 0 && !allow_null)
        return bad_field(err, name, "must not be empty");
    for (i = 0; i < n; i++)
        out[i] = lower && s[i] >= 'A' && s[i] <= 'Z' ? (char)(s[i] - 'A' + 'a') : s[i];
    out[n] = 0;
    return 0;
}

/* get_text - a bounded string copied into out[max + 1] */
static int get_text(const json_t *v, const char *name, size_t max, bool allow_empty, char *out,
                    struct api_error *err)
{
    const char *s;
    size_t n;

    if (get_string(v, name, max, &s, &n, err) < 0)
        return -1;
    if (n == 0 && !allow_empty)
        return bad_field(err, name, "must not be empty");
    memcpy(out, s, n);
    out[n] = 0;
    return 0;
}

/* ---- POST /v1/resubmit ---- */

/* rs_sg - storage_group */
static int rs_sg(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;
    const char *s;
    size_t n;

    if (get_string(v, name, DD_SG_NAME_MAX, &s, &n, err) < 0)
        return -1;
    if (!api_sg_name_ok(s, n))
        return bad_field(err, name, "must be 1..64 of [A-Za-z0-9._-]");
    memcpy(r->storage_group, s, n);
    r->storage_group[n] = 0;
    return 0;
}

/* rs_start - start */
static int rs_start(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_time(v, name, &((struct resubmit_req *)out)->start_ms, err);
}

/* rs_end - end */
static int rs_end(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_time(v, name, &((struct resubmit_req *)out)->end_ms, err);
}

/* rs_match - "delivered" or "received" */
static int rs_match(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;
    const char *s;

    if (!json_is_string(v))
        return bad_field(err, name, "must be a string");
    s = json_string_value(v);
    if (strcmp(s, "delivered") == 0 && json_string_length(v) == 9)
        r->match = RESUBMIT_MATCH_DELIVERED;
    else if (strcmp(s, "received") == 0 && json_string_length(v) == 8)
        r->match = RESUBMIT_MATCH_RECEIVED;
    else
        return bad_field(err, name, "must be \"delivered\" or \"received\"");
    return 0;
}

/* rs_dest - destination override */
static int rs_dest(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;

    r->has_dest = true;
    return get_dest(v, name, &r->dest, r->dest_text, err);
}

/* rs_sender - sender filter; "" or "<>" is the null sender */
static int rs_sender(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;

    r->has_sender = true;
    return get_addr(v, name, true, false, r->sender, err);
}

/* rs_recipient - recipient filter, lower-cased: matching ignores case */
static int rs_recipient(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;

    r->has_recipient = true;
    return get_addr(v, name, false, true, r->recipient, err);
}

/* rs_message_id - Message-ID filter */
static int rs_message_id(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;

    r->has_message_id = true;
    return get_text(v, name, DD_API_MSGID_MAX, false, r->message_id, err);
}

/* rs_reason - free text for logs */
static int rs_reason(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_text(v, name, DD_API_REASON_MAX, true, ((struct resubmit_req *)out)->reason, err);
}

/* rs_dry_run - preview only */
static int rs_dry_run(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_bool(v, name, &((struct resubmit_req *)out)->dry_run, err);
}

/* rs_force - resend what the ledger says was already resent */
static int rs_force(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_bool(v, name, &((struct resubmit_req *)out)->force, err);
}

/* rs_probe - false: resend without asking the group's probe */
static int rs_probe(const json_t *v, const char *name, void *out, struct api_error *err)
{
    bool probe = true;
    int rc = get_bool(v, name, &probe, err);

    ((struct resubmit_req *)out)->skip_probe = !probe;
    return rc;
}

/* rs_unresponsive - hubs that are down: names, distinct, no dot */
static int rs_unresponsive(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct resubmit_req *r = out;
    size_t i;
    json_t *e;

    if (!json_is_array(v))
        return bad_field(err, name, "must be an array of hub names");
    if (json_array_size(v) > DD_API_HUBS_MAX)
        return bad_field(err, name, "at most 16 hubs");
    json_array_foreach(v, i, e)
    {
        const char *s;
        size_t n;
        if (get_string(e, name, DD_SG_NAME_MAX, &s, &n, err) < 0)
            return -1;
        if (!api_sg_name_ok(s, n) || memchr(s, '.', n) != NULL)
            return bad_field(err, name, "hub names are 1..64 of [A-Za-z0-9_-]");
        for (size_t k = 0; k < r->nunresponsive; k++)
            if (strlen(r->unresponsive[k]) == n && memcmp(r->unresponsive[k], s, n) == 0)
                return bad_field(err, name, "a hub named twice");
        memcpy(r->unresponsive[r->nunresponsive], s, n);
        r->unresponsive[r->nunresponsive++][n] = 0;
    }
    return 0;
}

static const struct api_field resubmit_fields[] = {
    {"storage_group", rs_sg, true},
    {"start", rs_start, true},
    {"end", rs_end, true},
    {"match", rs_match, false},
    {"destination", rs_dest, false},
    {"sender", rs_sender, false},
    {"recipient", rs_recipient, false},
    {"message_id", rs_message_id, false},
    {"reason", rs_reason, false},
    {"dry_run", rs_dry_run, false},
    {"force", rs_force, false},
    {"probe", rs_probe, false},
    {"unresponsive_hubs", rs_unresponsive, false},
};

/* ---- PUT destination, POST replicated ---- */

/* dr_dest - the new destination */
static int dr_dest(const json_t *v, const char *name, void *out, struct api_error *err)
{
    struct dest_req *r = out;

    return get_dest(v, name, &r->dest, r->dest_text, err);
}

/* rp_until - the time up to which the mailbox's copies are safe */
static int rp_until(const json_t *v, const char *name, void *out, struct api_error *err)
{
    return get_time(v, name, out, err);
}

static const struct api_field destination_fields[] = {
    {"destination", dr_dest, true},
};

static const struct api_field replicated_fields[] = {
    {"until", rp_until, true},
};

/* ---- the generic walk ---- */

/* api_load - parse the body; it must be one JSON object and nothing else */
static json_t *api_load(const char *body, size_t len, struct api_error *err)
{
    json_error_t jerr;
    json_t *root;

    if (len > DD_API_BODY_MAX) {
        api_error_set(err, 413, "too_large", "request body over %d octets", DD_API_BODY_MAX);
        return NULL;
    }
    if (body == NULL || len == 0) {
        api_error_set(err, 400, "bad_json", "empty request body: a JSON object is expected");
        return NULL;
    }
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        api_error_set(err, 400, "bad_json", "invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        api_error_set(err, 400, "bad_json", "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* api_fields - hand every member of obj to its field's decoder */
static int api_fields(json_t *obj, const struct api_field *tab, size_t n, void *out,
                      struct api_error *err)
{
    unsigned long seen = 0;
    const char *key;
    json_t *v;
    size_t i;

    json_object_foreach(obj, key, v)
    {
        for (i = 0; i < n && strcmp(tab[i].name, key) != 0; i++)
            ;
        if (i == n) {
            api_error_set(err, 400, "bad_field", "unknown field \"%.*s\"", API_QUOTE_MAX, key);
            return -1;
        }
        if (json_is_null(v) && !tab[i].required)
            continue;
        if (tab[i].fn(v, tab[i].name, out, err) < 0)
            return -1;
        seen |= 1UL << i;
    }
    for (i = 0; i < n; i++)
        if (tab[i].required && !(seen & (1UL << i))) {
            api_error_set(err, 400, "missing_field", "missing field \"%s\"", tab[i].name);
            return -1;
        }
    return 0;
}

/* api_decode - load the body and walk it with the field table */
static int api_decode(const char *body, size_t len, const struct api_field *tab, size_t n,
                      void *out, struct api_error *err)
{
    json_t *root = api_load(body, len, err);
    int rc;

    if (root == NULL)
        return -1;
    rc = api_fields(root, tab, n, out, err);
    json_decref(root);
    return rc;
}

#define API_NFIELDS(t) (sizeof(t) / sizeof((t)[0]))

/* api_req_resubmit - POST /v1/resubmit */
int api_req_resubmit(const char *body, size_t len, struct resubmit_req *out, struct api_error *err)
{
    char a[TIMEFMT_RFC3339_BUF], b[TIMEFMT_RFC3339_BUF];

    memset(out, 0, sizeof(*out));
    out->match = RESUBMIT_MATCH_DELIVERED;
    if (api_decode(body, len, resubmit_fields, API_NFIELDS(resubmit_fields), out, err) < 0)
        return -1;
    if (out->start_ms > out->end_ms) {
        timefmt_format(out->start_ms, a);
        timefmt_format(out->end_ms, b);
        api_error_set(err, 400, "bad_range", "start %s is after end %s", a, b);
        return -1;
    }
    if (out->nunresponsive > 0 && (out->has_dest || out->dry_run)) {
        api_error_set(err, 400, "bad_field",
                      "unresponsive_hubs goes without destination and dry_run: move the group's "
                      "route first (PUT /v1/storage-groups/{sg}/destination)");
        return -1;
    }
    return 0;
}

/* api_req_destination - PUT /v1/storage-groups/{sg}/destination */
int api_req_destination(const char *body, size_t len, struct dest_req *out, struct api_error *err)
{
    memset(out, 0, sizeof(*out));
    return api_decode(body, len, destination_fields, API_NFIELDS(destination_fields), out, err);
}

/* api_req_replicated - POST /v1/storage-groups/{sg}/replicated */
int api_req_replicated(const char *body, size_t len, int64_t *until_ms, struct api_error *err)
{
    *until_ms = 0;
    return api_decode(body, len, replicated_fields, API_NFIELDS(replicated_fields), until_ms, err);
}
