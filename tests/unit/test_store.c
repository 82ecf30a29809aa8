/*
 * test_store.c - the store and its queue on a real SQLite file and a real
 * event loop: commit and reopen, cleanup of what was never committed,
 * incomplete content, duplicate queue ids, a newer schema, group commit,
 * picking due work, outcomes, flush, a restart of deliveries cut short,
 * what MAIL FROM declared kept with the message, and the migration of a
 * database written by schema version 3
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <sqlite3.h>

#include "store_schema.h"
#include "storefix.h"

static const char *const rcpts3[] = {"a@x.test:SG1", "b@x.test:SG1", "c@y.test:SG2"};
#define NOW 1764064900000LL

static int setup(void **state)
{
    struct storefix *f = sf_setup(0, true);

    sf_open(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    sf_teardown(*state);
    return 0;
}

/* commit3 - one message to rcpts3, committed */
static uint64_t commit3(struct storefix *f, int want)
{
    uint64_t id = sf_commit(f, 100, 2, NOW - 60000, rcpts3, 3);

    sf_wait_commits(f, want);
    return id;
}

static void test_commit_and_reopen(void **state)
{
    struct storefix *f = *state;

    commit3(f, 1);
    sf_reopen(f);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 3);
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE state = %d AND"
                                " request = 0",
                                RCPT_PENDING),
                     3);
    assert_int_equal(sf_sql_int(f, "SELECT sum(length(data)) FROM message_body"), 100);
    assert_int_equal(sf_sql_int(f, "PRAGMA user_version"), store_schema_version());
}

static void test_orphans_removed(void **state)
{
    struct storefix *f = *state;
    uint64_t id = queue_new_msg_id(f->q);

    queue_chunk(f->q, id, 0, strdup("never committed"), 15);
    sf_close(f);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 1);
    sf_open(f);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 0);
}

/* on_commit_rc - the result of one commit */
static void on_commit_rc(void *ctx, uint64_t cookie, enum store_rc rc)
{
    enum store_rc *out = ctx;

    out[cookie] = rc;
    out[0]++;
}

/* bare_msg - a message with one chunk "hello" claimed nchunks times */
static struct queue_msg *bare_msg(struct storefix *f, const char *qid, uint32_t nchunks)
{
    struct queue_msg *m = calloc(1, sizeof(*m));

    m->msg_id = queue_new_msg_id(f->q);
    snprintf(m->queue_id, sizeof(m->queue_id), "%s", qid);
    queue_chunk(f->q, m->msg_id, 0, strdup("hello"), 5);
    m->nchunks = nchunks;
    m->size = 5;
    m->rcpts = calloc(1, sizeof(*m->rcpts));
    snprintf(m->rcpts[0].addr, sizeof(m->rcpts[0].addr), "a@x.test");
    snprintf(m->rcpts[0].sg, sizeof(m->rcpts[0].sg), "SG1");
    m->nrcpts = 1;
    return m;
}

static void test_incomplete_content_refused(void **state)
{
    struct storefix *f = *state;
    enum store_rc rcs[4] = {0};

    queue_commit(f->q, bare_msg(f, "QID0000000000000B1", 2), on_commit_rc, rcs, 1);
    sf_loop_until(f, (int *)&rcs[0], 1);
    assert_int_not_equal(rcs[1], STORE_OK);
    sf_run_ms(f, 100); /* the content of the refused message is removed */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 0);
}

static void test_duplicate_queue_id(void **state)
{
    struct storefix *f = *state;
    enum store_rc rcs[4] = {0};

    queue_commit(f->q, bare_msg(f, "QID0000000000000C1", 1), on_commit_rc, rcs, 1);
    queue_commit(f->q, bare_msg(f, "QID0000000000000C1", 1), on_commit_rc, rcs, 2);
    sf_loop_until(f, (int *)&rcs[0], 2);
    assert_int_equal(rcs[1], STORE_OK);
    assert_int_equal(rcs[2], STORE_E_IO);
    sf_run_ms(f, 100);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(DISTINCT msg) FROM message_body"), 1);
}

static void test_newer_schema_refused(void **state)
{
    struct storefix *f = *state;
    char path[160], err[256] = "";
    sqlite3 *db;

    sf_close(f);
    snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    assert_null(store_open(f->dir, f->base, NULL, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "newer"));
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char back[64];
    snprintf(back, sizeof(back), "PRAGMA user_version = %d", store_schema_version());
    assert_int_equal(sqlite3_exec(db, back, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    sf_open(f);
}

static void test_group_commit(void **state)
{
    struct storefix *f = *state;
    struct store_stats before, after;
    enum { N = 100 };

    store_get_stats(f->st, &before);
    for (int i = 0; i < N; i++)
        sf_commit(f, 100, 1, NOW, rcpts3, 3);
    sf_wait_commits(f, N);
    store_get_stats(f->st, &after);
    assert_true(after.commits - before.commits >= N);
    /* many messages share one fsync: far fewer synced batches than messages */
    assert_true(after.fsync_batches - before.fsync_batches <= N / 4);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), N);
}

struct loaded {
    int calls;
    struct evbuffer *content;
    enum store_rc rc;
};

/* on_content - a job's content */
static void on_content(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct loaded *l = ctx;

    l->calls++;
    l->content = content;
    l->rc = rc;
}

/* check_content - a job's content reads back whole */
static void check_content(struct storefix *f, struct queue_job *j)
{
    struct loaded l = {0};

    assert_null(j->content); /* read only when a connection is ready */
    queue_content(f->q, j->msg_id, j->size, on_content, &l);
    sf_loop_until(f, &l.calls, 1);
    assert_int_equal(l.rc, STORE_OK);
    assert_int_equal(evbuffer_get_length(l.content), j->size);
    j->content = l.content;
}

static void test_queue_pick_and_done(void **state)
{
    struct storefix *f = *state;
    size_t total = 0;

    commit3(f, 1);
    struct sf_picked p = sf_pick(f, NOW);
    assert_int_equal(p.n, 2); /* one job per storage group */
    for (size_t i = 0; i < p.n; i++) {
        struct queue_job *j = p.jobs[i];
        assert_string_equal(j->queue_id, "DT0000000000000001");
        assert_int_equal(j->route, RCPT_ROUTE_SG);
        check_content(f, j);
        assert_int_equal(j->nrcpts, strcmp(j->sg, "SG1") == 0 ? 2 : 1);
        total += j->nrcpts;
    }
    assert_int_equal(total, 3);
    struct sf_picked again = sf_pick(f, NOW); /* active: not picked twice */
    assert_int_equal(again.n, 0);
    sf_done(f, sf_outcome(p.jobs[0], NULL, NOW));
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 1); /* one SG open */
    enum queue_fate later[] = {QUEUE_DEFERRED, QUEUE_DEFERRED};
    struct queue_outcome *o = sf_outcome(p.jobs[1], later, NOW);
    o->rcpts[0].next_attempt_ms = NOW + 60000;
    sf_done(f, o);
    assert_int_equal(sf_pick(f, NOW).n, 0); /* deferred: not due yet */
    struct sf_picked due = sf_pick(f, NOW + 61000);
    assert_int_equal(due.n, 1);
    assert_int_equal(due.jobs[0]->rcpts[0].attempts, 1);
    enum queue_fate failed[] = {QUEUE_FAILED};
    sf_done(f, sf_outcome(due.jobs[0], failed, NOW));
    /* every recipient final, no dumpster here: everything leaves the store */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 0);
    sf_free_picked(&p);
    sf_free_picked(&due);
}

/* on_flush - how many were made due */
static void on_flush(void *ctx, uint64_t n)
{
    *(long long *)ctx = (long long)n;
}

static void test_queue_flush_and_restart(void **state)
{
    struct storefix *f = *state;
    long long flushed = -1;

    commit3(f, 1);
    struct sf_picked p = sf_pick(f, NOW);
    assert_int_equal(p.n, 2);
    enum queue_fate deferred[] = {QUEUE_DEFERRED, QUEUE_DEFERRED};
    sf_done(f, sf_outcome(p.jobs[0], deferred, NOW));
    queue_flush(f->q, p.jobs[0]->sg, false, on_flush, &flushed);
    while (flushed < 0)
        event_base_loop(f->base, EVLOOP_ONCE);
    assert_int_equal(flushed, (long long)p.jobs[0]->nrcpts);
    struct sf_picked due = sf_pick(f, NOW);
    assert_int_equal(due.n, 1); /* flushed: due at once */
    /* a stop while delivering: active is memory only, so after the restart
     * both jobs are due again and nothing was written for the picks */
    sf_reopen(f);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_PENDING),
                     3);
    struct sf_picked restarted = sf_pick(f, NOW);
    assert_int_equal(restarted.n, 2);
    sf_free_picked(&p);
    sf_free_picked(&due);
    sf_free_picked(&restarted);
}

/* load_v3 - replace the store with tests/unit/fixtures/store_v3.sql */
static void load_v3(struct storefix *f)
{
    char path[256], *sql;
    const char *src = getenv("DD_SOURCE_DIR");
    sqlite3 *db;
    FILE *in;
    long len;

    sf_close(f);
    snprintf(path, sizeof(path), "%s/tests/unit/fixtures/store_v3.sql", src ? src : ".");
    assert_non_null(in = fopen(path, "rb"));
    fseek(in, 0, SEEK_END);
    len = ftell(in);
    rewind(in);
    sql = calloc(1, (size_t)len + 1);
    assert_int_equal(fread(sql, 1, (size_t)len, in), (size_t)len);
    fclose(in);
    snprintf(path, sizeof(path), "rm -f %s/dumpsterd.db*", f->dir);
    assert_int_equal(system(path), 0);
    snprintf(path, sizeof(path), "%s/dumpsterd.db", f->dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    free(sql);
    assert_int_equal(sf_sql_int(f, "PRAGMA user_version"), 3);
    sqlite3_close(f->ro);
    f->ro = NULL;
}

static void test_migration_from_v3(void **state)
{
    struct storefix *f = *state;
    long long t[2];

    load_v3(f);
    sf_open(f);
    assert_int_equal(sf_sql_int(f, "PRAGMA user_version"), store_schema_version());
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM sqlite_master WHERE name = 'shadow_owed'"),
                     1);
    /* m1: alice and bob each with their own delivery time, bob's later */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt WHERE msg = 1"), 2);
    sf_sql_row(f, t, 2,
               "SELECT (SELECT delivered FROM dumpster_rcpt WHERE msg = 1 AND"
               " rcpt = 'alice@example.test'), (SELECT delivered FROM dumpster_rcpt WHERE"
               " msg = 1 AND rcpt = 'bob@example.test')");
    assert_true(t[1] > t[0]);
    /* m2: carol kept; the failed "a,b" is no copy */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt WHERE msg = 2"), 1);
    /* items hold their content; counters unchanged */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message WHERE holds = 1"), 3);
    assert_int_equal(sf_sql_int(f, "SELECT items FROM dumpster_sg WHERE sg = 'SG1'"), 3);
    /* m3 still waits for SG2; m4's resent copy is a row of request 1 */
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM recipient WHERE msg = 3 AND"
                                " state = %d AND route = %d",
                                RCPT_PENDING, RCPT_ROUTE_SG),
                     1);
    assert_int_equal(sf_sql_int(f, "SELECT request FROM recipient WHERE msg = 4"), 1);
    /* the ledger per recipient */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger WHERE msg = 4 AND"
                                   " rcpt = 'dave@example.test' AND request = 1"),
                     1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body"), 4);
    /* message ids come from past the highest ever used */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM sqlite_sequence WHERE name = 'message'"),
                     1);
    assert_int_equal(sf_sql_int(f, "SELECT seq FROM sqlite_sequence WHERE name = 'message'"), 4);
    /* what MAIL FROM said was not stored then: sent as before, without either */
    assert_int_equal(sf_sql_int(f,
                                "SELECT count(*) FROM message WHERE body = %d AND"
                                " smtputf8 = %d",
                                MSG_BODY_NONE, MSG_UTF8_NO),
                     4);
    /* and the queue works on it: m3 is due */
    struct sf_picked p = sf_pick(f, SF_FAR_MS);
    assert_int_equal(p.n, 1);
    assert_string_equal(p.jobs[0]->sg, "SG2");
    assert_int_equal(p.jobs[0]->body, MSG_BODY_NONE);
    assert_int_equal(p.jobs[0]->smtputf8, MSG_UTF8_NO);
    sf_free_picked(&p);
}

/* test_mail_params_kept - BODY= and SMTPUTF8 stay with the message, across a
 * restart, for every job of it */
static void test_mail_params_kept(void **state)
{
    struct storefix *f = *state;

    f->body = MSG_BODY_8BITMIME;
    f->smtputf8 = MSG_UTF8_HEADERS;
    uint64_t a = commit3(f, 1);
    f->body = MSG_BODY_7BIT;
    f->smtputf8 = MSG_UTF8_ASKED;
    uint64_t b = commit3(f, 2);
    sf_reopen(f);
    assert_int_equal(
        sf_sql_int(f, "SELECT body * 10 + smtputf8 FROM message WHERE id = %lld", (long long)a),
        22);
    assert_int_equal(
        sf_sql_int(f, "SELECT body * 10 + smtputf8 FROM message WHERE id = %lld", (long long)b),
        11);
    struct sf_picked p = sf_pick(f, SF_FAR_MS);
    assert_int_equal(p.n, 4); /* two messages, two storage groups each */
    for (size_t i = 0; i < p.n; i++) {
        bool first = p.jobs[i]->msg_id == a;
        assert_int_equal(p.jobs[i]->body, first ? MSG_BODY_8BITMIME : MSG_BODY_7BIT);
        assert_int_equal(p.jobs[i]->smtputf8, first ? MSG_UTF8_HEADERS : MSG_UTF8_ASKED);
    }
    sf_free_picked(&p);
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
        cmocka_unit_test_setup_teardown(test_migration_from_v3, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_params_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
