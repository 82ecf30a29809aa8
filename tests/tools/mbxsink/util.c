/* util.c - logging, allocation and the small parsers every part of mbxsink uses */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mbxsink.h"

/* mbx_logmsg - one line to stderr */
void mbx_logmsg(const char *fmt, ...)
{
    va_list ap;

    fputs("mbxsink: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* mbx_xrealloc - realloc or abort: out of memory is fatal in a test tool */
void *mbx_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);

    if (q == NULL) {
        mbx_logmsg("out of memory");
        abort();
    }
    return q;
}

/* mbx_xstrdup - strdup or abort */
char *mbx_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;

    return memcpy(mbx_xrealloc(NULL, n), s, n);
}

/* mbx_code_parse - a reply code of 400..599, or -1 */
int mbx_code_parse(const char *s)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    v = strtol(s, &end, 10);
    return *end != '\0' || v < 400 || v > 599 ? -1 : (int)v;
}

/* mbx_enh_for - the enhanced code of an injected reply: 4.3.0, or perm for 5xx */
const char *mbx_enh_for(int code, const char *perm)
{
    return code < 500 ? "4.3.0" : perm;
}

/* mbx_addr_bare - strip one pair of angle brackets, in place */
char *mbx_addr_bare(char *s)
{
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s[n - 1] = '\0';
        return s + 1;
    }
    return s;
}
