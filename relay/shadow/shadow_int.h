/*
 * shadow_int.h - what the loop side of the shadow (shadow.c) and its
 * worker thread (shadow_nats.c) share: the job list one way, the event
 * list the other, both under one mutex; the worker wakes the loop through
 * a pipe. Private to relay/shadow.
 */
#ifndef DD_SHADOW_INT_H
#define DD_SHADOW_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "conf.h"

#define SHADOW_STREAM_QUEUE "DD_QUEUE" /* the shadow queue: dd.q.HUB.QUEUEID */
#define SHADOW_STREAM_HUBS "DD_HUBS"   /* dd.h.HUB beats, dd.t.HUB claims, dd.x.HUB.QUEUEID taken */
#define SHADOW_STREAM_LEDGER                                                                       \
    "DD_LEDGER" /* dd.l.SG.HUB.QUEUEID.KEY: recipients resent (shadow.h)                           \
                 */
#define SHADOW_SUBJECT_MAX 256
#define SHADOW_TAKE_BATCH 64    /* a silent hub's messages with the loop at once */
#define SHADOW_FORGET_MAX 65536 /* removals waiting for the worker; more are dropped */
#define SHADOW_WHY_MAX 160
#define SHADOW_SETTLE_SLACK_MS 10000 /* a probe's answer and the worker's other calls */
#define SHADOW_TAKE_SGS_MAX 32       /* groups of one taken copy whose shadow dumpsters are read */

enum shadow_job_kind {
    SHADOW_JOB_PUBLISH,
    SHADOW_JOB_FORGET,
    SHADOW_JOB_TAKEN,  /* the loop answered a SHADOW_EV_TAKE: ok (committed here) or not */
    SHADOW_JOB_RESEND, /* read hub's shadow dumpster of sg: token the id, start/stop */
    SHADOW_JOB_RESENT, /* the loop answered a SHADOW_EV_RESEND (token the id) */
    SHADOW_JOB_LEDGER, /* store the ledger entry: subject key, the recipients in data */
    SHADOW_JOB_SGS,    /* a reload: data the groups' struct shadow_sg[len / its size] */
};

struct shadow_job {
    struct shadow_job *next;
    enum shadow_job_kind kind;
    uint64_t token;                    /* publish: the loop's op */
    char queue_id[DD_QUEUEID_LEN + 1]; /* its subject and message ids */
    char sg[DD_SG_NAME_MAX + 1];       /* publish: "" the queue, else that SG's dumpster */
    uint64_t seq;                      /* a dumpster publish: part of its message ids */
    char hub[DD_SG_NAME_MAX + 1];      /* taken: the silent hub */
    bool ok;
    int64_t start_ms, stop_ms;    /* resend */
    char key[SHADOW_SUBJECT_MAX]; /* resend: the destination's ledger key; ledger: the subject */
    char *env;                    /* publish: "key\0value\0..." headers of part 0 */
    size_t envlen;
    void *data; /* publish: the content, owned */
    size_t len;
};

enum shadow_ev_kind {
    SHADOW_EV_ACK,         /* part `part` of `nparts` of token stored */
    SHADOW_EV_NACK,        /* token failed: why */
    SHADOW_EV_UP,          /* connected, streams checked */
    SHADOW_EV_DOWN,        /* the connection is gone (libnats reconnects) */
    SHADOW_EV_RECONNECTED, /* libnats (re)connected: what waits for an ack goes again */
    SHADOW_EV_FORGOT,      /* a removal answered: ok or not */
    SHADOW_EV_TAKE,        /* a silent hub's message (hub, queue_id, env, data) for the loop */
    SHADOW_EV_HUBS,        /* the other hubs: live, silent, takeovers won */
    SHADOW_EV_AWAY,        /* this hub's queue ids another hub took ("id\0id\0..." in data) */
    SHADOW_EV_RESEND,      /* a copy of hub's shadow dumpster for resend token (env, data) */
    SHADOW_EV_RESEND_DONE, /* resend token read to its end (or could not: ok false) */
    SHADOW_EV_DSTATS,      /* data: struct shadow_dstat[len / its size] */
    SHADOW_EV_AWAY_LATER,  /* a hub took this one over: the away list comes in count ms */
};

struct shadow_ev {
    struct shadow_ev *next;
    enum shadow_ev_kind kind;
    uint64_t token;
    uint32_t part, nparts;
    bool ok;
    bool again; /* NACK: a state of the cluster that passes (no stream leader yet, a
                   timeout, a connection lost): worth sending again */
    char why[SHADOW_WHY_MAX];
    char hub[DD_SG_NAME_MAX + 1];      /* take */
    char queue_id[DD_QUEUEID_LEN + 1]; /* take: its queue id there */
    char *env;                         /* take: "key\0value\0...", owned */
    size_t envlen;
    void *data; /* take: the content, owned */
    size_t len;
    uint32_t live, silent, claims; /* hubs */
    uint64_t count;                /* resend done: copies handed over */
    char *ledger;                  /* resend: the copy's ledger entry (recipients), owned */
    size_t ledgerlen;
    bool ledger_ok;  /* resend: the ledger was read (an entry or none) */
    char *delivered; /* take: "SG addr\n" each recipient the hub delivered, owned */
    size_t deliveredlen;
};

/* shadow_ev_free - what an event owns, and the event */
void shadow_ev_free(struct shadow_ev *e);

/* The settings the worker uses, copied from the conf at shadow_new(). */
struct shadow_settings {
    char hub[65];
    char servers[DD_CONF_LINE_MAX + 1];
    char user[65];
    char password[256];
    char token[256];
    char ca_file[DD_PATHNAME_MAX];
    unsigned replicas;
    unsigned publish_timeout_s;
    uint64_t queue_max_age_s; /* of the queue stream */
    unsigned takeover_after_s;
    struct shadow_sg { /* the storage groups with a dumpster: their streams */
        char name[DD_SG_NAME_MAX + 1];
        uint64_t max_age_s, max_bytes;
    } * sgs;
    size_t nsgs;
};

/* shadow_dumpster_stream - the name of sg's shadow dumpster stream of hub */
void shadow_dumpster_stream(char *out, size_t cap, const char *sg, const char *hub);

struct shadow_link {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct shadow_job *jobs, *jobs_tail; /* loop -> worker */
    size_t nforget;                      /* forget jobs waiting */
    struct shadow_ev *evs, *evs_tail;    /* worker, libnats -> loop */
    int wake[2];                         /* pipe: a byte when evs became non-empty */
    bool stop;
    bool connected; /* libnats says so (its callbacks) */
    struct shadow_settings set;
    pthread_t thr;
    bool started;
    void *nats; /* shadow_nats.c's state, worker thread only */
};

/* shadow_link_post - worker or libnats thread: an event to the loop. */
void shadow_link_post(struct shadow_link *l, const struct shadow_ev *ev);

/* shadow_link_stopping - worker: the hub is stopping (checked between the
 * calls of a long round). */
bool shadow_link_stopping(struct shadow_link *l);

/* shadow_link_push - loop: a job to the worker (takes j). */
void shadow_link_push(struct shadow_link *l, struct shadow_job *j);

/* shadow_link_drop_publishes - loop: the publish jobs not started go. */
void shadow_link_drop_publishes(struct shadow_link *l);

/* shadow_job_free - a job and what it owns. */
void shadow_job_free(struct shadow_job *j);

/* shadow_settings_load - set from c, the credential files read; -1 with
 * err (set->sgs, once allocated, is the caller's to free). */
int shadow_settings_load(struct shadow_settings *set, const struct conf *c, char *err,
                         size_t errlen);

/* shadow_settings_sgs - the groups of c with a dumpster, and their
 * bounds (malloc'd, *n of them; NULL without memory). */
struct shadow_sg *shadow_settings_sgs(const struct conf *c, size_t *n);

/* shadow_env_queue, shadow_env_kept - the envelope of a queue copy of m, or
 * of the shadow dumpster copy k, from hub (shadow_envelope.c): *env is
 * malloc'd "key\0value\0" pairs, *envlen their octets; aborts without memory. */
struct queue_msg;
struct shadow_kept;
void shadow_env_queue(const char *hub, const struct queue_msg *m, char **env, size_t *envlen);
void shadow_env_kept(const char *hub, const struct shadow_kept *k, char **env, size_t *envlen);

/* The watch of the other hubs (shadow_watch.c, worker thread only). */
struct shadow_watch {
    int64_t next_ms;                                       /* monotonic: the next round */
    char (*inflight)[DD_SG_NAME_MAX + DD_QUEUEID_LEN + 2]; /* "HUB.QUEUEID" with the loop */
    size_t ninflight, cap;
    uint32_t claims;     /* takeovers this hub won */
    bool away_read;      /* what others took of this hub was read (once per process) */
    bool away_known;     /* the first beat is stored and whether a hub claimed this one is known */
    int64_t away_due_ms; /* monotonic: the takes of a claim on this hub have settled */
    int64_t dstats_next_ms;
};

#define WATCH_ROUND_MIN_MS 1000
#define WATCH_ROUND_MAX_MS 10000

/* shadow_watch_every_ms - the interval of the watch's rounds */
static inline int64_t shadow_watch_every_ms(const struct shadow_settings *set)
{
    int64_t every = (int64_t)set->takeover_after_s * 1000 / 4;

    return every < WATCH_ROUND_MIN_MS   ? WATCH_ROUND_MIN_MS
           : every > WATCH_ROUND_MAX_MS ? WATCH_ROUND_MAX_MS
                                        : every;
}

/* shadow_settle_of - how long a take the winner began before this hub's
 * first beat can take to reach its marker: the winner's round, a probe,
 * the commit with its shadow copy (publish_timeout), the marker's round */
static inline int64_t shadow_settle_of(const struct shadow_settings *set)
{
    return (int64_t)set->publish_timeout_s * 1000 + 2 * shadow_watch_every_ms(set) +
           SHADOW_SETTLE_SLACK_MS;
}

/* shadow_watch_round - when due: this hub's beat, the others' liveness,
 * and the takeover of a silent hub's copies (js: the JetStream context,
 * nc its connection). */
struct __jsCtx;
struct __natsConnection;
void shadow_watch_round(struct shadow_link *l, struct shadow_watch *w, struct __natsConnection *nc,
                        struct __jsCtx *js);

/* shadow_watch_taken - the loop's answer to a take: its marker and the
 * purge of the silent hub's copy, or a retry in a later round */
void shadow_watch_taken(struct shadow_link *l, struct shadow_watch *w, struct __natsConnection *nc,
                        struct __jsCtx *js, const struct shadow_job *j);

void shadow_watch_free(struct shadow_watch *w);

/* shadow_watch_fetch - every part of the copy on subj of stream, in order,
 * from sequence `from` on, into ev's env (part 0's Dd- headers) and data:
 * true when whole. */
bool shadow_watch_fetch(struct __jsCtx *js, const char *stream, const char *subj, uint64_t from,
                        struct shadow_ev *ev);

/* shadow_delivered_read - the recipients of hub's copy queue_id (ev's
 * env: its Dd-Rcpt headers) that the hub delivered, from their groups'
 * shadow dumpsters, into ev->delivered (shadow_delivered.c, worker only) */
void shadow_delivered_read(struct __jsCtx *js, const char *hub, const char *queue_id,
                           struct shadow_ev *ev);

/* A resend from a hub's shadow dumpster (shadow_resend.c, worker only). */
struct shadow_cursor {
    uint64_t id;
    char hub[DD_SG_NAME_MAX + 1];
    char sg[DD_SG_NAME_MAX + 1];
    char key[SHADOW_SUBJECT_MAX]; /* the destination's ledger key */
    char stream[SHADOW_SUBJECT_MAX], filter[SHADOW_SUBJECT_MAX];
    int64_t start_ms, stop_ms; /* stored times to read */
    uint64_t seq;              /* the next sequence to read; 0: not found yet */
    uint32_t inflight;         /* copies with the loop */
    uint64_t sent;
    bool done;
};
struct shadow_resends {
    struct shadow_cursor *c;
    size_t n;
};

/* shadow_resend_step - hand the loop the next copies of every resend,
 * within SHADOW_TAKE_BATCH in flight; tell it when one is done. */
void shadow_resend_step(struct shadow_link *l, struct shadow_resends *r, struct __jsCtx *js);

/* shadow_resend_job - a new resend (SHADOW_JOB_RESEND), the loop's
 * answer to one copy (SHADOW_JOB_RESENT) or a ledger entry to store
 * (SHADOW_JOB_LEDGER) */
void shadow_resend_job(struct shadow_link *l, struct shadow_resends *r, const struct shadow_job *j,
                       struct __jsCtx *js);

void shadow_resends_free(struct shadow_resends *r);

/* shadow_nats_run - the worker thread (arg: the link). */
void *shadow_nats_run(void *arg);

#endif
