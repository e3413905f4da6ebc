/*
 * log: one line per event to syslog, optionally copied to standard error.
 */
#ifndef POP2_LOG_H
#define POP2_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* Opens syslog as IDENT with facility mail; COPY_STDERR copies each line (-d). */
void log_open(const char *ident, bool copy_stderr);

/* Logs one line at PRIORITY (a LOG_ level, optionally ORed with a facility). */
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
