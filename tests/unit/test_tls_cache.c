/*
 * test_tls_cache.c - a pool's TLS session cache against a real OpenSSL
 * server, in memory (BIO pairs, a certificate made here)
 *
 * A TLS 1.3 ticket resumes one connection. A server sends two per full
 * handshake, and a connection reads its own new tickets only later, so
 * connections opened one after the other, each before the last one read
 * its tickets, must each find a ticket of their own in the cache. Also:
 * a session of another peer is never offered, and the cache is bounded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls.h"
#include "tls_int.h"

static SSL_CTX *server_ctx, *client_ctx;

/* self_signed - a P-256 key and a certificate for it */
static void self_signed(EVP_PKEY **key, X509 **crt)
{
    *key = EVP_EC_gen("P-256");
    *crt = X509_new();
    assert_non_null(*key);
    assert_non_null(*crt);
    ASN1_INTEGER_set(X509_get_serialNumber(*crt), 1);
    X509_gmtime_adj(X509_getm_notBefore(*crt), 0);
    X509_gmtime_adj(X509_getm_notAfter(*crt), 3600);
    X509_set_pubkey(*crt, *key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(*crt), "CN", MBSTRING_ASC,
                               (const unsigned char *)"mbx.example.test", -1, -1, 0);
    X509_set_issuer_name(*crt, X509_get_subject_name(*crt));
    assert_true(X509_sign(*crt, *key, EVP_sha256()) > 0);
}

static int setup(void **state)
{
    EVP_PKEY *key;
    X509 *crt;

    (void)state;
    self_signed(&key, &crt);
    server_ctx = SSL_CTX_new(TLS_server_method());
    client_ctx = SSL_CTX_new(TLS_client_method());
    assert_non_null(server_ctx);
    assert_non_null(client_ctx);
    assert_int_equal(SSL_CTX_use_certificate(server_ctx, crt), 1);
    assert_int_equal(SSL_CTX_use_PrivateKey(server_ctx, key), 1);
    SSL_CTX_set_session_id_context(server_ctx, (const unsigned char *)"t", 1);
    SSL_CTX_set_min_proto_version(server_ctx, TLS1_3_VERSION);
    SSL_CTX_set_verify(client_ctx, SSL_VERIFY_NONE, NULL);
    tls_cache_setup(client_ctx);
    X509_free(crt);
    EVP_PKEY_free(key);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    SSL_CTX_free(server_ctx);
    SSL_CTX_free(client_ctx);
    return 0;
}

struct conn {
    SSL *c, *s;
};

/* conn_open - a client (taking from cache for peer) and a server, joined
 * by a BIO pair each way, handshaken */
static struct conn conn_open(struct tls_cache *cache, const char *peer)
{
    struct conn k = {SSL_new(client_ctx), SSL_new(server_ctx)};
    BIO *cb, *sb;

    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(k.c, cb, cb);
    SSL_set_bio(k.s, sb, sb);
    SSL_set_connect_state(k.c);
    SSL_set_accept_state(k.s);
    tls_cache_use(k.c, cache, peer);
    for (int i = 0; i < 50; i++) {
        int rc = SSL_do_handshake(k.c), rs = SSL_do_handshake(k.s);
        if (rc == 1 && rs == 1)
            return k;
    }
    fail_msg("no handshake");
    return k;
}

/* conn_read_tickets - the client reads what the server sent after the
 * handshake: its new tickets go to the cache */
static void conn_read_tickets(struct conn *k)
{
    char buf[16];

    assert_true(SSL_read(k->c, buf, sizeof(buf)) <= 0);
}

static void conn_close(struct conn *k)
{
    tls_cache_detach(k->c);
    SSL_free(k->c);
    SSL_free(k->s);
}

static void test_each_connection_its_ticket(void **state)
{
    struct tls_cache *cache = tls_cache_new();
    struct conn a, b, c, d;

    (void)state;
    a = conn_open(cache, "mbx:24");
    assert_false(SSL_session_reused(a.c));
    conn_read_tickets(&a); /* two tickets */
    b = conn_open(cache, "mbx:24");
    assert_true(SSL_session_reused(b.c));
    c = conn_open(cache, "mbx:24"); /* before b read its own tickets */
    assert_true(SSL_session_reused(c.c));
    d = conn_open(cache, "mbx:24"); /* every ticket used: a full handshake */
    assert_false(SSL_session_reused(d.c));
    conn_read_tickets(&b);
    conn_read_tickets(&c);
    conn_read_tickets(&d);
    int n = 0;
    for (int i = 0; i < 20; i++) { /* what b, c and d were given resumes, once each */
        struct conn e = conn_open(cache, "mbx:24");
        n += SSL_session_reused(e.c);
        conn_close(&e);
    }
    assert_true(n >= 3 && n <= 6); /* d's two; b's and c's (one or two each) */
    conn_close(&a);
    conn_close(&b);
    conn_close(&c);
    conn_close(&d);
    tls_cache_free(cache);
}

static void test_other_peer_never_offered(void **state)
{
    struct tls_cache *cache = tls_cache_new();
    struct conn a, b, c;

    (void)state;
    a = conn_open(cache, "mbx:24");
    conn_read_tickets(&a);
    b = conn_open(cache, "other:24"); /* not mbx's tickets */
    assert_false(SSL_session_reused(b.c));
    conn_read_tickets(&b); /* other's tickets replace mbx's */
    c = conn_open(cache, "mbx:24");
    assert_false(SSL_session_reused(c.c));
    conn_close(&a);
    conn_close(&b);
    conn_close(&c);
    tls_cache_free(cache);
}

static void test_bounded(void **state)
{
    struct tls_cache *cache = tls_cache_new();
    int resumed = 0;

    (void)state;
    for (int i = 0; i < 2 * DD_TLS_CACHE_SESSIONS; i++) { /* more tickets than the bound */
        struct conn k = conn_open(cache, "mbx:24");
        conn_read_tickets(&k);
        conn_close(&k);
    }
    for (int i = 0; i < 2 * DD_TLS_CACHE_SESSIONS; i++) { /* use them without reading more */
        struct conn k = conn_open(cache, "mbx:24");
        resumed += SSL_session_reused(k.c);
        conn_close(&k);
    }
    assert_in_range(resumed, 3, DD_TLS_CACHE_SESSIONS); /* many kept, never past the bound */
    tls_cache_free(cache);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_connection_its_ticket),
        cmocka_unit_test(test_other_peer_never_offered),
        cmocka_unit_test(test_bounded),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
