/*
 * mta_reply.c - replies of an SMTP or LMTP server, line by line (pure)
 *
 * RFC 5321 4.2: Reply-line = *( Reply-code "-" [ textstring ] CRLF )
 *                            Reply-code [ SP textstring ] CRLF
 * Every line of one reply carries the same code. The final line may start
 * its text with an enhanced status code (RFC 3463); we take it only when
 * its class matches the reply's, so a "250 5.0.0" never turns a success
 * into a bounce. The lines after the first of a 2xx reply are EHLO
 * keywords; the ones the client uses become flags.
 *
 * mta_reply_in_step() tells a reply that cannot answer the command it
 * comes for (the server is answering another one: out of step), so the
 * client never takes a late RCPT reply for the end of data, or a 503 for
 * a verdict on a recipient.
 *
 * Bounds come first: a line is measured before it is looked at.
 */
#include <string.h>

#include "ascii.h"
#include "mta_reply.h"

static const char *const errors[MTA_R__COUNT] = {
    [MTA_R_DONE] = "complete reply",
    [MTA_R_MORE] = "continuation line",
    [MTA_R_NO_CODE] = "reply line without a reply code",
    [MTA_R_BAD_CODE] = "reply code is not three digits",
    [MTA_R_CODE_RANGE] = "reply code out of range",
    [MTA_R_CODE_MISMATCH] = "reply code differs between lines",
    [MTA_R_BAD_SEP] = "bad separator after the reply code",
    [MTA_R_TOO_LONG] = "reply line too long",
    [MTA_R_TOO_MANY] = "too many reply lines",
};

static const struct ext_info {
    const char *name;
    unsigned flag;
} exts[] = {
    {"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE},
    {"8BITMIME", SMTP_EXT_8BITMIME},     {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
    {"CHUNKING", SMTP_EXT_CHUNKING},     {"SMTPUTF8", SMTP_EXT_SMTPUTF8},
    {"STARTTLS", SMTP_EXT_STARTTLS},
};

/* is_digit - an ASCII digit */
static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* digits - count of digits at s[0..n), at most max + 1 */
static size_t digits(const char *s, size_t n, size_t max)
{
    size_t i;

    for (i = 0; i < n && i <= max && is_digit(s[i]); i++)
        ;
    return i;
}

/* parse_size - the SIZE keyword's number; 0 when absent or not a number */
static uint64_t parse_size(const char *s, size_t n)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned d = (unsigned)((unsigned char)s[i] - '0');

        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    return v;
}

/* take_ext - one EHLO keyword line's text: "KEYWORD [params]" */
static void take_ext(struct mta_reply *r, const char *s, size_t n)
{
    size_t kw, i;

    for (kw = 0; kw < n && s[kw] != ' '; kw++)
        ;
    for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
        if (!ascii_word_is(s, kw, exts[i].name))
            continue;
        r->ext |= exts[i].flag;
        if (exts[i].flag == SMTP_EXT_SIZE) {
            while (kw < n && s[kw] == ' ')
                kw++;
            r->size = parse_size(s + kw, n - kw);
        }
        return;
    }
}

/* enh_len - length of an RFC 3463 code of class cls at s[0..n), or 0 */
static size_t enh_len(const char *s, size_t n, char cls)
{
    size_t i = 2, d;

    if (n < 5 || s[0] != cls || (cls != '2' && cls != '4' && cls != '5') || s[1] != '.')
        return 0;
    d = digits(s + i, n - i, 3);
    if (d == 0 || d > 3 || i + d >= n || s[i + d] != '.')
        return 0;
    i += d + 1;
    d = digits(s + i, n - i, 3);
    if (d == 0 || d > 3)
        return 0;
    i += d;
    return (i == n || s[i] == ' ') ? i : 0;
}

/* keep_line - copy the final line, showing control octets as '?' and
 * cutting at a UTF-8 character boundary when it does not fit */
static void keep_line(struct mta_reply *r, const char *line, size_t len)
{
    size_t n = len, i, back;

    if (n > sizeof(r->line) - 1) {
        n = sizeof(r->line) - 1;
        for (back = 0; back < 3 && n > 0 && ((unsigned char)line[n] & 0xc0) == 0x80; back++)
            n--;
    }
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)line[i];

        r->line[i] = (ch < 0x20 || ch == 0x7f) ? '?' : (char)ch;
    }
    r->line[n] = 0;
}

/* take_final - the final line: enhanced code, text, the line itself */
static void take_final(struct mta_reply *r, const char *line, size_t len)
{
    size_t at = len > 4 ? 4 : len, e;

    keep_line(r, line, len);
    e = enh_len(line + at, len - at, line[0]);
    if (e > 0 && e < sizeof(r->enh)) {
        memcpy(r->enh, line + at, e);
        r->enh[e] = 0;
        at += e;
        while (at < len && line[at] == ' ')
            at++;
    }
    r->text = at < strlen(r->line) ? at : strlen(r->line);
    r->done = true;
}

/* check_code - the first three octets of a line against the reply's code */
static enum mta_reply_status check_code(struct mta_reply *r, const char *line, size_t len)
{
    int code;

    if (len < 3)
        return MTA_R_NO_CODE;
    if (!is_digit(line[0]) || !is_digit(line[1]) || !is_digit(line[2]))
        return MTA_R_BAD_CODE;
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599)
        return MTA_R_CODE_RANGE;
    if (r->lines > 0 && code != r->code)
        return MTA_R_CODE_MISMATCH;
    if (len > 3 && line[3] != ' ' && line[3] != '-')
        return MTA_R_BAD_SEP;
    r->code = code;
    return MTA_R_DONE;
}

/* mta_reply_init - start a new reply */
void mta_reply_init(struct mta_reply *r)
{
    memset(r, 0, sizeof(*r));
}

/* mta_reply_feed - take one reply line */
enum mta_reply_status mta_reply_feed(struct mta_reply *r, const char *line, size_t len)
{
    enum mta_reply_status e;

    if (r->err != MTA_R_DONE)
        return r->err;
    if (r->done)
        mta_reply_init(r);
    if (len > DD_SMTP_REPLY_LINE_MAX)
        return r->err = MTA_R_TOO_LONG;
    if (r->lines >= DD_SMTP_REPLY_LINES_MAX)
        return r->err = MTA_R_TOO_MANY;
    if ((e = check_code(r, line, len)) != MTA_R_DONE)
        return r->err = e;
    if (r->lines++ > 0 && r->code / 100 == 2)
        take_ext(r, line + (len > 4 ? 4 : len), len > 4 ? len - 4 : 0);
    if (len > 3 && line[3] == '-')
        return MTA_R_MORE;
    take_final(r, line, len);
    return MTA_R_DONE;
}

/* mta_reply_text - the final line's text after the codes */
const char *mta_reply_text(const struct mta_reply *r)
{
    return r->line + (r->text < sizeof(r->line) ? r->text : 0);
}

/* mta_reply_strerror - a status as text */
const char *mta_reply_strerror(enum mta_reply_status e)
{
    if ((unsigned)e >= MTA_R__COUNT)
        return "unknown reply error";
    return errors[e];
}

/* class_fits - a reply class the step can get at all */
static bool class_fits(enum mta_step step, int code)
{
    int cls = code / 100;

    switch (step) {
    case MTA_STEP_DATA:
        return code == 354 || cls == 4 || cls == 5;
    case MTA_STEP_CONTENT: /* only an early refusal, never a success */
        return cls == 4 || cls == 5;
    default:
        return cls == 2 || cls == 4 || cls == 5;
    }
}

/* sequencing - 503, or an enhanced code X.5.1 (X.5.*: any_detail) */
static bool sequencing(int code, const char *enh, bool any_detail)
{
    if (code == 503)
        return true;
    if (enh == NULL || (enh[0] != '4' && enh[0] != '5') || strncmp(enh + 1, ".5.", 3) != 0)
        return false;
    return any_detail || strcmp(enh + 4, "1") == 0;
}

/* mta_reply_in_step - the reply can answer step */
bool mta_reply_in_step(enum mta_step step, int code, const char *enh, bool expected)
{
    if (!class_fits(step, code))
        return false;
    if (!expected)
        return true;
    return !sequencing(code, enh, step == MTA_STEP_DATA);
}
