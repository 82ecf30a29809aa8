/*
 * admin_resubmit.c - resubmission requests: POST /v1/resubmit, GET
 * /v1/resubmit[?state=outstanding], GET and DELETE /v1/resubmit/{id}
 *
 * A request body is decoded strictly by api_req_resubmit() (400 for bad
 * JSON, times, ranges and unknown fields; 413 past the body bound), its
 * storage group must be configured (404), then the dumpster stores it and
 * answers 202 with the request, or 200 with the preview of a dry run.
 * Every answer about a request carries its coverage, so the operator
 * learns when items of the range were already evicted.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "admin_int.h"
#include "api_req.h"
#include "resubmit.h"

/* Decimal digits of a request id (UINT64_MAX has 20). */
#define ADMIN_ID_DIGITS_MAX 20

struct admin_rs_op {
    struct admin_op op;
    uint64_t id;
    bool cancelled; /* DELETE: the cancel went through, this is the read-back */
    struct resubmit_req req;
};

/* admin_rs_id - the {id} of the path; false (404 sent) when it is none */
static bool admin_rs_id(struct admin_call *c, uint64_t *id)
{
    size_t n = strlen(c->arg);
    char *end;

    errno = 0;
    if (n == 0 || n > ADMIN_ID_DIGITS_MAX || strspn(c->arg, "0123456789") != n ||
        (*id = strtoull(c->arg, &end, 10)) == 0 || errno != 0) {
        admin_reply_error(c->req, 404, "unknown_request", "no request \"%.32s\"", c->arg);
        return false;
    }
    return true;
}

/* admin_rs_coverage - {complete, oldest_available, evicted_in_range} */
static json_t *admin_rs_coverage(const struct resubmit_coverage *cv)
{
    json_t *j = json_object();

    admin_json_set(j, "complete", json_boolean(cv->complete));
    admin_json_set(j, "oldest_available", admin_json_time_or_null(cv->oldest_available_ms));
    admin_json_set(j, "evicted_in_range", admin_json_u64(cv->evicted_in_range));
    return j;
}

/* admin_rs_req_fields - what was asked, into j */
static void admin_rs_req_fields(json_t *j, const struct resubmit_req *r)
{
    admin_json_set(j, "storage_group", admin_json_str(r->storage_group));
    admin_json_set(j, "start", admin_json_time(r->start_ms));
    admin_json_set(j, "end", admin_json_time(r->end_ms));
    admin_json_set(j, "match", json_string(api_match_name(r->match)));
    admin_json_set(j, "destination", admin_json_str_or_null(r->dest_text));
    admin_json_set(j, "sender", r->has_sender ? admin_json_str(r->sender) : json_null());
    admin_json_set(j, "recipient", r->has_recipient ? admin_json_str(r->recipient) : json_null());
    admin_json_set(j, "message_id",
                   r->has_message_id ? admin_json_str(r->message_id) : json_null());
    admin_json_set(j, "reason", admin_json_str_or_null(r->reason));
    admin_json_set(j, "force", json_boolean(r->force));
    admin_json_set(j, "probe", json_boolean(!r->skip_probe));
    if (r->nunresponsive > 0) {
        json_t *hubs = json_array();
        for (size_t i = 0; i < r->nunresponsive; i++)
            json_array_append_new(hubs, admin_json_str(r->unresponsive[i]));
        admin_json_set(j, "unresponsive_hubs", hubs);
    }
}

/* admin_rs_info - a request with its progress */
static json_t *admin_rs_info(const struct resubmit_info *r)
{
    json_t *j = json_object();

    admin_json_set(j, "id", admin_json_u64(r->id));
    admin_json_set(j, "state", json_string(resubmit_state_name(r->state)));
    admin_rs_req_fields(j, &r->req);
    admin_json_set(j, "created", admin_json_time(r->created_ms));
    admin_json_set(j, "updated", admin_json_time(r->updated_ms));
    admin_json_set(j, "matched", admin_json_u64(r->matched));
    admin_json_set(j, "queued", admin_json_u64(r->queued));
    admin_json_set(j, "delivered", admin_json_u64(r->delivered));
    admin_json_set(j, "failed", admin_json_u64(r->failed));
    admin_json_set(j, "skipped_duplicate", admin_json_u64(r->skipped_duplicate));
    admin_json_set(j, "skipped_present", admin_json_u64(r->skipped_present));
    admin_json_set(j, "coverage", admin_rs_coverage(&r->coverage));
    return j;
}

/* admin_rs_preview - what a dry run would resend */
static json_t *admin_rs_preview(const struct resubmit_req *r, const struct resubmit_preview *p)
{
    json_t *j = json_object(), *ids = json_array();

    admin_json_set(j, "dry_run", json_true());
    admin_rs_req_fields(j, r);
    admin_json_set(j, "matched", admin_json_u64(p->matched));
    admin_json_set(j, "messages", admin_json_u64(p->messages));
    admin_json_set(j, "bytes", admin_json_u64(p->bytes));
    admin_json_set(j, "skipped_duplicate", admin_json_u64(p->skipped_duplicate));
    admin_json_set(j, "probe_answers",
                   json_pack("{s:b,s:I,s:I,s:I}", "asked", p->probed, "present",
                             (json_int_t)p->probe_present, "missing", (json_int_t)p->probe_missing,
                             "unknown", (json_int_t)p->probe_unknown));
    for (size_t i = 0; i < p->nids && i < RESUBMIT_PREVIEW_IDS; i++)
        json_array_append_new(ids, admin_json_str(p->queue_ids[i]));
    admin_json_set(j, "first_ids", ids);
    admin_json_set(j, "coverage", admin_rs_coverage(&p->coverage));
    return j;
}

/* admin_rs_created - the request is stored (or the dry run done) */
static void admin_rs_created(void *ctx, const struct resubmit_info *info,
                             const struct resubmit_preview *preview, enum store_rc rc)
{
    struct admin_rs_op *op = ctx;
    char loc[64];

    if (admin_op_settle(&op->op, rc, "cannot store the request") == NULL)
        return;
    if (preview != NULL)
        admin_op_reply(&op->op, 200, admin_rs_preview(&op->req, preview));
    else if (info != NULL) {
        snprintf(loc, sizeof(loc), "/v1/resubmit/%llu", (unsigned long long)info->id);
        evhttp_add_header(evhttp_request_get_output_headers(op->op.req), "Location", loc);
        json_t *j = admin_rs_info(info);
        if (op->req.nunresponsive > 0) /* the stored request does not keep them: say it now */
            admin_rs_req_fields(j, &op->req);
        admin_op_reply(&op->op, 202, j);
    } else
        admin_op_error(&op->op, 500, "internal", "the dumpster gave no answer");
}

/* admin_resubmit_post - POST /v1/resubmit */
void admin_resubmit_post(struct admin_call *c)
{
    struct admin_rs_op *op;
    struct api_error e;
    const char *body;
    size_t len;

    if (admin_body(c, &body, &len) < 0 || (op = admin_op_new(c, sizeof(*op))) == NULL)
        return;
    if (api_req_resubmit(body, len, &op->req, &e) < 0) {
        admin_op_error(&op->op, e.status, e.code, "%s", e.message);
        return;
    }
    if (conf_sg_find(c->a->deps.conf, op->req.storage_group) == NULL) {
        admin_op_error(&op->op, 404, "unknown_storage_group", "no storage group \"%s\"",
                       op->req.storage_group);
        return;
    }
    if (op->req.nunresponsive > 0) {
        char why[256];
        if (c->a->deps.shadow_resubmit == NULL) {
            admin_op_error(&op->op, 409, "no_shadow",
                           "unresponsive_hubs needs [shadow] servers on this hub");
            return;
        }
        if (c->a->deps.shadow_resubmit(c->a->deps.shadow_ctx, &op->req, why, sizeof(why)) < 0) {
            admin_op_error(&op->op, 503, "shadow_unavailable", "%s", why);
            return;
        }
    }
    resubmit_create(c->a->deps.resubmit, &op->req, admin_rs_created, op);
}

/* admin_rs_listed - the requests came */
static void admin_rs_listed(void *ctx, const struct resubmit_info *infos, size_t n,
                            enum store_rc rc)
{
    struct admin_rs_op *op = ctx;
    json_t *j, *arr;

    if (admin_op_settle(&op->op, rc, "cannot list the requests") == NULL)
        return;
    j = json_object();
    arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, admin_rs_info(&infos[i]));
    admin_json_set(j, "requests", arr);
    admin_op_reply(&op->op, 200, j);
}

/* admin_resubmit_list - GET /v1/resubmit[?state=outstanding|all] */
void admin_resubmit_list(struct admin_call *c)
{
    struct admin_rs_op *op;
    char state[32] = "all";
    bool outstanding;

    if (admin_query_param(c, "state", state, sizeof(state)) < 0)
        return;
    if (strcmp(state, "outstanding") != 0 && strcmp(state, "all") != 0) {
        admin_reply_error(c->req, 400, "bad_query", "state must be \"outstanding\" or \"all\"");
        return;
    }
    outstanding = strcmp(state, "outstanding") == 0;
    if ((op = admin_op_new(c, sizeof(*op))) != NULL)
        resubmit_list(c->a->deps.resubmit, outstanding, admin_rs_listed, op);
}

/* admin_rs_got - one request came (or none) */
static void admin_rs_got(void *ctx, const struct resubmit_info *info, enum store_rc rc)
{
    struct admin_rs_op *op = ctx;
    json_t *j;

    if (admin_op_settle(&op->op, rc, "cannot read the request") == NULL)
        return;
    if (info != NULL)
        admin_op_reply(&op->op, 200, admin_rs_info(info));
    else if (op->cancelled) { /* gone since: say what we know */
        j = json_object();
        admin_json_set(j, "id", admin_json_u64(op->id));
        admin_json_set(j, "state", json_string(resubmit_state_name(RESUBMIT_CANCELLED)));
        admin_op_reply(&op->op, 200, j);
    } else
        admin_op_error(&op->op, 404, "unknown_request", "no request %llu",
                       (unsigned long long)op->id);
}

/* admin_resubmit_get - GET /v1/resubmit/{id} */
void admin_resubmit_get(struct admin_call *c)
{
    struct admin_rs_op *op;
    uint64_t id;

    if (!admin_rs_id(c, &id) || (op = admin_op_new(c, sizeof(*op))) == NULL)
        return;
    op->id = id;
    resubmit_get(c->a->deps.resubmit, id, admin_rs_got, op);
}

/* admin_rs_cancelled - the cancel's outcome; on success read it back */
static void admin_rs_cancelled(void *ctx, enum resubmit_cancel_rc r, enum store_rc rc)
{
    struct admin_rs_op *op = ctx;
    struct admin *a = admin_op_settle(&op->op, rc, "cannot cancel the request");

    if (a == NULL)
        return;
    if (r == RESUBMIT_NOT_FOUND)
        admin_op_error(&op->op, 404, "unknown_request", "no request %llu",
                       (unsigned long long)op->id);
    else if (r == RESUBMIT_ALREADY_DONE)
        admin_op_error(&op->op, 409, "already_final", "request %llu is already done or cancelled",
                       (unsigned long long)op->id);
    else {
        op->cancelled = true;
        resubmit_get(a->deps.resubmit, op->id, admin_rs_got, op);
    }
}

/* admin_resubmit_cancel - DELETE /v1/resubmit/{id} */
void admin_resubmit_cancel(struct admin_call *c)
{
    struct admin_rs_op *op;
    uint64_t id;

    if (!admin_rs_id(c, &id) || (op = admin_op_new(c, sizeof(*op))) == NULL)
        return;
    op->id = id;
    resubmit_cancel(c->a->deps.resubmit, id, admin_rs_cancelled, op);
}
