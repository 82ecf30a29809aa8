/*
 * shadow_keep.c - shadow dumpster copies and the removal of queue copies
 * (shadow.h): a delivered copy goes to its SG's stream, a failed one is
 * owed (shadow_on_owed) and may go again (shadow_keep_again)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "shadow.h"
#include "shadow_loop.h"

/* shadow_has_dumpster - sg has a shadow dumpster stream */
static bool shadow_has_dumpster(const struct shadow *sh, const char *sg)
{
    for (size_t i = 0; i < sh->nsgs; i++)
        if (strcmp(sh->sgs[i].name, sg) == 0)
            return true;
    return false;
}

void shadow_keep(struct shadow *sh, const struct shadow_kept *k, const void *content, size_t len)
{
    if (sh->stopping || !shadow_has_dumpster(sh, k->sg))
        return;
    if (sh->nfree == 0 || sh->keeps >= SHADOW_KEEPS_MAX || shadow_down_long(sh, clock_mono_ms())) {
        uint64_t f = ++sh->stats.keep_failed;
        if ((f & (f - 1)) == 0) /* the 1st, 2nd, 4th, 8th ... */
            log_warn("shadow", "%s: no shadow dumpster copy for %s: %s (%llu so far)", k->queue_id,
                     k->sg, sh->up ? "too many copies in flight" : "no NATS connection",
                     (unsigned long long)f);
        if (sh->owed_fn) {
            struct shadow_owed_copy c = {k->queue_id, k->sg, k->seq, k->msg_id, NULL, 0};
            char *env;
            shadow_env_kept(sh->link.set.hub, k, &env, &c.envlen);
            c.env = env;
            sh->owed_fn(sh->owed_ctx, &c);
            free(env);
        }
        return;
    }
    struct shadow_op *op = shadow_op_new(sh, k->queue_id, content, len, NULL, NULL);
    snprintf(op->sg, sizeof(op->sg), "%s", k->sg);
    op->seq = k->seq;
    op->msg_id = k->msg_id;
    sh->keeps++;
    shadow_env_kept(sh->link.set.hub, k, &op->env, &op->envlen);
    if (sh->up)
        shadow_send(sh, op);
}

bool shadow_keep_again(struct shadow *sh, const struct shadow_owed_copy *c, const void *content,
                       size_t len, shadow_done_fn fn, void *ctx)
{
    if (sh->stopping || !sh->up || sh->nfree == 0 || sh->keeps >= SHADOW_KEEPS_MAX / 2 ||
        !shadow_has_dumpster(sh, c->sg))
        return false;
    struct shadow_op *op = shadow_op_new(sh, c->queue_id, content, len, fn, ctx);
    snprintf(op->sg, sizeof(op->sg), "%s", c->sg);
    op->seq = c->seq;
    op->msg_id = c->msg_id;
    op->again = true;
    sh->keeps++;
    op->env = shadow_oom(malloc(c->envlen ? c->envlen : 1));
    memcpy(op->env, c->env, c->envlen);
    op->envlen = c->envlen;
    shadow_send(sh, op);
    return true;
}

void shadow_note_owed(struct shadow *sh, uint64_t n, bool ok)
{
    if (ok)
        sh->stats.owed = n;
}

void shadow_on_owed(struct shadow *sh, void (*fn)(void *ctx, const struct shadow_owed_copy *c),
                    void *ctx)
{
    sh->owed_fn = fn;
    sh->owed_ctx = ctx;
}

void shadow_forget(struct shadow *sh, const char *queue_id)
{
    struct shadow_job *j;

    if (sh->stopping)
        return;
    for (uint32_t i = 0; sh->keeps > 0 && i < sh->nops; i++) {
        struct shadow_op *op = &sh->ops[i];
        if (op->used && op->sg[0] && strcmp(op->queue_id, queue_id) == 0) {
            op->forget_after = true; /* not before its dumpster copy is stored */
            return;
        }
    }
    j = shadow_oom(calloc(1, sizeof(*j)));
    j->kind = SHADOW_JOB_FORGET;
    snprintf(j->queue_id, sizeof(j->queue_id), "%s", queue_id);
    shadow_link_push(&sh->link, j);
}
