/*
 * mtafix.h - the mta_client unit tests' scripted server and client harness,
 * on the test's own event loop (test_mta_client-*.c)
 *
 * The scripted server (a libevent listener on 127.0.0.1 port 0, or on a
 * unix socket) greets, answers each command line and each end of data with
 * the next reply of its script, and records what it got: the command
 * lines, the content as it came over the wire (dot-stuffed, with its final
 * "."), and the most command lines that arrived in one read, which tells
 * pipelined batches from one command per reply.
 *
 * The client is driven through its callbacks: ready() sends the first job,
 * done() the next one, then QUIT; closed() frees the client from inside the
 * callback. Waits poll the loop under a guard timer, never sleep.
 */
#ifndef DD_MTAFIX_H
#define DD_MTAFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "mta_client.h"

struct event_base;
struct evconnlistener;
struct bufferevent;
struct evbuffer;

#define MAX_JOBS 8
#define MAX_RCPTS 8

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

/* mf_srv_new - a server on 127.0.0.1 port 0, or on unix_path when given,
 * that answers with script (NULL-terminated, see struct tsrv) */
struct tsrv *mf_srv_new(struct event_base *base, const char *const *script, const char *unix_path);

/* mf_srv_free - the server and its records */
void mf_srv_free(struct tsrv *s);

/* mf_buf_equal - the whole buffer equals want (else the test fails) */
void mf_buf_equal(struct evbuffer *b, const char *want);

/* mf_buf_has - the buffer contains want */
bool mf_buf_has(struct evbuffer *b, const char *want);

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
    struct mta_client_tls tls_cfg;  /* for the next mf_h_connect() */
};

/* The client's callbacks with the harness as their context: mf_h_ready()
 * sends the first job, mf_h_done() records the results and sends the next
 * job (or QUIT when quit_after), mf_h_closed() frees the client. */
void mf_h_ready(void *ctx, struct mta_client *c);
void mf_h_done(void *ctx, struct mta_client *c, const struct mta_client_result *r);
void mf_h_closed(void *ctx, struct mta_client *c, const struct mta_client_reply *why);

/* mf_guard_cb - a timer's callback that sets *(bool *)arg */
void mf_guard_cb(evutil_socket_t fd, short what, void *arg);

/* mf_run_until - poll the loop until *flag or secs pass; false on the latter */
bool mf_run_until(struct event_base *base, const bool *flag, int secs);

/* mf_h_connect - a client to the address, the harness as its context */
void mf_h_connect(struct harness *h, enum mta_client_proto proto, const struct sockaddr *addr,
                  socklen_t addrlen, unsigned reply_timeout);

/* mf_h_run - connect to the server, run to the end (20 s at most), check the
 * client is gone */
void mf_h_run(struct harness *h, struct tsrv *s, enum mta_client_proto proto);

/* mf_job_set - job i: sender, recipients and content (a copy) */
void mf_job_set(struct harness *h, size_t i, const char *sender, const char *const *rcpts,
                size_t nrcpts, const char *content);

/* mf_reply_is - one recipient's result (text NULL: not checked) */
void mf_reply_is(const struct mta_client_reply *r, int code, const char *enh, const char *text);

/* ---- fixtures ---- */

struct fixture {
    struct event_base *base;
    struct harness h;
    struct tsrv *srv;
};

/* mf_setup - a loop and a harness (a struct fixture in *state) */
int mf_setup(void **state);

/* mf_teardown - free in reverse order: the client, the jobs' content, the
 * server, the loop */
int mf_teardown(void **state);

/* Recipients for the jobs. */
extern const char *const mf_rcpt2[2]; /* b@x, c@x */
extern const char *const mf_rcpt3[3]; /* r0@x, r1@x, r2@x */

/* Replies for the scripts. */

#define GREET "220 t ESMTP\r\n"
#define EHLO_PIPE "250-t\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n250 8BITMIME\r\n"
#define EHLO_PLAIN "250-t\r\n250 8BITMIME\r\n"
#define OK_MAIL "250 2.1.0 Ok\r\n"
#define OK_RCPT "250 2.1.5 Ok\r\n"
#define GO "354 End data with <CR><LF>.<CR><LF>\r\n"
#define QUEUED "250 2.0.0 Ok: queued as Q1\r\n"
#define BYE "221 2.0.0 Bye\r\n"

/* ---- content ---- */

/* mf_big_content - about want octets of lines of varying length, many
 * starting with "." (malloc'd; its length in *len) */
char *mf_big_content(size_t want, size_t *len);

#endif
