/*
 * store_stats.c - the storage thread's counters and histograms, read by
 * the loop for metrics (store.h)
 */
#include <string.h>

#include "store_priv.h"

/* Upper bounds of the histogram buckets; the last bucket is +Inf. */
const double store_commit_bounds[STORE_HIST_BUCKETS - 1] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
const double store_batch_bounds[STORE_HIST_BUCKETS - 1] = {1,  2,   4,   8,   16,  32,
                                                           64, 128, 256, 512, 1024};

/* store_bucket - the histogram bucket of v */
static size_t store_bucket(const double *bounds, double v)
{
    size_t i = 0;

    while (i < STORE_HIST_BUCKETS - 1 && v > bounds[i])
        i++;
    return i;
}

/* store_account - batch counters and histograms (read by the loop) */
void store_account(struct store *s, size_t ndurable, int64_t us)
{
    atomic_fetch_add(&s->n_batches, 1);
    if (ndurable == 0)
        return;
    atomic_fetch_add(&s->n_fsync_batches, 1);
    atomic_fetch_add(&s->n_commits, ndurable);
    atomic_fetch_add(&s->commit_us_sum, (uint64_t)us);
    atomic_fetch_add(&s->commit_hist[store_bucket(store_commit_bounds, (double)us / 1e6)], 1);
    atomic_fetch_add(&s->batch_msgs_sum, ndurable);
    atomic_fetch_add(&s->batch_hist[store_bucket(store_batch_bounds, (double)ndurable)], 1);
}

/* store_get_stats - counters of the storage thread, for metrics */
void store_get_stats(const struct store *s, struct store_stats *st)
{
    memset(st, 0, sizeof(*st));
    st->batches = atomic_load(&s->n_batches);
    st->fsync_batches = atomic_load(&s->n_fsync_batches);
    st->commits = atomic_load(&s->n_commits);
    st->commit_seconds_sum = (double)atomic_load(&s->commit_us_sum) / 1e6;
    st->batch_msgs_sum = atomic_load(&s->batch_msgs_sum);
    for (size_t i = 0; i < STORE_HIST_BUCKETS; i++) {
        st->commit_hist[i] = atomic_load(&s->commit_hist[i]);
        st->batch_hist[i] = atomic_load(&s->batch_hist[i]);
    }
    st->backlog = atomic_load(&s->backlog);
}
