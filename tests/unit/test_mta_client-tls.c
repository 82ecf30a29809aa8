/* test_mta_client-tls.c - the TLS decisions after EHLO, against the scripted server */

/*
 * STARTTLS not offered, refused, answered with something that is no
 * handshake; a unix socket. Real handshakes are the integration tests'
 * (test_tls_delivery.py).
 */

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "mtafix.h"

/* A TLS case: the level, the script after the greeting, what the client
 * sent, whether it got ready, what became of TLS and why it closed. */
struct tls_case {
    enum tls_out_level level;
    bool local; /* over a unix socket */
    const char *script[4];
    const char *cmds;
    unsigned ready;
    enum mta_client_tls_result result;
    const char *why; /* in closed(), or NULL */
};

#define EHLO_TLS "250-t\r\n250 STARTTLS\r\n"
static const struct tls_case tls_cases[] = {
    {TLS_OUT_ENCRYPT,
     false,
     {"250 t\r\n", NULL},
     "EHLO client.test\r\n",
     0,
     MTA_CLIENT_TLS_NOT_OFFERED,
     "TLS is required, but was not offered by host test"},
    {TLS_OUT_VERIFY,
     false,
     {"502 5.5.1 no\r\n", "250 t\r\n", NULL},
     "EHLO client.test\r\nHELO client.test\r\n",
     0,
     MTA_CLIENT_TLS_NOT_OFFERED,
     "TLS is required, but was not offered"},
    {TLS_OUT_MAY,
     false,
     {"250 t\r\n", NULL},
     "EHLO client.test\r\n",
     1,
     MTA_CLIENT_TLS_PLAIN,
     NULL},
    {TLS_OUT_NONE, false, {EHLO_TLS, NULL}, "EHLO client.test\r\n", 1, MTA_CLIENT_TLS_NONE, NULL},
    {TLS_OUT_ENCRYPT,
     false,
     {EHLO_TLS, "454 4.7.0 not now\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     0,
     MTA_CLIENT_TLS_REFUSED,
     "TLS is required, but host test refused to start TLS: 454 4.7.0 not now"},
    {TLS_OUT_MAY,
     false,
     {EHLO_TLS, "454 4.7.0 not now\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     1,
     MTA_CLIENT_TLS_PLAIN,
     NULL},
    /* what follows the 220 in the same read is dropped; then the server is gone */
    {TLS_OUT_ENCRYPT,
     false,
     {EHLO_TLS, "!fin 220 go\r\n250 injected\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     0,
     MTA_CLIENT_TLS_HANDSHAKE,
     "Cannot start TLS: handshake failure with test"},
    {TLS_OUT_ENCRYPT,
     true,
     {"250 t\r\n", NULL},
     "LHLO client.test\r\n",
     1,
     MTA_CLIENT_TLS_NONE,
     NULL},
};

/* test_tls - what the level makes of each answer */
static void test_tls(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(ctx);
    for (size_t i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
        const struct tls_case *c = &tls_cases[i];
        const char *script[6] = {GREET, c->script[0], c->script[1], c->script[2], NULL, NULL};
        char path[64];

        print_message("tls case %zu\n", i);
        snprintf(path, sizeof(path), "/tmp/test_mta_client_tls.%d", (int)getpid());
        memset(h, 0, sizeof(*h));
        h->base = f->base;
        h->tls_cfg = (struct mta_client_tls){c->level, ctx, "mbx.example.test", NULL};
        f->srv = mf_srv_new(f->base, script, c->local ? path : NULL);
        mf_h_run(h, f->srv, c->local ? MTA_CLIENT_LMTP : MTA_CLIENT_SMTP);
        mf_buf_equal(f->srv->cmds, c->cmds);
        assert_int_equal(h->ready, c->ready);
        assert_int_equal(h->tls, c->result);
        if (c->why != NULL) {
            assert_int_equal(h->why.code, 0);
            if (strstr(h->why.text, c->why) == NULL)
                fail_msg("closed with [%s], want [%s]", h->why.text, c->why);
        }
        mf_srv_free(f->srv);
        f->srv = NULL;
    }
    SSL_CTX_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_tls, mf_setup, mf_teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
