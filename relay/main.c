/*
 * main.c - dumpsterd's command line: check, print or run a configuration
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "directory.h"
#include "hub.h"
#include "log.h"
#include "probe.h"
#include "tls.h"
#include "version.h"

/* usage - the synopsis, exit 64 */
static int usage(void)
{
    fprintf(stderr, "usage: dumpsterd -c FILE [-t | -n] [-s] [-I] | -V\n"
                    "  -c FILE  configuration file\n"
                    "  -t       check the configuration and the directory, then exit\n"
                    "  -n       print the settings that differ from the defaults\n"
                    "  -s       log to syslog (LOG_MAIL) instead of stderr\n"
                    "  -I       begin a new, empty store where data_dir's is missing or empty\n"
                    "  -V       print the versions of dumpsterd and its libraries\n");
    return EX_USAGE;
}

/* check - -t: the configuration and the directory both parse, every
 * TLS file loads and every probe key file reads */
static int check(struct conf *c)
{
    struct conf_errors errs = {0};
    struct directory *d = directory_load(c->directory.file, c, &errs);
    char err[512];

    if (d == NULL || tls_check(c, &errs) < 0) {
        conf_errors_print(&errs, stderr);
        directory_free(d);
        return EX_CONFIG;
    }
    directory_free(d);
    if (probes_check(c, err, sizeof(err)) < 0) {
        fprintf(stderr, "dumpsterd: %s\n", err);
        return EX_CONFIG;
    }
    return EX_OK;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    bool test = false, print = false, use_syslog = false;
    int opt, rc;

    struct hub_opts ho = {0};

    while ((opt = getopt(argc, argv, "c:tnshVI")) != -1) {
        switch (opt) {
        case 'V':
            version_print(stdout);
            return fflush(stdout) == 0 ? EX_OK : EX_IOERR;
        case 'c':
            file = optarg;
            break;
        case 't':
            test = true;
            break;
        case 'n':
            print = true;
            break;
        case 's':
            use_syslog = true;
            break;
        case 'I':
            ho.init_store = true;
            break;
        default:
            return usage();
        }
    }
    if (file == NULL || optind != argc || (test && print))
        return usage();

    struct conf c;
    struct conf_errors errs = {0};
    if (conf_load(&c, file, &errs) < 0) {
        conf_errors_print(&errs, stderr);
        conf_free(&c);
        return EX_CONFIG;
    }
    if (test || print) {
        rc = test ? check(&c) : EX_OK;
        if (print)
            conf_print_nondefault(&c, stdout);
        conf_free(&c);
        return rc;
    }
    if (use_syslog)
        log_use_syslog();
    struct hub *h = hub_new(&c, &ho, &rc);
    if (h == NULL)
        return rc;
    rc = hub_run(h);
    hub_free(h);
    return rc;
}
