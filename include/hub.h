/*
 * hub.h - one dumpsterd process: configuration, directory, store and SMTP
 * server wired to one event loop
 */
#ifndef DD_HUB_H
#define DD_HUB_H

#include "conf.h"

#include <stdbool.h>

struct hub; /* opaque; hub_free() releases */

/* What the command line says beyond the configuration. */
struct hub_opts {
    bool init_store; /* -I: begin a new store where one is missing or empty */
};

/*
 * hub_new - take ownership of c (conf_load'ed and checked), load the
 * directory, create data_dir, open the store, bind the listeners. On failure
 * prints why on stderr and returns NULL with *exit_code a sysexits code.
 */
struct hub *hub_new(struct conf *c, const struct hub_opts *o, int *exit_code);

/* hub_run - serve until SIGTERM or SIGINT; returns the exit code. */
int hub_run(struct hub *h);

/* hub_free - release everything in reverse order; returns NULL. */
struct hub *hub_free(struct hub *h);

#endif
