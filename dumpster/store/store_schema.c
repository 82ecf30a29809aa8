/*
 * store_schema.c - the SQL schema of the store and its migrations
 *
 * PRAGMA user_version says which steps ran. Each step runs in its own
 * transaction together with the version bump, so a crash leaves the database
 * at a whole version. A database newer than this binary is refused.
 */
#include <stdio.h>

#include "store_schema.h"

/* Step N brings version N to N + 1. Append only; never edit a past step. */
static const char *const store_schema_steps[] = {
    /* 0 -> 1: messages, their content, their recipients */
    "CREATE TABLE message ("
    "  id INTEGER PRIMARY KEY,"
    "  queue_id TEXT NOT NULL UNIQUE,"
    "  sender TEXT NOT NULL,"
    "  message_id TEXT,"
    "  size INTEGER NOT NULL,"
    "  nchunks INTEGER NOT NULL,"
    "  received INTEGER NOT NULL," /* unix ms */
    "  client_ip TEXT NOT NULL,"
    "  helo TEXT NOT NULL,"
    "  proto TEXT NOT NULL"
    ");"
    "CREATE TABLE body ("
    "  id INTEGER PRIMARY KEY,"
    "  msg INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  data BLOB NOT NULL"
    ");"
    "CREATE UNIQUE INDEX body_msg_seq ON body(msg, seq);"
    "CREATE TABLE recipient ("
    "  msg INTEGER NOT NULL REFERENCES message(id),"
    "  rcpt TEXT NOT NULL,"
    "  sg TEXT NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0," /* 0 queued, 1 deferred, 2 delivered, 3 failed */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0," /* unix ms */
    "  delivered INTEGER,"
    "  last_reply TEXT,"
    "  PRIMARY KEY (msg, rcpt)"
    ") WITHOUT ROWID;"
    "CREATE INDEX recipient_due ON recipient(state, next_attempt);",
    /* 1 -> 2: delivery. state 0 pending, 1 being delivered, 2 delivered,
     * 3 failed. queued: when it (re)entered the queue (lifetime counts from
     * there); dest: a destination override (resubmission); request: the
     * resubmit request that queued it again. */
    "ALTER TABLE recipient ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE recipient ADD COLUMN dest TEXT;"
    "ALTER TABLE recipient ADD COLUMN request INTEGER;"
    "UPDATE recipient SET queued = (SELECT received FROM message WHERE id = msg);"
    "CREATE INDEX recipient_sg ON recipient(sg, state);",
    /* 2 -> 3: the dumpster, its counters, evictions, resubmission, routes */
    "CREATE TABLE dumpster_item ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  queue_id TEXT NOT NULL,"
    "  message_id TEXT,"
    "  sender TEXT NOT NULL,"
    "  rcpts TEXT NOT NULL," /* the group's recipients as queued, comma separated */
    "  size INTEGER NOT NULL,"
    "  received INTEGER NOT NULL," /* unix ms */
    "  delivered INTEGER NOT NULL,"
    "  PRIMARY KEY (sg, msg)"
    ") WITHOUT ROWID;"
    "CREATE INDEX dumpster_received ON dumpster_item(sg, received, msg);"
    "CREATE INDEX dumpster_delivered ON dumpster_item(sg, delivered, msg);"
    "CREATE INDEX dumpster_msg ON dumpster_item(msg);"
    /* counters change in the same transaction as the items */
    "CREATE TABLE dumpster_sg ("
    "  sg TEXT PRIMARY KEY,"
    "  items INTEGER NOT NULL DEFAULT 0,"
    "  bytes INTEGER NOT NULL DEFAULT 0,"
    "  oldest INTEGER NOT NULL DEFAULT 0,"
    "  evicted_size INTEGER NOT NULL DEFAULT 0,"
    "  evicted_age INTEGER NOT NULL DEFAULT 0,"
    "  evicted_replicated INTEGER NOT NULL DEFAULT 0,"
    "  not_kept INTEGER NOT NULL DEFAULT 0,"
    "  replicated_until INTEGER NOT NULL DEFAULT 0"
    ") WITHOUT ROWID;"
    /* what left the dumpster (or never entered it), for coverage reports */
    "CREATE TABLE dumpster_gone ("
    "  sg TEXT NOT NULL,"
    "  received INTEGER NOT NULL,"
    "  delivered INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ");"
    "CREATE INDEX dumpster_gone_received ON dumpster_gone(sg, received);"
    "CREATE INDEX dumpster_gone_delivered ON dumpster_gone(sg, delivered);"
    "CREATE INDEX dumpster_gone_at ON dumpster_gone(at);"
    "CREATE TABLE resubmit_request ("
    "  id INTEGER PRIMARY KEY,"
    "  sg TEXT NOT NULL,"
    "  start INTEGER NOT NULL,"
    "  end INTEGER NOT NULL,"
    "  match INTEGER NOT NULL,"
    "  dest TEXT,"              /* the override, or NULL */
    "  dest_eff TEXT NOT NULL," /* where it goes: the ledger's key */
    "  sender TEXT,"
    "  recipient TEXT,"
    "  message_id TEXT,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  force INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER NOT NULL DEFAULT 0,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  cursor_time INTEGER NOT NULL DEFAULT -1,"
    "  cursor_msg INTEGER NOT NULL DEFAULT -1,"
    "  matched INTEGER NOT NULL DEFAULT 0,"
    "  queued INTEGER NOT NULL DEFAULT 0,"
    "  delivered INTEGER NOT NULL DEFAULT 0,"
    "  failed INTEGER NOT NULL DEFAULT 0,"
    "  skipped_duplicate INTEGER NOT NULL DEFAULT 0,"
    "  cov_complete INTEGER NOT NULL DEFAULT 1,"
    "  cov_oldest INTEGER NOT NULL DEFAULT 0,"
    "  cov_evicted INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX resubmit_state ON resubmit_request(state);"
    /* an item resent to a destination is not resent there again unless forced */
    "CREATE TABLE resubmit_ledger ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  dest TEXT NOT NULL,"
    "  request INTEGER NOT NULL,"
    "  PRIMARY KEY (sg, msg, dest)"
    ") WITHOUT ROWID;"
    "CREATE TABLE sg_route ("
    "  sg TEXT PRIMARY KEY,"
    "  dest TEXT NOT NULL,"
    "  conf_dest TEXT NOT NULL" /* the file's destination when it was set */
    ") WITHOUT ROWID;",
    /* 3 -> 4: one owner per table, recipients as rows.
     * message.holds: the dumpster items that keep the content. recipient:
     * one row per (message, request, address), so requests never share a
     * row; route 0 = a storage group, 1 = the smarthost; state 1 (being
     * delivered) is no longer stored. dumpster_rcpt: an item's recipients,
     * each with its own delivery time, taken from the recipient rows (the
     * joined rcpts text only where those are gone). dumpster_ledger: per
     * recipient. dumpster_gone: per copy, with the message. */
    /* AUTOINCREMENT: sqlite_sequence remembers the highest id ever used, so an id
     * that dumpster_gone still names is never handed out again after a restart */
    "CREATE TABLE message_v4 ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  queue_id TEXT NOT NULL UNIQUE,"
    "  sender TEXT NOT NULL,"
    "  message_id TEXT,"
    "  size INTEGER NOT NULL,"
    "  nchunks INTEGER NOT NULL,"
    "  received INTEGER NOT NULL," /* unix ms */
    "  client_ip TEXT NOT NULL,"
    "  helo TEXT NOT NULL,"
    "  proto TEXT NOT NULL,"
    "  holds INTEGER NOT NULL DEFAULT 0" /* dumpster items that keep the content */
    ");"
    "INSERT INTO message_v4 SELECT id, queue_id, sender, message_id, size, nchunks, received,"
    " client_ip, helo, proto, (SELECT count(*) FROM dumpster_item i WHERE i.msg = message.id)"
    " FROM message;"
    "DROP TABLE message;"
    "ALTER TABLE message_v4 RENAME TO message;"
    "DELETE FROM sqlite_sequence WHERE name = 'message';"
    "INSERT INTO sqlite_sequence(name, seq) SELECT 'message', max(coalesce((SELECT max(id)"
    " FROM message), 0), coalesce((SELECT max(msg) FROM body), 0), coalesce((SELECT max(msg)"
    " FROM resubmit_ledger), 0));"
    "ALTER TABLE body RENAME TO message_body;"
    "DROP INDEX body_msg_seq;"
    "CREATE UNIQUE INDEX message_body_seq ON message_body(msg, seq);"
    "CREATE TABLE dumpster_rcpt ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  rcpt TEXT NOT NULL,"
    "  delivered INTEGER NOT NULL," /* unix ms */
    "  PRIMARY KEY (sg, msg, rcpt)"
    ") WITHOUT ROWID;"
    "INSERT OR IGNORE INTO dumpster_rcpt(sg, msg, rcpt, delivered)"
    " SELECT i.sg, i.msg, r.rcpt,"
    "  CASE WHEN r.state = 2 AND r.request IS NULL THEN coalesce(r.delivered, i.delivered)"
    "  ELSE i.delivered END"
    " FROM dumpster_item i JOIN recipient r ON r.msg = i.msg AND r.sg = i.sg"
    " WHERE r.state = 2 OR r.request IS NOT NULL;"
    "WITH RECURSIVE split(sg, msg, delivered, rest, one) AS ("
    "  SELECT sg, msg, delivered, rcpts || ',', '' FROM dumpster_item i WHERE NOT EXISTS"
    "   (SELECT 1 FROM dumpster_rcpt r WHERE r.sg = i.sg AND r.msg = i.msg)"
    "  UNION ALL SELECT sg, msg, delivered, substr(rest, instr(rest, ',') + 1),"
    "   substr(rest, 1, instr(rest, ',') - 1) FROM split WHERE rest <> '')"
    " INSERT OR IGNORE INTO dumpster_rcpt(sg, msg, rcpt, delivered)"
    " SELECT sg, msg, one, delivered FROM split WHERE one <> '';"
    "CREATE INDEX dumpster_rcpt_delivered ON dumpster_rcpt(sg, delivered, msg);"
    "CREATE TABLE recipient_v4 ("
    "  id INTEGER PRIMARY KEY,"
    "  msg INTEGER NOT NULL,"
    "  rcpt TEXT NOT NULL,"
    "  route INTEGER NOT NULL DEFAULT 0,"
    "  sg TEXT NOT NULL DEFAULT '',"
    "  request INTEGER NOT NULL DEFAULT 0,"
    "  dest TEXT,"
    "  state INTEGER NOT NULL DEFAULT 0," /* enum rcpt_state */
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt INTEGER NOT NULL DEFAULT 0," /* unix ms */
    "  queued INTEGER NOT NULL DEFAULT 0,"
    "  delivered INTEGER,"
    "  last_reply TEXT"
    ");"
    "INSERT INTO recipient_v4(msg, rcpt, route, sg, request, dest, state, attempts, next_attempt,"
    " queued, delivered, last_reply)"
    " SELECT msg, rcpt, sg = '@smarthost', CASE WHEN sg = '@smarthost' THEN '' ELSE sg END,"
    "  coalesce(request, 0), dest, CASE WHEN state = 1 THEN 0 ELSE state END, attempts,"
    "  next_attempt, queued, delivered, last_reply FROM recipient;"
    "DROP TABLE recipient;"
    "ALTER TABLE recipient_v4 RENAME TO recipient;"
    "CREATE UNIQUE INDEX recipient_key ON recipient(msg, request, rcpt);"
    "CREATE INDEX recipient_due ON recipient(state, next_attempt);"
    "CREATE TABLE dumpster_item_v4 ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  queue_id TEXT NOT NULL,"
    "  message_id TEXT,"
    "  sender TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  received INTEGER NOT NULL," /* unix ms */
    "  PRIMARY KEY (sg, msg)"
    ") WITHOUT ROWID;"
    "INSERT INTO dumpster_item_v4 SELECT sg, msg, queue_id, message_id, sender, size, received"
    " FROM dumpster_item;"
    "DROP TABLE dumpster_item;"
    "ALTER TABLE dumpster_item_v4 RENAME TO dumpster_item;"
    "CREATE INDEX dumpster_item_received ON dumpster_item(sg, received, msg);"
    "CREATE TABLE dumpster_ledger ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  rcpt TEXT NOT NULL,"
    "  dest TEXT NOT NULL,"
    "  request INTEGER NOT NULL,"
    "  PRIMARY KEY (sg, msg, rcpt, dest)"
    ") WITHOUT ROWID;"
    "INSERT OR IGNORE INTO dumpster_ledger(sg, msg, rcpt, dest, request)"
    " SELECT l.sg, l.msg, r.rcpt, l.dest, l.request FROM resubmit_ledger l"
    " JOIN dumpster_rcpt r ON r.sg = l.sg AND r.msg = l.msg;"
    "DROP TABLE resubmit_ledger;"
    "CREATE TABLE dumpster_gone_v4 ("
    "  sg TEXT NOT NULL,"
    "  msg INTEGER NOT NULL,"
    "  received INTEGER NOT NULL,"
    "  delivered INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  at INTEGER NOT NULL"
    ");"
    "INSERT INTO dumpster_gone_v4 SELECT sg, -rowid, received, delivered, reason, at"
    " FROM dumpster_gone;"
    "DROP TABLE dumpster_gone;"
    "ALTER TABLE dumpster_gone_v4 RENAME TO dumpster_gone;"
    "CREATE INDEX dumpster_gone_received ON dumpster_gone(sg, received);"
    "CREATE INDEX dumpster_gone_delivered ON dumpster_gone(sg, delivered);"
    "CREATE INDEX dumpster_gone_at ON dumpster_gone(at);"
    "ALTER TABLE resubmit_request ADD COLUMN cursor_rcpt TEXT NOT NULL DEFAULT '';"
    "ALTER TABLE resubmit_request ADD COLUMN skipped_present INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE resubmit_request ADD COLUMN probe INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE sg_route RENAME TO route;",
    /* 4 -> 5: what the client's MAIL FROM said, for the next hop: body
     * (enum msg_body: 0 none, 1 BODY=7BIT, 2 BODY=8BITMIME) and smtputf8
     * (enum msg_utf8: 0 no, 1 SMTPUTF8, 2 SMTPUTF8 and 8-bit header text).
     * A message stored before is sent as it was: without either. */
    ("ALTER TABLE message ADD COLUMN body INTEGER NOT NULL DEFAULT 0;"
     "ALTER TABLE message ADD COLUMN smtputf8 INTEGER NOT NULL DEFAULT 0;"),
    /* 5 -> 6: shadow dumpster copies the cluster did not store, to send
     * again (relay/shadow/shadow_owed.c): env is their Dd- headers */
    ("CREATE TABLE shadow_owed ("
     "  sg TEXT NOT NULL,"
     "  msg INTEGER NOT NULL,"
     "  seq INTEGER NOT NULL,"
     "  queue_id TEXT NOT NULL,"
     "  env BLOB NOT NULL,"
     "  PRIMARY KEY (sg, msg, seq)"
     ") WITHOUT ROWID;"),
};

#define STORE_SCHEMA_NSTEPS (int)(sizeof(store_schema_steps) / sizeof(store_schema_steps[0]))

/* store_schema_version - the newest version */
int store_schema_version(void)
{
    return STORE_SCHEMA_NSTEPS;
}

/* store_schema_get_version - PRAGMA user_version */
static int store_schema_get_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st;

    if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : -1;
}

/* store_schema_step - run one step and bump the version in one transaction */
static int store_schema_step(sqlite3 *db, int from, char *err, size_t errlen)
{
    char bump[64];
    char *msg = NULL;

    snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", from + 1);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, store_schema_steps[from], NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, bump, NULL, NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "schema migration %d -> %d: %s", from, from + 1,
                 msg ? msg : sqlite3_errmsg(db));
        sqlite3_free(msg);
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    return 0;
}

/* store_schema_migrate - run every step the database has not seen */
int store_schema_migrate(sqlite3 *db, char *err, size_t errlen)
{
    int version;

    if (store_schema_get_version(db, &version) < 0) {
        snprintf(err, errlen, "cannot read schema version: %s", sqlite3_errmsg(db));
        return -1;
    }
    if (version > STORE_SCHEMA_NSTEPS) {
        snprintf(err, errlen, "database schema version %d is newer than this dumpsterd (%d)",
                 version, STORE_SCHEMA_NSTEPS);
        return -1;
    }
    for (int v = version; v < STORE_SCHEMA_NSTEPS; v++)
        if (store_schema_step(db, v, err, errlen) < 0)
            return -1;
    return 0;
}
