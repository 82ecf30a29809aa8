/*
 * tls_util.c - what a TLS connection needs beyond its context (see tls.h)
 *
 * OpenSSL bufferevents with the options every user wants, the peer name
 * to check, the peer's trust and the Postfix-style description of a
 * connection, the reasons of a failure, the client session cache and the
 * configuration warnings about clear text.
 *
 * The session cache: a client context is made with
 * SSL_SESS_CACHE_NO_INTERNAL_STORE and a new-session callback, and each
 * SSL carries (in its ex_data) the cache of its pool and the peer it
 * talks to. Sessions given by that peer are kept, up to
 * DD_TLS_CACHE_SESSIONS (the oldest go first; one from another peer or
 * context starts the cache over), and the next connection to the same peer
 * over the same context resumes the newest. A TLS 1.3 session (a ticket)
 * is taken out as it is used, as a ticket resumes once; an older one
 * stays. The cache holds a reference to each session and to their
 * context, so neither can be freed and reused under it; the ex_data is
 * freed with the SSL.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"
#include "tls_int.h"

struct tls_cache {
    SSL_SESSION *sess[DD_TLS_CACHE_SESSIONS]; /* oldest first */
    size_t n;
    SSL_CTX *ctx; /* the context they belong to (a reference), NULL when n == 0 */
    char peer[DD_HOSTNAME_MAX + 80];
};

/* tls_cache_clear - every session and the context reference go */
static void tls_cache_clear(struct tls_cache *c)
{
    for (size_t i = 0; i < c->n; i++)
        SSL_SESSION_free(c->sess[i]);
    c->n = 0;
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
}

/* What an SSL of a client carries: its pool's cache and its peer. */
struct tls_cache_ref {
    struct tls_cache *cache; /* NULL once detached */
    char peer[DD_HOSTNAME_MAX + 80];
};

static int tls_cache_idx = -1;

/* tls_describe - Postfix's words for the protocol and cipher */
void tls_describe(const SSL *ssl, char *buf, size_t cap)
{
    const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
    int alg = 0, bits = ci ? SSL_CIPHER_get_bits(ci, &alg) : 0;

    snprintf(buf, cap, "%s with cipher %s (%d/%d bits)", SSL_get_version(ssl),
             ci ? SSL_CIPHER_get_name(ci) : "none", bits, alg);
}

/* tls_ssl_version - SSL_get_version() as an enum */
enum tls_version tls_ssl_version(const SSL *ssl)
{
    return tls_version_of(SSL_get_version(ssl));
}

/* tls_peer_trust - the verify result of the handshake, which checked the
 * chain and then the name (tls_client_prepare) */
enum tls_trust tls_peer_trust(const SSL *ssl, char *why, size_t cap)
{
    long v = SSL_get_verify_result(ssl);

    why[0] = 0;
    if (SSL_get0_peer_certificate(ssl) == NULL) {
        snprintf(why, cap, "no certificate");
        return TLS_UNTRUSTED;
    }
    if (v == X509_V_OK)
        return TLS_VERIFIED;
    snprintf(why, cap, "%s", X509_verify_cert_error_string(v));
    if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH)
        return TLS_TRUSTED;
    return TLS_UNTRUSTED;
}

/* tls_client_prepare - the name the certificate must carry; SNI for names */
int tls_client_prepare(SSL *ssl, const char *name)
{
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    unsigned char ip[16];

    if (name[0] == 0)
        return 0; /* no name: the caller checks none */
    if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(param, name) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, name) != 1 || SSL_set_tlsext_host_name(ssl, name) != 1)
        return -1;
    return 0;
}

/* tls_bev_error - the errors the bufferevent kept: OpenSSL's reasons
 * first; SSL_get_error()'s small codes only when nothing else is known */
void tls_bev_error(struct bufferevent *bev, char *buf, size_t cap)
{
    unsigned long e;
    size_t n = 0;
    bool syscall = false;

    buf[0] = 0;
    while ((e = bufferevent_get_openssl_error(bev)) != 0) {
        const char *r = e > SSL_ERROR_WANT_CLIENT_HELLO_CB ? ERR_reason_error_string(e) : NULL;
        syscall |= e == SSL_ERROR_SYSCALL;
        if (r != NULL && n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", r);
    }
    if (ERR_peek_error() != 0 && n < cap)
        tls_ssl_errors(buf + n, cap - n);
    else if (n == 0 && syscall)
        snprintf(buf, cap, "lost connection");
}

/* tls_bev_new - SSL and bufferevent together; both go with the bufferevent */
struct bufferevent *tls_bev_new(struct event_base *base, int fd, SSL_CTX *ctx, bool server)
{
    SSL *ssl = SSL_new(ctx);
    struct bufferevent *bev;

    if (ssl == NULL)
        return NULL;
    bev = bufferevent_openssl_socket_new(
        base, fd, ssl, server ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE);
    if (bev != NULL)
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

/* tls_bev_close_notify - SSL_shutdown once; it marks the session as
 * ended cleanly even when the write fails */
void tls_bev_close_notify(struct bufferevent *bev, bool ours)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);

    if (ssl == NULL || !SSL_is_init_finished(ssl))
        return;
    if (ours || (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN)) {
        (void)SSL_shutdown(ssl);
        ERR_clear_error();
    }
}

/* tls_cache_new_cb - a peer gave a session: keep it for the next connection */
static int tls_cache_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_cache_ref *ref = SSL_get_ex_data(ssl, tls_cache_idx);
    struct tls_cache *c = ref ? ref->cache : NULL;
    SSL_CTX *ctx = SSL_get_SSL_CTX(ssl);

    if (c == NULL || !SSL_SESSION_is_resumable(sess))
        return 0;
    if (c->n > 0 && (c->ctx != ctx || strcmp(c->peer, ref->peer) != 0))
        tls_cache_clear(c);
    if (c->n == 0) {
        if (!SSL_CTX_up_ref(ctx))
            return 0;
        c->ctx = ctx;
        snprintf(c->peer, sizeof(c->peer), "%s", ref->peer);
    }
    if (c->n == DD_TLS_CACHE_SESSIONS) {
        SSL_SESSION_free(c->sess[0]);
        memmove(c->sess, c->sess + 1, (c->n - 1) * sizeof(c->sess[0]));
        c->n--;
    }
    c->sess[c->n++] = sess;
    return 1; /* the reference to sess is ours now */
}

/* tls_cache_ref_free - the ex_data of an SSL goes with it */
static void tls_cache_ref_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx, long argl,
                               void *argp)
{
    (void)parent;
    (void)ad;
    (void)idx;
    (void)argl;
    (void)argp;
    free(ptr);
}

/* tls_cache_setup - see tls_int.h */
void tls_cache_setup(SSL_CTX *ctx)
{
    if (tls_cache_idx < 0)
        tls_cache_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, tls_cache_ref_free);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, tls_cache_new_cb);
}

/* tls_cache_new - empty: the first connection pays a full handshake */
struct tls_cache *tls_cache_new(void)
{
    return calloc(1, sizeof(struct tls_cache));
}

/* tls_cache_free - the session and the context reference */
struct tls_cache *tls_cache_free(struct tls_cache *cache)
{
    if (cache != NULL) {
        tls_cache_clear(cache);
        free(cache);
    }
    return NULL;
}

/* tls_cache_use - resume what the same peer gave over the same context */
void tls_cache_use(SSL *ssl, struct tls_cache *cache, const char *peer)
{
    struct tls_cache_ref *ref = calloc(1, sizeof(*ref));

    if (cache == NULL || tls_cache_idx < 0 || ref == NULL) {
        free(ref);
        return;
    }
    ref->cache = cache;
    snprintf(ref->peer, sizeof(ref->peer), "%s", peer);
    if (SSL_set_ex_data(ssl, tls_cache_idx, ref) != 1) {
        free(ref);
        return;
    }
    if (cache->n == 0 || cache->ctx != SSL_get_SSL_CTX(ssl) || strcmp(cache->peer, peer) != 0)
        return;
    SSL_SESSION *s = cache->sess[cache->n - 1];
    SSL_set_session(ssl, s); /* the SSL takes a reference of its own */
    if (SSL_SESSION_get_protocol_version(s) == TLS1_3_VERSION) {
        cache->n--; /* a ticket resumes once */
        SSL_SESSION_free(s);
        if (cache->n == 0)
            tls_cache_clear(cache); /* and the context reference */
    }
}

/* tls_cache_detach - the cache goes before the SSL does */
void tls_cache_detach(SSL *ssl)
{
    struct tls_cache_ref *ref = tls_cache_idx < 0 ? NULL : SSL_get_ex_data(ssl, tls_cache_idx);

    if (ref != NULL)
        ref->cache = NULL;
}

/* tls_loopback - 127.0.0.0/8 or ::1 */
static bool tls_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0;
}

/* tls_conf_warnings - the token in clear across a network */
int tls_conf_warnings(const struct conf *c, FILE *out)
{
    int n = 0;

    if (c->admin.token_hash[0] == 0 || c->admin.tls_cert_file[0] != 0)
        return 0;
    for (size_t i = 0; i < c->admin.nlisten; i++) {
        const struct conf_listen *l = &c->admin.listen[i];
        bool v6 = strchr(l->host, ':') != NULL;
        char msg[DD_HOSTNAME_MAX + 200];

        if (tls_loopback(l->host))
            continue;
        snprintf(msg, sizeof(msg),
                 "[admin] listen %s%s%s:%u is not a loopback address and takes writes "
                 "(token_hash is set) without TLS: set [admin] tls_cert_file",
                 v6 ? "[" : "", l->host, v6 ? "]" : "", (unsigned)l->port);
        if (out != NULL)
            fprintf(out, "dumpsterd: warning: %s\n", msg);
        else
            log_warn("main", "%s", msg);
        n++;
    }
    return n;
}
