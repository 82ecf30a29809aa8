/*
 * fuzz_tls_policy.c - libFuzzer target for the TLS state changes of an
 * SMTP session: command lines through smtpd_cmd_parse() and the TLS gate
 *
 * The first octet picks the level and whether a certificate is loaded;
 * the rest are client writes separated by NUL, each a run of command lines.
 * A model session runs what the gate lets through, as smtpd_cmd.c and
 * smtpd_tls.c do: after a STARTTLS that starts TLS, the rest of that write
 * is dropped (it was pipelined behind STARTTLS) and the session is back at
 * the greeting. Invariants: no mail command runs in clear under encrypt;
 * nothing pipelined behind STARTTLS runs; TLS starts at most once, never
 * inside a transaction, never without a certificate; STARTTLS is offered
 * exactly when it would start TLS; every refusal has a reply line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tls_policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct model {
    struct smtpd_tls_state t;
    int helo;
    unsigned starts;
};

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_tls_policy: invariant broken: %s\n", what);
        abort();
    }
}

/* run_verb - what the session does with an accepted command */
static void run_verb(struct model *m, enum smtpd_verb v)
{
    if (v == SMTP_EHLO || v == SMTP_HELO) {
        m->helo = 1;
        m->t.in_txn = false;
    } else if (v == SMTP_RSET || v == SMTP_DATA || v == SMTP_BDAT) {
        m->t.in_txn = false;
    } else if (v == SMTP_MAIL && m->helo) {
        check(m->t.active || m->t.level != TLS_IN_ENCRYPT, "MAIL in clear under encrypt");
        m->t.in_txn = true;
    }
    if (v == SMTP_RCPT || v == SMTP_DATA || v == SMTP_BDAT || v == SMTP_VRFY)
        check(m->t.active || m->t.level != TLS_IN_ENCRYPT, "a mail command in clear under encrypt");
}

/* one_line - parse, gate, run; 1 when TLS started (drop the rest of the write) */
static int one_line(struct model *m, const char *line, size_t len)
{
    struct smtpd_cmd cmd;
    enum smtpd_tls_verdict v;

    if (smtpd_cmd_parse(line, len, &cmd) != SMTPD_P_OK)
        return 0;
    v = smtpd_tls_gate(&m->t, cmd.verb);
    check(cmd.verb != SMTP_STARTTLS ||
              (v == SMTPD_TLS_START) == (smtpd_tls_offer(&m->t) && !m->t.in_txn),
          "STARTTLS offered exactly when it starts TLS");
    if (v == SMTPD_TLS_START) {
        check(!m->t.active && !m->t.in_txn && m->t.cert && m->t.level != TLS_IN_NONE,
              "TLS started where it may not");
        m->starts++;
        m->t.active = true;
        m->helo = 0;
        return 1;
    }
    if (v != SMTPD_TLS_GO) {
        const char *r = smtpd_tls_reply(v);
        check(r != NULL && strlen(r) > 4 && r[3] == ' ' && strpbrk(r, "\r\n") == NULL,
              "refusal reply shape");
        return 0;
    }
    run_verb(m, cmd.verb);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct model m;
    size_t pos = 1;

    if (size < 1)
        return 0;
    memset(&m, 0, sizeof(m));
    m.t.level = (enum tls_in_level)(data[0] % TLS_IN__COUNT);
    m.t.cert = (data[0] & 0x80) != 0;
    while (pos < size) {
        const uint8_t *end = memchr(data + pos, 0, size - pos);
        size_t wlen = end ? (size_t)(end - (data + pos)) : size - pos;
        size_t off = 0;

        while (off < wlen) { /* one write: its lines until TLS starts */
            const uint8_t *nl = memchr(data + pos + off, '\n', wlen - off);
            size_t raw = nl ? (size_t)(nl - (data + pos + off)) : wlen - off;
            size_t llen = raw;
            char line[DD_SMTP_CMD_MAX];

            if (raw < sizeof(line)) { /* longer lines are refused before they are read */
                memcpy(line, data + pos + off, raw);
                if (llen > 0 && line[llen - 1] == '\r')
                    llen--;
                if (one_line(&m, line, llen))
                    break; /* the rest of this write was pipelined behind STARTTLS */
            }
            off += raw + 1;
        }
        check(m.starts <= 1, "TLS started twice");
        pos += wlen + 1;
    }
    return 0;
}
