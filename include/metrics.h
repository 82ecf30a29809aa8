/*
 * metrics.h - the hub's counters in the Prometheus text format 0.0.4
 *
 * The admin API gathers a snapshot of every module's counters (each from
 * memory, except the queue's, which the store counts) and metrics_render()
 * writes it out: namespace dumpsterd_, base units (seconds, bytes),
 * counters ending in _total, a HELP and a TYPE line for every family, label
 * values escaped. Rendering is a pure function of the snapshot.
 */
#ifndef DD_METRICS_H
#define DD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "dumpster.h"
#include "probe.h"
#include "resubmit.h"
#include "queue.h"
#include "shadow.h"
#include "smtpd_server.h"
#include "store.h"

struct evbuffer;

/* The text format's content type. */
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_snapshot {
    const struct dumpster_stats *sg; /* one per storage group */
    size_t nsg;
    uint64_t resubmit[4]; /* by enum resubmit_state */
    struct smtpd_stats smtp;
    struct delivery_stats delivery;
    struct store_stats store;
    struct probe_stats probe;
    bool has_shadow; /* [shadow] servers set */
    struct shadow_stats shadow;
    bool has_queue; /* false: the store could not count */
    struct queue_counts queue;
    int64_t now_ms; /* for coverage */
};

/* metrics_render - append the text of m to out. 0, or -1 out of memory. */
int metrics_render(struct evbuffer *out, const struct metrics_snapshot *m);

/* metrics_escape - a label value escaped per the format (\\, \", \n) into
 * out[cap], always NUL-terminated; truncated at cap. */
void metrics_escape(const char *s, char *out, size_t cap);

#endif
