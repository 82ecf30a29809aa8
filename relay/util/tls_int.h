/*
 * tls_int.h - what tls_ctx.c (contexts) and tls_util.c (connections)
 * share; nothing else includes it
 */
#ifndef DD_TLS_INT_H
#define DD_TLS_INT_H

#include <stddef.h>

#include <openssl/ssl.h>

/* tls_ssl_errors - OpenSSL's error queue as one line; the queue is emptied */
void tls_ssl_errors(char *buf, size_t cap);

/* tls_cache_setup - a client context hands its new sessions to the
 * tls_cache of the connection (tls_cache_use) instead of keeping them */
void tls_cache_setup(SSL_CTX *ctx);

#endif
