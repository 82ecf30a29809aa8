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
/* Input read ahead of the session (pipelined commands, content during a
 * commit); past it the session stops reading until it catches up. */
#define DD_SMTP_INPUT_MAX (64 * 1024)
/* Content octets a session reads beyond libevent's 4 KiB in one pass
 * (bev_read.h): a 50 KiB message in 4 passes instead of 13. Each read
 * reserves that much input buffer, so it counts once per session that is
 * sending content (300 sessions of 1 MiB: +3.6 MiB of RSS). */
#define DD_SMTP_READ_MORE (12 * 1024)
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
/* A Message-ID value as an item records it: an RFC 5322 line. */
#define DD_MSGID_MAX 998

/* Configuration file. */
#define DD_CONF_LINE_MAX 1024      /* octets per line, newline excluded */
#define DD_CONF_ERRORS_MAX 64      /* error lines kept; the rest are counted */
#define DD_CONF_FILE_MAX (1 << 20) /* a config file larger than this is refused */
#define DD_SG_NAME_MAX 64          /* storage group names: [A-Za-z0-9._-]{1,64} */
#define DD_SG_MAX 4096             /* storage groups in one config */
#define DD_DEST_ADDRS_MAX 16       /* fallback addresses in one destination */
#define DD_LISTEN_MAX 16           /* addresses in one listen list */
#define DD_CONF_NETS_MAX 64        /* networks in one network list */
#define DD_SHADOW_SERVERS_MAX 16   /* NATS server URLs in [shadow] servers */
#define DD_HOSTNAME_MAX 255
#define DD_PATHNAME_MAX 4096
/* TLS: certificate, key and CA file names (kept per storage group, so
 * shorter than DD_PATHNAME_MAX), and an OpenSSL cipher list. */
#define DD_TLS_PATH_MAX 255
#define DD_TLS_CIPHERS_MAX 512

/* Directory (address -> storage group). */
#define DD_DIRECTORY_FILE_MAX (256 << 20)
#define DD_DIRECTORY_LINE_MAX 1024

/* Queue ids: characters, without the NUL. */
#define DD_QUEUEID_LEN 18

/* Session -> storage thread: a message is handed over in chunks of this size,
 * so a message being received never sits whole in memory. */
#define DD_STORE_CHUNK (64 * 1024)
/* Committed messages of one chunk whose content the queue keeps in memory
 * for their first delivery (queue_hot.c), and those contents' octets. */
#define DD_QUEUE_HOT_MAX 256
#define DD_QUEUE_HOT_BYTES (4u * 1024 * 1024)
/* Bytes handed to the storage thread but not yet written, over all sessions.
 * Past it, sessions stop reading until the storage thread catches up. */
#define DD_STORE_BACKLOG_MAX (32u * 1024 * 1024)
/* Operations the storage thread takes in one transaction (group commit),
 * and the content octets: a transaction's pages all go into the WAL before
 * a checkpoint can copy them out, so this bounds how far the WAL grows past
 * DD_STORE_WAL_LIMIT (the backlog's 32 MiB in one transaction filled a
 * small disk with WAL). An operation larger than it goes alone. */
#define DD_STORE_BATCH_MAX 512
#define DD_STORE_BATCH_BYTES (1024u * 1024)
/* How long work that may wait (delivery outcomes: store_call_lazy) waits
 * for other work to share its transaction. Alone, each outcome was a
 * transaction of its own, and every transaction writes the last page of
 * every table and index it touches (about 8 pages) to the WAL. */
#define DD_STORE_LINGER_MS 5
/* How long the store waits for a lock another process holds (an operator's
 * sqlite3 reading the database) before a statement fails with SQLITE_BUSY. */
#define DD_STORE_BUSY_MS 10000
/* the store's page cache (KiB) and the WAL sizes (pages) that trigger a
 * checkpoint: hot pages (queue indexes, counters) are written back once per
 * checkpoint, not once per commit, so the longer interval writes fewer
 * pages per message (disk write requests per message 0.92 -> 0.55 at 5 KiB
 * in make bench). A checkpoint copies the WAL's pages into the database
 * file, which may need that much room: once the data directory's file
 * system has less than DD_STORE_ROOM_LOW free, the store checkpoints every
 * 1000 pages (4 MiB, the WAL_LIMIT below), which bounds what a full disk
 * must get back before the store can checkpoint and write again (16 MiB at
 * 4000 pages: a 20 MiB disk with 6 MiB freed stayed full). The free room
 * is asked of the file system at most once per DD_STORE_ROOM_CHECK_MS. */
#define DD_STORE_CACHE_KIB 16384
#define DD_STORE_CHECKPOINT_PAGES 1000       /* with little room */
#define DD_STORE_CHECKPOINT_PAGES_ROOMY 4000 /* with DD_STORE_ROOM_LOW or more */
#define DD_STORE_ROOM_LOW (256ull * 1024 * 1024)
#define DD_STORE_ROOM_CHECK_MS 1000
/* What the WAL file is cut back to after a checkpoint (octets): without it
 * it keeps its largest size, room a full disk needs back */
#define DD_STORE_WAL_LIMIT 4194304 /* 4 MiB; a literal: it goes into SQL text */

/* DD_STR - a bound as a string literal, for SQL text */
#define DD_STR_(x) #x
#define DD_STR(x) DD_STR_(x)

/* Admin API. Request line and headers together, in octets; more: 413 from
 * evhttp. Bodies over DD_API_BODY_MAX get our JSON 413; bodies over
 * ADMIN_BODY_HARD_MAX never sit in memory: evhttp drains them and answers
 * 413 on its own. A connection has ADMIN_TIMEOUT seconds to send a request
 * or read a reply; at most ADMIN_INFLIGHT_MAX requests wait for the store
 * at once (more: 503), each at most ADMIN_OP_TIMEOUT seconds (then 503). */
#define ADMIN_HEADERS_MAX 8192
#define ADMIN_BODY_HARD_MAX (4 * DD_API_BODY_MAX)
#define ADMIN_TIMEOUT 30
#define ADMIN_INFLIGHT_MAX 64
#define ADMIN_OP_TIMEOUT 30
#define ADMIN_QUEUE_LIST_MAX 1000 /* messages listed by GET /v1/queue */
/* Admin connections ([admin] max_connections, request_timeout): a closed
 * plain connection is read and dropped this long first, so a client still
 * sending reads its answer, not a reset; a failed accept() rests the
 * listeners this long; "not accepting" is logged at most this often. */
#define ADMIN_LINGER_MS 2000
#define ADMIN_ACCEPT_PAUSE_MS 100
#define ADMIN_FULL_LOG_MS 60000
/* GET /v1/stats and GET /metrics that arrive while the store read they
 * need is in flight wait for that read's answer, at most this many per
 * read (more: 503 and Retry-After), so a flood of public reads costs the
 * storage thread one read at a time; they cost the store nothing more, so
 * they do not count toward ADMIN_INFLIGHT_MAX. As many as the default
 * [admin] max_connections. */
#define ADMIN_SHARE_WAITERS_MAX 64

/* Admin API: a request body larger than this is refused with 413 (SPEC 8). */
#define DD_API_BODY_MAX 65536
/* Resubmit filters and destinations as the admin API takes them, in octets. */
#define DD_API_ADDR_MAX 256                 /* sender, recipient (RFC 5321 path) */
#define DD_API_MSGID_MAX DD_MSGID_MAX       /* message_id */
#define DD_API_REASON_MAX 256               /* reason, free text for logs */
#define DD_API_HUBS_MAX 16                  /* unresponsive_hubs of one request */
#define DD_API_DEST_IN_MAX DD_CONF_LINE_MAX /* a destination as the client writes it */
/* A destination's canonical text: about as long as the input (", " between
 * addresses, canonical IP literals), so twice the input bound is plenty; a
 * longer one is refused, never truncated. */
#define DD_DEST_TEXT_MAX (2 * DD_CONF_LINE_MAX)

/* Replies pending output on one session before we stop reading its input. */
#define DD_SMTP_OUTPUT_MAX (64 * 1024)

/* Outbound replies (smtpd_reply.c). RFC 5321 4.5.3.1.5 allows 512 octets with
 * the CRLF; we take 512 without it, and refuse longer lines: a server that
 * sends more is broken or hostile. */
#define DD_SMTP_REPLY_LINE_MAX 512
/* Lines in one (multi-line) reply: an EHLO reply has a dozen; an endless
 * "250-" stream ends here. */
#define DD_SMTP_REPLY_LINES_MAX 100
/* Outbound content (mta_client.c): the output buffer is filled up to HIGH
 * and refilled when it drains below LOW, so a large message never sits
 * twice in memory. */
#define DD_SMTP_CLIENT_OUT_HIGH (256 * 1024)
#define DD_SMTP_CLIENT_OUT_LOW (64 * 1024)

/* Delivery. */
#define DD_DELIVERY_REPLY_TIMEOUT 300 /* seconds for each reply (RFC 5321 4.5.3.2) */
#define DD_DELIVERY_IDLE_SECONDS 5    /* an idle pooled connection is closed after */
/* tls = may: after a failed TLS handshake a pool speaks plaintext to its
 * destination this long (Postfix retries without TLS too). */
#define DD_DELIVERY_TLS_FALLBACK_SECONDS 600
/* TLS sessions a pool keeps for resumption: a TLS 1.3 ticket resumes one
 * connection only (a server sends two per handshake), so connections
 * opened together each need one of their own. */
#define DD_TLS_CACHE_SESSIONS 16
/* Jobs taken from the queue, not yet done. Their content is read only when a
 * connection is ready for them: memory is bounded by connections, not jobs. */
#define DD_DELIVERY_INFLIGHT_MAX 2048
#define DD_DELIVERY_JOB_RCPTS_MAX 1000    /* recipients of one job; more make more jobs */
#define DD_BOUNCE_HEADERS_MAX (64 * 1024) /* original headers quoted in a bounce */

/* Host names of destinations (resolve.c): a positive answer is kept for its
 * TTL clamped to [MIN, MAX] seconds, a failure NEG seconds; at most
 * CACHE_MAX names, ADDRS_MAX addresses each. */
#define RESOLVE_TTL_MIN 1
#define RESOLVE_TTL_MAX 3600
#define RESOLVE_NEG_TTL 5
#define RESOLVE_CACHE_MAX 4096
#define RESOLVE_ADDRS_MAX 16

/* The queue (dumpster/store). Due rows a pick takes at most (jobs are built
 * from these); a failed outcome write is tried again after FIRST ms,
 * doubling up to MAX ms; outcome observers (the dumpster, resubmission). */
#define QUEUE_PICK_ROWS 1024
#define QUEUE_RETRY_FIRST_MS 250
#define QUEUE_RETRY_MAX_MS 30000
#define QUEUE_OBSERVERS_MAX 4
/* Failures kept without a report: messages one sweep lets go of at most
 * (the next run follows at once); the longest the sweep timer waits. */
#define QUEUE_KEEP_SWEEP_MAX 256
#define QUEUE_KEEP_WAIT_MAX_MS 3600000
/* The store: prepared statements kept; modules mirroring its state. */
#define STORE_STMT_CACHE_MAX 160
#define STORE_RESYNC_MAX 8

/* Mailbox probes (relay/probe). Questions per HTTP request; requests at
 * once per probe; seconds a request may take; octets of an answer; octets
 * of the key file; a failed probe is asked again after FIRST ms, doubling
 * up to MAX ms; copies a dry run asks about at most. */
#define DD_PROBE_BATCH_MAX 100
#define DD_PROBE_INFLIGHT_MAX 4
#define DD_PROBE_TIMEOUT 30
#define DD_PROBE_RESPONSE_MAX (4 * 1024 * 1024)
#define DD_PROBE_KEY_MAX 1024
#define DD_PROBE_RETRY_FIRST_MS 1000
#define DD_PROBE_RETRY_MAX_MS 60000
#define DD_DRY_RUN_PROBE_MAX 10000

/* Dumpster and resubmission. */
#define DD_RESUBMIT_LIST_MAX 1000   /* requests in one listing */
#define DD_RESUBMIT_BATCH_MAX 500   /* items per batch (resubmit_rate = 0: no pacing) */
#define DD_RESUBMIT_TICK_MS 100     /* batches run this often, rate/10 items each */
#define DD_DRY_RUN_SCAN_MAX 1000000 /* items a dry run looks at */
#define DD_GONE_KEEP_DAYS 30        /* evictions remembered for coverage reports */
#define DD_EXPIRE_PER_TICK 10000    /* items one expiry tick evicts per group */

#endif
