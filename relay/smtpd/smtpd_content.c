/*
 * smtpd_content.c - client bytes -> checked, unstuffed content -> chunks
 *
 * The header section is looked at line by line (hop count, Message-ID:
 * the first field's value, unfolded, is what the message is known by);
 * the body passes through untouched. Memory per message is one chunk and
 * one header line, whatever the message size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtpd_content.h"

#define SMTPD_CONTENT_SLICE 8192 /* input octets per machine call: at most twice that out */

static void smtpd_content_put(struct smtpd_content *c, const char *p, size_t n);

/* smtpd_content_begin - reset c for a new message, Received: first */
void smtpd_content_begin(struct smtpd_content *c, enum smtpd_data_mode mode, bool bare_lf,
                         uint64_t max_size, const char *received, size_t rlen,
                         const char *our_msgid, smtpd_content_sink sink, void *ctx)
{
    memset(c, 0, sizeof(*c));
    smtpd_data_init(&c->data, mode);
    c->data.bare_lf = bare_lf;
    mail_hdr_init(&c->hdr);
    c->sink = sink;
    c->sink_ctx = ctx;
    c->max_size = max_size;
    snprintf(c->msgid_field, sizeof(c->msgid_field), "Message-ID: %s\r\n", our_msgid);
    for (size_t i = 0; i < rlen; i++) /* "for <rcpt>" may be UTF-8 */
        c->hdr.eight_bit |= (unsigned char)received[i] >= 0x80;
    smtpd_content_put(c, received, rlen);
}

/* smtpd_content_flush - hand the chunk being filled to the sink */
static void smtpd_content_flush(struct smtpd_content *c)
{
    if (c->chunklen == 0)
        return;
    c->stored += c->chunklen;
    c->sink(c->sink_ctx, c->seq++, c->chunk, c->chunklen);
    c->chunk = NULL;
    c->chunklen = 0;
}

/* smtpd_content_put - append octets that will be stored */
static void smtpd_content_put(struct smtpd_content *c, const char *p, size_t n)
{
    while (n > 0) {
        if (c->chunk == NULL && (c->chunk = malloc(DD_STORE_CHUNK)) == NULL)
            abort();
        size_t take = DD_STORE_CHUNK - c->chunklen;
        if (take > n)
            take = n;
        memcpy(c->chunk + c->chunklen, p, take);
        c->chunklen += take;
        p += take;
        n -= take;
        if (c->chunklen == DD_STORE_CHUNK)
            smtpd_content_flush(c);
    }
}

/* smtpd_content_header_line - one whole line of the header section */
static void smtpd_content_header_line(struct smtpd_content *c, const char *line, size_t len)
{
    enum mail_hdr_kind kind = mail_hdr_line(&c->hdr, line, len);

    if (kind == MAIL_HDR_FIELD) {
        smtpd_content_put(c, line, len);
        return;
    }
    if (!c->hdr.message_id)
        smtpd_content_put(c, c->msgid_field, strlen(c->msgid_field));
    if (kind == MAIL_HDR_END_BODY)
        smtpd_content_put(c, "\r\n", 2);
    smtpd_content_put(c, line, len);
}

/* smtpd_content_header - assemble header lines from unstuffed content */
static void smtpd_content_header(struct smtpd_content *c, const char *p, size_t n)
{
    while (n > 0 && c->hdr.in_header) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) + 1 : n;
        if (c->linelen + take > sizeof(c->line)) {
            /* cannot happen: the data machine refuses longer lines */
            c->data.errs |= SMTPD_DATA_E_LINE_TOO_LONG;
            return;
        }
        memcpy(c->line + c->linelen, p, take);
        c->linelen += take;
        p += take;
        n -= take;
        if (nl) {
            smtpd_content_header_line(c, c->line, c->linelen);
            c->linelen = 0;
        }
    }
    if (n > 0)
        smtpd_content_put(c, p, n);
}

/* smtpd_content_out - content from the data machine */
static void smtpd_content_out(struct smtpd_content *c, const char *p, size_t n)
{
    c->client_size += n;
    if (c->client_size > c->max_size && !c->too_big) {
        c->too_big = true;
        free(c->chunk);
        c->chunk = NULL;
        c->chunklen = 0;
    }
    if (c->too_big || c->data.errs || n == 0)
        return;
    if (c->hdr.in_header)
        smtpd_content_header(c, p, n);
    else
        smtpd_content_put(c, p, n);
}

/* smtpd_content_feed - run raw client bytes through the machine */
size_t smtpd_content_feed(struct smtpd_content *c, const char *in, size_t len)
{
    char out[2 * SMTPD_CONTENT_SLICE + 2]; /* a bare LF may become CRLF */
    size_t used = 0;

    while (used < len && !c->data.done) {
        size_t slice = len - used;
        size_t outlen = 0;
        if (slice > SMTPD_CONTENT_SLICE)
            slice = SMTPD_CONTENT_SLICE;
        size_t n = smtpd_data_feed(&c->data, in + used, slice, out, &outlen);
        used += n;
        smtpd_content_out(c, out, outlen);
        if (n < slice)
            break;
    }
    return used;
}

/* smtpd_content_msgid - what the message is known by: its first Message-ID
 * value, or ours when we added the field (none when its field is empty) */
static void smtpd_content_msgid(struct smtpd_content *c)
{
    static const size_t name = sizeof("Message-ID: ") - 1;
    size_t n = 0;
    const char *v = mail_hdr_msgid(&c->hdr, &n);

    if (v == NULL && !c->hdr.message_id) {
        v = c->msgid_field + name;
        n = strlen(v) - 2; /* its CRLF */
    }
    if (v != NULL && (c->message_id = strndup(v, n)) == NULL)
        abort();
}

/* smtpd_content_end - close the header section if open, flush */
void smtpd_content_end(struct smtpd_content *c)
{
    if (c->data.mode == SMTPD_DATA_BDAT) {
        char out[2];
        size_t outlen = 0;
        smtpd_data_finish(&c->data, out, &outlen);
        smtpd_content_out(c, out, outlen);
    }
    if (c->data.errs || c->too_big)
        return;
    if (c->hdr.in_header) {
        if (c->linelen > 0)
            smtpd_content_put(c, c->line, c->linelen);
        c->linelen = 0;
        if (!c->hdr.message_id)
            smtpd_content_put(c, c->msgid_field, strlen(c->msgid_field));
        c->hdr.in_header = false;
    }
    smtpd_content_msgid(c);
    smtpd_content_flush(c);
}

/* smtpd_content_reject_reply - why the message cannot be kept, or NULL */
const char *smtpd_content_reject_reply(const struct smtpd_content *c, unsigned max_received)
{
    if (c->data.errs)
        return smtpd_data_reply(c->data.errs);
    if (c->too_big)
        return "552 5.3.4 Message size exceeds fixed maximum message size";
    if (c->hdr.received + 1 > max_received)
        return "554 5.4.6 Too many hops: mail forwarding loop detected";
    return NULL;
}

/* smtpd_content_free - release what c holds */
void smtpd_content_free(struct smtpd_content *c)
{
    free(c->chunk);
    free(c->message_id);
    c->chunk = NULL;
    c->message_id = NULL;
    c->chunklen = 0;
}
