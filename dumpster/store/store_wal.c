/*
 * store_wal.c - when the storage thread copies the WAL into the database
 *
 * SQLite's own automatic checkpoint runs inside the COMMIT that passes the
 * page threshold, so the replies of that batch (the 250s of its messages)
 * wait for a copy of every WAL page and an fsync of the database. Here the
 * commit only notes the WAL's length (a WAL hook, which also turns the
 * automatic checkpoint off), and the storage thread checkpoints after it
 * has handed the batch's replies to the loop, off the reply path: every
 * DD_STORE_CHECKPOINT_PAGES_ROOMY pages while the data directory's file
 * system has room, every DD_STORE_CHECKPOINT_PAGES once it has little
 * (bounds.h says why). After a full disk, a TRUNCATE checkpoint gives the
 * WAL's room back.
 */
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "clock.h"
#include "diskroom.h"
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

/* store_wal_room_statvfs - what the file system under dir has free for
 * an unprivileged writer, in octets (UINT64_MAX when it cannot say: the
 * room rule then keeps the longer interval, and SQLITE_FULL still cuts) */
static uint64_t store_wal_room_statvfs(void *ctx)
{
    uint64_t octets;

    return diskroom_free(ctx, &octets) ? octets : UINT64_MAX;
}

/* store_wal_watch - commits note the WAL's length; no checkpoint in them.
 * The free room of data_dir's file system sets the interval. */
void store_wal_watch(struct store *s, const char *data_dir)
{
    sqlite3_wal_hook(s->db, store_wal_hook, s);
    s->room.dir = strdup(data_dir);
    if (s->room.dir == NULL)
        abort();
    s->room.fn = store_wal_room_statvfs;
    s->room.ctx = s->room.dir;
}

/* store_wal_unwatch - free what store_wal_watch kept */
void store_wal_unwatch(struct store *s)
{
    free(s->room.dir);
    s->room.dir = NULL;
}

/* store_set_room - see store.h */
void store_set_room(struct store *s, store_room_fn fn, void *ctx)
{
    s->room.fn = fn ? fn : store_wal_room_statvfs;
    s->room.ctx = fn ? ctx : s->room.dir;
    s->room.checked_ms = 0;
}

/* store_wal_roomy - whether the file system had DD_STORE_ROOM_LOW free when
 * last asked (at most once per DD_STORE_ROOM_CHECK_MS) */
static bool store_wal_roomy(struct store *s)
{
    int64_t now = clock_mono_ms();

    if (s->room.checked_ms == 0 || now - s->room.checked_ms >= DD_STORE_ROOM_CHECK_MS) {
        s->room.roomy = s->room.fn(s->room.ctx) >= DD_STORE_ROOM_LOW;
        s->room.checked_ms = now;
    }
    return s->room.roomy;
}

/* store_wal_checkpoint - copy the WAL into the database once it holds
 * DD_STORE_CHECKPOINT_PAGES_ROOMY pages, or DD_STORE_CHECKPOINT_PAGES
 * with little room (PASSIVE: never waits for a reader) */
void store_wal_checkpoint(struct store *s)
{
    int log = 0, done = 0, rc;

    if (s->wal_pages < DD_STORE_CHECKPOINT_PAGES ||
        (s->wal_pages < DD_STORE_CHECKPOINT_PAGES_ROOMY && store_wal_roomy(s)))
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
    s->room.checked_ms = 0; /* ask the file system again at the next checkpoint */
}
