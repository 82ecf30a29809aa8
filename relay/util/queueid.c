/*
 * queueid.c - random queue ids (90 bits, Crockford base32, upper case)
 *
 * Random rather than sequential so ids never repeat across restarts or hubs
 * of a site; the store's UNIQUE constraint is the final guard.
 */
#include <sodium.h>

#include "queueid.h"

static const char queueid_alphabet[32] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* queueid_new - DD_QUEUEID_LEN characters, 5 random bits each */
void queueid_new(char out[DD_QUEUEID_LEN + 1])
{
    unsigned char rnd[DD_QUEUEID_LEN];

    randombytes_buf(rnd, sizeof(rnd));
    for (size_t i = 0; i < DD_QUEUEID_LEN; i++)
        out[i] = queueid_alphabet[rnd[i] & 31];
    out[DD_QUEUEID_LEN] = 0;
}
