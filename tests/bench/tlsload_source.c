/*
 * tlsload_source.c - tlsload source: SESSIONS threads share COUNT messages
 *
 * Each session: connect, greeting, EHLO, STARTTLS (unless -P), the handshake
 * with no session cache (a full one each time), EHLO, then one command at a
 * time as smtp-source sends them. The message is built once per thread: the
 * body and its dot after TL_HDR_MAX octets of room, the header of each
 * message written just before it, so a message goes out in one write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "tlsload.h"

/* source_fail - a session's failure, said once per session */
static int source_fail(struct conn *c, const char *step)
{
    fprintf(stderr, "tlsload: %s: %s: %.200s\n", tl.addr_text, step,
            c->last[0] ? c->last : "connection lost");
    atomic_fetch_add(&tl.failed, 1);
    return -1;
}

/* source_reply - reads one whole reply; its code, or -1. *tls: STARTTLS was offered */
static int source_reply(struct conn *c, bool *tls)
{
    for (int i = 0; i < TL_REPLY_LINES; i++) {
        const char *line = conn_line(c);
        if (line == NULL)
            return -1;
        snprintf(c->last, sizeof(c->last), "%s", line);
        if (strlen(line) < 3 || line[0] < '1' || line[0] > '5')
            return -1;
        if (tls != NULL && strlen(line) >= 12 && strncasecmp(line + 4, "STARTTLS", 8) == 0)
            *tls = true;
        if (line[3] != '-')
            return atoi(line);
    }
    snprintf(c->last, sizeof(c->last), "reply of over %d lines", TL_REPLY_LINES);
    return -1;
}

/* source_cmd - one command and its reply, which must be in want's class */
static int source_cmd(struct conn *c, const char *cmd, int want, bool *tls)
{
    c->last[0] = 0;
    if (conn_write(c, cmd, strlen(cmd)) < 0)
        return -1;
    int code = source_reply(c, tls);
    return code / 100 == want / 100 ? 0 : -1;
}

/* source_tls - STARTTLS and the handshake; nothing may follow the 220 in clear */
static int source_tls(struct conn *c)
{
    if (source_cmd(c, "STARTTLS\r\n", 220, NULL) < 0 || c->off != c->len)
        return source_fail(c, "STARTTLS");
    if ((c->ssl = SSL_new(tl.ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return source_fail(c, "SSL_new");
    if (tl.verify)
        X509_VERIFY_PARAM_set1_ip(SSL_get0_param(c->ssl), (unsigned char *)&tl.addr.sin_addr,
                                  sizeof(tl.addr.sin_addr));
    if (SSL_connect(c->ssl) != 1) {
        long v = SSL_get_verify_result(c->ssl);
        snprintf(c->last, sizeof(c->last), "handshake: %s",
                 v != X509_V_OK ? X509_verify_cert_error_string(v) : "failed");
        return source_fail(c, "TLS");
    }
    atomic_fetch_add(&tl.tls, 1);
    if (SSL_session_reused(c->ssl) == 1)
        atomic_fetch_add(&tl.resumed, 1);
    return 0;
}

/* source_hello - greeting, EHLO, and with TLS: STARTTLS and EHLO again */
static int source_hello(struct conn *c)
{
    bool offered = false;

    if (source_reply(c, NULL) != 220)
        return source_fail(c, "greeting");
    if (source_cmd(c, "EHLO " TL_HELO "\r\n", 250, &offered) < 0)
        return source_fail(c, "EHLO");
    if (tl.ctx == NULL)
        return 0;
    if (!offered) {
        snprintf(c->last, sizeof(c->last), "STARTTLS not offered");
        return source_fail(c, "EHLO");
    }
    if (source_tls(c) < 0)
        return -1;
    if (source_cmd(c, "EHLO " TL_HELO "\r\n", 250, NULL) < 0)
        return source_fail(c, "EHLO after STARTTLS");
    return 0;
}

/* source_message - one transaction; msg has TL_HDR_MAX octets of room before the body */
static int source_message(struct conn *c, char *msg, long seq)
{
    char cmd[TL_ADDR_MAX + 32], hdr[TL_HDR_MAX], date[64];
    time_t now = time(NULL);
    struct tm tm;

    snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>\r\n", tl.from);
    if (source_cmd(c, cmd, 250, NULL) < 0)
        return source_fail(c, "MAIL FROM");
    snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>\r\n", tl.to);
    if (source_cmd(c, cmd, 250, NULL) < 0)
        return source_fail(c, "RCPT TO");
    if (source_cmd(c, "DATA\r\n", 354, NULL) < 0)
        return source_fail(c, "DATA");
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", gmtime_r(&now, &tm));
    int n = snprintf(hdr, sizeof(hdr),
                     "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\nMessage-Id: <%ld.%ld@" TL_HELO
                     ">\r\nSubject: tlsload %ld\r\n\r\n",
                     tl.from, tl.to, date, seq, (long)now, seq);
    char *start = msg + TL_HDR_MAX - n;
    memcpy(start, hdr, (size_t)n);
    if (conn_write(c, start, (size_t)n + tl.body_len) < 0 || source_reply(c, NULL) / 100 != 2)
        return source_fail(c, "end of data");
    atomic_fetch_add(&tl.mesg, 1);
    return 0;
}

/* source_take - a message to send, or false when all are taken */
static bool source_take(long *seq)
{
    long left = atomic_fetch_sub(&tl.left, 1);

    *seq = left;
    return left > 0;
}

/* source_session - one connection: its first message, then more unless -1, QUIT */
static int source_session(char *msg)
{
    long seq;
    int fd;

    if (!source_take(&seq))
        return 1;
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        die(EX_OSERR, "socket", strerror(errno));
    sock_setup(fd);
    struct conn *c = conn_new(fd);
    if (c == NULL)
        die(EX_OSERR, "out of memory", NULL);
    atomic_fetch_add(&tl.sess, 1);
    int rc;
    if (connect(fd, (struct sockaddr *)&tl.addr, sizeof(tl.addr)) == 0) {
        rc = source_hello(c);
    } else {
        snprintf(c->last, sizeof(c->last), "%s", strerror(errno));
        rc = source_fail(c, "connect");
    }
    while (rc == 0) {
        if ((rc = source_message(c, msg, seq)) < 0 || tl.one || atomic_load(&tl.failed) != 0 ||
            !source_take(&seq))
            break;
    }
    if (rc == 0 && source_cmd(c, "QUIT\r\n", 221, NULL) < 0)
        rc = source_fail(c, "QUIT");
    conn_free(c);
    return rc;
}

/* source_thread - sessions one after the other until no message is left */
static void *source_thread(void *arg)
{
    char *msg = malloc(TL_HDR_MAX + tl.body_len);

    (void)arg;
    if (msg == NULL)
        die(EX_OSERR, "out of memory", NULL);
    memcpy(msg + TL_HDR_MAX, tl.body, tl.body_len);
    while (atomic_load(&tl.failed) == 0 && source_session(msg) == 0)
        ;
    free(msg);
    return NULL;
}

/* source_body - BYTES octets of body (at least 2) in lines of TL_BODY_LINE, then the dot */
static void source_body(long bytes)
{
    char *b;
    long i = 0;

    if (bytes == 1)
        bytes = 2; /* a body line needs its CRLF */
    if ((b = malloc((size_t)bytes + 3)) == NULL)
        die(EX_OSERR, "out of memory", NULL);
    while (i < bytes) {
        long n = bytes - i < TL_BODY_LINE ? bytes - i : TL_BODY_LINE;
        if (bytes - i - n == 1)
            n++; /* no line of one octet at the end: the one before takes it */
        memset(b + i, 'x', (size_t)n);
        b[i] = (char)('0' + (i / TL_BODY_LINE) % 10); /* never a dot */
        memcpy(b + i + n - 2, "\r\n", 2);
        i += n;
    }
    memcpy(b + bytes, ".\r\n", 3);
    tl.body = b;
    tl.body_len = (size_t)bytes + 3;
}

/* source_ctx - the client context: no session cache, -A's CAs if given */
static SSL_CTX *source_ctx(const char *cafile)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    if (ctx == NULL)
        die_ssl("SSL_CTX_new", "");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (cafile != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1)
            die_ssl("CA file", cafile);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        tl.verify = true;
    }
    return ctx;
}

/* source_run - the threads, their time and the summary line; the exit status */
static int source_run(long sessions)
{
    pthread_t *th = calloc((size_t)sessions, sizeof(*th));
    struct timespec t0, t1;
    long started = 0;

    if (th == NULL)
        die(EX_OSERR, "out of memory", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (; started < sessions; started++)
        if (pthread_create(&th[started], NULL, source_thread, NULL) != 0)
            break;
    if (started == 0)
        die(EX_OSERR, "pthread_create", strerror(errno));
    for (long i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    free(th);
    printf("messages=%ld sessions=%ld tls=%ld resumed=%ld seconds=%.3f\n", atomic_load(&tl.mesg),
           atomic_load(&tl.sess), atomic_load(&tl.tls), atomic_load(&tl.resumed),
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    return atomic_load(&tl.failed) == 0 ? 0 : 1;
}

/* source_main - tlsload source [-1] [-P] [-A CAFILE] [-s N] [-m N] [-l N] [-f A] [-t A] ADDR */
int source_main(int argc, char **argv)
{
    long sessions = 1, count = 1, bytes = 1024;
    const char *cafile = NULL;
    bool plain = false;
    int ch;

    tl.from = "from@example.net";
    tl.to = "rcpt@example.test";
    while ((ch = getopt(argc, argv, "1PA:s:m:l:f:t:")) != -1) {
        switch (ch) {
        case '1':
            tl.one = true;
            break;
        case 'P':
            plain = true;
            break;
        case 'A':
            cafile = optarg;
            break;
        case 's':
            sessions = number(optarg, 1, TL_SESSIONS_MAX, "-s");
            break;
        case 'm':
            count = number(optarg, 1, TL_COUNT_MAX, "-m");
            break;
        case 'l':
            bytes = number(optarg, 0, TL_BYTES_MAX, "-l");
            break;
        case 'f':
        case 't':
            if (strlen(optarg) >= TL_ADDR_MAX || strpbrk(optarg, "<>\r\n") != NULL)
                die(EX_USAGE, "bad address", optarg);
            *(ch == 'f' ? &tl.from : &tl.to) = optarg;
            break;
        default:
            die(EX_USAGE,
                "usage: tlsload source [-1] [-P] [-A CAFILE] [-s SESSIONS] [-m COUNT] "
                "[-l BYTES] [-f FROM] [-t TO] 127.0.0.1:PORT",
                NULL);
        }
    }
    if (optind != argc - 1)
        die(EX_USAGE, "source: one 127.0.0.1:PORT", NULL);
    parse_addr(argv[optind]);
    tl.ctx = plain ? NULL : source_ctx(cafile);
    source_body(bytes);
    atomic_store(&tl.left, count);
    return source_run(sessions < count ? sessions : count);
}
