/*
 * queueid.h - queue ids: DD_QUEUEID_LEN characters from libsodium random bytes
 */
#ifndef DD_QUEUEID_H
#define DD_QUEUEID_H

#include "bounds.h"

/* queueid_new - write a fresh id and its NUL into out. sodium_init() first. */
void queueid_new(char out[DD_QUEUEID_LEN + 1]);

#endif
