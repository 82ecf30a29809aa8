/*
 * ctl_show.c - dumpsterctl's output: what every hub answered
 *
 * Each command prints Exchange-style summary lines first (one line a
 * script can parse: DumpsterStatistics, OutstandingDumpsterRequests), then
 * a readable table; --json prints one JSON object per hub and line (per
 * message for queue, like postqueue -j). Why a hub gave no usable answer
 * goes to stderr; the exit code says whether every hub answered.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ctl.h"

/* ctl_str - a string member, or dflt */
static const char *ctl_str(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));

    return s != NULL ? s : dflt;
}

/* ctl_int - an integer member, or 0 */
static json_int_t ctl_int(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

/* ctl_last - the last answer of h */
static const struct ctl_answer *ctl_last(const struct ctl_hub *h)
{
    return h->nans > 0 ? &h->ans[h->nans - 1] : NULL;
}

/* ctl_hub_problem - why h's answer is no success */
void ctl_hub_problem(const struct ctl_hub *h)
{
    const struct ctl_answer *a = ctl_last(h);

    fprintf(stderr, "dumpsterctl: %s (%s): %s\n", h->name, h->url,
            a == NULL          ? "not asked"
            : a->error[0] != 0 ? a->error
                               : "the answer is not a JSON object");
}

/* ctl_exit_code - 69 when a hub is unavailable, 65 when one refused */
int ctl_exit_code(const struct ctl *ctl)
{
    bool unavailable = false, refused = false;

    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_answer *a = ctl_last(&ctl->hubs[i]);

        if (a == NULL || ctl->hubs[i].ignored || ctl_answer_ok(&ctl->hubs[i]))
            continue;
        if (a->status == 0 || a->status >= 500)
            unavailable = true;
        else
            refused = true;
    }
    return unavailable ? EX_UNAVAILABLE : refused ? EX_DATAERR : EX_OK;
}

/* ctl_json_lines - --json: one line per hub with what it answered */
static int ctl_json_lines(struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        json_t *j = json_object(), *arr = json_array();
        char *s;

        if (h->nans == 0)
            continue;
        for (int k = 0; k < h->nans; k++) {
            json_t *a = json_object();

            json_object_set_new(a, "status", json_integer(h->ans[k].status));
            json_object_set_new(a, "error",
                                h->ans[k].error[0] ? json_string(h->ans[k].error) : json_null());
            json_object_set(a, "reply", h->ans[k].json ? h->ans[k].json : json_null());
            json_array_append_new(arr, a);
        }
        json_object_set_new(j, "hub", json_string(h->name));
        json_object_set_new(j, "url", json_string(h->url));
        json_object_set_new(j, "available", json_boolean(ctl_answer_ok(h)));
        json_object_set_new(j, "answers", arr);
        if ((s = json_dumps(j, JSON_COMPACT)) != NULL)
            printf("%s\n", s);
        free(s);
        json_decref(j);
        if (!ctl_answer_ok(h))
            ctl_hub_problem(h);
    }
    return ctl_exit_code(ctl);
}

/* ctl_duration - seconds as 3d04h, 2h05m, 5m10s or 42s */
static void ctl_duration(json_int_t s, char *out, size_t cap)
{
    if (s >= 86400)
        snprintf(out, cap, "%lldd%02lldh", (long long)(s / 86400), (long long)(s % 86400 / 3600));
    else if (s >= 3600)
        snprintf(out, cap, "%lldh%02lldm", (long long)(s / 3600), (long long)(s % 3600 / 60));
    else if (s >= 60)
        snprintf(out, cap, "%lldm%02llds", (long long)(s / 60), (long long)(s % 60));
    else
        snprintf(out, cap, "%llds", (long long)s);
}

/* ctl_stats_sum - oldest, items and bytes of a hub over its groups */
static void ctl_stats_sum(const json_t *reply, char *oldest, size_t cap, json_int_t *items,
                          json_int_t *bytes)
{
    const json_t *groups = json_object_get(reply, "storage_groups");
    size_t i;
    json_t *g;

    snprintf(oldest, cap, "-");
    *items = *bytes = 0;
    json_array_foreach(groups, i, g)
    {
        const char *o = ctl_str(g, "oldest_received", NULL);

        *items += ctl_int(g, "items");
        *bytes += ctl_int(g, "bytes");
        if (o != NULL && (strcmp(oldest, "-") == 0 || strcmp(o, oldest) < 0))
            snprintf(oldest, cap, "%s", o);
    }
}

/* ctl_stats_summary - the two Exchange-style lines */
static void ctl_stats_summary(const struct ctl *ctl)
{
    const char *sep = "";
    char oldest[64];
    json_int_t items, bytes;

    printf("DumpsterStatistics: {");
    for (size_t i = 0; i < ctl->nhubs; i++) {
        if (!ctl_answer_ok(&ctl->hubs[i]))
            continue;
        ctl_stats_sum(ctl_last(&ctl->hubs[i])->json, oldest, sizeof(oldest), &items, &bytes);
        printf("%s%s (%s; %lld; %lld)", sep, ctl->hubs[i].name, oldest, (long long)items,
               (long long)bytes);
        sep = ", ";
    }
    printf("}\nDumpsterStatisticsNotAvailable: {");
    sep = "";
    for (size_t i = 0; i < ctl->nhubs; i++)
        if (!ctl_answer_ok(&ctl->hubs[i])) {
            printf("%s%s", sep, ctl->hubs[i].name);
            sep = ", ";
        }
    printf("}\n");
}

/* ctl_stats_row - one storage group of one hub */
static void ctl_stats_row(const char *hub, const json_t *g)
{
    const json_t *ev = json_object_get(g, "evicted");
    char cov[32], evicted[80];

    ctl_duration(ctl_int(g, "coverage_seconds"), cov, sizeof(cov));
    snprintf(evicted, sizeof(evicted), "%lld/%lld/%lld/%lld", (long long)ctl_int(ev, "size"),
             (long long)ctl_int(ev, "age"), (long long)ctl_int(ev, "replicated"),
             (long long)ctl_int(g, "not_kept"));
    printf("%-12s %-16s %8lld %12lld %-24s %9s %-15s %s\n", hub, ctl_str(g, "name", "?"),
           (long long)ctl_int(g, "items"), (long long)ctl_int(g, "bytes"),
           ctl_str(g, "oldest_received", "-"), cov, evicted, ctl_str(g, "destination", "-"));
}

/* ctl_stats_shadow - every hub's shadow dumpsters, as the first hub that
 * has shadow copies sees the cluster (a dead hub's too) */
static void ctl_stats_shadow(const struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        const json_t *arr =
            ctl_answer_ok(h) ? json_object_get(ctl_last(h)->json, "shadow_dumpsters") : NULL;
        size_t k;
        json_t *d;

        if (!json_is_array(arr) || json_array_size(arr) == 0)
            continue;
        printf("\nSHADOW DUMPSTERS (the cluster, as %s reads it)\n%-12s %-16s %8s %12s %s\n",
               h->name, "HUB", "STORAGE GROUP", "ITEMS", "BYTES", "OLDEST STORED");
        json_array_foreach(arr, k, d)
            printf("%-12s %-16s %8lld %12lld %s\n", ctl_str(d, "hub", "?"),
                   ctl_str(d, "storage_group", "?"), (long long)ctl_int(d, "items"),
                   (long long)ctl_int(d, "bytes"), ctl_str(d, "oldest_stored", "-"));
        return;
    }
}

/* ctl_show_stats - stats [--sg SG] */
int ctl_show_stats(struct ctl *ctl)
{
    if (ctl->json)
        return ctl_json_lines(ctl);
    ctl_stats_summary(ctl);
    printf("\n%-12s %-16s %8s %12s %-24s %9s %-15s %s\n", "HUB", "STORAGE GROUP", "ITEMS", "BYTES",
           "OLDEST RECEIVED", "COVERAGE", "EVICTED s/a/r/t", "DESTINATION");
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        size_t k;
        json_t *g;

        if (!ctl_answer_ok(h)) {
            ctl_hub_problem(h);
            continue;
        }
        json_array_foreach(json_object_get(ctl_last(h)->json, "storage_groups"), k, g)
            ctl_stats_row(h->name, g);
    }
    ctl_stats_shadow(ctl);
    return ctl_exit_code(ctl);
}

/* ctl_outstanding - a request that is not done yet */
static bool ctl_outstanding(const json_t *r)
{
    const char *st = ctl_str(r, "state", "");

    return strcmp(st, "pending") == 0 || strcmp(st, "running") == 0;
}

/* ctl_requests_summary - OutstandingDumpsterRequests: {HUB (low;high), ...} */
static void ctl_requests_summary(const struct ctl *ctl)
{
    const char *sep = "";
    size_t k;
    json_t *r;

    printf("OutstandingDumpsterRequests: {");
    for (size_t i = 0; i < ctl->nhubs; i++) {
        if (!ctl_answer_ok(&ctl->hubs[i]))
            continue;
        json_array_foreach(json_object_get(ctl_last(&ctl->hubs[i])->json, "requests"), k, r)
        {
            if (!ctl_outstanding(r))
                continue;
            printf("%s%s (%s;%s)", sep, ctl->hubs[i].name, ctl_str(r, "start", "?"),
                   ctl_str(r, "end", "?"));
            sep = ", ";
        }
    }
    printf("}\n");
    sep = "";
    for (size_t i = 0; i < ctl->nhubs; i++)
        if (!ctl_answer_ok(&ctl->hubs[i])) {
            printf("%s%s", *sep ? sep : "OutstandingDumpsterRequestsNotAvailable: {",
                   ctl->hubs[i].name);
            sep = ", ";
        }
    if (*sep)
        printf("}\n");
}

/* ctl_request_row - one request with its progress */
static void ctl_request_row(const char *hub, const json_t *r)
{
    const json_t *cv = json_object_get(r, "coverage");

    printf("%-12s %6lld %-16s %-9s %-24s %-24s %7lld %7lld %9lld %6lld %7lld %7lld %s\n", hub,
           (long long)ctl_int(r, "id"), ctl_str(r, "storage_group", "?"), ctl_str(r, "state", "?"),
           ctl_str(r, "start", "?"), ctl_str(r, "end", "?"), (long long)ctl_int(r, "matched"),
           (long long)ctl_int(r, "queued"), (long long)ctl_int(r, "delivered"),
           (long long)ctl_int(r, "failed"), (long long)ctl_int(r, "skipped_duplicate"),
           (long long)ctl_int(r, "skipped_present"),
           json_is_false(json_object_get(cv, "complete")) ? "INCOMPLETE" : "complete");
}

/* ctl_show_requests - requests [--all] */
int ctl_show_requests(struct ctl *ctl)
{
    if (ctl->json)
        return ctl_json_lines(ctl);
    ctl_requests_summary(ctl);
    printf("\n%-12s %6s %-16s %-9s %-24s %-24s %7s %7s %9s %6s %7s %7s %s\n", "HUB", "ID",
           "STORAGE GROUP", "STATE", "START", "END", "MATCHED", "QUEUED", "DELIVERED", "FAILED",
           "SKIPPED", "PRESENT", "COVERAGE");
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        size_t k;
        json_t *r;

        if (!ctl_answer_ok(h)) {
            ctl_hub_problem(h);
            continue;
        }
        json_array_foreach(json_object_get(ctl_last(h)->json, "requests"), k, r)
            ctl_request_row(h->name, r);
    }
    return ctl_exit_code(ctl);
}

/* ctl_coverage_warn - the operator must learn that mail may be lost */
static void ctl_coverage_warn(const char *hub, const json_t *reply)
{
    const json_t *cv = json_object_get(reply, "coverage");

    if (!json_is_false(json_object_get(cv, "complete")))
        return;
    printf("%s: WARNING: coverage incomplete: oldest item available %s, %lld item(s) of the "
           "range already evicted: mail of the range may be lost\n",
           hub, ctl_str(cv, "oldest_available", "-"), (long long)ctl_int(cv, "evicted_in_range"));
}

/* ctl_probe_part - what the group's probe said of a dry run's copies */
static void ctl_probe_part(const json_t *p)
{
    if (!json_is_true(json_object_get(p, "asked")))
        return;
    printf("; the mailbox holds %lld of the copies asked, lacks %lld, cannot say of %lld",
           (long long)ctl_int(p, "present"), (long long)ctl_int(p, "missing"),
           (long long)ctl_int(p, "unknown"));
}

/* ctl_resubmit_line - a stored request or a dry run's preview */
static void ctl_resubmit_line(const char *hub, const json_t *r)
{
    size_t k;
    json_t *id;

    if (json_is_true(json_object_get(r, "dry_run"))) {
        printf("%s: dry run: %lld message(s) with %lld recipient copies, %lld bytes would be "
               "resent, %lld copies skipped as duplicate(s)",
               hub, (long long)ctl_int(r, "messages"), (long long)ctl_int(r, "matched"),
               (long long)ctl_int(r, "bytes"), (long long)ctl_int(r, "skipped_duplicate"));
        ctl_probe_part(json_object_get(r, "probe_answers"));
        json_array_foreach(json_object_get(r, "first_ids"), k, id)
            printf("%s%s", k == 0 ? "; first: " : " ", json_string_value(id));
        printf("\n");
    } else
        printf("%s: request %lld %s: %s [%s; %s] match %s\n", hub, (long long)ctl_int(r, "id"),
               ctl_str(r, "state", "?"), ctl_str(r, "storage_group", "?"), ctl_str(r, "start", "?"),
               ctl_str(r, "end", "?"), ctl_str(r, "match", "?"));
    ctl_coverage_warn(hub, r);
}

/* ctl_show_resubmit - resubmit: what each hub took on */
int ctl_show_resubmit(struct ctl *ctl)
{
    if (ctl->json)
        return ctl_json_lines(ctl);
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];

        if (ctl_answer_ok(h))
            ctl_resubmit_line(h->name, ctl_last(h)->json);
        else
            ctl_hub_problem(h);
    }
    return ctl_exit_code(ctl);
}

/* ctl_show_cancel - cancel [HUB:]ID: asked on several hubs, a hub that
 * does not know the id is no failure, unless none knows it */
int ctl_show_cancel(struct ctl *ctl)
{
    bool multi = ctl->nhubs > 1 && ctl->id_hub[0] == 0;
    size_t known = 0;
    int rc;

    if (ctl->json)
        ctl_json_lines(ctl);
    for (size_t i = 0; i < ctl->nhubs; i++) {
        struct ctl_hub *h = &ctl->hubs[i];
        const struct ctl_answer *a = ctl_last(h);

        if (a == NULL)
            continue;
        if (ctl_answer_ok(h)) {
            known++;
            if (!ctl->json)
                printf("%s: request %lld %s\n", h->name, (long long)ctl_int(a->json, "id"),
                       ctl_str(a->json, "state", "?"));
        } else if (multi && a->status == 404)
            h->ignored = true;
        else {
            known += a->status == 409;
            if (!ctl->json)
                ctl_hub_problem(h);
        }
    }
    rc = ctl_exit_code(ctl);
    if (multi && known == 0 && rc == EX_OK) {
        fprintf(stderr, "dumpsterctl: no hub knows request %" PRIu64 "\n", ctl->id);
        return EX_DATAERR;
    }
    return rc;
}

/* ctl_show_route - route: the destination each hub uses now */
int ctl_show_route(struct ctl *ctl)
{
    if (ctl->json)
        return ctl_json_lines(ctl);
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];

        if (ctl_answer_ok(h))
            printf("%s: %s -> %s\n", h->name, ctl_str(ctl_last(h)->json, "storage_group", "?"),
                   ctl_str(ctl_last(h)->json, "destination", "?"));
        else
            ctl_hub_problem(h);
    }
    return ctl_exit_code(ctl);
}

/* ctl_show_failover - route, then the resubmission, per hub */
int ctl_show_failover(struct ctl *ctl)
{
    if (ctl->json)
        return ctl_json_lines(ctl);
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        const struct ctl_answer *r = &h->ans[0];

        if (h->nans >= 1 && r->status >= 200 && r->status < 300 && json_is_object(r->json))
            printf("%s: %s -> %s\n", h->name, ctl_str(r->json, "storage_group", "?"),
                   ctl_str(r->json, "destination", "?"));
        if (h->nans >= 2 && ctl_answer_ok(h))
            ctl_resubmit_line(h->name, ctl_last(h)->json);
        else
            ctl_hub_problem(h);
        if (ctl->shadow_hub == (int)i && ctl->nunresponsive > 0) {
            bool sent = !ctl->shadow_refused && ctl_answer_ok(h);
            printf("%s: %s the share of", h->name, sent ? "resends" : "cannot resend");
            for (size_t k = 0; k < ctl->nunresponsive; k++)
                printf(" %s", ctl->unresponsive[k]);
            printf(sent ? " (no answer) from their shadow dumpsters\n"
                        : " (no answer): it has no shadow copies\n");
        }
    }
    return ctl_exit_code(ctl);
}

/* ctl_queue_msg - one message, like postqueue -p */
static void ctl_queue_msg(const json_t *m)
{
    const char *sender = ctl_str(m, "sender", "");
    size_t k;
    json_t *r;

    printf("%-18s %8lld %-24s  %s\n", ctl_str(m, "queue_id", "?"), (long long)ctl_int(m, "size"),
           ctl_str(m, "received", "?"), sender[0] ? sender : "MAILER-DAEMON");
    json_array_foreach(json_object_get(m, "recipients"), k, r)
    {
        const char *reply = ctl_str(r, "last_reply", NULL);

        if (reply != NULL)
            printf("%54s(%s)\n", "", reply);
        printf("%54s%s  [%s, %s, %lld attempt(s)]\n", "", ctl_str(r, "address", "?"),
               ctl_str(r, "storage_group", "?"), ctl_str(r, "state", "?"),
               (long long)ctl_int(r, "attempts"));
    }
    printf("\n");
}

/* ctl_queue_json - one line per message, with the hub's name */
static void ctl_queue_json(const struct ctl_hub *h, json_t *reply)
{
    size_t k;
    json_t *m;
    char *s;

    json_array_foreach(json_object_get(reply, "messages"), k, m)
    {
        json_object_set_new(m, "hub", json_string(h->name));
        if ((s = json_dumps(m, JSON_COMPACT)) != NULL)
            printf("%s\n", s);
        free(s);
    }
}

/* ctl_queue_hub - one hub's queue as a table */
static void ctl_queue_hub(const struct ctl *ctl, const struct ctl_hub *h, const json_t *reply)
{
    const json_t *msgs = json_object_get(reply, "messages");
    long long bytes = 0;
    size_t k;
    json_t *m;

    if (ctl->nhubs > 1)
        printf("== %s (%s)\n", h->name, h->url);
    if (json_array_size(msgs) == 0) {
        printf("Mail queue is empty\n");
        return;
    }
    printf("%-18s %8s %-24s  %s\n", "-Queue ID-", "--Size--", "-----Arrival Time-----",
           "-Sender/Recipient-------");
    json_array_foreach(msgs, k, m)
    {
        ctl_queue_msg(m);
        bytes += (long long)ctl_int(m, "size");
    }
    printf("-- %lld Kbytes in %zu Request%s.%s\n", (bytes + 1023) / 1024, json_array_size(msgs),
           json_array_size(msgs) == 1 ? "" : "s",
           json_is_true(json_object_get(reply, "truncated")) ? " (listing truncated)" : "");
}

/* ctl_show_queue - queue [--sg SG] */
int ctl_show_queue(struct ctl *ctl)
{
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];

        if (!ctl_answer_ok(h))
            ctl_hub_problem(h);
        else if (ctl->json)
            ctl_queue_json(h, ctl_last(h)->json);
        else
            ctl_queue_hub(ctl, h, ctl_last(h)->json);
    }
    return ctl_exit_code(ctl);
}
