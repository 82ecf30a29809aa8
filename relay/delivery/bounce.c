/*
 * bounce.c - delivery status notifications to senders (RFC 3464)
 *
 * When recipients of a message failed for good, their sender gets one
 * report (dsn.c composes it) from the null sender <>, so a report never
 * causes another. A message's recipients travel in several jobs when they
 * are in several storage groups (or more than a job holds): the failures
 * of a job wait, with their outcome rows, until the last job of the
 * message in flight has ended, and then one report names them all (like
 * Postfix's qmgr, which reports once per pass of a message through the
 * active queue; a recipient that fails on a later retry gets a report of
 * its own). The waiting rows stay active, so nothing picks them again; a
 * stop forgets them and the next start tries those recipients again.
 *
 * A report is queued like any message: to the storage group the directory
 * gives the sender, or to the smarthost for other senders. With no
 * smarthost the failure is only logged, and the failed recipients stay in
 * the store as failed, with the message, for max_queue_lifetime
 * (queue_keep.c lets go of them).
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

/* Buckets of the messages with jobs in flight (a power of two). */
#define BOUNCE_SLOTS 1024

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

/* memchr_8bit - an octet >= 0x80 in p[0..n) */
static bool memchr_8bit(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
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
    /* dsn.c says 8bit for a part with 8-bit text; a UTF-8 sender is in To: */
    m->body = memchr_8bit(text, len) ? MSG_BODY_8BITMIME : MSG_BODY_7BIT;
    m->smtputf8 = memchr_8bit(to->addr, strlen(to->addr)) ? MSG_UTF8_HEADERS : MSG_UTF8_NO;
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

/* One failed recipient of a report. */
struct bounce_rcpt {
    char addr[DD_ADDR_MAX + 2];
    char diag[512];
    char status[16];
    char peer[DD_HOSTNAME_MAX + 80]; /* the server that refused it, or "" */
    int64_t when_ms;
};

/* The report of one message, gathered over its jobs. */
struct bounce {
    struct delivery *d;
    struct queue_msg_rcpt to; /* the report's recipient: the sender, routed */
    uint64_t msg_id, size;
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2];
    int64_t received_ms, now_ms;
    char *headers; /* the original's header section, once a job had it */
    size_t hlen;
    struct bounce_rcpt *r;
    size_t n;
};

/* A message with jobs in flight, and the failures waiting for the last. */
struct bounce_msg {
    struct bounce_msg *next; /* hash chain */
    uint64_t msg_id;
    unsigned inflight;
    struct bounce *b;            /* NULL: no failure yet */
    struct queue_outcome **held; /* the failed rows, written after the report */
    size_t nheld;
};

/* bounce_oom - abort on an allocation failure */
static void *bounce_oom(void *p)
{
    if (p == NULL) {
        log_err("bounce", "out of memory");
        abort();
    }
    return p;
}

/* bounce_free - release a report */
static void bounce_free(struct bounce *b)
{
    if (b != NULL) {
        free(b->headers);
        free(b->r);
        free(b);
    }
}

/* bounce_compose - the report, queued; headers may be empty */
static void bounce_compose(struct bounce *b, const char *headers, size_t hlen)
{
    unsigned char rnd[12];
    char seed[32], *text;
    size_t len;
    struct dsn_rcpt *rc = bounce_oom(calloc(b->n, sizeof(*rc)));

    for (size_t i = 0; i < b->n; i++)
        rc[i] = (struct dsn_rcpt){b->r[i].addr,   "failed",
                                  b->r[i].status, b->r[i].peer[0] ? b->r[i].peer : NULL,
                                  b->r[i].diag,   b->r[i].when_ms};
    randombytes_buf(rnd, sizeof(rnd));
    sodium_bin2hex(seed, sizeof(seed), rnd, sizeof(rnd));
    struct dsn_params p = {
        .hostname = b->d->c->smtp.hostname,
        .hub_name = b->d->c->hub.name,
        .queue_id = b->queue_id,
        .sender = b->sender,
        .arrival_ms = b->received_ms,
        .now_ms = b->now_ms,
        .rcpts = rc,
        .nrcpts = b->n,
        .headers = headers,
        .headers_len = hlen,
        .seed = seed,
    };
    if ((text = dsn_compose(&p, &len)) != NULL)
        bounce_queue(b->d, b->queue_id, &b->to, text, len, seed);
    else
        log_err("bounce", "%s: cannot compose a non-delivery notification", b->queue_id);
    free(rc);
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

/* bounce_new - a report for the message of job j, to the routed sender */
static struct bounce *bounce_new(struct delivery *d, const struct djob *j,
                                 const struct queue_msg_rcpt *to)
{
    struct bounce *b = bounce_oom(calloc(1, sizeof(*b)));

    b->d = d;
    b->to = *to;
    b->msg_id = j->q->msg_id;
    b->size = j->q->size;
    snprintf(b->queue_id, sizeof(b->queue_id), "%s", j->q->queue_id);
    snprintf(b->sender, sizeof(b->sender), "%s", j->q->sender);
    b->received_ms = j->q->received_ms;
    return b;
}

/* bounce_add - the failed recipients of outcome o join report b */
static void bounce_add(struct bounce *b, const struct djob *j, const struct queue_outcome *o,
                       const char *peer, const struct mta_client_reply *replies)
{
    if (b->headers == NULL && j->headers != NULL) {
        b->headers = bounce_oom(malloc(j->hlen + 1));
        memcpy(b->headers, j->headers, j->hlen);
        b->headers[j->hlen] = 0;
        b->hlen = j->hlen;
    }
    b->now_ms = o->now_ms;
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (o->rcpts[i].fate != QUEUE_FAILED)
            continue;
        b->r = bounce_oom(realloc(b->r, (b->n + 1) * sizeof(*b->r)));
        struct bounce_rcpt *r = &b->r[b->n++];
        snprintf(r->addr, sizeof(r->addr), "%s", o->rcpts[i].addr);
        snprintf(r->diag, sizeof(r->diag), "%s", o->rcpts[i].reply);
        snprintf(r->status, sizeof(r->status), "%s",
                 replies[i].enh[0]        ? replies[i].enh
                 : replies[i].code >= 500 ? "5.0.0"
                                          : "4.4.7");
        snprintf(r->peer, sizeof(r->peer), "%s", peer && bounce_said(&replies[i]) ? peer : "");
        r->when_ms = o->now_ms;
    }
}

/* bounce_go - queue report b (the original's headers read from the store
 * when no job had them) */
static void bounce_go(struct bounce *b)
{
    if (b->headers != NULL) {
        char *h = b->headers;
        b->headers = NULL;
        bounce_compose(b, h, b->hlen);
        free(h);
    } else /* read before the failures are written: the store keeps order */
        queue_content(b->d->q, b->msg_id, b->size, bounce_content, b);
}

/* bounce_take_failed - move o's failed rows into a new outcome */
static struct queue_outcome *bounce_take_failed(struct queue_outcome *o)
{
    struct queue_outcome *f = bounce_oom(calloc(1, sizeof(*f)));
    size_t keep = 0;

    *f = *o;
    f->rcpts = bounce_oom(calloc(o->nrcpts, sizeof(*f->rcpts)));
    f->nrcpts = 0;
    for (size_t i = 0; i < o->nrcpts; i++) {
        if (o->rcpts[i].fate == QUEUE_FAILED)
            f->rcpts[f->nrcpts++] = o->rcpts[i];
        else
            o->rcpts[keep++] = o->rcpts[i];
    }
    o->nrcpts = keep;
    return f;
}

/* bounce_slot - the chain of msg_id */
static struct bounce_msg **bounce_slot(struct delivery *d, uint64_t msg_id)
{
    if (d->bounce_msgs == NULL)
        d->bounce_msgs = bounce_oom(calloc(BOUNCE_SLOTS, sizeof(*d->bounce_msgs)));
    return &d->bounce_msgs[(msg_id * 0x9e3779b97f4a7c15ULL) >> 54 & (BOUNCE_SLOTS - 1)];
}

/* bounce_msg_find - the entry of msg_id, or NULL */
static struct bounce_msg *bounce_msg_find(struct delivery *d, uint64_t msg_id)
{
    struct bounce_msg *m = *bounce_slot(d, msg_id);

    while (m != NULL && m->msg_id != msg_id)
        m = m->next;
    return m;
}

/* bounce_msg_drop - unlink and free an entry, with what it still holds */
static void bounce_msg_drop(struct delivery *d, struct bounce_msg *m)
{
    struct bounce_msg **pp = bounce_slot(d, m->msg_id);

    while (*pp != m)
        pp = &(*pp)->next;
    *pp = m->next;
    for (size_t i = 0; i < m->nheld; i++)
        queue_outcome_free(m->held[i]);
    free(m->held);
    bounce_free(m->b);
    free(m);
}

/* bounce_job_start - a job of msg_id entered delivery */
void bounce_job_start(struct delivery *d, uint64_t msg_id)
{
    struct bounce_msg *m = bounce_msg_find(d, msg_id);

    if (m == NULL) {
        struct bounce_msg **slot = bounce_slot(d, msg_id);
        m = bounce_oom(calloc(1, sizeof(*m)));
        m->msg_id = msg_id;
        m->next = *slot;
        *slot = m;
    }
    m->inflight++;
}

/* bounce_flush - the message's last job ended: one report, then its rows */
static void bounce_flush(struct delivery *d, struct bounce_msg *m)
{
    if (m->b != NULL) {
        bounce_go(m->b);
        m->b = NULL;
    }
    for (size_t i = 0; i < m->nheld; i++)
        queue_done(d->q, m->held[i], NULL, NULL);
    m->nheld = 0;
    bounce_msg_drop(d, m);
}

/* bounce_job_end - job j of a message ended with outcome o: its failures
 * leave o and wait in the message's report; the last job sends it */
void bounce_job_end(struct delivery *d, const struct djob *j, struct queue_outcome *o,
                    const char *peer, const struct mta_client_reply *replies)
{
    struct bounce_msg *m = bounce_msg_find(d, j->q->msg_id);
    struct queue_msg_rcpt to;
    bool failed = false;

    if (m == NULL) { /* a job delivery did not announce: a message of its own */
        bounce_job_start(d, j->q->msg_id);
        m = bounce_msg_find(d, j->q->msg_id);
    }
    for (size_t i = 0; i < o->nrcpts; i++)
        failed |= o->rcpts[i].fate == QUEUE_FAILED;
    if (failed && j->q->sender[0] != 0 && !bounce_route(d, j->q->sender, &to)) {
        log_warn("bounce",
                 "%s: no route for a notification to <%s> (no smarthost): not sent; kept as"
                 " failed for %u s",
                 j->q->queue_id, j->q->sender, d->c->delivery.max_queue_lifetime);
        o->keep_failed_until_ms = o->now_ms + (int64_t)d->c->delivery.max_queue_lifetime * 1000;
    } else if (failed && j->q->sender[0] != 0) { /* never to the null sender */
        if (m->b == NULL)
            m->b = bounce_new(d, j, &to);
        bounce_add(m->b, j, o, peer, replies);
        m->held = bounce_oom(realloc(m->held, (m->nheld + 1) * sizeof(*m->held)));
        m->held[m->nheld++] = bounce_take_failed(o);
    }
    if (--m->inflight == 0)
        bounce_flush(d, m);
}

/* bounce_free_all - at the stop: what waits is forgotten (the rows are still
 * pending in the store, so the next start tries them again) */
void bounce_free_all(struct delivery *d)
{
    for (size_t i = 0; d->bounce_msgs != NULL && i < BOUNCE_SLOTS; i++)
        while (d->bounce_msgs[i] != NULL)
            bounce_msg_drop(d, d->bounce_msgs[i]);
    free(d->bounce_msgs);
    d->bounce_msgs = NULL;
}
