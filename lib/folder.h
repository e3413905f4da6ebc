/*
 * folder: turning a client's folder name into an open file, safely.
 *
 * A name is refused when it is empty, absolute, starts with '~', has a
 * "..", "." or empty component (so "a//b" and "a/" are refused too),
 * contains a control character (octets below 0x20 and 0x7f; octets from
 * 0x80 up are allowed, for UTF-8), is PATH_MAX octets or longer, or
 * resolves outside the folder directory by any route, symbolic links
 * included. Resolution uses openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)
 * where the kernel has it: a symbolic link is then followed only while it
 * stays beneath the folder directory, and never when its target is
 * absolute. Where openat2 fails with ENOSYS (old kernel, seccomp filter)
 * the name is walked one component at a time with O_NOFOLLOW, and then no
 * symbolic link is followed at all.
 */
#ifndef POP2_FOLDER_H
#define POP2_FOLDER_H

#include <stdbool.h>

/* Tells whether NAME passes the textual rules above (no file system access). */
bool folder_name_ok(const char *name);

/*
 * Opens NAME beneath the directory open at DIRFD (or AT_FDCWD) with FLAGS:
 * O_RDONLY or O_RDWR plus open flags such as O_DIRECTORY or O_NOFOLLOW;
 * O_CLOEXEC and O_NOCTTY are always added. Only a regular file or a
 * directory is opened, and opening never blocks (a FIFO is refused
 * without waiting for a writer); the descriptor returned is blocking
 * unless FLAGS asked for O_NONBLOCK. Returns a descriptor the caller must
 * close, or -1 with errno:
 *   EPERM         the name is refused by the rules above;
 *   ENAMETOOLONG  the name is PATH_MAX octets or longer;
 *   EINVAL        FLAGS has O_CREAT, O_TMPFILE or O_PATH, or the name is
 *                 neither a regular file nor a directory;
 *   EXDEV         the name resolves outside the folder directory
 *                 (openat2), or through an absolute symbolic link;
 *   ELOOP         a symbolic link where none may be followed (the walk);
 *   or the error of openat2/openat/fstat (ENOENT, EACCES, ENOTDIR, ...).
 * DIRFD is never closed.
 */
int folder_open(int dirfd, const char *name, int flags);

/*
 * Exposed for tests: folder_open with the component walk only, as on a
 * kernel without openat2. Same contract, except that it never follows a
 * symbolic link (ELOOP) and so never reports EXDEV.
 */
int folder_open_walk(int dirfd, const char *name, int flags);

#endif
