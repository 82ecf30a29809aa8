/*
 * privdrop.c - from root to [hub] user: setgroups, setgid, setuid, checked
 *
 * The order is Postfix's set_ugid(): supplementary groups first (only the
 * user's group stays), then the group, then the user, since after setuid()
 * the group can no longer change. Each call is checked, the ids are read
 * back, and setuid(0) must fail afterwards: a hub that could become root
 * again does not start.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "privdrop.h"

/* privdrop_fail - a message; returns code */
static int privdrop_fail(int code, char *err, size_t errlen, const char *what, const char *arg)
{
    snprintf(err, errlen, "%s%s%s", what, arg ? ": " : "", arg ? arg : "");
    return code;
}

/* privdrop_names - the names of uid and gid, or "uid N" / "gid N" */
static void privdrop_names(struct privdrop *pd)
{
    struct passwd *pw = getpwuid(pd->uid);
    struct group *gr = getgrgid(pd->gid);

    if (pw != NULL)
        snprintf(pd->user, sizeof(pd->user), "%s", pw->pw_name);
    else
        snprintf(pd->user, sizeof(pd->user), "uid %u", (unsigned)pd->uid);
    if (gr != NULL)
        snprintf(pd->group, sizeof(pd->group), "%s", gr->gr_name);
    else
        snprintf(pd->group, sizeof(pd->group), "gid %u", (unsigned)pd->gid);
}

/* privdrop_prepare - root: look the user up; anyone else: stay who we are */
int privdrop_prepare(struct privdrop *pd, const char *user, char *err, size_t errlen)
{
    struct passwd *pw;

    memset(pd, 0, sizeof(*pd));
    pd->uid = geteuid();
    pd->gid = getegid();
    if (getuid() != 0 && geteuid() != 0) {
        privdrop_names(pd);
        return EX_OK;
    }
    if (strcmp(user, "root") == 0) {
        pd->uid = 0;
        pd->gid = 0;
        pd->root = true;
        privdrop_names(pd);
        return EX_OK;
    }
    errno = 0;
    if ((pw = getpwnam(user)) == NULL) {
        snprintf(err, errlen,
                 "[hub] user %s does not exist%s%s: create it (adduser --system --group --home "
                 "/var/lib/dumpsterd --no-create-home %s), name another user, or write "
                 "user = root",
                 user, errno ? ": " : "", errno ? strerror(errno) : "", user);
        return EX_NOUSER;
    }
    if (pw->pw_uid == 0) {
        snprintf(err, errlen, "[hub] user %s has uid 0: write user = root to run as root", user);
        return EX_NOUSER;
    }
    pd->uid = pw->pw_uid;
    pd->gid = pw->pw_gid;
    pd->drop = true;
    privdrop_names(pd);
    return EX_OK;
}

/* privdrop_check - the ids read back, and no way back to root */
static int privdrop_check(const struct privdrop *pd, char *err, size_t errlen)
{
    gid_t groups[2];
    int n;

    if (getuid() != pd->uid || geteuid() != pd->uid || getgid() != pd->gid || getegid() != pd->gid)
        return privdrop_fail(EX_OSERR, err, errlen, "the ids did not change", pd->user);
    n = getgroups(2, groups);
    if (n < 0 || n > 1 || (n == 1 && groups[0] != pd->gid))
        return privdrop_fail(EX_OSERR, err, errlen, "supplementary groups are left", pd->user);
    if (setuid(0) == 0)
        return privdrop_fail(EX_OSERR, err, errlen, "setuid(0) works after the drop", pd->user);
    return EX_OK;
}

/* privdrop_drop - become the user; root stays only when asked */
int privdrop_drop(const struct privdrop *pd, char *err, size_t errlen)
{
    if (pd->root)
        log_warn("main", "running as root: [hub] user = root");
    if (!pd->drop)
        return EX_OK;
    if (setgroups(1, &pd->gid) < 0)
        return privdrop_fail(EX_OSERR, err, errlen, "setgroups", strerror(errno));
    if (setgid(pd->gid) < 0)
        return privdrop_fail(EX_OSERR, err, errlen, "setgid", strerror(errno));
    if (setuid(pd->uid) < 0)
        return privdrop_fail(EX_OSERR, err, errlen, "setuid", strerror(errno));
    int rc = privdrop_check(pd, err, errlen);
    if (rc != EX_OK)
        return rc;
    log_info("main", "running as user %s (uid %u, gid %u)", pd->user, (unsigned)pd->uid,
             (unsigned)pd->gid);
    return EX_OK;
}
