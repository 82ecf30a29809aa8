/*
 * tls_policy.c - what TLS allows and requires, in and out (pure)
 *
 * The inbound gate follows RFC 3207 and Postfix: with tls = encrypt only
 * the commands that lead to TLS or end the session (EHLO, HELO, STARTTLS,
 * NOOP, RSET, QUIT, HELP) run before the handshake, the rest get 530.
 * STARTTLS is refused inside a transaction (the reset would lose it
 * silently) and once TLS is active. Outbound, a unix socket never uses
 * TLS; may takes TLS when offered and plaintext otherwise; encrypt and
 * verify never fall back to plaintext.
 */
#include <string.h>

#include "tls_policy.h"

const char *const tls_in_level_names[] = {"none", "may", "encrypt", NULL};
const char *const tls_out_level_names[] = {"none", "may", "encrypt", "verify", NULL};
const char *const tls_version_names[] = {"TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3", NULL};
const char *const tls_trust_names[] = {"Untrusted", "Trusted", "Verified", NULL};

/* tls_version_of - by OpenSSL's name of the version */
enum tls_version tls_version_of(const char *name)
{
    for (int v = TLS_V1_0; v < TLS_V_OTHER; v++)
        if (name != NULL && strcmp(name, tls_version_names[v]) == 0)
            return (enum tls_version)v;
    return TLS_V_OTHER;
}

/* tls_version_label - for the metrics */
const char *tls_version_label(enum tls_version v)
{
    return v >= TLS_V1_0 && v < TLS_V_OTHER ? tls_version_names[v] : "other";
}

/* smtpd_tls_offer - a certificate, a level that offers it, not in TLS yet */
bool smtpd_tls_offer(const struct smtpd_tls_state *t)
{
    return t->level != TLS_IN_NONE && t->cert && !t->active;
}

/* smtpd_tls_pre - the commands that may run before TLS under encrypt */
static bool smtpd_tls_pre(enum smtpd_verb v)
{
    switch (v) {
    case SMTP_HELO:
    case SMTP_EHLO:
    case SMTP_STARTTLS:
    case SMTP_NOOP:
    case SMTP_RSET:
    case SMTP_QUIT:
    case SMTP_HELP:
        return true;
    default:
        return false;
    }
}

/* smtpd_tls_starttls - the verdict for STARTTLS itself */
static enum smtpd_tls_verdict smtpd_tls_starttls(const struct smtpd_tls_state *t)
{
    if (t->active)
        return SMTPD_TLS_ACTIVE;
    if (t->level == TLS_IN_NONE)
        return SMTPD_TLS_NOT_OFFERED;
    if (!t->cert)
        return t->level == TLS_IN_ENCRYPT ? SMTPD_TLS_NO_CERT : SMTPD_TLS_NOT_OFFERED;
    if (t->in_txn)
        return SMTPD_TLS_IN_TXN;
    return SMTPD_TLS_START;
}

/* smtpd_tls_gate - STARTTLS by its own rules; the rest by the level */
enum smtpd_tls_verdict smtpd_tls_gate(const struct smtpd_tls_state *t, enum smtpd_verb v)
{
    if (v == SMTP_STARTTLS)
        return smtpd_tls_starttls(t);
    if (t->level == TLS_IN_ENCRYPT && !t->active && !smtpd_tls_pre(v))
        return SMTPD_TLS_NEED;
    return SMTPD_TLS_GO;
}

/* smtpd_tls_reply - Postfix's replies where it has one */
const char *smtpd_tls_reply(enum smtpd_tls_verdict v)
{
    switch (v) {
    case SMTPD_TLS_NEED:
        return "530 5.7.0 Must issue a STARTTLS command first";
    case SMTPD_TLS_NOT_OFFERED:
        return "502 5.5.1 Error: command not implemented";
    case SMTPD_TLS_NO_CERT:
        return "454 4.7.0 TLS not available due to local problem";
    case SMTPD_TLS_ACTIVE:
        return "554 5.5.1 Error: TLS already active";
    case SMTPD_TLS_IN_TXN:
        return "503 5.5.1 Error: MAIL transaction in progress";
    default:
        return NULL;
    }
}

/* mta_tls_decide - after the EHLO reply */
enum mta_tls_action mta_tls_decide(enum tls_out_level level, bool offered, bool local, bool active)
{
    if (local || active || level == TLS_OUT_NONE)
        return MTA_TLS_PLAIN;
    if (offered)
        return MTA_TLS_STARTTLS;
    return level == TLS_OUT_MAY ? MTA_TLS_PLAIN : MTA_TLS_FAIL;
}

/* mta_tls_refused - 4xx/5xx to STARTTLS: the connection is still plaintext */
enum mta_tls_action mta_tls_refused(enum tls_out_level level)
{
    return level == TLS_OUT_MAY ? MTA_TLS_PLAIN : MTA_TLS_FAIL;
}

/* mta_tls_trust_ok - only verify asks anything of the certificate */
bool mta_tls_trust_ok(enum tls_out_level level, enum tls_trust trust)
{
    return level != TLS_OUT_VERIFY || trust == TLS_VERIFIED;
}
