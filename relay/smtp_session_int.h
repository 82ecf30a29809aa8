/*
 * smtp_session_int.h - what smtp_session.c (I/O) and smtp_cmd.c (commands)
 * share about a session; nothing outside these two files includes it
 */
#ifndef DD_SMTP_SESSION_INT_H
#define DD_SMTP_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "server.h"
#include "smtp_content.h"
#include "smtp_parse.h"
#include "smtp_session.h"
#include "store.h"

enum smtp_state {
    SMTP_S_PREGREET, /* greet_pause_ms: the client must wait for the 220 */
    SMTP_S_CMD,      /* reading command lines */
    SMTP_S_DISCARD,  /* a command line was too long: skip to its end */
    SMTP_S_DATA,     /* DATA content */
    SMTP_S_BDAT,     /* a BDAT chunk */
    SMTP_S_COMMIT,   /* waiting for the store */
    SMTP_S_CLOSING,  /* last reply written; close when flushed */
};

/* Command counters for the disconnect line, like Postfix. */
struct smtp_counts {
    unsigned helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, unknown, total;
};

/* The mail transaction between MAIL and the end of data (or RSET). */
struct smtp_txn {
    bool active; /* MAIL accepted */
    struct smtp_mail mail;
    struct store_rcpt *rcpts; /* accepted recipients (malloc) */
    size_t nrcpts, caprcpts;
    unsigned rcpt_tries;               /* RCPT commands seen, accepted or not */
    char queue_id[DD_QUEUEID_LEN + 1]; /* assigned with the first recipient */
    uint64_t msg_id;                   /* store id once content started */
    bool content_started;              /* smtp_content is live */
    bool bdat_failed;                  /* a BDAT chunk was refused: skip to LAST */
    struct smtp_content content;
};

struct smtp_session {
    uint64_t id;
    struct server *srv;
    const struct conf *c;
    struct bufferevent *bev;
    struct event *greet_ev;
    char ip[64];
    char peer[80]; /* "unknown[ip]" */
    enum smtp_state state;
    bool esmtp;      /* EHLO seen */
    bool pipelining; /* the client was offered PIPELINING */
    bool helo_seen;
    char helo[DD_HELO_MAX + 1];
    unsigned errors;
    bool paused;        /* waiting for the store backlog */
    uint64_t bdat_left; /* octets of the current BDAT chunk still to read */
    bool bdat_last;
    const char *bdat_refuse; /* reply for a chunk read only to be skipped */
    struct smtp_counts counts;
    struct smtp_txn txn;
};

/* smtp_session.c */
void smtp_reply(struct smtp_session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void smtp_reply_error(struct smtp_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtp_close_after_reply(struct smtp_session *s);
void smtp_txn_reset(struct smtp_session *s);

/* smtp_cmd.c */
void smtp_cmd_dispatch(struct smtp_session *s, const char *line, size_t len);
void smtp_cmd_content_done(struct smtp_session *s);
void smtp_cmd_content_begin(struct smtp_session *s, enum smtp_data_mode mode);

#endif
