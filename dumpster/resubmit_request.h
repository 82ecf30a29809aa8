/*
 * resubmit_request.h - the resubmit_request table: requests, their cursor
 * and progress (storage thread)
 */
#ifndef DD_RESUBMIT_REQUEST_H
#define DD_RESUBMIT_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "resubmit_types.h"
#include "store_int.h"

/* A request as the storage thread works on it. */
struct resubmit_row {
    struct resubmit_info info;
    char dest_eff[DD_DEST_TEXT_MAX + 1]; /* where it goes: the ledger's key */
    int64_t cursor_time, cursor_msg;     /* the last copy (or item) looked at */
    char cursor_rcpt[DD_ADDR_MAX + 2];
};

/* resubmit_request_insert - a new request (pending); row->info.id is set. */
int resubmit_request_insert(struct store *s, struct resubmit_row *row, int64_t now_ms);

/* resubmit_request_get - one request by id; *found. */
int resubmit_request_get(struct store *s, uint64_t id, struct resubmit_row *row, bool *found);

/* resubmit_request_next_open - the oldest pending or running request; *found. */
int resubmit_request_next_open(struct store *s, struct resubmit_row *row, bool *found);

/* resubmit_request_list - newest first, at most max, outstanding only or all,
 * into *out (grown as the rows come, so its size follows what is listed;
 * the caller frees it, also on error). */
int resubmit_request_list(struct store *s, bool outstanding, struct resubmit_info **out, size_t max,
                          size_t *n);

/* resubmit_request_advance - state, cursor and counters of a batch. */
int resubmit_request_advance(struct store *s, const struct resubmit_row *row, int64_t now_ms);

/* resubmit_request_progress - resent copies reached their outcome. */
int resubmit_request_progress(struct store *s, uint64_t id, uint64_t delivered, uint64_t failed,
                              int64_t now_ms);

/* resubmit_request_cancel - pending or running -> cancelled; *changed. */
int resubmit_request_cancel(struct store *s, uint64_t id, int64_t now_ms, bool *changed);

/* resubmit_request_counts - requests by state. */
int resubmit_request_counts(struct store *s, uint64_t counts[RESUBMIT_NSTATES]);

#endif
