/*
 * adminfix.h - the hub of the admin API's unit tests (test_admin-*) and
 * their HTTP client
 *
 * The hub's wiring order (relay/hub.c): the SMTP server binds first (port
 * 0), the store, the queue, delivery, the dumpster and resubmission follow,
 * the storage thread starts, then the admin API serves a listener bound
 * on 127.0.0.1 port 0 beforehand (as prebind.h does for the hub). SG1 goes
 * to an LMTP peer, SG2 to a second one; writes need AW_TOKEN. Requests go
 * over libevent's HTTP client, one connection each; answers are kept with
 * their JSON body parsed.
 */
#ifndef DD_ADMINFIX_H
#define DD_ADMINFIX_H

#include <stdint.h>

#include <event2/http.h>
#include <jansson.h>

#include "admin.h"
#include "dlvfix.h"

#define AW_TOKEN "s3cret-admin-token"

struct aworld {
    struct dlvfix *x;
    struct peer *mbox, *other;
    struct smtpd_server *srv;
    struct admin *a;
    struct evconnlistener *lis[1]; /* the admin's, taken by admin_new */
    uint16_t port;
};

/* An answer of the API. */
struct reply {
    int done, status;
    char *body;
    json_t *json; /* the body parsed, NULL when it is not JSON */
    char ctype[96], location[96], www_auth[128];
};

/* aw_setup - the hub's parts in its order, the admin API last (a cmocka
 * setup: *state is the struct aworld) */
int aw_setup(void **state);

/* aw_teardown - the hub's order: admin, SMTP, delivery, store */
int aw_teardown(void **state);

/* aw_call - one request on a new connection, answered (token NULL: no
 * Authorization; body NULL: none) */
struct reply aw_call(struct aworld *w, enum evhttp_cmd_type m, const char *token, const char *body,
                     const char *path);

/* aw_callf - aw_call with the path from a format */
struct reply aw_callf(struct aworld *w, enum evhttp_cmd_type m, const char *token, const char *body,
                      const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* aw_reply_free - what an answer holds */
void aw_reply_free(struct reply *r);

/* aw_jget - the member at a dotted path ("error.code"), or NULL */
json_t *aw_jget(json_t *j, const char *path);

/* aw_jstr - a string member ("" when absent) */
const char *aw_jstr(const struct reply *r, const char *path);

/* aw_jint - an integer member (-1 when absent) */
long long aw_jint(const struct reply *r, const char *path);

/* aw_expect - status and, for an error, its code (fails the test) */
void aw_expect(const struct reply *r, int status, const char *code);

/* aw_deliver_items - n messages to SG1, delivered and kept; the time before */
int64_t aw_deliver_items(struct aworld *w, int n);

#endif
