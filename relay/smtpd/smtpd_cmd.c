/*
 * smtpd_cmd.c - what each SMTP command does (SPEC section 4)
 *
 * Syntax comes from smtpd_parse; here are the order rules (503), the
 * directory check that keeps the hub from ever relaying (550 / 554), the
 * limits (452, 552) and the start and end of message content. Replies use
 * enhanced status codes throughout. What TLS allows is asked of
 * tls_policy.h before a command runs; STARTTLS itself is smtpd_tls.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "diskroom.h"
#include "directory.h"
#include "log.h"
#include "queueid.h"
#include "version.h"
#include "smtpd_session_int.h"

/* smtpd_log_reject - Postfix's NOQUEUE/QUEUEID reject line */
static void smtpd_log_reject(struct smtpd_session *s, const char *cmd, const char *reply,
                             const char *to)
{
    const char *qid = s->txn.queue_id[0] ? s->txn.queue_id : "NOQUEUE";
    log_info("smtpd", "%s: reject: %s from %s: %s; from=<%s>%s%s%s proto=%s%s helo=<%s>", qid, cmd,
             s->peer, reply, s->txn.active ? s->txn.mail.from.addr : "", to ? " to=<" : "",
             to ? to : "", to ? ">" : "", s->esmtp ? "ESMTP" : "SMTP", s->tls ? "S" : "", s->helo);
}

/* smtpd_cmd_helo - HELO and EHLO: a fresh start */
static void smtpd_cmd_helo(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
    char helo[DD_HELO_MAX + 1];
    bool ehlo = cmd->verb == SMTP_EHLO;

    if (smtpd_helo_parse(cmd->arg, cmd->arglen, helo, sizeof(helo)) != SMTPD_P_OK) {
        smtpd_reply_error(s, "501 5.5.4 Syntax: %s hostname", ehlo ? "EHLO" : "HELO");
        return;
    }
    smtpd_txn_reset(s);
    snprintf(s->helo, sizeof(s->helo), "%s", helo);
    s->helo_seen = true;
    s->esmtp = ehlo;
    if (!ehlo) {
        smtpd_reply(s, "250 %s", s->c->smtp.hostname);
        return;
    }
    smtpd_reply(s, "250-%s", s->c->smtp.hostname);
    smtpd_reply(s, "250-PIPELINING");
    smtpd_reply(s, "250-SIZE %llu", (unsigned long long)s->c->smtp.max_message_size);
    smtpd_reply(s, "250-8BITMIME");
    smtpd_reply(s, "250-ENHANCEDSTATUSCODES");
    smtpd_reply(s, "250-CHUNKING");
    struct smtpd_tls_state tls = smtpd_tls_facts(s);
    if (smtpd_tls_offer(&tls))
        smtpd_reply(s, "250-STARTTLS");
    smtpd_reply(s, "250 SMTPUTF8");
    s->pipelining = true;
}

/* smtpd_cmd_mail - MAIL FROM: starts a transaction */
static void smtpd_cmd_mail(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
    struct smtpd_mail m;
    enum smtpd_perr e;

    if (!s->helo_seen) {
        smtpd_reply_error(s, "503 5.5.1 Error: send HELO/EHLO first");
        return;
    }
    if (s->txn.active) {
        smtpd_reply_error(s, "503 5.5.1 Error: nested MAIL command");
        return;
    }
    if ((e = smtpd_mail_parse(cmd->arg, cmd->arglen, &m)) != SMTPD_P_OK) {
        smtpd_reply_error(s, "%s", smtpd_parse_reply(e));
        return;
    }
    if (m.from.utf8 && !m.smtputf8) {
        smtpd_reply_error(s, "553 5.6.7 Error: non-ASCII sender requires SMTPUTF8");
        return;
    }
    if (m.has_size && m.size > s->c->smtp.max_message_size) {
        smtpd_reply_error(s, "552 5.3.4 Message size exceeds fixed limit");
        return;
    }
    uint64_t avail;
    uint64_t inside = s->env->st ? store_reusable_bytes(s->env->st) : 0;
    if (!diskroom_ok(s->c->hub.data_dir, inside, s->c->hub.min_free, m.has_size ? m.size : 0,
                     &avail)) {
        /* not the client's error: no count towards max_errors */
        log_info("smtpd",
                 "NOQUEUE: reject: MAIL from %s: 452 4.3.1 Insufficient system storage; "
                 "room %llu bytes (free pages of the store included), min_free %llu",
                 s->peer, (unsigned long long)avail, (unsigned long long)s->c->hub.min_free);
        smtpd_reply(s, "452 4.3.1 Insufficient system storage");
        return;
    }
    s->txn.active = true;
    s->txn.mail = m;
    smtpd_reply(s, "250 2.1.0 Ok");
}

/* smtpd_rcpt_add - keep an accepted recipient; the first one names the queue id */
static void smtpd_rcpt_add(struct smtpd_session *s, const char *addr, const char *sg)
{
    struct smtpd_txn *t = &s->txn;

    if (t->nrcpts == t->caprcpts) {
        size_t cap = t->caprcpts ? t->caprcpts * 2 : 4;
        struct queue_msg_rcpt *r = realloc(t->rcpts, cap * sizeof(*r));
        if (r == NULL)
            abort();
        t->rcpts = r;
        t->caprcpts = cap;
    }
    snprintf(t->rcpts[t->nrcpts].addr, sizeof(t->rcpts[0].addr), "%s", addr);
    t->rcpts[t->nrcpts].route = RCPT_ROUTE_SG;
    snprintf(t->rcpts[t->nrcpts].sg, sizeof(t->rcpts[0].sg), "%s", sg);
    t->nrcpts++;
    if (t->queue_id[0] == 0) {
        queueid_new(t->queue_id);
        log_info("smtpd", "%s: client=%s", t->queue_id, s->peer);
    }
}

/* smtpd_cmd_rcpt - RCPT TO: only what the directory maps, never a relay */
static void smtpd_cmd_rcpt(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
    struct smtpd_rcpt r;
    enum smtpd_perr e;
    enum directory_result res;
    char reply[DD_ADDR_MAX + 128];

    if (!s->txn.active) {
        smtpd_reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    s->txn.rcpt_tries++;
    if ((e = smtpd_rcpt_parse(cmd->arg, cmd->arglen, &r)) != SMTPD_P_OK) {
        smtpd_reply_error(s, "%s", smtpd_parse_reply(e));
        return;
    }
    if (s->txn.nrcpts >= s->c->smtp.max_recipients) {
        smtpd_reply_error(s, "452 4.5.3 Error: too many recipients");
        return;
    }
    if (r.to.utf8 && !s->txn.mail.smtputf8) {
        smtpd_reply_error(s, "553 5.6.7 Error: non-ASCII recipient requires SMTPUTF8");
        return;
    }
    const char *sg = directory_lookup(s->env->dir, r.to.addr, &res);
    if (sg && res == DIRECTORY_FOUND) {
        smtpd_rcpt_add(s, r.to.addr, sg);
        smtpd_reply(s, "250 2.1.5 Ok");
        return;
    }
    if (res == DIRECTORY_UNKNOWN_USER)
        snprintf(reply, sizeof(reply), "550 5.1.1 <%s>: Recipient address rejected: User unknown",
                 r.to.addr);
    else
        snprintf(reply, sizeof(reply), "554 5.7.1 <%s>: Relay access denied", r.to.addr);
    smtpd_log_reject(s, "RCPT", reply, r.to.addr);
    s->env->stats->rcpts_rejected++;
    smtpd_reply_error(s, "%s", reply);
}

/* smtpd_sink - content chunks go to the store as they fill; the first
 * waits for the next one, or goes with the commit when it is the only one
 * (a message that fits one chunk takes one trip to the store) */
static void smtpd_sink(void *ctx, uint32_t seq, void *chunk, size_t len)
{
    struct smtpd_session *s = ctx;
    struct smtpd_txn *t = &s->txn;

    if (seq == 0) {
        t->held = chunk;
        t->held_len = len;
        return;
    }
    if (t->held) { /* not the only one: chunk 0 goes first */
        queue_chunk(s->env->q, t->msg_id, 0, t->held, t->held_len);
        t->held = NULL;
    }
    queue_chunk(s->env->q, t->msg_id, seq, chunk, len);
}

/* smtpd_proto - the "with" of the Received: field (RFC 3848, 6531) */
static const char *smtpd_proto(const struct smtpd_session *s)
{
    if (s->txn.mail.smtputf8)
        return s->tls ? "UTF8SMTPS" : "UTF8SMTP";
    if (s->esmtp)
        return s->tls ? "ESMTPS" : "ESMTP";
    return s->tls ? "SMTPS" : "SMTP";
}

/* smtpd_bare_lf - a bare LF in this client's content ends a line: [smtp]
 * bare_newline = normalize, or the client is in bare_newline_exclusions */
static bool smtpd_bare_lf(const struct smtpd_session *s)
{
    const struct conf *c = s->c;

    return c->smtp.bare_newline == CONF_BARE_NEWLINE_NORMALIZE ||
           conf_net_match(c->smtp.bare_newline_exclusions, c->smtp.nbare_newline_exclusions, s->ip);
}

/* smtpd_cmd_content_begin - Received: first, then the client's octets */
void smtpd_cmd_content_begin(struct smtpd_session *s, enum smtpd_data_mode mode)
{
    struct smtpd_txn *t = &s->txn;
    char received[2 * DD_HELO_MAX + DD_ADDR_MAX + 512];
    char msgid[DD_QUEUEID_LEN + DD_HOSTNAME_MAX + 4];
    struct mail_hdr_received r = {
        .helo = s->helo,
        .ip = s->ip,
        .hostname = s->c->smtp.hostname,
        .proto = smtpd_proto(s),
        .queueid = t->queue_id,
        .rcpt = t->nrcpts == 1 ? t->rcpts[0].addr : NULL,
        .when = time(NULL),
        .version = s->c->smtp.banner_version ? DD_VERSION : NULL,
        .tls = s->tls ? s->tls_desc : NULL,
    };
    size_t rlen = mail_hdr_received(received, sizeof(received), &r);

    snprintf(msgid, sizeof(msgid), "<%s@%s>", t->queue_id, s->c->smtp.hostname);
    t->msg_id = queue_new_msg_id(s->env->q);
    t->content_started = true;
    smtpd_content_begin(&t->content, mode, smtpd_bare_lf(s), s->c->smtp.max_message_size, received,
                        rlen, msgid, smtpd_sink, s);
}

/* smtpd_cmd_data - DATA: 354, then content until CRLF.CRLF */
static void smtpd_cmd_data(struct smtpd_session *s)
{
    if (!s->txn.active) {
        smtpd_reply_error(s, "503 5.5.1 Error: need MAIL command");
        return;
    }
    if (s->txn.nrcpts == 0) { /* out of order without RCPT; refused when all were */
        smtpd_reply_error(s, s->txn.rcpt_tries ? "554 5.5.1 Error: no valid recipients"
                                               : "503 5.5.1 Error: need RCPT command");
        return;
    }
    if (s->txn.content_started) {
        smtpd_reply_error(s, "503 5.5.1 Error: DATA after BDAT");
        return;
    }
    smtpd_cmd_content_begin(s, SMTPD_DATA_DOT);
    s->state = SMTPD_S_DATA;
    smtpd_data_deadline(s, true);
    smtpd_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* smtpd_cmd_bdat - BDAT n [LAST]: the chunk is read even when refused */
static void smtpd_cmd_bdat(struct smtpd_session *s, const struct smtpd_cmd *cmd)
{
    uint64_t size;
    bool last;
    enum smtpd_perr e = smtpd_bdat_parse(cmd->arg, cmd->arglen, &size, &last);

    if (e != SMTPD_P_OK) {
        /* the chunk size is unknown: nothing can be skipped, so close */
        smtpd_reply(s, "%s", smtpd_parse_reply(e));
        smtpd_close_after_reply(s);
        return;
    }
    s->bdat_left = size;
    s->bdat_last = last;
    s->bdat_refuse = NULL;
    s->state = SMTPD_S_BDAT;
    smtpd_data_deadline(s, true); /* from the first chunk to the LAST one */
    if (!s->txn.active)
        s->bdat_refuse = "503 5.5.1 Error: need MAIL command";
    else if (s->txn.nrcpts == 0)
        s->bdat_refuse = s->txn.rcpt_tries ? "554 5.5.1 Error: no valid recipients"
                                           : "503 5.5.1 Error: need RCPT command";
    else if (!s->txn.content_started)
        smtpd_cmd_content_begin(s, SMTPD_DATA_BDAT);
}

/* smtpd_commit - hand the finished message to the store; 250 comes later */
static void smtpd_commit(struct smtpd_session *s)
{
    struct smtpd_txn *t = &s->txn;
    struct queue_msg *m = calloc(1, sizeof(*m));

    if (m == NULL)
        abort();
    m->msg_id = t->msg_id;
    memcpy(m->queue_id, t->queue_id, sizeof(m->queue_id));
    snprintf(m->sender, sizeof(m->sender), "%s", t->mail.from.addr);
    m->message_id = t->content.message_id;
    t->content.message_id = NULL;
    m->size = t->content.stored;
    m->nchunks = t->content.seq;
    m->tail = t->held; /* chunk 0 when it is the only one (smtpd_sink) */
    m->tail_len = t->held_len;
    t->held = NULL;
    m->received_ms = clock_now_ms();
    snprintf(m->client_ip, sizeof(m->client_ip), "%s", s->ip);
    snprintf(m->helo, sizeof(m->helo), "%s", s->helo);
    snprintf(m->proto, sizeof(m->proto), "%s", smtpd_proto(s));
    m->body = !t->mail.has_body                    ? MSG_BODY_NONE
              : t->mail.body == SMTP_BODY_8BITMIME ? MSG_BODY_8BITMIME
                                                   : MSG_BODY_7BIT;
    m->smtputf8 = !t->mail.smtputf8          ? MSG_UTF8_NO
                  : t->content.hdr.eight_bit ? MSG_UTF8_HEADERS
                                             : MSG_UTF8_ASKED;
    m->rcpts = t->rcpts;
    m->nrcpts = t->nrcpts;
    t->rcpts = NULL;
    log_info("cleanup", "%s: message-id=%s", t->queue_id, m->message_id ? m->message_id : "");
    log_info("qmgr", "%s: from=<%s>, size=%llu, nrcpt=%zu (queue active)", t->queue_id, m->sender,
             (unsigned long long)m->size, m->nrcpts);
    smtpd_content_free(&t->content);
    t->content_started = false;
    s->state = SMTPD_S_COMMIT; /* input waits in the buffer, bounded by its watermark */
    s->env->commit(s->env->commit_ctx, m, s->env->committed, s->env->ctx, s->id);
}

/* smtpd_cmd_content_done - end of DATA, or the end of a BDAT chunk */
void smtpd_cmd_content_done(struct smtpd_session *s)
{
    struct smtpd_txn *t = &s->txn;
    const char *reject;

    s->state = SMTPD_S_CMD;
    if (s->bdat_refuse) {
        smtpd_data_deadline(s, false);
        smtpd_reply_error(s, "%s", s->bdat_refuse);
        s->bdat_refuse = NULL;
        return;
    }
    bool bdat = t->content.data.mode == SMTPD_DATA_BDAT;
    if (bdat && !s->bdat_last && !t->content.too_big) {
        smtpd_reply(s, "250 2.0.0 Ok: %llu octets received",
                    (unsigned long long)t->content.client_size);
        return;
    }
    smtpd_data_deadline(s, false);
    smtpd_content_end(&t->content);
    reject = smtpd_content_reject_reply(&t->content, s->c->smtp.max_received_headers);
    if (reject) {
        smtpd_log_reject(s, bdat ? "BDAT" : "END-OF-MESSAGE", reject, NULL);
        smtpd_txn_reset(s);
        smtpd_reply_error(s, "%s", reject);
        return;
    }
    smtpd_commit(s);
}

/* smtpd_count - the disconnect line's per-command counters */
static void smtpd_count(struct smtpd_session *s, enum smtpd_verb v)
{
    struct smtpd_counts *k = &s->counts;
    unsigned *slot[] = {
        [SMTP_UNKNOWN] = &k->unknown, [SMTP_HELO] = &k->helo,         [SMTP_EHLO] = &k->ehlo,
        [SMTP_MAIL] = &k->mail,       [SMTP_RCPT] = &k->rcpt,         [SMTP_DATA] = &k->data,
        [SMTP_BDAT] = &k->bdat,       [SMTP_RSET] = &k->rset,         [SMTP_NOOP] = &k->noop,
        [SMTP_QUIT] = &k->quit,       [SMTP_VRFY] = &k->vrfy,         [SMTP_HELP] = &k->help,
        [SMTP_EXPN] = &k->unknown,    [SMTP_STARTTLS] = &k->starttls, [SMTP_AUTH] = &k->unknown,
    };
    if ((size_t)v < sizeof(slot) / sizeof(slot[0]) && slot[v])
        (*slot[v])++;
    k->total++;
}

/* smtpd_cmd_dispatch - one command line (no CRLF) */
void smtpd_cmd_dispatch(struct smtpd_session *s, const char *line, size_t len)
{
    struct smtpd_cmd cmd;
    enum smtpd_perr e = smtpd_cmd_parse(line, len, &cmd);

    smtpd_count(s, e == SMTPD_P_OK ? cmd.verb : SMTP_UNKNOWN);
    if (e != SMTPD_P_OK) {
        smtpd_reply_error(s, "%s", smtpd_parse_reply(e));
        return;
    }
    struct smtpd_tls_state tls = smtpd_tls_facts(s);
    enum smtpd_tls_verdict tv = smtpd_tls_gate(&tls, cmd.verb);
    if (tv == SMTPD_TLS_START) {
        smtpd_tls_cmd(s);
        return;
    }
    if (tv != SMTPD_TLS_GO) {
        smtpd_reply_error(s, "%s", smtpd_tls_reply(tv));
        return;
    }
    switch (cmd.verb) {
    case SMTP_HELO:
    case SMTP_EHLO:
        smtpd_cmd_helo(s, &cmd);
        break;
    case SMTP_MAIL:
        smtpd_cmd_mail(s, &cmd);
        break;
    case SMTP_RCPT:
        smtpd_cmd_rcpt(s, &cmd);
        break;
    case SMTP_DATA:
        smtpd_cmd_data(s);
        break;
    case SMTP_BDAT:
        smtpd_cmd_bdat(s, &cmd);
        break;
    case SMTP_RSET:
        smtpd_txn_reset(s);
        smtpd_reply(s, "250 2.0.0 Ok");
        break;
    case SMTP_NOOP:
        smtpd_reply(s, "250 2.0.0 Ok");
        break;
    case SMTP_VRFY:
        smtpd_reply(s, "252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
        break;
    case SMTP_HELP:
        smtpd_reply(s,
                    "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
        break;
    case SMTP_QUIT:
        smtpd_reply(s, "221 2.0.0 Bye");
        smtpd_close_after_reply(s);
        break;
    default:
        smtpd_reply_error(s, "502 5.5.1 Error: command not implemented");
        break;
    }
}
