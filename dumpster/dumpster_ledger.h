/*
 * dumpster_ledger.h - the dumpster_ledger table: which request resent which
 * recipient's copy of an item to which destination (storage thread)
 *
 * A copy resent to a destination is not resent there again unless a
 * request says force. The ledger belongs to the item's recipients and
 * leaves with them.
 */
#ifndef DD_DUMPSTER_LEDGER_H
#define DD_DUMPSTER_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "store_int.h"

/* dumpster_ledger_has - whether rcpt's copy of msg went to dest already. */
int dumpster_ledger_has(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, bool *has);

/* dumpster_ledger_add - request resent rcpt's copy of msg to dest. */
int dumpster_ledger_add(struct store *s, const char *sg, uint64_t msg, const char *rcpt,
                        const char *dest, uint64_t request);

/* dumpster_ledger_drop - the entries of one recipient (rcpt) or of the
 * whole item (rcpt NULL). */
int dumpster_ledger_drop(struct store *s, const char *sg, uint64_t msg, const char *rcpt);

#endif
