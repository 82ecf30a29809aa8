/*
 * admin_tls.c - the admin API over HTTPS
 *
 * Each new connection's bufferevent (admin_conn.c) is, with an [admin]
 * certificate, an OpenSSL one in the accepting state, so the request is
 * read only after the handshake; without, a plain socket one. The context
 * is looked up per connection, so a SIGHUP that brings a new certificate
 * applies to the next connection and the open ones keep theirs. evhttp's
 * timeout (ADMIN_TIMEOUT) bounds the handshake too.
 */
#include "admin_int.h"

/* admin_set_tls - the contexts from now on (admin_conn.c asks per connection) */
void admin_set_tls(struct admin *a, const struct tls *t)
{
    a->tls = t;
}
