/* smtp.c - the SMTP/LMTP commands: greeting, MAIL, RCPT, DATA and the rest */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mbxsink.h"

/*
 * SMTP/LMTP commands.
 */

/* hello - EHLO, HELO, LHLO: start over, say what we support */
static void hello(struct conn *c, const char *arg, int extended)
{
    const char *name = c->sink->name;

    if (*arg == '\0') {
        mbx_reply(c, "501 5.5.4 Syntax: a host name is required");
        return;
    }
    mbx_txn_reset(c);
    c->greeted = 1;
    if (!extended) {
        mbx_reply(c, "250 %s", name);
        return;
    }
    mbx_reply(c, "250-%s", name);
    mbx_reply(c, "250-PIPELINING");
    mbx_reply(c, "250-8BITMIME");
    mbx_reply(c, "250-ENHANCEDSTATUSCODES");
    mbx_reply(c, "250 SIZE %lu", MBX_DATA_MAX);
}

/* cmd_ehlo - EHLO, SMTP only */
static void cmd_ehlo(struct conn *c, const char *arg)
{
    if (c->sink->lmtp)
        mbx_reply(c, "500 5.5.1 This is LMTP: use LHLO");
    else
        hello(c, arg, 1);
}

/* cmd_helo - HELO, SMTP only */
static void cmd_helo(struct conn *c, const char *arg)
{
    if (c->sink->lmtp)
        mbx_reply(c, "500 5.5.1 This is LMTP: use LHLO");
    else
        hello(c, arg, 0);
}

/* cmd_lhlo - LHLO, LMTP only */
static void cmd_lhlo(struct conn *c, const char *arg)
{
    if (!c->sink->lmtp)
        mbx_reply(c, "500 5.5.1 This is SMTP: use EHLO or HELO");
    else
        hello(c, arg, 1);
}

/* addr_parse - "<addr>" after optional blanks into out; what follows, or NULL */
static const char *addr_parse(const char *p, char *out, size_t size)
{
    const char *end;
    size_t n;

    p += strspn(p, " ");
    if (*p != '<' || (end = strchr(p + 1, '>')) == NULL)
        return NULL;
    n = (size_t)(end - p - 1);
    if (n >= size)
        return NULL;
    for (size_t i = 1; i <= n; i++) {
        /* No octet that would break an index.tsv line or its rcpt list. */
        unsigned char ch = (unsigned char)p[i];

        if (ch < 0x20 || ch == 0x7f || ch == ',')
            return NULL;
    }
    memcpy(out, p + 1, n);
    out[n] = '\0';
    return end + 1;
}

/* mail_params_ok - check the MAIL parameters (SIZE, BODY); reply and 0 if bad */
static int mail_params_ok(struct conn *c, const char *rest)
{
    char buf[MBX_LINE_MAX + 1], *save = NULL, *end;
    unsigned long long size;

    snprintf(buf, sizeof(buf), "%s", rest);
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
        if (strncasecmp(t, "SIZE=", 5) == 0) {
            errno = 0;
            size = strtoull(t + 5, &end, 10);
            if (!isdigit((unsigned char)t[5]) || *end != '\0') {
                mbx_reply(c, "501 5.5.4 Bad SIZE parameter");
                return 0;
            }
            if (errno == ERANGE || size > MBX_DATA_MAX) {
                mbx_reply(c, "552 5.3.4 Message size exceeds fixed limit");
                return 0;
            }
        } else if (strcasecmp(t, "BODY=7BIT") != 0 && strcasecmp(t, "BODY=8BITMIME") != 0) {
            mbx_reply(c, "555 5.5.4 Unsupported parameter");
            return 0;
        }
    }
    return 1;
}

/* cmd_mail - MAIL FROM:<sender> [SIZE=n] [BODY=...] */
static void cmd_mail(struct conn *c, const char *arg)
{
    char addr[MBX_ADDR_MAX + 1];
    const char *rest = NULL;
    int code = c->sink->faults.mail;

    if (!c->greeted) {
        mbx_reply(c, "503 5.5.1 Say %s first", c->sink->lmtp ? "LHLO" : "EHLO or HELO");
        return;
    }
    if (c->sender) {
        mbx_reply(c, "503 5.5.1 Nested MAIL command");
        return;
    }
    if (strncasecmp(arg, "FROM:", 5) != 0 ||
        (rest = addr_parse(arg + 5, addr, sizeof(addr))) == NULL) {
        mbx_reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    if (!mail_params_ok(c, rest))
        return;
    if (code) {
        mbx_reply(c, "%d %s mbxsink injected", code, mbx_enh_for(code, "5.1.0"));
        return;
    }
    c->sender = mbx_xstrdup(addr);
    mbx_reply(c, "250 2.1.0 Ok");
}

/* rcpt_add - one more accepted recipient */
static void rcpt_add(struct conn *c, const char *addr, int lmtp_code)
{
    c->rcpts = mbx_xrealloc(c->rcpts, (c->nrcpts + 1) * sizeof(*c->rcpts));
    c->rcpts[c->nrcpts].addr = mbx_xstrdup(addr);
    c->rcpts[c->nrcpts].lmtp_code = lmtp_code;
    c->nrcpts++;
}

/* cmd_rcpt - RCPT TO:<recipient> */
static void cmd_rcpt(struct conn *c, const char *arg)
{
    struct sink *k = c->sink;
    char addr[MBX_ADDR_MAX + 1];
    const char *rest = NULL;
    int code;

    if (!c->sender) {
        mbx_reply(c, "503 5.5.1 Need MAIL command");
        return;
    }
    if (strncasecmp(arg, "TO:", 3) != 0 ||
        (rest = addr_parse(arg + 3, addr, sizeof(addr))) == NULL || addr[0] == '\0') {
        mbx_reply(c, "501 5.1.3 Syntax: RCPT TO:<address>");
        return;
    }
    if (rest[strspn(rest, " ")] != '\0') {
        mbx_reply(c, "555 5.5.4 Unsupported parameter");
        return;
    }
    if (c->nrcpts >= MBX_RCPT_MAX) {
        mbx_reply(c, "452 4.5.3 Too many recipients");
        return;
    }
    if ((code = mbx_fault_rcpt_code(&k->faults, addr, 0)) != 0) {
        mbx_reply(c, "%d %s mbxsink injected", code, mbx_enh_for(code, "5.1.1"));
        return;
    }
    rcpt_add(c, addr, k->lmtp ? mbx_fault_rcpt_code(&k->faults, addr, 1) : 0);
    mbx_reply(c, "250 2.1.5 Ok");
}

/* cmd_data - DATA: the content follows */
static void cmd_data(struct conn *c, const char *arg)
{
    if (*arg != '\0') {
        mbx_reply(c, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (!c->sender) {
        mbx_reply(c, "503 5.5.1 Need MAIL command");
        return;
    }
    if (c->nrcpts == 0) {
        mbx_reply(c, "554 5.5.1 No valid recipients");
        return;
    }
    c->state = ST_DATA;
    c->bol = 1;
    c->body_len = 0;
    c->too_big = 0;
    mbx_reply(c, "354 End data with <CR><LF>.<CR><LF>");
}

/* cmd_rset - RSET */
static void cmd_rset(struct conn *c, const char *arg)
{
    (void)arg;
    mbx_txn_reset(c);
    mbx_reply(c, "250 2.0.0 Ok");
}

/* cmd_noop - NOOP */
static void cmd_noop(struct conn *c, const char *arg)
{
    (void)arg;
    mbx_reply(c, "250 2.0.0 Ok");
}

/* cmd_vrfy - VRFY: never tells */
static void cmd_vrfy(struct conn *c, const char *arg)
{
    (void)arg;
    mbx_reply(c, "252 2.5.2 Cannot VRFY user");
}

/* cmd_quit - QUIT */
static void cmd_quit(struct conn *c, const char *arg)
{
    (void)arg;
    mbx_reply(c, "221 2.0.0 Bye");
    mbx_conn_close(c);
}

/* verb_match - the argument after verb (blanks skipped), or NULL if not this verb */
static const char *verb_match(const char *line, const char *verb)
{
    size_t n = strlen(verb);

    if (strncasecmp(line, verb, n) != 0 || (line[n] != '\0' && line[n] != ' '))
        return NULL;
    return line + n + strspn(line + n, " ");
}

static const struct smtp_verb {
    const char *name;
    void (*fn)(struct conn *, const char *);
} smtp_verbs[] = {
    {"EHLO", cmd_ehlo}, {"HELO", cmd_helo}, {"LHLO", cmd_lhlo}, {"MAIL", cmd_mail},
    {"RCPT", cmd_rcpt}, {"DATA", cmd_data}, {"RSET", cmd_rset}, {"NOOP", cmd_noop},
    {"VRFY", cmd_vrfy}, {"QUIT", cmd_quit},
};

/* mbx_smtp_line - one command line */
void mbx_smtp_line(struct conn *c, const char *line)
{
    const char *arg;

    for (size_t i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
        if ((arg = verb_match(line, smtp_verbs[i].name)) != NULL) {
            smtp_verbs[i].fn(c, arg);
            return;
        }
    }
    mbx_reply(c, "500 5.5.2 Command unrecognized");
}
