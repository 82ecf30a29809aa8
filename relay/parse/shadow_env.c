/*
 * shadow_env.c - the envelope of a shadow copy, read back (shadow_env.h)
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_env.h"

/* env_addr - "<addr>" into out (DD_ADDR_MAX); false when malformed */
static bool env_addr(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v);

    if (n < 2 || v[0] != '<' || v[n - 1] != '>' || n - 2 > DD_ADDR_MAX || n - 2 >= cap)
        return false;
    for (size_t i = 1; i < n - 1; i++)
        if ((unsigned char)v[i] <= ' ' || v[i] == '<' || v[i] == '>' || v[i] == 0x7f)
            return false;
    memcpy(out, v + 1, n - 2);
    out[n - 2] = 0;
    return true;
}

/* env_rcpt - "SG <addr>" or "@smarthost <addr>" */
static bool env_rcpt(const char *v, struct queue_msg_rcpt *r)
{
    const char *sp = strchr(v, ' ');
    size_t n = sp ? (size_t)(sp - v) : 0;

    if (sp == NULL || n == 0 || n > DD_SG_NAME_MAX || !env_addr(sp + 1, r->addr, sizeof(r->addr)))
        return false;
    if (n == 10 && memcmp(v, "@smarthost", 10) == 0) {
        r->route = RCPT_ROUTE_SMARTHOST;
        r->sg[0] = 0;
        return r->addr[0] != 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    r->route = RCPT_ROUTE_SG;
    memcpy(r->sg, v, n);
    r->sg[n] = 0;
    return r->addr[0] != 0;
}

/* env_num - a decimal of at most 19 digits */
static bool env_num(const char *v, int64_t *out)
{
    int64_t x = 0;
    size_t n = strlen(v);

    if (n == 0 || n > 18)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (v[i] - '0');
    }
    *out = x;
    return true;
}

/* env_delivered - "<addr> UNIXMS" */
static bool env_delivered(const char *v, struct queue_msg_rcpt *r, int64_t *ms)
{
    const char *sp = strrchr(v, ' ');
    char addr[DD_ADDR_MAX + 4];
    size_t n = sp ? (size_t)(sp - v) : 0;

    if (sp == NULL || n >= sizeof(addr) || !env_num(sp + 1, ms))
        return false;
    memcpy(addr, v, n);
    addr[n] = 0;
    r->route = RCPT_ROUTE_SG;
    return env_addr(addr, r->addr, sizeof(r->addr)) && r->addr[0] != 0;
}

/* env_sg - a storage group name without a dot */
static bool env_sg(const char *v, char *out)
{
    size_t n = strlen(v);

    if (n == 0 || n > DD_SG_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    memcpy(out, v, n + 1);
    return true;
}

static int env_fail(struct queue_msg *m, char *why, size_t whylen, const char *text, const char *k)
{
    free(m->rcpts);
    m->rcpts = NULL;
    m->nrcpts = 0;
    free(m->message_id);
    m->message_id = NULL;
    snprintf(why, whylen, "%s%s%s", text, k ? ": " : "", k ? k : "");
    return -1;
}

/* env_more - room for one more recipient (and its delivered time) */
static bool env_more(struct queue_msg *m, int64_t **delivered, size_t *cap)
{
    if (m->nrcpts < *cap)
        return true;
    size_t n = *cap ? *cap * 2 : 8;
    struct queue_msg_rcpt *r = realloc(m->rcpts, n * sizeof(*r));
    if (r == NULL)
        return false;
    m->rcpts = r;
    if (delivered) {
        int64_t *d = realloc(*delivered, n * sizeof(*d));
        if (d == NULL)
            return false;
        *delivered = d;
    }
    *cap = n;
    return true;
}

static int shadow_env_walk(const char *env, size_t len, struct queue_msg *m, int64_t **delivered,
                           size_t *capp, char *sg, bool *fromp, bool *receivedp, char *why,
                           size_t whylen);

int shadow_env_parse(const char *env, size_t len, struct queue_msg *m, int64_t **delivered,
                     char *why, size_t whylen)
{
    bool from = false, received = false;
    size_t cap = 0;
    char sg[DD_SG_NAME_MAX + 1] = "";

    if (delivered)
        *delivered = NULL;
    int rc = shadow_env_walk(env, len, m, delivered, &cap, sg, &from, &received, why, whylen);
    if (rc == 0 && (!from || !received || m->nrcpts == 0))
        rc = env_fail(m, why, whylen, "Dd-From, Dd-Received and a recipient are needed", NULL);
    if (rc == 0 && delivered && sg[0] == 0)
        rc = env_fail(m, why, whylen, "a dumpster copy without Dd-Sg", NULL);
    for (size_t i = 0; rc == 0 && delivered && i < m->nrcpts; i++)
        memcpy(m->rcpts[i].sg, sg, sizeof(sg));
    if (rc < 0 && delivered) {
        free(*delivered);
        *delivered = NULL;
    }
    return rc;
}

/* shadow_env_walk - every pair */
static int shadow_env_walk(const char *env, size_t len, struct queue_msg *m, int64_t **delivered,
                           size_t *capp, char *sg, bool *fromp, bool *receivedp, char *why,
                           size_t whylen)
{
    bool from = false, received = false;
    size_t cap = 0;

    m->rcpts = NULL;
    m->nrcpts = 0;
    m->message_id = NULL;
    m->body = MSG_BODY_NONE;
    m->smtputf8 = MSG_UTF8_NO;
    for (size_t i = 0; i < len;) {
        const char *k = env + i, *ke = memchr(k, 0, len - i);
        if (ke == NULL || (size_t)(ke + 1 - env) >= len)
            return env_fail(m, why, whylen, "a header without its value", NULL);
        const char *v = ke + 1, *ve = memchr(v, 0, len - (size_t)(v - env));
        if (ve == NULL)
            return env_fail(m, why, whylen, "a value without its end", k);
        i = (size_t)(ve + 1 - env);
        if (strcmp(k, "Dd-From") == 0) {
            if (from || (strcmp(v, "<>") != 0 && !env_addr(v, m->sender, sizeof(m->sender))))
                return env_fail(m, why, whylen, "bad or repeated Dd-From", v);
            if (strcmp(v, "<>") == 0)
                m->sender[0] = 0;
            from = true;
        } else if (strcmp(k, delivered ? "Dd-Delivered" : "Dd-Rcpt") == 0) {
            if (m->nrcpts == SHADOW_ENV_RCPTS_MAX)
                return env_fail(m, why, whylen, "too many recipients", NULL);
            if (!env_more(m, delivered, &cap))
                return env_fail(m, why, whylen, "out of memory", NULL);
            memset(&m->rcpts[m->nrcpts], 0, sizeof(m->rcpts[0]));
            if (delivered ? !env_delivered(v, &m->rcpts[m->nrcpts], &(*delivered)[m->nrcpts])
                          : !env_rcpt(v, &m->rcpts[m->nrcpts]))
                return env_fail(m, why, whylen, delivered ? "bad Dd-Delivered" : "bad Dd-Rcpt", v);
            m->nrcpts++;
        } else if (strcmp(k, delivered ? "Dd-Rcpt" : "Dd-Delivered") == 0) {
            return env_fail(m, why, whylen, "a queue copy's and a dumpster copy's recipients mixed",
                            NULL);
        } else if (delivered && strcmp(k, "Dd-Sg") == 0) {
            if (sg[0] || !env_sg(v, sg))
                return env_fail(m, why, whylen, "bad or repeated Dd-Sg", v);
        } else if (strcmp(k, "Dd-Received") == 0) {
            if (received || !env_num(v, &m->received_ms))
                return env_fail(m, why, whylen, "bad or repeated Dd-Received", v);
            received = true;
        } else if (strcmp(k, "Dd-Body") == 0) {
            int b, u;
            char end;
            if (sscanf(v, "%d %d%c", &b, &u, &end) != 2 || b < MSG_BODY_NONE ||
                b > MSG_BODY_8BITMIME || u < MSG_UTF8_NO || u > MSG_UTF8_HEADERS)
                return env_fail(m, why, whylen, "bad Dd-Body", v);
            m->body = (enum msg_body)b;
            m->smtputf8 = (enum msg_utf8)u;
        } else if (strcmp(k, "Dd-Message-Id") == 0) {
            size_t n = strlen(v);
            if (m->message_id || n == 0 || n > SHADOW_ENV_MSGID_MAX)
                return env_fail(m, why, whylen, "bad or repeated Dd-Message-Id", NULL);
            if ((m->message_id = malloc(n + 1)) == NULL)
                return env_fail(m, why, whylen, "out of memory", NULL);
            memcpy(m->message_id, v, n + 1);
        }
    }
    *capp = cap;
    *fromp = from;
    *receivedp = received;
    return 0;
}
