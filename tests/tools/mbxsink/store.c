/* store.c - the mailbox store: DIR/NNNNNN.eml and DIR/index.tsv, stored once, lost on demand */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "mbxsink.h"

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
        mbx_logmsg("out of memory");
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
        k->entries = mbx_xrealloc(k->entries, k->cap * sizeof(*k->entries));
    }
    n = &k->entries[k->nentries++];
    n->seq = e->seq;
    n->msgid = mbx_xstrdup(e->msgid);
    n->sender = mbx_xstrdup(e->sender);
    n->rcpts = mbx_xstrdup(e->rcpts);
}

/* mbx_entry_clear - free the strings of e */
void mbx_entry_clear(struct entry *e)
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

/* mbx_index_load - read DIR/index.tsv at start; a missing index is an empty one */
int mbx_index_load(struct sink *k)
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
            mbx_logmsg("%s:%u: malformed line ignored", path, lineno);
    }
    err = ferror(fp);
    free(line);
    fclose(fp);
    if (err == 0)
        mbx_logmsg("%zu messages in %s", k->nentries, path);
    return err ? -1 : 0;
}

/* next_seq - the sequence number of the next message: after the newest kept */
static unsigned next_seq(const struct sink *k)
{
    return k->nentries ? k->entries[k->nentries - 1].seq + 1 : 1;
}

/* mbx_store_lose - forget the newest n messages; the number lost, or -1 */
long mbx_store_lose(struct sink *k, size_t n)
{
    char path[PATH_MAX];
    size_t keep;

    if (n > k->nentries)
        n = k->nentries;
    keep = k->nentries - n;
    if (n > 0 && index_rewrite(k, keep) != 0) {
        mbx_logmsg("cannot rewrite the index: %s", strerror(errno));
        return -1;
    }
    for (size_t i = keep; i < k->nentries; i++) {
        struct entry *e = &k->entries[i];

        if (eml_path(k, e->seq, path, sizeof(path)) == 0 && unlink(path) != 0)
            mbx_logmsg("unlink %s: %s", path, strerror(errno));
        mbx_logmsg("%06u lost msgid=%s", e->seq, e->msgid);
        mbx_entry_clear(e);
    }
    k->nentries = keep;
    k->stats.lost += n;
    return (long)n;
}
/* rcpts_join - the accepted recipients, comma-separated; the caller frees */
static char *rcpts_join(const struct conn *c)
{
    size_t len = 1, off = 0;
    char *s;

    for (size_t i = 0; i < c->nrcpts; i++)
        len += strlen(c->rcpts[i].addr) + 1;
    s = mbx_xrealloc(NULL, len);
    s[0] = '\0';
    for (size_t i = 0; i < c->nrcpts; i++) {
        if (c->rcpts[i].lmtp_code != 0)
            continue;
        off += (size_t)sprintf(s + off, "%s%s", off ? "," : "", c->rcpts[i].addr);
    }
    return s;
}

/* mbx_store_message - keep the message once: 1 stored, 0 duplicate, -1 error; *seq is set */
int mbx_store_message(struct conn *c, const char *msgid, unsigned *seq)
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
        mbx_logmsg("%06u storage error: %s", e.seq, strerror(errno));
    free(e.rcpts);
    return rc;
}
