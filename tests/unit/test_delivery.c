/*
 * test_delivery.c - the delivery scheduler and its pools (delivery.h) over
 * a real store and loop, against scripted LMTP/SMTP peers on 127.0.0.1
 *
 * One world per test: SG1 goes to an LMTP peer; SG2 to a refused address
 * and then an SMTP peer (fallback); SG3 to two refused addresses; SG4 to a
 * host name the loopback DNS server resolves to the SMTP peer; SG5 to a
 * name it does not know; SG6 to an LMTP peer on a unix socket; the
 * smarthost is a third peer that receives the bounces. Outcomes are read
 * from the recipient table: delivered, failed with one bounce, deferred
 * with the doubling backoff, failed once the queue lifetime is over;
 * connections are counted at the peers (reuse with RSET, the concurrency
 * bound, a pool that grows only while its connections are busy); a destination changed at runtime,
 * by a new configuration or across a restart takes the mail not yet delivered; a peer that hangs up
 * or answers out of step defers, never bounces; an outcome whose commit
 * fails is written later, its recipient delivered once.
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

#include "dlvfix.h"
#include "dnsfix.h"

struct world {
    struct dlvfix *x;
    struct peer *lmtp, *smtp, *smarthost, *local; /* local: on a unix socket */
    struct dnsfix *dns;
    int dead1, dead2; /* bound, not listening */
};

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

/* setup - the world of one test, delivery started */
static int setup(void **state)
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

/* teardown - delivery stopped, the world gone */
static int teardown(void **state)
{
    struct world *w = *state;

    df_teardown(w->x);
    dnsfix_free(w->dns);
    close(w->dead1);
    close(w->dead2);
    free(w);
    return 0;
}

/* stats - the scheduler's counters */
static struct delivery_stats stats(struct world *w)
{
    struct delivery_stats st;

    delivery_get_stats(w->x->d, &st);
    return st;
}

/* send1 - the standard message to one recipient "addr:SG" */
static uint64_t send1(struct world *w, const char *rcpt)
{
    return df_send(w->x, DF_SENDER, df_content, clock_now_ms(), &rcpt, 1);
}

/* wait_state - recipient rcpt of msg reaches state */
static void wait_state(struct world *w, uint64_t msg, const char *rcpt, enum rcpt_state st)
{
    df_wait(w->x, st,
            "SELECT state FROM recipient WHERE msg = %lld AND rcpt = %Q AND request = 0"
            " AND (state <> 0 OR attempts > 0)",
            (long long)msg, rcpt);
}

/* wait_failed - msg's recipient rcpt failed: its row says so, or the
 * message left the store because nothing else was open (failed mail with a
 * bounce queued is not kept) */
static void wait_failed(struct world *w, uint64_t msg, const char *rcpt)
{
    df_wait(w->x, 1,
            "SELECT count(*) = 0 OR max(state) = %d FROM recipient WHERE msg = %lld AND rcpt = %Q",
            RCPT_FAILED, (long long)msg, rcpt);
}

/* reply_of - the last reply stored for a recipient */
static void reply_of(struct world *w, uint64_t msg, const char *rcpt, char *buf, size_t cap)
{
    sf_sql_text(w->x->f, buf, cap,
                "SELECT last_reply FROM recipient WHERE msg = %lld AND rcpt = %Q", (long long)msg,
                rcpt);
}

/* wait_closed - run the loop until no connection to peer p is open */
static void wait_closed(struct world *w, const struct peer *p)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (p->open > 0 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    if (p->open > 0)
        fail_msg("timed out: %u connections still open", p->open);
}

static const struct {
    const char *rcpt, *at_rcpt, *at_dot;
    enum rcpt_state state;
    const char *reply; /* how the stored last reply starts */
} lmtp_cases[] = {
    {"alice@example.org", NULL, NULL, RCPT_DELIVERED, "250 2.0.0"},
    {"bob@example.org", "550 5.1.1 <bob@example.org>: unknown user", NULL, RCPT_FAILED,
     "550 5.1.1"},
    {"carol@example.org", NULL, "452 4.2.2 mailbox full", RCPT_PENDING, "452 4.2.2"},
    {"dave@example.org", NULL, "554 5.6.0 content refused", RCPT_FAILED, "554 5.6.0"},
    {"erin@example.org", "451 4.3.0 try later", NULL, RCPT_PENDING, "451 4.3.0"},
};
#define NLMTP (sizeof(lmtp_cases) / sizeof(lmtp_cases[0]))

/* test_lmtp_outcomes - each recipient's own reply decides its fate */
static void test_lmtp_outcomes(void **state)
{
    struct world *w = *state;
    const char *rcpts[NLMTP];
    char addr[NLMTP][96], reply[512];
    int64_t t0 = clock_now_ms();

    for (size_t i = 0; i < NLMTP; i++) {
        peer_rule(w->lmtp, lmtp_cases[i].rcpt, lmtp_cases[i].at_rcpt, lmtp_cases[i].at_dot);
        snprintf(addr[i], sizeof(addr[i]), "%s:SG1", lmtp_cases[i].rcpt);
        rcpts[i] = addr[i];
    }
    uint64_t id = df_send(w->x, DF_SENDER, df_content, t0, rcpts, NLMTP);
    for (size_t i = 0; i < NLMTP; i++) {
        wait_state(w, id, lmtp_cases[i].rcpt, lmtp_cases[i].state);
        reply_of(w, id, lmtp_cases[i].rcpt, reply, sizeof(reply));
        if (strncmp(reply, lmtp_cases[i].reply, strlen(lmtp_cases[i].reply)) != 0)
            fail_msg("%s: reply [%s]", lmtp_cases[i].rcpt, reply);
    }
    /* deferred ones wait retry_initial (no attempt before) */
    assert_int_equal(sf_sql_int(w->x->f,
                                "SELECT count(*) FROM recipient WHERE msg = %lld AND state = 0"
                                " AND next_attempt BETWEEN %lld AND %lld",
                                (long long)id, (long long)(t0 + 600000),
                                (long long)(clock_now_ms() + 600000)),
                     2);
    /* the one delivered copy is kept, with alice only */
    df_wait(w->x, 1, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1' AND msg = %lld",
            (long long)id);
    assert_int_equal(sf_sql_int(w->x->f,
                                "SELECT count(*) FROM dumpster_rcpt WHERE sg = 'SG1' AND msg = %lld"
                                " AND rcpt = 'alice@example.org'",
                                (long long)id),
                     1);
    assert_int_equal(sf_sql_int(w->x->f, "SELECT count(*) FROM dumpster_rcpt"), 1);
    /* one bounce for bob and dave, delivered to the smarthost */
    df_wait_for(w->x, &w->smarthost->nmsgs, 1);
    df_wait(w->x, 0, "SELECT count(*) FROM message WHERE sender = ''"); /* delivered, gone */
    assert_int_equal(w->smarthost->nmsgs, 1);
    assert_string_equal(w->smarthost->msgs[0].sender, "");
    assert_string_equal(w->smarthost->msgs[0].rcpts[0], DF_SENDER);
    struct delivery_stats st = stats(w);
    assert_int_equal(st.attempts_delivered, 1 + 1); /* alice, then the bounce */
    assert_int_equal(st.attempts_failed, 2);
    assert_int_equal(st.attempts_deferred, 2);
    assert_int_equal(st.bounces, 1);
    /* the content went over the wire as it was committed */
    assert_int_equal(w->lmtp->msgs[0].len, strlen(df_content));
    assert_memory_equal(w->lmtp->msgs[0].content, df_content, strlen(df_content));
    assert_true(peer_saw(w->lmtp, "LHLO"));
}

/* test_smtp_fallback - SG2's first address refuses: its second one takes
 * the mail over SMTP, one reply for every recipient */
static void test_smtp_fallback(void **state)
{
    struct world *w = *state;
    const char *rcpts[] = {"alice@example.org:SG2", "bob@example.org:SG2"};

    uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
    wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    wait_state(w, id, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(w->smtp->conns, 1);
    assert_int_equal(w->smtp->nmsgs, 1);
    assert_int_equal(w->smtp->msgs[0].nrcpts, 2);
    assert_true(peer_saw(w->smtp, "EHLO"));
    assert_int_equal(stats(w).connections, 2); /* the refused one, then the peer */
    assert_int_equal(df_bounces(w->x), 0);
}

/* test_unix_socket - an LMTP destination on a unix socket */
static void test_unix_socket(void **state)
{
    struct world *w = *state;

    uint64_t id = send1(w, "alice@example.org:SG6");
    wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->local->nmsgs, 1);
    assert_true(peer_saw(w->local, "LHLO"));
    assert_int_equal(w->lmtp->conns + w->smtp->conns, 0);
}

/* test_refused_everywhere - every address refuses: deferred, no bounce */
static void test_refused_everywhere(void **state)
{
    struct world *w = *state;
    int64_t t0 = clock_now_ms();
    char reply[512];

    uint64_t id = send1(w, "alice@example.org:SG3");
    wait_state(w, id, "alice@example.org", RCPT_PENDING);
    long long next =
        sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld", (long long)id);
    assert_true(next >= t0 + 600000 && next <= clock_now_ms() + 600000);
    reply_of(w, id, "alice@example.org", reply, sizeof(reply));
    if (strstr(reply, "refused") == NULL)
        fail_msg("reply [%s]", reply);
    assert_int_equal(stats(w).connections, 2); /* each address once, one at a time */
    sf_run_ms(w->x->f, 200);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(stats(w).bounces, 0);
}

/* test_backoff_doubles - retry_initial doubled per attempt up to retry_max,
 * counted from the outcome */
static void test_backoff_doubles(void **state)
{
    struct world *w = *state;
    static const long long backoff_s[] = {60, 120, 200, 200, 200};
    uint64_t id = 0;

    w->x->f->c.delivery.retry_initial = 60;
    w->x->f->c.delivery.retry_max = 200;
    peer_rule(w->lmtp, "alice@example.org", "450 4.2.1 busy", NULL);
    for (size_t k = 0; k < sizeof(backoff_s) / sizeof(backoff_s[0]); k++) {
        int64_t t0 = clock_now_ms();
        if (k == 0)
            id = send1(w, "alice@example.org:SG1");
        else { /* due now, as a flush makes it */
            queue_flush(w->x->f->q, "SG1", false, NULL, NULL);
            delivery_kick(w->x->d);
        }
        df_wait(w->x, (long long)k + 1, "SELECT attempts FROM recipient WHERE msg = %lld",
                (long long)id);
        long long next = sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld",
                                    (long long)id) -
                         backoff_s[k] * 1000;
        if (next < t0 || next > clock_now_ms())
            fail_msg("attempt %zu: next attempt %lld ms off", k + 1, (long long)(next - t0));
    }
    assert_int_equal(df_rcpt_state(w->x, id, "alice@example.org"), RCPT_PENDING);
    assert_int_equal(w->lmtp->rcpt_cmds, 5);
}

static const struct {
    const char *sg, *at_rcpt;
} expired_cases[] = {
    {"SG1", "450 4.2.1 busy"}, /* a temporary reply */
    {"SG3", NULL},             /* no connection at all: content never read */
};

/* test_lifetime_over - a deferral past max_queue_lifetime is a failure,
 * bounced */
static void test_lifetime_over(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.max_queue_lifetime = 3600;
    peer_rule(w->lmtp, "old0@example.org", expired_cases[0].at_rcpt, NULL);
    for (size_t i = 0; i < sizeof(expired_cases) / sizeof(expired_cases[0]); i++) {
        char rcpt[64];
        const char *r = rcpt;
        snprintf(rcpt, sizeof(rcpt), "old%zu@example.org:%s", i, expired_cases[i].sg);
        uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms() - 7200 * 1000, &r, 1);
        *strrchr(rcpt, ':') = 0;
        wait_failed(w, id, rcpt);
        df_wait_for(w->x, &w->smarthost->nmsgs, (unsigned)i + 1);
        assert_non_null(strstr(w->smarthost->msgs[i].content, rcpt));
        assert_non_null(strstr(w->smarthost->msgs[i].content, "Action: failed\r\nStatus: 4."));
    }
    assert_int_equal(stats(w).bounces, 2);
    assert_int_equal(stats(w).attempts_failed, 2);
    assert_int_equal(stats(w).attempts_deferred, 0);
}

/* test_connection_reuse - one connection carries every message, RSET
 * between them */
static void test_connection_reuse(void **state)
{
    struct world *w = *state;
    uint64_t ids[5];

    w->x->f->c.delivery.concurrency_per_destination = 1;
    for (size_t i = 0; i < 5; i++)
        ids[i] = send1(w, "alice@example.org:SG1");
    for (size_t i = 0; i < 5; i++)
        wait_state(w, ids[i], "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 1);
    assert_int_equal(w->lmtp->nmsgs, 5);
    assert_int_equal(w->lmtp->rsets, 4);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(w->lmtp->msgs[i].conn, 1);
}

/* test_concurrency_bound - never more than concurrency_per_destination
 * connections to one destination, however much waits */
static void test_concurrency_bound(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.concurrency_per_destination = 3;
    w->lmtp->fault = PEER_HOLD;
    for (size_t i = 0; i < 8; i++)
        send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->held, 3);
    sf_run_ms(w->x->f, 300); /* room for a fourth, which must not come */
    assert_int_equal(w->lmtp->conns, 3);
    assert_int_equal(w->lmtp->max_open, 3);
    w->lmtp->fault = PEER_OK;
    peer_release(w->lmtp);
    df_wait(w->x, 8, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 3); /* the three carried the rest */
    assert_int_equal(w->lmtp->max_open, 3);
    assert_int_equal(w->lmtp->nmsgs, 8);
}

/* empty_conns - connections to p that carried no message */
static unsigned empty_conns(const struct peer *p)
{
    unsigned carried = 0;

    for (unsigned c = 1; c <= p->conns; c++)
        for (unsigned i = 0; i < p->nmsgs && i < PEER_MSGS_MAX; i++)
            if (p->msgs[i].conn == c) {
                carried++;
                break;
            }
    return p->conns - carried;
}

/* test_pool_grows_when_busy - a trickle uses one connection; a burst that
 * one connection drains before a new one is greeted (slow greetings) opens
 * no idle ones: a connection is opened only while every open one is busy,
 * one connect at a time */
static void test_pool_grows_when_busy(void **state)
{
    struct world *w = *state;
    const char *frank = "frank@example.org:SG1";

    w->x->f->c.delivery.concurrency_per_destination = 16;
    for (size_t i = 0; i < 4; i++)
        wait_state(w, send1(w, "alice@example.org:SG1"), "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 1);
    peer_rule(w->lmtp, "frank@example.org", "451 4.3.0 try later", NULL);
    for (size_t i = 0; i < 16; i++)
        send1(w, frank);
    df_wait(w->x, 16, "SELECT count(*) FROM recipient WHERE state = %d AND attempts = 1",
            RCPT_PENDING);
    peer_rule(w->lmtp, "frank@example.org", NULL, NULL);
    unsigned before = w->lmtp->conns;
    w->lmtp->greet_delay_ms = 2000;
    queue_flush(w->x->f->q, "SG1", false, NULL, NULL); /* 16 due at once: a burst */
    df_wait(w->x, 20, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->nmsgs, 20);
    sf_run_ms(w->x->f, 200); /* the accepts of whatever was opened meanwhile */
    if (w->lmtp->conns > before + 1)
        fail_msg("the burst opened %u connections; the open one carried it",
                 w->lmtp->conns - before);
    if (empty_conns(w->lmtp) > 1)
        fail_msg("%u of %u connections carried no message", empty_conns(w->lmtp), w->lmtp->conns);
}

/* test_burst_fills_pool - a burst that keeps every connection busy opens
 * them up to the bound, and each carries mail */
static void test_burst_fills_pool(void **state)
{
    struct world *w = *state;

    w->x->f->c.delivery.concurrency_per_destination = 4;
    w->lmtp->fault = PEER_HOLD;
    for (size_t i = 0; i < 10; i++)
        send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->held, 4);
    assert_int_equal(w->lmtp->conns, 4);
    w->lmtp->fault = PEER_OK;
    peer_release(w->lmtp);
    df_wait(w->x, 10, "SELECT count(*) FROM recipient WHERE state = %d", RCPT_DELIVERED);
    assert_int_equal(w->lmtp->conns, 4);
    assert_int_equal(empty_conns(w->lmtp), 0);
}

/* route_stored - delivery_route_set's answer */
static void route_stored(void *ctx, enum store_rc rc)
{
    *(int *)ctx = rc == STORE_OK ? 1 : 1000;
}

/* test_route_set - a runtime destination takes what is not yet delivered */
static void test_route_set(void **state)
{
    struct world *w = *state;
    struct peer *moved = df_peer(w->x, true);
    int done = 0;

    uint64_t early = send1(w, "bob@example.org:SG1");
    wait_state(w, early, "bob@example.org", RCPT_DELIVERED);
    peer_rule(w->lmtp, "alice@example.org", "450 4.2.1 busy", NULL);
    uint64_t late = send1(w, "alice@example.org:SG1");
    wait_state(w, late, "alice@example.org", RCPT_PENDING);
    delivery_route_set(w->x->d, "SG1", moved->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    assert_int_equal(done, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), moved->dest);
    wait_state(w, late, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(moved->msgs[0].rcpts[0], "alice@example.org");
    assert_int_equal(w->lmtp->nmsgs, 1); /* bob's only */
    char dest[256];
    sf_sql_text(w->x->f, dest, sizeof(dest), "SELECT dest FROM route WHERE sg = 'SG1'");
    assert_string_equal(dest, moved->dest);
}

/* wait_route - SG1 is routed to dest (after the stored routes loaded) */
static void wait_route(struct world *w, const char *dest)
{
    int64_t end = clock_mono_ms() + DF_WAIT_MS;

    while (strcmp(delivery_route_get(w->x->d, "SG1"), dest) != 0 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), dest);
}

/* test_route_restart - a runtime destination outlives a restart, until
 * the configuration file names another one for the group */
static void test_route_restart(void **state)
{
    struct world *w = *state;
    struct peer *moved = df_peer(w->x, true), *filed = df_peer(w->x, true);
    struct conf_sg *g = &w->x->f->c.sg[0];
    char err[256];
    int done = 0;

    delivery_route_set(w->x->d, "SG1", moved->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    df_reopen(w->x);
    wait_route(w, moved->dest);
    uint64_t a = send1(w, "alice@example.org:SG1");
    wait_state(w, a, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(g->name, "SG1");
    assert_int_equal(conf_dest_parse(filed->dest, &g->dest, err, sizeof(err)), 0);
    conf_dest_format(&g->dest, g->dest_text, sizeof(g->dest_text));
    df_reopen(w->x); /* the file changed while the hub was down */
    uint64_t b = send1(w, "bob@example.org:SG1");
    wait_state(w, b, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(filed->nmsgs, 1);
    assert_int_equal(moved->nmsgs, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), filed->dest);
    assert_int_equal(w->lmtp->nmsgs, 0);
}

/* test_set_conf - a new configuration's destination takes the waiting mail
 * and replaces a runtime route of the old one */
static void test_set_conf(void **state)
{
    struct world *w = *state;
    struct peer *routed = df_peer(w->x, true), *conf2 = df_peer(w->x, true);
    int done = 0;

    delivery_route_set(w->x->d, "SG1", routed->dest, route_stored, &done);
    sf_loop_until(w->x->f, &done, 1);
    peer_rule(routed, "alice@example.org", "450 4.2.1 busy", NULL);
    uint64_t id = send1(w, "alice@example.org:SG1");
    wait_state(w, id, "alice@example.org", RCPT_PENDING);
    df_alt_sg(w->x, "SG1", conf2->dest);
    delivery_set_conf(w->x->d, &w->x->alt);
    wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    assert_int_equal(conf2->nmsgs, 1);
    assert_string_equal(delivery_route_get(w->x->d, "SG1"), conf2->dest);
    df_wait(w->x, 0, "SELECT count(*) FROM route WHERE sg = 'SG1'");
    assert_int_equal(w->lmtp->nmsgs, 0);
}

static const struct {
    enum peer_fault fault;
    enum rcpt_state alice, bob;
} cut_cases[] = {
    {PEER_CUT_DATA, RCPT_PENDING, RCPT_PENDING},  /* gone inside the content */
    {PEER_CUT_DOT, RCPT_DELIVERED, RCPT_PENDING}, /* gone after alice's reply */
};

/* test_peer_hangs_up - a connection lost in a transaction defers what it
 * did not decide, and nothing bounces */
static void test_peer_hangs_up(void **state)
{
    struct world *w = *state;
    const char *rcpts[] = {"alice@example.org:SG1", "bob@example.org:SG1"};

    for (size_t i = 0; i < sizeof(cut_cases) / sizeof(cut_cases[0]); i++) {
        w->lmtp->fault = cut_cases[i].fault;
        uint64_t id = df_send(w->x, DF_SENDER, df_content, clock_now_ms(), rcpts, 2);
        wait_state(w, id, "alice@example.org", cut_cases[i].alice);
        wait_state(w, id, "bob@example.org", cut_cases[i].bob);
    }
    sf_run_ms(w->x->f, 200);
    assert_int_equal(stats(w).bounces, 0);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(w->smarthost->conns, 0);
}

/* test_out_of_step - replies that break the order of the pipelined
 * commands (DATA's 503 before the RCPT's 250) are a failure of the
 * connection: deferred with the backoff, never bounced, the connection
 * closed */
static void test_out_of_step(void **state)
{
    struct world *w = *state;
    int64_t t0 = clock_now_ms();
    char reply[512];

    w->lmtp->fault = PEER_OUT_OF_STEP;
    uint64_t id = send1(w, "alice@example.org:SG1");
    df_wait_attempts(w->x, 1);
    assert_true(peer_saw(w->lmtp, "DATA"));
    wait_state(w, id, "alice@example.org", RCPT_PENDING);
    reply_of(w, id, "alice@example.org", reply, sizeof(reply));
    if (strstr(reply, "out of step") == NULL)
        fail_msg("reply [%s]", reply);
    long long next =
        sf_sql_int(w->x->f, "SELECT next_attempt FROM recipient WHERE msg = %lld", (long long)id);
    assert_true(next >= t0 + 600000 && next <= clock_now_ms() + 600000);
    struct delivery_stats st = stats(w);
    assert_int_equal(st.attempts_deferred, 1);
    assert_int_equal(st.attempts_failed, 0);
    assert_int_equal(st.bounces, 0);
    assert_int_equal(df_bounces(w->x), 0);
    assert_int_equal(w->lmtp->nmsgs, 0);
    wait_closed(w, w->lmtp); /* the hub hung up, without QUIT */
    assert_int_equal(w->lmtp->quits, 0);
}

/* test_outcome_commit_fails - the outcome of a delivery cannot be
 * committed for a while (issue 11 item 3): the recipient is neither
 * dropped nor stuck nor delivered again; once the disk works the outcome
 * is written: delivered, kept once in the dumpster */
static void test_outcome_commit_fails(void **state)
{
    struct world *w = *state;
    int64_t end;

    sf_fault_after(w->x->f, "UPDATE recipient SET state = ?, attempts", "COMMIT", SQLITE_IOERR, -1);
    uint64_t id = send1(w, "alice@example.org:SG1");
    df_wait_for(w->x, &w->lmtp->nmsgs, 1);
    end = clock_mono_ms() + DF_WAIT_MS; /* written again 250, 500, 1000 ms later: >= 2 ticks */
    while (sf_fault_hits(w->x->f) < 4 && clock_mono_ms() < end)
        sf_run_ms(w->x->f, 10);
    assert_true(sf_fault_hits(w->x->f) >= 4);
    assert_int_equal(df_rcpt_state(w->x, id, "alice@example.org"), RCPT_PENDING);
    assert_int_equal(w->lmtp->nmsgs, 1); /* active meanwhile: never handed out again */
    sf_fault(w->x->f, NULL, 0, 0);
    wait_state(w, id, "alice@example.org", RCPT_DELIVERED);
    df_wait(w->x, 1, "SELECT count(*) FROM dumpster_item WHERE sg = 'SG1' AND msg = %lld",
            (long long)id);
    assert_int_equal(w->lmtp->nmsgs, 1);
    assert_int_equal(stats(w).attempts_delivered, 1);
}

/* test_host_resolved - a HOST destination is looked up on the loopback
 * DNS server once and cached; an unknown name defers */
static void test_host_resolved(void **state)
{
    struct world *w = *state;
    char reply[512];

    uint64_t a = send1(w, "alice@example.org:SG4");
    wait_state(w, a, "alice@example.org", RCPT_DELIVERED);
    uint64_t b = send1(w, "bob@example.org:SG4");
    wait_state(w, b, "bob@example.org", RCPT_DELIVERED);
    assert_int_equal(dnsfix_asked(w->dns, "mx.test", DNSFIX_A), 1);
    assert_int_equal(w->smtp->nmsgs, 2);
    uint64_t c = send1(w, "carol@example.org:SG5");
    wait_state(w, c, "carol@example.org", RCPT_PENDING);
    reply_of(w, c, "carol@example.org", reply, sizeof(reply));
    if (strstr(reply, "nx.test") == NULL)
        fail_msg("reply [%s]", reply);
    assert_true(dnsfix_asked(w->dns, "nx.test", DNSFIX_A) >= 1);
    assert_int_equal(w->dns->queries, w->dns->wildcard_queries +
                                          dnsfix_asked(w->dns, "mx.test", 0) +
                                          dnsfix_asked(w->dns, "nx.test", 0));
    assert_int_equal(df_bounces(w->x), 0);
}

/* main - the cases */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lmtp_outcomes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smtp_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_socket, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused_everywhere, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lifetime_over, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrency_bound, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pool_grows_when_busy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_fills_pool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_route_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_set_conf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_peer_hangs_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_out_of_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outcome_commit_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_resolved, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
