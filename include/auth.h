/*
 * auth.h - bearer tokens of the admin API (pure; libsodium only)
 *
 * The configuration holds only token_hash: the lowercase hex of the
 * BLAKE2b-256 (crypto_generichash, 32-byte output, no key) of the token's
 * bytes (SPEC section 8). A request's "Authorization: Bearer TOKEN" is
 * hashed the same way and the two digests are compared in constant time,
 * so neither the config nor a timing reveals the token.
 */
#ifndef DD_AUTH_H
#define DD_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* A token in a request: 1..AUTH_TOKEN_MAX printable non-space octets. */
#define AUTH_TOKEN_MAX 256
/* token_hash as text: 64 hex digits and a NUL. */
#define AUTH_HASH_HEX_BUF 65
/* auth_token_new(): 43 base64url characters (32 random bytes) and a NUL. */
#define AUTH_TOKEN_NEW_LEN 43
#define AUTH_TOKEN_NEW_BUF (AUTH_TOKEN_NEW_LEN + 1)

/* auth_token_hash_hex - lowercase hex BLAKE2b-256 of token[0..len) into out. */
void auth_token_hash_hex(const char *token, size_t len, char out[AUTH_HASH_HEX_BUF]);

/*
 * auth_hash_hex_ok - whether s is a usable token_hash: exactly 64 hex
 * digits (either case). The empty string is not.
 */
bool auth_hash_hex_ok(const char *s);

/*
 * auth_check_bearer - whether the Authorization header value (NULL: no
 * header) carries the token whose hash is token_hash_hex. The scheme
 * "Bearer" matches without case and is followed by one or more spaces;
 * blanks around the value are ignored. An empty or malformed configured
 * hash refuses everything.
 */
bool auth_check_bearer(const char *token_hash_hex, const char *authorization_header);

/*
 * auth_token_new - a new token: 43 base64url characters (no padding) of 32
 * random bytes, NUL-terminated, into out. Returns 0, or -1 when cap is under
 * AUTH_TOKEN_NEW_BUF or libsodium cannot start.
 */
int auth_token_new(char *out, size_t cap);

#endif
