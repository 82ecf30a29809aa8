/*
 * queue_hot.c - the content of messages just committed, kept in memory for
 * their first delivery (queue_hot.h)
 *
 * A message that fits one chunk reaches the storage thread whole with its
 * commit. Its first delivery usually follows within milliseconds; reading
 * it back would wait for the storage thread, behind the next group commit
 * and its fsync. So the queue keeps that content after the commit, in a
 * ring bounded by DD_QUEUE_HOT_MAX entries and DD_QUEUE_HOT_BYTES octets
 * (the oldest goes first), and the first queue_content of the message takes
 * it from here. The store keeps the same octets; every later read (another
 * storage group, a retry, a resubmission, after a restart) goes there.
 * Loop thread only.
 */
#include <stdlib.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "bounds.h"
#include "queue_hot.h"

struct hot_entry {
    uint64_t msg_id; /* 0: an empty slot (taken) */
    void *data;
    size_t len;
};

/* A taken content, handed to its caller on the next turn of the loop. */
struct hot_wait {
    TAILQ_ENTRY(hot_wait) link;
    struct evbuffer *content;
    queue_hot_fn fn;
    void *ctx;
};
TAILQ_HEAD(hot_wait_list, hot_wait);

struct queue_hot {
    struct hot_entry ring[DD_QUEUE_HOT_MAX];
    size_t head, n; /* the oldest slot; slots in use (taken ones too) */
    size_t bytes;
    struct hot_wait_list waiting;
    struct event *ev;
    bool stopped;
};

/* hot_evict_oldest - the oldest slot goes */
static void hot_evict_oldest(struct queue_hot *h)
{
    struct hot_entry *e = &h->ring[h->head];

    h->bytes -= e->len;
    free(e->data);
    *e = (struct hot_entry){0};
    h->head = (h->head + 1) % DD_QUEUE_HOT_MAX;
    h->n--;
}

/* hot_hand_out - the loop's turn: every waiting caller gets its content */
static void hot_hand_out(evutil_socket_t fd, short what, void *arg)
{
    struct queue_hot *h = arg;
    struct hot_wait *w;

    (void)fd;
    (void)what;
    while ((w = TAILQ_FIRST(&h->waiting)) != NULL) {
        TAILQ_REMOVE(&h->waiting, w, link);
        w->fn(w->ctx, w->content, STORE_OK);
        free(w);
    }
}

struct queue_hot *queue_hot_new(struct event_base *base)
{
    struct queue_hot *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return NULL;
    TAILQ_INIT(&h->waiting);
    if ((h->ev = event_new(base, -1, 0, hot_hand_out, h)) == NULL) {
        free(h);
        return NULL;
    }
    return h;
}

void queue_hot_keep(struct queue_hot *h, uint64_t msg_id, void *data, size_t len)
{
    if (h->stopped || len > DD_QUEUE_HOT_BYTES) {
        free(data);
        return;
    }
    while (h->n > 0 && (h->n == DD_QUEUE_HOT_MAX || h->bytes + len > DD_QUEUE_HOT_BYTES))
        hot_evict_oldest(h);
    h->ring[(h->head + h->n) % DD_QUEUE_HOT_MAX] =
        (struct hot_entry){.msg_id = msg_id, .data = data, .len = len};
    h->n++;
    h->bytes += len;
}

/* hot_free_data - evbuffer cleanup: the content was the cache's */
static void hot_free_data(const void *data, size_t len, void *arg)
{
    (void)len;
    (void)arg;
    free((void *)data);
}

bool queue_hot_take(struct queue_hot *h, uint64_t msg_id, uint64_t size, queue_hot_fn fn, void *ctx)
{
    for (size_t i = h->n; i > 0 && !h->stopped; i--) { /* newest first */
        struct hot_entry *e = &h->ring[(h->head + i - 1) % DD_QUEUE_HOT_MAX];
        if (e->msg_id != msg_id)
            continue;
        if (e->len != size)
            return false;
        struct hot_wait *w = calloc(1, sizeof(*w));
        struct evbuffer *b = w ? evbuffer_new() : NULL;
        if (b == NULL || evbuffer_add_reference(b, e->data, e->len, hot_free_data, NULL) < 0) {
            if (b)
                evbuffer_free(b);
            free(w);
            return false; /* out of memory: the store has it */
        }
        h->bytes -= e->len;
        *e = (struct hot_entry){0};
        w->content = b;
        w->fn = fn;
        w->ctx = ctx;
        TAILQ_INSERT_TAIL(&h->waiting, w, link);
        event_active(h->ev, EV_READ, 0);
        return true;
    }
    return false;
}

void queue_hot_stop(struct queue_hot *h)
{
    struct hot_wait *w;

    if (h == NULL)
        return;
    h->stopped = true;
    event_del(h->ev);
    while ((w = TAILQ_FIRST(&h->waiting)) != NULL) {
        TAILQ_REMOVE(&h->waiting, w, link);
        evbuffer_free(w->content);
        w->fn(w->ctx, NULL, STORE_E_IO);
        free(w);
    }
}

struct queue_hot *queue_hot_free(struct queue_hot *h)
{
    if (h == NULL)
        return NULL;
    queue_hot_stop(h);
    while (h->n > 0)
        hot_evict_oldest(h);
    event_free(h->ev);
    free(h);
    return NULL;
}
