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

#define LOG_BODY_MAX 2048 /* with its NUL */
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

/* log_stamp - "Mmm dd HH:MM:SS" of now, formatted once a second per thread
 * (localtime_r takes a lock and looks at the zone on every call) */
static size_t log_stamp(char *out, size_t cap)
{
    static _Thread_local time_t last = -1;
    static _Thread_local char stamp[32];
    static _Thread_local size_t len;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != last) {
        struct tm tm;
        localtime_r(&ts.tv_sec, &tm);
        len = strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
        last = ts.tv_sec;
    }
    if (len >= cap)
        return 0;
    memcpy(out, stamp, len + 1);
    return len;
}

/* log_clean - one line whatever a peer sent: no CR, LF or ESC */
static void log_clean(char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
            p[i] = '?';
}

/* log_msg - format one line and write it at once: the prefix, then the
 * body formatted in place after it */
void log_msg(int prio, const char *proc, const char *fmt, ...)
{
    char line[LOG_LINE_MAX];
    va_list ap;

    if (log_syslog) {
        char body[2048];
        va_start(ap, fmt);
        vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
        log_clean(body, strlen(body));
        syslog(prio, "%s: %s", proc, body);
        return;
    }
    const char *level = prio <= LOG_ERR ? "error: " : prio == LOG_WARNING ? "warning: " : "";
    size_t n = log_stamp(line, sizeof(line));
    int k = snprintf(line + n, sizeof(line) - n, " %s dumpsterd/%s[%ld]: %s", log_host, proc,
                     log_pid ? log_pid : (long)getpid(), level);
    if (k < 0 || (size_t)k >= sizeof(line) - n - LOG_BODY_MAX - 2)
        return; /* a prefix that long is a bug: the names are bounded */
    n += (size_t)k;
    va_start(ap, fmt);
    k = vsnprintf(line + n, LOG_BODY_MAX, fmt, ap);
    va_end(ap);
    if (k < 0)
        return;
    size_t body = (size_t)k < LOG_BODY_MAX ? (size_t)k : LOG_BODY_MAX - 1;
    log_clean(line + n, body);
    n += body;
    line[n++] = '\n';
    log_emit(prio, line, n);
}
