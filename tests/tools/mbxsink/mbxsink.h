/* mbxsink.h - the limits, types and functions the mbxsink sources share */
#ifndef MBXSINK_H
#define MBXSINK_H

#include <stddef.h>
#include <sys/socket.h>

#include <event2/listener.h>
#include <event2/util.h>

/* Limits: each is enforced where the input is read. */
#define MBX_LINE_MAX 4096          /* SMTP command line, CRLF included */
#define MBX_CTL_LINE_MAX 1024      /* control command line, CRLF included */
#define MBX_DATA_MAX (64UL << 20)  /* message content after dot-unstuffing */
#define MBX_DATA_CHUNK 65536       /* an unfinished data line is moved on past this */
#define MBX_RCPT_MAX 1000          /* recipients per transaction */
#define MBX_ADDR_MAX 512           /* one address, without the angle brackets */
#define MBX_MSGID_MAX 998          /* Message-ID value kept (longer ones are cut) */
#define MBX_HDR_SCAN (256 * 1024)  /* header octets searched for the Message-ID */
#define MBX_OUT_HIGH (1024 * 1024) /* stop reading while this much output waits */
#define MBX_IDLE_SECS 300          /* read and write timeout of an SMTP connection */
#define MBX_LISTEN_MAX 16          /* --listen options */
#define MBX_FAULT_MAX 1024         /* per-recipient faults */
#define MBX_NAME_MAX 255           /* --name */
#define MBX_CTL_WORDS 5            /* words of the longest control command */

/* One stored message, as in index.tsv. */
struct entry {
    unsigned seq;
    char *msgid;  /* "" when the message has none */
    char *sender; /* "" for the null sender */
    char *rcpts;  /* comma-separated */
};

struct rcpt_fault {
    char *addr;
    int code;
    int lmtp; /* answer after the final dot (LMTP) instead of at RCPT */
};

/* Injected faults; a code of 0 means none. */
struct faults {
    int mail, data, connect, drop_data;
    struct rcpt_fault *rcpt;
    size_t nrcpt;
};

/* Counters since start (the number stored is sink.nentries). */
struct stats {
    unsigned long duplicates, lost, connections, messages;
};

struct conn;

struct sink {
    struct event_base *base;
    const char *dir;
    const char *name;
    int lmtp;
    struct faults faults;
    struct entry *entries; /* oldest first: the newest are lost first */
    size_t nentries, cap;
    struct stats stats;
    struct evconnlistener *listeners[MBX_LISTEN_MAX + 1];
    size_t nlisteners;
    const char *unix_paths[MBX_LISTEN_MAX + 1];
    size_t nunix;
    struct event *sigs[3];
    struct conn *conns;
};

enum conn_state { ST_CMD, ST_DATA, ST_CLOSING };

struct rcpt {
    char *addr;
    int lmtp_code; /* injected reply after the final dot, 0 = accept */
};

/* One SMTP/LMTP or control connection. */
struct conn {
    struct conn *prev, *next;
    struct sink *sink;
    struct bufferevent *bev;
    int control;
    enum conn_state state;
    int skipping; /* discarding the rest of an overlong line */
    int paused;   /* reading stopped until the output drains */
    int greeted;
    char *sender; /* NULL: no transaction */
    struct rcpt *rcpts;
    size_t nrcpts;
    struct evbuffer *body;
    size_t body_len;
    int bol;     /* data: at the start of a line (after a real CRLF) */
    int too_big; /* data: over MBX_DATA_MAX, the rest is discarded */
};

/* util.c */
void mbx_logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *mbx_xrealloc(void *p, size_t n);
char *mbx_xstrdup(const char *s);
int mbx_code_parse(const char *s);
const char *mbx_enh_for(int code, const char *perm);
char *mbx_addr_bare(char *s);

/* control.c */
int mbx_fault_set_rcpt(struct faults *f, const char *addr, int code, int lmtp);
int mbx_fault_rcpt_code(const struct faults *f, const char *addr, int lmtp);
void mbx_faults_clear(struct faults *f);
void mbx_ctl_line(struct conn *c, char *line);

/* store.c */
void mbx_entry_clear(struct entry *e);
int mbx_index_load(struct sink *k);
long mbx_store_lose(struct sink *k, size_t n);
int mbx_store_message(struct conn *c, const char *msgid, unsigned *seq);

/* conn.c */
void mbx_reply(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mbx_txn_reset(struct conn *c);
void mbx_conn_free(struct conn *c);
void mbx_conn_close(struct conn *c);
void mbx_smtp_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg);
void mbx_ctl_accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen,
                       void *arg);

/* smtp.c */
void mbx_smtp_line(struct conn *c, const char *line);

/* data.c */
int mbx_data_step(struct conn *c, struct evbuffer *in);

#endif
