/*
 * store_schema.h - schema versions and migrations of the store (internal)
 */
#ifndef DD_STORE_SCHEMA_H
#define DD_STORE_SCHEMA_H

#include <sqlite3.h>
#include <stddef.h>

/* store_schema_migrate - bring db to the newest PRAGMA user_version, one
 * transaction per step. Returns 0, or -1 with a message in err. */
int store_schema_migrate(sqlite3 *db, char *err, size_t errlen);

/* The version store_schema_migrate() leaves. */
int store_schema_version(void);

#endif
