/*
 * test_mta_client.c - the outbound client on a real event loop
 *
 * A scripted server in this file (a libevent listener on 127.0.0.1 port 0,
 * or on a unix socket) greets, answers each command line and each end of
 * data with the next reply of its script, and records what it got: the
 * command lines, the content as it came over the wire (dot-stuffed, with
 * its final "."), and the most command lines that arrived in one read,
 * which tells pipelined batches from one command per reply.
 *
 * The client is driven through its callbacks: ready() sends the first job,
 * done() the next one, then QUIT; closed() frees the client from inside the
 * callback. Waits poll the loop under a guard timer, never sleep. When
 * /usr/sbin/smtp-sink is installed, five messages go to it on one
 * connection. The TLS decisions after EHLO (STARTTLS not offered, refused,
 * answered with something that is no handshake; a unix socket) are
 * checked against the same server; real handshakes are the integration
 * tests' (test_tls_delivery.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/ssl.h>

#include "bounds.h"
#include "mta_client.h"

#define MAX_JOBS 8
#define MAX_RCPTS 8
#define SINK "/usr/sbin/smtp-sink"

/* ---- the scripted server ---- */

struct tsrv {
    struct event_base *base;
    struct evconnlistener *lis;
    struct sockaddr_storage addr; /* where it listens */
    socklen_t addrlen;
    /* NULL-terminated; "" = say nothing, "!close" = hang up, "!fin TEXT" = TEXT, then
     * shut the sending side (the client reads TEXT, then the end of the stream) */
    const char *const *script;
    size_t next;
    struct bufferevent *bev;
    struct evbuffer *cmds; /* command lines received, CRLF kept */
    struct evbuffer *data; /* content as received, with each final ".\r\n" */
    bool in_data, stall;   /* stall: stop reading once content starts */
    size_t msg_len;        /* octets of the message being received */
    unsigned max_batch, conns, messages;
};

/* srv_reply - the next line of the script */
static void srv_reply(struct tsrv *s)
{
    const char *r = s->script[s->next] ? s->script[s->next++] : "";

    if (strcmp(r, "!close") == 0) {
        bufferevent_free(s->bev);
        s->bev = NULL;
        return;
    }
    if (strncmp(r, "!fin ", 5) == 0) { /* the earlier replies are out: the client read them */
        int fd = bufferevent_getfd(s->bev);
        assert_int_equal(write(fd, r + 5, strlen(r + 5)), (ssize_t)strlen(r + 5));
        shutdown(fd, SHUT_WR);
        return;
    }
    bufferevent_write(s->bev, r, strlen(r));
    if (strncmp(r, "354", 3) == 0)
        s->in_data = true;
}

/* srv_end_msg - the content ended: count it and answer */
static void srv_end_msg(struct tsrv *s, struct evbuffer *in, size_t n)
{
    evbuffer_remove_buffer(in, s->data, n);
    s->messages++;
    s->in_data = false;
    s->msg_len = 0;
    srv_reply(s);
}

/* srv_data - content until CRLF.CRLF; true when it ended */
static bool srv_data(struct tsrv *s, struct evbuffer *in)
{
    size_t len = evbuffer_get_length(in);
    struct evbuffer_ptr p;
    char head[3];

    if (s->stall) {
        bufferevent_disable(s->bev, EV_READ);
        return false;
    }
    if (s->msg_len == 0 && evbuffer_copyout(in, head, 3) == 3 && memcmp(head, ".\r\n", 3) == 0) {
        srv_end_msg(s, in, 3);
        return true;
    }
    p = evbuffer_search(in, "\r\n.\r\n", 5, NULL);
    if (p.pos >= 0) {
        srv_end_msg(s, in, (size_t)p.pos + 5);
        return true;
    }
    if (len > 4) {
        evbuffer_remove_buffer(in, s->data, len - 4);
        s->msg_len += len - 4;
    }
    return false;
}

/* srv_read - command lines and content */
static void srv_read(struct bufferevent *bev, void *arg)
{
    struct tsrv *s = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    unsigned batch = 0;
    size_t n;
    char *line;

    while (s->bev != NULL) {
        if (s->in_data) {
            if (!srv_data(s, in))
                break;
            continue;
        }
        if ((line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF_STRICT)) == NULL)
            break;
        evbuffer_add(s->cmds, line, n);
        evbuffer_add(s->cmds, "\r\n", 2);
        free(line);
        batch++;
        srv_reply(s);
    }
    if (batch > s->max_batch)
        s->max_batch = batch;
}

/* srv_event - the client went away */
static void srv_event(struct bufferevent *bev, short what, void *arg)
{
    struct tsrv *s = arg;

    (void)what;
    if (bev == s->bev) {
        bufferevent_free(s->bev);
        s->bev = NULL;
    }
}

/* srv_accept - a connection: greet it */
static void srv_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                       int salen, void *arg)
{
    struct tsrv *s = arg;

    (void)lis;
    (void)sa;
    (void)salen;
    if (s->bev != NULL)
        bufferevent_free(s->bev);
    s->bev = bufferevent_socket_new(s->base, fd, BEV_OPT_CLOSE_ON_FREE);
    assert_non_null(s->bev);
    bufferevent_setcb(s->bev, srv_read, NULL, srv_event, s);
    bufferevent_enable(s->bev, EV_READ | EV_WRITE);
    s->conns++;
    srv_reply(s);
}

/* srv_listen - listen on 127.0.0.1 port 0, or on a unix socket path */
static void srv_listen(struct tsrv *s, const char *unix_path)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&s->addr;
    struct sockaddr_un *sun = (struct sockaddr_un *)&s->addr;
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;

    memset(&s->addr, 0, sizeof(s->addr));
    if (unix_path) {
        sun->sun_family = AF_UNIX;
        snprintf(sun->sun_path, sizeof(sun->sun_path), "%s", unix_path);
        unlink(unix_path);
        s->addrlen = sizeof(*sun);
    } else {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->addrlen = sizeof(*sin);
    }
    s->lis = evconnlistener_new_bind(s->base, srv_accept, s, flags, 16, (struct sockaddr *)&s->addr,
                                     (int)s->addrlen);
    assert_non_null(s->lis);
    if (!unix_path) {
        socklen_t len = sizeof(*sin);

        getsockname(evconnlistener_get_fd(s->lis), (struct sockaddr *)sin, &len);
    }
}

/* srv_new - a scripted server */
static struct tsrv *srv_new(struct event_base *base, const char *const *script,
                            const char *unix_path)
{
    struct tsrv *s = calloc(1, sizeof(*s));

    assert_non_null(s);
    s->base = base;
    s->script = script;
    s->cmds = evbuffer_new();
    s->data = evbuffer_new();
    srv_listen(s, unix_path);
    return s;
}

/* srv_free - the server and its records */
static void srv_free(struct tsrv *s)
{
    if (s->addr.ss_family == AF_UNIX)
        unlink(((struct sockaddr_un *)&s->addr)->sun_path);
    if (s->bev)
        bufferevent_free(s->bev);
    evconnlistener_free(s->lis);
    evbuffer_free(s->cmds);
    evbuffer_free(s->data);
    free(s);
}

/* buf_equal - the whole buffer equals want */
static void buf_equal(struct evbuffer *b, const char *want)
{
    size_t n = evbuffer_get_length(b);
    char *got = (char *)evbuffer_pullup(b, -1);

    if (n != strlen(want) || memcmp(got ? got : "", want, n) != 0)
        fail_msg("got [%.*s]\nwant [%s]", (int)n, got ? got : "", want);
}

/* buf_has - the buffer contains want */
static bool buf_has(struct evbuffer *b, const char *want)
{
    return evbuffer_search(b, want, strlen(want), NULL).pos >= 0;
}

/* ---- the client side ---- */

struct harness {
    struct event_base *base;
    struct mta_client *c;
    struct mta_client_job jobs[MAX_JOBS];
    size_t njobs, sent;
    bool quit_after, free_in_done, finished, gone;
    unsigned ready, done, closed;
    struct mta_client_reply res[MAX_JOBS][MAX_RCPTS];
    struct mta_client_reply why;
    enum mta_client_tls_result tls; /* at ready() or closed() */
    struct mta_client_tls tls_cfg;  /* for the next h_connect() */
};

/* h_send - the next job, or QUIT, or the end */
static void h_send(struct harness *h, struct mta_client *c)
{
    if (h->sent < h->njobs) {
        assert_int_equal(mta_client_send(c, &h->jobs[h->sent++]), 0);
        assert_false(mta_client_usable(c));
        assert_int_equal(mta_client_send(c, &h->jobs[0]), -1); /* busy */
    } else if (h->quit_after) {
        mta_client_quit(c);
    } else {
        h->finished = true;
    }
}

/* h_ready - connected and greeted */
static void h_ready(void *ctx, struct mta_client *c)
{
    struct harness *h = ctx;

    h->ready++;
    h->tls = mta_client_tls(c)->result;
    assert_true(mta_client_usable(c));
    h_send(h, c);
}

/* h_done - one job's results */
static void h_done(void *ctx, struct mta_client *c, const struct mta_client_result *r)
{
    struct harness *h = ctx;
    size_t i;

    assert_true(h->done < MAX_JOBS);
    assert_int_equal(r->nrcpts, h->jobs[h->done].nrcpts);
    for (i = 0; i < r->nrcpts && i < MAX_RCPTS; i++)
        h->res[h->done][i] = r->rcpt[i];
    h->done++;
    if (h->free_in_done) {
        h->c = mta_client_free(c);
        h->finished = true;
        return;
    }
    if (mta_client_usable(c))
        h_send(h, c);
}

/* h_closed - the connection is gone: free the client right here */
static void h_closed(void *ctx, struct mta_client *c, const struct mta_client_reply *why)
{
    struct harness *h = ctx;

    h->closed++;
    h->gone = true;
    h->why = *why;
    h->tls = mta_client_tls(c)->result;
    assert_ptr_equal(c, h->c);
    h->c = mta_client_free(c);
    h->finished = true;
}

/* guard_cb - a wait took too long */
static void guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* run_until - poll the loop until *flag or secs pass; false on the latter */
static bool run_until(struct event_base *base, const bool *flag, int secs)
{
    struct timeval tv = {secs, 0};
    bool expired = false;
    struct event *guard = evtimer_new(base, guard_cb, &expired);

    evtimer_add(guard, &tv);
    while (!*flag && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(guard);
    return !expired;
}

/* h_connect - a client to the address, the harness as its context */
static void h_connect(struct harness *h, enum mta_client_proto proto, const struct sockaddr *addr,
                      socklen_t addrlen, unsigned reply_timeout)
{
    struct mta_client_cfg cfg = {proto, addr,          addrlen, "client.test",
                                 5,     reply_timeout, "test",  h->tls_cfg};
    struct mta_client_cb cb = {h_ready, h_done, h_closed, h};

    h->c = mta_client_connect(h->base, &cfg, &cb);
    assert_non_null(h->c);
    assert_string_equal(mta_client_peer(h->c), "test");
    assert_false(mta_client_usable(h->c));
}

/* h_run - connect to the server, run to the end, check the client is gone */
static void h_run(struct harness *h, struct tsrv *s, enum mta_client_proto proto)
{
    h_connect(h, proto, (struct sockaddr *)&s->addr, s->addrlen, 5);
    assert_true(run_until(h->base, &h->finished, 20));
    if (h->c != NULL) /* the test stopped before closed() */
        h->c = mta_client_free(h->c);
}

/* job_set - job i: sender, recipients and content (a copy) */
static void job_set(struct harness *h, size_t i, const char *sender, const char *const *rcpts,
                    size_t nrcpts, const char *content)
{
    struct mta_client_job *j = &h->jobs[i];

    j->sender = sender;
    j->rcpts = rcpts;
    j->nrcpts = nrcpts;
    j->content = evbuffer_new();
    evbuffer_add(j->content, content, strlen(content));
    j->size = strlen(content);
    if (i >= h->njobs)
        h->njobs = i + 1;
}

/* reply_is - one recipient's result */
static void reply_is(const struct mta_client_reply *r, int code, const char *enh, const char *text)
{
    assert_int_equal(r->code, code);
    assert_string_equal(r->enh, enh);
    if (text)
        assert_string_equal(r->text, text);
}

/* ---- fixtures ---- */

struct fixture {
    struct event_base *base;
    struct harness h;
    struct tsrv *srv;
};

/* setup - a loop and a harness */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->base = event_base_new()) == NULL)
        return -1;
    f->h.base = f->base;
    *state = f;
    return 0;
}

/* teardown - free in reverse order */
static int teardown(void **state)
{
    struct fixture *f = *state;
    size_t i;

    if (f->h.c)
        mta_client_free(f->h.c);
    for (i = 0; i < f->h.njobs; i++)
        evbuffer_free(f->h.jobs[i].content);
    if (f->srv)
        srv_free(f->srv);
    event_base_free(f->base);
    free(f);
    return 0;
}

static const char *const rcpt2[] = {"b@x", "c@x"};
static const char *const rcpt3[] = {"r0@x", "r1@x", "r2@x"};

#define GREET "220 t ESMTP\r\n"
#define EHLO_PIPE "250-t\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n"
#define EHLO_PLAIN "250-t\r\n250 8BITMIME\r\n"
#define OK_MAIL "250 2.1.0 Ok\r\n"
#define OK_RCPT "250 2.1.5 Ok\r\n"
#define GO "354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED "250 2.0.0 Ok: queued as Q1\r\n"
#define BYE "221 2.0.0 Bye\r\n"

/* ---- transactions ---- */

/* test_pipelined - MAIL, RCPTs and DATA in one write when PIPELINING */
static void test_pipelined(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, OK_RCPT,
                                         GO,    QUEUED,    BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 2, "Subject: t\r\n\r\nhello\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=21\r\nRCPT TO:<b@x>\r\n"
                            "RCPT TO:<c@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(f->srv->max_batch, 4);
    buf_equal(f->srv->data, "Subject: t\r\n\r\nhello\r\n.\r\n");
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 Ok: queued as Q1");
    reply_is(&h->res[0][1], 250, "2.0.0", "250 2.0.0 Ok: queued as Q1");
    assert_int_equal(h->closed, 1);
    reply_is(&h->why, 221, "2.0.0", "221 2.0.0 Bye");
}

/* test_one_at_a_time - without PIPELINING one command per reply, no SIZE */
static void test_one_at_a_time(void **state)
{
    static const char *const script[] = {GREET, EHLO_PLAIN, OK_MAIL, OK_RCPT, OK_RCPT,
                                         GO,    QUEUED,     BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "", rcpt2, 2, "x\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<>\r\nRCPT TO:<b@x>\r\n"
                            "RCPT TO:<c@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(f->srv->max_batch, 1);
    buf_equal(f->srv->data, "x\r\n.\r\n");
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    reply_is(&h->res[0][1], 250, "2.0.0", NULL);
    reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_dot_stuffing - "." and ".x" lines, a missing final CRLF, an empty
 * message, on one connection */
static void test_dot_stuffing(void **state)
{
    static const char *const script[] = {
        GREET,   EHLO_PIPE, OK_MAIL, OK_RCPT, GO,     QUEUED, /* job 0 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,         /* RSET, job 1 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED, BYE,    NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, ".\r\n.x\r\nok\r\n..y\r\nz.\r\n.");
    job_set(h, 1, "a@x", rcpt2, 1, "");
    job_set(h, 2, "a@x", rcpt2, 1, "no final line end");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->data, "..\r\n..x\r\nok\r\n...y\r\nz.\r\n..\r\n.\r\n"
                            ".\r\n"
                            "no final line end\r\n.\r\n");
    assert_int_equal(f->srv->messages, 3);
    assert_int_equal(h->done, 3);
    reply_is(&h->res[2][0], 250, "2.0.0", NULL);
    assert_int_equal(evbuffer_get_length(h->jobs[0].content), 0); /* drained */
}

/* stuff - the reference: RFC 5321 4.5.2 on a whole buffer */
static size_t stuff(const char *in, size_t n, char *out)
{
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        if (in[i] == '.' && (i == 0 || in[i - 1] == '\n'))
            out[o++] = '.';
        out[o++] = in[i];
    }
    return o;
}

/* big_content - lines of varying length, many starting with "." */
static char *big_content(size_t want, size_t *len)
{
    char *p = malloc(want + 200);
    size_t n = 0, line = 0;

    assert_non_null(p);
    while (n < want) {
        size_t l = 1 + (line * 7919) % 150, i;

        for (i = 0; i < l; i++)
            p[n + i] = (char)('a' + (line + i) % 26);
        if (line % 3 == 0)
            p[n] = '.';
        n += l;
        p[n++] = '\r';
        p[n++] = '\n';
        line++;
    }
    *len = n;
    return p;
}

/* resume_cb - the stalled server reads again */
static void resume_cb(evutil_socket_t fd, short what, void *arg)
{
    struct tsrv *s = arg;

    (void)fd;
    (void)what;
    s->stall = false;
    bufferevent_enable(s->bev, EV_READ);
}

/* test_big_content - 24 MiB through the watermarks: while the server does
 * not read, the client moves only what the socket and its output take */
static void test_big_content(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED, BYE, NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    size_t len, slen, moved;
    char *content = big_content(24u << 20, &len), *want = malloc(len * 2 + 3);
    struct timeval half = {0, 500000};
    struct event *resume;
    bool never = false;

    assert_non_null(want);
    f->srv = srv_new(f->base, script, NULL);
    f->srv->stall = true;
    job_set(h, 0, "a@x", rcpt2, 1, "");
    evbuffer_add(h->jobs[0].content, content, len);
    h->quit_after = true;
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 10);
    run_until(f->base, &never, 1); /* the server stalls; the client cannot go on */
    moved = len - evbuffer_get_length(h->jobs[0].content);
    print_message("moved %zu of %zu octets while the server stalled\n", moved, len);
    assert_true(moved > 0 && moved < (12u << 20));
    resume = evtimer_new(f->base, resume_cb, f->srv);
    evtimer_add(resume, &half);
    assert_true(run_until(f->base, &h->finished, 60));
    event_free(resume);
    slen = stuff(content, len, want);
    memcpy(want + slen, ".\r\n", 3);
    assert_int_equal(evbuffer_get_length(f->srv->data), slen + 3);
    assert_memory_equal(evbuffer_pullup(f->srv->data, -1), want, slen + 3);
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    free(content);
    free(want);
}

/* test_lmtp - one reply per accepted recipient, in order, with a partial
 * failure at RCPT and another at the end of data */
static void test_lmtp(void **state)
{
    static const char *const script[] = {GREET,
                                         "250-t\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n",
                                         OK_MAIL,
                                         OK_RCPT,
                                         "550 5.1.1 <r1@x>: no such user\r\n",
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 <r0@x> delivered\r\n"
                                         "452 4.2.2 <r2@x> over quota\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt3, 3, "m\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_true(buf_has(f->srv->cmds, "LHLO client.test\r\n"));
    reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 <r0@x> delivered");
    reply_is(&h->res[0][1], 550, "5.1.1", "550 5.1.1 <r1@x>: no such user");
    reply_is(&h->res[0][2], 452, "4.2.2", "452 4.2.2 <r2@x> over quota");
    reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_lmtp_unix - LMTP over a unix socket, no PIPELINING */
static void test_lmtp_unix(void **state)
{
    static const char *const script[] = {
        GREET,   "250 t\r\n", OK_MAIL, OK_RCPT,
        OK_RCPT, OK_RCPT,     GO,      "250 2.0.0 a\r\n451 4.3.0 b\r\n250 2.0.0 c\r\n",
        BYE,     NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    char path[64];

    snprintf(path, sizeof(path), "/tmp/test_smtp_client.%d.sock", (int)getpid());
    f->srv = srv_new(f->base, script, path);
    job_set(h, 0, "a@x", rcpt3, 3, "m\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_int_equal(f->srv->max_batch, 1);
    reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 a");
    reply_is(&h->res[0][1], 451, "4.3.0", "451 4.3.0 b");
    reply_is(&h->res[0][2], 250, "2.0.0", "250 2.0.0 c");
    reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_all_rejected - no RCPT accepted: no DATA; the next job sends RSET */
static void test_all_rejected(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PLAIN,
                                         OK_MAIL,
                                         "550 5.1.1 no b\r\n",
                                         "550 5.1.1 no c\r\n", /* job 0 */
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         QUEUED, /* job 1 */
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 2, "never sent\r\n");
    job_set(h, 1, "a@x", rcpt2, 1, "sent\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
                            "RCPT TO:<c@x>\r\nRSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\n"
                            "DATA\r\nQUIT\r\n");
    buf_equal(f->srv->data, "sent\r\n.\r\n");
    reply_is(&h->res[0][0], 550, "5.1.1", "550 5.1.1 no b");
    reply_is(&h->res[0][1], 550, "5.1.1", "550 5.1.1 no c");
    reply_is(&h->res[1][0], 250, "2.0.0", NULL);
}

/* test_all_rejected_pipelined - DATA went out anyway: a 554 to it is
 * fine, and after a 354 only "." follows, never the content */
static void test_all_rejected_pipelined(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         OK_MAIL,
                                         "550 5.1.1 no b\r\n",
                                         "554 5.5.1 no valid recipients\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         "551 5.1.6 moved\r\n",
                                         GO,
                                         "554 5.5.1 no valid recipients\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "never sent\r\n");
    job_set(h, 1, "a@x", rcpt2 + 1, 1, "never sent either\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=12\r\nRCPT TO:<b@x>\r\n"
                            "DATA\r\nRSET\r\nMAIL FROM:<a@x> SIZE=19\r\nRCPT TO:<c@x>\r\n"
                            "DATA\r\nQUIT\r\n");
    buf_equal(f->srv->data, ".\r\n");
    assert_int_equal(h->done, 2);
    reply_is(&h->res[0][0], 550, "5.1.1", "550 5.1.1 no b");
    reply_is(&h->res[1][0], 551, "5.1.6", "551 5.1.6 moved");
    reply_is(&h->why, 221, "2.0.0", NULL);
}

/* test_mail_refused - a failed MAIL decides every recipient */
static void test_mail_refused(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         "452 4.3.1 Insufficient system storage\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         "503 5.5.1 need MAIL\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 2, "m\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    reply_is(&h->res[0][0], 452, "4.3.1", NULL);
    reply_is(&h->res[0][1], 452, "4.3.1", NULL);
    assert_int_equal(f->srv->messages, 0);
}

/* test_reuse - three jobs on one connection, RSET in front of the 2nd and
 * 3rd, in the same batch as MAIL */
static void test_reuse(void **state)
{
    static const char *const script[] = {GREET,
                                         EHLO_PIPE,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 one\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 two\r\n",
                                         OK_RCPT,
                                         OK_MAIL,
                                         OK_RCPT,
                                         GO,
                                         "250 2.0.0 three\r\n",
                                         BYE,
                                         NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "1\r\n");
    job_set(h, 1, "a@x", rcpt2, 1, "2\r\n");
    job_set(h, 2, "a@x", rcpt2, 1, "3\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(f->srv->conns, 1);
    assert_int_equal(f->srv->max_batch, 4);
    buf_equal(f->srv->cmds,
              "EHLO client.test\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\n"
              "RSET\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\n"
              "RSET\r\nMAIL FROM:<a@x> SIZE=3\r\nRCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    buf_equal(f->srv->data, "1\r\n.\r\n2\r\n.\r\n3\r\n.\r\n");
    assert_int_equal(h->done, 3);
    reply_is(&h->res[0][0], 250, "2.0.0", "250 2.0.0 one");
    reply_is(&h->res[1][0], 250, "2.0.0", "250 2.0.0 two");
    reply_is(&h->res[2][0], 250, "2.0.0", "250 2.0.0 three");
}

/* ---- the connection ends ---- */

/* test_421_mid_transaction - the open recipients get the 421, then closed() */
static void test_421_mid_transaction(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PLAIN, OK_MAIL, "550 5.1.1 no b\r\n", "421 4.3.2 shutting down\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt3, 3, "m\r\n");
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 550, "5.1.1", NULL);
    reply_is(&h->res[0][1], 421, "4.3.2", "421 4.3.2 shutting down");
    reply_is(&h->res[0][2], 421, "4.3.2", "421 4.3.2 shutting down");
    assert_int_equal(h->closed, 1);
    reply_is(&h->why, 421, "4.3.2", "421 4.3.2 shutting down");
    assert_false(buf_has(f->srv->cmds, "r2@x"));
}

/* test_421_idle - a 421 between jobs closes without a done() */
static void test_421_idle(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED "421 4.4.2 idle timeout\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "m\r\n");
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_true(run_until(f->base, &h->gone, 10));
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    assert_int_equal(h->closed, 1);
    reply_is(&h->why, 421, "4.4.2", NULL);
}

/* test_dropped - the server hangs up mid-transaction: code 0 for the open */
static void test_dropped(void **state)
{
    static const char *const script[] = {GREET,    EHLO_PLAIN, OK_MAIL, "550 5.1.1 no\r\n",
                                         "!close", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt3, 3, "m\r\n");
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 550, "5.1.1", NULL);
    reply_is(&h->res[0][1], 0, "", NULL);
    reply_is(&h->res[0][2], 0, "", NULL);
    assert_non_null(strstr(h->res[0][1].text, "lost connection"));
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
}

/* test_rset_refused - a refused RSET leaves the connection in doubt: the
 * job's recipients stay undecided (code 0), closed() has the reply */
static void test_rset_refused(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PLAIN, OK_MAIL, OK_RCPT, GO, QUEUED, "500 5.5.1 what RSET\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "1\r\n");
    job_set(h, 1, "a@x", rcpt2, 2, "2\r\n");
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 2);
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
    reply_is(&h->res[1][0], 0, "", NULL);
    reply_is(&h->res[1][1], 0, "", NULL);
    assert_non_null(strstr(h->res[1][0].text, "RSET refused"));
    reply_is(&h->why, 500, "5.5.1", "500 5.5.1 what RSET");
}

/* test_reply_amid_content - a reply while the content is still going out
 * decides the open recipients and ends the connection */
static void test_reply_amid_content(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, OK_RCPT, GO "552 5.3.4 too big\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    size_t len;
    char *content = big_content(4u << 20, &len);

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 2, "");
    evbuffer_add(h->jobs[0].content, content, len);
    free(content);
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 552, "5.3.4", "552 5.3.4 too big");
    reply_is(&h->res[0][1], 552, "5.3.4", "552 5.3.4 too big");
    reply_is(&h->why, 552, "5.3.4", NULL);
    assert_true(evbuffer_get_length(h->jobs[0].content) > 0); /* not all moved */
}

/* Replies out of step: the server answers another command than the
 * client thinks. Every recipient not decided by an end-of-data reply is
 * undecided (code 0: deferred, never bounced) and the connection ends. */
static const struct oos_case {
    const char *name;
    bool pipelined, lmtp, big;
    size_t nrcpts;
    const char *replies[6]; /* after the greeting and EHLO; NULL ends */
    int codes[3];           /* per recipient; 0: undecided, out of step */
    bool data_sent;         /* false: DATA must not go out */
} oos_cases[] = {
    {"smtp-sink -W rcpt: DATA's 503 before the RCPT replies",
     true,
     false,
     false,
     2,
     {OK_MAIL, "503 5.5.1 Error: need RCPT command\r\n", OK_RCPT, OK_RCPT},
     {0, 0},
     true},
    {"DATA 503 after an accepted RCPT",
     true,
     false,
     false,
     1,
     {OK_MAIL, OK_RCPT, "503 5.5.1 Error: need RCPT command\r\n"},
     {0},
     true},
    {"DATA 554 5.5.1 after an accepted RCPT",
     true,
     false,
     false,
     1,
     {OK_MAIL, OK_RCPT, "554 5.5.1 Error: no valid recipients\r\n"},
     {0},
     true},
    {"a 354 to RCPT", true, false, false, 1, {OK_MAIL, GO, OK_RCPT}, {0}, true},
    {"an earlier RCPT verdict is not trusted either",
     true,
     false,
     false,
     3,
     {OK_MAIL, "550 5.1.1 no\r\n", "503 5.5.1 need MAIL\r\n", "503 5.5.1 x\r\n", "503 5.5.1 y\r\n"},
     {0, 0, 0},
     true},
    {"MAIL 503 on a fresh transaction",
     true,
     false,
     false,
     1,
     {"503 5.5.1 Error: nested MAIL command\r\n", "503 5.5.1 a\r\n", "503 5.5.1 b\r\n"},
     {0},
     true},
    {"one command at a time: no DATA after the RCPT's 503",
     false,
     false,
     false,
     1,
     {OK_MAIL, "503 5.5.1 Error: need MAIL command\r\n"},
     {0},
     false},
    {"DATA answered 250", true, false, false, 1, {OK_MAIL, OK_RCPT, QUEUED}, {0}, true},
    {"a 250 amid the content is no delivery",
     true,
     false,
     true,
     2,
     {OK_MAIL, OK_RCPT, OK_RCPT, GO "250 2.1.5 Ok\r\n"},
     {0, 0},
     true},
    {"a 354 to the end of data", true, false, false, 1, {OK_MAIL, OK_RCPT, GO, GO}, {0}, true},
    {"LMTP: the end-of-data replies before the 503 stand",
     true,
     true,
     false,
     2,
     {OK_MAIL, OK_RCPT, OK_RCPT, GO, "250 2.0.0 b\r\n503 5.5.1 c\r\n"},
     {250, 0},
     true},
};

/* oos_run - one case on its own server and client */
static void oos_run(const struct oos_case *c)
{
    const char *script[10] = {GREET, c->pipelined ? EHLO_PIPE : EHLO_PLAIN};
    struct harness h = {0};
    struct tsrv *s;
    size_t n = 2, len;

    for (size_t i = 0; c->replies[i] && n < 9; i++)
        script[n++] = c->replies[i];
    h.base = event_base_new();
    s = srv_new(h.base, script, NULL);
    job_set(&h, 0, "a@x", rcpt3, c->nrcpts, c->big ? "" : "m\r\n");
    if (c->big) {
        char *content = big_content(4u << 20, &len);
        evbuffer_add(h.jobs[0].content, content, len);
        h.jobs[0].size = len;
        free(content);
    }
    h.quit_after = true;
    h_run(&h, s, c->lmtp ? MTA_CLIENT_LMTP : MTA_CLIENT_SMTP);
    assert_int_equal(h.done, 1);
    for (size_t i = 0; i < c->nrcpts; i++) {
        if (h.res[0][i].code != c->codes[i])
            fail_msg("%s: recipient %zu got [%d %s]", c->name, i, h.res[0][i].code,
                     h.res[0][i].text);
        if (c->codes[i] == 0 && strstr(h.res[0][i].text, "out of step") == NULL)
            fail_msg("%s: recipient %zu: [%s]", c->name, i, h.res[0][i].text);
    }
    assert_int_equal(h.closed, 1);
    assert_int_equal(h.why.code, 0); /* closed by the client: no QUIT */
    assert_false(buf_has(s->cmds, "QUIT"));
    if (!c->data_sent) /* (when it went, a 354 may have made it content) */
        assert_false(buf_has(s->cmds, "DATA\r\n"));
    evbuffer_free(h.jobs[0].content);
    srv_free(s);
    event_base_free(h.base);
}

/* test_out_of_step - every case of oos_cases */
static void test_out_of_step(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(oos_cases) / sizeof(oos_cases[0]); i++) {
        print_message("out of step: %s\n", oos_cases[i].name);
        oos_run(&oos_cases[i]);
    }
}

/* test_dot_timeout - no reply to the end of data: undecided, code 0 */
static void test_dot_timeout(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, "", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "m\r\n");
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 1);
    assert_true(run_until(f->base, &h->gone, 10));
    assert_int_equal(h->done, 1);
    reply_is(&h->res[0][0], 0, "", NULL);
    assert_non_null(strstr(h->res[0][0].text, "timed out while sending end of data"));
    assert_int_equal(h->why.code, 0);
    assert_int_equal(f->srv->messages, 1);
}

/* test_refused - nobody listens: closed() with code 0, never ready() */
static void test_refused(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_in sin;
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
    close(fd); /* the port is closed now */
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&sin, sizeof(sin), 5);
    assert_true(run_until(f->base, &h->finished, 10));
    assert_int_equal(h->ready, 0);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    print_message("why: %s\n", h->why.text);
    assert_non_null(strstr(h->why.text, "connect to test"));
}

/* test_unix_missing - a unix socket that does not exist: the same */
static void test_unix_missing(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_un sun;

    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "/nonexistent/lmtp.sock");
    h_connect(h, MTA_CLIENT_LMTP, (struct sockaddr *)&sun, sizeof(sun), 5);
    assert_int_equal(h->closed, 0); /* never from inside connect */
    assert_true(run_until(f->base, &h->finished, 10));
    assert_int_equal(h->ready, 0);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    print_message("why: %s\n", h->why.text);
}

/* test_reply_timeout - the server says nothing after the greeting */
static void test_reply_timeout(void **state)
{
    static const char *const script[] = {GREET, "", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct timeval t0, t1;

    f->srv = srv_new(f->base, script, NULL);
    evutil_gettimeofday(&t0, NULL);
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 1);
    assert_true(run_until(f->base, &h->finished, 10));
    evutil_gettimeofday(&t1, NULL);
    assert_int_equal(h->closed, 1);
    assert_int_equal(h->why.code, 0);
    assert_non_null(strstr(h->why.text, "timed out while sending EHLO"));
    assert_true(t1.tv_sec - t0.tv_sec <= 3);
}

/* test_greeting_timeout - connected, but no greeting within connect_timeout */
static void test_greeting_timeout(void **state)
{
    static const char *const script[] = {"", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_cfg cfg = {
        MTA_CLIENT_SMTP, NULL, 0, "client.test", 1, 30, "test", {TLS_OUT_NONE, NULL, NULL, NULL}};
    struct mta_client_cb cb = {h_ready, h_done, h_closed, h};

    f->srv = srv_new(f->base, script, NULL);
    cfg.addr = (struct sockaddr *)&f->srv->addr;
    cfg.addrlen = f->srv->addrlen;
    h->c = mta_client_connect(f->base, &cfg, &cb);
    assert_non_null(h->c);
    assert_true(run_until(f->base, &h->finished, 10));
    assert_int_equal(h->why.code, 0);
    assert_non_null(strstr(h->why.text, "initial server greeting"));
}

/* test_malformed - a reply that breaks the grammar or its bounds closes */
static void test_malformed(void **state)
{
    static char long_line[DD_SMTP_REPLY_LINE_MAX + 16];
    static const char *const bad[] = {"250-t\r\n251 x\r\n", "25O x\r\n", "250-t\r\nPIPELINING\r\n",
                                      long_line, NULL};
    struct fixture *f = *state;
    size_t i;

    memset(long_line, 'x', sizeof(long_line));
    memcpy(long_line, "250 ", 4);
    memcpy(long_line + sizeof(long_line) - 3, "\r\n", 3);
    for (i = 0; bad[i]; i++) {
        const char *script[] = {GREET, bad[i], NULL};
        struct harness h = {.base = f->base};

        print_message("malformed case %zu\n", i);
        f->srv = srv_new(f->base, script, NULL);
        h_run(&h, f->srv, MTA_CLIENT_SMTP);
        assert_int_equal(h.ready, 0);
        assert_int_equal(h.closed, 1);
        assert_int_equal(h.why.code, 0);
        assert_non_null(strstr(h.why.text, "malformed reply"));
        srv_free(f->srv);
        f->srv = NULL;
    }
}

/* test_greeting_refused - a 554 greeting is why the connection closed */
static void test_greeting_refused(void **state)
{
    static const char *const script[] = {"554 5.3.2 go away\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_int_equal(h->ready, 0);
    reply_is(&h->why, 554, "5.3.2", "554 5.3.2 go away");
    assert_int_equal(evbuffer_get_length(f->srv->cmds), 0);
}

/* test_helo_fallback - EHLO refused with 5xx: HELO, and no extensions */
static void test_helo_fallback(void **state)
{
    static const char *const script[] = {
        GREET, "502 5.5.1 no EHLO\r\n", "250 t\r\n", OK_MAIL, OK_RCPT, GO, QUEUED, BYE, NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "m\r\n");
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nHELO client.test\r\nMAIL FROM:<a@x>\r\n"
                            "RCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
}

/* test_lhlo_refused - LMTP has no HELO: a refused LHLO closes */
static void test_lhlo_refused(void **state)
{
    static const char *const script[] = {GREET, "500 5.5.1 what\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    h_run(h, f->srv, MTA_CLIENT_LMTP);
    assert_int_equal(h->ready, 0);
    reply_is(&h->why, 500, "5.5.1", NULL);
    buf_equal(f->srv->cmds, "LHLO client.test\r\n");
}

/* A TLS case: the level, the script after the greeting, what the client
 * sent, whether it got ready, what became of TLS and why it closed. */
struct tls_case {
    enum tls_out_level level;
    bool local; /* over a unix socket */
    const char *script[4];
    const char *cmds;
    unsigned ready;
    enum mta_client_tls_result result;
    const char *why; /* in closed(), or NULL */
};

#define EHLO_TLS "250-t\r\n250 STARTTLS\r\n"
static const struct tls_case tls_cases[] = {
    {TLS_OUT_ENCRYPT,
     false,
     {"250 t\r\n", NULL},
     "EHLO client.test\r\n",
     0,
     MTA_CLIENT_TLS_NOT_OFFERED,
     "TLS is required, but was not offered by host test"},
    {TLS_OUT_VERIFY,
     false,
     {"502 5.5.1 no\r\n", "250 t\r\n", NULL},
     "EHLO client.test\r\nHELO client.test\r\n",
     0,
     MTA_CLIENT_TLS_NOT_OFFERED,
     "TLS is required, but was not offered"},
    {TLS_OUT_MAY,
     false,
     {"250 t\r\n", NULL},
     "EHLO client.test\r\n",
     1,
     MTA_CLIENT_TLS_PLAIN,
     NULL},
    {TLS_OUT_NONE, false, {EHLO_TLS, NULL}, "EHLO client.test\r\n", 1, MTA_CLIENT_TLS_NONE, NULL},
    {TLS_OUT_ENCRYPT,
     false,
     {EHLO_TLS, "454 4.7.0 not now\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     0,
     MTA_CLIENT_TLS_REFUSED,
     "TLS is required, but host test refused to start TLS: 454 4.7.0 not now"},
    {TLS_OUT_MAY,
     false,
     {EHLO_TLS, "454 4.7.0 not now\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     1,
     MTA_CLIENT_TLS_PLAIN,
     NULL},
    /* what follows the 220 in the same read is dropped; then the server is gone */
    {TLS_OUT_ENCRYPT,
     false,
     {EHLO_TLS, "!fin 220 go\r\n250 injected\r\n", NULL},
     "EHLO client.test\r\nSTARTTLS\r\n",
     0,
     MTA_CLIENT_TLS_HANDSHAKE,
     "Cannot start TLS: handshake failure with test"},
    {TLS_OUT_ENCRYPT,
     true,
     {"250 t\r\n", NULL},
     "LHLO client.test\r\n",
     1,
     MTA_CLIENT_TLS_NONE,
     NULL},
};

/* test_tls - what the level makes of each answer */
static void test_tls(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

    assert_non_null(ctx);
    for (size_t i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
        const struct tls_case *c = &tls_cases[i];
        const char *script[6] = {GREET, c->script[0], c->script[1], c->script[2], NULL, NULL};
        char path[64];

        print_message("tls case %zu\n", i);
        snprintf(path, sizeof(path), "/tmp/test_mta_client_tls.%d", (int)getpid());
        memset(h, 0, sizeof(*h));
        h->base = f->base;
        h->tls_cfg = (struct mta_client_tls){c->level, ctx, "mbx.example.test", NULL};
        f->srv = srv_new(f->base, script, c->local ? path : NULL);
        h_run(h, f->srv, c->local ? MTA_CLIENT_LMTP : MTA_CLIENT_SMTP);
        buf_equal(f->srv->cmds, c->cmds);
        assert_int_equal(h->ready, c->ready);
        assert_int_equal(h->tls, c->result);
        if (c->why != NULL) {
            assert_int_equal(h->why.code, 0);
            if (strstr(h->why.text, c->why) == NULL)
                fail_msg("closed with [%s], want [%s]", h->why.text, c->why);
        }
        srv_free(f->srv);
        f->srv = NULL;
    }
    SSL_CTX_free(ctx);
}

/* test_free_in_done - freeing inside done(): nothing follows, nothing leaks */
static void test_free_in_done(void **state)
{
    static const char *const script[] = {
        GREET, EHLO_PIPE, OK_MAIL, OK_RCPT, GO, QUEUED "421 4.4.2 bye\r\n", NULL};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "m\r\n");
    h->free_in_done = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    assert_null(h->c);
    assert_int_equal(h->done, 1);
    assert_int_equal(h->closed, 0);
}

/* test_bad_jobs - jobs the client refuses at once, with no callback */
static void test_bad_jobs(void **state)
{
    static const char *const script[] = {GREET, EHLO_PIPE, BYE, NULL};
    static const char *const crlf[] = {"b@x\r\nDATA"};
    static const char *const empty[] = {""};
    static const char *const angle[] = {"<b@x>"};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_job j = {.sender = "a@x", .rcpts = rcpt2};

    f->srv = srv_new(f->base, script, NULL);
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_int_equal(mta_client_send(h->c, &j), -1); /* not ready yet */
    assert_true(run_until(f->base, &h->finished, 10));
    assert_true(mta_client_usable(h->c));
    assert_int_equal(mta_client_send(h->c, &j), -1); /* no recipient */
    j.nrcpts = 1;
    j.rcpts = crlf;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = empty;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = angle;
    assert_int_equal(mta_client_send(h->c, &j), -1);
    j.rcpts = rcpt2;
    j.sender = "a@x\n";
    assert_int_equal(mta_client_send(h->c, &j), -1);
    assert_true(mta_client_usable(h->c));
    h->finished = false;
    mta_client_quit(h->c);
    assert_true(run_until(f->base, &h->finished, 10));
    reply_is(&h->why, 221, "2.0.0", NULL);
    buf_equal(f->srv->cmds, "EHLO client.test\r\nQUIT\r\n");
}

/* ---- what MAIL FROM passes on (RFC 6152, 6531) ---- */

#define EHLO_UTF8 "250-t\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
#define EHLO_NONE "250-t\r\n250 PIPELINING\r\n"

/* test_mail_params - BODY= as the message came, SMTPUTF8 when it came with it */
static void test_mail_params(void **state)
{
    static const char *const script[] = {
        GREET,   EHLO_UTF8, OK_MAIL, OK_RCPT, GO,     QUEUED,        /* job 0 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,                /* RSET, job 1 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED,                /* RSET, job 2 */
        OK_RCPT, OK_MAIL,   OK_RCPT, GO,      QUEUED, BYE,    NULL}; /* RSET, job 3 */
    static const char *const utf8_rcpt[] = {"j\xc3\xbcrgen@x"};
    struct fixture *f = *state;
    struct harness *h = &f->h;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "Subject: \xc3\xbc\r\n\r\n\xc3\xa9t\xc3\xa9\r\n");
    h->jobs[0].body = MTA_CLIENT_BODY_8BITMIME;
    h->jobs[0].smtputf8 = h->jobs[0].utf8_headers = true;
    job_set(h, 1, "a@x", rcpt2, 1, "x\r\n");
    h->jobs[1].body = MTA_CLIENT_BODY_7BIT;
    job_set(h, 2, "a@x", rcpt2, 1, "x\r\n");
    job_set(h, 3, "a@x", utf8_rcpt, 1, "x\r\n"); /* an address needs it all the same */
    h->quit_after = true;
    h_run(h, f->srv, MTA_CLIENT_SMTP);
    buf_equal(f->srv->cmds, "EHLO client.test\r\n"
                            "MAIL FROM:<a@x> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                            "RSET\r\nMAIL FROM:<a@x> BODY=7BIT\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                            "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                            "RSET\r\nMAIL FROM:<a@x> SMTPUTF8\r\n"
                            "RCPT TO:<j\xc3\xbcrgen@x>\r\nDATA\r\nQUIT\r\n");
    assert_int_equal(h->done, 4);
    reply_is(&h->res[0][0], 250, "2.0.0", NULL);
}

/* test_mail_params_not_offered - a server without 8BITMIME gets the
 * 8BITMIME body as it is, without BODY=; one without SMTPUTF8 gets a
 * SMTPUTF8 message whose header section and envelope are ASCII, without
 * SMTPUTF8; a message that needs it is refused with 5.6.7, before MAIL */
static void test_mail_params_not_offered(void **state)
{
    static const char *const script[] = {GREET,   EHLO_NONE, OK_MAIL, OK_RCPT, GO,  QUEUED, OK_RCPT,
                                         OK_MAIL, OK_RCPT,   GO,      QUEUED,  BYE, NULL};
    static const char *const utf8_rcpt[] = {"j\xc3\xbcrgen@x"};
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct mta_client_reply why;

    f->srv = srv_new(f->base, script, NULL);
    job_set(h, 0, "a@x", rcpt2, 1, "Subject: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n");
    h->jobs[0].body = MTA_CLIENT_BODY_8BITMIME;
    job_set(h, 1, "a@x", rcpt2, 1, "Subject: ascii\r\n\r\nx\r\n");
    h->jobs[1].smtputf8 = true;
    h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&f->srv->addr, f->srv->addrlen, 5);
    assert_true(run_until(f->base, &h->finished, 20));
    assert_int_equal(h->done, 2);
    assert_true(mta_client_usable(h->c));
    struct mta_client_job need = h->jobs[1];
    need.utf8_headers = true;
    assert_false(mta_client_job_refused(h->c, &h->jobs[1], &why));
    assert_true(mta_client_job_refused(h->c, &need, &why));
    reply_is(&why, 550, "5.6.7", "SMTPUTF8 is required, but was not offered by host test");
    assert_int_equal(mta_client_send(h->c, &need), -1);
    need.utf8_headers = false;
    need.rcpts = utf8_rcpt;
    assert_true(mta_client_job_refused(h->c, &need, &why));
    need.smtputf8 = false; /* not asked for: the address alone is no reason to refuse here */
    assert_false(mta_client_job_refused(h->c, &need, &why));
    h->finished = false;
    mta_client_quit(h->c);
    assert_true(run_until(f->base, &h->finished, 10));
    buf_equal(f->srv->cmds, "EHLO client.test\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\n"
                            "RSET\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nDATA\r\nQUIT\r\n");
    buf_equal(f->srv->data, "Subject: 8bit\r\n\r\n\xc3\xa9t\xc3\xa9\r\n.\r\n"
                            "Subject: ascii\r\n\r\nx\r\n.\r\n");
}

/* ---- smtp-sink ---- */

/* sink_start - smtp-sink on a free port of 127.0.0.1 */
static pid_t sink_start(struct sockaddr_in *sin)
{
    socklen_t len = sizeof(*sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    char where[64];
    pid_t pid;

    memset(sin, 0, sizeof(*sin));
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)sin, &len), 0);
    close(fd);
    snprintf(where, sizeof(where), "127.0.0.1:%d", ntohs(sin->sin_port));
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);

        dup2(null, 1); /* -c prints its counters there */
        dup2(null, 2);
        if (geteuid() == 0)
            execl(SINK, "smtp-sink", "-u", "nobody", "-c", where, "100", (char *)NULL);
        else
            execl(SINK, "smtp-sink", "-c", where, "100", (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* test_smtp_sink - five messages on one connection to Postfix's smtp-sink */
static void test_smtp_sink(void **state)
{
    struct fixture *f = *state;
    struct harness *h = &f->h;
    struct sockaddr_in sin;
    int tries, status;
    size_t i, k;
    pid_t pid;

    if (access(SINK, X_OK) != 0)
        skip();
    pid = sink_start(&sin);
    for (i = 0; i < 5; i++)
        job_set(h, i, "a@x", rcpt2, 2, "Subject: sink\r\n\r\n.hello\r\n");
    h->quit_after = true;
    for (tries = 0; tries < 50; tries++) { /* until smtp-sink listens */
        h->finished = false;
        h->closed = 0;
        h_connect(h, MTA_CLIENT_SMTP, (struct sockaddr *)&sin, sizeof(sin), 10);
        assert_true(run_until(f->base, &h->finished, 10));
        if (h->ready > 0 || h->why.code != 0)
            break;
        struct timeval tv = {0, 100000};
        bool never = false;
        event_base_once(f->base, -1, EV_TIMEOUT, guard_cb, &never, &tv);
        run_until(f->base, &never, 2);
    }
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    assert_int_equal(h->ready, 1);
    assert_int_equal(h->done, 5);
    for (i = 0; i < 5; i++)
        for (k = 0; k < 2; k++)
            assert_int_equal(h->res[i][k].code, 250);
    assert_int_equal(h->why.code, 221);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dot_stuffing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_big_content, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmtp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lmtp_unix, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_all_rejected_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
        cmocka_unit_test_setup_teardown(test_421_mid_transaction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_421_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rset_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_amid_content, setup, teardown),
        cmocka_unit_test(test_out_of_step),
        cmocka_unit_test_setup_teardown(test_dot_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unix_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reply_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_greeting_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_helo_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lhlo_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_in_done, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mail_params_not_offered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_smtp_sink, setup, teardown),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
