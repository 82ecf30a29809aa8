/*
 * queue_active.h - the recipients the queue handed to delivery and whose
 * outcome is not recorded yet (storage thread only)
 *
 * Active is a state of memory, not of the disk: picking writes nothing, so
 * it works on a full disk, and a crash forgets it (the rows are pending
 * again at the next start). An open-addressing hash of recipient row ids,
 * each with its message id and whether it had an attempt (for the counts
 * by state, queue_tally.h).
 */
#ifndef DD_QUEUE_ACTIVE_H
#define DD_QUEUE_ACTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct queue_active; /* opaque; queue_active_free() */

struct queue_active *queue_active_new(void);

/* queue_active_add - mark id (of message msg; deferred: it had an attempt)
 * active. -1 when out of memory. */
int queue_active_add(struct queue_active *a, uint64_t id, uint64_t msg, bool deferred);

/* queue_active_get - whether id is active, with its message and whether it
 * had an attempt when it was marked. */
bool queue_active_get(const struct queue_active *a, uint64_t id, uint64_t *msg, bool *deferred);

/* queue_active_del - id is no longer active (no-op when it was not). */
void queue_active_del(struct queue_active *a, uint64_t id);

/* queue_active_has - whether id is active. */
bool queue_active_has(const struct queue_active *a, uint64_t id);

/* queue_active_count - active ids. */
size_t queue_active_count(const struct queue_active *a);

/* queue_active_msgs - distinct messages with an active id. */
size_t queue_active_msgs(const struct queue_active *a);

struct queue_active *queue_active_free(struct queue_active *a);

#endif
