/* data.c - the message content: reading DATA, finding its Message-ID, answering the final dot */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>

#include "mbxsink.h"

/*
 * Message-ID: a pure scan of the message head.
 */

/* hdr_match - offset just past "name:" if the header line is name, else 0 */
static size_t hdr_match(const char *p, size_t n, const char *name)
{
    size_t len = strlen(name), i;

    if (n <= len || strncasecmp(p, name, len) != 0)
        return 0;
    for (i = len; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
        continue;
    return i < n && p[i] == ':' ? i + 1 : 0;
}

/* msgid_add - append to the value, bounded; control octets become blanks */
static void msgid_add(char *out, size_t *len, const char *p, size_t n)
{
    for (size_t i = 0; i < n && *len < MBX_MSGID_MAX; i++) {
        unsigned char ch = (unsigned char)p[i];

        out[(*len)++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[*len] = '\0';
}

/* msgid_trim - strip leading and trailing blanks, in place */
static void msgid_trim(char *s)
{
    size_t start = strspn(s, " "), n = strlen(s);

    while (n > start && s[n - 1] == ' ')
        n--;
    memmove(s, s + start, n - start);
    s[n - start] = '\0';
}

/* msgid_find - the unfolded, trimmed Message-ID of the head h[0..n), "" if none */
static void msgid_find(const char *h, size_t n, char out[MBX_MSGID_MAX + 1])
{
    size_t pos = 0, len = 0, v;
    int found = 0;

    out[0] = '\0';
    while (pos < n) {
        const char *line = h + pos, *nl = memchr(line, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - h) : n, ll = end - pos;

        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break; /* the empty line: end of the header */
        if (line[0] == ' ' || line[0] == '\t') {
            if (found)
                msgid_add(out, &len, line, ll); /* a folded continuation */
        } else if (found) {
            break;
        } else if ((v = hdr_match(line, ll, "Message-ID")) != 0) {
            found = 1;
            msgid_add(out, &len, line + v, ll - v);
        }
        pos = end + 1;
    }
    msgid_trim(out);
}

/* body_msgid - the Message-ID of the message in body, "" if none */
static void body_msgid(struct evbuffer *body, char out[MBX_MSGID_MAX + 1])
{
    size_t n = evbuffer_get_length(body);
    const char *h;

    out[0] = '\0';
    if (n > MBX_HDR_SCAN)
        n = MBX_HDR_SCAN;
    if (n > 0 && (h = (const char *)evbuffer_pullup(body, (ev_ssize_t)n)) != NULL)
        msgid_find(h, n, out);
}
/*
 * End of data: store once, answer.
 */

/* rcpts_accepted - recipients without an injected LMTP reply */
static size_t rcpts_accepted(const struct conn *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nrcpts; i++)
        n += c->rcpts[i].lmtp_code == 0;
    return n;
}

/* deliver - store the message and answer: once (SMTP) or per recipient (LMTP) */
static void deliver(struct conn *c)
{
    char msgid[MBX_MSGID_MAX + 1], text[64] = "";
    unsigned seq = 0;
    int rc = -2; /* no recipient left: nothing to store */

    body_msgid(c->body, msgid);
    if (rcpts_accepted(c) > 0)
        rc = mbx_store_message(c, msgid, &seq);
    if (rc >= 0) {
        snprintf(text, sizeof(text), "Ok: %s %06u", rc ? "stored as" : "duplicate of", seq);
        mbx_logmsg("%06u %s msgid=%s from=<%s> rcpts=%zu bytes=%zu", seq,
                   rc ? "stored" : "duplicate", msgid[0] ? msgid : "-", c->sender,
                   rcpts_accepted(c), c->body_len);
    } else if (rc == -2) {
        mbx_logmsg("no recipient accepted after data (injected) from=<%s>", c->sender);
    }
    if (!c->sink->lmtp) {
        if (rc < 0)
            mbx_reply(c, "451 4.3.0 Local storage error");
        else
            mbx_reply(c, "250 2.0.0 %s", text);
        return;
    }
    for (size_t i = 0; i < c->nrcpts; i++) {
        int code = c->rcpts[i].lmtp_code;

        if (code)
            mbx_reply(c, "%d %s <%s> mbxsink injected", code, mbx_enh_for(code, "5.1.1"),
                      c->rcpts[i].addr);
        else if (rc < 0)
            mbx_reply(c, "451 4.3.0 <%s> Local storage error", c->rcpts[i].addr);
        else
            mbx_reply(c, "250 2.1.5 <%s> %s", c->rcpts[i].addr, text);
    }
}

/* reply_each - the same reply once (SMTP) or once per recipient (LMTP) */
static void reply_each(struct conn *c, int code, const char *enh, const char *text)
{
    size_t n = c->sink->lmtp ? c->nrcpts : 1;

    for (size_t i = 0; i < n; i++)
        mbx_reply(c, "%d %s %s", code, enh, text);
}

/* data_end - the final dot: count, inject, store, answer */
static void data_end(struct conn *c)
{
    struct faults *f = &c->sink->faults;

    c->state = ST_CMD;
    c->sink->stats.messages++;
    if (f->drop_data) {
        mbx_logmsg("connection dropped after data (injected) from=<%s>", c->sender);
        mbx_conn_close(c);
    } else if (c->too_big) {
        mbx_logmsg("message too big, rejected from=<%s>", c->sender);
        reply_each(c, 552, "5.3.4", "Message too big");
    } else if (f->data) {
        mbx_logmsg("data answered %d (injected) from=<%s>", f->data, c->sender);
        reply_each(c, f->data, mbx_enh_for(f->data, "5.6.0"), "mbxsink injected");
    } else {
        deliver(c);
    }
    mbx_txn_reset(c);
}

/* data_add - n octets of content, unless the message is already too big */
static void data_add(struct conn *c, struct evbuffer *in, size_t n)
{
    if (!c->too_big && c->body_len + n > MBX_DATA_MAX) {
        c->too_big = 1;
        evbuffer_drain(c->body, evbuffer_get_length(c->body));
    }
    if (c->too_big) {
        evbuffer_drain(in, n);
        return;
    }
    evbuffer_remove_buffer(in, c->body, n);
    c->body_len += n;
}

/*
 * mbx_data_step - one content line (or a piece of a long one); 0 if more input is needed.
 * A line starts only after a real CRLF, so the end is CRLF "." CRLF and nothing else.
 */
int mbx_data_step(struct conn *c, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in), n;
    struct evbuffer_ptr crlf = evbuffer_search(in, "\r\n", 2, NULL);
    char head[3];

    if (crlf.pos >= 0)
        n = (size_t)crlf.pos + 2;
    else if (len >= MBX_DATA_CHUNK)
        n = len - 1; /* keep a CR that may start the CRLF */
    else
        return 0;
    if (c->bol) {
        evbuffer_copyout(in, head, n < 3 ? n : 3);
        if (n == 3 && memcmp(head, ".\r\n", 3) == 0) {
            evbuffer_drain(in, 3);
            data_end(c);
            return 1;
        }
        if (head[0] == '.') {
            evbuffer_drain(in, 1);
            n--;
        }
    }
    data_add(c, in, n);
    c->bol = crlf.pos >= 0;
    return 1;
}
