#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_LINUX_OPENAT2_H
#include <linux/openat2.h>
#endif

#include "folder.h"
#include "util.h"

/*
 * Without SYS_openat2 the C library cannot even name the system call, so
 * the component walk is the only resolver.
 */
#ifdef SYS_openat2
#define FOLDER_HAVE_OPENAT2 1
#ifndef HAVE_LINUX_OPENAT2_H
/* The kernel's ABI (OPEN_HOW_SIZE_VER0) when the header is missing. */
struct open_how {
	uint64_t flags;
	uint64_t mode;
	uint64_t resolve;
};
#define RESOLVE_NO_MAGICLINKS 0x02
#define RESOLVE_BENEATH 0x08
#endif
#endif

/*
 * openat2 answers EAGAIN when a rename races a ".." taken from a symbolic
 * link's target; the man page leaves the retry to the caller.
 */
#define OPENAT2_TRIES 4

bool
folder_name_ok(const char *name)
{
	const unsigned char *p;
	size_t complen = 0;

	if (name == NULL || name[0] == '\0' || name[0] == '/' ||
	    name[0] == '~' || strnlen(name, PATH_MAX) >= PATH_MAX)
		return false;
	for (p = (const unsigned char *)name;; p++) {
		if (*p == '/' || *p == '\0') {
			const unsigned char *comp = p - complen;

			/*
			 * Empty and "." components are refused as well as
			 * "..": then each folder has one spelling only, and
			 * no name can designate the folder directory itself.
			 */
			if (complen == 0 || (complen == 1 && comp[0] == '.') ||
			    (complen == 2 && comp[0] == '.' && comp[1] == '.'))
				return false;
			if (*p == '\0')
				return true;
			complen = 0;
			continue;
		}
		/* Octets from 0x80 up are allowed so that UTF-8 names work. */
		if (*p < 0x20 || *p == 0x7f)
			return false;
		complen++;
	}
}

/* Returns -1 with errno ENOSYS where openat2 cannot be called. */
static int
open_beneath(int dirfd, const char *name, int oflags)
{
#ifdef FOLDER_HAVE_OPENAT2
	struct open_how how;
	int tries, fd = -1;

	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(unsigned int)oflags;
	how.mode = 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (tries = 0; tries < OPENAT2_TRIES; tries++) {
		fd = (int)syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
		if (fd != -1 || errno != EAGAIN)
			break;
	}
	return fd;
#else
	(void)dirfd;
	(void)name;
	(void)oflags;
	errno = ENOSYS;
	return -1;
#endif
}

/*
 * Resolves NAME (already checked by folder_name_ok) one component at a
 * time. Every directory is opened with O_PATH|O_NOFOLLOW and then
 * inspected, so that a symbolic link is seen as one rather than followed;
 * the last component is opened with O_NOFOLLOW. Since ".." cannot occur,
 * nothing outside DIRFD is reachable.
 */
static int
open_walk(int dirfd, const char *name, int oflags)
{
	char comp[NAME_MAX + 1];
	struct stat st;
	const char *p = name, *slash;
	int cur = dirfd, fd;
	size_t len;

	while ((slash = strchr(p, '/')) != NULL) {
		len = (size_t)(slash - p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		fd = openat(cur, comp, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd == -1)
			goto fail;
		if (fstat(fd, &st) == -1) {
			util_close_keep_errno(fd);
			goto fail;
		}
		if (!S_ISDIR(st.st_mode)) {
			(void)close(fd);
			errno = S_ISLNK(st.st_mode) ? ELOOP : ENOTDIR;
			goto fail;
		}
		if (cur != dirfd)
			(void)close(cur);
		cur = fd;
		p = slash + 1;
	}
	fd = openat(cur, p, oflags | O_NOFOLLOW);
	/* With O_DIRECTORY the kernel reports a final link as ENOTDIR. */
	if (fd == -1 && errno == ENOTDIR && (oflags & O_DIRECTORY) &&
	    fstatat(cur, p, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		errno = ELOOP;
	if (cur != dirfd)
		util_close_keep_errno(cur);
	return fd;

fail:
	if (cur != dirfd)
		util_close_keep_errno(cur);
	return -1;
}

/*
 * The common part of folder_open and folder_open_walk: the checks, the
 * added flags, and the type check after opening. USE_OPENAT2 says whether
 * openat2 may be tried before the walk.
 */
static int
open_folder(int dirfd, const char *name, int flags, bool use_openat2)
{
	struct stat st;
	int oflags, fd, fl;
	bool added_nonblock;

	if (name != NULL && strnlen(name, PATH_MAX) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (!folder_name_ok(name)) {
		errno = EPERM;
		return -1;
	}
	/*
	 * Opening never creates anything; an O_PATH descriptor could not be
	 * read and cannot have O_NONBLOCK cleared.
	 */
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ||
	    (flags & O_PATH)) {
		errno = EINVAL;
		return -1;
	}
	/*
	 * O_NONBLOCK keeps a FIFO named as a folder from blocking the open
	 * until a writer appears; it is cleared again once the descriptor is
	 * known to be a regular file or a directory.
	 */
	added_nonblock = (flags & O_NONBLOCK) == 0;
	oflags = flags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
#ifdef O_LARGEFILE
	/* The raw system call does not get the flag that glibc's open adds. */
	oflags |= O_LARGEFILE;
#endif

	fd = -1;
	if (use_openat2)
		fd = open_beneath(dirfd, name, oflags);
	/* A kernel or a seccomp filter without openat2 answers ENOSYS. */
	if (!use_openat2 || (fd == -1 && errno == ENOSYS))
		fd = open_walk(dirfd, name, oflags);
	if (fd == -1)
		return -1;

	if (fstat(fd, &st) == -1)
		goto fail;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	if (added_nonblock) {
		if ((fl = fcntl(fd, F_GETFL)) == -1 ||
		    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
			goto fail;
	}
	return fd;

fail:
	util_close_keep_errno(fd);
	return -1;
}

int
folder_open(int dirfd, const char *name, int flags)
{
	return open_folder(dirfd, name, flags, true);
}

int
folder_open_walk(int dirfd, const char *name, int flags)
{
	return open_folder(dirfd, name, flags, false);
}
