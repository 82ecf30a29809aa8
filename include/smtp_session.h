/*
 * smtp_session.h - one inbound SMTP connection (RFC 5321, SPEC section 4)
 *
 * The server creates a session for an accepted socket and owns it through
 * its id; the session frees itself when the connection ends and tells the
 * server with server_session_gone().
 */
#ifndef DD_SMTP_SESSION_H
#define DD_SMTP_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "store.h"

struct server;
struct smtp_session;

/* smtp_session_new - start the conversation on fd (greeting or greet pause).
 * Returns NULL (fd closed) when out of resources. */
struct smtp_session *smtp_session_new(struct server *srv, uint64_t id, int fd,
                                      const struct sockaddr *sa, socklen_t salen);

/* smtp_session_committed - the store finished this session's commit (may free s). */
void smtp_session_committed(struct smtp_session *s, enum store_rc rc);

/* smtp_session_resume - the store backlog drained: read again (may free s). */
void smtp_session_resume(struct smtp_session *s);

/* smtp_session_shutdown - the hub stops: 421 and close. */
void smtp_session_shutdown(struct smtp_session *s);

/* smtp_session_ip - the client's address as text. */
const char *smtp_session_ip(const struct smtp_session *s);

#endif
