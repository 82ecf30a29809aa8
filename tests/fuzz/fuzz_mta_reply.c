/*
 * fuzz_mta_reply.c - libFuzzer target for the server reply parser
 *
 * The input is cut at LF (a CR before it goes, as the client does) and each
 * line is fed in a buffer of its exact size, so ASan sees any read past it.
 * After an error the parser starts over, like a new connection. Invariants:
 * a known status, and for a complete reply a code in 200..599, a kept line
 * that is bounded, NUL-terminated and free of control octets, an enhanced
 * code of the reply's class or none, and text inside the kept line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mta_reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_mta_reply: invariant broken: %s\n", what);
        abort();
    }
}

/* check_enh - "" or class.subject.detail with the reply's class */
static void check_enh(const struct mta_reply *r)
{
    unsigned cls, subject, detail;
    int used = 0;

    check(memchr(r->enh, 0, sizeof(r->enh)) != NULL, "enh NUL-terminated");
    if (r->enh[0] == 0)
        return;
    check(sscanf(r->enh, "%1u.%3u.%3u%n", &cls, &subject, &detail, &used) == 3, "enh shape");
    check((size_t)used == strlen(r->enh), "enh has nothing after it");
    check(cls == (unsigned)r->code / 100, "enh class matches the code");
    check(cls == 2 || cls == 4 || cls == 5, "enh class 2, 4 or 5");
}

/* check_done - a complete reply */
static void check_done(const struct mta_reply *r, const char *line, size_t len)
{
    size_t n, i;

    check(r->done && r->err == MTA_R_DONE, "done flags");
    check(r->code >= 200 && r->code <= 599, "code range");
    check(r->lines >= 1 && r->lines <= DD_SMTP_REPLY_LINES_MAX, "line count");
    check(memchr(r->line, 0, sizeof(r->line)) != NULL, "line NUL-terminated");
    n = strlen(r->line);
    check(n <= len && n + 3 >= (len < sizeof(r->line) - 1 ? len : sizeof(r->line) - 1),
          "kept line length");
    for (i = 0; i < n; i++)
        check((unsigned char)r->line[i] >= 0x20 && r->line[i] != 0x7f, "no control octets");
    check(memcmp(r->line, line, 3) == 0, "code kept");
    check(mta_reply_text(r) >= r->line && mta_reply_text(r) <= r->line + n, "text inside");
    check_enh(r);
}

/* feed_line - one line in an exact-size buffer */
static void feed_line(struct mta_reply *r, const uint8_t *p, size_t len)
{
    char *line = malloc(len ? len : 1);
    enum mta_reply_status st;

    check(line != NULL, "malloc");
    memcpy(line, p, len);
    st = mta_reply_feed(r, line, len);
    check(st < MTA_R__COUNT, "known status");
    check(mta_reply_strerror(st) != NULL, "status text");
    if (st == MTA_R_DONE)
        check_done(r, line, len);
    else if (st == MTA_R_MORE)
        check(!r->done && r->lines <= DD_SMTP_REPLY_LINES_MAX, "more");
    else
        mta_reply_init(r);
    free(line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mta_reply r;
    size_t start = 0, i;

    mta_reply_init(&r);
    for (i = 0; i <= size; i++) {
        size_t len;

        if (i < size && data[i] != '\n')
            continue;
        len = i - start;
        if (i < size && len > 0 && data[i - 1] == '\r')
            len--;
        if (i < size || len > 0)
            feed_line(&r, data + start, len);
        start = i + 1;
    }
    return 0;
}
