/*
 * lock: the session lock (L0) and the OFD lock (L1) of MAILDROP.md, the
 * client side of pop2-lock's service mode, and L1 and L2 taken together
 * with back-off. The dot-lock itself (L2) is dotlock.c's.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lock.h"
#include "seam.h"
#include "state.h"
#include "util.h"

/* The back-off between two attempts of lock_maildrop(), in milliseconds. */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 2000

/* How often lock_ofd_read() asks again for a busy read lock. */
#define OFD_POLL_MS 50

/*
 * How long pop2-lock may take to answer, to exit once told to, and to die
 * once sent SIGTERM. A test build may shorten them (POP2_HELPER_ANSWER_MS,
 * POP2_HELPER_EXIT_MS).
 */
#define HELPER_ANSWER_MS 5000
#define HELPER_EXIT_MS 5000
#define HELPER_TERM_MS 1000

static int64_t
helper_ms(const char *name, unsigned long ms)
{
	return (int64_t)seam_number(name, ms, 1, ms);
}

/* pop2-lock's exit codes (sysexits.h), see pop2-lock(8). */
#define HELPER_EXIT_USAGE 64
#define HELPER_EXIT_CANTCREAT 73
#define HELPER_EXIT_BUSY 75
#define HELPER_EXIT_NOPERM 77
/* What glibc's posix_spawn() child exits with when its exec fails. */
#define HELPER_EXIT_NOTRUN 127

/* ------------------------------------------------------------------ L0 */

int
lock_session(int statefd)
{
	const char *why;
	int fd;

	/* A FIFO, a device, a link or another uid's file is not ours. */
	fd = seam_fail("lock.session-open")
	    ? -1
	    : state_open_file(
		  statefd, "session", O_RDWR | O_CREAT, 0600, geteuid(), &why);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		return util_close_keep_errno(fd);
	return fd;
}

/* ------------------------------------------------------------------ L1 */

static int
ofd_set(int fd, short type)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0; /* to the end of the file, however far it grows */
	fl.l_pid = 0; /* required by F_OFD_SETLK */
	if (fcntl(fd, F_OFD_SETLK, &fl) == -1) {
		/* POSIX lets a conflict be reported either way. */
		if (errno == EACCES)
			errno = EAGAIN;
		return -1;
	}
	return 0;
}

int
lock_ofd(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1)
		return -1;
	if ((fl & O_ACCMODE) == O_RDWR || (fl & O_ACCMODE) == O_WRONLY)
		return ofd_set(fd, F_WRLCK);
	return ofd_set(fd, F_RDLCK);
}

void
lock_ofd_release(int fd)
{
	int saved = errno;

	(void)ofd_set(fd, F_UNLCK);
	errno = saved;
}

int
lock_ofd_read(int fd, int timeout)
{
	int64_t deadline = util_now_ms() + (int64_t)timeout * 1000;

	/*
	 * F_OFD_SETLKW could only be bounded with alarm(); asking again every
	 * OFD_POLL_MS costs nothing next to a delivery we wait for.
	 */
	for (;;) {
		int64_t left;

		if (ofd_set(fd, F_RDLCK) == 0)
			return 0;
		if (errno != EAGAIN)
			return -1;
		left = deadline - util_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (util_sleep_ms(left < OFD_POLL_MS ? left : OFD_POLL_MS) ==
		    -1)
			return -1;
	}
}

/* ------------------------------------------------------------------ L2 */

static void
dot_init(struct lock_dot *dot)
{
	memset(dot, 0, sizeof(*dot));
	dot->held = false;
	dotlock_init(&dot->own);
	dot->helper = 0;
	dot->helper_fd = -1;
	dot->report.status = -1;
}

/* ------------------------------------------------------- pop2-lock client */

/*
 * Waits up to MS milliseconds for PID to exit, then ends it: first with
 * SIGTERM, on which pop2-lock removes its lock, then with SIGKILL. Returns
 * its wait status, or -1 with errno.
 */
static int
helper_wait(pid_t pid, int64_t ms)
{
	int64_t deadline = util_now_ms() + ms;
	int status, sig = 0;

	for (;;) {
		/* WNOHANG: it never sleeps, so no signal interrupts it. */
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r == -1)
			return -1;
		if (util_now_ms() >= deadline) {
			if (sig == SIGKILL)
				break;
			sig = sig == 0 ? SIGTERM : SIGKILL;
			kill(pid, sig);
			deadline = util_now_ms() +
			    helper_ms("POP2_HELPER_EXIT_MS", HELPER_TERM_MS);
		}
		(void)util_sleep_ms(10);
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	return status;
}

/*
 * Reads pop2-lock's one-line answer into BUF (NUL-terminated, newline
 * kept) within HELPER_ANSWER_MS. Returns its length (0 at EOF without a
 * line), or -1 with errno ETIMEDOUT or a read error.
 */
static ssize_t
helper_answer(int fd, char *buf, size_t size)
{
	int64_t deadline = util_now_ms() +
	    helper_ms("POP2_HELPER_ANSWER_MS", HELPER_ANSWER_MS);
	size_t len = 0;

	while (len < size - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - util_now_ms();
		ssize_t n;
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		r = poll(&pfd, 1, (int)left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			continue;
		n = read(fd, buf + len, size - 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
		if (memchr(buf, '\n', len) != NULL)
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Whether this process runs with no_new_privs (prctl, NoNewPrivileges=). */
static bool
no_new_privs(void)
{
	char line[256];
	bool on = false;
	FILE *f = fopen("/proc/self/status", "re");

	if (f == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "NoNewPrivs:", 11) == 0) {
			on = strtol(line + 11, NULL, 10) != 0;
			break;
		}
	fclose(f);
	return on;
}

/* Fills in REPORT->causes: what keeps HELPER from gaining group mail. */
static void
helper_causes(struct lock_helper_report *report, const char *helper)
{
	struct statvfs sv;
	struct stat st;

	report->causes = 0;
	if (stat(helper, &st) == 0 && (st.st_mode & S_ISGID) == 0)
		report->causes |= LOCK_HELPER_NOT_SETGID;
	if (statvfs(helper, &sv) == 0 && (sv.f_flag & ST_NOSUID) != 0)
		report->causes |= LOCK_HELPER_NOSUID;
	if (no_new_privs())
		report->causes |= LOCK_HELPER_NO_NEW_PRIVS;
}

/* Keeps the REASON of a "0 REASON\n" answer, with control characters as '?'. */
static void
helper_reason(struct lock_helper_report *report, const char *answer)
{
	size_t i, n = 0;

	/* The answer is read into as many octets as the reason has. */
	if (answer[0] != '0' || answer[1] != ' ')
		return;
	for (i = 2; answer[i] != '\0' && answer[i] != '\n'; i++) {
		unsigned char c = (unsigned char)answer[i];

		report->reason[n++] = c < ' ' || c == 0x7f ? '?' : (char)c;
	}
	report->reason[n] = '\0';
}

/* Turns a refusing pop2-lock's wait status into lock_dot_try()'s errno. */
static int
helper_errno(int status)
{
	if (!WIFEXITED(status))
		return EIO;
	switch (WEXITSTATUS(status)) {
	case HELPER_EXIT_BUSY:
		return EEXIST;
	case HELPER_EXIT_CANTCREAT:
		return EIO;
	case HELPER_EXIT_NOPERM:
		return EACCES;
	case HELPER_EXIT_NOTRUN:
		/*
		 * The exec failed where posix_spawn() can only say so through
		 * the exit status (a fork-based posix_spawn, e.g. valgrind's).
		 */
		return ENOENT;
	case HELPER_EXIT_USAGE:
	default:
		return EINVAL;
	}
}

/*
 * Starts HELPER -m PATH with standard input IN and standard output OUT.
 * It gets only those, a silent standard error (pop2d's may be the client's
 * connection), no environment, no blocked signals, and default actions
 * for the signals it handles. Returns 0, or an error number.
 */
static int
helper_spawn(pid_t *pid, const char *helper, const char *path, int in, int out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dfl;
	char *argv[4], *envp[1];
	int err;

	argv[0] = (char *)helper;
	argv[1] = (char *)"-m";
	argv[2] = (char *)path;
	argv[3] = NULL;
	envp[0] = NULL;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGHUP);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGALRM);
	sigaddset(&dfl, SIGCHLD);

	if ((err = posix_spawn_file_actions_init(&fa)) != 0)
		return err;
	if ((err = posix_spawnattr_init(&attr)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return err;
	}
	{
		/*
		 * Each step stands alone, so all are taken and the first
		 * error is reported (each fails only for want of memory).
		 */
		const int steps[] = {
			posix_spawn_file_actions_adddup2(&fa, in, 0),
			posix_spawn_file_actions_adddup2(&fa, out, 1),
			posix_spawn_file_actions_addopen(
			    &fa, 2, "/dev/null", O_WRONLY, 0),
#ifdef __GLIBC__
#if __GLIBC_PREREQ(2, 34)
			/* pop2d's other descriptors are none of its business. */
			posix_spawn_file_actions_addclosefrom_np(&fa, 3),
#endif
#endif
			posix_spawnattr_setflags(&attr,
			    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
			posix_spawnattr_setsigmask(&attr, &none),
			posix_spawnattr_setsigdefault(&attr, &dfl),
		};
		size_t i;

		err = 0;
		for (i = 0; i < sizeof(steps) / sizeof(steps[0]) && err == 0;
		     i++)
			err = steps[i];
	}
	if (err == 0)
		err = posix_spawn(pid, helper, &fa, &attr, argv, envp);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return err;
}

/*
 * Asks HELPER ("HELPER -m PATH") to take the dot-lock: it answers "1\n"
 * once it holds the lock and keeps it until its standard input closes,
 * or "0 reason\n" and exits with a sysexits code.
 */
static int
dot_helper(struct lock_dot *dot, const char *path, const char *helper)
{
	char answer[sizeof(dot->report.reason)];
	int in[2], out[2];
	pid_t pid;
	ssize_t n;
	int err, status;

	if (pipe2(in, O_CLOEXEC) == -1)
		return -1;
	if (pipe2(out, O_CLOEXEC) == -1) {
		err = errno;
		close(in[0]);
		close(in[1]);
		errno = err;
		return -1;
	}
	err = helper_spawn(&pid, helper, path, in[0], out[1]);
	close(in[0]);
	close(out[1]);
	if (err != 0) {
		close(in[1]);
		close(out[0]);
		dot->report.fault = LOCK_HELPER_NOT_STARTED;
		dot->report.err = err;
		helper_causes(&dot->report, helper);
		errno = err;
		return -1;
	}

	n = helper_answer(out[0], answer, sizeof(answer));
	err = errno;
	close(out[0]);
	if (n == 2 && strcmp(answer, "1\n") == 0) {
		dot->held = true;
		dot->helper = pid;
		dot->helper_fd = in[1];
		return 0;
	}

	/* Refused, died or silent: EOF on its standard input ends it. */
	close(in[1]);
	status = helper_wait(pid,
	    n == -1 ? 0 : helper_ms("POP2_HELPER_EXIT_MS", HELPER_EXIT_MS));
	dot->report.status = status;
	dot->report.fault = LOCK_HELPER_NO_ANSWER;
	if (n == -1)
		dot->report.err = err;
	else if (n > 0 && answer[0] == '0')
		dot->report.fault = LOCK_HELPER_REFUSED;
	helper_reason(&dot->report, n > 0 ? answer : "");
	/* A fork-based posix_spawn() reports a failed exec by status 127. */
	if (status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == HELPER_EXIT_NOTRUN && n == 0) {
		dot->report.fault = LOCK_HELPER_NOT_STARTED;
		dot->report.err = ENOENT;
	}
	helper_causes(&dot->report, helper);
	if (n == -1)
		errno = err == ETIMEDOUT ? EIO : err;
	else if (status == -1)
		errno = EIO;
	else
		errno = helper_errno(status);
	return -1;
}

/* ------------------------------------------------------------- dot-lock */

int
lock_dot_try(struct lock_dot *dot, const char *path, const char *helper)
{
	dot_init(dot);
	if (dotlock_try(&dot->own, path) == 0) {
		dot->held = true;
		return 0;
	}
	if ((errno == EACCES || errno == EPERM) && helper != NULL)
		return dot_helper(dot, path, helper);
	return -1;
}

void
lock_dot_refresh(struct lock_dot *dot)
{
	if (dot->held && dot->helper == 0)
		dotlock_refresh(&dot->own);
}

void
lock_dot_release(struct lock_dot *dot)
{
	int saved = errno;

	if (!dot->held)
		return;
	if (dot->helper > 0) {
		close(dot->helper_fd);
		(void)helper_wait(dot->helper,
		    helper_ms("POP2_HELPER_EXIT_MS", HELPER_EXIT_MS));
	} else {
		dotlock_release(&dot->own);
	}
	dot->held = false;
	dot->helper = 0;
	dot->helper_fd = -1;
	errno = saved;
}

/* ------------------------------------------------------------- L1 + L2 */

/*
 * A random pause within [BACKOFF_MIN_MS, BACKOFF_MAX_MS]. A test build may
 * lower the bound (POP2_LOCK_BACKOFF_MS), and the floor with it to a
 * quarter of it, so that a race with delivery agents takes many rounds.
 */
static int64_t
backoff_ms(void)
{
	uint64_t max = seam_number(
	    "POP2_LOCK_BACKOFF_MS", BACKOFF_MAX_MS, 4, BACKOFF_MAX_MS);
	uint64_t min = max * BACKOFF_MIN_MS / BACKOFF_MAX_MS;

	return (int64_t)(min + util_random64() % (max - min + 1));
}

/* Whether PATH still names FD's file, and that file is a lone regular one. */
static bool
same_file(int fd, const char *path)
{
	struct stat fst, pst;

	if (fstat(fd, &fst) == -1 || lstat(path, &pst) == -1)
		return false;
	return fst.st_dev == pst.st_dev && fst.st_ino == pst.st_ino &&
	    S_ISREG(pst.st_mode) && pst.st_nlink == 1;
}

int
lock_maildrop(int fd, const char *path, const char *helper, int timeout,
    struct lock_dot *dot)
{
	int64_t deadline = util_now_ms() + (int64_t)timeout * 1000;

	dot_init(dot);
	for (;;) {
		int64_t left, pause;

		if (lock_ofd(fd) == 0) {
			if (lock_dot_try(dot, path, helper) == 0) {
				if (same_file(fd, path))
					return 0;
				lock_maildrop_release(fd, dot);
				errno = ESTALE;
				return -1;
			}
			lock_ofd_release(fd);
			if (errno != EEXIST)
				return -1;
		} else if (errno != EAGAIN) {
			return -1;
		}

		/* Busy: wait without holding anything, then start over. */
		left = deadline - util_now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pause = backoff_ms();
		if (util_sleep_ms(pause < left ? pause : left) == -1)
			return -1;
	}
}

void
lock_maildrop_release(int fd, struct lock_dot *dot)
{
	lock_dot_release(dot);
	lock_ofd_release(fd);
}
