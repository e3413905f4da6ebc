/*
 * lock: the session lock, the OFD lock and the NFS-safe dot-lock of
 * MAILDROP.md, and the client side of pop2-lock's service mode.
 *
 * The dot-lock follows liblockfile, whose rules every Debian delivery agent
 * shares: the lock file holds "PID\n", it is made by link()ing a unique
 * hitching post to the lock name, and a foreign lock is stale when its PID
 * is dead or, without a PID, when it has not been touched for 300 s.
 */
#include "config.h"

#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lock.h"
#include "seam.h"
#include "state.h"

/* The back-off between two attempts of lock_maildrop(), in milliseconds. */
#define BACKOFF_MIN_MS 500
#define BACKOFF_MAX_MS 2000

/* How often lock_ofd_read() asks again for a busy read lock. */
#define OFD_POLL_MS 50

/* How long pop2-lock may take to answer, and to exit once told to. */
#define HELPER_ANSWER_MS 5000
#define HELPER_EXIT_MS 5000

/* pop2-lock's exit codes (sysexits.h), see pop2-lock(8). */
#define HELPER_EXIT_USAGE 64
#define HELPER_EXIT_CANTCREAT 73
#define HELPER_EXIT_BUSY 75
#define HELPER_EXIT_NOPERM 77
/* What glibc's posix_spawn() child exits with when its exec fails. */
#define HELPER_EXIT_NOTRUN 127

/* liblockfile reads at most this much of a lock file to find the PID. */
#define PID_READ 16

/* The magic number of NFS in statfs.f_type (linux/magic.h). */
#define NFS_MAGIC 0x6969

/* A dot-lock holds at most a PID and a newline; anything larger is not one. */
#define LOCK_MAX_SIZE 32

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Sleeps MS milliseconds. A signal ends the sleep early with -1 and EINTR,
 * so that the caller can notice a flag its handler set.
 */
static int
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	return nanosleep(&ts, NULL);
}

/*
 * Random bits for post names and back-off. Nothing depends on their
 * quality: the kernel's are used when it has them at once, else the clock
 * and the PID, mixed so that neighbouring values differ everywhere.
 */
static uint64_t
random64(void)
{
	struct timespec ts;
	uint64_t r;
	int saved = errno;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    ((uint64_t)getpid() << 44);
		/* splitmix64's finalizer */
		r ^= r >> 30;
		r *= 0xbf58476d1ce4e5b9ULL;
		r ^= r >> 27;
		r *= 0x94d049bb133111ebULL;
		r ^= r >> 31;
	}
	errno = saved;
	return r;
}

/* ------------------------------------------------------------------ L0 */

int
lock_session(int statefd)
{
	const char *why;
	int fd, saved;

	/* A FIFO, a device, a link or another uid's file is not ours. */
	fd = seam_fail("lock.session-open") ? -1 :
	    state_open_file(statefd, "session", O_RDWR | O_CREAT, 0600,
	    geteuid(), &why);
	if (fd == -1)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) == -1)
		goto fail;
	return fd;

fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
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
	fl.l_len = 0;	/* to the end of the file, however far it grows */
	fl.l_pid = 0;	/* required by F_OFD_SETLK */
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
	int64_t deadline = now_ms() + (int64_t)timeout * 1000;

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
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (sleep_ms(left < OFD_POLL_MS ? left : OFD_POLL_MS) == -1)
			return -1;
	}
}

/* ------------------------------------------------------------------ L2 */

static void
dot_init(struct lock_dot *dot)
{
	memset(dot, 0, sizeof(*dot));
	dot->held = false;
	dot->helper = 0;
	dot->helper_fd = -1;
	dot->report.status = -1;
}

/*
 * Names the hitching post for LOCKPATH: ".LOCKBASE.HOST.PID.RANDOM" in the
 * lock's folder, as liblockfile does, shortened to fit NAME_MAX. The PID
 * and the random part alone make it unique, so the other parts may be cut.
 */
/* This host's name as a post name carries it. */
static void
post_host(char host[65])
{
	size_t i;

	if (gethostname(host, 65) == -1)
		host[0] = '\0';
	host[64] = '\0';
	for (i = 0; host[i] != '\0'; i++) {
		char c = host[i];

		/* Keep the post name a harmless file name whatever the host. */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.'))
			host[i] = '_';
	}
}

static int
post_name(char *dst, size_t size, const char *lockpath)
{
	char host[65], suffix[128];
	const char *base = strrchr(lockpath, '/');
	size_t dirlen, baselen;
	int n;

	base = base == NULL ? lockpath : base + 1;
	dirlen = (size_t)(base - lockpath);
	baselen = strlen(base);

	post_host(host);
	n = snprintf(suffix, sizeof(suffix), ".%s.%ld.%016llx", host,
	    (long)getpid(), (unsigned long long)random64());
	if (n < 0 || (size_t)n >= sizeof(suffix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (baselen > NAME_MAX - 1 - (size_t)n)
		baselen = NAME_MAX - 1 - (size_t)n;
	n = snprintf(dst, size, "%.*s.%.*s%s", (int)dirlen, lockpath,
	    (int)baselen, base, suffix);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether a write failed for want of space: the disk is full, or the quota. */
static bool
no_space(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/*
 * Makes the hitching post POST holding our PID and returns its identity
 * in *ST. When the PID cannot be written for want of space (ENOSPC,
 * EDQUOT), the post is kept empty and *EMPTY set: nobody can append to a
 * maildrop on a full disk or over quota either, an empty lock still keeps
 * every dot-locking program out, and it is judged stale by its age alone,
 * as liblockfile judges a lock without a PID. Without this a full spool
 * would lock every user out of the very mail they need to delete. Returns
 * 0, or -1 with errno and no post left behind.
 */
static int
post_make(const char *post, struct stat *st, bool *empty)
{
	char text[32];
	int fd, n, saved;

	*empty = false;
	fd = seam_fail("lock.post-open") ? -1 : open(post,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd == -1)
		return -1;
	/*
	 * Readable whatever our umask, so that others can see our PID and
	 * break the lock at once should we die holding it.
	 */
	n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (fchmod(fd, 0644) == -1)
		goto fail;
	if (seam_fail("lock.post-write") ||
	    write_all(fd, text, (size_t)n) == -1) {
		/* Part of a PID is worse than none; truncating needs no room. */
		if (!no_space(errno) || ftruncate(fd, 0) == -1)
			goto fail;
		*empty = true;
	}
	if (fstat(fd, st) == -1)
		goto fail;
	if (close(fd) == -1) {
		saved = errno;
		/* NFS reports a full disk at close: make the post empty then. */
		if (!no_space(saved) || *empty || truncate(post, 0) == -1 ||
		    lstat(post, st) == -1) {
			unlink(post);
			errno = saved;
			return -1;
		}
		*empty = true;
	}
	return 0;

fail:
	saved = errno;
	close(fd);
	unlink(post);
	errno = saved;
	return -1;
}

/*
 * Reads the PID that liblockfile's "%d\n" left in the lock file open at
 * FD. Returns it, or 0 when there is none (empty, not a number, out of
 * range): such a lock is judged by its age alone.
 */
static pid_t
lock_pid(int fd)
{
	char buf[PID_READ + 1];
	ssize_t n;
	long pid = 0;
	int i = 0;

	n = read(fd, buf, PID_READ);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	while (buf[i] == ' ')
		i++;
	if (buf[i] < '0' || buf[i] > '9')
		return 0;
	for (; buf[i] >= '0' && buf[i] <= '9'; i++) {
		pid = pid * 10 + (buf[i] - '0');
		if (pid > INT_MAX)
			return 0;
	}
	if (buf[i] != '\0' && buf[i] != '\n' && buf[i] != ' ')
		return 0;
	return (pid_t)pid;
}

/*
 * Whether the file open at FD, of status ST, can be a dot-lock at all: a
 * lone regular file of a few octets holding nothing but a PID (digits,
 * spaces, newlines, NULs) or nothing. Anything else - a mailbox that merely
 * ends in ".lock", a file with a second link (a hitching post mid-lock) -
 * is never removed, however old.
 */
static bool
looks_like_lock(int fd, const struct stat *st)
{
	char buf[LOCK_MAX_SIZE];
	ssize_t n, i;

	if (!S_ISREG(st->st_mode) || st->st_nlink != 1 || st->st_size > LOCK_MAX_SIZE)
		return false;
	if (fd == -1)
		return true; /* unreadable: size and links are all there is */
	n = pread(fd, buf, sizeof(buf), 0);
	if (n == -1)
		return false;
	for (i = 0; i < n; i++)
		if ((buf[i] < '0' || buf[i] > '9') && buf[i] != ' ' &&
		    buf[i] != '\n' && buf[i] != '\0')
			return false;
	return true;
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
 * Judges the foreign lock at LOCKPATH and removes it when it is stale and
 * still the very file that was judged. Returns 0 when the lock is gone
 * (removed here or by its owner), or -1 when it must be respected.
 *
 * Stale (MAILDROP.md): the PID inside is dead, or the lock has not been
 * touched for LOCK_STALE_SECONDS, whoever holds it; a holder that keeps it
 * longer must touch it, as lock_dot_refresh() does. On NFS a PID may
 * belong to another host, so there only the age counts. A file that does
 * not look like a lock is never judged stale.
 */
static int
dot_break_stale(const char *lockpath)
{
	struct stat st, fst, now_st;
	struct statfs sfs;
	pid_t pid = 0;
	bool stale;
	int fd;

	if (lstat(lockpath, &st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISREG(st.st_mode))
		return -1;
	fd = open(lockpath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		/* Unreadable: judge by age, like liblockfile. */
	} else {
		if (fstat(fd, &fst) == -1 || !unchanged_since(&fst, &st)) {
			/* Replaced while we looked: judge it next time. */
			close(fd);
			return -1;
		}
		if (!looks_like_lock(fd, &st)) {
			close(fd);
			return -1;
		}
		if (fstatfs(fd, &sfs) == 0 && sfs.f_type != NFS_MAGIC)
			pid = lock_pid(fd);
		close(fd);
	}
	if (fd == -1 && !looks_like_lock(-1, &st))
		return -1;

	stale = (pid > 0 && kill(pid, 0) == -1 && errno == ESRCH) ||
	    time(NULL) - st.st_mtime >= LOCK_STALE_SECONDS;
	if (!stale)
		return -1;
	/*
	 * Another process may have broken it and made a fresh one since:
	 * remove only the very file that was judged.
	 */
	if (lstat(lockpath, &now_st) == -1)
		return errno == ENOENT ? 0 : -1;
	if (!unchanged_since(&now_st, &st))
		return -1;
	if ((seam_fail("lock.unlink-stale") || unlink(lockpath) == -1) &&
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
dot_link(struct lock_dot *dot, const char *post, const struct stat *pst)
{
	struct stat st;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		int r = seam_fail("lock.link") ? -1 : link(post, dot->path);
		int err = errno;

		if (r == 0 || (lstat(dot->path, &st) == 0 &&
		    st.st_dev == pst->st_dev && st.st_ino == pst->st_ino)) {
			dot->held = true;
			dot->dev = pst->st_dev;
			dot->ino = pst->st_ino;
			dot->touched = time(NULL);
			return 0;
		}
		if (err != EEXIST) {
			errno = err;
			return -1;
		}
		if (attempt > 0 || dot_break_stale(dot->path) == -1)
			break;
	}
	errno = EEXIST;
	return -1;
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
	int64_t deadline = now_ms() + ms;
	int status, sig = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		if (r == -1 && errno != EINTR)
			return -1;
		if (now_ms() >= deadline) {
			if (sig == SIGKILL)
				break;
			sig = sig == 0 ? SIGTERM : SIGKILL;
			kill(pid, sig);
			deadline = now_ms() + 1000;
		}
		(void)sleep_ms(10);
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
	int64_t deadline = now_ms() + HELPER_ANSWER_MS;
	size_t len = 0;

	while (len < size - 1) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
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

	if (answer[0] != '0' || answer[1] != ' ')
		return;
	for (i = 2; answer[i] != '\0' && answer[i] != '\n' &&
	     n < sizeof(report->reason) - 1;
	     i++) {
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
helper_spawn(pid_t *pid, const char *helper, const char *path, int in,
    int out)
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
	err = posix_spawn_file_actions_adddup2(&fa, in, 0);
	if (err == 0)
		err = posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (err == 0)
		err = posix_spawn_file_actions_addopen(&fa, 2, "/dev/null",
		    O_WRONLY, 0);
#ifdef __GLIBC__
#if __GLIBC_PREREQ(2, 34)
	/* pop2d's other descriptors are none of the helper's business. */
	if (err == 0)
		err = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
#endif
#endif
	if (err == 0)
		err = posix_spawnattr_setflags(&attr,
		    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	if (err == 0)
		err = posix_spawnattr_setsigmask(&attr, &none);
	if (err == 0)
		err = posix_spawnattr_setsigdefault(&attr, &dfl);
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
	char answer[128];
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
		dot->touched = time(NULL);
		return 0;
	}

	/* Refused, died or silent: EOF on its standard input ends it. */
	close(in[1]);
	status = helper_wait(pid, n == -1 ? 0 : HELPER_EXIT_MS);
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
	char post[PATH_MAX];
	struct stat pst, st;
	bool empty;
	int n, r, saved;

	dot_init(dot);
	if (*path == '\0') {
		errno = EINVAL;
		return -1;
	}
	n = snprintf(dot->path, sizeof(dot->path), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(dot->path)) {
		dot->path[0] = '\0';
		errno = ENAMETOOLONG;
		return -1;
	}
	if (post_name(post, sizeof(post), dot->path) == -1)
		return -1;
	if (post_make(post, &pst, &empty) == -1) {
		if ((errno == EACCES || errno == EPERM) && helper != NULL)
			return dot_helper(dot, path, helper);
		return -1;
	}
	r = dot_link(dot, post, &pst);
	saved = errno;
	unlink(post);
	/*
	 * An empty lock has no PID to prove it ours: its ctime, which any
	 * link, unlink or touch changes, does instead.
	 */
	if (r == 0 && empty) {
		dot->empty = true;
		if (lstat(dot->path, &st) == 0 && st.st_ino == dot->ino)
			dot->ctime = st.st_ctim;
	}
	errno = saved;
	return r;
}

/*
 * Whether NAME is a hitching post that post_name() made on this host
 * (HOST) for the lock named LOCKBASE; stores its creator's PID in *PID.
 * Read from the end: ".RANDOM" (16 hex digits), ".PID", ".HOST", and in
 * front "." and LOCKBASE, possibly cut short.
 */
static bool
post_parse(const char *name, const char *lockbase, const char *host,
    pid_t *pid)
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
	start = end;
	while (start > 0 && name[start - 1] >= '0' && name[start - 1] <= '9')
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
	/* Between the leading '.' and ".HOST": LOCKBASE, perhaps cut. */
	i = start - 2 - hlen - 1;
	if (i == 0 || i > strlen(lockbase) || memcmp(name + 1, lockbase, i) != 0)
		return false;
	*pid = (pid_t)v;
	return true;
}

int
lock_dot_sweep(const char *path, uid_t uid)
{
	char lockpath[PATH_MAX], host[65];
	const char *slash, *lockbase;
	struct dirent *de;
	DIR *dir;
	int dfd, n, removed = 0;

	n = snprintf(lockpath, sizeof(lockpath), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(lockpath)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	slash = strrchr(lockpath, '/');
	lockbase = slash == NULL ? lockpath : slash + 1;
	if (slash == lockpath)
		dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash != NULL) {
		lockpath[slash - lockpath] = '\0';
		dfd = open(lockpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return -1;
	dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return -1;
	}
	post_host(host);
	/* cppcheck-suppress readdirCalled ; nothing here runs in threads */
	while ((de = readdir(dir)) != NULL) {
		struct stat st;
		pid_t pid;

		if (!post_parse(de->d_name, lockbase, host, &pid) ||
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
dot_open_ours(const struct lock_dot *dot)
{
	char buf[PID_READ + 1], want[32];
	struct stat st;
	ssize_t n;
	int fd, len;

	fd = open(dot->path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1)
		return -1;
	len = snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	if (fstat(fd, &st) == -1 || st.st_dev != dot->dev ||
	    st.st_ino != dot->ino)
		goto no;
	if (dot->empty) {
		if (st.st_size != 0 || st.st_ctim.tv_sec != dot->ctime.tv_sec ||
		    st.st_ctim.tv_nsec != dot->ctime.tv_nsec)
			goto no;
		return fd;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n != len || memcmp(buf, want, (size_t)len) != 0)
		goto no;
	return fd;

no:
	close(fd);
	return -1;
}

void
lock_dot_refresh(struct lock_dot *dot)
{
	time_t now = time(NULL);
	int fd, saved = errno;

	if (!dot->held || dot->helper > 0)
		return;
	if (now >= dot->touched && now - dot->touched < LOCK_REFRESH_SECONDS)
		return;
	dot->touched = now;
	/* Touch only our own lock, never one that replaced it. */
	fd = dot_open_ours(dot);
	if (fd != -1) {
		struct stat st;

		if (futimens(fd, NULL) == 0 && dot->empty &&
		    fstat(fd, &st) == 0)
			dot->ctime = st.st_ctim;
		close(fd);
	}
	errno = saved;
}

void
lock_dot_release(struct lock_dot *dot)
{
	int fd, saved = errno;

	if (!dot->held)
		return;
	if (dot->helper > 0) {
		close(dot->helper_fd);
		(void)helper_wait(dot->helper, HELPER_EXIT_MS);
	} else if ((fd = dot_open_ours(dot)) != -1) {
		/* Should it fail, the lock names a dead process once we exit. */
		if (!seam_fail("lock.unlink"))
			(void)unlink(dot->path);
		close(fd);
	}
	dot->held = false;
	dot->helper = 0;
	dot->helper_fd = -1;
	errno = saved;
}

/* ------------------------------------------------------------- L1 + L2 */

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
	int64_t deadline = now_ms() + (int64_t)timeout * 1000;

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
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pause = BACKOFF_MIN_MS +
		    (int64_t)(random64() % (BACKOFF_MAX_MS - BACKOFF_MIN_MS + 1));
		if (sleep_ms(pause < left ? pause : left) == -1)
			return -1;
	}
}

void
lock_maildrop_release(int fd, struct lock_dot *dot)
{
	lock_dot_release(dot);
	lock_ofd_release(fd);
}
