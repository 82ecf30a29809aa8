/*
 * conf_key.h - how conf.c describes a key: its section, type, place in
 * struct conf and bounds (private to relay/parse)
 *
 * The tables of every key are in conf_keys.c, the setters and formatters
 * of each type in conf_value.c, the parser that drives them in conf.c.
 */
#ifndef DD_CONF_KEY_H
#define DD_CONF_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define NO_OFF ((size_t)-1)
#define CONF_QUOTE 64                       /* octets of a bad value quoted in a message */
#define CONF_FMT_MAX (DD_PATHNAME_MAX + 64) /* a value as text */

enum conf_sec {
    SEC_NONE,
    SEC_HUB,
    SEC_SMTP,
    SEC_ADMIN,
    SEC_DELIVERY,
    SEC_DUMPSTER,
    SEC_DIRECTORY,
    SEC_SHADOW,
    SEC_SG,   /* [storage_group NAME], once per name */
    SEC_SKIP, /* after a bad section header: its keys are not checked */
};

/* "hub", "smtp", ...: by enum conf_sec (conf_keys.c) */
extern const char *const conf_sec_names[];

enum conf_type {
    CT_NUM,      /* unsigned or uint64_t (by size), digits only, min..max */
    CT_BOOL,     /* yes/no/true/false/on/off/1/0 */
    CT_NAME,     /* [A-Za-z0-9._-]{1,64} */
    CT_HOST,     /* a DNS name */
    CT_PATH,     /* a non-empty path */
    CT_HASH,     /* "" or 64 lowercase hex digits */
    CT_LISTEN,   /* comma list of IPv4:PORT / [IPv6]:PORT, min..max items */
    CT_RESOLVER, /* "system" or IP:PORT */
    CT_DEST,     /* a destination, min..max addresses; text in off2 */
    CT_PROBE,    /* "doveadm:http://IP:PORT"; the address in off2 */
    CT_ENUM,     /* one of names[], stored as its index (unsigned) */
    CT_OPTPATH,  /* "" or a path */
    CT_OPTHOST,  /* "" or a DNS name */
    CT_TEXT,     /* printable text, "" allowed (an OpenSSL cipher list) */
    CT_NETS,     /* comma list of IP[/PREFIX], 0..max items; the count in off2 */
    CT_URLS,     /* "" or a comma list of nats://HOST:PORT, tls://HOST:PORT; count in off2 */
};

/*
 * One key. off: the value; off2: the count (CT_LISTEN, CT_NETS), the text (CT_DEST)
 * or the "has" flag of a storage group override (other types); size: the
 * buffer or integer size; def: the default as it would be written in the
 * file; names: the values of a CT_ENUM.
 */
struct conf_key {
    enum conf_sec sec;
    const char *name;
    enum conf_type type;
    size_t off;
    size_t off2;
    size_t size;
    uint64_t min;
    uint64_t max;
    const char *def;
    const char *const *names;
};

/* The tables (conf_keys.c): the global keys, then those of a
 * [storage_group NAME] section. */
extern const struct conf_key conf_keys[];
extern const size_t conf_nkeys; /* at most CONF_KEYS_MAX */
extern const struct conf_key conf_sg_keys[];
extern const size_t conf_sg_nkeys; /* at most CONF_SG_KEYS_MAX */
#define CONF_SG_DEST 0             /* index of destination in conf_sg_keys[] */
#define CONF_SG_PROBE 3            /* of probe */
#define CONF_SG_PROBE_KEY 4        /* of probe_key_file */

/* A type's setter (v into base per k; 0, or -1 with a message in err) and
 * formatter (the value as the file would hold it), conf_value.c. */
typedef int conf_set_fn(char *base, const struct conf_key *k, const char *v, char *err,
                        size_t errlen);
typedef void conf_fmt_fn(const char *base, const struct conf_key *k, char *buf, size_t cap);
struct conf_type_ops {
    conf_set_fn *set;
    conf_fmt_fn *fmt;
};
extern const struct conf_type_ops conf_ops[]; /* by enum conf_type */
extern const char *const conf_type_names[];   /* by enum conf_type, for the key lists */

/* conf_key_has_flag - off2 is the "set in this section" flag of an override */
bool conf_key_has_flag(const struct conf_key *k);

/* conf_name_ok - [A-Za-z0-9._-]{1,64}: hub and storage group names */
int conf_name_ok(const char *s);

/* conf_fail - a setter's message into err; returns -1 */
int __attribute__((format(printf, 3, 4))) conf_fail(char *err, size_t errlen, const char *fmt, ...);

#endif
