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
#include "tls_policy.h"

enum smtpd_state {
    SMTPD_S_PREGREET,      /* greet_pause_ms: the client must wait for the 220 */
    SMTPD_S_CMD,           /* reading command lines */
    SMTPD_S_DISCARD,       /* a command line was too long: skip to its end */
    SMTPD_S_DATA,          /* DATA content */
    SMTPD_S_BDAT,          /* a BDAT chunk */
    SMTPD_S_COMMIT,        /* waiting for the store */
    SMTPD_S_CLOSING,       /* last reply written; close when flushed */
    SMTPD_S_TLS_WAIT,      /* 220 to STARTTLS written; the handshake starts once it is out */
    SMTPD_S_TLS_HANDSHAKE, /* the TLS handshake runs; nothing is read as a command */
};

/* Command counters for the disconnect line, like Postfix. */
struct smtpd_counts {
    unsigned helo, ehlo, starttls, mail, rcpt, data, bdat, rset, noop, quit, vrfy, help, unknown,
        total;
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
    void *held; /* chunk 0 while it is the only one, for the commit (queue_msg.tail) */
    size_t held_len;
};

struct smtpd_session {
    uint64_t id;
    const struct smtpd_env *env; /* the server's table (smtpd_env.h) */
    const struct conf *c;
    struct bufferevent *bev;
    int fd;             /* the socket while bev does not own it (plain), else -1 */
    bool tls;           /* the TLS handshake completed */
    char tls_desc[128]; /* "TLSv1.3 with cipher ... (256/256 bits)" */
    struct event *greet_ev;
    struct event *line_ev; /* command_timeout for a command line from its first
                              octet (tls_handshake_timeout for a handshake) */
    struct event *data_ev; /* data_timeout for the content, 354 to its end */
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
void smtpd_session_free(struct smtpd_session *s);
void smtpd_read_cb(struct bufferevent *bev, void *arg);
void smtpd_write_cb(struct bufferevent *bev, void *arg);
void smtpd_event_cb(struct bufferevent *bev, short what, void *arg);
/* smtpd_data_deadline - start (on: unless running) or stop the content's
 * deadline */
void smtpd_data_deadline(struct smtpd_session *s, bool on);
/* smtpd_line_deadline - start the deadline of a line (or a handshake) of
 * secs seconds unless it runs; 0: stop it */
void smtpd_line_deadline(struct smtpd_session *s, unsigned secs);

/* smtpd_cmd.c */
void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len);
void smtpd_cmd_content_done(struct smtpd_session *s);
void smtpd_cmd_content_begin(struct smtpd_session *s, enum smtpd_data_mode mode);

/* smtpd_tls.c */
/* smtpd_tls_facts - what the TLS rules (tls_policy.h) need of s */
struct smtpd_tls_state smtpd_tls_facts(const struct smtpd_session *s);
/* smtpd_tls_cmd - STARTTLS was accepted: 220, then wait for it to go out */
void smtpd_tls_cmd(struct smtpd_session *s);
/* smtpd_tls_start - the 220 is out: drop what the client pipelined and
 * start the handshake on the socket (may free s) */
void smtpd_tls_start(struct smtpd_session *s);
/* smtpd_tls_event - an event during the handshake; true when handled (s
 * may be gone then) */
bool smtpd_tls_event(struct smtpd_session *s, short what);
/* smtpd_tls_bye - the last line (421 at shutdown) straight to a TLS
 * connection, best effort; false for a plain one */
bool smtpd_tls_bye(struct smtpd_session *s, const char *line, size_t len);

#endif
