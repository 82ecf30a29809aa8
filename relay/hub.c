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
#include <event2/listener.h>
#include <event2/thread.h>

#include "admin.h"
#include "datadir.h"
#include "delivery.h"
#include "directory.h"
#include "dumpster.h"
#include "fdlimit.h"
#include "hub.h"
#include "log.h"
#include "prebind.h"
#include "probe.h"
#include "privdrop.h"
#include "queue.h"
#include "resubmit.h"
#include "sdnotify.h"
#include "shadow.h"
#include "shadow_gate.h"
#include "shadow_owed.h"
#include "shadow_take.h"
#include "smtpd_server.h"
#include "store.h"
#include "tls.h"

/* Confs replaced by a reload, kept while sessions still read them. */
#define HUB_RETIRED_MAX 64

struct hub {
    struct conf *conf;
    struct conf *retired[HUB_RETIRED_MAX];
    size_t nretired;
    struct directory *dir;
    struct tls *tls; /* the OpenSSL contexts of conf */
    struct event_base *base;
    struct smtpd_server *srv;
    struct store *store;
    struct queue *queue;
    struct delivery *delivery;
    struct dumpster *dumpster;
    struct resubmit *resubmit;
    struct probes *probes; /* the mailbox probes of the groups */
    struct admin *admin;
    struct shadow *shadow; /* NULL: no [shadow] servers */
    struct shadow_gate *gate;
    struct shadow_taker *taker; /* a silent hub's copies become messages here */
    struct shadow_owed *owed;   /* shadow dumpster copies that go again */
    struct event *sig_term, *sig_int, *sig_hup;
    struct privdrop pd;                             /* who the hub runs as */
    struct evconnlistener *admin_ls[DD_LISTEN_MAX]; /* bound as root, until admin_new */
};

/* hub_keep_fixed - keys a reload cannot change: keep the running values */
static void hub_keep_fixed(const struct conf *old, struct conf *nc)
{
    bool changed = strcmp(old->hub.data_dir, nc->hub.data_dir) != 0 ||
                   strcmp(old->hub.name, nc->hub.name) != 0 ||
                   strcmp(old->hub.user, nc->hub.user) != 0 ||
                   old->smtp.nlisten != nc->smtp.nlisten ||
                   memcmp(old->smtp.listen, nc->smtp.listen, sizeof(nc->smtp.listen)) != 0 ||
                   old->smtp.max_connections != nc->smtp.max_connections ||
                   old->admin.max_connections != nc->admin.max_connections ||
                   old->admin.nlisten != nc->admin.nlisten ||
                   memcmp(old->admin.listen, nc->admin.listen, sizeof(nc->admin.listen)) != 0 ||
                   strcmp(old->delivery.resolver, nc->delivery.resolver) != 0;

    if (changed)
        log_warn("main", "reload: hub.name, hub.data_dir, hub.user, the listen addresses, "
                         "smtp.max_connections, admin.max_connections and delivery.resolver "
                         "need a restart; keeping the running values");
    memcpy(nc->hub.name, old->hub.name, sizeof(nc->hub.name));
    memcpy(nc->hub.data_dir, old->hub.data_dir, sizeof(nc->hub.data_dir));
    memcpy(nc->hub.user, old->hub.user, sizeof(nc->hub.user));
    memcpy(nc->smtp.listen, old->smtp.listen, sizeof(nc->smtp.listen));
    nc->smtp.nlisten = old->smtp.nlisten;
    nc->smtp.max_connections = old->smtp.max_connections;
    nc->admin.max_connections = old->admin.max_connections;
    memcpy(nc->admin.listen, old->admin.listen, sizeof(nc->admin.listen));
    nc->admin.nlisten = old->admin.nlisten;
    memcpy(nc->delivery.resolver, old->delivery.resolver, sizeof(nc->delivery.resolver));
}

/* hub_retire - keep the old conf until no session reads it */
static void hub_retire(struct hub *h, struct conf *old)
{
    size_t keep = 0;

    for (size_t i = 0; i < h->nretired; i++) {
        if (h->retired[i]->refs == 0) {
            conf_free(h->retired[i]);
            free(h->retired[i]);
        } else
            h->retired[keep++] = h->retired[i];
    }
    h->nretired = keep;
    if (old->refs == 0 || h->nretired == HUB_RETIRED_MAX) {
        if (old->refs > 0) /* bounded: sessions this old are rare; they keep reading */
            log_warn("main", "reload: too many confs in use; leaking one");
        else {
            conf_free(old);
            free(old);
        }
        return;
    }
    h->retired[h->nretired++] = old;
}

/* hub_reload_errors - log why a reload was refused */
static void hub_reload_errors(const struct conf_errors *errs, const char *what)
{
    for (size_t i = 0; i < errs->n; i++)
        log_warn("main", "%s reload failed, keeping the old one: %s:%u: %s", what, errs->e[i].file,
                 errs->e[i].line, errs->e[i].msg);
}

/* hub_set_tls - every TLS user takes t (a reload keeps the old t on error) */
static void hub_set_tls(struct hub *h, struct tls *t)
{
    smtpd_server_set_tls(h->srv, t);
    delivery_set_tls(h->delivery, t);
    admin_set_tls(h->admin, t);
    if (h->tls != t)
        tls_free(h->tls);
    h->tls = t;
    tls_conf_warnings(h->conf, NULL);
}

/* hub_reload - SIGHUP: the configuration, the directory and the TLS
 * certificates and keys, all or nothing */
static void hub_reload(struct hub *h)
{
    struct conf_errors errs = {0};
    struct conf *nc = calloc(1, sizeof(*nc));
    struct directory *d;
    struct tls *t;
    char err[512];

    if (nc == NULL)
        return;
    if (conf_load(nc, h->conf->file, &errs) < 0) {
        hub_reload_errors(&errs, "configuration");
        conf_free(nc);
        free(nc);
        return;
    }
    if ((d = directory_load(nc->directory.file, nc, &errs)) == NULL) {
        hub_reload_errors(&errs, "directory");
        conf_free(nc);
        free(nc);
        return;
    }
    if ((t = tls_new(nc, &errs)) == NULL) {
        hub_reload_errors(&errs, "configuration");
        directory_free(d);
        conf_free(nc);
        free(nc);
        return;
    }
    hub_keep_fixed(h->conf, nc);
    if (fdlimit_check(nc, err, sizeof(err)) < 0 ||
        probes_set_conf(h->probes, nc, err, sizeof(err)) < 0) {
        log_warn("main", "configuration reload failed, keeping the old one: %s", err);
        tls_free(t);
        directory_free(d);
        conf_free(nc);
        free(nc);
        return;
    }
    smtpd_server_set_conf(h->srv, nc);
    smtpd_server_set_directory(h->srv, d);
    delivery_set_conf(h->delivery, nc);
    delivery_set_directory(h->delivery, d);
    dumpster_set_conf(h->dumpster, nc);
    resubmit_set_conf(h->resubmit, nc);
    if (h->shadow)
        shadow_set_conf(h->shadow, nc);
    admin_set_conf(h->admin, nc);
    directory_free(h->dir);
    h->dir = d;
    hub_retire(h, h->conf);
    h->conf = nc;
    hub_set_tls(h, t);
    log_info("main", "reload: %s, %zu storage groups; directory %s, %zu entries", nc->file, nc->nsg,
             nc->directory.file, directory_count(d));
}

/* hub_committed - new mail is durable: delivery may start */
static void hub_committed(void *ctx)
{
    delivery_kick(ctx);
}

/* hub_dest_of - where a storage group's mail goes now (for the ledger) */
static const char *hub_dest_of(void *ctx, const char *sg)
{
    return delivery_route_get(ctx, sg);
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
    smtpd_server_shutdown(h->srv);
    event_base_loopexit(h->base, NULL);
}

/*
 * hub_event_base - the loop, with epoll's change list: a reply that enables
 * EV_WRITE and the drain that disables it again within one pass cost no
 * epoll_ctl at all.
 */
static struct event_base *hub_event_base(void)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL)
        return NULL;
    event_config_set_flag(cfg, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    return base;
}

/* hub_fail - print a startup error; returns NULL for the caller */
static struct hub *hub_fail(struct hub *h, int *exit_code, int code, const char *what,
                            const char *why)
{
    fprintf(stderr, "dumpsterd: fatal: %s: %s\n", what, why);
    *exit_code = code;
    return hub_free(h);
}

/*
 * hub_user - who the hub runs as ([hub] user when started as root) and its
 * data_dir, created for that user (privdrop.h, datadir.h); an exit code
 */
static int hub_user(struct hub *h, char *err, size_t errlen)
{
    int rc = privdrop_prepare(&h->pd, h->conf->hub.user, err, errlen);

    return rc != EX_OK ? rc : datadir_prepare(h->conf->hub.data_dir, &h->pd, err, errlen);
}

/*
 * hub_drop - the admin addresses bound (the SMTP ones already are), then
 * root dropped, before the store creates a file or a client is served
 */
static int hub_drop(struct hub *h, char *err, size_t errlen)
{
    int rc;

    for (size_t i = 0; i < h->conf->admin.nlisten; i++)
        if ((h->admin_ls[i] = prebind_listen(h->base, &h->conf->admin.listen[i], err, errlen)) ==
            NULL)
            return EX_OSERR;
    if ((rc = privdrop_drop(&h->pd, err, errlen)) != EX_OK)
        return rc;
    return datadir_usable(h->conf->hub.data_dir, &h->pd, err, errlen);
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

static struct hub *hub_wire(struct hub *h, int *exit_code);

/* hub_new - everything up to the event loop */
struct hub *hub_new(struct conf *c, const struct hub_opts *o, int *exit_code)
{
    struct conf_errors errs = {0};
    char err[512];
    int rc;
    struct hub *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "startup", "out of memory");
    if ((h->conf = malloc(sizeof(*h->conf))) == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "startup", "out of memory");
    *h->conf = *c;
    memset(c, 0, sizeof(*c)); /* the hub owns the storage groups now */
    log_init(h->conf->hub.name);
    if ((h->dir = directory_load(h->conf->directory.file, h->conf, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        *exit_code = EX_CONFIG;
        return hub_free(h);
    }
    if ((h->tls = tls_new(h->conf, &errs)) == NULL) {
        conf_errors_print(&errs, stderr);
        *exit_code = EX_CONFIG;
        return hub_free(h);
    }
    if (sodium_init() < 0)
        return hub_fail(h, exit_code, EX_SOFTWARE, "libsodium", "cannot initialize");
    if (fdlimit_raise(h->conf, err, sizeof(err)) < 0)
        return hub_fail(h, exit_code, EX_CONFIG, "descriptors", err);
    if ((rc = hub_user(h, err, sizeof(err))) != EX_OK)
        return hub_fail(h, exit_code, rc, rc == EX_NOUSER ? "user" : "data_dir", err);
    if (evthread_use_pthreads() < 0 || (h->base = hub_event_base()) == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "libevent", "cannot create the event loop");
    (void)log_batch_on(h->base); /* -1: lines go at once, as before */
    if ((h->probes = probes_new(h->base, h->conf, err, sizeof(err))) == NULL)
        return hub_fail(h, exit_code, EX_CONFIG, "probe", err); /* key files read as root */
    if ((h->srv = smtpd_server_new(h->base, h->conf, h->dir, err, sizeof(err))) == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "smtp", err);
    if (h->conf->shadow.nservers > 0 &&
        (h->shadow = shadow_new(h->base, h->conf, err, sizeof(err))) == NULL)
        return hub_fail(h, exit_code, EX_CONFIG, "shadow", err); /* secrets read as root */
    if ((rc = hub_drop(h, err, sizeof(err))) != EX_OK)
        return hub_fail(h, exit_code, rc, rc == EX_CANTCREAT ? "data_dir" : "privileges", err);
    if (store_check(h->conf->hub.data_dir, o->init_store, err, sizeof(err)) < 0)
        return hub_fail(h, exit_code, EX_DATAERR, "store", err);
    if ((h->store = store_open(h->conf->hub.data_dir, h->base, smtpd_server_store_drain, h->srv,
                               err, sizeof(err))) == NULL ||
        (h->queue = queue_new(h->base, h->store, err, sizeof(err))) == NULL)
        return hub_fail(h, exit_code, EX_IOERR, "store", err);
    smtpd_server_set_store(h->srv, h->store, h->queue);
    if (h->shadow) {
        if ((h->gate = shadow_gate_new(h->queue, h->shadow, h->conf->shadow.failure)) == NULL)
            return hub_fail(h, exit_code, EX_OSERR, "shadow", "out of memory");
        smtpd_server_set_commit(h->srv, shadow_gate_commit, h->gate);
        queue_on_final(h->queue, shadow_gate_final, h->gate);
        if ((h->taker = shadow_taker_new(h->base, h->queue, h->gate, h->shadow)) == NULL)
            return hub_fail(h, exit_code, EX_OSERR, "shadow", "out of memory");
        shadow_on_take(h->shadow, shadow_taker_take, h->taker);
        shadow_on_away(h->shadow, shadow_taker_away, shadow_taker_away_later, h->taker);
        shadow_on_resend(h->shadow, shadow_taker_resend_copy, shadow_taker_resend_done, h->taker);
        if ((h->owed = shadow_owed_new(h->base, h->store, h->queue, h->shadow)) == NULL)
            return hub_fail(h, exit_code, EX_OSERR, "shadow", "out of memory");
        if (shadow_start(h->shadow, err, sizeof(err)) < 0)
            return hub_fail(h, exit_code, EX_OSERR, "shadow", err);
    }
    return hub_wire(h, exit_code);
}

/* hub_delivery_go - shadow_taker_hold's callback: delivery may start */
static void hub_delivery_go(void *ctx)
{
    delivery_pause(ctx, false);
}

/* hub_wire - delivery, the dumpster, resubmission and the admin API over
 * the queue; then the storage thread starts */
static struct hub *hub_wire(struct hub *h, int *exit_code)
{
    char err[512];

    h->delivery = delivery_new(h->base, h->conf, h->dir, h->store, h->queue, err, sizeof(err));
    if (h->delivery == NULL)
        return hub_fail(h, exit_code, EX_CONFIG, "delivery", err);
    queue_on_commit(h->queue, hub_committed, h->delivery);
    if (h->gate) {
        delivery_on_delivered(h->delivery, shadow_gate_delivered, h->gate);
        delivery_pause(h->delivery, true); /* until the taker knows what went elsewhere */
        shadow_taker_hold(h->taker, SHADOW_AWAY_WAIT_MS, hub_delivery_go, h->delivery);
    }
    if ((h->dumpster = dumpster_new(h->base, h->store, h->queue, h->conf, err, sizeof(err))) ==
        NULL)
        return hub_fail(h, exit_code, EX_OSERR, "dumpster", err);
    if ((h->resubmit = resubmit_new(h->base, h->store, h->queue, h->conf, err, sizeof(err))) ==
        NULL)
        return hub_fail(h, exit_code, EX_OSERR, "resubmit", err);
    resubmit_set_dest_fn(h->resubmit, hub_dest_of, h->delivery);
    struct probe_ops pops = probes_ops(h->probes);
    resubmit_set_prober(h->resubmit, &pops);
    if (h->taker) {
        shadow_taker_set_probes(h->taker, pops);
        shadow_taker_set_dest_fn(h->taker, hub_dest_of, h->delivery);
    }
    resubmit_on_queued(h->resubmit, hub_committed, h->delivery);
    if (store_start(h->store, err, sizeof(err)) < 0)
        return hub_fail(h, exit_code, EX_OSERR, "store", err);
    resubmit_start(h->resubmit);
    struct admin_deps deps = {.conf = h->conf,
                              .store = h->store,
                              .queue = h->queue,
                              .srv = h->srv,
                              .delivery = h->delivery,
                              .dumpster = h->dumpster,
                              .resubmit = h->resubmit,
                              .listeners = h->admin_ls,
                              .probes = h->probes,
                              .shadow = h->shadow,
                              .shadow_resubmit = h->taker ? shadow_taker_resubmit : NULL,
                              .shadow_ctx = h->taker};
    h->admin = admin_new(h->base, &deps, err, sizeof(err));
    memset(h->admin_ls, 0, sizeof(h->admin_ls)); /* the admin took them */
    if (h->admin == NULL)
        return hub_fail(h, exit_code, EX_OSERR, "admin", err);
    hub_set_tls(h, h->tls);
    if (hub_signals(h) < 0)
        return hub_fail(h, exit_code, EX_OSERR, "signals", "cannot set up");
    return h;
}

/* hub_run - the event loop */
int hub_run(struct hub *h)
{
    log_info("main", "daemon started -- dumpsterd, listening on %zu address(es)",
             h->conf->smtp.nlisten);
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
    h->admin = admin_free(h->admin);
    for (size_t i = 0; i < DD_LISTEN_MAX; i++)
        if (h->admin_ls[i])
            evconnlistener_free(h->admin_ls[i]);
    if (h->srv)
        smtpd_server_shutdown(h->srv);
    resubmit_stop(h->resubmit);
    shadow_owed_stop(h->owed);
    shadow_stop(h->shadow); /* copies waiting fail: their sessions are gone */
    probes_stop(h->probes); /* resubmission is stopping: it resends nothing on the errors */
    dumpster_stop(h->dumpster);
    delivery_stop(h->delivery);
    queue_stop(h->queue);
    h->store = store_close(h->store);
    h->resubmit = resubmit_free(h->resubmit);
    h->probes = probes_free(h->probes);
    h->dumpster = dumpster_free(h->dumpster);
    h->delivery = delivery_free(h->delivery);
    h->shadow = shadow_free(h->shadow);
    h->gate = shadow_gate_free(h->gate);
    h->taker = shadow_taker_free(h->taker);
    h->owed = shadow_owed_free(h->owed);
    h->queue = queue_free(h->queue);
    h->srv = smtpd_server_free(h->srv);
    log_batch_off();
    if (h->base)
        event_base_free(h->base);
    h->dir = directory_free(h->dir);
    h->tls = tls_free(h->tls);
    for (size_t i = 0; i < h->nretired; i++) {
        conf_free(h->retired[i]);
        free(h->retired[i]);
    }
    if (h->conf)
        conf_free(h->conf);
    free(h->conf);
    free(h);
    return NULL;
}
