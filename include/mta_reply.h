/*
 * mta_reply.h - replies of an SMTP or LMTP server, line by line (pure)
 *
 * The outbound client hands over each reply line without its CRLF; the
 * parser joins continuation lines ("250-...") up to the final one
 * ("250 ..."), checks that every line has the same code in 200..599, and
 * keeps what the client needs of the final line: the code, the enhanced
 * status code (RFC 3463) and the line itself, bounded. From the lines of an
 * EHLO/LHLO reply it collects the extensions the client cares about.
 *
 * Bounds: a line longer than DD_SMTP_REPLY_LINE_MAX octets or a reply of
 * more than DD_SMTP_REPLY_LINES_MAX lines is an error, and so is every
 * break of the grammar; the client closes the connection on any error.
 */
#ifndef DD_MTA_REPLY_H
#define DD_MTA_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"

/* What mta_reply_feed() made of one line. */
enum mta_reply_status {
    MTA_R_DONE = 0,      /* the final line: the reply is complete */
    MTA_R_MORE,          /* a continuation line: feed the next one */
    MTA_R_NO_CODE,       /* fewer than three octets: no reply code */
    MTA_R_BAD_CODE,      /* the code is not three digits */
    MTA_R_CODE_RANGE,    /* the code is not in 200..599 */
    MTA_R_CODE_MISMATCH, /* a line's code differs from the first line's */
    MTA_R_BAD_SEP,       /* the code is followed by neither SP, '-' nor the end */
    MTA_R_TOO_LONG,      /* a line longer than DD_SMTP_REPLY_LINE_MAX */
    MTA_R_TOO_MANY,      /* more than DD_SMTP_REPLY_LINES_MAX lines */
    MTA_R__COUNT
};

/* EHLO/LHLO extensions (RFC 2920, 1870, 6152, 2034, 3030, 6531, 3207). */
#define SMTP_EXT_PIPELINING 0x01u
#define SMTP_EXT_SIZE 0x02u
#define SMTP_EXT_8BITMIME 0x04u
#define SMTP_EXT_ENHANCEDSTATUSCODES 0x08u
#define SMTP_EXT_CHUNKING 0x10u
#define SMTP_EXT_SMTPUTF8 0x20u
#define SMTP_EXT_STARTTLS 0x40u

/* One reply being assembled. Owned by the caller; no heap memory. */
struct mta_reply {
    int code;                  /* 200..599, from the first line */
    unsigned lines;            /* lines taken so far */
    bool done;                 /* the final line was taken */
    enum mta_reply_status err; /* MTA_R_DONE or the first error (sticky) */
    char enh[16];              /* "x.y.z" from the final line, or "" */
    /* The final line, code included, control octets shown as '?', cut to
     * fit at a UTF-8 character boundary. */
    char line[DD_SMTP_REPLY_LINE_MAX];
    size_t text;   /* line + text: the text after the code and enhanced code */
    unsigned ext;  /* SMTP_EXT_* from the lines after the first of a 2xx reply */
    uint64_t size; /* the number after SIZE; 0 when absent or not a number */
};

/* mta_reply_init - start a new reply */
void mta_reply_init(struct mta_reply *r);

/*
 * mta_reply_feed - take one line[0..len) without its CRLF. Returns
 * MTA_R_MORE until the final line, then MTA_R_DONE; the next feed after
 * MTA_R_DONE starts a new reply. After an error every feed returns that
 * error until mta_reply_init().
 */
enum mta_reply_status mta_reply_feed(struct mta_reply *r, const char *line, size_t len);

/* mta_reply_text - the final line's text after the code and enhanced code */
const char *mta_reply_text(const struct mta_reply *r);

/* mta_reply_strerror - a short description of a status, for logs */
const char *mta_reply_strerror(enum mta_reply_status e);

/* What a reply in a mail transaction answers, for mta_reply_in_step(). */
enum mta_step {
    MTA_STEP_MAIL,    /* MAIL FROM */
    MTA_STEP_RCPT,    /* RCPT TO */
    MTA_STEP_DATA,    /* DATA */
    MTA_STEP_CONTENT, /* nothing: the content is still being sent */
    MTA_STEP_DOT,     /* the end of data (LMTP: one per accepted recipient) */
};

/*
 * mta_reply_in_step - whether a reply (code, enhanced code or "") can be
 * the answer to step. false when its class never answers that command
 * (RFC 5321 4.3.2: 3xx to MAIL, RCPT or the end of data, anything but
 * 354, 4xx or 5xx to DATA, 2xx or 3xx amid the content), or when it is a
 * sequencing error (503, or X.5.1 "out of sequence" of RFC 3463; at DATA
 * any X.5.x) to a command that was in order: expected says so (MAIL,
 * the content and the end of data always; RCPT after MAIL was accepted;
 * DATA after a recipient was). Such
 * a reply means the server answers some other command than the client
 * thinks: none of the transaction's replies can be trusted.
 */
bool mta_reply_in_step(enum mta_step step, int code, const char *enh, bool expected);

#endif
