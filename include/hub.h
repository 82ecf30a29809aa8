/*
 * hub.h - one dumpsterd process: configuration, directory, store and SMTP
 * server wired to one event loop
 */
#ifndef DD_HUB_H
#define DD_HUB_H

#include "conf.h"

struct hub; /* opaque; hub_free() releases */

/*
 * hub_new - take ownership of c (conf_load'ed and checked), load the
 * directory, create data_dir, open the store, bind the listeners. On failure
 * prints why on stderr and returns NULL with *exit_code a sysexits code.
 */
struct hub *hub_new(struct conf *c, int *exit_code);

/* hub_run - serve until SIGTERM or SIGINT; returns the exit code. */
int hub_run(struct hub *h);

/* hub_free - release everything in reverse order; returns NULL. */
struct hub *hub_free(struct hub *h);

#endif
