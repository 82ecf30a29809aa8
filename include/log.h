/*
 * log.h - one line per event, in Postfix's format
 *
 * "Nov 25 10:27:10 HOST dumpsterd/PROC[PID]: QUEUEID: ..." to stderr, or to
 * syslog (LOG_MAIL) after log_use_syslog(). Safe from any thread: each line
 * is written with a single write().
 */
#ifndef DD_LOG_H
#define DD_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* log_init - name the process ("hub1") for the line prefix. */
void log_init(const char *hub_name);
/* log_use_syslog - send lines to syslog(LOG_MAIL) instead of stderr. */
void log_use_syslog(void);

/* log_msg - log at priority prio (LOG_INFO, LOG_WARNING, LOG_ERR) for the
 * component proc ("smtpd", "store", "main"). */
void log_msg(int prio, const char *proc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(proc, ...) log_msg(LOG_INFO, proc, __VA_ARGS__)
#define log_warn(proc, ...) log_msg(LOG_WARNING, proc, __VA_ARGS__)
#define log_err(proc, ...) log_msg(LOG_ERR, proc, __VA_ARGS__)

#endif
