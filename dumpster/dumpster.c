/*
 * dumpster.c - the per-storage-group transport dumpster
 *
 * Delivered messages enter their storage group's dumpster here. Until the
 * bounded dumpster lands, nothing is kept: a delivered message leaves the
 * store once all its recipients are final.
 */
#include "queue.h"
#include "store_int.h"

/* dumpster_keep - keep a copy of what was delivered (not yet: nothing kept) */
int dumpster_keep(struct store *s, const struct queue_outcome *o)
{
    (void)s;
    (void)o;
    return SQLITE_OK;
}

/* dumpster_holds - does the dumpster keep msg_id */
bool dumpster_holds(struct store *s, uint64_t msg_id)
{
    (void)s;
    (void)msg_id;
    return false;
}
