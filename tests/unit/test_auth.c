/*
 * test_auth.c - table tests of the admin API's bearer tokens
 *
 * Known BLAKE2b-256 vectors (computed with Python's hashlib), every shape
 * of Authorization header we accept or refuse, configured hashes that must
 * refuse everything, and new tokens: length, alphabet, no repeats, and that
 * their own hash lets them in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth.h"

/* hashlib.blake2b(b'secret-token', digest_size=32).hexdigest() */
#define SECRET_HASH "6f12bbc907b0048e2534e75bee53ec900aa42aafc3856b1b49fbb5ae23d0cef2"
#define SECRET_HASH_UPPER "6F12BBC907B0048E2534E75BEE53EC900AA42AAFC3856B1B49FBB5AE23D0CEF2"

struct hash_case {
    const char *token;
    const char *hex;
};

static const struct hash_case hash_cases[] = {
    {"abc", "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"},
    {"", "0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"},
    {"secret-token", SECRET_HASH},
};

/* test_hash - known vectors, lowercase hex */
static void test_hash(void **state)
{
    char out[AUTH_HASH_HEX_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hash_cases) / sizeof(hash_cases[0]); i++) {
        print_message("hash case %zu: \"%s\"\n", i, hash_cases[i].token);
        memset(out, 'X', sizeof(out));
        auth_token_hash_hex(hash_cases[i].token, strlen(hash_cases[i].token), out);
        assert_string_equal(out, hash_cases[i].hex);
    }
    /* The length counts, not a NUL: "ab" of "abc". */
    auth_token_hash_hex("abc", 2, out);
    assert_string_not_equal(out, hash_cases[0].hex);
}

struct bearer_case {
    const char *hash;   /* configured token_hash */
    const char *header; /* NULL: no Authorization header */
    bool ok;
};

static const struct bearer_case bearer_cases[] = {
    {SECRET_HASH, "Bearer secret-token", true},
    {SECRET_HASH, "bearer secret-token", true},
    {SECRET_HASH, "BEARER secret-token", true},
    {SECRET_HASH, "bEaReR secret-token", true},
    {SECRET_HASH, "Bearer    secret-token", true},
    {SECRET_HASH, "  Bearer secret-token  ", true},
    {SECRET_HASH, "\tBearer secret-token\t", true},
    {SECRET_HASH_UPPER, "Bearer secret-token", true},
    /* Wrong token. */
    {SECRET_HASH, "Bearer secret-tokeN", false},
    {SECRET_HASH, "Bearer secret-token2", false},
    {SECRET_HASH, "Bearer secret", false},
    {SECRET_HASH, "Bearer abc", false},
    /* Malformed header. */
    {SECRET_HASH, NULL, false},
    {SECRET_HASH, "", false},
    {SECRET_HASH, "Bearer", false},
    {SECRET_HASH, "Bearer ", false},
    {SECRET_HASH, "Bearersecret-token", false},
    {SECRET_HASH, "Bearer\tsecret-token", false},
    {SECRET_HASH, "Basic c2VjcmV0LXRva2Vu", false},
    {SECRET_HASH, "Token secret-token", false},
    {SECRET_HASH, "secret-token", false},
    {SECRET_HASH, "Bearer secret-token extra", false},
    {SECRET_HASH, "Bearer secret token", false},
    {SECRET_HASH, "Bearer secret-token\r\n", false},
    {SECRET_HASH, "Bearer secret-token\x7f", false},
    {SECRET_HASH, "Bearer secret-t\xc3\xb6ken", false},
    {SECRET_HASH, "Bearer: secret-token", false},
    {SECRET_HASH, "Bear", false},
    /* Configured hash empty or malformed: refuse everything. */
    {"", "Bearer secret-token", false},
    {"", "Bearer ", false},
    {NULL, "Bearer secret-token", false},
    {SECRET_HASH "00", "Bearer secret-token", false},
    {"6f12bbc907b0048e2534e75bee53ec900aa42aafc3856b1b49fbb5ae23d0cef", "Bearer secret-token",
     false},
    {"6f12bbc907b0048e2534e75bee53ec900aa42aafc3856b1b49fbb5ae23d0cefg", "Bearer secret-token",
     false},
    {"6f12bbc907b0048e2534e75bee53ec900aa42aafc3856b1b49fbb5ae23d0ce f2", "Bearer secret-token",
     false},
};

/* test_bearer - header shapes and configured hashes */
static void test_bearer(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bearer_cases) / sizeof(bearer_cases[0]); i++) {
        const struct bearer_case *c = &bearer_cases[i];

        print_message("bearer case %zu: %s\n", i, c->header ? c->header : "(null)");
        assert_int_equal(auth_check_bearer(c->hash, c->header), c->ok);
    }
}

/* test_bearer_length - tokens of 1 and 256 octets pass, 257 do not */
static void test_bearer_length(void **state)
{
    static const size_t lens[] = {1, 2, 255, AUTH_TOKEN_MAX, AUTH_TOKEN_MAX + 1, 1000};
    char header[1100], hash[AUTH_HASH_HEX_BUF];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        size_t n = lens[i];

        print_message("length case %zu: %zu\n", i, n);
        memcpy(header, "Bearer ", 7);
        memset(header + 7, 'k', n);
        header[7 + n] = 0;
        auth_token_hash_hex(header + 7, n, hash);
        assert_int_equal(auth_check_bearer(hash, header), n <= AUTH_TOKEN_MAX);
    }
}

struct hash_ok_case {
    const char *s;
    bool ok;
};

static const struct hash_ok_case hash_ok_cases[] = {
    {SECRET_HASH, true},
    {SECRET_HASH_UPPER, true},
    {"", false},
    {NULL, false},
    {"00", false},
    {SECRET_HASH "0", false},
    {"zz12bbc907b0048e2534e75bee53ec900aa42aafc3856b1b49fbb5ae23d0cef2", false},
};

/* test_hash_ok - what a configured token_hash must look like */
static void test_hash_ok(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(hash_ok_cases) / sizeof(hash_ok_cases[0]); i++) {
        print_message("hash_ok case %zu\n", i);
        assert_int_equal(auth_hash_hex_ok(hash_ok_cases[i].s), hash_ok_cases[i].ok);
    }
}

/* test_token_new - shape, alphabet, uniqueness, and the round trip */
static void test_token_new(void **state)
{
    char tok[8][AUTH_TOKEN_NEW_BUF], hash[AUTH_HASH_HEX_BUF], header[80];
    char small[AUTH_TOKEN_NEW_BUF - 1];
    size_t i, j;

    (void)state;
    assert_int_equal(auth_token_new(small, sizeof(small)), -1);
    assert_int_equal(auth_token_new(NULL, 100), -1);
    for (i = 0; i < 8; i++) {
        assert_int_equal(auth_token_new(tok[i], sizeof(tok[i])), 0);
        assert_int_equal(strlen(tok[i]), AUTH_TOKEN_NEW_LEN);
        assert_int_equal(strspn(tok[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_"),
                         AUTH_TOKEN_NEW_LEN);
        for (j = 0; j < i; j++)
            assert_string_not_equal(tok[i], tok[j]);
        auth_token_hash_hex(tok[i], strlen(tok[i]), hash);
        snprintf(header, sizeof(header), "Bearer %s", tok[i]);
        assert_true(auth_check_bearer(hash, header));
        assert_true(auth_hash_hex_ok(hash));
        if (i > 0) { /* another token's hash does not let this one in */
            auth_token_hash_hex(tok[i - 1], strlen(tok[i - 1]), hash);
            assert_false(auth_check_bearer(hash, header));
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),          cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_bearer_length), cmocka_unit_test(test_hash_ok),
        cmocka_unit_test(test_token_new),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
