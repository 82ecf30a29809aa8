/*
 * mta_tls.c - STARTTLS on an outbound connection (RFC 3207)
 *
 * After a 2xx EHLO (LHLO, HELO) reply, tls_policy.h decides: plaintext,
 * STARTTLS, or a failure when TLS is required and not offered. On 220 the
 * plain bufferevent goes with anything the server sent behind its 220,
 * and an OpenSSL one takes the socket in the connecting state, with the
 * name to check (the destination's host or tls_verify_name, also the SNI
 * of a DNS name) and the pool's session to resume. The handshake never
 * fails on the certificate; afterwards the trust is logged the way
 * Postfix does and compared with the level: verify needs Verified. Then
 * EHLO (LHLO) again, and the extensions of that reply are the ones that
 * count. Failures close the connection before ready(), with Postfix's
 * reasons, so the pool defers the jobs or tries the next address.
 */
#include <stdio.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "log.h"
#include "mta_client_int.h"
#include "tls.h"

/* mta_tls_hello - what the level makes of the EHLO reply */
bool mta_tls_hello(struct mta_client *c)
{
    bool offered = (c->ext & SMTP_EXT_STARTTLS) != 0;
    bool active = c->tinfo.result == MTA_CLIENT_TLS_OK;
    enum mta_tls_action a =
        mta_tls_decide(c->tls.level, offered && c->tls.ctx != NULL, c->local, active);

    if (a == MTA_TLS_PLAIN) {
        if (c->tinfo.result == MTA_CLIENT_TLS_NONE && c->tls.level == TLS_OUT_MAY && !c->local)
            c->tinfo.result = MTA_CLIENT_TLS_PLAIN;
        return false;
    }
    if (a == MTA_TLS_FAIL) {
        c->tinfo.result = MTA_CLIENT_TLS_NOT_OFFERED;
        mta_client_fail(c, "TLS is required, but %s by host %s",
                        offered ? "cannot be set up" : "was not offered", c->peer_name);
        return true;
    }
    mta_client_put(c, "STARTTLS");
    c->st = C_STARTTLS;
    return true;
}

/* mta_tls_start - 220: the socket goes to OpenSSL */
static void mta_tls_start(struct mta_client *c)
{
    struct bufferevent *bev = tls_bev_new(bufferevent_get_base(c->bev), c->fd, c->tls.ctx, false);
    SSL *ssl;

    if (bev == NULL) {
        c->tinfo.result = MTA_CLIENT_TLS_HANDSHAKE;
        mta_client_fail(c, "Cannot start TLS with %s: out of memory", c->peer_name);
        return;
    }
    mta_client_set_bev(c, bev); /* bev owns the socket now */
    c->st = C_TLS;
    ssl = bufferevent_openssl_get_ssl(bev);
    if (tls_client_prepare(ssl, c->tls.verify_name ? c->tls.verify_name : "") < 0) {
        c->tinfo.result = MTA_CLIENT_TLS_HANDSHAKE;
        mta_client_fail(c, "Cannot start TLS with %s: out of memory", c->peer_name);
        return;
    }
    tls_cache_use(ssl, c->tls.cache, c->peer_name);
}

/* mta_tls_reply - 220 starts the handshake; a refusal is plaintext or the end */
void mta_tls_reply(struct mta_client *c, const struct mta_client_reply *r)
{
    if (r->code == 220) {
        mta_tls_start(c);
        return;
    }
    if (mta_tls_refused(c->tls.level) == MTA_TLS_PLAIN) {
        c->tinfo.result = MTA_CLIENT_TLS_PLAIN;
        mta_client_ready(c);
        return;
    }
    c->tinfo.result = MTA_CLIENT_TLS_REFUSED;
    mta_client_fail(c, "TLS is required, but host %s refused to start TLS: %s", c->peer_name,
                    r->text);
}

/* mta_tls_connected - trust, the log line, the level; then EHLO again */
void mta_tls_connected(struct mta_client *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    char desc[128], why[128];

    c->tinfo.trust = tls_peer_trust(ssl, why, sizeof(why));
    c->tinfo.version = tls_ssl_version(ssl);
    c->tinfo.resumed = SSL_session_reused(ssl) == 1;
    tls_describe(ssl, desc, sizeof(desc));
    log_info("smtp", "%s TLS connection established to %s: %s%s", tls_trust_names[c->tinfo.trust],
             c->peer_name, desc, c->tinfo.resumed ? " (session reused)" : "");
    if (!mta_tls_trust_ok(c->tls.level, c->tinfo.trust)) {
        c->tinfo.result = MTA_CLIENT_TLS_NOT_VERIFIED;
        mta_client_fail(c, "Server certificate not verified for %s: %s", c->peer_name, why);
        return;
    }
    c->tinfo.result = MTA_CLIENT_TLS_OK;
    c->ext = 0;
    bufferevent_disable(c->bev, EV_WRITE); /* mta_client_flush() enables it for what waits */
    mta_client_put(c, "%s %s", c->proto == MTA_CLIENT_LMTP ? "LHLO" : "EHLO", c->helo_name);
    c->st = C_EHLO;
    mta_client_set_timer(c);
}

/* mta_tls_failed - the handshake broke; OpenSSL says why */
void mta_tls_failed(struct mta_client *c, short what)
{
    char why[256];

    tls_bev_error(c->bev, why, sizeof(why));
    c->tinfo.result = MTA_CLIENT_TLS_HANDSHAKE;
    mta_client_fail(c, "Cannot start TLS: handshake failure with %s: %s", c->peer_name,
                    why[0]                   ? why
                    : (what & BEV_EVENT_EOF) ? "lost connection"
                                             : "error");
}
