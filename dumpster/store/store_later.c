/*
 * store_later.c - what a work function defers until its batch is decided:
 * posts to the loop, functions run after the commit, log lines; kept with
 * the batch or dropped with it (store_int.h)
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store_int.h"
#include "store_priv.h"

/* store_later_free - drop one deferred entry (its batch did not commit) */
static void store_later_free(struct store *s, struct store_later *l)
{
    if (l->after)
        l->after(l->data, false);
    else
        s->resync = true;
    if (l->post)
        free(l->data);
    free(l);
}

/* store_drop_later - forget what was deferred after mark */
void store_drop_later(struct store *s, struct store_later **mark)
{
    struct store_later *l = *mark;

    *mark = NULL;
    s->later_tail = mark;
    while (l) {
        struct store_later *next = l->next;
        store_later_free(s, l);
        l = next;
    }
}

/* store_defer - append an entry to this batch's deferred list */
static void store_defer(struct store *s, struct store_later *l)
{
    *s->later_tail = l;
    s->later_tail = &l->next;
}

/* store_post - data to fn on the loop once this batch committed */
void store_post(struct store *s, store_post_fn fn, void *ctx, void *data)
{
    struct store_later *l = calloc(1, sizeof(*l));

    if (l == NULL) {
        log_err("store", "out of memory");
        abort();
    }
    l->post = fn;
    l->ctx = ctx;
    l->data = data;
    store_defer(s, l);
}

/* store_after - fn(arg, committed) on this thread after the batch */
void store_after(struct store *s, store_after_fn fn, void *arg)
{
    struct store_later *l = calloc(1, sizeof(*l));

    if (l == NULL) {
        log_err("store", "out of memory");
        abort();
    }
    l->after = fn;
    l->data = arg;
    store_defer(s, l);
}

/* A log line waiting for its batch: "tag\0text". */
static void store_log_line(void *arg, bool committed)
{
    char *line = arg;

    if (committed)
        log_info(line, "%s", line + strlen(line) + 1);
    free(line);
}

/* store_log - a log line that appears only if the batch commits */
void store_log(struct store *s, const char *tag, const char *fmt, ...)
{
    size_t tlen = strlen(tag) + 1;
    char text[1024], *line;
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    if ((line = malloc(tlen + strlen(text) + 1)) == NULL)
        return;
    memcpy(line, tag, tlen);
    memcpy(line + tlen, text, strlen(text) + 1);
    store_after(s, store_log_line, line);
}

/* store_on_resync - who re-reads after dropped posts */
void store_on_resync(struct store *s, store_post_fn fn, void *ctx)
{
    if (s->nresyncs == STORE_RESYNC_MAX) {
        log_err("store", "too many mirrors");
        abort();
    }
    s->resyncs[s->nresyncs].fn = fn;
    s->resyncs[s->nresyncs++].ctx = ctx;
}
