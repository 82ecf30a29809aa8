/*
 * store_marker.c - a data_dir remembers that it held a store
 *
 * SQLite takes a missing or 0-byte database file for a new, empty one. For
 * a hub that would be silent loss: the mail it acknowledged is gone and it
 * starts over. So the first open of a new store writes
 * DATA_DIR/dumpsterd.db.created (made with O_EXCL, synced with its
 * directory), and store_check refuses a data_dir whose marker is there
 * while the database is missing or empty, and any 0-byte database, unless
 * the operator asks for a new store (dumpsterd -I).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bounds.h"
#include "clock.h"
#include "log.h"
#include "store.h"
#include "store_db.h"
#include "timefmt.h"

/* store_path - DATA_DIR/NAME into buf */
static void store_path(char *buf, size_t cap, const char *data_dir, const char *name)
{
    snprintf(buf, cap, "%s/%s", data_dir, name);
}

/* store_check - see store.h */
int store_check(const char *data_dir, bool init, char *err, size_t errlen)
{
    char db[DD_PATHNAME_MAX + 32], mark[DD_PATHNAME_MAX + 32];
    struct stat dbst, mst;
    bool has_db, has_mark;

    store_path(db, sizeof(db), data_dir, "dumpsterd.db");
    store_path(mark, sizeof(mark), data_dir, STORE_MARKER);
    has_db = stat(db, &dbst) == 0;
    has_mark = stat(mark, &mst) == 0;
    if (!has_db && errno != ENOENT) {
        snprintf(err, errlen, "%s: %s", db, strerror(errno));
        return -1;
    }
    if (init || (has_db && dbst.st_size > 0))
        return 0;
    if (has_db) {
        snprintf(err, errlen,
                 "%s is empty (0 bytes): a store is never empty; restore it from a backup, or "
                 "start once with -I to begin a new, empty store",
                 db);
        return -1;
    }
    if (has_mark) {
        snprintf(err, errlen,
                 "%s is missing, but %s says this data_dir held a store; restore the database "
                 "(with its -wal file), or start once with -I to begin a new, empty store",
                 db, mark);
        return -1;
    }
    return 0;
}

/* store_marker_write - the marker, once (it may be there already) */
int store_marker_write(const char *data_dir, char *err, size_t errlen)
{
    char mark[DD_PATHNAME_MAX + 32], line[96], t[TIMEFMT_RFC3339_BUF];
    int fd, dfd;
    size_t n;

    store_path(mark, sizeof(mark), data_dir, STORE_MARKER);
    if ((fd = open(mark, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        if (errno == EEXIST)
            return 0;
        snprintf(err, errlen, "%s: %s", mark, strerror(errno));
        return -1;
    }
    timefmt_format(clock_now_ms(), t);
    n = (size_t)snprintf(line, sizeof(line), "dumpsterd store created %s\n", t);
    if (write(fd, line, n) != (ssize_t)n || fsync(fd) < 0) {
        snprintf(err, errlen, "%s: %s", mark, strerror(errno));
        close(fd);
        unlink(mark);
        return -1;
    }
    close(fd);
    if ((dfd = open(data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    log_info("store", "new store in %s (%s)", data_dir, STORE_MARKER);
    return 0;
}
