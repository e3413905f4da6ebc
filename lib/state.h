/*
 * state: the per-user folder in the state directory (-S), which holds the
 * session lock and the commit journal.
 *
 * STATE/USER is a directory of mode 0700 owned by the user. Root makes it
 * before giving up its privileges; a pop2d that runs as the user makes it
 * itself when it may. It is never followed through a symbolic link.
 */
#ifndef POP2_STATE_H
#define POP2_STATE_H

#include <sys/types.h>

/*
 * As root: makes STATEDIR/USER if missing and gives it to UID:GID with mode
 * 0700; an existing one must be a real directory (not a symbolic link),
 * and is given to UID:GID as well. USER must be a plain name (no '/', not
 * "." or ".."). Returns 0, or -1 with errno.
 */
int state_prepare(const char *statedir, const char *user, uid_t uid,
    gid_t gid);

/*
 * Opens STATEDIR/USER as the current user, making it (0700) when missing.
 * It must be a directory owned by the effective uid that neither group nor
 * others may write. Returns the directory descriptor, or -1 with errno
 * (EPERM: wrong owner or mode; ENOTDIR, ELOOP: not a directory).
 */
int state_open(const char *statedir, const char *user);

#endif
