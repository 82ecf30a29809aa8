/* control.c - fault injection: the fault table and the control port (STATS, LOSE, LIST, FAIL) */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mbxsink.h"

/* mbx_fault_set_rcpt - answer code to addr at RCPT (or after DATA if lmtp) */
int mbx_fault_set_rcpt(struct faults *f, const char *addr, int code, int lmtp)
{
    struct rcpt_fault *r;

    for (size_t i = 0; i < f->nrcpt; i++) {
        r = &f->rcpt[i];
        if (r->lmtp == lmtp && strcasecmp(r->addr, addr) == 0) {
            r->code = code;
            return 0;
        }
    }
    if (f->nrcpt >= MBX_FAULT_MAX)
        return -1;
    f->rcpt = mbx_xrealloc(f->rcpt, (f->nrcpt + 1) * sizeof(*f->rcpt));
    r = &f->rcpt[f->nrcpt++];
    r->addr = mbx_xstrdup(addr);
    r->code = code;
    r->lmtp = lmtp;
    return 0;
}

/* mbx_fault_rcpt_code - the injected code for addr, 0 if none */
int mbx_fault_rcpt_code(const struct faults *f, const char *addr, int lmtp)
{
    for (size_t i = 0; i < f->nrcpt; i++)
        if (f->rcpt[i].lmtp == lmtp && strcasecmp(f->rcpt[i].addr, addr) == 0)
            return f->rcpt[i].code;
    return 0;
}

/* mbx_faults_clear - remove every fault */
void mbx_faults_clear(struct faults *f)
{
    for (size_t i = 0; i < f->nrcpt; i++)
        free(f->rcpt[i].addr);
    free(f->rcpt);
    memset(f, 0, sizeof(*f));
}

/* fault_slot - the code field of FAIL MAIL, DATA or CONNECT */
static int *fault_slot(struct faults *f, const char *what)
{
    if (strcasecmp(what, "MAIL") == 0)
        return &f->mail;
    if (strcasecmp(what, "DATA") == 0)
        return &f->data;
    if (strcasecmp(what, "CONNECT") == 0)
        return &f->connect;
    return NULL;
}
/*
 * The control port.
 */

/* ctl_stats - STATS */
static void ctl_stats(struct conn *c)
{
    const struct sink *k = c->sink;

    mbx_reply(c, "OK stored=%zu duplicates=%lu lost=%lu connections=%lu messages=%lu", k->nentries,
              k->stats.duplicates, k->stats.lost, k->stats.connections, k->stats.messages);
}

/* ctl_lose - LOSE N */
static void ctl_lose(struct conn *c, const char *arg)
{
    char *end;
    unsigned long n;
    long lost;

    n = strtoul(arg, &end, 10);
    if (!isdigit((unsigned char)arg[0]) || *end != '\0') {
        mbx_reply(c, "ERR usage: LOSE N");
        return;
    }
    if ((lost = mbx_store_lose(c->sink, n)) < 0)
        mbx_reply(c, "ERR cannot rewrite the index");
    else
        mbx_reply(c, "OK lost=%ld", lost);
}

/* ctl_list - LIST: "OK n", n lines "seq message-id", "." */
static void ctl_list(struct conn *c)
{
    const struct sink *k = c->sink;

    mbx_reply(c, "OK %zu", k->nentries);
    for (size_t i = 0; i < k->nentries; i++)
        mbx_reply(c, "%06u %s", k->entries[i].seq,
                  k->entries[i].msgid[0] ? k->entries[i].msgid : "-");
    mbx_reply(c, ".");
}

/* ctl_fail - FAIL RCPT|LMTP addr CODE, FAIL MAIL|DATA|CONNECT CODE */
static void ctl_fail(struct conn *c, char **w, size_t n)
{
    struct faults *f = &c->sink->faults;
    int *slot = n == 3 ? fault_slot(f, w[1]) : NULL;
    int lmtp = n == 4 && strcasecmp(w[1], "LMTP") == 0;
    int code = mbx_code_parse(w[n - 1]);
    const char *addr = n == 4 ? mbx_addr_bare(w[2]) : "";

    if (!slot && !(n == 4 && (lmtp || strcasecmp(w[1], "RCPT") == 0))) {
        mbx_reply(c, "ERR usage: FAIL RCPT|LMTP addr CODE or FAIL MAIL|DATA|CONNECT CODE");
        return;
    }
    if (code < 0) {
        mbx_reply(c, "ERR CODE must be 400 to 599");
        return;
    }
    if (slot) {
        *slot = code;
    } else if (mbx_fault_set_rcpt(f, addr, code, lmtp) != 0) {
        mbx_reply(c, "ERR too many recipient faults");
        return;
    }
    mbx_logmsg("fault set: FAIL %s%s%s %d", w[1], n == 4 ? " " : "", addr, code);
    mbx_reply(c, "OK");
}

/* ctl_command - one control command, split into n words */
static void ctl_command(struct conn *c, char **w, size_t n)
{
    const char *v = w[0];

    if (strcasecmp(v, "STATS") == 0 && n == 1) {
        ctl_stats(c);
    } else if (strcasecmp(v, "LOSE") == 0 && n == 2) {
        ctl_lose(c, w[1]);
    } else if (strcasecmp(v, "LIST") == 0 && n == 1) {
        ctl_list(c);
    } else if (strcasecmp(v, "FAIL") == 0 && (n == 3 || n == 4)) {
        ctl_fail(c, w, n);
    } else if (strcasecmp(v, "DROP") == 0 && n == 2 && strcasecmp(w[1], "DATA") == 0) {
        c->sink->faults.drop_data = 1;
        mbx_logmsg("fault set: DROP DATA");
        mbx_reply(c, "OK");
    } else if (strcasecmp(v, "CLEAR") == 0 && n == 1) {
        mbx_faults_clear(&c->sink->faults);
        mbx_logmsg("faults cleared");
        mbx_reply(c, "OK");
    } else if (strcasecmp(v, "QUIT") == 0 && n == 1) {
        mbx_reply(c, "OK bye");
        mbx_conn_close(c);
    } else {
        mbx_reply(c, "ERR unknown command or wrong arguments");
    }
}

/* mbx_ctl_line - split a control line into words */
void mbx_ctl_line(struct conn *c, char *line)
{
    char *w[MBX_CTL_WORDS + 1], *save = NULL;
    size_t n = 0;

    for (char *t = strtok_r(line, " \t", &save); t && n <= MBX_CTL_WORDS;
         t = strtok_r(NULL, " \t", &save))
        w[n++] = t;
    if (n == 0)
        mbx_reply(c, "ERR empty command");
    else if (n > MBX_CTL_WORDS)
        mbx_reply(c, "ERR too many words");
    else
        ctl_command(c, w, n);
}
