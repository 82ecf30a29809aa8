/*
 * diskroom.h - the free space of a file system, for the store's reserve
 *
 * [hub] min_free keeps room on data_dir's file system for what the store
 * must write to make progress when the disk is nearly full: a delivery's
 * outcome, expiry, the checkpoint that copies the WAL into the database.
 * New mail is refused (452 4.3.1 at MAIL) before that room is taken, so a
 * full disk never leaves the store unable to write the work that frees it.
 */
#ifndef DD_DISKROOM_H
#define DD_DISKROOM_H

#include <stdbool.h>
#include <stdint.h>

/* diskroom_free - octets free for an unprivileged writer on the file
 * system holding dir into *octets; false when statvfs cannot say. */
bool diskroom_free(const char *dir, uint64_t *octets);

/*
 * diskroom_ok - false when the file system holding dir has less than
 * reserve + need octets free for an unprivileged writer, counting inside as
 * free too (the database's free pages: the store reuses them before its file
 * grows); *avail gets the sum. A file system that cannot be asked (statvfs
 * fails) is not refused: the store's own SQLITE_FULL answer (451 4.3.0)
 * stays the last word.
 */
bool diskroom_ok(const char *dir, uint64_t inside, uint64_t reserve, uint64_t need,
                 uint64_t *avail);

#endif
