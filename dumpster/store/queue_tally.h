/*
 * queue_tally.h - the queue's counts by state, kept as the rows change
 * (storage thread) and read in O(1) from any thread
 *
 * Per message with a pending recipient row: its pending rows, those of
 * them after a failed attempt, and the rows of both kinds marked active
 * (handed to delivery). A message counts as pending when it has a pending
 * row that is not active, deferred when such a row had an attempt, and
 * active when it has an active row: what the scan of queue_recount()
 * finds. recipient.c notes every change of its pending rows in the work
 * function that makes it, queue_pick.c every mark and release; a note is
 * applied once its batch committed and dropped with it (store_after), so
 * the counts follow what is durable. At the start queue_new() has
 * recipient.c count them once (nothing is active then).
 */
#ifndef DD_QUEUE_TALLY_H
#define DD_QUEUE_TALLY_H

#include <stdint.h>

#include "queue.h"
#include "store_int.h"

struct queue_tally; /* opaque; one owner (the queue), queue_tally_free() */

/* How the rows of one message change. */
struct queue_tally_delta {
    int32_t pending;  /* pending rows */
    int32_t deferred; /* pending rows after a failed attempt */
    int32_t active;   /* active rows (pending on the disk) */
    int32_t active_deferred;
};

/* queue_tally_new - empty counts; NULL when out of memory. */
struct queue_tally *queue_tally_new(void);

/* queue_tally_note - storage thread, in a work function: msg's rows moved
 * by d, applied once the batch commits. */
void queue_tally_note(struct store *s, struct queue_tally *t, uint64_t msg,
                      struct queue_tally_delta d);

/* queue_tally_add - storage thread (or before store_start): apply d now. */
void queue_tally_add(struct queue_tally *t, uint64_t msg, struct queue_tally_delta d);

/* queue_tally_get - the counts (any thread). */
void queue_tally_get(const struct queue_tally *t, struct queue_counts *c);

/* queue_tally_clear - no message counted (before a recount). */
void queue_tally_clear(struct queue_tally *t);

/* queue_tally_free - returns NULL. */
struct queue_tally *queue_tally_free(struct queue_tally *t);

#endif
