/*
 * mta_client.h - one outbound SMTP or LMTP connection on libevent
 *
 * The delivery scheduler owns a pool of these per destination. A client
 * connects to one address (IPv4, IPv6 or a unix socket), reads the greeting,
 * says EHLO (LHLO for LMTP; HELO when EHLO is refused), and then carries one
 * transaction at a time: MAIL, RCPT..., DATA (pipelined when the server
 * offered PIPELINING), the content dot-stuffed with CRLF line ends, and the
 * final "." . SMTP gives one reply for the whole message; LMTP one per
 * accepted recipient. Between transactions the connection is kept and reset
 * with RSET, so one connection carries many messages.
 *
 * Every wait has a timeout (connect, each reply); a reply that breaks the
 * grammar or its bounds (smtpd_reply.h) ends the connection. The client never
 * blocks and never resolves names: the caller gives it an address.
 *
 * TLS (RFC 3207, mta_tls.c): after the EHLO (LHLO) reply the client starts
 * TLS as the level says (tls_policy.h), checks the peer's certificate,
 * logs Postfix's "Verified/Trusted/Untrusted TLS connection established
 * to ..." line and says EHLO again before it is ready. When TLS is
 * required and cannot be had, the connection closes before ready() with a
 * reason in closed(); mta_client_tls() tells what happened. A unix socket
 * never uses TLS.
 */
#ifndef DD_SMTP_CLIENT_H
#define DD_SMTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "tls_policy.h"

struct event_base;
struct evbuffer;
struct ssl_ctx_st;
struct tls_cache;
struct mta_client; /* opaque; owned by whoever called mta_client_connect() */

enum mta_client_proto { MTA_CLIENT_SMTP, MTA_CLIENT_LMTP };

/* What a server said, or what went wrong before it said anything. */
struct mta_client_reply {
    int code;       /* 200..599; 0: no reply (connection failed, timeout, bad reply) */
    char enh[16];   /* enhanced status code "x.y.z" when the reply had one, else "" */
    char text[512]; /* the reply's last line (or a description when code is 0), no CRLF */
};

/* What the message's client declared in its MAIL FROM (RFC 6152). */
enum mta_client_body {
    MTA_CLIENT_BODY_NONE,     /* no BODY= */
    MTA_CLIENT_BODY_7BIT,     /* BODY=7BIT */
    MTA_CLIENT_BODY_8BITMIME, /* BODY=8BITMIME */
};

/* One transaction. The client reads, never keeps, these after done(). */
struct mta_client_job {
    const char *sender;       /* "" for the null sender <> */
    const char *const *rcpts; /* addresses without angle brackets */
    size_t nrcpts;
    /* The content with CRLF line ends, not dot-stuffed (the client stuffs it).
     * The client drains it. */
    struct evbuffer *content;
    size_t size; /* octets of content, for SIZE= when the server offered SIZE */
    /* Passed on in MAIL FROM when the server offers 8BITMIME; without it an
     * 8BITMIME body goes as it is, with a warning (as Postfix does). */
    enum mta_client_body body;
    /* The message came with SMTPUTF8: passed on when offered. It needs a
     * server that offers SMTPUTF8 when its envelope or, with utf8_headers,
     * its header section is not ASCII (mta_client_job_refused). */
    bool smtputf8, utf8_headers;
    const char *queue_id; /* for log lines; NULL: none */
};

/* Per-recipient outcome of a job: rcpt[i] is the reply that decided
 * recipient i (its RCPT reply when that was not 2xx, else the reply to
 * the end of data: the one reply in SMTP, its own reply in LMTP, or the
 * MAIL/DATA reply when that failed). code 0 = the connection failed before
 * the recipient's fate was known, or the server's replies came out of step
 * (enh "4.5.0"; the client then trusts no reply of the transaction but the
 * end-of-data ones it had, and closes). */
struct mta_client_result {
    struct mta_client_reply *rcpt; /* nrcpts entries; valid during the callback */
    size_t nrcpts;
};

/*
 * Callbacks, all on the loop thread:
 * ready(ctx, c)      connected, greeted and EHLO/LHLO accepted: idle, send a job
 * done(ctx, c, r)    the job ended; c is idle again if mta_client_usable(c)
 * closed(ctx, c, why) the connection is gone (failed to connect, dropped,
 *                    timed out, QUIT done); why.code 0 or the server's reply
 *                    (e.g. 421 or a 554 greeting). A job in progress gets
 *                    done() first with every open recipient at code 0.
 *                    After closed() the caller must mta_client_free(c).
 */
struct mta_client_cb {
    void (*ready)(void *ctx, struct mta_client *c);
    void (*done)(void *ctx, struct mta_client *c, const struct mta_client_result *r);
    void (*closed)(void *ctx, struct mta_client *c, const struct mta_client_reply *why);
    void *ctx;
};

/* TLS of one connection. */
struct mta_client_tls {
    enum tls_out_level level; /* TLS_OUT_NONE: never */
    struct ssl_ctx_st *ctx;   /* the client context (tls.h); NULL: TLS cannot be had */
    const char *verify_name;  /* the name the certificate must carry (host or IP) */
    struct tls_cache *cache;  /* sessions to resume; NULL: none (must outlive the client) */
};

struct mta_client_cfg {
    enum mta_client_proto proto;
    const struct sockaddr *addr; /* IPv4/IPv6 with port, or AF_UNIX */
    socklen_t addrlen;
    const char *helo_name;    /* our hostname, for EHLO/LHLO/HELO */
    unsigned connect_timeout; /* seconds: TCP connect and the greeting; the TLS handshake */
    unsigned reply_timeout;   /* seconds: each later reply (end of data: 10 min max) */
    const char *peer_name;    /* for logs: "127.0.0.1[127.0.0.1]:2424" */
    struct mta_client_tls tls;
};

/* What became of TLS on a connection. */
enum mta_client_tls_result {
    MTA_CLIENT_TLS_NONE,         /* not tried: level none, a unix socket, not yet */
    MTA_CLIENT_TLS_PLAIN,        /* may: not offered or refused, plaintext */
    MTA_CLIENT_TLS_OK,           /* established */
    MTA_CLIENT_TLS_NOT_OFFERED,  /* required, STARTTLS not offered: closed */
    MTA_CLIENT_TLS_REFUSED,      /* required, STARTTLS refused: closed */
    MTA_CLIENT_TLS_HANDSHAKE,    /* the handshake failed or timed out: closed */
    MTA_CLIENT_TLS_NOT_VERIFIED, /* verify: the certificate did not verify: closed */
};

struct mta_client_tls_info {
    enum mta_client_tls_result result;
    enum tls_version version; /* OK: the protocol */
    enum tls_trust trust;     /* OK, NOT_VERIFIED: what the certificate proved */
    bool resumed;             /* OK: an earlier session was resumed */
};

/* mta_client_connect - start connecting; NULL only when out of memory or
 * when the socket cannot be created (errno set). Every outcome after that
 * comes through the callbacks. The cfg strings are copied. */
struct mta_client *mta_client_connect(struct event_base *base, const struct mta_client_cfg *cfg,
                                      const struct mta_client_cb *cb);

/* mta_client_send - start a job on an idle client (after ready() or done()
 * with mta_client_usable()). Returns 0, or -1 when the client is not idle,
 * the job has no recipient or an address unfit for a command line (control
 * octets, angle brackets, longer than a path), mta_client_job_refused(), or
 * memory ran out; no callback follows a -1. */
int mta_client_send(struct mta_client *c, const struct mta_client_job *job);

/*
 * mta_client_job_refused - whether job cannot go over c as its server
 * offered: the message needs SMTPUTF8 and the EHLO (LHLO) reply did not
 * offer it (RFC 6531 3.4). *why then gets the permanent failure for every
 * recipient: code 550, enh 5.6.7, a text of ours (no server reply).
 * mta_client_send() refuses such a job too. Call on a ready client.
 */
bool mta_client_job_refused(const struct mta_client *c, const struct mta_client_job *job,
                            struct mta_client_reply *why);

/* mta_client_usable - idle and connected: a job may be sent */
bool mta_client_usable(const struct mta_client *c);

/* mta_client_quit - send QUIT on an idle client; closed() follows. */
void mta_client_quit(struct mta_client *c);

/* mta_client_peer - the peer_name given at connect */
const char *mta_client_peer(const struct mta_client *c);

/* mta_client_tls - what became of TLS so far (valid until the free) */
const struct mta_client_tls_info *mta_client_tls(const struct mta_client *c);

/* mta_client_free - close at once (no QUIT) and release; no callback
 * follows. Returns NULL. Safe from inside any callback of c. */
struct mta_client *mta_client_free(struct mta_client *c);

#endif
