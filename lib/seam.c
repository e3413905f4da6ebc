/*
 * seam: test-only crash, stop and failure points (seam.h). The variables
 * are read with secure_getenv: a set-group-ID pop2-lock of a test build
 * ignores them, so that its caller cannot steer it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "seam.h"
#include "util.h"

#ifdef POP2_TEST_SEAMS
/* The calls seam_fail() has failed in this process (seam_failures()). */
static unsigned long failures;

/* The errno names the fault tests use; anything else is given as a number. */
static const struct {
	const char *name;
	int value;
} errno_names[] = {
	{ "EACCES", EACCES },
	{ "EAGAIN", EAGAIN },
	{ "EBADF", EBADF },
	{ "EDQUOT", EDQUOT },
	{ "EEXIST", EEXIST },
	{ "EINTR", EINTR },
	{ "EINVAL", EINVAL },
	{ "EIO", EIO },
	{ "EMFILE", EMFILE },
	{ "ENOENT", ENOENT },
	{ "ENOMEM", ENOMEM },
	{ "ENOSPC", ENOSPC },
	{ "EPERM", EPERM },
	{ "EROFS", EROFS },
	{ "ESTALE", ESTALE },
	{ "EXDEV", EXDEV },
};

static int
errno_value(const char *s, size_t len)
{
	unsigned long v;
	char num[16];
	size_t i;

	for (i = 0; i < sizeof(errno_names) / sizeof(errno_names[0]); i++)
		if (strlen(errno_names[i].name) == len &&
		    memcmp(errno_names[i].name, s, len) == 0)
			return errno_names[i].value;
	if (len == 0 || len >= sizeof(num))
		return EIO;
	memcpy(num, s, len);
	num[len] = '\0';
	if (util_parse_ulong(num, 1, 4095, &v) == -1)
		return EIO;
	return (int)v;
}
#endif

void
seam_point(const char *step)
{
#ifdef POP2_TEST_SEAMS
	const char *at;

	at = secure_getenv("POP2_CRASH_AT");
	if (at != NULL && strcmp(at, step) == 0)
		(void)kill(getpid(), SIGKILL);
	at = secure_getenv("POP2_STOP_AT");
	if (at != NULL && strcmp(at, step) == 0)
		(void)kill(getpid(), SIGSTOP);
#else
	(void)step;
#endif
}

bool
seam_fail(const char *step)
{
#ifdef POP2_TEST_SEAMS
	/*
	 * Calls of the named step seen so far in this process, counted
	 * afresh whenever POP2_FAIL_AT changes or is unset (a unit suite
	 * that runs its cases in one process sets it once per case, and may
	 * set the same value again after an unset).
	 */
	static unsigned long calls;
	static char counted[128];
	const char *at, *colon, *count;
	unsigned long nth = 1;
	size_t steplen = strlen(step);
	char num[24];
	int err;

	at = secure_getenv("POP2_FAIL_AT");
	if (at == NULL)
		counted[0] = '\0';
	if (at == NULL || strncmp(at, step, steplen) != 0 || at[steplen] != ':')
		return false;
	colon = at + steplen + 1;
	count = strchr(colon, ':');
	err = errno_value(
	    colon, count != NULL ? (size_t)(count - colon) : strlen(colon));
	if (strncmp(counted, at, sizeof(counted)) != 0) {
		(void)util_strlcpy(counted, at, sizeof(counted));
		calls = 0;
	}
	calls++;
	if (count != NULL) {
		if (strcmp(count + 1, "*") == 0)
			nth = 0;
		else if (util_strlcpy(num, count + 1, sizeof(num)) >=
			sizeof(num) ||
		    util_parse_ulong(num, 1, 1000000000UL, &nth) == -1)
			nth = 1;
	}
	if (nth != 0 && calls != nth)
		return false;
	failures++;
	errno = err;
	return true;
#else
	(void)step;
	return false;
#endif
}

unsigned long
seam_failures(void)
{
#ifdef POP2_TEST_SEAMS
	return failures;
#else
	return 0;
#endif
}

unsigned long long
seam_number(const char *name, unsigned long long dflt, unsigned long long min,
    unsigned long long max)
{
#ifdef POP2_TEST_SEAMS
	const char *s = secure_getenv(name);
	unsigned long long v;

	if (s != NULL && util_parse_ull(s, min, max, &v) == 0)
		return v;
#else
	(void)name;
	(void)min;
	(void)max;
#endif
	return dflt;
}

long
seam_login_delay_ms(long default_ms)
{
	return (long)seam_number(
	    "POP2_LOGIN_DELAY_MS", (unsigned long long)default_ms, 0, 600000);
}

bool
seam_enabled(void)
{
#ifdef POP2_TEST_SEAMS
	return true;
#else
	return false;
#endif
}
