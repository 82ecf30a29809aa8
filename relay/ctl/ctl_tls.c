/*
 * ctl_tls.c - dumpsterctl's HTTPS: a verified TLS connection per hub
 *
 * An https:// hub gets an OpenSSL bufferevent for evhttp, with the
 * certificate checked against the hub's CA file (the site file's third
 * column, else --cacert, else the system's CAs) and against the URL's
 * host (a DNS name, also sent as SNI, or an IP literal). A certificate
 * that does not verify fails the handshake: that hub is unavailable, with
 * the reason (unknown CA, expired, name mismatch), and there is never a
 * second try in plaintext. The first verification error is kept by a
 * callback, because evhttp resets the SSL when the connection fails.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "ctl.h"

static int ctl_tls_idx = -1;

/* ctl_tls_verify_cb - keep the first error of the chain or the name */
static int ctl_tls_verify_cb(int ok, X509_STORE_CTX *x)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
    struct ctl_tls *t = ssl != NULL ? SSL_get_ex_data(ssl, ctl_tls_idx) : NULL;

    if (!ok && t != NULL && t->verify_error == 0)
        t->verify_error = X509_STORE_CTX_get_error(x);
    return ok;
}

/* ctl_tls_ctx - a client context that verifies against cafile ("" the system's) */
static SSL_CTX *ctl_tls_ctx(const char *cafile, char *why, size_t cap)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok;

    if (ctx == NULL) {
        snprintf(why, cap, "cannot set up TLS");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, ctl_tls_verify_cb);
    ok = cafile[0] ? SSL_CTX_load_verify_locations(ctx, cafile, NULL)
                   : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        unsigned long e = ERR_get_error();
        snprintf(why, cap, "cannot load CA certificates from %s: %s",
                 cafile[0] ? cafile : "the system",
                 ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e));
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* ctl_tls_name - the host the certificate must name */
static int ctl_tls_name(SSL *ssl, const char *host)
{
    unsigned char ip[16];

    if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1)
        return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 ? 0 : -1;
    X509_VERIFY_PARAM_set_hostflags(SSL_get0_param(ssl), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    return SSL_set1_host(ssl, host) == 1 && SSL_set_tlsext_host_name(ssl, host) == 1 ? 0 : -1;
}

/* ctl_tls_bev - the bufferevent of an https:// hub; NULL with why */
struct bufferevent *ctl_tls_bev(struct ctl_tls *t, struct event_base *base, const struct ctl_hub *h,
                                const char *cacert, char *why, size_t cap)
{
    const char *cafile = h->cafile[0] ? h->cafile : cacert;
    struct bufferevent *bev;
    SSL *ssl;

    if (ctl_tls_idx < 0)
        ctl_tls_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
    if ((t->ctx = ctl_tls_ctx(cafile, why, cap)) == NULL)
        return NULL;
    if ((ssl = SSL_new(t->ctx)) == NULL || ctl_tls_name(ssl, h->host) < 0 ||
        SSL_set_ex_data(ssl, ctl_tls_idx, t) != 1) {
        SSL_free(ssl);
        snprintf(why, cap, "cannot set up TLS");
        return NULL;
    }
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                         BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (bev == NULL) {
        snprintf(why, cap, "cannot set up TLS");
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    t->bev = bev;
    return bev;
}

/* ctl_tls_error - why the TLS connection failed, if it did; 0 when TLS
 * has nothing to say */
int ctl_tls_error(struct ctl_tls *t, char *out, size_t cap)
{
    unsigned long e;

    if (t->verify_error != 0) {
        snprintf(out, cap, "TLS: certificate verify failed: %s",
                 X509_verify_cert_error_string(t->verify_error));
        return 1;
    }
    while (t->bev != NULL && (e = bufferevent_get_openssl_error(t->bev)) != 0) {
        const char *r = e > SSL_ERROR_WANT_CLIENT_HELLO_CB ? ERR_reason_error_string(e) : NULL;
        if (r != NULL) { /* SSL_get_error()'s small codes say less */
            snprintf(out, cap, "TLS: %s", r);
            return 1;
        }
    }
    return 0;
}

/* ctl_tls_free - the context (the SSL went with its bufferevent) */
void ctl_tls_free(struct ctl_tls *t)
{
    SSL_CTX_free(t->ctx);
    t->ctx = NULL;
    t->bev = NULL;
}
