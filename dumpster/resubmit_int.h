/*
 * resubmit_int.h - what resubmit.c (the batches, new requests) and
 * resubmit_query.c (get, list, cancel) share: the request row as the
 * storage thread reads it (resubmit_row.c). Storage thread only, except
 * rs_now_ms().
 */
#ifndef DD_RESUBMIT_INT_H
#define DD_RESUBMIT_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "api_req.h"
#include "dumpster.h"
#include "store_int.h"

/* A request as the storage thread works on it. */
struct rs_row {
    struct resubmit_info info;
    char dest_eff[API_DEST_TEXT_MAX + 1];
    int64_t cursor_time, cursor_msg;
};

/* rs_now_ms - wall clock, ms */
int64_t rs_now_ms(void);
/* rs_step - step a statement that returns no row, and reset it */
int rs_step(sqlite3_stmt *st);
/* rs_text - bind text, or NULL when absent */
void rs_text(sqlite3_stmt *st, int i, bool has, const char *v);
/* rs_read_row - the current row of a query over the request columns
 * (sql_get's columns, in that order) */
void rs_read_row(sqlite3_stmt *st, struct rs_row *row);
/* rs_load_id - one request by id; found? */
int rs_load_id(struct store *s, uint64_t id, struct rs_row *row, bool *found);
/* rs_load_next_open - the oldest pending or running request; found? */
int rs_load_next_open(struct store *s, struct rs_row *row, bool *found);

#endif
