/*
 * datadir.h - data_dir: created 0700, owned by the user the hub runs as
 *
 * The umask becomes 077, so every file the hub creates there (database, WAL,
 * shared memory, keys) is 0600. A data_dir, or a file in it, owned by
 * another user than the one the hub runs as is an error whose message holds
 * the chown that fixes it; a data_dir open to group or others is kept but
 * warned about.
 */
#ifndef DD_DATADIR_H
#define DD_DATADIR_H

#include <stddef.h>

#include "privdrop.h"

/* Entries of data_dir looked at for their owner; the store keeps a few. */
#define DATADIR_SCAN_MAX 1000

/*
 * datadir_prepare - umask 077; create dir (missing parents 0755, dir 0700)
 * and, when the hub is about to drop from root to pd's user, give the
 * directory it just created to that user; then check dir and its files
 * against pd->uid. Returns EX_OK, or EX_CANTCREAT with a message.
 */
int datadir_prepare(const char *dir, const struct privdrop *pd, char *err, size_t errlen);

/*
 * datadir_usable - after privdrop_drop(): the user the hub now runs as can
 * enter, read and write dir. Returns EX_OK, or EX_CANTCREAT with a message.
 */
int datadir_usable(const char *dir, const struct privdrop *pd, char *err, size_t errlen);

#endif
