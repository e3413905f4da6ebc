/*
 * log: one line per event to syslog, optionally copied to standard error.
 */
#ifndef POP2_LOG_H
#define POP2_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

/* Opens syslog as IDENT with facility mail; COPY_STDERR copies each line (-d). */
void log_open(const char *ident, bool copy_stderr);

/* Logs one line at PRIORITY (a LOG_ level, optionally ORed with a facility). */
void log_msg(int priority, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Room for one client-supplied string escaped by log_escape(), NUL included. */
#define LOG_FIELD_MAX 256

/*
 * Copies SRC into DST (SIZE octets, SIZE > 0, always NUL-terminated) fit
 * for one log line: octets up to the space, 0x7f and above, and the backslash
 * become \xHH, so that a client's string can neither end the line nor
 * forge a field. A copy that does not fit is cut at an escape's boundary
 * and ends in "...". Returns DST.
 */
char *log_escape(char *dst, size_t size, const char *src);

#endif
