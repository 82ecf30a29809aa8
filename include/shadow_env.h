/*
 * shadow_env.h - the envelope of a shadow copy, read back (pure)
 *
 * A copy in the shadow queue carries its envelope in Dd- headers (shadow.h):
 * Dd-From "<addr>", one Dd-Rcpt "SG <addr>" (or "@smarthost <addr>") per
 * recipient, Dd-Received (unix ms), Dd-Body "BODY UTF8" (enum msg_body,
 * enum msg_utf8), Dd-Message-Id (optional). A copy in a shadow dumpster has
 * Dd-Sg SG and one Dd-Delivered "<addr> UNIXMS" per recipient delivered
 * instead of Dd-Rcpt. Given as "key\0value\0..." pairs, they become a
 * queue_msg's envelope; anything out of bounds or malformed is refused with
 * a reason.
 */
#ifndef DD_SHADOW_ENV_H
#define DD_SHADOW_ENV_H

#include <stddef.h>

#include "queue_msg.h"

#define SHADOW_ENV_RCPTS_MAX 10000 /* recipients of one copy */
#define SHADOW_ENV_MSGID_MAX 998   /* a Message-ID value */

/* shadow_env_parse - env[0..len) into m's sender, rcpts (malloc'd),
 * nrcpts, received_ms, body, smtputf8 and message_id (malloc'd or NULL);
 * the rest of m is untouched. With delivered non-NULL the copy is a
 * dumpster's: its Dd-Delivered recipients, routed to Dd-Sg, and
 * *delivered (malloc'd) their times, by recipient; else a queue copy's
 * Dd-Rcpt. 0, or -1 with why (nothing allocated then). */
int shadow_env_parse(const char *env, size_t len, struct queue_msg *m, int64_t **delivered,
                     char *why, size_t whylen);

#endif
