/*
 * smtpd_session_int.h - what smtpd_session.c (I/O) and smtpd_cmd.c (commands)
 * share about a session; nothing outside these two files includes it
 */
#ifndef DD_SMTPD_SESSION_INT_H
#define DD_SMTPD_SESSION_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

#include "conf.h"
#include "smtpd_content.h"
#include "smtpd_parse.h"
#include "smtpd_session.h"
#include "queue.h"
#include "smtpd_env.h"
#include "store.h"

enum smtpd_state {
    SMTPD_S_PREGREET, /* greet_pause_ms: the client must wait for the 220 */
    SMTPD_S_CMD,      /* reading command lines */
    SMTPD_S_DISCARD,  /* a command line was too long: skip to its end */
    SMTPD_S_DATA,     /* DATA content */
    SMTPD_S_BDAT,     /* a BDAT chunk */
    SMTPD_S_COMMIT,   /* waiting for the store */
    SMTPD_S_CLOSING,  /* last reply written; close when flushed */
};

/* Command counters for the disconnect line, like Postfix. */
struct smtpd_counts {
    unsigned helo, ehlo, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, unknown, total;
};

/* The mail transaction between MAIL and the end of data (or RSET). */
struct smtpd_txn {
    bool active; /* MAIL accepted */
    struct smtpd_mail mail;
    struct queue_msg_rcpt *rcpts; /* accepted recipients (malloc) */
    size_t nrcpts, caprcpts;
    unsigned rcpt_tries;               /* RCPT commands seen, accepted or not */
    char queue_id[DD_QUEUEID_LEN + 1]; /* assigned with the first recipient */
    uint64_t msg_id;                   /* store id once content started */
    bool content_started;              /* smtpd_content is live */
    bool bdat_failed;                  /* a BDAT chunk was refused: skip to LAST */
    struct smtpd_content content;
};

struct smtpd_session {
    uint64_t id;
    const struct smtpd_env *env; /* the server's table (smtpd_env.h) */
    const struct conf *c;
    struct bufferevent *bev;
    struct event *greet_ev;
    char ip[64];
    char peer[80]; /* "unknown[ip]" */
    enum smtpd_state state;
    bool esmtp;      /* EHLO seen */
    bool pipelining; /* the client was offered PIPELINING */
    bool helo_seen;
    char helo[DD_HELO_MAX + 1];
    unsigned errors;
    bool paused;        /* waiting for the store backlog */
    uint64_t bdat_left; /* octets of the current BDAT chunk still to read */
    bool bdat_last;
    const char *bdat_refuse; /* reply for a chunk read only to be skipped */
    struct smtpd_counts counts;
    struct smtpd_txn txn;
};

/* smtpd_session.c */
void smtpd_reply(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_reply_error(struct smtpd_session *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void smtpd_close_after_reply(struct smtpd_session *s);
void smtpd_txn_reset(struct smtpd_session *s);

/* smtpd_cmd.c */
void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len);
void smtpd_cmd_content_done(struct smtpd_session *s);
void smtpd_cmd_content_begin(struct smtpd_session *s, enum smtpd_data_mode mode);

#endif
