/*
 * tlsload.h - what the parts of tlsload share (see tlsload.c)
 *
 * One connection (struct conn) and its blocking, bounded I/O in
 * tlsload.c; the sink in tlsload_sink.c, the source in tlsload_source.c.
 */
#ifndef TLSLOAD_H
#define TLSLOAD_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

/* Limits: each is enforced where the input is read or the option parsed. */
#define TL_LINE_MAX 1024          /* a command or reply line, CRLF included (RFC 5321: 512) */
#define TL_BUF_SIZE 65536         /* input buffered per connection */
#define TL_OUT_SIZE 8192          /* replies waiting for the next read */
#define TL_REPLY_LINES 64         /* lines of one multi-line reply */
#define TL_MSG_MAX (64L << 20)    /* message octets the sink takes; more: 552 */
#define TL_RCPT_MAX 1000          /* recipients per transaction; more: 452 */
#define TL_ERRORS_MAX 20          /* unknown commands before the sink says 421 */
#define TL_CONN_MAX 4096          /* sink connections at once; more: 421 */
#define TL_SESSIONS_MAX 4096      /* -s */
#define TL_COUNT_MAX 100000000L   /* -m */
#define TL_BYTES_MAX (64L << 20)  /* -l */
#define TL_ADDR_MAX 256           /* -f and -t */
#define TL_HDR_MAX 1024           /* the header of one generated message */
#define TL_IDLE_SECS 120          /* read and write timeout of every socket */
#define TL_STACK_SIZE (256 << 10) /* each connection's thread */
#define TL_BODY_LINE 80           /* generated body lines, CRLF included */

#define TL_HOST "sink.bench.test"
#define TL_HELO "tlsload.bench.test"

/* One connection: its socket, its TLS once started, its buffers. */
struct conn {
    int fd;
    SSL *ssl;        /* NULL before STARTTLS */
    size_t off, len; /* unread input is in[off..len) */
    size_t outlen;   /* replies in out[] not yet written */
    bool toolong;    /* the last conn_line() failed on a line over TL_LINE_MAX */
    char last[256];  /* the source: the last reply line, for errors */
    char in[TL_BUF_SIZE];
    char out[TL_OUT_SIZE];
};

/* What every thread of one run shares. */
struct tl {
    struct sockaddr_in addr;
    char addr_text[64];
    SSL_CTX *ctx;        /* sink: server context or NULL; source: client context or NULL (-P) */
    bool verify;         /* source -A */
    bool one;            /* source -1 */
    atomic_bool counter; /* sink -c; cleared when stdout breaks */
    const char *from, *to;
    const char *body; /* source: body lines and the final dot */
    size_t body_len;
    atomic_long left; /* source: messages not yet taken */
    atomic_long sess, quit, mesg, tls, resumed, plain, failed;
    atomic_int live; /* sink: connections now */
    pthread_mutex_t out_lock;
};

extern struct tl tl;

/* tlsload.c: startup errors (they exit), options, sockets */
__attribute__((noreturn)) void die(int code, const char *what, const char *detail);
__attribute__((noreturn)) void die_ssl(const char *what, const char *file);
long number(const char *s, long lo, long hi, const char *what);
void parse_addr(const char *text);
void sock_setup(int fd);

/* tlsload.c: one connection; the caller frees it with conn_free (which
 * closes the socket and returns NULL) */
struct conn *conn_new(int fd);
struct conn *conn_free(struct conn *c);
int conn_write(struct conn *c, const char *p, size_t n);
int conn_flush(struct conn *c);
int conn_put(struct conn *c, const char *s);
int conn_fill(struct conn *c);
char *conn_line(struct conn *c);

/* tlsload_sink.c, tlsload_source.c: the two modes; the exit status */
int sink_main(int argc, char **argv);
int source_main(int argc, char **argv);

#endif
