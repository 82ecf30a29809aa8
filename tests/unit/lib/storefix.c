/*
 * storefix.c - the unit tests' storage hub (storefix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "clock.h"
#include "storefix.h"
#include "store_int.h"

/* sf_base_ms - an hour ago */
int64_t sf_base_ms(void)
{
    return (clock_now_ms() / 1000 - 3600) * 1000;
}

/* sf_noop - the keepalive timer */
static void sf_noop(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

/* sf_setup - temp dir, loop, conf */
struct storefix *sf_setup(unsigned flags, bool durable)
{
    struct storefix *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "%s/ddunit.XXXXXX",
             !durable && access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->flags = flags;
    evthread_use_pthreads();
    f->base = event_base_new();
    f->keepalive = event_new(f->base, -1, EV_PERSIST, sf_noop, NULL);
    event_add(f->keepalive, &(struct timeval){1, 0});
    conf_init(&f->c);
    return f;
}

/* sf_dest_of - a group's configured destination */
const char *sf_dest_of(void *ctx, const char *sg)
{
    const struct conf_sg *g = conf_sg_find(&((struct storefix *)ctx)->c, sg);

    return g ? g->dest_text : NULL;
}

/* sf_open_parts - dumpster and resubmission over the queue */
static void sf_open_parts(struct storefix *f)
{
    char err[256] = "";

    if (f->flags & SF_DUMPSTER) {
        f->d = dumpster_new(f->base, f->st, f->q, &f->c, err, sizeof(err));
        if (f->d == NULL)
            fail_msg("dumpster_new: %s", err);
    }
    if (f->flags & SF_RESUBMIT) {
        f->rs = resubmit_new(f->base, f->st, f->q, &f->c, err, sizeof(err));
        if (f->rs == NULL)
            fail_msg("resubmit_new: %s", err);
        resubmit_set_dest_fn(f->rs, sf_dest_of, f);
    }
}

/* sf_fault_hook - the store asks before every statement */
static int sf_fault_hook(void *ctx, const char *sql)
{
    struct sf_fault *flt = ctx;

    if (sql != NULL && strncmp(sql, "BEGIN", 5) == 0)
        flt->armed = false; /* a new batch */
    if (sql != NULL && flt->after[0] && strstr(sql, flt->after) != NULL)
        flt->armed = true;
    if (flt->count == 0 || flt->match[0] == 0 || sql == NULL || strstr(sql, flt->match) == NULL)
        return SQLITE_OK;
    if (flt->after[0] && !flt->armed)
        return SQLITE_OK;
    if (flt->count > 0)
        flt->count--;
    flt->hits++;
    return flt->rc;
}

/* sf_fault - fail the next count statements containing match */
void sf_fault(struct storefix *f, const char *match, int rc, int count)
{
    sf_fault_after(f, NULL, match, rc, count);
}

/* sf_fault_after - sf_fault within the batches that ran after first */
void sf_fault_after(struct storefix *f, const char *after, const char *match, int rc, int count)
{
    snprintf(f->flt.after, sizeof(f->flt.after), "%s", after ? after : "");
    f->flt.armed = false;
    snprintf(f->flt.match, sizeof(f->flt.match), "%s", match ? match : "");
    f->flt.rc = rc;
    f->flt.hits = 0;
    f->flt.count = count;
}

/* sf_fault_hits - how many statements the fault failed */
int sf_fault_hits(const struct storefix *f)
{
    return f->flt.hits;
}

/* sf_open - the storage hub, started and loaded */
void sf_open(struct storefix *f)
{
    char err[256] = "";
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    if ((f->st = store_open(f->dir, f->base, NULL, NULL, err, sizeof(err))) == NULL)
        fail_msg("store_open: %s", err);
    store_set_linger(f->st, f->linger ? DD_STORE_LINGER_MS : 0);
    if ((f->q = queue_new(f->base, f->st, err, sizeof(err))) == NULL)
        fail_msg("queue_new: %s", err);
    sf_open_parts(f);
    if (f->before_start)
        f->before_start(f);
    store_set_fault(f->st, sf_fault_hook, &f->flt);
    if (store_start(f->st, err, sizeof(err)) < 0)
        fail_msg("store_start: %s", err);
    if (f->rs)
        resubmit_start(f->rs);
    while (f->d && !dumpster_ready(f->d) && clock_mono_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(f->d == NULL || dumpster_ready(f->d));
}

/* sf_close - stop, close the store, free */
void sf_close(struct storefix *f)
{
    resubmit_stop(f->rs);
    dumpster_stop(f->d);
    queue_stop(f->q);
    f->st = store_close(f->st);
    f->rs = resubmit_free(f->rs);
    f->d = dumpster_free(f->d);
    f->q = queue_free(f->q);
}

/* sf_reopen - a restart */
void sf_reopen(struct storefix *f)
{
    sf_close(f);
    sf_open(f);
}

/* sf_teardown - everything goes */
void sf_teardown(struct storefix *f)
{
    char cmd[160];

    sf_close(f);
    if (f->ro)
        sqlite3_close(f->ro);
    conf_free(&f->c);
    event_free(f->keepalive);
    event_base_free(f->base);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
}

/* sf_loop_until - run the loop until *flag reaches want */
void sf_loop_until(struct storefix *f, const int *flag, int want)
{
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    while (*flag < want && clock_mono_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
    if (*flag < want)
        fail_msg("timed out: %d of %d", *flag, want);
}

/* sf_fired - a one-shot timer */
static void sf_fired(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (*(int *)arg)++;
}

/* sf_run_ms - let the loop run for ms */
void sf_run_ms(struct storefix *f, int ms)
{
    int fired = 0;

    event_base_once(f->base, -1, EV_TIMEOUT, sf_fired, &fired,
                    &(struct timeval){ms / 1000, (ms % 1000) * 1000});
    sf_loop_until(f, &fired, 1);
}

/* sf_ro - the read-only connection, opened on first use */
static sqlite3 *sf_ro(struct storefix *f)
{
    char path[160];

    if (f->ro == NULL) {
        snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
        if (sqlite3_open_v2(path, &f->ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            fail_msg("%s: %s", path, sqlite3_errmsg(f->ro));
    }
    return f->ro;
}

/* sf_prepare - SQL from a format on the read-only connection */
static sqlite3_stmt *sf_prepare(struct storefix *f, const char *fmt, va_list ap)
{
    char *sql = sqlite3_vmprintf(fmt, ap);
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(sf_ro(f), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(f->ro));
    sqlite3_free(sql);
    return st;
}

/* sf_sql_int - first column of the first row, -1 when none */
long long sf_sql_int(struct storefix *f, const char *fmt, ...)
{
    va_list ap;
    long long n = -1;

    va_start(ap, fmt);
    sqlite3_stmt *st = sf_prepare(f, fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* sf_sql_row - the first ncols columns of the first row */
void sf_sql_row(struct storefix *f, long long *out, int ncols, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sqlite3_stmt *st = sf_prepare(f, fmt, ap);
    va_end(ap);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < ncols; i++)
        out[i] = sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
}

/* sf_sql_ids - the first column of every row; how many rows */
size_t sf_sql_ids(struct storefix *f, uint64_t *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n = 0;

    va_start(ap, fmt);
    sqlite3_stmt *st = sf_prepare(f, fmt, ap);
    va_end(ap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n < cap)
            out[n] = (uint64_t)sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

/* sf_sql_text - the first column of the first row as text */
void sf_sql_text(struct storefix *f, char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sqlite3_stmt *st = sf_prepare(f, fmt, ap);
    va_end(ap);
    buf[0] = 0;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(buf, cap, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* sf_add_sg - a storage group of the fixture's conf */
void sf_add_sg(struct storefix *f, const char *name, const char *dest, uint64_t max_size)
{
    struct conf *c = &f->c;
    char err[256];

    c->sg = realloc(c->sg, (c->nsg + 1) * sizeof(*c->sg));
    assert_non_null(c->sg);
    struct conf_sg *g = &c->sg[c->nsg++];
    memset(g, 0, sizeof(*g));
    snprintf(g->name, sizeof(g->name), "%s", name);
    if (conf_dest_parse(dest, &g->dest, err, sizeof(err)) < 0)
        fail_msg("%s: %s", dest, err);
    conf_dest_format(&g->dest, g->dest_text, sizeof(g->dest_text));
    g->has_max_size = max_size > 0;
    g->max_size = max_size;
}

/* sf_on_commit - a commit's completion */
static void sf_on_commit(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct storefix *f = ctx;

    (void)cookie;
    f->commits++;
    f->commit_errors += rc != STORE_OK;
    f->last_rc = rc;
}

/* sf_rcpts - "addr:SG" texts as queue recipients */
static struct queue_msg_rcpt *sf_rcpts(const char *const *rcpts, size_t n)
{
    struct queue_msg_rcpt *r = calloc(n ? n : 1, sizeof(*r));

    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strrchr(rcpts[i], ':');
        assert_non_null(colon);
        snprintf(r[i].addr, sizeof(r[i].addr), "%.*s", (int)(colon - rcpts[i]), rcpts[i]);
        r[i].route = colon[1] ? RCPT_ROUTE_SG : RCPT_ROUTE_SMARTHOST;
        snprintf(r[i].sg, sizeof(r[i].sg), "%s", colon + 1);
    }
    return r;
}

/* sf_commit - a message through the intake */
uint64_t sf_commit(struct storefix *f, uint64_t size, uint32_t nchunks, int64_t received_ms,
                   const char *const *rcpts, size_t n)
{
    struct queue_msg *m = calloc(1, sizeof(*m));
    char mid[64];

    assert_non_null(m);
    m->msg_id = queue_new_msg_id(f->q);
    snprintf(m->queue_id, sizeof(m->queue_id), "DT%016llu", ++f->next_qid);
    snprintf(m->sender, sizeof(m->sender), "s@example.net");
    snprintf(mid, sizeof(mid), "<%llu@example.net>", f->next_qid);
    m->message_id = strdup(mid);
    m->received_ms = received_ms;
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "client.test");
    snprintf(m->proto, sizeof(m->proto), "ESMTP");
    m->body = f->body;
    m->smtputf8 = f->smtputf8;
    for (uint64_t off = 0; off < size; m->nchunks++) {
        uint64_t len = m->nchunks + 1 == nchunks ? size - off : size / nchunks;
        char *data = malloc(len ? len : 1);
        memset(data, 'a' + (int)(m->nchunks % 26), len);
        if (f->whole && nchunks == 1) {
            m->tail = data;
            m->tail_len = len;
        } else {
            queue_chunk(f->q, m->msg_id, m->nchunks, data, len);
        }
        off += len;
    }
    m->size = size;
    m->rcpts = sf_rcpts(rcpts, n);
    m->nrcpts = n;
    m->hold = f->hold;
    uint64_t id = m->msg_id;
    queue_commit(f->q, m, sf_on_commit, f, id);
    return id;
}

/* sf_wait_commits - every commit so far answered, none failed */
void sf_wait_commits(struct storefix *f, int want)
{
    sf_loop_until(f, &f->commits, want);
    assert_int_equal(f->commit_errors, 0);
}

/* sf_on_pick - the picked jobs */
static void sf_on_pick(void *ctx, struct queue_job **jobs, size_t n, enum store_rc rc)
{
    struct sf_picked *p = ctx;

    p->calls++;
    p->jobs = jobs;
    p->n = n;
    p->rc = rc;
}

/* sf_pick_rc - jobs due at at, whatever the result */
struct sf_picked sf_pick_rc(struct storefix *f, int64_t at)
{
    struct sf_picked p = {0};

    queue_pick(f->q, at, 1024, sf_on_pick, &p);
    sf_loop_until(f, &p.calls, 1);
    return p;
}

/* sf_pick - jobs due at at */
struct sf_picked sf_pick(struct storefix *f, int64_t at)
{
    struct sf_picked p = sf_pick_rc(f, at);

    assert_int_equal(p.rc, STORE_OK);
    return p;
}

/* sf_free_picked - the jobs */
void sf_free_picked(struct sf_picked *p)
{
    for (size_t i = 0; i < p->n; i++)
        queue_job_free(p->jobs[i]);
    free(p->jobs);
    p->jobs = NULL;
    p->n = 0;
}

/* sf_outcome - the outcome of a job */
struct queue_outcome *sf_outcome(const struct queue_job *j, const enum queue_fate *fates,
                                 int64_t now_ms)
{
    struct queue_outcome *o = calloc(1, sizeof(*o));

    assert_non_null(o);
    o->msg_id = j->msg_id;
    o->route = j->route;
    o->request = j->request;
    o->now_ms = now_ms;
    snprintf(o->sg, sizeof(o->sg), "%s", j->sg);
    o->rcpts = calloc(j->nrcpts ? j->nrcpts : 1, sizeof(*o->rcpts));
    o->nrcpts = j->nrcpts;
    for (size_t i = 0; i < j->nrcpts; i++) {
        struct queue_outcome_rcpt *r = &o->rcpts[i];
        r->id = j->rcpts[i].id;
        snprintf(r->addr, sizeof(r->addr), "%s", j->rcpts[i].addr);
        r->fate = fates ? fates[i] : QUEUE_DELIVERED;
        r->next_attempt_ms = r->fate == QUEUE_DEFERRED ? SF_FAR_MS : 0;
        snprintf(r->reply, sizeof(r->reply), "%s",
                 r->fate == QUEUE_DELIVERED ? "250 2.0.0 ok" : "450 4.2.0 later");
    }
    return o;
}

/* sf_on_done - an outcome written */
static void sf_on_done(void *ctx, enum store_rc rc)
{
    *(int *)ctx += rc == STORE_OK ? 1 : 1000;
}

/* sf_done - record an outcome, wait for it */
void sf_done(struct storefix *f, struct queue_outcome *o)
{
    int done = 0;

    queue_done(f->q, o, sf_on_done, &done);
    sf_loop_until(f, &done, 1);
    assert_int_equal(done, 1);
}

/* sf_deliver_due - everything due at at, delivered at now_ms */
size_t sf_deliver_due(struct storefix *f, int64_t at, int64_t now_ms)
{
    struct sf_picked p = sf_pick(f, at);
    size_t n = p.n;

    for (size_t i = 0; i < p.n; i++)
        sf_done(f, sf_outcome(p.jobs[i], NULL, now_ms));
    sf_free_picked(&p);
    return n;
}
