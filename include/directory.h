/*
 * directory.h - which storage group serves an address
 *
 * The directory file holds "address<TAB>SG" or "@domain<TAB>SG" per line;
 * blank lines and lines starting with '#' are ignored. Matching ignores case;
 * an exact address entry wins over its @domain entry. Parsing is pure.
 */
#ifndef DD_DIRECTORY_H
#define DD_DIRECTORY_H

#include <stddef.h>

#include "conf.h"

struct directory; /* opaque; one owner, freed with directory_free() */

enum directory_result {
    DIRECTORY_FOUND,        /* mapped to a storage group */
    DIRECTORY_UNKNOWN_USER, /* the domain is ours, the address is not: 550 5.1.1 */
    DIRECTORY_NOT_LOCAL,    /* not one of our domains: 554 5.7.1 relay denied */
};

/*
 * directory_parse - build a directory from buf[0..len) of file `file`. Every
 * storage group named must exist in c. Errors (bad line, unknown storage
 * group, duplicate entry, over-long line) go to errs with file:line. Returns
 * a new directory (caller frees) or NULL when errs->n > 0.
 */
struct directory *directory_parse(const char *file, const char *buf, size_t len,
                                  const struct conf *c, struct conf_errors *errs);

/* directory_load - read the file then directory_parse(). */
struct directory *directory_load(const char *path, const struct conf *c, struct conf_errors *errs);

/*
 * directory_lookup - the storage group of addr ("local@domain", any case).
 * Returns the SG name (owned by d, valid while d lives) or NULL; *res says
 * why.
 */
const char *directory_lookup(const struct directory *d, const char *addr,
                             enum directory_result *res);

/* directory_count - number of entries. */
size_t directory_count(const struct directory *d);

/* directory_free - release d; returns NULL. */
struct directory *directory_free(struct directory *d);

#endif
