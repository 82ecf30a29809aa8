/*
 * shadow_settings.c - what the worker needs of the configuration: the
 * hub, the servers and credentials (read from their files here, at start),
 * the bounds of each storage group's shadow dumpster stream
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shadow_int.h"

/* shadow_read_secret - the first line of a credentials file */
static int shadow_read_secret(const char *path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(out, (int)cap, f) == NULL)
        out[0] = 0;
    fclose(f);
    out[strcspn(out, "\r\n")] = 0;
    if (out[0] == 0) {
        snprintf(err, errlen, "%s is empty", path);
        return -1;
    }
    return 0;
}

struct shadow_sg *shadow_settings_sgs(const struct conf *c, size_t *n)
{
    struct shadow_sg *sgs = calloc(c->nsg ? c->nsg : 1, sizeof(*sgs));

    *n = 0;
    if (sgs == NULL)
        return NULL;
    for (size_t i = 0; i < c->nsg; i++)
        if (c->sg[i].max_size > 0 && c->sg[i].max_age > 0) { /* 0: the SG keeps nothing */
            struct shadow_sg *g = &sgs[(*n)++];
            snprintf(g->name, sizeof(g->name), "%s", c->sg[i].name);
            g->max_age_s = c->sg[i].max_age;
            g->max_bytes = c->sg[i].max_size;
        }
    return sgs;
}

int shadow_settings_load(struct shadow_settings *set, const struct conf *c, char *err,
                         size_t errlen)
{
    snprintf(set->hub, sizeof(set->hub), "%s", c->hub.name);
    snprintf(set->servers, sizeof(set->servers), "%s", c->shadow.servers);
    snprintf(set->user, sizeof(set->user), "%s", c->shadow.user);
    snprintf(set->ca_file, sizeof(set->ca_file), "%s", c->shadow.ca_file);
    set->replicas = c->shadow.replicas;
    set->publish_timeout_s = c->shadow.publish_timeout;
    set->takeover_after_s = c->shadow.takeover_after;
    set->queue_max_age_s = (uint64_t)c->delivery.max_queue_lifetime + c->shadow.takeover_after;
    if ((set->sgs = shadow_settings_sgs(c, &set->nsgs)) == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if ((c->shadow.password_file[0] &&
         shadow_read_secret(c->shadow.password_file, set->password, sizeof(set->password), err,
                            errlen) < 0) ||
        (c->shadow.token_file[0] &&
         shadow_read_secret(c->shadow.token_file, set->token, sizeof(set->token), err, errlen) < 0))
        return -1;
    return 0;
}
