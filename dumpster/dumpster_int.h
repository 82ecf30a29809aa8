/*
 * dumpster_int.h - what the dumpster's storage side (dumpster.c), its loop
 * side (dumpster_loop.c) and resubmission (resubmit.c) share
 */
#ifndef DD_DUMPSTER_INT_H
#define DD_DUMPSTER_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "dumpster.h"
#include "store_int.h"

/* What the storage thread posts to the loop (store_post). */
enum dumpster_post_kind { DUMPSTER_POST_SG, DUMPSTER_POST_RESUBMIT };

struct dumpster_post {
    enum dumpster_post_kind kind;
    struct dumpster_stats sg;    /* DUMPSTER_POST_SG: the group's counters now */
    uint64_t resubmit_counts[4]; /* DUMPSTER_POST_RESUBMIT: requests by state */
};

/* Bounds of one group, handed to the storage thread. */
struct dumpster_bound {
    char sg[DD_SG_NAME_MAX + 1];
    uint64_t max_bytes;
    uint64_t max_age_s;
};

/* dumpster.c (storage thread) */
int dumpster_read_sg(struct store *s, const char *sg, struct dumpster_stats *out);
int dumpster_post_sg(struct store *s, const char *sg);
int dumpster_enforce(struct store *s, const struct dumpster_bound *b, int64_t now_ms,
                     int64_t *oldest_out);
int dumpster_release(struct store *s, const char *sg, int64_t until_ms, uint64_t *released);
int dumpster_prune_gone(struct store *s, int64_t before_ms);

/* resubmit.c */
int resubmit_post_counts(struct store *s);
int resubmit_progress(struct store *s, const struct queue_outcome *o);
void resubmit_start(struct dumpster *d);
void resubmit_stop(struct dumpster *d);
void resubmit_free(struct dumpster *d);

/* dumpster_loop.c: what resubmit.c needs of the loop side */
struct resubmit_loop;
struct store *dumpster_store(struct dumpster *d);
struct event_base *dumpster_base(struct dumpster *d);
const struct conf *dumpster_conf(struct dumpster *d);
const char *dumpster_dest_of(struct dumpster *d, const char *sg);
bool dumpster_stopping(const struct dumpster *d);
struct resubmit_loop **dumpster_resubmit_slot(struct dumpster *d);
void dumpster_queued(struct dumpster *d);

#endif
