/*
 * route.c - the route table: runtime storage group destinations (route.h)
 *
 * The only file that writes it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "route.h"
#include "store_int.h"

struct route_op {
    struct route r;
    struct route *rows;
    size_t n;
    void (*load_fn)(void *ctx, const struct route *r, size_t n, enum store_rc rc);
    void (*save_fn)(void *ctx, enum store_rc rc);
    void *ctx;
};

static const char *const sql_load = "SELECT sg, dest, conf_dest FROM route ORDER BY sg";
static const char *const sql_save =
    "INSERT OR REPLACE INTO route(sg, dest, conf_dest) VALUES (?, ?, ?)";
static const char *const sql_drop = "DELETE FROM route WHERE sg = ?";

/* route_op_new - a zeroed operation */
static struct route_op *route_op_new(void *ctx)
{
    struct route_op *op = calloc(1, sizeof(*op));

    if (op == NULL) {
        log_err("route", "out of memory");
        abort();
    }
    op->ctx = ctx;
    return op;
}

/* route_load_row - one stored route */
static int route_load_row(void *ctx, sqlite3_stmt *st)
{
    struct route_op *op = ctx;
    struct route *r = realloc(op->rows, (op->n + 1) * sizeof(*r));

    if (r == NULL)
        return SQLITE_NOMEM;
    op->rows = r;
    r += op->n++;
    store_col_text(st, 0, r->sg, sizeof(r->sg));
    store_col_text(st, 1, r->dest, sizeof(r->dest));
    store_col_text(st, 2, r->conf_dest, sizeof(r->conf_dest));
    return SQLITE_OK;
}

/* route_load_work - storage thread */
static int route_load_work(struct store *s, void *arg)
{
    return store_each(s, store_prep(s, sql_load), route_load_row, arg);
}

/* route_load_reply - loop */
static void route_load_reply(void *arg, enum store_rc rc)
{
    struct route_op *op = arg;

    op->load_fn(op->ctx, op->rows, rc == STORE_OK ? op->n : 0, rc);
    free(op->rows);
    free(op);
}

/* route_load - every stored route */
void route_load(struct store *s,
                void (*fn)(void *ctx, const struct route *r, size_t n, enum store_rc rc), void *ctx)
{
    struct route_op *op = route_op_new(ctx);

    op->load_fn = fn;
    store_call(s, route_load_work, route_load_reply, op, false);
}

/* route_save_work - storage thread: save (dest set) or drop (dest "") */
static int route_save_work(struct store *s, void *arg)
{
    struct route_op *op = arg;

    if (op->r.dest[0] == 0)
        return store_do(s, sql_drop, "t", op->r.sg);
    return store_do(s, sql_save, "ttt", op->r.sg, op->r.dest, op->r.conf_dest);
}

/* route_save_reply - loop */
static void route_save_reply(void *arg, enum store_rc rc)
{
    struct route_op *op = arg;

    if (op->save_fn)
        op->save_fn(op->ctx, rc);
    free(op);
}

/* route_save - store a route */
void route_save(struct store *s, const struct route *r, void (*fn)(void *ctx, enum store_rc rc),
                void *ctx)
{
    struct route_op *op = route_op_new(ctx);

    op->r = *r;
    op->save_fn = fn;
    store_call(s, route_save_work, route_save_reply, op, true);
}

/* route_drop - forget a group's route */
void route_drop(struct store *s, const char *sg)
{
    struct route_op *op = route_op_new(NULL);

    snprintf(op->r.sg, sizeof(op->r.sg), "%s", sg);
    store_call(s, route_save_work, route_save_reply, op, true);
}
