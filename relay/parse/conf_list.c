/*
 * conf_list.c - the items of a comma list, for the list-valued keys
 * (conf_int.h; pure)
 */
#include <string.h>

#include "conf_int.h"

/* conf_list_next - the item at *p, blanks trimmed; *p past its comma */
void conf_list_next(const char **p, const char **item, size_t *len)
{
    const char *s = *p, *comma = strchr(s, ',');
    const char *e = comma ? comma : s + strlen(s);

    while (s < e && (*s == ' ' || *s == '\t'))
        s++;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    *item = s;
    *len = (size_t)(e - s);
    *p = comma ? comma + 1 : NULL;
}
