/*
 * tls_policy.h - what TLS allows and requires, in and out (pure)
 *
 * The names of the TLS levels and protocol versions the configuration
 * takes, and the decisions the SMTP session and the outbound client make
 * from them: which command a session may run before, during or after
 * STARTTLS (RFC 3207), and whether a connection to a destination goes on
 * in plaintext, starts TLS, or fails. No OpenSSL here: the callers feed
 * the facts (a certificate is loaded, the server offered STARTTLS, the
 * peer's certificate was verified) and act on the verdict.
 */
#ifndef DD_TLS_POLICY_H
#define DD_TLS_POLICY_H

#include <stdbool.h>

#include "smtpd_parse.h"

/* [smtp] tls: none never offers STARTTLS; may offers it when a certificate
 * is loaded; encrypt refuses mail before it (530 5.7.0). */
enum tls_in_level { TLS_IN_NONE, TLS_IN_MAY, TLS_IN_ENCRYPT, TLS_IN__COUNT };

/* [delivery] / [storage_group] tls: none never starts TLS; may starts it
 * when offered; encrypt delivers only over TLS; verify also needs the
 * peer's certificate to chain to tls_ca_file and to match the name. */
enum tls_out_level { TLS_OUT_NONE, TLS_OUT_MAY, TLS_OUT_ENCRYPT, TLS_OUT_VERIFY, TLS_OUT__COUNT };

/* Protocol versions, for tls_min_protocol and the metrics' labels. */
enum tls_version { TLS_V1_0, TLS_V1_1, TLS_V1_2, TLS_V1_3, TLS_V_OTHER, TLS_V__COUNT };

/* What the peer's certificate proved, Postfix's words: Untrusted (no
 * chain to a trusted CA), Trusted (a chain, but not the name), Verified. */
enum tls_trust { TLS_UNTRUSTED, TLS_TRUSTED, TLS_VERIFIED, TLS_TRUST__COUNT };

/* The names as written in the file, NULL-terminated, in enum order. */
extern const char *const tls_in_level_names[];
extern const char *const tls_out_level_names[];
extern const char *const tls_version_names[]; /* "TLSv1" .. "TLSv1.3"; no "other" */
extern const char *const tls_trust_names[];   /* "Untrusted", "Trusted", "Verified" */

/* tls_version_of - the version of an OpenSSL version string ("TLSv1.3") */
enum tls_version tls_version_of(const char *name);
/* tls_version_label - a metrics label: "TLSv1.3", or "other" */
const char *tls_version_label(enum tls_version v);

/* The TLS facts of an inbound session. */
struct smtpd_tls_state {
    enum tls_in_level level; /* the session's [smtp] tls */
    bool cert;               /* a server certificate is loaded */
    bool active;             /* the handshake completed on this connection */
    bool in_txn;             /* a mail transaction (MAIL accepted) is open */
};

/* What a command gets, as far as TLS is concerned. */
enum smtpd_tls_verdict {
    SMTPD_TLS_GO,          /* nothing to do with TLS: run the command */
    SMTPD_TLS_START,       /* STARTTLS: 220, then the handshake */
    SMTPD_TLS_NEED,        /* 530 5.7.0 Must issue a STARTTLS command first */
    SMTPD_TLS_NOT_OFFERED, /* STARTTLS without TLS configured: 502 5.5.1 */
    SMTPD_TLS_NO_CERT,     /* STARTTLS offered by level but no certificate: 454 4.7.0 */
    SMTPD_TLS_ACTIVE,      /* STARTTLS again: 554 5.5.1 TLS already active */
    SMTPD_TLS_IN_TXN,      /* STARTTLS inside a transaction: 503 5.5.1 */
};

/* smtpd_tls_offer - STARTTLS belongs in the EHLO reply */
bool smtpd_tls_offer(const struct smtpd_tls_state *t);
/* smtpd_tls_gate - the verdict for verb v (a parsed command) */
enum smtpd_tls_verdict smtpd_tls_gate(const struct smtpd_tls_state *t, enum smtpd_verb v);
/* smtpd_tls_reply - the reply line of a refusing verdict, or NULL */
const char *smtpd_tls_reply(enum smtpd_tls_verdict v);

/* What the outbound client does after the EHLO (LHLO, HELO) reply. */
enum mta_tls_action {
    MTA_TLS_PLAIN,    /* go on without TLS */
    MTA_TLS_STARTTLS, /* send STARTTLS */
    MTA_TLS_FAIL,     /* TLS is required and cannot be had: defer */
};

/* mta_tls_decide - level: the destination's; offered: STARTTLS was in the
 * EHLO reply; local: a unix socket, which never uses TLS; active: the
 * connection is in TLS already (the EHLO after the handshake). */
enum mta_tls_action mta_tls_decide(enum tls_out_level level, bool offered, bool local, bool active);
/* mta_tls_refused - STARTTLS got a reply other than 220: go on in
 * plaintext (may) or fail */
enum mta_tls_action mta_tls_refused(enum tls_out_level level);
/* mta_tls_trust_ok - the handshake's trust is enough for the level */
bool mta_tls_trust_ok(enum tls_out_level level, enum tls_trust trust);

#endif
