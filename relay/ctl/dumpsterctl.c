/*
 * dumpsterctl.c - the admin client of dumpsterd: one hub or every hub of
 * a site (SPEC section 9)
 *
 * Global options pick the hubs (--hub URL, repeatable, or --site FILE with
 * "NAME URL [CAFILE]" lines), the CA of https:// hubs (--cacert, or the
 * site file's third column), the token (--token-file) and the output (--json);
 * then one command with its options. Values are checked here before any
 * hub is asked (a storage group name, a time, a destination), so a typo is
 * a usage (64) or data (65) error, not a request every hub refuses. Each
 * command is a table entry: its options, the requests it sends to each hub
 * (ctl_http.c) and how the answers are shown (ctl_show.c).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "conf.h"
#include "ctl.h"
#include "clock.h"
#include "timefmt.h"
#include "version.h"

/* Command options, as bits: what a command accepts and what it needs. */
enum {
    O_SG = 1 << 0,
    O_START = 1 << 1,
    O_END = 1 << 2,
    O_MATCH = 1 << 3,
    O_DEST = 1 << 4,
    O_SENDER = 1 << 5,
    O_RCPT = 1 << 6,
    O_MSGID = 1 << 7,
    O_REASON = 1 << 8,
    O_DRY = 1 << 9,
    O_FORCE = 1 << 10,
    O_ALL = 1 << 11,
    O_SINCE = 1 << 12,
    O_NOPROBE = 1 << 13,
};

struct ctl_optdef {
    const char *name;
    unsigned bit;
    bool has_arg;
};

static const struct ctl_optdef ctl_optdefs[] = {
    {"--sg", O_SG, true},          {"--start", O_START, true},       {"--end", O_END, true},
    {"--match", O_MATCH, true},    {"--dest", O_DEST, true},         {"--sender", O_SENDER, true},
    {"--recipient", O_RCPT, true}, {"--message-id", O_MSGID, true},  {"--reason", O_REASON, true},
    {"--dry-run", O_DRY, false},   {"--force", O_FORCE, false},      {"--all", O_ALL, false},
    {"--since", O_SINCE, true},    {"--no-probe", O_NOPROBE, false},
};
#define CTL_NOPTDEFS (sizeof(ctl_optdefs) / sizeof(ctl_optdefs[0]))

struct ctl_cmd {
    const char *name;
    unsigned accepts, needs;
    ctl_step_fn step;
    int (*show)(struct ctl *ctl);
};

static const char ctl_usage_text[] =
    "usage: dumpsterctl [--hub URL]... | [--site FILE] [--token-file F] [--json]\n"
    "                   [--cacert FILE] [--timeout SECONDS] COMMAND\n"
    "  stats [--sg SG]\n"
    "  requests [--all]\n"
    "  resubmit --sg SG --start T --end T [--match delivered|received] [--dest D]\n"
    "           [--sender A] [--recipient A] [--message-id ID] [--reason TEXT]\n"
    "           [--dry-run] [--force] [--no-probe]\n"
    "  cancel [HUB:]ID\n"
    "  route --sg SG --dest D\n"
    "  failover --sg SG --dest D --since T [--match M] [--reason TEXT] [--force]\n"
    "           [--no-probe]\n"
    "  queue [--sg SG]\n"
    "  token new\n"
    "T: RFC 3339 (2026-11-25T10:00:00Z), unix seconds, now, or -N{s,m,h,d} (ago)\n"
    "       dumpsterctl --help | --version\n";

/* ctl_usage - a usage error: 64 */
static int ctl_usage(const char *why)
{
    if (why != NULL)
        fprintf(stderr, "dumpsterctl: %s\n", why);
    fputs(ctl_usage_text, stderr);
    return EX_USAGE;
}

/* ctl_bad - a bad value: 65 */
static int ctl_bad(const char *what, const char *value, const char *why)
{
    fprintf(stderr, "dumpsterctl: bad %s \"%.80s\": %s\n", what, value, why);
    return EX_DATAERR;
}

/* ctl_time - RFC 3339, unix seconds, "now" or "-N{s,m,h,d}" */
static int ctl_time(const char *s, int64_t *ms)
{
    static const struct {
        char unit;
        int64_t ms;
    } units[] = {{'s', 1000}, {'m', 60000}, {'h', 3600000}, {'d', 86400000}};
    char *end;

    if (strcmp(s, "now") == 0) {
        *ms = clock_now_ms();
        return 0;
    }
    if (s[0] == '-' && s[1] >= '0' && s[1] <= '9') {
        long long n;

        errno = 0;
        n = strtoll(s + 1, &end, 10);
        for (size_t i = 0; i < 4 && errno == 0 && n < 100000000; i++)
            if (end[0] == units[i].unit && end[1] == 0) {
                *ms = clock_now_ms() - n * units[i].ms;
                return *ms >= 0 ? 0 : -1;
            }
        return -1;
    }
    return timefmt_parse(s, strlen(s), ms);
}

/* ctl_text - copy an option's text value, bounded and without controls */
static int ctl_text(const char *what, const char *v, char *out, size_t cap)
{
    if (strlen(v) >= cap)
        return ctl_bad(what, v, "too long");
    for (const char *p = v; *p != 0; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return ctl_bad(what, v, "control characters");
    snprintf(out, cap, "%s", v);
    return 0;
}

/* ctl_opt_value - check and keep one command option */
static int ctl_opt_value(struct ctl *ctl, unsigned bit, const char *v)
{
    struct dest d;
    char err[256];

    switch (bit) {
    case O_SG:
        return api_sg_name_ok(v, strlen(v))
                   ? ctl_text("storage group", v, ctl->sg, sizeof(ctl->sg))
                   : ctl_bad("storage group", v, "not [A-Za-z0-9._-]{1,64}");
    case O_START:
    case O_SINCE:
        ctl->has_start = true;
        return ctl_time(v, &ctl->start_ms) == 0 ? 0 : ctl_bad("time", v, "not a time");
    case O_END:
        ctl->has_end = true;
        return ctl_time(v, &ctl->end_ms) == 0 ? 0 : ctl_bad("time", v, "not a time");
    case O_MATCH:
        if (strcmp(v, "delivered") != 0 && strcmp(v, "received") != 0)
            return ctl_bad("match", v, "delivered or received");
        return ctl_text("match", v, ctl->match, sizeof(ctl->match));
    case O_DEST:
        if (conf_dest_parse(v, &d, err, sizeof(err)) < 0)
            return ctl_bad("destination", v, err);
        return ctl_text("destination", v, ctl->dest, sizeof(ctl->dest));
    case O_SENDER:
        ctl->has_sender = true;
        return ctl_text("sender", v, ctl->sender, sizeof(ctl->sender));
    case O_RCPT:
        ctl->has_recipient = true;
        return ctl_text("recipient", v, ctl->recipient, sizeof(ctl->recipient));
    case O_MSGID:
        ctl->has_message_id = true;
        return ctl_text("message id", v, ctl->message_id, sizeof(ctl->message_id));
    case O_REASON:
        return ctl_text("reason", v, ctl->reason, sizeof(ctl->reason));
    }
    return 0;
}

/* ctl_optdef_find - the definition of --name or --name=value */
static const struct ctl_optdef *ctl_optdef_find(const char *arg, const char **inline_val)
{
    for (size_t i = 0; i < CTL_NOPTDEFS; i++) {
        size_t n = strlen(ctl_optdefs[i].name);

        if (strncmp(arg, ctl_optdefs[i].name, n) != 0)
            continue;
        if (arg[n] == 0) {
            *inline_val = NULL;
            return &ctl_optdefs[i];
        }
        if (arg[n] == '=' && ctl_optdefs[i].has_arg) {
            *inline_val = arg + n + 1;
            return &ctl_optdefs[i];
        }
    }
    return NULL;
}

/* ctl_flag - an option without a value */
static void ctl_flag(struct ctl *ctl, unsigned bit)
{
    if (bit == O_DRY)
        ctl->dry_run = true;
    else if (bit == O_FORCE)
        ctl->force = true;
    else if (bit == O_ALL)
        ctl->all = true;
    else if (bit == O_NOPROBE)
        ctl->no_probe = true;
}

/* ctl_cmd_opts - the options after the command; *rest: the positional one */
static int ctl_cmd_opts(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv,
                        const char **rest)
{
    unsigned seen = 0;
    char why[128];

    *rest = NULL;
    for (int i = 0; i < argc; i++) {
        const char *val;
        const struct ctl_optdef *o = ctl_optdef_find(argv[i], &val);
        int rc;

        if (o == NULL && argv[i][0] != '-' && *rest == NULL) {
            *rest = argv[i];
            continue;
        }
        snprintf(why, sizeof(why), "%s: unknown or repeated option %.40s", cmd->name, argv[i]);
        if (o == NULL || !(cmd->accepts & o->bit) || (seen & o->bit))
            return ctl_usage(why);
        seen |= o->bit;
        if (!o->has_arg) {
            ctl_flag(ctl, o->bit);
            continue;
        }
        if (val == NULL) {
            if (i + 1 >= argc)
                return ctl_usage("an option needs a value");
            val = argv[++i];
        }
        if ((rc = ctl_opt_value(ctl, o->bit, val)) != 0)
            return rc;
    }
    snprintf(why, sizeof(why), "%s: a required option is missing", cmd->name);
    return (seen & cmd->needs) == cmd->needs ? 0 : ctl_usage(why);
}

/* ---- the requests of each command ---- */

/* ctl_resubmit_body - the JSON of POST /v1/resubmit from the options */
static char *ctl_resubmit_body(const struct ctl *ctl)
{
    json_t *j = json_object();
    char t[TIMEFMT_RFC3339_BUF];
    char *s;

    json_object_set_new(j, "storage_group", json_string(ctl->sg));
    timefmt_format(ctl->start_ms, t);
    json_object_set_new(j, "start", json_string(t));
    timefmt_format(ctl->end_ms, t);
    json_object_set_new(j, "end", json_string(t));
    if (ctl->match[0])
        json_object_set_new(j, "match", json_string(ctl->match));
    if (ctl->dest[0])
        json_object_set_new(j, "destination", json_string(ctl->dest));
    if (ctl->has_sender)
        json_object_set_new(j, "sender", json_string(ctl->sender));
    if (ctl->has_recipient)
        json_object_set_new(j, "recipient", json_string(ctl->recipient));
    if (ctl->has_message_id)
        json_object_set_new(j, "message_id", json_string(ctl->message_id));
    if (ctl->reason[0])
        json_object_set_new(j, "reason", json_string(ctl->reason));
    if (ctl->dry_run)
        json_object_set_new(j, "dry_run", json_true());
    if (ctl->force)
        json_object_set_new(j, "force", json_true());
    if (ctl->no_probe)
        json_object_set_new(j, "probe", json_false());
    if (ctl->with_unresponsive && ctl->nunresponsive > 0) {
        json_t *hubs = json_array();
        for (size_t i = 0; i < ctl->nunresponsive; i++)
            json_array_append_new(hubs, json_string(ctl->unresponsive[i]));
        json_object_set_new(j, "unresponsive_hubs", hubs);
    }
    s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* ctl_step_stats - GET /v1/stats[/SG] */
static int ctl_step_stats(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    (void)h;
    call->method = EVHTTP_REQ_GET;
    snprintf(call->path, sizeof(call->path), "/v1/stats%s%s", ctl->sg[0] ? "/" : "", ctl->sg);
    return i == 0;
}

/* ctl_step_requests - GET /v1/resubmit?state=... */
static int ctl_step_requests(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    (void)h;
    call->method = EVHTTP_REQ_GET;
    snprintf(call->path, sizeof(call->path), "/v1/resubmit?state=%s",
             ctl->all ? "all" : "outstanding");
    return i == 0;
}

/* ctl_step_resubmit - POST /v1/resubmit */
static int ctl_step_resubmit(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    (void)h;
    if (i != 0)
        return 0;
    call->method = EVHTTP_REQ_POST;
    snprintf(call->path, sizeof(call->path), "/v1/resubmit");
    call->body = ctl_resubmit_body(ctl);
    return call->body != NULL;
}

/* ctl_step_cancel - DELETE /v1/resubmit/ID (on the named hub only) */
static int ctl_step_cancel(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    if (i != 0 || (ctl->id_hub[0] != 0 && strcmp(ctl->id_hub, h->name) != 0))
        return 0;
    call->method = EVHTTP_REQ_DELETE;
    snprintf(call->path, sizeof(call->path), "/v1/resubmit/%" PRIu64, ctl->id);
    return 1;
}

/* ctl_route_call - PUT /v1/storage-groups/SG/destination */
static int ctl_route_call(struct ctl *ctl, struct ctl_call *call)
{
    json_t *j = json_pack("{s:s}", "destination", ctl->dest);

    call->method = EVHTTP_REQ_PUT;
    snprintf(call->path, sizeof(call->path), "/v1/storage-groups/%s/destination", ctl->sg);
    call->body = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return call->body != NULL;
}

/* ctl_step_route - move the group */
static int ctl_step_route(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    (void)h;
    return i == 0 ? ctl_route_call(ctl, call) : 0;
}

/* ctl_no_shadow - h refused unresponsive_hubs: it has no shadow copies */
static bool ctl_no_shadow(const struct ctl_hub *h)
{
    const struct ctl_answer *a = h->nans > 0 ? &h->ans[h->nans - 1] : NULL;

    const char *code =
        a ? json_string_value(json_object_get(json_object_get(a->json, "error"), "code")) : NULL;

    return a != NULL && a->status == 409 && code != NULL && strcmp(code, "no_shadow") == 0;
}

/* ctl_step_failover - move the group (the first pass), then resubmit
 * [since, now]: the hub chosen for it also names the hubs that did not
 * answer the first pass, and asks once more without them when it has no
 * shadow copies */
static int ctl_step_failover(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    bool chosen = ctl->shadow_hub >= 0 && h == &ctl->hubs[ctl->shadow_hub];
    int rc;

    if (i == 0)
        return ctl_route_call(ctl, call);
    if (i == 2 && chosen && ctl_no_shadow(h)) {
        ctl->shadow_refused = true; /* said in the output */
        return ctl_step_resubmit(ctl, h, 0, call);
    }
    if (i != 1 || !ctl_answer_ok(h))
        return 0;
    ctl->dest[0] = 0; /* the route moved: no override */
    ctl->with_unresponsive = chosen;
    rc = ctl_step_resubmit(ctl, h, 0, call);
    ctl->with_unresponsive = false;
    return rc;
}

/* ctl_failover_first - the first pass only: the routes */
static int ctl_failover_first(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    return i == 0 ? ctl_step_failover(ctl, h, i, call) : 0;
}

/* ctl_failover_pick - after the routes: who did not answer, and the first
 * hub that moved its route resends their share */
static void ctl_failover_pick(struct ctl *ctl)
{
    ctl->shadow_hub = -1;
    ctl->nunresponsive = 0;
    for (size_t i = 0; i < ctl->nhubs; i++) {
        const struct ctl_hub *h = &ctl->hubs[i];
        if (h->nans >= 1 && h->ans[0].status == 0 && ctl->nunresponsive < DD_API_HUBS_MAX)
            snprintf(ctl->unresponsive[ctl->nunresponsive++], sizeof(ctl->unresponsive[0]), "%s",
                     h->name);
        else if (ctl->shadow_hub < 0 && ctl_answer_ok(h))
            ctl->shadow_hub = (int)i;
    }
    if (ctl->nunresponsive == 0)
        ctl->shadow_hub = -1;
}

/* ctl_step_queue - GET /v1/queue[?storage_group=SG] */
static int ctl_step_queue(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call)
{
    (void)h;
    call->method = EVHTTP_REQ_GET;
    snprintf(call->path, sizeof(call->path), "/v1/queue%s%s", ctl->sg[0] ? "?storage_group=" : "",
             ctl->sg);
    return i == 0;
}

static const struct ctl_cmd ctl_cmds[] = {
    {"stats", O_SG, 0, ctl_step_stats, ctl_show_stats},
    {"requests", O_ALL, 0, ctl_step_requests, ctl_show_requests},
    {"resubmit",
     O_SG | O_START | O_END | O_MATCH | O_DEST | O_SENDER | O_RCPT | O_MSGID | O_REASON | O_DRY |
         O_FORCE | O_NOPROBE,
     O_SG | O_START | O_END, ctl_step_resubmit, ctl_show_resubmit},
    {"cancel", 0, 0, ctl_step_cancel, ctl_show_cancel},
    {"route", O_SG | O_DEST, O_SG | O_DEST, ctl_step_route, ctl_show_route},
    {"failover", O_SG | O_DEST | O_SINCE | O_MATCH | O_REASON | O_FORCE | O_NOPROBE,
     O_SG | O_DEST | O_SINCE, ctl_step_failover, ctl_show_failover},
    {"queue", O_SG, 0, ctl_step_queue, ctl_show_queue},
};
#define CTL_NCMDS (sizeof(ctl_cmds) / sizeof(ctl_cmds[0]))

/* ---- main ---- */

/* ctl_global_opt - one global option at argv[*i]; 0, 1 (not one), or an exit code */
static int ctl_global_opt(struct ctl *ctl, int argc, char **argv, int *i, const char **site)
{
    const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;

    if (strcmp(a, "--json") == 0) {
        ctl->json = true;
        return 0;
    }
    if (strcmp(a, "--hub") != 0 && strcmp(a, "--site") != 0 && strcmp(a, "--token-file") != 0 &&
        strcmp(a, "--timeout") != 0 && strcmp(a, "--cacert") != 0)
        return 1;
    if (v == NULL)
        return ctl_usage("an option needs a value");
    ++*i;
    if (strcmp(a, "--hub") == 0)
        return ctl_hub_add(ctl, NULL, v, "--hub");
    if (strcmp(a, "--site") == 0) {
        *site = v;
        return 0;
    }
    if (strcmp(a, "--token-file") == 0)
        return ctl_token_load(ctl, v);
    if (strcmp(a, "--cacert") == 0) {
        if (strlen(v) >= sizeof(ctl->cacert))
            return ctl_bad("CA file", v, "too long");
        snprintf(ctl->cacert, sizeof(ctl->cacert), "%s", v);
        return ctl_readable(v, "--cacert");
    }
    ctl->timeout = strspn(v, "0123456789") == strlen(v) && strlen(v) <= 4 ? atoi(v) : 0;
    return ctl->timeout > 0 && ctl->timeout <= 3600 ? 0 : ctl_bad("timeout", v, "1..3600 s");
}

/* ctl_cancel_arg - [HUB:]ID */
static int ctl_cancel_arg(struct ctl *ctl, const char *arg)
{
    const char *colon, *id;
    char *end;

    if (arg == NULL)
        return ctl_usage("cancel: which request?");
    colon = strrchr(arg, ':');
    id = colon != NULL ? colon + 1 : arg;
    if (colon != NULL && (size_t)(colon - arg) <= CTL_NAME_MAX)
        snprintf(ctl->id_hub, sizeof(ctl->id_hub), "%.*s", (int)(colon - arg), arg);
    errno = 0;
    ctl->id = strtoull(id, &end, 10);
    if (id[0] < '0' || id[0] > '9' || *end != 0 || errno != 0 || ctl->id == 0 ||
        (colon != NULL && ctl->id_hub[0] == 0))
        return ctl_bad("request", arg, "expected [HUB:]ID");
    for (size_t i = 0; ctl->id_hub[0] && i < ctl->nhubs; i++)
        if (strcmp(ctl->hubs[i].name, ctl->id_hub) == 0)
            return 0;
    return ctl->id_hub[0] ? ctl_bad("request", arg, "no such hub") : 0;
}

/* ctl_command - check the command's options, ask the hubs, show */
static int ctl_command(struct ctl *ctl, const struct ctl_cmd *cmd, int argc, char **argv)
{
    const char *rest;
    int rc = ctl_cmd_opts(ctl, cmd, argc, argv, &rest);

    if (rc != 0)
        return rc;
    if (cmd->step == ctl_step_cancel) {
        if ((rc = ctl_cancel_arg(ctl, rest)) != 0)
            return rc;
    } else if (rest != NULL)
        return ctl_usage("unexpected argument");
    if (cmd->step == ctl_step_failover) {
        ctl->end_ms = clock_now_ms(); /* one end for every hub */
        ctl->has_end = true;
    }
    if (ctl->has_start && ctl->has_end && ctl->start_ms > ctl->end_ms)
        return ctl_bad("range", "start..end", "start is after end");
    if (cmd->step == ctl_step_failover) {
        if (ctl_http_run(ctl, ctl_failover_first) < 0) {
            fprintf(stderr, "dumpsterctl: cannot start the event loop\n");
            return EX_OSERR;
        }
        ctl_failover_pick(ctl);
    }
    if (ctl_http_run(ctl, cmd->step) < 0) {
        fprintf(stderr, "dumpsterctl: cannot start the event loop\n");
        return EX_OSERR;
    }
    return cmd->show(ctl);
}

/* ctl_main - global options, then the command */
static int ctl_main(struct ctl *ctl, int argc, char **argv)
{
    const char *site = NULL;
    int i, rc;

    for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            fputs(ctl_usage_text, stdout);
            return EX_OK;
        }
        if (strcmp(argv[i], "--version") == 0) {
            printf("dumpsterctl %s\nlibevent %s\n", DD_VERSION, event_get_version());
            return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
        }
        if ((rc = ctl_global_opt(ctl, argc, argv, &i, &site)) == 1)
            return ctl_usage("unknown option");
        if (rc != 0)
            return rc;
    }
    if (i >= argc)
        return ctl_usage(NULL);
    if (strcmp(argv[i], "token") == 0)
        return i + 2 == argc && strcmp(argv[i + 1], "new") == 0 ? ctl_token_new(ctl)
                                                                : ctl_usage("token new");
    if (site != NULL && ctl->nhubs > 0)
        return ctl_usage("--hub and --site exclude each other");
    if (site != NULL && (rc = ctl_site_load(ctl, site)) != 0)
        return rc;
    if (ctl->nhubs == 0 && (rc = ctl_hub_add(ctl, NULL, CTL_DEFAULT_HUB, "default")) != 0)
        return rc;
    for (size_t k = 0; k < CTL_NCMDS; k++)
        if (strcmp(argv[i], ctl_cmds[k].name) == 0)
            return ctl_command(ctl, &ctl_cmds[k], argc - i - 1, argv + i + 1);
    return ctl_usage("unknown command");
}

/* main - the hubs' array lives for the whole run; exit with a sysexits code */
int main(int argc, char **argv)
{
    struct ctl ctl = {.timeout = CTL_TIMEOUT_DEFAULT};
    int rc;

    if ((ctl.hubs = calloc(CTL_HUBS_MAX, sizeof(*ctl.hubs))) == NULL) {
        fprintf(stderr, "dumpsterctl: out of memory\n");
        return EX_OSERR;
    }
    rc = ctl_main(&ctl, argc, argv);
    ctl_hubs_free(&ctl);
    return rc;
}
