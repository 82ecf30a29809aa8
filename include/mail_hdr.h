/*
 * mail_hdr.h - the header section of a message as it streams past (pure)
 *
 * The session feeds complete content lines (CRLF included) while the header
 * section lasts; mail_hdr_line() says whether the line is still a header
 * field, counts Received: fields (hop limit), notes 8-bit text and keeps
 * the value of the first Message-ID: field, unfolded. Also builds the
 * Received: and Message-ID: fields the hub adds.
 */
#ifndef DD_MAIL_HDR_H
#define DD_MAIL_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "bounds.h"

enum mail_hdr_kind {
    MAIL_HDR_FIELD,     /* a header field or its continuation */
    MAIL_HDR_END_BLANK, /* the empty line that ends the header section */
    MAIL_HDR_END_BODY,  /* not a header line: the body starts here, no blank line */
};

struct mail_hdr {
    bool in_header;               /* still in the header section */
    bool seen_field;              /* at least one field seen (continuations need one) */
    unsigned received;            /* Received: fields */
    bool message_id;              /* a Message-ID: field is present (even an empty one) */
    bool eight_bit;               /* a field holds an octet >= 0x80 (UTF-8 headers) */
    bool in_msgid;                /* the field being read is the first Message-ID: */
    bool msgid_over;              /* its value is longer than DD_MSGID_MAX: not kept */
    size_t msgid_len;             /* octets in msgid[] */
    char msgid[DD_MSGID_MAX + 1]; /* its value as read so far, unfolded */
};

void mail_hdr_init(struct mail_hdr *h);

/*
 * mail_hdr_line - classify one whole line line[0..len) (CRLF included) of
 * the header section and update h. After MAIL_HDR_END_* h->in_header is
 * false and later lines must not be fed.
 */
enum mail_hdr_kind mail_hdr_line(struct mail_hdr *h, const char *line, size_t len);

/*
 * mail_hdr_msgid - the value of the first Message-ID: field so far,
 * unfolded (RFC 5322 2.2.3: the CRLF before each continuation line
 * removed) and without blanks at either end: *len octets, not
 * NUL-terminated, inside h. NULL when there is no such field, when its
 * value is empty, or longer than DD_MSGID_MAX octets.
 */
const char *mail_hdr_msgid(const struct mail_hdr *h, size_t *len);

/* What the Received: field we prepend says. */
struct mail_hdr_received {
    const char *helo;     /* as the client gave it (already validated) */
    const char *ip;       /* client IP literal */
    const char *hostname; /* ours */
    const char *proto;    /* "SMTP", "ESMTP", "UTF8SMTP", with "S" after TLS (RFC 3848) */
    const char *queueid;
    const char *rcpt; /* the recipient when there is exactly one, else NULL */
    time_t when;
    const char *version; /* [smtp] banner_version: "(dumpsterd VERSION)", else NULL */
    const char *tls;     /* "TLSv1.3 with cipher ... (256/256 bits)" after STARTTLS, else NULL */
};

/*
 * mail_hdr_received - write the Received: field (folded, CRLF-terminated,
 * every line under 1000 octets) into buf. Returns its length, or 0 when cap
 * is too small.
 */
size_t mail_hdr_received(char *buf, size_t cap, const struct mail_hdr_received *r);

/* mail_hdr_message_id - "Message-ID: <QUEUEID@hostname>\r\n"; 0 if cap too small. */
size_t mail_hdr_message_id(char *buf, size_t cap, const char *queueid, const char *hostname);

/* mail_hdr_date - RFC 5322 date-time in UTC ("Wed, 25 Nov 2026 10:00:00 +0000"). */
size_t mail_hdr_date(char *buf, size_t cap, time_t t);

#endif
