/*
 * tls.h - the OpenSSL contexts of one configuration, and what the TLS
 * users (inbound STARTTLS, outbound STARTTLS, HTTPS admin) share
 *
 * tls_new() loads every certificate, key and CA file a configuration
 * names: the [smtp] server context, the [admin] one, and one client
 * context per distinct (tls_ca_file, tls_client_cert_file,
 * tls_client_key_file) of [delivery] and the storage groups. A file that
 * cannot be loaded is a configuration error at the line of its key, so
 * startup and -t exit 78, and a SIGHUP reload is refused as a whole: the
 * running contexts stay. A connection takes its context when it starts;
 * OpenSSL counts the references, so a context replaced by a reload lives
 * until the last connection that uses it is gone.
 *
 * Outbound contexts never fail a handshake on the certificate
 * (SSL_VERIFY_NONE): the chain and the name are checked all the same and
 * the client decides afterwards with tls_peer_trust(), so that a refusal
 * says why (Postfix's Untrusted / Trusted / Verified).
 */
#ifndef DD_TLS_H
#define DD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "conf.h"
#include "tls_policy.h"

struct bufferevent;
struct event_base;
struct tls; /* opaque; one owner (the hub), tls_free() */

/* tls_new - every context of c; NULL with errors (file:line) in errs. */
struct tls *tls_new(const struct conf *c, struct conf_errors *errs);

/* tls_free - release the set (connections keep their contexts). NULL. */
struct tls *tls_free(struct tls *t);

/* tls_smtpd_ctx - the [smtp] server context; NULL without a certificate
 * or with tls = none. The pointer is valid until tls_free(). */
SSL_CTX *tls_smtpd_ctx(const struct tls *t);

/* tls_admin_ctx - the [admin] server context; NULL: plain HTTP. */
SSL_CTX *tls_admin_ctx(const struct tls *t);

/* tls_client_ctx - the client context of an outbound policy of the same
 * configuration (its files); NULL when tls = none or t is NULL. */
SSL_CTX *tls_client_ctx(const struct tls *t, const struct conf_tls_out *p);

/* tls_client_prepare - name to check the peer's certificate against (a DNS
 * name, also sent as SNI, or an IP literal). 0, or -1 out of memory. */
int tls_client_prepare(SSL *ssl, const char *name);

/* tls_peer_trust - what the peer's certificate proved; why says what it
 * lacked ("certificate has expired", "hostname mismatch", ...). */
enum tls_trust tls_peer_trust(const SSL *ssl, char *why, size_t cap);

/* tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256
 * bits)", as Postfix logs and writes it in Received:. */
void tls_describe(const SSL *ssl, char *buf, size_t cap);

/* tls_ssl_version - the protocol version of an established connection */
enum tls_version tls_ssl_version(const SSL *ssl);

/* tls_bev_error - why an OpenSSL bufferevent failed, from the errors it
 * kept (and the error queue), as one line; "" when it kept none. */
void tls_bev_error(struct bufferevent *bev, char *buf, size_t cap);

/* tls_bev_new - an OpenSSL bufferevent on fd for a new SSL of ctx, in the
 * accepting (server) or connecting state, closing fd and the SSL when
 * freed; a peer that closes without close_notify is an end of file, not
 * an error. NULL (fd left open) when out of memory. */
struct bufferevent *tls_bev_new(struct event_base *base, int fd, SSL_CTX *ctx, bool server);

/* tls_bev_close_notify - the clean end of an OpenSSL bufferevent: one
 * non-blocking close_notify when ours (we end it: QUIT, 221) or when the
 * peer sent its own. OpenSSL forgets the session of a connection freed
 * without it, so this keeps sessions resumable. A no-op for a plain
 * bufferevent or an unfinished handshake. */
void tls_bev_close_notify(struct bufferevent *bev, bool ours);

/* A client's session cache: the last session a peer gave, so the next
 * connection to the same peer resumes it instead of a full handshake. */
struct tls_cache;
struct tls_cache *tls_cache_new(void);
struct tls_cache *tls_cache_free(struct tls_cache *cache); /* NULL */
/* tls_cache_use - resume cache's session on ssl when it came from peer
 * over ssl's context, and keep the sessions ssl is given. cache must
 * outlive ssl, or tls_cache_detach() it first. */
void tls_cache_use(SSL *ssl, struct tls_cache *cache, const char *peer);
void tls_cache_detach(SSL *ssl);

/* tls_conf_warnings - what is allowed but unwise: an admin listener off
 * loopback that takes writes (token_hash set) without TLS. Each warning
 * goes to out when out is not NULL, else to the log. Returns the count. */
int tls_conf_warnings(const struct conf *c, FILE *out);

/* tls_check - -t: load every file of c once (the errors tls_new() gives)
 * and print the warnings to stderr. 0, or -1 with errs filled. */
int tls_check(const struct conf *c, struct conf_errors *errs);

#endif
