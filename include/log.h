/*
 * log.h - one line per event, in Postfix's format
 *
 * "Nov 25 10:27:10 HOST dumpsterd/PROC[PID]: QUEUEID: ..." to stderr, or to
 * syslog (LOG_MAIL) after log_use_syslog(). Safe from any thread: each line
 * is written with a single write(), or, after log_batch_on(), the loop
 * thread's info lines are written together at the end of a loop pass.
 */
#ifndef DD_LOG_H
#define DD_LOG_H

#include <stdbool.h>
#include <syslog.h>

struct event_base;

/* log_init - name the process ("hub1") for the line prefix. */
void log_init(const char *hub_name);
/* log_use_syslog - send lines to syslog(LOG_MAIL) instead of stderr. */
void log_use_syslog(void);

/* log_batch_on - the calling thread runs base: collect its info lines and
 * write them once per loop pass (warnings and errors go at once). -1 when
 * lines go to syslog or without memory: then every line goes at once. */
int log_batch_on(struct event_base *base);
/* log_batch_off - write what waits and stop collecting (before the loop
 * is freed). */
void log_batch_off(void);
/* log_flush - write what the loop thread collected (loop thread only). */
void log_flush(void);

/* log_msg - log at priority prio (LOG_INFO, LOG_WARNING, LOG_ERR) for the
 * component proc ("smtpd", "store", "main"). */
void log_msg(int prio, const char *proc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_info(proc, ...) log_msg(LOG_INFO, proc, __VA_ARGS__)
#define log_warn(proc, ...) log_msg(LOG_WARNING, proc, __VA_ARGS__)
#define log_err(proc, ...) log_msg(LOG_ERR, proc, __VA_ARGS__)

#endif
