/*
 * bev_write.c - write a bufferevent's output now (see bev_write.h)
 *
 * Only a plain socket bufferevent is written here. An OpenSSL one holds
 * clear text that only OpenSSL may put on the socket: its output is left
 * to it, and the caller, seeing octets still waiting, enables EV_WRITE.
 */
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "bev_write.h"

/* bev_write_now - the socket bufferevent freezes the front of its output
 * for everyone but its own write callback; lift that for one write */
size_t bev_write_now(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);

    if (evbuffer_get_length(out) == 0 || bufferevent_openssl_get_ssl(bev) != NULL)
        return evbuffer_get_length(out);
    evbuffer_unfreeze(out, 1);
    (void)evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    return evbuffer_get_length(out);
}
