/*
 * fdlimit.h - the descriptors the hub may hold at once, and RLIMIT_NOFILE
 *
 * Every bound that holds descriptors is in the configuration: the SMTP
 * sessions ([smtp] max_connections), the admin connections ([admin]
 * max_connections, lingering ones included), the delivery connections
 * (concurrency_per_destination per storage group's destination and the
 * smarthost's), the probes' requests, the store's files, the listeners,
 * and a fixed reserve for the loop, DNS and logging. At start the soft
 * limit is raised to the hard one and the sum must fit, so the admin port
 * can never take the descriptors an SMTP accept needs.
 */
#ifndef DD_FDLIMIT_H
#define DD_FDLIMIT_H

#include <stddef.h>

#include "conf.h"

/* Descriptors outside the configured bounds: stdio, the event loop and
 * its signal and wake-up pipes, evdns, syslog, the store's database, WAL,
 * shared memory and journal, with room to spare. */
#define FDLIMIT_RESERVE 64

/* fdlimit_need - what c may hold at once (pure) */
unsigned long fdlimit_need(const struct conf *c);

/*
 * fdlimit_raise - RLIMIT_NOFILE's soft limit up to the hard one, then
 * check that fdlimit_need(c) fits: 0, or -1 with a message in err naming
 * the figures and what to change.
 */
int fdlimit_raise(const struct conf *c, char *err, size_t errlen);

/* fdlimit_check - whether c fits the soft limit as it is now (a reload) */
int fdlimit_check(const struct conf *c, char *err, size_t errlen);

#endif
