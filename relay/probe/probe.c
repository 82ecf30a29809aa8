/*
 * probe.c - the mailbox probes of the storage groups (probe.h)
 *
 * One entry per group that names a probe, with its backend (probe_int.h).
 * An ask is cut into chunks of DD_PROBE_BATCH_MAX questions; each chunk is
 * one backend request, at most DD_PROBE_INFLIGHT_MAX at once per entry,
 * the rest wait in order. The ask's callback runs from an event once every
 * chunk came back, so it never runs inside probes_ask(). A reload builds
 * new entries; an old one stays until its requests are done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include <event2/event.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"
#include "probe_int.h"

static const struct probe_backend *const probe_backends[] = {&probe_doveadm};

const double probe_latency_bounds[PROBE_HIST_BUCKETS - 1] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0};

struct probe_ask {
    TAILQ_ENTRY(probe_ask) link; /* on the done list once complete */
    struct probes *p;
    struct probe_query *q; /* copies */
    enum probe_answer *answers;
    size_t n, pending;
    char error[160];
    probe_done_fn fn;
    void *ctx;
};
TAILQ_HEAD(probe_ask_list, probe_ask);

struct probe_chunk {
    TAILQ_ENTRY(probe_chunk) link;
    struct probe_entry *e;
    struct probe_ask *ask;
    size_t off, n;
    int64_t t0_us;
};
TAILQ_HEAD(probe_chunk_list, probe_chunk);

struct probe_entry {
    LIST_ENTRY(probe_entry) link;
    char sg[DD_SG_NAME_MAX + 1];
    const struct probe_backend *be;
    void *b;
    unsigned inflight;
    struct probe_chunk_list waiting;
    bool retired;
};
LIST_HEAD(probe_entry_list, probe_entry);

struct probes {
    struct event_base *base;
    struct probe_entry_list live, retired;
    struct probe_ask_list done;
    struct event *done_ev;
    struct probe_stats st;
    bool stopping;
};

/* probe_oom - allocation failures here are fatal */
static void *probe_oom(void *p)
{
    if (p == NULL) {
        log_err("probe", "out of memory");
        abort();
    }
    return p;
}

/* probe_backend_of - the backend of a probe key's scheme */
static const struct probe_backend *probe_backend_of(const char *probe)
{
    for (size_t i = 0; i < sizeof(probe_backends) / sizeof(probe_backends[0]); i++) {
        size_t n = strlen(probe_backends[i]->scheme);
        if (strncmp(probe, probe_backends[i]->scheme, n) == 0 && probe[n] == ':')
            return probe_backends[i];
    }
    return NULL;
}

/* probe_read_key - the key file's bytes, one trailing line end taken off */
static int probe_read_key(const char *path, char *key, size_t cap, size_t *len, char *err,
                          size_t errlen)
{
    FILE *f = fopen(path, "rb");
    size_t n;

    if (f == NULL) {
        snprintf(err, errlen, "probe_key_file %s: %m", path);
        return -1;
    }
    n = fread(key, 1, cap, f);
    fclose(f);
    if (n == cap) {
        snprintf(err, errlen, "probe_key_file %s: longer than %zu octets", path, cap - 1);
        return -1;
    }
    if (n > 0 && key[n - 1] == '\n')
        n--;
    if (n > 0 && key[n - 1] == '\r')
        n--;
    if (n == 0) {
        snprintf(err, errlen, "probe_key_file %s: empty", path);
        return -1;
    }
    *len = n;
    return 0;
}

/* probe_entry_open - the entry of group g, or NULL with err */
static struct probe_entry *probe_entry_open(struct event_base *base, const struct conf_sg *g,
                                            char *err, size_t errlen)
{
    char key[DD_PROBE_KEY_MAX + 1], e2[200];
    struct probe_entry *e;
    size_t len;

    const struct probe_backend *be = probe_backend_of(g->probe);
    if (be == NULL) {
        snprintf(err, errlen, "storage group %s: no probe backend for %s", g->name, g->probe);
        return NULL;
    }
    if (probe_read_key(g->probe_key_file, key, sizeof(key), &len, e2, sizeof(e2)) < 0) {
        snprintf(err, errlen, "storage group %s: %s", g->name, e2);
        return NULL;
    }
    e = probe_oom(calloc(1, sizeof(*e)));
    snprintf(e->sg, sizeof(e->sg), "%s", g->name);
    e->be = be;
    TAILQ_INIT(&e->waiting);
    if (base && (e->b = be->open(base, g, key, len, e2, sizeof(e2))) == NULL) {
        snprintf(err, errlen, "storage group %s: %s", g->name, e2);
        free(e);
        e = NULL;
    }
    memset(key, 0, sizeof(key));
    return e;
}

/* probe_entry_close - release an entry with nothing in flight */
static void probe_entry_close(struct probe_entry *e)
{
    if (e->b)
        e->be->close(e->b);
    free(e);
}

/* probe_open_all - entries for every group of c with a probe into list */
static int probe_open_all(struct event_base *base, const struct conf *c,
                          struct probe_entry_list *list, char *err, size_t errlen)
{
    LIST_INIT(list);
    for (size_t i = 0; i < c->nsg; i++) {
        if (c->sg[i].probe[0] == 0)
            continue;
        struct probe_entry *e = probe_entry_open(base, &c->sg[i], err, errlen);
        if (e == NULL) {
            while ((e = LIST_FIRST(list)) != NULL) {
                LIST_REMOVE(e, link);
                probe_entry_close(e);
            }
            return -1;
        }
        LIST_INSERT_HEAD(list, e, link);
    }
    return 0;
}

/* probe_find - the live entry of sg */
static struct probe_entry *probe_find(const struct probes *p, const char *sg)
{
    struct probe_entry *e;

    LIST_FOREACH(e, &p->live, link)
    if (strcmp(e->sg, sg) == 0)
        return e;
    return NULL;
}

/* probe_ask_done - every chunk of the ask came back: to the done list */
static void probe_ask_done(struct probe_ask *a)
{
    TAILQ_INSERT_TAIL(&a->p->done, a, link);
    event_active(a->p->done_ev, EV_TIMEOUT, 0);
}

/* probe_ask_free - an ask and its copies */
static void probe_ask_free(struct probe_ask *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free((char *)a->q[i].user);
        free((char *)a->q[i].message_id);
    }
    free(a->q);
    free(a->answers);
    free(a);
}

/* probe_done_cb - complete asks to their callers */
static void probe_done_cb(evutil_socket_t fd, short what, void *arg)
{
    struct probes *p = arg;
    struct probe_ask *a;

    (void)fd;
    (void)what;
    while ((a = TAILQ_FIRST(&p->done)) != NULL) {
        TAILQ_REMOVE(&p->done, a, link);
        a->fn(a->ctx, a->answers, a->n, a->error[0] ? a->error : NULL);
        probe_ask_free(a);
    }
}

static void probe_dispatch(struct probe_entry *e);

/* probe_account - counters of one finished request */
static void probe_account(struct probes *p, const struct probe_chunk *c,
                          const enum probe_answer *answers, size_t n, const char *error)
{
    double s = (double)(clock_mono_us() - c->t0_us) / 1e6;
    size_t b = 0;

    if (error)
        p->st.requests_failed++;
    else
        p->st.requests_ok++;
    for (size_t i = 0; i < n; i++)
        p->st.answers[answers ? answers[i] : PROBE_ERROR]++;
    while (b < PROBE_HIST_BUCKETS - 1 && s > probe_latency_bounds[b])
        b++;
    p->st.latency_hist[b]++;
    p->st.latency_sum += s;
}

/* probe_chunk_done - one backend request answered (or failed) */
static void probe_chunk_done(void *ctx, const enum probe_answer *answers, size_t n,
                             const char *error)
{
    struct probe_chunk *c = ctx;
    struct probe_entry *e = c->e;
    struct probe_ask *a = c->ask;

    probe_account(a->p, c, answers, n, error);
    for (size_t i = 0; i < c->n; i++)
        a->answers[c->off + i] = answers && !error ? answers[i] : PROBE_ERROR;
    if (error && a->error[0] == 0)
        snprintf(a->error, sizeof(a->error), "%s", error);
    e->inflight--;
    free(c);
    if (--a->pending == 0)
        probe_ask_done(a);
    if (a->p->stopping)
        return; /* probes_free closes the entries */
    if (e->retired && e->inflight == 0 && TAILQ_EMPTY(&e->waiting)) {
        LIST_REMOVE(e, link);
        probe_entry_close(e);
    } else {
        probe_dispatch(e);
    }
}

/* probe_dispatch - start waiting chunks within the in-flight bound */
static void probe_dispatch(struct probe_entry *e)
{
    struct probe_chunk *c;

    while (e->inflight < DD_PROBE_INFLIGHT_MAX && (c = TAILQ_FIRST(&e->waiting)) != NULL) {
        TAILQ_REMOVE(&e->waiting, c, link);
        e->inflight++;
        c->t0_us = clock_mono_us();
        e->be->ask(e->b, c->ask->q + c->off, c->n, probe_chunk_done, c);
    }
}

/* probe_ask_new - an ask with copies of the questions */
static struct probe_ask *probe_ask_new(struct probes *p, const struct probe_query *q, size_t n,
                                       probe_done_fn fn, void *ctx)
{
    struct probe_ask *a = probe_oom(calloc(1, sizeof(*a)));

    a->p = p;
    a->q = probe_oom(calloc(n ? n : 1, sizeof(*a->q)));
    a->answers = probe_oom(calloc(n ? n : 1, sizeof(*a->answers)));
    for (size_t i = 0; i < n; i++) {
        a->q[i].user = probe_oom(strdup(q[i].user));
        a->q[i].message_id = probe_oom(strdup(q[i].message_id));
        a->answers[i] = PROBE_ERROR;
    }
    a->n = n;
    a->fn = fn;
    a->ctx = ctx;
    return a;
}

/* probes_ask - chunks of the questions to sg's probe */
void probes_ask(struct probes *p, const char *sg, const struct probe_query *q, size_t n,
                probe_done_fn fn, void *ctx)
{
    struct probe_ask *a = probe_ask_new(p, q, n, fn, ctx);
    struct probe_entry *e = p->stopping ? NULL : probe_find(p, sg);

    if (e == NULL || n == 0) {
        if (e == NULL)
            snprintf(a->error, sizeof(a->error), "storage group %s has no probe", sg);
        probe_ask_done(a);
        return;
    }
    for (size_t off = 0; off < n; off += DD_PROBE_BATCH_MAX) {
        struct probe_chunk *c = probe_oom(calloc(1, sizeof(*c)));
        c->e = e;
        c->ask = a;
        c->off = off;
        c->n = n - off < DD_PROBE_BATCH_MAX ? n - off : DD_PROBE_BATCH_MAX;
        a->pending++;
        TAILQ_INSERT_TAIL(&e->waiting, c, link);
    }
    probe_dispatch(e);
}

/* probes_new - every group's probe */
struct probes *probes_new(struct event_base *base, const struct conf *c, char *err, size_t errlen)
{
    struct probes *p = probe_oom(calloc(1, sizeof(*p)));

    p->base = base;
    LIST_INIT(&p->retired);
    TAILQ_INIT(&p->done);
    if ((p->done_ev = event_new(base, -1, 0, probe_done_cb, p)) == NULL ||
        probe_open_all(base, c, &p->live, err, errlen) < 0) {
        if (p->done_ev == NULL)
            snprintf(err, errlen, "out of memory");
        LIST_INIT(&p->live);
        return probes_free(p);
    }
    return p;
}

/* probes_check - the key files of c are there and usable */
int probes_check(const struct conf *c, char *err, size_t errlen)
{
    struct probe_entry_list list;
    struct probe_entry *e;

    if (probe_open_all(NULL, c, &list, err, errlen) < 0)
        return -1;
    while ((e = LIST_FIRST(&list)) != NULL) {
        LIST_REMOVE(e, link);
        probe_entry_close(e);
    }
    return 0;
}

/* probe_retire - an entry leaves the live list; closed once idle */
static void probe_retire(struct probes *p, struct probe_entry *e)
{
    LIST_REMOVE(e, link);
    if (e->inflight == 0 && TAILQ_EMPTY(&e->waiting)) {
        probe_entry_close(e);
        return;
    }
    e->retired = true;
    LIST_INSERT_HEAD(&p->retired, e, link);
}

/* probes_set_conf - new entries; the old ones retire */
int probes_set_conf(struct probes *p, const struct conf *c, char *err, size_t errlen)
{
    struct probe_entry_list fresh;
    struct probe_entry *e;

    if (probe_open_all(p->base, c, &fresh, err, errlen) < 0)
        return -1;
    while ((e = LIST_FIRST(&p->live)) != NULL)
        probe_retire(p, e);
    while ((e = LIST_FIRST(&fresh)) != NULL) {
        LIST_REMOVE(e, link);
        LIST_INSERT_HEAD(&p->live, e, link);
    }
    return 0;
}

/* probes_has - sg has a probe */
bool probes_has(const struct probes *p, const char *sg)
{
    return p && probe_find(p, sg) != NULL;
}

/* probe_ops_has - the callback table's has */
static int probe_ops_has(void *ctx, const char *sg)
{
    return probes_has(ctx, sg);
}

/* probe_ops_ask - the callback table's ask */
static void probe_ops_ask(void *ctx, const char *sg, const struct probe_query *q, size_t n,
                          probe_done_fn fn, void *fn_ctx)
{
    probes_ask(ctx, sg, q, n, fn, fn_ctx);
}

/* probes_ops - what resubmission is given */
struct probe_ops probes_ops(struct probes *p)
{
    return (struct probe_ops){probe_ops_has, probe_ops_ask, p};
}

/* probes_get_stats - counters for metrics */
void probes_get_stats(const struct probes *p, struct probe_stats *st)
{
    *st = p->st;
}

/* probe_cancel_list - everything of the entries in list ends now */
static void probe_cancel_list(struct probe_entry_list *list)
{
    struct probe_entry *e;

    LIST_FOREACH(e, list, link)
    {
        struct probe_chunk *c;
        while ((c = TAILQ_FIRST(&e->waiting)) != NULL) {
            TAILQ_REMOVE(&e->waiting, c, link);
            e->inflight++; /* counted down by probe_chunk_done */
            c->t0_us = clock_mono_us();
            probe_chunk_done(c, NULL, c->n, "stopping");
        }
        if (e->b)
            e->be->cancel(e->b);
    }
}

/* probes_stop - cancel everything; callers get an error now */
void probes_stop(struct probes *p)
{
    if (p == NULL || p->stopping)
        return;
    p->stopping = true;
    probe_cancel_list(&p->live);
    probe_cancel_list(&p->retired);
    probe_done_cb(-1, 0, p);
}

/* probes_free - release everything */
struct probes *probes_free(struct probes *p)
{
    struct probe_entry *e;

    if (p == NULL)
        return NULL;
    probes_stop(p);
    while ((e = LIST_FIRST(&p->live)) != NULL) {
        LIST_REMOVE(e, link);
        probe_entry_close(e);
    }
    while ((e = LIST_FIRST(&p->retired)) != NULL) {
        LIST_REMOVE(e, link);
        probe_entry_close(e);
    }
    if (p->done_ev)
        event_free(p->done_ev);
    free(p);
    return NULL;
}
