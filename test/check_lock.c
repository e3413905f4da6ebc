/*
 * check_lock: the session, OFD and dot-locks of lib/lock.c against real
 * processes: conflicts are proven with classic fcntl locks taken by forked
 * children (what procmail, Postfix and Exim take), stale locks with real
 * dead and living PIDs, and the helper with fake helpers and, as root,
 * with a set-group-ID copy of the built pop2-lock run by user nobody.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/time.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <sched.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dotlock.h"
#include "lock.h"
#include "seam.h"

#ifndef POP2_LOCK
#define POP2_LOCK "pop2d/pop2-lock"
#endif

/* The unprivileged user and group the helper tests run as when root. */
#define NOBODY 65534

/*
 * root/spool/mbox    the maildrop; spool is where the lock is made
 * root/bin/          fake helpers and the set-group-ID copy of pop2-lock
 * root/out/          written by the fake helpers (writable by nobody)
 */
static char root[PATH_MAX];
static char spool[PATH_MAX];
static char mbox[PATH_MAX];
static char lockfile[PATH_MAX];
static char bin[PATH_MAX];
static char out[PATH_MAX];

static void
at(char *buf, const char *base, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", base, rel);

	ck_assert(n > 0 && n < PATH_MAX);
}

static void
put(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	size_t len = strlen(text);

	ck_assert_msg(fd != -1, "open %s: %s", path, strerror(errno));
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	ck_assert_int_eq(close(fd), 0);
}

/* Reads up to SIZE - 1 octets of PATH into BUF; returns the length or -1. */
static ssize_t
slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n;
}

static bool
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	ck_assert(snprintf(root, sizeof(root), "%s/check_lock.XXXXXX", tmp) <
	    (int)sizeof(root));
	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	/* nobody must reach the maildrop and the helpers. */
	ck_assert_int_eq(chmod(root, 0755), 0);
	at(spool, root, "spool");
	ck_assert_int_eq(mkdir(spool, 0755), 0);
	at(bin, root, "bin");
	ck_assert_int_eq(mkdir(bin, 0755), 0);
	at(out, root, "out");
	ck_assert_int_eq(mkdir(out, 0777), 0);
	ck_assert_int_eq(chmod(out, 0777), 0);
	at(mbox, spool, "mbox");
	at(lockfile, spool, "mbox.lock");
	put(mbox, "From a@b Thu Jan  1 00:00:00 1970\n\nbody\n", 0600);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void
teardown(void)
{
	chmod(spool, 0755);
	ck_assert_int_eq(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* -------------------------------------------------- other processes */

/*
 * Tries a classic fcntl lock of TYPE on PATH from a child process, the way
 * a delivery agent does. Returns 0 when it got it, 1 when it was refused
 * as busy, 2 on any other error.
 */
static int
child_setlk(const char *path, short type)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct flock fl = { .l_type = type, .l_whence = SEEK_SET };
		int fd = open(path, type == F_WRLCK ? O_RDWR : O_RDONLY);

		if (fd == -1)
			_exit(2);
		if (fcntl(fd, F_SETLK, &fl) == 0)
			_exit(0);
		_exit(errno == EAGAIN || errno == EACCES ? 1 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The same, through FD as inherited (for a maildrop no longer named). */
static int
child_setlk_fd(int fd)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

		if (fcntl(fd, F_SETLK, &fl) == 0)
			_exit(0);
		_exit(errno == EAGAIN || errno == EACCES ? 1 : 2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* A child holding a classic write lock on a file until holder_stop(). */
struct holder {
	pid_t pid;
	int fd; /* closing it lets the child go */
};

static void
holder_start(struct holder *h, const char *path)
{
	int up[2], down[2];
	char c;

	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	h->pid = fork();
	ck_assert_int_ne(h->pid, -1);
	if (h->pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
		int fd = open(path, O_RDWR);

		close(up[0]);
		close(down[1]);
		c = fd != -1 && fcntl(fd, F_SETLK, &fl) == 0 ? 'y' : 'n';
		if (write(up[1], &c, 1) != 1)
			_exit(2);
		/* EOF when the parent lets go. */
		_exit(read(down[0], &c, 1) == -1 ? 2 : 0);
	}
	close(up[1]);
	close(down[0]);
	ck_assert_int_eq(read(up[0], &c, 1), 1);
	close(up[0]);
	ck_assert_msg(c == 'y', "the holder could not lock %s", path);
	h->fd = down[1];
}

static void
holder_stop(struct holder *h)
{
	int status;

	close(h->fd);
	ck_assert_int_eq(waitpid(h->pid, &status, 0), h->pid);
}

/* A PID that certainly belonged to a process, now dead and reaped. */
static pid_t
dead_pid(void)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return pid;
}

/* A living process that sleeps until sleeper_stop(). */
static pid_t
sleeper_start(void)
{
	pid_t pid = fork();

	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

static void
sleeper_stop(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

static void
put_lock_pid(pid_t pid)
{
	char text[32];

	snprintf(text, sizeof(text), "%ld\n", (long)pid);
	put(lockfile, text, 0644);
}

static void
age(const char *path, time_t seconds)
{
	struct timespec ts[2];

	ts[0].tv_sec = time(NULL) - seconds;
	ts[0].tv_nsec = 0;
	ts[1] = ts[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* Counts the entries of DIR whose names start with a dot (posts). */
static int
count_posts(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") != 0 &&
		    strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool
lock_holds_pid(pid_t pid)
{
	char buf[64], want[32];

	snprintf(want, sizeof(want), "%ld\n", (long)pid);
	return slurp(lockfile, buf, sizeof(buf)) > 0 && strcmp(buf, want) == 0;
}

/* ------------------------------------------------------------ core */

START_TEST(session_once)
{
	struct stat st;
	int dfd, a, b;

	dfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(dfd, -1);
	a = lock_session(dfd);
	ck_assert_int_ge(a, 0);
	/* Another open() of the same file is another flock() owner. */
	errno = 0;
	b = lock_session(dfd);
	ck_assert_int_eq(b, -1);
	ck_assert_int_eq(errno, EWOULDBLOCK);
	ck_assert_int_eq(fstat(a, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	ck_assert(fcntl(a, F_GETFD) & FD_CLOEXEC);
	close(a);
	b = lock_session(dfd);
	ck_assert_int_ge(b, 0);
	close(b);
	close(dfd);
}
END_TEST

START_TEST(session_other_process)
{
	pid_t pid;
	int dfd, fd, status;

	dfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fd = lock_session(dfd);
	ck_assert_int_ge(fd, 0);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(lock_session(dfd) == -1 && errno == EWOULDBLOCK ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(fd);
	close(dfd);
}
END_TEST

START_TEST(ofd_blocks_classic)
{
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(lock_ofd(fd), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	ck_assert_int_eq(child_setlk(mbox, F_RDLCK), 1);
	lock_ofd_release(fd);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	close(fd);
}
END_TEST

/* A write-only descriptor takes the write lock too: no reader shares it. */
START_TEST(ofd_write_only_excludes)
{
	int fd = open(mbox, O_WRONLY | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(lock_ofd(fd), 0);
	ck_assert_int_eq(child_setlk(mbox, F_RDLCK), 1);
	lock_ofd_release(fd);
	ck_assert_int_eq(child_setlk(mbox, F_RDLCK), 0);
	close(fd);
}
END_TEST

START_TEST(classic_blocks_ofd)
{
	struct holder h;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	holder_start(&h, mbox);
	errno = 0;
	ck_assert_int_eq(lock_ofd(fd), -1);
	ck_assert_int_eq(errno, EAGAIN);
	holder_stop(&h);
	ck_assert_int_eq(lock_ofd(fd), 0);
	lock_ofd_release(fd);
	close(fd);
}
END_TEST

START_TEST(ofd_read_only_is_shared)
{
	int fd = open(mbox, O_RDONLY | O_CLOEXEC);

	ck_assert_int_eq(lock_ofd(fd), 0);
	ck_assert_int_eq(child_setlk(mbox, F_RDLCK), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	lock_ofd_release(fd);
	close(fd);
}
END_TEST

/* Failure test 7: closing another descriptor keeps an OFD lock. */
START_TEST(ofd_survives_close)
{
	int fd = open(mbox, O_RDWR | O_CLOEXEC), fd2;

	ck_assert_int_eq(lock_ofd(fd), 0);
	fd2 = open(mbox, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd2, -1);
	ck_assert_int_eq(close(fd2), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	lock_ofd_release(fd);
	close(fd);
}
END_TEST

/* Why OFD: the same close() silently drops a classic lock. */
START_TEST(classic_lost_on_close)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = open(mbox, O_RDWR | O_CLOEXEC), fd2;

	ck_assert_int_eq(fcntl(fd, F_SETLK, &fl), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	fd2 = open(mbox, O_RDONLY | O_CLOEXEC);
	close(fd2);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	close(fd);
}
END_TEST

START_TEST(ofd_read_waits)
{
	struct holder h;
	double t0;
	int fd = open(mbox, O_RDONLY | O_CLOEXEC);

	holder_start(&h, mbox);
	t0 = now();
	errno = 0;
	ck_assert_int_eq(lock_ofd_read(fd, 1), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert(now() - t0 >= 0.95 && now() - t0 < 2.0);
	holder_stop(&h);
	ck_assert_int_eq(lock_ofd_read(fd, 1), 0);
	/* Shared: a delivery's write lock waits, another reader does not. */
	ck_assert_int_eq(child_setlk(mbox, F_RDLCK), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	lock_ofd_release(fd);
	close(fd);
}
END_TEST

START_TEST(ofd_read_gets_it_when_freed)
{
	struct holder h;
	pid_t pid;
	double t0;
	int fd = open(mbox, O_RDONLY | O_CLOEXEC), status;

	holder_start(&h, mbox);
	/* Let the holder go after 300 ms from yet another process. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		usleep(300000);
		close(h.fd);
		_exit(0);
	}
	close(h.fd);
	t0 = now();
	ck_assert_int_eq(lock_ofd_read(fd, 3), 0);
	ck_assert(now() - t0 < 2.0);
	waitpid(pid, &status, 0);
	waitpid(h.pid, &status, 0);
	lock_ofd_release(fd);
	close(fd);
}
END_TEST

START_TEST(dot_take_release)
{
	struct lock_dot dot;
	struct stat st;

	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	ck_assert(dot.held);
	ck_assert_int_eq(dot.helper, 0);
	ck_assert_str_eq(dot.own.name, strrchr(lockfile, '/') + 1);
	ck_assert(lock_holds_pid(getpid()));
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_nlink, 1);
	ck_assert(st.st_dev == dot.own.dev && st.st_ino == dot.own.ino);
	ck_assert_int_eq(count_posts(spool), 0);
	/* liblockfile sees it as busy too: our own PID is alive. */
	{
		struct lock_dot again;

		errno = 0;
		ck_assert_int_eq(lock_dot_try(&again, mbox, NULL), -1);
		ck_assert_int_eq(errno, EEXIST);
		ck_assert(!again.held);
		lock_dot_release(&again);
		ck_assert(exists(lockfile));
	}
	lock_dot_release(&dot);
	ck_assert(!dot.held);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(count_posts(spool), 0);
	/* Releasing twice is harmless. */
	lock_dot_release(&dot);
}
END_TEST

START_TEST(dot_release_leaves_foreign)
{
	struct lock_dot dot;
	char buf[64];

	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	/* Someone judged ours stale and made theirs. */
	ck_assert_int_eq(unlink(lockfile), 0);
	put(lockfile, "4242\n", 0644);
	lock_dot_release(&dot);
	ck_assert(slurp(lockfile, buf, sizeof(buf)) > 0);
	ck_assert_str_eq(buf, "4242\n");
}
END_TEST

START_TEST(dot_refresh)
{
	struct lock_dot dot;
	struct stat st;

	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	age(lockfile, 100);
	/* Not yet due: untouched. */
	lock_dot_refresh(&dot);
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert(st.st_mtime <= time(NULL) - 99);
	dot.own.touched -= DOTLOCK_REFRESH_SECONDS;
	lock_dot_refresh(&dot);
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert(st.st_mtime >= time(NULL) - 2);
	/* A lock that replaced ours is never touched. */
	ck_assert_int_eq(unlink(lockfile), 0);
	put(lockfile, "", 0644);
	age(lockfile, 100);
	dot.own.touched -= DOTLOCK_REFRESH_SECONDS;
	lock_dot_refresh(&dot);
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert(st.st_mtime <= time(NULL) - 99);
	lock_dot_release(&dot);
	ck_assert(exists(lockfile));
}
END_TEST

START_TEST(dot_long_name)
{
	char name[NAME_MAX + 1], path[PATH_MAX], lockpath[PATH_MAX + 8];
	struct lock_dot dot;

	/* NAME.lock is exactly NAME_MAX long: the post name must be cut. */
	memset(name, 'a', NAME_MAX - 5);
	name[NAME_MAX - 5] = '\0';
	at(path, spool, name);
	put(path, "", 0600);
	ck_assert_int_eq(lock_dot_try(&dot, path, NULL), 0);
	ck_assert_int_eq(strlen(dot.own.name), NAME_MAX);
	ck_assert_int_eq(snprintf(lockpath, sizeof(lockpath), "%s.lock", path),
	    (int)strlen(path) + 5);
	ck_assert(exists(lockpath));
	ck_assert_int_eq(count_posts(spool), 0);
	lock_dot_release(&dot);
	ck_assert(!exists(lockpath));
	/* One octet more and the lock's name cannot exist. */
	name[NAME_MAX - 5] = 'a';
	name[NAME_MAX - 4] = '\0';
	at(path, spool, name);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, path, NULL), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert(!dot.held);
}
END_TEST

START_TEST(maildrop_take_release)
{
	struct lock_dot dot;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), 0);
	ck_assert(dot.held);
	ck_assert(lock_holds_pid(getpid()));
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 1);
	lock_maildrop_release(fd, &dot);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	close(fd);
}
END_TEST

/* ----------------------------------------------------------- stale */

START_TEST(stale_dead_pid)
{
	struct lock_dot dot;

	put_lock_pid(dead_pid());
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	ck_assert(lock_holds_pid(getpid()));
	lock_dot_release(&dot);
}
END_TEST

START_TEST(stale_old_without_pid)
{
	struct lock_dot dot;

	put(lockfile, "", 0644);
	age(lockfile, DOTLOCK_STALE_SECONDS + 1);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	ck_assert(lock_holds_pid(getpid()));
	lock_dot_release(&dot);
}
END_TEST

START_TEST(stale_old_garbage)
{
	struct lock_dot dot;

	/* PID 0 is no PID: judged by age like an empty lock. */
	put(lockfile, "0\n", 0644);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	age(lockfile, DOTLOCK_STALE_SECONDS + 1);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	lock_dot_release(&dot);
}
END_TEST

/* A file that is not a lock is never removed, however old. */
START_TEST(not_a_lock_kept)
{
	static const char mailbox[] =
	    "From a@example.org Mon Nov 16 09:12:44 2026\nSubject: x\n\nbody\n";
	struct lock_dot dot;
	char path2[4200];

	/* Text: the mailbox of a user whose name ends in ".lock". */
	put(lockfile, mailbox, 0600);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(
	    slurp(lockfile, path2, sizeof(path2)), (ssize_t)strlen(mailbox));
	/* A PID, but with a tab (or any other control character) in it. */
	put(lockfile, "42\t\n", 0644);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* Digits, but more than a PID's worth. */
	put(lockfile, "12345678901234567890123456789012345\n", 0644);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	/* A second link: a hitching post in the middle of someone's link(). */
	put(lockfile, "", 0644);
	snprintf(path2, sizeof(path2), "%s.post", lockfile);
	ck_assert_int_eq(link(lockfile, path2), 0);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(unlink(path2), 0);
	ck_assert_int_eq(unlink(lockfile), 0);
}
END_TEST

START_TEST(fresh_without_pid_held)
{
	struct lock_dot dot;
	struct stat before, after;

	put(lockfile, "", 0644);
	age(lockfile, DOTLOCK_STALE_SECONDS - 10);
	ck_assert_int_eq(lstat(lockfile, &before), 0);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert(!dot.held);
	ck_assert_int_eq(lstat(lockfile, &after), 0);
	ck_assert(before.st_ino == after.st_ino);
	ck_assert_int_eq(after.st_size, 0);
	ck_assert_int_eq(count_posts(spool), 0);
}
END_TEST

START_TEST(live_pid_held)
{
	struct lock_dot dot;
	pid_t pid = sleeper_start();

	put_lock_pid(pid);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* Touched within DOTLOCK_STALE_SECONDS: still valid. */
	age(lockfile, DOTLOCK_STALE_SECONDS - 10);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert(lock_holds_pid(pid));
	sleeper_stop(pid);
	/* Now its PID is dead. */
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	lock_dot_release(&dot);
}
END_TEST

/* A holder that stopped touching its lock loses it, PID alive or not. */
START_TEST(live_pid_untouched_stale)
{
	struct lock_dot dot;
	pid_t pid = sleeper_start();

	put_lock_pid(pid);
	age(lockfile, DOTLOCK_STALE_SECONDS + 1);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	ck_assert(lock_holds_pid(getpid()));
	lock_dot_release(&dot);
	sleeper_stop(pid);
}
END_TEST

/* Failure test 5: a live holder makes lock_maildrop time out cleanly. */
START_TEST(maildrop_times_out)
{
	struct lock_dot dot;
	pid_t pid = sleeper_start();
	double t0, took;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	put_lock_pid(pid);
	t0 = now();
	errno = 0;
	/* The shortest bound there is: one second, more than one try. */
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), -1);
	took = now() - t0;
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_msg(took >= 0.95 && took < 3.0, "took %.2f s", took);
	ck_assert(!dot.held);
	lock_dot_release(&dot);
	/* No L1 left behind, the holder's lock untouched. */
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	ck_assert(lock_holds_pid(pid));
	ck_assert_int_eq(count_posts(spool), 0);
	sleeper_stop(pid);
	close(fd);
}
END_TEST

START_TEST(maildrop_kernel_busy)
{
	struct holder h;
	struct lock_dot dot;
	double t0;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	holder_start(&h, mbox);
	t0 = now();
	errno = 0;
	/* One try (a bound of 0): the wait itself is maildrop_times_out's. */
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 0, &dot), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert(now() - t0 < 3.0);
	/* The dot-lock is never taken while L1 is busy. */
	ck_assert(!exists(lockfile));
	holder_stop(&h);
	close(fd);
}
END_TEST

START_TEST(maildrop_waits_for_holder)
{
	struct lock_dot dot;
	pid_t pid;
	double t0;
	int fd = open(mbox, O_RDWR | O_CLOEXEC), status;

	/* A delivery that holds the dot-lock for 700 ms. */
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		char text[32];
		int lfd;

		snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		lfd = open(lockfile, O_WRONLY | O_CREAT | O_EXCL, 0644);
		if (lfd == -1 || write(lfd, text, strlen(text)) < 0)
			_exit(1);
		close(lfd);
		usleep(700000);
		unlink(lockfile);
		_exit(0);
	}
	while (!exists(lockfile))
		usleep(1000);
	/* A test build pauses 25 to 100 ms between attempts, not 0.5 to 2 s. */
	setenv("POP2_LOCK_BACKOFF_MS", "100", 1);
	t0 = now();
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 6, &dot), 0);
	ck_assert(now() - t0 >= 0.5);
	unsetenv("POP2_LOCK_BACKOFF_MS");
	ck_assert(lock_holds_pid(getpid()));
	lock_maildrop_release(fd, &dot);
	waitpid(pid, &status, 0);
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	close(fd);
}
END_TEST

/* ---------------------------------------------------------- faults */

START_TEST(estale_replaced)
{
	struct lock_dot dot;
	char other[PATH_MAX];
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	at(other, spool, "other");
	put(other, "", 0600);
	ck_assert_int_eq(rename(other, mbox), 0);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert(!dot.held);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(child_setlk_fd(fd), 0);
	close(fd);
}
END_TEST

START_TEST(estale_hard_link)
{
	struct lock_dot dot;
	char other[PATH_MAX];
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	at(other, spool, "hard");
	ck_assert_int_eq(link(mbox, other), 0);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	ck_assert_int_eq(unlink(other), 0);
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), 0);
	lock_maildrop_release(fd, &dot);
	close(fd);
}
END_TEST

START_TEST(estale_removed)
{
	struct lock_dot dot;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	ck_assert_int_eq(unlink(mbox), 0);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert(!exists(lockfile));
	close(fd);
}
END_TEST

START_TEST(session_faults)
{
	char p[PATH_MAX];
	int dfd;

	errno = 0;
	ck_assert_int_eq(lock_session(-1), -1);
	ck_assert_int_eq(errno, EBADF);
	dfd = open(spool, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	at(p, spool, "session");
	ck_assert_int_eq(symlink("mbox", p), 0);
	errno = 0;
	ck_assert_int_eq(lock_session(dfd), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	errno = 0;
	ck_assert_int_eq(lock_session(dfd), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(unlink(p), 0);
	/* A second name of another file (the maildrop) is not ours either. */
	ck_assert_int_eq(link(mbox, p), 0);
	errno = 0;
	ck_assert_int_eq(lock_session(dfd), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_int_eq(unlink(p), 0);
	close(dfd);
}
END_TEST

START_TEST(ofd_faults)
{
	struct lock_dot dot;
	int fd = open(mbox, O_PATH | O_CLOEXEC);

	errno = 0;
	ck_assert_int_eq(lock_ofd(fd), -1);
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(lock_ofd_read(fd, 1), -1);
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 1, &dot), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert(!exists(lockfile));
	close(fd);
	errno = 0;
	ck_assert_int_eq(lock_ofd(fd), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(dot_faults)
{
	static char huge[8192];
	struct lock_dot dot;
	char p[PATH_MAX];

	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, "", NULL), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert(!dot.held);
	ck_assert_int_eq(dot.helper_fd, -1);
	lock_dot_release(&dot);

	memset(huge, 'x', sizeof(huge) - 1);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, huge, NULL), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);

	at(p, root, "no-such-folder/mbox");
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, p, NULL), -1);
	ck_assert_int_eq(errno, ENOENT);
	lock_dot_release(&dot);

	/* A directory where the lock belongs is never removed. */
	ck_assert_int_eq(mkdir(lockfile, 0755), 0);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_int_eq(rmdir(lockfile), 0);
	ck_assert_int_eq(count_posts(spool), 0);
}
END_TEST

/* A full disk or quota: the lock is made empty, and works as any other. */
START_TEST(dot_empty_when_full)
{
	static const char *const errs[] = { "lock.post-write:ENOSPC:*",
		"lock.post-write:EDQUOT:*" };
	struct lock_dot dot, again;
	struct timespec before;
	struct stat st;
	size_t i;

	if (!seam_enabled())
		return; /* the failure is injected through a test seam */
	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		ck_assert_int_eq(setenv("POP2_FAIL_AT", errs[i], 1), 0);
		ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
		ck_assert(dot.held);
		ck_assert(dot.own.empty);
		ck_assert_int_eq(lstat(lockfile, &st), 0);
		ck_assert_int_eq(st.st_size, 0);
		ck_assert_int_eq(st.st_nlink, 1);
		ck_assert_int_eq(count_posts(spool), 0);
		/* A fresh empty lock keeps others out like any lock. */
		errno = 0;
		ck_assert_int_eq(lock_dot_try(&again, mbox, NULL), -1);
		ck_assert_int_eq(errno, EEXIST);
		/*
		 * It is ours to refresh, though it holds no PID (its ctime
		 * says so: age() would change that, so time passes instead).
		 */
		before = st.st_mtim;
		nanosleep(&(struct timespec){ 0, 30000000 }, NULL);
		dot.own.touched -= DOTLOCK_REFRESH_SECONDS;
		lock_dot_refresh(&dot);
		ck_assert_int_eq(lstat(lockfile, &st), 0);
		ck_assert(st.st_mtim.tv_sec > before.tv_sec ||
		    (st.st_mtim.tv_sec == before.tv_sec &&
			st.st_mtim.tv_nsec > before.tv_nsec));
		/* And again: the refresh keeps it ours. */
		dot.own.touched -= DOTLOCK_REFRESH_SECONDS;
		lock_dot_refresh(&dot);
		lock_dot_release(&dot);
		ck_assert(!exists(lockfile));
		ck_assert_int_eq(count_posts(spool), 0);
	}

	/* An empty lock that replaced ours is not ours to remove. */
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), 0);
	ck_assert_int_eq(unlink(lockfile), 0);
	put(lockfile, "", 0644);
	lock_dot_release(&dot);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unlink(lockfile), 0);

	/* Any other write error still refuses, and leaves no post. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.post-write:EIO:*", 1), 0);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(count_posts(spool), 0);
	unsetenv("POP2_FAIL_AT");
}
END_TEST

/* This host's name as lock.c writes it into post names. */
static void
post_host(char *host, size_t size)
{
	size_t i;

	ck_assert_int_eq(gethostname(host, size), 0);
	host[size - 1] = '\0';
	for (i = 0; host[i] != '\0'; i++)
		if (!((host[i] >= 'a' && host[i] <= 'z') ||
			(host[i] >= 'A' && host[i] <= 'Z') ||
			(host[i] >= '0' && host[i] <= '9') || host[i] == '-' ||
			host[i] == '.'))
			host[i] = '_';
}

START_TEST(dot_sweep_dead_posts)
{
	char host[65], name[PATH_MAX], dead_post[PATH_MAX], live_post[PATH_MAX];
	char other_host[PATH_MAX], other_lock[PATH_MAX], not_post[PATH_MAX];
	pid_t dead;
	int status;

	dead = fork();
	ck_assert_int_ge(dead, 0);
	if (dead == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(dead, &status, 0), dead);
	post_host(host, sizeof(host));

	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcdef", host,
	    (long)dead);
	at(dead_post, spool, name);
	put(dead_post, "1\n", 0644);
	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcdef", host,
	    (long)getppid());
	at(live_post, spool, name);
	put(live_post, "1\n", 0644);
	snprintf(name, sizeof(name), ".mbox.lock.x%s.%ld.0123456789abcdef",
	    host, (long)dead);
	at(other_host, spool, name);
	put(other_host, "1\n", 0644);
	snprintf(name, sizeof(name), ".other.lock.%s.%ld.0123456789abcdef",
	    host, (long)dead);
	at(other_lock, spool, name);
	put(other_lock, "1\n", 0644);
	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcdeg", host,
	    (long)dead);
	at(not_post, spool, name);
	put(not_post, "1\n", 0644);

	/* Another user's posts: nothing is removed. */
	ck_assert_int_eq(dotlock_sweep(mbox, getuid() + 1), 0);
	ck_assert(exists(dead_post));
	/* The caller's own: only the dead process's post of this lock. */
	ck_assert_int_eq(dotlock_sweep(mbox, getuid()), 1);
	ck_assert(!exists(dead_post));
	ck_assert(exists(live_post));
	ck_assert(exists(other_host));
	ck_assert(exists(other_lock));
	ck_assert(exists(not_post));
	ck_assert_int_eq(dotlock_sweep(mbox, getuid()), 0);

	/* A post name cut short to fit NAME_MAX is still recognized. */
	{
		char longname[NAME_MAX + 1], path[PATH_MAX], suffix[128];
		int n;

		memset(longname, 'a', NAME_MAX - 5);
		longname[NAME_MAX - 5] = '\0';
		at(path, spool, longname);
		n = snprintf(suffix, sizeof(suffix), ".%s.%ld.0123456789abcdef",
		    host, (long)dead);
		/* As post_name() cuts it: ".", the cut base, the suffix. */
		snprintf(name, sizeof(name), ".%.*s%s", NAME_MAX - 1 - n,
		    longname, suffix);
		ck_assert_int_eq(strlen(name), NAME_MAX);
		at(dead_post, spool, name);
		put(dead_post, "1\n", 0644);
		ck_assert_int_eq(dotlock_sweep(path, getuid()), 1);
		ck_assert(!exists(dead_post));
	}
}
END_TEST

/* ---------------------------------------------------------- helper */

/*
 * Runs FN in a child process that cannot create files in spool: as root
 * the child becomes nobody (spool is 0755 root), otherwise spool is made
 * read-only. Returns FN's result, or 100 + the signal that ended it.
 */
static int
unprivileged(int (*fn)(void))
{
	pid_t pid;
	int status;

	if (geteuid() == 0) {
		ck_assert_int_eq(chown(out, NOBODY, NOBODY), 0);
		ck_assert_int_eq(chown(mbox, NOBODY, NOBODY), 0);
	} else {
		ck_assert_int_eq(chmod(spool, 0555), 0);
	}
	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		if (geteuid() == 0 &&
		    (setgroups(0, NULL) == -1 || setgid(NOBODY) == -1 ||
			setuid(NOBODY) == -1))
			_exit(99);
		/* exit(), not _exit(): a coverage build keeps its counters. */
		exit(fn());
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (geteuid() != 0)
		ck_assert_int_eq(chmod(spool, 0755), 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

/* In the unprivileged child, where ck_assert cannot report. */
#define REQUIRE(c)                                                             \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: %s (errno: %s)\n", __FILE__,   \
			    __LINE__, #c, strerror(errno));                    \
			return 1;                                              \
		}                                                              \
	} while (0)

static void
fake_helper(const char *name, const char *body)
{
	char p[PATH_MAX], text[PATH_MAX + 4096];
	int n;

	at(p, bin, name);
	n = snprintf(
	    text, sizeof(text), "#!/bin/sh\nOUT='%s'\n%s\n", out, body);
	ck_assert(n > 0 && (size_t)n < sizeof(text));
	put(p, text, 0755);
}

static const char *
helper_path(const char *name)
{
	static char p[PATH_MAX];

	at(p, bin, name);
	return p;
}

static int
try_without_helper(void)
{
	struct lock_dot dot;

	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, NULL) == -1);
	REQUIRE(errno == EACCES || errno == EPERM);
	REQUIRE(!dot.held);
	return 0;
}

START_TEST(helper_not_needed_not_asked)
{
	struct lock_dot dot;

	/* The folder is writable: the helper is never run. */
	ck_assert_int_eq(lock_dot_try(&dot, mbox, helper_path("none")), 0);
	ck_assert_int_eq(dot.helper, 0);
	lock_dot_release(&dot);
	ck_assert_int_eq(unprivileged(try_without_helper), 0);
}
END_TEST

static int
try_good_helper(void)
{
	struct lock_dot dot;
	char buf[PATH_MAX + 16], want[PATH_MAX + 16];
	int extra;

	/* A descriptor the helper must not inherit. */
	extra = dup2(2, 20);
	REQUIRE(extra == 20);
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("good")) == 0);
	close(extra);
	REQUIRE(dot.held);
	REQUIRE(dot.helper > 0);
	REQUIRE(dot.helper_fd >= 0);
	REQUIRE(fcntl(dot.helper_fd, F_GETFD) & FD_CLOEXEC);
	at(buf, out, "done");
	REQUIRE(!exists(buf));
	lock_dot_release(&dot);
	REQUIRE(!dot.held);
	REQUIRE(dot.helper_fd == -1);
	/* Release waited for the helper to finish. */
	REQUIRE(exists(buf));

	at(buf, out, "args");
	REQUIRE(slurp(buf, buf, sizeof(buf)) > 0);
	snprintf(want, sizeof(want), "-m|%s|\n", mbox);
	REQUIRE(strcmp(buf, want) == 0);
	at(buf, out, "fd2");
	REQUIRE(slurp(buf, buf, sizeof(buf)) > 0);
	REQUIRE(strcmp(buf, "/dev/null\n") == 0);
	at(buf, out, "fd20");
	REQUIRE(slurp(buf, buf, sizeof(buf)) > 0);
	REQUIRE(strcmp(buf, "closed\n") == 0);
	at(buf, out, "env");
	REQUIRE(slurp(buf, buf, sizeof(buf)) >= 0);
	REQUIRE(strstr(buf, "HOME=") == NULL && strstr(buf, "PATH=") == NULL);
	return 0;
}

START_TEST(helper_protocol)
{
	fake_helper("good",
	    "printf '%s|' \"$@\" >\"$OUT/args\"; echo >>\"$OUT/args\"\n"
	    "readlink /proc/$$/fd/2 >\"$OUT/fd2\"\n"
	    "if [ -e /proc/$$/fd/20 ]; then echo open; else echo closed; fi "
	    ">\"$OUT/fd20\"\n"
	    "/usr/bin/env >\"$OUT/env\"\n"
	    "echo 1\n"
	    "cat >/dev/null\n"
	    "sleep 0.2; echo done >\"$OUT/done\"");
	ck_assert_int_eq(unprivileged(try_good_helper), 0);
}
END_TEST

/*
 * A spool that refuses the link with EPERM, as some file systems refuse
 * link(2) itself, is one pop2d cannot lock in alone: the helper is asked,
 * as for a spool it may not write (EACCES).
 */
START_TEST(helper_asked_on_eperm)
{
	struct lock_dot dot;

	fake_helper("good", "echo 1\ncat >/dev/null");
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.link:EPERM:*", 1), 0);
	ck_assert_int_eq(lock_dot_try(&dot, mbox, helper_path("good")), 0);
	ck_assert(dot.held);
	ck_assert_int_gt(dot.helper, 0);
	lock_dot_release(&dot);
	ck_assert(!dot.held);
	unsetenv("POP2_FAIL_AT");
	/* Without the helper, the refusal is told as it came. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.link:EPERM:*", 1), 0);
	errno = 0;
	ck_assert_int_eq(lock_dot_try(&dot, mbox, NULL), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert(!dot.held);
	unsetenv("POP2_FAIL_AT");
}
END_TEST

struct refusal {
	const char *body;
	int err;
	/* What dot.report must say: fault, exit status (-N: signal N), reason.
	 */
	enum lock_helper_fault fault;
	int status;
	const char *reason;
};

static const struct refusal refusals[] = {
	{ "echo '0 busy'; exit 75", EEXIST, LOCK_HELPER_REFUSED, 75, "busy" },
	{ "echo '0 cannot create the lock'; exit 73", EIO, LOCK_HELPER_REFUSED,
	    73, "cannot create the lock" },
	{ "echo '0 not permitted'; exit 77", EACCES, LOCK_HELPER_REFUSED, 77,
	    "not permitted" },
	{ "exit 77", EACCES, LOCK_HELPER_NO_ANSWER, 77, "" },
	{ "echo '0 usage'; exit 64", EINVAL, LOCK_HELPER_REFUSED, 64, "usage" },
	{ "echo yes; exit 0", EINVAL, LOCK_HELPER_NO_ANSWER, 0, "" },
	{ "echo 1x; cat >/dev/null", EINVAL, LOCK_HELPER_NO_ANSWER, 0, "" },
	{ "kill -9 $$", EIO, LOCK_HELPER_NO_ANSWER, -9, "" },
	/* Its reason reaches a log line: no control character survives. */
	{ "printf '0 a\\tb\\033c\\r\\n'; exit 73", EIO, LOCK_HELPER_REFUSED, 73,
	    "a?b?c?" },
	{ "printf '0 d\\177e\\n'; exit 73", EIO, LOCK_HELPER_REFUSED, 73,
	    "d?e" },
	/* A reason cut short by the end of the answer, no newline. */
	{ "printf '0 no end'; exit 73", EIO, LOCK_HELPER_REFUSED, 73,
	    "no end" },
};

static int refusal_err;
static const struct refusal *refusal;

static int
try_refusing_helper(void)
{
	struct lock_dot dot;
	int st;

	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("refuse")) == -1);
	REQUIRE(errno == refusal_err);
	REQUIRE(!dot.held);
	st = dot.report.status;
	REQUIRE(dot.report.fault == refusal->fault);
	REQUIRE(refusal->status >= 0
		? WIFEXITED(st) && WEXITSTATUS(st) == refusal->status
		: WIFSIGNALED(st) && WTERMSIG(st) == -refusal->status);
	REQUIRE(strcmp(dot.report.reason, refusal->reason) == 0);
	/* The fake helpers are plain 0755 scripts. */
	REQUIRE(dot.report.causes & LOCK_HELPER_NOT_SETGID);
	REQUIRE(dot.helper == 0 && dot.helper_fd == -1);
	/* No zombie left: the helper was waited for. */
	REQUIRE(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
	return 0;
}

START_TEST(helper_refuses)
{
	fake_helper("refuse", refusals[_i].body);
	refusal_err = refusals[_i].err;
	refusal = &refusals[_i];
	ck_assert_msg(unprivileged(try_refusing_helper) == 0, "helper \"%s\"",
	    refusals[_i].body);
}
END_TEST

static int
try_missing_helper(void)
{
	struct lock_dot dot;

	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("missing")) == -1);
	REQUIRE(errno == ENOENT);
	REQUIRE(!dot.held);
	REQUIRE(dot.report.fault == LOCK_HELPER_NOT_STARTED);
	REQUIRE(dot.report.err == ENOENT);
	return 0;
}

/* Whether this process runs with no_new_privs, read independently. */
static bool
nnp_now(void)
{
	char buf[4096];
	const char *p;

	if (slurp("/proc/self/status", buf, sizeof(buf)) <= 0)
		return false;
	p = strstr(buf, "NoNewPrivs:");
	return p != NULL && atoi(p + 11) != 0;
}

static int
try_helper_causes(void)
{
	struct lock_dot dot;
	struct statvfs sv;
	bool nosuid;

	REQUIRE(statvfs(bin, &sv) == 0);
	nosuid = (sv.f_flag & ST_NOSUID) != 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("refuse")) == -1);
	REQUIRE(!!(dot.report.causes & LOCK_HELPER_NOSUID) == nosuid);
	REQUIRE(!!(dot.report.causes & LOCK_HELPER_NO_NEW_PRIVS) == nnp_now());
	/* systemd's NoNewPrivileges=yes is this prctl. */
	REQUIRE(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
	REQUIRE(nnp_now());
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("refuse")) == -1);
	REQUIRE(dot.report.causes & LOCK_HELPER_NO_NEW_PRIVS);
	REQUIRE(dot.report.causes & LOCK_HELPER_NOT_SETGID);
	return 0;
}

START_TEST(helper_causes)
{
	fake_helper("refuse", "echo '0 cannot create the lock'; exit 73");
	ck_assert_int_eq(unprivileged(try_helper_causes), 0);
}
END_TEST

START_TEST(helper_missing)
{
	ck_assert_int_eq(unprivileged(try_missing_helper), 0);
}
END_TEST

static int
maildrop_busy_helper(void)
{
	struct lock_dot dot;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	REQUIRE(fd != -1);
	errno = 0;
	/* One try: the helper's "busy" is a busy lock, not a failure. */
	REQUIRE(lock_maildrop(fd, mbox, helper_path("refuse"), 0, &dot) == -1);
	REQUIRE(errno == ETIMEDOUT);
	REQUIRE(!dot.held);
	close(fd);
	return 0;
}

START_TEST(helper_busy_times_out)
{
	fake_helper("refuse", "echo '0 busy'; exit 75");
	ck_assert_int_eq(unprivileged(maildrop_busy_helper), 0);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
}
END_TEST

/* The real pop2-lock, installed set-group-ID mail as it will be. */
static char setgid_helper[PATH_MAX];

static void
install_setgid_helper(void)
{
	struct group *gr = getgrnam("mail");
	char buf[65536];
	ssize_t n;
	int in, fd;

	ck_assert_msg(gr != NULL, "no group mail");
	at(setgid_helper, bin, "pop2-lock");
	in = open(POP2_LOCK, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(in != -1, "%s: %s", POP2_LOCK, strerror(errno));
	fd = open(setgid_helper, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	ck_assert_int_ne(fd, -1);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		ck_assert_int_eq(write(fd, buf, (size_t)n), n);
	ck_assert_int_eq(n, 0);
	close(in);
	ck_assert_int_eq(fchown(fd, 0, gr->gr_gid), 0);
	ck_assert_int_eq(fchmod(fd, 02755), 0);
	ck_assert_int_eq(close(fd), 0);
	/* The spool as Debian has it: root:mail 2775. */
	ck_assert_int_eq(chown(spool, 0, gr->gr_gid), 0);
	ck_assert_int_eq(chmod(spool, 02775), 0);
	ck_assert_int_eq(chown(mbox, NOBODY, NOBODY), 0);
}

static int
real_helper_locks(void)
{
	struct lock_dot dot, other;
	struct group *gr = getgrnam("mail");
	struct stat st;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);
	pid_t pid;

	REQUIRE(fd != -1);
	REQUIRE(gr != NULL);
	REQUIRE(lock_maildrop(fd, mbox, setgid_helper, 3, &dot) == 0);
	REQUIRE(dot.helper > 0);
	REQUIRE(lock_holds_pid(dot.helper));
	REQUIRE(lstat(lockfile, &st) == 0);
	REQUIRE(st.st_uid == NOBODY && st.st_gid == gr->gr_gid);
	REQUIRE(count_posts(spool) == 0);
	REQUIRE(child_setlk(mbox, F_WRLCK) == 1);

	/* A second taker is told busy (pop2-lock exits 75). */
	errno = 0;
	REQUIRE(lock_dot_try(&other, mbox, setgid_helper) == -1);
	REQUIRE(errno == EEXIST);

	pid = dot.helper;
	lock_maildrop_release(fd, &dot);
	REQUIRE(!exists(lockfile));
	REQUIRE(kill(pid, 0) == -1 && errno == ESRCH);
	REQUIRE(child_setlk(mbox, F_WRLCK) == 0);
	close(fd);
	return 0;
}

START_TEST(real_helper)
{
	install_setgid_helper();
	ck_assert_int_eq(unprivileged(real_helper_locks), 0);
}
END_TEST

static int
real_helper_breaks_stale(void)
{
	struct lock_dot dot;

	REQUIRE(lock_dot_try(&dot, mbox, setgid_helper) == 0);
	REQUIRE(lock_holds_pid(dot.helper));
	lock_dot_release(&dot);
	REQUIRE(!exists(lockfile));
	return 0;
}

START_TEST(real_helper_stale)
{
	install_setgid_helper();
	put_lock_pid(dead_pid());
	ck_assert_int_eq(unprivileged(real_helper_breaks_stale), 0);
	put(lockfile, "", 0644);
	age(lockfile, DOTLOCK_STALE_SECONDS + 1);
	ck_assert_int_eq(unprivileged(real_helper_breaks_stale), 0);
}
END_TEST

static int
real_helper_refuses_foreign(void)
{
	struct lock_dot dot;
	char p[PATH_MAX];

	/* root's file, and a symbolic link to our own: not permitted. */
	at(p, spool, "root");
	errno = 0;
	REQUIRE(lock_dot_try(&dot, p, setgid_helper) == -1);
	REQUIRE(errno == EACCES);
	at(p, spool, "link");
	errno = 0;
	REQUIRE(lock_dot_try(&dot, p, setgid_helper) == -1);
	REQUIRE(errno == EACCES);
	at(p, spool, "root.lock");
	REQUIRE(!exists(p));
	at(p, spool, "link.lock");
	REQUIRE(!exists(p));
	return 0;
}

START_TEST(real_helper_foreign)
{
	char p[PATH_MAX];

	install_setgid_helper();
	at(p, spool, "root");
	put(p, "", 0666);
	at(p, spool, "link");
	ck_assert_int_eq(symlink("mbox", p), 0);
	ck_assert_int_eq(unprivileged(real_helper_refuses_foreign), 0);
}
END_TEST

/* ---------------------------------------------------------- dotlock */

/* Writes LEN octets of TEXT, NULs included, to PATH. */
static void
put_n(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

/*
 * Tries the dot-lock of PATH once, releases it if taken, and returns 0 or
 * dotlock_try()'s errno; a failed attempt must leave nothing open.
 */
static int
dot_errno(const char *path)
{
	struct dotlock dl;
	int err;

	errno = 0;
	if (dotlock_try(&dl, path) == 0) {
		dotlock_release(&dl);
		return 0;
	}
	err = errno;
	ck_assert(!dl.held);
	ck_assert_int_eq(dl.dirfd, -1);
	return err;
}

static int
try_in_root_folder(void)
{
	struct dotlock dl;

	/* "/NAME": the folder is "/", where nobody may create files. */
	errno = 0;
	REQUIRE(dotlock_try(&dl, "/pop2-check-lock-no-such-maildrop") == -1);
	REQUIRE(errno == EACCES);
	return 0;
}

/* The caller's own dead post in a folder it may not write: it stays. */
static char closed_post[PATH_MAX];

static int
try_sweep_in_closed_folder(void)
{
	REQUIRE(access(closed_post, F_OK) == 0);
	REQUIRE(dotlock_sweep(mbox, getuid()) == 0);
	REQUIRE(access(closed_post, F_OK) == 0);
	return 0;
}

/* A folder that may be entered but not read cannot be swept. */
static int
try_sweep_unreadable(void)
{
	char p[PATH_MAX];

	at(p, spool, ".mbox.lock.unreadable/mbox");
	errno = 0;
	REQUIRE(dotlock_sweep(p, getuid()) == -1);
	REQUIRE(errno == EACCES);
	return 0;
}

START_TEST(dotlock_names)
{
	char p[PATH_MAX + 8];
	struct dotlock dl;
	int cwd;

	/* A path that ends in '/' names no file. */
	ck_assert(snprintf(p, sizeof(p), "%s/", spool) > 0);
	ck_assert_int_eq(dot_errno(p), EINVAL);
	errno = 0;
	ck_assert_int_eq(dotlock_sweep(p, getuid()), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(dot_errno(""), EINVAL);

	/* A bare name is in the current folder. */
	cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(cwd, -1);
	ck_assert_int_eq(chdir(spool), 0);
	ck_assert_int_eq(dotlock_try(&dl, "mbox"), 0);
	ck_assert(lock_holds_pid(getpid()));
	ck_assert_int_eq(dotlock_sweep("mbox", getuid()), 0);
	dotlock_release(&dl);
	ck_assert(!exists(lockfile));
	ck_assert_int_eq(fchdir(cwd), 0);
	close(cwd);

	ck_assert_int_eq(unprivileged(try_in_root_folder), 0);
	{
		char host[65], name[NAME_MAX + 1];

		post_host(host, sizeof(host));
		snprintf(name, sizeof(name),
		    ".mbox.lock.%s.%ld.0123456789abcdef", host,
		    (long)dead_pid());
		at(closed_post, spool, name);
		put(closed_post, "1\n", 0644);
		if (geteuid() == 0)
			ck_assert_int_eq(chown(closed_post, NOBODY, NOBODY), 0);
		ck_assert_int_eq(unprivileged(try_sweep_in_closed_folder), 0);
		ck_assert_int_eq(unlink(closed_post), 0);
	}
	at(p, spool, ".mbox.lock.unreadable");
	ck_assert_int_eq(mkdir(p, 0300), 0);
	ck_assert_int_eq(unprivileged(try_sweep_unreadable), 0);
	ck_assert_int_eq(rmdir(p), 0);

	/* No folder, no sweep. */
	at(p, root, "no-such-folder/mbox");
	errno = 0;
	ck_assert_int_eq(dotlock_sweep(p, getuid()), -1);
	ck_assert_int_eq(errno, ENOENT);

	/* A lock never taken may be refreshed and released, twice. */
	dotlock_init(&dl);
	dotlock_refresh(&dl);
	dotlock_release(&dl);
	dotlock_release(&dl);
	ck_assert_int_eq(dl.dirfd, -1);
}
END_TEST

/*
 * What other programs leave in a lock: blanks before the PID, NULs. A dead
 * PID makes it stale at once; no PID, or a number no PID can be, leaves
 * only the age to judge by.
 */
START_TEST(dotlock_pid_forms)
{
	static const struct {
		const char *text;
		size_t len;
	} no_pid[] = {
		{ "", 0 },
		{ "   \n", 4 },
		{ "\0\0\0\0", 4 },
		{ "99999999999\n", 12 },
		{ "0\n", 2 },
	};
	char text[64];
	size_t i;
	int n;

	n = snprintf(text, sizeof(text), "  %ld\n", (long)dead_pid());
	put_n(lockfile, text, (size_t)n);
	ck_assert_int_eq(dot_errno(mbox), 0);
	ck_assert(!exists(lockfile));
	n = snprintf(text, sizeof(text), "%ld", (long)dead_pid());
	put_n(lockfile, text, (size_t)n + 1); /* with its NUL */
	ck_assert_int_eq(dot_errno(mbox), 0);

	for (i = 0; i < sizeof(no_pid) / sizeof(no_pid[0]); i++) {
		put_n(lockfile, no_pid[i].text, no_pid[i].len);
		ck_assert_msg(dot_errno(mbox) == EEXIST, "lock %zu", i);
		age(lockfile, DOTLOCK_STALE_SECONDS + 1);
		ck_assert_msg(dot_errno(mbox) == 0, "old lock %zu", i);
		ck_assert(!exists(lockfile));
	}
}
END_TEST

/* A symbolic link or a FIFO where the lock belongs is never removed. */
START_TEST(dotlock_odd_files_kept)
{
	char p[PATH_MAX];

	ck_assert_int_eq(symlink("mbox", lockfile), 0);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unlink(lockfile), 0);
	ck_assert_int_eq(mkfifo(lockfile, 0644), 0);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unlink(lockfile), 0);
	/* A second name of a small file: a post caught mid-lock, say. */
	at(p, spool, "other");
	put(p, "1\n", 0644);
	ck_assert_int_eq(link(p, lockfile), 0);
	age(lockfile, 10 * DOTLOCK_STALE_SECONDS);
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(count_posts(spool), 0);
}
END_TEST

/* A maildrop in OUT, a folder nobody may write, and its lock. */
static char nbox[PATH_MAX], nlock[PATH_MAX];
static int want_errno;

static int
try_nobody_lock(void)
{
	struct dotlock dl;
	int r;

	errno = 0;
	r = dotlock_try(&dl, nbox);
	REQUIRE(r == 0 ? want_errno == 0 : errno == want_errno);
	dotlock_release(&dl);
	return 0;
}

/*
 * A lock we may not read is judged by its age alone, as liblockfile does;
 * a lock whose PID belongs to another user's process (we may not signal
 * it) is alive.
 */
START_TEST(dotlock_foreign_views)
{
	char text[32];

	at(nbox, out, "mbox");
	at(nlock, out, "mbox.lock");
	put(nbox, "", 0600);
	if (geteuid() == 0)
		ck_assert_int_eq(chown(nbox, NOBODY, NOBODY), 0);
	snprintf(text, sizeof(text), "%ld\n", (long)dead_pid());
	put(nlock, text, 0000);
	want_errno = EEXIST;
	ck_assert_int_eq(unprivileged(try_nobody_lock), 0);
	ck_assert(exists(nlock));
	age(nlock, DOTLOCK_STALE_SECONDS + 1);
	want_errno = 0;
	ck_assert_int_eq(unprivileged(try_nobody_lock), 0);
	ck_assert(!exists(nlock));

	/* PID 1 is alive and not ours to signal (EPERM). */
	put(nlock, "1\n", 0644);
	want_errno = EEXIST;
	ck_assert_int_eq(unprivileged(try_nobody_lock), 0);
	ck_assert(exists(nlock));
}
END_TEST

/* Files beside the lock that the sweep must leave alone. */
START_TEST(dotlock_sweep_spares)
{
	char host[65], name[NAME_MAX + 1], p[PATH_MAX];
	/* '@' stands for this host's name, '#' for a dead PID. */
	static const char *const malformed[] = {
		".mbox.lock",
		"xmbox.lock.@.#.0123456789abcdef",
		".mbox.lock.@.#x0123456789abcdef",
		".mbox.lock.@.#.0123456789abcdeF",
		".mbox.lock.@.x#.0123456789abcdef",
		".mbox.lock.@.12345678901#.0123456789abcdef",
		".mbox.lock.@.0.0123456789abcdef",
		".mbox.lock.@..0123456789abcdef",
		".mbox.lock.@.9999999999.0123456789abcdef",
		".mbox.lock.@x.#.0123456789abcdef",
		".mbox.lock@.#.0123456789abcdef",
		"..@.#.0123456789abcdef",
		".#.0123456789abcdef",
		".mbox.lockx.@.#.0123456789abcdef",
	};
	char pid[32];
	pid_t dead = dead_pid();
	size_t i;

	post_host(host, sizeof(host));
	snprintf(pid, sizeof(pid), "%ld", (long)dead);
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		const char *t;
		size_t n = 0;

		for (t = malformed[i]; *t != '\0'; t++) {
			const char *part = *t == '@' ? host
			    : *t == '#'		     ? pid
						     : t;
			size_t len = *t == '@' || *t == '#' ? strlen(part) : 1;

			ck_assert(n + len < sizeof(name));
			memcpy(name + n, part, len);
			n += len;
		}
		name[n] = '\0';
		at(p, spool, name);
		put(p, "1\n", 0644);
	}
	/* Named as a dead process's post, but a folder, or too large. */
	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcde0", host,
	    (long)dead);
	at(p, spool, name);
	ck_assert_int_eq(mkdir(p, 0755), 0);
	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcde1", host,
	    (long)dead);
	at(p, spool, name);
	put(p, "0123456789012345678901234567890123456789\n", 0644);
	/* Our own post: we are alive. */
	snprintf(name, sizeof(name), ".mbox.lock.%s.%ld.0123456789abcde2", host,
	    (long)getpid());
	at(p, spool, name);
	put(p, "1\n", 0644);

	i = (size_t)count_posts(spool);
	ck_assert_int_eq(dotlock_sweep(mbox, getuid()), 0);
	ck_assert_int_eq(count_posts(spool), (int)i);
	ck_assert_int_ge((int)i, 14);
}
END_TEST

START_TEST(dotlock_refresh_and_release)
{
	struct dotlock dl;
	struct stat st;
	char text[32];
	int fd, i, n;

	/* The clock went back: a lock touched "in the future" is touched. */
	ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
	age(lockfile, 100);
	dl.touched = time(NULL) + 1000;
	dotlock_refresh(&dl);
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert(st.st_mtime >= time(NULL) - 2);
	/* Gone while held: nothing to touch, nothing to remove. */
	ck_assert_int_eq(unlink(lockfile), 0);
	dl.touched -= 2 * DOTLOCK_REFRESH_SECONDS + 1000;
	dotlock_refresh(&dl);
	ck_assert(!exists(lockfile));
	dotlock_release(&dl);
	ck_assert(!exists(lockfile));

	/*
	 * Our inode, but someone else's PID written into it, of another
	 * length or of the same: not ours.
	 */
	for (i = 0; i < 2; i++) {
		n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
		if (i == 0)
			n = snprintf(text, sizeof(text), "4242424242\n");
		else
			text[0] = text[0] == '9' ? '8' : (char)(text[0] + 1);
		ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
		fd = open(lockfile, O_WRONLY | O_TRUNC | O_CLOEXEC);
		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(write(fd, text, (size_t)n), n);
		close(fd);
		dotlock_release(&dl);
		ck_assert(exists(lockfile));
		ck_assert_int_eq(unlink(lockfile), 0);
	}
}
END_TEST

/* An empty lock that changed under us is no longer ours. */
START_TEST(dotlock_empty_changed)
{
	struct dotlock dl;
	int fd;

	if (!seam_enabled())
		return; /* an empty lock is made through a test seam */
	ck_assert_int_eq(
	    setenv("POP2_FAIL_AT", "lock.post-write:ENOSPC:*", 1), 0);
	/* Written to. */
	ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
	ck_assert(dl.empty);
	fd = open(lockfile, O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "4242\n", 5), 5);
	close(fd);
	dotlock_release(&dl);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unlink(lockfile), 0);
	/* Touched by someone else: its ctime moved. */
	ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	ck_assert_int_eq(chmod(lockfile, 0600), 0);
	dotlock_release(&dl);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unsetenv("POP2_FAIL_AT"), 0);
}
END_TEST

/* Each injected failure of making the lock: its errno, and nothing left. */
START_TEST(dotlock_failures)
{
	static const struct {
		const char *at;
		int err;
	} fails[] = {
		{ "lock.folder:EMFILE", EMFILE },
		{ "lock.post-open:EIO", EIO },
		{ "lock.post-chmod:EIO", EIO },
		{ "lock.post-write:EIO", EIO },
		{ "lock.post-close:EIO", EIO },
		{ "lock.link:EIO", EIO },
		{ "lock.link:EXDEV", EXDEV },
	};
	struct dotlock dl;
	struct stat st;
	size_t i;

	if (!seam_enabled())
		return;
	for (i = 0; i < sizeof(fails) / sizeof(fails[0]); i++) {
		ck_assert_int_eq(setenv("POP2_FAIL_AT", fails[i].at, 1), 0);
		ck_assert_msg(
		    dot_errno(mbox) == fails[i].err, "%s", fails[i].at);
		ck_assert_msg(!exists(lockfile), "%s", fails[i].at);
		ck_assert_msg(count_posts(spool) == 0, "%s", fails[i].at);
	}

	/* NFS reports a full disk only at close: the lock is made empty. */
	ck_assert_int_eq(
	    setenv("POP2_FAIL_AT", "lock.post-close:EDQUOT", 1), 0);
	ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
	ck_assert(dl.empty);
	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	dotlock_release(&dl);
	ck_assert(!exists(lockfile));

	/* link() made the lock but its reply was lost: the inode tells. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.link-reply:EIO", 1), 0);
	ck_assert_int_eq(dotlock_try(&dl, mbox), 0);
	ck_assert(dl.held);
	ck_assert(lock_holds_pid(getpid()));
	ck_assert_int_eq(count_posts(spool), 0);
	/* Removing it fails: it stays, with our PID, for others to judge. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.unlink:EIO", 1), 0);
	dotlock_release(&dl);
	ck_assert(!dl.held);
	ck_assert(lock_holds_pid(getpid()));
	ck_assert_int_eq(unlink(lockfile), 0);

	/* A stale lock that cannot be removed is respected. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.unlink-stale:EIO", 1), 0);
	put_lock_pid(dead_pid());
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unsetenv("POP2_FAIL_AT"), 0);
	ck_assert_int_eq(dot_errno(mbox), 0);
}
END_TEST

/*
 * Runs dotlock_try() on mbox in a child that stops at STEP (POP2_STOP_AT),
 * lets CHANGE alter the lock meanwhile, and returns the child's errno, or
 * 0 when it took the lock.
 */
static int
race_at(const char *step, void (*change)(void))
{
	pid_t pid;
	int status;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct dotlock dl;
		int err = 0;

		setenv("POP2_STOP_AT", step, 1);
		if (dotlock_try(&dl, mbox) == -1)
			err = errno;
		unsetenv("POP2_STOP_AT");
		dotlock_release(&dl);
		exit(err);
	}
	ck_assert_int_eq(waitpid(pid, &status, WUNTRACED), pid);
	ck_assert_msg(WIFSTOPPED(status), "no stop at %s", step);
	change();
	ck_assert_int_eq(kill(pid, SIGCONT), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void
lock_removed(void)
{
	ck_assert_int_eq(unlink(lockfile), 0);
}

/* A new stale lock, as another breaker would leave one. */
static void
lock_replaced(void)
{
	ck_assert_int_eq(unlink(lockfile), 0);
	put_lock_pid(dead_pid());
}

static void
lock_grown(void)
{
	int fd = open(lockfile, O_WRONLY | O_APPEND | O_CLOEXEC);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
}

static void
lock_touched(void)
{
	age(lockfile, 2 * DOTLOCK_STALE_SECONDS);
}

/* The same second, another nanosecond. */
static void
lock_touched_ns(void)
{
	struct stat st;
	struct timespec ts[2];

	ck_assert_int_eq(lstat(lockfile, &st), 0);
	ts[0] = st.st_mtim;
	ts[1] = st.st_mtim;
	ts[1].tv_nsec = st.st_mtim.tv_nsec == 5 ? 6 : 5;
	ck_assert_int_eq(utimensat(AT_FDCWD, lockfile, ts, 0), 0);
}

static void
lock_chmod(void)
{
	nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	ck_assert_int_eq(chmod(lockfile, 0600), 0);
}

/*
 * A stale lock is removed only if it is still the very file judged stale:
 * whatever happens to it between the judgment and the unlink (a removal,
 * a new lock in its place, a write, a touch) is seen.
 */
START_TEST(dotlock_judged_file_only)
{
	static const struct {
		const char *step;
		void (*change)(void);
		int err;
	} races[] = {
		{ "lock.stale-stat", lock_removed, 0 },
		{ "lock.stale-open", lock_removed, 0 },
		{ "lock.stale-open", lock_replaced, EEXIST },
		{ "lock.stale-unlink", lock_removed, 0 },
		{ "lock.stale-unlink", lock_replaced, EEXIST },
		{ "lock.stale-unlink", lock_grown, EEXIST },
		{ "lock.stale-unlink", lock_touched, EEXIST },
		{ "lock.stale-unlink", lock_touched_ns, EEXIST },
		{ "lock.stale-unlink", lock_chmod, EEXIST },
	};
	size_t i;

	if (!seam_enabled())
		return; /* the stops are test seams */
	for (i = 0; i < sizeof(races) / sizeof(races[0]); i++) {
		put_lock_pid(dead_pid());
		ck_assert_msg(
		    race_at(races[i].step, races[i].change) == races[i].err,
		    "race %zu", i);
		ck_assert_msg(
		    exists(lockfile) == (races[i].err != 0), "race %zu", i);
		ck_assert_int_eq(count_posts(spool), 0);
		unlink(lockfile);
	}

	/* A broken lock that is back at once is respected, not broken twice. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.link:EEXIST:2", 1), 0);
	put_lock_pid(dead_pid());
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(!exists(lockfile));
	/* A stale lock its owner removed first: gone is gone. */
	ck_assert_int_eq(
	    setenv("POP2_FAIL_AT", "lock.unlink-stale:ENOENT", 1), 0);
	put_lock_pid(dead_pid());
	ck_assert_int_eq(dot_errno(mbox), EEXIST);
	ck_assert(exists(lockfile));
	ck_assert_int_eq(unsetenv("POP2_FAIL_AT"), 0);
	ck_assert_int_eq(count_posts(spool), 0);
}
END_TEST

/* Different host names, made harmless in post names (a UTS namespace). */
static int
sweep_in_host(const char *hostname, const char *as)
{
	char name[NAME_MAX + 1], p[PATH_MAX];
	pid_t pid, dead;
	int status;

	dead = dead_pid();
	fflush(NULL);
	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0) {
		struct dotlock dl;

		if (unshare(CLONE_NEWUTS) == -1)
			exit(77);
		REQUIRE(sethostname(hostname, strlen(hostname)) == 0);
		snprintf(name, sizeof(name),
		    ".mbox.lock.%s.%ld.0123456789abcdef", as, (long)dead);
		at(p, spool, name);
		put(p, "1\n", 0644);
		REQUIRE(dotlock_sweep(mbox, getuid()) == 1);
		REQUIRE(!exists(p));
		/* Our own posts carry the same harmless name. */
		REQUIRE(dotlock_try(&dl, mbox) == 0);
		dotlock_release(&dl);
		exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100;
}

START_TEST(dotlock_host_names)
{
	int r;

	r = sweep_in_host("Mail-7.example.org", "Mail-7.example.org");
	if (r == 77)
		return; /* no UTS namespace for us: the other cases cover it */
	ck_assert_int_eq(r, 0);
	ck_assert_int_eq(sweep_in_host("a/b c:d~", "a_b_c_d_"), 0);
}
END_TEST

/* ------------------------------------------------------- lock waits */

static void
on_alarm(int sig)
{
	(void)sig;
}

/*
 * Sends SIGALRM, which a handler catches, every MS milliseconds (0: no
 * more): one that arrives between two sleeps is followed by another.
 */
static void
alarm_in(long ms)
{
	struct sigaction sa;
	struct itimerval it;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_sec = ms / 1000;
	it.it_value.tv_usec = (ms % 1000) * 1000;
	it.it_interval = it.it_value;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

START_TEST(waits_end_early)
{
	struct lock_dot dot;
	struct holder h;
	char p[PATH_MAX];
	pid_t sleeper;
	int fd = open(mbox, O_RDWR | O_CLOEXEC);

	/* Busy and no time to wait: one attempt. */
	holder_start(&h, mbox);
	errno = 0;
	ck_assert_int_eq(lock_ofd_read(fd, 0), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 0, &dot), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	/* A signal ends a wait, so that its flag can be looked at. */
	alarm_in(100);
	errno = 0;
	ck_assert_int_eq(lock_ofd_read(fd, 60), -1);
	ck_assert_int_eq(errno, EINTR);
	alarm_in(0);
	holder_stop(&h);

	sleeper = sleeper_start();
	put_lock_pid(sleeper);
	alarm_in(100);
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, mbox, NULL, 60, &dot), -1);
	ck_assert_int_eq(errno, EINTR);
	alarm_in(0);
	ck_assert(!dot.held);
	sleeper_stop(sleeper);
	ck_assert_int_eq(unlink(lockfile), 0);
	/* Nothing is held after any of it. */
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);

	/* The dot-lock cannot be made at all: L1 is let go at once. */
	at(p, root, "no-such-folder/mbox");
	errno = 0;
	ck_assert_int_eq(lock_maildrop(fd, p, NULL, 60, &dot), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(child_setlk(mbox, F_WRLCK), 0);
	close(fd);
}
END_TEST

/* ---------------------------------------------------- helper faults */

static pid_t held_helper;

static int
try_stubborn_helper(void)
{
	struct lock_dot dot;

	REQUIRE(lock_dot_try(&dot, mbox, helper_path("stubborn")) == 0);
	REQUIRE(dot.held && dot.helper > 0);
	held_helper = dot.helper;
	/* It ignores EOF and SIGTERM: release ends it with SIGKILL. */
	lock_dot_release(&dot);
	REQUIRE(!dot.held);
	REQUIRE(kill(held_helper, 0) == -1 && errno == ESRCH);
	REQUIRE(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
	return 0;
}

static int
try_slow_answer(void)
{
	struct lock_dot dot;

	REQUIRE(lock_dot_try(&dot, mbox, helper_path("slow")) == 0);
	REQUIRE(dot.held && dot.helper > 0);
	lock_dot_release(&dot);
	REQUIRE(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
	return 0;
}

static int
try_silent_helper(void)
{
	struct lock_dot dot;
	int st;

	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("silent")) == -1);
	REQUIRE(errno == EIO);
	REQUIRE(dot.report.fault == LOCK_HELPER_NO_ANSWER);
	REQUIRE(dot.report.err == ETIMEDOUT);
	st = dot.report.status;
	REQUIRE(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	REQUIRE(waitpid(-1, NULL, WNOHANG) == -1 && errno == ECHILD);
	return 0;
}

static int
try_helper_status(void)
{
	struct lock_dot dot;

	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("refuse")) == -1);
	REQUIRE(errno == refusal_err);
	REQUIRE(dot.report.fault == refusal->fault);
	REQUIRE(strcmp(dot.report.reason, refusal->reason) == 0);
	if (refusal->fault == LOCK_HELPER_NOT_STARTED)
		REQUIRE(dot.report.err == ENOENT);
	REQUIRE(WIFEXITED(dot.report.status) &&
	    WEXITSTATUS(dot.report.status) == refusal->status);
	return 0;
}

/*
 * A caller that ignores SIGCHLD has its children reaped by the kernel:
 * there is no wait status to be had, and nothing must hang on one.
 */
static int
try_children_reaped(void)
{
	struct lock_dot dot;

	REQUIRE(signal(SIGCHLD, SIG_IGN) != SIG_ERR);
	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("refuse")) == -1);
	REQUIRE(errno == EIO);
	REQUIRE(dot.report.fault == LOCK_HELPER_REFUSED);
	REQUIRE(dot.report.status == -1);
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("slow")) == 0);
	/* The helper refreshes its own lock. */
	lock_dot_refresh(&dot);
	lock_dot_release(&dot);
	REQUIRE(!dot.held && dot.helper == 0);
	lock_dot_refresh(&dot);
	return 0;
}

static void
on_child_alarm(int sig)
{
	(void)sig;
}

/* Signals while the answer is awaited do not cut the wait short. */
static int
try_answer_through_signals(void)
{
	struct itimerval it = { { 0, 20000 }, { 0, 20000 } };
	struct sigaction sa;
	struct lock_dot dot;
	int r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_child_alarm;
	REQUIRE(sigaction(SIGALRM, &sa, NULL) == 0);
	REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
	r = lock_dot_try(&dot, mbox, helper_path("late"));
	memset(&it, 0, sizeof(it));
	REQUIRE(setitimer(ITIMER_REAL, &it, NULL) == 0);
	REQUIRE(r == 0 && dot.held);
	lock_dot_release(&dot);
	return 0;
}

/*
 * Room for ROOM more descriptors only: the first or the second pipe to the
 * helper cannot be made, and nothing is left open.
 */
static int room;

static int
try_no_descriptors(void)
{
	struct lock_dot dot;
	struct rlimit rl;
	int fds[3], i;

	for (i = 0; i < 3; i++)
		REQUIRE((fds[i] = dup(0)) != -1);
	for (i = 0; i < 3; i++)
		close(fds[i]);
	REQUIRE(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	rl.rlim_cur = (rlim_t)fds[room];
	REQUIRE(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	errno = 0;
	REQUIRE(lock_dot_try(&dot, mbox, helper_path("none")) == -1);
	REQUIRE(errno == EMFILE);
	REQUIRE(!dot.held);
	REQUIRE(fcntl(fds[0], F_GETFD) == -1 && fcntl(fds[1], F_GETFD) == -1);
	return 0;
}

/*
 * Helpers that answer in pieces, never, or hold on past EOF and SIGTERM;
 * and the exit statuses only a fork-based posix_spawn or an odd helper
 * gives. The waits are shortened through the test build's seams.
 */
START_TEST(helper_faults)
{
	static const struct refusal odd[] = {
		/* A fork-based posix_spawn() reports a failed exec so. */
		{ "exit 127", ENOENT, LOCK_HELPER_NOT_STARTED, 127, "" },
		{ "echo '0 odd'; exit 3", EINVAL, LOCK_HELPER_REFUSED, 3,
		    "odd" },
		{ "echo '0 x'; exit 127", ENOENT, LOCK_HELPER_REFUSED, 127,
		    "x" },
		{ "echo 0; exit 73", EIO, LOCK_HELPER_REFUSED, 73, "" },
		/* No line within the answer's bound. */
		{ "printf '%200s' x; exit 64", EINVAL, LOCK_HELPER_NO_ANSWER,
		    64, "" },
	};
	size_t i;

	for (i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		fake_helper("refuse", odd[i].body);
		refusal = &odd[i];
		refusal_err = odd[i].err;
		ck_assert_msg(
		    unprivileged(try_helper_status) == 0, "%s", odd[i].body);
	}
	fake_helper("slow", "printf 1; sleep 0.1; echo; cat >/dev/null");
	ck_assert_int_eq(unprivileged(try_slow_answer), 0);
	fake_helper("refuse", "echo '0 busy'; exit 75");
	ck_assert_int_eq(unprivileged(try_children_reaped), 0);
	fake_helper("late", "sleep 0.2; echo 1; cat >/dev/null");
	ck_assert_int_eq(unprivileged(try_answer_through_signals), 0);
	/* The folder, the post's attempt and the first pipe fit; no more. */
	room = 2;
	ck_assert_int_eq(unprivileged(try_no_descriptors), 0);
	if (!seam_enabled())
		return; /* the waits below take seconds in a production build */
	ck_assert_int_eq(setenv("POP2_HELPER_ANSWER_MS", "200", 1), 0);
	ck_assert_int_eq(setenv("POP2_HELPER_EXIT_MS", "100", 1), 0);
	fake_helper("silent", "exec sleep 100");
	ck_assert_int_eq(unprivileged(try_silent_helper), 0);
	fake_helper("stubborn", "trap '' TERM; echo 1; exec sleep 100");
	ck_assert_int_eq(unprivileged(try_stubborn_helper), 0);
	/* No folder opened at all: not even the first pipe fits. */
	ck_assert_int_eq(setenv("POP2_FAIL_AT", "lock.folder:EACCES", 1), 0);
	room = 1;
	ck_assert_int_eq(unprivileged(try_no_descriptors), 0);
	unsetenv("POP2_FAIL_AT");
	unsetenv("POP2_HELPER_ANSWER_MS");
	unsetenv("POP2_HELPER_EXIT_MS");
}
END_TEST

static Suite *
lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *core = tcase_create("core");
	TCase *stale = tcase_create("stale");
	TCase *helper = tcase_create("helper");
	TCase *faults = tcase_create("faults");
	TCase *dotlock = tcase_create("dotlock");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, session_once);
	tcase_add_test(core, session_other_process);
	tcase_add_test(core, ofd_blocks_classic);
	tcase_add_test(core, ofd_write_only_excludes);
	tcase_add_test(core, classic_blocks_ofd);
	tcase_add_test(core, ofd_read_only_is_shared);
	tcase_add_test(core, ofd_survives_close);
	tcase_add_test(core, classic_lost_on_close);
	tcase_add_test(core, ofd_read_waits);
	tcase_add_test(core, ofd_read_gets_it_when_freed);
	tcase_add_test(core, dot_take_release);
	tcase_add_test(core, dot_release_leaves_foreign);
	tcase_add_test(core, dot_refresh);
	tcase_add_test(core, dot_long_name);
	tcase_add_test(core, maildrop_take_release);
	tcase_add_test(core, dot_sweep_dead_posts);
	tcase_set_timeout(core, 30);

	tcase_add_checked_fixture(stale, setup, teardown);
	tcase_add_test(stale, stale_dead_pid);
	tcase_add_test(stale, stale_old_without_pid);
	tcase_add_test(stale, stale_old_garbage);
	tcase_add_test(stale, fresh_without_pid_held);
	tcase_add_test(stale, live_pid_held);
	tcase_add_test(stale, live_pid_untouched_stale);
	tcase_add_test(stale, not_a_lock_kept);
	tcase_add_test(stale, maildrop_times_out);
	tcase_add_test(stale, maildrop_kernel_busy);
	tcase_add_test(stale, maildrop_waits_for_holder);
	tcase_set_timeout(stale, 30);

	tcase_add_checked_fixture(helper, setup, teardown);
	tcase_add_test(helper, helper_not_needed_not_asked);
	tcase_add_test(helper, helper_protocol);
	tcase_add_loop_test(helper, helper_refuses, 0,
	    (int)(sizeof(refusals) / sizeof(refusals[0])));
	tcase_add_test(helper, helper_missing);
	if (seam_enabled())
		tcase_add_test(helper, helper_asked_on_eperm);
	tcase_add_test(helper, helper_causes);
	tcase_add_test(helper, helper_busy_times_out);
	tcase_add_test(helper, helper_faults);
	if (geteuid() == 0) {
		tcase_add_test(helper, real_helper);
		tcase_add_test(helper, real_helper_stale);
		tcase_add_test(helper, real_helper_foreign);
	} else {
		fprintf(stderr,
		    "check_lock: SKIP: helper: the set-group-ID "
		    "pop2-lock tests need root (chgrp mail, then user "
		    "nobody)\n");
	}
	tcase_set_timeout(helper, 60);

	tcase_add_checked_fixture(faults, setup, teardown);
	tcase_add_test(faults, estale_replaced);
	tcase_add_test(faults, estale_hard_link);
	tcase_add_test(faults, estale_removed);
	tcase_add_test(faults, session_faults);
	tcase_add_test(faults, ofd_faults);
	tcase_add_test(faults, dot_faults);
	tcase_add_test(faults, dot_empty_when_full);
	tcase_add_test(faults, waits_end_early);
	tcase_set_timeout(faults, 30);

	tcase_add_checked_fixture(dotlock, setup, teardown);
	tcase_add_test(dotlock, dotlock_names);
	tcase_add_test(dotlock, dotlock_pid_forms);
	tcase_add_test(dotlock, dotlock_odd_files_kept);
	tcase_add_test(dotlock, dotlock_foreign_views);
	tcase_add_test(dotlock, dotlock_sweep_spares);
	tcase_add_test(dotlock, dotlock_refresh_and_release);
	tcase_add_test(dotlock, dotlock_empty_changed);
	tcase_add_test(dotlock, dotlock_failures);
	tcase_add_test(dotlock, dotlock_judged_file_only);
	tcase_add_test(dotlock, dotlock_host_names);
	tcase_set_timeout(dotlock, 30);

	suite_add_tcase(s, core);
	suite_add_tcase(s, stale);
	suite_add_tcase(s, helper);
	suite_add_tcase(s, faults);
	suite_add_tcase(s, dotlock);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed != 0)
		return EXIT_FAILURE;
	/* The set-group-ID cases could not run: a SKIP, not a pass. */
	return geteuid() == 0 ? EXIT_SUCCESS : 77;
}
