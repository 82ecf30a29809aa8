/*
 * shadow_list.h - the recipient lists that come with shadow copies (pure)
 *
 * A ledger entry (the stream DD_LEDGER) lists the recipients of one copy
 * that were resent to one destination, one "addr" per line; the delivered
 * list of a taken copy (relay/shadow/shadow_delivered.c) lists what the
 * silent hub delivered, one "SG addr" per line. Both are read from the
 * cluster, so any octets of any length may come: a line matches only as a
 * whole, the address ASCII case-insensitively, the storage group exactly.
 * The address and the group are this hub's own, checked before (no
 * newline in them).
 */
#ifndef DD_SHADOW_LIST_H
#define DD_SHADOW_LIST_H

#include <stdbool.h>
#include <stddef.h>

/* shadow_list_has - whether list[0..len) has the line "addr" (sg NULL) or
 * "sg addr". */
bool shadow_list_has(const char *list, size_t len, const char *sg, const char *addr);

/* shadow_list_add - that line appended to *list (malloc'd, NUL-terminated
 * after *len octets) unless it has it, after a newline when its last line
 * had none; 0, or -1 without memory (the list unchanged). */
int shadow_list_add(char **list, size_t *len, const char *sg, const char *addr);

#endif
