#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

/* Closes FD keeping errno, and returns -1 for the caller to pass on. */
static int
close_fail(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
	return -1;
}

/*
 * Opens STATEDIR/USER, making it (0700) when missing. Neither the state
 * directory's last part nor USER may be a symbolic link.
 */
static int
open_user_dir(const char *statedir, const char *user)
{
	int top, fd;

	if (user[0] == '\0' || strchr(user, '/') != NULL ||
	    strcmp(user, ".") == 0 || strcmp(user, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	top = open(statedir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top == -1)
		return -1;
	if (mkdirat(top, user, 0700) == -1 && errno != EEXIST)
		return close_fail(top);
	fd = openat(top, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return close_fail(top);
	close(top);
	return fd;
}

int
state_prepare(const char *statedir, const char *user, uid_t uid, gid_t gid)
{
	int fd = open_user_dir(statedir, user);

	if (fd == -1)
		return -1;
	/* Through the descriptor: a swapped-in link cannot redirect the change. */
	if (fchown(fd, uid, gid) == -1 || fchmod(fd, 0700) == -1)
		return close_fail(fd);
	close(fd);
	return 0;
}

int
state_open(const char *statedir, const char *user)
{
	struct stat st;
	int fd = open_user_dir(statedir, user);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		return close_fail(fd);
	/* Another user's journal must never be taken for ours. */
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}
