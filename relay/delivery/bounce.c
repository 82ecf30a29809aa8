/*
 * bounce.c - delivery status notifications to senders (RFC 3464)
 *
 * When recipients of a job failed for good, their sender gets one report
 * (dsn.c composes it) from the null sender <>, so a report never causes
 * another. It is queued like any message: to the storage group the
 * directory gives the sender, or to the smarthost for other senders; with
 * no smarthost the failure is only logged, and bounce_send() says so: the
 * delivery then keeps the failed recipients in the store as failed, with
 * the message, for max_queue_lifetime (queue_keep.c lets go of them).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "bounds.h"
#include "delivery_int.h"
#include "directory.h"
#include "dsn.h"
#include "log.h"
#include "queueid.h"

/* bounce_route - where the report to sender goes: its storage group, or
 * the smarthost; false when neither */
static bool bounce_route(const struct delivery *d, const char *sender, struct queue_msg_rcpt *r)
{
    enum directory_result res;
    const char *sg = d->dir ? directory_lookup(d->dir, sender, &res) : NULL;

    memset(r, 0, sizeof(*r));
    snprintf(r->addr, sizeof(r->addr), "%s", sender);
    if (sg != NULL && res == DIRECTORY_FOUND) {
        r->route = RCPT_ROUTE_SG;
        snprintf(r->sg, sizeof(r->sg), "%s", sg);
        return true;
    }
    r->route = RCPT_ROUTE_SMARTHOST;
    return d->c->delivery.smarthost[0] != 0;
}

/* bounce_committed - the report is queued (or not) */
static void bounce_committed(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct delivery *d = ctx;

    (void)cookie;
    if (rc == STORE_OK) {
        d->stats.bounces++;
        delivery_kick(d);
    } else {
        log_err("bounce", "cannot queue a non-delivery notification: store error");
    }
}

/* bounce_queue - hand the report to the store as a new message */
static void bounce_queue(struct delivery *d, const char *orig_qid, const struct queue_msg_rcpt *to,
                         char *text, size_t len, const char *seed)
{
    struct queue_msg *m = calloc(1, sizeof(*m));

    if (m == NULL || (m->rcpts = calloc(1, sizeof(*m->rcpts))) == NULL) {
        free(m);
        free(text);
        return;
    }
    m->msg_id = queue_new_msg_id(d->q);
    queueid_new(m->queue_id);
    m->received_ms = clock_now_ms();
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "%s", d->c->smtp.hostname);
    snprintf(m->proto, sizeof(m->proto), "local");
    m->rcpts[0] = *to;
    m->nrcpts = 1;
    size_t idlen = strlen(seed) + strlen(d->c->smtp.hostname) + 3;
    if ((m->message_id = malloc(idlen)) != NULL)
        snprintf(m->message_id, idlen, "<%s@%s>", seed, d->c->smtp.hostname);
    for (size_t off = 0; off < len; off += DD_STORE_CHUNK) {
        size_t n = len - off < DD_STORE_CHUNK ? len - off : DD_STORE_CHUNK;
        void *chunk = malloc(n);
        if (chunk == NULL) {
            log_err("bounce", "out of memory");
            abort();
        }
        memcpy(chunk, text + off, n);
        queue_chunk(d->q, m->msg_id, m->nchunks++, chunk, n);
    }
    m->size = len;
    free(text);
    log_info("bounce", "%s: sender non-delivery notification: %s", orig_qid, m->queue_id);
    log_info("qmgr", "%s: from=<>, size=%zu, nrcpt=1 (queue active)", m->queue_id, len);
    queue_commit(d->q, m, bounce_committed, d, 0);
}

/* What a report needs once the original's headers are at hand. */
struct bounce {
    struct delivery *d;
    struct queue_msg_rcpt to; /* the report's recipient: the sender, routed */
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2];
    char peer[DD_HOSTNAME_MAX + 80];
    int64_t received_ms, now_ms;
    struct dsn_rcpt *rc;
    char (*addr)[DD_ADDR_MAX + 2];
    char (*diag)[512];
    char (*status)[16];
    size_t n;
};

/* bounce_free - release a pending report */
static void bounce_free(struct bounce *b)
{
    free(b->rc);
    free(b->addr);
    free(b->diag);
    free(b->status);
    free(b);
}

/* bounce_compose - the report, queued; headers may be empty */
static void bounce_compose(struct bounce *b, const char *headers, size_t hlen)
{
    unsigned char rnd[12];
    char seed[32], *text;
    size_t len;

    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(seed, sizeof(seed), rnd, sizeof(rnd));
    struct dsn_params p = {
        .hostname = b->d->c->smtp.hostname,
        .hub_name = b->d->c->hub.name,
        .queue_id = b->queue_id,
        .sender = b->sender,
        .arrival_ms = b->received_ms,
        .now_ms = b->now_ms,
        .rcpts = b->rc,
        .nrcpts = b->n,
        .headers = headers,
        .headers_len = hlen,
        .seed = seed,
    };
    if ((text = dsn_compose(&p, &len)) != NULL)
        bounce_queue(b->d, b->queue_id, &b->to, text, len, seed);
    else
        log_err("bounce", "%s: cannot compose a non-delivery notification", b->queue_id);
    bounce_free(b);
}

/* bounce_content - the original's content, read for its headers */
static void bounce_content(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct bounce *b = ctx;
    char *h = NULL;
    size_t len = 0;

    (void)rc;
    if (content != NULL) {
        struct evbuffer_ptr end = evbuffer_search(content, "\r\n\r\n", 4, NULL);
        len = end.pos < 0 ? evbuffer_get_length(content) : (size_t)end.pos + 2;
        if (len > DD_BOUNCE_HEADERS_MAX)
            len = DD_BOUNCE_HEADERS_MAX;
        if ((h = malloc(len + 1)) != NULL)
            len = (size_t)evbuffer_copyout(content, h, len);
        evbuffer_free(content);
    }
    if (b->d->stopping) { /* the store is closing: nothing can be queued any more */
        log_warn("bounce", "%s: stopping; non-delivery notification to <%s> not sent", b->queue_id,
                 b->sender);
        bounce_free(b);
    } else
        bounce_compose(b, h ? h : "", h ? len : 0);
    free(h);
}

/* bounce_said - r is the server's own reply (a code and its line), so the
 * report names that server (Remote-MTA); not a failure of ours */
static bool bounce_said(const struct mta_client_reply *r)
{
    const char *t = r->text;

    return r->code >= 200 && t[0] >= '2' && t[0] <= '5' && t[1] >= '0' && t[1] <= '9' &&
           t[2] >= '0' && t[2] <= '9';
}

/* bounce_new - copy what the report needs of job j and outcome o */
static struct bounce *bounce_new(struct delivery *d, const struct djob *j,
                                 const struct queue_outcome *o, const struct queue_msg_rcpt *to,
                                 const char *peer, const struct mta_client_reply *replies)
{
    struct bounce *b = calloc(1, sizeof(*b));
    size_t n = o->nrcpts ? o->nrcpts : 1;

    if (b == NULL || (b->rc = calloc(n, sizeof(*b->rc))) == NULL ||
        (b->addr = calloc(n, sizeof(*b->addr))) == NULL ||
        (b->diag = calloc(n, sizeof(*b->diag))) == NULL ||
        (b->status = calloc(n, sizeof(*b->status))) == NULL) {
        log_err("bounce", "out of memory");
        abort();
    }
    b->d = d;
    b->to = *to;
    snprintf(b->queue_id, sizeof(b->queue_id), "%s", j->q->queue_id);
    snprintf(b->sender, sizeof(b->sender), "%s", j->q->sender);
    snprintf(b->peer, sizeof(b->peer), "%s", peer ? peer : "");
    b->received_ms = j->q->received_ms;
    b->now_ms = o->now_ms;
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (o->rcpts[i].fate != QUEUE_FAILED)
            continue;
        snprintf(b->addr[b->n], sizeof(b->addr[0]), "%s", o->rcpts[i].addr);
        snprintf(b->diag[b->n], sizeof(b->diag[0]), "%s", o->rcpts[i].reply);
        snprintf(b->status[b->n], sizeof(b->status[0]), "%s",
                 replies[i].enh[0]        ? replies[i].enh
                 : replies[i].code >= 500 ? "5.0.0"
                                          : "4.4.7");
        b->rc[b->n] = (struct dsn_rcpt){b->addr[b->n],   "failed",
                                        b->status[b->n], bounce_said(&replies[i]) ? b->peer : NULL,
                                        b->diag[b->n],   o->now_ms};
        b->n++;
    }
    return b;
}

/* bounce_send - one report for the failed recipients of o; false when
 * the sender cannot be told (no route): the failures are to be kept */
bool bounce_send(struct delivery *d, const struct djob *j, const struct queue_outcome *o,
                 const char *peer, const struct mta_client_reply *replies)
{
    struct queue_msg_rcpt to;

    if (j->q->sender[0] == 0)
        return true; /* never to the null sender */
    if (!bounce_route(d, j->q->sender, &to)) {
        log_warn("bounce",
                 "%s: no route for a notification to <%s> (no smarthost): not sent; kept as"
                 " failed for %u s",
                 j->q->queue_id, j->q->sender, d->c->delivery.max_queue_lifetime);
        return false;
    }
    struct bounce *b = bounce_new(d, j, o, &to, peer, replies);
    if (b->n == 0)
        bounce_free(b);
    else if (j->headers != NULL)
        bounce_compose(b, j->headers, j->hlen);
    else /* read before queue_done() may release the content: the store keeps order */
        queue_content(d->q, j->q->msg_id, j->q->size, bounce_content, b);
    return true;
}
