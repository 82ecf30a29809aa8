/*
 * admin_listen.c - the admin API's listeners: bound or taken over, paused
 * at [admin] max_connections, paused briefly when accept() fails
 *
 * At the cap the listeners stop accepting: further clients wait in the
 * kernel's listen backlog and cost the hub no descriptor, so the admin
 * port can never take the descriptors the SMTP listener needs. When
 * accept() fails (EMFILE, ENFILE, ENOBUFS) libevent would call it again at
 * once, forever; the listeners rest ADMIN_ACCEPT_PAUSE_MS instead. The
 * error callback of a listener evhttp serves is given evhttp's pointer,
 * not ours, so the admins alive are kept in a list to find ours by it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "admin_int.h"
#include "clock.h"
#include "log.h"

static struct admin *admin_alive; /* every admin between admin_new and admin_free */

/* admin_listen_update - accept while below the cap and not resting */
void admin_listen_update(struct admin *a)
{
    bool want = !a->resting && a->nconns < a->deps.conf->admin.max_connections;

    if (want == a->accepting)
        return;
    a->accepting = want;
    for (size_t i = 0; i < a->nls; i++) {
        if (want)
            evconnlistener_enable(a->ls[i]);
        else
            evconnlistener_disable(a->ls[i]);
    }
    if (!want && !a->resting && clock_mono_ms() - a->full_logged_ms >= ADMIN_FULL_LOG_MS) {
        a->full_logged_ms = clock_mono_ms();
        log_warn("admin", "%zu connections open ([admin] max_connections): not accepting",
                 a->nconns);
    }
}

/* admin_listen_resume - the rest after a failed accept() is over */
static void admin_listen_resume(evutil_socket_t fd, short what, void *arg)
{
    struct admin *a = arg;

    (void)fd;
    (void)what;
    a->resting = false;
    admin_listen_update(a);
}

/* admin_listen_error - accept() failed: rest instead of trying at once */
static void admin_listen_error(struct evconnlistener *l, void *http)
{
    struct timeval tv = {0, ADMIN_ACCEPT_PAUSE_MS * 1000};
    int err = EVUTIL_SOCKET_ERROR();
    struct admin *a = admin_alive;

    while (a != NULL && a->http != http)
        a = a->alive_next;
    if (a == NULL) { /* not ours: just stop it */
        evconnlistener_disable(l);
        return;
    }
    log_warn("admin", "accept: %s; not accepting for %d ms", evutil_socket_error_to_string(err),
             ADMIN_ACCEPT_PAUSE_MS);
    a->accept_errors++;
    a->resting = true;
    admin_listen_update(a);
    event_add(a->relisten, &tv);
}

/* admin_listen_add - one more listener evhttp serves */
static int admin_listen_add(struct admin *a, struct evhttp_bound_socket *bs, char *err,
                            size_t errlen)
{
    struct evconnlistener *l = bs != NULL ? evhttp_bound_socket_get_listener(bs) : NULL;

    if (l == NULL || a->nls >= DD_LISTEN_MAX) {
        snprintf(err, errlen, "cannot serve a listener");
        return -1;
    }
    evconnlistener_set_error_cb(l, admin_listen_error);
    a->ls[a->nls++] = l;
    return 0;
}

/* admin_bind - listen on one [admin] address */
static int admin_bind(struct admin *a, const struct conf_listen *l, char *err, size_t errlen)
{
    bool v6 = strchr(l->host, ':') != NULL;
    struct evhttp_bound_socket *bs;

    errno = 0;
    if ((bs = evhttp_bind_socket_with_handle(a->http, l->host, l->port)) != NULL)
        return admin_listen_add(a, bs, err, errlen);
    snprintf(err, errlen, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", l->host, v6 ? "]" : "",
             (unsigned)l->port, errno ? strerror(errno) : "bind failed");
    return -1;
}

/* admin_listeners_free - the pre-bound listeners from index i on */
void admin_listeners_free(const struct admin_deps *deps, size_t i)
{
    for (; deps->listeners != NULL && i < deps->conf->admin.nlisten; i++)
        evconnlistener_free(deps->listeners[i]);
}

/* admin_listen_one - bind address i, or serve its pre-bound listener;
 * frees the pre-bound ones not yet served on error */
static int admin_listen_one(struct admin *a, const struct admin_deps *deps, size_t i, char *err,
                            size_t errlen)
{
    struct evhttp_bound_socket *bs;

    if (deps->listeners == NULL)
        return admin_bind(a, &deps->conf->admin.listen[i], err, errlen);
    if ((bs = evhttp_bind_listener(a->http, deps->listeners[i])) == NULL) {
        snprintf(err, errlen, "cannot serve a listener: out of memory");
        admin_listeners_free(deps, i);
        return -1;
    }
    if (admin_listen_add(a, bs, err, errlen) < 0) {
        admin_listeners_free(deps, i + 1); /* i is evhttp's now */
        return -1;
    }
    return 0;
}

/* admin_listen_start - every [admin] listen address; the admin joins the
 * list of those alive */
int admin_listen_start(struct admin *a, const struct admin_deps *deps, char *err, size_t errlen)
{
    a->alive_next = admin_alive;
    admin_alive = a;
    a->accepting = true;
    a->full_logged_ms = INT64_MIN / 2;
    if ((a->relisten = evtimer_new(a->base, admin_listen_resume, a)) == NULL) {
        snprintf(err, errlen, "out of memory");
        admin_listeners_free(deps, 0);
        return -1;
    }
    for (size_t i = 0; i < deps->conf->admin.nlisten; i++)
        if (admin_listen_one(a, deps, i, err, errlen) < 0)
            return -1;
    return 0;
}

/* admin_listen_stop - leave the list; the listeners go with evhttp */
void admin_listen_stop(struct admin *a)
{
    struct admin **p = &admin_alive;

    while (*p != NULL && *p != a)
        p = &(*p)->alive_next;
    if (*p != NULL)
        *p = a->alive_next;
    if (a->relisten != NULL)
        event_free(a->relisten);
    a->relisten = NULL;
    a->nls = 0;
}
