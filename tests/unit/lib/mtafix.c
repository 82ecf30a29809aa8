/*
 * mtafix.c - the scripted server and the client harness of the mta_client
 * unit tests (mtafix.h)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "mtafix.h"

const char *const mf_rcpt2[] = {"b@x", "c@x"};
const char *const mf_rcpt3[] = {"r0@x", "r1@x", "r2@x"};

/* ---- the scripted server ---- */

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

/* mf_srv_new - a scripted server */
struct tsrv *mf_srv_new(struct event_base *base, const char *const *script, const char *unix_path)
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

/* mf_srv_free - the server and its records */
void mf_srv_free(struct tsrv *s)
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

/* mf_buf_equal - the whole buffer equals want */
void mf_buf_equal(struct evbuffer *b, const char *want)
{
    size_t n = evbuffer_get_length(b);
    char *got = (char *)evbuffer_pullup(b, -1);

    if (n != strlen(want) || memcmp(got ? got : "", want, n) != 0)
        fail_msg("got [%.*s]\nwant [%s]", (int)n, got ? got : "", want);
}

/* mf_buf_has - the buffer contains want */
bool mf_buf_has(struct evbuffer *b, const char *want)
{
    return evbuffer_search(b, want, strlen(want), NULL).pos >= 0;
}

/* ---- the client side ---- */

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

/* mf_h_ready - connected and greeted */
void mf_h_ready(void *ctx, struct mta_client *c)
{
    struct harness *h = ctx;

    h->ready++;
    h->tls = mta_client_tls(c)->result;
    assert_true(mta_client_usable(c));
    h_send(h, c);
}

/* mf_h_done - one job's results */
void mf_h_done(void *ctx, struct mta_client *c, const struct mta_client_result *r)
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

/* mf_h_closed - the connection is gone: free the client right here */
void mf_h_closed(void *ctx, struct mta_client *c, const struct mta_client_reply *why)
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

/* mf_guard_cb - a wait took too long */
void mf_guard_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    *(bool *)arg = true;
}

/* mf_run_until - poll the loop until *flag or secs pass; false on the latter */
bool mf_run_until(struct event_base *base, const bool *flag, int secs)
{
    struct timeval tv = {secs, 0};
    bool expired = false;
    struct event *guard = evtimer_new(base, mf_guard_cb, &expired);

    evtimer_add(guard, &tv);
    while (!*flag && !expired)
        event_base_loop(base, EVLOOP_ONCE);
    event_free(guard);
    return !expired;
}

/* mf_h_connect - a client to the address, the harness as its context */
void mf_h_connect(struct harness *h, enum mta_client_proto proto, const struct sockaddr *addr,
                  socklen_t addrlen, unsigned reply_timeout)
{
    struct mta_client_cfg cfg = {proto, addr,          addrlen, "client.test",
                                 5,     reply_timeout, "test",  h->tls_cfg};
    struct mta_client_cb cb = {mf_h_ready, mf_h_done, mf_h_closed, h};

    h->c = mta_client_connect(h->base, &cfg, &cb);
    assert_non_null(h->c);
    assert_string_equal(mta_client_peer(h->c), "test");
    assert_false(mta_client_usable(h->c));
}

/* mf_h_run - connect to the server, run to the end, check the client is gone */
void mf_h_run(struct harness *h, struct tsrv *s, enum mta_client_proto proto)
{
    mf_h_connect(h, proto, (struct sockaddr *)&s->addr, s->addrlen, 5);
    assert_true(mf_run_until(h->base, &h->finished, 20));
    if (h->c != NULL) /* the test stopped before closed() */
        h->c = mta_client_free(h->c);
}

/* mf_job_set - job i: sender, recipients and content (a copy) */
void mf_job_set(struct harness *h, size_t i, const char *sender, const char *const *rcpts,
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

/* mf_reply_is - one recipient's result */
void mf_reply_is(const struct mta_client_reply *r, int code, const char *enh, const char *text)
{
    assert_int_equal(r->code, code);
    assert_string_equal(r->enh, enh);
    if (text)
        assert_string_equal(r->text, text);
}

/* ---- fixtures ---- */

/* mf_setup - a loop and a harness */
int mf_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || (f->base = event_base_new()) == NULL)
        return -1;
    f->h.base = f->base;
    *state = f;
    return 0;
}

/* mf_teardown - free in reverse order */
int mf_teardown(void **state)
{
    struct fixture *f = *state;
    size_t i;

    if (f->h.c)
        mta_client_free(f->h.c);
    for (i = 0; i < f->h.njobs; i++)
        evbuffer_free(f->h.jobs[i].content);
    if (f->srv)
        mf_srv_free(f->srv);
    event_base_free(f->base);
    free(f);
    return 0;
}

/* ---- content ---- */

/* mf_big_content - lines of varying length, many starting with "." */
char *mf_big_content(size_t want, size_t *len)
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
