/*
 * dumpster_loop.c - the dumpster on the loop: counters mirrored in memory,
 * the expiry tick, early release
 *
 * The storage thread posts a group's counters after every change
 * (dumpster.c); they land here, so statistics are answered from memory. A
 * 1 s tick hands the bounds of every group to the storage thread, which
 * expires and shrinks; items therefore leave within about 1 s of max_age.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "dumpster_int.h"
#include "log.h"
#include "timefmt.h"

struct dumpster {
    struct event_base *base;
    struct store *st;
    const struct conf *c;
    struct dumpster_stats *sg; /* one per configured group, conf order */
    size_t nsg;
    bool ready, expiring, stopping;
    struct event *tick_ev;
    dumpster_dest_fn dest_fn;
    void *dest_ctx;
    void (*queued_fn)(void *ctx);
    void *queued_ctx;
    uint64_t rcounts[4];
    struct resubmit_loop *rs;
};

/* dumpster_now_ms - wall clock, ms */
static int64_t dumpster_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* dumpster_find - the mirror of a group, or NULL */
static struct dumpster_stats *dumpster_find(const struct dumpster *d, const char *sg)
{
    for (size_t i = 0; i < d->nsg; i++)
        if (strcmp(d->sg[i].sg, sg) == 0)
            return &d->sg[i];
    return NULL;
}

/* dumpster_bounds - a group's bounds from the configuration */
static void dumpster_bounds(const struct conf *c, const struct conf_sg *g, struct dumpster_bound *b)
{
    snprintf(b->sg, sizeof(b->sg), "%s", g->name);
    b->max_bytes = g->has_max_size ? g->max_size : c->dumpster.max_size;
    b->max_age_s = g->has_max_age ? g->max_age : c->dumpster.max_age;
}

struct dumpster_load {
    struct dumpster *d;
    struct dumpster_stats *rows;
    size_t n;
};

/* dumpster_load_work - storage thread: every group's counter row */
static int dumpster_load_work(struct store *s, void *arg)
{
    struct dumpster_load *l = arg;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < l->n && rc == SQLITE_OK; i++)
        rc = dumpster_read_sg(s, l->rows[i].sg, &l->rows[i]);
    return rc == SQLITE_OK ? resubmit_post_counts(s) : rc;
}

/* dumpster_load_reply - loop: the mirror is exact now */
static void dumpster_load_reply(void *arg, enum store_rc rc)
{
    struct dumpster_load *l = arg;
    struct dumpster *d = l->d;

    if (rc == STORE_OK && !d->stopping) {
        for (size_t i = 0; i < l->n; i++) {
            struct dumpster_stats *m = dumpster_find(d, l->rows[i].sg);
            if (m)
                *m = l->rows[i];
        }
        if (!d->ready)
            resubmit_start(d);
        d->ready = true;
    } else if (rc != STORE_OK) {
        log_err("dumpster", "cannot read the dumpster counters");
    }
    free(l->rows);
    free(l);
}

/* dumpster_reload - read every group's counters from the store */
static void dumpster_reload(struct dumpster *d)
{
    struct dumpster_load *l = calloc(1, sizeof(*l));

    if (l == NULL || (l->rows = calloc(d->nsg ? d->nsg : 1, sizeof(*l->rows))) == NULL) {
        free(l);
        return;
    }
    l->d = d;
    l->n = d->nsg;
    for (size_t i = 0; i < d->nsg; i++)
        snprintf(l->rows[i].sg, sizeof(l->rows[i].sg), "%s", d->sg[i].sg);
    store_call(d->st, dumpster_load_work, dumpster_load_reply, l, false);
}

/* dumpster_on_post - counters from the storage thread */
static void dumpster_on_post(void *ctx, void *data)
{
    struct dumpster *d = ctx;
    struct dumpster_post *p = data;

    if (d->stopping)
        return;
    if (p == NULL) {
        dumpster_reload(d);
        return;
    }
    if (p->kind == DUMPSTER_POST_RESUBMIT) {
        memcpy(d->rcounts, p->resubmit_counts, sizeof(d->rcounts));
        return;
    }
    struct dumpster_stats *m = dumpster_find(d, p->sg.sg);
    if (m)
        *m = p->sg;
}

/* dumpster_mirror - one mirror per configured group, counters kept */
static int dumpster_mirror(struct dumpster *d, const struct conf *c)
{
    struct dumpster_stats *n = calloc(c->nsg ? c->nsg : 1, sizeof(*n));

    if (n == NULL)
        return -1;
    for (size_t i = 0; i < c->nsg; i++) {
        const struct dumpster_stats *old = d->sg ? dumpster_find(d, c->sg[i].name) : NULL;
        if (old)
            n[i] = *old;
        snprintf(n[i].sg, sizeof(n[i].sg), "%s", c->sg[i].name);
    }
    free(d->sg);
    d->sg = n;
    d->nsg = c->nsg;
    d->c = c;
    return 0;
}

struct dumpster_expire {
    struct dumpster *d;
    struct dumpster_bound *b;
    size_t n;
    int64_t now_ms;
};

/* dumpster_expire_work - storage thread: every group within its bounds */
static int dumpster_expire_work(struct store *s, void *arg)
{
    struct dumpster_expire *e = arg;
    int64_t oldest;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < e->n && rc == SQLITE_OK; i++)
        rc = dumpster_enforce(s, &e->b[i], e->now_ms, &oldest);
    if (rc == SQLITE_OK)
        rc = dumpster_prune_gone(s, e->now_ms - (int64_t)DD_GONE_KEEP_DAYS * 86400000);
    return rc;
}

/* dumpster_expire_reply - loop */
static void dumpster_expire_reply(void *arg, enum store_rc rc)
{
    struct dumpster_expire *e = arg;

    (void)rc;
    e->d->expiring = false;
    free(e->b);
    free(e);
}

/* dumpster_tick_cb - once a second: expiry */
static void dumpster_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct dumpster *d = arg;
    struct dumpster_expire *e;

    (void)fd;
    (void)what;
    if (d->expiring || d->stopping || !d->ready || (e = calloc(1, sizeof(*e))) == NULL)
        return;
    if ((e->b = calloc(d->c->nsg ? d->c->nsg : 1, sizeof(*e->b))) == NULL) {
        free(e);
        return;
    }
    e->d = d;
    e->n = d->c->nsg;
    e->now_ms = dumpster_now_ms();
    for (size_t i = 0; i < e->n; i++)
        dumpster_bounds(d->c, &d->c->sg[i], &e->b[i]);
    d->expiring = true;
    store_call(d->st, dumpster_expire_work, dumpster_expire_reply, e, false);
}

/* dumpster_new - mirror, load, tick */
struct dumpster *dumpster_new(struct event_base *base, struct store *st, const struct conf *c,
                              char *err, size_t errlen)
{
    struct dumpster *d = calloc(1, sizeof(*d));

    if (d == NULL || dumpster_mirror(d, c) < 0) {
        snprintf(err, errlen, "out of memory");
        free(d);
        return NULL;
    }
    d->base = base;
    d->st = st;
    d->tick_ev = event_new(base, -1, EV_PERSIST, dumpster_tick_cb, d);
    if (d->tick_ev == NULL || event_add(d->tick_ev, &(struct timeval){1, 0}) < 0) {
        snprintf(err, errlen, "cannot create the dumpster timer");
        return dumpster_free(d);
    }
    store_set_post_fn(st, dumpster_on_post, d);
    dumpster_reload(d);
    return d;
}

/* dumpster_ready - counters loaded */
bool dumpster_ready(const struct dumpster *d)
{
    return d->ready;
}

/* dumpster_set_conf - new groups and bounds */
void dumpster_set_conf(struct dumpster *d, const struct conf *c)
{
    if (dumpster_mirror(d, c) == 0)
        dumpster_reload(d);
}

/* dumpster_stats - from memory */
size_t dumpster_stats(const struct dumpster *d, const char *sg, struct dumpster_stats *out,
                      size_t cap)
{
    size_t n = 0;

    for (size_t i = 0; i < d->nsg; i++) {
        if (sg && strcmp(d->sg[i].sg, sg) != 0)
            continue;
        if (n < cap) {
            struct dumpster_bound b;
            dumpster_bounds(d->c, &d->c->sg[i], &b);
            out[n] = d->sg[i];
            out[n].max_bytes = b.max_bytes;
            out[n].max_age_s = b.max_age_s;
        }
        n++;
    }
    return n;
}

struct dumpster_repl {
    char sg[DD_SG_NAME_MAX + 1];
    int64_t until_ms;
    uint64_t released;
    void (*fn)(void *ctx, uint64_t released, enum store_rc rc);
    void *ctx;
};

/* dumpster_repl_work - storage thread */
static int dumpster_repl_work(struct store *s, void *arg)
{
    struct dumpster_repl *r = arg;

    return dumpster_release(s, r->sg, r->until_ms, &r->released);
}

/* dumpster_repl_reply - loop */
static void dumpster_repl_reply(void *arg, enum store_rc rc)
{
    struct dumpster_repl *r = arg;

    if (r->fn)
        r->fn(r->ctx, rc == STORE_OK ? r->released : 0, rc);
    free(r);
}

/* dumpster_replicated - early release */
void dumpster_replicated(struct dumpster *d, const char *sg, int64_t until_ms,
                         void (*fn)(void *ctx, uint64_t released, enum store_rc rc), void *ctx)
{
    struct dumpster_repl *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        log_err("dumpster", "out of memory");
        abort();
    }
    snprintf(r->sg, sizeof(r->sg), "%s", sg);
    r->until_ms = until_ms;
    r->fn = fn;
    r->ctx = ctx;
    char when[32];
    timefmt_format(until_ms, when);
    log_info("dumpster", "sg=%s replicated until %s", sg, when);
    store_call(d->st, dumpster_repl_work, dumpster_repl_reply, r, true);
}

/* dumpster_set_dest_fn - where a group's mail goes now */
void dumpster_set_dest_fn(struct dumpster *d, dumpster_dest_fn fn, void *ctx)
{
    d->dest_fn = fn;
    d->dest_ctx = ctx;
}

/* dumpster_set_queued_fn - told when resubmission queued mail */
void dumpster_set_queued_fn(struct dumpster *d, void (*fn)(void *ctx), void *ctx)
{
    d->queued_fn = fn;
    d->queued_ctx = ctx;
}

/* dumpster_queued - resubmission queued mail: delivery should look */
void dumpster_queued(struct dumpster *d)
{
    if (d->queued_fn)
        d->queued_fn(d->queued_ctx);
}

/* dumpster_dest_of - the destination text of a group now, or "" */
const char *dumpster_dest_of(struct dumpster *d, const char *sg)
{
    const char *t = d->dest_fn ? d->dest_fn(d->dest_ctx, sg) : NULL;

    return t ? t : "";
}

/* resubmit_counts - requests by state, from memory */
void resubmit_counts(const struct dumpster *d, uint64_t counts[4])
{
    memcpy(counts, d->rcounts, sizeof(d->rcounts));
}

struct store *dumpster_store(struct dumpster *d)
{
    return d->st;
}

struct event_base *dumpster_base(struct dumpster *d)
{
    return d->base;
}

const struct conf *dumpster_conf(struct dumpster *d)
{
    return d->c;
}

bool dumpster_stopping(const struct dumpster *d)
{
    return d->stopping;
}

struct resubmit_loop **dumpster_resubmit_slot(struct dumpster *d)
{
    return &d->rs;
}

/* dumpster_stop - no more timers or work */
void dumpster_stop(struct dumpster *d)
{
    if (d == NULL)
        return;
    d->stopping = true;
    if (d->tick_ev)
        event_del(d->tick_ev);
    resubmit_stop(d);
}

/* dumpster_free - after store_close */
struct dumpster *dumpster_free(struct dumpster *d)
{
    if (d == NULL)
        return NULL;
    dumpster_stop(d);
    resubmit_free(d);
    if (d->tick_ev)
        event_free(d->tick_ev);
    free(d->sg);
    free(d);
    return NULL;
}
