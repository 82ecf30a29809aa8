/*
 * mbxsink.c - a small mailbox server for tests and demos
 *
 * mbxsink plays the mailbox server behind dumpsterd: an SMTP (or, with --lmtp,
 * LMTP) sink that keeps each accepted message once, as DIR/NNNNNN.eml (the
 * content exactly as received after dot-unstuffing, CRLF kept, nothing added),
 * and lists it in DIR/index.tsv:
 *
 *     seq <TAB> message-id <TAB> sender <TAB> rcpt1,rcpt2
 *
 * A message whose Message-ID is already stored is answered 250 but not stored
 * again (a duplicate). The index is loaded at start, so a restart keeps both
 * the messages and the duplicate check.
 *
 * A line-oriented control port plays the faults a hub must survive: "LOSE N"
 * forgets the newest N messages (a lossy failover; SIGUSR1 loses one), and
 * FAIL/DROP inject reply codes for the greeting, MAIL, RCPT, the end of data
 * or a single LMTP recipient, or a connection dropped after the final dot.
 *
 * It is a test tool: one process, one libevent loop, and the disk work
 * (write, fsync, rename) is done in the loop, which a real server would not do.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "mbxsink.h"

/*
 * Startup and shutdown.
 */

/* sockaddr_parse - 127.0.0.1:PORT, [::1]:PORT or unix:/path; -1 if bad */
static int sockaddr_parse(const char *spec, struct sockaddr_storage *ss, int *len)
{
    struct sockaddr_un *un = (struct sockaddr_un *)ss;
    const char *path = spec + 5;

    memset(ss, 0, sizeof(*ss));
    if (strncmp(spec, "unix:", 5) == 0) {
        if (path[0] == '\0' || strlen(path) >= sizeof(un->sun_path))
            return -1;
        un->sun_family = AF_UNIX;
        memcpy(un->sun_path, path, strlen(path) + 1);
        *len = (int)sizeof(*un);
        return 0;
    }
    *len = (int)sizeof(*ss);
    if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)ss, len) != 0)
        return -1;
    if (ss->ss_family == AF_INET)
        return ((struct sockaddr_in *)ss)->sin_port ? 0 : -1;
    if (ss->ss_family == AF_INET6)
        return ((struct sockaddr_in6 *)ss)->sin6_port ? 0 : -1;
    return -1;
}

/* listen_on - listen on spec with cb; 0 or -1 (message printed) */
static int listen_on(struct sink *k, const char *spec, evconnlistener_cb cb)
{
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC;
    struct evconnlistener *l;
    struct sockaddr_storage ss;
    struct stat st;
    int len;

    if (sockaddr_parse(spec, &ss, &len) != 0) {
        mbx_logmsg("bad address %s (want 127.0.0.1:PORT, [::1]:PORT or unix:/path)", spec);
        return -1;
    }
    if (ss.ss_family == AF_UNIX && lstat(spec + 5, &st) == 0 && S_ISSOCK(st.st_mode))
        unlink(spec + 5); /* a stale socket of an earlier run */
    l = evconnlistener_new_bind(k->base, cb, k, flags, -1, (struct sockaddr *)&ss, len);
    if (l == NULL) {
        mbx_logmsg("cannot listen on %s: %s", spec, strerror(errno));
        return -1;
    }
    k->listeners[k->nlisteners++] = l;
    if (ss.ss_family == AF_UNIX)
        k->unix_paths[k->nunix++] = spec + 5;
    return 0;
}

/* on_stop - SIGTERM, SIGINT: leave the loop */
static void on_stop(evutil_socket_t sig, short what, void *arg)
{
    struct sink *k = arg;

    (void)what;
    mbx_logmsg("signal %d: exiting", (int)sig);
    event_base_loopbreak(k->base);
}

/* on_usr1 - SIGUSR1: lose the newest message */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    mbx_logmsg("SIGUSR1: lost %ld", mbx_store_lose(arg, 1));
}

/* signals_add - install the signal events; -1 on failure */
static int signals_add(struct sink *k)
{
    static const int sigs[3] = {SIGTERM, SIGINT, SIGUSR1};

    for (int i = 0; i < 3; i++) {
        k->sigs[i] = evsignal_new(k->base, sigs[i], sigs[i] == SIGUSR1 ? on_usr1 : on_stop, k);
        if (k->sigs[i] == NULL || evsignal_add(k->sigs[i], NULL) != 0)
            return -1;
    }
    return 0;
}

/* sink_free - free everything, remove the unix sockets */
static void sink_free(struct sink *k)
{
    while (k->conns)
        mbx_conn_free(k->conns);
    for (size_t i = 0; i < k->nlisteners; i++)
        evconnlistener_free(k->listeners[i]);
    for (size_t i = 0; i < k->nunix; i++)
        unlink(k->unix_paths[i]);
    for (int i = 0; i < 3; i++)
        if (k->sigs[i])
            event_free(k->sigs[i]);
    for (size_t i = 0; i < k->nentries; i++)
        mbx_entry_clear(&k->entries[i]);
    free(k->entries);
    mbx_faults_clear(&k->faults);
    if (k->base)
        event_base_free(k->base);
}

/* usage - print the usage; return EX_USAGE */
static int usage(void)
{
    fputs("usage: mbxsink --listen ADDR [--listen ADDR]... --dir DIR [--lmtp]\n"
          "               [--control ADDR] [--name NAME]\n"
          "               [--fail-rcpt RCPT=CODE]... [--fail-lmtp RCPT=CODE]...\n"
          "               [--fail-mail CODE] [--fail-data CODE] [--fail-connect CODE]\n"
          "               [--drop-after-data]\n"
          "ADDR is 127.0.0.1:PORT, [::1]:PORT or unix:/path; CODE is 400 to 599\n",
          stderr);
    return EX_USAGE;
}

/* opt_rcpt_fault - --fail-rcpt / --fail-lmtp ADDR=CODE */
static int opt_rcpt_fault(struct sink *k, char *arg, int lmtp)
{
    char *eq = strrchr(arg, '=');
    int code;

    if (eq == NULL || eq == arg || (code = mbx_code_parse(eq + 1)) < 0) {
        mbx_logmsg("bad fault %s (want ADDR=CODE, CODE 400 to 599)", arg);
        return -1;
    }
    *eq = '\0';
    return mbx_fault_set_rcpt(&k->faults, mbx_addr_bare(arg), code, lmtp);
}

/* opt_code - a --fail-* CODE option into *slot */
static int opt_code(int *slot, const char *arg)
{
    if ((*slot = mbx_code_parse(arg)) < 0) {
        mbx_logmsg("bad code %s (want 400 to 599)", arg);
        return -1;
    }
    return 0;
}

struct opts {
    const char *listen[MBX_LISTEN_MAX];
    size_t nlisten;
    const char *control;
};

/* opt_apply - one option; -1 if it is wrong */
static int opt_apply(struct sink *k, struct opts *o, int ch, char *arg)
{
    switch (ch) {
    case 'l':
        if (o->nlisten >= MBX_LISTEN_MAX)
            return -1;
        o->listen[o->nlisten++] = arg;
        return 0;
    case 'L':
        k->lmtp = 1;
        return 0;
    case 'd':
        k->dir = arg;
        return 0;
    case 'c':
        o->control = arg;
        return 0;
    case 'n':
        k->name = arg;
        return strlen(arg) > 0 && strlen(arg) <= MBX_NAME_MAX ? 0 : -1;
    case 'r':
    case 'R':
        return opt_rcpt_fault(k, arg, ch == 'R');
    case 'm':
        return opt_code(&k->faults.mail, arg);
    case 'D':
        return opt_code(&k->faults.data, arg);
    case 'C':
        return opt_code(&k->faults.connect, arg);
    case 'x':
        k->faults.drop_data = 1;
        return 0;
    default:
        return -1;
    }
}

/* parse_args - the command line into k and o; -1 if it is wrong */
static int parse_args(int argc, char **argv, struct sink *k, struct opts *o)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'},
        {"lmtp", no_argument, NULL, 'L'},
        {"dir", required_argument, NULL, 'd'},
        {"control", required_argument, NULL, 'c'},
        {"name", required_argument, NULL, 'n'},
        {"fail-rcpt", required_argument, NULL, 'r'},
        {"fail-lmtp", required_argument, NULL, 'R'},
        {"fail-mail", required_argument, NULL, 'm'},
        {"fail-data", required_argument, NULL, 'D'},
        {"fail-connect", required_argument, NULL, 'C'},
        {"drop-after-data", no_argument, NULL, 'x'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int ch;

    k->name = "mbxsink";
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (opt_apply(k, o, ch, optarg) != 0)
            return -1;
    if (optind != argc || o->nlisten == 0 || k->dir == NULL)
        return -1;
    return 0;
}

/* dir_prepare - DIR exists (created if missing) and is a directory */
static int dir_prepare(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        mbx_logmsg("cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        mbx_logmsg("%s is not a directory", dir);
        return -1;
    }
    return 0;
}

/* start - open the store, listen, install the signals; a sysexits code or 0 */
static int start(struct sink *k, const struct opts *o)
{
    if (dir_prepare(k->dir) != 0)
        return EX_CANTCREAT;
    if (mbx_index_load(k) != 0) {
        mbx_logmsg("cannot read %s/index.tsv: %s", k->dir, strerror(errno));
        return EX_IOERR;
    }
    if ((k->base = event_base_new()) == NULL || signals_add(k) != 0) {
        mbx_logmsg("cannot set up the event loop");
        return EX_OSERR;
    }
    for (size_t i = 0; i < o->nlisten; i++)
        if (listen_on(k, o->listen[i], mbx_smtp_accept_cb) != 0)
            return EX_OSERR;
    if (o->control && listen_on(k, o->control, mbx_ctl_accept_cb) != 0)
        return EX_OSERR;
    return 0;
}

int main(int argc, char **argv)
{
    struct sink k;
    struct opts o;
    int rc;

    memset(&k, 0, sizeof(k));
    memset(&o, 0, sizeof(o));
    if (parse_args(argc, argv, &k, &o) != 0) {
        mbx_faults_clear(&k.faults);
        return usage();
    }
    signal(SIGPIPE, SIG_IGN);
    if ((rc = start(&k, &o)) == 0) {
        printf("mbxsink ready\n");
        fflush(stdout);
        mbx_logmsg("listening (%s), storing in %s", k.lmtp ? "LMTP" : "SMTP", k.dir);
        event_base_dispatch(k.base);
    }
    sink_free(&k);
    return rc;
}
