/*
 * lock: the three maildrop locks of MAILDROP.md as pop2d takes them.
 *
 * L0, the session lock: flock() on STATE/USER/session, held for the whole
 * session, so that two POP2 sessions of one user never commit against each
 * other. No delivery agent ever looks at it.
 *
 * L1, the kernel lock: an open file description (OFD) fcntl lock on the
 * whole maildrop. Unlike a classic POSIX lock it survives the closing of
 * another descriptor of the same file, and it still conflicts with the
 * classic fcntl locks that procmail, Postfix and Exim take.
 *
 * L2, the dot-lock MAILDROP.lock, the one lock every delivery agent shares
 * (dotlock.h). When the process may not create files in the maildrop's
 * folder, the setgid helper pop2-lock makes it instead (service mode: it
 * answers one line and holds the lock until its standard input closes);
 * the client side of that is here.
 *
 * Order: L1 then L2, both without waiting; when L2 is busy L1 is dropped
 * before sleeping, so nothing ever waits on one lock while holding the
 * other. L1 and L2 are held only while a folder is scanned or committed.
 * Nothing here prints or exits; failures are -1 with errno.
 */
#ifndef POP2_LOCK_H
#define POP2_LOCK_H

#include <stdbool.h>
#include <sys/types.h>

#include "dotlock.h"

/* How long lock_maildrop() keeps trying at login/FOLD and at commit. */
#define LOCK_WAIT_SCAN 30
#define LOCK_WAIT_COMMIT 120

/*
 * Takes L0: creates (0600) and flock()s "session" in the directory open at
 * STATEFD, without waiting, opened as state_open_file() does. Returns the
 * descriptor (keep it open for the session), or -1 with errno EWOULDBLOCK
 * when another session holds it, EPERM when "session" is not a regular
 * file of the effective uid with one link.
 */
int lock_session(int statefd);

/*
 * L1 on the file open at FD, without waiting: a write lock when FD is open
 * for writing, else a read lock. Returns 0, or -1 with errno EAGAIN when
 * another process holds a conflicting lock.
 */
int lock_ofd(int fd);

/* Releases L1 on FD. Keeps errno. */
void lock_ofd_release(int fd);

/*
 * Takes a shared L1 on FD (for reading a message while deliveries may be
 * waiting), waiting at most TIMEOUT seconds (asking again every 50 ms; a
 * TIMEOUT of 0 tries once). Returns 0, or -1 with errno ETIMEDOUT, or
 * EINTR when a signal arrived while waiting, so that the caller can look
 * at the flag its handler set.
 */
int lock_ofd_read(int fd, int timeout);

/* How the pop2-lock helper failed to give us the dot-lock. */
enum lock_helper_fault {
	/* Not asked, or it took the lock. */
	LOCK_HELPER_OK = 0,
	/* It could not be run: ERR says why. */
	LOCK_HELPER_NOT_STARTED,
	/* It answered "0 REASON" and exited with STATUS. */
	LOCK_HELPER_REFUSED,
	/* It ended, or stayed silent, without an answer. */
	LOCK_HELPER_NO_ANSWER,
};

/* What keeps a set-group-ID helper from gaining group mail (CAUSES). */
#define LOCK_HELPER_NOT_SETGID 0x1   /* no set-group-ID bit on its file */
#define LOCK_HELPER_NO_NEW_PRIVS 0x2 /* we run with no_new_privs */
#define LOCK_HELPER_NOSUID 0x4	     /* its file system is mounted nosuid */

/*
 * The facts about a failed helper, for the caller to log: ERR is the errno
 * of its start (NOT_STARTED) or of reading its answer (NO_ANSWER, else 0);
 * STATUS its wait status, or -1; CAUSES the LOCK_HELPER_* bits found when
 * it failed; REASON its own reason (REFUSED), control characters as '?'.
 */
struct lock_helper_report {
	enum lock_helper_fault fault;
	int err;
	int status;
	unsigned causes;
	char reason[128];
};

/* A held (or not held) dot-lock, ours or the helper's. */
struct lock_dot {
	bool held;
	struct dotlock own; /* the lock when we made it ourselves */
	pid_t helper;	    /* pop2-lock in service mode, or 0 */
	int helper_fd;	    /* its standard input: closing it unlocks */
	/* Why the last attempt's helper failed; fault LOCK_HELPER_OK if not. */
	struct lock_helper_report report;
};

/*
 * Tries once to take L2 for the maildrop at PATH with dotlock_try().
 *
 * When the folder does not let us create the lock (EACCES, EPERM) and
 * HELPER is not NULL, runs "HELPER -m PATH" in service mode; the lock is
 * then held by that child process, which *DOT records.
 *
 * *DOT is always initialized, held or not, so lock_dot_release() is safe
 * on it; when the helper failed, DOT->report says how (lock_maildrop()
 * keeps the report of its last attempt). Returns 0 with *DOT held, or -1
 * with errno: that of dotlock_try(), or EIO (the helper could not make the
 * lock, did not answer within 5 s, or left no wait status because SIGCHLD
 * is ignored), EACCES (the helper was not permitted), EEXIST (the helper
 * found it busy), EINVAL (the helper refused its arguments), ENOENT or
 * another errno of posix_spawn() (no helper), EMFILE or ENFILE (no pipe
 * to it).
 */
int lock_dot_try(struct lock_dot *dot, const char *path, const char *helper);

/*
 * Touches our own held dot-lock as dotlock_refresh() does; the helper
 * refreshes its own. Keeps errno.
 */
void lock_dot_refresh(struct lock_dot *dot);

/*
 * Releases a held dot-lock: our own as dotlock_release() does, or the
 * helper's by closing its standard input and waiting for it to exit (at
 * most about 5 s, then it is terminated). Safe on a lock not held. Keeps
 * errno.
 */
void lock_dot_release(struct lock_dot *dot);

/*
 * Takes L1 and then L2 on the maildrop open at FD and named PATH, with
 * random back-off (0.5 to 2 s) while either is busy, for at most TIMEOUT
 * seconds (0: one attempt). With both held, fstat(FD) and lstat(PATH) must
 * agree on device and inode, the link count must be 1 and the file
 * regular. Returns 0 with both held, or -1 with nothing held and errno:
 * ETIMEDOUT (still busy), ESTALE (PATH no longer names FD's file, or it is
 * not a lone regular file), EINTR (a signal arrived during the back-off),
 * the error of lock_ofd() or of lock_dot_try().
 */
int lock_maildrop(int fd, const char *path, const char *helper, int timeout,
    struct lock_dot *dot);

/* Releases L2 and then L1. Keeps errno. */
void lock_maildrop_release(int fd, struct lock_dot *dot);

#endif
