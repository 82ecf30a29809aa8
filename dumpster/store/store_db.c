/*
 * store_db.c - opening the store's database: WAL and the pragmas, the
 * schema migrations (see store_db.h)
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bounds.h"
#include "log.h"
#include "store_db.h"
#include "store_schema.h"

/* store_db_exec - run SQL without results; returns the SQLite code */
static int store_db_exec(sqlite3 *db, const char *sql)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        log_err("store", "%s: %s", sql, sqlite3_errmsg(db));
    return rc;
}

/* store_pragmas - WAL, fsync on every commit, temporary data in memory */
static int store_pragmas(sqlite3 *db, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    bool wal = false;

    sqlite3_busy_timeout(db, DD_STORE_BUSY_MS);
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            wal = strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0;
        sqlite3_finalize(st);
    }
    if (!wal) {
        snprintf(err, errlen, "cannot switch the database to WAL: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (store_db_exec(db, "PRAGMA synchronous=FULL") != SQLITE_OK ||
        store_db_exec(db, "PRAGMA foreign_keys=OFF") != SQLITE_OK ||
        store_db_exec(db, "PRAGMA temp_store=MEMORY") != SQLITE_OK || /* statement journals */
        store_db_exec(db, "PRAGMA cache_size=-" DD_STR(DD_STORE_CACHE_KIB)) != SQLITE_OK ||
        store_db_exec(db, "PRAGMA wal_autocheckpoint=" DD_STR(DD_STORE_CHECKPOINT_PAGES)) !=
            SQLITE_OK ||
        store_db_exec(db, "PRAGMA journal_size_limit=" DD_STR(DD_STORE_WAL_LIMIT)) != SQLITE_OK) {
        snprintf(err, errlen, "pragmas: %s", sqlite3_errmsg(db));
        return -1;
    }
    return 0;
}

/* store_db_open - open, configure, migrate and recover. One thread at a
 * time uses the connection (the storage thread; the opener before it
 * starts), so it opens without SQLite's per-connection mutexes; SQLite's
 * memory statistics are turned off before its first use (their global
 * mutex is taken on every allocation; nothing reads them). */
int store_db_open(const char *data_dir, sqlite3 **db, char *err, size_t errlen)
{
    char path[DD_PATHNAME_MAX + 32];
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;

    (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); /* SQLITE_MISUSE once initialised */
    snprintf(path, sizeof(path), "%s/dumpsterd.db", data_dir);
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "%s: %s", path, *db ? sqlite3_errmsg(*db) : "out of memory");
        return -1;
    }
    if (store_pragmas(*db, err, errlen) < 0 || store_schema_migrate(*db, err, errlen) < 0)
        return -1;
    return store_marker_write(data_dir, err, errlen);
}
