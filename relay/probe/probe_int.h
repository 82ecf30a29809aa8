/*
 * probe_int.h - what the probes (probe.c) and their backends
 * (probe_doveadm.c) share
 */
#ifndef DD_PROBE_INT_H
#define DD_PROBE_INT_H

#include "conf.h"
#include "probe.h"

struct event_base;

/* One HTTP (or other) request of at most DD_PROBE_BATCH_MAX questions:
 * the backend calls done(ctx, answers, n, error) exactly once, later. */
typedef void (*probe_req_fn)(void *ctx, const enum probe_answer *answers, size_t n,
                             const char *error);

/* A backend: how one probe scheme asks. */
struct probe_backend {
    const char *scheme; /* the part before ':' in the probe key */
    /* open - a backend for group g (key already read); NULL with err */
    void *(*open)(struct event_base *base, const struct conf_sg *g, const char *key, size_t keylen,
                  char *err, size_t errlen);
    /* ask - one request; the strings of q stay valid until done */
    void (*ask)(void *b, const struct probe_query *q, size_t n, probe_req_fn done, void *ctx);
    /* cancel - every request in flight ends now (done gets an error) */
    void (*cancel)(void *b);
    /* close - release; nothing may be in flight */
    void (*close)(void *b);
};

extern const struct probe_backend probe_doveadm;

#endif
