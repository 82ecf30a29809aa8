/*
 * auth.c - bearer tokens of the admin API: hash, check, make (pure)
 *
 * The configured token_hash is decoded to its 32 raw bytes and compared
 * with sodium_memcmp(), whose time does not depend on where the digests
 * differ. The token's own length may show in the timing of the hash; it
 * is public anyway (every token we make is 43 characters).
 */
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "ascii.h"
#include "auth.h"

#define AUTH_HASH_BYTES 32 /* BLAKE2b-256 */
#define AUTH_RANDOM_BYTES 32

/* is_blank - optional whitespace around a header value (RFC 9110 5.5) */
static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

/* token_hash - the raw BLAKE2b-256 of token[0..len) */
static void token_hash(const char *token, size_t len, unsigned char out[AUTH_HASH_BYTES])
{
    /* Idempotent. BLAKE2b works even if it fails (the portable code). */
    int rc = sodium_init();

    (void)rc;
    crypto_generichash(out, AUTH_HASH_BYTES, (const unsigned char *)token, len, NULL, 0);
}

/* auth_token_hash_hex - lowercase hex of the token's BLAKE2b-256 */
void auth_token_hash_hex(const char *token, size_t len, char out[AUTH_HASH_HEX_BUF])
{
    unsigned char h[AUTH_HASH_BYTES];

    token_hash(token, len, h);
    sodium_bin2hex(out, AUTH_HASH_HEX_BUF, h, sizeof(h));
    sodium_memzero(h, sizeof(h));
}

/* hash_decode - the configured hex as 32 raw bytes; false unless exactly that */
static bool hash_decode(const char *hex, unsigned char out[AUTH_HASH_BYTES])
{
    size_t binlen = 0;
    const char *end = NULL;

    if (hex == NULL || strlen(hex) != 2 * AUTH_HASH_BYTES)
        return false;
    if (sodium_hex2bin(out, AUTH_HASH_BYTES, hex, 2 * AUTH_HASH_BYTES, NULL, &binlen, &end) != 0)
        return false;
    return binlen == AUTH_HASH_BYTES && end == hex + 2 * AUTH_HASH_BYTES;
}

/* auth_hash_hex_ok - exactly 64 hex digits */
bool auth_hash_hex_ok(const char *s)
{
    unsigned char h[AUTH_HASH_BYTES];

    return hash_decode(s, h);
}

/* bearer_token - find TOKEN in "Bearer TOKEN"; false when malformed */
static bool bearer_token(const char *h, const char **tok, size_t *len)
{
    static const char scheme[] = "bearer";
    size_t i, n;

    while (is_blank(*h))
        h++;
    for (i = 0; i < sizeof(scheme) - 1; i++)
        if (ascii_lower(h[i]) != scheme[i])
            return false;
    if (h[i] != ' ')
        return false;
    while (h[i] == ' ')
        i++;
    for (n = 0; (unsigned char)h[i + n] > 0x20 && (unsigned char)h[i + n] < 0x7f; n++)
        if (n == AUTH_TOKEN_MAX)
            return false;
    *tok = h + i;
    *len = n;
    for (i += n; is_blank(h[i]); i++)
        ;
    return n > 0 && h[i] == 0;
}

/* auth_check_bearer - hash the presented token, compare in constant time */
bool auth_check_bearer(const char *token_hash_hex, const char *authorization_header)
{
    unsigned char want[AUTH_HASH_BYTES], got[AUTH_HASH_BYTES];
    const char *tok;
    size_t len;
    bool ok;

    if (authorization_header == NULL || !hash_decode(token_hash_hex, want))
        return false;
    if (!bearer_token(authorization_header, &tok, &len))
        return false;
    token_hash(tok, len, got);
    ok = sodium_memcmp(want, got, AUTH_HASH_BYTES) == 0;
    sodium_memzero(got, sizeof(got));
    return ok;
}

/* auth_token_new - 32 random bytes as unpadded base64url */
int auth_token_new(char *out, size_t cap)
{
    unsigned char raw[AUTH_RANDOM_BYTES];

    if (out == NULL || cap < AUTH_TOKEN_NEW_BUF)
        return -1;
    out[0] = 0;
    if (sodium_init() < 0)
        return -1;
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(out, cap, raw, sizeof(raw), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof(raw));
    return 0;
}
