/*
 * smtpd_session.h - one inbound SMTP connection (RFC 5321, SPEC section 4)
 *
 * The server creates a session for an accepted socket and owns it through
 * its id; the session frees itself when the connection ends and tells the
 * server through the env's gone callback (smtpd_env.h).
 */
#ifndef DD_SMTPD_SESSION_H
#define DD_SMTPD_SESSION_H

#include <stdint.h>
#include <sys/socket.h>

#include "store.h"

struct smtpd_env;
struct smtpd_session;

/* smtpd_session_new - start the conversation on fd (greeting or greet pause).
 * Returns NULL (fd closed) when out of resources. */
struct smtpd_session *smtpd_session_new(const struct smtpd_env *env, uint64_t id, int fd,
                                        const struct sockaddr *sa, socklen_t salen);

/* smtpd_session_committed - the store finished this session's commit (may free s). */
void smtpd_session_committed(struct smtpd_session *s, enum store_rc rc);

/* smtpd_session_resume - the store backlog drained: read again (may free s). */
void smtpd_session_resume(struct smtpd_session *s);

/* smtpd_session_shutdown - the hub stops: 421 and close. */
void smtpd_session_shutdown(struct smtpd_session *s);

#endif
