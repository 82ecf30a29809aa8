/*
 * admin_share.c - one store read shared by every request that wants it
 *
 * GET /v1/stats is public by default and scraped often: while a resubmit
 * request is outstanding it asks the storage thread for the outstanding
 * requests (GET /metrics asks nothing). Requests that come while such a
 * read is in flight wait for its answer instead of starting their own, so
 * the storage thread
 * does the work once however many ask, and at most ADMIN_SHARE_WAITERS_MAX
 * wait for one read; more are refused 503 with Retry-After. A batch
 * outlives the admin: when the admin goes, its waiting operations are
 * detached (admin_free) and the batch only frees itself when the store
 * answers.
 */
#include <stdlib.h>

#include "admin_int.h"

struct admin_share_batch {
    struct admin_share *owner; /* NULL once the admin is gone */
    struct admin_op *ops[ADMIN_SHARE_WAITERS_MAX];
    size_t n;
};

/* admin_share_full - a read is in flight and has all the waiters it takes */
bool admin_share_full(const struct admin_share *s)
{
    return s->open != NULL && s->open->n >= ADMIN_SHARE_WAITERS_MAX;
}

/* admin_share_join - op waits for s's read; *start: the caller starts it
 * with the batch as its context. NULL out of memory (nothing joined). */
struct admin_share_batch *admin_share_join(struct admin_share *s, struct admin_op *op, bool *start)
{
    struct admin_share_batch *b = s->open;

    *start = false;
    if (b == NULL) {
        if ((b = calloc(1, sizeof(*b))) == NULL)
            return NULL;
        b->owner = s;
        s->open = b;
        *start = true;
    }
    b->ops[b->n++] = op;
    return b;
}

/* admin_share_done - the answer came: the batch leaves its share (the
 * next request starts a new read); its waiters, in order */
size_t admin_share_done(struct admin_share_batch *b, struct admin_op ***ops)
{
    if (b->owner != NULL && b->owner->open == b)
        b->owner->open = NULL;
    b->owner = NULL;
    *ops = b->ops;
    return b->n;
}

/* admin_share_free - after admin_share_done() and the answers */
void admin_share_free(struct admin_share_batch *b)
{
    free(b);
}

/* admin_share_detach - the admin goes: the batch in flight forgets it */
void admin_share_detach(struct admin_share *s)
{
    if (s->open != NULL)
        s->open->owner = NULL;
    s->open = NULL;
}
