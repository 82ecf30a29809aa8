/*
 * resubmit_query.c - reading and cancelling requests: resubmit_get(),
 * resubmit_list(), resubmit_cancel() (resubmit.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "resubmit_int.h"

struct rs_query {
    struct resubmit *rs;
    uint64_t id;
    bool outstanding, found;
    struct resubmit_info *infos;
    size_t n;
    enum resubmit_cancel_rc cancel;
    void (*get_fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc);
    void (*list_fn)(void *ctx, const struct resubmit_info *infos, size_t n, enum store_rc rc);
    void (*cancel_fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc);
    void *ctx;
};

/* rs_query_new - a zeroed query */
static struct rs_query *rs_query_new(struct resubmit *rs, uint64_t id, void *ctx)
{
    struct rs_query *g = resubmit_oom(calloc(1, sizeof(*g)));

    g->rs = rs;
    g->id = id;
    g->ctx = ctx;
    return g;
}

/* rs_get_work - storage thread */
static int rs_get_work(struct store *s, void *arg)
{
    struct rs_query *g = arg;
    struct resubmit_row row;
    int rc = resubmit_request_get(s, g->id, &row, &g->found);

    if (rc == SQLITE_OK && g->found) {
        g->infos = resubmit_oom(malloc(sizeof(*g->infos)));
        g->infos[0] = row.info;
        g->n = 1;
    }
    return rc;
}

/* rs_get_reply - loop */
static void rs_get_reply(void *arg, enum store_rc rc)
{
    struct rs_query *g = arg;

    g->get_fn(g->ctx, rc == STORE_OK && g->n ? g->infos : NULL, rc);
    free(g->infos);
    free(g);
}

/* resubmit_get - one request */
void resubmit_get(struct resubmit *rs, uint64_t id,
                  void (*fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc),
                  void *ctx)
{
    struct rs_query *g = rs_query_new(rs, id, ctx);

    g->get_fn = fn;
    store_call(rs->st, rs_get_work, rs_get_reply, g, false);
}

/* rs_list_work - storage thread */
static int rs_list_work(struct store *s, void *arg)
{
    struct rs_query *g = arg;

    return resubmit_request_list(s, g->outstanding, &g->infos, DD_RESUBMIT_LIST_MAX, &g->n);
}

/* rs_list_reply - loop */
static void rs_list_reply(void *arg, enum store_rc rc)
{
    struct rs_query *g = arg;

    g->list_fn(g->ctx, g->infos, rc == STORE_OK ? g->n : 0, rc);
    free(g->infos);
    free(g);
}

/* resubmit_list - requests, newest first */
void resubmit_list(struct resubmit *rs, bool outstanding_only,
                   void (*fn)(void *ctx, const struct resubmit_info *infos, size_t n,
                              enum store_rc rc),
                   void *ctx)
{
    struct rs_query *g = rs_query_new(rs, 0, ctx);

    g->outstanding = outstanding_only;
    g->list_fn = fn;
    store_call(rs->st, rs_list_work, rs_list_reply, g, false);
}

/* rs_cancel_work - storage thread */
static int rs_cancel_work(struct store *s, void *arg)
{
    struct rs_query *g = arg;
    struct resubmit_row row;
    bool changed;
    int rc = resubmit_request_cancel(s, g->id, clock_now_ms(), &changed);

    if (rc != SQLITE_OK)
        return rc;
    if (changed) {
        g->cancel = RESUBMIT_CANCELLED_OK;
        return resubmit_batch_post_counts(s, g->rs);
    }
    rc = resubmit_request_get(s, g->id, &row, &g->found);
    g->cancel = g->found ? RESUBMIT_ALREADY_DONE : RESUBMIT_NOT_FOUND;
    return rc;
}

/* rs_cancel_reply - loop */
static void rs_cancel_reply(void *arg, enum store_rc rc)
{
    struct rs_query *g = arg;

    if (rc == STORE_OK && g->cancel == RESUBMIT_CANCELLED_OK)
        log_info("dumpster", "resubmit request=%llu cancelled", (unsigned long long)g->id);
    g->cancel_fn(g->ctx, g->cancel, rc);
    free(g);
}

/* resubmit_cancel - stop a request */
void resubmit_cancel(struct resubmit *rs, uint64_t id,
                     void (*fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc), void *ctx)
{
    struct rs_query *g = rs_query_new(rs, id, ctx);

    g->cancel_fn = fn;
    store_call(rs->st, rs_cancel_work, rs_cancel_reply, g, true);
}
