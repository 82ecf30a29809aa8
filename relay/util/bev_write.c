/*
 * bev_write.c - write a bufferevent's output now (see bev_write.h)
 */
#include <event2/buffer.h>

#include "bev_write.h"

/* bev_write_now - the socket bufferevent freezes the front of its output
 * for everyone but its own write callback; lift that for one write */
size_t bev_write_now(struct bufferevent *bev)
{
    struct evbuffer *out = bufferevent_get_output(bev);

    if (evbuffer_get_length(out) == 0)
        return 0;
    evbuffer_unfreeze(out, 1);
    (void)evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
    return evbuffer_get_length(out);
}
