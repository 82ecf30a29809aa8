/*
 * smtpd_parse.h - SMTP command lines and MAIL/RCPT arguments (pure)
 *
 * The session hands over one command line without its CRLF; the parser says
 * which command it is, checks its syntax, and maps every error to the exact
 * reply of SPEC section 4 through smtpd_parse_reply().
 */
#ifndef DD_SMTPD_PARSE_H
#define DD_SMTPD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_addr.h"

enum smtpd_verb {
    SMTP_UNKNOWN = 0,
    SMTP_HELO,
    SMTP_EHLO,
    SMTP_MAIL,
    SMTP_RCPT,
    SMTP_DATA,
    SMTP_BDAT,
    SMTP_RSET,
    SMTP_NOOP,
    SMTP_QUIT,
    SMTP_VRFY,
    SMTP_HELP,
    SMTP_EXPN,
    SMTP_STARTTLS,
    SMTP_AUTH,
};

/* Parse outcomes; smtpd_parse_reply() gives the reply line for each error. */
enum smtpd_perr {
    SMTPD_P_OK = 0,
    SMTPD_P_UNKNOWN,         /* 500 5.5.1 command unrecognized */
    SMTPD_P_SYNTAX,          /* 501 5.5.4 syntax error in parameters */
    SMTPD_P_NOT_IMPLEMENTED, /* 502 5.5.1 (EXPN, AUTH) */
    SMTPD_P_BAD_CHARS,       /* 500 5.5.2 NUL / 8-bit / control octet in a command */
    SMTPD_P_HELO_SYNTAX,     /* 501 5.5.4 HELO/EHLO needs a domain or literal */
    SMTPD_P_BAD_SENDER,      /* 501 5.1.7 bad sender address syntax */
    SMTPD_P_BAD_RCPT,        /* 501 5.1.3 bad recipient address syntax */
    SMTPD_P_NULL_RCPT,       /* 501 5.1.3 <> is not a recipient */
    SMTPD_P_PATH_TOO_LONG,   /* 501 5.1.3 / 5.1.7 path, local part or domain too long */
    SMTPD_P_BAD_PARAM,       /* 555 5.5.4 unsupported MAIL/RCPT parameter */
    SMTPD_P_BAD_SIZE,        /* 501 5.5.4 bad SIZE= value */
    SMTPD_P_BAD_BODY,        /* 501 5.5.4 bad BODY= value */
    SMTPD_P_BAD_BDAT,        /* 501 5.5.4 BDAT needs a size and maybe LAST */
    SMTPD_P__COUNT
};

enum smtpd_body { SMTP_BODY_7BIT = 0, SMTP_BODY_8BITMIME, SMTP_BODY_BINARYMIME };

struct smtpd_cmd {
    enum smtpd_verb verb;
    const char *arg; /* points into the line, after the verb and one space */
    size_t arglen;   /* trailing spaces removed */
};

/*
 * smtpd_cmd_parse - split line[0..len) (no CRLF) into verb and argument.
 * Verbs match without case. NUL, octets >= 0x80 before the argument, and
 * control octets anywhere give SMTPD_P_BAD_CHARS; an unknown verb gives
 * SMTPD_P_UNKNOWN. Arguments are not checked here.
 */
enum smtpd_perr smtpd_cmd_parse(const char *line, size_t len, struct smtpd_cmd *out);

/* smtpd_helo_parse - HELO/EHLO argument: a domain or address literal. */
enum smtpd_perr smtpd_helo_parse(const char *arg, size_t len, char *out, size_t cap);

struct smtpd_mail {
    struct smtp_addr from;
    bool has_size;
    uint64_t size;
    bool has_body;        /* BODY= was given */
    enum smtpd_body body; /* what it said; 7BIT when not given */
    bool smtputf8;
};

/* smtpd_mail_parse - "FROM:<path> [SIZE=n] [BODY=7BIT|8BITMIME] [SMTPUTF8]".
 * Keywords match without case; "FROM: <path>" (one space) is accepted. */
enum smtpd_perr smtpd_mail_parse(const char *arg, size_t len, struct smtpd_mail *out);

struct smtpd_rcpt {
    struct smtp_addr to;
};

/* smtpd_rcpt_parse - "TO:<path>"; no parameters are supported yet (555). */
enum smtpd_perr smtpd_rcpt_parse(const char *arg, size_t len, struct smtpd_rcpt *out);

/* smtpd_bdat_parse - "SIZE [LAST]". */
enum smtpd_perr smtpd_bdat_parse(const char *arg, size_t len, uint64_t *size, bool *last);

/* smtpd_parse_reply - the whole reply line (no CRLF) for an error. */
const char *smtpd_parse_reply(enum smtpd_perr e);

/* smtpd_verb_name - "MAIL", "RCPT", ... for logs. */
const char *smtpd_verb_name(enum smtpd_verb v);

#endif
