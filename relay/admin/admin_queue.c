/*
 * admin_queue.c - what waits for delivery: GET /v1/queue[?storage_group=]
 * and POST /v1/queue/flush[?storage_group=]
 *
 * The listing is the store's (oldest first, at most ADMIN_QUEUE_LIST_MAX
 * messages, each with its recipients still pending); a flush makes the
 * pending recipients due now and wakes the delivery scheduler.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "api_req.h"
#include "delivery.h"
#include "queue.h"

struct admin_queue_op {
    struct admin_op op;
    bool all;
    char sg[DD_SG_NAME_MAX + 1];
};

/* admin_queue_sg - the storage_group parameter: 1 given, 0 absent, -1 sent */
static int admin_queue_sg(struct admin_call *c, char *sg, size_t cap)
{
    int r = admin_query_param(c, "storage_group", sg, cap);

    if (r <= 0)
        return r;
    return admin_sg_known(c, sg) ? 1 : -1;
}

/* admin_queue_rcpt - one recipient still waiting */
static json_t *admin_queue_rcpt(const struct queue_entry_rcpt *r)
{
    json_t *j = json_object();

    admin_json_set(j, "address", admin_json_str(r->addr));
    admin_json_set(j, "storage_group", r->sg[0] ? admin_json_str(r->sg) : json_null());
    admin_json_set(j, "route", json_string(r->sg[0] ? "storage_group" : "smarthost"));
    admin_json_set(j, "state", json_string(queue_state_name(r->state)));
    admin_json_set(j, "request", r->request != 0 ? admin_json_u64(r->request) : json_null());
    admin_json_set(j, "attempts", json_integer(r->attempts));
    admin_json_set(j, "next_attempt", admin_json_time_or_null(r->next_attempt_ms));
    admin_json_set(j, "last_reply", admin_json_str_or_null(r->last_reply));
    return j;
}

/* admin_queue_msg - one message with its waiting recipients */
static json_t *admin_queue_msg(const struct queue_entry *e)
{
    json_t *j = json_object(), *rcpts = json_array();

    admin_json_set(j, "queue_id", admin_json_str(e->queue_id));
    admin_json_set(j, "sender", admin_json_str(e->sender));
    admin_json_set(j, "size", admin_json_u64(e->size));
    admin_json_set(j, "received", admin_json_time(e->received_ms));
    uint64_t request = 0; /* the message's request: the first recipient's that has one */
    for (size_t i = 0; i < e->nrcpts && request == 0; i++)
        request = e->rcpts[i].request;
    admin_json_set(j, "request", request != 0 ? admin_json_u64(request) : json_null());
    for (size_t i = 0; i < e->nrcpts; i++)
        json_array_append_new(rcpts, admin_queue_rcpt(&e->rcpts[i]));
    admin_json_set(j, "recipients", rcpts);
    return j;
}

/* admin_queue_listed - the store's listing came */
static void admin_queue_listed(void *ctx, const struct queue_entry *e, size_t n, enum store_rc rc)
{
    struct admin_queue_op *op = ctx;
    json_t *j, *arr;

    if (admin_op_settle(&op->op, rc, "cannot list the queue") == NULL)
        return;
    j = json_object();
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, admin_queue_msg(&e[i]));
    admin_json_set(j, "storage_group", op->all ? json_null() : admin_json_str(op->sg));
    admin_json_set(j, "count", json_integer((json_int_t)n));
    admin_json_set(j, "truncated", json_boolean(n >= ADMIN_QUEUE_LIST_MAX));
    admin_json_set(j, "messages", arr);
    admin_op_reply(&op->op, 200, j);
}

/* admin_queue_op_for - the operation of a call with its ?storage_group=;
 * NULL when the call was answered already (bad parameter, no memory) */
static struct admin_queue_op *admin_queue_op_for(struct admin_call *c)
{
    struct admin_queue_op *op;
    char sg[DD_SG_NAME_MAX + 1];
    int r = admin_queue_sg(c, sg, sizeof(sg));

    if (r < 0 || (op = admin_op_new(c, sizeof(*op))) == NULL)
        return NULL;
    op->all = r == 0;
    snprintf(op->sg, sizeof(op->sg), "%s", r ? sg : "");
    return op;
}

/* admin_queue_list - GET /v1/queue[?storage_group=SG] */
void admin_queue_list(struct admin_call *c)
{
    struct admin_queue_op *op = admin_queue_op_for(c);

    if (op == NULL)
        return;
    queue_list(c->a->deps.queue, op->all ? NULL : op->sg, ADMIN_QUEUE_LIST_MAX, admin_queue_listed,
               op);
}

/* admin_queue_flushed - how many were made due; wake delivery */
static void admin_queue_flushed(void *ctx, uint64_t n)
{
    struct admin_queue_op *op = ctx;
    struct admin *a = admin_op_settle(&op->op, STORE_OK, "");
    json_t *j;

    if (a == NULL)
        return;
    delivery_kick(a->deps.delivery);
    j = json_object();
    admin_json_set(j, "storage_group", op->all ? json_null() : admin_json_str(op->sg));
    admin_json_set(j, "flushed", admin_json_u64(n));
    admin_op_reply(&op->op, 200, j);
}

/* admin_queue_flush - POST /v1/queue/flush[?storage_group=SG] */
void admin_queue_flush(struct admin_call *c)
{
    struct admin_queue_op *op = admin_queue_op_for(c);

    if (op == NULL)
        return;
    queue_flush(c->a->deps.queue, op->all ? NULL : op->sg, false, admin_queue_flushed, op);
}
