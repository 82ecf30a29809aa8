/*
 * conf.h - the strict INI configuration of dumpsterd (SPEC section 3)
 *
 * Parsing is pure: conf_parse() takes bytes and fills a struct conf or a
 * list of errors, one per bad line, each with file:line. Unknown keys,
 * duplicate keys, lines over DD_CONF_LINE_MAX octets, bad numbers and values
 * out of range are errors, never ignored.
 */
#ifndef DD_CONF_H
#define DD_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "bounds.h"

/* One error line: "file:line: message". line is 0 for whole-file errors. */
struct conf_error {
    char file[DD_PATHNAME_MAX];
    unsigned line;
    char msg[256];
};

struct conf_errors {
    struct conf_error e[DD_CONF_ERRORS_MAX];
    size_t n;       /* kept in e[] */
    size_t dropped; /* more errors than DD_CONF_ERRORS_MAX */
};

/* Add an error (printf-style message); drops past DD_CONF_ERRORS_MAX. */
void conf_error_add(struct conf_errors *errs, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Print every error as "file:line: msg" (or "file: msg" for line 0). */
void conf_errors_print(const struct conf_errors *errs, FILE *out);

/* A listen address: host is an IPv4 or IPv6 literal without brackets. */
struct conf_listen {
    char host[64];
    uint16_t port;
};

/* A network of a list such as [smtp] bare_newline_exclusions. */
struct conf_net {
    unsigned char addr[16]; /* network order; IPv4 in the first 4 octets */
    bool v6;
    unsigned prefix; /* 0..32 or 0..128; no bit of addr is set past it */
};

/* conf_net_match - whether the client IP (text, as the hub logs it) is in
 * one of l[0..n); an IPv4-mapped IPv6 address matches as IPv4. Pure. */
bool conf_net_match(const struct conf_net *l, size_t n, const char *ip);

/* [shadow] shadow_failure: with the cluster unreachable, 250 after the
 * local commit (accept) or 451 4.4.0 (defer) */
enum conf_shadow_failure { CONF_SHADOW_ACCEPT = 0, CONF_SHADOW_DEFER = 1 };

/* [smtp] bare_newline (enum names in conf.c) */
enum conf_bare_newline {
    CONF_BARE_NEWLINE_REJECT,    /* a bare LF in content: 550 5.6.0 */
    CONF_BARE_NEWLINE_NORMALIZE, /* a bare LF in content ends a line */
};

enum dest_proto { DEST_LMTP, DEST_SMTP };
enum dest_kind { DEST_IP, DEST_HOST, DEST_UNIX };

/* One address of a destination: lmtp:[IP]:PORT, smtp:HOST:PORT, lmtp:unix:/p */
struct dest_addr {
    enum dest_proto proto;
    enum dest_kind kind;
    char host[DD_HOSTNAME_MAX + 1]; /* IP literal (no brackets) or host name */
    uint16_t port;
    char path[108]; /* DEST_UNIX: socket path */
};

/* A destination: the comma list of fallback addresses, tried in order. */
struct dest {
    struct dest_addr addr[DD_DEST_ADDRS_MAX];
    size_t n;
};

/*
 * conf_dest_parse - parse a destination string ("lmtp:[127.0.0.1]:2424,
 * smtp:mx.example:25"). Pure. Returns 0, or -1 with a message in err.
 */
int conf_dest_parse(const char *s, struct dest *out, char *err, size_t errlen);
/* conf_dest_format - the canonical text of a destination, as parsed. */
void conf_dest_format(const struct dest *d, char *buf, size_t cap);

/* Keys of one section whose line conf_key_line() can tell. */
#define CONF_KEYS_MAX 80
#define CONF_SG_KEYS_MAX 16

/* Outbound TLS of a storage group, or the [delivery] default of them all
 * (and of the smarthost). level: enum tls_out_level (tls_policy.h). */
struct conf_tls_out {
    unsigned tls;
    char tls_ca_file[DD_TLS_PATH_MAX + 1];          /* "": the system's CAs */
    char tls_verify_name[DD_HOSTNAME_MAX + 1];      /* "": the destination's host */
    char tls_client_cert_file[DD_TLS_PATH_MAX + 1]; /* "": no client certificate */
    char tls_client_key_file[DD_TLS_PATH_MAX + 1];  /* "": in tls_client_cert_file */
};

struct conf_sg {
    char name[DD_SG_NAME_MAX + 1];
    struct dest dest;
    char dest_text[DD_CONF_LINE_MAX + 1];
    bool has_max_size;
    uint64_t max_size; /* bytes; the [dumpster] max_size when !has_max_size */
    bool has_max_age;
    uint64_t max_age; /* seconds; the [dumpster] max_age when !has_max_age */
    /* The mailbox probe: "doveadm:http://IP:PORT" (canonical) or "" */
    char probe[DD_CONF_LINE_MAX + 1];
    struct conf_listen probe_addr;
    char probe_key_file[DD_PATHNAME_MAX]; /* "" when not set */
    unsigned line;                        /* where the section starts */
    /* TLS: each key not set is the [delivery] one */
    struct conf_tls_out tls;
    bool has_tls, has_tls_ca_file, has_tls_verify_name, has_tls_client_cert_file,
        has_tls_client_key_file;
    unsigned key_line[CONF_SG_KEYS_MAX]; /* not parsed: where each key was set */
};

struct conf {
    char file[DD_PATHNAME_MAX];
    struct {
        char name[65];
        char data_dir[DD_PATHNAME_MAX];
        char user[65];     /* started as root: run as this user (root: stay root) */
        uint64_t min_free; /* below it on data_dir's file system: MAIL gets 452 4.3.1 */
    } hub;
    struct {
        struct conf_listen listen[DD_LISTEN_MAX];
        size_t nlisten;
        char hostname[DD_HOSTNAME_MAX + 1];
        bool banner_version; /* the version in the Received: comment */
        uint64_t max_message_size;
        unsigned max_recipients;
        unsigned max_connections;
        unsigned max_connections_per_ip;
        unsigned command_timeout; /* seconds: idle, and a whole command line */
        unsigned data_timeout;    /* seconds: DATA or BDAT content, start to end */
        unsigned max_errors;
        unsigned greet_pause_ms;
        unsigned max_received_headers;
        unsigned bare_newline;                                     /* enum conf_bare_newline */
        struct conf_net bare_newline_exclusions[DD_CONF_NETS_MAX]; /* they get normalize */
        size_t nbare_newline_exclusions;
        unsigned tls;                             /* enum tls_in_level */
        char tls_cert_file[DD_TLS_PATH_MAX + 1];  /* PEM, the chain after the certificate */
        char tls_key_file[DD_TLS_PATH_MAX + 1];   /* "": the key is in tls_cert_file */
        unsigned tls_min_protocol;                /* enum tls_version */
        char tls_ciphers[DD_TLS_CIPHERS_MAX + 1]; /* "": OpenSSL's defaults */
        unsigned tls_handshake_timeout;           /* seconds */
    } smtp;
    struct {
        struct conf_listen listen[DD_LISTEN_MAX];
        size_t nlisten;
        char token_hash[65]; /* lowercase hex BLAKE2b-256, or "" */
        bool public_reads;
        unsigned max_connections;                /* at once; more wait in the listen backlog */
        unsigned request_timeout;                /* seconds: a request, first octet to last */
        char tls_cert_file[DD_TLS_PATH_MAX + 1]; /* "": plain HTTP */
        char tls_key_file[DD_TLS_PATH_MAX + 1];
    } admin;
    struct {
        unsigned concurrency_per_destination;
        unsigned retry_initial;               /* seconds */
        unsigned retry_max;                   /* seconds */
        unsigned max_queue_lifetime;          /* seconds */
        unsigned connect_timeout;             /* seconds */
        char smarthost[DD_CONF_LINE_MAX + 1]; /* destination text or "" */
        char resolver[64];                    /* "system" or IP:PORT */
        struct conf_tls_out tls;              /* default of every storage group */
    } delivery;
    struct {
        uint64_t max_age;       /* seconds */
        uint64_t max_size;      /* bytes per storage group */
        unsigned resubmit_rate; /* messages/s, 0 = no limit */
    } dumpster;
    struct {
        char file[DD_PATHNAME_MAX];
    } directory;
    struct {
        char servers[DD_CONF_LINE_MAX + 1]; /* "": no shadow copies; canonical list */
        size_t nservers;
        char user[65];                       /* "": no user/password */
        char password_file[DD_PATHNAME_MAX]; /* the password on its first line */
        char token_file[DD_PATHNAME_MAX];    /* "": no token */
        char ca_file[DD_PATHNAME_MAX];       /* "": the system's trust store for tls:// */
        unsigned replicas;                   /* of every stream */
        unsigned failure;                    /* enum conf_shadow_failure */
        unsigned takeover_after;             /* seconds */
        unsigned publish_timeout;            /* seconds: a publish not acked by then failed */
    } shadow;
    struct conf_sg *sg; /* owned; conf_free() releases */
    size_t nsg;
    unsigned refs;                    /* not parsed: sessions holding this conf after a reload */
    unsigned key_line[CONF_KEYS_MAX]; /* not parsed: where each global key was set */
};

/* conf_init - fill c with every default (SPEC section 3); no storage groups. */
void conf_init(struct conf *c);

/*
 * conf_parse - parse the INI text buf[0..len) of file `file` into c, which
 * conf_init() prepared. Pure. Returns 0, or -1 when errs->n > 0. On error c
 * may be partly filled; conf_free() it all the same.
 */
int conf_parse(struct conf *c, const char *file, const char *buf, size_t len,
               struct conf_errors *errs);

/* conf_load - conf_init + read the file + conf_parse. */
int conf_load(struct conf *c, const char *path, struct conf_errors *errs);

/* conf_free - release what c owns (the storage group array). */
void conf_free(struct conf *c);

/* conf_sg_find - the storage group named `name` (exact, case-sensitive). */
const struct conf_sg *conf_sg_find(const struct conf *c, const char *name);

/* conf_key_line - the line of file that set section.key, 0 when the key
 * kept its default (or is unknown). */
unsigned conf_key_line(const struct conf *c, const char *section, const char *key);

/* conf_sg_key_line - the line that set key in sg's section, else the line
 * of the [delivery] key it inherits (TLS keys), else 0. */
unsigned conf_sg_key_line(const struct conf *c, const struct conf_sg *sg, const char *key);

/* conf_print_nondefault - "section.key = value" lines that differ from the
 * defaults, and every storage group, like postconf -n. */
void conf_print_nondefault(const struct conf *c, FILE *out);

/*
 * One key of the table the parser uses, as conf_key_info() describes it for
 * the generated key lists (dumpsterd.conf(5), README): what it is, its hard
 * range and its default exactly as the parser applies them.
 */
struct conf_key_info {
    const char *section; /* "hub", "smtp", ..., "storage_group NAME" */
    const char *name;
    const char *type;  /* number, boolean, name, host, path, hash, listen, resolver, destination */
    uint64_t min, max; /* number: the range; listen, destination: how many addresses */
    const char *def;   /* as written in the file; NULL: none (required or inherited) */
    const char *const *names; /* enum: the values, NULL-terminated; else NULL */
};

/* conf_key_info - key i (0, 1, ...), storage group keys last; false past the end. */
bool conf_key_info(size_t i, struct conf_key_info *out);

#endif
