/*
 * admin_tls.c - the admin API over HTTPS
 *
 * evhttp asks a callback for the bufferevent of each new connection: with
 * an [admin] certificate it is an OpenSSL one in the accepting state, so
 * the request is read only after the handshake; without, a plain socket
 * one. The context is looked up per connection, so a SIGHUP that brings a
 * new certificate applies to the next connection and the open ones keep
 * theirs. evhttp's timeout (ADMIN_TIMEOUT) bounds the handshake too.
 */
#include <event2/bufferevent.h>
#include <event2/http.h>

#include "admin_int.h"
#include "tls.h"

/* admin_tls_bevcb - the bufferevent of a new connection (fd set by evhttp) */
static struct bufferevent *admin_tls_bevcb(struct event_base *base, void *arg)
{
    struct admin *a = arg;
    SSL_CTX *ctx = tls_admin_ctx(a->tls);

    if (ctx == NULL)
        return bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    return tls_bev_new(base, -1, ctx, true);
}

/* admin_set_tls - the contexts from now on */
void admin_set_tls(struct admin *a, const struct tls *t)
{
    a->tls = t;
    evhttp_set_bevcb(a->http, admin_tls_bevcb, a);
}
