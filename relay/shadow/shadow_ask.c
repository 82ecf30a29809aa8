/*
 * shadow_ask.c - the mailbox probe before a taken or resent copy goes
 * (shadow_ask.h)
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shadow_ask.h"

struct ask {
    struct queue_msg *m;
    shadow_ask_fn fn;
    void *ctx;
    enum probe_answer *answer; /* by recipient; PROBE_MISSING when not asked */
    size_t pending;            /* batches not answered */
    bool error;
};

/* One batch: the recipients of one group. */
struct ask_batch {
    struct ask *a;
    size_t *idx; /* recipient index of each query */
    size_t n;
};

static void *ask_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

/* ask_end - every batch answered: keep what is to be sent */
static void ask_end(struct ask *a)
{
    struct queue_msg *m = a->m;
    size_t keep = 0, present = 0;

    if (!a->error) {
        for (size_t i = 0; i < m->nrcpts; i++)
            if (a->answer[i] == PROBE_PRESENT)
                present++;
            else
                m->rcpts[keep++] = m->rcpts[i];
        m->nrcpts = keep;
    }
    a->fn(a->ctx, m, present, !a->error);
    free(a->answer);
    free(a);
}

static void ask_answered(void *ctx, const enum probe_answer *answers, size_t n, const char *error)
{
    struct ask_batch *b = ctx;
    struct ask *a = b->a;

    for (size_t i = 0; i < b->n && i < n; i++) {
        a->answer[b->idx[i]] = answers[i];
        a->error |= answers[i] == PROBE_ERROR;
    }
    if (error != NULL || n < b->n) {
        a->error = true;
        log_warn("shadow", "the mailbox probe cannot say (%s): the copy waits",
                 error ? error : "too few answers");
    }
    free(b->idx);
    free(b);
    if (--a->pending == 0)
        ask_end(a);
}

void shadow_ask(const struct probe_ops *ops, struct queue_msg *m, shadow_ask_fn fn, void *ctx)
{
    struct ask *a = ask_oom(calloc(1, sizeof(*a)));
    bool *asked;

    a->m = m;
    a->fn = fn;
    a->ctx = ctx;
    a->answer = ask_oom(calloc(m->nrcpts ? m->nrcpts : 1, sizeof(*a->answer)));
    for (size_t i = 0; i < m->nrcpts; i++)
        a->answer[i] = PROBE_MISSING;
    if (ops == NULL || ops->has == NULL || m->message_id == NULL) {
        ask_end(a);
        return;
    }
    asked = ask_oom(calloc(m->nrcpts ? m->nrcpts : 1, sizeof(*asked)));
    a->pending = 1; /* held until every batch is out */
    for (size_t i = 0; i < m->nrcpts; i++) {
        const char *sg = m->rcpts[i].sg;
        if (asked[i] || m->rcpts[i].route != RCPT_ROUTE_SG || !ops->has(ops->ctx, sg))
            continue;
        struct ask_batch *b = ask_oom(calloc(1, sizeof(*b)));
        struct probe_query *q = ask_oom(calloc(m->nrcpts, sizeof(*q)));
        b->a = a;
        b->idx = ask_oom(calloc(m->nrcpts, sizeof(*b->idx)));
        for (size_t k = i; k < m->nrcpts; k++)
            if (!asked[k] && m->rcpts[k].route == RCPT_ROUTE_SG &&
                strcmp(m->rcpts[k].sg, sg) == 0) {
                asked[k] = true;
                q[b->n].user = m->rcpts[k].addr;
                q[b->n].message_id = m->message_id;
                b->idx[b->n++] = k;
            }
        a->pending++;
        ops->ask(ops->ctx, sg, q, b->n, ask_answered, b); /* the strings are copied */
        free(q);
    }
    free(asked);
    if (--a->pending == 0)
        ask_end(a);
}
