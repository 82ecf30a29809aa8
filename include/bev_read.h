/*
 * bev_read.h - read more of a socket into a bufferevent's input, now
 *
 * libevent 2.1's socket bufferevent reads at most 4 KiB per EV_READ
 * callback (EVBUFFER_MAX_READ, after a FIONREAD ioctl), so a 50 KiB
 * message costs 13 loop passes, ioctls and reads. A reader that finds a
 * full 4 KiB read in its input asks here for the rest in one read.
 */
#ifndef DD_BEV_READ_H
#define DD_BEV_READ_H

#include <stddef.h>

#include <event2/bufferevent.h>

/* BEV_READ_LIBEVENT - what one read of libevent 2.1's takes at most */
#define BEV_READ_LIBEVENT 4096

/* bev_read_more - one read of up to max octets more into the input of a
 * plain socket bufferevent (nothing for an OpenSSL one: its socket holds
 * records only OpenSSL may read); returns the octets read. EOF, EAGAIN and
 * errors are left to the loop: the socket stays readable, and the
 * bufferevent's own next read reports them. */
size_t bev_read_more(struct bufferevent *bev, size_t max);

#endif
