/*
 * metrics.c - the Prometheus text format 0.0.4 of a metrics snapshot
 *
 * Families are written one after the other, each with its HELP and TYPE
 * line and then every sample. Per storage group families come from a
 * table; histograms are written cumulatively from the store's per-bucket
 * counts, with the +Inf bucket equal to _count. Floats are written in the
 * shortest form that reads back to the same double.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "metrics.h"

#define METRICS_NUM_BUF 40
#define METRICS_LABEL_BUF (4 * DD_SG_NAME_MAX + 8)

/* A per storage group gauge: false when the group has no such value now. */
typedef bool (*metrics_sg_fn)(const struct dumpster_stats *s, int64_t now_ms, double *v);

struct metrics_sg_family {
    const char *name;
    const char *help;
    metrics_sg_fn fn;
};

/* metrics_escape - backslash, double quote and newline, escaped */
void metrics_escape(const char *s, char *out, size_t cap)
{
    size_t o = 0;

    for (; *s != 0; s++) {
        const char *rep = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
        size_t n = rep != NULL ? strlen(rep) : 1;

        if (o + n >= cap)
            break;
        memcpy(out + o, rep != NULL ? rep : s, n);
        o += n;
    }
    out[o] = 0;
}

/* metrics_num - the shortest text of v that reads back as v; a whole
 * number below 2^53 (exact in a double) as an integer, never 6.048e+05 */
static void metrics_num(double v, char out[METRICS_NUM_BUF])
{
    if (v > -9007199254740992.0 && v < 9007199254740992.0 && v == (double)(int64_t)v) {
        snprintf(out, METRICS_NUM_BUF, "%" PRId64, (int64_t)v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, METRICS_NUM_BUF, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* metrics_family - the HELP and TYPE lines */
static int metrics_family(struct evbuffer *out, const char *name, const char *type,
                          const char *help)
{
    return evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type) < 0 ? -1
                                                                                                : 0;
}

/* metrics_u64 - one family with one unlabelled integer sample */
static int metrics_u64(struct evbuffer *out, const char *name, const char *type, const char *help,
                       uint64_t v)
{
    if (metrics_family(out, name, type, help) < 0)
        return -1;
    return evbuffer_add_printf(out, "%s %" PRIu64 "\n", name, v) < 0 ? -1 : 0;
}

/* metrics_labelled - one family, one label, n integer samples */
static int metrics_labelled(struct evbuffer *out, const char *name, const char *type,
                            const char *help, const char *label, const char *const *values,
                            const uint64_t *v, size_t n)
{
    int rc = metrics_family(out, name, type, help);

    for (size_t i = 0; i < n && rc == 0; i++)
        if (evbuffer_add_printf(out, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, values[i], v[i]) <
            0)
            rc = -1;
    return rc;
}

/* metrics_sg_items - messages kept */
static bool metrics_sg_items(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    (void)now_ms;
    *v = (double)s->items;
    return true;
}

/* metrics_sg_bytes - octets kept */
static bool metrics_sg_bytes(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    (void)now_ms;
    *v = (double)s->bytes;
    return true;
}

/* metrics_sg_oldest - the oldest received, in seconds; none when empty */
static bool metrics_sg_oldest(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    (void)now_ms;
    *v = (double)s->oldest_received_ms / 1000.0;
    return s->items > 0 && s->oldest_received_ms > 0;
}

/* metrics_sg_coverage - now minus the oldest, 0 when empty */
static bool metrics_sg_coverage(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    int64_t d = s->items > 0 && s->oldest_received_ms > 0 ? now_ms - s->oldest_received_ms : 0;

    *v = d > 0 ? (double)d / 1000.0 : 0.0;
    return true;
}

/* metrics_sg_max_bytes - the size bound */
static bool metrics_sg_max_bytes(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    (void)now_ms;
    *v = (double)s->max_bytes;
    return true;
}

/* metrics_sg_max_age - the age bound */
static bool metrics_sg_max_age(const struct dumpster_stats *s, int64_t now_ms, double *v)
{
    (void)now_ms;
    *v = (double)s->max_age_s;
    return true;
}

static const struct metrics_sg_family metrics_sg_gauges[] = {
    {"dumpsterd_dumpster_items", "Messages kept in the storage group's dumpster.",
     metrics_sg_items},
    {"dumpsterd_dumpster_bytes", "Octets kept in the storage group's dumpster.", metrics_sg_bytes},
    {"dumpsterd_dumpster_oldest_received_timestamp_seconds",
     "When the hub received the oldest kept message (absent when the dumpster is empty).",
     metrics_sg_oldest},
    {"dumpsterd_dumpster_coverage_seconds",
     "How far back a lossy failover can be healed: now minus the oldest kept message.",
     metrics_sg_coverage},
    {"dumpsterd_dumpster_max_bytes", "Size bound of the storage group's dumpster.",
     metrics_sg_max_bytes},
    {"dumpsterd_dumpster_max_age_seconds", "Age bound of the storage group's dumpster.",
     metrics_sg_max_age},
};

/* metrics_sg_family - one per group gauge over every group */
static int metrics_sg_family(struct evbuffer *out, const struct metrics_sg_family *f,
                             const struct metrics_snapshot *m)
{
    char label[METRICS_LABEL_BUF], num[METRICS_NUM_BUF];
    int rc = metrics_family(out, f->name, "gauge", f->help);
    double v;

    for (size_t i = 0; i < m->nsg && rc == 0; i++) {
        if (!f->fn(&m->sg[i], m->now_ms, &v))
            continue;
        metrics_escape(m->sg[i].sg, label, sizeof(label));
        metrics_num(v, num);
        if (evbuffer_add_printf(out, "%s{storage_group=\"%s\"} %s\n", f->name, label, num) < 0)
            rc = -1;
    }
    return rc;
}

/* metrics_evicted - evictions by group and reason */
static int metrics_evicted(struct evbuffer *out, const struct metrics_snapshot *m)
{
    static const char *const reasons[] = {"size", "age", "replicated", "too_large"};
    const char *name = "dumpsterd_dumpster_evicted_total";
    char label[METRICS_LABEL_BUF];
    int rc = metrics_family(out, name, "counter",
                            "Messages that left a dumpster or were never kept, by reason.");

    for (size_t i = 0; i < m->nsg && rc == 0; i++) {
        const struct dumpster_stats *s = &m->sg[i];
        uint64_t v[] = {s->evicted_size, s->evicted_age, s->evicted_replicated, s->not_kept};

        metrics_escape(s->sg, label, sizeof(label));
        for (size_t r = 0; r < 4 && rc == 0; r++)
            if (evbuffer_add_printf(out, "%s{storage_group=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
                                    name, label, reasons[r], v[r]) < 0)
                rc = -1;
    }
    return rc;
}

/* metrics_histogram - cumulative buckets, +Inf, _sum and _count; hist has
 * nb buckets, bounds nb - 1 */
static int metrics_histogram(struct evbuffer *out, const char *name, const char *help,
                             const double *bounds, const uint64_t *hist, size_t nb, double sum)
{
    char num[METRICS_NUM_BUF];
    uint64_t cum = 0;
    int rc = metrics_family(out, name, "histogram", help);

    for (size_t i = 0; i + 1 < nb && rc == 0; i++) {
        cum += hist[i];
        metrics_num(bounds[i], num);
        if (evbuffer_add_printf(out, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, num, cum) < 0)
            rc = -1;
    }
    cum += hist[nb - 1];
    metrics_num(sum, num);
    if (rc == 0 && evbuffer_add_printf(out,
                                       "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n%s_sum %s\n"
                                       "%s_count %" PRIu64 "\n",
                                       name, cum, name, num, name, cum) < 0)
        rc = -1;
    return rc;
}

/* metrics_dumpster - the per group families and resubmission requests */
static int metrics_dumpster(struct evbuffer *out, const struct metrics_snapshot *m)
{
    static const char *const states[] = {"pending", "running", "done", "cancelled"};
    int rc = 0;

    for (size_t i = 0; i < sizeof(metrics_sg_gauges) / sizeof(metrics_sg_gauges[0]); i++)
        rc |= metrics_sg_family(out, &metrics_sg_gauges[i], m);
    rc |= metrics_evicted(out, m);
    rc |= metrics_labelled(out, "dumpsterd_resubmit_requests", "gauge",
                           "Resubmission requests by state (done and cancelled: since start).",
                           "state", states, m->resubmit, 4);
    return rc;
}

/* metrics_smtp - the SMTP side */
static int metrics_smtp(struct evbuffer *out, const struct smtpd_stats *s)
{
    int rc = 0;

    rc |= metrics_u64(out, "dumpsterd_smtp_messages_accepted_total", "counter",
                      "Messages answered 250 after their commit.", s->messages_accepted);
    rc |=
        metrics_u64(out, "dumpsterd_smtp_messages_rejected_total", "counter",
                    "Messages refused at the end of data or at the commit.", s->messages_rejected);
    rc |= metrics_u64(out, "dumpsterd_smtp_recipients_rejected_total", "counter",
                      "Recipients refused at RCPT.", s->rcpts_rejected);
    rc |= metrics_u64(out, "dumpsterd_smtp_connections_total", "counter",
                      "SMTP connections accepted.", s->connections_total);
    rc |= metrics_u64(out, "dumpsterd_smtp_connections_rejected_total", "counter",
                      "SMTP connections refused with 421 by a connection limit.",
                      s->connections_rejected);
    rc |= metrics_u64(out, "dumpsterd_smtp_sessions", "gauge", "SMTP sessions open now.",
                      s->sessions);
    return rc;
}

/* metrics_smtp_tls - inbound STARTTLS by protocol, resumed, failed */
static int metrics_smtp_tls(struct evbuffer *out, const struct smtpd_stats *s)
{
    const char *labels[TLS_V__COUNT];
    int rc = 0;

    for (int v = 0; v < TLS_V__COUNT; v++)
        labels[v] = tls_version_label((enum tls_version)v);
    rc |= metrics_labelled(out, "dumpsterd_smtp_tls_sessions_total", "counter",
                           "Inbound STARTTLS handshakes completed, by protocol.", "protocol",
                           labels, s->tls_sessions, TLS_V__COUNT);
    rc |= metrics_u64(out, "dumpsterd_smtp_tls_resumed_total", "counter",
                      "Inbound TLS sessions that resumed an earlier one.", s->tls_resumed);
    rc |= metrics_u64(out, "dumpsterd_smtp_tls_handshake_failures_total", "counter",
                      "Inbound TLS handshakes that failed or timed out after the 220.",
                      s->tls_handshake_failures);
    return rc;
}

/* metrics_delivery_tls - outbound TLS by trust and protocol, and what failed */
static int metrics_delivery_tls(struct evbuffer *out, const struct delivery_stats *d)
{
    static const char *const trust[] = {"untrusted", "trusted", "verified"};
    static const char *const reasons[] = {"not_offered", "refused", "not_verified"};
    const char *name = "dumpsterd_delivery_tls_sessions_total";
    int rc = metrics_family(out, name, "counter",
                            "Outbound TLS connections established, by what the server's "
                            "certificate proved and by protocol.");

    for (int t = 0; t < TLS_TRUST__COUNT && rc == 0; t++)
        for (int v = 0; v < TLS_V__COUNT && rc == 0; v++)
            if (evbuffer_add_printf(out, "%s{result=\"%s\",protocol=\"%s\"} %" PRIu64 "\n", name,
                                    trust[t], tls_version_label((enum tls_version)v),
                                    d->tls_sessions[t][v]) < 0)
                rc = -1;
    rc |= metrics_u64(out, "dumpsterd_delivery_tls_resumed_total", "counter",
                      "Outbound TLS connections that resumed a session of their pool.",
                      d->tls_resumed);
    rc |=
        metrics_u64(out, "dumpsterd_delivery_tls_handshake_failures_total", "counter",
                    "Outbound TLS handshakes that failed or timed out.", d->tls_handshake_failures);
    rc |= metrics_labelled(out, "dumpsterd_delivery_tls_policy_failures_total", "counter",
                           "Connections closed because TLS was required and not had, by reason.",
                           "reason", reasons, d->tls_failures, DELIVERY_TLS_FAILURE__COUNT);
    rc |= metrics_u64(out, "dumpsterd_delivery_tls_plaintext_total", "counter",
                      "Connections under tls = may that went on in plaintext (not offered or "
                      "refused).",
                      d->tls_plaintext);
    return rc;
}

/* metrics_delivery - the queue and the delivery client */
static int metrics_delivery(struct evbuffer *out, const struct metrics_snapshot *m)
{
    static const char *const qstates[] = {"pending", "active", "deferred"};
    static const char *const results[] = {"delivered", "deferred", "failed"};
    const struct delivery_stats *d = &m->delivery;
    uint64_t q[] = {m->queue.pending_msgs, m->queue.active_msgs, m->queue.deferred_msgs};
    uint64_t a[] = {d->attempts_delivered, d->attempts_deferred, d->attempts_failed};
    int rc = 0;

    if (m->has_queue)
        rc |= metrics_labelled(out, "dumpsterd_queue_messages", "gauge",
                               "Messages waiting for delivery, by state.", "state", qstates, q, 3);
    rc |= metrics_labelled(out, "dumpsterd_delivery_attempts_total", "counter",
                           "Delivery attempts per recipient, by result.", "result", results, a, 3);
    rc |= metrics_u64(out, "dumpsterd_delivery_bounces_total", "counter",
                      "Delivery status notifications sent to senders.", d->bounces);
    rc |= metrics_u64(out, "dumpsterd_delivery_connections_total", "counter",
                      "Connections opened to destinations.", d->connections);
    rc |= metrics_u64(out, "dumpsterd_delivery_inflight_jobs", "gauge",
                      "Jobs taken from the queue and not yet finished.", d->inflight_jobs);
    return rc;
}

/* metrics_store - commits, batches, backlog */
static int metrics_store(struct evbuffer *out, const struct store_stats *s)
{
    int rc = 0;

    rc |= metrics_histogram(out, "dumpsterd_store_commit_seconds",
                            "Time of one store transaction, commit and fsync included.",
                            store_commit_bounds, s->commit_hist, STORE_HIST_BUCKETS,
                            s->commit_seconds_sum);
    rc |= metrics_histogram(out, "dumpsterd_store_batch_messages",
                            "Messages committed together in one transaction.", store_batch_bounds,
                            s->batch_hist, STORE_HIST_BUCKETS, (double)s->batch_msgs_sum);
    rc |= metrics_u64(out, "dumpsterd_store_transactions_total", "counter", "Store transactions.",
                      s->batches);
    rc |= metrics_u64(out, "dumpsterd_store_fsyncs_total", "counter",
                      "Store transactions made durable with synchronous=FULL.", s->fsync_batches);
    rc |= metrics_u64(out, "dumpsterd_store_commits_total", "counter",
                      "Messages committed to the store.", s->commits);
    rc |= metrics_u64(out, "dumpsterd_store_backlog_bytes", "gauge",
                      "Octets handed to the storage thread and not yet written.",
                      (uint64_t)s->backlog);
    return rc;
}

/* metrics_probe - the mailbox probes (every group's together) */
static int metrics_probe(struct evbuffer *out, const struct probe_stats *p)
{
    static const char *const results[] = {"ok", "failed"};
    static const char *const answers[] = {"present", "missing", "no_user", "error"};
    uint64_t r[] = {p->requests_ok, p->requests_failed};
    int rc = 0;

    rc |= metrics_labelled(out, "dumpsterd_probe_requests_total", "counter",
                           "Requests to the mailbox probes, by result (failed: no answer, an HTTP "
                           "error or a reply that does not parse).",
                           "result", results, r, 2);
    rc |= metrics_labelled(out, "dumpsterd_probe_answers_total", "counter",
                           "Copies asked about, by the probe's answer (error: asked again later).",
                           "answer", answers, p->answers, PROBE_ERROR + 1);
    rc |= metrics_histogram(out, "dumpsterd_probe_request_seconds",
                            "Time of one request to a mailbox probe, answer or failure.",
                            probe_latency_bounds, p->latency_hist, PROBE_HIST_BUCKETS,
                            p->latency_sum);
    return rc;
}

/* metrics_shadow_dstats - every hub's shadow dumpster per group, as last read */
static int metrics_shadow_dstats(struct evbuffer *out, const struct shadow_stats *s)
{
    static const char *const names[] = {"dumpsterd_shadow_dumpster_items",
                                        "dumpsterd_shadow_dumpster_bytes",
                                        "dumpsterd_shadow_dumpster_oldest_timestamp_seconds"};
    static const char *const helps[] = {
        "Copies in the hub's shadow dumpster of the storage group (its stream in the cluster).",
        "Bytes of the hub's shadow dumpster of the storage group.",
        "Stored time of the oldest copy in the hub's shadow dumpster (0: empty)."};
    char hub[METRICS_LABEL_BUF], sg[METRICS_LABEL_BUF], num[METRICS_NUM_BUF];
    int rc = 0;

    for (size_t f = 0; f < 3 && rc == 0; f++) {
        rc = metrics_family(out, names[f], "gauge", helps[f]);
        for (size_t i = 0; i < s->ndstats && rc == 0; i++) {
            const struct shadow_dstat *d = &s->dstats[i];
            double v = f == 0   ? (double)d->items
                       : f == 1 ? (double)d->bytes
                                : (double)d->oldest_ms / 1000.0;
            metrics_escape(d->hub, hub, sizeof(hub));
            metrics_escape(d->sg, sg, sizeof(sg));
            metrics_num(v, num);
            if (evbuffer_add_printf(out, "%s{hub=\"%s\",storage_group=\"%s\"} %s\n", names[f], hub,
                                    sg, num) < 0)
                rc = -1;
        }
    }
    return rc;
}

/* metrics_shadow - the shadow copies on the NATS cluster */
static int metrics_shadow(struct evbuffer *out, const struct shadow_stats *s)
{
    int rc = 0;

    rc |= metrics_u64(out, "dumpsterd_shadow_up", "gauge",
                      "1 when connected to the NATS cluster with the streams checked.", s->up);
    rc |= metrics_u64(out, "dumpsterd_shadow_published_total", "counter",
                      "Messages whose shadow copy the cluster acknowledged.", s->published);
    rc |= metrics_u64(out, "dumpsterd_shadow_failures_total", "counter",
                      "Messages whose shadow copy failed or timed out.", s->failed);
    rc |= metrics_u64(out, "dumpsterd_shadow_in_flight", "gauge",
                      "Shadow copies waiting for the cluster's ack.", s->in_flight);
    rc |= metrics_u64(out, "dumpsterd_shadow_removed_total", "counter",
                      "Shadow copies removed once their recipients were final.", s->forgotten);
    rc |= metrics_u64(out, "dumpsterd_shadow_remove_failures_total", "counter",
                      "Removals of shadow copies that failed or were dropped.", s->forget_failed);
    rc |= metrics_u64(out, "dumpsterd_shadow_dumpster_kept_total", "counter",
                      "Delivered copies stored in their storage group's shadow dumpster.", s->kept);
    rc |= metrics_u64(out, "dumpsterd_shadow_dumpster_failures_total", "counter",
                      "Delivered copies that could not be stored in a shadow dumpster.",
                      s->keep_failed);
    rc |= metrics_u64(out, "dumpsterd_shadow_dumpster_kept_again_total", "counter",
                      "Of the kept, copies that failed first and were stored when sent again.",
                      s->kept_again);
    rc |= metrics_u64(out, "dumpsterd_shadow_dumpster_owed", "gauge",
                      "Delivered copies whose shadow dumpster copy failed and waits to go again.",
                      s->owed);
    rc |= metrics_u64(out, "dumpsterd_shadow_hubs_live", "gauge",
                      "The other hubs whose last beat is within takeover_after.", s->hubs_live);
    rc |= metrics_u64(out, "dumpsterd_shadow_hubs_silent", "gauge",
                      "The other hubs silent for more than takeover_after.", s->hubs_silent);
    rc |= metrics_u64(out, "dumpsterd_shadow_takeovers_total", "counter",
                      "Silent hubs whose undelivered copies this hub took over.", s->takeovers);
    rc |= metrics_u64(out, "dumpsterd_shadow_taken_total", "counter",
                      "Copies of silent hubs committed here as this hub's messages.", s->taken);
    rc |= metrics_shadow_dstats(out, s);
    char num[METRICS_NUM_BUF];
    metrics_num((double)s->latency_us_sum / 1e6, num);
    rc |= evbuffer_add_printf(out,
                              "# HELP dumpsterd_shadow_publish_seconds Publish to ack of the "
                              "acknowledged shadow copies.\n"
                              "# TYPE dumpsterd_shadow_publish_seconds summary\n"
                              "dumpsterd_shadow_publish_seconds_sum %s\n"
                              "dumpsterd_shadow_publish_seconds_count %llu\n",
                              num, (unsigned long long)s->published) < 0;
    return rc;
}

/* metrics_render - every family */
int metrics_render(struct evbuffer *out, const struct metrics_snapshot *m)
{
    int rc = 0;

    rc |= metrics_dumpster(out, m);
    rc |= metrics_smtp(out, &m->smtp);
    rc |= metrics_smtp_tls(out, &m->smtp);
    rc |= metrics_delivery(out, m);
    rc |= metrics_delivery_tls(out, &m->delivery);
    rc |= metrics_store(out, &m->store);
    rc |= metrics_probe(out, &m->probe);
    if (m->has_shadow)
        rc |= metrics_shadow(out, &m->shadow);
    return rc != 0 ? -1 : 0;
}
