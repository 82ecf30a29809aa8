/*
 * shadow_nats.c - the shadow's worker thread: the libnats connection, the
 * streams, publishes and removals (shadow_int.h)
 *
 * Everything that may block on the network runs here, never on the loop.
 * Publishes are asynchronous (js_PublishMsgAsync): the acks come on a
 * libnats thread, which only posts an event. A content larger than the
 * server's max_payload goes in parts, each with its own Nats-Msg-Id
 * HUB.QUEUEID.PART, all on the message's subject dd.q.HUB.QUEUEID.
 * Removals are asynchronous purge requests of that subject.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nats/nats.h>

#include "log.h"
#include "shadow_int.h"
#include "shadow_nats_int.h"

#define NATS_CONNECT_TIMEOUT_MS 2000
#define NATS_RECONNECT_WAIT_MS 250
#define NATS_PING_MS 2000
#define NATS_ACK_WAIT_MS 2000 /* one publish's wait for its ack */
#define NATS_ENSURE_RETRY_S 2
#define NATS_PART_HEADROOM 1024 /* for the headers of a part past the envelope's */
#define NATS_SERVERS_MAX DD_SHADOW_SERVERS_MAX

struct shadow_nats {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    natsSubscription *purge_sub;
    char purge_inbox[64];
    bool ensured;
    struct shadow_watch watch;
    struct shadow_resends resends;
    bool *sg_ok; /* by [shadow_settings] sgs: its dumpster stream is there */
    bool up;     /* as last posted */
    char last_err[SHADOW_WHY_MAX];
};

/* nats_post - an event of kind k */
static void nats_post(struct shadow_link *l, enum shadow_ev_kind k, const char *why)
{
    struct shadow_ev ev = {.kind = k};

    if (why)
        snprintf(ev.why, sizeof(ev.why), "%s", why);
    shadow_link_post(l, &ev);
}

/* nats_set_connected - libnats callbacks: the state, and wake the worker */
static void nats_set_connected(struct shadow_link *l, bool on)
{
    pthread_mutex_lock(&l->mu);
    l->connected = on;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void nats_connected_cb(natsConnection *nc, void *closure)
{
    struct shadow_ev ev = {.kind = SHADOW_EV_RECONNECTED};

    (void)nc;
    nats_set_connected(closure, true);
    shadow_link_post(closure, &ev); /* acks of what went before are lost: send it again */
}

static void nats_disconnected_cb(natsConnection *nc, void *closure)
{
    (void)nc;
    nats_set_connected(closure, false);
}

/* nats_hdr_u64 - a decimal header of msg, or 0 */
static uint64_t nats_hdr_u64(natsMsg *msg, const char *key)
{
    const char *v = NULL;

    if (natsMsgHeader_Get(msg, key, &v) != NATS_OK || v == NULL)
        return 0;
    return strtoull(v, NULL, 10);
}

/* nats_again - a failure the cluster recovers from by itself */
static bool nats_again(natsStatus s, jsErrCode je)
{
    return s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT || s == NATS_CONNECTION_CLOSED ||
           s == NATS_CONNECTION_DISCONNECTED || s == NATS_NOT_YET_CONNECTED ||
           je == JSClusterNotAvailErr;
}

/* nats_ack_cb - libnats thread: a publish answered */
static void nats_ack_cb(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    struct shadow_ev ev = {0};

    (void)js;
    ev.token = nats_hdr_u64(msg, "Dd-Op");
    ev.part = (uint32_t)nats_hdr_u64(msg, "Dd-Part");
    ev.nparts = (uint32_t)nats_hdr_u64(msg, "Dd-Parts");
    if (pa != NULL) {
        ev.kind = SHADOW_EV_ACK;
    } else {
        ev.kind = SHADOW_EV_NACK;
        ev.again = pae == NULL || nats_again(pae->Err, pae->ErrCode);
        snprintf(ev.why, sizeof(ev.why), "%s (%d/%d)",
                 pae && pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : NATS_ERR),
                 pae ? (int)pae->Err : 0, pae ? (int)pae->ErrCode : 0);
    }
    shadow_link_post(closure, &ev);
    natsMsg_Destroy(msg);
}

/* nats_purge_cb - libnats thread: a purge answered */
static void nats_purge_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    struct shadow_ev ev = {.kind = SHADOW_EV_FORGOT};
    const char *d = natsMsg_GetData(msg);

    (void)nc;
    (void)sub;
    ev.ok = d && strstr(d, "\"success\":true") != NULL;
    if (!ev.ok)
        snprintf(ev.why, sizeof(ev.why), "%.*s",
                 natsMsg_GetDataLength(msg) > 120 ? 120 : natsMsg_GetDataLength(msg), d ? d : "");
    shadow_link_post(closure, &ev);
    natsMsg_Destroy(msg);
}

/* nats_fail - the text of a failed call, kept for the log */
static const char *nats_fail(struct shadow_nats *n, const char *what, natsStatus s, jsErrCode je)
{
    return shadow_nats_fail(n->last_err, sizeof(n->last_err), what, s, je);
}

/* nats_options - the connection's options from the settings */
static natsStatus nats_options(struct shadow_link *l, struct shadow_nats *n)
{
    const struct shadow_settings *set = &l->set;
    char buf[sizeof(set->servers)];
    const char *urls[NATS_SERVERS_MAX];
    int nurls = 0;
    bool tls = false;
    natsStatus s;

    snprintf(buf, sizeof(buf), "%s", set->servers);
    for (char *save = NULL, *u = strtok_r(buf, ",", &save); u && nurls < NATS_SERVERS_MAX;
         u = strtok_r(NULL, ",", &save)) {
        urls[nurls++] = u;
        tls |= strncmp(u, "tls://", 6) == 0;
    }
    if ((s = natsOptions_Create(&n->opts)) != NATS_OK)
        return s;
    s = natsOptions_SetServers(n->opts, urls, nurls);
    if (s == NATS_OK)
        s = natsOptions_SetName(n->opts, set->hub);
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(n->opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(n->opts, NATS_CONNECT_TIMEOUT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(n->opts, -1);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectWait(n->opts, NATS_RECONNECT_WAIT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetPingInterval(n->opts, NATS_PING_MS);
    if (s == NATS_OK)
        s = natsOptions_SetMaxPingsOut(n->opts, 2);
    if (s == NATS_OK)
        s = natsOptions_SetRetryOnFailedConnect(n->opts, true, nats_connected_cb, l);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(n->opts, nats_connected_cb, l);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(n->opts, nats_disconnected_cb, l);
    if (s == NATS_OK && set->user[0])
        s = natsOptions_SetUserInfo(n->opts, set->user, set->password);
    if (s == NATS_OK && set->token[0])
        s = natsOptions_SetToken(n->opts, set->token);
    if (s == NATS_OK && tls)
        s = natsOptions_SetSecure(n->opts, true);
    if (s == NATS_OK && set->ca_file[0])
        s = natsOptions_LoadCATrustedCertificates(n->opts, set->ca_file);
    return s;
}

/* nats_connect - the connection (it keeps trying in the background) and
 * the JetStream context */
static int nats_connect(struct shadow_link *l, struct shadow_nats *n)
{
    jsOptions jo;
    natsStatus s = nats_options(l, n);

    if (s != NATS_OK) {
        log_err("shadow", "%s", nats_fail(n, "bad options", s, 0));
        return -1;
    }
    /* one pass over the servers first, so a cause (a refused certificate, a
     * bad password) reaches the log; then libnats keeps trying by itself */
    s = natsOptions_SetRetryOnFailedConnect(n->opts, false, NULL, NULL);
    if (s == NATS_OK)
        s = natsConnection_Connect(&n->nc, n->opts);
    if (s == NATS_OK) {
        nats_set_connected(l, true);
    } else {
        log_warn("shadow", "%s; trying again", nats_fail(n, "cannot connect", s, 0));
        s = natsOptions_SetRetryOnFailedConnect(n->opts, true, nats_connected_cb, l);
        if (s == NATS_OK)
            s = natsConnection_Connect(&n->nc, n->opts);
        if (s == NATS_OK)
            nats_set_connected(l, true);
        else if (s != NATS_NOT_YET_CONNECTED) {
            log_err("shadow", "%s", nats_fail(n, "cannot connect", s, 0));
            return -1;
        }
    }
    jsOptions_Init(&jo);
    jo.Wait = 2000; /* every call of the worker: a stop waits at most about this */
    jo.PublishAsync.MaxPending = 1 << 20; /* the loop bounds what is in flight */
    jo.PublishAsync.AckHandler = nats_ack_cb;
    jo.PublishAsync.AckHandlerClosure = l;
    if ((s = natsConnection_JetStream(&n->js, n->nc, &jo)) != NATS_OK) {
        log_err("shadow", "%s", nats_fail(n, "no JetStream context", s, 0));
        return -1;
    }
    snprintf(n->purge_inbox, sizeof(n->purge_inbox), "_INBOX.dd.%s.purge", l->set.hub);
    if ((s = natsConnection_Subscribe(&n->purge_sub, n->nc, n->purge_inbox, nats_purge_cb, l)) !=
        NATS_OK) {
        log_err("shadow", "%s", nats_fail(n, "cannot subscribe", s, 0));
        return -1;
    }
    return 0;
}

/* nats_header_env - the envelope's headers on msg */
static natsStatus nats_header_env(natsMsg *msg, const char *env, size_t len)
{
    natsStatus s = NATS_OK;

    for (size_t i = 0; i < len && s == NATS_OK;) {
        const char *k = env + i, *v = k + strlen(k) + 1;
        s = natsMsgHeader_Add(msg, k, v);
        i = (size_t)(v + strlen(v) + 1 - env);
    }
    return s;
}

/* nats_publish - every part of a publish job */
static void nats_publish(struct shadow_link *l, struct shadow_nats *n, const struct shadow_job *j)
{
    char subj[SHADOW_SUBJECT_MAX], id[SHADOW_SUBJECT_MAX], num[24];
    int64_t maxp = natsConnection_GetMaxPayload(n->nc);
    size_t room = maxp > 0 ? (size_t)maxp : 1024 * 1024;
    size_t first = j->envlen + NATS_PART_HEADROOM, part;
    natsStatus s = NATS_OK;

    for (size_t i = 0; j->sg[0] && i < l->set.nsgs; i++)
        if (strcmp(l->set.sgs[i].name, j->sg) == 0 && !(n->sg_ok && n->sg_ok[i])) {
            struct shadow_ev ev = {.kind = SHADOW_EV_NACK, .token = j->token};
            snprintf(ev.why, sizeof(ev.why), "no shadow dumpster stream for %s", j->sg);
            shadow_link_post(l, &ev);
            return;
        }
    if (room <= first + 4096) {
        struct shadow_ev ev = {.kind = SHADOW_EV_NACK, .token = j->token};
        snprintf(ev.why, sizeof(ev.why), "the envelope does not fit the server's max_payload");
        shadow_link_post(l, &ev);
        return;
    }
    part = room - first;
    uint32_t nparts = j->len == 0 ? 1 : (uint32_t)((j->len + part - 1) / part);
    if (j->sg[0])
        snprintf(subj, sizeof(subj), "dd.d.%s.%s.%s", j->sg, l->set.hub, j->queue_id);
    else
        snprintf(subj, sizeof(subj), "dd.q.%s.%s", l->set.hub, j->queue_id);
    for (uint32_t p = 0; p < nparts && s == NATS_OK; p++) {
        natsMsg *msg = NULL;
        size_t off = (size_t)p * part, len = j->len - off < part ? j->len - off : part;
        jsPubOptions po;
        s = natsMsg_Create(&msg, subj, NULL, (const char *)j->data + off, (int)len);
        snprintf(num, sizeof(num), "%" PRIu64, j->token);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(msg, "Dd-Op", num);
        snprintf(num, sizeof(num), "%u", p);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(msg, "Dd-Part", num);
        snprintf(num, sizeof(num), "%u", nparts);
        if (s == NATS_OK)
            s = natsMsgHeader_Set(msg, "Dd-Parts", num);
        if (s == NATS_OK && p == 0)
            s = nats_header_env(msg, j->env, j->envlen);
        if (j->sg[0])
            snprintf(id, sizeof(id), "%s.%s.%s.%" PRIu64 ".%u", l->set.hub, j->queue_id, j->sg,
                     j->seq, p);
        else
            snprintf(id, sizeof(id), "%s.%s.%u", l->set.hub, j->queue_id, p);
        jsPubOptions_Init(&po);
        po.MsgId = id;
        /* an ack lost with a node (its stream leader gone, a connection cut)
         * times out soon and the op goes again, the same Nats-Msg-Id */
        po.MaxWait = (int64_t)l->set.publish_timeout_s * 1000 < NATS_ACK_WAIT_MS
                         ? (int64_t)l->set.publish_timeout_s * 1000
                         : NATS_ACK_WAIT_MS;
        if (s == NATS_OK)
            s = js_PublishMsgAsync(n->js, &msg, &po);
        natsMsg_Destroy(msg); /* NULL when libnats took it */
    }
    if (s != NATS_OK) {
        struct shadow_ev ev = {.kind = SHADOW_EV_NACK, .token = j->token};
        ev.again = nats_again(s, 0);
        snprintf(ev.why, sizeof(ev.why), "%s", nats_fail(n, "publish", s, 0));
        shadow_link_post(l, &ev);
    }
}

/* nats_forget - purge the subject of a message */
static void nats_forget(struct shadow_link *l, struct shadow_nats *n, const struct shadow_job *j)
{
    char api[96], body[SHADOW_SUBJECT_MAX + 32];
    int len = snprintf(body, sizeof(body), "{\"filter\":\"dd.q.%s.%s\"}", l->set.hub, j->queue_id);
    natsStatus s;

    snprintf(api, sizeof(api), "$JS.API.STREAM.PURGE.%s", SHADOW_STREAM_QUEUE);
    s = natsConnection_PublishRequest(n->nc, api, n->purge_inbox, body, len);
    if (s != NATS_OK) {
        struct shadow_ev ev = {.kind = SHADOW_EV_FORGOT, .ok = false};
        snprintf(ev.why, sizeof(ev.why), "%s", nats_fail(n, "purge", s, 0));
        shadow_link_post(l, &ev);
    }
}

/* nats_pop - under the lock: the next job, or NULL */
static struct shadow_job *nats_pop(struct shadow_link *l)
{
    struct shadow_job *j = l->jobs;

    if (j) {
        l->jobs = j->next;
        if (l->jobs == NULL)
            l->jobs_tail = NULL;
        if (j->kind == SHADOW_JOB_FORGET)
            l->nforget--;
    }
    return j;
}

/* nats_wait - under the lock: sleep until woken or s seconds pass */
static void nats_wait(struct shadow_link *l, unsigned s)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += s;
    pthread_cond_timedwait(&l->cv, &l->mu, &ts);
}

/* nats_up - under the lock: tell the loop when up changes */
static void nats_up(struct shadow_link *l, struct shadow_nats *n, bool up)
{
    if (n->up == up)
        return;
    n->up = up;
    pthread_mutex_unlock(&l->mu);
    if (up)
        log_info("shadow", "connected to the NATS cluster (%s)", l->set.servers);
    nats_post(l, up ? SHADOW_EV_UP : SHADOW_EV_DOWN, up ? NULL : "the NATS connection is down");
    pthread_mutex_lock(&l->mu);
}

/* nats_set_sgs - a reload's groups: theirs the streams from now on */
static void nats_set_sgs(struct shadow_link *l, struct shadow_nats *n, struct shadow_job *j)
{
    free(l->set.sgs);
    l->set.sgs = j->data;
    l->set.nsgs = j->len / sizeof(*l->set.sgs);
    j->data = NULL; /* the settings own it now */
    free(n->sg_ok);
    n->sg_ok = NULL;
    shadow_streams_sgs(n->js, &l->set, &n->sg_ok, n->last_err, sizeof(n->last_err));
}

/* nats_step - under the lock: one turn of the worker; false to stop */
static bool nats_step(struct shadow_link *l, struct shadow_nats *n)
{
    if (l->stop)
        return false;
    if (!l->connected || !n->ensured) {
        nats_up(l, n, false);
        if (l->connected && !n->ensured) {
            pthread_mutex_unlock(&l->mu);
            int rc =
                shadow_streams_ensure(n->js, &l->set, &n->sg_ok, n->last_err, sizeof(n->last_err));
            if (rc < 0)
                log_err("shadow", "%s; trying again in %d s", n->last_err, NATS_ENSURE_RETRY_S);
            pthread_mutex_lock(&l->mu);
            n->ensured = rc == 0;
            if (rc < 0)
                nats_wait(l, NATS_ENSURE_RETRY_S);
        } else
            nats_wait(l, 1);
        return true;
    }
    nats_up(l, n, true);
    pthread_mutex_unlock(&l->mu);
    shadow_watch_round(l, &n->watch, n->nc, n->js);
    shadow_resend_step(l, &n->resends, n->js);
    pthread_mutex_lock(&l->mu);
    struct shadow_job *j = nats_pop(l);
    if (j == NULL) {
        nats_wait(l, 1);
        return true;
    }
    pthread_mutex_unlock(&l->mu);
    if (j->kind == SHADOW_JOB_PUBLISH)
        nats_publish(l, n, j);
    else if (j->kind == SHADOW_JOB_TAKEN)
        shadow_watch_taken(l, &n->watch, n->nc, n->js, j);
    else if (j->kind == SHADOW_JOB_SGS)
        nats_set_sgs(l, n, j);
    else if (j->kind == SHADOW_JOB_RESEND || j->kind == SHADOW_JOB_RESENT ||
             j->kind == SHADOW_JOB_LEDGER)
        shadow_resend_job(l, &n->resends, j, n->js);
    else
        nats_forget(l, n, j);
    shadow_job_free(j);
    pthread_mutex_lock(&l->mu);
    return true;
}

/* nats_close - the connection and what hangs on it */
static void nats_close(struct shadow_nats *n)
{
    shadow_watch_free(&n->watch);
    free(n->sg_ok);
    shadow_resends_free(&n->resends);
    if (n->purge_sub)
        natsSubscription_Destroy(n->purge_sub);
    if (n->js)
        jsCtx_Destroy(n->js);
    if (n->nc) {
        natsConnection_Close(n->nc);
        natsConnection_Destroy(n->nc);
    }
    if (n->opts)
        natsOptions_Destroy(n->opts);
}

/* shadow_nats_run - the worker: connect, then jobs until the stop */
void *shadow_nats_run(void *arg)
{
    struct shadow_link *l = arg;
    struct shadow_nats n = {0};

    if (nats_connect(l, &n) < 0) {
        nats_post(l, SHADOW_EV_DOWN, n.last_err);
        pthread_mutex_lock(&l->mu);
        while (!l->stop)
            nats_wait(l, 1);
        pthread_mutex_unlock(&l->mu);
        nats_close(&n);
        return NULL;
    }
    pthread_mutex_lock(&l->mu);
    while (nats_step(l, &n))
        ;
    pthread_mutex_unlock(&l->mu);
    nats_close(&n);
    return NULL;
}
