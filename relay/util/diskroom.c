/*
 * diskroom.c - free space on data_dir's file system against [hub] min_free
 *
 * One statvfs(2) per MAIL command: the kernel answers it from its counters,
 * with no disk I/O on a local file system (the store needs a local one for
 * its WAL anyway), so the loop does not wait on it.
 */
#include <sys/statvfs.h>

#include "diskroom.h"

bool diskroom_free(const char *dir, uint64_t *octets)
{
    struct statvfs st;

    if (statvfs(dir, &st) != 0)
        return false;
    *octets = (uint64_t)st.f_bavail * st.f_frsize;
    return true;
}

bool diskroom_ok(const char *dir, uint64_t inside, uint64_t reserve, uint64_t need, uint64_t *avail)
{
    uint64_t free_octets;

    *avail = 0;
    if (reserve == 0 || !diskroom_free(dir, &free_octets))
        return true;
    *avail = free_octets + inside;
    /* reserve + need without wrapping: both come from bounded config and SIZE */
    return *avail >= reserve && *avail - reserve >= need;
}
