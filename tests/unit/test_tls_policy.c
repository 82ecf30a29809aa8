/*
 * test_tls_policy.c - the TLS decisions of sessions and clients, by table
 *
 * Inbound: every verb under every combination of level, certificate,
 * TLS active and transaction open, against the verdict RFC 3207 and
 * Postfix give; the EHLO offer; the reply of each refusal. A random walk
 * over command sequences checks the invariants of a session model driven
 * only by these decisions: no mail command before TLS under encrypt,
 * STARTTLS at most once, never inside a transaction, and after it the
 * session is back at the greeting (a HELO needed). Outbound: the action
 * for every level, offer, unix socket and TLS state, STARTTLS refused,
 * and which trust each level takes. Version names both ways.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_policy.h"

#define GO SMTPD_TLS_GO
#define START SMTPD_TLS_START
#define NEED SMTPD_TLS_NEED
#define NOTOFF SMTPD_TLS_NOT_OFFERED
#define NOCERT SMTPD_TLS_NO_CERT
#define ACTIVE SMTPD_TLS_ACTIVE
#define INTXN SMTPD_TLS_IN_TXN

struct gate_case {
    enum tls_in_level level;
    bool cert, active, in_txn;
    enum smtpd_verb verb;
    enum smtpd_tls_verdict want;
};

static const struct gate_case gate_cases[] = {
    /* STARTTLS itself */
    {TLS_IN_MAY, true, false, false, SMTP_STARTTLS, START},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_STARTTLS, START},
    {TLS_IN_MAY, true, true, false, SMTP_STARTTLS, ACTIVE},
    {TLS_IN_ENCRYPT, true, true, false, SMTP_STARTTLS, ACTIVE},
    {TLS_IN_MAY, true, false, true, SMTP_STARTTLS, INTXN},
    {TLS_IN_MAY, false, false, false, SMTP_STARTTLS, NOTOFF},
    {TLS_IN_ENCRYPT, false, false, false, SMTP_STARTTLS, NOCERT},
    {TLS_IN_NONE, true, false, false, SMTP_STARTTLS, NOTOFF},
    {TLS_IN_NONE, false, false, false, SMTP_STARTTLS, NOTOFF},
    /* encrypt before TLS: only what leads to TLS or ends the session */
    {TLS_IN_ENCRYPT, true, false, false, SMTP_EHLO, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_HELO, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_NOOP, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_RSET, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_QUIT, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_HELP, GO},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_MAIL, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_RCPT, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_DATA, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_BDAT, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_VRFY, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_EXPN, NEED},
    {TLS_IN_ENCRYPT, true, false, false, SMTP_AUTH, NEED},
    /* encrypt in TLS, may and none: every other verb runs */
    {TLS_IN_ENCRYPT, true, true, false, SMTP_MAIL, GO},
    {TLS_IN_ENCRYPT, true, true, true, SMTP_DATA, GO},
    {TLS_IN_MAY, true, false, false, SMTP_MAIL, GO},
    {TLS_IN_MAY, false, false, false, SMTP_MAIL, GO},
    {TLS_IN_NONE, true, false, false, SMTP_BDAT, GO},
};

/* test_gate - the table */
static void test_gate(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(gate_cases) / sizeof(gate_cases[0]); i++) {
        const struct gate_case *c = &gate_cases[i];
        struct smtpd_tls_state t = {c->level, c->cert, c->active, c->in_txn};

        print_message("gate case %zu\n", i);
        assert_int_equal(smtpd_tls_gate(&t, c->verb), c->want);
    }
}

/* test_offer - STARTTLS in EHLO: a certificate, a level, not in TLS yet */
static void test_offer(void **state)
{
    (void)state;
    for (int level = 0; level < TLS_IN__COUNT; level++)
        for (int cert = 0; cert < 2; cert++)
            for (int active = 0; active < 2; active++) {
                struct smtpd_tls_state t = {(enum tls_in_level)level, cert, active, false};
                bool want = level != TLS_IN_NONE && cert && !active;
                assert_int_equal(smtpd_tls_offer(&t), want);
                /* offered exactly when STARTTLS would start TLS */
                assert_int_equal(smtpd_tls_gate(&t, SMTP_STARTTLS) == START, want);
            }
}

/* test_replies - Postfix's words; none for the verdicts that run */
static void test_replies(void **state)
{
    static const struct {
        enum smtpd_tls_verdict v;
        const char *want;
    } cases[] = {
        {GO, NULL},
        {START, NULL},
        {NEED, "530 5.7.0 Must issue a STARTTLS command first"},
        {NOTOFF, "502 5.5.1 Error: command not implemented"},
        {NOCERT, "454 4.7.0 TLS not available due to local problem"},
        {ACTIVE, "554 5.5.1 Error: TLS already active"},
        {INTXN, "503 5.5.1 Error: MAIL transaction in progress"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *r = smtpd_tls_reply(cases[i].v);
        if (cases[i].want == NULL)
            assert_null(r);
        else
            assert_string_equal(r, cases[i].want);
    }
}

/* A session driven only by the gate, as smtpd_cmd.c and smtpd_tls.c do. */
struct model {
    struct smtpd_tls_state t;
    bool helo, mail_in_clear;
    unsigned starttls;
};

/* model_step - one command; the invariants after it */
static void model_step(struct model *m, enum smtpd_verb v)
{
    enum smtpd_tls_verdict verdict = smtpd_tls_gate(&m->t, v);

    if (verdict == START) {
        assert_false(m->t.in_txn);
        assert_false(m->t.active);
        m->starttls++;
        m->t.active = true; /* the handshake succeeded: back to the greeting */
        m->helo = false;
        m->t.in_txn = false;
        return;
    }
    if (verdict != GO)
        return;
    if (v == SMTP_EHLO || v == SMTP_HELO || v == SMTP_RSET) {
        m->helo |= v != SMTP_RSET;
        m->t.in_txn = false;
    } else if (v == SMTP_MAIL && m->helo) {
        m->t.in_txn = true;
        m->mail_in_clear |= !m->t.active;
    } else if (v == SMTP_DATA && m->t.in_txn)
        m->t.in_txn = false;
}

/* test_walk - random sessions never break the rules */
static void test_walk(void **state)
{
    unsigned seed = 20261201;

    (void)state;
    for (int run = 0; run < 20000; run++) {
        struct model m = {{(enum tls_in_level)(run % TLS_IN__COUNT), (run / 3) % 2, false, false},
                          false,
                          false,
                          0};
        for (int k = 0; k < 12; k++) {
            seed = seed * 1103515245u + 12345u;
            model_step(&m, (enum smtpd_verb)(1 + (seed >> 16) % SMTP_AUTH));
            assert_true(m.starttls <= 1);
            if (m.t.level == TLS_IN_ENCRYPT)
                assert_false(m.mail_in_clear);
            if (m.t.level == TLS_IN_NONE || !m.t.cert)
                assert_int_equal(m.starttls, 0);
        }
    }
}

/* test_client - the action after the EHLO reply and after a refusal */
static void test_client(void **state)
{
    static const struct {
        enum tls_out_level level;
        bool offered, local, active;
        enum mta_tls_action want, refused;
    } cases[] = {
        {TLS_OUT_NONE, true, false, false, MTA_TLS_PLAIN, MTA_TLS_FAIL},
        {TLS_OUT_MAY, true, false, false, MTA_TLS_STARTTLS, MTA_TLS_PLAIN},
        {TLS_OUT_MAY, false, false, false, MTA_TLS_PLAIN, MTA_TLS_PLAIN},
        {TLS_OUT_ENCRYPT, true, false, false, MTA_TLS_STARTTLS, MTA_TLS_FAIL},
        {TLS_OUT_ENCRYPT, false, false, false, MTA_TLS_FAIL, MTA_TLS_FAIL},
        {TLS_OUT_VERIFY, true, false, false, MTA_TLS_STARTTLS, MTA_TLS_FAIL},
        {TLS_OUT_VERIFY, false, false, false, MTA_TLS_FAIL, MTA_TLS_FAIL},
        /* a unix socket never; the EHLO after the handshake never again */
        {TLS_OUT_VERIFY, false, true, false, MTA_TLS_PLAIN, MTA_TLS_FAIL},
        {TLS_OUT_ENCRYPT, true, true, false, MTA_TLS_PLAIN, MTA_TLS_FAIL},
        {TLS_OUT_ENCRYPT, true, false, true, MTA_TLS_PLAIN, MTA_TLS_FAIL},
        {TLS_OUT_ENCRYPT, false, false, true, MTA_TLS_PLAIN, MTA_TLS_FAIL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        print_message("client case %zu\n", i);
        assert_int_equal(
            mta_tls_decide(cases[i].level, cases[i].offered, cases[i].local, cases[i].active),
            cases[i].want);
        if (cases[i].level != TLS_OUT_NONE)
            assert_int_equal(mta_tls_refused(cases[i].level), cases[i].refused);
    }
}

/* test_trust - only verify asks for Verified */
static void test_trust(void **state)
{
    (void)state;
    for (int level = 0; level < TLS_OUT__COUNT; level++)
        for (int trust = 0; trust < TLS_TRUST__COUNT; trust++)
            assert_int_equal(mta_tls_trust_ok((enum tls_out_level)level, (enum tls_trust)trust),
                             level != TLS_OUT_VERIFY || trust == TLS_VERIFIED);
    assert_string_equal(tls_trust_names[TLS_UNTRUSTED], "Untrusted");
    assert_string_equal(tls_trust_names[TLS_TRUSTED], "Trusted");
    assert_string_equal(tls_trust_names[TLS_VERIFIED], "Verified");
}

/* test_versions - OpenSSL's names in, metrics labels out */
static void test_versions(void **state)
{
    static const struct {
        const char *name;
        enum tls_version v;
        const char *label;
    } cases[] = {
        {"TLSv1", TLS_V1_0, "TLSv1"},     {"TLSv1.1", TLS_V1_1, "TLSv1.1"},
        {"TLSv1.2", TLS_V1_2, "TLSv1.2"}, {"TLSv1.3", TLS_V1_3, "TLSv1.3"},
        {"SSLv3", TLS_V_OTHER, "other"},  {"tlsv1.3", TLS_V_OTHER, "other"},
        {"", TLS_V_OTHER, "other"},       {NULL, TLS_V_OTHER, "other"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(tls_version_of(cases[i].name), cases[i].v);
        assert_string_equal(tls_version_label(cases[i].v), cases[i].label);
    }
    assert_null(tls_version_names[TLS_V_OTHER]);
    assert_null(tls_in_level_names[TLS_IN__COUNT]);
    assert_null(tls_out_level_names[TLS_OUT__COUNT]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate),     cmocka_unit_test(test_offer),
        cmocka_unit_test(test_replies),  cmocka_unit_test(test_walk),
        cmocka_unit_test(test_client),   cmocka_unit_test(test_trust),
        cmocka_unit_test(test_versions),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
