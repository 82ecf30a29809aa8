/*
 * tlsload_sink.c - tlsload sink: accept every message, count them and the handshakes
 *
 * A thread per connection (at most TL_CONN_MAX; more get 421), replies
 * written together when the input runs dry (PIPELINING), STARTTLS before TLS
 * only and with a certificate; what was pipelined behind STARTTLS is dropped.
 * The content is scanned for the lone dot, never kept. The counter line (-c)
 * is written in the order the messages were counted.
 */
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "tlsload.h"

/* sink_count - the counter line after a message, in the order counted */
static void sink_count(void)
{
    char line[160];
    int n;

    if (!atomic_load(&tl.counter))
        return;
    pthread_mutex_lock(&tl.out_lock);
    n = snprintf(line, sizeof(line), "sess=%ld quit=%ld mesg=%ld tls=%ld resumed=%ld plain=%ld\n",
                 atomic_load(&tl.sess), atomic_load(&tl.quit), atomic_load(&tl.mesg),
                 atomic_load(&tl.tls), atomic_load(&tl.resumed), atomic_load(&tl.plain));
    if (write(STDOUT_FILENO, line, (size_t)n) < 0)
        atomic_store(&tl.counter, false); /* nobody reads: stop counting aloud */
    pthread_mutex_unlock(&tl.out_lock);
}

/* sink_ehlo - the extensions; STARTTLS only before TLS and with a certificate */
static int sink_ehlo(struct conn *c)
{
    conn_put(c, "250-" TL_HOST "\r\n250-PIPELINING\r\n250-SIZE 67108864\r\n250-8BITMIME\r\n");
    if (tl.ctx != NULL && c->ssl == NULL)
        conn_put(c, "250-STARTTLS\r\n");
    return conn_put(c, "250 ENHANCEDSTATUSCODES\r\n");
}

/* sink_starttls - 220, drop what was pipelined behind, then the handshake */
static int sink_starttls(struct conn *c)
{
    if (tl.ctx == NULL || c->ssl != NULL)
        return conn_put(c, "454 4.7.0 TLS not available\r\n");
    if (conn_put(c, "220 2.0.0 Ready to start TLS\r\n") < 0 || conn_flush(c) < 0)
        return -1;
    c->off = c->len = 0; /* RFC 3207: nothing said before the handshake counts */
    if ((c->ssl = SSL_new(tl.ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1 ||
        SSL_accept(c->ssl) != 1)
        return -1;
    atomic_fetch_add(&tl.tls, 1);
    if (SSL_session_reused(c->ssl) == 1)
        atomic_fetch_add(&tl.resumed, 1);
    return 0;
}

enum { D_BOL, D_MID, D_DOT, D_DOTCR, D_END };

/* sink_scan - moves the data state over p[0..n); the octets taken (to D_END or all) */
static size_t sink_scan(int *st, const char *p, size_t n)
{
    size_t i = 0;

    while (i < n && *st != D_END) {
        if (*st == D_MID) {
            const char *nl = memchr(p + i, '\n', n - i);
            if (nl == NULL)
                return n;
            i = (size_t)(nl - p) + 1;
            *st = D_BOL;
            continue;
        }
        char ch = p[i++];
        if (*st == D_BOL)
            *st = ch == '.' ? D_DOT : ch == '\n' ? D_BOL : D_MID;
        else if (*st == D_DOT)
            *st = ch == '\r' ? D_DOTCR : ch == '\n' ? D_END : D_MID;
        else
            *st = ch == '\n' ? D_END : D_MID;
    }
    return i;
}

/* sink_data - the content up to the lone dot, thrown away; its size, -1 on a break */
static long sink_data(struct conn *c)
{
    int st = D_BOL;
    long size = 0;

    while (st != D_END) {
        if (c->off == c->len && conn_fill(c) < 0)
            return -1;
        size_t n = sink_scan(&st, c->in + c->off, c->len - c->off);
        c->off += n;
        size += (long)n;
    }
    return size;
}

/* sink_dot - the reply to a message and the counter line */
static int sink_dot(struct conn *c)
{
    char reply[80];
    long size = sink_data(c);

    if (size < 0)
        return -1;
    if (size > TL_MSG_MAX)
        return conn_put(c, "552 5.3.4 Message too big\r\n");
    long n = atomic_fetch_add(&tl.mesg, 1) + 1;
    if (c->ssl == NULL)
        atomic_fetch_add(&tl.plain, 1);
    snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %ld\r\n", n);
    int rc = conn_put(c, reply);
    sink_count();
    return rc;
}

/* verb_is - the line starts with the command word v (case-insensitive) */
static bool verb_is(const char *line, const char *v)
{
    size_t n = strlen(v);

    return strncasecmp(line, v, n) == 0 && (line[n] == 0 || line[n] == ' ');
}

/* One transaction of the sink. */
struct txn {
    bool mail;
    int rcpts, errors;
};

/* sink_command - answers one line; 1: the session is over, -1: it broke */
static int sink_command(struct conn *c, struct txn *t, const char *line)
{
    if (verb_is(line, "EHLO"))
        return sink_ehlo(c);
    if (verb_is(line, "HELO"))
        return conn_put(c, "250 " TL_HOST "\r\n");
    if (verb_is(line, "STARTTLS")) {
        *t = (struct txn){0};
        return sink_starttls(c);
    }
    if (verb_is(line, "MAIL")) {
        if (t->mail)
            return conn_put(c, "503 5.5.1 Error: nested MAIL command\r\n");
        t->mail = true;
        t->rcpts = 0;
        return conn_put(c, "250 2.1.0 Ok\r\n");
    }
    if (verb_is(line, "RCPT")) {
        if (!t->mail)
            return conn_put(c, "503 5.5.1 Error: need MAIL command\r\n");
        if (t->rcpts >= TL_RCPT_MAX)
            return conn_put(c, "452 4.5.3 Error: too many recipients\r\n");
        t->rcpts++;
        return conn_put(c, "250 2.1.5 Ok\r\n");
    }
    if (verb_is(line, "DATA")) {
        if (t->rcpts == 0)
            return conn_put(c, "503 5.5.1 Error: need RCPT command\r\n");
        t->mail = false;
        t->rcpts = 0;
        if (conn_put(c, "354 End data with <CR><LF>.<CR><LF>\r\n") < 0)
            return -1;
        return sink_dot(c);
    }
    if (verb_is(line, "RSET")) {
        t->mail = false;
        t->rcpts = 0;
        return conn_put(c, "250 2.0.0 Ok\r\n");
    }
    if (verb_is(line, "NOOP"))
        return conn_put(c, "250 2.0.0 Ok\r\n");
    if (verb_is(line, "QUIT")) {
        atomic_fetch_add(&tl.quit, 1);
        conn_put(c, "221 2.0.0 Bye\r\n");
        return 1;
    }
    if (++t->errors > TL_ERRORS_MAX) {
        conn_put(c, "421 4.7.0 Error: too many errors\r\n");
        return 1;
    }
    return conn_put(c, "502 5.5.2 Error: command not recognized\r\n");
}

/* sink_session - one connection, greeting to QUIT or EOF */
static void sink_session(struct conn *c)
{
    struct txn t = {0};
    const char *line;
    int rc = conn_put(c, "220 " TL_HOST " ESMTP tlsload\r\n");

    while (rc == 0 && (line = conn_line(c)) != NULL)
        rc = sink_command(c, &t, line);
    if (rc == 0 && c->toolong)
        conn_put(c, "500 5.5.0 Error: line too long\r\n");
    conn_flush(c);
}

/* sink_thread - a connection's thread; it frees the connection */
static void *sink_thread(void *arg)
{
    struct conn *c = arg;

    sink_session(c);
    conn_free(c);
    atomic_fetch_sub(&tl.live, 1);
    return NULL;
}

/* sink_accept - one accepted socket gets a thread, or 421 past TL_CONN_MAX */
static void sink_accept(int fd, const pthread_attr_t *attr)
{
    static const char busy[] = "421 4.7.0 " TL_HOST " too many connections\r\n";
    struct conn *c = NULL;
    pthread_t th;

    atomic_fetch_add(&tl.sess, 1);
    sock_setup(fd);
    if (atomic_fetch_add(&tl.live, 1) >= TL_CONN_MAX || (c = conn_new(fd)) == NULL) {
        (void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL); /* said or not, it closes */
        close(fd);
        atomic_fetch_sub(&tl.live, 1);
        return;
    }
    if (pthread_create(&th, attr, sink_thread, c) != 0) {
        conn_free(c);
        atomic_fetch_sub(&tl.live, 1);
    }
}

/* sink_ctx - the server context of -C and -K */
static SSL_CTX *sink_ctx(const char *cert, const char *key)
{
    static const unsigned char sid[] = "tlsload";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

    if (ctx == NULL)
        die_ssl("SSL_CTX_new", "");
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_id_context(ctx, sid, sizeof(sid) - 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
        die_ssl("certificate", cert);
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1)
        die_ssl("key", key);
    if (SSL_CTX_check_private_key(ctx) != 1)
        die_ssl("key does not match", cert);
    return ctx;
}

/* drop_to - run as user from now on */
static void drop_to(const char *user)
{
    struct passwd *pw = getpwnam(user);

    if (pw == NULL)
        die(EX_NOUSER, "no such user", user);
    if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
        die(EX_OSERR, "cannot become", user);
}

/* sink_listen - the listening socket on tl.addr */
static int sink_listen(void)
{
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        die(EX_OSERR, "socket", strerror(errno));
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&tl.addr, sizeof(tl.addr)) != 0 || listen(fd, 1024) != 0)
        die(EX_OSERR, tl.addr_text, strerror(errno));
    return fd;
}

/* sink_main - tlsload sink [-C CERT [-K KEY]] [-u USER] [-c] ADDR */
int sink_main(int argc, char **argv)
{
    const char *cert = NULL, *key = NULL, *user = NULL;
    pthread_attr_t attr;
    int ch;

    while ((ch = getopt(argc, argv, "C:K:u:c")) != -1) {
        switch (ch) {
        case 'C':
            cert = optarg;
            break;
        case 'K':
            key = optarg;
            break;
        case 'u':
            user = optarg;
            break;
        case 'c':
            atomic_store(&tl.counter, true);
            break;
        default:
            die(EX_USAGE, "usage: tlsload sink [-C CERT [-K KEY]] [-u USER] [-c] 127.0.0.1:PORT",
                NULL);
        }
    }
    if (optind != argc - 1)
        die(EX_USAGE, "sink: one 127.0.0.1:PORT", NULL);
    parse_addr(argv[optind]);
    if (key != NULL && cert == NULL)
        die(EX_USAGE, "-K needs -C", NULL);
    tl.ctx = cert != NULL ? sink_ctx(cert, key != NULL ? key : cert) : NULL;
    int lfd = sink_listen();
    if (user != NULL && geteuid() == 0)
        drop_to(user);
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, TL_STACK_SIZE);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0)
            sink_accept(fd, &attr);
        else if (errno == EMFILE || errno == ENFILE || errno == ENOMEM)
            usleep(10000); /* out of descriptors: let sessions end */
    }
}
