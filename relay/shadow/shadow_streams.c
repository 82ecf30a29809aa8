/*
 * shadow_streams.c - the worker's streams: the shadow queue, the hubs', the
 * ledger and each group's shadow dumpster, made at the first connection or
 * checked against what this hub needs, and an owned stream's limits kept
 * to the configuration (shadow_nats_int.h)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "shadow_nats_int.h"

/* What the calls of one ensure share. */
struct streams_ctx {
    jsCtx *js;
    const struct shadow_settings *set;
    char *err; /* the last failure's text */
    size_t errlen;
};

const char *shadow_nats_fail(char *buf, size_t cap, const char *what, natsStatus s, jsErrCode je)
{
    const char *last = nats_GetLastError(NULL);

    snprintf(buf, cap, "%s: %s%s%s (%d/%d)", what, natsStatus_GetText(s), last && *last ? ": " : "",
             last ? last : "", (int)s, (int)je);
    return buf;
}

/* nats_fail - the text of a failed call, kept for the log */
static const char *nats_fail(struct streams_ctx *c, const char *what, natsStatus s, jsErrCode je)
{
    return shadow_nats_fail(c->err, c->errlen, what, s, je);
}

void shadow_dumpster_stream(char *out, size_t cap, const char *sg, const char *hub)
{
    /* names may hold '_' and '-': the length keeps two pairs from one name */
    snprintf(out, cap, "DD_D_%zu_%s_%s", strlen(sg), sg, hub);
}

/* The limits a stream is made with. */
struct nats_limits {
    uint64_t max_age_s;
    uint64_t max_bytes;  /* 0: none */
    bool owned;          /* this hub's alone: its limits follow the configuration */
    int64_t per_subject; /* max messages per subject; 0: no limit */
    const char *more[2]; /* further subjects, NULL-ended */
};

/* nats_limits_update - an owned stream whose limits changed gets the new ones */
static void nats_limits_update(struct streams_ctx *c, jsStreamInfo *si,
                               const struct nats_limits *lim)
{
    jsStreamConfig cfg = *si->Config;
    jsStreamInfo *out = NULL;
    jsErrCode je = 0;
    int64_t age = (int64_t)lim->max_age_s * 1000000000LL;
    int64_t bytes = lim->max_bytes ? (int64_t)lim->max_bytes : -1;

    if (cfg.AllowDirect && (!lim->owned || (cfg.MaxAge == age && cfg.MaxBytes == bytes)))
        return;
    cfg.AllowDirect = true; /* a takeover reads the parts of a copy by direct gets */
    if (lim->owned) {
        cfg.MaxAge = age;
        cfg.MaxBytes = bytes;
    }
    if (cfg.Duplicates > age)
        cfg.Duplicates = age;
    natsStatus s = js_UpdateStream(&out, c->js, &cfg, NULL, &je);
    if (s == NATS_OK)
        log_info("shadow", "stream %s: max age %llu s, max bytes %lld", cfg.Name,
                 (unsigned long long)lim->max_age_s, (long long)bytes);
    else
        log_warn("shadow", "stream %s keeps its old limits: %s", cfg.Name,
                 nats_fail(c, "cannot update", s, je));
    jsStreamInfo_Destroy(out);
}

/* nats_stream_ok - an existing stream as this hub needs it */
static bool nats_stream_ok(struct streams_ctx *c, jsStreamInfo *si, const char *subject)
{
    bool has = false;

    for (int i = 0; si->Config && i < si->Config->SubjectsLen; i++)
        has |= strcmp(si->Config->Subjects[i], subject) == 0;
    if (!has) {
        snprintf(c->err, c->errlen, "stream %s exists without subject %s",
                 si->Config ? si->Config->Name : "?", subject);
        return false;
    }
    if (si->Config->Replicas != (int64_t)c->set->replicas)
        log_warn("shadow", "stream %s has %" PRId64 " replicas, [shadow] replicas is %u; kept",
                 si->Config->Name, si->Config->Replicas, c->set->replicas);
    return true;
}

/* nats_ensure_stream - find stream name, or create it */
static int nats_ensure_stream(struct streams_ctx *c, const char *name, const char *subject,
                              const struct nats_limits *lim)
{
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    jsStreamConfig cfg;
    const char *subjects[] = {subject, lim->more[0], lim->more[1]};
    natsStatus s = js_GetStreamInfo(&si, c->js, name, NULL, &je);

    if (s == NATS_OK) {
        bool ok = nats_stream_ok(c, si, subject);
        if (ok)
            nats_limits_update(c, si, lim);
        jsStreamInfo_Destroy(si);
        return ok ? 0 : -1;
    }
    if (s != NATS_NOT_FOUND) {
        nats_fail(c, "cannot read the stream", s, je);
        return -1;
    }
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1 + (lim->more[0] != NULL) + (lim->more[1] != NULL);
    cfg.AllowDirect = true;
    if (lim->per_subject)
        cfg.MaxMsgsPerSubject = lim->per_subject;
    cfg.Storage = js_FileStorage;
    cfg.Replicas = (int64_t)c->set->replicas;
    cfg.MaxAge = (int64_t)lim->max_age_s * 1000000000LL;
    cfg.MaxBytes = lim->max_bytes ? (int64_t)lim->max_bytes : -1;
    cfg.Discard = js_DiscardOld; /* a dumpster drops its oldest */
    cfg.Duplicates = 120LL * 1000000000LL;
    if (cfg.Duplicates > cfg.MaxAge)
        cfg.Duplicates = cfg.MaxAge;
    s = js_AddStream(&si, c->js, &cfg, NULL, &je);
    if (s != NATS_OK) {
        nats_fail(c, "cannot create the stream", s, je);
        return -1;
    }
    log_info("shadow", "created stream %s (%s, %u replicas)", name, subject, c->set->replicas);
    jsStreamInfo_Destroy(si);
    return 0;
}

void shadow_streams_sgs(jsCtx *js, const struct shadow_settings *set, bool **sg_ok, char *err,
                        size_t errlen)
{
    struct streams_ctx c = {.js = js, .set = set, .err = err, .errlen = errlen};
    char name[SHADOW_SUBJECT_MAX * 2], subj[SHADOW_SUBJECT_MAX * 2];

    for (size_t i = 0; i < set->nsgs; i++) {
        const struct shadow_sg *g = &set->sgs[i];
        struct nats_limits d = {
            .max_age_s = g->max_age_s, .max_bytes = g->max_bytes, .owned = true};
        shadow_dumpster_stream(name, sizeof(name), g->name, set->hub);
        snprintf(subj, sizeof(subj), "dd.d.%s.%s.>", g->name, set->hub);
        if (*sg_ok == NULL)
            *sg_ok = calloc(set->nsgs, sizeof(**sg_ok));
        bool ok = nats_ensure_stream(&c, name, subj, &d) == 0;
        if (!ok)
            log_err("shadow", "%s: no shadow dumpster for %s: its delivered copies are not kept",
                    err, g->name);
        if (*sg_ok)
            (*sg_ok)[i] = ok;
    }
}

int shadow_streams_ensure(jsCtx *js, const struct shadow_settings *set, bool **sg_ok, char *err,
                          size_t errlen)
{
    struct streams_ctx c = {.js = js, .set = set, .err = err, .errlen = errlen};
    struct nats_limits q = {.max_age_s = set->queue_max_age_s};
    struct nats_limits h = {
        .max_age_s = set->queue_max_age_s, .per_subject = 1, .more = {"dd.t.>", "dd.x.>"}};

    struct nats_limits led = {.max_age_s = set->queue_max_age_s, .per_subject = 1};

    for (size_t i = 0; i < set->nsgs; i++) /* an entry lives as long as its copy can */
        if (set->sgs[i].max_age_s > led.max_age_s)
            led.max_age_s = set->sgs[i].max_age_s;
    if (nats_ensure_stream(&c, SHADOW_STREAM_QUEUE, "dd.q.>", &q) < 0 ||
        nats_ensure_stream(&c, SHADOW_STREAM_HUBS, "dd.h.>", &h) < 0 ||
        nats_ensure_stream(&c, SHADOW_STREAM_LEDGER, "dd.l.>", &led) < 0)
        return -1;
    shadow_streams_sgs(js, set, sg_ok, err, errlen);
    return 0;
}
