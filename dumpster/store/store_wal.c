/*
 * store_wal.c - when the storage thread copies the WAL into the database
 *
 * SQLite's own automatic checkpoint runs inside the COMMIT that passes the
 * page threshold, so the replies of that batch (the 250s of its messages)
 * wait for a copy of every WAL page and an fsync of the database. Here the
 * commit only notes the WAL's length (a WAL hook, which also turns the
 * automatic checkpoint off), and the storage thread checkpoints after it
 * has handed the batch's replies to the loop: the same threshold, so the
 * same bound on how large the WAL grows, off the reply path. After a full
 * disk, a TRUNCATE checkpoint gives the WAL's room back.
 */
#include "bounds.h"
#include "log.h"
#include "store_priv.h"

/* store_wal_hook - after each commit: the WAL's length in pages */
static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct store *s = arg;

    (void)db;
    (void)name;
    s->wal_pages = pages;
    return SQLITE_OK;
}

/* store_wal_watch - commits note the WAL's length; no checkpoint in them */
void store_wal_watch(struct store *s)
{
    sqlite3_wal_hook(s->db, store_wal_hook, s);
}

/* store_wal_checkpoint - copy the WAL into the database once it holds
 * DD_STORE_CHECKPOINT_PAGES pages (PASSIVE: never waits for a reader) */
void store_wal_checkpoint(struct store *s)
{
    int log = 0, done = 0, rc;

    if (s->wal_pages < DD_STORE_CHECKPOINT_PAGES)
        return;
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY)
        log_err("store", "checkpoint: %s", sqlite3_errstr(rc));
    s->wal_pages = 0; /* the next commit says again how long the WAL is */
}

/* store_wal_truncate - a full disk (a work function or the batch met
 * SQLITE_FULL): copy the WAL into the database and cut it to nothing, if
 * that can be done now (the WAL is the one file the store can give back;
 * with the database's free pages the checkpoint may need no new room).
 * Never waits for a reader another process holds open. */
void store_wal_truncate(struct store *s)
{
    int log = 0, done = 0, rc;

    sqlite3_busy_timeout(s->db, 0);
    rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, &log, &done);
    sqlite3_busy_timeout(s->db, DD_STORE_BUSY_MS);
    if (rc == SQLITE_OK)
        log_warn("store",
                 "disk full: the WAL was copied into the database and truncated "
                 "(%d pages)",
                 done);
    s->wal_pages = 0;
}
