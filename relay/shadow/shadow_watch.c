/*
 * shadow_watch.c - the hubs watch each other (worker thread only)
 *
 * Each round (a quarter of takeover_after, 1 to 10 s) this hub stores its
 * beat, dd.h.HUB with its unix time in ms, in the stream DD_HUBS (one
 * message per subject), and reads the others' last beats. A hub whose
 * last beat is older than takeover_after is silent. One live hub takes its
 * copies over: each hub that sees it silent publishes the claim dd.t.HUB
 * ("WINNER BEATSEQ") with the Nats-Msg-Id claim.HUB.BEATSEQ.LASTCLAIMSEQ,
 * and only the first such publish is stored (the others are duplicates),
 * so exactly one hub wins; a claim whose winner went silent too is claimed
 * again. The winner reads the silent hub's queue copies (dd.q.HUB.*, parts
 * in order by direct gets) and hands each to the loop, at most
 * SHADOW_TAKE_BATCH at a time; once the loop committed one as its own
 * (with its own shadow copy), the marker dd.x.HUB.QUEUEID is stored and the
 * silent hub's copy purged. A copy with a marker is never taken twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "log.h"
#include "shadow.h"
#include "shadow_int.h"

#define WATCH_TEXT_MAX 160

static int64_t watch_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t watch_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *watch_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

/* watch_subjects - the subjects of stream that match filter (NULL: none) */
static jsStreamInfo *watch_subjects(jsCtx *js, const char *stream, const char *filter)
{
    jsOptions o;
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;

    jsOptions_Init(&o);
    o.Stream.Info.SubjectsFilter = filter;
    if (js_GetStreamInfo(&si, js, stream, &o, &je) != NATS_OK)
        return NULL;
    return si;
}

/* watch_last - the last message of subj: its data as text and sequence */
static bool watch_last(jsCtx *js, const char *subj, char *buf, size_t cap, uint64_t *seq)
{
    natsMsg *m = NULL;
    jsErrCode je = 0;

    if (js_GetLastMsg(&m, js, SHADOW_STREAM_HUBS, subj, NULL, &je) != NATS_OK)
        return false;
    int len = natsMsg_GetDataLength(m);
    snprintf(buf, cap, "%.*s", len, natsMsg_GetData(m) ? natsMsg_GetData(m) : "");
    *seq = natsMsg_GetSequence(m);
    natsMsg_Destroy(m);
    return true;
}

/* watch_beat_of - hub's last beat (unix ms) and its sequence; false: none */
static bool watch_beat_of(jsCtx *js, const char *hub, int64_t *ms, uint64_t *seq)
{
    char subj[SHADOW_SUBJECT_MAX], buf[WATCH_TEXT_MAX];

    snprintf(subj, sizeof(subj), "dd.h.%s", hub);
    if (!watch_last(js, subj, buf, sizeof(buf), seq))
        return false;
    *ms = strtoll(buf, NULL, 10);
    return true;
}

static bool watch_silent(const struct shadow_link *l, int64_t beat_ms)
{
    return watch_now_ms() - beat_ms > (int64_t)l->set.takeover_after_s * 1000;
}

/* watch_claim - whether this hub takes hub's copies over (claimed now or before) */
static bool watch_claim(struct shadow_link *l, struct shadow_watch *w, jsCtx *js, const char *hub,
                        uint64_t beat_seq)
{
    char subj[SHADOW_SUBJECT_MAX], buf[WATCH_TEXT_MAX], winner[DD_SG_NAME_MAX + 1], id[320];
    uint64_t claim_seq = 0;
    unsigned long long seq;

    snprintf(subj, sizeof(subj), "dd.t.%s", hub);
    if (watch_last(js, subj, buf, sizeof(buf), &claim_seq) &&
        sscanf(buf, "%64s %llu", winner, &seq) == 2 && seq == beat_seq) {
        int64_t ms;
        uint64_t wseq;
        if (strcmp(winner, l->set.hub) == 0)
            return true;
        if (watch_beat_of(js, winner, &ms, &wseq) && !watch_silent(l, ms))
            return false; /* a live hub has it */
    }
    int len = snprintf(buf, sizeof(buf), "%s %" PRIu64, l->set.hub, beat_seq);
    snprintf(id, sizeof(id), "claim.%s.%" PRIu64 ".%" PRIu64, hub, beat_seq, claim_seq);
    jsPubOptions po;
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    jsPubOptions_Init(&po);
    po.MsgId = id;
    natsStatus s = js_Publish(&pa, js, subj, buf, len, &po, &je);
    bool won = s == NATS_OK && pa != NULL && !pa->Duplicate;
    jsPubAck_Destroy(pa);
    if (won) {
        w->claims++;
        log_warn("shadow",
                 "hub %s has been silent for more than %u s: this hub takes over its "
                 "undelivered copies",
                 hub, l->set.takeover_after_s);
    }
    return won;
}

/* watch_env_add - the Dd- headers of m (not the part's own) as "key\0value\0" */
static void watch_env(natsMsg *m, struct shadow_ev *ev)
{
    const char **keys = NULL;
    int nkeys = 0;
    size_t cap = 0;

    if (natsMsgHeader_Keys(m, &keys, &nkeys) != NATS_OK)
        return;
    for (int i = 0; i < nkeys; i++) {
        const char **vals = NULL;
        int nvals = 0;
        if (strncmp(keys[i], "Dd-", 3) != 0 || strcmp(keys[i], "Dd-Op") == 0 ||
            strcmp(keys[i], "Dd-Part") == 0 || strcmp(keys[i], "Dd-Parts") == 0 ||
            natsMsgHeader_Values(m, keys[i], &vals, &nvals) != NATS_OK)
            continue;
        for (int k = 0; k < nvals; k++) {
            size_t kl = strlen(keys[i]) + 1, vl = strlen(vals[k]) + 1;
            if (ev->envlen + kl + vl > cap) {
                cap = (cap + kl + vl) * 2;
                ev->env = watch_oom(realloc(ev->env, cap));
            }
            memcpy(ev->env + ev->envlen, keys[i], kl);
            memcpy(ev->env + ev->envlen + kl, vals[k], vl);
            ev->envlen += kl + vl;
        }
        free((void *)vals);
    }
    free((void *)keys);
}

static uint64_t watch_hdr_u64(natsMsg *m, const char *key)
{
    const char *v = NULL;

    if (natsMsgHeader_Get(m, key, &v) != NATS_OK || v == NULL)
        return 0;
    return strtoull(v, NULL, 10);
}

bool shadow_watch_fetch(jsCtx *js, const char *stream, const char *subj, uint64_t from,
                        struct shadow_ev *ev)
{
    uint64_t seq = from;
    uint32_t got = 0, nparts = 0;
    size_t cap = 0;

    for (;;) {
        jsDirectGetMsgOptions o;
        natsMsg *m = NULL;
        jsDirectGetMsgOptions_Init(&o);
        o.Sequence = seq;
        o.NextBySubject = subj;
        if (js_DirectGetMsg(&m, js, stream, NULL, &o) != NATS_OK)
            break;
        uint32_t part = (uint32_t)watch_hdr_u64(m, "Dd-Part");
        uint32_t parts = (uint32_t)watch_hdr_u64(m, "Dd-Parts");
        uint64_t mseq = watch_hdr_u64(m, "Nats-Sequence");
        size_t len = (size_t)natsMsg_GetDataLength(m);
        if (part == 0) { /* a part 0 starts the copy (again) */
            ev->envlen = ev->len = 0;
            got = 0;
            watch_env(m, ev);
        }
        if (part == got && parts > 0) {
            if (ev->len + len > cap) {
                cap = (ev->len + len) * 2 + 1;
                ev->data = watch_oom(realloc(ev->data, cap));
            }
            memcpy((char *)ev->data + ev->len, natsMsg_GetData(m), len);
            ev->len += len;
            got++;
            nparts = parts;
        }
        natsMsg_Destroy(m);
        if ((nparts && got == nparts) || mseq == 0)
            break;
        seq = mseq + 1;
    }
    return nparts > 0 && got == nparts && ev->envlen > 0;
}

static int watch_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* watch_inflight - the index of key in the list, or -1 */
static long watch_inflight(const struct shadow_watch *w, const char *key)
{
    for (size_t i = 0; i < w->ninflight; i++)
        if (strcmp(w->inflight[i], key) == 0)
            return (long)i;
    return -1;
}

/* watch_take - hand hub's untaken copies to the loop, up to the batch */
static void watch_take(struct shadow_link *l, struct shadow_watch *w, jsCtx *js, const char *hub)
{
    char filter[SHADOW_SUBJECT_MAX], key[sizeof(*w->inflight)];
    jsStreamInfo *q, *x;
    const char **taken = NULL;
    size_t ntaken = 0, skip = strlen("dd.q.") + strlen(hub) + 1;

    if (w->ninflight >= SHADOW_TAKE_BATCH)
        return;
    snprintf(filter, sizeof(filter), "dd.q.%s.>", hub);
    if ((q = watch_subjects(js, SHADOW_STREAM_QUEUE, filter)) == NULL)
        return;
    snprintf(filter, sizeof(filter), "dd.x.%s.>", hub);
    x = watch_subjects(js, SHADOW_STREAM_HUBS, filter);
    if (x && x->State.Subjects && x->State.Subjects->Count > 0) {
        ntaken = (size_t)x->State.Subjects->Count;
        taken = watch_oom(calloc(ntaken, sizeof(*taken)));
        for (size_t i = 0; i < ntaken; i++) /* dd.x.HUB.QID -> QID */
            taken[i] = x->State.Subjects->List[i].Subject + skip;
        qsort(taken, ntaken, sizeof(*taken), watch_cmp);
    }
    for (int i = 0; q->State.Subjects && i < q->State.Subjects->Count; i++) {
        const char *subj = q->State.Subjects->List[i].Subject, *qid = subj + skip;
        if (w->ninflight >= SHADOW_TAKE_BATCH || shadow_link_stopping(l))
            break;
        if (strlen(subj) <= skip || strlen(qid) > DD_QUEUEID_LEN)
            continue;
        snprintf(key, sizeof(key), "%s.%s", hub, qid);
        if (watch_inflight(w, key) >= 0 ||
            (ntaken && bsearch(&qid, taken, ntaken, sizeof(*taken), watch_cmp)))
            continue;
        int64_t beat_ms;
        uint64_t beat_seq;
        if (watch_beat_of(js, hub, &beat_ms, &beat_seq) && !watch_silent(l, beat_ms)) {
            log_info("shadow", "hub %s beats again: its other copies are left to it", hub);
            break; /* it reads the markers only once these takes have settled */
        }
        struct shadow_ev ev = {.kind = SHADOW_EV_TAKE};
        bool whole = shadow_watch_fetch(js, SHADOW_STREAM_QUEUE, subj, 0, &ev);
        if (w->ninflight == w->cap) {
            w->cap = w->cap ? w->cap * 2 : SHADOW_TAKE_BATCH;
            w->inflight = watch_oom(realloc(w->inflight, w->cap * sizeof(*w->inflight)));
        }
        snprintf(w->inflight[w->ninflight++], sizeof(*w->inflight), "%s", key);
        if (!whole) { /* kept in the list: not tried again by this process */
            log_err("shadow", "%s: the copy of hub %s is not whole; not taken over", qid, hub);
            free(ev.env);
            free(ev.data);
            continue;
        }
        snprintf(ev.hub, sizeof(ev.hub), "%s", hub);
        snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", qid);
        shadow_delivered_read(js, hub, qid, &ev);
        shadow_link_post(l, &ev); /* the loop owns env and data now */
    }
    free(taken);
    jsStreamInfo_Destroy(x);
    jsStreamInfo_Destroy(q);
}

/* watch_first_beat - this process's first beat, stored (acked) before
 * the claims are read: a live hub that claimed this one for its last beat
 * before it stopped may still be taking copies it read before the beat,
 * and their markers may come up to shadow_settle_of() later, so the
 * markers are read only then. A winner stops taking once it sees the beat
 * (watch_take). Without such a claim they are read at once. */
static void watch_first_beat(struct shadow_link *l, struct shadow_watch *w, jsCtx *js,
                             const char *beat, int len)
{
    char subj[SHADOW_SUBJECT_MAX], buf[WATCH_TEXT_MAX], winner[DD_SG_NAME_MAX + 1];
    int64_t prev_ms;
    uint64_t prev_seq = 0, claim_seq;
    unsigned long long seq;
    jsErrCode je = 0;
    bool had = watch_beat_of(js, l->set.hub, &prev_ms, &prev_seq);

    snprintf(subj, sizeof(subj), "dd.h.%s", l->set.hub);
    if (js_Publish(NULL, js, subj, beat, len, NULL, &je) != NATS_OK)
        return; /* the next round tries again */
    w->away_known = true;
    w->away_due_ms = 0;
    snprintf(subj, sizeof(subj), "dd.t.%s", l->set.hub);
    if (had && watch_last(js, subj, buf, sizeof(buf), &claim_seq) &&
        sscanf(buf, "%64s %llu", winner, &seq) == 2 && seq == prev_seq &&
        strcmp(winner, l->set.hub) != 0) {
        struct shadow_ev ev = {.kind = SHADOW_EV_AWAY_LATER,
                               .count = (uint64_t)shadow_settle_of(&l->set)};
        w->away_due_ms = watch_mono_ms() + shadow_settle_of(&l->set);
        shadow_link_post(l, &ev);
        log_info("shadow",
                 "hub %s took this hub over while it was away; what it took is read in %lld ms, "
                 "once its takes have settled",
                 winner, (long long)shadow_settle_of(&l->set));
    }
}

/* watch_away - the markers others left on this hub's copies: this hub
 * must not deliver those messages (once, after the first beat) */
static void watch_away(struct shadow_link *l, struct shadow_watch *w, jsCtx *js)
{
    char filter[SHADOW_SUBJECT_MAX];
    struct shadow_ev ev = {.kind = SHADOW_EV_AWAY};
    size_t skip = strlen("dd.x.") + strlen(l->set.hub) + 1, cap = 0;
    jsStreamInfo *x;

    snprintf(filter, sizeof(filter), "dd.x.%s.>", l->set.hub);
    if ((x = watch_subjects(js, SHADOW_STREAM_HUBS, filter)) == NULL)
        return; /* the next round asks again */
    w->away_read = true;
    for (int i = 0; x->State.Subjects && i < x->State.Subjects->Count; i++) {
        const char *subj = x->State.Subjects->List[i].Subject;
        size_t n = strlen(subj) > skip ? strlen(subj) - skip : 0;
        if (n == 0 || n > DD_QUEUEID_LEN)
            continue;
        if (ev.len + n + 1 > cap) {
            cap = (ev.len + n + 1) * 2;
            ev.data = watch_oom(realloc(ev.data, cap));
        }
        memcpy((char *)ev.data + ev.len, subj + skip, n + 1);
        ev.len += n + 1;
    }
    jsStreamInfo_Destroy(x);
    shadow_link_post(l, &ev);
}

/* watch_dstat - "DD_D_<n>_<SG>_<HUB>" into d's sg and hub */
static bool watch_dstat_name(const char *name, struct shadow_dstat *d)
{
    char *end;
    unsigned long n;

    if (strncmp(name, "DD_D_", 5) != 0)
        return false;
    n = strtoul(name + 5, &end, 10);
    if (end == name + 5 || *end != '_' || n == 0 || n > DD_SG_NAME_MAX || strlen(end + 1) < n + 2 ||
        end[1 + n] != '_' || strlen(end + 2 + n) > DD_SG_NAME_MAX)
        return false;
    memcpy(d->sg, end + 1, n);
    d->sg[n] = 0;
    snprintf(d->hub, sizeof(d->hub), "%s", end + 2 + n);
    return true;
}

/* watch_dstats - every hub's shadow dumpsters, to the loop */
static void watch_dstats(struct shadow_link *l, jsCtx *js)
{
    jsStreamNamesList *names = NULL;
    jsErrCode je = 0;
    struct shadow_ev ev = {.kind = SHADOW_EV_DSTATS};
    size_t n = 0;

    if (js_StreamNames(&names, js, NULL, &je) != NATS_OK)
        return;
    struct shadow_dstat *d = watch_oom(calloc(SHADOW_DSTATS_MAX, sizeof(*d)));
    for (int i = 0; i < names->Count && n < SHADOW_DSTATS_MAX && !shadow_link_stopping(l); i++) {
        jsStreamInfo *si = NULL;
        if (!watch_dstat_name(names->List[i], &d[n]) ||
            js_GetStreamInfo(&si, js, names->List[i], NULL, &je) != NATS_OK)
            continue;
        d[n].items = si->State.Msgs;
        d[n].bytes = si->State.Bytes;
        d[n].oldest_ms = si->State.Msgs ? si->State.FirstTime / 1000000 : 0;
        jsStreamInfo_Destroy(si);
        n++;
    }
    jsStreamNamesList_Destroy(names);
    ev.data = d;
    ev.len = n * sizeof(*d);
    shadow_link_post(l, &ev);
}

void shadow_watch_round(struct shadow_link *l, struct shadow_watch *w, natsConnection *nc,
                        jsCtx *js)
{
    int64_t now = watch_mono_ms();
    char subj[SHADOW_SUBJECT_MAX], beat[32];
    struct shadow_ev ev = {.kind = SHADOW_EV_HUBS};
    jsStreamInfo *si;

    if (now < w->next_ms)
        return;
    w->next_ms = now + shadow_watch_every_ms(&l->set);
    snprintf(subj, sizeof(subj), "dd.h.%s", l->set.hub);
    int len = snprintf(beat, sizeof(beat), "%" PRId64, watch_now_ms());
    if (!w->away_known)
        watch_first_beat(l, w, js, beat, len);
    else
        natsConnection_Publish(nc, subj, beat, len); /* stored by the stream; no ack needed */
    if (!w->away_read && w->away_known && now >= w->away_due_ms)
        watch_away(l, w, js);
    if (!w->away_read) /* until the away list is read, a round every second */
        w->next_ms = now + WATCH_ROUND_MIN_MS;
    if (now >= w->dstats_next_ms) {
        w->dstats_next_ms = now + SHADOW_DSTATS_EVERY_MS;
        watch_dstats(l, js);
    }
    if ((si = watch_subjects(js, SHADOW_STREAM_HUBS, "dd.h.>")) == NULL)
        return;
    for (int i = 0; si->State.Subjects && i < si->State.Subjects->Count && !shadow_link_stopping(l);
         i++) {
        const char *hub = si->State.Subjects->List[i].Subject + strlen("dd.h.");
        int64_t ms;
        uint64_t seq;
        if (strcmp(hub, l->set.hub) == 0 || !watch_beat_of(js, hub, &ms, &seq))
            continue;
        if (!watch_silent(l, ms)) {
            ev.live++;
            continue;
        }
        ev.silent++;
        if (watch_claim(l, w, js, hub, seq))
            watch_take(l, w, js, hub);
    }
    jsStreamInfo_Destroy(si);
    ev.claims = w->claims;
    shadow_link_post(l, &ev);
}

void shadow_watch_taken(struct shadow_link *l, struct shadow_watch *w, natsConnection *nc,
                        jsCtx *js, const struct shadow_job *j)
{
    char key[sizeof(*w->inflight)], subj[SHADOW_SUBJECT_MAX];
    long at;
    jsErrCode je = 0;
    natsStatus s;

    (void)nc;
    snprintf(key, sizeof(key), "%s.%s", j->hub, j->queue_id);
    at = watch_inflight(w, key);
    if (j->ok) {
        snprintf(subj, sizeof(subj), "dd.x.%s.%s", j->hub, j->queue_id);
        s = js_Publish(NULL, js, subj, l->set.hub, (int)strlen(l->set.hub), NULL, &je);
        if (s != NATS_OK) { /* kept in the list: this process does not take it again */
            log_warn("shadow", "%s: cannot mark the copy of hub %s taken: %s", j->queue_id, j->hub,
                     natsStatus_GetText(s));
            return;
        }
    }
    if (at >= 0)
        memmove(w->inflight[at], w->inflight[at + 1],
                (w->ninflight-- - (size_t)at - 1) * sizeof(*w->inflight));
    if (!j->ok)
        return; /* the next round tries it again */
    jsOptions o;
    jsOptions_Init(&o);
    snprintf(subj, sizeof(subj), "dd.q.%s.%s", j->hub, j->queue_id);
    o.Stream.Purge.Subject = subj;
    if ((s = js_PurgeStream(js, SHADOW_STREAM_QUEUE, &o, &je)) != NATS_OK)
        log_warn("shadow", "%s: cannot purge the copy of hub %s: %s", j->queue_id, j->hub,
                 natsStatus_GetText(s));
}

void shadow_watch_free(struct shadow_watch *w)
{
    free(w->inflight);
    w->inflight = NULL;
    w->ninflight = w->cap = 0;
}
