/*
 * directory.c - which storage group serves an address
 *
 * The directory file holds "address<TAB>SG" and "@domain<TAB>SG" lines, a
 * million of them or more. It is parsed once (at start and on SIGHUP) into
 * two open-addressing hash tables over one arena of lower-cased keys: the
 * entries, and the set of our domains (every domain named by an entry). A
 * lookup is a few probes, so the cost of RCPT does not grow with the file.
 *
 * The storage group is the last field of a line, so a quoted local part may
 * hold blanks ("john doe"@example.test). The domain of an address is the
 * text after its last '@', as SMTP routes it: "u@ext"@ours is ours.
 * Case is folded for ASCII only; other octets must match exactly.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf_int.h"
#include "directory.h"

#define DIR_QUOTE 64       /* octets of a bad key quoted in a message */
#define DIR_SLOTS_MIN 1024 /* first size of a hash table */

/* A key in the arena: an entry (address or @domain) or one of our domains. */
struct dir_key {
    uint32_t off;  /* in d->arena */
    uint32_t len;  /* without the NUL */
    uint32_t hash; /* dir_hash() of the key */
    uint32_t sg;   /* entries: index in d->sgname */
    uint32_t line; /* entries: where the file defines it */
};

/* Keys in insertion order, found by open addressing with linear probing. */
struct dir_table {
    struct dir_key *k;
    size_t n;
    size_t cap;
    uint32_t *slot; /* index in k[] + 1; 0 is empty */
    size_t nslot;   /* a power of two, at least twice n */
};

struct directory {
    char *arena; /* lower-cased keys, each NUL-terminated */
    size_t arena_len;
    size_t arena_cap;
    struct dir_table ent;               /* "local@domain" and "@domain" */
    struct dir_table dom;               /* "domain": every domain an entry names */
    char (*sgname)[DD_SG_NAME_MAX + 1]; /* the storage groups of the conf */
    size_t nsg;
};

/* Parse state: the file, and the storage groups of the conf by name. */
struct dir_parse {
    struct directory *d;
    const struct conf *c;
    const char *file;
    struct conf_errors *errs;
    unsigned lineno;
    uint32_t *sgslot; /* index in c->sg + 1; 0 is empty */
    size_t nsgslot;   /* a power of two */
};

/* dir_is_ws - the blanks that separate fields */
static int dir_is_ws(int ch)
{
    return ch == ' ' || ch == '\t';
}

/* dir_lower - ASCII case folding, whatever the locale */
static char dir_lower(char ch)
{
    return ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
}

/* dir_qlen - how much of a bad key to quote in a message */
static int dir_qlen(size_t len)
{
    return len > DIR_QUOTE ? DIR_QUOTE : (int)len;
}

/* dir_hash - FNV-1a with a final mix, so the low bits index well */
static uint32_t dir_hash(const char *s, size_t len)
{
    uint32_t h = 2166136261u;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

/* dir_err - an error at the current line */
static void __attribute__((format(printf, 2, 3)))
dir_err(struct dir_parse *st, const char *fmt, ...)
{
    char msg[sizeof(st->errs->e[0].msg)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    conf_error_add(st->errs, st->file, st->lineno, "%s", msg);
}

/* dir_table_find - the index of key s[0..len) in t, or SIZE_MAX */
static size_t dir_table_find(const struct dir_table *t, const char *arena, const char *s,
                             size_t len, uint32_t h)
{
    if (t->nslot == 0)
        return SIZE_MAX;
    for (size_t i = h & (t->nslot - 1);; i = (i + 1) & (t->nslot - 1)) {
        uint32_t v = t->slot[i];
        if (v == 0)
            return SIZE_MAX;
        const struct dir_key *k = &t->k[v - 1];
        if (k->hash == h && k->len == len && memcmp(arena + k->off, s, len) == 0)
            return v - 1;
    }
}

/* dir_table_place - put k[i] in its slot (the table has room) */
static void dir_table_place(struct dir_table *t, size_t i)
{
    size_t mask = t->nslot - 1;
    size_t j = t->k[i].hash & mask;

    while (t->slot[j] != 0)
        j = (j + 1) & mask;
    t->slot[j] = (uint32_t)(i + 1);
}

/* dir_table_add - append a key, growing so the load stays at most 1/2 */
static int dir_table_add(struct dir_table *t, const struct dir_key *key)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : DIR_SLOTS_MIN / 2;
        struct dir_key *k = realloc(t->k, cap * sizeof(*k));
        if (k == NULL)
            return -1;
        t->k = k;
        t->cap = cap;
    }
    if (2 * (t->n + 1) > t->nslot) {
        size_t nslot = t->nslot ? 2 * t->nslot : DIR_SLOTS_MIN;
        uint32_t *slot = calloc(nslot, sizeof(*slot));
        if (slot == NULL)
            return -1;
        free(t->slot);
        t->slot = slot;
        t->nslot = nslot;
        for (size_t i = 0; i < t->n; i++)
            dir_table_place(t, i);
    }
    t->k[t->n] = *key;
    dir_table_place(t, t->n++);
    return 0;
}

/* dir_arena_add - a lower-cased, NUL-terminated copy of s; its offset or -1 */
static long dir_arena_add(struct directory *d, const char *s, size_t len)
{
    if (d->arena_len + len + 1 > d->arena_cap) {
        size_t cap = d->arena_cap ? 2 * d->arena_cap : 64 * 1024;
        while (cap < d->arena_len + len + 1)
            cap *= 2;
        char *a = realloc(d->arena, cap);
        if (a == NULL)
            return -1;
        d->arena = a;
        d->arena_cap = cap;
    }
    long off = (long)d->arena_len;
    for (size_t i = 0; i < len; i++)
        d->arena[d->arena_len++] = dir_lower(s[i]);
    d->arena[d->arena_len++] = 0;
    return off;
}

/* dir_local_check - no blank outside a quoted string, quotes balanced */
static const char *dir_local_check(const char *s, size_t len)
{
    int inq = 0;

    if (len == 0)
        return "empty local part";
    if (len > DD_LOCAL_PART_MAX)
        return "local part longer than 64 octets";
    for (size_t i = 0; i < len; i++) {
        if (inq && s[i] == '\\' && i + 1 < len)
            i++;
        else if (s[i] == '"')
            inq = !inq;
        else if (!inq && dir_is_ws((unsigned char)s[i]))
            return "blank outside quotes";
    }
    return inq ? "unbalanced quote" : NULL;
}

/* dir_key_check - "local@domain" or "@domain" (length checked); *dom: where
 * the domain starts. Returns NULL or what is wrong. */
static const char *dir_key_check(const char *s, size_t len, size_t *dom)
{
    const char *msg;

    if (s[0] == '@') {
        *dom = 1;
    } else {
        const char *at = memrchr(s, '@', len);
        if (at == NULL)
            return "expected local@domain or @domain";
        if ((msg = dir_local_check(s, (size_t)(at - s))) != NULL)
            return msg;
        *dom = (size_t)(at + 1 - s);
    }
    if (*dom == len)
        return "empty domain";
    if (len - *dom > DD_DOMAIN_MAX)
        return "domain longer than 255 octets";
    for (size_t i = *dom; i < len; i++)
        if (dir_is_ws((unsigned char)s[i]) || strchr("@\"<>,\\", s[i]) != NULL)
            return "bad character in domain";
    return NULL;
}

/* dir_sg_index - build the name -> index table of the conf's storage groups */
static int dir_sg_index(struct dir_parse *st)
{
    size_t nsg = st->c ? st->c->nsg : 0;

    st->nsgslot = 16;
    while (st->nsgslot < 2 * nsg)
        st->nsgslot *= 2;
    st->sgslot = calloc(st->nsgslot, sizeof(*st->sgslot));
    st->d->sgname = calloc(nsg ? nsg : 1, sizeof(*st->d->sgname));
    if (st->sgslot == NULL || st->d->sgname == NULL)
        return -1;
    st->d->nsg = nsg;
    for (size_t i = 0; i < nsg; i++) {
        const char *name = st->c->sg[i].name;
        size_t j = dir_hash(name, strlen(name)) & (st->nsgslot - 1);
        while (st->sgslot[j] != 0)
            j = (j + 1) & (st->nsgslot - 1);
        st->sgslot[j] = (uint32_t)(i + 1);
        memcpy(st->d->sgname[i], name, sizeof(st->d->sgname[i]));
    }
    return 0;
}

/* dir_sg_find - the index of storage group s[0..len), or SIZE_MAX */
static size_t dir_sg_find(const struct dir_parse *st, const char *s, size_t len)
{
    size_t mask = st->nsgslot - 1;

    for (size_t j = dir_hash(s, len) & mask; st->sgslot[j] != 0; j = (j + 1) & mask) {
        const char *name = st->d->sgname[st->sgslot[j] - 1];
        if (strncmp(name, s, len) == 0 && name[len] == 0)
            return st->sgslot[j] - 1;
    }
    return SIZE_MAX;
}

/* dir_add - one entry, and its domain; 0, or -1 when out of memory */
static int dir_add(struct dir_parse *st, const char *key, size_t len, size_t dom, size_t sg)
{
    struct directory *d = st->d;
    long off = dir_arena_add(d, key, len);

    if (off < 0)
        return -1;
    struct dir_key k = {(uint32_t)off, (uint32_t)len, 0, (uint32_t)sg, st->lineno};
    k.hash = dir_hash(d->arena + off, len);
    size_t old = dir_table_find(&d->ent, d->arena, d->arena + off, len, k.hash);
    if (old != SIZE_MAX) {
        d->arena_len = (size_t)off; /* forget the copy */
        dir_err(st, "duplicate entry \"%.*s\" (first at line %u)", dir_qlen(len), key,
                d->ent.k[old].line);
        return 0;
    }
    if (dir_table_add(&d->ent, &k) < 0)
        return -1;
    struct dir_key dk = {(uint32_t)(off + (long)dom), (uint32_t)(len - dom), 0, 0, 0};
    dk.hash = dir_hash(d->arena + dk.off, dk.len);
    if (dir_table_find(&d->dom, d->arena, d->arena + dk.off, dk.len, dk.hash) == SIZE_MAX &&
        dir_table_add(&d->dom, &dk) < 0)
        return -1;
    return 0;
}

/* dir_line - "key<blanks>SG" of at most DD_DIRECTORY_LINE_MAX octets */
static int dir_line(struct dir_parse *st, const char *s, size_t n)
{
    const char *e = s + n, *msg;
    size_t dom, sg;

    while (s < e && dir_is_ws((unsigned char)*s))
        s++;
    while (e > s && dir_is_ws((unsigned char)e[-1]))
        e--;
    if (s == e || *s == '#')
        return 0;
    for (const char *p = s; p < e; p++) {
        if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f) {
            dir_err(st, "control character 0x%02x in line", (unsigned char)*p);
            return 0;
        }
    }
    const char *name = e;
    while (name > s && !dir_is_ws((unsigned char)name[-1]))
        name--;
    const char *ke = name;
    while (ke > s && dir_is_ws((unsigned char)ke[-1]))
        ke--;
    if (ke == s) {
        dir_err(st, "expected \"address<TAB>storage group\" or \"@domain<TAB>storage group\"");
        return 0;
    }
    size_t klen = (size_t)(ke - s);
    if ((sg = dir_sg_find(st, name, (size_t)(e - name))) == SIZE_MAX)
        dir_err(st, "unknown storage group \"%.*s\"", dir_qlen((size_t)(e - name)), name);
    else if (klen > DD_ADDR_MAX - 1)
        dir_err(st, "address longer than %d octets", DD_ADDR_MAX - 1);
    else if ((msg = dir_key_check(s, klen, &dom)) != NULL)
        dir_err(st, "%s: \"%.*s\"", msg, dir_qlen(klen), s);
    else
        return dir_add(st, s, klen, dom, sg);
    return 0;
}

/* directory_parse - every line, then the directory or NULL */
struct directory *directory_parse(const char *file, const char *buf, size_t len,
                                  const struct conf *c, struct conf_errors *errs)
{
    struct dir_parse st = {.c = c, .file = file ? file : "-", .errs = errs};
    size_t nerr = errs->n + errs->dropped, pos = 0, n, adv;

    if ((st.d = calloc(1, sizeof(*st.d))) == NULL || dir_sg_index(&st) < 0) {
        conf_error_add(errs, st.file, 0, "out of memory");
        free(st.sgslot);
        return directory_free(st.d);
    }
    if (len > DD_DIRECTORY_FILE_MAX) {
        conf_error_add(errs, st.file, 0, "larger than %d octets", DD_DIRECTORY_FILE_MAX);
        pos = len;
    }
    while (pos < len) {
        st.lineno++;
        if (conf_line_span(buf + pos, len - pos, DD_DIRECTORY_LINE_MAX, &n, &adv) < 0) {
            dir_err(&st, "line longer than %d octets", DD_DIRECTORY_LINE_MAX);
        } else if (dir_line(&st, buf + pos, n) < 0) {
            dir_err(&st, "out of memory");
            break;
        }
        pos += adv;
    }
    free(st.sgslot);
    if (errs->n + errs->dropped > nerr)
        return directory_free(st.d);
    return st.d;
}

/* directory_load - the file, bounded by DD_DIRECTORY_FILE_MAX */
struct directory *directory_load(const char *path, const struct conf *c, struct conf_errors *errs)
{
    char *buf;
    size_t len;

    if (conf_file_read(path, DD_DIRECTORY_FILE_MAX, &buf, &len, errs) < 0)
        return NULL;
    struct directory *d = directory_parse(path, buf, len, c, errs);
    free(buf);
    return d;
}

/* directory_lookup - the exact address, then @domain, then: is the domain ours? */
const char *directory_lookup(const struct directory *d, const char *addr,
                             enum directory_result *res)
{
    char key[DD_ADDR_MAX + 1];
    enum directory_result dummy;
    size_t i;

    if (res == NULL)
        res = &dummy;
    *res = DIRECTORY_NOT_LOCAL;
    if (d == NULL || addr == NULL)
        return NULL;
    size_t len = strlen(addr);
    if (len < DD_ADDR_MAX) {
        for (i = 0; i < len; i++)
            key[i] = dir_lower(addr[i]);
        i = dir_table_find(&d->ent, d->arena, key, len, dir_hash(key, len));
        if (i != SIZE_MAX) {
            *res = DIRECTORY_FOUND;
            return d->sgname[d->ent.k[i].sg];
        }
    }
    const char *at = strrchr(addr, '@');
    size_t dlen = at ? len - (size_t)(at + 1 - addr) : 0;
    if (dlen == 0 || dlen > DD_DOMAIN_MAX)
        return NULL;
    key[0] = '@';
    for (i = 0; i < dlen; i++)
        key[i + 1] = dir_lower(at[i + 1]);
    i = dir_table_find(&d->ent, d->arena, key, dlen + 1, dir_hash(key, dlen + 1));
    if (i != SIZE_MAX) {
        *res = DIRECTORY_FOUND;
        return d->sgname[d->ent.k[i].sg];
    }
    if (dir_table_find(&d->dom, d->arena, key + 1, dlen, dir_hash(key + 1, dlen)) != SIZE_MAX)
        *res = DIRECTORY_UNKNOWN_USER;
    return NULL;
}

/* directory_count - entries, not domains */
size_t directory_count(const struct directory *d)
{
    return d ? d->ent.n : 0;
}

/* directory_free - everything d owns */
struct directory *directory_free(struct directory *d)
{
    if (d == NULL)
        return NULL;
    free(d->ent.k);
    free(d->ent.slot);
    free(d->dom.k);
    free(d->dom.slot);
    free(d->arena);
    free(d->sgname);
    free(d);
    return NULL;
}
