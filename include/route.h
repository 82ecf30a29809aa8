/*
 * route.h - storage group destinations set at runtime (admin API), kept in
 * the store so they outlive a restart
 *
 * A route remembers the configuration file's destination of its group when
 * it was set: once the file names another destination (a reload), the file
 * wins and the route is dropped.
 */
#ifndef DD_ROUTE_H
#define DD_ROUTE_H

#include <stddef.h>

#include "bounds.h"
#include "store.h"

struct route {
    char sg[DD_SG_NAME_MAX + 1];
    char dest[DD_DEST_TEXT_MAX + 1];      /* canonical destination text */
    char conf_dest[DD_DEST_TEXT_MAX + 1]; /* the file's destination then */
};

/* route_load - every stored route; fn gets them (valid during the call). */
void route_load(struct store *s,
                void (*fn)(void *ctx, const struct route *r, size_t n, enum store_rc rc),
                void *ctx);

/* route_save - store r (replacing the group's route); fn may be NULL. */
void route_save(struct store *s, const struct route *r, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx);

/* route_drop - forget the route of group sg. */
void route_drop(struct store *s, const char *sg);

#endif
