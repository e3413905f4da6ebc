/*
 * dotlock: the dot-lock MAILDROP.lock of MAILDROP.md (L2), made, touched
 * and removed by the calling process itself.
 *
 * This is all the locking code the set-group-ID pop2-lock contains; the
 * locks only pop2d takes (L0, L1) and its client of pop2-lock are in
 * lock.h. The lock follows liblockfile, whose rules every Debian delivery
 * agent shares: the lock file holds "PID\n" and is made NFS-safe by
 * link()ing a uniquely named hitching post to the lock's name.
 *
 * Each call opens the maildrop's folder once and works on names inside
 * it, so that a folder renamed between two steps cannot redirect the
 * second. Nothing here prints or exits; failures are -1 with errno.
 */
#ifndef POP2_DOTLOCK_H
#define POP2_DOTLOCK_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

/* A dot-lock's stale age in seconds, and how often a held one is touched. */
#define DOTLOCK_STALE_SECONDS 300
#define DOTLOCK_REFRESH_SECONDS 60

/* A held (or not held) dot-lock. */
struct dotlock {
	bool held;
	int dirfd;		 /* the maildrop's folder (O_PATH), or -1 */
	char name[NAME_MAX + 1]; /* MAILDROP.lock, in that folder */
	dev_t dev;		 /* identity of the lock file we made */
	ino_t ino;
	time_t touched; /* when we last refreshed it */
	bool empty;	/* no room for our PID: made empty (ENOSPC, EDQUOT) */
	struct timespec ctime; /* an empty lock's, as we last saw it */
};

/* Makes *DL a lock not held, which dotlock_release() accepts. */
void dotlock_init(struct dotlock *dl);

/*
 * Tries once to take the dot-lock of the maildrop at PATH: breaks a stale
 * foreign lock if it still is the very file judged stale, then makes our
 * own, which holds our PID. Stale (MAILDROP.md): a dead PID makes a lock
 * stale at once (not on NFS, where the PID may be another host's), and
 * any lock untouched for DOTLOCK_STALE_SECONDS is stale whatever its PID.
 * A file that cannot be a lock (over 32 octets, not just a PID, a second
 * link) is never removed.
 *
 * When the disk is full or the user over quota (ENOSPC, EDQUOT), the lock
 * is made empty rather than refused: nobody can append to the maildrop
 * then either, and the user must still be able to read and delete mail to
 * make room. Others judge an empty lock by its age alone; we refresh it
 * as any other.
 *
 * *DL is always initialized, held or not. Returns 0 with *DL held (and
 * its folder open until dotlock_release()), or -1 with errno: EEXIST (held
 * by someone else), EACCES or EPERM (the folder does not let us create
 * the lock), ENOSPC, EDQUOT, EROFS, EIO, EFBIG (cannot be made), EINVAL
 * (PATH names no file), ENAMETOOLONG (the lock's name exceeds NAME_MAX),
 * ENOMEM, or the error of opening the folder.
 */
int dotlock_try(struct dotlock *dl, const char *path);

/*
 * Removes the hitching posts that processes of user UID on this host left
 * beside the dot-lock of the maildrop at PATH when they died between
 * making a post and removing it (SIGKILL cannot be caught): files named as
 * dotlock_try() names its posts, with this host's name and the PID of a
 * process that no longer exists, owned by UID, regular and small. Another
 * user's post, another host's, or a live process's is left alone. Returns
 * the number removed, or -1 with errno when the folder cannot be read.
 */
int dotlock_sweep(const char *path, uid_t uid);

/*
 * Touches a held dot-lock when DOTLOCK_REFRESH_SECONDS have passed, and
 * only if it is still ours. Keeps errno.
 */
void dotlock_refresh(struct dotlock *dl);

/*
 * Releases a held dot-lock: removes the lock file only if it is still the
 * one we made (same dev/ino, and our PID inside, since a new file often
 * gets a freed inode number: release from the process that took it), and
 * closes its folder. Safe on a lock not held. Keeps errno.
 */
void dotlock_release(struct dotlock *dl);

#endif
