/*
 * test_faults.c - the store failing under the queue, the dumpster and
 * resubmission: SQLITE_FULL, SQLITE_IOERR and SQLITE_BUSY from the store's
 * fault hook at the statements that matter. Each case checks that the
 * caller got an error or the work was retried, and that nothing is left
 * half-written: rows, counters and content agree afterwards.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "rsfix.h"

static int setup(void **state)
{
    *state = rs_setup();
    return 0;
}

static int teardown(void **state)
{
    rs_teardown(*state);
    return 0;
}

static const char *const rcpt_a[] = {"a@x.test:SG1"};
static const char *const rcpts_ab[] = {"a@x.test:SG1", "b@x.test:SG1"};

/* commit_rc - one message to a and b; the result of its commit */
static enum store_rc commit_rc(struct rsfix *r, int64_t received_ms)
{
    int want = r->f->commits + 1, errors = r->f->commit_errors;

    sf_commit(r->f, 300, 2, received_ms, rcpts_ab, 2);
    sf_loop_until(r->f, &r->f->commits, want);
    r->f->commit_errors = errors;
    return r->f->last_rc;
}

/* wait_sql - run the loop until the SQL (sqlite3_mprintf format) gives
 * want; fails the test after SF_WAIT_MS */
static void wait_sql(struct storefix *f, long long want, const char *fmt, ...)
{
    int64_t end = clock_mono_ms() + SF_WAIT_MS;
    char *sql;
    va_list ap;

    va_start(ap, fmt);
    sql = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    assert_non_null(sql);
    long long got = sf_sql_int(f, "%s", sql);
    while (got != want && clock_mono_ms() < end) {
        sf_run_ms(f, 20);
        got = sf_sql_int(f, "%s", sql);
    }
    if (got != want)
        fail_msg("%s: got %lld, want %lld", sql, got, want);
    sqlite3_free(sql);
}

/* wait_hits - run the loop until the fault failed at least n statements */
static void wait_hits(struct storefix *f, int n)
{
    int64_t end = clock_mono_ms() + SF_WAIT_MS;

    while (sf_fault_hits(f) < n && clock_mono_ms() < end)
        sf_run_ms(f, 10);
    if (sf_fault_hits(f) < n)
        fail_msg("timed out: %d of %d fault hits", sf_fault_hits(f), n);
}

/* check_store - counters equal a recount; content exactly where needed */
static void check_store(struct storefix *f)
{
    long long c[3], rc[3];

    sf_sql_row(f, c, 3,
               "SELECT coalesce(items, 0), coalesce(bytes, 0), coalesce(oldest, 0) FROM"
               " dumpster_sg WHERE sg = 'SG1' UNION ALL SELECT 0, 0, 0 LIMIT 1");
    sf_sql_row(f, rc, 3,
               "SELECT count(*), coalesce(sum(size), 0), coalesce(min(received), 0)"
               " FROM dumpster_item WHERE sg = 'SG1'");
    assert_memory_equal(c, rc, sizeof(c));
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message m WHERE holds !="
                                   " (SELECT count(*) FROM dumpster_item i WHERE i.msg = m.id)"),
                     0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message_body WHERE msg NOT IN"
                                   " (SELECT id FROM message)"),
                     0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt r WHERE NOT EXISTS"
                                   " (SELECT 1 FROM dumpster_item i WHERE i.sg = r.sg AND"
                                   " i.msg = r.msg)"),
                     0);
}

static void test_commit_full_nothing_half_written(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    sf_fault(f, "INSERT OR IGNORE INTO recipient", SQLITE_FULL, 1);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_E_FULL); /* the session says 451 */
    assert_int_equal(sf_fault_hits(f), 1);
    wait_sql(f, 0, "SELECT count(*) FROM message_body"); /* removed */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 0);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK); /* and the next one goes in */
    check_store(f);
}

/* test_commit_busy_and_ioerr - a batch that cannot begin, and one whose
 * COMMIT fails, fail the message they hold. The faults are aimed at that
 * message's batch: other batches (the removal of the first refused
 * content, the dumpster's ticks) run on the storage thread meanwhile and
 * must not take them. */
static void test_commit_busy_and_ioerr(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    sf_fault(f, "BEGIN IMMEDIATE", SQLITE_BUSY, -1); /* every batch until the answer */
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_E_IO);
    sf_fault_after(f, "INSERT INTO message(", "COMMIT", SQLITE_IOERR, 1);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_E_IO);
    assert_int_equal(sf_fault_hits(f), 1);
    sf_fault(f, NULL, 0, 0);
    wait_sql(f, 0, "SELECT count(*) FROM message_body"); /* refused content removed, retried */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 0);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient"), 2);
}

/* wal_size - octets of the database's WAL file (0 when there is none) */
static long long wal_size(const struct storefix *f)
{
    char path[160];
    struct stat st;

    snprintf(path, sizeof(path), "%s/dumpsterd.db-wal", f->dir);
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

/* test_full_disk_truncates_wal - a batch that fails with SQLITE_FULL gives
 * the WAL's room back (a checkpoint into the database, the file cut to
 * nothing); the next commit writes again */
static void test_full_disk_truncates_wal(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    for (int i = 0; i < 3; i++)
        assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    long long before = wal_size(f);
    assert_true(before > 16384);
    sf_fault(f, "INSERT INTO message(", SQLITE_FULL, 1);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_E_FULL);
    /* cut to nothing; the hub's own 1 s work (expiry) may have written a
     * transaction since, never the three messages' pages again */
    assert_true(wal_size(f) < before / 2);
    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), 4);
}

/* room_little, room_plenty - the room hook: what the data directory's file
 * system has free */
static uint64_t room_little(void *ctx)
{
    (void)ctx;
    return DD_STORE_ROOM_LOW - 1;
}

static uint64_t room_plenty(void *ctx)
{
    (void)ctx;
    return DD_STORE_ROOM_LOW * 64;
}

static void hook_little(struct storefix *f)
{
    store_set_room(f->st, room_little, NULL);
}

static void hook_plenty(struct storefix *f)
{
    store_set_room(f->st, room_plenty, NULL);
}

/* wal_peak - commit n messages of 128 KiB (32 WAL pages each) one by one;
 * the largest the WAL file was after a commit */
static long long wal_peak(struct storefix *f, int n)
{
    long long peak = 0;

    for (int i = 0; i < n; i++) {
        int want = f->commits + 1;
        sf_commit(f, 128 * 1024, 2, sf_base_ms(), rcpts_ab, 2);
        sf_loop_until(f, &f->commits, want);
        assert_int_equal(f->last_rc, STORE_OK);
        if (wal_size(f) > peak)
            peak = wal_size(f);
    }
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM message"), n);
    return peak;
}

/* test_wal_stays_bounded - little room: 100 messages (3,200 WAL pages);
 * the storage thread checkpoints after its replies every 1,000 pages, so
 * the WAL file never grows much past DD_STORE_WAL_LIMIT (it would hold
 * every page without) */
static void test_wal_stays_bounded(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    f->before_start = hook_little;
    sf_reopen(f);
    long long peak = wal_peak(f, 100);
    assert_true(peak > 1024 * 1024);
    assert_true(peak <= DD_STORE_WAL_LIMIT + 256 * 1024);
}

/* test_wal_interval_with_room - plenty of room: 300 messages (9,600
 * pages) go through checkpoints every 4,000 pages: the WAL grows past the
 * little-room bound, never past the longer one (a frame is a 4 KiB page
 * and its 24-octet header; one message's 33 frames over) */
static void test_wal_interval_with_room(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    f->before_start = hook_plenty;
    sf_reopen(f);
    long long peak = wal_peak(f, 300);
    assert_true(peak > DD_STORE_WAL_LIMIT + 256 * 1024);
    assert_true(peak <= 32 + (DD_STORE_CHECKPOINT_PAGES_ROOMY + 40) * (4096 + 24));
}

static void test_pick_on_a_full_disk(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    sf_fault(f, "UPDATE", SQLITE_FULL, -1); /* every write fails */
    struct sf_picked p = sf_pick(f, clock_now_ms());
    assert_int_equal(p.n, 1);
    assert_int_equal(sf_fault_hits(f), 0); /* picking wrote nothing */
    sf_free_picked(&p);
}

/* on_done_count - an outcome's callback */
static void on_done_count(void *ctx, enum store_rc rc)
{
    *(int *)ctx += rc == STORE_OK ? 1 : 1000;
}

static void test_outcome_retried_never_dropped(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    int done = 0;

    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    struct sf_picked p = sf_pick(f, clock_now_ms());
    assert_int_equal(p.n, 1);
    /* the outcome's write and the dumpster's fail three times */
    sf_fault(f, "INSERT INTO dumpster_item", SQLITE_FULL, 3);
    queue_done(f->q, sf_outcome(p.jobs[0], NULL, clock_now_ms()), on_done_count, &done);
    sf_run_ms(f, 100);
    assert_int_equal(done, 0); /* not written yet: no answer */
    struct sf_picked again = sf_pick(f, clock_now_ms());
    assert_int_equal(again.n, 0); /* still active: never delivered twice meanwhile */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_PENDING),
                     2); /* the failed writes were undone whole */
    sf_loop_until(f, &done, 1);
    assert_int_equal(done, 1);
    assert_int_equal(sf_fault_hits(f), 3);
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED), 2);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt"), 2);
    check_store(f);
    sf_free_picked(&p);
}

/* struct capture - stderr (the log) into a file while a case runs */
struct capture {
    char path[128];
    int saved;
};

/* capture_start - the log lines from now on go to a file too */
static void capture_start(struct capture *c)
{
    snprintf(c->path, sizeof(c->path), "/tmp/test_faults.%d.log", (int)getpid());
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    fflush(stderr);
    c->saved = dup(2);
    assert_true(c->saved >= 0);
    assert_int_equal(dup2(fd, 2), 2);
    close(fd);
}

/* capture_count - lines of the log so far that contain text */
static int capture_count(struct capture *c, const char *text)
{
    char line[1024];
    int n = 0;
    FILE *fp = fopen(c->path, "r");

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp))
        n += strstr(line, text) != NULL;
    fclose(fp);
    return n;
}

/* capture_end - stderr back, the file gone */
static void capture_end(struct capture *c)
{
    fflush(stderr);
    dup2(c->saved, 2);
    close(c->saved);
    unlink(c->path);
}

/* test_outcome_commit_fails - the batch that holds an outcome fails at its
 * COMMIT (issue 11 item 3): the outcome is written again later, its
 * recipients stay active meanwhile (never picked twice), and nothing of
 * the rolled-back transaction is logged ("dumpster sg=... kept" appears
 * once, for the write that committed) */
static void test_outcome_commit_fails(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    struct capture cap;
    int done = 0;

    assert_int_equal(commit_rc(r, sf_base_ms()), STORE_OK);
    struct sf_picked p = sf_pick(f, clock_now_ms());
    assert_int_equal(p.n, 1);
    capture_start(&cap);
    sf_fault_after(f, "UPDATE recipient SET state = ?, attempts", "COMMIT", SQLITE_IOERR, -1);
    queue_done(f->q, sf_outcome(p.jobs[0], NULL, clock_now_ms()), on_done_count, &done);
    wait_hits(f, 2); /* failed, and failed again when retried */
    struct sf_picked again = sf_pick(f, clock_now_ms());
    int picked = (int)again.n;
    sf_free_picked(&again);
    int kept_early = capture_count(&cap, "dumpster sg=SG1 kept");
    assert_int_equal(done, 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_PENDING),
                     2);
    sf_fault(f, NULL, 0, 0);
    sf_loop_until(f, &done, 1);
    int kept = capture_count(&cap, "dumpster sg=SG1 kept");
    capture_end(&cap);
    assert_int_equal(picked, 0); /* still active: not handed out again */
    assert_int_equal(kept_early, 0);
    assert_int_equal(kept, 1);
    assert_int_equal(done, 1);
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED), 2);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt"), 2);
    sf_free_picked(&p);
    p = sf_pick(f, clock_now_ms()); /* released, delivered: nothing due */
    assert_int_equal(p.n, 0);
    sf_free_picked(&p);
    check_store(f);
}

static void test_resubmit_batch_retried(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[20];
    int64_t t0 = sf_base_ms();
    bool saw;

    rs_put(r, 20, t0, 1000, 100, rcpt_a, 1, ids);
    sf_fault(f, "INSERT OR REPLACE INTO dumpster_ledger", SQLITE_FULL, 2);
    struct resubmit_req q = rs_req("SG1", t0, t0 + 60000);
    struct rs_got g = rs_create(r, &q);
    struct resubmit_info in = rs_wait_done(r, g.info.id, &saw);
    assert_int_equal(sf_fault_hits(f), 2);
    assert_int_equal(in.matched, 20);
    assert_int_equal(in.queued, 20);
    /* the failed batches left nothing: one row and one ledger entry each */
    assert_int_equal(
        sf_sql_int(f, "SELECT count(*) FROM recipient WHERE request = %lld", (long long)g.info.id),
        20);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_ledger"), 20);
}

static void test_resubmit_create_full(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;

    sf_fault(f, "INSERT INTO resubmit_request", SQLITE_FULL, 1);
    struct resubmit_req q = rs_req("SG1", 0, 1);
    struct rs_got g = rs_create_rc(r, &q);
    assert_int_equal(g.rc, STORE_E_FULL); /* the admin API answers 500 */
    assert_false(g.found);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM resubmit_request"), 0);
}

/* on_released - early release answered */
static void on_released(void *ctx, uint64_t copies, uint64_t items, enum store_rc rc)
{
    int *calls = ctx;

    (void)copies;
    (void)items;
    *calls += rc == STORE_OK ? 1 : 1000;
}

static void test_release_fails_whole(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[4];
    int64_t t0 = sf_base_ms();
    int calls = 0;

    rs_put(r, 4, t0, 1000, 100, rcpts_ab, 2, ids);
    sf_fault(f, "DELETE FROM dumpster_item", SQLITE_IOERR, 1);
    dumpster_replicated(f->d, "SG1", t0 + 60000, on_released, &calls);
    sf_loop_until(f, &calls, 1);
    assert_int_equal(calls, 1000); /* an error, and nothing released */
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_rcpt"), 8);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 4);
    struct dumpster_stats ds;
    assert_int_equal(dumpster_stats(f->d, "SG1", &ds, 1), 1);
    assert_int_equal(ds.items, 4);
    assert_int_equal(ds.evicted_replicated, 0);
    check_store(f);
    calls = 0;
    dumpster_replicated(f->d, "SG1", t0 + 60000, on_released, &calls);
    sf_loop_until(f, &calls, 1);
    assert_int_equal(calls, 1);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 0);
    check_store(f);
}

static void test_expiry_waits_for_the_disk(void **state)
{
    struct rsfix *r = *state;
    struct storefix *f = r->f;
    uint64_t ids[3];
    int64_t old = clock_now_ms() - 8 * 86400 * 1000LL; /* older than max_age (7 days) */

    sf_fault(f, "DELETE FROM dumpster_item", SQLITE_FULL, -1);
    rs_put(r, 3, old, 1000, 100, rcpt_a, 1, ids);
    sf_run_ms(f, 1500); /* expiry ticks fail */
    assert_true(sf_fault_hits(f) > 0);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 3);
    check_store(f);
    sf_fault(f, NULL, 0, 0);
    for (int64_t end = clock_mono_ms() + 10000;
         sf_sql_int(f, "SELECT count(*) FROM dumpster_item") > 0 && clock_mono_ms() < end;)
        sf_run_ms(f, 100);
    assert_int_equal(sf_sql_int(f, "SELECT count(*) FROM dumpster_item"), 0);
    assert_int_equal(sf_sql_int(f, "SELECT evicted_age FROM dumpster_sg WHERE sg = 'SG1'"), 3);
    check_store(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_full_nothing_half_written, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_busy_and_ioerr, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pick_on_a_full_disk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_full_disk_truncates_wal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_stays_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_interval_with_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_retried_never_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_commit_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_batch_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resubmit_create_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_fails_whole, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expiry_waits_for_the_disk, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
