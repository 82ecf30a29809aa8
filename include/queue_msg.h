/*
 * queue_msg.h - what the queue is given and keeps of a message: the
 * states and routes of recipients, and a message to commit (types only;
 * the queue's functions are in queue.h)
 */
#ifndef DD_QUEUE_MSG_H
#define DD_QUEUE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* A recipient's state in the queue. Active is never stored: it is the
 * queue's memory of what it handed to delivery. */
enum rcpt_state {
    RCPT_PENDING = 0,
    RCPT_ACTIVE = 1,
    RCPT_DELIVERED = 2,
    RCPT_FAILED = 3,
};

/* Where a recipient's mail goes: its storage group's destination, or the
 * smarthost (bounces to senders the directory does not know). */
enum rcpt_route {
    RCPT_ROUTE_SG = 0,
    RCPT_ROUTE_SMARTHOST = 1,
};

/* What the client's MAIL FROM said of the content (RFC 6152), passed on to
 * the next hop when it offers 8BITMIME. Stored as these numbers. */
enum msg_body {
    MSG_BODY_NONE = 0,     /* no BODY= parameter */
    MSG_BODY_7BIT = 1,     /* BODY=7BIT */
    MSG_BODY_8BITMIME = 2, /* BODY=8BITMIME */
};

/* Whether the client's MAIL FROM said SMTPUTF8 (RFC 6531), and whether the
 * header section then holds 8-bit text: such a message needs a next hop
 * that offers SMTPUTF8 (so does one whose envelope is not ASCII). */
enum msg_utf8 {
    MSG_UTF8_NO = 0,      /* no SMTPUTF8 */
    MSG_UTF8_ASKED = 1,   /* SMTPUTF8; the header section is ASCII */
    MSG_UTF8_HEADERS = 2, /* SMTPUTF8, and the header section holds 8-bit text */
};

struct queue_msg_rcpt {
    char addr[DD_ADDR_MAX + 2];
    enum rcpt_route route;
    char sg[DD_SG_NAME_MAX + 1]; /* "" for the smarthost */
};

/* A message to commit, besides its content. */
struct queue_msg {
    uint64_t msg_id; /* from queue_new_msg_id() */
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2]; /* "" for <> */
    char *message_id;             /* Message-ID value; owned (malloc) */
    uint64_t size;                /* content octets, sum of the chunks */
    uint32_t nchunks;             /* chunks, seq 0..n-1 */
    void *tail;                   /* chunk n-1 when queue_chunk did not take it:
                                     written by the commit; owned (malloc) */
    size_t tail_len;
    int64_t received_ms; /* unix time in ms */
    char client_ip[64];
    char helo[DD_HELO_MAX + 1];
    char proto[16];
    enum msg_body body;
    enum msg_utf8 smtputf8;
    struct queue_msg_rcpt *rcpts; /* owned (malloc) */
    size_t nrcpts;
    /* every recipient's destination override (recipient.dest), or NULL;
     * owned. Such a message is a copy resent from another hub's shadow
     * dumpster: delivered, it is not kept in a dumpster again. */
    char *dest;
    bool hold; /* committed held: not delivered before queue_unhold() */
};

#endif
