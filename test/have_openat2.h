/*
 * have_openat2: whether the running kernel (and valgrind, and seccomp)
 * has openat2, for the unit suites whose expectations depend on it.
 */
#ifndef POP2_TEST_HAVE_OPENAT2_H
#define POP2_TEST_HAVE_OPENAT2_H

#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

static inline bool
have_openat2(void)
{
#ifdef SYS_openat2
	uint64_t how[3] = { O_RDONLY | O_CLOEXEC, 0, 0 };
	long fd = syscall(SYS_openat2, AT_FDCWD, "/", how, sizeof(how));

	if (fd >= 0) {
		(void)close((int)fd);
		return true;
	}
	return errno != ENOSYS;
#else
	return false;
#endif
}

#endif
