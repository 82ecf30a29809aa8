/*
 * prebind.c - a listener bound now, with no callback until its server exists
 *
 * The options are evhttp_bind_socket()'s: SO_REUSEADDR, close on free,
 * libevent's default backlog; close on exec in addition.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/listener.h>
#include <event2/util.h>

#include "prebind.h"

/* prebind_listen - parse, bind, listen; idle until a callback is set */
struct evconnlistener *prebind_listen(struct event_base *base, const struct conf_listen *l,
                                      char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);
    char text[96];
    unsigned flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC;

    snprintf(text, sizeof(text), strchr(l->host, ':') ? "[%s]:%u" : "%s:%u", l->host,
             (unsigned)l->port);
    if (evutil_parse_sockaddr_port(text, (struct sockaddr *)&ss, &sslen) < 0) {
        snprintf(err, errlen, "bad listen address %s", text);
        return NULL;
    }
    struct evconnlistener *ls =
        evconnlistener_new_bind(base, NULL, NULL, flags, -1, (struct sockaddr *)&ss, sslen);
    if (ls == NULL)
        snprintf(err, errlen, "cannot listen on %s: %s", text, strerror(errno));
    return ls;
}
