/*
 * queue_int.h - what the storage layer's other modules (dumpster,
 * resubmission) use of the queue, on the storage thread
 */
#ifndef DD_QUEUE_INT_H
#define DD_QUEUE_INT_H

#include <stdint.h>

#include "queue.h"
#include "store_int.h"

/*
 * Observers of outcomes, on the storage thread inside the transaction that
 * records the outcome: a return other than SQLITE_OK undoes the outcome
 * with everything the observers wrote. Registered before store_start().
 */
typedef int (*queue_observer_fn)(void *ctx, struct store *s, const struct queue_outcome *o);
void queue_observe(struct queue *q, queue_observer_fn fn, void *ctx);

/* queue_release - msg leaves the store if no recipient is open, no
 * dumpster item holds it and no failure without a report keeps it. */
int queue_release(struct store *s, uint64_t msg_id);

/* A recipient queued again by a resubmission request. */
struct queue_requeue {
    uint64_t msg_id;
    const char *sg;
    const char *dest; /* override text, or NULL */
    uint64_t request;
    int64_t now_ms;
};

/* queue_requeue - addr of r->msg_id pending again for request r->request
 * (a row of its own: requests never share one). */
int queue_requeue(struct queue *q, struct store *s, const struct queue_requeue *r,
                  const char *addr);

#endif
