/*
 * smtpd_tls.c - STARTTLS on an inbound session (RFC 3207)
 *
 * STARTTLS, once tls_policy.h allows it, is answered 220 and reading
 * stops. When the 220 is out (smtpd_settle), every octet the client
 * pipelined behind STARTTLS is dropped with the plain bufferevent (the
 * CVE-2011-0411 class: nothing said in clear may count as said in TLS),
 * and an OpenSSL bufferevent takes the same socket, in the accepting
 * state, bounded by tls_handshake_timeout. A failed or timed-out
 * handshake is logged and the connection closed; no reply can be sent.
 * When it succeeds the session is as it was after the greeting: no HELO,
 * no transaction, no pipelining offered, so the client must say EHLO
 * again, and STARTTLS is neither offered nor accepted any more.
 */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>

#include "log.h"
#include "smtpd_session_int.h"
#include "tls.h"

/* smtpd_tls_facts - the session's level, the server's certificate, the state */
struct smtpd_tls_state smtpd_tls_facts(const struct smtpd_session *s)
{
    struct smtpd_tls_state t = {
        .level = (enum tls_in_level)s->c->smtp.tls,
        .cert = tls_smtpd_ctx(s->env->tls) != NULL,
        .active = s->tls,
        .in_txn = s->txn.active,
    };
    return t;
}

/* smtpd_tls_cmd - 220 now; the handshake when it is written */
void smtpd_tls_cmd(struct smtpd_session *s)
{
    smtpd_reply(s, "220 2.0.0 Ready to start TLS");
    s->state = SMTPD_S_TLS_WAIT;
    bufferevent_disable(s->bev, EV_READ);
}

/* smtpd_tls_fail - the handshake failed: say why, count, close */
static void smtpd_tls_fail(struct smtpd_session *s, const char *why)
{
    s->env->stats->tls_handshake_failures++;
    log_warn("smtpd", "SSL_accept error from %s: %s", s->peer, why);
    log_info("smtpd", "lost connection after STARTTLS from %s", s->peer);
    smtpd_session_free(s);
}

/* smtpd_tls_start - the plain bufferevent goes with its unread input */
void smtpd_tls_start(struct smtpd_session *s)
{
    SSL_CTX *ctx = tls_smtpd_ctx(s->env->tls);
    struct timeval hs = {(time_t)s->c->smtp.tls_handshake_timeout, 0};
    struct bufferevent *bev;

    if (ctx == NULL || (bev = tls_bev_new(s->env->base, s->fd, ctx, true)) == NULL) {
        smtpd_tls_fail(s, ctx == NULL ? "no certificate any more" : "out of memory");
        return;
    }
    bufferevent_free(s->bev); /* and whatever was pipelined behind STARTTLS */
    s->bev = bev;
    s->fd = -1; /* the OpenSSL bufferevent closes it */
    s->state = SMTPD_S_TLS_HANDSHAKE;
    bufferevent_setcb(bev, smtpd_read_cb, smtpd_write_cb, smtpd_event_cb, s);
    bufferevent_set_timeouts(bev, &hs, &hs);
    bufferevent_setwatermark(bev, EV_READ, 0, DD_SMTP_INPUT_MAX);
    bufferevent_enable(bev, EV_READ); /* read once the handshake is done */
    smtpd_line_deadline(s, 0);
    smtpd_line_deadline(s, s->c->smtp.tls_handshake_timeout); /* idle or not */
}

/* smtpd_tls_established - as after the greeting, in TLS */
static void smtpd_tls_established(struct smtpd_session *s)
{
    SSL *ssl = bufferevent_openssl_get_ssl(s->bev);
    struct timeval tmo = {(time_t)s->c->smtp.command_timeout, 0};
    struct smtpd_stats *st = s->env->stats;

    tls_describe(ssl, s->tls_desc, sizeof(s->tls_desc));
    st->tls_sessions[tls_ssl_version(ssl)]++;
    st->tls_resumed += SSL_session_reused(ssl) == 1;
    log_info("smtpd", "Anonymous TLS connection established from %s: %s", s->peer, s->tls_desc);
    smtpd_txn_reset(s);
    s->tls = true;
    s->helo_seen = s->esmtp = s->pipelining = false;
    s->helo[0] = 0;
    s->state = SMTPD_S_CMD;
    smtpd_line_deadline(s, 0);
    bufferevent_set_timeouts(s->bev, &tmo, &tmo);
    bufferevent_disable(s->bev, EV_WRITE); /* smtpd_settle() enables it for what waits */
}

/* smtpd_tls_event - the handshake's end, either way */
bool smtpd_tls_event(struct smtpd_session *s, short what)
{
    char why[256];

    if (s->state != SMTPD_S_TLS_HANDSHAKE)
        return false;
    if (what & BEV_EVENT_CONNECTED) {
        smtpd_tls_established(s);
        return true;
    }
    if (what & BEV_EVENT_TIMEOUT) {
        s->env->stats->tls_handshake_failures++;
        log_info("smtpd", "timeout after STARTTLS from %s", s->peer);
        smtpd_session_free(s);
        return true;
    }
    tls_bev_error(s->bev, why, sizeof(why));
    smtpd_tls_fail(s, why[0] ? why : (what & BEV_EVENT_EOF) ? "lost connection" : "error");
    return true;
}

/* smtpd_tls_bye - one SSL_write when nothing else waits; never blocks */
bool smtpd_tls_bye(struct smtpd_session *s, const char *line, size_t len)
{
    SSL *ssl = s->tls ? bufferevent_openssl_get_ssl(s->bev) : NULL;

    if (ssl == NULL)
        return false;
    if (evbuffer_get_length(bufferevent_get_output(s->bev)) == 0)
        (void)SSL_write(ssl, line, (int)len);
    return true;
}
