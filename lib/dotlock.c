/*
 * dotlock: liblockfile's NFS-safe dot-lock, as every Debian delivery agent
 * shares it: the lock file holds "PID\n", it is made by link()ing a unique
 * hitching post to the lock name, and a foreign lock is stale when its PID
 * is dead or when it has not been touched for DOTLOCK_STALE_SECONDS.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "seam.h"
#include "util.h"

/* liblockfile reads at most this much of a lock file to find the PID. */
#define PID_READ 16

/* A dot-lock holds at most a PID and a newline; anything larger is not one. */
#define LOCK_MAX_SIZE 32

/* Room for a host name (HOST_NAME_MAX) and its NUL. */
#define HOST_SIZE 65

/*
 * Opens the folder of the maildrop at PATH (O_PATH: only for the *at()
 * calls) and stores the name of its lock, BASE.lock, in NAME. Returns the
 * descriptor, or -1 with errno EINVAL (PATH ends without a file name),
 * ENAMETOOLONG, ENOMEM or the error of open().
 */
static int
dot_folder(const char *path, char name[NAME_MAX + 1])
{
	const char *slash = strrchr(path, '/');
	const char *base = slash == NULL ? path : slash + 1;
	const char *folder = slash == NULL ? "." : "/";
	char *dir = NULL;
	int fd, n, saved;

	if (*base == '\0') {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(name, NAME_MAX + 1, "%s.lock", base);
	if (n < 0 || n > NAME_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (slash != NULL && slash != path) {
		dir = strndup(path, (size_t)(slash - path));
		if (dir == NULL)
			return -1;
		folder = dir;
	}
	fd = open(folder, O_PATH | O_DIRECTORY | O_CLOEXEC);
	saved = errno;
	free(dir);
	errno = saved;
	return fd;
}

/* This host's name as a post name carries it. */
static void
post_host(char host[HOST_SIZE])
{
	size_t i;

	if (gethostname(host, HOST_SIZE) == -1)
		host[0] = '\0';
	host[HOST_SIZE - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++) {
		char c = host[i];

		/* Keep the post name a harmless file name whatever the host. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '-' || c == '.'))
			host[i] = '_';
	}
}

/*
 * Names the hitching post for the lock LOCKNAME: ".LOCKNAME.HOST.PID.RANDOM"
 * in the lock's folder, as liblockfile does, with LOCKNAME shortened to fit
 * NAME_MAX. The PID and the random part alone make it unique.
 */
static void
post_name(char post[NAME_MAX + 1], const char *lockname)
{
	char host[HOST_SIZE], suffix[HOST_SIZE + 48];
	size_t baselen = strlen(lockname);
	int n;

	post_host(host);
	/* At most 1 + 64 + 1 + 20 + 1 + 16 octets: it always fits. */
	n = snprintf(suffix, sizeof(suffix), ".%s.%ld.%016llx", host,
	    (long)getpid(), (unsigned long long)util_random64());
	if (baselen > NAME_MAX - 1 - (size_t)n)
		baselen = NAME_MAX - 1 - (size_t)n;
	snprintf(post, NAME_MAX + 1, ".%.*s%s", (int)baselen, lockname, suffix);
}

/* Whether a write failed for want of space: the disk is full, or the quota. */
static bool
no_space(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/* Empties the post POST in DFD after the fact and returns its status in *ST. */
static int
post_truncate(int dfd, const char *post, struct stat *st)
{
	int fd, r;

	fd = openat(dfd, post, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	r = fstat(fd, st);
	if (close(fd) == -1)
		r = -1;
	return r;
}

/*
 * Makes the hitching post POST in DFD holding our PID and returns its
 * identity in *ST. When the PID cannot be written for want of space
 * (ENOSPC, EDQUOT), the post is kept empty and *EMPTY set: nobody can
 * append to a maildrop on a full disk or over quota either, an empty lock
 * still keeps every dot-locking program out, and it is judged stale by its
 * age alone, as liblockfile judges a lock without a PID. Without this a
 * full spool would lock every user out of the very mail they need to
 * delete. Returns 0, or -1 with errno and no post left behind.
 */
static int
post_make(int dfd, const char *post, struct stat *st, bool *empty)
{
	char text[32];
	int fd, n, saved;

	*empty = false;
	fd = seam_fail("lock.post-open")
	    ? -1
	    : openat(dfd, post,
		  O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	/*
	 * Readable whatever our umask, so that others can see our PID and
	 * break the lock at once should we die holding it.
	 */
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (seam_fail("lock.post-chmod") || fchmod(fd, 0644) == -1)
		goto fail;
	if (seam_fail("lock.post-write") ||
	    util_pwrite_full(fd, text, (size_t)n, 0) == -1) {
		/* Part of a PID is worse than none; truncating needs no room.
		 */
		if (!no_space(errno) || ftruncate(fd, 0) == -1)
			goto fail;
		*empty = true;
	}
	if (fstat(fd, st) == -1)
		goto fail;
	if (close(fd) == -1 || seam_fail("lock.post-close")) {
		saved = errno;
		/* NFS reports a full disk at close: make the post empty then.
		 */
		if (!no_space(saved) || post_truncate(dfd, post, st) == -1) {
			unlinkat(dfd, post, 0);
			errno = saved;
			return -1;
		}
		*empty = true;
	}
	return 0;

fail:
	saved = errno;
	close(fd);
	unlinkat(dfd, post, 0);
	errno = saved;
	return -1;
}

/*
 * Whether a regular file of status ST, holding the N octets at BUF (its
 * first LOCK_MAX_SIZE, or N == -1 when it cannot be read), can be a
 * dot-lock at all: a lone file of a few octets holding nothing but a PID
 * (digits, spaces, newlines, NULs) or nothing. Anything else - a mailbox
 * that merely ends in ".lock", a file with a second link (a hitching post
 * mid-lock) - is never removed, however old.
 */
static bool
looks_like_lock(const struct stat *st, const char *buf, ssize_t n)
{
	ssize_t i;

	if (st->st_nlink != 1 || st->st_size > LOCK_MAX_SIZE)
		return false;
	for (i = 0; i < n; i++)
		if ((buf[i] < '0' || buf[i] > '9') && buf[i] != ' ' &&
		    buf[i] != '\n' && buf[i] != '\0')
			return false;
	return true;
}

/*
 * The PID that liblockfile's "%d\n" left in the first PID_READ of the N
 * octets at BUF, which looks_like_lock() accepted, or 0 when there is none
 * (empty, only blanks, out of range): such a lock is judged by its age
 * alone.
 */
static pid_t
lock_pid(const char *buf, ssize_t n)
{
	long pid = 0;
	ssize_t i = 0;

	if (n > PID_READ)
		n = PID_READ;
	while (i < n && buf[i] == ' ')
		i++;
	for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
		pid = pid * 10 + (buf[i] - '0');
		if (pid > INT_MAX)
			return 0;
	}
	return (pid_t)pid;
}

/* Whether the file at ST is still, to the nanosecond, the one judged at WAS. */
static bool
unchanged_since(const struct stat *st, const struct stat *was)
{
	/* An inode number is soon reused; link() and writes change ctime. */
	return st->st_dev == was->st_dev && st->st_ino == was->st_ino &&
	    st->st_size == was->st_size &&
	    st->st_mtim.tv_sec == was->st_mtim.tv_sec &&
	    st->st_mtim.tv_nsec == was->st_mtim.tv_nsec &&
	    st->st_ctim.tv_sec == was->st_ctim.tv_sec &&
	    st->st_ctim.tv_nsec == was->st_ctim.tv_nsec;
}

/*
 * Judges the foreign lock NAME in DFD and removes it when it is stale and
 * still the very file that was judged. Returns 0 when the lock is gone
 * (removed here or by its owner), or -1 when it must be respected.
 *
 * Stale (MAILDROP.md): the PID inside is dead, or the lock has not been
 * touched for DOTLOCK_STALE_SECONDS, whoever holds it; a holder that keeps
 * it longer must touch it, as dotlock_refresh() does. On NFS a PID may
 * belong to another host, so there only the age counts. A file that does
 * not look like a lock is never judged stale.
 */
static int
dot_break_stale(int dfd, const char *name)
{
	char buf[LOCK_MAX_SIZE];
	struct stat st, fst, now_st;
	struct statfs sfs;
	ssize_t n = -1;
	pid_t pid = 0;
	bool stale;
	int fd;

	seam_point("lock.stale-stat");
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode))
		return -1;
	seam_point("lock.stale-open");
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		/* Unreadable: judge by age, like liblockfile. */
	} else {
		n = util_pread_full(fd, buf, sizeof(buf), 0);
		/* Replaced while we looked: judge it next time. */
		if (n == -1 || fstat(fd, &fst) == -1 ||
		    !unchanged_since(&fst, &st)) {
			close(fd);
			return -1;
		}
		/* On NFS the PID may be another host's: only the age counts. */
		if (fstatfs(fd, &sfs) == 0 && sfs.f_type != NFS_SUPER_MAGIC)
			pid = lock_pid(buf, n);
		close(fd);
	}
	if (!looks_like_lock(&st, buf, n))
		return -1;

	stale = (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH) ||
	    time(NULL) - st.st_mtime >= DOTLOCK_STALE_SECONDS;
	if (!stale)
		return -1;
	/*
	 * Another process may have broken it and made a fresh one since:
	 * remove only the very file that was judged.
	 */
	seam_point("lock.stale-unlink");
	if (fstatat(dfd, name, &now_st, AT_SYMLINK_NOFOLLOW) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!unchanged_since(&now_st, &st))
		return -1;
	if ((seam_fail("lock.unlink-stale") || unlinkat(dfd, name, 0) == -1) &&
	    errno != ENOENT)
		return -1;
	return 0;
}

/*
 * Links the post to the lock name, breaking a stale lock once. A link()
 * whose reply was lost (NFS) is recognized by the lock having the post's
 * inode.
 */
static int
dot_link(struct dotlock *dl, const char *post, const struct stat *pst)
{
	struct stat st;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		int r = seam_fail("lock.link")
		    ? -1
		    : linkat(dl->dirfd, post, dl->dirfd, dl->name, 0);
		int err;

		/* A test build may lose the reply of a link() that was made. */
		if (r == 0 && seam_fail("lock.link-reply"))
			r = -1;
		err = errno;

		if (r == 0 ||
		    (fstatat(dl->dirfd, dl->name, &st, AT_SYMLINK_NOFOLLOW) ==
			    0 &&
			st.st_dev == pst->st_dev && st.st_ino == pst->st_ino)) {
			dl->held = true;
			dl->dev = pst->st_dev;
			dl->ino = pst->st_ino;
			dl->touched = time(NULL);
			return 0;
		}
		if (err != EEXIST) {
			errno = err;
			return -1;
		}
		if (attempt > 0 || dot_break_stale(dl->dirfd, dl->name) == -1)
			break;
	}
	errno = EEXIST;
	return -1;
}

void
dotlock_init(struct dotlock *dl)
{
	memset(dl, 0, sizeof(*dl));
	dl->held = false;
	dl->dirfd = -1;
}

int
dotlock_try(struct dotlock *dl, const char *path)
{
	char post[NAME_MAX + 1];
	struct stat pst, st;
	bool empty;
	int r, saved;

	dotlock_init(dl);
	dl->dirfd = seam_fail("lock.folder") ? -1 : dot_folder(path, dl->name);
	if (dl->dirfd == -1)
		return -1;
	post_name(post, dl->name);
	r = post_make(dl->dirfd, post, &pst, &empty);
	if (r == 0) {
		r = dot_link(dl, post, &pst);
		saved = errno;
		unlinkat(dl->dirfd, post, 0);
		errno = saved;
	}
	/*
	 * An empty lock has no PID to prove it ours: its ctime, which any
	 * link, unlink or touch changes, does instead.
	 */
	if (r == 0 && empty) {
		dl->empty = true;
		if (fstatat(dl->dirfd, dl->name, &st, AT_SYMLINK_NOFOLLOW) ==
			0 &&
		    st.st_ino == dl->ino)
			dl->ctime = st.st_ctim;
	}
	if (r == -1) {
		util_close_keep_errno(dl->dirfd);
		dl->dirfd = -1;
	}
	return r;
}

/*
 * Whether NAME is a hitching post that post_name() made on this host
 * (HOST) for the lock named LOCKNAME; stores its creator's PID in *PID.
 * Read from the end: ".RANDOM" (16 hex digits), ".PID", ".HOST", and in
 * front "." and LOCKNAME, possibly cut short.
 */
static bool
post_parse(const char *name, const char *lockname, const char *host, pid_t *pid)
{
	size_t len = strlen(name), hlen = strlen(host), i, end, start;
	long v = 0;

	if (len < 1 + 1 + 1 + hlen + 2 + 17 || name[0] != '.')
		return false;
	end = len - 17;
	if (name[end] != '.')
		return false;
	for (i = end + 1; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
			(name[i] >= 'a' && name[i] <= 'f')))
			return false;
	/* name[0] is '.', so the digits end before it. */
	start = end;
	while (name[start - 1] >= '0' && name[start - 1] <= '9')
		start--;
	if (start == end || end - start > 10 || name[start - 1] != '.')
		return false;
	for (i = start; i < end; i++)
		v = v * 10 + (name[i] - '0');
	if (v <= 0 || v > INT_MAX)
		return false;
	/* name[start - 1] is the '.' before the PID; the host ends there. */
	if (start - 1 < 2 + hlen + 1 ||
	    memcmp(name + start - 1 - hlen, host, hlen) != 0 ||
	    name[start - 2 - hlen] != '.')
		return false;
	/* Between the leading '.' and ".HOST": LOCKNAME, perhaps cut (i > 0).
	 */
	i = start - 2 - hlen - 1;
	if (i > strlen(lockname) || memcmp(name + 1, lockname, i) != 0)
		return false;
	*pid = (pid_t)v;
	return true;
}

int
dotlock_sweep(const char *path, uid_t uid)
{
	char lockname[NAME_MAX + 1], host[HOST_SIZE];
	struct dirent *de;
	DIR *dir;
	int pfd, dfd, removed = 0;

	pfd = dot_folder(path, lockname);
	if (pfd == -1)
		return -1;
	/* Reading the folder needs more than O_PATH. */
	dfd = openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return util_close_keep_errno(pfd);
	close(pfd);
	dir = fdopendir(dfd);
	if (dir == NULL)
		return util_close_keep_errno(dfd);
	post_host(host);
	/* cppcheck-suppress readdirCalled ; nothing here runs in threads */
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		pid_t pid;

		if (!post_parse(de->d_name, lockname, host, &pid) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || st.st_uid != uid ||
		    st.st_size > LOCK_MAX_SIZE)
			continue;
		/* Alive, or another user's process: not ours to judge. */
		if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

/*
 * Opens the lock file if it is still ours: the inode we made, holding our
 * PID (an empty lock: still empty, with the ctime we last saw). The inode
 * number alone is not enough, as a lock made after ours was removed often
 * gets the same one. Returns a descriptor, or -1.
 */
static int
dot_open_ours(const struct dotlock *dl)
{
	char buf[PID_READ + 1], want[32];
	struct stat st;
	ssize_t n;
	int fd, len;

	fd = openat(dl->dirfd, dl->name,
	    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -1;
	len = snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	if (fstat(fd, &st) == -1 || st.st_dev != dl->dev ||
	    st.st_ino != dl->ino)
		goto no;
	if (dl->empty) {
		if (st.st_size != 0 || st.st_ctim.tv_sec != dl->ctime.tv_sec ||
		    st.st_ctim.tv_nsec != dl->ctime.tv_nsec)
			goto no;
		return fd;
	}
	n = util_pread_full(fd, buf, sizeof(buf) - 1, 0);
	if (n != len || memcmp(buf, want, (size_t)len) != 0)
		goto no;
	return fd;

no:
	close(fd);
	return -1;
}

void
dotlock_refresh(struct dotlock *dl)
{
	time_t now = time(NULL);
	int fd, saved = errno;

	if (!dl->held)
		return;
	if (now >= dl->touched && now - dl->touched < DOTLOCK_REFRESH_SECONDS)
		return;
	dl->touched = now;
	/* Touch only our own lock, never one that replaced it. */
	fd = dot_open_ours(dl);
	if (fd != -1) {
		struct stat st;

		if (futimens(fd, NULL) == 0 && dl->empty && fstat(fd, &st) == 0)
			dl->ctime = st.st_ctim;
		close(fd);
	}
	errno = saved;
}

void
dotlock_release(struct dotlock *dl)
{
	int fd, saved = errno;

	if (dl->held && (fd = dot_open_ours(dl)) != -1) {
		/* Should it fail, the lock names a dead process once we exit.
		 */
		if (!seam_fail("lock.unlink"))
			(void)unlinkat(dl->dirfd, dl->name, 0);
		close(fd);
	}
	if (dl->dirfd != -1)
		close(dl->dirfd);
	dl->dirfd = -1;
	dl->held = false;
	errno = saved;
}
