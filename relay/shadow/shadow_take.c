/*
 * shadow_take.c - a silent hub's copy becomes this hub's message (shadow_take.h)
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "mail_hdr.h"
#include "queueid.h"
#include "shadow_ask.h"
#include "shadow_env.h"
#include "shadow_list.h"
#include "shadow_take_int.h"

/* A taken message whose removal the store could not write: tried again
 * every TAKE_DROP_AGAIN_MS while delivery stays held. */
struct drop_op {
    struct drop_op *next;
    struct shadow_taker *tk;
    struct event *ev;
    uint64_t failures;
    char queue_id[DD_QUEUEID_LEN + 1];
};

/* One take waiting for its commit. */
struct take_op {
    struct shadow_taker *tk;
    struct shadow *sh;
    char hub[DD_SG_NAME_MAX + 1];
    char from_id[DD_QUEUEID_LEN + 1]; /* the queue id at the silent hub */
    char queue_id[DD_QUEUEID_LEN + 1];
};

struct shadow_taker *shadow_taker_new(struct event_base *base, struct queue *q,
                                      struct shadow_gate *gate, struct shadow *sh)
{
    struct shadow_taker *tk = calloc(1, sizeof(*tk));

    if (tk) {
        tk->base = base;
        tk->q = q;
        tk->gate = gate;
        tk->sh = sh;
    }
    return tk;
}

/* taker_ready - delivery may go */
static void taker_ready(struct shadow_taker *tk)
{
    void (*ready)(void *ctx) = tk->ready;

    tk->ready = NULL;
    if (tk->wait_ev)
        event_del(tk->wait_ev);
    if (ready)
        ready(tk->ready_ctx);
}

/* taker_wait_cb - no answer from the cluster in time */
static void taker_wait_cb(evutil_socket_t fd, short what, void *arg)
{
    struct shadow_taker *tk = arg;

    (void)fd;
    (void)what;
    if (tk->ready == NULL)
        return;
    if (tk->answered) { /* removals the store has not written yet: they go first */
        log_warn("shadow",
                 "delivery waits for %zu messages taken over elsewhere to leave the queue",
                 tk->drops);
        return;
    }
    log_warn("shadow",
             "the cluster did not say in %lld ms what other hubs took over from this "
             "one; delivering without waiting",
             (long long)tk->wait_ms);
    taker_ready(tk);
}

void shadow_taker_hold(struct shadow_taker *tk, int64_t wait_ms, void (*ready)(void *ctx),
                       void *ctx)
{
    struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)((wait_ms % 1000) * 1000)};

    tk->wait_ms = wait_ms;
    tk->ready = ready;
    tk->ready_ctx = ctx;
    if ((tk->wait_ev = evtimer_new(tk->base, taker_wait_cb, tk)) == NULL ||
        evtimer_add(tk->wait_ev, &tv) < 0)
        taker_ready(tk); /* no timer: do not hold */
}

void shadow_taker_away_later(void *taker, int64_t ms)
{
    struct shadow_taker *tk = taker;
    int64_t wait = ms + SHADOW_AWAY_WAIT_MS;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)((wait % 1000) * 1000)};

    if (tk->ready == NULL || tk->wait_ev == NULL)
        return; /* delivery goes already */
    tk->wait_ms = wait;
    evtimer_add(tk->wait_ev, &tv); /* from now */
}

static void taker_drop(struct shadow_taker *tk, const char *queue_id, struct drop_op *again);

/* taker_drop_again_cb - the store failed the removal: once more */
static void taker_drop_again_cb(evutil_socket_t fd, short what, void *arg)
{
    struct drop_op *d = arg;

    (void)fd;
    (void)what;
    taker_drop(d->tk, d->queue_id, d);
}

/* taker_drop_done - d's removal is over: out of the list, freed */
static void taker_drop_done(struct shadow_taker *tk, struct drop_op *d)
{
    for (struct drop_op **pp = &tk->dropping; *pp; pp = &(*pp)->next)
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    if (d->ev)
        event_free(d->ev);
    free(d);
}

/* taker_dropped - one taken message left the queue, was not here, or the
 * store could not write its removal (tried again, delivery still held) */
static void taker_dropped(void *ctx, enum queue_drop_result result)
{
    struct drop_op *d = ctx;
    struct shadow_taker *tk = d->tk;
    struct timeval tv = {TAKE_DROP_AGAIN_MS / 1000, (TAKE_DROP_AGAIN_MS % 1000) * 1000};

    if (result == QUEUE_DROP_FAILED) {
        d->failures++;
        if ((d->failures & (d->failures - 1)) == 0) /* the 1st, 2nd, 4th, ... */
            log_err("shadow",
                    "cannot remove %s, taken over by another hub (%llu times): trying again "
                    "every %d ms; delivery waits",
                    d->queue_id, (unsigned long long)d->failures, TAKE_DROP_AGAIN_MS);
        if (d->ev != NULL || (d->ev = evtimer_new(tk->base, taker_drop_again_cb, d)) != NULL) {
            evtimer_add(d->ev, &tv);
            return;
        }
        log_err("shadow", "cannot time the removal of %s again: it stays queued", d->queue_id);
    } else if (result == QUEUE_DROP_BUSY)
        log_warn("shadow", "a message another hub took over is in delivery here already");
    else if (d->failures > 0)
        log_info("shadow", "%s left the queue after %llu failed removals", d->queue_id,
                 (unsigned long long)d->failures);
    taker_drop_done(tk, d);
    if (--tk->drops == 0 && tk->answered)
        taker_ready(tk);
}

/* taker_drop - queue_drop of queue_id; again: the op of a failed one */
static void taker_drop(struct shadow_taker *tk, const char *queue_id, struct drop_op *again)
{
    struct drop_op *d = again;

    if (d == NULL) {
        d = shadow_oom(calloc(1, sizeof(*d)));
        d->tk = tk;
        snprintf(d->queue_id, sizeof(d->queue_id), "%s", queue_id);
        d->next = tk->dropping;
        tk->dropping = d;
    }
    queue_drop(tk->q, d->queue_id, "taken over by another hub", taker_dropped, d);
}

void shadow_taker_away(void *taker, const char *const *ids, size_t n)
{
    struct shadow_taker *tk = taker;

    if (n > 0)
        log_info("shadow",
                 "%zu messages of this hub were taken over by another; they leave the "
                 "queue",
                 n);
    tk->drops += n;
    for (size_t i = 0; i < n; i++)
        taker_drop(tk, ids[i], NULL);
    tk->answered = true;
    if (tk->drops == 0)
        taker_ready(tk);
}

/* take_msgid - the first Message-ID of the content's header section (a
 * dumpster copy's envelope does not carry it), malloc'd, or NULL */
static char *take_msgid(const char *data, size_t len)
{
    struct mail_hdr h;
    size_t off = 0, n = 0;
    const char *v;

    mail_hdr_init(&h);
    while (off < len && h.in_header) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t l = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
        if (mail_hdr_line(&h, data + off, l) != MAIL_HDR_FIELD)
            break;
        off += l;
    }
    if ((v = mail_hdr_msgid(&h, &n)) == NULL)
        return NULL;
    char *out = shadow_oom(malloc(n + 1));
    memcpy(out, v, n);
    out[n] = 0;
    return out;
}

/* shadow_take_fill - m (its envelope parsed) becomes a new message of this hub
 * with t's content as its one chunk */
void shadow_take_fill(struct shadow_taker *tk, struct queue_msg *m, const struct shadow_take *t,
                      const char *proto)
{
    m->msg_id = queue_new_msg_id(tk->q);
    queueid_new(m->queue_id);
    m->size = t->len;
    m->nchunks = 1;
    m->tail = shadow_oom(malloc(t->len ? t->len : 1));
    memcpy(m->tail, t->content, t->len);
    m->tail_len = t->len;
    if (m->message_id == NULL) /* what the dumpster and the probes know it by */
        m->message_id = take_msgid(t->content, t->len);
    snprintf(m->helo, sizeof(m->helo), "%s", t->hub);
    snprintf(m->proto, sizeof(m->proto), "%s", proto);
}

/* take_committed - the message is this hub's (with its own copy), or not */
static void take_committed(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct take_op *op = ctx;

    (void)cookie;
    if (rc == STORE_OK)
        log_info("shadow", "%s: taken over from hub %s (its %s)", op->queue_id, op->hub,
                 op->from_id);
    else
        log_warn("shadow",
                 "%s: the copy of hub %s could not be committed here (%d); tried again "
                 "later",
                 op->from_id, op->hub, (int)rc);
    shadow_taken(op->sh, op->hub, op->from_id, rc == STORE_OK);
    free(op);
}

/* take_asked - the probes said which recipients still lack the copy */
static void take_asked(void *ctx, struct queue_msg *m, size_t present, bool ok)
{
    struct take_op *op = ctx;

    if (!ok || m->nrcpts == 0) {
        if (ok)
            log_info("shadow",
                     "%s: the copy of hub %s is in every recipient's mailbox already; "
                     "not sent again",
                     op->from_id, op->hub);
        queue_msg_free(m);
        shadow_taken(op->sh, op->hub, op->from_id, ok); /* not ok: offered again later */
        free(op);
        return;
    }
    if (present > 0)
        log_info("shadow", "%s: %zu recipient(s) of hub %s's copy hold it already", op->from_id,
                 present, op->hub);
    shadow_gate_commit(op->tk->gate, m, take_committed, op, 0);
}

/* take_drop_delivered - the recipients of m the list names ("SG addr"
 * lines) leave it; how many */
static size_t take_drop_delivered(struct queue_msg *m, const char *list, size_t len)
{
    size_t keep = 0, dropped;

    for (size_t i = 0; i < m->nrcpts; i++)
        if (m->rcpts[i].route != RCPT_ROUTE_SG ||
            !shadow_list_has(list, len, m->rcpts[i].sg, m->rcpts[i].addr))
            m->rcpts[keep++] = m->rcpts[i];
    dropped = m->nrcpts - keep;
    m->nrcpts = keep;
    return dropped;
}

void shadow_taker_take(void *taker, const struct shadow_take *t)
{
    struct shadow_taker *tk = taker;
    struct queue_msg *m = shadow_oom(calloc(1, sizeof(*m)));
    char why[256];

    if (shadow_env_parse(t->env, t->envlen, m, NULL, why, sizeof(why)) < 0) {
        log_err("shadow", "%s: the copy of hub %s is malformed (%s); not taken over", t->queue_id,
                t->hub, why);
        free(m);
        return; /* not answered: this process does not offer it again */
    }
    size_t done = take_drop_delivered(m, t->delivered, t->deliveredlen);
    if (done > 0)
        log_info("shadow",
                 "%s: %zu recipient(s) of hub %s's copy were delivered by it; not sent "
                 "again",
                 t->queue_id, done, t->hub);
    if (done > 0 && m->nrcpts == 0) { /* it died before its copy went: nothing to send */
        queue_msg_free(m);
        shadow_taken(tk->sh, t->hub, t->queue_id, true);
        return;
    }
    struct take_op *op = shadow_oom(calloc(1, sizeof(*op)));
    op->tk = tk;
    op->sh = tk->sh;
    snprintf(op->hub, sizeof(op->hub), "%s", t->hub);
    snprintf(op->from_id, sizeof(op->from_id), "%s", t->queue_id);
    shadow_take_fill(tk, m, t, "takeover");
    memcpy(op->queue_id, m->queue_id, sizeof(op->queue_id));
    shadow_ask(tk->has_ops ? &tk->ops : NULL, m, take_asked, op);
}

void shadow_taker_set_probes(struct shadow_taker *tk, struct probe_ops ops)
{
    tk->ops = ops;
    tk->has_ops = true;
}

struct shadow_taker *shadow_taker_free(struct shadow_taker *tk)
{
    if (tk && tk->wait_ev)
        event_free(tk->wait_ev);
    while (tk && tk->dropping) {
        struct drop_op *d = tk->dropping;
        tk->dropping = d->next;
        if (d->ev)
            event_free(d->ev);
        free(d);
    }
    if (tk)
        shadow_take_resends_free(tk);
    free(tk);
    return NULL;
}
