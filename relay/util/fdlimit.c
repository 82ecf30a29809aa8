/*
 * fdlimit.c - the hub's descriptor budget against RLIMIT_NOFILE (fdlimit.h)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "bounds.h"
#include "fdlimit.h"

/* fdlimit_probes - the storage groups with a probe, each with at most
 * DD_PROBE_INFLIGHT_MAX requests at once */
static unsigned long fdlimit_probes(const struct conf *c)
{
    unsigned long n = 0;

    for (size_t i = 0; i < c->nsg; i++)
        if (c->sg[i].probe[0] != 0)
            n += DD_PROBE_INFLIGHT_MAX;
    return n;
}

/* fdlimit_delivery - a pool per storage group and one for the smarthost */
static unsigned long fdlimit_delivery(const struct conf *c)
{
    return (unsigned long)c->delivery.concurrency_per_destination * (c->nsg + 1);
}

/* fdlimit_need - the sum of every bound */
unsigned long fdlimit_need(const struct conf *c)
{
    return (unsigned long)c->smtp.max_connections + c->smtp.nlisten + c->admin.max_connections +
           c->admin.nlisten + fdlimit_delivery(c) + fdlimit_probes(c) + FDLIMIT_RESERVE;
}

/* fdlimit_fits - need against lim, with the message when it does not */
static int fdlimit_fits(const struct conf *c, rlim_t lim, char *err, size_t errlen)
{
    unsigned long need = fdlimit_need(c);

    if (lim == RLIM_INFINITY || need <= lim)
        return 0;
    snprintf(err, errlen,
             "%lu descriptors may be needed ([smtp] max_connections %u + [admin] max_connections "
             "%u + delivery %lu + probes %lu + listeners, store and reserve %lu) but "
             "RLIMIT_NOFILE is %llu: lower those limits or raise the limit (LimitNOFILE=)",
             need, c->smtp.max_connections, c->admin.max_connections, fdlimit_delivery(c),
             fdlimit_probes(c),
             (unsigned long)(c->smtp.nlisten + c->admin.nlisten + FDLIMIT_RESERVE),
             (unsigned long long)lim);
    return -1;
}

/* fdlimit_raise - soft up to hard, then the budget */
int fdlimit_raise(const struct conf *c, char *err, size_t errlen)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    if (rl.rlim_cur != rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
            snprintf(err, errlen, "setrlimit(RLIMIT_NOFILE, %llu): %s",
                     (unsigned long long)rl.rlim_max, strerror(errno));
            return -1;
        }
    }
    return fdlimit_fits(c, rl.rlim_cur, err, errlen);
}

/* fdlimit_check - the budget against the soft limit of now */
int fdlimit_check(const struct conf *c, char *err, size_t errlen)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
        snprintf(err, errlen, "getrlimit(RLIMIT_NOFILE): %s", strerror(errno));
        return -1;
    }
    return fdlimit_fits(c, rl.rlim_cur, err, errlen);
}
