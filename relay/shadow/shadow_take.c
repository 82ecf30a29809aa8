/*
 * shadow_take.c - a silent hub's copy becomes this hub's message (shadow_take.h)
 */
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "log.h"
#include "queueid.h"
#include "shadow_env.h"
#include "shadow_take.h"

struct shadow_taker {
    struct event_base *base;
    struct queue *q;
    struct shadow_gate *gate;
    struct shadow *sh;
    struct event *wait_ev;    /* the bound of the hold */
    void (*ready)(void *ctx); /* NULL once called */
    void *ready_ctx;
    size_t drops;  /* queue_drop calls not answered */
    bool answered; /* the away list came */
};

/* One take waiting for its commit. */
struct take_op {
    struct shadow *sh;
    char hub[DD_SG_NAME_MAX + 1];
    char from_id[DD_QUEUEID_LEN + 1]; /* the queue id at the silent hub */
    char queue_id[DD_QUEUEID_LEN + 1];
};

static void *take_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

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
    log_warn("shadow",
             "the cluster did not say in %d ms what other hubs took over from this "
             "one; delivering without waiting",
             SHADOW_AWAY_WAIT_MS);
    taker_ready(tk);
}

void shadow_taker_hold(struct shadow_taker *tk, void (*ready)(void *ctx), void *ctx)
{
    struct timeval tv = {SHADOW_AWAY_WAIT_MS / 1000, (SHADOW_AWAY_WAIT_MS % 1000) * 1000};

    tk->ready = ready;
    tk->ready_ctx = ctx;
    if ((tk->wait_ev = evtimer_new(tk->base, taker_wait_cb, tk)) == NULL ||
        evtimer_add(tk->wait_ev, &tv) < 0)
        taker_ready(tk); /* no timer: do not hold */
}

/* taker_dropped - one taken message left the queue, or was not here */
static void taker_dropped(void *ctx, enum queue_drop_result result)
{
    struct shadow_taker *tk = ctx;

    if (result == QUEUE_DROP_BUSY)
        log_warn("shadow", "a message another hub took over is in delivery here already");
    else if (result == QUEUE_DROP_FAILED)
        log_err("shadow", "cannot remove a message another hub took over");
    if (--tk->drops == 0 && tk->answered)
        taker_ready(tk);
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
        queue_drop(tk->q, ids[i], "taken over by another hub", taker_dropped, tk);
    tk->answered = true;
    if (tk->drops == 0)
        taker_ready(tk);
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

void shadow_taker_take(void *taker, const struct shadow_take *t)
{
    struct shadow_taker *tk = taker;
    struct queue_msg *m = take_oom(calloc(1, sizeof(*m)));
    char why[256];

    if (shadow_env_parse(t->env, t->envlen, m, why, sizeof(why)) < 0) {
        log_err("shadow", "%s: the copy of hub %s is malformed (%s); not taken over", t->queue_id,
                t->hub, why);
        free(m);
        return; /* not answered: this process does not offer it again */
    }
    struct take_op *op = take_oom(calloc(1, sizeof(*op)));
    op->sh = tk->sh;
    snprintf(op->hub, sizeof(op->hub), "%s", t->hub);
    snprintf(op->from_id, sizeof(op->from_id), "%s", t->queue_id);
    m->msg_id = queue_new_msg_id(tk->q);
    queueid_new(m->queue_id);
    memcpy(op->queue_id, m->queue_id, sizeof(op->queue_id));
    m->size = t->len;
    m->nchunks = 1;
    m->tail = take_oom(malloc(t->len ? t->len : 1));
    memcpy(m->tail, t->content, t->len);
    m->tail_len = t->len;
    snprintf(m->helo, sizeof(m->helo), "%s", t->hub);
    snprintf(m->proto, sizeof(m->proto), "takeover");
    shadow_gate_commit(tk->gate, m, take_committed, op, 0);
}

struct shadow_taker *shadow_taker_free(struct shadow_taker *tk)
{
    if (tk && tk->wait_ev)
        event_free(tk->wait_ev);
    free(tk);
    return NULL;
}
