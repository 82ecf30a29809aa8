/*
 * smtpd_content.h - one message's content on its way from the client to the
 * store
 *
 * Raw DATA or BDAT bytes go through the smtpd_data machine (end detection,
 * smuggling checks, dot-unstuffing), the header section through mail_hdr
 * (hop count, Message-ID), and the result is cut into chunks of at most
 * DD_STORE_CHUNK octets handed to a sink. The hub's Received: field comes
 * first; a Message-ID: field is added at the end of the header section when
 * the message has none. No I/O here: the sink decides where chunks go.
 */
#ifndef DD_SMTPD_CONTENT_H
#define DD_SMTPD_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "mail_hdr.h"
#include "smtpd_data.h"

/* Takes a malloc'd chunk (the sink owns it after the call). */
typedef void (*smtpd_content_sink)(void *ctx, uint32_t seq, void *chunk, size_t len);

struct smtpd_content {
    struct smtpd_data data;
    struct mail_hdr hdr;
    smtpd_content_sink sink;
    void *sink_ctx;
    uint64_t max_size;                    /* client octets allowed (after unstuffing) */
    uint64_t client_size;                 /* client octets seen (after unstuffing) */
    bool too_big;                         /* client_size passed max_size: nothing more is kept */
    char line[DD_SMTP_TEXT_LINE_MAX + 2]; /* header line being assembled */
    size_t linelen;
    char *chunk; /* being filled */
    size_t chunklen;
    uint32_t seq;     /* chunks handed to the sink */
    uint64_t stored;  /* octets handed to the sink */
    char *message_id; /* malloc'd at the end: the first Message-ID value, ours
                       * when we added the field, NULL when its value is empty */
    char msgid_field[DD_QUEUEID_LEN + DD_HOSTNAME_MAX + 32]; /* ours, if needed */
};

/*
 * smtpd_content_begin - start a message: mode DOT or BDAT, whether a bare LF
 * is a line end (bare_lf: [smtp] bare_newline = normalize for this client)
 * instead of a reason to reject, the Received field we prepend
 * (received[0..rlen)), and the Message-ID value to add when the message has
 * none ("<QUEUEID@hostname>").
 */
void smtpd_content_begin(struct smtpd_content *c, enum smtpd_data_mode mode, bool bare_lf,
                         uint64_t max_size, const char *received, size_t rlen,
                         const char *our_msgid, smtpd_content_sink sink, void *ctx);

/* smtpd_content_feed - raw bytes from the client; returns the octets used
 * (DOT mode stops after the end of data: c->data.done). */
size_t smtpd_content_feed(struct smtpd_content *c, const char *in, size_t len);

/* smtpd_content_end - no more content (after done, or BDAT LAST): finish the
 * header section if still open and flush the last chunk. */
void smtpd_content_end(struct smtpd_content *c);

/* smtpd_content_reject_reply - the reply when the message must be refused
 * (bad content, too big, too many hops), or NULL when it can be stored. */
const char *smtpd_content_reject_reply(const struct smtpd_content *c, unsigned max_received);

/* smtpd_content_free - release buffers (not the chunks already sunk). */
void smtpd_content_free(struct smtpd_content *c);

#endif
