/*
 * ctl_site.c - the hubs dumpsterctl asks (--hub URL, or a site file of
 * "NAME URL [CAFILE]" lines) and the token it sends (--token-file, or a new
 * one made by `token new`)
 *
 * Every problem is one line on stderr naming the file and line, and an
 * exit code of sysexits.h: a file that cannot be read 66, a bad value 65.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "auth.h"
#include "conf.h"
#include "ctl.h"

/* ctl_hub_add - one more hub; 0 or an exit code */
int ctl_hub_add(struct ctl *ctl, const char *name, const char *url, const char *where)
{
    struct ctl_hub *h;
    char why[128];

    if (ctl->nhubs >= CTL_HUBS_MAX) {
        fprintf(stderr, "dumpsterctl: %s: more than %d hubs\n", where, CTL_HUBS_MAX);
        return EX_DATAERR;
    }
    h = &ctl->hubs[ctl->nhubs];
    memset(h, 0, sizeof(*h));
    if (ctl_url_parse(url, h, why, sizeof(why)) < 0) {
        fprintf(stderr, "dumpsterctl: %s: bad URL \"%.80s\": %s\n", where, url, why);
        return EX_DATAERR;
    }
    snprintf(h->name, sizeof(h->name), "%s", name != NULL ? name : h->hosthdr);
    for (size_t i = 0; i < ctl->nhubs; i++)
        if (strcmp(ctl->hubs[i].name, h->name) == 0) {
            fprintf(stderr, "dumpsterctl: %s: hub %s twice\n", where, h->name);
            return EX_DATAERR;
        }
    ctl->nhubs++;
    return 0;
}

/* ctl_readable - a file dumpsterctl must read: 0, or EX_NOINPUT said */
int ctl_readable(const char *path, const char *where)
{
    if (access(path, R_OK) == 0)
        return 0;
    fprintf(stderr, "dumpsterctl: %s: %s: %s\n", where, path, strerror(errno));
    return EX_NOINPUT;
}

/* ctl_site_ca - the CA column, relative to the site file's directory */
static int ctl_site_ca(struct ctl_hub *h, const char *ca, const char *site, const char *where)
{
    const char *slash = strrchr(site, '/');
    int n = ca[0] == '/' || slash == NULL
                ? snprintf(h->cafile, sizeof(h->cafile), "%s", ca)
                : snprintf(h->cafile, sizeof(h->cafile), "%.*s/%s", (int)(slash - site), site, ca);

    if (n < 0 || (size_t)n >= sizeof(h->cafile)) {
        fprintf(stderr, "dumpsterctl: %s: CA file name too long\n", where);
        return EX_DATAERR;
    }
    if (!h->https) {
        fprintf(stderr, "dumpsterctl: %s: a CA file for a hub that is not https://\n", where);
        return EX_DATAERR;
    }
    return ctl_readable(h->cafile, where);
}

/* ctl_site_line - "NAME URL [CAFILE]" (comments and blank lines are skipped) */
static int ctl_site_line(struct ctl *ctl, char *line, const char *site, const char *where)
{
    char *save = NULL, *name, *url, *ca;
    size_t n;
    int rc;

    line[strcspn(line, "#")] = 0;
    if ((name = strtok_r(line, " \t\r\n", &save)) == NULL)
        return 0;
    url = strtok_r(NULL, " \t\r\n", &save);
    ca = url != NULL ? strtok_r(NULL, " \t\r\n", &save) : NULL;
    if (url == NULL || strtok_r(NULL, " \t\r\n", &save) != NULL) {
        fprintf(stderr, "dumpsterctl: %s: expected NAME URL [CAFILE]\n", where);
        return EX_DATAERR;
    }
    n = strlen(name);
    if (n > CTL_NAME_MAX || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                         "0123456789._-") != n) {
        fprintf(stderr, "dumpsterctl: %s: a hub name is 1..%d of [A-Za-z0-9._-]\n", where,
                CTL_NAME_MAX);
        return EX_DATAERR;
    }
    if ((rc = ctl_hub_add(ctl, name, url, where)) != 0 || ca == NULL)
        return rc;
    return ctl_site_ca(&ctl->hubs[ctl->nhubs - 1], ca, site, where);
}

/* ctl_site_load - every hub of a site file */
int ctl_site_load(struct ctl *ctl, const char *path)
{
    char line[DD_CONF_LINE_MAX + 2], where[DD_PATHNAME_MAX + 16];
    unsigned lineno = 0;
    int rc = 0;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "dumpsterctl: %s: %s\n", path, strerror(errno));
        return EX_NOINPUT;
    }
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        snprintf(where, sizeof(where), "%s:%u", path, ++lineno);
        if (strchr(line, '\n') == NULL && !feof(f)) {
            fprintf(stderr, "dumpsterctl: %s: line over %d octets\n", where, DD_CONF_LINE_MAX);
            rc = EX_DATAERR;
        } else
            rc = ctl_site_line(ctl, line, path, where);
    }
    fclose(f);
    if (rc == 0 && ctl->nhubs == 0) {
        fprintf(stderr, "dumpsterctl: %s: no hubs\n", path);
        rc = EX_DATAERR;
    }
    return rc;
}

/* ctl_token_load - the first line of the token file */
int ctl_token_load(struct ctl *ctl, const char *path)
{
    char buf[AUTH_TOKEN_MAX + 4];
    FILE *f = fopen(path, "r");
    size_t n;

    if (f == NULL) {
        fprintf(stderr, "dumpsterctl: %s: %s\n", path, strerror(errno));
        return EX_NOINPUT;
    }
    if (fgets(buf, sizeof(buf), f) == NULL)
        buf[0] = 0;
    fclose(f);
    n = strcspn(buf, "\r\n");
    buf[n] = 0;
    while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)buf[i] <= 0x20 || buf[i] == 0x7f)
            n = 0;
    if (n == 0 || n > AUTH_TOKEN_MAX) {
        fprintf(stderr, "dumpsterctl: %s: no token of 1..%d printable octets on line 1\n", path,
                AUTH_TOKEN_MAX);
        return EX_DATAERR;
    }
    memcpy(ctl->token, buf, n + 1);
    return 0;
}

/* ctl_token_new - token new: the token, then its token_hash line */
int ctl_token_new(const struct ctl *ctl)
{
    char tok[AUTH_TOKEN_NEW_BUF], hex[AUTH_HASH_HEX_BUF];

    if (auth_token_new(tok, sizeof(tok)) < 0) {
        fprintf(stderr, "dumpsterctl: cannot make a token (libsodium)\n");
        return EX_SOFTWARE;
    }
    auth_token_hash_hex(tok, strlen(tok), hex);
    if (ctl->json)
        printf("{\"token\":\"%s\",\"token_hash\":\"%s\"}\n", tok, hex);
    else
        printf("%s\ntoken_hash = %s\n", tok, hex);
    return EX_OK;
}
