/*
 * resubmit_types.h - a resubmission request, its progress and its preview
 * (types only: the engine is resubmit.h; the admin API decodes requests
 * into struct resubmit_req without depending on the engine)
 */
#ifndef DD_RESUBMIT_TYPES_H
#define DD_RESUBMIT_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bounds.h"
#include "conf.h"

/* Which time of an item the range applies to. */
enum resubmit_match {
    RESUBMIT_MATCH_DELIVERED = 0, /* the mailbox's time: the default */
    RESUBMIT_MATCH_RECEIVED,      /* when the hub accepted it */
};

/* What a request asks (POST /v1/resubmit, decoded by api_req.h). */
struct resubmit_req {
    char storage_group[DD_SG_NAME_MAX + 1]; /* [A-Za-z0-9._-]{1,64} */
    int64_t start_ms;                       /* ms since the epoch; start <= end */
    int64_t end_ms;
    enum resubmit_match match;
    bool has_dest; /* destination override */
    struct dest dest;
    char dest_text[DD_DEST_TEXT_MAX + 1]; /* canonical (conf_dest_format) */
    bool has_sender;
    char sender[DD_API_ADDR_MAX + 1]; /* "<>" and "" both give "": the null sender */
    bool has_recipient;
    char recipient[DD_API_ADDR_MAX + 1]; /* ASCII lower-cased; never "" */
    bool has_message_id;
    char message_id[DD_API_MSGID_MAX + 1]; /* as given, angle brackets included */
    char reason[DD_API_REASON_MAX + 1];    /* "" when absent */
    bool dry_run;
    bool force;
    bool skip_probe; /* "probe": false: resend without asking the group's probe */
    /* hubs that are down: their copies of the range come from their shadow
     * dumpsters (shadow.h), resent by this hub; names without a dot */
    char unresponsive[DD_API_HUBS_MAX][DD_SG_NAME_MAX + 1];
    size_t nunresponsive;
};

enum resubmit_state {
    RESUBMIT_PENDING = 0,
    RESUBMIT_RUNNING,
    RESUBMIT_DONE,
    RESUBMIT_CANCELLED,
};
#define RESUBMIT_NSTATES 4

/* Whether the dumpster still holds the whole range. */
struct resubmit_coverage {
    bool complete;
    int64_t oldest_available_ms; /* oldest item of the group now, 0 if empty */
    uint64_t evicted_in_range;   /* items of the range with copies evicted or not kept */
};

/* A request with its progress, in recipient copies. */
struct resubmit_info {
    uint64_t id;
    struct resubmit_req req; /* what was asked (dest_text "" when no override) */
    enum resubmit_state state;
    int64_t created_ms, updated_ms;
    uint64_t matched, queued, delivered, failed, skipped_duplicate, skipped_present;
    struct resubmit_coverage coverage;
};

/* A dry run: what would be resent. */
#define RESUBMIT_PREVIEW_IDS 20
struct resubmit_preview {
    uint64_t matched;  /* copies */
    uint64_t messages; /* envelopes: one per item */
    uint64_t bytes;    /* of those messages */
    uint64_t skipped_duplicate;
    /* what the group's probe says of the copies that would be resent (all
     * unknown without a probe, or past DD_DRY_RUN_PROBE_MAX copies) */
    bool probed;
    uint64_t probe_present, probe_missing, probe_unknown;
    size_t nids;
    char queue_ids[RESUBMIT_PREVIEW_IDS][DD_QUEUEID_LEN + 1]; /* the first items */
    struct resubmit_coverage coverage;
};

#endif
