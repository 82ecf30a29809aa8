/*
 * fuzz_smtpd_cmd.c - libFuzzer target for smtpd_cmd_parse() and, by verb, the
 * HELO, MAIL, RCPT and BDAT argument parsers
 *
 * The argument is handed on in a buffer of its exact size, so ASan sees any
 * read past it. Invariants: the argument lies inside the line, every
 * outcome has a reply line, and what the parsers give back is bounded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtpd_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* check - abort with a message when an invariant breaks */
static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_smtpd_cmd: invariant broken: %s\n", what);
        abort();
    }
}

/* check_addr - a parsed path within its limits, NUL-terminated */
static void check_addr(const struct smtp_addr *a)
{
    check(memchr(a->addr, 0, sizeof(a->addr)) != NULL, "addr NUL-terminated");
    check(strlen(a->local) <= DD_LOCAL_PART_MAX, "local part limit");
    check(strlen(a->domain) <= DD_DOMAIN_MAX, "domain limit");
    check(a->null == (a->addr[0] == 0), "null iff empty");
}

/* check_reply - a reply line: three digits, a space, no CR or LF */
static void check_reply(enum smtpd_perr e)
{
    const char *r = smtpd_parse_reply(e);

    check(r != NULL && strlen(r) > 4 && r[3] == ' ', "reply shape");
    check(strpbrk(r, "\r\n") == NULL, "reply has no CRLF");
    check(e == SMTPD_P_OK || r[0] == '5', "errors are 5xx");
}

/* args - the argument parser of the verb */
static void args(enum smtpd_verb verb, const char *arg, size_t len)
{
    char helo[DD_HELO_MAX + 1];
    struct smtpd_mail m;
    struct smtpd_rcpt r;
    uint64_t size;
    bool last;
    enum smtpd_perr e = SMTPD_P_OK;

    switch (verb) {
    case SMTP_HELO:
    case SMTP_EHLO:
        if ((e = smtpd_helo_parse(arg, len, helo, sizeof(helo))) == SMTPD_P_OK)
            check(strlen(helo) == len && memcmp(helo, arg, len) == 0, "helo copied");
        break;
    case SMTP_MAIL:
        if ((e = smtpd_mail_parse(arg, len, &m)) == SMTPD_P_OK)
            check_addr(&m.from);
        break;
    case SMTP_RCPT:
        if ((e = smtpd_rcpt_parse(arg, len, &r)) == SMTPD_P_OK)
            check(!r.to.null, "no null recipient");
        if (e == SMTPD_P_OK)
            check_addr(&r.to);
        break;
    case SMTP_BDAT:
        if ((e = smtpd_bdat_parse(arg, len, &size, &last)) == SMTPD_P_OK)
            check(size <= (UINT64_C(1) << 63), "bdat size bound");
        break;
    default:
        break;
    }
    check_reply(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    struct smtpd_cmd cmd;
    enum smtpd_perr e = smtpd_cmd_parse(line, size, &cmd);
    char *arg;

    check(e < SMTPD_P__COUNT, "known outcome");
    check_reply(e);
    check(smtpd_verb_name(cmd.verb) != NULL, "verb name");
    if (e != SMTPD_P_OK)
        return 0;
    check(cmd.verb != SMTP_UNKNOWN, "verb known");
    check(cmd.arg >= line && cmd.arg + cmd.arglen <= line + size, "arg inside the line");
    check(cmd.arglen == 0 || (cmd.arg[0] != ' ' && cmd.arg[cmd.arglen - 1] != ' '), "arg trimmed");
    arg = malloc(cmd.arglen ? cmd.arglen : 1);
    check(arg != NULL, "malloc");
    memcpy(arg, cmd.arg, cmd.arglen);
    args(cmd.verb, arg, cmd.arglen);
    free(arg);
    return 0;
}
