/*
 * queueid.c - queue ids: a time prefix and random bits (Crockford base32)
 *
 * The first DD_QUEUEID_TIME_LEN characters are the milliseconds since the
 * epoch (50 bits, big-endian), the rest are random (40 bits). Ids made one
 * after the other sort one after the other, so the store's UNIQUE index on
 * them grows at its right edge: a batch of new messages dirties one index
 * page instead of one page per message (a random id lands anywhere in the
 * index). The random part keeps ids apart across restarts and the hubs of
 * a site; the store's UNIQUE constraint is the final guard.
 */
#include <stdint.h>
#include <sys/time.h>

#include <sodium.h>

#include "queueid.h"

static const char queueid_alphabet[32] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* queueid_format - ms in the time prefix, rnd (DD_QUEUEID_LEN -
 * DD_QUEUEID_TIME_LEN octets, 5 bits of each used) in the rest */
void queueid_format(char out[DD_QUEUEID_LEN + 1], uint64_t ms, const unsigned char *rnd)
{
    for (int i = DD_QUEUEID_TIME_LEN - 1; i >= 0; i--) {
        out[i] = queueid_alphabet[ms & 31];
        ms >>= 5;
    }
    for (size_t i = DD_QUEUEID_TIME_LEN; i < DD_QUEUEID_LEN; i++)
        out[i] = queueid_alphabet[rnd[i - DD_QUEUEID_TIME_LEN] & 31];
    out[DD_QUEUEID_LEN] = 0;
}

/* queueid_new - a fresh id from the wall clock and libsodium */
void queueid_new(char out[DD_QUEUEID_LEN + 1])
{
    unsigned char rnd[DD_QUEUEID_LEN - DD_QUEUEID_TIME_LEN];
    struct timeval tv;

    gettimeofday(&tv, NULL);
    randombytes_buf(rnd, sizeof(rnd));
    queueid_format(out, (uint64_t)tv.tv_sec * 1000 + (uint64_t)tv.tv_usec / 1000, rnd);
}
