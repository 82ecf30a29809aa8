/*
 * shadow_gate.c - commit, publish, then answer (shadow_gate.h)
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "conf.h"
#include "delivery.h"
#include "log.h"
#include "shadow_gate.h"
#include "shadow_loop.h"

struct shadow_gate {
    struct queue *q;
    struct shadow *sh;
    unsigned failure; /* enum conf_shadow_failure */
};

struct gate_op {
    struct shadow_gate *g;
    struct queue_msg env; /* the envelope: rcpts owned, no content */
    void *content;        /* a copy of the one chunk, or NULL: read it back */
    size_t len;
    queue_commit_fn fn;
    void *ctx;
    uint64_t cookie;
};

static void gate_op_free(struct gate_op *op)
{
    free(op->env.rcpts);
    free(op->env.message_id);
    free(op->content);
    free(op);
}

/* gate_withdrawn - the refused message left the store: 451 now */
static void gate_withdrawn(void *arg, enum store_rc rc)
{
    struct gate_op *op = arg;

    (void)rc; /* retried until written, or the hub stops: 451 either way */
    op->fn(op->ctx, op->cookie, STORE_E_SHADOW);
    gate_op_free(op);
}

/* gate_published - the cluster answered */
static void gate_published(void *arg, bool stored, const char *why)
{
    struct gate_op *op = arg;
    struct shadow_gate *g = op->g;

    if (!stored && g->failure == CONF_SHADOW_DEFER) {
        log_warn("shadow", "%s: no shadow copy (%s); refused with 451 4.4.0", op->env.queue_id,
                 why);
        shadow_forget(g->sh, op->env.queue_id); /* in case it was stored after all */
        queue_unhold(g->q, op->env.msg_id, true, gate_withdrawn, op);
        return;
    }
    if (!stored)
        log_warn("shadow", "%s: no shadow copy (%s); accepted without one", op->env.queue_id, why);
    queue_unhold(g->q, op->env.msg_id, false, NULL, NULL);
    op->fn(op->ctx, op->cookie, STORE_OK);
    gate_op_free(op);
}

/* gate_content - the content read back from the store */
static void gate_content(void *arg, struct evbuffer *content, enum store_rc rc)
{
    struct gate_op *op = arg;

    if (rc != STORE_OK || content == NULL) {
        if (content)
            evbuffer_free(content);
        gate_published(op, false, "cannot read the content back");
        return;
    }
    size_t len = evbuffer_get_length(content);
    const void *p = evbuffer_pullup(content, -1);
    shadow_publish(op->g->sh, &op->env, p ? p : "", len, gate_published, op);
    evbuffer_free(content);
}

/* gate_committed - the local commit answered */
static void gate_committed(void *arg, uint64_t cookie, enum store_rc rc)
{
    struct gate_op *op = arg;

    (void)cookie;
    if (rc != STORE_OK) {
        op->fn(op->ctx, op->cookie, rc);
        gate_op_free(op);
        return;
    }
    if (op->content)
        shadow_publish(op->g->sh, &op->env, op->content, op->len, gate_published, op);
    else
        queue_content(op->g->q, op->env.msg_id, op->env.size, gate_content, op);
}

void shadow_gate_commit(void *gate, struct queue_msg *m, queue_commit_fn fn, void *ctx,
                        uint64_t cookie)
{
    struct shadow_gate *g = gate;
    struct gate_op *op = shadow_oom(calloc(1, sizeof(*op)));

    op->g = g;
    op->fn = fn;
    op->ctx = ctx;
    op->cookie = cookie;
    op->env = *m;
    op->env.message_id = m->message_id ? shadow_oom(strdup(m->message_id)) : NULL;
    op->env.tail = NULL;
    op->env.dest = NULL; /* the commit's; the shadow copy does not carry it */
    op->env.rcpts = shadow_oom(malloc((m->nrcpts ? m->nrcpts : 1) * sizeof(*m->rcpts)));
    memcpy(op->env.rcpts, m->rcpts, m->nrcpts * sizeof(*m->rcpts));
    if (m->tail && m->nchunks == 1 && m->tail_len == m->size) {
        op->content = shadow_oom(malloc(m->tail_len ? m->tail_len : 1));
        memcpy(op->content, m->tail, m->tail_len);
        op->len = m->tail_len;
    }
    m->hold = true;
    queue_commit(g->q, m, gate_committed, op, 0);
}

void shadow_gate_final(void *gate, const char *queue_id)
{
    struct shadow_gate *g = gate;

    shadow_forget(g->sh, queue_id);
}

void shadow_gate_delivered(void *gate, const struct delivery_delivered *what)
{
    struct shadow_gate *g = gate;
    const struct queue_job *j = what->job;
    struct shadow_kept k = {
        .queue_id = j->queue_id,
        .sg = j->sg,
        .sender = j->sender,
        .received_ms = j->received_ms,
        .delivered_ms = what->delivered_ms,
        .size = j->size,
        .seq = what->first_rcpt,
        .msg_id = j->msg_id,
        .body = (int)j->body,
        .smtputf8 = (int)j->smtputf8,
        .addrs = what->addrs,
        .naddrs = what->naddrs,
    };
    shadow_keep(g->sh, &k, what->content, what->len);
}

struct shadow_gate *shadow_gate_new(struct queue *q, struct shadow *sh, unsigned failure)
{
    struct shadow_gate *g = calloc(1, sizeof(*g));

    if (g) {
        g->q = q;
        g->sh = sh;
        g->failure = failure;
    }
    return g;
}

struct shadow_gate *shadow_gate_free(struct shadow_gate *g)
{
    free(g);
    return NULL;
}
