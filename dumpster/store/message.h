/*
 * message.h - the message and message_body tables (storage thread)
 *
 * A message row is the envelope the hub accepted; its content is a run of
 * chunks in message_body, written while the message arrives and checked
 * whole at the commit. holds counts the dumpster items that keep the
 * content after delivery: a message leaves the store only when no
 * recipient is open and holds is 0 (queue.c decides that).
 */
#ifndef DD_MESSAGE_H
#define DD_MESSAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "bounds.h"
#include "queue_msg.h"
#include "store_int.h"

struct evbuffer;

/* What the queue and the dumpster read of a message. */
struct message_row {
    char queue_id[DD_QUEUEID_LEN + 1];
    char sender[DD_ADDR_MAX + 2];
    char message_id[DD_MSGID_MAX + 1]; /* "" when it had none */
    uint64_t size;
    int64_t received_ms;
    enum msg_body body; /* what MAIL FROM said */
    enum msg_utf8 smtputf8;
};

/* message_chunk - write chunk seq of message msg. */
int message_chunk(struct store *s, uint64_t msg, uint32_t seq, const void *data, size_t len);

/* message_insert - the envelope row of m, after its content was checked
 * whole (SQLITE_CORRUPT when a chunk is missing or the size differs). */
int message_insert(struct store *s, const struct queue_msg *m);

/* message_get - one envelope; *found false when there is none. */
int message_get(struct store *s, uint64_t msg, struct message_row *out, bool *found);

/* message_find - the id of the message with queue_id; *found false when none. */
int message_find(struct store *s, const char *queue_id, uint64_t *msg, bool *found);

/* message_content - the content of msg into a new evbuffer (*out; the
 * caller frees it); SQLITE_CORRUPT when it is not size octets. */
int message_content(struct store *s, uint64_t msg, uint64_t size, struct evbuffer **out);

/* message_hold - holds += delta. */
int message_hold(struct store *s, uint64_t msg, int delta);

/* message_holds - the current holds of msg (0 for no such message). */
int message_holds(struct store *s, uint64_t msg, int64_t *holds);

/* message_delete - the envelope and its content. */
int message_delete(struct store *s, uint64_t msg);

/* message_drop_content - the chunks of a message that was never committed. */
int message_drop_content(struct store *s, uint64_t msg);

/* message_next_id - at start: the first message id no row ever used (past
 * every id of sqlite_sequence and of message_body). Reads only. */
int message_next_id(struct store *s, uint64_t *next_id);

/* message_drop_orphans - content of messages below id `below` that were
 * never committed (a stop or a crash between the chunks and the commit);
 * ids from `below` on may be in intake now and are left alone. */
int message_drop_orphans(struct store *s, uint64_t below);

#endif
