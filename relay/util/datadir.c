/*
 * datadir.c - create data_dir and check who owns it and what is in it
 *
 * The store refuses to open a database it cannot write with an SQLite
 * message that names neither the directory nor the fix; this check runs
 * first and says "chown -R user:group dir". Modes are never changed on
 * existing files: a data_dir set by mistake to a shared directory must not
 * be rewritten. Only a directory the hub creates itself is given away.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "bounds.h"
#include "datadir.h"
#include "log.h"

/* datadir_mkdirs - dir and its parents; *created: dir itself was made now */
static int datadir_mkdirs(const char *dir, bool *created)
{
    char path[DD_PATHNAME_MAX];

    *created = false;
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(path, 0700) == 0) {
        *created = true;
        return 0;
    }
    return errno == EEXIST ? 0 : -1;
}

/* datadir_owner - the name of a uid, or its number */
static void datadir_owner(uid_t uid, char *buf, size_t cap)
{
    struct passwd *pw = getpwuid(uid);

    if (pw != NULL)
        snprintf(buf, cap, "%s", pw->pw_name);
    else
        snprintf(buf, cap, "uid %u", (unsigned)uid);
}

/* datadir_wrong_owner - the error, with the chown that fixes it */
static int datadir_wrong_owner(const char *dir, const char *file, uid_t owner,
                               const struct privdrop *pd, char *err, size_t errlen)
{
    char name[64];

    datadir_owner(owner, name, sizeof(name));
    snprintf(err, errlen,
             "%s%s%s is owned by %s, not by %s (the user dumpsterd runs as): "
             "chown -R %s:%s %s",
             dir, file ? "/" : "", file ? file : "", name, pd->user, pd->user, pd->group, dir);
    return EX_CANTCREAT;
}

/* datadir_files - every entry of dir belongs to pd->uid */
static int datadir_files(const char *dir, const struct privdrop *pd, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    struct stat st;
    int rc = EX_OK;

    if (d == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        return EX_CANTCREAT;
    }
    for (size_t n = 0; rc == EX_OK && n < DATADIR_SCAN_MAX && (e = readdir(d)) != NULL; n++) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_uid != pd->uid)
            rc = datadir_wrong_owner(dir, e->d_name, st.st_uid, pd, err, errlen);
    }
    closedir(d);
    return rc;
}

/* datadir_prepare - umask, create, give away what we made, check */
int datadir_prepare(const char *dir, const struct privdrop *pd, char *err, size_t errlen)
{
    struct stat st;
    bool created;

    umask(022); /* parents 0755: the user must pass through them */
    int made = datadir_mkdirs(dir, &created);
    umask(077);
    if (made < 0) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        return EX_CANTCREAT;
    }
    if (created && pd->drop && chown(dir, pd->uid, pd->gid) < 0) {
        snprintf(err, errlen, "%s: cannot give it to %s: %s", dir, pd->user, strerror(errno));
        return EX_CANTCREAT;
    }
    errno = 0;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: %s", dir, errno ? strerror(errno) : "not a directory");
        return EX_CANTCREAT;
    }
    if (st.st_uid != pd->uid)
        return datadir_wrong_owner(dir, NULL, st.st_uid, pd, err, errlen);
    if ((st.st_mode & 077) != 0)
        log_warn("main",
                 "data_dir %s has mode %04o: group or others may read the store; "
                 "chmod 0700 %s",
                 dir, (unsigned)(st.st_mode & 07777), dir);
    return datadir_files(dir, pd, err, errlen);
}

/* datadir_usable - after the drop: the user reaches dir (every parent too) */
int datadir_usable(const char *dir, const struct privdrop *pd, char *err, size_t errlen)
{
    if (access(dir, R_OK | W_OK | X_OK) == 0)
        return EX_OK;
    snprintf(err, errlen, "%s: not usable by %s: %s (a parent directory may be closed to it)", dir,
             pd->user, strerror(errno));
    return EX_CANTCREAT;
}
