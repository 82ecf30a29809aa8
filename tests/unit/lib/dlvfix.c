/*
 * dlvfix.c - the delivery scheduler over the storage hub (dlvfix.h)
 */
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "clock.h"
#include "dlvfix.h"
#include "queue.h"

const char df_content[] = "From: Sender <s@example.net>\r\n"
                          "To: Alice <alice@example.org>\r\n"
                          "Subject: quarterly figures\r\n"
                          "Message-ID: <m1@example.net>\r\n"
                          "\r\n"
                          "Hello,\r\n"
                          ".a line that needs stuffing\r\n"
                          "the figures follow.\r\n";

/* df_setup - the storage hub's conf, tuned for delivery tests */
struct dlvfix *df_setup(unsigned flags)
{
    struct dlvfix *x = calloc(1, sizeof(*x));

    assert_non_null(x);
    assert_true(sodium_init() >= 0); /* as the hub does: bounces draw random seeds */
    x->f = sf_setup(flags, false);
    x->f->user = x;
    struct conf *c = &x->f->c;
    c->delivery.retry_initial = 600;
    c->delivery.retry_max = 3600;
    c->delivery.connect_timeout = 5;
    snprintf(c->delivery.resolver, sizeof(c->delivery.resolver), "127.0.0.1:9");
    return x;
}

/* df_kick - new mail is durable: delivery looks (hub_committed) */
static void df_kick(void *ctx)
{
    delivery_kick(ctx);
}

/* df_before_start - delivery over the queue, before the store starts */
static void df_before_start(struct storefix *f)
{
    struct dlvfix *x = f->user;
    char err[256] = "";

    x->d = delivery_new(f->base, &f->c, x->dir, f->st, f->q, err, sizeof(err));
    if (x->d == NULL)
        fail_msg("delivery_new: %s", err);
    queue_on_commit(f->q, df_kick, x->d);
}

/* df_open - the hub with delivery */
void df_open(struct dlvfix *x)
{
    x->f->before_start = df_before_start;
    sf_open(x->f);
}

/* df_peer - a peer that lives until the teardown */
struct peer *df_peer(struct dlvfix *x, bool lmtp)
{
    assert_true(x->npeers < DF_PEERS_MAX);
    return x->peers[x->npeers++] = peer_new(x->f->base, lmtp, NULL);
}

/* df_close - the hub's order: delivery stops before the queue and is
 * freed after the store closed; the peers go with it */
void df_close(struct dlvfix *x)
{
    delivery_stop(x->d);
    for (size_t i = 0; i < x->npeers; i++)
        x->peers[i] = peer_free(x->peers[i]);
    sf_close(x->f);
    x->d = delivery_free(x->d);
}

/* df_reopen - a restart of the storage hub and delivery (the peers stay) */
void df_reopen(struct dlvfix *x)
{
    delivery_stop(x->d);
    sf_close(x->f);
    x->d = delivery_free(x->d);
    sf_open(x->f);
}

/* df_teardown - closed, then the loop and the temp dir go */
void df_teardown(struct dlvfix *x)
{
    df_close(x);
    sf_teardown(x->f);
    x->dir = directory_free(x->dir);
    if (x->has_alt)
        conf_free(&x->alt);
    free(x);
}

/* df_directory - a directory file in the temp dir, loaded */
void df_directory(struct dlvfix *x, const char *text)
{
    struct conf_errors errs = {0};
    char path[160];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/directory.tsv", x->f->dir);
    assert_non_null(fp = fopen(path, "w"));
    fputs(text, fp);
    fclose(fp);
    struct directory *dir = directory_load(path, &x->f->c, &errs);
    if (dir == NULL)
        fail_msg("directory_load: %s", errs.n ? errs.e[0].msg : "?");
    if (x->d)
        delivery_set_directory(x->d, dir);
    directory_free(x->dir);
    x->dir = dir;
}

/* df_alt_sg - the second conf: f->c's groups, name now at dest */
void df_alt_sg(struct dlvfix *x, const char *name, const char *dest)
{
    struct conf *a = &x->alt;
    char err[256];
    size_t i;

    if (!x->has_alt) {
        *a = x->f->c;
        a->sg = calloc(a->nsg + 1, sizeof(*a->sg));
        assert_non_null(a->sg);
        memcpy(a->sg, x->f->c.sg, a->nsg * sizeof(*a->sg));
        x->has_alt = true;
    }
    for (i = 0; i < a->nsg && strcmp(a->sg[i].name, name) != 0; i++)
        ;
    if (i == a->nsg) {
        assert_non_null(a->sg = realloc(a->sg, (a->nsg + 1) * sizeof(*a->sg)));
        memset(&a->sg[a->nsg++], 0, sizeof(*a->sg));
        snprintf(a->sg[i].name, sizeof(a->sg[i].name), "%s", name);
    }
    if (conf_dest_parse(dest, &a->sg[i].dest, err, sizeof(err)) < 0)
        fail_msg("%s: %s", dest, err);
    conf_dest_format(&a->sg[i].dest, a->sg[i].dest_text, sizeof(a->sg[i].dest_text));
}

/* df_committed - a commit's answer */
static void df_committed(void *ctx, uint64_t cookie, enum store_rc rc)
{
    struct dlvfix *x = ctx;

    (void)cookie;
    x->commits++;
    x->commit_errors += rc != STORE_OK;
}

/* df_rcpts - "addr:SG" as queue recipients */
static struct queue_msg_rcpt *df_rcpts(const char *const *rcpts, size_t n)
{
    struct queue_msg_rcpt *r = calloc(n ? n : 1, sizeof(*r));

    assert_non_null(r);
    for (size_t i = 0; i < n; i++) {
        const char *colon = strrchr(rcpts[i], ':');
        assert_non_null(colon);
        snprintf(r[i].addr, sizeof(r[i].addr), "%.*s", (int)(colon - rcpts[i]), rcpts[i]);
        r[i].route = colon[1] ? RCPT_ROUTE_SG : RCPT_ROUTE_SMARTHOST;
        snprintf(r[i].sg, sizeof(r[i].sg), "%s", colon + 1);
    }
    return r;
}

/* df_send - one message through the intake, committed */
uint64_t df_send(struct dlvfix *x, const char *sender, const char *content, int64_t received_ms,
                 const char *const *rcpts, size_t n)
{
    struct queue_msg *m = calloc(1, sizeof(*m));
    size_t len = strlen(content);
    int want = x->commits + 1;

    assert_non_null(m);
    m->msg_id = queue_new_msg_id(x->f->q);
    snprintf(m->queue_id, sizeof(m->queue_id), "DL%016llu", ++x->next_qid);
    snprintf(m->sender, sizeof(m->sender), "%s", sender);
    assert_non_null(m->message_id = strdup("<m1@example.net>"));
    m->received_ms = received_ms;
    snprintf(m->client_ip, sizeof(m->client_ip), "127.0.0.1");
    snprintf(m->helo, sizeof(m->helo), "client.test");
    snprintf(m->proto, sizeof(m->proto), "ESMTP");
    queue_chunk(x->f->q, m->msg_id, m->nchunks++, strdup(content), len);
    m->size = len;
    m->rcpts = df_rcpts(rcpts, n);
    m->nrcpts = n;
    uint64_t id = m->msg_id;
    queue_commit(x->f->q, m, df_committed, x, id);
    sf_loop_until(x->f, &x->commits, want);
    assert_int_equal(x->commit_errors, 0);
    return id;
}

/* df_wait - poll the database while the loop runs */
void df_wait(struct dlvfix *x, long long want, const char *fmt, ...)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;
    char sql[2048];
    va_list ap;
    long long got;

    va_start(ap, fmt);
    sqlite3_vsnprintf(sizeof(sql), sql, fmt, ap);
    va_end(ap);
    while ((got = sf_sql_int(x->f, "%s", sql)) != want && clock_mono_ms() < end)
        sf_run_ms(x->f, 10);
    if (got != want)
        fail_msg("%s: got %lld, want %lld", sql, got, want);
}

/* df_wait_for - a counter reaches want */
void df_wait_for(struct dlvfix *x, const unsigned *v, unsigned want)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (*v < want && clock_mono_ms() < end)
        sf_run_ms(x->f, 10);
    if (*v < want)
        fail_msg("timed out: %u of %u", *v, want);
}

/* df_attempts - delivered, deferred and failed attempts */
uint64_t df_attempts(struct dlvfix *x)
{
    struct delivery_stats st;

    delivery_get_stats(x->d, &st);
    return st.attempts_delivered + st.attempts_deferred + st.attempts_failed;
}

/* df_wait_attempts - n attempts decided */
void df_wait_attempts(struct dlvfix *x, uint64_t n)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (df_attempts(x) < n && clock_mono_ms() < end)
        sf_run_ms(x->f, 10);
    if (df_attempts(x) < n)
        fail_msg("timed out: %llu of %llu attempts", (unsigned long long)df_attempts(x),
                 (unsigned long long)n);
}

/* df_rcpt_state - the state of one recipient row */
long long df_rcpt_state(struct dlvfix *x, uint64_t msg, const char *rcpt)
{
    return sf_sql_int(x->f,
                      "SELECT state FROM recipient WHERE msg = %lld AND rcpt = %Q"
                      " AND request = 0",
                      (long long)msg, rcpt);
}

/* df_bounces - messages from the null sender */
long long df_bounces(struct dlvfix *x)
{
    return sf_sql_int(x->f, "SELECT count(*) FROM message WHERE sender = ''");
}
