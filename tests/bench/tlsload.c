/*
 * tlsload.c - an SMTP load generator and sink that speak STARTTLS (benchmark only)
 *
 * Postfix's smtp-source and smtp-sink, the load and the peer of the plain
 * benchmark, speak no TLS. tlsload plays both parts of the TLS benchmark
 * (tests/bench/run.py --tls), on 127.0.0.0/8 only:
 *
 *   tlsload source [-1] [-P] [-A CAFILE] [-s SESSIONS] [-m COUNT] [-l BYTES]
 *                  [-f FROM] [-t TO] 127.0.0.1:PORT
 *   tlsload sink [-C CERT [-K KEY]] [-u USER] [-c] 127.0.0.1:PORT
 *
 * source: SESSIONS threads share COUNT messages. Each connects, reads the
 * greeting, sends EHLO, STARTTLS and EHLO again inside TLS, then MAIL, RCPT,
 * DATA and the message (five header lines, then BYTES octets of body in
 * lines of 80) one command at a time as smtp-source does (no pipelining),
 * while messages are left, then QUIT. -1: a new connection, so a new
 * handshake, for every message, as smtp-source does without -d. -P: no
 * STARTTLS. -A: the server's certificate must chain to CAFILE and carry the
 * IP connected to. There is no client session cache: every handshake is a
 * full one. At the end it prints
 *   messages=N sessions=N tls=N resumed=N seconds=S
 * and any failure is printed and makes the exit status 1.
 *
 * sink: a thread per connection (at most TL_CONN_MAX), PIPELINING, STARTTLS
 * offered before TLS when CERT is given, every message accepted and thrown
 * away. Bytes pipelined behind STARTTLS are dropped (RFC 3207). With -c it
 * writes after every message, as smtp-sink -c does with its first three:
 *   sess=N quit=N mesg=N tls=N resumed=N plain=N
 * connections, QUITs, messages, handshakes done, those of them that resumed
 * a session (SSL_session_reused) and messages that came in clear. -u: run
 * as USER once the port is bound and the key is read.
 *
 * This file: options, the address, main and the bounded I/O of a connection;
 * the sink is tlsload_sink.c, the source tlsload_source.c (tlsload.h).
 * Blocking sockets with timeouts and a thread per connection keep it short;
 * both cores serve it, so it is not the bottleneck of a relay under test
 * (run.py ceiling measures it against itself).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/err.h>

#include "tlsload.h"

struct tl tl;

/* die - a startup error: print and exit with a sysexits code */
void die(int code, const char *what, const char *detail)
{
    fprintf(stderr, "tlsload: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(code);
}

/* die_ssl - a startup error with OpenSSL's reason */
void die_ssl(const char *what, const char *file)
{
    char why[256];

    ERR_error_string_n(ERR_get_error(), why, sizeof(why));
    fprintf(stderr, "tlsload: %s %s: %s\n", what, file, why);
    exit(EX_CONFIG);
}

/* number - a decimal option in [lo, hi] */
long number(const char *s, long lo, long hi, const char *what)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != 0 || v < lo || v > hi)
        die(EX_USAGE, "bad number for", what);
    return v;
}

/* parse_addr - "127.x.y.z:PORT" into tl.addr; anything off loopback is refused */
void parse_addr(const char *text)
{
    char host[INET_ADDRSTRLEN];
    const char *colon = strrchr(text, ':');
    size_t n = colon ? (size_t)(colon - text) : 0;

    if (colon == NULL || n == 0 || n >= sizeof(host))
        die(EX_USAGE, "want 127.0.0.1:PORT, not", text);
    memcpy(host, text, n);
    host[n] = 0;
    memset(&tl.addr, 0, sizeof(tl.addr));
    tl.addr.sin_family = AF_INET;
    tl.addr.sin_port = htons((uint16_t)number(colon + 1, 1, 65535, "PORT"));
    if (inet_pton(AF_INET, host, &tl.addr.sin_addr) != 1)
        die(EX_USAGE, "want an IPv4 address, not", host);
    if ((ntohl(tl.addr.sin_addr.s_addr) >> 24) != 127)
        die(EX_USAGE, "loopback only (127.0.0.0/8), not", host);
    snprintf(tl.addr_text, sizeof(tl.addr_text), "%s:%u", host, ntohs(tl.addr.sin_port));
}

/* sock_setup - timeouts on both directions, no Nagle delay */
void sock_setup(int fd)
{
    struct timeval tv = {.tv_sec = TL_IDLE_SECS};
    int one = 1;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* ---------------------------------------------------------------- connection I/O */

/* conn_new - a connection over fd, or NULL; the caller frees it with conn_free */
struct conn *conn_new(int fd)
{
    struct conn *c = malloc(sizeof(*c));

    if (c == NULL)
        return NULL;
    c->fd = fd;
    c->ssl = NULL;
    c->off = c->len = c->outlen = 0;
    c->toolong = false;
    c->last[0] = 0;
    return c;
}

/* conn_free - TLS said goodbye, the socket closed; returns NULL */
struct conn *conn_free(struct conn *c)
{
    if (c->ssl != NULL) {
        if (SSL_is_init_finished(c->ssl))
            SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
    }
    close(c->fd);
    free(c);
    return NULL;
}

/* conn_write - all of p now, through TLS once it is on; -1 on error */
int conn_write(struct conn *c, const char *p, size_t n)
{
    if (c->ssl != NULL)
        return n == 0 || SSL_write(c->ssl, p, (int)n) == (int)n ? 0 : -1;
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* conn_flush - the replies waiting in out[] */
int conn_flush(struct conn *c)
{
    int rc = conn_write(c, c->out, c->outlen);

    c->outlen = 0;
    return rc;
}

/* conn_put - a reply kept until the next read, so pipelined replies share a write */
int conn_put(struct conn *c, const char *s)
{
    size_t n = strlen(s);

    if (c->outlen + n > sizeof(c->out) && conn_flush(c) < 0)
        return -1;
    if (n > sizeof(c->out))
        return conn_write(c, s, n);
    memcpy(c->out + c->outlen, s, n);
    c->outlen += n;
    return 0;
}

/* conn_fill - flush, then read more input after what is left; -1 on EOF or error */
int conn_fill(struct conn *c)
{
    ssize_t n;

    if (conn_flush(c) < 0)
        return -1;
    if (c->off > 0) {
        memmove(c->in, c->in + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == sizeof(c->in))
        return -1;
    if (c->ssl != NULL) {
        int r = SSL_read(c->ssl, c->in + c->len, (int)(sizeof(c->in) - c->len));
        n = r > 0 ? r : -1;
    } else {
        do
            n = recv(c->fd, c->in + c->len, sizeof(c->in) - c->len, 0);
        while (n < 0 && errno == EINTR);
    }
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

/* conn_line - the next line without its CRLF, NUL-terminated in the buffer;
 * NULL on EOF, error or a line over TL_LINE_MAX (then c->toolong) */
char *conn_line(struct conn *c)
{
    for (;;) {
        char *s = c->in + c->off;
        size_t avail = c->len - c->off;
        char *nl = memchr(s, '\n', avail < TL_LINE_MAX ? avail : TL_LINE_MAX);
        if (nl != NULL) {
            size_t n = (size_t)(nl - s);
            c->off += n + 1;
            if (n > 0 && s[n - 1] == '\r')
                n--;
            s[n] = 0;
            return s;
        }
        if (avail >= TL_LINE_MAX) {
            c->toolong = true;
            return NULL;
        }
        if (conn_fill(c) < 0)
            return NULL;
    }
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&tl.out_lock, NULL);
    if (argc >= 2 && strcmp(argv[1], "source") == 0)
        return source_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "sink") == 0)
        return sink_main(argc - 1, argv + 1);
    die(EX_USAGE, "usage: tlsload source|sink [options] 127.0.0.1:PORT (tlsload source -h)", NULL);
    return EX_USAGE;
}
