/*
 * message.c - the message and message_body tables (message.h)
 *
 * The only file that writes them. Content is written chunk by chunk while
 * a message arrives, so a message being received never sits whole in
 * memory; the envelope row follows at the commit, after a check that every
 * chunk is there. Storage thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "message.h"

static const char *const sql_chunk = "INSERT INTO message_body(msg, seq, data) VALUES (?, ?, ?)";

/* message_chunk - one chunk of content */
int message_chunk(struct store *s, uint64_t msg, uint32_t seq, const void *data, size_t len)
{
    return store_do(s, sql_chunk, "udb", msg, (int)seq, data, len);
}

static const char *const sql_count =
    "SELECT count(*), coalesce(sum(length(data)), 0) FROM message_body WHERE msg = ?";

/* message_whole - every chunk the session sent is there */
static int message_whole(struct store *s, const struct queue_msg *m)
{
    sqlite3_stmt *st = store_bind(s, sql_count, "u", m->msg_id);
    int rc;

    if (st == NULL)
        return SQLITE_ERROR;
    if ((rc = store_step(s, st)) == SQLITE_ROW) {
        bool whole = (uint64_t)sqlite3_column_int64(st, 0) == m->nchunks &&
                     (uint64_t)sqlite3_column_int64(st, 1) == m->size;
        rc = whole ? SQLITE_OK : SQLITE_CORRUPT;
    }
    sqlite3_reset(st);
    return rc;
}

static const char *const sql_insert =
    "INSERT INTO message(id, queue_id, sender, message_id, size, nchunks, received, client_ip,"
    " helo, proto, body, smtputf8) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/* message_insert - the envelope row, once the content is whole */
int message_insert(struct store *s, const struct queue_msg *m)
{
    int rc = message_whole(s, m);

    if (rc != SQLITE_OK)
        return rc;
    return store_do(s, sql_insert, "uttouditttdd", m->msg_id, m->queue_id, m->sender, m->message_id,
                    m->size, (int)m->nchunks, m->received_ms, m->client_ip, m->helo, m->proto,
                    (int)m->body, (int)m->smtputf8);
}

static const char *const sql_get =
    "SELECT queue_id, sender, coalesce(message_id, ''), size, received, body, smtputf8"
    " FROM message WHERE id = ?";

/* message_read - the current row of sql_get */
static int message_read(void *ctx, sqlite3_stmt *st)
{
    struct message_row *out = ctx;

    store_col_text(st, 0, out->queue_id, sizeof(out->queue_id));
    store_col_text(st, 1, out->sender, sizeof(out->sender));
    store_col_text(st, 2, out->message_id, sizeof(out->message_id));
    out->size = (uint64_t)sqlite3_column_int64(st, 3);
    out->received_ms = sqlite3_column_int64(st, 4);
    int body = sqlite3_column_int(st, 5), utf8 = sqlite3_column_int(st, 6);
    out->body =
        body == MSG_BODY_7BIT || body == MSG_BODY_8BITMIME ? (enum msg_body)body : MSG_BODY_NONE;
    out->smtputf8 =
        utf8 == MSG_UTF8_ASKED || utf8 == MSG_UTF8_HEADERS ? (enum msg_utf8)utf8 : MSG_UTF8_NO;
    return SQLITE_OK;
}

/* message_get - one envelope */
int message_get(struct store *s, uint64_t msg, struct message_row *out, bool *found)
{
    return store_first(s, store_bind(s, sql_get, "u", msg), message_read, out, found);
}

static const char *const sql_find = "SELECT id FROM message WHERE queue_id = ?";

static int message_find_row(void *ctx, sqlite3_stmt *st)
{
    *(uint64_t *)ctx = (uint64_t)sqlite3_column_int64(st, 0);
    return SQLITE_OK;
}

/* message_find - by queue id (the column is UNIQUE: an index) */
int message_find(struct store *s, const char *queue_id, uint64_t *msg, bool *found)
{
    return store_first(s, store_bind(s, sql_find, "t", queue_id), message_find_row, msg, found);
}

static const char *const sql_body = "SELECT data FROM message_body WHERE msg = ? ORDER BY seq";

/* message_content - the content into a new evbuffer */
int message_content(struct store *s, uint64_t msg, uint64_t size, struct evbuffer **out)
{
    sqlite3_stmt *st = store_prep(s, sql_body);
    int rc;

    if (st == NULL || (*out = evbuffer_new()) == NULL)
        return SQLITE_NOMEM;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)msg); /* one parameter, then a loop of its own */
    while ((rc = store_step(s, st)) == SQLITE_ROW)
        if (evbuffer_add(*out, sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0)) < 0)
            break;
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        return rc == SQLITE_ROW ? SQLITE_NOMEM : rc;
    return evbuffer_get_length(*out) == size ? SQLITE_OK : SQLITE_CORRUPT;
}

static const char *const sql_hold = "UPDATE message SET holds = holds + ?2 WHERE id = ?1";

/* message_hold - holds += delta */
int message_hold(struct store *s, uint64_t msg, int delta)
{
    return store_do(s, sql_hold, "ud", msg, delta);
}

static const char *const sql_holds = "SELECT holds FROM message WHERE id = ?";

/* message_holds - how many dumpster items keep msg */
int message_holds(struct store *s, uint64_t msg, int64_t *holds)
{
    return store_get_int(s, holds, sql_holds, "u", msg);
}

static const char *const sql_del_body = "DELETE FROM message_body WHERE msg = ?";
static const char *const sql_del_msg = "DELETE FROM message WHERE id = ?";

/* message_drop_content - chunks of a message never committed */
int message_drop_content(struct store *s, uint64_t msg)
{
    return store_do(s, sql_del_body, "u", msg);
}

/* message_delete - envelope and content */
int message_delete(struct store *s, uint64_t msg)
{
    int rc = store_do(s, sql_del_body, "u", msg);

    return rc == SQLITE_OK ? store_do(s, sql_del_msg, "u", msg) : rc;
}

static const char *const sql_orphans =
    "DELETE FROM message_body WHERE msg < ?1 AND msg NOT IN (SELECT id FROM message)";
static const char *const sql_max_id =
    "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'message'), 0),"
    " coalesce((SELECT max(msg) FROM message_body), 0))";

/* message_next_id - past every id a message ever had (sqlite_sequence)
 * and every chunk written */
int message_next_id(struct store *s, uint64_t *next_id)
{
    int64_t max = 0;
    int rc = store_get_int(s, &max, sql_max_id, "");

    if (rc == SQLITE_OK)
        *next_id = (uint64_t)max + 1;
    return rc;
}

/* message_drop_orphans - uncommitted content below an id */
int message_drop_orphans(struct store *s, uint64_t below)
{
    return store_do(s, sql_orphans, "u", below);
}
