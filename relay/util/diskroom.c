/*
 * diskroom.c - free space on data_dir's file system against [hub] min_free
 *
 * One statvfs(2) per MAIL command: the kernel answers it from its counters,
 * with no disk I/O on a local file system (the store needs a local one for
 * its WAL anyway), so the loop does not wait on it.
 */
#include <sys/statvfs.h>

#include "diskroom.h"

bool diskroom_ok(const char *dir, uint64_t inside, uint64_t reserve, uint64_t need, uint64_t *avail)
{
    struct statvfs st;

    *avail = 0;
    if (reserve == 0 || statvfs(dir, &st) != 0)
        return true;
    *avail = (uint64_t)st.f_bavail * st.f_frsize + inside;
    /* reserve + need without wrapping: both come from bounded config and SIZE */
    return *avail >= reserve && *avail - reserve >= need;
}
