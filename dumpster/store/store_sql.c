/*
 * store_sql.c - statement helpers of the work functions (store_int.h):
 * prepare and bind by a format, run, read the first value, walk the rows
 *
 * Stepping goes through the fault hook; prepared statements are cached by
 * the address of their SQL text. Format letters, one per parameter in order: i int64_t, u uint64_t,
 * d int, t text (const char *, kept by the caller until the statement is
 * reset), o optional text (NULL binds NULL), b blob (const void *, size_t).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "store_int.h"
#include "store_priv.h"

/* store_step - one step, unless the fault hook says otherwise */
int store_step(struct store *s, sqlite3_stmt *st)
{
    int rc = store_fault_check(s, sqlite3_sql(st));

    return rc == SQLITE_OK ? sqlite3_step(st) : rc;
}

/* store_run - a statement whose rows do not matter, then reset */
int store_run(struct store *s, sqlite3_stmt *st)
{
    int rc = store_step(s, st);

    sqlite3_reset(st);
    return store_ok(rc) ? SQLITE_OK : rc;
}

/* store_changes - rows changed by the last statement */
int64_t store_changes(struct store *s)
{
    return sqlite3_changes64(s->db);
}

/* store_last_id - rowid of the last insert */
int64_t store_last_id(struct store *s)
{
    return sqlite3_last_insert_rowid(s->db);
}

/* store_col_text - bounded copy of a text column */
bool store_col_text(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);

    snprintf(dst, cap, "%s", t ? (const char *)t : "");
    return t != NULL;
}

/* store_prep - a cached prepared statement keyed by the address of sql */
sqlite3_stmt *store_prep(struct store *s, const char *sql)
{
    struct store_stmt_cache *c = &s->cache;

    for (size_t i = 0; i < c->n; i++)
        if (c->sql[i] == sql) {
            sqlite3_reset(c->st[i]);
            sqlite3_clear_bindings(c->st[i]);
            return c->st[i];
        }
    if (c->n == STORE_STMT_CACHE_MAX) {
        log_err("store", "statement cache full");
        abort();
    }
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->st[c->n], NULL) !=
        SQLITE_OK) {
        log_err("store", "prepare %s: %s", sql, sqlite3_errmsg(s->db));
        return NULL;
    }
    c->sql[c->n] = sql;
    return c->st[c->n++];
}

/* store_bindv - bind the parameters of st by fmt */
static void store_bindv(sqlite3_stmt *st, const char *fmt, va_list ap)
{
    for (int i = 1; fmt && *fmt; fmt++, i++) {
        switch (*fmt) {
        case 'i':
            sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
            break;
        case 'u':
            sqlite3_bind_int64(st, i, (sqlite3_int64)va_arg(ap, uint64_t));
            break;
        case 'd':
            sqlite3_bind_int(st, i, va_arg(ap, int));
            break;
        case 't':
        case 'o': {
            const char *t = va_arg(ap, const char *);
            if (t)
                sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'b': {
            const void *p = va_arg(ap, const void *);
            size_t len = va_arg(ap, size_t);
            sqlite3_bind_blob(st, i, p, (int)len, SQLITE_STATIC);
            break;
        }
        default:
            log_err("store", "bad bind format %c", *fmt);
            abort();
        }
    }
}

/* store_prep_bind - the cached statement of sql with ap bound; NULL on error */
static sqlite3_stmt *store_prep_bind(struct store *s, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st = store_prep(s, sql);

    if (st != NULL)
        store_bindv(st, fmt, ap);
    return st;
}

/* store_bind - the cached statement of sql with its parameters bound */
sqlite3_stmt *store_bind(struct store *s, const char *sql, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sqlite3_stmt *st = store_prep_bind(s, sql, fmt, ap);
    va_end(ap);
    return st;
}

/* store_do - bind and run a statement whose rows do not matter */
int store_do(struct store *s, const char *sql, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    sqlite3_stmt *st = store_prep_bind(s, sql, fmt, ap);
    va_end(ap);
    return st ? store_run(s, st) : SQLITE_ERROR;
}

/* store_get_int - the first column of the first row (0 when there is none) */
int store_get_int(struct store *s, int64_t *out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    sqlite3_stmt *st = store_prep_bind(s, sql, fmt, ap);
    va_end(ap);
    *out = 0;
    if (st == NULL)
        return SQLITE_ERROR;
    if ((rc = store_step(s, st)) == SQLITE_ROW)
        *out = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* store_each - fn for every row of st (NULL: a failed prepare), then reset */
int store_each(struct store *s, sqlite3_stmt *st, store_row_fn fn, void *ctx)
{
    int rc, go = SQLITE_OK;

    if (st == NULL)
        return SQLITE_ERROR;
    while (go == SQLITE_OK && (rc = store_step(s, st)) == SQLITE_ROW)
        go = fn(ctx, st);
    sqlite3_reset(st);
    if (go != SQLITE_OK && go != SQLITE_DONE)
        return go;
    return go == SQLITE_DONE || rc == SQLITE_DONE ? SQLITE_OK : rc;
}

struct store_ids_ctx {
    uint64_t *ids;
    size_t max, *n;
};

/* store_ids_fn - one id, until max */
static int store_ids_fn(void *ctx, sqlite3_stmt *st)
{
    struct store_ids_ctx *c = ctx;

    if (*c->n >= c->max)
        return SQLITE_DONE;
    c->ids[(*c->n)++] = (uint64_t)sqlite3_column_int64(st, 0);
    return SQLITE_OK;
}

/* store_ids - the first column of every row, at most max */
int store_ids(struct store *s, sqlite3_stmt *st, uint64_t *ids, size_t max, size_t *n)
{
    struct store_ids_ctx c = {ids, max, n};

    *n = 0;
    return store_each(s, st, store_ids_fn, &c);
}

struct store_first_ctx {
    store_row_fn read;
    void *out;
    bool *found;
};

/* store_first_fn - the first row only */
static int store_first_fn(void *ctx, sqlite3_stmt *st)
{
    struct store_first_ctx *a = ctx;

    *a->found = true;
    a->read(a->out, st);
    return SQLITE_DONE;
}

/* store_first - read(out, st) for the first row of st, if any; *found */
int store_first(struct store *s, sqlite3_stmt *st, store_row_fn read, void *out, bool *found)
{
    struct store_first_ctx a = {read, out, found};

    *found = false;
    return store_each(s, st, store_first_fn, &a);
}
