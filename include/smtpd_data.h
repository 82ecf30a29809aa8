/*
 * smtpd_data.h - the DATA / BDAT content state machine (pure)
 *
 * Bytes in, message content out: CRLF lines, dot-unstuffed (RFC 5321 4.5.2).
 * In DOT mode the only end of data is CRLF "." CRLF where both CRLFs are
 * real; a bare LF, a bare CR or a NUL anywhere marks the message rejected
 * (SMTP smuggling: "\n.\n", "\r.\r", "\r\n\x00.\r\n", ... never end it), and
 * the machine goes on looking for the real end so nothing splits into a
 * second message. Lines longer than DD_SMTP_TEXT_LINE_MAX octets (CRLF
 * included, as sent) also reject the message; nothing is ever truncated.
 * In BDAT mode there is no dot handling and no end marker; the same line
 * checks apply.
 *
 * With bare_lf set ([smtp] bare_newline = normalize, Postfix 3.9's
 * smtpd_forbid_bare_newline = normalize) a bare LF is a line end instead:
 * it is written as CRLF and counts two octets of its line, as the CRLF it
 * stands for. The line after it is dot-unstuffed like any other, but its
 * "." never ends the data: the end is still only CRLF "." CRLF with both
 * CRLFs real, so "\n.\n", "\n.\r\n" and "\r\n.\n" are content (an empty
 * line) and nothing splits the message. A bare CR and a NUL still reject.
 */
#ifndef DD_SMTPD_DATA_H
#define DD_SMTPD_DATA_H

#include <stdbool.h>
#include <stddef.h>

enum smtpd_data_mode { SMTPD_DATA_DOT, SMTPD_DATA_BDAT };

/* Error bits, or-ed into smtpd_data.errs. */
enum {
    SMTPD_DATA_E_BARE_LF = 1 << 0,
    SMTPD_DATA_E_BARE_CR = 1 << 1,
    SMTPD_DATA_E_NUL = 1 << 2,
    SMTPD_DATA_E_LINE_TOO_LONG = 1 << 3,
};

struct smtpd_data {
    enum smtpd_data_mode mode;
    bool bare_lf;   /* a bare LF ends a line (normalize); set after smtpd_data_init() */
    int state;      /* private */
    bool lf_line;   /* private: the current line began after a bare LF */
    size_t linelen; /* octets of the current line so far, as sent */
    unsigned errs;  /* SMTPD_DATA_E_* seen so far; non-zero: reject */
    bool done;      /* DOT mode: the terminating CRLF.CRLF was consumed */
};

void smtpd_data_init(struct smtpd_data *d, enum smtpd_data_mode mode);

/*
 * smtpd_data_feed - consume in[0..len); write content to out, which must hold
 * at least len + 2 octets (2 * len + 2 with bare_lf, where each bare LF
 * becomes CRLF); *outlen gets the octets written. Returns the
 * octets consumed: all of them, except in DOT mode when the end was found,
 * where it stops right after the final CRLF.CRLF and sets d->done. Once
 * d->errs is non-zero no more content is written (the message is rejected),
 * but the end is still searched for.
 */
size_t smtpd_data_feed(struct smtpd_data *d, const char *in, size_t len, char *out, size_t *outlen);

/*
 * smtpd_data_finish - BDAT LAST: end the content. A last line without CRLF
 * gets one (out must hold 2 octets); a pending lone CR is a bare CR.
 */
void smtpd_data_finish(struct smtpd_data *d, char *out, size_t *outlen);

/* smtpd_data_reply - the 5xx reply line (no CRLF) for d->errs != 0. */
const char *smtpd_data_reply(unsigned errs);

#endif
