/*
 * admin_sg.c - the storage groups: GET /v1/storage-groups[/{sg}], the
 * destination (GET and PUT .../{sg}/destination) and early release (POST
 * .../{sg}/replicated)
 *
 * A destination is parsed and made canonical by api_req_destination()
 * before the delivery scheduler stores it; the answer comes once it is
 * durable. Early release asks the dumpster, which answers with the number
 * of items it let go.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_int.h"
#include "api_req.h"
#include "delivery.h"
#include "dumpster.h"

struct admin_dest_op {
    struct admin_op op;
    char sg[DD_SG_NAME_MAX + 1];
    struct dest_req d;
};

struct admin_repl_op {
    struct admin_op op;
    char sg[DD_SG_NAME_MAX + 1];
    int64_t until_ms;
};

/* admin_sg_json - one storage group: bounds and destinations */
static json_t *admin_sg_json(struct admin *a, const struct conf_sg *g)
{
    json_t *j = json_object();
    const char *dest = delivery_route_get(a->deps.delivery, g->name);

    admin_json_set(j, "name", admin_json_str(g->name));
    admin_json_set(j, "destination", admin_json_str(dest != NULL ? dest : g->dest_text));
    admin_json_set(j, "configured_destination", admin_json_str(g->dest_text));
    admin_json_set(j, "max_bytes", admin_json_u64(g->max_size));
    admin_json_set(j, "max_age_seconds", admin_json_u64(g->max_age));
    return j;
}

/* admin_sg_list - GET /v1/storage-groups and /v1/storage-groups/{sg} */
void admin_sg_list(struct admin_call *c)
{
    const struct conf *cf = c->a->deps.conf;
    json_t *j, *arr;

    if (c->arg[0] != 0) {
        if (admin_sg_known(c, c->arg))
            admin_reply_json(c->req, 200, admin_sg_json(c->a, conf_sg_find(cf, c->arg)));
        return;
    }
    j = json_object();
    arr = json_array();
    for (size_t i = 0; i < cf->nsg; i++)
        json_array_append_new(arr, admin_sg_json(c->a, &cf->sg[i]));
    admin_json_set(j, "storage_groups", arr);
    admin_reply_json(c->req, 200, j);
}

/* admin_sg_dest_json - {storage_group, destination} as routed now */
static json_t *admin_sg_dest_json(struct admin *a, const char *sg, const char *fallback)
{
    json_t *j = json_object();
    const char *dest = delivery_route_get(a->deps.delivery, sg);

    admin_json_set(j, "storage_group", admin_json_str(sg));
    admin_json_set(j, "destination", admin_json_str(dest != NULL ? dest : fallback));
    return j;
}

/* admin_sg_dest_get - GET .../{sg}/destination */
void admin_sg_dest_get(struct admin_call *c)
{
    const struct conf_sg *g = conf_sg_find(c->a->deps.conf, c->arg);

    if (admin_sg_known(c, c->arg))
        admin_reply_json(c->req, 200, admin_sg_dest_json(c->a, c->arg, g->dest_text));
}

/* admin_sg_dest_stored - the new route is durable: answer */
static void admin_sg_dest_stored(void *ctx, enum store_rc rc)
{
    struct admin_dest_op *op = ctx;
    struct admin *a = admin_op_settle(&op->op, rc, "cannot store the destination");

    if (a != NULL)
        admin_op_reply(&op->op, 200, admin_sg_dest_json(a, op->sg, op->d.dest_text));
}

/* admin_sg_dest_put - PUT .../{sg}/destination {"destination": D} */
void admin_sg_dest_put(struct admin_call *c)
{
    struct admin_dest_op *op;
    struct api_error e;
    const char *body;
    size_t len;

    if (!admin_sg_known(c, c->arg) || admin_body(c, &body, &len) < 0)
        return;
    if ((op = admin_op_new(c, sizeof(*op))) == NULL)
        return;
    if (api_req_destination(body, len, &op->d, &e) < 0) {
        admin_op_error(&op->op, e.status, e.code, "%s", e.message);
        return;
    }
    snprintf(op->sg, sizeof(op->sg), "%s", c->arg);
    delivery_route_set(c->a->deps.delivery, op->sg, op->d.dest_text, admin_sg_dest_stored, op);
}

/* admin_sg_released - the dumpster let go: answer with how many */
static void admin_sg_released(void *ctx, uint64_t copies, uint64_t items, enum store_rc rc)
{
    struct admin_repl_op *op = ctx;
    json_t *j;

    if (admin_op_settle(&op->op, rc, "cannot release the items") == NULL)
        return;
    j = json_object();
    admin_json_set(j, "storage_group", admin_json_str(op->sg));
    admin_json_set(j, "until", admin_json_time(op->until_ms));
    admin_json_set(j, "released", admin_json_u64(items));
    admin_json_set(j, "released_copies", admin_json_u64(copies));
    admin_op_reply(&op->op, 200, j);
}

/* admin_sg_replicated - POST .../{sg}/replicated {"until": T} */
void admin_sg_replicated(struct admin_call *c)
{
    struct admin_repl_op *op;
    struct api_error e;
    const char *body;
    size_t len;
    int64_t until;

    if (!admin_sg_known(c, c->arg) || admin_body(c, &body, &len) < 0)
        return;
    if (api_req_replicated(body, len, &until, &e) < 0) {
        admin_reply_error(c->req, e.status, e.code, "%s", e.message);
        return;
    }
    if ((op = admin_op_new(c, sizeof(*op))) == NULL)
        return;
    snprintf(op->sg, sizeof(op->sg), "%s", c->arg);
    op->until_ms = until;
    dumpster_replicated(c->a->deps.dumpster, op->sg, until, admin_sg_released, op);
}
