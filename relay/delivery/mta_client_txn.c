/*
 * mta_client_txn.c - one mail transaction on an outbound connection
 *
 * [RSET] MAIL RCPT... DATA, all in one write when the server offered
 * PIPELINING (RFC 2920), else one command per reply. MAIL FROM passes on
 * the message's BODY= and SMTPUTF8 when the server offers 8BITMIME and
 * SMTPUTF8 (RFC 6152, 6531); an 8BITMIME body goes as it is to a server
 * that does not offer 8BITMIME (logged), and a message that needs SMTPUTF8
 * is refused before MAIL when the server does not offer it (5.6.7). Replies come back in
 * the order of the commands, so c->step says which command the next reply
 * answers. A recipient stays open (code 0) until a reply decides it: its
 * RCPT reply when that failed, the MAIL or DATA reply when those failed,
 * else the end-of-data reply (SMTP: one for all; LMTP: one each, in order).
 *
 * A reply that cannot answer the command it comes for (mta_reply_in_step:
 * a 503 to a RCPT after an accepted MAIL, a 250 to DATA, any success amid
 * the content) means the server answers another command than we think:
 * the replies are out of step and none of the transaction can be trusted.
 * Its recipients are left undecided (code 0, a temporary failure, never a
 * bounce), except those an end-of-data reply already decided, and the
 * connection ends.
 *
 * The content is moved from the job's buffer to the output a slice at a
 * time, up to DD_SMTP_CLIENT_OUT_HIGH; the write callback refills it when
 * it drains below DD_SMTP_CLIENT_OUT_LOW. Lines that start with "." get
 * another one (RFC 5321 4.5.2); the content is CRLF-only already.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "mta_client_int.h"

/* addr_ok - an address fit for a command line: no control octets, no <> */
static bool addr_ok(const char *a, bool may_be_empty)
{
    size_t n = strlen(a), i;

    if ((n == 0 && !may_be_empty) || n > DD_PATH_MAX)
        return false;
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)a[i];

        if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>')
            return false;
    }
    return true;
}

/* eight_bit - any octet >= 0x80 in a */
static bool eight_bit(const char *a)
{
    for (; *a; a++)
        if ((unsigned char)*a >= 0x80)
            return true;
    return false;
}

/* job_ok - a job the client can put on the wire */
static bool job_ok(const struct mta_client_job *job)
{
    size_t i;

    if (job->sender == NULL || job->rcpts == NULL || job->nrcpts == 0)
        return false;
    if (!addr_ok(job->sender, true))
        return false;
    for (i = 0; i < job->nrcpts; i++)
        if (job->rcpts[i] == NULL || !addr_ok(job->rcpts[i], false))
            return false;
    return true;
}

/* needs_utf8 - an address with 8-bit octets asks for SMTPUTF8 (RFC 6531) */
static bool needs_utf8(const struct mta_client_job *job)
{
    size_t i;

    if (eight_bit(job->sender))
        return true;
    for (i = 0; i < job->nrcpts; i++)
        if (eight_bit(job->rcpts[i]))
            return true;
    return false;
}

/* job_needs_utf8 - the message cannot go without SMTPUTF8 (RFC 6531 3.2):
 * it came with SMTPUTF8 and its header section or envelope is not ASCII */
static bool job_needs_utf8(const struct mta_client_job *job)
{
    return job->smtputf8 && (job->utf8_headers || needs_utf8(job));
}

/* mta_client_job_refused - SMTPUTF8 needed and not offered: 550 5.6.7 */
bool mta_client_job_refused(const struct mta_client *c, const struct mta_client_job *job,
                            struct mta_client_reply *why)
{
    if ((c->ext & SMTP_EXT_SMTPUTF8) || !job_needs_utf8(job))
        return false;
    *why = (struct mta_client_reply){.code = 550, .enh = "5.6.7"};
    snprintf(why->text, sizeof(why->text), "SMTPUTF8 is required, but was not offered by host %s",
             c->peer_name);
    return true;
}

/* send_mail - MAIL FROM with SIZE, BODY and SMTPUTF8 when the server offers them */
static void send_mail(struct mta_client *c)
{
    static const char *const body[] = {"", " BODY=7BIT", " BODY=8BITMIME"};
    const struct mta_client_job *job = &c->job;
    char size[32] = "";
    bool has_8bitmime = (c->ext & SMTP_EXT_8BITMIME) != 0;
    bool utf8 = (c->ext & SMTP_EXT_SMTPUTF8) && (job->smtputf8 || needs_utf8(job));

    if (c->ext & SMTP_EXT_SIZE)
        snprintf(size, sizeof(size), " SIZE=%zu", job->size);
    if (job->body == MTA_CLIENT_BODY_8BITMIME && !has_8bitmime)
        log_warn("smtp", "%s: host %s offers no 8BITMIME: the BODY=8BITMIME content goes as it is",
                 job->queue_id ? job->queue_id : "NOQUEUE", c->peer_name);
    mta_client_put(c, "MAIL FROM:<%s>%s%s%s", job->sender, size,
                   has_8bitmime && job->body <= MTA_CLIENT_BODY_8BITMIME ? body[job->body] : "",
                   utf8 ? " SMTPUTF8" : "");
}

/* send_step - the command of one step */
static void send_step(struct mta_client *c, size_t step)
{
    if (step == STEP_RSET)
        mta_client_put(c, "RSET");
    else if (step == STEP_MAIL)
        send_mail(c);
    else if (step < c->data_step)
        mta_client_put(c, "RCPT TO:<%s>", c->job.rcpts[step - STEP_RCPT]);
    else
        mta_client_put(c, "DATA");
}

/* mta_client_send - start a job on an idle client */
int mta_client_send(struct mta_client *c, const struct mta_client_job *job)
{
    size_t s;

    struct mta_client_reply why;

    if (!mta_client_usable(c) || !job_ok(job) || mta_client_job_refused(c, job, &why))
        return -1;
    c->res = calloc(job->nrcpts, sizeof(*c->res));
    c->accepted = calloc(job->nrcpts, sizeof(*c->accepted));
    if (c->res == NULL || c->accepted == NULL) {
        mta_client_txn_free(c);
        return -1;
    }
    c->job = *job;
    c->naccepted = c->dot_left = c->dot_next = 0;
    c->mail_ok = c->dot_ignore = false;
    c->bol = true;
    c->pipelined = (c->ext & SMTP_EXT_PIPELINING) != 0;
    c->step = c->used ? STEP_RSET : STEP_MAIL;
    c->data_step = STEP_RCPT + job->nrcpts;
    c->used = true;
    c->st = C_TXN;
    for (s = c->step; s <= c->data_step; s++) {
        send_step(c, s);
        if (!c->pipelined)
            break;
    }
    mta_client_set_timer(c);
    mta_client_flush(c);
    return 0;
}

/* mta_client_txn_settle - every open recipient gets r */
void mta_client_txn_settle(struct mta_client *c, const struct mta_client_reply *r)
{
    size_t i;

    for (i = 0; i < c->job.nrcpts; i++)
        if (c->res[i].code == 0)
            c->res[i] = *r;
}

/* mta_client_job_done - hand the results over; idle again unless closed */
void mta_client_job_done(struct mta_client *c)
{
    struct mta_client_result out = {c->res, c->job.nrcpts};

    c->res = NULL; /* done() may send the next job */
    free(c->accepted);
    c->accepted = NULL;
    memset(&c->job, 0, sizeof(c->job));
    if (c->st != C_CLOSED) {
        c->st = C_IDLE;
        mta_client_set_timer(c);
    }
    c->cb.done(c->cb.ctx, c, &out);
    free(out.rcpt);
}

/* text_set - a description in r->text, cut to fit */
static void __attribute__((format(printf, 2, 3)))
text_set(struct mta_client_reply *r, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(r->text, sizeof(r->text), fmt, ap);
    va_end(ap);
}

/* out_of_step - r cannot answer what it came for: undecide what no
 * end-of-data reply decided, close; true when r was out of step */
static bool out_of_step(struct mta_client *c, enum mta_step step, bool expected,
                        const struct mta_client_reply *r)
{
    struct mta_client_reply why = {.code = 0, .enh = "4.5.0"};
    static const char *const what[] = {"MAIL FROM", "RCPT TO", "DATA", "the message content",
                                       "end of data"};

    if (mta_reply_in_step(step, r->code, r->enh, expected))
        return false;
    for (size_t i = 0; i < c->job.nrcpts; i++)
        if (c->st != C_DOT || !c->accepted[i])
            c->res[i].code = 0;
    text_set(&why, "replies out of step from %s: \"%s\" in reply to %s", c->peer_name, r->text,
             what[step]);
    mta_client_shut(c, &why, &why);
    return true;
}

/* mta_client_content_reply - a reply amid the content: an early refusal
 * decides the open recipients, anything else is out of step; either way
 * the connection ends */
void mta_client_content_reply(struct mta_client *c, const struct mta_client_reply *r)
{
    if (!out_of_step(c, MTA_STEP_CONTENT, true, r))
        mta_client_shut(c, r, r);
}

/* rcpt_reply - a RCPT reply; after a failed MAIL it decides nothing */
static void rcpt_reply(struct mta_client *c, size_t i, const struct mta_client_reply *r)
{
    if (!c->mail_ok)
        return;
    if (r->code / 100 == 2) {
        c->accepted[i] = true;
        c->naccepted++;
    } else {
        c->res[i] = *r;
    }
}

/* content_start - 354: stream the content under the output watermarks */
static void content_start(struct mta_client *c)
{
    struct timeval tv = {(time_t)(c->reply_timeout > 0 ? c->reply_timeout : 1), 0};

    c->st = C_CONTENT;
    mta_client_set_timer(c); /* the write timeout watches progress now */
    bufferevent_setwatermark(c->bev, EV_WRITE, DD_SMTP_CLIENT_OUT_LOW, 0);
    bufferevent_set_timeouts(c->bev, NULL, &tv);
    mta_client_content_fill(c);
}

/* data_reply - 354: content (or only "." when nobody wants it); 4xx/5xx:
 * it decides the open recipients; anything else is out of step */
static void data_reply(struct mta_client *c, const struct mta_client_reply *r)
{
    if (out_of_step(c, MTA_STEP_DATA, c->mail_ok && c->naccepted > 0, r))
        return;
    if (r->code == 354) {
        if (c->mail_ok && c->naccepted > 0) {
            content_start(c);
            return;
        }
        mta_client_put(c, "."); /* pipelined DATA got 354 anyway */
        c->dot_ignore = true;
        c->dot_left = 1;
        c->st = C_DOT;
        return;
    }
    mta_client_txn_settle(c, r);
    mta_client_job_done(c);
}

/* txn_next - without pipelining: the next command, or the end */
static void txn_next(struct mta_client *c)
{
    if (c->step > STEP_MAIL && !c->mail_ok) {
        mta_client_job_done(c);
        return;
    }
    if (c->step == c->data_step && c->naccepted == 0) {
        mta_client_job_done(c); /* nobody accepted: no DATA */
        return;
    }
    send_step(c, c->step);
}

/* mta_client_txn_reply - a reply to RSET, MAIL, RCPT or DATA */
void mta_client_txn_reply(struct mta_client *c, const struct mta_client_reply *r)
{
    size_t step = c->step++;

    if (step == STEP_RSET && r->code / 100 != 2) {
        struct mta_client_reply open = {0, "", ""};

        text_set(&open, "RSET refused by %s: %s", c->peer_name, r->text);
        mta_client_shut(c, &open, r);
        return;
    }
    if (step == STEP_MAIL) {
        if (out_of_step(c, MTA_STEP_MAIL, true, r))
            return;
        c->mail_ok = r->code / 100 == 2;
        if (!c->mail_ok)
            mta_client_txn_settle(c, r);
    } else if (step > STEP_MAIL && step < c->data_step) {
        if (out_of_step(c, MTA_STEP_RCPT, c->mail_ok, r))
            return;
        rcpt_reply(c, step - STEP_RCPT, r);
    } else if (step == c->data_step) {
        data_reply(c, r);
        return;
    }
    if (!c->pipelined)
        txn_next(c);
}

/* next_accepted - LMTP: the accepted recipient the next reply is for */
static size_t next_accepted(struct mta_client *c)
{
    while (c->dot_next < c->job.nrcpts && !c->accepted[c->dot_next])
        c->dot_next++;
    return c->dot_next++;
}

/* mta_client_dot_reply - an end-of-data reply */
void mta_client_dot_reply(struct mta_client *c, const struct mta_client_reply *r)
{
    size_t i;

    if (c->dot_ignore) {
        mta_client_job_done(c);
        return;
    }
    if (out_of_step(c, MTA_STEP_DOT, true, r))
        return;
    if (c->proto == MTA_CLIENT_SMTP) {
        mta_client_txn_settle(c, r);
        c->dot_left = 0;
    } else if ((i = next_accepted(c)) < c->job.nrcpts) {
        c->res[i] = *r;
        c->dot_left--;
    }
    if (c->dot_left == 0)
        mta_client_job_done(c);
}

/* stuff_slice - move at most max content octets to out, up to and
 * including the first LF that a "." follows; stuff a leading "." */
static int stuff_slice(struct mta_client *c, struct evbuffer *in, struct evbuffer *out, size_t max)
{
    struct evbuffer_ptr end, hit, last;
    size_t n = max;
    char ch;

    if (c->bol && evbuffer_copyout(in, &ch, 1) == 1 && ch == '.' && evbuffer_add(out, ".", 1) < 0)
        return -1;
    evbuffer_ptr_set(in, &end, max, EVBUFFER_PTR_SET);
    hit = evbuffer_search_range(in, "\n.", 2, NULL, &end);
    if (hit.pos >= 0)
        n = (size_t)hit.pos + 1;
    evbuffer_ptr_set(in, &last, n - 1, EVBUFFER_PTR_SET);
    if (evbuffer_copyout_from(in, &last, &ch, 1) != 1)
        return -1;
    c->bol = ch == '\n';
    return evbuffer_remove_buffer(in, out, n) == (int)n ? 0 : -1;
}

/* content_end - CRLF if the content lacks one, ".", and wait for replies */
static void content_end(struct mta_client *c)
{
    if (!c->bol)
        mta_client_put(c, "%s", "");
    mta_client_put(c, ".");
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
    bufferevent_set_timeouts(c->bev, NULL, NULL);
    c->dot_left = c->proto == MTA_CLIENT_LMTP ? c->naccepted : 1;
    c->st = C_DOT;
    mta_client_set_timer(c);
}

/* mta_client_content_fill - top the output up to DD_SMTP_CLIENT_OUT_HIGH */
void mta_client_content_fill(struct mta_client *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev), *in = c->job.content;
    size_t have, avail;

    while (in != NULL && (have = evbuffer_get_length(out)) < DD_SMTP_CLIENT_OUT_HIGH &&
           (avail = evbuffer_get_length(in)) > 0) {
        size_t room = DD_SMTP_CLIENT_OUT_HIGH - have;

        if (stuff_slice(c, in, out, avail < room ? avail : room) < 0) {
            mta_client_fail_later(c, "out of memory sending to %s", c->peer_name);
            return;
        }
    }
    if (in == NULL || evbuffer_get_length(in) == 0)
        content_end(c);
}

/* mta_client_txn_what - the step in progress, for failure texts */
const char *mta_client_txn_what(const struct mta_client *c)
{
    if (c->step == STEP_RSET)
        return "sending RSET";
    if (c->step == STEP_MAIL)
        return "sending MAIL FROM";
    if (c->step < c->data_step)
        return "sending RCPT TO";
    return "sending DATA";
}

/* mta_client_txn_free - the job's memory, when the client goes mid-job */
void mta_client_txn_free(struct mta_client *c)
{
    free(c->res);
    free(c->accepted);
    c->res = NULL;
    c->accepted = NULL;
}
