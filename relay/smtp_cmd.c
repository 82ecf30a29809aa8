/*
 * smtp_cmd.c - what each SMTP command does (SPEC section 4)
 *
 * Syntax comes from smtp_parse; here are the order rules (503), the
 * directory check that keeps the hub from ever relaying (550 / 554), the
 * limits (452, 552) and the start and end of message content. Replies use
 * enhanced status codes throughout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory.h"
#include "log.h"
#include "queueid.h"
#include "smtp_session_int.h"

/* smtp_log_reject - Postfix's NOQUEUE/QUEUEID reject line */
static void smtp_log_reject(struct smtp_session *s, const char *cmd, const char *reply,
                            const char *to)
{
    const char *qid = s->txn.queue_id[0] ? s->txn.queue_id : "NOQUEUE";
    log_info("smtpd", "%s: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s helo=<%s>", qid, cmd,
             s->peer, reply, s->txn.active ? s->txn.mail.from.addr : "", to ? " to=<" : "",
             to ? to : "", to ? ">" : "", s->esmtp ? "ESMTP" : "SMTP", s->helo);
}

/* smtp_cmd_helo - HELO and EHLO: a fresh start */
static void smtp_cmd_helo(struct smtp_session *s, const struct smtp_cmd *cmd)
{
    char helo[DD_HELO_MAX + 1];
    bool ehlo = cmd->verb == SMTP_EHLO;

    if (smtp_helo_parse(cmd->arg, cmd->arglen, helo, sizeof(helo)) != SMTP_P_OK) {
        smtp_reply_error(s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
        return;
    }
    smtp_txn_reset(s);
    snprintf(s->helo, sizeof(s->helo), "%s", helo);
    s->helo_seen = true;
    s->esmtp = ehlo;
    if (!ehlo) {
        smtp_reply(s, "250 %s", s->c->smtp.hostname);
        return;
    }
    smtp_reply(s, "250-%s", s->c->smtp.hostname);
    smtp_reply(s, "250-PIPELINING");
    smtp_reply(s, "250-SIZE %llu", (unsigned long long)s->c->smtp.max_message_size);
    smtp_reply(s, "250-8BITMIME");
    smtp_reply(s, "250-ENHANCEDSTATUSCODES");
    smtp_reply(s, "250-CHUNKING");
    smtp_reply(s, "250 SMTPUTF8");
    s->pipelining = true;
}

/* smtp_cmd_mail - MAIL FROM: starts a transaction */
static void smtp_cmd_mail(struct smtp_session *s, const struct smtp_cmd *cmd)
{
    struct smtp_mail m;
    enum smtp_perr e;

    if (!s->helo_seen) {
        smtp_reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (s->txn.active) {
        smtp_reply_error(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if ((e = smtp_mail_parse(cmd->arg, cmd->arglen, &m)) != SMTP_P_OK) {
        smtp_reply_error(s, "%s", smtp_parse_reply(e));
        return;
    }
    if (m.from.utf8 && !m.smtputf8) {
        smtp_reply_error(s, "553 5.6.7 Error: non-ASCII sender requires SMTPUTF8");
        return;
    }
    if (m.has_size && m.size > s->c->smtp.max_message_size) {
        smtp_reply_error(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    s->txn.active = true;
    s->txn.mail = m;
    smtp_reply(s, "250 2.1.0 Ok");
}

/* smtp_rcpt_add - keep an accepted recipient; the first one names the queue id */
static void smtp_rcpt_add(struct smtp_session *s, const char *addr, const char *sg)
{
    struct smtp_txn *t = &s->txn;

    if (t->nrcpts == t->caprcpts) {
        size_t cap = t->caprcpts ? t->caprcpts * 2 : 4;
        struct store_rcpt *r = realloc(t->rcpts, cap * sizeof(*r));
        if (r == NULL)
            abort();
        t->rcpts = r;
        t->caprcpts = cap;
    }
    snprintf(t->rcpts[t->nrcpts].addr, sizeof(t->rcpts[0].addr), "%s", addr);
    snprintf(t->rcpts[t->nrcpts].sg, sizeof(t->rcpts[0].sg), "%s", sg);
    t->nrcpts++;
    if (t->queue_id[0] == 0) {
        queueid_new(t->queue_id);
        log_info("smtpd", "%s: client=%s", t->queue_id, s->peer);
    }
}

/* smtp_cmd_rcpt - RCPT TO: only what the directory maps, never a relay */
static void smtp_cmd_rcpt(struct smtp_session *s, const struct smtp_cmd *cmd)
{
    struct smtp_rcpt r;
    enum smtp_perr e;
    enum directory_result res;
    char reply[DD_ADDR_MAX + 128];

    if (!s->txn.active) {
        smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    s->txn.rcpt_tries++;
    if ((e = smtp_rcpt_parse(cmd->arg, cmd->arglen, &r)) != SMTP_P_OK) {
        smtp_reply_error(s, "%s", smtp_parse_reply(e));
        return;
    }
    if (s->txn.nrcpts >= s->c->smtp.max_recipients) {
        smtp_reply_error(s, "452 4.5.3 Error: too many recipients");
        return;
    }
    if (r.to.utf8 && !s->txn.mail.smtputf8) {
        smtp_reply_error(s, "553 5.6.7 Error: non-ASCII recipient requires SMTPUTF8");
        return;
    }
    const char *sg = directory_lookup(server_directory(s->srv), r.to.addr, &res);
    if (sg && res == DIRECTORY_FOUND) {
        smtp_rcpt_add(s, r.to.addr, sg);
        smtp_reply(s, "250 2.1.5 Ok");
        return;
    }
    if (res == DIRECTORY_UNKNOWN_USER)
        snprintf(reply, sizeof(reply), "550 5.1.1 <%s>: Recipient address rejected: User unknown",
                 r.to.addr);
    else
        snprintf(reply, sizeof(reply), "554 5.7.1 <%s>: Relay access denied", r.to.addr);
    smtp_log_reject(s, "RCPT", reply, r.to.addr);
    server_counters(s->srv)->rcpts_rejected++;
    smtp_reply_error(s, "%s", reply);
}

/* smtp_sink - content chunks go to the store as they fill */
static void smtp_sink(void *ctx, uint32_t seq, void *chunk, size_t len)
{
    struct smtp_session *s = ctx;
    store_chunk(server_store(s->srv), s->txn.msg_id, seq, chunk, len);
}

/* smtp_proto - the "with" of the Received: field */
static const char *smtp_proto(const struct smtp_session *s)
{
    if (s->txn.mail.smtputf8)
        return "UTF8SMTP";
    return s->esmtp ? "ESMTP" : "SMTP";
}

/* smtp_cmd_content_begin - Received: first, then the client's octets */
void smtp_cmd_content_begin(struct smtp_session *s, enum smtp_data_mode mode)
{
    struct smtp_txn *t = &s->txn;
    char received[2 * DD_HELO_MAX + DD_ADDR_MAX + 512];
    char msgid[DD_QUEUEID_LEN + DD_HOSTNAME_MAX + 4];
    struct mail_hdr_received r = {
        .helo = s->helo,
        .ip = s->ip,
        .hostname = s->c->smtp.hostname,
        .proto = smtp_proto(s),
        .queueid = t->queue_id,
        .rcpt = t->nrcpts == 1 ? t->rcpts[0].addr : NULL,
        .when = time(NULL),
    };
    size_t rlen = mail_hdr_received(received, sizeof(received), &r);

    snprintf(msgid, sizeof(msgid), "<%s@%s>", t->queue_id, s->c->smtp.hostname);
    t->msg_id = store_new_msg_id(server_store(s->srv));
    t->content_started = true;
    smtp_content_begin(&t->content, mode, s->c->smtp.max_message_size, received, rlen, msgid,
                       smtp_sink, s);
}

/* smtp_cmd_data - DATA: 354, then content until CRLF.CRLF */
static void smtp_cmd_data(struct smtp_session *s)
{
    if (!s->txn.active) {
        smtp_reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->txn.nrcpts == 0) { /* out of order without RCPT; refused when all were */
        smtp_reply_error(s, s->txn.rcpt_tries ? "554 5.5.1 Error: no valid recipients"
                                              : "503 5.5.1 Error: need RCPT command");
        return;
    }
    if (s->txn.content_started) {
        smtp_reply_error(s, "503 5.5.1 Error: DATA after BDAT");
        return;
    }
    smtp_cmd_content_begin(s, SMTP_DATA_DOT);
    s->state = SMTP_S_DATA;
    smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* smtp_cmd_bdat - BDAT n [LAST]: the chunk is read even when refused */
static void smtp_cmd_bdat(struct smtp_session *s, const struct smtp_cmd *cmd)
{
    uint64_t size;
    bool last;
    enum smtp_perr e = smtp_bdat_parse(cmd->arg, cmd->arglen, &size, &last);

    if (e != SMTP_P_OK) {
        /* the chunk size is unknown: nothing can be skipped, so close */
        smtp_reply(s, "%s", smtp_parse_reply(e));
        smtp_close_after_reply(s);
        return;
    }
    s->bdat_left = size;
    s->bdat_last = last;
    s->bdat_refuse = NULL;
    s->state = SMTP_S_BDAT;
    if (!s->txn.active)
        s->bdat_refuse = "503 5.5.1 Error: need MAIL command";
    else if (s->txn.nrcpts == 0)
        s->bdat_refuse = s->txn.rcpt_tries ? "554 5.5.1 Error: no valid recipients"
                                           : "503 5.5.1 Error: need RCPT command";
    else if (!s->txn.content_started)
        smtp_cmd_content_begin(s, SMTP_DATA_BDAT);
}

/* smtp_commit - hand the finished message to the store; 250 comes later */
static void smtp_commit(struct smtp_session *s)
{
    struct smtp_txn *t = &s->txn;
    struct store_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        abort();
    m->msg_id = t->msg_id;
    memcpy(m->queue_id, t->queue_id, sizeof(m->queue_id));
    snprintf(m->sender, sizeof(m->sender), "%s", t->mail.from.addr);
    m->message_id = t->content.message_id;
    t->content.message_id = NULL;
    m->size = t->content.stored;
    m->nchunks = t->content.seq;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->received_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    snprintf(m->client_ip, sizeof(m->client_ip), "%s", s->ip);
    snprintf(m->helo, sizeof(m->helo), "%s", s->helo);
    snprintf(m->proto, sizeof(m->proto), "%s", smtp_proto(s));
    m->rcpts = t->rcpts;
    m->nrcpts = t->nrcpts;
    t->rcpts = NULL;
    log_info("cleanup", "%s: message-id=%s", t->queue_id, m->message_id ? m->message_id : "");
    log_info("qmgr", "%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", t->queue_id, m->sender,
             (unsigned long long)m->size, m->nrcpts);
    smtp_content_free(&t->content);
    t->content_started = false;
    s->state = SMTP_S_COMMIT; /* input waits in the buffer, bounded by its watermark */
    store_commit(server_store(s->srv), m, s->id);
}

/* smtp_cmd_content_done - end of DATA, or the end of a BDAT chunk */
void smtp_cmd_content_done(struct smtp_session *s)
{
    struct smtp_txn *t = &s->txn;
    const char *reject;

    s->state = SMTP_S_CMD;
    if (s->bdat_refuse) {
        smtp_reply_error(s, "%s", s->bdat_refuse);
        s->bdat_refuse = NULL;
        return;
    }
    bool bdat = t->content.data.mode == SMTP_DATA_BDAT;
    if (bdat && !s->bdat_last && !t->content.too_big) {
        smtp_reply(s, "250 2.0.0 Ok: %llu octets received",
                   (unsigned long long)t->content.client_size);
        return;
    }
    smtp_content_end(&t->content);
    reject = smtp_content_reject_reply(&t->content, s->c->smtp.max_received_headers);
    if (reject) {
        smtp_log_reject(s, bdat ? "BDAT" : "END-OF-MESSAGE", reject, NULL);
        smtp_txn_reset(s);
        smtp_reply_error(s, "%s", reject);
        return;
    }
    smtp_commit(s);
}

/* smtp_count - the disconnect line's per-command counters */
static void smtp_count(struct smtp_session *s, enum smtp_verb v)
{
    struct smtp_counts *k = &s->counts;
    unsigned *slot[] = {
        [SMTP_UNKNOWN] = &k->unknown, [SMTP_HELO] = &k->helo,        [SMTP_EHLO] = &k->ehlo,
        [SMTP_MAIL] = &k->mail,       [SMTP_RCPT] = &k->rcpt,        [SMTP_DATA] = &k->data,
        [SMTP_BDAT] = &k->bdat,       [SMTP_RSET] = &k->rset,        [SMTP_NOOP] = &k->noop,
        [SMTP_QUIT] = &k->quit,       [SMTP_VRFY] = &k->vrfy,        [SMTP_HELP] = &k->help,
        [SMTP_EXPN] = &k->unknown,    [SMTP_STARTTLS] = &k->unknown, [SMTP_AUTH] = &k->unknown,
    };
    if ((size_t)v < sizeof(slot) / sizeof(slot[0]) && slot[v])
        (*slot[v])++;
    k->total++;
}

/* smtp_cmd_dispatch - one command line (no CRLF) */
void smtp_cmd_dispatch(struct smtp_session *s, const char *line, size_t len)
{
    struct smtp_cmd cmd;
    enum smtp_perr e = smtp_cmd_parse(line, len, &cmd);

    smtp_count(s, e == SMTP_P_OK ? cmd.verb : SMTP_UNKNOWN);
    if (e != SMTP_P_OK) {
        smtp_reply_error(s, "%s", smtp_parse_reply(e));
        return;
    }
    switch (cmd.verb) {
    case SMTP_HELO:
    case SMTP_EHLO:
        smtp_cmd_helo(s, &cmd);
        break;
    case SMTP_MAIL:
        smtp_cmd_mail(s, &cmd);
        break;
    case SMTP_RCPT:
        smtp_cmd_rcpt(s, &cmd);
        break;
    case SMTP_DATA:
        smtp_cmd_data(s);
        break;
    case SMTP_BDAT:
        smtp_cmd_bdat(s, &cmd);
        break;
    case SMTP_RSET:
        smtp_txn_reset(s);
        smtp_reply(s, "250 2.0.0 Ok");
        break;
    case SMTP_NOOP:
        smtp_reply(s, "250 2.0.0 Ok");
        break;
    case SMTP_VRFY:
        smtp_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
        break;
    case SMTP_HELP:
        smtp_reply(s, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
        break;
    case SMTP_QUIT:
        smtp_reply(s, "221 2.0.0 Bye");
        smtp_close_after_reply(s);
        break;
    default:
        smtp_reply_error(s, "502 5.5.1 Error: command not implemented");
        break;
    }
}
