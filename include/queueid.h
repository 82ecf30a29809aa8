/*
 * queueid.h - queue ids: DD_QUEUEID_LEN characters, the receive time in
 * milliseconds first (so ids sort by time), random bits after it
 */
#ifndef DD_QUEUEID_H
#define DD_QUEUEID_H

#include <stdint.h>

#include "bounds.h"

/* DD_QUEUEID_TIME_LEN - characters of the time prefix (50 bits of ms) */
#define DD_QUEUEID_TIME_LEN 10

/* queueid_format - the id of ms and the random octets rnd (one per
 * character after the prefix) into out, with its NUL. Pure. */
void queueid_format(char out[DD_QUEUEID_LEN + 1], uint64_t ms, const unsigned char *rnd);

/* queueid_new - write a fresh id and its NUL into out. sodium_init() first. */
void queueid_new(char out[DD_QUEUEID_LEN + 1]);

#endif
