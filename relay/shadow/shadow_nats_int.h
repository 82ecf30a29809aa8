/*
 * shadow_nats_int.h - what the worker's files share: the text of a failed
 * libnats call, and the streams (shadow_streams.c). Worker thread only.
 * Private to relay/shadow.
 */
#ifndef DD_SHADOW_NATS_INT_H
#define DD_SHADOW_NATS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <nats/nats.h>

#include "shadow_int.h"

/* shadow_nats_fail - "what: status: last error (s/je)" in buf; buf */
const char *shadow_nats_fail(char *buf, size_t cap, const char *what, natsStatus s, jsErrCode je);

/* shadow_streams_ensure - the streams of the hub: the queue, the hubs' and
 * the ledger (without them no copy is stored: -1, the cause in err), then
 * its groups' shadow dumpsters as shadow_streams_sgs */
int shadow_streams_ensure(jsCtx *js, const struct shadow_settings *set, bool **sg_ok, char *err,
                          size_t errlen);

/* shadow_streams_sgs - the shadow dumpster stream of each of set's groups;
 * (*sg_ok)[i] (allocated here when NULL) says whether group i's is there.
 * One that cannot be made, say for want of room in the cluster, is logged
 * and its copies fail; the next connection tries it again. */
void shadow_streams_sgs(jsCtx *js, const struct shadow_settings *set, bool **sg_ok, char *err,
                        size_t errlen);

#endif
