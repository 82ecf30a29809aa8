/*
 * smtp_addr.h - RFC 5321 paths and mailboxes, parsed from bytes (pure)
 *
 * Accepts <local@domain>, <> (where allowed) and source routes
 * (<@a,@b:local@domain>: the route is dropped, RFC 5321 C). The local part
 * may be a dot-string or a quoted string; the domain a name or an address
 * literal ([1.2.3.4], [IPv6:...]). `%` and `!` are plain characters of the
 * local part: they never make us route anywhere (the directory decides).
 * An unquoted '@' in the local part (u@x@ours) is a syntax error.
 */
#ifndef DD_SMTP_ADDR_H
#define DD_SMTP_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "bounds.h"

enum smtp_addr_err {
    SMTP_ADDR_OK = 0,
    SMTP_ADDR_SYNTAX,           /* not a path at all */
    SMTP_ADDR_LOCAL_TOO_LONG,   /* local part > DD_LOCAL_PART_MAX */
    SMTP_ADDR_DOMAIN_TOO_LONG,  /* domain > DD_DOMAIN_MAX */
    SMTP_ADDR_PATH_TOO_LONG,    /* path > DD_PATH_MAX */
    SMTP_ADDR_NO_DOMAIN,        /* <local> without @domain */
    SMTP_ADDR_NULL_NOT_ALLOWED, /* <> where a mailbox is required */
};

struct smtp_addr {
    bool null;                             /* the null path <> */
    bool utf8;                             /* some octet >= 0x80 (needs SMTPUTF8) */
    char local[DD_LOCAL_PART_MAX + 1 + 2]; /* as sent, quotes kept; case kept */
    char domain[DD_DOMAIN_MAX + 1];        /* lower-cased (not literals' tags) */
    char addr[DD_ADDR_MAX + 2];            /* "local@domain", or "" for <> */
};

/*
 * smtp_path_parse - parse a path at s[0..len) (it must start with '<').
 * *consumed is set to the octets used (through the '>'), so parameters can
 * follow. allow_null: <> is accepted (MAIL FROM). Returns SMTP_ADDR_OK or an
 * error.
 */
enum smtp_addr_err smtp_path_parse(const char *s, size_t len, bool allow_null,
                                   struct smtp_addr *out, size_t *consumed);

#endif
