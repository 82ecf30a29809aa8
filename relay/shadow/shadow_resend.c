/*
 * shadow_resend.c - a silent hub's share of a resubmission, read from its
 * shadow dumpster (worker thread only; shadow_int.h)
 *
 * A resend reads the stream DD_D_<n>_<SG>_<HUB> from the first copy stored
 * at or after the range's start (a binary search over the sequences by
 * stored time; a copy is stored just after its delivery, so no copy
 * delivered in the range is stored before it) up to the first one stored
 * after stop_ms, and hands each whole copy to the loop, which keeps the
 * recipients whose delivered time (or received time) falls in the range
 * and commits a new message for them. At most SHADOW_TAKE_BATCH copies of
 * all resends are with the loop at once.
 *
 * With each copy goes its entry in the ledger (the stream DD_LEDGER, one
 * message per subject dd.l.SG.HUB.QUEUEID.KEY, KEY the destination's):
 * the recipients an earlier request resent there. The loop leaves them
 * out unless forced, and once it committed the others it sends the new
 * entry back (SHADOW_JOB_LEDGER), stored here.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "log.h"
#include "shadow_int.h"
#include "timefmt.h"

static void *resend_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

/* resend_ledger - ev's ledger entry of the copy queue_id: ledger_ok when
 * the stream answered, with the entry or that it has none */
static void resend_ledger(jsCtx *js, const struct shadow_cursor *c, const char *queue_id,
                          struct shadow_ev *ev)
{
    char subj[SHADOW_SUBJECT_MAX];
    natsMsg *m = NULL;
    jsErrCode je = 0;
    natsStatus s;

    snprintf(subj, sizeof(subj), "dd.l.%s.%s.%s.%s", c->sg, c->hub, queue_id, c->key);
    s = js_GetLastMsg(&m, js, SHADOW_STREAM_LEDGER, subj, NULL, &je);
    if (s == NATS_NOT_FOUND || je == JSNoMessageFoundErr) {
        ev->ledger_ok = true;
        return;
    }
    if (s != NATS_OK)
        return;
    int len = natsMsg_GetDataLength(m);
    ev->ledger = resend_oom(malloc((size_t)len + 1));
    if (len > 0)
        memcpy(ev->ledger, natsMsg_GetData(m), (size_t)len);
    ev->ledger[len] = 0;
    ev->ledgerlen = (size_t)len;
    ev->ledger_ok = true;
    natsMsg_Destroy(m);
}

/* resend_note - store a ledger entry the loop sent (j->key the subject) */
static void resend_note(const struct shadow_job *j, jsCtx *js)
{
    jsPubOptions po;
    jsErrCode je = 0;
    natsStatus s;

    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    s = js_Publish(NULL, js, j->key, j->data, (int)j->len, &po, &je);
    if (s != NATS_OK)
        log_warn("shadow",
                 "the ledger entry %s could not be stored (%s, %d): a later request may resend "
                 "those recipients again",
                 j->key, natsStatus_GetText(s), (int)je);
}

/* resend_at - the first message at or after seq on c's filter: its
 * sequence, stored time and part; false when none */
static bool resend_at(jsCtx *js, const struct shadow_cursor *c, uint64_t seq, uint64_t *mseq,
                      int64_t *ms, uint32_t *part)
{
    jsDirectGetMsgOptions o;
    natsMsg *m = NULL;
    const char *v = NULL;

    jsDirectGetMsgOptions_Init(&o);
    o.Sequence = seq;
    o.NextBySubject = c->filter;
    if (js_DirectGetMsg(&m, js, c->stream, NULL, &o) != NATS_OK)
        return false;
    *mseq = natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK && v ? strtoull(v, NULL, 10) : 0;
    v = NULL;
    *ms = 0;
    if (natsMsgHeader_Get(m, "Nats-Time-Stamp", &v) != NATS_OK || v == NULL ||
        timefmt_parse(v, strlen(v), ms) != 0)
        *ms = 0;
    v = NULL;
    *part = natsMsgHeader_Get(m, "Dd-Part", &v) == NATS_OK && v ? (uint32_t)atoi(v) : 0;
    natsMsg_Destroy(m);
    return *mseq > 0;
}

/* resend_first - the first sequence stored at or after start_ms */
static bool resend_first(jsCtx *js, struct shadow_cursor *c)
{
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    uint64_t lo, hi, mseq;
    int64_t ms;
    uint32_t part;

    if (js_GetStreamInfo(&si, js, c->stream, NULL, &je) != NATS_OK)
        return false;
    lo = si->State.FirstSeq;
    hi = si->State.LastSeq + 1;
    jsStreamInfo_Destroy(si);
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (!resend_at(js, c, mid, &mseq, &ms, &part))
            hi = mid;
        else if (ms < c->start_ms)
            lo = mseq + 1;
        else
            hi = mid;
    }
    c->seq = lo ? lo : 1;
    return true;
}

static void resend_done(struct shadow_link *l, struct shadow_cursor *c, bool ok, const char *why)
{
    struct shadow_ev ev = {
        .kind = SHADOW_EV_RESEND_DONE, .token = c->id, .ok = ok, .count = c->sent};

    snprintf(ev.hub, sizeof(ev.hub), "%s", c->hub);
    if (why)
        snprintf(ev.why, sizeof(ev.why), "%s", why);
    shadow_link_post(l, &ev);
    c->done = true;
}

/* resend_more - the next copies of c while the batch has room */
static void resend_more(struct shadow_link *l, struct shadow_cursor *c, uint32_t *room, jsCtx *js)
{
    while (*room > 0 && !c->done && !shadow_link_stopping(l)) {
        uint64_t mseq;
        int64_t ms;
        uint32_t part;
        if (!resend_at(js, c, c->seq, &mseq, &ms, &part) || ms > c->stop_ms) {
            resend_done(l, c, true, NULL);
            return;
        }
        c->seq = mseq + 1;
        if (part != 0)
            continue; /* read with its part 0 */
        struct shadow_ev ev = {.kind = SHADOW_EV_RESEND, .token = c->id};
        jsDirectGetMsgOptions o;
        natsMsg *m = NULL;
        jsDirectGetMsgOptions_Init(&o);
        o.Sequence = mseq;
        if (js_DirectGetMsg(&m, js, c->stream, NULL, &o) != NATS_OK) /* its own subject */
            continue;
        char subj[SHADOW_SUBJECT_MAX];
        snprintf(subj, sizeof(subj), "%s", natsMsg_GetSubject(m));
        natsMsg_Destroy(m);
        if (!shadow_watch_fetch(js, c->stream, subj, mseq, &ev)) {
            log_warn("shadow", "a copy of hub %s (%s) is not whole; not resent", c->hub, subj);
            free(ev.env);
            free(ev.data);
            continue;
        }
        snprintf(ev.hub, sizeof(ev.hub), "%s", c->hub);
        snprintf(ev.queue_id, sizeof(ev.queue_id), "%s", strrchr(subj, '.') + 1);
        resend_ledger(js, c, ev.queue_id, &ev);
        shadow_link_post(l, &ev);
        c->inflight++;
        c->sent++;
        (*room)--;
    }
}

void shadow_resend_step(struct shadow_link *l, struct shadow_resends *r, jsCtx *js)
{
    uint32_t busy = 0, room;

    for (size_t i = 0; i < r->n; i++)
        busy += r->c[i].inflight;
    room = busy < SHADOW_TAKE_BATCH ? SHADOW_TAKE_BATCH - busy : 0;
    for (size_t i = 0; i < r->n && room > 0; i++) {
        struct shadow_cursor *c = &r->c[i];
        if (c->done)
            continue;
        if (c->seq == 0 && !resend_first(js, c)) {
            resend_done(l, c, false, "the hub has no shadow dumpster stream for the group");
            continue;
        }
        resend_more(l, c, &room, js);
    }
    for (size_t i = 0; i < r->n;) /* a cursor read to its end and answered goes */
        if (r->c[i].done && r->c[i].inflight == 0)
            r->c[i] = r->c[--r->n];
        else
            i++;
}

void shadow_resend_job(struct shadow_link *l, struct shadow_resends *r, const struct shadow_job *j,
                       jsCtx *js)
{
    (void)l;
    if (j->kind == SHADOW_JOB_LEDGER) {
        resend_note(j, js);
        return;
    }
    if (j->kind == SHADOW_JOB_RESENT) {
        for (size_t i = 0; i < r->n; i++)
            if (r->c[i].id == j->token && r->c[i].inflight > 0) {
                r->c[i].inflight--;
                break;
            }
        return;
    }
    r->c = resend_oom(realloc(r->c, (r->n + 1) * sizeof(*r->c)));
    struct shadow_cursor *c = &r->c[r->n++];
    memset(c, 0, sizeof(*c));
    c->id = j->token;
    snprintf(c->hub, sizeof(c->hub), "%s", j->hub);
    snprintf(c->sg, sizeof(c->sg), "%s", j->sg);
    snprintf(c->key, sizeof(c->key), "%s", j->key);
    shadow_dumpster_stream(c->stream, sizeof(c->stream), j->sg, j->hub);
    snprintf(c->filter, sizeof(c->filter), "dd.d.%s.%s.>", j->sg, j->hub);
    c->start_ms = j->start_ms;
    c->stop_ms = j->stop_ms;
}

void shadow_resends_free(struct shadow_resends *r)
{
    free(r->c);
    r->c = NULL;
    r->n = 0;
}
