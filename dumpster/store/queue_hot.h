/*
 * queue_hot.h - the content of messages just committed, kept in memory for
 * their first delivery (queue_hot.c; the queue's own, on the loop)
 */
#ifndef DD_QUEUE_HOT_H
#define DD_QUEUE_HOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct event_base;
struct evbuffer;
struct queue_hot;

typedef void (*queue_hot_fn)(void *ctx, struct evbuffer *content, enum store_rc rc);

/* queue_hot_new - an empty cache (NULL: out of memory) */
struct queue_hot *queue_hot_new(struct event_base *base);

/* queue_hot_keep - the whole content of committed message msg_id; the
 * cache owns data from now on (it frees it when it has no room for it) */
void queue_hot_keep(struct queue_hot *h, uint64_t msg_id, void *data, size_t len);

/* queue_hot_take - the content of msg_id if it is kept with size octets:
 * it leaves the cache and fn(ctx, content, STORE_OK) follows on the next
 * turn of the loop (true); false: not kept, ask the store */
bool queue_hot_take(struct queue_hot *h, uint64_t msg_id, uint64_t size, queue_hot_fn fn,
                    void *ctx);

/* queue_hot_stop - at a stop: waiting callers get STORE_E_IO now, and
 * nothing is taken from the cache any more */
void queue_hot_stop(struct queue_hot *h);

/* queue_hot_free - the cache and what it keeps (after queue_hot_stop); NULL */
struct queue_hot *queue_hot_free(struct queue_hot *h);

#endif
