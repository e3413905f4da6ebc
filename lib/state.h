/*
 * state: the state directory (-S) and the per-user folders in it, which
 * hold the session lock and the commit journal.
 *
 * The state directory steers writes to maildrops, so it is trusted only as
 * far as sshd's StrictModes would trust it: it and every directory above it
 * belong to root (or to pop2d's own uid when pop2d does not run as root)
 * and nobody else may write them. STATE/USER is a directory of mode 0700
 * owned by the user; root makes it before giving up its privileges, and
 * never adopts one that another uid made. Every file in it is opened
 * without following a symbolic link and without blocking, and used only
 * when it is a regular file of the user's with one link.
 */
#ifndef POP2_STATE_H
#define POP2_STATE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Checks that STATEDIR (an absolute path) is safe to trust: an existing
 * directory that is not a symbolic link, and that it and each directory
 * above it - both along the path as written, which covers every folder
 * holding a symbolic link on the way, and along the path with the links
 * resolved - are owned by root or by UID and writable by neither group
 * nor others (a sticky world-writable one such as /tmp is unsafe too).
 * Returns 0, or -1 with errno (ENOENT, ENOTDIR, EINVAL: not absolute,
 * ELOOP: STATEDIR is a symbolic link; EPERM: unsafe) and, for EPERM, the
 * offending directory in *BAD, which the caller frees, and *WHY set to a
 * phrase saying what is wrong with it (*BAD is NULL with any other result).
 */
int state_dir_safe(
    const char *statedir, uid_t uid, char **bad, const char **why);

/*
 * Makes the missing directory PATH, owned by root with mode 0755; its
 * parent must exist. Returns 0, or -1 with errno (EEXIST when it exists).
 */
int state_make_dir(const char *path);

/*
 * As root: makes STATEDIR/USER if missing and gives it to UID:GID with mode
 * 0700. An existing one must be a real directory (not a symbolic link)
 * owned by UID, or by root (made by an earlier run that was killed before
 * it could give it away); one owned by any other uid is never adopted.
 * USER must be a plain name (no '/', not "." or ".."). Returns 0, or -1
 * with errno (EPERM: owned by another uid).
 */
int state_prepare(const char *statedir, const char *user, uid_t uid, gid_t gid);

/*
 * Opens STATEDIR/USER as the current user, making it (0700) when missing.
 * It must be a directory owned by the effective uid that neither group nor
 * others may write. Returns the directory descriptor, or -1 with errno
 * (EPERM: wrong owner or mode; ENOTDIR, ELOOP: not a directory).
 */
int state_open(const char *statedir, const char *user);

/*
 * Opens NAME in the state folder open at DIRFD with FLAGS (O_RDONLY, O_RDWR,
 * optionally O_CREAT with MODE), always adding O_NONBLOCK, O_NOFOLLOW,
 * O_CLOEXEC and O_NOCTTY, so that neither a FIFO nor a device can stall it
 * and no symbolic link is followed. The file must be a regular file owned
 * by UID with exactly one link; anything else is refused before it is
 * opened when it can be told from its name, and after fstat otherwise.
 * Returns the descriptor, or -1 with errno: EPERM when refused (*WHY then
 * says why: "a symbolic link", "not a regular file", "owned by another
 * uid", "linked more than once"), or the error of fstatat or open
 * (ENOENT...).
 */
int state_open_file(int dirfd, const char *name, int flags, mode_t mode,
    uid_t uid, const char **why);

/*
 * Keeps the refused file NAME aside in the folder open at DIRFD: renames
 * it, without replacing anything, to the first free name of NAME.refused,
 * NAME.refused.1, ... and syncs the folder. The file is neither opened nor
 * removed. The new name is copied into ASIDE (SIZE octets). Returns 0, or
 * -1 with errno (EEXIST: every name taken).
 */
int state_set_aside(int dirfd, const char *name, char *aside, size_t size);

/*
 * Removes the temporary files that a killed commit left in the folder open
 * at DIRFD: names ending in ".tmp" that are regular files owned by UID
 * (anything else of that name is left alone). Returns how many were
 * removed, or -1 with errno.
 */
int state_remove_leftovers(int dirfd, uid_t uid);

#endif
