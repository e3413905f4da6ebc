#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "seam.h"
#include "state.h"
#include "util.h"

/* How many NAME.refused.K names state_set_aside() tries. */
#define ASIDE_MAX 100

static void
free_keep_errno(void *p)
{
	int saved = errno;

	free(p);
	errno = saved;
}

/* Whether a directory of status ST may steer what pop2d writes. */
static const char *
dir_unsafe(const struct stat *st, uid_t uid)
{
	if (!S_ISDIR(st->st_mode))
		return "not a directory";
	if (st->st_uid != 0 && st->st_uid != uid)
		return "owned by neither root nor pop2d's user";
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return "writable by group or others";
	return NULL;
}

/*
 * Checks PATH (absolute: both callers make sure) and each directory above
 * it, as written: stat() follows a symbolic link to the directory it
 * names, and the directory holding the link is checked as the next one
 * up, so nobody but root (or UID) can swap any part of the way.
 */
static int
chain_safe(const char *path, uid_t uid, char **bad, const char **why)
{
	char *p = strdup(path);
	struct stat st;
	int r = -1;

	if (p == NULL)
		return -1;
	for (;;) {
		if (stat(p[0] != '\0' ? p : "/", &st) == -1)
			break;
		if ((*why = dir_unsafe(&st, uid)) != NULL) {
			/* The offending directory is what is left of P. */
			if (p[0] == '\0') {
				p[0] = '/';
				p[1] = '\0';
			}
			*bad = p;
			errno = EPERM;
			return -1;
		}
		if (p[0] == '\0') {
			r = 0;
			break;
		}
		/* Each turn cuts P at its last '/': "" is the root. */
		*strrchr(p, '/') = '\0';
	}
	free_keep_errno(p);
	return r;
}

int
state_dir_safe(const char *statedir, uid_t uid, char **bad, const char **why)
{
	struct stat st;
	char *real;
	int r;

	*bad = NULL;
	if (lstat(statedir, &st) == -1)
		return -1;
	if (S_ISLNK(st.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (statedir[0] != '/') {
		errno = EINVAL;
		return -1;
	}
	/* The way as written (links and their folders), then where it leads. */
	if (chain_safe(statedir, uid, bad, why) == -1)
		return -1;
	real = realpath(statedir, NULL);
	if (real == NULL)
		return -1;
	r = chain_safe(real, uid, bad, why);
	free_keep_errno(real);
	return r;
}

int
state_make_dir(const char *path)
{
	int fd;

	if (mkdir(path, 0700) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	/* Whatever the umask: the users' folders must be reachable. */
	if (fchown(fd, 0, 0) == -1 || fchmod(fd, 0755) == -1)
		return util_close_keep_errno(fd);
	close(fd);
	return 0;
}

/*
 * Opens STATEDIR/USER, making it (0700) when missing; *MADE tells whether
 * it was made now. Neither the state directory's last part nor USER may be
 * a symbolic link.
 */
static int
open_user_dir(const char *statedir, const char *user, int *made)
{
	int top, fd;

	if (user[0] == '\0' || strchr(user, '/') != NULL ||
	    strcmp(user, ".") == 0 || strcmp(user, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	top = seam_fail("state.open")
	    ? -1
	    : open(statedir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (top == -1)
		return -1;
	*made = !seam_fail("state.mkdir") && mkdirat(top, user, 0700) == 0;
	if (!*made && errno != EEXIST)
		return util_close_keep_errno(top);
	fd = seam_fail("state.open-user")
	    ? -1
	    : openat(
		  top, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return util_close_keep_errno(top);
	close(top);
	return fd;
}

int
state_prepare(const char *statedir, const char *user, uid_t uid, gid_t gid)
{
	struct stat st;
	int made, fd = open_user_dir(statedir, user, &made);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		return util_close_keep_errno(fd);
	if (st.st_uid == uid) {
		close(fd);
		return 0;
	}
	/*
	 * Only root can make entries in a safe state directory, so a folder
	 * of root's is ours, left by a run killed before the fchown. One of
	 * any other uid may hold that uid's journal: never adopt it.
	 */
	if (st.st_uid != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	/* Through the descriptor: a swapped-in link cannot redirect the change.
	 */
	if (seam_fail("state.fchown") || fchown(fd, uid, gid) == -1 ||
	    fchmod(fd, 0700) == -1)
		return util_close_keep_errno(fd);
	close(fd);
	return 0;
}

int
state_open(const char *statedir, const char *user)
{
	struct stat st;
	int made, fd = open_user_dir(statedir, user, &made);

	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		return util_close_keep_errno(fd);
	/* Another user's journal must never be taken for ours. */
	if (st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* Why a file of status ST in a state folder is not to be used, or NULL. */
static const char *
file_unsafe(const struct stat *st, uid_t uid)
{
	if (S_ISLNK(st->st_mode))
		return "a symbolic link";
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != uid)
		return "owned by another uid";
	if (st->st_nlink != 1)
		return "linked more than once";
	return NULL;
}

int
state_open_file(int dirfd, const char *name, int flags, mode_t mode, uid_t uid,
    const char **why)
{
	struct stat st, fst;
	int fd, exists;

	*why = NULL;
	exists = fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (!exists && (errno != ENOENT || (flags & O_CREAT) == 0))
		return -1;
	/* Told from the name alone: a FIFO or a device is never opened. */
	if (exists && (*why = file_unsafe(&st, uid)) != NULL) {
		errno = EPERM;
		return -1;
	}
	fd = openat(dirfd, name,
	    flags | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd == -1) {
		if (errno == ELOOP) {
			*why = "a symbolic link";
			errno = EPERM;
		}
		return -1;
	}
	/* It may have been swapped since fstatat: the descriptor decides. */
	if (fstat(fd, &fst) == -1)
		return util_close_keep_errno(fd);
	if ((*why = file_unsafe(&fst, uid)) != NULL) {
		close(fd);
		errno = EPERM;
		return -1;
	}
	return fd;
}

int
state_set_aside(int dirfd, const char *name, char *aside, size_t size)
{
	char to[NAME_MAX + 1];
	int k, n;

	for (k = 0; k < ASIDE_MAX; k++) {
		if (k == 0)
			n = snprintf(to, sizeof(to), "%s.refused", name);
		else
			n = snprintf(to, sizeof(to), "%s.refused.%d", name, k);
		if (n < 0 || (size_t)n >= sizeof(to)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		/* RENAME_NOREPLACE: an earlier refused file stays as it is. */
		if (renameat2(dirfd, name, dirfd, to, RENAME_NOREPLACE) == 0) {
			(void)fsync(dirfd);
			util_strlcpy(aside, to, size);
			return 0;
		}
		if (errno != EEXIST)
			return -1;
	}
	errno = EEXIST;
	return -1;
}

/* Whether NAME ends in ".tmp" (and is more than that). */
static int
is_tmp_name(const char *name)
{
	size_t len = strlen(name);

	return len > 4 && strcmp(name + len - 4, ".tmp") == 0;
}

int
state_remove_leftovers(int dirfd, uid_t uid)
{
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int fd, removed = 0;

	if ((fd = dup(dirfd)) == -1)
		return -1;
	if ((dir = fdopendir(fd)) == NULL)
		return util_close_keep_errno(fd);
	rewinddir(dir);
	for (;;) {
		errno = 0;
		/* cppcheck-suppress readdirCalled ; one thread, one stream */
		if ((de = readdir(dir)) == NULL)
			break;
		if (!is_tmp_name(de->d_name))
			continue;
		/* Only what a killed commit of this user can have left. */
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) ==
			-1 ||
		    file_unsafe(&st, uid) != NULL)
			continue;
		if (!seam_fail("state.unlink") &&
		    unlinkat(dirfd, de->d_name, 0) == 0)
			removed++;
	}
	if (errno != 0) {
		closedir(dir);
		return -1;
	}
	closedir(dir);
	if (removed > 0)
		(void)fsync(dirfd);
	return removed;
}
