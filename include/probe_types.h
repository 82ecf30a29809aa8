/*
 * probe_types.h - a question to a mailbox probe and its answers (types
 * only: the probes are probe.h; resubmission asks through a callback
 * table, so it depends on these types alone)
 */
#ifndef DD_PROBE_TYPES_H
#define DD_PROBE_TYPES_H

#include <stddef.h>

/* Does user's mailbox (any folder) hold a message with this Message-ID? */
struct probe_query {
    const char *user;       /* the recipient, as queued */
    const char *message_id; /* with its angle brackets */
};

enum probe_answer {
    PROBE_PRESENT = 0, /* held: not resent */
    PROBE_MISSING,     /* not held: resent */
    PROBE_NO_USER,     /* the mailbox server knows no such user: resent (it answers for it) */
    PROBE_ERROR,       /* cannot say: ask again later, never resend blindly */
};

/* answers[0..n) of a batch, on the loop; error is NULL when the probe
 * answered, else why it did not (then every answer is PROBE_ERROR). */
typedef void (*probe_done_fn)(void *ctx, const enum probe_answer *answers, size_t n,
                              const char *error);

/* What resubmission may ask: whether a group has a probe, and a batch. */
struct probe_ops {
    int (*has)(void *ctx, const char *sg);
    void (*ask)(void *ctx, const char *sg, const struct probe_query *q, size_t n, probe_done_fn fn,
                void *fn_ctx);
    void *ctx;
};

/* probe_answer_name - "present", "missing", "no_user", "error" */
const char *probe_answer_name(enum probe_answer a);

#endif
