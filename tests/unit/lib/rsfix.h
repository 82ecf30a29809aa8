/*
 * rsfix.h - resubmission helpers of the unit tests over storefix: items
 * put into the dumpster the way the hub delivers them, and the engine's
 * calls waited for
 */
#ifndef DD_RSFIX_H
#define DD_RSFIX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "resubmit.h"
#include "storefix.h"

#define RS_DEST1 "lmtp:[127.0.0.1]:2424"
#define RS_DEST2 "lmtp:[127.0.0.1]:2425"
#define RS_DEST_OVERRIDE "lmtp:[127.0.0.1]:2499"
#define RS_SG2_MAX 1000 /* bytes: small, so that SG2 evicts */
#define RS_DELAY_MS 500 /* from received to delivered */
#define RS_MSG_IDS_MAX 4096

struct rsfix {
    struct storefix *f;
    unsigned resent[RS_MSG_IDS_MAX]; /* resent copies delivered, per message */
};

/* rs_setup - SG1 (RS_DEST1) and SG2 (RS_DEST2, max RS_SG2_MAX), opened. */
struct rsfix *rs_setup(void);
void rs_teardown(struct rsfix *r);

/* rs_deliver_due - deliver every due job: new mail at received +
 * RS_DELAY_MS (kept), resent copies now (counted); how many jobs. */
size_t rs_deliver_due(struct rsfix *r);

/* rs_put - n messages of size octets received at t0 + i * gap_ms for
 * rcpts ("addr:SG"), delivered; ids into ids. */
void rs_put(struct rsfix *r, size_t n, int64_t t0, int64_t gap_ms, uint64_t size,
            const char *const *rcpts, size_t nr, uint64_t *ids);

struct rs_got {
    int calls;
    bool found;
    struct resubmit_info info;
    bool has_preview;
    struct resubmit_preview pv;
    enum resubmit_cancel_rc cancel;
    size_t n;
    uint64_t list_ids[8];
    enum store_rc rc;
};

/* rs_req - a request for sg over [start, end] of delivery times */
struct resubmit_req rs_req(const char *sg, int64_t start, int64_t end);
/* rs_set_dest - the request goes to dest instead */
void rs_set_dest(struct resubmit_req *q, const char *dest);

/* The engine's calls, waited for (store errors fail the test). */
struct rs_got rs_create(struct rsfix *r, const struct resubmit_req *q);
struct rs_got rs_create_rc(struct rsfix *r, const struct resubmit_req *q); /* rc unchecked */
struct resubmit_info rs_get(struct rsfix *r, uint64_t id);
enum resubmit_cancel_rc rs_cancel(struct rsfix *r, uint64_t id);
size_t rs_list(struct rsfix *r, bool outstanding, struct rs_got *g);

/* rs_wait_done - poll id until done, progress never going back; whether it
 * was seen running */
struct resubmit_info rs_wait_done(struct rsfix *r, uint64_t id, bool *saw_running);

/* rs_run_with_delivery - deliver resent mail as it is queued until id
 * queued at least min_queued copies (or is done) */
struct resubmit_info rs_run_with_delivery(struct rsfix *r, uint64_t id, uint64_t min_queued);

#endif
