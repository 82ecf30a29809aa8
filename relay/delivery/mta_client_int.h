/*
 * mta_client_int.h - what mta_client.c (connection) and mta_client_txn.c
 * (transactions and content) share about a client; nothing else includes it
 */
#ifndef DD_SMTP_CLIENT_INT_H
#define DD_SMTP_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bounds.h"
#include "mta_client.h"
#include "mta_reply.h"

/* The longest wait for the end-of-data reply, seconds (RFC 5321 4.5.3.2.6). */
#define DOT_TIMEOUT_MAX 600
/* A reply line as read: the longest the parser takes, and its CRLF. */
#define LINE_BUF (DD_SMTP_REPLY_LINE_MAX + 2)

enum client_state {
    C_CONNECT,  /* connecting, then waiting for the greeting */
    C_EHLO,     /* EHLO or LHLO sent */
    C_HELO,     /* HELO sent after EHLO was refused */
    C_STARTTLS, /* STARTTLS sent */
    C_TLS,      /* the TLS handshake runs */
    C_IDLE,     /* ready for a job */
    C_TXN,      /* replies to RSET, MAIL, RCPT, DATA due */
    C_CONTENT,  /* writing the content */
    C_DOT,      /* the end-of-data reply (LMTP: one per accepted recipient) due */
    C_QUIT,     /* QUIT sent */
    C_CLOSED,   /* the connection is gone; waiting for mta_client_free() */
};

/* Steps of a transaction, in the order of their replies: RSET (only when
 * the connection carried a transaction before), MAIL, RCPT i at
 * STEP_RCPT + i, DATA at STEP_RCPT + nrcpts. */
#define STEP_RSET 0
#define STEP_MAIL 1
#define STEP_RCPT 2

struct mta_client {
    struct bufferevent *bev; /* NULL once closed */
    int fd;                  /* the socket while bev does not own it (plain), else -1 */
    struct event *timer;     /* the wait in progress */
    struct event *later;     /* reports a failure found outside a callback */
    enum client_state st;
    enum mta_client_proto proto;
    char *helo_name, *peer_name;
    unsigned connect_timeout, reply_timeout;
    struct mta_client_cb cb;
    struct mta_reply reply;    /* being assembled */
    unsigned ext;              /* SMTP_EXT_* from the EHLO reply */
    bool connected;            /* the TCP (or unix) connect finished */
    bool local;                /* a unix socket: never TLS */
    struct mta_client_tls tls; /* verify_name owned (strdup) */
    struct mta_client_tls_info tinfo;
    bool used; /* a transaction ran: RSET before the next */
    char later_why[256];
    /* The job in progress: res != NULL. */
    struct mta_client_job job;
    struct mta_client_reply *res; /* per recipient; code 0 while open */
    bool *accepted;               /* per recipient: RCPT got 2xx */
    size_t step;                  /* the step the next reply answers */
    size_t data_step;             /* STEP_RCPT + nrcpts */
    size_t naccepted;
    size_t dot_left; /* end-of-data replies still due */
    size_t dot_next; /* LMTP: where to look for the next accepted recipient */
    bool pipelined, mail_ok, dot_ignore, bol;
    /* Entries from the loop in progress, and a free asked for meanwhile. */
    unsigned depth;
    bool dead;
};

/* mta_client.c */
void mta_client_put(struct mta_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mta_client_set_timer(struct mta_client *c);
const char *mta_client_what(const struct mta_client *c);
void mta_client_shut(struct mta_client *c, const struct mta_client_reply *for_job,
                     const struct mta_client_reply *why);
void mta_client_fail(struct mta_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mta_client_fail_later(struct mta_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* mta_client_flush - write the output now; EV_WRITE only for what the
 * socket refuses (a no-op inside a loop call: its end flushes) */
void mta_client_flush(struct mta_client *c);
/* mta_client_set_bev - bev replaces the connection's bufferevent, which
 * goes with its unread input (STARTTLS) */
void mta_client_set_bev(struct mta_client *c, struct bufferevent *bev);
/* mta_client_ready - introduced (and in TLS when it had to be): idle */
void mta_client_ready(struct mta_client *c);

/* mta_tls.c */
/* mta_tls_hello - the EHLO/LHLO/HELO reply was 2xx: start TLS, or fail
 * when it is required and not offered; false: go on, ready */
bool mta_tls_hello(struct mta_client *c);
/* mta_tls_reply - the reply to STARTTLS */
void mta_tls_reply(struct mta_client *c, const struct mta_client_reply *r);
/* mta_tls_connected - the handshake finished: check, log, EHLO again */
void mta_tls_connected(struct mta_client *c);
/* mta_tls_failed - the handshake failed (an event of the bufferevent) */
void mta_tls_failed(struct mta_client *c, short what);

/* mta_client_txn.c */
void mta_client_txn_reply(struct mta_client *c, const struct mta_client_reply *r);
void mta_client_dot_reply(struct mta_client *c, const struct mta_client_reply *r);
void mta_client_content_reply(struct mta_client *c, const struct mta_client_reply *r);
void mta_client_content_fill(struct mta_client *c);
void mta_client_txn_settle(struct mta_client *c, const struct mta_client_reply *r);
void mta_client_job_done(struct mta_client *c);
const char *mta_client_txn_what(const struct mta_client *c);
void mta_client_txn_free(struct mta_client *c);

#endif
