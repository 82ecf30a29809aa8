/*
 * privdrop.h - who the hub runs as (SPEC section 10: [hub] user)
 *
 * Started as root, the hub binds every listener and then becomes [hub]
 * user (default dumpsterd): no supplementary groups, the user's group, the
 * user, each call checked, and root cannot be regained. That happens before
 * the store is opened (its files belong to the user) and before any client
 * byte is read. With user = root the hub stays root, and says so; a hub
 * started as another user runs as that user.
 */
#ifndef DD_PRIVDROP_H
#define DD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privdrop {
    bool drop;      /* started as root: become uid/gid in privdrop_drop() */
    bool root;      /* started as root and stays root (user = root) */
    uid_t uid;      /* who the hub runs as once started */
    gid_t gid;      /* that user's group */
    char user[65];  /* uid's name (or "uid N"), for messages */
    char group[65]; /* gid's name (or "gid N") */
};

/*
 * privdrop_prepare - decide who the hub runs as: as root, look up `user`
 * (the [hub] user key). Returns EX_OK, or EX_NOUSER with a message naming
 * the fix when the user does not exist or has uid 0 without being "root".
 */
int privdrop_prepare(struct privdrop *pd, const char *user, char *err, size_t errlen);

/*
 * privdrop_drop - when pd->drop: setgroups, setgid, setuid, then check real
 * and effective ids and that setuid(0) fails. Call while the process has one
 * thread, after the last listener is bound. Returns EX_OK, or EX_OSERR with
 * a message.
 */
int privdrop_drop(const struct privdrop *pd, char *err, size_t errlen);

#endif
