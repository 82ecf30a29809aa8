/*
 * delivery_tls.c - the TLS of each destination pool
 *
 * A pool serves one destination under one TLS policy: the storage
 * group's ([delivery]'s for the smarthost), so two groups that share a
 * destination with different policies get two pools. Each connection
 * takes the client context of the policy from the contexts set last, the
 * name its certificate must carry (tls_verify_name, else the host of the
 * address: a DNS name or an IP literal) and the pool's session cache, so
 * a busy pool resumes instead of paying a full handshake per connection.
 * With tls = may a failed handshake makes the pool speak plaintext to the
 * destination for DD_DELIVERY_TLS_FALLBACK_SECONDS, as Postfix retries
 * without TLS; encrypt and verify never do.
 */
#include <stdio.h>
#include <string.h>

#include "delivery_int.h"
#include "tls.h"

/* delivery_tls_policy - the group's policy, or [delivery]'s */
static const struct conf_tls_out *delivery_tls_policy(const struct conf *c, const char *sg)
{
    const struct conf_sg *g = sg != NULL ? conf_sg_find(c, sg) : NULL;

    return g != NULL ? &g->tls : &c->delivery.tls;
}

/* delivery_set_tls - see delivery.h */
void delivery_set_tls(struct delivery *d, const struct tls *t)
{
    d->tls = t;
}

/* dpool_tls_init - a copy of the policy and an empty cache */
int dpool_tls_init(struct dpool_tls *t, const struct conf *c, const char *sg)
{
    t->p = *delivery_tls_policy(c, sg);
    t->plain_until_ms = 0;
    t->cache = t->p.tls != TLS_OUT_NONE ? tls_cache_new() : NULL;
    return t->p.tls != TLS_OUT_NONE && t->cache == NULL ? -1 : 0;
}

/* dpool_tls_same - the level and every file and name agree */
bool dpool_tls_same(const struct dpool_tls *t, const struct conf *c, const char *sg)
{
    const struct conf_tls_out *p = delivery_tls_policy(c, sg);

    return t->p.tls == p->tls && strcmp(t->p.tls_ca_file, p->tls_ca_file) == 0 &&
           strcmp(t->p.tls_verify_name, p->tls_verify_name) == 0 &&
           strcmp(t->p.tls_client_cert_file, p->tls_client_cert_file) == 0 &&
           strcmp(t->p.tls_client_key_file, p->tls_client_key_file) == 0;
}

/* dpool_tls_host - the host of "host[ip]:port" */
static void dpool_tls_host(const struct daddr *a, char *out, size_t cap)
{
    size_t n = strcspn(a->name, "[");

    snprintf(out, cap, "%.*s", (int)n, a->name);
}

/* dpool_tls_cfg - the policy's context now; plaintext while may falls back */
struct mta_client_tls dpool_tls_cfg(struct dpool *p, const struct daddr *a, char *name, size_t cap)
{
    struct mta_client_tls t = {.level = (enum tls_out_level)p->tls.p.tls};

    if (t.level == TLS_OUT_MAY && clock_now_ms() < p->tls.plain_until_ms)
        t.level = TLS_OUT_NONE;
    if (t.level == TLS_OUT_NONE)
        return t;
    t.ctx = tls_client_ctx(p->d->tls, &p->tls.p);
    if (p->tls.p.tls_verify_name[0])
        snprintf(name, cap, "%s", p->tls.p.tls_verify_name);
    else
        dpool_tls_host(a, name, cap);
    t.verify_name = name;
    t.cache = p->tls.cache;
    return t;
}

/* dpool_tls_ready - sessions by trust and version, or plaintext under may */
void dpool_tls_ready(struct dpool *p, const struct mta_client *c)
{
    const struct mta_client_tls_info *i = mta_client_tls(c);
    struct delivery_stats *st = &p->d->stats;

    if (i->result == MTA_CLIENT_TLS_OK) {
        st->tls_sessions[i->trust][i->version]++;
        st->tls_resumed += i->resumed;
    } else if (i->result == MTA_CLIENT_TLS_PLAIN)
        st->tls_plaintext++;
}

/* dpool_tls_closed - failures by kind; may turns to plaintext for a while */
bool dpool_tls_closed(struct dpool *p, const struct mta_client *c)
{
    struct delivery_stats *st = &p->d->stats;

    switch (mta_client_tls(c)->result) {
    case MTA_CLIENT_TLS_NOT_OFFERED:
        st->tls_failures[DELIVERY_TLS_NOT_OFFERED]++;
        return false;
    case MTA_CLIENT_TLS_REFUSED:
        st->tls_failures[DELIVERY_TLS_REFUSED]++;
        return false;
    case MTA_CLIENT_TLS_NOT_VERIFIED:
        st->tls_failures[DELIVERY_TLS_NOT_VERIFIED]++;
        return false;
    case MTA_CLIENT_TLS_HANDSHAKE:
        st->tls_handshake_failures++;
        if (p->tls.p.tls != TLS_OUT_MAY)
            return false;
        p->tls.plain_until_ms = clock_now_ms() + DD_DELIVERY_TLS_FALLBACK_SECONDS * 1000;
        return true;
    default:
        return false;
    }
}

/* dpool_tls_free - the cache */
void dpool_tls_free(struct dpool_tls *t)
{
    t->cache = tls_cache_free(t->cache);
}
