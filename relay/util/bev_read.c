/*
 * bev_read.c - read more of a socket into a bufferevent's input (see
 * bev_read.h)
 */
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>

#include "bev_read.h"

/* bev_read_more - the socket bufferevent freezes the end of its input for
 * everyone but its own read callback; lift that for one read */
size_t bev_read_more(struct bufferevent *bev, size_t max)
{
    struct evbuffer *in = bufferevent_get_input(bev);
    struct evbuffer_iovec v[2];
    struct iovec iov[2];
    ssize_t got;
    int n;

    if (max == 0 || bufferevent_openssl_get_ssl(bev) != NULL)
        return 0;
    evbuffer_unfreeze(in, 0);
    n = evbuffer_reserve_space(in, (ev_ssize_t)max, v, 2);
    if (n <= 0) {
        evbuffer_freeze(in, 0);
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (v[i].iov_len > max)
            v[i].iov_len = max;
        max -= v[i].iov_len;
        iov[i].iov_base = v[i].iov_base;
        iov[i].iov_len = v[i].iov_len;
    }
    got = readv(bufferevent_getfd(bev), iov, n);
    if (got <= 0) {
        evbuffer_commit_space(in, v, 0);
        evbuffer_freeze(in, 0);
        return 0;
    }
    size_t left = (size_t)got;
    int used = 0;
    while (used < n && left > 0) {
        if (v[used].iov_len > left)
            v[used].iov_len = left;
        left -= v[used].iov_len;
        used++;
    }
    evbuffer_commit_space(in, v, used);
    evbuffer_freeze(in, 0);
    return (size_t)got;
}
