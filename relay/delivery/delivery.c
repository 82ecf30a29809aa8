/*
 * delivery.c - the delivery scheduler: due jobs, routing, outcomes
 *
 * A tick (every second, and at once when new mail was committed) asks the
 * queue for due jobs within the in-flight bounds, routes each to the pool
 * of its storage group's current destination (delivery_pool.c), and turns
 * the replies into outcomes: 2xx delivered, 5xx failed and bounced, 4xx or
 * no reply deferred with a doubling backoff from retry_initial to
 * retry_max, failed once the message is older than max_queue_lifetime. A
 * failure no report can go out for stays in the store as failed for
 * max_queue_lifetime more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "clock.h"
#include "delivery_int.h"
#include "log.h"

/* delivery_job_free - release a job without an outcome */
void delivery_job_free(struct djob *j)
{
    queue_job_free(j->q);
    free(j->headers);
    free(j->rcptv);
    free(j->kept);
    free(j);
}

/* delivery_release - a job left the scheduler: room for more */
static void delivery_release(struct delivery *d, struct djob *j)
{
    d->inflight_jobs--;
    delivery_job_free(j);
    delivery_kick(d);
}

/* delivery_backoff_ms - retry_initial doubled per attempt, at most retry_max */
static int64_t delivery_backoff_ms(const struct conf *c, unsigned attempts)
{
    uint64_t s = c->delivery.retry_initial;

    for (unsigned i = 0; i < attempts && s < c->delivery.retry_max; i++)
        s *= 2;
    if (s > c->delivery.retry_max)
        s = c->delivery.retry_max;
    return (int64_t)s * 1000;
}

/* delivery_dsn_text - the enhanced code of a reply, or one made from it */
static const char *delivery_dsn_text(const struct mta_client_reply *r, char *buf, size_t cap)
{
    if (r->enh[0])
        return r->enh;
    snprintf(buf, cap, "%d.%s",
             r->code >= 500                   ? 5
             : r->code >= 400 || r->code == 0 ? 4
                                              : 2,
             r->code == 0 ? "4.1" : "0.0");
    return buf;
}

/* delivery_fate - what a reply means for one recipient */
static void delivery_fate(struct delivery *d, const struct djob *j, size_t i,
                          const struct mta_client_reply *r, struct queue_outcome_rcpt *o)
{
    int64_t now = clock_now_ms();
    bool expired = now - j->q->queued_ms > (int64_t)d->c->delivery.max_queue_lifetime * 1000;

    o->id = j->q->rcpts[i].id;
    snprintf(o->addr, sizeof(o->addr), "%s", j->q->rcpts[i].addr);
    snprintf(o->reply, sizeof(o->reply), "%s", r->text); /* a reply line has its code */
    if (r->code >= 200 && r->code < 300)
        o->fate = QUEUE_DELIVERED;
    else if (r->code >= 500 || expired)
        o->fate = QUEUE_FAILED;
    else {
        o->fate = QUEUE_DEFERRED;
        o->next_attempt_ms = now + delivery_backoff_ms(d->c, j->q->rcpts[i].attempts);
    }
}

/* delivery_log - one Postfix-style line per recipient */
static void delivery_log(const struct djob *j, const char *peer, const struct mta_client_reply *r,
                         const struct queue_outcome_rcpt *o)
{
    static const char *const status[] = {"sent", "deferred", "bounced"};
    char dsn[16];
    int64_t delay = clock_now_ms() - j->q->received_ms;

    log_info("smtp", "%s: to=<%s>, relay=%s, delay=%lld.%02lld, dsn=%s, status=%s (%s)%s",
             j->q->queue_id, o->addr, peer ? peer : "none", (long long)(delay / 1000),
             (long long)(delay % 1000 / 10), delivery_dsn_text(r, dsn, sizeof(dsn)),
             status[o->fate], o->reply,
             o->fate == QUEUE_FAILED && r->code < 500 ? " (message expired)" : "");
}

void delivery_on_delivered(struct delivery *d,
                           void (*fn)(void *ctx, const struct delivery_delivered *what), void *ctx)
{
    d->on_delivered = fn;
    d->on_delivered_ctx = ctx;
}

/* delivery_tell_delivered - the recipients of j that o delivered, to the
 * on_delivered hook (normal mail to a storage group only) */
static void delivery_tell_delivered(struct delivery *d, const struct djob *j,
                                    const struct queue_outcome *o)
{
    struct delivery_delivered what = {
        .job = j->q, .content = j->kept, .len = j->kept_len, .delivered_ms = o->now_ms};
    const char **addrs;

    if (j->kept == NULL || (addrs = calloc(o->nrcpts ? o->nrcpts : 1, sizeof(*addrs))) == NULL)
        return;
    for (size_t i = 0; i < o->nrcpts; i++)
        if (o->rcpts[i].fate == QUEUE_DELIVERED) {
            if (what.naddrs == 0)
                what.first_rcpt = o->rcpts[i].id;
            addrs[what.naddrs++] = o->rcpts[i].addr;
        }
    what.addrs = addrs;
    if (what.naddrs > 0)
        d->on_delivered(d->on_delivered_ctx, &what);
    free(addrs);
}

void delivery_keep_content(struct delivery *d, struct djob *j)
{
    size_t len;

    if (d->on_delivered == NULL || j->q->request != 0 || j->q->dest != NULL ||
        j->q->route != RCPT_ROUTE_SG || j->q->content == NULL || j->kept != NULL)
        return;
    len = evbuffer_get_length(j->q->content);
    if ((j->kept = malloc(len ? len : 1)) == NULL) {
        log_err("delivery", "out of memory");
        abort();
    }
    j->kept_len = (size_t)evbuffer_copyout(j->q->content, j->kept, len);
}

/* delivery_job_done - outcomes of a job: recorded durably, bounced, logged */
void delivery_job_done(struct delivery *d, struct djob *j, const char *peer,
                       const struct mta_client_reply *replies, size_t n)
{
    struct queue_outcome *o = calloc(1, sizeof(*o));
    struct mta_client_reply *rs = calloc(j->q->nrcpts ? j->q->nrcpts : 1, sizeof(*rs));

    if (o == NULL || rs == NULL ||
        (o->rcpts = calloc(j->q->nrcpts ? j->q->nrcpts : 1, sizeof(*o->rcpts))) == NULL) {
        log_err("delivery", "out of memory");
        abort();
    }
    o->msg_id = j->q->msg_id;
    o->request = j->q->request;
    o->resent = j->q->request == 0 && j->q->dest != NULL;
    o->route = j->q->route;
    o->now_ms = clock_now_ms();
    snprintf(o->sg, sizeof(o->sg), "%s", j->q->sg);
    o->nrcpts = j->q->nrcpts;
    for (size_t i = 0; i < o->nrcpts; i++) {
        struct mta_client_reply none = {.code = 0, .text = "no reply"};
        const struct mta_client_reply *r = i < n ? &replies[i] : &none;
        rs[i] = *r;
        delivery_fate(d, j, i, r, &o->rcpts[i]);
        delivery_log(j, peer, r, &o->rcpts[i]);
        d->stats.attempts_delivered += o->rcpts[i].fate == QUEUE_DELIVERED;
        d->stats.attempts_deferred += o->rcpts[i].fate == QUEUE_DEFERRED;
        d->stats.attempts_failed += o->rcpts[i].fate == QUEUE_FAILED;
    }
    bounce_job_end(d, j, o, peer, rs); /* failures wait for the message's one report */
    free(rs);
    delivery_tell_delivered(d, j, o);
    if (o->nrcpts > 0)
        queue_done(d->q, o, NULL, NULL);
    else
        queue_outcome_free(o);
    delivery_release(d, j);
}

/* delivery_job_fail - the same reply for every recipient */
void delivery_job_fail(struct delivery *d, struct djob *j, const char *peer,
                       const struct mta_client_reply *why)
{
    struct mta_client_reply *r = calloc(j->q->nrcpts ? j->q->nrcpts : 1, sizeof(*r));

    if (r == NULL) {
        log_err("delivery", "out of memory");
        abort();
    }
    for (size_t i = 0; i < j->q->nrcpts; i++)
        r[i] = *why;
    delivery_job_done(d, j, peer, r, j->q->nrcpts);
    free(r);
}

/* delivery_headers - keep the header section of the content for a bounce */
void delivery_headers(struct djob *j)
{
    struct evbuffer_ptr end = evbuffer_search(j->q->content, "\r\n\r\n", 4, NULL);
    size_t len = end.pos < 0 ? evbuffer_get_length(j->q->content) : (size_t)end.pos + 2;

    if (len > DD_BOUNCE_HEADERS_MAX)
        len = DD_BOUNCE_HEADERS_MAX;
    if ((j->headers = malloc(len + 1)) == NULL)
        return;
    j->hlen = (size_t)evbuffer_copyout(j->q->content, j->headers, len);
    j->headers[j->hlen] = 0;
}

/* delivery_route - the pool of a job's destination, or NULL with why */
static struct dpool *delivery_route(struct delivery *d, struct djob *j, char *why, size_t cap)
{
    const char *text = j->q->dest;
    struct dest dest;
    char err[256];

    if (text == NULL && j->q->route == RCPT_ROUTE_SMARTHOST)
        text = d->c->delivery.smarthost[0] ? d->c->delivery.smarthost : NULL;
    else if (text == NULL)
        text = delivery_route_get(d, j->q->sg);
    if (text == NULL) {
        if (j->q->route == RCPT_ROUTE_SMARTHOST)
            snprintf(why, cap, "no smarthost for a non-delivery notification");
        else
            snprintf(why, cap, "storage group %s has no destination", j->q->sg);
        return NULL;
    }
    if (conf_dest_parse(text, &dest, err, sizeof(err)) < 0) {
        snprintf(why, cap, "bad destination %s: %s", text, err);
        return NULL;
    }
    struct dpool *p = dpool_get(d, text, &dest, j->q->sg);
    if (p == NULL)
        snprintf(why, cap, "out of memory");
    return p;
}

/* delivery_picked - due jobs from the queue: route them */
static void delivery_picked(void *ctx, struct queue_job **jobs, size_t n, enum store_rc rc)
{
    struct delivery *d = ctx;

    d->picking = false;
    for (size_t i = 0; i < n; i++) {
        struct djob *j = calloc(1, sizeof(*j));
        char why[512];
        if (j == NULL) {
            log_err("delivery", "out of memory");
            abort();
        }
        j->q = jobs[i];
        d->inflight_jobs++;
        bounce_job_start(d, j->q->msg_id);
        if (d->stopping) {
            delivery_release(d, j);
            continue;
        }
        struct dpool *p = delivery_route(d, j, why, sizeof(why));
        if (p == NULL) {
            struct mta_client_reply r = {.code = 0};
            snprintf(r.text, sizeof(r.text), "%s", why);
            delivery_job_fail(d, j, NULL, &r);
            continue;
        }
        dpool_enqueue(p, j);
    }
    free(jobs);
    if (rc != STORE_OK)
        log_warn("delivery", "queue scan failed; retrying on the next tick");
    if (d->again || (n > 0 && rc == STORE_OK)) {
        d->again = false;
        delivery_kick(d);
    }
}

/* delivery_tick - look for due work within the in-flight bounds */
static void delivery_tick(struct delivery *d)
{
    if (d->stopping || !d->routes_ready || d->paused)
        return;
    if (d->picking) {
        d->again = true;
        return;
    }
    if (d->inflight_jobs >= DD_DELIVERY_INFLIGHT_MAX)
        return;
    d->picking = true;
    queue_pick(d->q, clock_now_ms(), DD_DELIVERY_INFLIGHT_MAX - d->inflight_jobs, delivery_picked,
               d);
}

/* delivery_tick_cb - the timer and the kick */
static void delivery_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    delivery_tick(arg);
}

/* delivery_kick - look for work on the next loop pass */
void delivery_kick(struct delivery *d)
{
    if (!d->stopping)
        event_active(d->kick_ev, EV_TIMEOUT, 0);
}

/* delivery_route_find - the runtime route of sg, or NULL */
static struct route *delivery_route_find(const struct delivery *d, const char *sg)
{
    for (size_t i = 0; i < d->nroutes; i++)
        if (strcmp(d->routes[i].sg, sg) == 0)
            return &d->routes[i];
    return NULL;
}

/* delivery_route_get - the runtime route while the file still says what it
 * said when the route was set; else the file's destination */
const char *delivery_route_get(const struct delivery *d, const char *sg)
{
    const struct conf_sg *g = conf_sg_find(d->c, sg);
    const struct route *r = g ? delivery_route_find(d, sg) : NULL;

    if (g == NULL)
        return NULL;
    return r && strcmp(r->conf_dest, g->dest_text) == 0 ? r->dest : g->dest_text;
}

/* delivery_route_set - move a storage group now, and remember it */
void delivery_route_set(struct delivery *d, const char *sg, const char *dest_text,
                        void (*fn)(void *ctx, enum store_rc rc), void *ctx)
{
    const struct conf_sg *g = conf_sg_find(d->c, sg);
    struct route *r = delivery_route_find(d, sg);

    if (g == NULL) {
        if (fn)
            fn(ctx, STORE_E_IO);
        return;
    }
    if (r == NULL) {
        struct route *n = realloc(d->routes, (d->nroutes + 1) * sizeof(*n));
        if (n == NULL) {
            if (fn)
                fn(ctx, STORE_E_IO);
            return;
        }
        d->routes = n;
        r = &d->routes[d->nroutes++];
        snprintf(r->sg, sizeof(r->sg), "%s", sg);
    }
    snprintf(r->dest, sizeof(r->dest), "%s", dest_text);
    snprintf(r->conf_dest, sizeof(r->conf_dest), "%s", g->dest_text);
    log_info("delivery", "storage group %s: destination %s (admin)", sg, dest_text);
    route_save(d->st, r, fn, ctx);
    queue_flush(d->q, sg, false, NULL, NULL);
    delivery_kick(d);
}

void delivery_pause(struct delivery *d, bool on)
{
    d->paused = on;
    if (!on)
        delivery_kick(d);
}

/* delivery_routes_loaded - runtime routes from the store: delivery may start */
static void delivery_routes_loaded(void *ctx, const struct route *r, size_t n, enum store_rc rc)
{
    struct delivery *d = ctx;

    if (rc != STORE_OK)
        log_err("delivery", "cannot read the stored routes; using the configuration's");
    if (n > 0 && (d->routes = calloc(n, sizeof(*d->routes))) != NULL) {
        memcpy(d->routes, r, n * sizeof(*r));
        d->nroutes = n;
    }
    d->routes_ready = true;
    delivery_kick(d);
}

/* delivery_set_conf - new destinations apply to what is not yet delivered */
void delivery_set_conf(struct delivery *d, const struct conf *c)
{
    for (size_t i = 0; i < c->nsg; i++) {
        const struct conf_sg *old = conf_sg_find(d->c, c->sg[i].name);
        struct route *r = delivery_route_find(d, c->sg[i].name);
        if (r && strcmp(r->conf_dest, c->sg[i].dest_text) != 0) {
            log_info("delivery", "storage group %s: the file's destination replaces %s", r->sg,
                     r->dest);
            route_drop(d->st, r->sg);
            *r = d->routes[--d->nroutes];
        }
        if (old == NULL || strcmp(old->dest_text, c->sg[i].dest_text) != 0) {
            log_info("delivery", "storage group %s: destination %s", c->sg[i].name,
                     c->sg[i].dest_text);
            queue_flush(d->q, c->sg[i].name, false, NULL, NULL);
        }
    }
    if (strcmp(c->delivery.smarthost, d->c->delivery.smarthost) != 0)
        queue_flush(d->q, NULL, true, NULL, NULL);
    d->c = c;
    delivery_kick(d);
}

/* delivery_set_directory - where bounces to local senders go */
void delivery_set_directory(struct delivery *d, const struct directory *dir)
{
    d->dir = dir;
}

/* delivery_get_stats - counters for metrics */
void delivery_get_stats(const struct delivery *d, struct delivery_stats *st)
{
    *st = d->stats;
    st->inflight_jobs = d->inflight_jobs;
}

/* delivery_new - the scheduler and its tick */
struct delivery *delivery_new(struct event_base *base, const struct conf *c,
                              const struct directory *dir, struct store *st, struct queue *q,
                              char *err, size_t errlen)
{
    struct delivery *d = calloc(1, sizeof(*d));

    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->base = base;
    d->c = c;
    d->dir = dir;
    d->st = st;
    d->q = q;
    if ((d->res = resolver_new(base, c->delivery.resolver, err, errlen)) == NULL)
        return delivery_free(d);
    d->tick_ev = event_new(base, -1, EV_PERSIST, delivery_tick_cb, d);
    d->kick_ev = event_new(base, -1, 0, delivery_tick_cb, d);
    if (d->tick_ev == NULL || d->kick_ev == NULL ||
        event_add(d->tick_ev, &(struct timeval){1, 0}) < 0) {
        snprintf(err, errlen, "cannot create the delivery timers");
        return delivery_free(d);
    }
    route_load(st, delivery_routes_loaded, d);
    return d;
}

/* delivery_stop - close every connection; jobs in flight stay in the queue
 * as being delivered, and the next start makes them pending again */
void delivery_stop(struct delivery *d)
{
    if (d == NULL)
        return;
    d->stopping = true;
    if (d->tick_ev)
        event_del(d->tick_ev);
    if (d->kick_ev)
        event_del(d->kick_ev);
    d->res = resolver_free(d->res); /* no answer may reach a freed pool */
    dpool_free_all(d);
}

/* delivery_free - after store_close(): every reply has come back */
struct delivery *delivery_free(struct delivery *d)
{
    if (d == NULL)
        return NULL;
    delivery_stop(d);
    if (d->tick_ev)
        event_free(d->tick_ev);
    if (d->kick_ev)
        event_free(d->kick_ev);
    bounce_free_all(d);
    free(d->routes);
    free(d);
    return NULL;
}
