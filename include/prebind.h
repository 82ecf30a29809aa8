/*
 * prebind.h - listening sockets bound early, served later
 *
 * The hub binds the admin API's addresses before it drops root (a port
 * below 1024 needs root or CAP_NET_BIND_SERVICE), while the admin server is
 * made only after the store is open, as the user. In between the listener
 * is idle: no callback, so no connection is accepted and no byte is read.
 */
#ifndef DD_PREBIND_H
#define DD_PREBIND_H

#include <stddef.h>

#include "conf.h"

struct event_base;
struct evconnlistener;

/*
 * prebind_listen - bind and listen on l, idle until evhttp_bind_listener()
 * (or evconnlistener_set_cb()) gives it a callback. The caller owns the
 * listener (evconnlistener_free() closes the socket). NULL with a message.
 */
struct evconnlistener *prebind_listen(struct event_base *base, const struct conf_listen *l,
                                      char *err, size_t errlen);

#endif
