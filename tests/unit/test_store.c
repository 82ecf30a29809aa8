/*
 * test_store.c - the store and its queue on a real SQLite file and a real
 * event loop: commit and reopen, cleanup of what was never committed,
 * incomplete content, duplicate queue ids, a newer schema, group commit,
 * picking due work, outcomes, flush and restart of deliveries cut short.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <sqlite3.h>

#include "queue.h"
#include "store.h"

struct fixture {
    char dir[64];
    struct event_base *base;
    struct event *keepalive; /* keeps EVLOOP_ONCE waiting for the store */
    struct store *st;
    int ncommits;
    enum store_rc last_rc;
    enum store_rc rcs[128];
};

/* on_commit - the store's completion callback */
static void on_commit(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct fixture *f = ctx;

    if (cookie < 128)
        f->rcs[cookie] = rc;
    f->last_rc = rc;
    f->ncommits++;
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

    snprintf(f->dir, sizeof(f->dir), "/tmp/test_store.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    evthread_use_pthreads();
    f->base = event_base_new();
    f->keepalive = event_new(f->base, -1, EV_PERSIST, noop_cb, NULL);
    event_add(f->keepalive, &(struct timeval){1, 0});
    open_store(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char cmd[128];

    f->st = store_close(f->st);
    event_free(f->keepalive);
    event_base_free(f->base);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* loop_until - run the loop until *flag reaches want */
static void loop_until(struct fixture *f, const int *flag, int want)
{
    for (int i = 0; i < 1000 && *flag < want; i++)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_true(*flag >= want);
}

/* new_msg - a message with content parts and recipients "addr:sg" */
static struct store_msg *new_msg(struct fixture *f, const char *qid, const char *const *parts,
                                 const char *const *rcpts)
{
    struct store_msg *m = calloc(1, sizeof(*m));

    m->msg_id = store_new_msg_id(f->st);
    snprintf(m->queue_id, sizeof(m->queue_id), "%s", qid);
    snprintf(m->sender, sizeof(m->sender), "s@example.net");
    m->message_id = strdup("<x@example.net>");
    m->received_ms = 1764064800000;
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "client.test");
    snprintf(m->proto, sizeof(m->proto), "ESMTP");
    for (; parts && parts[m->nchunks]; m->nchunks++) {
        size_t len = strlen(parts[m->nchunks]);
        store_chunk(f->st, m->msg_id, m->nchunks, strdup(parts[m->nchunks]), len);
        m->size += len;
    }
    for (; rcpts && rcpts[m->nrcpts]; m->nrcpts++) {
        m->rcpts = realloc(m->rcpts, (m->nrcpts + 1) * sizeof(*m->rcpts));
        const char *colon = strchr(rcpts[m->nrcpts], ':');
        snprintf(m->rcpts[m->nrcpts].addr, sizeof(m->rcpts[0].addr), "%.*s",
                 (int)(colon - rcpts[m->nrcpts]), rcpts[m->nrcpts]);
        snprintf(m->rcpts[m->nrcpts].sg, sizeof(m->rcpts[0].sg), "%s", colon + 1);
    }
    return m;
}

/* count - one integer from SQL over the database file, outside the store */
static long long count(struct fixture *f, const char *sql)
{
    char path[128];
    sqlite3 *db;
    sqlite3_stmt *st;
    long long n = -1;

    snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static const char *const parts2[] = {"Subject: a\r\n\r\n", "body\r\n", NULL};
static const char *const rcpts3[] = {"a@x.test:SG1", "b@x.test:SG1", "c@y.test:SG2", NULL};

static void test_commit_and_reopen(void **state)
{
    struct fixture *f = *state;

    store_commit(f->st, new_msg(f, "QID0000000000000A1", parts2, rcpts3), 1);
    loop_until(f, &f->ncommits, 1);
    assert_int_equal(f->rcs[1], STORE_OK);
    f->st = store_close(f->st);
    open_store(f);
    assert_int_equal(count(f, "SELECT count(*) FROM message"), 1);
    assert_int_equal(count(f, "SELECT count(*) FROM recipient"), 3);
    assert_int_equal(count(f, "SELECT sum(length(data)) FROM body"), strlen(parts2[0]) + 6);
    assert_int_equal(count(f, "PRAGMA user_version"), 3);
}

static void test_orphans_removed(void **state)
{
    struct fixture *f = *state;
    uint64_t id = store_new_msg_id(f->st);

    store_chunk(f->st, id, 0, strdup("never committed"), 15);
    f->st = store_close(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM body"), 1);
    open_store(f);
    assert_int_equal(count(f, "SELECT count(*) FROM body"), 0);
}

static void test_incomplete_content_refused(void **state)
{
    struct fixture *f = *state;
    struct store_msg *m = new_msg(f, "QID0000000000000B1", parts2, rcpts3);

    m->nchunks++; /* one chunk claimed but never handed over */
    store_commit(f->st, m, 2);
    loop_until(f, &f->ncommits, 1);
    assert_int_not_equal(f->rcs[2], STORE_OK);
    f->st = store_close(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM recipient"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM body"), 0);
    open_store(f);
}

static void test_duplicate_queue_id(void **state)
{
    struct fixture *f = *state;

    store_commit(f->st, new_msg(f, "QID0000000000000C1", parts2, rcpts3), 3);
    store_commit(f->st, new_msg(f, "QID0000000000000C1", parts2, rcpts3), 4);
    loop_until(f, &f->ncommits, 2);
    assert_int_equal(f->rcs[3], STORE_OK);
    assert_int_equal(f->rcs[4], STORE_E_IO);
    f->st = store_close(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM message"), 1);
    assert_int_equal(count(f, "SELECT count(DISTINCT msg) FROM body"), 1);
    open_store(f);
}

static void test_newer_schema_refused(void **state)
{
    struct fixture *f = *state;
    char path[128], err[256] = "";
    sqlite3 *db;

    f->st = store_close(f->st);
    snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(store_open(f->dir, f->base, on_commit, NULL, f, err, sizeof(err)));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 3", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    open_store(f);
}

static void test_group_commit(void **state)
{
    struct fixture *f = *state;
    struct store_stats before, after;
    enum { N = 100 };

    store_get_stats(f->st, &before);
    for (int i = 0; i < N; i++) {
        char qid[32];
        snprintf(qid, sizeof(qid), "QIDGROUP%010d", i);
        store_commit(f->st, new_msg(f, qid, parts2, rcpts3), 10 + (uint64_t)i % 100);
    }
    loop_until(f, &f->ncommits, N);
    store_get_stats(f->st, &after);
    assert_int_equal(after.commits - before.commits, N);
    /* many messages share one fsync: far fewer synced batches than messages */
    assert_true(after.fsync_batches - before.fsync_batches <= N / 4);
    assert_int_equal(count(f, "SELECT count(*) FROM message"), N);
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

/* pick - due jobs now (or at `at`) */
static struct picked pick(struct fixture *f, int64_t at)
{
    struct picked p = {0};

    queue_pick(f->st, at, 16, on_pick, &p);
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

struct loaded {
    int calls;
    struct evbuffer *content;
    enum store_rc rc;
};

static void on_content(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct loaded *l = ctx;

    l->calls++;
    l->content = content;
    l->rc = rc;
}

static void on_done(void *ctx, enum store_rc rc)
{
    *(int *)ctx += rc == STORE_OK ? 1 : 100;
}

/* outcome - every recipient of job j gets fate */
static void outcome(struct fixture *f, const struct queue_job *j, enum queue_fate fate,
                    int64_t next)
{
    struct queue_outcome *o = calloc(1, sizeof(*o));
    int done = 0;

    o->msg_id = j->msg_id;
    o->now_ms = 1764064900000;
    snprintf(o->sg, sizeof(o->sg), "%s", j->sg);
    o->rcpts = calloc(j->nrcpts, sizeof(*o->rcpts));
    o->nrcpts = j->nrcpts;
    for (size_t i = 0; i < j->nrcpts; i++) {
        snprintf(o->rcpts[i].addr, sizeof(o->rcpts[i].addr), "%s", j->rcpts[i].addr);
        o->rcpts[i].fate = fate;
        o->rcpts[i].next_attempt_ms = next;
        snprintf(o->rcpts[i].reply, sizeof(o->rcpts[i].reply), "250 ok");
    }
    queue_done(f->st, o, on_done, &done);
    loop_until(f, &done, 1);
    assert_int_equal(done, 1);
}

static void test_queue_pick_and_done(void **state)
{
    struct fixture *f = *state;
    const int64_t now = 1764064900000;

    store_commit(f->st, new_msg(f, "QID0000000000000D1", parts2, rcpts3), 5);
    loop_until(f, &f->ncommits, 1);
    struct picked p = pick(f, now);
    assert_int_equal(p.n, 2); /* one job per storage group */
    size_t total = 0;
    for (size_t i = 0; i < p.n; i++) {
        struct queue_job *j = p.jobs[i];
        assert_string_equal(j->queue_id, "QID0000000000000D1");
        assert_null(j->content); /* read only when a connection is ready */
        struct loaded l = {0};
        queue_content(f->st, j->msg_id, j->size, on_content, &l);
        loop_until(f, &l.calls, 1);
        assert_int_equal(l.rc, STORE_OK);
        assert_int_equal(evbuffer_get_length(l.content), j->size);
        j->content = l.content;
        assert_int_equal(j->size, strlen(parts2[0]) + strlen(parts2[1]));
        assert_int_equal(j->nrcpts, strcmp(j->sg, "SG1") == 0 ? 2 : 1);
        total += j->nrcpts;
    }
    assert_int_equal(total, 3);
    struct picked again = pick(f, now); /* being delivered: not picked twice */
    assert_int_equal(again.n, 0);
    outcome(f, p.jobs[0], QUEUE_DELIVERED, 0);
    assert_int_equal(count(f, "SELECT count(*) FROM message"), 1); /* one SG still open */
    outcome(f, p.jobs[1], QUEUE_DEFERRED, now + 60000);
    assert_int_equal(pick(f, now).n, 0); /* deferred: not due yet */
    struct picked later = pick(f, now + 61000);
    assert_int_equal(later.n, 1);
    assert_int_equal(later.jobs[0]->rcpts[0].attempts, 1);
    outcome(f, later.jobs[0], QUEUE_FAILED, 0);
    /* every recipient final: envelope, recipients and content leave the store */
    assert_int_equal(count(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM body"), 0);
    assert_int_equal(count(f, "SELECT count(*) FROM recipient"), 0);
    free_picked(&p);
    free_picked(&later);
}

static void on_flush(void *ctx, uint64_t n)
{
    *(long long *)ctx = (long long)n;
}

static void test_queue_flush_and_restart(void **state)
{
    struct fixture *f = *state;
    const int64_t now = 1764064900000;
    long long flushed = -1;

    store_commit(f->st, new_msg(f, "QID0000000000000E1", parts2, rcpts3), 6);
    loop_until(f, &f->ncommits, 1);
    struct picked p = pick(f, now);
    assert_int_equal(p.n, 2);
    outcome(f, p.jobs[0], QUEUE_DEFERRED, now + 3600000);
    queue_flush(f->st, p.jobs[0]->sg, on_flush, &flushed);
    while (flushed < 0)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(flushed, (long long)p.jobs[0]->nrcpts);
    struct picked due = pick(f, now);
    assert_int_equal(due.n, 1); /* flushed: due at once */
    /* a stop while delivering: the next start makes both jobs pending again */
    f->st = store_close(f->st);
    assert_int_equal(count(f, "SELECT count(*) FROM recipient WHERE state = 1"), 3);
    open_store(f);
    struct picked restarted = pick(f, now);
    assert_int_equal(restarted.n, 2);
    free_picked(&p);
    free_picked(&due);
    free_picked(&restarted);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orphans_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incomplete_content_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_queue_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_pick_and_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_flush_and_restart, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
