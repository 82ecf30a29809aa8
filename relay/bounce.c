/*
 * bounce.c - delivery status notifications to senders (RFC 3464)
 *
 * When recipients of a job failed for good, their sender gets one report
 * (dsn.c composes it) from the null sender <>, so a report never causes
 * another. It is queued like any message: to the storage group the
 * directory gives the sender, or to the smarthost for other senders; with
 * no smarthost the failure is only logged and kept as failed in the queue.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "delivery_int.h"
#include "directory.h"
#include "dsn.h"
#include "log.h"
#include "queueid.h"

/* bounce_route - the storage group of the report's recipient, or NULL */
static const char *bounce_route(const struct delivery *d, const char *sender)
{
    enum directory_result res;
    const char *sg = d->dir ? directory_lookup(d->dir, sender, &res) : NULL;

    if (sg != NULL && res == DIRECTORY_FOUND)
        return sg;
    return d->c->delivery.smarthost[0] ? DD_SMARTHOST_SG : NULL;
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
static void bounce_queue(struct delivery *d, const struct djob *j, const char *sg, char *text,
                         size_t len, const char *seed)
{
    struct store_msg *m = calloc(1, sizeof(*m));

    if (m == NULL || (m->rcpts = calloc(1, sizeof(*m->rcpts))) == NULL) {
        free(m);
        free(text);
        return;
    }
    m->msg_id = store_new_msg_id(d->st);
    queueid_new(m->queue_id);
    m->received_ms = delivery_now_ms();
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "%s", d->c->smtp.hostname);
    snprintf(m->proto, sizeof(m->proto), "local");
    snprintf(m->rcpts[0].addr, sizeof(m->rcpts[0].addr), "%s", j->q->sender);
    snprintf(m->rcpts[0].sg, sizeof(m->rcpts[0].sg), "%s", sg);
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
        store_chunk(d->st, m->msg_id, m->nchunks++, chunk, n);
    }
    m->size = len;
    free(text);
    log_info("bounce", "%s: sender non-delivery notification: %s", j->q->queue_id, m->queue_id);
    log_info("qmgr", "%s: from=<>, size=%zu, nrcpt=1 (queue active)", m->queue_id, len);
    store_commit_to(d->st, m, bounce_committed, d, 0);
}

/* bounce_send - one report for the failed recipients of o */
void bounce_send(struct delivery *d, const struct djob *j, const struct queue_outcome *o,
                 const char *peer, const struct smtp_client_reply *replies)
{
    const char *sg;
    struct dsn_rcpt *rc;
    size_t n = 0, len;
    unsigned char rnd[12];
    char seed[32], *text;

    if (j->q->sender[0] == 0)
        return; /* never to the null sender */
    if ((sg = bounce_route(d, j->q->sender)) == NULL) {
        log_warn("bounce", "%s: no route for a notification to <%s> (no smarthost): not sent",
                 j->q->queue_id, j->q->sender);
        return;
    }
    if ((rc = calloc(o->nrcpts, sizeof(*rc))) == NULL)
        return;
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (o->rcpts[i].fate != QUEUE_FAILED)
            continue;
        rc[n].address = o->rcpts[i].addr;
        rc[n].action = "failed";
        rc[n].status = replies && replies[i].enh[0] ? replies[i].enh
                       : replies && replies[i].code >= 500 ? "5.0.0"
                                                          : "4.4.7"; /* expired */
        rc[n].remote_mta = peer;
        rc[n].diagnostic = o->rcpts[i].reply;
        rc[n++].last_attempt_ms = o->now_ms;
    }
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(seed, sizeof(seed), rnd, sizeof(rnd));
    struct dsn_params p = {
        .hostname = d->c->smtp.hostname,
        .hub_name = d->c->hub.name,
        .queue_id = j->q->queue_id,
        .sender = j->q->sender,
        .arrival_ms = j->q->received_ms,
        .now_ms = o->now_ms,
        .rcpts = rc,
        .nrcpts = n,
        .headers = j->headers ? j->headers : "",
        .headers_len = j->headers ? j->hlen : 0,
        .seed = seed,
    };
    if (n > 0 && (text = dsn_compose(&p, &len)) != NULL)
        bounce_queue(d, j, sg, text, len, seed);
    free(rc);
}
