/*
 * shadow_delivered.c - what a silent hub delivered of a message before it
 * went silent, read from its shadow dumpsters (worker thread only;
 * shadow_int.h)
 *
 * A queue copy lists every recipient of the message, delivered or not.
 * Each delivery to a group with a dumpster left a copy under the subject
 * dd.d.SG.HUB.QUEUEID of that group's shadow dumpster, with a Dd-Delivered
 * header per recipient it delivered. For every group the queue copy names,
 * those copies are read (a direct get by subject, at most
 * DELIVERED_COPIES_MAX of them) and their recipients listed as "SG addr"
 * lines (shadow_list.h), so the takeover leaves them out. A group without a dumpster leaves no
 * trace: its recipients are delivered again unless a probe says the mailbox has the copy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#include "log.h"
#include "shadow_int.h"
#include "shadow_list.h"

#define DELIVERED_COPIES_MAX 64 /* dumpster copies read per group and message */

static void *delivered_oom(void *p)
{
    if (p == NULL) {
        log_err("shadow", "out of memory");
        abort();
    }
    return p;
}

/* delivered_of - the recipients each part 0 of m says were delivered */
static void delivered_of(natsMsg *m, const char *sg, struct shadow_ev *ev)
{
    const char **vals = NULL;
    int nvals = 0;

    if (natsMsgHeader_Values(m, "Dd-Delivered", &vals, &nvals) != NATS_OK)
        return;
    for (int i = 0; i < nvals; i++) { /* "<addr> UNIXMS" */
        const char *sp = strrchr(vals[i], ' ');
        char addr[DD_ADDR_MAX + 1];
        size_t n = sp ? (size_t)(sp - vals[i]) : 0;
        if (n < 3 || n - 2 > DD_ADDR_MAX || vals[i][0] != '<' || vals[i][n - 1] != '>')
            continue;
        memcpy(addr, vals[i] + 1, n - 2);
        addr[n - 2] = 0;
        if (shadow_list_add(&ev->delivered, &ev->deliveredlen, sg, addr) < 0)
            delivered_oom(NULL);
    }
    free((void *)vals);
}

/* delivered_sg - the copies of hub's queue_id in sg's shadow dumpster */
static void delivered_sg(jsCtx *js, const char *sg, const char *hub, const char *queue_id,
                         struct shadow_ev *ev)
{
    char stream[SHADOW_SUBJECT_MAX], subj[SHADOW_SUBJECT_MAX];
    uint64_t seq = 0;

    shadow_dumpster_stream(stream, sizeof(stream), sg, hub);
    snprintf(subj, sizeof(subj), "dd.d.%s.%s.%s", sg, hub, queue_id);
    for (int n = 0; n < DELIVERED_COPIES_MAX; n++) {
        jsDirectGetMsgOptions o;
        natsMsg *m = NULL;
        const char *v = NULL;
        jsDirectGetMsgOptions_Init(&o);
        o.Sequence = seq;
        o.NextBySubject = subj;
        if (js_DirectGetMsg(&m, js, stream, NULL, &o) != NATS_OK)
            return; /* none (more), or no such stream */
        uint64_t mseq =
            natsMsgHeader_Get(m, "Nats-Sequence", &v) == NATS_OK && v ? strtoull(v, NULL, 10) : 0;
        v = NULL;
        if (natsMsgHeader_Get(m, "Dd-Part", &v) != NATS_OK || v == NULL || atoi(v) == 0)
            delivered_of(m, sg, ev);
        natsMsg_Destroy(m);
        if (mseq == 0)
            return;
        seq = mseq + 1;
    }
}

void shadow_delivered_read(jsCtx *js, const char *hub, const char *queue_id, struct shadow_ev *ev)
{
    char seen[SHADOW_TAKE_SGS_MAX][DD_SG_NAME_MAX + 1];
    size_t nseen = 0;

    for (size_t i = 0; i < ev->envlen;) { /* "Dd-Rcpt\0SG <addr>\0" */
        const char *k = ev->env + i, *v = k + strlen(k) + 1;
        const char *sp = strchr(v, ' ');
        i = (size_t)(v + strlen(v) + 1 - ev->env);
        if (strcmp(k, "Dd-Rcpt") != 0 || sp == NULL || sp == v || v[0] == '@' ||
            (size_t)(sp - v) > DD_SG_NAME_MAX)
            continue;
        char sg[DD_SG_NAME_MAX + 1];
        memcpy(sg, v, (size_t)(sp - v));
        sg[sp - v] = 0;
        bool dup = false;
        for (size_t s = 0; s < nseen && !dup; s++)
            dup = strcmp(seen[s], sg) == 0;
        if (dup || nseen == SHADOW_TAKE_SGS_MAX)
            continue;
        memcpy(seen[nseen++], sg, sizeof(sg));
        delivered_sg(js, sg, hub, queue_id, ev);
    }
}
