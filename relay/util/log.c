/*
 * log.c - Postfix-format log lines to stderr or syslog
 *
 * Existing mail log tooling (pflogsumm, grep on queue ids) parses these
 * lines, so the layout is Postfix's: timestamp, host, program/process[pid].
 *
 * After log_batch_on(), the loop thread's info lines are collected and
 * written together once the loop has run the callbacks that were ready
 * (one write for many lines under load); warnings and errors, and lines
 * of other threads, are written at once, after what was collected.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "log.h"

static char log_host[65] = "dumpsterd";
static bool log_syslog;
static long log_pid;

#define LOG_LINE_MAX 2300
#define LOG_BATCH_MAX (16 * 1024)
static char log_batch[LOG_BATCH_MAX];
static size_t log_batch_len;
static struct event *log_batch_ev; /* NULL: every line written at once */
static pthread_t log_batch_thread;

/* log_write - one write; a log line has nowhere else to go on failure */
static void log_write(const char *p, size_t n)
{
    ssize_t w = write(STDERR_FILENO, p, n);
    (void)w;
}

/* log_flush - write what the loop thread collected */
void log_flush(void)
{
    if (log_batch_len == 0)
        return;
    log_write(log_batch, log_batch_len);
    log_batch_len = 0;
}

/* log_batch_cb - the loop ran the callbacks that were ready */
static void log_batch_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    log_flush();
}

/* log_batch_on - collect the calling (loop) thread's info lines */
int log_batch_on(struct event_base *base)
{
    if (log_syslog || (log_batch_ev = event_new(base, -1, 0, log_batch_cb, NULL)) == NULL)
        return -1;
    log_batch_thread = pthread_self();
    return 0;
}

/* log_batch_off - write what waits; every line at once from now on */
void log_batch_off(void)
{
    if (log_batch_ev == NULL)
        return;
    log_flush();
    event_free(log_batch_ev);
    log_batch_ev = NULL;
}

/* log_emit - collect or write one formatted line */
static void log_emit(int prio, const char *line, size_t n)
{
    bool mine = log_batch_ev != NULL && pthread_equal(pthread_self(), log_batch_thread);

    if (mine && prio > LOG_WARNING) {
        if (log_batch_len + n > sizeof(log_batch))
            log_flush();
        if (log_batch_len == 0)
            event_active(log_batch_ev, EV_TIMEOUT, 0);
        memcpy(log_batch + log_batch_len, line, n);
        log_batch_len += n;
        return;
    }
    if (mine)
        log_flush();
    log_write(line, n);
}

/* log_init - name the hub for the line prefix */
void log_init(const char *hub_name)
{
    snprintf(log_host, sizeof(log_host), "%s", hub_name);
    log_pid = (long)getpid();
}

/* log_use_syslog - switch to syslog(LOG_MAIL) */
void log_use_syslog(void)
{
    openlog("dumpsterd", LOG_PID | LOG_NDELAY, LOG_MAIL);
    log_syslog = true;
}

/* log_msg - format one line and write it at once */
void log_msg(int prio, const char *proc, const char *fmt, ...)
{
    char body[2048];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    for (char *p = body; *p; p++) /* one line whatever a peer sent: no CR, LF or ESC */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    if (log_syslog) {
        syslog(prio, "%s: %s", proc, body);
        return;
    }
    char line[LOG_LINE_MAX];
    char stamp[32];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
    const char *level = prio <= LOG_ERR ? "error: " : prio == LOG_WARNING ? "warning: " : "";
    int n = snprintf(line, sizeof(line), "%s %s dumpsterd/%s[%ld]: %s%s\n", stamp, log_host, proc,
                     log_pid ? log_pid : (long)getpid(), level, body);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    log_emit(prio, line, (size_t)n);
}
