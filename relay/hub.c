/*
 * hub.c - start, run and stop one hub
 *
 * Startup errors print one line and give a sysexits code; runtime events
 * (signals) arrive through the event loop, never in a signal handler.
 */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "directory.h"
#include "hub.h"
#include "log.h"
#include "sdnotify.h"
#include "server.h"
#include "store.h"

struct hub {
    struct conf conf;
    struct directory *dir;
    struct event_base *base;
    struct server *srv;
    struct store *store;
    struct event *sig_term, *sig_int, *sig_hup;
};

/* hub_mkdirs - create data_dir and its parents (mode 0700 for the last) */
static int hub_mkdirs(const char *dir)
{
    char path[DD_PATHNAME_MAX];

    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return mkdir(path, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* hub_reload - SIGHUP: a new directory, or the old one and the reason */
static void hub_reload(struct hub *h)
{
    struct conf_errors errs = {0};
    struct directory *d = directory_load(h->conf.directory.file, &h->conf, &errs);

    if (d == NULL) {
        for (size_t i = 0; i < errs.n; i++)
            log_warn("main", "directory reload failed, keeping the old one: %s:%u: %s",
                     errs.e[i].file, errs.e[i].line, errs.e[i].msg);
        return;
    }
    server_set_directory(h->srv, d);
    directory_free(h->dir);
    h->dir = d;
    log_info("main", "reload: directory %s, %zu entries", h->conf.directory.file,
             directory_count(d));
}

/* hub_signal_cb - SIGHUP reloads; SIGTERM and SIGINT stop */
static void hub_signal_cb(evutil_socket_t sig, short what, void *arg)
{
    struct hub *h = arg;

    (void)what;
    if (sig == SIGHUP) {
        hub_reload(h);
        return;
    }
    log_info("main", "terminating on signal %d", (int)sig);
    sdnotify("STOPPING=1");
    server_shutdown(h->srv);
    event_base_loopexit(h->base, NULL);
}

/* hub_fail - print a startup error; returns NULL for the caller */
static struct hub *hub_fail(struct hub *h, int *exit_code, int code, const char *what,
                            const char *why)
{
    fprintf(stderr, "dumpsterd: fatal: %s: %s\n", what, why);
    *exit_code = code;
    return hub_free(h);
}

/* hub_signals - signal events on the loop */
static int hub_signals(struct hub *h)
{
    signal(SIGPIPE, SIG_IGN);
    h->sig_term = evsignal_new(h->base, SIGTERM, hub_signal_cb, h);
    h->sig_int = evsignal_new(h->base, SIGINT, hub_signal_cb, h);
    h->sig_hup = evsignal_new(h->base, SIGHUP, hub_signal_cb, h);
    if (!h->sig_term || !h->sig_int || !h->sig_hup)
        return -1;
    return evsignal_add(h->sig_term, NULL) | evsignal_add(h->sig_int, NULL) |
           evsignal_add(h->sig_hup, NULL);
}

/* hub_new - everything up to the event loop */
struct hub *hub_new(struct conf *c, int *exit_code)
{
    struct conf_errors errs = {0};
    char err[512];
    struct hub *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "startup", "out of memory");
    h->conf = *c;
    memset(c, 0, sizeof(*c)); /* the hub owns the storage groups now */
    log_init(h->conf.hub.name);
    if ((h->dir = directory_load(h->conf.directory.file, &h->conf, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        *exit_code = EX_CONFIG;
        return hub_free(h);
    }
    if (sodium_init() < 0)
        return hub_fail(h, exit_code, EX_SOFTWARE, "libsodium", "cannot initialize");
    if (hub_mkdirs(h->conf.hub.data_dir) < 0)
        return hub_fail(h, exit_code, EX_CANTCREAT, h->conf.hub.data_dir, strerror(errno));
    if (evthread_use_pthreads() < 0 || (h->base = event_base_new()) == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "libevent", "cannot create the event loop");
    if ((h->srv = server_new(h->base, &h->conf, h->dir, err, sizeof(err))) == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "smtp", err);
    h->store = store_open(h->conf.hub.data_dir, h->base, server_store_done, server_store_drain,
                          h->srv, err, sizeof(err));
    if (h->store == NULL)
        return hub_fail(h, exit_code, EX_IOERR, "store", err);
    server_set_store(h->srv, h->store);
    if (hub_signals(h) < 0)
        return hub_fail(h, exit_code, EX_OSERR, "signals", "cannot set up");
    return h;
}

/* hub_run - the event loop */
int hub_run(struct hub *h)
{
    log_info("main", "daemon started -- dumpsterd, listening on %zu address(es)",
             h->conf.smtp.nlisten);
    sdnotify("READY=1");
    if (event_base_dispatch(h->base) < 0)
        return EX_SOFTWARE;
    return EX_OK;
}

/* hub_free - reverse order of hub_new */
struct hub *hub_free(struct hub *h)
{
    if (h == NULL)
        return NULL;
    struct event *sigs[] = {h->sig_term, h->sig_int, h->sig_hup};
    for (size_t i = 0; i < 3; i++)
        if (sigs[i])
            event_free(sigs[i]);
    if (h->srv)
        server_shutdown(h->srv);
    h->store = store_close(h->store);
    h->srv = server_free(h->srv);
    if (h->base)
        event_base_free(h->base);
    h->dir = directory_free(h->dir);
    conf_free(&h->conf);
    free(h);
    return NULL;
}
