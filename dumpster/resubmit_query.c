/*
 * resubmit_query.c - resubmission requests read and cancelled through the
 * admin API: get one, list them, cancel one (resubmit_get(),
 * resubmit_list(), resubmit_cancel() of dumpster.h)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dumpster_int.h"
#include "log.h"
#include "resubmit_int.h"

struct rs_get {
    uint64_t id;
    bool outstanding;
    struct resubmit_info *infos;
    size_t n;
    bool found;
    void (*get_fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc);
    void (*list_fn)(void *ctx, const struct resubmit_info *infos, size_t n, enum store_rc rc);
    void (*cancel_fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc);
    enum resubmit_cancel_rc cancel;
    void *ctx;
};

/* rs_get_work - storage thread */
static int rs_get_work(struct store *s, void *arg)
{
    struct rs_get *g = arg;
    struct rs_row row;
    int rc = rs_load_id(s, g->id, &row, &g->found);

    if (rc == SQLITE_OK && g->found && (g->infos = malloc(sizeof(*g->infos))) != NULL) {
        g->infos[0] = row.info;
        g->n = 1;
    }
    return rc;
}

/* rs_get_reply - loop */
static void rs_get_reply(void *arg, enum store_rc rc)
{
    struct rs_get *g = arg;

    g->get_fn(g->ctx, rc == STORE_OK && g->n ? g->infos : NULL, rc);
    free(g->infos);
    free(g);
}

/* rs_new_get - a zeroed request context */
static struct rs_get *rs_new_get(uint64_t id, void *ctx)
{
    struct rs_get *g = calloc(1, sizeof(*g));

    if (g == NULL) {
        log_err("dumpster", "out of memory");
        abort();
    }
    g->id = id;
    g->ctx = ctx;
    return g;
}

/* resubmit_get - one request */
void resubmit_get(struct dumpster *d, uint64_t id,
                  void (*fn)(void *ctx, const struct resubmit_info *info, enum store_rc rc),
                  void *ctx)
{
    struct rs_get *g = rs_new_get(id, ctx);

    g->get_fn = fn;
    store_call(dumpster_store(d), rs_get_work, rs_get_reply, g, false);
}

static const char *const sql_list_all =
    "SELECT id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason,"
    " force, state, created, updated, cursor_time, cursor_msg, matched, queued, delivered,"
    " failed, skipped_duplicate, cov_complete, cov_oldest, cov_evicted FROM resubmit_request"
    " ORDER BY id DESC LIMIT ?";
static const char *const sql_list_open =
    "SELECT id, sg, start, end, match, dest, dest_eff, sender, recipient, message_id, reason,"
    " force, state, created, updated, cursor_time, cursor_msg, matched, queued, delivered,"
    " failed, skipped_duplicate, cov_complete, cov_oldest, cov_evicted FROM resubmit_request"
    " WHERE state IN (0, 1) ORDER BY id DESC LIMIT ?";

/* rs_list_work - storage thread */
static int rs_list_work(struct store *s, void *arg)
{
    struct rs_get *g = arg;
    sqlite3_stmt *st = store_prep(s, g->outstanding ? sql_list_open : sql_list_all);
    struct rs_row row;
    int rc;

    if (st == NULL || (g->infos = calloc(DD_RESUBMIT_LIST_MAX, sizeof(*g->infos))) == NULL)
        return st == NULL ? SQLITE_ERROR : SQLITE_NOMEM;
    sqlite3_bind_int(st, 1, DD_RESUBMIT_LIST_MAX);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW && g->n < DD_RESUBMIT_LIST_MAX) {
        rs_read_row(st, &row);
        g->infos[g->n++] = row.info;
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* rs_list_reply - loop */
static void rs_list_reply(void *arg, enum store_rc rc)
{
    struct rs_get *g = arg;

    g->list_fn(g->ctx, g->infos, rc == STORE_OK ? g->n : 0, rc);
    free(g->infos);
    free(g);
}

/* resubmit_list - requests, newest first */
void resubmit_list(struct dumpster *d, bool outstanding_only,
                   void (*fn)(void *ctx, const struct resubmit_info *infos, size_t n,
                              enum store_rc rc),
                   void *ctx)
{
    struct rs_get *g = rs_new_get(0, ctx);

    g->outstanding = outstanding_only;
    g->list_fn = fn;
    store_call(dumpster_store(d), rs_list_work, rs_list_reply, g, false);
}

static const char *const sql_cancel =
    "UPDATE resubmit_request SET state = 3, updated = ? WHERE id = ? AND state IN (0, 1)";

/* rs_cancel_work - storage thread */
static int rs_cancel_work(struct store *s, void *arg)
{
    struct rs_get *g = arg;
    sqlite3_stmt *st = store_prep(s, sql_cancel);
    struct rs_row row;
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, rs_now_ms());
    sqlite3_bind_int64(st, 2, (sqlite3_int64)g->id);
    if ((rc = rs_step(st)) != SQLITE_OK)
        return rc;
    if (sqlite3_changes(store_db(s)) == 1) {
        g->cancel = RESUBMIT_CANCELLED_OK;
        return resubmit_post_counts(s);
    }
    rc = rs_load_id(s, g->id, &row, &g->found);
    g->cancel = g->found ? RESUBMIT_ALREADY_DONE : RESUBMIT_NOT_FOUND;
    return rc;
}

/* rs_cancel_reply - loop */
static void rs_cancel_reply(void *arg, enum store_rc rc)
{
    struct rs_get *g = arg;

    if (rc == STORE_OK && g->cancel == RESUBMIT_CANCELLED_OK)
        log_info("dumpster", "resubmit request=%llu cancelled", (unsigned long long)g->id);
    g->cancel_fn(g->ctx, g->cancel, rc);
    free(g);
}

/* resubmit_cancel - stop a request */
void resubmit_cancel(struct dumpster *d, uint64_t id,
                     void (*fn)(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc), void *ctx)
{
    struct rs_get *g = rs_new_get(id, ctx);

    g->cancel_fn = fn;
    store_call(dumpster_store(d), rs_cancel_work, rs_cancel_reply, g, true);
}

/* resubmit_state_name - for JSON and metrics */
const char *resubmit_state_name(enum resubmit_state s)
{
    static const char *const names[] = {"pending", "running", "done", "cancelled"};

    return (unsigned)s < 4 ? names[s] : "unknown";
}
