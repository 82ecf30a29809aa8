/*
 * log.c - Postfix-format log lines to stderr or syslog
 *
 * Existing mail log tooling (pflogsumm, grep on queue ids) parses these
 * lines, so the layout is Postfix's: timestamp, host, program/process[pid].
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char log_host[65] = "dumpsterd";
static bool log_syslog;
static long log_pid;

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
    if (log_syslog) {
        syslog(prio, "%s: %s", proc, body);
        return;
    }
    char line[2300];
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
    ssize_t w = write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
