/*
 * doveadm.c - the doveadm HTTP API's search batch (doveadm.h; pure)
 *
 * The response is trusted for nothing: every element is checked for its
 * shape, tags are read as decimal indexes below n, and a tag seen twice
 * or any element that is not [string, value, string] makes the whole body
 * an error, as does JSON that does not parse (Dovecot 2.3 writes invalid
 * JSON for some errors).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "doveadm.h"

/* doveadm_utf8 - s is non-empty, well-formed UTF-8 (no overlong forms,
 * no surrogates, nothing past U+10FFFF) */
static bool doveadm_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    if (s == NULL || *p == 0)
        return false;
    while (*p) {
        unsigned c = *p, need, min, cp;

        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, min = 0x80, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, min = 0x800, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, min = 0x10000, cp = c & 0x07;
        else
            return false;
        for (unsigned i = 1; i <= need; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        p += need + 1;
    }
    return true;
}

/* doveadm_askable - both strings can go in the batch */
bool doveadm_askable(const struct probe_query *q)
{
    return doveadm_utf8(q->user) && doveadm_utf8(q->message_id);
}

/* doveadm_command - one search command, tagged i */
static json_t *doveadm_command(const struct probe_query *q, size_t i)
{
    char tag[24];
    json_t *query = json_pack("[ssss]", "mailbox", "*", "header", "Message-ID");

    if (query == NULL || json_array_append_new(query, json_string(q->message_id)) < 0 ||
        json_array_size(query) != 5) {
        json_decref(query);
        return NULL;
    }
    snprintf(tag, sizeof(tag), "%zu", i);
    return json_pack("[s{s:s,s:o}s]", "search", "user", q->user, "query", query, tag);
}

/* doveadm_search_body - the batch as JSON text */
char *doveadm_search_body(const struct probe_query *q, size_t n)
{
    json_t *batch = json_array();
    char *body = NULL;
    size_t i;

    for (i = 0; batch && i < n; i++) {
        if (!doveadm_askable(&q[i]))
            continue;
        json_t *cmd = doveadm_command(&q[i], i);
        if (cmd == NULL || json_array_append_new(batch, cmd) < 0)
            break;
    }
    if (batch && i == n)
        body = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    return body;
}

/* doveadm_tag - the index a tag names, or -1 */
static long doveadm_tag(const json_t *t, size_t n)
{
    const char *s = json_string_value(t);
    char *end;
    long v;

    if (s == NULL || *s < '0' || *s > '9' || strlen(s) > 9)
        return -1;
    v = strtol(s, &end, 10);
    return *end == 0 && (size_t)v < n ? v : -1;
}

/* doveadm_one - the answer one element gives */
static enum probe_answer doveadm_one(const char *type, const json_t *result)
{
    if (strcmp(type, "doveadmResponse") == 0 && json_is_array(result))
        return json_array_size(result) > 0 ? PROBE_PRESENT : PROBE_MISSING;
    if (strcmp(type, "error") == 0 && json_is_object(result) &&
        json_integer_value(json_object_get(result, "exitCode")) == 67)
        return PROBE_NO_USER;
    return PROBE_ERROR;
}

/* doveadm_fail - every answer an error, and why */
static int doveadm_fail(enum probe_answer *answers, size_t n, char *err, size_t errlen,
                        const char *why)
{
    for (size_t i = 0; i < n; i++)
        answers[i] = PROBE_ERROR;
    snprintf(err, errlen, "%s", why);
    return -1;
}

/* doveadm_search_parse - the answers of a batch */
int doveadm_search_parse(const char *body, size_t len, const struct probe_query *q,
                         enum probe_answer *answers, size_t n, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je), *el;
    unsigned char *seen = calloc(n ? n : 1, 1);
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++)
        answers[i] = PROBE_ERROR;
    if (root == NULL || !json_is_array(root) || seen == NULL)
        rc = doveadm_fail(answers, n, err, errlen, root ? "not an array" : "not JSON");
    json_array_foreach(rc == 0 ? root : NULL, i, el)
    {
        const char *type = json_string_value(json_array_get(el, 0));
        long tag = doveadm_tag(json_array_get(el, 2), n);
        if (!json_is_array(el) || json_array_size(el) != 3 || type == NULL || tag < 0 ||
            seen[tag] || !doveadm_askable(&q[tag])) {
            rc = doveadm_fail(answers, n, err, errlen, "an answer of the wrong shape");
            break;
        }
        seen[tag] = 1;
        answers[tag] = doveadm_one(type, json_array_get(el, 1));
    }
    for (i = 0; rc == 0 && i < n; i++)
        if (!doveadm_askable(&q[i]))
            answers[i] = PROBE_MISSING;
    free(seen);
    json_decref(root);
    return rc;
}
