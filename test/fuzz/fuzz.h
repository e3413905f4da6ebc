/*
 * fuzz: what the libFuzzer harnesses share.
 *
 * Each harness checks its invariants with FUZZ_CHECK, which names the
 * failed condition on standard error and aborts: libFuzzer then saves the
 * input as a crash. Nothing here is linked into pop2d.
 */
#ifndef POP2_FUZZ_H
#define POP2_FUZZ_H

#include <sys/mman.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: invariant failed: %s\n",       \
			    __FILE__, __LINE__, #cond);                        \
			abort();                                               \
		}                                                              \
	} while (0)

/* libFuzzer's entry points; declared here for -Wmissing-prototypes. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An anonymous in-memory file; aborts when there is none. */
static inline int
fuzz_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	FUZZ_CHECK(fd != -1);
	return fd;
}

/* Makes the file at FD hold exactly the SIZE octets at DATA. */
static inline void
fuzz_memfd_set(int fd, const uint8_t *data, size_t size)
{
	size_t done;
	ssize_t r;

	FUZZ_CHECK(ftruncate(fd, 0) == 0);
	for (done = 0; done < size; done += (size_t)r) {
		r = pwrite(fd, data + done, size - done, (off_t)done);
		FUZZ_CHECK(r > 0 || (r == -1 && errno == EINTR));
		if (r == -1)
			r = 0;
	}
}

#endif
