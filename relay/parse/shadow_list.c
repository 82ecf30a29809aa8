/*
 * shadow_list.c - the recipient lists that come with shadow copies
 * (shadow_list.h)
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "shadow_list.h"

/* list_line_is - whether the line ln[0..n) is "addr" or "sg addr" */
static bool list_line_is(const char *ln, size_t n, const char *sg, const char *addr)
{
    size_t slen = sg ? strlen(sg) + 1 : 0, alen = strlen(addr);

    if (n != slen + alen)
        return false;
    if (sg && (memcmp(ln, sg, slen - 1) != 0 || ln[slen - 1] != ' '))
        return false;
    return strncasecmp(ln + slen, addr, alen) == 0;
}

bool shadow_list_has(const char *list, size_t len, const char *sg, const char *addr)
{
    for (size_t i = 0; list != NULL && i < len;) {
        const char *nl = memchr(list + i, '\n', len - i);
        size_t n = nl ? (size_t)(nl - list) - i : len - i;
        if (list_line_is(list + i, n, sg, addr))
            return true;
        i += n + 1;
    }
    return false;
}

int shadow_list_add(char **list, size_t *len, const char *sg, const char *addr)
{
    size_t slen = sg ? strlen(sg) + 1 : 0, alen = strlen(addr);
    bool open = *len > 0 && (*list)[*len - 1] != '\n'; /* its last line has no end */
    char *p;

    if (shadow_list_has(*list, *len, sg, addr))
        return 0;
    if ((p = realloc(*list, *len + open + slen + alen + 2)) == NULL)
        return -1;
    if (open)
        p[(*len)++] = '\n';
    if (sg) {
        memcpy(p + *len, sg, slen - 1);
        p[*len + slen - 1] = ' ';
    }
    memcpy(p + *len + slen, addr, alen);
    *len += slen + alen;
    p[(*len)++] = '\n';
    p[*len] = 0;
    *list = p;
    return 0;
}
