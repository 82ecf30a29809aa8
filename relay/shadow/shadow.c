/*
 * shadow.c - the loop side of the shadow copies (shadow.h)
 *
 * One op per message waiting for its ack, in a table of slots sized by the
 * SMTP connection cap (a session commits one message at a time); the
 * token a publish carries is the slot and its generation, so an ack that
 * comes after its op timed out finds nothing. While the link is down the
 * ops wait (their copy kept) and go again once it is up: the same
 * Nats-Msg-Id, so what the cluster already stored is not stored twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "clock.h"
#include "log.h"
#include "shadow.h"
#include "shadow_int.h"
#include "shadow_loop.h"

#define SHADOW_TICK_MS 250
#define SHADOW_AGAIN_MS 250 /* a publish that met a passing failure goes again after */
#define SHADOW_JOIN_S 10    /* the worker's time to stop */
/* ---- ops ---- */

/* shadow_oom - p, or abort */
void *shadow_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

static uint64_t shadow_token(const struct shadow *sh, const struct shadow_op *op)
{
    return ((uint64_t)op->gen << 32) | (uint64_t)(op - sh->ops);
}

/* shadow_op_of - the op a token names, if it still waits */
static struct shadow_op *shadow_op_of(struct shadow *sh, uint64_t token)
{
    uint32_t slot = (uint32_t)token;

    if (slot >= sh->nops || !sh->ops[slot].used || sh->ops[slot].gen != (uint32_t)(token >> 32))
        return NULL;
    return &sh->ops[slot];
}

/* shadow_send - a job for op to the worker */
void shadow_send(struct shadow *sh, struct shadow_op *op)
{
    struct shadow_job *j = shadow_oom(calloc(1, sizeof(*j)));

    j->kind = SHADOW_JOB_PUBLISH;
    j->token = shadow_token(sh, op);
    memcpy(j->queue_id, op->queue_id, sizeof(j->queue_id));
    memcpy(j->sg, op->sg, sizeof(j->sg));
    j->seq = op->seq;
    j->env = shadow_oom(malloc(op->envlen ? op->envlen : 1));
    memcpy(j->env, op->env, op->envlen);
    j->envlen = op->envlen;
    j->data = shadow_oom(malloc(op->len ? op->len : 1));
    memcpy(j->data, op->data, op->len);
    j->len = op->len;
    op->sent = true;
    op->again_ms = 0;
    shadow_link_push(&sh->link, j);
}

/* shadow_finish - op is done: its slot goes back, then its callback */
static void shadow_finish(struct shadow *sh, struct shadow_op *op, bool stored, const char *why)
{
    shadow_done_fn fn = op->fn;
    void *ctx = op->ctx;
    char text[SHADOW_WHY_MAX];

    char queue_id[DD_QUEUEID_LEN + 1];
    bool keep = op->sg[0] != 0, forget = op->forget_after;

    snprintf(text, sizeof(text), "%s", why ? why : ""); /* why may be op->why */
    memcpy(queue_id, op->queue_id, sizeof(queue_id));
    if (keep && op->again) {
        sh->keeps--;
        sh->stats.kept += stored;
        sh->stats.kept_again += stored;
    } else if (keep) {
        sh->keeps--;
        uint64_t f = stored ? 0 : ++sh->stats.keep_failed;
        sh->stats.kept += stored;
        if (!stored && sh->owed_fn) {
            struct shadow_owed_copy c = {op->queue_id, op->sg,  op->seq,
                                         op->msg_id,   op->env, op->envlen};
            sh->owed_fn(sh->owed_ctx, &c);
        }
        if (f && (f & (f - 1)) == 0) /* the 1st, 2nd, 4th, 8th ... */
            log_warn("shadow", "%s: no shadow dumpster copy for %s: %s (%llu so far)", op->queue_id,
                     op->sg, text, (unsigned long long)sh->stats.keep_failed);
    } else if (stored) {
        uint64_t us = (uint64_t)(clock_mono_us() - op->start_us);
        sh->stats.published++;
        sh->stats.latency_us_sum += us;
        if (us > sh->stats.latency_us_max)
            sh->stats.latency_us_max = us;
    } else
        sh->stats.failed++;
    free(op->env);
    free(op->data);
    free(op->acked);
    uint32_t gen = op->gen + 1;
    memset(op, 0, sizeof(*op));
    op->gen = gen;
    sh->free_slots[sh->nfree++] = (uint32_t)(op - sh->ops);
    sh->used--;
    if (forget)
        shadow_forget(sh, queue_id); /* it waits for another keep of it, or goes now */
    if (fn)
        fn(ctx, stored, why ? text : NULL);
}

/* shadow_ack - part p of n of op stored */
static void shadow_ack(struct shadow *sh, struct shadow_op *op, uint32_t p, uint32_t n)
{
    if (n == 0 || p >= n || (op->nparts && n != op->nparts))
        return;
    if (op->acked == NULL) {
        op->acked = shadow_oom(calloc(n, 1));
        op->nparts = n;
    }
    if (!op->acked[p]) {
        op->acked[p] = 1;
        op->nacked++;
    }
    if (op->nacked == op->nparts)
        shadow_finish(sh, op, true, NULL);
}

/* shadow_away - the ids others took, to the away callback */
static void shadow_away(struct shadow *sh, const struct shadow_ev *ev)
{
    size_t n = 0, k = 0;
    const char **ids;

    for (size_t i = 0; i < ev->len; i++)
        n += ((const char *)ev->data)[i] == 0;
    ids = shadow_oom(calloc(n ? n : 1, sizeof(*ids)));
    for (size_t i = 0; i < ev->len && k < n; i += strlen((const char *)ev->data + i) + 1)
        ids[k++] = (const char *)ev->data + i;
    if (sh->away_fn)
        sh->away_fn(sh->away_ctx, ids, k);
    free(ids);
}

/* shadow_event - one event of the worker */
static void shadow_event(struct shadow *sh, const struct shadow_ev *ev)
{
    struct shadow_op *op;

    switch (ev->kind) {
    case SHADOW_EV_ACK:
        if ((op = shadow_op_of(sh, ev->token)) != NULL)
            shadow_ack(sh, op, ev->part, ev->nparts);
        break;
    case SHADOW_EV_NACK:
        if ((op = shadow_op_of(sh, ev->token)) != NULL && ev->again &&
            clock_mono_ms() + SHADOW_AGAIN_MS < op->deadline_ms) {
            if (op->again_ms == 0 && op->sent) /* once per send, whatever its parts say */
                op->again_ms = clock_mono_ms() + SHADOW_AGAIN_MS;
            op->sent = false;
            snprintf(op->why, sizeof(op->why), "%s", ev->why);
        } else if (op != NULL) {
            if (op->sg[0] == 0) /* a dumpster copy's failure is logged by shadow_finish */
                log_warn("shadow", "%s: the cluster refused the copy: %s", op->queue_id, ev->why);
            shadow_finish(sh, op, false, ev->why);
        }
        break;
    case SHADOW_EV_UP:
        sh->up = true;
        sh->stats.up = true;
        for (uint32_t i = 0; i < sh->nops; i++)
            if (sh->ops[i].used && !sh->ops[i].sent)
                shadow_send(sh, &sh->ops[i]);
        break;
    case SHADOW_EV_RECONNECTED:
        for (uint32_t i = 0; sh->up && i < sh->nops; i++)
            if (sh->ops[i].used && sh->ops[i].sent)
                shadow_send(sh, &sh->ops[i]);
        break;
    case SHADOW_EV_DOWN:
        if (sh->up)
            log_warn("shadow", "%s; copies wait up to %d ms for it", ev->why, SHADOW_GRACE_MS);
        else if (ev->why[0] && strcmp(ev->why, sh->down_why) != 0)
            log_err("shadow", "%s", ev->why);
        snprintf(sh->down_why, sizeof(sh->down_why), "%s", ev->why);
        sh->up = false;
        sh->stats.up = false;
        sh->down_since_ms = clock_mono_ms();
        for (uint32_t i = 0; i < sh->nops; i++)
            sh->ops[i].sent = false; /* their acks may never come: again once up */
        shadow_link_drop_publishes(&sh->link);
        break;
    case SHADOW_EV_TAKE:
        if (sh->take_fn) {
            struct shadow_take t = {
                ev->hub, ev->queue_id, ev->env,       ev->envlen,      ev->data, ev->len, NULL,
                0,       false,        ev->delivered, ev->deliveredlen};
            sh->take_fn(sh->take_ctx, &t);
        } else
            shadow_taken(sh, ev->hub, ev->queue_id, false);
        break;
    case SHADOW_EV_RESEND:
        if (sh->resend_copy) {
            struct shadow_take t = {ev->hub,       ev->queue_id, ev->env,    ev->envlen,
                                    ev->data,      ev->len,      ev->ledger, ev->ledgerlen,
                                    ev->ledger_ok, NULL,         0};
            sh->resend_copy(sh->resend_ctx, ev->token, &t);
        } else
            shadow_resent(sh, ev->token);
        break;
    case SHADOW_EV_RESEND_DONE:
        if (sh->resend_done)
            sh->resend_done(sh->resend_ctx, ev->token, ev->ok, ev->count, ev->why);
        break;
    case SHADOW_EV_AWAY:
        shadow_away(sh, ev);
        break;
    case SHADOW_EV_AWAY_LATER:
        if (sh->away_later_fn)
            sh->away_later_fn(sh->away_ctx, (int64_t)ev->count);
        break;
    case SHADOW_EV_DSTATS:
        free(sh->dstats);
        sh->ndstats = ev->len / sizeof(*sh->dstats);
        sh->dstats = shadow_oom(malloc(ev->len ? ev->len : 1));
        memcpy(sh->dstats, ev->data, ev->len);
        break;
    case SHADOW_EV_HUBS:
        sh->stats.hubs_live = ev->live;
        sh->stats.hubs_silent = ev->silent;
        sh->stats.takeovers = ev->claims;
        break;
    case SHADOW_EV_FORGOT:
        if (ev->ok)
            sh->stats.forgotten++;
        else {
            sh->stats.forget_failed++;
            log_warn("shadow", "cannot remove a copy: %s", ev->why);
        }
        break;
    }
}

/* shadow_wake_cb - the worker posted events */
static void shadow_wake_cb(evutil_socket_t fd, short what, void *arg)
{
    struct shadow *sh = arg;
    char buf[64];
    struct shadow_ev *evs;

    (void)what;
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
    pthread_mutex_lock(&sh->link.mu);
    evs = sh->link.evs;
    sh->link.evs = sh->link.evs_tail = NULL;
    pthread_mutex_unlock(&sh->link.mu);
    while (evs) {
        struct shadow_ev *n = evs->next;
        if (!sh->stopping)
            shadow_event(sh, evs);
        shadow_ev_free(evs);
        evs = n;
    }
}

/* shadow_down_long - the link is down past the grace */
bool shadow_down_long(const struct shadow *sh, int64_t now_ms)
{
    return !sh->up && now_ms - sh->down_since_ms >= SHADOW_GRACE_MS;
}

/* shadow_tick_cb - deadlines, and the grace of a link that is down */
static void shadow_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct shadow *sh = arg;
    int64_t now = clock_mono_ms();
    bool down = shadow_down_long(sh, now);

    (void)fd;
    (void)what;
    for (uint32_t i = 0; i < sh->nops; i++) {
        struct shadow_op *op = &sh->ops[i];
        if (!op->used)
            continue;
        if (down)
            shadow_finish(sh, op, false, sh->down_why[0] ? sh->down_why : "no NATS connection");
        else if (now >= op->deadline_ms)
            shadow_finish(sh, op, false,
                          op->why[0] ? op->why : "no ack from the cluster in publish_timeout");
        else if (op->again_ms && now >= op->again_ms && sh->up) {
            op->again_ms = 0;
            shadow_send(sh, op);
        }
    }
    if (down)
        shadow_link_drop_publishes(&sh->link);
}

/* shadow_op_new - a free slot's op for a copy of content (nfree > 0) */
struct shadow_op *shadow_op_new(struct shadow *sh, const char *queue_id, const void *content,
                                size_t len, shadow_done_fn fn, void *ctx)
{
    struct shadow_op *op = &sh->ops[sh->free_slots[--sh->nfree]];

    sh->used++;
    op->used = true;
    op->fn = fn;
    op->ctx = ctx;
    snprintf(op->queue_id, sizeof(op->queue_id), "%s", queue_id);
    op->data = shadow_oom(malloc(len ? len : 1));
    memcpy(op->data, content, len);
    op->len = len;
    op->start_us = clock_mono_us();
    op->deadline_ms = clock_mono_ms() + (int64_t)sh->link.set.publish_timeout_s * 1000;
    return op;
}

void shadow_publish(struct shadow *sh, const struct queue_msg *m, const void *content, size_t len,
                    shadow_done_fn fn, void *ctx)
{
    int64_t now = clock_mono_ms();

    if (sh->stopping || sh->nfree == 0 || shadow_down_long(sh, now)) {
        sh->stats.failed++;
        fn(ctx, false,
           sh->stopping      ? "the hub is stopping"
           : sh->nfree == 0  ? "too many copies in flight"
           : sh->down_why[0] ? sh->down_why
                             : "no NATS connection");
        return;
    }
    struct shadow_op *op = shadow_op_new(sh, m->queue_id, content, len, fn, ctx);
    shadow_env_queue(sh->link.set.hub, m, &op->env, &op->envlen);
    if (sh->up)
        shadow_send(sh, op);
}

void shadow_on_take(struct shadow *sh, void (*fn)(void *ctx, const struct shadow_take *t),
                    void *ctx)
{
    sh->take_fn = fn;
    sh->take_ctx = ctx;
}

uint64_t shadow_resend(struct shadow *sh, const char *sg, const char *hub, const char *key,
                       int64_t start_ms, int64_t stop_ms)
{
    struct shadow_job *j = shadow_oom(calloc(1, sizeof(*j)));

    j->kind = SHADOW_JOB_RESEND;
    j->token = ++sh->resend_ids;
    snprintf(j->sg, sizeof(j->sg), "%s", sg);
    snprintf(j->hub, sizeof(j->hub), "%s", hub);
    snprintf(j->key, sizeof(j->key), "%s", key);
    j->start_ms = start_ms;
    j->stop_ms = stop_ms;
    uint64_t id = j->token; /* the worker owns (and may free) j once pushed */
    shadow_link_push(&sh->link, j);
    return id;
}

void shadow_on_resend(
    struct shadow *sh, void (*copy)(void *ctx, uint64_t id, const struct shadow_take *t),
    void (*done)(void *ctx, uint64_t id, bool ok, uint64_t count, const char *why), void *ctx)
{
    sh->resend_copy = copy;
    sh->resend_done = done;
    sh->resend_ctx = ctx;
}

void shadow_ledger_note(struct shadow *sh, const char *sg, const char *hub, const char *queue_id,
                        const char *key, const char *rcpts, size_t len)
{
    struct shadow_job *j;

    if (sh->stopping)
        return;
    j = shadow_oom(calloc(1, sizeof(*j)));
    j->kind = SHADOW_JOB_LEDGER;
    snprintf(j->key, sizeof(j->key), "dd.l.%s.%s.%s.%s", sg, hub, queue_id, key);
    j->data = shadow_oom(malloc(len ? len : 1));
    memcpy(j->data, rcpts, len);
    j->len = len;
    shadow_link_push(&sh->link, j);
}

void shadow_resent(struct shadow *sh, uint64_t id)
{
    struct shadow_job *j;

    if (sh->stopping)
        return;
    j = shadow_oom(calloc(1, sizeof(*j)));
    j->kind = SHADOW_JOB_RESENT;
    j->token = id;
    shadow_link_push(&sh->link, j);
}

void shadow_on_away(struct shadow *sh, void (*fn)(void *ctx, const char *const *ids, size_t n),
                    void (*later)(void *ctx, int64_t ms), void *ctx)
{
    sh->away_later_fn = later;
    sh->away_fn = fn;
    sh->away_ctx = ctx;
}

void shadow_taken(struct shadow *sh, const char *hub, const char *queue_id, bool ok)
{
    struct shadow_job *j;

    if (sh->stopping)
        return;
    sh->stats.taken += ok;
    j = shadow_oom(calloc(1, sizeof(*j)));
    j->kind = SHADOW_JOB_TAKEN;
    j->ok = ok;
    snprintf(j->hub, sizeof(j->hub), "%s", hub);
    snprintf(j->queue_id, sizeof(j->queue_id), "%s", queue_id);
    shadow_link_push(&sh->link, j);
}

void shadow_get_stats(const struct shadow *sh, struct shadow_stats *st)
{
    *st = sh->stats;
    st->in_flight = sh->used;
    st->down_long = shadow_down_long(sh, clock_mono_ms());
    st->dstats = sh->dstats;
    st->ndstats = sh->ndstats;
}

struct shadow *shadow_new(struct event_base *base, const struct conf *c, char *err, size_t errlen)
{
    struct shadow *sh = calloc(1, sizeof(*sh));

    if (sh == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sh->base = base;
    sh->link.wake[0] = sh->link.wake[1] = -1;
    pthread_mutex_init(&sh->link.mu, NULL);
    pthread_cond_init(&sh->link.cv, NULL);
    if (shadow_settings_load(&sh->link.set, c, err, errlen) < 0 ||
        (sh->sgs = shadow_settings_sgs(c, &sh->nsgs)) == NULL) {
        if (sh->link.set.sgs && sh->sgs == NULL)
            snprintf(err, errlen, "out of memory");
        return shadow_free(sh);
    }
    sh->nops = c->smtp.max_connections + 16 + SHADOW_KEEPS_MAX;
    sh->ops = calloc(sh->nops, sizeof(*sh->ops));
    sh->free_slots = calloc(sh->nops, sizeof(*sh->free_slots));
    if (sh->ops == NULL || sh->free_slots == NULL ||
        pipe2(sh->link.wake, O_NONBLOCK | O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot set up: %s", strerror(errno));
        return shadow_free(sh);
    }
    for (uint32_t i = 0; i < sh->nops; i++)
        sh->free_slots[sh->nfree++] = sh->nops - 1 - i;
    sh->wake_ev = event_new(base, sh->link.wake[0], EV_READ | EV_PERSIST, shadow_wake_cb, sh);
    sh->tick_ev = event_new(base, -1, EV_PERSIST, shadow_tick_cb, sh);
    if (sh->wake_ev == NULL || sh->tick_ev == NULL) {
        snprintf(err, errlen, "cannot create events");
        return shadow_free(sh);
    }
    sh->down_since_ms = clock_mono_ms();
    return sh;
}

void shadow_set_conf(struct shadow *sh, const struct conf *c)
{
    size_t n;
    struct shadow_sg *sgs = shadow_oom(shadow_settings_sgs(c, &n));
    struct shadow_job *j = shadow_oom(calloc(1, sizeof(*j)));

    free(sh->sgs);
    sh->sgs = sgs;
    sh->nsgs = n;
    j->kind = SHADOW_JOB_SGS;
    j->len = n * sizeof(*sgs);
    j->data = shadow_oom(malloc(j->len ? j->len : 1));
    memcpy(j->data, sgs, j->len);
    shadow_link_push(&sh->link, j);
}

int shadow_start(struct shadow *sh, char *err, size_t errlen)
{
    struct timeval tick = {0, SHADOW_TICK_MS * 1000};

    if (event_add(sh->wake_ev, NULL) < 0 || event_add(sh->tick_ev, &tick) < 0) {
        snprintf(err, errlen, "cannot add events");
        return -1;
    }
    sh->down_since_ms = clock_mono_ms(); /* the grace starts now */
    if (pthread_create(&sh->link.thr, NULL, shadow_nats_run, &sh->link) != 0) {
        snprintf(err, errlen, "cannot start the worker thread");
        return -1;
    }
    sh->link.started = true;
    return 0;
}

void shadow_stop(struct shadow *sh)
{
    if (sh == NULL || sh->stopping)
        return;
    sh->stopping = true;
    if (sh->tick_ev)
        event_del(sh->tick_ev);
    if (sh->wake_ev)
        event_del(sh->wake_ev);
    for (uint32_t i = 0; i < sh->nops; i++)
        if (sh->ops[i].used)
            shadow_finish(sh, &sh->ops[i], false, "the hub is stopping");
    pthread_mutex_lock(&sh->link.mu);
    sh->link.stop = true;
    pthread_cond_signal(&sh->link.cv);
    pthread_mutex_unlock(&sh->link.mu);
}

struct shadow *shadow_free(struct shadow *sh)
{
    struct shadow_job *j;
    struct shadow_ev *e;

    if (sh == NULL)
        return NULL;
    shadow_stop(sh);
    if (sh->link.started) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += SHADOW_JOIN_S;
        if (pthread_timedjoin_np(sh->link.thr, NULL, &until) != 0) {
            /* a libnats call that does not return: the process is ending, so the
             * worker and what it uses are left to the exit rather than freed under it */
            log_err("shadow", "the NATS worker did not stop within %d s; exiting without it",
                    SHADOW_JOIN_S);
            return NULL;
        }
    }
    while ((j = sh->link.jobs) != NULL) {
        sh->link.jobs = j->next;
        shadow_job_free(j);
    }
    while ((e = sh->link.evs) != NULL) {
        sh->link.evs = e->next;
        shadow_ev_free(e);
    }
    if (sh->wake_ev)
        event_free(sh->wake_ev);
    if (sh->tick_ev)
        event_free(sh->tick_ev);
    for (int i = 0; i < 2; i++)
        if (sh->link.wake[i] >= 0)
            close(sh->link.wake[i]);
    pthread_mutex_destroy(&sh->link.mu);
    pthread_cond_destroy(&sh->link.cv);
    free(sh->ops);
    free(sh->free_slots);
    free(sh->link.set.sgs);
    free(sh->sgs);
    free(sh->dstats);
    explicit_bzero(&sh->link.set, sizeof(sh->link.set));
    free(sh);
    return NULL;
}
