/*
 * storefix.h - the unit tests' hub without a network: a real SQLite file
 * under a temp dir, the storage thread, the queue and, when asked, the
 * dumpster and the resubmission engine, on a real event loop
 *
 * Messages reach the store the way sessions hand them over (queue_chunk,
 * queue_commit) and leave the queue the way delivery takes them
 * (queue_pick, queue_done); checks read the database file through a
 * read-only connection of their own.
 */
#ifndef DD_STOREFIX_H
#define DD_STOREFIX_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "conf.h"
#include "dumpster.h"
#include "queue.h"
#include "resubmit.h"
#include "store.h"

#define SF_DUMPSTER 1u               /* open a dumpster over the queue */
#define SF_RESUBMIT 2u               /* and a resubmission engine */
#define SF_FAR_MS ((int64_t)1 << 60) /* a retry that never comes due by itself */
#define SF_WAIT_MS 60000             /* longest wait for the loop */

struct sf_fault {
    char match[128];
    char after[128]; /* "": any batch; else only a batch that ran such a statement */
    bool armed;      /* after ran in the batch in progress */
    int rc;
    int count;
    int hits;
};

struct storefix {
    char dir[96];
    unsigned flags;
    struct event_base *base;
    struct event *keepalive; /* keeps EVLOOP_ONCE waiting for the store */
    struct store *st;
    struct queue *q;
    struct dumpster *d;
    struct resubmit *rs;
    struct conf c; /* the storage groups of the dumpster and resubmission */
    sqlite3 *ro;   /* the checks' own connection to the database file */
    int commits, commit_errors;
    enum store_rc last_rc;
    unsigned long long next_qid;
    enum msg_body body; /* what sf_commit() says MAIL FROM declared (default none) */
    enum msg_utf8 smtputf8;
    bool whole;          /* sf_commit() of one chunk hands it with the commit, as smtpd does */
    bool hold;           /* sf_commit() commits held (queue_unhold releases) */
    bool linger;         /* outcomes wait DD_STORE_LINGER_MS for company, as in the
                            hub (default: they go at once, as sf_done waits for each) */
    struct sf_fault flt; /* the store's fault hook (sf_fault) */
    /* called between queue_new and store_start: more observers */
    void (*before_start)(struct storefix *f);
    void *user;
};

/* sf_setup - a temp dir (tmpfs when there is one unless durable), a loop, a
 * conf with the defaults; nothing opened yet. */
struct storefix *sf_setup(unsigned flags, bool durable);

/* sf_open - store, queue (and dumpster, resubmission), started. */
void sf_open(struct storefix *f);

/* sf_close - the hub's order: stop, close the store, free. */
void sf_close(struct storefix *f);

/* sf_reopen - sf_close then sf_open: a restart. */
void sf_reopen(struct storefix *f);

/* sf_teardown - close and remove everything. */
void sf_teardown(struct storefix *f);

/* The loop. */
void sf_loop_until(struct storefix *f, const int *flag, int want);
void sf_run_ms(struct storefix *f, int ms);
/* sf_base_ms - an hour ago, on whole seconds: items younger than max_age */
int64_t sf_base_ms(void);

/* SQL over the file (sqlite3_mprintf formats). */
long long sf_sql_int(struct storefix *f, const char *fmt, ...);
void sf_sql_row(struct storefix *f, long long *out, int ncols, const char *fmt, ...);
size_t sf_sql_ids(struct storefix *f, uint64_t *out, size_t cap, const char *fmt, ...);
/* sf_sql_text - the first column of the first row into buf ("" if none) */
void sf_sql_text(struct storefix *f, char *buf, size_t cap, const char *fmt, ...);

/* sf_add_sg - a storage group (max_size 0: the [dumpster] default). */
void sf_add_sg(struct storefix *f, const char *name, const char *dest, uint64_t max_size);

/* sf_commit - a message of size octets in nchunks chunks, received at
 * received_ms, for rcpts "addr:SG" (":" alone: the smarthost); its id.
 * The commit follows: sf_wait_commits(). */
uint64_t sf_commit(struct storefix *f, uint64_t size, uint32_t nchunks, int64_t received_ms,
                   const char *const *rcpts, size_t n);
void sf_wait_commits(struct storefix *f, int want);

struct sf_picked {
    int calls;
    struct queue_job **jobs;
    size_t n;
    enum store_rc rc;
};
/* sf_pick - jobs due at at (rc checked unless expect_fail). */
struct sf_picked sf_pick(struct storefix *f, int64_t at);
struct sf_picked sf_pick_rc(struct storefix *f, int64_t at);
void sf_free_picked(struct sf_picked *p);

/* sf_outcome - job j's outcome as delivery fills it: fates[i] per
 * recipient (NULL: all delivered) at now_ms; deferred ones far away. */
struct queue_outcome *sf_outcome(const struct queue_job *j, const enum queue_fate *fates,
                                 int64_t now_ms);
/* sf_done - record o and wait until it is written. */
void sf_done(struct storefix *f, struct queue_outcome *o);

/* sf_deliver_due - pick everything due at at and deliver it at now_ms
 * (fates NULL); how many jobs. */
size_t sf_deliver_due(struct storefix *f, int64_t at, int64_t now_ms);

/*
 * Faults: the store's fault hook fails the next count statements whose SQL
 * contains match (count < 0: every one) with rc (SQLITE_FULL, SQLITE_IOERR,
 * SQLITE_BUSY). Set between operations, from the loop thread: the store's
 * queue hand-off orders it before the storage thread's next read.
 */
void sf_fault(struct storefix *f, const char *match, int rc, int count);
/* sf_fault_after - the same, counting only the statements of a batch that
 * ran a statement containing after before them (from its BEGIN on): the
 * COMMIT of the batch that holds a given work, whatever other batches the
 * hub's timers run meanwhile. */
void sf_fault_after(struct storefix *f, const char *after, const char *match, int rc, int count);
/* sf_fault_hits - statements failed so far by the current fault */
int sf_fault_hits(const struct storefix *f);

/* sf_dest_of - a group's configured destination (resubmit_dest_fn). */
const char *sf_dest_of(void *ctx, const char *sg);

#endif
