/*
 * bev_write.h - write a bufferevent's output now, from the caller
 *
 * A socket bufferevent writes only from its EV_WRITE callback, so every
 * reply would cost an epoll_ctl to arm EV_WRITE and one to disarm it. The
 * callers keep EV_WRITE disabled, write here at the end of each call from
 * the loop, and enable EV_WRITE only for what the socket refuses. An
 * OpenSSL bufferevent writes its own output: for it, everything waits.
 */
#ifndef DD_BEV_WRITE_H
#define DD_BEV_WRITE_H

#include <stddef.h>

#include <event2/bufferevent.h>

/* bev_write_now - write as much of the output as the socket takes; returns
 * the octets still waiting. Errors are left to the loop: a caller enables
 * EV_WRITE whenever something waits, and the loop's write reports them. */
size_t bev_write_now(struct bufferevent *bev);

#endif
