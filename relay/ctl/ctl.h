/*
 * ctl.h - what the files of dumpsterctl share: the hubs, their answers,
 * the options of the command, and the parallel HTTP client
 *
 * dumpsterctl.c reads the command line and the site file, ctl_http.c asks
 * every hub at once (a hub that does not answer is reported, never fatal
 * to the others), ctl_tls.c makes the verified TLS connection of an
 * https:// hub, ctl_show.c prints the answers: Exchange-style summary
 * lines, then a readable table, or JSON with --json.
 */
#ifndef DD_CTL_H
#define DD_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "api_req.h"
#include "auth.h"
#include "bounds.h"

#define CTL_HUBS_MAX 256 /* hubs in a site file */
#define CTL_NAME_MAX 64  /* a hub's name */
#define CTL_URL_MAX 512  /* a hub's URL */
#define CTL_STEPS_MAX 3  /* requests per hub in one command (failover: route, resubmit, again) */
#define CTL_REPLY_MAX (64u << 20) /* octets of one answer */
#define CTL_TIMEOUT_DEFAULT 10    /* seconds per request */
#define CTL_DEFAULT_HUB "http://127.0.0.1:8025"

/* One answer of a hub. */
struct ctl_answer {
    int status;      /* HTTP status; 0: no answer */
    char error[256]; /* why there was no answer, or the hub's error message */
    json_t *json;    /* the body, when it is JSON */
};

struct ctl_hub {
    char name[CTL_NAME_MAX + 1];
    char url[CTL_URL_MAX + 1];
    bool https;
    char cafile[DD_PATHNAME_MAX]; /* the site file's CA column, "" when none */
    char host[256];               /* without brackets */
    char hosthdr[270];            /* Host: header */
    uint16_t port;
    char base[CTL_URL_MAX + 1]; /* path prefix, "" or "/x" (no trailing '/') */
    struct ctl_answer ans[CTL_STEPS_MAX];
    int nans;
    bool ignored; /* its answer does not count for the exit code */
};

/* A request to send to one hub. */
struct ctl_call {
    int method;     /* enum evhttp_cmd_type */
    char path[768]; /* after the hub's base */
    char *body;     /* JSON text (malloc), or NULL */
};

struct ctl {
    struct ctl_hub *hubs;
    size_t nhubs;
    char token[AUTH_TOKEN_MAX + 1]; /* "" without --token-file */
    char cacert[DD_PATHNAME_MAX];   /* --cacert, "" when none: the system's CAs */
    bool json;
    int timeout;
    /* command options */
    char sg[DD_SG_NAME_MAX + 1];
    int64_t start_ms, end_ms;
    bool has_start, has_end;
    char match[16];
    char dest[DD_CONF_LINE_MAX + 1];
    char sender[DD_API_ADDR_MAX + 1], recipient[DD_API_ADDR_MAX + 1];
    char message_id[DD_API_MSGID_MAX + 1], reason[DD_API_REASON_MAX + 1];
    bool has_sender, has_recipient, has_message_id;
    bool dry_run, force, all, no_probe;
    uint64_t id;
    char id_hub[CTL_NAME_MAX + 1]; /* cancel HUB:ID */
    /* failover: the hubs that did not answer, whose share one live hub
     * (shadow_hub, -1: none) resends from their shadow dumpsters */
    char unresponsive[DD_API_HUBS_MAX][CTL_NAME_MAX + 1];
    size_t nunresponsive;
    int shadow_hub;
    bool shadow_refused;    /* that hub has no shadow copies: asked again without them */
    bool with_unresponsive; /* the body being made names them */
};

/* The next request of hub h after i answers (0: the first); 1 and *call
 * filled, or 0 when the hub is done. */
typedef int (*ctl_step_fn)(struct ctl *ctl, struct ctl_hub *h, int i, struct ctl_call *call);

/* The TLS of one https:// hub's connection. */
struct ctl_tls {
    struct ssl_ctx_st *ctx;
    struct bufferevent *bev; /* owned by its evhttp connection */
    long verify_error;       /* the first X509_V_ERR_* of the handshake, 0: none */
};

/* ---- ctl_tls.c ---- */

struct event_base;
/* ctl_tls_bev - an OpenSSL bufferevent for h (not connected yet), verifying
 * against h's CA file, else cacert, else the system's; NULL with why */
struct bufferevent *ctl_tls_bev(struct ctl_tls *t, struct event_base *base, const struct ctl_hub *h,
                                const char *cacert, char *why, size_t cap);
/* ctl_tls_error - 1 and why TLS failed into out, or 0 when it did not */
int ctl_tls_error(struct ctl_tls *t, char *out, size_t cap);
/* ctl_tls_free - after the connection is freed */
void ctl_tls_free(struct ctl_tls *t);

/* ---- ctl_http.c ---- */

/* ctl_url_parse - http[s]://host[:port][/base] into h; 0, or -1 with why */
int ctl_url_parse(const char *url, struct ctl_hub *h, char *why, size_t cap);

/* The hubs and the token (ctl_site.c): 0, or an exit code with its line
 * said on stderr. */
int ctl_hub_add(struct ctl *ctl, const char *name, const char *url, const char *where);
int ctl_readable(const char *path, const char *where);
int ctl_site_load(struct ctl *ctl, const char *path);
int ctl_token_load(struct ctl *ctl, const char *path);
int ctl_token_new(const struct ctl *ctl); /* token new: prints it */
/* ctl_http_run - every hub in parallel, step by step; 0, or -1 when the
 * event loop cannot start */
int ctl_http_run(struct ctl *ctl, ctl_step_fn step);
/* ctl_answer_ok - the last answer of h is a 2xx with a JSON object */
bool ctl_answer_ok(const struct ctl_hub *h);
/* ctl_hubs_free - answers and the array */
void ctl_hubs_free(struct ctl *ctl);

/* ---- ctl_show.c: print the answers; each returns the exit code ---- */

int ctl_show_stats(struct ctl *ctl);
int ctl_show_requests(struct ctl *ctl);
int ctl_show_resubmit(struct ctl *ctl);
int ctl_show_cancel(struct ctl *ctl);
int ctl_show_route(struct ctl *ctl);
int ctl_show_failover(struct ctl *ctl);
int ctl_show_queue(struct ctl *ctl);
/* ctl_exit_code - 0 all answered, 69 some unavailable, 65 some refused */
int ctl_exit_code(const struct ctl *ctl);
/* ctl_hub_problem - print why h's last answer is not a success (stderr) */
void ctl_hub_problem(const struct ctl_hub *h);

#endif
