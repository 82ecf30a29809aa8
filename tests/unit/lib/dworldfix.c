/*
 * dworldfix.c - the world of the delivery scheduler's unit tests
 * (dworldfix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dworldfix.h"

/* world_sg - a storage group whose destination is a format */
static void world_sg(struct world *w, const char *sg, const char *fmt, ...)
{
    char dest[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(dest, sizeof(dest), fmt, ap);
    va_end(ap);
    sf_add_sg(w->x->f, sg, dest, 0);
}

/* dw_setup - the world of one test, delivery started */
int dw_setup(void **state)
{
    struct world *w = calloc(1, sizeof(*w));
    struct conf *c;

    w->x = df_setup(SF_DUMPSTER);
    c = &w->x->f->c;
    w->lmtp = df_peer(w->x, true);
    w->smtp = df_peer(w->x, false);
    w->smarthost = df_peer(w->x, false);
    char path[160];
    snprintf(path, sizeof(path), "%s/lmtp.sock", w->x->f->dir);
    w->local = w->x->peers[w->x->npeers++] = peer_new(w->x->f->base, true, path);
    w->dns = dnsfix_new(w->x->f->base);
    dnsfix_add(w->dns, "mx.test", DNSFIX_A, "127.0.0.1", 300);
    unsigned d1 = peer_dead_port(&w->dead1), d2 = peer_dead_port(&w->dead2);
    world_sg(w, "SG1", "%s", w->lmtp->dest);
    world_sg(w, "SG2", "lmtp:[127.0.0.1]:%u, %s", d1, w->smtp->dest);
    world_sg(w, "SG3", "lmtp:[127.0.0.1]:%u, lmtp:[127.0.0.1]:%u", d1, d2);
    world_sg(w, "SG4", "smtp:mx.test:%u", (unsigned)w->smtp->port);
    world_sg(w, "SG5", "smtp:nx.test:%u", (unsigned)w->smtp->port);
    world_sg(w, "SG6", "%s", w->local->dest);
    snprintf(c->delivery.smarthost, sizeof(c->delivery.smarthost), "%s", w->smarthost->dest);
    snprintf(c->delivery.resolver, sizeof(c->delivery.resolver), "%s", w->dns->spec);
    df_open(w->x);
    *state = w;
    return 0;
}

/* dw_teardown - delivery stopped, the world gone */
int dw_teardown(void **state)
{
    struct world *w = *state;

    dnsfix_free(w->dns); /* its event is on the loop df_teardown frees */
    df_teardown(w->x);
    close(w->dead1);
    close(w->dead2);
    free(w);
    return 0;
}

/* dw_stats - the scheduler's counters */
struct delivery_stats dw_stats(struct world *w)
{
    struct delivery_stats st;

    delivery_get_stats(w->x->d, &st);
    return st;
}

/* dw_send1 - the standard message to one recipient "addr:SG" */
uint64_t dw_send1(struct world *w, const char *rcpt)
{
    return df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
}

/* dw_wait_state - recipient rcpt of msg reaches state */
void dw_wait_state(struct world *w, uint64_t msg, const char *rcpt, enum rcpt_state st)
{
    df_wait(w->x, st,
            "SELECT state FROM recipient WHERE msg = %lld AND rcpt = %Q AND request = 0"
            " AND (state <> 0 OR attempts > 0)",
            (long long)msg, rcpt);
}

/* dw_reply_of - the last reply stored for a recipient */
void dw_reply_of(struct world *w, uint64_t msg, const char *rcpt, char *buf, size_t cap)
{
    sf_sql_text(w->x->f, buf, cap,
                "SELECT last_reply FROM recipient WHERE msg = %lld AND rcpt = %Q", (long long)msg,
                rcpt);
}
