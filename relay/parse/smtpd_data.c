/*
 * smtpd_data.c - the DATA / BDAT content state machine (pure)
 *
 * One octet at a time (with a fast path over plain text), so a chunk may
 * end anywhere: between CR and LF, after the dot of a stuffed line, inside
 * ".\r". Start of line is reached only through a real CRLF (or at the start
 * of data), and the end of data is "." CRLF at start of line: that is the
 * whole defence against SMTP smuggling (CVE-2023-51764). A bare LF, a bare
 * CR or a NUL leaves us in the middle of a line, so "\n.\n", "\r.\r\n",
 * "\r\n.\r\r\n" and the like are just more (rejected) text.
 *
 * A CR is held back until its LF arrives, so the content written is CRLF
 * lines only; after the first error nothing more is written at all.
 *
 * With bare_lf a bare LF is written as CRLF and leads to a start of line
 * marked lf_line: a "." there is unstuffed, but ".\r\n" or ".\n" after it
 * is just an empty line. Only a real CRLF clears the mark, so the end of
 * data still needs CRLF "." CRLF, both real.
 */
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "bounds.h"
#include "smtpd_data.h"

/* Private states (struct smtpd_data.state). */
enum {
    S_BOL,   /* start of a line: after a real CRLF, or at the start */
    S_TEXT,  /* inside a line */
    S_CR,    /* a CR inside a line, waiting for its LF */
    S_DOT,   /* DOT mode: "." at start of line, not written */
    S_DOTCR, /* DOT mode: ".\r" at start of line */
    S_DONE,  /* DOT mode: CRLF.CRLF consumed */
};

/* Where the content goes. */
struct sink {
    char *buf;
    size_t len;
};

/* smtpd_data_init - start of data: at start of a line, no errors */
void smtpd_data_init(struct smtpd_data *d, enum smtpd_data_mode mode)
{
    memset(d, 0, sizeof(*d));
    d->mode = mode;
    d->state = S_BOL;
}

/* emit - write content unless the message is already rejected */
static void emit(const struct smtpd_data *d, struct sink *o, const char *p, size_t n)
{
    if (d->errs == 0) {
        memcpy(o->buf + o->len, p, n);
        o->len += n;
    }
}

/* count - n more octets of the current line, as sent */
static void count(struct smtpd_data *d, size_t n)
{
    /* Saturate: past the limit the exact number no longer matters. */
    if (d->linelen > DD_SMTP_TEXT_LINE_MAX || n > DD_SMTP_TEXT_LINE_MAX)
        d->linelen = DD_SMTP_TEXT_LINE_MAX + 1;
    else
        d->linelen += n;
    if (d->linelen > DD_SMTP_TEXT_LINE_MAX)
        d->errs |= SMTPD_DATA_E_LINE_TOO_LONG;
}

/* line_end - a CRLF written: the next octet starts a line (lf: after a bare LF) */
static void line_end(struct smtpd_data *d, struct sink *o, bool lf)
{
    emit(d, o, "\r\n", 2);
    d->linelen = 0;
    d->state = S_BOL;
    d->lf_line = lf;
}

/* text_octet - one octet inside a line (also the first after the dot) */
static void text_octet(struct smtpd_data *d, unsigned char c, struct sink *o)
{
    count(d, 1);
    d->state = S_TEXT;
    switch (c) {
    case '\r':
        d->state = S_CR; /* held back until we know its LF is there */
        break;
    case '\n':
        if (d->bare_lf) {
            count(d, 1); /* the CR it stands for: the line as sent downstream */
            line_end(d, o, true);
        } else
            d->errs |= SMTPD_DATA_E_BARE_LF;
        break;
    case '\0':
        d->errs |= SMTPD_DATA_E_NUL;
        break;
    default:
        emit(d, o, (const char *)&c, 1);
        break;
    }
}

/* cr_octet - the octet after a CR: LF ends the line, anything else is bare CR */
static void cr_octet(struct smtpd_data *d, unsigned char c, struct sink *o)
{
    if (c != '\n') {
        d->errs |= SMTPD_DATA_E_BARE_CR;
        text_octet(d, c, o);
        return;
    }
    count(d, 1);
    line_end(d, o, false);
}

/* step - one octet in any state but S_DONE */
static void step(struct smtpd_data *d, unsigned char c, struct sink *o)
{
    switch (d->state) {
    case S_BOL:
        if (c == '.' && d->mode == SMTPD_DATA_DOT) {
            count(d, 1);
            d->state = S_DOT; /* unstuffed: never written */
        } else {
            text_octet(d, c, o);
        }
        break;
    case S_DOT:
        if (c == '\r') {
            count(d, 1);
            d->state = S_DOTCR;
        } else {
            text_octet(d, c, o);
        }
        break;
    case S_DOTCR:
        if (c == '\n' && d->lf_line) { /* "." CRLF after a bare LF: an empty line */
            count(d, 1);
            line_end(d, o, false);
        } else if (c == '\n') {
            count(d, 1);
            d->state = S_DONE;
            d->done = true;
        } else {
            d->errs |= SMTPD_DATA_E_BARE_CR;
            text_octet(d, c, o);
        }
        break;
    case S_CR:
        cr_octet(d, c, o);
        break;
    default:
        text_octet(d, c, o);
        break;
    }
}

/* plain_run - octets from in[0..len), at most max, that need no state
 * change in S_TEXT: none of them is CR, LF or NUL. Sixteen at a time with
 * SSE2, else eight (a word has a zero octet when (w - 0x01..) & ~w &
 * 0x80.. is not 0; w is XORed with CR and with LF to look for those), the
 * rest one at a time. */
static size_t plain_run(const char *in, size_t len, size_t max)
{
    size_t i = 0;

    if (len > max)
        len = max;
#if defined(__SSE2__)
    const __m128i vcr = _mm_set1_epi8('\r'), vlf = _mm_set1_epi8('\n'), vnul = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(in + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, vcr), _mm_cmpeq_epi8(v, vlf)),
                                   _mm_cmpeq_epi8(v, vnul));
        int bits = _mm_movemask_epi8(hit);
        if (bits != 0)
            return i + (size_t)__builtin_ctz((unsigned)bits);
    }
#else
    const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
    for (; i + 8 <= len; i += 8) {
        uint64_t w, cr, lf;
        memcpy(&w, in + i, 8);
        cr = w ^ (ones * '\r');
        lf = w ^ (ones * '\n');
        if ((((w - ones) & ~w) | ((cr - ones) & ~cr) | ((lf - ones) & ~lf)) & highs)
            break;
    }
#endif
    for (; i < len; i++)
        if (in[i] == '\r' || in[i] == '\n' || in[i] == '\0')
            break;
    return i;
}

/* smtpd_data_feed - consume in[0..len), write content to out */
size_t smtpd_data_feed(struct smtpd_data *d, const char *in, size_t len, char *out, size_t *outlen)
{
    struct sink o = {out, 0};
    size_t i = 0, n;

    while (i < len && d->state != S_DONE) {
        /* The fast path stops at the line limit, so the octet that crosses
         * it goes through step() whatever the split: same output. */
        if (d->state == S_TEXT && d->linelen < DD_SMTP_TEXT_LINE_MAX &&
            (n = plain_run(in + i, len - i, DD_SMTP_TEXT_LINE_MAX - d->linelen)) > 0) {
            count(d, n);
            emit(d, &o, in + i, n);
            i += n;
            continue;
        }
        step(d, (unsigned char)in[i++], &o);
    }
    *outlen = o.len;
    return i;
}

/* smtpd_data_finish - BDAT LAST: close a last line that has no CRLF */
void smtpd_data_finish(struct smtpd_data *d, char *out, size_t *outlen)
{
    struct sink o = {out, 0};

    if (d->mode == SMTPD_DATA_BDAT) {
        if (d->state == S_CR)
            d->errs |= SMTPD_DATA_E_BARE_CR;
        else if (d->state == S_TEXT) {
            count(d, 2); /* the line downstream gets CRLF too */
            emit(d, &o, "\r\n", 2);
        }
        d->linelen = 0;
        d->state = S_BOL;
    }
    *outlen = o.len;
}

/* smtpd_data_reply - the reply for a rejected message, most telling error first */
const char *smtpd_data_reply(unsigned errs)
{
    if (errs & SMTPD_DATA_E_NUL)
        return "550 5.6.0 Message rejected: NUL received";
    if (errs & SMTPD_DATA_E_BARE_CR)
        return "550 5.6.0 Message rejected: bare <CR> received";
    if (errs & SMTPD_DATA_E_BARE_LF)
        return "550 5.6.0 Message rejected: bare <LF> received";
    if (errs & SMTPD_DATA_E_LINE_TOO_LONG)
        return "500 5.5.2 Message rejected: line longer than 1000 octets";
    /* Not a reason to reject: never let it look like success. */
    return "451 4.3.0 Internal error";
}
