/*
 * peer.h - a scripted SMTP or LMTP server for the unit tests, on the
 * test's own event loop, listening on 127.0.0.1 (port 0) or a unix socket
 *
 * It speaks as much of the protocol as the hub's client uses: greeting,
 * EHLO/LHLO (PIPELINING when asked), MAIL, RCPT, DATA and the content up
 * to CRLF.CRLF, RSET, NOOP, QUIT. Replies come from rules per recipient
 * (its RCPT reply, its end-of-data reply), so a test says "bob gets 550 at
 * RCPT" rather than writing out the conversation. Faults are modes: hold
 * every end-of-data reply until peer_release(), close the connection once
 * the content starts, close after the first LMTP end-of-data reply, or
 * answer pipelined commands out of step (DATA's 503 before the RCPT
 * replies, as smtp-sink -W rcpt does). Every connection and every message
 * received (envelope, unstuffed content) is recorded for the checks.
 */
#ifndef DD_PEER_H
#define DD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct evconnlistener;
struct evbuffer;

#define PEER_MSGS_MAX 64
#define PEER_RCPTS_MAX 16
#define PEER_RULES_MAX 16
#define PEER_TEXT_MAX 160

enum peer_fault {
    PEER_OK,          /* plays by the rules */
    PEER_HOLD,        /* end-of-data replies wait for peer_release() */
    PEER_CUT_DATA,    /* hangs up once the content starts to arrive */
    PEER_CUT_DOT,     /* LMTP: hangs up after the first end-of-data reply */
    PEER_OUT_OF_STEP, /* DATA's 503 goes out before the RCPT replies */
};

/* The replies one recipient gets ("" = a 250). */
struct peer_rule {
    char rcpt[PEER_TEXT_MAX];
    char at_rcpt[PEER_TEXT_MAX];
    char at_dot[PEER_TEXT_MAX]; /* SMTP: the first accepted recipient's rule answers */
};

/* A message the peer accepted the content of. */
struct peer_msg {
    char sender[PEER_TEXT_MAX];
    char rcpts[PEER_RCPTS_MAX][PEER_TEXT_MAX]; /* the accepted ones */
    size_t nrcpts;
    char *content; /* unstuffed, CRLF lines, NUL-terminated */
    size_t len;
    unsigned conn; /* which connection carried it, from 1 */
};

struct peer_conn;

struct peer {
    struct event_base *base;
    struct evconnlistener *lis;
    bool lmtp, pipelining;
    enum peer_fault fault;
    char greeting[PEER_TEXT_MAX]; /* "" = 220 */
    unsigned greet_delay_ms;      /* > 0: a new connection is greeted this much later */
    uint16_t port;                /* TCP: where it listens */
    char path[108];               /* unix: where it listens */
    char dest[PEER_TEXT_MAX];     /* its destination text: "lmtp:[127.0.0.1]:PORT" */
    struct peer_rule rules[PEER_RULES_MAX];
    size_t nrules;
    /* what happened */
    unsigned conns, open, max_open, rsets, quits, held, rcpt_cmds;
    struct peer_msg msgs[PEER_MSGS_MAX]; /* the first PEER_MSGS_MAX */
    unsigned nmsgs;
    struct evbuffer *log; /* every command line, CRLF kept */
    struct peer_conn *list;
};

/* peer_new - a server on 127.0.0.1 port 0, or on unix_path when given;
 * lmtp: LMTP (LHLO, one end-of-data reply per recipient), else SMTP. */
struct peer *peer_new(struct event_base *base, bool lmtp, const char *unix_path);

/* peer_rule - rcpt's replies from now on (NULL or "": 250). */
void peer_rule(struct peer *p, const char *rcpt, const char *at_rcpt, const char *at_dot);

/* peer_release - send every end-of-data reply PEER_HOLD kept back. */
void peer_release(struct peer *p);

/* peer_saw - whether a command line containing text arrived. */
bool peer_saw(const struct peer *p, const char *text);

/* peer_free - close every connection and the listener; returns NULL. */
struct peer *peer_free(struct peer *p);

/* peer_dead_port - a 127.0.0.1 port bound but not listening (connections
 * are refused) while *fd stays open; close(*fd) at the end. */
uint16_t peer_dead_port(int *fd);

#endif
