/*
 * maildrop: the table of folder formats, and what the formats share.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "maildrop.h"
#include "seam.h"

/*
 * Every format, one line each. A folder beneath the folder directory goes
 * to the first that claims it; an INBOX path to the one its prefix names,
 * or to the first with an empty prefix, which the table must hold.
 */
const struct maildrop_ops *const maildrop_formats[] = {
	&maildrop_mbox,
	&maildrop_maildir,
	NULL,
};

const struct maildrop_ops *
maildrop_format(const char *spec, const char **path)
{
	const struct maildrop_ops *dflt = NULL;
	size_t i, len;

	for (i = 0; maildrop_formats[i] != NULL; i++) {
		len = strlen(maildrop_formats[i]->prefix);
		if (len == 0 && dflt == NULL)
			dflt = maildrop_formats[i];
		else if (len > 0 &&
		    strncmp(spec, maildrop_formats[i]->prefix, len) == 0) {
			*path = spec + len;
			return maildrop_formats[i];
		}
	}
	*path = spec;
	return dflt;
}

int
maildrop_lock_wait(int seconds)
{
	return (int)seam_number(
	    "POP2_LOCK_WAIT", (unsigned long long)seconds, 0, 3600);
}

uint64_t
maildrop_journal_max(uint64_t journal_max)
{
	return seam_number(
	    "POP2_JOURNAL_MAX", journal_max, 4096, (uint64_t)1 << 40);
}

void
maildrop_refresh_dot(void *arg)
{
	lock_dot_refresh(arg);
}

int
maildrop_open_file(const char *path, bool *writable)
{
	int flags = O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
	int fd = seam_fail("store.open") ? -1 : open(path, flags | O_RDWR);

	*writable = fd != -1;
	if (fd == -1 && (errno == EACCES || errno == EROFS))
		fd = open(path, flags | O_RDONLY);
	return fd;
}

int
maildrop_real_path(int fd, char **out)
{
	char proc[64], *buf = NULL, *p;
	size_t size = 256;
	ssize_t n;
	int saved;

	*out = NULL;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	/* readlink(2) tells no length: a name that fills the buffer may be cut. */
	for (;; size *= 2) {
		if ((p = realloc(buf, size)) == NULL)
			break;
		buf = p;
		if ((n = readlink(proc, buf, size)) == -1)
			break;
		if ((size_t)n < size) {
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
	}
	saved = errno;
	free(buf);
	errno = saved;
	return -1;
}
