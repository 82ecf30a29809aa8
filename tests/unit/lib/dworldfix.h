/*
 * dworldfix.h - the world of the delivery scheduler's unit tests
 * (test_delivery-*): a dlvfix with scripted peers and a loopback DNS server
 *
 * One world per test: SG1 goes to an LMTP peer; SG2 to a refused address
 * and then an SMTP peer (fallback); SG3 to two refused addresses; SG4 to a
 * host name the loopback DNS server resolves to the SMTP peer; SG5 to a
 * name it does not know; SG6 to an LMTP peer on a unix socket; the
 * smarthost is a third peer that receives the bounces. Outcomes are read
 * from the recipient table.
 */
#ifndef DD_DWORLDFIX_H
#define DD_DWORLDFIX_H

#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "dlvfix.h"
#include "dnsfix.h"

struct world {
    struct dlvfix *x;
    struct peer *lmtp, *smtp, *smarthost, *local; /* local: on a unix socket */
    struct dnsfix *dns;
    int dead1, dead2; /* bound, not listening */
};

/* dw_setup - the world of one test, delivery started (a cmocka setup:
 * *state is the struct world) */
int dw_setup(void **state);

/* dw_teardown - delivery stopped, the world gone */
int dw_teardown(void **state);

/* dw_stats - the scheduler's counters */
struct delivery_stats dw_stats(struct world *w);

/* dw_send1 - the standard message to one recipient "addr:SG" */
uint64_t dw_send1(struct world *w, const char *rcpt);

/* dw_wait_state - recipient rcpt of msg reaches state */
void dw_wait_state(struct world *w, uint64_t msg, const char *rcpt, enum rcpt_state st);

/* dw_reply_of - the last reply stored for a recipient */
void dw_reply_of(struct world *w, uint64_t msg, const char *rcpt, char *buf, size_t cap);

#endif
