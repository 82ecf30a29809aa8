/*
 * tls_ctx.c - the OpenSSL contexts of one configuration (see tls.h)
 *
 * Server contexts get the certificate chain and key of their section,
 * tls_min_protocol and tls_ciphers ([smtp]), no renegotiation, and a
 * session id context so that clients may resume. Client contexts are
 * shared by every policy that names the same files; their sessions go to
 * the caller's tls_cache (tls_util.c) instead of an internal cache, so a
 * pool resumes with the peer it talked to. Every failure names the file,
 * the line of its key and OpenSSL's reason.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tls.h"
#include "tls_int.h"

/* One client context and the files it was made from. */
struct tls_client {
    struct conf_tls_out p; /* a copy: the set may outlive its conf */
    SSL_CTX *ctx;
};

struct tls {
    SSL_CTX *smtpd;
    SSL_CTX *admin;
    struct tls_client *clients;
    size_t nclients;
};

/* tls_ssl_errors - OpenSSL's error queue as one line, emptied; a system
 * error by its errno text, a reason said once */
void tls_ssl_errors(char *buf, size_t cap)
{
    const char *last = NULL;
    size_t n = 0;
    unsigned long e;

    buf[0] = 0;
    while ((e = ERR_get_error()) != 0) {
        const char *r =
            ERR_SYSTEM_ERROR(e) ? strerror(ERR_GET_REASON(e)) : ERR_reason_error_string(e);
        size_t rl = r != NULL ? strlen(r) : 0;
        if (r == NULL || (last != NULL && strcmp(r, last) == 0) ||
            (rl > 4 && strcmp(r + rl - 4, " lib") == 0)) /* "system lib": no news */
            continue;
        if (n < cap)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "; " : "", r);
        last = r;
    }
    if (n == 0)
        snprintf(buf, cap, "unknown error");
}

/* tls_fail - a configuration error at the line of section.key, about file */
static int tls_fail(const struct conf *c, struct conf_errors *errs, unsigned line, const char *key,
                    const char *file, const char *what)
{
    char why[200];

    tls_ssl_errors(why, sizeof(why));
    conf_error_add(errs, c->file, line, "%s: cannot %s %s: %s", key, what, file, why);
    return -1;
}

/* tls_min_version - enum tls_version as OpenSSL's */
static int tls_min_version(unsigned v)
{
    static const int versions[] = {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION, TLS1_3_VERSION};

    return v < sizeof(versions) / sizeof(versions[0]) ? versions[v] : TLS1_2_VERSION;
}

/* tls_server_new - a server context with a certificate chain and its key */
static SSL_CTX *tls_server_new(const struct conf *c, struct conf_errors *errs, const char *sec,
                               const char *cert, const char *key, unsigned min)
{
    unsigned cline = conf_key_line(c, sec, "tls_cert_file");
    unsigned kline = key[0] ? conf_key_line(c, sec, "tls_key_file") : cline;
    const char *kfile = key[0] ? key : cert;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL) {
        tls_fail(c, errs, cline, "tls_cert_file", cert, "set up TLS for");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, tls_min_version(min));
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"dumpsterd", 9);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        tls_fail(c, errs, cline, "tls_cert_file", cert, "load the certificate from");
    else if (SSL_CTX_use_PrivateKey_file(ctx, kfile, SSL_FILETYPE_PEM) != 1)
        tls_fail(c, errs, kline, key[0] ? "tls_key_file" : "tls_cert_file", kfile,
                 key[0] ? "use the private key in" : "find the private key (no tls_key_file) in");
    else if (SSL_CTX_check_private_key(ctx) != 1)
        tls_fail(c, errs, kline, key[0] ? "tls_key_file" : "tls_cert_file", kfile,
                 "match the certificate with the key in");
    else
        return ctx;
    SSL_CTX_free(ctx);
    return NULL;
}

/* tls_smtpd_new - the [smtp] context, with its protocol and cipher keys */
static int tls_smtpd_new(struct tls *t, const struct conf *c, struct conf_errors *errs)
{
    if (c->smtp.tls == TLS_IN_NONE || c->smtp.tls_cert_file[0] == 0)
        return 0;
    t->smtpd = tls_server_new(c, errs, "smtp", c->smtp.tls_cert_file, c->smtp.tls_key_file,
                              c->smtp.tls_min_protocol);
    if (t->smtpd == NULL)
        return -1;
    if (c->smtp.tls_ciphers[0] && SSL_CTX_set_cipher_list(t->smtpd, c->smtp.tls_ciphers) != 1)
        return tls_fail(c, errs, conf_key_line(c, "smtp", "tls_ciphers"), "tls_ciphers",
                        c->smtp.tls_ciphers, "use the cipher list");
    return 0;
}

/* tls_same_files - two policies load the same files */
static bool tls_same_files(const struct conf_tls_out *a, const struct conf_tls_out *b)
{
    return strcmp(a->tls_ca_file, b->tls_ca_file) == 0 &&
           strcmp(a->tls_client_cert_file, b->tls_client_cert_file) == 0 &&
           strcmp(a->tls_client_key_file, b->tls_client_key_file) == 0;
}

/* tls_client_files - CA file (or the system's) and the client certificate */
static int tls_client_files(SSL_CTX *ctx, const struct conf *c, const struct conf_sg *sg,
                            const struct conf_tls_out *p, struct conf_errors *errs)
{
    const char *key = p->tls_client_key_file[0] ? p->tls_client_key_file : p->tls_client_cert_file;
    const char *kname = p->tls_client_key_file[0] ? "tls_client_key_file" : "tls_client_cert_file";
#define TLS_LINE(k) (sg ? conf_sg_key_line(c, sg, k) : conf_key_line(c, "delivery", k))

    if (p->tls_ca_file[0] && SSL_CTX_load_verify_locations(ctx, p->tls_ca_file, NULL) != 1)
        return tls_fail(c, errs, TLS_LINE("tls_ca_file"), "tls_ca_file", p->tls_ca_file,
                        "load the CA certificates from");
    if (p->tls_ca_file[0] == 0 && SSL_CTX_set_default_verify_paths(ctx) != 1)
        return tls_fail(c, errs, TLS_LINE("tls_ca_file"), "tls_ca_file", "(system default)",
                        "load the CA certificates from");
    if (p->tls_client_cert_file[0] == 0)
        return 0;
    if (SSL_CTX_use_certificate_chain_file(ctx, p->tls_client_cert_file) != 1)
        return tls_fail(c, errs, TLS_LINE("tls_client_cert_file"), "tls_client_cert_file",
                        p->tls_client_cert_file, "load the certificate from");
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        return tls_fail(c, errs, TLS_LINE(kname), kname, key, "use the private key in");
    if (SSL_CTX_check_private_key(ctx) != 1)
        return tls_fail(c, errs, TLS_LINE(kname), kname, key,
                        "match the certificate with the key in");
    return 0;
#undef TLS_LINE
}

/* tls_client_add - the context of policy p, shared with earlier ones */
static int tls_client_add(struct tls *t, const struct conf *c, const struct conf_sg *sg,
                          const struct conf_tls_out *p, struct conf_errors *errs)
{
    SSL_CTX *ctx;

    if (p->tls == TLS_OUT_NONE || tls_client_ctx(t, p) != NULL)
        return 0;
    if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
        return tls_fail(c, errs, 0, "tls", "outbound TLS", "set up");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
    tls_cache_setup(ctx);
    if (tls_client_files(ctx, c, sg, p, errs) < 0) {
        SSL_CTX_free(ctx);
        return -1;
    }
    t->clients[t->nclients].p = *p;
    t->clients[t->nclients++].ctx = ctx;
    return 0;
}

/* tls_clients_new - [delivery] (the smarthost) and every storage group */
static int tls_clients_new(struct tls *t, const struct conf *c, struct conf_errors *errs)
{
    int rc = 0;

    if ((t->clients = calloc(c->nsg + 1, sizeof(*t->clients))) == NULL) {
        conf_error_add(errs, c->file, 0, "out of memory");
        return -1;
    }
    rc |= tls_client_add(t, c, NULL, &c->delivery.tls, errs);
    for (size_t i = 0; i < c->nsg; i++)
        rc |= tls_client_add(t, c, &c->sg[i], &c->sg[i].tls, errs);
    return rc;
}

/* tls_new - every context, or none */
struct tls *tls_new(const struct conf *c, struct conf_errors *errs)
{
    struct tls *t = calloc(1, sizeof(*t));
    int rc = 0;

    if (t == NULL) {
        conf_error_add(errs, c->file, 0, "out of memory");
        return NULL;
    }
    rc |= tls_smtpd_new(t, c, errs);
    if (c->admin.tls_cert_file[0]) {
        t->admin = tls_server_new(c, errs, "admin", c->admin.tls_cert_file, c->admin.tls_key_file,
                                  TLS_V1_2);
        rc |= t->admin == NULL ? -1 : 0;
    }
    rc |= tls_clients_new(t, c, errs);
    return rc == 0 ? t : tls_free(t);
}

/* tls_free - the set; connections hold their own references */
struct tls *tls_free(struct tls *t)
{
    if (t == NULL)
        return NULL;
    SSL_CTX_free(t->smtpd);
    SSL_CTX_free(t->admin);
    for (size_t i = 0; i < t->nclients; i++)
        SSL_CTX_free(t->clients[i].ctx);
    free(t->clients);
    free(t);
    return NULL;
}

/* tls_smtpd_ctx - STARTTLS's server context, or NULL */
SSL_CTX *tls_smtpd_ctx(const struct tls *t)
{
    return t ? t->smtpd : NULL;
}

/* tls_admin_ctx - HTTPS's server context, or NULL */
SSL_CTX *tls_admin_ctx(const struct tls *t)
{
    return t ? t->admin : NULL;
}

/* tls_client_ctx - by the files of the policy (linear: few distinct ones) */
SSL_CTX *tls_client_ctx(const struct tls *t, const struct conf_tls_out *p)
{
    if (t == NULL || p->tls == TLS_OUT_NONE)
        return NULL;
    for (size_t i = 0; i < t->nclients; i++)
        if (tls_same_files(&t->clients[i].p, p))
            return t->clients[i].ctx;
    return NULL;
}

/* tls_check - -t: load everything once, then say what is unwise */
int tls_check(const struct conf *c, struct conf_errors *errs)
{
    struct tls *t = tls_new(c, errs);

    if (t == NULL)
        return -1;
    tls_free(t);
    tls_conf_warnings(c, stderr);
    return 0;
}
