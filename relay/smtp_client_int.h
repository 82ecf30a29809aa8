/*
 * smtp_client_int.h - what smtp_client.c (connection) and smtp_client_txn.c
 * (transactions and content) share about a client; nothing else includes it
 */
#ifndef DD_SMTP_CLIENT_INT_H
#define DD_SMTP_CLIENT_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "bounds.h"
#include "smtp_client.h"
#include "smtp_reply.h"

/* The longest wait for the end-of-data reply, seconds (RFC 5321 4.5.3.2.6). */
#define DOT_TIMEOUT_MAX 600
/* A reply line as read: the longest the parser takes, and its CRLF. */
#define LINE_BUF (DD_SMTP_REPLY_LINE_MAX + 2)

enum client_state {
    C_CONNECT, /* connecting, then waiting for the greeting */
    C_EHLO,    /* EHLO or LHLO sent */
    C_HELO,    /* HELO sent after EHLO was refused */
    C_IDLE,    /* ready for a job */
    C_TXN,     /* replies to RSET, MAIL, RCPT, DATA due */
    C_CONTENT, /* writing the content */
    C_DOT,     /* the end-of-data reply (LMTP: one per accepted recipient) due */
    C_QUIT,    /* QUIT sent */
    C_CLOSED,  /* the connection is gone; waiting for smtp_client_free() */
};

/* Steps of a transaction, in the order of their replies: RSET (only when
 * the connection carried a transaction before), MAIL, RCPT i at
 * STEP_RCPT + i, DATA at STEP_RCPT + nrcpts. */
#define STEP_RSET 0
#define STEP_MAIL 1
#define STEP_RCPT 2

struct smtp_client {
    struct bufferevent *bev; /* NULL once closed */
    struct event *timer;     /* the wait in progress */
    struct event *later;     /* reports a failure found outside a callback */
    enum client_state st;
    enum smtp_client_proto proto;
    char *helo_name, *peer_name;
    unsigned connect_timeout, reply_timeout;
    struct smtp_client_cb cb;
    struct smtp_reply reply; /* being assembled */
    unsigned ext;            /* SMTP_EXT_* from the EHLO reply */
    bool connected;          /* the TCP (or unix) connect finished */
    bool used;               /* a transaction ran: RSET before the next */
    char later_why[256];
    /* The job in progress: res != NULL. */
    struct smtp_client_job job;
    struct smtp_client_reply *res; /* per recipient; code 0 while open */
    bool *accepted;                /* per recipient: RCPT got 2xx */
    size_t step;                   /* the step the next reply answers */
    size_t data_step;              /* STEP_RCPT + nrcpts */
    size_t naccepted;
    size_t dot_left; /* end-of-data replies still due */
    size_t dot_next; /* LMTP: where to look for the next accepted recipient */
    bool pipelined, mail_ok, dot_ignore, bol;
    /* Entries from the loop in progress, and a free asked for meanwhile. */
    unsigned depth;
    bool dead;
};

/* smtp_client.c */
void smtp_client_put(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtp_client_set_timer(struct smtp_client *c);
const char *smtp_client_what(const struct smtp_client *c);
void smtp_client_shut(struct smtp_client *c, const struct smtp_client_reply *for_job,
                      const struct smtp_client_reply *why);
void smtp_client_fail(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtp_client_fail_later(struct smtp_client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* smtp_client_flush - write the output now; EV_WRITE only for what the
 * socket refuses (a no-op inside a loop call: its end flushes) */
void smtp_client_flush(struct smtp_client *c);

/* smtp_client_txn.c */
void smtp_client_txn_reply(struct smtp_client *c, const struct smtp_client_reply *r);
void smtp_client_dot_reply(struct smtp_client *c, const struct smtp_client_reply *r);
void smtp_client_content_fill(struct smtp_client *c);
void smtp_client_txn_settle(struct smtp_client *c, const struct smtp_client_reply *r);
void smtp_client_job_done(struct smtp_client *c);
const char *smtp_client_txn_what(const struct smtp_client *c);
void smtp_client_txn_free(struct smtp_client *c);

#endif
