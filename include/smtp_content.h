/*
 * smtp_content.h - one message's content on its way from the client to the
 * store
 *
 * Raw DATA or BDAT bytes go through the smtp_data machine (end detection,
 * smuggling checks, dot-unstuffing), the header section through mail_hdr
 * (hop count, Message-ID), and the result is cut into chunks of at most
 * DD_STORE_CHUNK octets handed to a sink. The hub's Received: field comes
 * first; a Message-ID: field is added at the end of the header section when
 * the message has none. No I/O here: the sink decides where chunks go.
 */
#ifndef DD_SMTP_CONTENT_H
#define DD_SMTP_CONTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "mail_hdr.h"
#include "smtp_data.h"

/* Takes a malloc'd chunk (the sink owns it after the call). */
typedef void (*smtp_content_sink)(void *ctx, uint32_t seq, void *chunk, size_t len);

struct smtp_content {
    struct smtp_data data;
    struct mail_hdr hdr;
    smtp_content_sink sink;
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
    char *message_id; /* the Message-ID value (malloc) once known */
    char msgid_field[DD_QUEUEID_LEN + DD_HOSTNAME_MAX + 32]; /* ours, if needed */
};

/*
 * smtp_content_begin - start a message: mode DOT or BDAT, the Received field
 * we prepend (received[0..rlen)), and the Message-ID value to add when the
 * message has none ("<QUEUEID@hostname>").
 */
void smtp_content_begin(struct smtp_content *c, enum smtp_data_mode mode, uint64_t max_size,
                        const char *received, size_t rlen, const char *our_msgid,
                        smtp_content_sink sink, void *ctx);

/* smtp_content_feed - raw bytes from the client; returns the octets used
 * (DOT mode stops after the end of data: c->data.done). */
size_t smtp_content_feed(struct smtp_content *c, const char *in, size_t len);

/* smtp_content_end - no more content (after done, or BDAT LAST): finish the
 * header section if still open and flush the last chunk. */
void smtp_content_end(struct smtp_content *c);

/* smtp_content_reject_reply - the reply when the message must be refused
 * (bad content, too big, too many hops), or NULL when it can be stored. */
const char *smtp_content_reject_reply(const struct smtp_content *c, unsigned max_received);

/* smtp_content_free - release buffers (not the chunks already sunk). */
void smtp_content_free(struct smtp_content *c);

#endif
