/*
 * probe.h - the mailbox probes of the storage groups: does a recipient's
 * mailbox still hold a message? (SPEC section 7)
 *
 * A storage group with `probe = doveadm:http://IP:PORT` and
 * `probe_key_file` asks Dovecot's doveadm HTTP API before a copy is
 * resent, so a resubmission heals exactly: what the recovered mailbox
 * lacks comes back, nothing else. Questions are batched (up to
 * DD_PROBE_BATCH_MAX per HTTP request), at most DD_PROBE_INFLIGHT_MAX
 * requests per probe run at once, each bounded by DD_PROBE_TIMEOUT and
 * DD_PROBE_RESPONSE_MAX. Everything runs on the loop (libevent's HTTP
 * client); the key is read from its file at start and on reload and never
 * logged.
 *
 * Backends sit behind a small table (struct probe_backend in
 * relay/probe/probe_int.h): doveadm today; an IMAP backend (a master user
 * login, SEARCH HEADER Message-ID in every folder) is one more table.
 */
#ifndef DD_PROBE_H
#define DD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "probe_types.h"

struct event_base;
struct probes; /* opaque; one owner (the hub), probes_free() */

/* probes_new - a probe for every group of c that names one; reads the key
 * files. NULL with a message in err (a startup error: exit 78). */
struct probes *probes_new(struct event_base *base, const struct conf *c, char *err, size_t errlen);

/* probes_check - what probes_new would say of c, without opening anything
 * (dumpsterd -t). 0, or -1 with a message in err. */
int probes_check(const struct conf *c, char *err, size_t errlen);

/* probes_set_conf - the probes of a reloaded c; questions in flight finish
 * on the old ones. -1 (the old probes stay) with a message in err. */
int probes_set_conf(struct probes *p, const struct conf *c, char *err, size_t errlen);

/* probes_has - group sg has a probe. */
bool probes_has(const struct probes *p, const char *sg);

/* probes_ask - answers for q[0..n) from sg's probe; fn follows later (with
 * an error when sg has none). The strings of q are copied. */
void probes_ask(struct probes *p, const char *sg, const struct probe_query *q, size_t n,
                probe_done_fn fn, void *ctx);

/* probes_ops - the callback table resubmission asks through. */
struct probe_ops probes_ops(struct probes *p);

#define PROBE_HIST_BUCKETS 12
extern const double probe_latency_bounds[PROBE_HIST_BUCKETS - 1]; /* seconds */

struct probe_stats {
    uint64_t requests_ok, requests_failed; /* HTTP requests */
    uint64_t answers[PROBE_ERROR + 1];     /* questions, by answer */
    double latency_sum;
    uint64_t latency_hist[PROBE_HIST_BUCKETS]; /* per bucket, not cumulative */
};
void probes_get_stats(const struct probes *p, struct probe_stats *st);

/* probes_stop - cancel what is in flight (fn gets an error); no more asks. */
void probes_stop(struct probes *p);
struct probes *probes_free(struct probes *p);

#endif
