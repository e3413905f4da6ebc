#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
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

char *
log_escape(char *dst, size_t size, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)src;
	size_t n = 0;

	for (; *p != '\0'; p++) {
		bool plain = *p > ' ' && *p < 0x7f && *p != '\\';
		size_t need = plain ? 1 : 4;

		/* Room for this, "..." and the NUL. */
		if (n + need + 4 > size) {
			if (n + 4 <= size) {
				memcpy(dst + n, "...", 3);
				n += 3;
			}
			break;
		}
		if (plain) {
			dst[n++] = (char)*p;
		} else {
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[*p >> 4];
			dst[n++] = hex[*p & 0xf];
		}
	}
	dst[n] = '\0';
	return dst;
}
