/*
 * mbxsink.c - a small mailbox server for tests and demos
 *
 * mbxsink plays the mailbox server behind dumpsterd: an SMTP (or, with --lmtp,
 * LMTP) sink that keeps each accepted message once, as DIR/NNNNNN.eml (the
 * content exactly as received after dot-unstuffing, CRLF kept, nothing added),
 * and lists it in DIR/index.tsv:
 *
 *     seq <TAB> message-id <TAB> sender <TAB> rcpt1,rcpt2
 *
 * A message whose Message-ID is already stored is answered 250 but not stored
 * again (a duplicate). The index is loaded at start, so a restart keeps both
 * the messages and the duplicate check.
 *
 * A line-oriented control port plays the faults a hub must survive: "LOSE N"
 * forgets the newest N messages (a lossy failover; SIGUSR1 loses one), and
 * FAIL/DROP inject reply codes for the greeting, MAIL, RCPT, the end of data
 * or a single LMTP recipient, or a connection dropped after the final dot.
 *
 * It is a test tool: one process, one libevent loop, and the disk work
 * (write, fsync, rename) is done in the loop, which a real server would not do.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

/* Limits: each is enforced where the input is read. */
#define MBX_LINE_MAX 4096          /* SMTP command line, CRLF included */
#define MBX_CTL_LINE_MAX 1024      /* control command line, CRLF included */
#define MBX_DATA_MAX (64UL << 20)  /* message content after dot-unstuffing */
#define MBX_DATA_CHUNK 65536       /* an unfinished data line is moved on past this */
#define MBX_RCPT_MAX 1000          /* recipients per transaction */
#define MBX_ADDR_MAX 512           /* one address, without the angle brackets */
#define MBX_MSGID_MAX 998          /* Message-ID value kept (longer ones are cut) */
#define MBX_HDR_SCAN (256 * 1024)  /* header octets searched for the Message-ID */
#define MBX_OUT_HIGH (1024 * 1024) /* stop reading while this much output waits */
#define MBX_IDLE_SECS 300          /* read and write timeout of an SMTP connection */
#define MBX_LISTEN_MAX 16          /* --listen options */
#define MBX_FAULT_MAX 1024         /* per-recipient faults */
#define MBX_NAME_MAX 255           /* --name */
#define MBX_CTL_WORDS 5            /* words of the longest control command */

/* One stored message, as in index.tsv. */
struct entry {
    unsigned seq;
    char *msgid;  /* "" when the message has none */
    char *sender; /* "" for the null sender */
    char *rcpts;  /* comma-separated */
};

struct rcpt_fault {
    char *addr;
    int code;
    int lmtp; /* answer after the final dot (LMTP) instead of at RCPT */
};

/* Injected faults; a code of 0 means none. */
struct faults {
    int mail, data, connect, drop_data;
    struct rcpt_fault *rcpt;
    size_t nrcpt;
};

/* Counters since start (the number stored is sink.nentries). */
struct stats {
    unsigned long duplicates, lost, connections, messages;
};

struct conn;

struct sink {
    struct event_base *base;
    const char *dir;
    const char *name;
    int lmtp;
    struct faults faults;
    struct entry *entries; /* oldest first: the newest are lost first */
    size_t nentries, cap;
    struct stats stats;
    struct evconnlistener *listeners[MBX_LISTEN_MAX + 1];
    size_t nlisteners;
    const char *unix_paths[MBX_LISTEN_MAX + 1];
    size_t nunix;
    struct event *sigs[3];
    struct conn *conns;
};

enum conn_state { ST_CMD, ST_DATA, ST_CLOSING };

struct rcpt {
    char *addr;
    int lmtp_code; /* injected reply after the final dot, 0 = accept */
};

/* One SMTP/LMTP or control connection. */
struct conn {
    struct conn *prev, *next;
    struct sink *sink;
    struct bufferevent *bev;
    int control;
    enum conn_state state;
    int skipping; /* discarding the rest of an overlong line */
    int paused;   /* reading stopped until the output drains */
    int greeted;
    char *sender; /* NULL: no transaction */
    struct rcpt *rcpts;
    size_t nrcpts;
    struct evbuffer *body;
    size_t body_len;
    int bol;     /* data: at the start of a line (after a real CRLF) */
    int too_big; /* data: over MBX_DATA_MAX, the rest is discarded */
};

/* logmsg - one line to stderr */
static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
    va_list ap;

    fputs("mbxsink: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* xrealloc - realloc or abort: out of memory is fatal in a test tool */
static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        logmsg("out of memory");
        abort();
    }
    return q;
}

/* xstrdup - strdup or abort */
static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(xrealloc(NULL, n), s, n);
}

/* code_parse - a reply code of 400..599, or -1 */
static int code_parse(const char *s)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    v = strtol(s, &end, 10);
    return *end != '\0' || v < 400 || v > 599 ? -1 : (int)v;
}

/* enh_for - the enhanced code of an injected reply: 4.3.0, or perm for 5xx */
static const char *enh_for(int code, const char *perm)
{
    return code < 500 ? "4.3.0" : perm;
}

/* addr_bare - strip one pair of angle brackets, in place */
static char *addr_bare(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* fault_set_rcpt - answer code to addr at RCPT (or after DATA if lmtp) */
static int fault_set_rcpt(struct faults *f, const char *addr, int code, int lmtp)
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
    f->rcpt = xrealloc(f->rcpt, (f->nrcpt + 1) * sizeof(*f->rcpt));
    r = &f->rcpt[f->nrcpt++];
    r->addr = xstrdup(addr);
    r->code = code;
    r->lmtp = lmtp;
    return 0;
}

/* fault_rcpt_code - the injected code for addr, 0 if none */
static int fault_rcpt_code(const struct faults *f, const char *addr, int lmtp)
{
    for (size_t i = 0; i < f->nrcpt; i++)
        if (f->rcpt[i].lmtp == lmtp && strcasecmp(f->rcpt[i].addr, addr) == 0)
            return f->rcpt[i].code;
    return 0;
}

/* faults_clear - remove every fault */
static void faults_clear(struct faults *f)
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
 * Message-ID: a pure scan of the message head.
 */

/* hdr_match - offset just past "name:" if the header line is name, else 0 */
static size_t hdr_match(const char *p, size_t n, const char *name)
{
    size_t len = strlen(name), i;

    if (n <= len || strncasecmp(p, name, len) != 0)
        return 0;
    for (i = len; i < n && (p[i] == ' ' || p[i] == '\t'); i++)
        continue;
    return i < n && p[i] == ':' ? i + 1 : 0;
}

/* msgid_add - append to the value, bounded; control octets become blanks */
static void msgid_add(char *out, size_t *len, const char *p, size_t n)
{
    for (size_t i = 0; i < n && *len < MBX_MSGID_MAX; i++) {
        unsigned char ch = (unsigned char)p[i];

        out[(*len)++] = ch < 0x20 || ch == 0x7f ? ' ' : (char)ch;
    }
    out[*len] = '\0';
}

/* msgid_trim - strip leading and trailing blanks, in place */
static void msgid_trim(char *s)
{
    size_t start = strspn(s, " "), n = strlen(s);

    while (n > start && s[n - 1] == ' ')
        n--;
    memmove(s, s + start, n - start);
    s[n - start] = '\0';
}

/* msgid_find - the unfolded, trimmed Message-ID of the head h[0..n), "" if none */
static void msgid_find(const char *h, size_t n, char out[MBX_MSGID_MAX + 1])
{
    size_t pos = 0, len = 0, v;
    int found = 0;

    out[0] = '\0';
    while (pos < n) {
        const char *line = h + pos, *nl = memchr(line, '\n', n - pos);
        size_t end = nl ? (size_t)(nl - h) : n, ll = end - pos;

        if (ll > 0 && line[ll - 1] == '\r')
            ll--;
        if (ll == 0)
            break; /* the empty line: end of the header */
        if (line[0] == ' ' || line[0] == '\t') {
            if (found)
                msgid_add(out, &len, line, ll); /* a folded continuation */
        } else if (found) {
            break;
        } else if ((v = hdr_match(line, ll, "Message-ID")) != 0) {
            found = 1;
            msgid_add(out, &len, line + v, ll - v);
        }
        pos = end + 1;
    }
    msgid_trim(out);
}

/* body_msgid - the Message-ID of the message in body, "" if none */
static void body_msgid(struct evbuffer *body, char out[MBX_MSGID_MAX + 1])
{
    size_t n = evbuffer_get_length(body);
    const char *h;

    out[0] = '\0';
    if (n > MBX_HDR_SCAN)
        n = MBX_HDR_SCAN;
    if (n > 0 && (h = (const char *)evbuffer_pullup(body, (ev_ssize_t)n)) != NULL)
        msgid_find(h, n, out);
}

/*
 * The store: DIR/NNNNNN.eml and DIR/index.tsv, mirrored in sink.entries.
 */

/* path_of - DIR/name into buf; -1 when it does not fit */
static int path_of(const struct sink *k, char *buf, size_t size, const char *name)
{
    int n = snprintf(buf, size, "%s/%s", k->dir, name);

    if (n < 0 || (size_t)n >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* eml_path - DIR/NNNNNN.eml */
static int eml_path(const struct sink *k, unsigned seq, char *buf, size_t size)
{
    char name[32];

    snprintf(name, sizeof(name), "%06u.eml", seq);
    return path_of(k, buf, size, name);
}

/* write_all - write n octets, retrying short writes */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* file_commit - fsync and close fd, then rename tmp over path (atomic) */
static int file_commit(int fd, const char *tmp, const char *path)
{
    int rc = fsync(fd);

    if (close(fd) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) == 0)
        return 0;
    unlink(tmp);
    return -1;
}

/* store_body - write (and drain) body as DIR/NNNNNN.eml through a temporary file */
static int store_body(const struct sink *k, unsigned seq, struct evbuffer *body)
{
    char path[PATH_MAX], tmp[PATH_MAX], name[40];
    int fd;

    snprintf(name, sizeof(name), ".tmp.%06u.eml", seq);
    if (eml_path(k, seq, path, sizeof(path)) != 0 || path_of(k, tmp, sizeof(tmp), name) != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    while (evbuffer_get_length(body) > 0) {
        if (evbuffer_write(body, fd) < 0 && errno != EINTR) {
            close(fd);
            unlink(tmp);
            return -1;
        }
    }
    return file_commit(fd, tmp, path);
}

/* entry_line - the index.tsv line of e; the caller frees */
static char *entry_line(const struct entry *e)
{
    char *line;

    if (asprintf(&line, "%06u\t%s\t%s\t%s\n", e->seq, e->msgid, e->sender, e->rcpts) < 0) {
        logmsg("out of memory");
        abort();
    }
    return line;
}

/* index_append - add e to DIR/index.tsv, durably */
static int index_append(const struct sink *k, const struct entry *e)
{
    char path[PATH_MAX], *line;
    int fd, rc;

    if (path_of(k, path, sizeof(path), "index.tsv") != 0)
        return -1;
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    line = entry_line(e);
    rc = write_all(fd, line, strlen(line)) == 0 && fsync(fd) == 0 ? 0 : -1;
    free(line);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* index_rewrite - replace DIR/index.tsv by its first n entries, atomically */
static int index_rewrite(const struct sink *k, size_t n)
{
    char path[PATH_MAX], tmp[PATH_MAX], *line;
    int fd, rc = 0;

    if (path_of(k, path, sizeof(path), "index.tsv") != 0 ||
        path_of(k, tmp, sizeof(tmp), ".tmp.index.tsv") != 0)
        return -1;
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        line = entry_line(&k->entries[i]);
        rc = write_all(fd, line, strlen(line));
        free(line);
    }
    if (rc != 0) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    return file_commit(fd, tmp, path);
}

/* entry_add - remember a stored message (copies the strings) */
static void entry_add(struct sink *k, const struct entry *e)
{
    struct entry *n;

    if (k->nentries == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 64;
        k->entries = xrealloc(k->entries, k->cap * sizeof(*k->entries));
    }
    n = &k->entries[k->nentries++];
    n->seq = e->seq;
    n->msgid = xstrdup(e->msgid);
    n->sender = xstrdup(e->sender);
    n->rcpts = xstrdup(e->rcpts);
}

/* entry_clear - free the strings of e */
static void entry_clear(struct entry *e)
{
    free(e->msgid);
    free(e->sender);
    free(e->rcpts);
    memset(e, 0, sizeof(*e));
}

/* entry_find - the stored message with this Message-ID, or NULL */
static const struct entry *entry_find(const struct sink *k, const char *msgid)
{
    /* Linear: a test mailbox holds thousands of messages, not millions. */
    for (size_t i = k->nentries; i-- > 0;)
        if (strcmp(k->entries[i].msgid, msgid) == 0)
            return &k->entries[i];
    return NULL;
}

/* entry_parse - split an index.tsv line in place; -1 if malformed */
static int entry_parse(char *line, struct entry *e)
{
    char *f[4], *p = line, *end;
    unsigned long seq;

    line[strcspn(line, "\r\n")] = '\0';
    for (int i = 0; i < 4; i++)
        if ((f[i] = strsep(&p, "\t")) == NULL)
            return -1;
    if (p != NULL || !isdigit((unsigned char)f[0][0]))
        return -1;
    seq = strtoul(f[0], &end, 10);
    if (*end != '\0' || seq == 0 || seq > UINT_MAX)
        return -1;
    e->seq = (unsigned)seq;
    e->msgid = f[1];
    e->sender = f[2];
    e->rcpts = f[3];
    return 0;
}

/* index_load - read DIR/index.tsv at start; a missing index is an empty one */
static int index_load(struct sink *k)
{
    char path[PATH_MAX], *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    struct entry e;
    FILE *fp;
    int err;

    if (path_of(k, path, sizeof(path), "index.tsv") != 0)
        return -1;
    if ((fp = fopen(path, "re")) == NULL)
        return errno == ENOENT ? 0 : -1;
    while (getline(&line, &cap, fp) >= 0) {
        lineno++;
        if (line[0] == '\n')
            continue;
        if (entry_parse(line, &e) == 0)
            entry_add(k, &e);
        else
            logmsg("%s:%u: malformed line ignored", path, lineno);
    }
    err = ferror(fp);
    free(line);
    fclose(fp);
    if (err == 0)
        logmsg("%zu messages in %s", k->nentries, path);
    return err ? -1 : 0;
}

/* next_seq - the sequence number of the next message: after the newest kept */
static unsigned next_seq(const struct sink *k)
{
    return k->nentries ? k->entries[k->nentries - 1].seq + 1 : 1;
}

/* store_lose - forget the newest n messages; the number lost, or -1 */
static long store_lose(struct sink *k, size_t n)
{
    char path[PATH_MAX];
    size_t keep;

    if (n > k->nentries)
        n = k->nentries;
    keep = k->nentries - n;
    if (n > 0 && index_rewrite(k, keep) != 0) {
        logmsg("cannot rewrite the index: %s", strerror(errno));
        return -1;
    }
    for (size_t i = keep; i < k->nentries; i++) {
        struct entry *e = &k->entries[i];

        if (eml_path(k, e->seq, path, sizeof(path)) == 0 && unlink(path) != 0)
            logmsg("unlink %s: %s", path, strerror(errno));
        logmsg("%06u lost msgid=%s", e->seq, e->msgid);
        entry_clear(e);
    }
    k->nentries = keep;
    k->stats.lost += n;
    return (long)n;
}

/*
 * Connections: shared plumbing.
 */

/* reply - one line to the peer: CRLF added for SMTP/LMTP, LF for the control port */
static void reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void reply(struct conn *c, const char *fmt, ...)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    va_list ap;

    va_start(ap, fmt);
    evbuffer_add_vprintf(out, fmt, ap);
    va_end(ap);
    if (c->control)
        evbuffer_add(out, "\n", 1);
    else
        evbuffer_add(out, "\r\n", 2);
}

/* txn_reset - forget the transaction (sender, recipients, content) */
static void txn_reset(struct conn *c)
{
    free(c->sender);
    c->sender = NULL;
    for (size_t i = 0; i < c->nrcpts; i++)
        free(c->rcpts[i].addr);
    free(c->rcpts);
    c->rcpts = NULL;
    c->nrcpts = 0;
    if (c->body)
        evbuffer_drain(c->body, evbuffer_get_length(c->body));
    c->body_len = 0;
    c->too_big = 0;
}

/* conn_free - close and free c */
static void conn_free(struct conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        c->sink->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    txn_reset(c);
    if (c->body)
        evbuffer_free(c->body);
    bufferevent_free(c->bev);
    free(c);
}

/* conn_close - stop reading; c is freed once its output is written */
static void conn_close(struct conn *c)
{
    c->state = ST_CLOSING;
    bufferevent_disable(c->bev, EV_READ);
}

/*
 * SMTP/LMTP commands.
 */

/* hello - EHLO, HELO, LHLO: start over, say what we support */
static void hello(struct conn *c, const char *arg, int extended)
{
    const char *name = c->sink->name;

    if (*arg == '\0') {
        reply(c, "501 5.5.4 Syntax: a host name is required");
        return;
    }
    txn_reset(c);
    c->greeted = 1;
    if (!extended) {
        reply(c, "250 %s", name);
        return;
    }
    reply(c, "250-%s", name);
    reply(c, "250-PIPELINING");
    reply(c, "250-8BITMIME");
    reply(c, "250-ENHANCEDSTATUSCODES");
    reply(c, "250 SIZE %lu", MBX_DATA_MAX);
}

/* cmd_ehlo - EHLO, SMTP only */
static void cmd_ehlo(struct conn *c, const char *arg)
{
    if (c->sink->lmtp)
        reply(c, "500 5.5.1 This is LMTP: use LHLO");
    else
        hello(c, arg, 1);
}

/* cmd_helo - HELO, SMTP only */
static void cmd_helo(struct conn *c, const char *arg)
{
    if (c->sink->lmtp)
        reply(c, "500 5.5.1 This is LMTP: use LHLO");
    else
        hello(c, arg, 0);
}

/* cmd_lhlo - LHLO, LMTP only */
static void cmd_lhlo(struct conn *c, const char *arg)
{
    if (!c->sink->lmtp)
        reply(c, "500 5.5.1 This is SMTP: use EHLO or HELO");
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
                reply(c, "501 5.5.4 Bad SIZE parameter");
                return 0;
            }
            if (errno == ERANGE || size > MBX_DATA_MAX) {
                reply(c, "552 5.3.4 Message size exceeds fixed limit");
                return 0;
            }
        } else if (strcasecmp(t, "BODY=7BIT") != 0 && strcasecmp(t, "BODY=8BITMIME") != 0) {
            reply(c, "555 5.5.4 Unsupported parameter");
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
        reply(c, "503 5.5.1 Say %s first", c->sink->lmtp ? "LHLO" : "EHLO or HELO");
        return;
    }
    if (c->sender) {
        reply(c, "503 5.5.1 Nested MAIL command");
        return;
    }
    if (strncasecmp(arg, "FROM:", 5) != 0 ||
        (rest = addr_parse(arg + 5, addr, sizeof(addr))) == NULL) {
        reply(c, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return;
    }
    if (!mail_params_ok(c, rest))
        return;
    if (code) {
        reply(c, "%d %s mbxsink injected", code, enh_for(code, "5.1.0"));
        return;
    }
    c->sender = xstrdup(addr);
    reply(c, "250 2.1.0 Ok");
}

/* rcpt_add - one more accepted recipient */
static void rcpt_add(struct conn *c, const char *addr, int lmtp_code)
{
    c->rcpts = xrealloc(c->rcpts, (c->nrcpts + 1) * sizeof(*c->rcpts));
    c->rcpts[c->nrcpts].addr = xstrdup(addr);
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
        reply(c, "503 5.5.1 Need MAIL command");
        return;
    }
    if (strncasecmp(arg, "TO:", 3) != 0 ||
        (rest = addr_parse(arg + 3, addr, sizeof(addr))) == NULL || addr[0] == '\0') {
        reply(c, "501 5.1.3 Syntax: RCPT TO:<address>");
        return;
    }
    if (rest[strspn(rest, " ")] != '\0') {
        reply(c, "555 5.5.4 Unsupported parameter");
        return;
    }
    if (c->nrcpts >= MBX_RCPT_MAX) {
        reply(c, "452 4.5.3 Too many recipients");
        return;
    }
    if ((code = fault_rcpt_code(&k->faults, addr, 0)) != 0) {
        reply(c, "%d %s mbxsink injected", code, enh_for(code, "5.1.1"));
        return;
    }
    rcpt_add(c, addr, k->lmtp ? fault_rcpt_code(&k->faults, addr, 1) : 0);
    reply(c, "250 2.1.5 Ok");
}

/* cmd_data - DATA: the content follows */
static void cmd_data(struct conn *c, const char *arg)
{
    if (*arg != '\0') {
        reply(c, "501 5.5.4 Syntax: DATA");
        return;
    }
    if (!c->sender) {
        reply(c, "503 5.5.1 Need MAIL command");
        return;
    }
    if (c->nrcpts == 0) {
        reply(c, "554 5.5.1 No valid recipients");
        return;
    }
    c->state = ST_DATA;
    c->bol = 1;
    c->body_len = 0;
    c->too_big = 0;
    reply(c, "354 End data with <CR><LF>.<CR><LF>");
}

/* cmd_rset - RSET */
static void cmd_rset(struct conn *c, const char *arg)
{
    (void)arg;
    txn_reset(c);
    reply(c, "250 2.0.0 Ok");
}

/* cmd_noop - NOOP */
static void cmd_noop(struct conn *c, const char *arg)
{
    (void)arg;
    reply(c, "250 2.0.0 Ok");
}

/* cmd_vrfy - VRFY: never tells */
static void cmd_vrfy(struct conn *c, const char *arg)
{
    (void)arg;
    reply(c, "252 2.5.2 Cannot VRFY user");
}

/* cmd_quit - QUIT */
static void cmd_quit(struct conn *c, const char *arg)
{
    (void)arg;
    reply(c, "221 2.0.0 Bye");
    conn_close(c);
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

/* smtp_line - one command line */
static void smtp_line(struct conn *c, const char *line)
{
    const char *arg;

    for (size_t i = 0; i < sizeof(smtp_verbs) / sizeof(smtp_verbs[0]); i++) {
        if ((arg = verb_match(line, smtp_verbs[i].name)) != NULL) {
            smtp_verbs[i].fn(c, arg);
            return;
        }
    }
    reply(c, "500 5.5.2 Command unrecognized");
}

/*
 * End of data: store once, answer.
 */

/* rcpts_join - the accepted recipients, comma-separated; the caller frees */
static char *rcpts_join(const struct conn *c)
{
    size_t len = 1, off = 0;
    char *s;

    for (size_t i = 0; i < c->nrcpts; i++)
        len += strlen(c->rcpts[i].addr) + 1;
    s = xrealloc(NULL, len);
    s[0] = '\0';
    for (size_t i = 0; i < c->nrcpts; i++) {
        if (c->rcpts[i].lmtp_code != 0)
            continue;
        off += (size_t)sprintf(s + off, "%s%s", off ? "," : "", c->rcpts[i].addr);
    }
    return s;
}

/* store_message - keep the message once: 1 stored, 0 duplicate, -1 error; *seq is set */
static int store_message(struct conn *c, const char *msgid, unsigned *seq)
{
    struct sink *k = c->sink;
    const struct entry *dup = msgid[0] ? entry_find(k, msgid) : NULL;
    char path[PATH_MAX];
    struct entry e;
    int rc = -1;

    if (dup) {
        *seq = dup->seq;
        k->stats.duplicates++;
        return 0;
    }
    e.seq = *seq = next_seq(k);
    e.msgid = (char *)msgid;
    e.sender = c->sender;
    e.rcpts = rcpts_join(c);
    if (store_body(k, e.seq, c->body) == 0) {
        if (index_append(k, &e) == 0) {
            entry_add(k, &e);
            rc = 1;
        } else if (eml_path(k, e.seq, path, sizeof(path)) == 0) {
            unlink(path);
        }
    }
    if (rc < 0)
        logmsg("%06u storage error: %s", e.seq, strerror(errno));
    free(e.rcpts);
    return rc;
}

/* rcpts_accepted - recipients without an injected LMTP reply */
static size_t rcpts_accepted(const struct conn *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->nrcpts; i++)
        n += c->rcpts[i].lmtp_code == 0;
    return n;
}

/* deliver - store the message and answer: once (SMTP) or per recipient (LMTP) */
static void deliver(struct conn *c)
{
    char msgid[MBX_MSGID_MAX + 1], text[64] = "";
    unsigned seq = 0;
    int rc = -2; /* no recipient left: nothing to store */

    body_msgid(c->body, msgid);
    if (rcpts_accepted(c) > 0)
        rc = store_message(c, msgid, &seq);
    if (rc >= 0) {
        snprintf(text, sizeof(text), "Ok: %s %06u", rc ? "stored as" : "duplicate of", seq);
        logmsg("%06u %s msgid=%s from=<%s> rcpts=%zu bytes=%zu", seq, rc ? "stored" : "duplicate",
               msgid[0] ? msgid : "-", c->sender, rcpts_accepted(c), c->body_len);
    } else if (rc == -2) {
        logmsg("no recipient accepted after data (injected) from=<%s>", c->sender);
    }
    if (!c->sink->lmtp) {
        if (rc < 0)
            reply(c, "451 4.3.0 Local storage error");
        else
            reply(c, "250 2.0.0 %s", text);
        return;
    }
    for (size_t i = 0; i < c->nrcpts; i++) {
        int code = c->rcpts[i].lmtp_code;

        if (code)
            reply(c, "%d %s <%s> mbxsink injected", code, enh_for(code, "5.1.1"), c->rcpts[i].addr);
        else if (rc < 0)
            reply(c, "451 4.3.0 <%s> Local storage error", c->rcpts[i].addr);
        else
            reply(c, "250 2.1.5 <%s> %s", c->rcpts[i].addr, text);
    }
}

/* reply_each - the same reply once (SMTP) or once per recipient (LMTP) */
static void reply_each(struct conn *c, int code, const char *enh, const char *text)
{
    size_t n = c->sink->lmtp ? c->nrcpts : 1;

    for (size_t i = 0; i < n; i++)
        reply(c, "%d %s %s", code, enh, text);
}

/* data_end - the final dot: count, inject, store, answer */
static void data_end(struct conn *c)
{
    struct faults *f = &c->sink->faults;

    c->state = ST_CMD;
    c->sink->stats.messages++;
    if (f->drop_data) {
        logmsg("connection dropped after data (injected) from=<%s>", c->sender);
        conn_close(c);
    } else if (c->too_big) {
        logmsg("message too big, rejected from=<%s>", c->sender);
        reply_each(c, 552, "5.3.4", "Message too big");
    } else if (f->data) {
        logmsg("data answered %d (injected) from=<%s>", f->data, c->sender);
        reply_each(c, f->data, enh_for(f->data, "5.6.0"), "mbxsink injected");
    } else {
        deliver(c);
    }
    txn_reset(c);
}

/* data_add - n octets of content, unless the message is already too big */
static void data_add(struct conn *c, struct evbuffer *in, size_t n)
{
    if (!c->too_big && c->body_len + n > MBX_DATA_MAX) {
        c->too_big = 1;
        evbuffer_drain(c->body, evbuffer_get_length(c->body));
    }
    if (c->too_big) {
        evbuffer_drain(in, n);
        return;
    }
    evbuffer_remove_buffer(in, c->body, n);
    c->body_len += n;
}

/*
 * data_step - one content line (or a piece of a long one); 0 if more input is needed.
 * A line starts only after a real CRLF, so the end is CRLF "." CRLF and nothing else.
 */
static int data_step(struct conn *c, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in), n;
    struct evbuffer_ptr crlf = evbuffer_search(in, "\r\n", 2, NULL);
    char head[3];

    if (crlf.pos >= 0)
        n = (size_t)crlf.pos + 2;
    else if (len >= MBX_DATA_CHUNK)
        n = len - 1; /* keep a CR that may start the CRLF */
    else
        return 0;
    if (c->bol) {
        evbuffer_copyout(in, head, n < 3 ? n : 3);
        if (n == 3 && memcmp(head, ".\r\n", 3) == 0) {
            evbuffer_drain(in, 3);
            data_end(c);
            return 1;
        }
        if (head[0] == '.') {
            evbuffer_drain(in, 1);
            n--;
        }
    }
    data_add(c, in, n);
    c->bol = crlf.pos >= 0;
    return 1;
}

/*
 * The control port.
 */

/* ctl_stats - STATS */
static void ctl_stats(struct conn *c)
{
    const struct sink *k = c->sink;

    reply(c, "OK stored=%zu duplicates=%lu lost=%lu connections=%lu messages=%lu", k->nentries,
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
        reply(c, "ERR usage: LOSE N");
        return;
    }
    if ((lost = store_lose(c->sink, n)) < 0)
        reply(c, "ERR cannot rewrite the index");
    else
        reply(c, "OK lost=%ld", lost);
}

/* ctl_list - LIST: "OK n", n lines "seq message-id", "." */
static void ctl_list(struct conn *c)
{
    const struct sink *k = c->sink;

    reply(c, "OK %zu", k->nentries);
    for (size_t i = 0; i < k->nentries; i++)
        reply(c, "%06u %s", k->entries[i].seq, k->entries[i].msgid[0] ? k->entries[i].msgid : "-");
    reply(c, ".");
}

/* ctl_fail - FAIL RCPT|LMTP addr CODE, FAIL MAIL|DATA|CONNECT CODE */
static void ctl_fail(struct conn *c, char **w, size_t n)
{
    struct faults *f = &c->sink->faults;
    int *slot = n == 3 ? fault_slot(f, w[1]) : NULL;
    int lmtp = n == 4 && strcasecmp(w[1], "LMTP") == 0;
    int code = code_parse(w[n - 1]);
    const char *addr = n == 4 ? addr_bare(w[2]) : "";

    if (!slot && !(n == 4 && (lmtp || strcasecmp(w[1], "RCPT") == 0))) {
        reply(c, "ERR usage: FAIL RCPT|LMTP addr CODE or FAIL MAIL|DATA|CONNECT CODE");
        return;
    }
    if (code < 0) {
        reply(c, "ERR CODE must be 400 to 599");
        return;
    }
    if (slot) {
        *slot = code;
    } else if (fault_set_rcpt(f, addr, code, lmtp) != 0) {
        reply(c, "ERR too many recipient faults");
        return;
    }
    logmsg("fault set: FAIL %s%s%s %d", w[1], n == 4 ? " " : "", addr, code);
    reply(c, "OK");
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
        logmsg("fault set: DROP DATA");
        reply(c, "OK");
    } else if (strcasecmp(v, "CLEAR") == 0 && n == 1) {
        faults_clear(&c->sink->faults);
        logmsg("faults cleared");
        reply(c, "OK");
    } else if (strcasecmp(v, "QUIT") == 0 && n == 1) {
        reply(c, "OK bye");
        conn_close(c);
    } else {
        reply(c, "ERR unknown command or wrong arguments");
    }
}

/* ctl_line - split a control line into words */
static void ctl_line(struct conn *c, char *line)
{
    char *w[MBX_CTL_WORDS + 1], *save = NULL;
    size_t n = 0;

    for (char *t = strtok_r(line, " \t", &save); t && n <= MBX_CTL_WORDS;
         t = strtok_r(NULL, " \t", &save))
        w[n++] = t;
    if (n == 0)
        reply(c, "ERR empty command");
    else if (n > MBX_CTL_WORDS)
        reply(c, "ERR too many words");
    else
        ctl_command(c, w, n);
}

/*
 * Reading lines, driving a connection.
 */

/* line_step - one line to its handler; 0 if no complete line is waiting */
static int line_step(struct conn *c, struct evbuffer *in)
{
    size_t max = c->control ? MBX_CTL_LINE_MAX : MBX_LINE_MAX, eol = 0, len;
    struct evbuffer_ptr p = evbuffer_search_eol(in, NULL, &eol, EVBUFFER_EOL_CRLF);
    char line[MBX_LINE_MAX + 1];

    if (p.pos < 0) {
        if (evbuffer_get_length(in) > max) {
            /* Refused before it is read whole: drop it, answer at its end. */
            evbuffer_drain(in, evbuffer_get_length(in));
            c->skipping = 1;
        }
        return 0;
    }
    len = (size_t)p.pos;
    if (c->skipping || len + eol > max) {
        evbuffer_drain(in, len + eol);
        c->skipping = 0;
        if (c->control)
            reply(c, "ERR line too long");
        else
            reply(c, "500 5.5.2 Line too long");
        return 1;
    }
    evbuffer_remove(in, line, len + eol);
    line[len] = '\0';
    if (c->control)
        ctl_line(c, line);
    else
        smtp_line(c, line);
    return 1;
}

/* conn_drive - handle every complete line waiting in the input, in order */
static void conn_drive(struct conn *c)
{
    struct evbuffer *in = bufferevent_get_input(c->bev);
    struct evbuffer *out = bufferevent_get_output(c->bev);

    while (c->state != ST_CLOSING) {
        if (evbuffer_get_length(out) > MBX_OUT_HIGH) {
            /* The peer does not read its replies: wait until it does. */
            c->paused = 1;
            bufferevent_disable(c->bev, EV_READ);
            return;
        }
        if (!(c->state == ST_DATA ? data_step(c, in) : line_step(c, in)))
            return;
    }
    evbuffer_drain(in, evbuffer_get_length(in));
}

/* conn_read_cb - input arrived */
static void conn_read_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    conn_drive(c);
    if (c->state == ST_CLOSING && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
        conn_free(c);
}

/* conn_write_cb - the output is written: close, or read again */
static void conn_write_cb(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;

    if (c->state == ST_CLOSING) {
        conn_free(c);
    } else if (c->paused) {
        c->paused = 0;
        bufferevent_enable(bev, EV_READ);
        conn_read_cb(bev, c);
    }
}

/* conn_event_cb - end of input, error or timeout */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
    struct conn *c = arg;

    if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        conn_close(c); /* write what is left, then close */
        return;
    }
    if (what & BEV_EVENT_TIMEOUT)
        logmsg("connection timed out");
    conn_free(c);
}

/* conn_new - a connection on fd; NULL (fd closed) on failure */
static struct conn *conn_new(struct sink *k, evutil_socket_t fd, int control)
{
    struct timeval tv = {MBX_IDLE_SECS, 0};
    struct conn *c = calloc(1, sizeof(*c));
    struct bufferevent *bev = bufferevent_socket_new(k->base, fd, BEV_OPT_CLOSE_ON_FREE);

    if (c && bev && !control)
        c->body = evbuffer_new();
    if (!c || !bev || (!control && !c->body)) {
        logmsg("out of memory for a connection");
        if (bev)
            bufferevent_free(bev);
        else
            evutil_closesocket(fd);
        free(c);
        return NULL;
    }
    c->sink = k;
    c->bev = bev;
    c->control = control;
    c->next = k->conns;
    if (k->conns)
        k->conns->prev = c;
    k->conns = c;
    bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
    if (!control)
        bufferevent_set_timeouts(bev, &tv, &tv);
    bufferevent_enable(bev, EV_READ | EV_WRITE);
    return c;
}

/* smtp_accept_cb - a mail connection: greet (or refuse, if injected) */
static void smtp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                           int salen, void *arg)
{
    struct sink *k = arg;
    struct conn *c;
    int code = k->faults.connect;

    (void)l, (void)sa, (void)salen;
    k->stats.connections++;
    if ((c = conn_new(k, fd, 0)) == NULL)
        return;
    if (code) {
        logmsg("connection refused with %d (injected)", code);
        reply(c, "%d %s %s mbxsink injected", code, enh_for(code, "5.3.0"), k->name);
        conn_close(c);
        return;
    }
    reply(c, "220 %s %s mbxsink", k->name, k->lmtp ? "LMTP" : "ESMTP");
}

/* ctl_accept_cb - a control connection */
static void ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                          int salen, void *arg)
{
    (void)l, (void)sa, (void)salen;
    conn_new(arg, fd, 1);
}

/*
 * Startup and shutdown.
 */

/* sockaddr_parse - 127.0.0.1:PORT, [::1]:PORT or unix:/path; -1 if bad */
static int sockaddr_parse(const char *spec, struct sockaddr_storage *ss, int *len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    const char *path = spec + 5;

    memset(ss, 0, sizeof(*ss));
    if (strncmp(spec, "unix:", 5) == 0) {
        if (path[0] == '\0' || strlen(path) >= sizeof(un->sun_path))
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        *len = (int)sizeof(*un);
        return 0;
    }
    *len = (int)sizeof(*ss);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, len) != 0)
        return -1;
    if (ss->ss_family == AF_INET)
        return ((struct sockaddr_in *)ss)->sin_port ? 0 : -1;
    if (ss->ss_family == AF_INET6)
        return ((struct sockaddr_in6 *)ss)->sin6_port ? 0 : -1;
    return -1;
}

/* listen_on - listen on spec with cb; 0 or -1 (message printed) */
static int listen_on(struct sink *k, const char *spec, evconnlistener_cb cb)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l;
    struct sockaddr_storage ss;
    struct stat st;
    int len;

    if (sockaddr_parse(spec, &ss, &len) != 0) {
        logmsg("bad address %s (want 127.0.0.1:PORT, [::1]:PORT or unix:/path)", spec);
        return -1;
    }
    if (ss.ss_family == AF_UNIX && lstat(spec + 5, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(spec + 5); /* a stale socket of an earlier run */
    l = evconnlistener_new_bind(k->base, cb, k, flags, -1, (struct sockaddr *)&ss, len);
    if (l == NULL) {
        logmsg("cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    k->listeners[k->nlisteners++] = l;
    if (ss.ss_family == AF_UNIX)
        k->unix_paths[k->nunix++] = spec + 5;
    return 0;
}

/* on_stop - SIGTERM, SIGINT: leave the loop */
static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct sink *k = arg;

    (void)what;
    logmsg("signal %d: exiting", (int)sig);
    event_base_loopbreak(k->base);
}

/* on_usr1 - SIGUSR1: lose the newest message */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    logmsg("SIGUSR1: lost %ld", store_lose(arg, 1));
}

/* signals_add - install the signal events; -1 on failure */
static int signals_add(struct sink *k)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGUSR1};

    for (int i = 0; i < 3; i++) {
        k->sigs[i] = evsignal_new(k->base, sigs[i], sigs[i] == SIGUSR1 ? on_usr1 : on_stop, k);
        if (k->sigs[i] == NULL || evsignal_add(k->sigs[i], NULL) != 0)
            return -1;
    }
    return 0;
}

/* sink_free - free everything, remove the unix sockets */
static void sink_free(struct sink *k)
{
    while (k->conns)
        conn_free(k->conns);
    for (size_t i = 0; i < k->nlisteners; i++)
        evconnlistener_free(k->listeners[i]);
    for (size_t i = 0; i < k->nunix; i++)
        unlink(k->unix_paths[i]);
    for (int i = 0; i < 3; i++)
        if (k->sigs[i])
            event_free(k->sigs[i]);
    for (size_t i = 0; i < k->nentries; i++)
        entry_clear(&k->entries[i]);
    free(k->entries);
    faults_clear(&k->faults);
    if (k->base)
        event_base_free(k->base);
}

/* usage - print the usage; return EX_USAGE */
static int usage(void)
{
    fputs("usage: mbxsink --listen ADDR [--listen ADDR]... --dir DIR [--lmtp]\n"
          "               [--control ADDR] [--name NAME]\n"
          "               [--fail-rcpt RCPT=CODE]... [--fail-lmtp RCPT=CODE]...\n"
          "               [--fail-mail CODE] [--fail-data CODE] [--fail-connect CODE]\n"
          "               [--drop-after-data]\n"
          "ADDR is 127.0.0.1:PORT, [::1]:PORT or unix:/path; CODE is 400 to 599\n",
          stderr);
    return EX_USAGE;
}

/* opt_rcpt_fault - --fail-rcpt / --fail-lmtp ADDR=CODE */
static int opt_rcpt_fault(struct sink *k, char *arg, int lmtp)
{
    char *eq = strrchr(arg, '=');
    int code;

    if (eq == NULL || eq == arg || (code = code_parse(eq + 1)) < 0) {
        logmsg("bad fault %s (want ADDR=CODE, CODE 400 to 599)", arg);
        return -1;
    }
    *eq = '\0';
    return fault_set_rcpt(&k->faults, addr_bare(arg), code, lmtp);
}

/* opt_code - a --fail-* CODE option into *slot */
static int opt_code(int *slot, const char *arg)
{
    if ((*slot = code_parse(arg)) < 0) {
        logmsg("bad code %s (want 400 to 599)", arg);
        return -1;
    }
    return 0;
}

struct opts {
    const char *listen[MBX_LISTEN_MAX];
    size_t nlisten;
    const char *control;
};

/* opt_apply - one option; -1 if it is wrong */
static int opt_apply(struct sink *k, struct opts *o, int ch, char *arg)
{
    switch (ch) {
    case 'l':
        if (o->nlisten >= MBX_LISTEN_MAX)
            return -1;
        o->listen[o->nlisten++] = arg;
        return 0;
    case 'L':
        k->lmtp = 1;
        return 0;
    case 'd':
        k->dir = arg;
        return 0;
    case 'c':
        o->control = arg;
        return 0;
    case 'n':
        k->name = arg;
        return strlen(arg) > 0 && strlen(arg) <= MBX_NAME_MAX ? 0 : -1;
    case 'r':
    case 'R':
        return opt_rcpt_fault(k, arg, ch == 'R');
    case 'm':
        return opt_code(&k->faults.mail, arg);
    case 'D':
        return opt_code(&k->faults.data, arg);
    case 'C':
        return opt_code(&k->faults.connect, arg);
    case 'x':
        k->faults.drop_data = 1;
        return 0;
    default:
        return -1;
    }
}

/* parse_args - the command line into k and o; -1 if it is wrong */
static int parse_args(int argc, char **argv, struct sink *k, struct opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"lmtp", no_argument, NULL, 'L'},
        {"dir", required_argument, NULL, 'd'},
        {"control", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'n'},
        {"fail-rcpt", required_argument, NULL, 'r'},
        {"fail-lmtp", required_argument, NULL, 'R'},
        {"fail-mail", required_argument, NULL, 'm'},
        {"fail-data", required_argument, NULL, 'D'},
        {"fail-connect", required_argument, NULL, 'C'},
        {"drop-after-data", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    k->name = "mbxsink";
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (opt_apply(k, o, ch, optarg) != 0)
            return -1;
    if (optind != argc || o->nlisten == 0 || k->dir == NULL)
        return -1;
    return 0;
}

/* dir_prepare - DIR exists (created if missing) and is a directory */
static int dir_prepare(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        logmsg("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        logmsg("%s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* start - open the store, listen, install the signals; a sysexits code or 0 */
static int start(struct sink *k, const struct opts *o)
{
    if (dir_prepare(k->dir) != 0)
        return EX_CANTCREAT;
    if (index_load(k) != 0) {
        logmsg("cannot read %s/index.tsv: %s", k->dir, strerror(errno));
        return EX_IOERR;
    }
    if ((k->base = event_base_new()) == NULL || signals_add(k) != 0) {
        logmsg("cannot set up the event loop");
        return EX_OSERR;
    }
    for (size_t i = 0; i < o->nlisten; i++)
        if (listen_on(k, o->listen[i], smtp_accept_cb) != 0)
            return EX_OSERR;
    if (o->control && listen_on(k, o->control, ctl_accept_cb) != 0)
        return EX_OSERR;
    return 0;
}

int main(int argc, char **argv)
{
    struct sink k;
    struct opts o;
    int rc;

    memset(&k, 0, sizeof(k));
    memset(&o, 0, sizeof(o));
    if (parse_args(argc, argv, &k, &o) != 0) {
        faults_clear(&k.faults);
        return usage();
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rc = start(&k, &o)) == 0) {
        printf("mbxsink ready\n");
        fflush(stdout);
        logmsg("listening (%s), storing in %s", k.lmtp ? "LMTP" : "SMTP", k.dir);
        event_base_dispatch(k.base);
    }
    sink_free(&k);
    return rc;
}
