/*
 * dumpster_store.c - keeping, evicting, expiring and releasing copies
 * (dumpster_store.h)
 *
 * Storage thread only, over the owners of the dumpster tables. A delivered
 * message enters its group's dumpster once: the first delivered recipient
 * makes the item (evicting the oldest items until it fits under max_size),
 * later ones add their rows. The item holds the message's content
 * (message_hold) until it leaves; whatever leaves is remembered, without
 * its content, in dumpster_gone for coverage reports. Log lines wait for
 * the commit of their transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dumpster_item.h"
#include "dumpster_ledger.h"
#include "dumpster_rcpt.h"
#include "dumpster_sg.h"
#include "dumpster_store.h"
#include "message.h"
#include "queue_int.h"

/* dumpster_bound_cmp - by name */
static int dumpster_bound_cmp(const void *a, const void *b)
{
    return strcmp(((const struct dumpster_bound *)a)->sg, ((const struct dumpster_bound *)b)->sg);
}

/* dumpster_store_bounds - replace the core's bounds (sorted here) */
void dumpster_store_bounds(struct dumpster_core *c, struct dumpster_bound *b, size_t n)
{
    qsort(b, n, sizeof(*b), dumpster_bound_cmp);
    free(c->b);
    c->b = b;
    c->nb = n;
}

/* dumpster_store_bound - a group's bounds by binary search */
const struct dumpster_bound *dumpster_store_bound(const struct dumpster_core *c, const char *sg)
{
    struct dumpster_bound key;

    snprintf(key.sg, sizeof(key.sg), "%s", sg);
    return c->nb ? bsearch(&key, c->b, c->nb, sizeof(key), dumpster_bound_cmp) : NULL;
}

/* dumpster_store_send - counters to the loop (a copy) */
static int dumpster_store_send(struct dumpster_core *c, struct store *s,
                               const struct dumpster_stats *now)
{
    struct dumpster_stats *p = malloc(sizeof(*p));

    if (p == NULL)
        return SQLITE_NOMEM;
    *p = *now;
    store_post(s, c->post, c->post_ctx, p);
    return SQLITE_OK;
}

/* dumpster_store_post - counters of sg to the loop */
int dumpster_store_post(struct dumpster_core *c, struct store *s, const char *sg)
{
    struct dumpster_stats now;
    int rc = dumpster_sg_read(s, sg, &now);

    return rc == SQLITE_OK ? dumpster_store_send(c, s, &now) : rc;
}

/* dumpster_store_count - counters after an item came or went */
static int dumpster_store_count(struct store *s, const char *sg, int64_t ditems, int64_t dbytes)
{
    struct dumpster_item_row oldest;
    bool found;
    int rc = dumpster_item_oldest(s, sg, 0, &oldest, &found);

    if (rc != SQLITE_OK)
        return rc;
    return dumpster_sg_add(s, sg, ditems, dbytes, found ? oldest.received_ms : 0);
}

struct dumpster_gone_ctx {
    struct store *s;
    const char *sg;
    const struct dumpster_item_row *it;
    enum dumpster_reason reason;
    size_t n;
};

/* dumpster_gone_row - one copy of an item that leaves */
static int dumpster_gone_row(void *ctx, const struct dumpster_rcpt_row *r)
{
    struct dumpster_gone_ctx *g = ctx;

    g->n++;
    return dumpster_gone_add(g->s, g->sg, g->it->msg, g->it->received_ms, r->delivered_ms,
                             g->reason);
}

/* dumpster_store_drop - an item leaves: counters, its hold on the content */
static int dumpster_store_drop(struct store *s, const char *sg, const struct dumpster_item_row *it,
                               enum dumpster_reason reason)
{
    int rc = dumpster_ledger_drop(s, sg, it->msg, NULL);

    if (rc == SQLITE_OK)
        rc = dumpster_rcpt_delete(s, sg, it->msg, NULL);
    if (rc == SQLITE_OK)
        rc = dumpster_item_delete(s, sg, it->msg);
    if (rc == SQLITE_OK)
        rc = dumpster_sg_count_gone(s, sg, reason);
    if (rc == SQLITE_OK)
        rc = dumpster_store_count(s, sg, -1, -(int64_t)it->size);
    if (rc == SQLITE_OK)
        rc = message_hold(s, it->msg, -1);
    if (rc == SQLITE_OK)
        rc = queue_release(s, it->msg);
    if (rc == SQLITE_OK)
        store_log(s, "dumpster", "%s: dumpster sg=%s evicted reason=%s", it->queue_id, sg,
                  dumpster_reason_name(reason));
    return rc;
}

/* dumpster_store_evict - an item and every copy it holds leave */
static int dumpster_store_evict(struct store *s, const char *sg, const struct dumpster_item_row *it,
                                enum dumpster_reason reason)
{
    struct dumpster_gone_ctx g = {s, sg, it, reason, 0};
    int rc = dumpster_rcpt_of_item(s, sg, it->msg, dumpster_gone_row, &g);

    if (rc == SQLITE_OK && g.n == 0) /* an item without rows still counts once */
        rc = dumpster_gone_add(s, sg, it->msg, it->received_ms, it->received_ms, reason);
    return rc == SQLITE_OK ? dumpster_store_drop(s, sg, it, reason) : rc;
}

/* dumpster_store_evict_oldest - the item received first but for except; *found */
static int dumpster_store_evict_oldest(struct store *s, const char *sg, uint64_t except,
                                       enum dumpster_reason reason, bool *found)
{
    struct dumpster_item_row it;
    int rc = dumpster_item_oldest(s, sg, except, &it, found);

    return rc == SQLITE_OK && *found ? dumpster_store_evict(s, sg, &it, reason) : rc;
}

/* dumpster_store_shrink - a new item came in: evict the oldest others
 * until the group is back under max_bytes; *now follows */
static int dumpster_store_shrink(struct store *s, const char *sg, uint64_t max_bytes,
                                 uint64_t except, struct dumpster_stats *now)
{
    bool found = true;
    int rc = SQLITE_OK;

    while (rc == SQLITE_OK && found && now->bytes > max_bytes)
        if ((rc = dumpster_store_evict_oldest(s, sg, except, DUMPSTER_SIZE, &found)) == SQLITE_OK)
            rc = dumpster_sg_read(s, sg, now);
    return rc;
}

/* dumpster_store_add_rcpts - the delivered recipients of o as rows */
static int dumpster_store_add_rcpts(struct store *s, const struct queue_outcome *o)
{
    int rc = SQLITE_OK;

    for (size_t i = 0; i < o->nrcpts && rc == SQLITE_OK; i++)
        if (o->rcpts[i].fate == QUEUE_DELIVERED)
            rc = dumpster_rcpt_add(s, o->sg, o->msg_id, o->rcpts[i].addr, o->now_ms);
    return rc;
}

/* dumpster_store_not_kept - too large for the group: counted, remembered */
static int dumpster_store_not_kept(struct store *s, const struct queue_outcome *o,
                                   const struct message_row *m)
{
    int rc = dumpster_sg_ensure(s, o->sg);

    if (rc == SQLITE_OK)
        rc = dumpster_sg_count_gone(s, o->sg, DUMPSTER_TOO_LARGE);
    for (size_t i = 0; i < o->nrcpts && rc == SQLITE_OK; i++)
        if (o->rcpts[i].fate == QUEUE_DELIVERED)
            rc = dumpster_gone_add(s, o->sg, o->msg_id, m->received_ms, o->now_ms,
                                   DUMPSTER_TOO_LARGE);
    if (rc == SQLITE_OK)
        store_log(s, "dumpster", "%s: dumpster sg=%s not kept reason=too_large", m->queue_id,
                  o->sg);
    return rc;
}

/* dumpster_store_insert - a new item; the oldest others evicted until it fits */
static int dumpster_store_insert(struct dumpster_core *c, struct store *s,
                                 const struct queue_outcome *o, const struct dumpster_bound *b)
{
    struct message_row m;
    struct dumpster_item_row it = {.msg = o->msg_id};
    struct dumpster_stats now;
    bool found;
    int rc = message_get(s, o->msg_id, &m, &found);

    if (rc != SQLITE_OK || !found)
        return rc; /* gone already: nothing to keep */
    if (m.size > b->max_bytes) {
        rc = dumpster_store_not_kept(s, o, &m);
        return rc == SQLITE_OK ? dumpster_store_post(c, s, o->sg) : rc;
    }
    snprintf(it.queue_id, sizeof(it.queue_id), "%s", m.queue_id);
    snprintf(it.message_id, sizeof(it.message_id), "%s", m.message_id);
    snprintf(it.sender, sizeof(it.sender), "%s", m.sender);
    it.size = m.size;
    it.received_ms = m.received_ms;
    if ((rc = dumpster_item_insert(s, o->sg, &it)) == SQLITE_OK &&
        (rc = dumpster_store_add_rcpts(s, o)) == SQLITE_OK &&
        (rc = message_hold(s, o->msg_id, 1)) == SQLITE_OK &&
        (rc = dumpster_sg_enter(s, o->sg, m.size, m.received_ms, &now)) == SQLITE_OK)
        rc = dumpster_store_shrink(s, o->sg, b->max_bytes, o->msg_id, &now);
    if (rc != SQLITE_OK)
        return rc;
    store_log(s, "dumpster", "%s: dumpster sg=%s kept", m.queue_id, o->sg);
    return dumpster_store_send(c, s, &now);
}

/* dumpster_store_keep - observer of the queue's outcomes */
int dumpster_store_keep(void *ctx, struct store *s, const struct queue_outcome *o)
{
    struct dumpster_core *c = ctx;
    const struct dumpster_bound *b;
    struct dumpster_item_row it;
    bool delivered = false, found;
    int rc;

    if (o->request != 0 || o->resent || o->route != RCPT_ROUTE_SG)
        return SQLITE_OK; /* resent: one item already (here or in a shadow dumpster); bounces
                             are not kept */
    for (size_t i = 0; i < o->nrcpts; i++)
        delivered |= o->rcpts[i].fate == QUEUE_DELIVERED;
    if (!delivered || (b = dumpster_store_bound(c, o->sg)) == NULL)
        return SQLITE_OK;
    if ((rc = dumpster_item_get(s, o->sg, o->msg_id, &it, &found)) != SQLITE_OK)
        return rc;
    return found ? dumpster_store_add_rcpts(s, o) : dumpster_store_insert(c, s, o, b);
}

/* dumpster_store_enforce - expire by age, then by size (bounds may have
 * shrunk in a reload), at most DD_EXPIRE_PER_TICK items per call */
int dumpster_store_enforce(struct dumpster_core *c, struct store *s, const struct dumpster_bound *b,
                           int64_t now_ms)
{
    struct dumpster_stats now;
    int64_t cutoff = now_ms - (int64_t)b->max_age_s * 1000;
    bool changed = false, found = true;
    int rc = dumpster_sg_read(s, b->sg, &now);

    for (int n = 0; rc == SQLITE_OK && found && now.items > 0 && n < DD_EXPIRE_PER_TICK; n++) {
        if (now.oldest_received_ms > cutoff && now.bytes <= b->max_bytes)
            break;
        enum dumpster_reason why = now.oldest_received_ms <= cutoff ? DUMPSTER_AGE : DUMPSTER_SIZE;
        if ((rc = dumpster_store_evict_oldest(s, b->sg, 0, why, &found)) == SQLITE_OK)
            rc = dumpster_sg_read(s, b->sg, &now);
        changed |= found;
    }
    return rc == SQLITE_OK && changed ? dumpster_store_post(c, s, b->sg) : rc;
}

/* dumpster_store_release_one - one copy released; its item when it was the last */
static int dumpster_store_release_one(struct store *s, const char *sg,
                                      const struct dumpster_rcpt_row *r, uint64_t *items)
{
    struct dumpster_item_row it;
    int64_t left = 0;
    bool found;
    int rc = dumpster_item_get(s, sg, r->msg, &it, &found);

    if (rc == SQLITE_OK && !found)
        return dumpster_rcpt_delete(s, sg, r->msg, r->rcpt); /* a row without its item */
    if (rc == SQLITE_OK)
        rc = dumpster_gone_add(s, sg, r->msg, it.received_ms, r->delivered_ms, DUMPSTER_REPLICATED);
    if (rc == SQLITE_OK)
        rc = dumpster_ledger_drop(s, sg, r->msg, r->rcpt);
    if (rc == SQLITE_OK)
        rc = dumpster_rcpt_delete(s, sg, r->msg, r->rcpt);
    if (rc == SQLITE_OK)
        rc = dumpster_rcpt_count(s, sg, r->msg, &left);
    if (rc != SQLITE_OK || left > 0)
        return rc;
    (*items)++;
    return dumpster_store_drop(s, sg, &it, DUMPSTER_REPLICATED);
}

/* dumpster_store_release - early release: every copy delivered before until_ms */
int dumpster_store_release(struct dumpster_core *c, struct store *s, const char *sg,
                           int64_t until_ms, uint64_t *copies, uint64_t *items)
{
    struct dumpster_rcpt_row r;
    bool found = true;
    int rc = dumpster_sg_ensure(s, sg);

    *copies = *items = 0;
    while (rc == SQLITE_OK && found) {
        rc = dumpster_rcpt_first_before(s, sg, until_ms, &r, &found);
        if (rc == SQLITE_OK && found && (rc = dumpster_store_release_one(s, sg, &r, items)) == 0)
            (*copies)++;
    }
    if (rc == SQLITE_OK)
        rc = dumpster_sg_replicated(s, sg, until_ms);
    return rc == SQLITE_OK ? dumpster_store_post(c, s, sg) : rc;
}
