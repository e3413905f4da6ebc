#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "log.h"

static bool log_to_stderr;
static const char *log_ident = "pop2d";

void
log_open(const char *ident, bool copy_stderr)
{
	log_ident = ident;
	log_to_stderr = copy_stderr;
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void
log_msg(int priority, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	syslog(priority, "%s", line);
	/* Lines sent to another facility as well are copied only once. */
	if (log_to_stderr && (priority & LOG_FACMASK) == 0)
		dprintf(STDERR_FILENO, "%s[%ld]: %s\n", log_ident,
		    (long)getpid(), line);
}
