/*
 * dsn.h - delivery status notifications (bounces), RFC 3464 (pure)
 *
 * dsn_compose() writes the whole message the hub sends back to the
 * original sender when recipients failed (SPEC section 5): a
 * multipart/report with a human-readable part, a message/delivery-status
 * part and the original headers as text/rfc822-headers. Lines end in CRLF
 * and are at most DSN_LINE_MAX octets; every value taken from the input is
 * cleaned of control characters, so nothing from a remote server's reply
 * or a sender's headers can add header fields or MIME parts.
 */
#ifndef DD_DSN_H
#define DD_DSN_H

#include <stddef.h>
#include <stdint.h>

/* RFC 5322 2.1.1: at most 998 octets per line, CRLF excluded. */
#define DSN_LINE_MAX 998
/* Recipients listed; past it one line gives the count of the others. */
#define DSN_RCPTS_MAX 1000
/* Octets of the original header section quoted (whole lines only). */
#define DSN_HEADERS_MAX (64 * 1024)
/* Octets of the seed used (boundary and Message-ID). */
#define DSN_SEED_MAX 64

/* One recipient the notification is about. The strings are borrowed. */
struct dsn_rcpt {
    const char *address;     /* as queued, without angle brackets */
    const char *action;      /* "failed" or "delayed" */
    const char *status;      /* RFC 3463, "5.1.1"; malformed: 5.0.0 or 4.0.0 by action */
    const char *remote_mta;  /* the server that answered: "HOST[IP]:PORT" as delivery
                              * names it (or a bare host name), "unix:PATH", or NULL / "" */
    const char *diagnostic;  /* its reply ("550 5.1.1 unknown user") or our reason; NULL ok */
    int64_t last_attempt_ms; /* ms since the epoch; <= 0: not known */
};

/* What the notification says. The strings are borrowed, NUL-terminated. */
struct dsn_params {
    const char *hostname; /* reporting MTA: [smtp] hostname; From: MAILER-DAEMON@it */
    const char *hub_name; /* [hub] name; NULL ok */
    const char *queue_id; /* of the original message */
    const char *sender;   /* the original envelope sender: the DSN goes To it */
    int64_t arrival_ms;   /* when the hub accepted the original */
    int64_t now_ms;       /* Date: */
    const struct dsn_rcpt *rcpts;
    size_t nrcpts;       /* >= 1; only the first DSN_RCPTS_MAX are listed */
    const char *headers; /* the original header section (stops at its blank line) */
    size_t headers_len;
    const char *seed; /* random text of the caller: the boundary and Message-ID */
};

/*
 * dsn_mta_name - the name a Remote-MTA field gives the server peer (RFC 3464
 * 2.3.5, type dns): the HOST of "HOST[IP]:PORT", or the address literal
 * "[IP]" ("[IPv6:IP]") when the destination named no host (HOST is the IP
 * itself); a peer without "[" is a host name already. A unix socket
 * ("unix:PATH") or an empty peer has no such name: 0. Writes at most cap
 * octets with the NUL; returns the length, 0 when none or it does not fit.
 */
size_t dsn_mta_name(const char *peer, char *buf, size_t cap);

/*
 * dsn_compose - the complete notification message, CRLF line ends, in a
 * malloc'd buffer the caller frees (NUL-terminated, the NUL not counted in
 * *len_out). Subject "Undelivered Mail Returned to Sender", or "Delayed
 * Mail (still being retried)" when every recipient is delayed.
 *
 * Returns NULL for the null sender (no DSN is ever sent to <>), for missing
 * hostname, queue_id, seed or recipients, for a recipient without address
 * or with an action other than failed/delayed, when the boundary occurs in
 * the content (choose another seed), and when out of memory.
 */
char *dsn_compose(const struct dsn_params *p, size_t *len_out);

#endif
