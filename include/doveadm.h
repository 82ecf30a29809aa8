/*
 * doveadm.h - the doveadm HTTP API's "search" batch, written and read
 * (pure; jansson)
 *
 * A batch asks, for each (user, Message-ID), whether the user's mailbox
 * holds a message with that Message-ID in any folder: one command
 * ["search", {"user": U, "query": ["mailbox", "*", "header", "Message-ID",
 * MID]}, "i"] per question, tagged with its index. The answer is an array
 * of [TYPE, RESULT, TAG]: a non-empty doveadmResponse list is present, an
 * empty one missing, exit code 67 (EX_NOUSER) a user the server does not
 * know; anything else, a tag that never comes back, or a body that does
 * not parse as a whole is an error: the caller must not take it for
 * missing.
 *
 * A question the API cannot carry (a user or Message-ID that is empty or
 * not UTF-8: JSON holds only UTF-8, and Dovecot could not match it) is
 * left out of the batch and answered missing: the copy is resent (a
 * possible duplicate) rather than held back for ever.
 */
#ifndef DD_DOVEADM_H
#define DD_DOVEADM_H

#include <stdbool.h>
#include <stddef.h>

#include "probe_types.h"

/* doveadm_askable - the batch can carry q (both strings non-empty UTF-8) */
bool doveadm_askable(const struct probe_query *q);

/* doveadm_search_body - the JSON body of a batch of the askable ones of n
 * questions (each tagged with its index; "[]" when none is), a string the
 * caller frees; NULL when out of memory. */
char *doveadm_search_body(const struct probe_query *q, size_t n);

/* doveadm_search_parse - answers[0..n) of the batch of q[0..n) from the
 * response body. Returns 0 (answers filled; a question not askable is
 * PROBE_MISSING, an askable one without an answer PROBE_ERROR), or -1
 * with a message in err when the body is not a JSON array of answers of
 * the right shape (then every answer is PROBE_ERROR). */
int doveadm_search_parse(const char *body, size_t len, const struct probe_query *q,
                         enum probe_answer *answers, size_t n, char *err, size_t errlen);

#endif
