/*
 * store_db.h - opening the store's database (internal to dumpster/store.c)
 */
#ifndef DD_STORE_DB_H
#define DD_STORE_DB_H

#include <sqlite3.h>
#include <stddef.h>

/* store_db_open - open DATA_DIR/dumpsterd.db in WAL mode with
 * synchronous=FULL and migrate it to the newest schema. Returns 0, or -1
 * with a message in err (*db may then be open: the caller closes it). */
int store_db_open(const char *data_dir, sqlite3 **db, char *err, size_t errlen);

/* store_marker_write - DATA_DIR/STORE_MARKER, unless it is there
 * (store_marker.c). 0, or -1 with a message in err. */
int store_marker_write(const char *data_dir, char *err, size_t errlen);

#endif
