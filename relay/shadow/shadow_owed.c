/*
 * shadow_owed.c - the shadow_owed table, its one owner (shadow_owed.h)
 */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "log.h"
#include "shadow_loop.h"
#include "shadow_owed.h"
#include "store_int.h"

struct shadow_owed {
    struct store *st;
    struct queue *q;
    struct shadow *sh;
    struct event *tick;
    int64_t every_ms; /* the wait before the next round */
    unsigned pending; /* the round's rows not answered yet (0: no round) */
    unsigned stored;  /* of the round, stored */
    bool reading;     /* the round's read is in the store */
    bool stopping;
    uint64_t add_failed;
};

/* One owed copy, as the table holds it. */
struct owed_row {
    struct shadow_owed *o;
    char sg[DD_SG_NAME_MAX + 1];
    char queue_id[DD_QUEUEID_LEN + 1];
    uint64_t msg, seq, size;
    char *env;
    size_t envlen;
};

struct owed_round {
    struct shadow_owed *o;
    struct owed_row *rows[SHADOW_OWED_ROUND];
    size_t n;
    int64_t left; /* rows in the table after the read */
};

static void owed_row_free(struct owed_row *r)
{
    if (r) {
        free(r->env);
        free(r);
    }
}

/* ---- a copy failed: into the table ---- */

static const char *const sql_add = "INSERT OR REPLACE INTO shadow_owed(sg, msg, seq, queue_id, env)"
                                   " VALUES (?, ?, ?, ?, ?)";

static int owed_add_work(struct store *s, void *arg)
{
    struct owed_row *r = arg;

    return store_do(s, sql_add, "tuutb", r->sg, r->msg, r->seq, r->queue_id, r->env, r->envlen);
}

static void owed_add_reply(void *arg, enum store_rc rc)
{
    struct owed_row *r = arg;

    if (rc != STORE_OK) {
        uint64_t f = ++r->o->add_failed;
        if ((f & (f - 1)) == 0) /* the 1st, 2nd, 4th ... */
            log_err("shadow",
                    "%s: cannot note the missing shadow dumpster copy for %s (%s); it is not "
                    "sent again (%llu so far)",
                    r->queue_id, r->sg, rc == STORE_E_FULL ? "disk full" : "store error",
                    (unsigned long long)f);
    }
    owed_row_free(r);
}

/* owed_note - shadow_on_owed's function */
static void owed_note(void *ctx, const struct shadow_owed_copy *c)
{
    struct shadow_owed *o = ctx;
    struct owed_row *r = shadow_oom(calloc(1, sizeof(*r)));

    r->o = o;
    snprintf(r->sg, sizeof(r->sg), "%s", c->sg);
    snprintf(r->queue_id, sizeof(r->queue_id), "%s", c->queue_id);
    r->msg = c->msg_id;
    r->seq = c->seq;
    r->env = shadow_oom(malloc(c->envlen ? c->envlen : 1));
    memcpy(r->env, c->env, c->envlen);
    r->envlen = c->envlen;
    store_call(o->st, owed_add_work, owed_add_reply, r, false);
}

/* ---- a round ---- */

static const char *const sql_orphans =
    "DELETE FROM shadow_owed WHERE NOT EXISTS (SELECT 1 FROM message m WHERE m.id = msg)";
static const char *const sql_round =
    "SELECT o.sg, o.msg, o.seq, o.queue_id, o.env, m.size FROM shadow_owed o"
    " JOIN message m ON m.id = o.msg ORDER BY o.msg LIMIT ?";
static const char *const sql_count = "SELECT count(*) FROM shadow_owed";
static const char *const sql_del = "DELETE FROM shadow_owed WHERE sg = ? AND msg = ? AND seq = ?";

static int owed_round_row(void *ctx, sqlite3_stmt *st)
{
    struct owed_round *rd = ctx;
    struct owed_row *r = shadow_oom(calloc(1, sizeof(*r)));
    int envlen = sqlite3_column_bytes(st, 4);

    r->o = rd->o;
    store_col_text(st, 0, r->sg, sizeof(r->sg));
    r->msg = (uint64_t)sqlite3_column_int64(st, 1);
    r->seq = (uint64_t)sqlite3_column_int64(st, 2);
    store_col_text(st, 3, r->queue_id, sizeof(r->queue_id));
    r->env = shadow_oom(malloc(envlen > 0 ? (size_t)envlen : 1));
    if (envlen > 0)
        memcpy(r->env, sqlite3_column_blob(st, 4), (size_t)envlen);
    r->envlen = (size_t)envlen;
    r->size = (uint64_t)sqlite3_column_int64(st, 5);
    rd->rows[rd->n++] = r;
    return rd->n < SHADOW_OWED_ROUND ? SQLITE_OK : SQLITE_DONE;
}

static int owed_round_work(struct store *s, void *arg)
{
    struct owed_round *rd = arg;
    int rc = store_do(s, sql_orphans, "");

    if (rc == SQLITE_OK)
        rc = store_each(s, store_bind(s, sql_round, "d", SHADOW_OWED_ROUND), owed_round_row, rd);
    if (rc == SQLITE_OK)
        rc = store_get_int(s, &rd->left, sql_count, "");
    return rc;
}

/* owed_round_end - the next round: sooner after one that stored copies
 * or sent none, later after one whose copies all failed */
static void owed_round_end(struct shadow_owed *o, bool sent)
{
    struct timeval tv;

    if (sent && o->stored == 0)
        o->every_ms = o->every_ms * 2 < SHADOW_OWED_MAX_MS ? o->every_ms * 2 : SHADOW_OWED_MAX_MS;
    else
        o->every_ms = SHADOW_OWED_EVERY_MS;
    if (o->stopping)
        return;
    tv.tv_sec = o->every_ms / 1000;
    tv.tv_usec = (o->every_ms % 1000) * 1000;
    event_add(o->tick, &tv);
}

/* owed_answered - one row of the round is done with */
static void owed_answered(struct shadow_owed *o)
{
    if (--o->pending == 0)
        owed_round_end(o, true);
}

static int owed_del_work(struct store *s, void *arg)
{
    struct owed_row *r = arg;

    return store_do(s, sql_del, "tuu", r->sg, r->msg, r->seq);
}

static void owed_del_reply(void *arg, enum store_rc rc)
{
    (void)rc; /* not removed: sent again later, the same Nats-Msg-Id */
    owed_row_free(arg);
}

/* owed_sent - the cluster answered a copy sent again */
static void owed_sent(void *ctx, bool stored, const char *why)
{
    struct owed_row *r = ctx;
    struct shadow_owed *o = r->o;

    (void)why;
    if (stored) {
        o->stored++;
        store_call(o->st, owed_del_work, owed_del_reply, r, false);
    } else
        owed_row_free(r);
    owed_answered(o);
}

/* owed_content - the content of a row's message, read back */
static void owed_content(void *ctx, struct evbuffer *content, enum store_rc rc)
{
    struct owed_row *r = ctx;
    struct shadow_owed *o = r->o;
    struct shadow_owed_copy c = {r->queue_id, r->sg, r->seq, r->msg, r->env, r->envlen};

    if (rc == STORE_OK && content && !o->stopping) {
        size_t len = evbuffer_get_length(content);
        const void *p = evbuffer_pullup(content, -1);
        if (shadow_keep_again(o->sh, &c, p ? p : "", len, owed_sent, r)) {
            evbuffer_free(content);
            return;
        }
    }
    if (content)
        evbuffer_free(content);
    owed_row_free(r);
    owed_answered(o);
}

static void owed_round_reply(void *arg, enum store_rc rc)
{
    struct owed_round *rd = arg;
    struct shadow_owed *o = rd->o;
    struct shadow_stats s;

    o->reading = false;
    shadow_note_owed(o->sh, rc == STORE_OK ? (uint64_t)rd->left : 0, rc == STORE_OK);
    shadow_get_stats(o->sh, &s);
    if (rc != STORE_OK || rd->n == 0 || o->stopping || !s.up) { /* counted only */
        for (size_t i = 0; i < rd->n; i++)
            owed_row_free(rd->rows[i]);
        free(rd);
        o->pending = 0;
        owed_round_end(o, false);
        return;
    }
    o->pending = (unsigned)rd->n;
    o->stored = 0;
    for (size_t i = 0; i < rd->n; i++)
        queue_content(o->q, rd->rows[i]->msg, rd->rows[i]->size, owed_content, rd->rows[i]);
    free(rd);
}

/* owed_tick_cb - time for a round (while the link is down it only counts) */
static void owed_tick_cb(evutil_socket_t fd, short what, void *arg)
{
    struct shadow_owed *o = arg;

    (void)fd;
    (void)what;
    if (o->stopping || o->reading || o->pending)
        return;
    struct owed_round *rd = shadow_oom(calloc(1, sizeof(*rd)));
    rd->o = o;
    o->reading = true;
    o->stored = 0;
    store_call(o->st, owed_round_work, owed_round_reply, rd, false);
}

struct shadow_owed *shadow_owed_new(struct event_base *base, struct store *st, struct queue *q,
                                    struct shadow *sh)
{
    struct shadow_owed *o = calloc(1, sizeof(*o));

    if (o == NULL)
        return NULL;
    o->st = st;
    o->q = q;
    o->sh = sh;
    o->every_ms = SHADOW_OWED_EVERY_MS;
    if ((o->tick = evtimer_new(base, owed_tick_cb, o)) == NULL) {
        free(o);
        return NULL;
    }
    event_add(o->tick, &(struct timeval){SHADOW_OWED_EVERY_MS / 1000, 0});
    shadow_on_owed(sh, owed_note, o);
    return o;
}

void shadow_owed_stop(struct shadow_owed *o)
{
    if (o == NULL)
        return;
    o->stopping = true;
    event_del(o->tick);
}

struct shadow_owed *shadow_owed_free(struct shadow_owed *o)
{
    if (o == NULL)
        return NULL;
    event_free(o->tick);
    free(o);
    return NULL;
}
