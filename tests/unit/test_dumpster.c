/*
 * test_dumpster.c - the transport dumpster and resubmission on a real
 * SQLite file and a real event loop
 *
 * Part 1 drives the storage side (queue_done with keep, dumpster_enforce,
 * dumpster_release, restarts) with random operations from fixed seeds and
 * checks after every step that a small model, the counter rows and SQL over
 * the database file agree (SPEC section 6). Part 2 drives resubmission
 * through the loop-side interface of dumpster.h: ranges, the ledger, dry
 * runs, coverage, a restart in the middle of a large request, cancel
 * (SPEC section 7). Messages reach the dumpster the way the hub delivers
 * them: commit, queue_pick, queue_done with the outcome.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "../../dumpster/dumpster_int.h"
#include "conf.h"
#include "dumpster.h"
#include "queue.h"
#include "store.h"

#define FAR_MS ((int64_t)1 << 60) /* a retry that never comes due by itself */
#define WAIT_MS 60000             /* longest wait for the loop */
#define MSG_IDS_MAX 4096          /* message ids a test may use */

struct fixture {
    char dir[64];
    struct event_base *base;
    struct event *keepalive; /* keeps EVLOOP_ONCE waiting for the store */
    struct store *st;
    sqlite3 *ro; /* the checks' own connection to the database file */
    int commits, commit_errors;
    unsigned long long next_qid;
    struct conf c;                /* the groups of the loop-side dumpster */
    struct dumpster *d;           /* NULL until open_dumpster() */
    unsigned resent[MSG_IDS_MAX]; /* resubmitted recipients delivered, per message */
};

/* ---- the loop, the store, SQL over the file ---- */

/* mono_ms - a monotonic clock in ms */
static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wall_ms - the wall clock in ms, as the dumpster's timers see it */
static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* loop_until - run the loop until *flag reaches want */
static void loop_until(struct fixture *f, const int *flag, int want)
{
    int64_t end = mono_ms() + WAIT_MS;

    while (*flag < want && mono_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
    if (*flag < want)
        fail_msg("timed out: %d of %d", *flag, want);
}

/* on_timer - a one-shot timer fired */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (*(int *)arg)++;
}

/* run_ms - let the loop run for ms milliseconds */
static void run_ms(struct fixture *f, int ms)
{
    int fired = 0;

    event_base_once(f->base, -1, EV_TIMEOUT, on_timer, &fired,
                    &(struct timeval){ms / 1000, (ms % 1000) * 1000});
    loop_until(f, &fired, 1);
}

static void on_commit(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct fixture *f = ctx;

    (void)cookie;
    f->commits++;
    f->commit_errors += rc != STORE_OK;
}

/* open_store - (re)open the fixture's store */
static void open_store(struct fixture *f)
{
    char err[256] = "";

    f->st = store_open(f->dir, f->base, on_commit, NULL, f, err, sizeof(err));
    if (f->st == NULL)
        fail_msg("store_open: %s", err);
}

static void noop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    /* tmpfs when there is one: these tests are about logic, not fsync */
    snprintf(f->dir, sizeof(f->dir), "%s/test_dumpster.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    evthread_use_pthreads();
    f->base = event_base_new();
    f->keepalive = event_new(f->base, -1, EV_PERSIST, noop_cb, NULL);
    event_add(f->keepalive, &(struct timeval){1, 0});
    open_store(f);
    conf_init(&f->c);
    *state = f;
    return 0;
}

/* close_hub - the hub's order: stop the dumpster, close the store, free */
static void close_hub(struct fixture *f)
{
    dumpster_stop(f->d);
    f->st = store_close(f->st);
    f->d = dumpster_free(f->d);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    close_hub(f);
    if (f->ro)
        sqlite3_close(f->ro);
    conf_free(&f->c);
    event_free(f->keepalive);
    event_base_free(f->base);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* ro_db - the checks' read-only connection (opened on first use) */
static sqlite3 *ro_db(struct fixture *f)
{
    char path[128];

    if (f->ro == NULL) {
        snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
        if (sqlite3_open_v2(path, &f->ro, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
            fail_msg("%s: %s", path, sqlite3_errmsg(f->ro));
    }
    return f->ro;
}

/* sql_run - prepare SQL (sqlite3_mprintf format) on the read-only connection */
static sqlite3_stmt *sql_run(struct fixture *f, const char *fmt, va_list ap)
{
    char *sql = sqlite3_vmprintf(fmt, ap);
    sqlite3_stmt *st = NULL;

    if (sqlite3_prepare_v2(ro_db(f), sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(f->ro));
    sqlite3_free(sql);
    return st;
}

/* sql_int - the first column of the first row (-1 when there is none) */
static long long sql_int(struct fixture *f, const char *fmt, ...)
{
    va_list ap;
    long long n = -1;

    va_start(ap, fmt);
    sqlite3_stmt *st = sql_run(f, fmt, ap);
    va_end(ap);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

/* sql_row - the first ncols columns of the first row into out */
static void sql_row(struct fixture *f, long long *out, int ncols, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sqlite3_stmt *st = sql_run(f, fmt, ap);
    va_end(ap);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    for (int i = 0; i < ncols; i++)
        out[i] = sqlite3_column_int64(st, i);
    sqlite3_finalize(st);
}

/* sql_ids - the first column of every row into out[0..cap); how many rows */
static size_t sql_ids(struct fixture *f, uint64_t *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    size_t n = 0;

    va_start(ap, fmt);
    sqlite3_stmt *st = sql_run(f, fmt, ap);
    va_end(ap);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n < cap)
            out[n] = (uint64_t)sqlite3_column_int64(st, 0);
        n++;
    }
    sqlite3_finalize(st);
    return n;
}

/* ---- a conf and the loop-side dumpster ---- */

/* conf_add_sg - a storage group (max_size 0: the [dumpster] default) */
static void conf_add_sg(struct conf *c, const char *name, const char *dest, uint64_t max_size)
{
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

/* dest_of - where a group's mail goes now: its configured destination */
static const char *dest_of(void *ctx, const char *sg)
{
    const struct conf_sg *g = conf_sg_find(&((struct fixture *)ctx)->c, sg);

    return g ? g->dest_text : NULL;
}

/* open_dumpster - the dumpster on the store, counters loaded */
static void open_dumpster(struct fixture *f)
{
    char err[256] = "";
    int64_t end = mono_ms() + WAIT_MS;

    f->d = dumpster_new(f->base, f->st, &f->c, err, sizeof(err));
    if (f->d == NULL)
        fail_msg("dumpster_new: %s", err);
    dumpster_set_dest_fn(f->d, dest_of, f);
    while (!dumpster_ready(f->d) && mono_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(dumpster_ready(f->d));
}

/* base_ms - a time base an hour ago: the dumpster's 1 s tick uses the real
 * clock, so items must be younger than max_age */
static int64_t base_ms(void)
{
    return (wall_ms() / 1000 - 3600) * 1000;
}

/* ---- messages through the queue ---- */

/* commit_msg - a message of size octets in nchunks chunks, received at
 * received_ms, for rcpts[0..n); returns its id (the commit follows) */
static uint64_t commit_msg(struct fixture *f, uint64_t size, uint32_t nchunks, int64_t received_ms,
                           const struct store_rcpt *rcpts, size_t n)
{
    struct store_msg *m = calloc(1, sizeof(*m));
    char mid[64];

    assert_non_null(m);
    m->msg_id = store_new_msg_id(f->st);
    snprintf(m->queue_id, sizeof(m->queue_id), "DT%016llu", ++f->next_qid);
    snprintf(m->sender, sizeof(m->sender), "s@example.net");
    snprintf(mid, sizeof(mid), "<%llu@example.net>", f->next_qid);
    m->message_id = strdup(mid);
    m->received_ms = received_ms;
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "client.test");
    snprintf(m->proto, sizeof(m->proto), "ESMTP");
    for (uint64_t off = 0; off < size; m->nchunks++) {
        uint64_t len = m->nchunks + 1 == nchunks ? size - off : size / nchunks;
        char *data = malloc(len);
        memset(data, 'a' + (int)(m->nchunks % 26), len);
        store_chunk(f->st, m->msg_id, m->nchunks, data, len);
        off += len;
    }
    m->size = size;
    m->rcpts = calloc(n, sizeof(*m->rcpts));
    memcpy(m->rcpts, rcpts, n * sizeof(*rcpts));
    m->nrcpts = n;
    uint64_t id = m->msg_id;
    store_commit_to(f->st, m, on_commit, f, id);
    return id;
}

/* wait_commits - every commit handed over so far is durable */
static void wait_commits(struct fixture *f, int want)
{
    loop_until(f, &f->commits, want);
    assert_int_equal(f->commit_errors, 0);
}

struct picked {
    int calls;
    struct queue_job **jobs;
    size_t n;
    enum store_rc rc;
};

static void on_pick(void *ctx, struct queue_job **jobs, size_t n, enum store_rc rc)
{
    struct picked *p = ctx;

    p->calls++;
    p->jobs = jobs;
    p->n = n;
    p->rc = rc;
}

/* pick - jobs due at `at` */
static struct picked pick(struct fixture *f, int64_t at)
{
    struct picked p = {0};

    queue_pick(f->st, at, 1024, on_pick, &p);
    loop_until(f, &p.calls, 1);
    assert_int_equal(p.rc, STORE_OK);
    return p;
}

static void free_picked(struct picked *p)
{
    for (size_t i = 0; i < p->n; i++)
        queue_job_free(p->jobs[i]);
    free(p->jobs);
}

/* outcome_of - job j's outcome as delivery_job_done() fills it: fates[i]
 * per recipient, recorded at now_ms; kept when not a resubmission */
static struct queue_outcome *outcome_of(const struct queue_job *j, const enum queue_fate *fates,
                                        uint64_t keep_max_bytes, int64_t now_ms)
{
    struct queue_outcome *o = calloc(1, sizeof(*o));

    assert_non_null(o);
    o->msg_id = j->msg_id;
    o->request = j->request;
    o->keep = j->request == 0;
    o->keep_max_bytes = keep_max_bytes;
    o->now_ms = now_ms;
    snprintf(o->sg, sizeof(o->sg), "%s", j->sg);
    o->rcpts = calloc(j->nrcpts, sizeof(*o->rcpts));
    o->nrcpts = j->nrcpts;
    for (size_t i = 0; i < j->nrcpts; i++) {
        struct queue_outcome_rcpt *r = &o->rcpts[i];
        snprintf(r->addr, sizeof(r->addr), "%s", j->rcpts[i].addr);
        r->fate = fates ? fates[i] : QUEUE_DELIVERED;
        r->next_attempt_ms = r->fate == QUEUE_DEFERRED ? FAR_MS : 0;
        snprintf(r->reply, sizeof(r->reply), "%s",
                 r->fate == QUEUE_DELIVERED ? "250 2.0.0 ok" : "450 4.2.0 later");
    }
    return o;
}

static void on_done(void *ctx, enum store_rc rc)
{
    *(int *)ctx += rc == STORE_OK ? 1 : 1000;
}

/* ---- work functions on the storage thread ---- */

#define PT_NG 3 /* storage groups of the property test */

struct pt_work {
    struct dumpster_bound b[PT_NG];
    int64_t now_ms, oldest[PT_NG];
    char sg[DD_SG_NAME_MAX + 1];
    int64_t until_ms;
    uint64_t released;
    struct dumpster_stats stats[PT_NG];
    int done;
    enum store_rc rc;
};

/* pt_enforce_work - every group's bounds at the test's now */
static int pt_enforce_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < PT_NG && rc == SQLITE_OK; i++)
        rc = dumpster_enforce(s, &w->b[i], w->now_ms, &w->oldest[i]);
    return rc;
}

/* pt_release_work - early release of one group */
static int pt_release_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;

    return dumpster_release(s, w->sg, w->until_ms, &w->released);
}

/* pt_read_work - every group's counter row */
static int pt_read_work(struct store *s, void *arg)
{
    struct pt_work *w = arg;
    int rc = SQLITE_OK;

    for (size_t i = 0; i < PT_NG && rc == SQLITE_OK; i++)
        rc = dumpster_read_sg(s, w->b[i].sg, &w->stats[i]);
    return rc;
}

static void pt_reply(void *arg, enum store_rc rc)
{
    struct pt_work *w = arg;

    w->rc = rc;
    w->done++;
}

/* pt_call - run work on the storage thread and wait for it */
static void pt_call(struct fixture *f, store_work_fn work, struct pt_work *w, bool durable)
{
    w->done = 0;
    store_call(f->st, work, pt_reply, w, durable);
    loop_until(f, &w->done, 1);
    assert_int_equal(w->rc, STORE_OK);
}

/* ---- part 1: the model ---- */

#define PT_SEEDS 20
#define PT_STEPS 200
#define PT_ITEMS_MAX 512

struct m_item {
    uint64_t msg, size;
    int64_t received, delivered;
};

struct m_group {
    char name[8];
    uint64_t max_bytes, max_age_s;
    struct m_item it[PT_ITEMS_MAX]; /* by (received, msg): it[0] is the oldest */
    size_t n;
    uint64_t bytes, ev_size, ev_age, ev_repl, not_kept;
    int64_t repl_until;
};

struct m_msg {
    bool live; /* envelope and content are in the store */
    uint64_t size;
    int64_t received;
    unsigned pending; /* recipients not final */
};

/* What the operations did, over every seed: the test must reach each case. */
struct m_tally {
    uint64_t ops[6]; /* by pt_step's operation */
    uint64_t kept, ev_size, ev_age, ev_repl, not_kept;
    uint64_t held_for_pending; /* evicted everywhere, content kept for a pending recipient */
};

struct model {
    struct m_group g[PT_NG];
    struct m_msg msg[MSG_IDS_MAX]; /* by message id */
    int64_t now;
    uint64_t rng;
    unsigned seed, step;
    const char *op;
    struct m_tally *tally;
};

/* rnd - xorshift64*: the same sequence for the same seed everywhere */
static uint64_t rnd(struct model *md, uint64_t n)
{
    md->rng ^= md->rng >> 12;
    md->rng ^= md->rng << 25;
    md->rng ^= md->rng >> 27;
    return (md->rng * 2685821657736338717ull >> 11) % n;
}

#define PT_EQ(md, what, got, want)                                                                 \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (g_ != w_)                                                                              \
            fail_msg("seed %u step %u (%s): %s is %lld, the model says %lld", (md)->seed,          \
                     (md)->step, (md)->op, what, g_, w_);                                          \
    } while (0)

/* m_group_of - the model group named sg */
static struct m_group *m_group_of(struct model *md, const char *sg)
{
    for (size_t i = 0; i < PT_NG; i++)
        if (strcmp(md->g[i].name, sg) == 0)
            return &md->g[i];
    fail_msg("seed %u step %u: a job for unknown group %s", md->seed, md->step, sg);
    return NULL;
}

/* m_find - index of msg in group g, or -1 */
static int m_find(const struct m_group *g, uint64_t msg)
{
    for (size_t i = 0; i < g->n; i++)
        if (g->it[i].msg == msg)
            return (int)i;
    return -1;
}

/* m_settle - a message with nothing pending that no group holds leaves */
static void m_settle(struct model *md, uint64_t msg)
{
    bool held = false;

    for (size_t i = 0; i < PT_NG; i++)
        held |= m_find(&md->g[i], msg) >= 0;
    if (md->msg[msg].pending == 0 && !held)
        md->msg[msg].live = false;
}

/* m_remove - item i leaves group g, counted in *reason */
static void m_remove(struct model *md, struct m_group *g, size_t i, uint64_t *reason)
{
    uint64_t msg = g->it[i].msg;
    bool held = false;

    g->bytes -= g->it[i].size;
    memmove(&g->it[i], &g->it[i + 1], (g->n - i - 1) * sizeof(g->it[0]));
    g->n--;
    (*reason)++;
    for (size_t k = 0; k < PT_NG; k++)
        held |= m_find(&md->g[k], msg) >= 0;
    md->tally->held_for_pending += !held && md->msg[msg].pending > 0;
    m_settle(md, msg);
}

/* m_keep - msg delivered to group g at now: kept, evicting the oldest until it fits */
static void m_keep(struct model *md, struct m_group *g, uint64_t msg)
{
    const struct m_msg *m = &md->msg[msg];
    struct m_item it = {msg, m->size, m->received, md->now};
    size_t at = 0;

    if (m_find(g, msg) >= 0)
        return; /* one item per group; more recipients only extend it */
    if (m->size > g->max_bytes) {
        g->not_kept++;
        return;
    }
    while (g->n > 0 && g->bytes + m->size > g->max_bytes)
        m_remove(md, g, 0, &g->ev_size);
    assert_true(g->n < PT_ITEMS_MAX);
    while (at < g->n && (g->it[at].received < it.received ||
                         (g->it[at].received == it.received && g->it[at].msg < msg)))
        at++;
    memmove(&g->it[at + 1], &g->it[at], (g->n - at) * sizeof(g->it[0]));
    g->it[at] = it;
    g->n++;
    g->bytes += m->size;
    md->tally->kept++;
}

/* m_enforce - expire by age, then shrink to the bound, oldest first */
static void m_enforce(struct model *md, struct m_group *g)
{
    int64_t cutoff = md->now - (int64_t)g->max_age_s * 1000;

    while (g->n > 0 && (g->it[0].received <= cutoff || g->bytes > g->max_bytes))
        m_remove(md, g, 0, g->it[0].received <= cutoff ? &g->ev_age : &g->ev_size);
}

/* m_release - items delivered before until leave (reason replicated) */
static uint64_t m_release(struct model *md, struct m_group *g, int64_t until)
{
    uint64_t released = 0;

    for (size_t i = 0; i < g->n;) {
        if (g->it[i].delivered < until) {
            m_remove(md, g, i, &g->ev_repl);
            released++;
        } else {
            i++;
        }
    }
    if (until > g->repl_until)
        g->repl_until = until;
    return released;
}

/* ---- part 1: the store against the model ---- */

/* pt_bounds - the model's bounds for the storage thread */
static void pt_bounds(const struct model *md, struct pt_work *w)
{
    for (size_t i = 0; i < PT_NG; i++) {
        snprintf(w->b[i].sg, sizeof(w->b[i].sg), "%s", md->g[i].name);
        w->b[i].max_bytes = md->g[i].max_bytes;
        w->b[i].max_age_s = md->g[i].max_age_s;
    }
}

/* pt_check_mirror - the loop's copy of the counters agrees too */
static void pt_check_mirror(struct fixture *f, struct model *md, const struct m_group *g)
{
    struct dumpster_stats m;

    PT_EQ(md, "mirrored groups", dumpster_stats(f->d, g->name, &m, 1), 1);
    PT_EQ(md, "items (mirror)", m.items, g->n);
    PT_EQ(md, "bytes (mirror)", m.bytes, g->bytes);
    PT_EQ(md, "oldest (mirror)", m.oldest_received_ms, g->n ? g->it[0].received : 0);
    PT_EQ(md, "evicted_size (mirror)", m.evicted_size, g->ev_size);
    PT_EQ(md, "evicted_age (mirror)", m.evicted_age, g->ev_age);
    PT_EQ(md, "evicted_replicated (mirror)", m.evicted_replicated, g->ev_repl);
    PT_EQ(md, "not_kept (mirror)", m.not_kept, g->not_kept);
    PT_EQ(md, "replicated_until (mirror)", m.replicated_until_ms, g->repl_until);
}

/* pt_check_group - counter row, SQL over the file and the model agree */
static void pt_check_group(struct fixture *f, struct model *md, const struct m_group *g,
                           const struct dumpster_stats *row)
{
    long long sql[3], gone[4];
    uint64_t ids[PT_ITEMS_MAX];

    sql_row(f, sql, 3,
            "SELECT count(*), coalesce(sum(size), 0), coalesce(min(received), 0)"
            " FROM dumpster_item WHERE sg = %Q",
            g->name);
    sql_row(f, gone, 4,
            "SELECT count(CASE WHEN reason = 'size' THEN 1 END), count(CASE WHEN reason = 'age'"
            " THEN 1 END), count(CASE WHEN reason = 'replicated' THEN 1 END), count(CASE WHEN"
            " reason = 'too_large' THEN 1 END) FROM dumpster_gone WHERE sg = %Q",
            g->name);
    PT_EQ(md, "items (counter)", row->items, g->n);
    PT_EQ(md, "items (sql)", sql[0], g->n);
    PT_EQ(md, "bytes (counter)", row->bytes, g->bytes);
    PT_EQ(md, "bytes (sql)", sql[1], g->bytes);
    PT_EQ(md, "oldest (counter)", row->oldest_received_ms, g->n ? g->it[0].received : 0);
    PT_EQ(md, "oldest (sql)", sql[2], g->n ? g->it[0].received : 0);
    PT_EQ(md, "evicted_size", row->evicted_size, g->ev_size);
    PT_EQ(md, "evicted_age", row->evicted_age, g->ev_age);
    PT_EQ(md, "evicted_replicated", row->evicted_replicated, g->ev_repl);
    PT_EQ(md, "not_kept", row->not_kept, g->not_kept);
    PT_EQ(md, "replicated_until", row->replicated_until_ms, g->repl_until);
    PT_EQ(md, "gone size", gone[0], g->ev_size);
    PT_EQ(md, "gone age", gone[1], g->ev_age);
    PT_EQ(md, "gone replicated", gone[2], g->ev_repl);
    PT_EQ(md, "gone too_large", gone[3], g->not_kept);
    PT_EQ(md, "bytes <= max_bytes", row->bytes <= g->max_bytes, 1);
    size_t n =
        sql_ids(f, ids, PT_ITEMS_MAX,
                "SELECT msg FROM dumpster_item WHERE sg = %Q ORDER BY received, msg", g->name);
    PT_EQ(md, "items listed", n, g->n);
    for (size_t i = 0; i < n; i++)
        PT_EQ(md, "item in eviction order", ids[i], g->it[i].msg);
}

/* pt_check_msgs - content is in the store exactly while a group holds the
 * message or a recipient is pending */
static void pt_check_msgs(struct fixture *f, struct model *md)
{
    static uint64_t body[MSG_IDS_MAX], envelope[MSG_IDS_MAX];
    size_t nlive = 0, pending = 0, i = 0;
    size_t nb = sql_ids(f, body, MSG_IDS_MAX, "SELECT DISTINCT msg FROM body ORDER BY msg");
    size_t ne = sql_ids(f, envelope, MSG_IDS_MAX, "SELECT id FROM message ORDER BY id");

    for (uint64_t id = 0; id < MSG_IDS_MAX; id++) {
        if (!md->msg[id].live)
            continue;
        pending += md->msg[id].pending;
        PT_EQ(md, "content of a live message", i < nb ? body[i] : 0, id);
        PT_EQ(md, "envelope of a live message", i < ne ? envelope[i] : 0, id);
        i++;
        nlive++;
    }
    PT_EQ(md, "messages with content", nb, nlive);
    PT_EQ(md, "envelopes", ne, nlive);
    PT_EQ(md, "recipients pending", sql_int(f, "SELECT count(*) FROM recipient WHERE state < 2"),
          pending);
}

/* pt_check - after every step */
static void pt_check(struct fixture *f, struct model *md)
{
    struct pt_work w = {0};

    pt_bounds(md, &w);
    pt_call(f, pt_read_work, &w, false);
    for (size_t i = 0; i < PT_NG; i++) {
        pt_check_group(f, md, &md->g[i], &w.stats[i]);
        pt_check_mirror(f, md, &md->g[i]);
    }
    pt_check_msgs(f, md);
}

/* pt_fate - delivered mostly; sometimes deferred (stays pending) or failed */
static enum queue_fate pt_fate(struct model *md)
{
    uint64_t r = rnd(md, 100);

    return r < 84 ? QUEUE_DELIVERED : r < 94 ? QUEUE_DEFERRED : QUEUE_FAILED;
}

/* pt_deliver - pick what is due now and record an outcome for every job,
 * in the order the storage thread will apply them; the model follows */
static void pt_deliver(struct fixture *f, struct model *md)
{
    struct picked p = pick(f, md->now);
    int done = 0;

    for (size_t i = 0; i < p.n; i++) {
        struct queue_job *j = p.jobs[i];
        struct m_group *g = m_group_of(md, j->sg);
        enum queue_fate fates[4];
        bool delivered = false;
        assert_true(j->nrcpts <= 4 && j->msg_id < MSG_IDS_MAX);
        for (size_t k = 0; k < j->nrcpts; k++) {
            fates[k] = pt_fate(md);
            delivered |= fates[k] == QUEUE_DELIVERED;
            md->msg[j->msg_id].pending -= fates[k] != QUEUE_DEFERRED;
        }
        queue_done(f->st, outcome_of(j, fates, g->max_bytes, md->now), on_done, &done);
        if (delivered)
            m_keep(md, g, j->msg_id);
        m_settle(md, j->msg_id);
    }
    loop_until(f, &done, (int)p.n);
    assert_int_equal(done, (int)p.n);
    free_picked(&p);
}

/* pt_size - 100..4000 octets; now and then more than a group's bound */
static uint64_t pt_size(struct model *md)
{
    return rnd(md, 10) == 0 ? 6000 + rnd(md, 7001) : 100 + rnd(md, 3901);
}

/* pt_insert - one to three messages for one or two groups, then delivery */
static void pt_insert(struct fixture *f, struct model *md)
{
    int k = 1 + (int)rnd(md, 3), want = f->commits + k;

    md->now += 1000 * (int64_t)rnd(md, 3);
    for (int i = 0; i < k; i++) {
        struct store_rcpt r[4];
        size_t n = 0, g0 = rnd(md, PT_NG), ng = 1 + rnd(md, 2);
        uint64_t size = pt_size(md);
        /* received: mostly just now (ties happen), sometimes long ago */
        int64_t received = rnd(md, 8) == 0 ? md->now - (int64_t)rnd(md, 2400) * 1000
                                           : md->now - 1000 * (int64_t)rnd(md, 3);
        for (size_t gi = 0; gi < ng; gi++) {
            size_t nr = 1 + rnd(md, 2);
            for (size_t ri = 0; ri < nr; ri++, n++) {
                snprintf(r[n].addr, sizeof(r[n].addr), "u%zu@g%zu.test", ri, (g0 + gi) % PT_NG);
                snprintf(r[n].sg, sizeof(r[n].sg), "%s", md->g[(g0 + gi) % PT_NG].name);
            }
        }
        uint64_t id = commit_msg(f, size, 1 + (uint32_t)rnd(md, 3), received, r, n);
        assert_true(id < MSG_IDS_MAX);
        md->msg[id] = (struct m_msg){true, size, received, (unsigned)n};
    }
    wait_commits(f, want);
    pt_deliver(f, md);
}

static void on_flush(void *ctx, uint64_t n)
{
    (void)n;
    (*(int *)ctx)++;
}

/* pt_retry - every deferred recipient due now, delivered again */
static void pt_retry(struct fixture *f, struct model *md)
{
    int flushed = 0;

    queue_flush(f->st, NULL, on_flush, &flushed);
    loop_until(f, &flushed, 1);
    pt_deliver(f, md);
}

/* pt_enforce - the expiry tick's work at the test's now */
static void pt_enforce(struct fixture *f, struct model *md)
{
    struct pt_work w = {0};

    pt_bounds(md, &w);
    w.now_ms = md->now;
    pt_call(f, pt_enforce_work, &w, false);
    for (size_t i = 0; i < PT_NG; i++) {
        m_enforce(md, &md->g[i]);
        PT_EQ(md, "oldest after enforce", w.oldest[i], md->g[i].n ? md->g[i].it[0].received : 0);
    }
}

/* pt_release - the mailbox of one group is safe up to a time near now */
static void pt_release(struct fixture *f, struct model *md)
{
    struct pt_work w = {0};
    struct m_group *g = &md->g[rnd(md, PT_NG)];

    snprintf(w.sg, sizeof(w.sg), "%s", g->name);
    w.until_ms = md->now - (int64_t)rnd(md, 600) * 1000;
    if (g->n > 0 && rnd(md, 3) == 0) /* the bound: an item delivered at until stays */
        w.until_ms = g->it[rnd(md, g->n)].delivered;
    pt_call(f, pt_release_work, &w, true);
    PT_EQ(md, "released", w.released, m_release(md, g, w.until_ms));
}

/* pt_advance - time passes; now and then exactly to the age bound of a
 * group's oldest item (an item received at now - max_age expires) */
static void pt_advance(struct model *md)
{
    const struct m_group *g = &md->g[rnd(md, PT_NG)];
    int64_t edge = g->n ? g->it[0].received + (int64_t)g->max_age_s * 1000 : 0;

    if (rnd(md, 3) == 0 && edge >= md->now)
        md->now = edge - (int64_t)rnd(md, 2); /* at the bound, or 1 ms before it */
    else
        md->now += (int64_t)rnd(md, 600) * 1000;
}

/* pt_step - one random operation */
static void pt_step(struct fixture *f, struct model *md)
{
    uint64_t r = rnd(md, 100);

    md->tally->ops[r < 50 ? 0 : r < 60 ? 1 : r < 78 ? 2 : r < 83 ? 3 : r < 94 ? 4 : 5]++;
    if (r < 50) {
        md->op = "insert";
        pt_insert(f, md);
    } else if (r < 60) {
        md->op = "retry";
        pt_retry(f, md);
    } else if (r < 78) {
        md->op = "expire";
        pt_advance(md);
        pt_enforce(f, md);
    } else if (r < 83) {
        md->op = "new bound";
        md->g[rnd(md, PT_NG)].max_bytes = 3000 + rnd(md, 9001);
        pt_enforce(f, md);
    } else if (r < 94) {
        md->op = "release";
        pt_release(f, md);
    } else {
        md->op = "restart";
        close_hub(f);
        open_store(f);
        open_dumpster(f);
    }
}

/* pt_fresh - an empty database for the next seed */
static void pt_fresh(struct fixture *f)
{
    static const char *const files[] = {"dumpsterd.db", "dumpsterd.db-wal", "dumpsterd.db-shm"};
    char path[128];

    close_hub(f);
    if (f->ro)
        sqlite3_close(f->ro);
    f->ro = NULL;
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
        unlink(path);
    }
    open_store(f);
    open_dumpster(f);
}

/* setup_model - three groups whose conf bounds never bite: the model's
 * bounds go to queue_done and dumpster_enforce directly, while the
 * dumpster's own 1 s tick (real clock) finds nothing to do */
static int setup_model(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    for (size_t i = 0; i < PT_NG; i++) {
        char name[8];
        snprintf(name, sizeof(name), "SG%zu", i + 1);
        conf_add_sg(&f->c, name, "lmtp:[127.0.0.1]:2424", (uint64_t)1 << 40);
        f->c.sg[i].has_max_age = true;
        f->c.sg[i].max_age = 100ull * 365 * 86400;
    }
    open_dumpster(f);
    return 0;
}

/* pt_tally - what the seeds did; every case must have come up */
static void pt_tally(struct m_tally *t, const struct model *md)
{
    for (size_t i = 0; i < PT_NG; i++) {
        t->ev_size += md->g[i].ev_size;
        t->ev_age += md->g[i].ev_age;
        t->ev_repl += md->g[i].ev_repl;
        t->not_kept += md->g[i].not_kept;
    }
}

static void test_dumpster_model(void **state)
{
    struct fixture *f = *state;
    static struct model md; /* large: off the stack */
    static const uint64_t max_bytes[PT_NG] = {10000, 8000, 5000};
    static const uint64_t max_age_s[PT_NG] = {600, 900, 1800};
    struct m_tally t = {0};

    for (unsigned seed = 1; seed <= PT_SEEDS; seed++) {
        pt_fresh(f);
        memset(&md, 0, sizeof(md));
        md.seed = seed;
        md.tally = &t;
        md.rng = 0x9E3779B97F4A7C15ull * seed;
        md.now = base_ms(); /* near the real clock: the tick prunes what is 30 days old */
        for (size_t i = 0; i < PT_NG; i++) {
            snprintf(md.g[i].name, sizeof(md.g[i].name), "SG%zu", i + 1);
            md.g[i].max_bytes = max_bytes[i];
            md.g[i].max_age_s = max_age_s[i];
        }
        for (md.step = 0; md.step < PT_STEPS; md.step++) {
            pt_step(f, &md);
            pt_check(f, &md);
        }
        pt_tally(&t, &md);
    }
    print_message("%u seeds x %u steps: insert %llu, retry %llu, expire %llu, new bound %llu,"
                  " release %llu, restart %llu; kept %llu, evicted size %llu age %llu"
                  " replicated %llu, not kept %llu, held for a pending recipient %llu\n",
                  PT_SEEDS, PT_STEPS, (unsigned long long)t.ops[0], (unsigned long long)t.ops[1],
                  (unsigned long long)t.ops[2], (unsigned long long)t.ops[3],
                  (unsigned long long)t.ops[4], (unsigned long long)t.ops[5],
                  (unsigned long long)t.kept, (unsigned long long)t.ev_size,
                  (unsigned long long)t.ev_age, (unsigned long long)t.ev_repl,
                  (unsigned long long)t.not_kept, (unsigned long long)t.held_for_pending);
    for (size_t i = 0; i < 6; i++)
        assert_true(t.ops[i] > 0);
    assert_true(t.ev_size > 0 && t.ev_age > 0 && t.ev_repl > 0 && t.not_kept > 0);
    assert_true(t.held_for_pending > 0);
}

/* ---- part 2: resubmission through dumpster.h ---- */

#define DEST1 "lmtp:[127.0.0.1]:2424"
#define DEST2 "lmtp:[127.0.0.1]:2425"
#define DEST_OVERRIDE "lmtp:[127.0.0.1]:2499"
#define SG2_MAX 1000 /* bytes: small, so that SG2 evicts */
#define DELAY_MS 500 /* from received to delivered */

static int setup_hub(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    conf_add_sg(&f->c, "SG1", DEST1, 0);
    conf_add_sg(&f->c, "SG2", DEST2, SG2_MAX);
    f->c.dumpster.resubmit_rate = 1000;
    open_dumpster(f);
    return 0;
}

/* bound_of - a group's max_size as the delivery hands it to queue_done */
static uint64_t bound_of(const struct fixture *f, const char *sg)
{
    const struct conf_sg *g = conf_sg_find(&f->c, sg);

    return g == NULL ? 0 : g->has_max_size ? g->max_size : f->c.dumpster.max_size;
}

/* deliver_due - deliver every due job: new mail at received + DELAY_MS
 * (kept), resubmissions now (counted in f->resent); how many jobs */
static size_t deliver_due(struct fixture *f)
{
    size_t total = 0;

    for (;;) {
        struct picked p = pick(f, wall_ms());
        int done = 0;
        if (p.n == 0)
            return total;
        for (size_t i = 0; i < p.n; i++) {
            struct queue_job *j = p.jobs[i];
            int64_t at = j->request ? wall_ms() : j->received_ms + DELAY_MS;
            assert_true(j->msg_id < MSG_IDS_MAX);
            if (j->request)
                f->resent[j->msg_id] += (unsigned)j->nrcpts;
            queue_done(f->st, outcome_of(j, NULL, bound_of(f, j->sg), at), on_done, &done);
        }
        loop_until(f, &done, (int)p.n);
        assert_int_equal(done, (int)p.n);
        total += p.n;
        free_picked(&p);
    }
}

/* put_items - n messages of size octets, received at t0 + i * gap_ms, for
 * rcpts[0..nr) ("addr:SG"), delivered into the dumpster; ids into ids */
static void put_items(struct fixture *f, size_t n, int64_t t0, int64_t gap_ms, uint64_t size,
                      const char *const *rcpts, size_t nr, uint64_t *ids)
{
    int want = f->commits + (int)n;
    struct store_rcpt r[4];

    assert_true(nr <= 4);
    for (size_t k = 0; k < nr; k++) {
        const char *colon = strchr(rcpts[k], ':');
        snprintf(r[k].addr, sizeof(r[k].addr), "%.*s", (int)(colon - rcpts[k]), rcpts[k]);
        snprintf(r[k].sg, sizeof(r[k].sg), "%s", colon + 1);
    }
    for (size_t i = 0; i < n; i++)
        ids[i] = commit_msg(f, size, 1, t0 + (int64_t)i * gap_ms, r, nr);
    wait_commits(f, want);
    deliver_due(f);
}

struct got {
    int calls;
    bool found;
    struct resubmit_info info;
    bool has_preview;
    struct resubmit_preview pv;
    enum resubmit_cancel_rc cancel;
    size_t n;
    uint64_t list_ids[8];
    enum store_rc rc;
};

static void on_create(void *ctx, const struct resubmit_info *info,
                      const struct resubmit_preview *preview, enum store_rc rc)
{
    struct got *g = ctx;

    g->calls++;
    g->rc = rc;
    g->found = info != NULL;
    if (info)
        g->info = *info;
    g->has_preview = preview != NULL;
    if (preview)
        g->pv = *preview;
}

static void on_get(void *ctx, const struct resubmit_info *info, enum store_rc rc)
{
    on_create(ctx, info, NULL, rc);
}

static void on_list(void *ctx, const struct resubmit_info *infos, size_t n, enum store_rc rc)
{
    struct got *g = ctx;

    g->calls++;
    g->rc = rc;
    g->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        g->list_ids[i] = infos[i].id;
}

static void on_cancel(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc)
{
    struct got *g = ctx;

    g->calls++;
    g->cancel = r;
    g->rc = rc;
}

/* req_of - a request for sg over [start, end] of delivery times */
static struct resubmit_req *req_of(const char *sg, int64_t start, int64_t end)
{
    struct resubmit_req *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    snprintf(r->storage_group, sizeof(r->storage_group), "%s", sg);
    r->start_ms = start;
    r->end_ms = end;
    r->match = RESUBMIT_MATCH_DELIVERED;
    return r;
}

/* create - resubmit_create, waited for */
static struct got *create(struct fixture *f, const struct resubmit_req *r)
{
    struct got *g = calloc(1, sizeof(*g));

    assert_non_null(g);
    resubmit_create(f->d, r, on_create, g);
    loop_until(f, &g->calls, 1);
    assert_int_equal(g->rc, STORE_OK);
    assert_true(r->dry_run ? g->has_preview && !g->found : g->found && !g->has_preview);
    return g;
}

/* get - resubmit_get, waited for: the request's info */
static struct resubmit_info get(struct fixture *f, uint64_t id)
{
    struct got g = {0};

    resubmit_get(f->d, id, on_get, &g);
    loop_until(f, &g.calls, 1);
    assert_int_equal(g.rc, STORE_OK);
    assert_true(g.found);
    return g.info;
}

/* cancel - resubmit_cancel, waited for */
static enum resubmit_cancel_rc cancel(struct fixture *f, uint64_t id)
{
    struct got g = {0};

    resubmit_cancel(f->d, id, on_cancel, &g);
    loop_until(f, &g.calls, 1);
    assert_int_equal(g.rc, STORE_OK);
    return g.cancel;
}

/* list - resubmit_list, waited for: how many, the first ids into g */
static size_t list(struct fixture *f, bool outstanding, struct got *g)
{
    memset(g, 0, sizeof(*g));
    resubmit_list(f->d, outstanding, on_list, g);
    loop_until(f, &g->calls, 1);
    assert_int_equal(g->rc, STORE_OK);
    return g->n;
}

/* wait_done - poll request id until it is done; checks progress never
 * goes back; whether it was seen running on the way */
static struct resubmit_info wait_done(struct fixture *f, uint64_t id, bool *saw_running)
{
    struct resubmit_info in = get(f, id), last = in;
    int64_t end = mono_ms() + WAIT_MS;

    *saw_running = false;
    while (in.state != RESUBMIT_DONE && mono_ms() < end) {
        assert_true(in.state == RESUBMIT_PENDING || in.state == RESUBMIT_RUNNING);
        *saw_running |= in.state == RESUBMIT_RUNNING;
        run_ms(f, 20);
        in = get(f, id);
        assert_true(in.matched >= last.matched && in.queued >= last.queued);
        last = in;
    }
    assert_int_equal(in.state, RESUBMIT_DONE);
    return in;
}

static const char *const rcpts_sg1_sg2[] = {"a@x.test:SG1", "b@x.test:SG1", "c@y.test:SG2"};

static void test_resubmit_range(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[10], got_ids[16];
    int64_t t0 = base_ms();
    bool saw_running;

    put_items(f, 10, t0, 10000, 200, rcpts_sg1_sg2, 3, ids);
    f->c.dumpster.resubmit_rate = 10; /* one item per batch: several batches */
    /* delivery times of items 3..6, the bounds included */
    struct resubmit_req *r = req_of("SG1", t0 + 3 * 10000 + DELAY_MS, t0 + 6 * 10000 + DELAY_MS);
    struct got *g = create(f, r);
    uint64_t id = g->info.id;
    assert_int_equal(g->info.state, RESUBMIT_PENDING);
    assert_int_equal(g->info.matched, 0);
    assert_true(g->info.coverage.complete);
    struct resubmit_info in = wait_done(f, id, &saw_running);
    assert_true(saw_running);
    assert_int_equal(in.matched, 4);
    assert_int_equal(in.queued, 4);
    assert_int_equal(in.skipped_duplicate, 0);
    /* exactly the items of the range, for SG1's recipients only */
    size_t n = sql_ids(f, got_ids, 16,
                       "SELECT DISTINCT msg FROM recipient WHERE state = 0 AND request = %lld"
                       " ORDER BY msg",
                       (long long)id);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(got_ids[i], ids[3 + i]);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM recipient WHERE state = 0"), 8);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM recipient WHERE state = 0 AND sg = 'SG1'"
                                " AND dest IS NULL AND rcpt IN ('a@x.test', 'b@x.test')"),
                     8);
    assert_int_equal(
        sql_int(f, "SELECT count(*) FROM resubmit_ledger WHERE request = %lld AND dest = %Q",
                (long long)id, conf_sg_find(&f->c, "SG1")->dest_text),
        4);
    /* one item in the dumpster, not copied again */
    assert_int_equal(sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 10);
    struct got lg;
    assert_int_equal(list(f, true, &lg), 0);
    assert_int_equal(list(f, false, &lg), 1);
    assert_int_equal(lg.list_ids[0], id);
    /* the resent mail is delivered: progress, and the item stays */
    assert_int_equal(deliver_due(f), 4);
    in = get(f, id);
    assert_int_equal(in.delivered, 4);
    assert_int_equal(in.failed, 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1'"), 10);
    free(g);
    free(r);
}

static void test_resubmit_duplicate_force(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[6];
    int64_t t0 = base_ms();
    bool saw_running;
    char err[256];

    put_items(f, 6, t0, 1000, 300, rcpts_sg1_sg2, 2, ids);
    struct resubmit_req *r = req_of("SG1", t0, t0 + 10 * 1000);
    struct got *first = create(f, r);
    assert_int_equal(wait_done(f, first->info.id, &saw_running).queued, 6);
    assert_int_equal(deliver_due(f), 6);
    /* the same again: every item went to that destination already */
    struct got *second = create(f, r);
    struct resubmit_info in = wait_done(f, second->info.id, &saw_running);
    assert_int_equal(in.matched, 6);
    assert_int_equal(in.queued, 0);
    assert_int_equal(in.skipped_duplicate, 6);
    assert_int_equal(
        sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld", (long long)in.id), 0);
    assert_int_equal(deliver_due(f), 0);
    /* a dry run says so too */
    r->dry_run = true;
    struct got *dry = create(f, r);
    assert_int_equal(dry->pv.matched, 6);
    assert_int_equal(dry->pv.skipped_duplicate, 6);
    r->dry_run = false;
    /* force: resent all the same */
    r->force = true;
    struct got *forced = create(f, r);
    in = wait_done(f, forced->info.id, &saw_running);
    assert_int_equal(in.matched, 6);
    assert_int_equal(in.queued, 6);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(deliver_due(f), 6);
    /* another destination is not a duplicate */
    r->force = false;
    r->has_dest = true;
    assert_int_equal(conf_dest_parse(DEST_OVERRIDE, &r->dest, err, sizeof(err)), 0);
    conf_dest_format(&r->dest, r->dest_text, sizeof(r->dest_text));
    struct got *other = create(f, r);
    in = wait_done(f, other->info.id, &saw_running);
    assert_int_equal(in.queued, 6);
    assert_string_equal(in.req.dest_text, r->dest_text);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld AND dest = %Q",
                             (long long)in.id, r->dest_text),
                     12);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM resubmit_ledger"), 12);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(f->resent[ids[i]], 4); /* two recipients, twice */
    free(first);
    free(second);
    free(dry);
    free(forced);
    free(other);
    free(r);
}

static void test_resubmit_dry_run(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[25];
    int64_t t0 = base_ms();
    char qid[DD_QUEUEID_LEN + 1];

    put_items(f, 25, t0, 1000, 150, rcpts_sg1_sg2, 1, ids);
    struct resubmit_req *r = req_of("SG1", t0, t0 + 60000);
    r->dry_run = true;
    struct got *g = create(f, r);
    assert_int_equal(g->pv.matched, 25);
    assert_int_equal(g->pv.bytes, 25 * 150);
    assert_int_equal(g->pv.skipped_duplicate, 0);
    assert_int_equal(g->pv.nids, RESUBMIT_PREVIEW_IDS);
    for (size_t i = 0; i < RESUBMIT_PREVIEW_IDS; i++) { /* the first ones, in time order */
        snprintf(qid, sizeof(qid), "DT%016llu", (unsigned long long)(i + 1));
        assert_string_equal(g->pv.queue_ids[i], qid);
    }
    assert_true(g->pv.coverage.complete);
    assert_int_equal(g->pv.coverage.oldest_available_ms, t0);
    /* by received time: items 10..14 */
    r->match = RESUBMIT_MATCH_RECEIVED;
    r->start_ms = t0 + 10000;
    r->end_ms = t0 + 14000;
    struct got *g2 = create(f, r);
    assert_int_equal(g2->pv.matched, 5);
    assert_int_equal(g2->pv.nids, 5);
    assert_string_equal(g2->pv.queue_ids[0], "DT0000000000000011");
    /* nothing stored, nothing queued */
    run_ms(f, 250);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM resubmit_request"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM recipient WHERE state < 2"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM resubmit_ledger"), 0);
    free(g);
    free(g2);
    free(r);
}

static const char *const rcpt_sg2[] = {"d@y.test:SG2"};

static void test_resubmit_coverage(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[6], big;
    int64_t t0 = base_ms();
    bool saw_running;

    /* 300 octets each, 1000 at most: items 0..2 are evicted by 3..5 */
    put_items(f, 6, t0, 10000, 300, rcpt_sg2, 1, ids);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG2'"), 3);
    struct dumpster_stats ds;
    assert_int_equal(dumpster_stats(f->d, "SG2", &ds, 1), 1);
    assert_int_equal(ds.items, 3);
    assert_int_equal(ds.evicted_size, 3);
    assert_int_equal(ds.oldest_received_ms, t0 + 30000);
    /* delivery times of items 1..4: two of them were evicted */
    struct resubmit_req *r = req_of("SG2", t0 + 10000 + DELAY_MS, t0 + 40000 + DELAY_MS);
    r->dry_run = true;
    struct got *dry = create(f, r);
    assert_false(dry->pv.coverage.complete);
    assert_int_equal(dry->pv.coverage.evicted_in_range, 2);
    assert_int_equal(dry->pv.coverage.oldest_available_ms, t0 + 30000);
    assert_int_equal(dry->pv.matched, 2);
    r->dry_run = false;
    struct got *g = create(f, r);
    assert_false(g->info.coverage.complete);
    assert_int_equal(g->info.coverage.evicted_in_range, 2);
    struct resubmit_info in = wait_done(f, g->info.id, &saw_running);
    assert_false(in.coverage.complete); /* stored with the request */
    assert_int_equal(in.coverage.evicted_in_range, 2);
    assert_int_equal(in.coverage.oldest_available_ms, t0 + 30000);
    assert_int_equal(in.matched, 2);
    assert_int_equal(in.queued, 2);
    /* a message larger than max_size is not kept: the range is not whole */
    put_items(f, 1, t0 + 100000, 0, SG2_MAX + 1, rcpt_sg2, 1, &big);
    assert_int_equal(dumpster_stats(f->d, "SG2", &ds, 1), 1);
    assert_int_equal(ds.not_kept, 1);
    struct resubmit_req *r2 = req_of("SG2", t0 + 40000, t0 + 200000);
    r2->dry_run = true;
    struct got *dry2 = create(f, r2);
    assert_false(dry2->pv.coverage.complete);
    assert_int_equal(dry2->pv.coverage.evicted_in_range, 1);
    assert_int_equal(dry2->pv.matched, 2); /* items 4 and 5 */
    /* a range the dumpster still holds whole */
    r2->end_ms = t0 + 60000;
    struct got *dry3 = create(f, r2);
    assert_true(dry3->pv.coverage.complete);
    assert_int_equal(dry3->pv.coverage.evicted_in_range, 0);
    free(dry);
    free(g);
    free(dry2);
    free(dry3);
    free(r);
    free(r2);
}

/* run_with_delivery - deliver resent mail as it is queued until request id
 * has queued at least min_queued items (or is done); its info */
static struct resubmit_info run_with_delivery(struct fixture *f, uint64_t id, uint64_t min_queued)
{
    struct resubmit_info in = get(f, id);
    int64_t end = mono_ms() + WAIT_MS;

    while (in.state != RESUBMIT_DONE && in.queued < min_queued && mono_ms() < end) {
        run_ms(f, 30);
        deliver_due(f);
        in = get(f, id);
    }
    deliver_due(f);
    return get(f, id);
}

static void test_resubmit_restart(void **state)
{
    struct fixture *f = *state;
    enum { N = 2000 };
    static uint64_t ids[N];
    int64_t t0 = base_ms();

    put_items(f, N, t0, 1000, 100, rcpts_sg1_sg2, 2, ids);
    f->c.dumpster.resubmit_rate = 1000; /* 100 items a batch: 20 batches */
    struct resubmit_req *r = req_of("SG1", t0, t0 + (int64_t)N * 1000);
    struct got *g = create(f, r);
    uint64_t id = g->info.id;
    struct resubmit_info in = run_with_delivery(f, id, 500);
    assert_int_equal(in.state, RESUBMIT_RUNNING);
    assert_true(in.queued >= 500 && in.queued < N);
    /* stop in the middle, start again: it resumes where it stopped */
    close_hub(f);
    open_store(f);
    open_dumpster(f);
    in = run_with_delivery(f, id, N + 1);
    assert_int_equal(in.state, RESUBMIT_DONE);
    assert_int_equal(in.matched, N);
    assert_int_equal(in.queued, N);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(in.delivered, N);
    assert_int_equal(
        sql_int(f, "SELECT count(*) FROM resubmit_ledger WHERE request = %lld", (long long)id), N);
    assert_int_equal(sql_int(f, "SELECT count(DISTINCT msg) FROM resubmit_ledger"), N);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld AND state = 2",
                             (long long)id),
                     2 * N);
    /* every item's recipients were queued once, and delivered once */
    for (size_t i = 0; i < N; i++)
        if (f->resent[ids[i]] != 2)
            fail_msg("item %zu (msg %llu) resent to %u recipients", i, (unsigned long long)ids[i],
                     f->resent[ids[i]]);
    free(g);
    free(r);
}

static void test_resubmit_cancel(void **state)
{
    struct fixture *f = *state;
    uint64_t ids[40];
    int64_t t0 = base_ms();
    bool saw_running;

    put_items(f, 40, t0, 1000, 100, rcpts_sg1_sg2, 1, ids);
    /* a small request, done */
    struct resubmit_req *small = req_of("SG1", t0 + DELAY_MS, t0 + DELAY_MS);
    struct got *done = create(f, small);
    assert_int_equal(wait_done(f, done->info.id, &saw_running).queued, 1);
    /* a pending one (cancelled before its first batch) and a running one */
    f->c.dumpster.resubmit_rate = 10;
    struct resubmit_req *r = req_of("SG1", t0, t0 + 60000);
    struct got *pending = create(f, r);
    assert_int_equal(cancel(f, pending->info.id), RESUBMIT_CANCELLED_OK);
    struct got *running = create(f, r);
    struct resubmit_info in = get(f, running->info.id);
    for (int64_t end = mono_ms() + WAIT_MS; in.state != RESUBMIT_RUNNING && mono_ms() < end;) {
        run_ms(f, 20);
        in = get(f, running->info.id);
    }
    assert_int_equal(in.state, RESUBMIT_RUNNING);
    struct got lg;
    assert_int_equal(list(f, true, &lg), 1);
    assert_int_equal(lg.list_ids[0], running->info.id);
    assert_int_equal(cancel(f, running->info.id), RESUBMIT_CANCELLED_OK);
    in = get(f, running->info.id);
    assert_int_equal(in.state, RESUBMIT_CANCELLED);
    uint64_t queued = in.queued;
    assert_true(queued < 40);
    run_ms(f, 300); /* no more batches */
    in = get(f, running->info.id);
    assert_int_equal(in.queued, queued);
    assert_int_equal(get(f, pending->info.id).state, RESUBMIT_CANCELLED);
    assert_int_equal(get(f, pending->info.id).queued, 0);
    assert_int_equal(list(f, true, &lg), 0);
    uint64_t counts[4];
    resubmit_counts(f->d, counts);
    assert_int_equal(counts[RESUBMIT_DONE], 1);
    assert_int_equal(counts[RESUBMIT_CANCELLED], 2);
    /* cancelled or done already; unknown */
    assert_int_equal(cancel(f, running->info.id), RESUBMIT_ALREADY_DONE);
    assert_int_equal(cancel(f, done->info.id), RESUBMIT_ALREADY_DONE);
    assert_int_equal(cancel(f, 999999), RESUBMIT_NOT_FOUND);
    free(done);
    free(pending);
    free(running);
    free(small);
    free(r);
}

static void on_released(void *ctx, uint64_t released, enum store_rc rc)
{
    struct got *g = ctx;

    g->calls++;
    g->n = (size_t)released;
    g->rc = rc;
}

/* The ledger is keyed by message id, and a restart may hand out the id of
 * a message that left the store: a new message must never be taken for an
 * old one already resent (and skipped as a duplicate). */
static void test_resubmit_after_items_left(void **state)
{
    struct fixture *f = *state;
    uint64_t old_ids[3], new_ids[3];
    int64_t t0 = base_ms();
    bool saw_running;
    struct got rel = {0};

    put_items(f, 3, t0, 1000, 100, rcpts_sg1_sg2, 1, old_ids);
    struct resubmit_req *r = req_of("SG1", t0, t0 + 10000);
    struct got *first = create(f, r);
    assert_int_equal(wait_done(f, first->info.id, &saw_running).queued, 3);
    assert_int_equal(deliver_due(f), 3);
    /* the mailbox is safe: every item leaves, and with it every message */
    dumpster_replicated(f->d, "SG1", t0 + 20000, on_released, &rel);
    loop_until(f, &rel.calls, 1);
    assert_int_equal(rel.rc, STORE_OK);
    assert_int_equal(rel.n, 3);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sql_int(f, "SELECT count(*) FROM resubmit_ledger"), 0); /* left with them */
    close_hub(f);
    open_store(f);
    open_dumpster(f);
    put_items(f, 3, t0 + 30000, 1000, 100, rcpts_sg1_sg2, 1, new_ids);
    r->start_ms = t0 + 30000;
    r->end_ms = t0 + 40000;
    struct got *second = create(f, r);
    struct resubmit_info in = wait_done(f, second->info.id, &saw_running);
    assert_int_equal(in.matched, 3);
    assert_int_equal(in.skipped_duplicate, 0);
    assert_int_equal(in.queued, 3);
    uint64_t queued[4];
    assert_int_equal(sql_ids(f, queued, 4,
                             "SELECT msg FROM recipient WHERE state = 0 AND request = %lld"
                             " ORDER BY msg",
                             (long long)in.id),
                     3);
    assert_memory_equal(queued, new_ids, sizeof(new_ids));
    free(first);
    free(second);
    free(r);
}

/* The loop's counters come back from the store at start: dumpster_new()
 * reads every group's row in place (dumpster_read_sg with sg == out->sg). */
static void test_dumpster_counters_after_restart(void **state)
{
    struct fixture *f = *state;
    struct dumpster_stats before, after;
    uint64_t ids[6];

    put_items(f, 6, base_ms(), 1000, 300, rcpt_sg2, 1, ids);
    assert_int_equal(dumpster_stats(f->d, "SG2", &before, 1), 1);
    assert_int_equal(before.items, 3);
    assert_int_equal(before.evicted_size, 3);
    close_hub(f);
    open_store(f);
    open_dumpster(f);
    assert_int_equal(dumpster_stats(f->d, "SG2", &after, 1), 1);
    assert_string_equal(after.sg, "SG2");
    assert_int_equal(after.items, before.items);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.oldest_received_ms, before.oldest_received_ms);
    assert_int_equal(after.evicted_size, before.evicted_size);
    assert_int_equal(after.max_bytes, SG2_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dumpster_model, setup_model, teardown),
        cmocka_unit_test_setup_teardown(test_dumpster_counters_after_restart, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_range, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_duplicate_force, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_dry_run, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_coverage, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_restart, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_cancel, setup_hub, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_after_items_left, setup_hub, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
