/*
 * shadow_envelope.c - the envelope headers of a shadow copy ("key\0value\0"
 * pairs, read back by relay/parse/shadow_env.c): a queue copy names its
 * recipients (Dd-Rcpt), a shadow dumpster copy its storage group and each
 * recipient's delivery time (Dd-Sg, Dd-Delivered).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow.h"
#include "shadow_int.h"
#include "shadow_loop.h"

/* shadow_env_add - one "key\0value\0" pair of the envelope */
static void shadow_env_add(char **env, size_t *len, size_t *cap, const char *k, const char *v)
{
    size_t need = strlen(k) + strlen(v) + 2;

    if (*len + need > *cap) {
        *cap = (*cap + need) * 2;
        *env = shadow_oom(realloc(*env, *cap));
    }
    memcpy(*env + *len, k, strlen(k) + 1);
    *len += strlen(k) + 1;
    memcpy(*env + *len, v, strlen(v) + 1);
    *len += strlen(v) + 1;
}

void shadow_env_queue(const char *hub, const struct queue_msg *m, char **env, size_t *envlen)
{
    char v[DD_ADDR_MAX + DD_SG_NAME_MAX + 16];
    size_t cap = 256;

    *env = shadow_oom(malloc(cap));
    *envlen = 0;
    shadow_env_add(env, envlen, &cap, "Dd-Hub", hub);
    shadow_env_add(env, envlen, &cap, "Dd-Queue-Id", m->queue_id);
    snprintf(v, sizeof(v), "<%s>", m->sender);
    shadow_env_add(env, envlen, &cap, "Dd-From", v);
    for (size_t i = 0; i < m->nrcpts; i++) {
        const struct queue_msg_rcpt *r = &m->rcpts[i];
        snprintf(v, sizeof(v), "%s <%s>", r->route == RCPT_ROUTE_SG ? r->sg : "@smarthost",
                 r->addr);
        shadow_env_add(env, envlen, &cap, "Dd-Rcpt", v);
    }
    snprintf(v, sizeof(v), "%lld", (long long)m->received_ms);
    shadow_env_add(env, envlen, &cap, "Dd-Received", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)m->size);
    shadow_env_add(env, envlen, &cap, "Dd-Size", v);
    snprintf(v, sizeof(v), "%d %d", (int)m->body, (int)m->smtputf8);
    shadow_env_add(env, envlen, &cap, "Dd-Body", v);
    if (m->message_id)
        shadow_env_add(env, envlen, &cap, "Dd-Message-Id", m->message_id);
}

void shadow_env_kept(const char *hub, const struct shadow_kept *k, char **env, size_t *envlen)
{
    char v[DD_ADDR_MAX + 32];
    size_t cap = 256;

    *env = shadow_oom(malloc(cap));
    *envlen = 0;
    shadow_env_add(env, envlen, &cap, "Dd-Hub", hub);
    shadow_env_add(env, envlen, &cap, "Dd-Queue-Id", k->queue_id);
    shadow_env_add(env, envlen, &cap, "Dd-Sg", k->sg);
    snprintf(v, sizeof(v), "<%s>", k->sender);
    shadow_env_add(env, envlen, &cap, "Dd-From", v);
    for (size_t i = 0; i < k->naddrs; i++) {
        snprintf(v, sizeof(v), "<%s> %lld", k->addrs[i], (long long)k->delivered_ms);
        shadow_env_add(env, envlen, &cap, "Dd-Delivered", v);
    }
    snprintf(v, sizeof(v), "%lld", (long long)k->received_ms);
    shadow_env_add(env, envlen, &cap, "Dd-Received", v);
    snprintf(v, sizeof(v), "%llu", (unsigned long long)k->size);
    shadow_env_add(env, envlen, &cap, "Dd-Size", v);
    snprintf(v, sizeof(v), "%d %d", k->body, k->smtputf8);
    shadow_env_add(env, envlen, &cap, "Dd-Body", v);
}
