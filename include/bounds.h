/*
 * bounds.h - every fixed bound of dumpsterd in one place
 *
 * Bounds that an operator may change live in the configuration (conf.h) with
 * a default and a hard range; the ones here are protocol limits or sizes of
 * internal structures. Each has a reason and a test that crosses it.
 */
#ifndef DD_BOUNDS_H
#define DD_BOUNDS_H

/* RFC 5321 4.5.3.1.4: a command line, CRLF included. */
#define DD_SMTP_CMD_MAX 512
/* RFC 5321 4.5.3.1.6: a text line in DATA, CRLF included. */
#define DD_SMTP_TEXT_LINE_MAX 1000
/* RFC 5321 4.5.3.1.1-3: local part, domain, path (with the angle brackets). */
#define DD_LOCAL_PART_MAX 64
#define DD_DOMAIN_MAX 255
#define DD_PATH_MAX 256
/* An address as text: local@domain, NUL included. */
#define DD_ADDR_MAX (DD_LOCAL_PART_MAX + 1 + DD_DOMAIN_MAX + 1)
/* The HELO/EHLO argument we keep (a domain or an address literal). */
#define DD_HELO_MAX 255

/* Configuration file. */
#define DD_CONF_LINE_MAX 1024      /* octets per line, newline excluded */
#define DD_CONF_ERRORS_MAX 64      /* error lines kept; the rest are counted */
#define DD_CONF_FILE_MAX (1 << 20) /* a config file larger than this is refused */
#define DD_SG_NAME_MAX 64          /* storage group names: [A-Za-z0-9._-]{1,64} */
#define DD_SG_MAX 4096             /* storage groups in one config */
#define DD_DEST_ADDRS_MAX 16       /* fallback addresses in one destination */
#define DD_LISTEN_MAX 16           /* addresses in one listen list */
#define DD_HOSTNAME_MAX 255
#define DD_PATHNAME_MAX 4096

/* Directory (address -> storage group). */
#define DD_DIRECTORY_FILE_MAX (256 << 20)
#define DD_DIRECTORY_LINE_MAX 1024

/* Queue ids: characters, without the NUL. */
#define DD_QUEUEID_LEN 18

/* Session -> storage thread: a message is handed over in chunks of this size,
 * so a message being received never sits whole in memory. */
#define DD_STORE_CHUNK (64 * 1024)
/* Bytes handed to the storage thread but not yet written, over all sessions.
 * Past it, sessions stop reading until the storage thread catches up. */
#define DD_STORE_BACKLOG_MAX (32u * 1024 * 1024)
/* Operations the storage thread takes in one transaction (group commit). */
#define DD_STORE_BATCH_MAX 512

/* Replies pending output on one session before we stop reading its input. */
#define DD_SMTP_OUTPUT_MAX (64 * 1024)

#endif
