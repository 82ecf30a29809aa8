/*
 * fuzz_smtpd_data.c - libFuzzer target for the DATA / BDAT content machine
 *
 * The first input octet seeds how the rest is split into chunks. Each mode
 * is fed in one piece and in those chunks, and both results must agree
 * with a reference written the other way round: cut the input at real
 * CRLFs and judge each line whole. Invariants: output never longer than
 * input + 2, CRLF-only when accepted, consumed <= input, nothing taken
 * after the end. The accepted content also goes through mail_hdr_line().
 * The same runs again with bare_lf (normalize), against a reference that
 * cuts at every LF and ends only at a "." CRLF line after a real CRLF;
 * there the output may reach twice the input, + 2.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bounds.h"
#include "mail_hdr.h"
#include "smtpd_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct res {
    char *out;
    size_t outlen;
    size_t consumed;
    unsigned errs;
    bool done;
};

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_smtpd_data: invariant broken: %s\n", what);
        abort();
    }
}

/* next_chunk - a chunk size of 1..32 octets from the seed */
static size_t next_chunk(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    return 1 + ((*seed >> 16) % 32);
}

/* feed - run the machine over in[0..len), in chunks when seed != 0 */
static struct res feed(enum smtpd_data_mode mode, bool lf, const char *in, size_t len,
                       unsigned seed)
{
    struct res r = {malloc(2 * len + 3), 0, 0, 0, false};
    struct smtpd_data d;
    size_t n, used, outlen;

    check(r.out != NULL, "malloc");
    smtpd_data_init(&d, mode);
    d.bare_lf = lf;
    while (r.consumed < len) {
        n = seed ? next_chunk(&seed) : len;
        n = n < len - r.consumed ? n : len - r.consumed;
        used = smtpd_data_feed(&d, in + r.consumed, n, r.out + r.outlen, &outlen);
        check(used <= n && outlen <= (lf ? 2 * n : n) + 2, "one feed's bounds");
        r.consumed += used;
        r.outlen += outlen;
        check(r.outlen <= (lf ? 2 * r.consumed : r.consumed), "output bounded by input");
        if (used < n) {
            check(d.done, "stops early only at the end");
            break;
        }
    }
    if (d.done) {
        check(smtpd_data_feed(&d, "\r\n.\r\n", 5, r.out + r.outlen, &outlen) == 0, "after end");
        check(outlen == 0, "no output after end");
    }
    if (mode == SMTPD_DATA_BDAT) {
        smtpd_data_finish(&d, r.out + r.outlen, &outlen);
        check(outlen <= 2, "finish adds at most CRLF");
        r.outlen += outlen;
    }
    check(r.outlen <= (lf ? 2 * len : len) + 2, "output <= input + 2 (twice with bare_lf)");
    r.errs = d.errs;
    r.done = d.done;
    return r;
}

/* line_errs - the errors of one line as sent; pending: a final CR awaits its LF */
static unsigned line_errs(const char *s, size_t n, size_t counted, bool pending)
{
    unsigned e = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        if (s[i] == '\n')
            e |= SMTPD_DATA_E_BARE_LF;
        else if (s[i] == '\0')
            e |= SMTPD_DATA_E_NUL;
        else if (s[i] == '\r' && !(pending && i == n - 1))
            e |= SMTPD_DATA_E_BARE_CR;
    }
    if (counted > DD_SMTP_TEXT_LINE_MAX)
        e |= SMTPD_DATA_E_LINE_TOO_LONG;
    return e;
}

/* find_crlf - offset of the first CRLF in s[0..n), or n */
static size_t find_crlf(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i + 1 < n; i++)
        if (s[i] == '\r' && s[i + 1] == '\n')
            return i;
    return n;
}

/* reference - the same verdict, line by line; output only when accepted */
static struct res reference(enum smtpd_data_mode mode, const char *in, size_t len)
{
    struct res r = {malloc(len + 3), 0, 0, 0, false};
    size_t pos = 0, k, skip;

    check(r.out != NULL, "malloc");
    while (pos < len && (k = find_crlf(in + pos, len - pos)) < len - pos) {
        if (mode == SMTPD_DATA_DOT && k == 1 && in[pos] == '.') {
            r.done = true;
            pos += 3;
            break;
        }
        r.errs |= line_errs(in + pos, k, k + 2, false);
        skip = (mode == SMTPD_DATA_DOT && k > 0 && in[pos] == '.');
        memcpy(r.out + r.outlen, in + pos + skip, k + 2 - skip);
        r.outlen += k + 2 - skip;
        pos += k + 2;
    }
    if (!r.done && pos < len) { /* a last line without CRLF */
        k = len - pos;
        if (mode == SMTPD_DATA_BDAT && in[len - 1] != '\r') { /* finish adds CRLF */
            r.errs |= line_errs(in + pos, k, k + 2, false);
            memcpy(r.out + r.outlen, in + pos, k);
            memcpy(r.out + r.outlen + k, "\r\n", 2);
            r.outlen += k + 2;
        } else {
            r.errs |= line_errs(in + pos, k, k, mode == SMTPD_DATA_DOT);
            skip = (mode == SMTPD_DATA_DOT && in[pos] == '.');
            memcpy(r.out + r.outlen, in + pos + skip, k - skip);
            r.outlen += k - skip - (in[len - 1] == '\r' && k > skip); /* CR held back */
        }
    }
    r.consumed = pos < len && !r.done ? len : pos;
    return r;
}

/* find_lf - offset of the first LF in s[0..n), or n */
static size_t find_lf(const char *s, size_t n)
{
    const char *p = memchr(s, '\n', n);

    return p ? (size_t)(p - s) : n;
}

/* lf_line - one line in[0..k) ended by an LF (real: a CR before it) into r */
static void lf_line(struct res *r, enum smtpd_data_mode mode, const char *in, size_t k, bool real)
{
    size_t text = real ? k - 1 : k, skip;

    r->errs |= line_errs(in, text, k + 1 + !real, false);
    skip = mode == SMTPD_DATA_DOT && text > 0 && in[0] == '.';
    memcpy(r->out + r->outlen, in + skip, text - skip);
    memcpy(r->out + r->outlen + text - skip, "\r\n", 2);
    r->outlen += text - skip + 2;
}

/* reference_lf - the verdict with bare_lf: every LF ends a line; the end is a
 * "." CRLF line whose line before it ended in a real CRLF (or none) */
static struct res reference_lf(enum smtpd_data_mode mode, const char *in, size_t len)
{
    struct res r = {malloc(2 * len + 3), 0, 0, 0, false};
    size_t pos = 0, k, skip;
    bool prev_real = true;

    check(r.out != NULL, "malloc");
    while (pos < len && (k = find_lf(in + pos, len - pos)) < len - pos) {
        bool real = k > 0 && in[pos + k - 1] == '\r';
        if (mode == SMTPD_DATA_DOT && prev_real && real && k == 2 && in[pos] == '.') {
            r.done = true;
            pos += 3;
            break;
        }
        lf_line(&r, mode, in + pos, k, real);
        prev_real = real;
        pos += k + 1;
    }
    if (!r.done && pos < len) { /* a last line without LF: as without bare_lf */
        k = len - pos;
        if (mode == SMTPD_DATA_BDAT && in[len - 1] != '\r') {
            r.errs |= line_errs(in + pos, k, k + 2, false);
            memcpy(r.out + r.outlen, in + pos, k);
            memcpy(r.out + r.outlen + k, "\r\n", 2);
            r.outlen += k + 2;
        } else {
            r.errs |= line_errs(in + pos, k, k, mode == SMTPD_DATA_DOT);
            skip = (mode == SMTPD_DATA_DOT && in[pos] == '.');
            memcpy(r.out + r.outlen, in + pos + skip, k - skip);
            r.outlen += k - skip - (in[len - 1] == '\r' && k > skip);
        }
    }
    r.consumed = pos < len && !r.done ? len : pos;
    return r;
}

/* crlf_only - every CR is followed by LF, every LF follows a CR, no NUL */
static bool crlf_only(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if ((s[i] == '\r' && (i + 1 >= n || s[i + 1] != '\n')) ||
            (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) || s[i] == '\0')
            return false;
    }
    return true;
}

/* headers - run the header classifier over the accepted content */
static void headers(const char *s, size_t n)
{
    struct mail_hdr h;
    enum mail_hdr_kind kind;
    size_t pos = 0, k, lines = 0;

    mail_hdr_init(&h);
    while (pos < n && h.in_header) {
        k = find_crlf(s + pos, n - pos);
        k = k < n - pos ? k + 2 : n - pos;
        kind = mail_hdr_line(&h, s + pos, k);
        check(kind == MAIL_HDR_FIELD ? h.in_header : !h.in_header, "header end");
        check(kind != MAIL_HDR_END_BLANK || k == 2, "blank is CRLF");
        pos += k;
        lines++;
    }
    check(h.received <= lines, "received count");
}

/* same - two results agree in verdict, and in content when accepted */
static void same(const struct res *a, const struct res *b, const char *what)
{
    check(a->errs == b->errs && a->done == b->done && a->consumed == b->consumed, what);
    check(a->errs != 0 || (a->outlen == b->outlen && memcmp(a->out, b->out, a->outlen) == 0), what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data + 1;
    size_t len = size ? size - 1 : 0;
    unsigned seed = size ? data[0] | 0x100u : 1;
    int m;

    for (m = 0; m < 4; m++) {
        enum smtpd_data_mode mode = m & 1 ? SMTPD_DATA_BDAT : SMTPD_DATA_DOT;
        bool lf = m >= 2;
        struct res one = feed(mode, lf, in, len, 0), split = feed(mode, lf, in, len, seed);
        struct res ref = lf ? reference_lf(mode, in, len) : reference(mode, in, len);

        same(&one, &split, "split feeding agrees with one piece");
        check(one.outlen == split.outlen && memcmp(one.out, split.out, one.outlen) == 0,
              "split output identical");
        same(&one, &ref, "machine agrees with the line reference");
        check(one.consumed <= len, "consumed <= len");
        if (one.errs == 0 && (one.done || mode == SMTPD_DATA_BDAT)) {
            check(crlf_only(one.out, one.outlen), "CRLF-only content");
            headers(one.out, one.outlen);
        }
        if (mode == SMTPD_DATA_BDAT)
            check(!one.done && one.consumed == len, "BDAT takes everything");
        free(one.out);
        free(split.out);
        free(ref.out);
    }
    return 0;
}
