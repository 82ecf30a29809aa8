/*
 * conf_file.c - what the config and directory parsers share: reading a
 * bounded file, splitting it into bounded lines, the error list with
 * file:line (conf_int.h, conf.h)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf_int.h"

/* conf_error_add - keep DD_CONF_ERRORS_MAX, count the rest */
void conf_error_add(struct conf_errors *errs, const char *file, unsigned line, const char *fmt, ...)
{
    va_list ap;

    if (errs == NULL)
        return;
    if (errs->n >= DD_CONF_ERRORS_MAX) {
        errs->dropped++;
        return;
    }
    struct conf_error *e = &errs->e[errs->n++];
    snprintf(e->file, sizeof(e->file), "%s", file ? file : "-");
    e->line = line;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
}

/* conf_errors_print - one line per error, then how many were not kept */
void conf_errors_print(const struct conf_errors *errs, FILE *out)
{
    for (size_t i = 0; i < errs->n && i < DD_CONF_ERRORS_MAX; i++) {
        const struct conf_error *e = &errs->e[i];
        if (e->line > 0)
            fprintf(out, "%s:%u: %s\n", e->file, e->line, e->msg);
        else
            fprintf(out, "%s: %s\n", e->file, e->msg);
    }
    if (errs->dropped > 0)
        fprintf(out, "%s: %zu more errors not shown\n",
                errs->n > 0 ? errs->e[errs->n - 1].file : "-", errs->dropped);
}

/* conf_line_span - the line at p: its length without CR LF, and the octets to skip */
int conf_line_span(const char *p, size_t rem, size_t max, size_t *len, size_t *adv)
{
    size_t w = rem < max + 2 ? rem : max + 2; /* max octets, CR, LF */
    const char *nl = memchr(p, '\n', w);
    size_t n;

    if (nl != NULL) {
        n = (size_t)(nl - p);
        *adv = n + 1;
    } else if (rem <= max + 1) {
        n = rem;
        *adv = rem;
    } else {
        /* Over-long: skip to the next line without looking at the rest. */
        nl = memchr(p + w, '\n', rem - w);
        *adv = nl ? (size_t)(nl - p) + 1 : rem;
        *len = w;
        return -1;
    }
    if (n > 0 && p[n - 1] == '\r')
        n--;
    *len = n;
    return n > max ? -1 : 0;
}

/* conf_read_all - read fd into a buffer of at most max + 1 octets */
static char *conf_read_all(int fd, size_t hint, size_t max, size_t *lenp, int *errnop)
{
    size_t cap = hint < max ? hint + 1 : max + 1, len = 0;
    char *buf = malloc(cap);

    *errnop = ENOMEM;
    while (buf != NULL && len <= max) {
        if (len == cap) {
            cap = cap > max / 2 ? max + 1 : cap * 2;
            char *grown = realloc(buf, cap);
            if (grown == NULL)
                break;
            buf = grown;
        }
        ssize_t r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *errnop = r < 0 ? errno : 0;
            if (r == 0) {
                *lenp = len;
                return buf;
            }
            break;
        }
        len += (size_t)r;
    }
    if (buf != NULL && len > max) {
        *errnop = EFBIG;
        *lenp = len;
        return buf; /* the caller sees len > max */
    }
    free(buf);
    return NULL;
}

/* conf_file_read - the whole file, refused past max octets */
int conf_file_read(const char *path, size_t max, char **bufp, size_t *lenp,
                   struct conf_errors *errs)
{
    struct stat sb;
    size_t len = 0;
    int err = 0;

    *bufp = NULL;
    *lenp = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) < 0) {
        conf_error_add(errs, path, 0, "cannot open: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > max) {
        conf_error_add(errs, path, 0, "file larger than %zu octets", max);
        close(fd);
        return -1;
    }
    char *buf = conf_read_all(fd, S_ISREG(sb.st_mode) ? (size_t)sb.st_size : 4096, max, &len, &err);
    close(fd);
    if (buf == NULL || len > max) {
        if (len > max)
            conf_error_add(errs, path, 0, "file larger than %zu octets", max);
        else
            conf_error_add(errs, path, 0, "cannot read: %s", strerror(err));
        free(buf);
        return -1;
    }
    *bufp = buf;
    *lenp = len;
    return 0;
}
