/*
 * dumpster.c - the dumpster on the loop: counters mirrored in memory, the
 * expiry tick, bounds, early release (dumpster.h)
 *
 * The storage thread posts a group's counters after every change
 * (dumpster_store.c); they land here, so statistics are answered from
 * memory. The bounds of every configured group go to the storage thread
 * at start and after a reload, ahead of any outcome that needs them; a 1 s
 * tick asks it to expire and shrink, so items leave within about 1 s of
 * max_age.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "clock.h"
#include "dumpster.h"
#include "dumpster_gone.h"
#include "dumpster_sg.h"
#include "dumpster_store.h"
#include "log.h"
#include "queue_int.h"
#include "timefmt.h"

struct dumpster {
    struct event_base *base;
    struct store *st;
    const struct conf *c;
    struct dumpster_stats *sg; /* one per configured group, conf order */
    size_t nsg;
    bool ready, expiring, stopping;
    struct event *tick_ev;
    struct dumpster_core core; /* the storage thread's half */
};

/* dumpster_oom - allocation failures here are fatal */
static void *dumpster_oom(void *p)
{
    if (p == NULL) {
        log_err("dumpster", "out of memory");
        abort();
    }
    return p;
}

/* dumpster_find - the mirror of a group, or NULL */
static struct dumpster_stats *dumpster_find(const struct dumpster *d, const char *sg)
{
    for (size_t i = 0; i < d->nsg; i++)
        if (strcmp(d->sg[i].sg, sg) == 0)
            return &d->sg[i];
    return NULL;
}

/* dumpster_bound_of - a group's bounds from the configuration */
static void dumpster_bound_of(const struct conf *c, const struct conf_sg *g,
                              struct dumpster_bound *b)
{
    snprintf(b->sg, sizeof(b->sg), "%s", g->name);
    b->max_bytes = g->has_max_size ? g->max_size : c->dumpster.max_size;
    b->max_age_s = g->has_max_age ? g->max_age : c->dumpster.max_age;
}

/* dumpster_bounds_of - every configured group's bounds (malloc'd) */
static struct dumpster_bound *dumpster_bounds_of(const struct conf *c)
{
    struct dumpster_bound *b = dumpster_oom(calloc(c->nsg ? c->nsg : 1, sizeof(*b)));

    for (size_t i = 0; i < c->nsg; i++)
        dumpster_bound_of(c, &c->sg[i], &b[i]);
    return b;
}

struct dumpster_load {
    struct dumpster *d;
    struct dumpster_bound *b; /* to the core */
    struct dumpster_stats *rows;
    size_t n;
};

/* dumpster_load_work - storage thread: new bounds, every group's counters */
static int dumpster_load_work(struct store *s, void *arg)
{
    struct dumpster_load *l = arg;
    int rc = SQLITE_OK;

    dumpster_store_bounds(&l->d->core, l->b, l->n);
    l->b = NULL;
    for (size_t i = 0; i < l->n && rc == SQLITE_OK; i++) /* rows carry their names */
        rc = dumpster_sg_read(s, l->rows[i].sg, &l->rows[i]);
    return rc;
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
        d->ready = true;
    } else if (rc != STORE_OK) {
        log_err("dumpster", "cannot read the dumpster counters");
    }
    free(l->b);
    free(l->rows);
    free(l);
}

/* dumpster_reload - bounds to the storage thread, counters back */
static void dumpster_reload(struct dumpster *d)
{
    struct dumpster_load *l = dumpster_oom(calloc(1, sizeof(*l)));

    l->d = d;
    l->n = d->c->nsg;
    l->b = dumpster_bounds_of(d->c);
    l->rows = dumpster_oom(calloc(l->n ? l->n : 1, sizeof(*l->rows)));
    for (size_t i = 0; i < l->n; i++)
        snprintf(l->rows[i].sg, sizeof(l->rows[i].sg), "%s", l->b[i].sg);
    store_call(d->st, dumpster_load_work, dumpster_load_reply, l, false);
}

/* dumpster_on_post - counters from the storage thread; NULL: re-read all */
static void dumpster_on_post(void *ctx, void *data)
{
    struct dumpster *d = ctx;
    struct dumpster_stats *p = data, *m;

    if (d->stopping)
        return;
    if (p == NULL)
        dumpster_reload(d);
    else if ((m = dumpster_find(d, p->sg)) != NULL)
        *m = *p;
}

/* dumpster_mirror - one mirror per configured group, counters kept */
static void dumpster_mirror(struct dumpster *d, const struct conf *c)
{
    struct dumpster_stats *n = dumpster_oom(calloc(c->nsg ? c->nsg : 1, sizeof(*n)));

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
    int rc = SQLITE_OK;

    for (size_t i = 0; i < e->n && rc == SQLITE_OK; i++)
        rc = dumpster_store_enforce(&e->d->core, s, &e->b[i], e->now_ms);
    if (rc == SQLITE_OK)
        rc = dumpster_gone_prune(s, e->now_ms - (int64_t)DD_GONE_KEEP_DAYS * 86400000);
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
    if (d->expiring || d->stopping || !d->ready)
        return;
    e = dumpster_oom(calloc(1, sizeof(*e)));
    e->d = d;
    e->n = d->c->nsg;
    e->b = dumpster_bounds_of(d->c);
    e->now_ms = clock_now_ms();
    d->expiring = true;
    store_call(d->st, dumpster_expire_work, dumpster_expire_reply, e, false);
}

/* dumpster_new - mirror, observer, load, tick */
struct dumpster *dumpster_new(struct event_base *base, struct store *st, struct queue *q,
                              const struct conf *c, char *err, size_t errlen)
{
    struct dumpster *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    dumpster_mirror(d, c);
    d->base = base;
    d->st = st;
    d->core.post = dumpster_on_post;
    d->core.post_ctx = d;
    d->tick_ev = event_new(base, -1, EV_PERSIST, dumpster_tick_cb, d);
    if (d->tick_ev == NULL || event_add(d->tick_ev, &(struct timeval){1, 0}) < 0) {
        snprintf(err, errlen, "cannot create the dumpster timer");
        return dumpster_free(d);
    }
    queue_observe(q, dumpster_store_keep, &d->core);
    store_on_resync(st, dumpster_on_post, d);
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
    dumpster_mirror(d, c);
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
            dumpster_bound_of(d->c, &d->c->sg[i], &b);
            out[n] = d->sg[i];
            out[n].max_bytes = b.max_bytes;
            out[n].max_age_s = b.max_age_s;
        }
        n++;
    }
    return n;
}

struct dumpster_repl {
    struct dumpster *d;
    char sg[DD_SG_NAME_MAX + 1];
    int64_t until_ms;
    uint64_t copies, items;
    dumpster_released_fn fn;
    void *ctx;
};

/* dumpster_repl_work - storage thread */
static int dumpster_repl_work(struct store *s, void *arg)
{
    struct dumpster_repl *r = arg;

    return dumpster_store_release(&r->d->core, s, r->sg, r->until_ms, &r->copies, &r->items);
}

/* dumpster_repl_reply - loop */
static void dumpster_repl_reply(void *arg, enum store_rc rc)
{
    struct dumpster_repl *r = arg;

    if (rc == STORE_OK)
        log_info("dumpster", "sg=%s released %llu copies, %llu items", r->sg,
                 (unsigned long long)r->copies, (unsigned long long)r->items);
    if (r->fn)
        r->fn(r->ctx, rc == STORE_OK ? r->copies : 0, rc == STORE_OK ? r->items : 0, rc);
    free(r);
}

/* dumpster_replicated - early release */
void dumpster_replicated(struct dumpster *d, const char *sg, int64_t until_ms,
                         dumpster_released_fn fn, void *ctx)
{
    struct dumpster_repl *r = dumpster_oom(calloc(1, sizeof(*r)));
    char when[32];

    r->d = d;
    snprintf(r->sg, sizeof(r->sg), "%s", sg);
    r->until_ms = until_ms;
    r->fn = fn;
    r->ctx = ctx;
    timefmt_format(until_ms, when);
    log_info("dumpster", "sg=%s replicated until %s", sg, when);
    store_call(d->st, dumpster_repl_work, dumpster_repl_reply, r, true);
}

/* dumpster_stop - no more timers or work */
void dumpster_stop(struct dumpster *d)
{
    if (d == NULL)
        return;
    d->stopping = true;
    if (d->tick_ev)
        event_del(d->tick_ev);
}

/* dumpster_free - after store_close */
struct dumpster *dumpster_free(struct dumpster *d)
{
    if (d == NULL)
        return NULL;
    dumpster_stop(d);
    if (d->tick_ev)
        event_free(d->tick_ev);
    free(d->core.b);
    free(d->sg);
    free(d);
    return NULL;
}
