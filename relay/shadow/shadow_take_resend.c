/*
 * shadow_take_resend.c - a resubmission that names unresponsive hubs: their
 * share of the range resent from their shadow dumpsters, each recipient
 * once per destination (the cluster's ledger) (shadow_take.h)
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "log.h"
#include "resubmit_types.h"
#include "shadow_ask.h"
#include "shadow_env.h"
#include "shadow_list.h"
#include "shadow_take_int.h"
#include "timefmt.h"

/* One unresponsive hub's share of a resubmission. */
struct resend {
    struct resend *next;
    uint64_t id; /* the shadow's resend id */
    struct resubmit_req req;
    char hub[DD_SG_NAME_MAX + 1];
    char key[RESEND_KEY_HEX + 1];    /* the destination's in the ledger */
    char dest[DD_DEST_TEXT_MAX + 1]; /* the group's route when the request came */
    uint64_t copies, queued, unmatched, failed, present, before;
    size_t pending; /* commits not answered */
    bool read;      /* the stream was read to its end */
    bool ok;
};

/* A resent copy waiting for its probe and its commit. */
struct resend_op {
    struct shadow_taker *tk;
    uint64_t id;
    size_t nrcpts;
    char hub[DD_SG_NAME_MAX + 1];
    char from_id[DD_QUEUEID_LEN + 1];
    char *ledger; /* the entry as read, then with the recipients sent; owned */
    size_t ledgerlen;
};

#define RESEND_SLACK_MS 60000 /* a copy is stored this long after its delivery at most */

/* resend_key - the ledger's token for a destination: 64 bits of its
 * BLAKE2b, in hex (a subject token, whatever the destination's text) */
static void resend_key(const char *dest, char out[RESEND_KEY_HEX + 1])
{
    unsigned char h[RESEND_KEY_HEX / 2];

    crypto_generichash(h, sizeof(h), (const unsigned char *)dest, strlen(dest), NULL, 0);
    sodium_bin2hex(out, RESEND_KEY_HEX + 1, h, sizeof(h));
}

void shadow_taker_set_dest_fn(struct shadow_taker *tk, const char *(*fn)(void *ctx, const char *sg),
                              void *ctx)
{
    tk->dest_fn = fn;
    tk->dest_ctx = ctx;
}

int shadow_taker_resubmit(void *taker, const struct resubmit_req *req, char *why, size_t whylen)
{
    struct shadow_taker *tk = taker;
    struct shadow_stats st;

    shadow_get_stats(tk->sh, &st);
    if (st.down_long) { /* a reconnect under way: the resends wait for it */
        snprintf(why, whylen, "the NATS cluster is not reachable");
        return -1;
    }
    const char *route = tk->dest_fn ? tk->dest_fn(tk->dest_ctx, req->storage_group) : NULL;
    const char *dest = route ? route : ""; /* with unresponsive_hubs, no dest (api_req.h) */
    for (size_t i = 0; i < req->nunresponsive; i++) {
        struct resend *r = shadow_oom(calloc(1, sizeof(*r)));
        int64_t stop =
            req->match == RESUBMIT_MATCH_RECEIVED ? INT64_MAX : req->end_ms + RESEND_SLACK_MS;
        r->req = *req;
        snprintf(r->hub, sizeof(r->hub), "%s", req->unresponsive[i]);
        snprintf(r->dest, sizeof(r->dest), "%s", dest);
        resend_key(dest, r->key);
        r->id = shadow_resend(tk->sh, req->storage_group, r->hub, r->key, req->start_ms, stop);
        r->next = tk->resends;
        tk->resends = r;
        log_info("shadow", "resubmission of %s for hub %s from its shadow dumpster (%s)",
                 req->storage_group, r->hub, req->reason[0] ? req->reason : "no reason given");
    }
    return 0;
}

static struct resend **resend_find(struct shadow_taker *tk, uint64_t id)
{
    struct resend **pp;

    for (pp = &tk->resends; *pp && (*pp)->id != id; pp = &(*pp)->next)
        ;
    return pp;
}

/* resend_end - a share read to its end with every commit answered */
static void resend_end(struct shadow_taker *tk, uint64_t id)
{
    struct resend **pp = resend_find(tk, id), *r = *pp;
    char a[TIMEFMT_RFC3339_BUF], b[TIMEFMT_RFC3339_BUF];

    if (r == NULL || !r->read || r->pending > 0)
        return;
    timefmt_format(r->req.start_ms, a);
    timefmt_format(r->req.end_ms, b);
    log_info("shadow",
             "resubmission of %s [%s, %s] for hub %s %s: %llu copies read, %llu recipients "
             "resent, %llu resent there before, %llu in their mailbox already, %llu not in the "
             "range or filters, %llu not committed",
             r->req.storage_group, a, b, r->hub, r->ok ? "done" : "failed",
             (unsigned long long)r->copies, (unsigned long long)r->queued,
             (unsigned long long)r->before, (unsigned long long)r->present,
             (unsigned long long)r->unmatched, (unsigned long long)r->failed);
    *pp = r->next;
    free(r);
}

/* resend_wanted - recipient i of m passes r's range and filters */
static bool resend_wanted(const struct resend *r, const struct queue_msg *m, size_t i,
                          const int64_t *delivered)
{
    const struct resubmit_req *q = &r->req;
    int64_t t = q->match == RESUBMIT_MATCH_RECEIVED ? m->received_ms : delivered[i];

    return t >= q->start_ms && t <= q->end_ms &&
           (!q->has_sender || strcasecmp(m->sender, q->sender) == 0) &&
           (!q->has_recipient || strcasecmp(m->rcpts[i].addr, q->recipient) == 0) &&
           (!q->has_message_id || (m->message_id && strcmp(m->message_id, q->message_id) == 0)) &&
           strcmp(m->rcpts[i].sg, q->storage_group) == 0;
}

/* resend_op_free - the op and what it owns */
static void resend_op_free(struct resend_op *op)
{
    free(op->ledger);
    free(op);
}

static void resend_committed(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct resend_op *op = ctx;
    struct resend *r = *resend_find(op->tk, op->id);

    (void)cookie;
    if (r) {
        r->pending--;
        if (rc == STORE_OK)
            r->queued += op->nrcpts;
        else
            r->failed += op->nrcpts;
        if (rc == STORE_OK) /* only now: a crash before this resends, never loses */
            shadow_ledger_note(op->tk->sh, r->req.storage_group, op->hub, op->from_id, r->key,
                               op->ledger, op->ledgerlen);
    }
    shadow_resent(op->tk->sh, op->id);
    resend_end(op->tk, op->id);
    resend_op_free(op);
}

/* resend_asked - the probes said which recipients still lack the copy */
static void resend_asked(void *ctx, struct queue_msg *m, size_t present, bool ok)
{
    struct resend_op *op = ctx;
    struct resend *r = *resend_find(op->tk, op->id);

    if (r)
        r->present += ok ? present : 0;
    if (!ok || m->nrcpts == 0) {
        if (r) {
            r->pending--;
            r->failed += ok ? 0 : op->nrcpts;
        }
        queue_msg_free(m);
        shadow_resent(op->tk->sh, op->id);
        resend_end(op->tk, op->id);
        resend_op_free(op);
        return;
    }
    op->nrcpts = m->nrcpts;
    for (size_t i = 0; i < m->nrcpts; i++)
        if (shadow_list_add(&op->ledger, &op->ledgerlen, NULL, m->rcpts[i].addr) < 0)
            shadow_oom(NULL);
    log_info("shadow", "%s: resent for hub %s from its shadow dumpster (its %s), %zu recipient(s)",
             m->queue_id, op->hub, op->from_id, m->nrcpts);
    shadow_gate_commit(op->tk->gate, m, resend_committed, op, 0);
}

void shadow_taker_resend_copy(void *taker, uint64_t id, const struct shadow_take *t)
{
    struct shadow_taker *tk = taker;
    struct resend *r = *resend_find(tk, id);
    struct queue_msg *m;
    int64_t *delivered = NULL;
    char why[256];
    size_t keep = 0;

    if (r == NULL) {
        shadow_resent(tk->sh, id);
        return;
    }
    r->copies++;
    m = shadow_oom(calloc(1, sizeof(*m)));
    if (shadow_env_parse(t->env, t->envlen, m, &delivered, why, sizeof(why)) < 0) {
        log_err("shadow", "%s: the dumpster copy of hub %s is malformed (%s); not resent",
                t->queue_id, t->hub, why);
        r->failed++;
        free(m);
        shadow_resent(tk->sh, id);
        return;
    }
    if (!t->ledger_ok) { /* never sent blindly: the request can be made again */
        log_warn("shadow", "%s: the ledger of hub %s's copies could not be read; not resent",
                 t->queue_id, t->hub);
        r->failed++;
        queue_msg_free(m);
        free(delivered);
        shadow_resent(tk->sh, id);
        return;
    }
    size_t before = 0;
    for (size_t i = 0; i < m->nrcpts; i++) {
        if (!resend_wanted(r, m, i, delivered))
            continue;
        if (!r->req.force && shadow_list_has(t->ledger, t->ledgerlen, NULL, m->rcpts[i].addr))
            before++; /* an earlier request resent it to this destination */
        else
            m->rcpts[keep++] = m->rcpts[i];
    }
    r->unmatched += m->nrcpts - keep - before;
    r->before += before;
    m->nrcpts = keep;
    free(delivered);
    if (keep == 0) {
        queue_msg_free(m);
        shadow_resent(tk->sh, id);
        return;
    }
    struct resend_op *op = shadow_oom(calloc(1, sizeof(*op)));
    op->tk = tk;
    op->id = id;
    op->nrcpts = keep;
    snprintf(op->hub, sizeof(op->hub), "%s", t->hub);
    snprintf(op->from_id, sizeof(op->from_id), "%s", t->queue_id);
    if (t->ledger && t->ledgerlen > 0) {
        op->ledger = shadow_oom(malloc(t->ledgerlen + 1));
        memcpy(op->ledger, t->ledger, t->ledgerlen);
        op->ledger[t->ledgerlen] = 0;
        op->ledgerlen = t->ledgerlen;
    }
    shadow_take_fill(tk, m, t, "resubmit");
    /* where the ledger says it went, whatever the route does meanwhile; and
     * its dumpster copy stays the one in the dead hub's shadow dumpster */
    m->dest = shadow_oom(strdup(r->dest));
    r->pending++;
    shadow_ask(tk->has_ops && !r->req.skip_probe ? &tk->ops : NULL, m, resend_asked, op);
}

void shadow_taker_resend_done(void *taker, uint64_t id, bool ok, uint64_t count, const char *why)
{
    struct shadow_taker *tk = taker;
    struct resend *r = *resend_find(tk, id);

    (void)count;
    if (r == NULL)
        return;
    r->read = true;
    r->ok = ok;
    if (!ok)
        log_err("shadow", "resubmission of %s for hub %s: %s", r->req.storage_group, r->hub, why);
    resend_end(tk, id);
}

void shadow_take_resends_free(struct shadow_taker *tk)
{
    while (tk->resends) {
        struct resend *r = tk->resends;
        tk->resends = r->next;
        free(r);
    }
}
