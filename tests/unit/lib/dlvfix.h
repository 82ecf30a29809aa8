/*
 * dlvfix.h - the delivery scheduler over the unit tests' storage hub
 * (storefix.h), wired as the hub wires it: made before the store starts,
 * kicked by every commit, stopped before the queue and freed after the
 * store closes
 *
 * Messages go in the way sessions commit them, with real content (a header
 * section and a body) and any sender, the null one included; checks poll
 * the database file while the loop runs, never sleep.
 */
#ifndef DD_DLVFIX_H
#define DD_DLVFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "delivery.h"
#include "directory.h"
#include "peer.h"
#include "storefix.h"

#define DF_SENDER "s@example.net"
#define DF_WAIT_MS 10000 /* longest a condition is polled for */
#define DF_PEERS_MAX 8

/* A message as a client would send it (CRLF lines). */
extern const char df_content[];

struct dlvfix {
    struct storefix *f;
    struct delivery *d;
    struct directory *dir;
    struct conf alt; /* a second configuration for delivery_set_conf() */
    bool has_alt;
    int commits, commit_errors;
    unsigned long long next_qid;
    struct peer *peers[DF_PEERS_MAX]; /* freed after delivery stopped */
    size_t npeers;
};

/* df_setup - a storefix (flags as sf_setup) whose conf retries late
 * (retry_initial 600 s) and resolves through 127.0.0.1 only; not opened. */
struct dlvfix *df_setup(unsigned flags);

/* df_open - the storage hub and the delivery scheduler, started. */
void df_open(struct dlvfix *x);

/* df_peer - a scripted server on the fixture's loop (peer_new), freed
 * by df_teardown */
struct peer *df_peer(struct dlvfix *x, bool lmtp);

/* df_close - stop delivery, free the peers, close the store, free
 * delivery; the loop stays (for what the caller still has on it). */
void df_close(struct dlvfix *x);

/* df_reopen - stop and free delivery, close the store, open both again
 * (a restart; the peers stay). */
void df_reopen(struct dlvfix *x);

/* df_teardown - df_close (if not done), then free everything. */
void df_teardown(struct dlvfix *x);

/* df_directory - load text as the directory file and give it to delivery. */
void df_directory(struct dlvfix *x, const char *text);

/* df_alt_sg - a storage group of x->alt (a copy of the defaults of f->c). */
void df_alt_sg(struct dlvfix *x, const char *name, const char *dest);

/* df_send - commit a message from sender ("" for <>) with content, received
 * at received_ms, to rcpts "addr:SG" (":" alone: the smarthost); waits for
 * the commit. Its message id. */
uint64_t df_send(struct dlvfix *x, const char *sender, const char *content, int64_t received_ms,
                 const char *const *rcpts, size_t n);

/* df_wait - run the loop until the SQL (sqlite3_mprintf format) gives want;
 * fails the test after DF_WAIT_MS. */
void df_wait(struct dlvfix *x, long long want, const char *fmt, ...);

/* df_wait_for - run the loop until *v reaches want (a peer's counter) */
void df_wait_for(struct dlvfix *x, const unsigned *v, unsigned want);

/* df_attempts - recipient attempts the scheduler decided so far */
uint64_t df_attempts(struct dlvfix *x);

/* df_wait_attempts - run the loop until at least n attempts are decided */
void df_wait_attempts(struct dlvfix *x, uint64_t n);

/* df_rcpt_state - state of the recipient row of msg addressed to rcpt
 * (request 0), -1 when there is none. */
long long df_rcpt_state(struct dlvfix *x, uint64_t msg, const char *rcpt);

/* df_bounces - messages from <> in the store now. */
long long df_bounces(struct dlvfix *x);

#endif
