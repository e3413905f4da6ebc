/*
 * commit: removing the deleted messages from an mbox, crash-safe.
 *
 * The file is rewritten in place, never replaced by a new file: a delivery
 * agent blocked on the old inode would otherwise write its message into an
 * unlinked file. Before the first octet of the maildrop changes, the new
 * contents of the rewritten range (IMAGE) are made durable in a journal in
 * the user's state directory, so that a crash at any instant is finished
 * by commit_recover(): forward, never backward. See MAILDROP.md and
 * doc/DESIGN for the steps and why each exists.
 *
 * D is the first octet that changes (the start of the first deleted
 * message), E the maildrop's size when the commit began, IMAGE the kept
 * messages of [D, S) followed by all of [S, E), N = D + |IMAGE| <= E the
 * size afterwards. IMAGE is written over [D, N), then the file is cut at N:
 * it never grows, so a full spool cannot stop a commit.
 *
 * Journal layout; integers are unsigned 64-bit little-endian, hashes XXH3-64:
 *     0  magic "POP2JNL1"
 *     8  phase, one octet: 'C' (IMAGE being written over [D, N)) or 'T'
 *        (IMAGE written and synced; cutting at N), then 7 zero octets
 *    16  dev, ino of the maildrop
 *    32  D, E, N
 *    56  hash of IMAGE
 *    64  hash of the original [0, D)
 *    72  hash of the original [N, E) (tells in phase T whether the cut at N
 *        happened: it did unless [N, E) still hashes the same)
 *    80  block size B (4096, the page size)
 *    88  NB, the number of block hashes: the pages of the file that [D, N)
 *        touches, blocks being aligned to multiples of B in the file (a
 *        power cut leaves each page whole, old or new)
 *    96  P, the length of the maildrop's path
 *   104  NB hashes of the original blocks: [D, min((D/B + 1) B, N)), then
 *        [(D/B + k) B, min((D/B + k + 1) B, N)) for k = 1 .. NB - 1
 *        P octets: the path (no NUL)
 *        hash of the header so far, taken with the phase octet as 0
 *   HDR  IMAGE (N - D octets); the journal is exactly HDR + N - D octets.
 * The original [D, E) is thus covered by the block hashes and the [N, E)
 * hash. A header that is short, damaged or inconsistent, or an IMAGE that
 * does not match its hash, makes a journal "torn": it was never renamed into
 * place complete, so the maildrop was never touched.
 */
#ifndef POP2_COMMIT_H
#define POP2_COMMIT_H

#include <stddef.h>

#include "mbox.h"

#define COMMIT_JOURNAL "commit.jnl"
#define COMMIT_JOURNAL_TMP "commit.jnl.tmp"
#define COMMIT_ORPHAN "commit.jnl.orphan"
#define COMMIT_RECOVERED "recovered.mbox"

/* Called now and then during long copies, e.g. to refresh a dot-lock. */
typedef void commit_tick_fn(void *arg);

/*
 * Removes the messages marked MBOX_DELETED in MB from its file MB->fd,
 * which the caller opened read-write and holds L1 and L2 on. PATH is the
 * maildrop's name (kept in the journal for pop2d --recover-all; at most
 * 4095 octets); STATEFD is the user's state directory. TERM, HUP, INT and
 * ALRM are blocked while the journal is written and the maildrop changed.
 * Mail appended since the index (past mb->size) is kept. The pseudo-message
 * is never removed, even when marked. TICK (if not NULL) is called with
 * TICK_ARG every few MiB read or copied.
 *
 * Nothing deleted: returns 0 at once, without reading or writing anything.
 * Otherwise every indexed message is read and checked against its hash
 * first. Returns 0 when done, or -1 with errno, the maildrop left as it was:
 *   ESTALE  the file is not the one indexed (other inode, link count not 1,
 *           shorter than indexed, an indexed message changed, or what was
 *           appended does not start with "From "): nothing removed;
 *   EBUSY   a journal is waiting in STATEDIR (a commit interrupted earlier,
 *           maybe of another folder): run commit_recover() on the maildrop
 *           commit_journal_path() names first; nothing written;
 *   EBADF   MB->fd is not open for reading and writing;
 *   EINVAL  MB's index is not consistent; ENAMETOOLONG  PATH too long;
 *   ENOSPC, EDQUOT  the journal could not be written (it is removed);
 *   EEXIST  COMMIT_JOURNAL_TMP is in the way (a leftover that was not the
 *           user's regular file, so it was not removed at login);
 *   EIO and others  a read or write failed before the maildrop changed.
 * A failure after the maildrop began to change leaves the journal for
 * commit_recover() and also returns -1 (errno EIO): the deletions will be
 * completed by the next recovery.
 */
int commit_mbox(const struct mbox *mb, const char *path, int statefd,
    commit_tick_fn *tick, void *tick_arg);

/*
 * Finishes an interrupted commit recorded in STATEFD on the maildrop open
 * read-write at FD (the caller holds L1 and L2 on it). FD must be the
 * maildrop that commit_journal_path() names, which after a FOLD may be
 * another folder than INBOX: any other file is taken for a replaced
 * maildrop. A torn or damaged journal is deleted (the maildrop was never
 * touched). The journal is opened as state_open_file() does: one that is
 * not a regular file of the effective uid with one link is not opened
 * (EPERM, left in place for the caller to set aside). Leftovers such as
 * COMMIT_JOURNAL_TMP are removed first (state_remove_leftovers()). Mail that arrived
 * after the crash is kept. TERM, HUP, INT and ALRM are blocked while it
 * works. Every step may be interrupted and this function run again.
 *
 * FD is -1 when the maildrop the journal names no longer exists (or is no
 * longer a file that can be opened without following a symbolic link).
 *
 * Returns 0 when there was nothing to do or the commit is now complete; 1
 * when the maildrop was removed or rewritten by another program since the
 * crash (FD -1, other inode, [0, D) changed, [N, E) changed or cut before
 * phase T, or more than one block of [D, N) neither the original nor
 * IMAGE): IMAGE is saved in
 * the first free name of COMMIT_RECOVERED, COMMIT_RECOVERED.1, ... and the
 * journal renamed to COMMIT_ORPHAN with the same suffix, the maildrop not
 * touched; the caller must log it at LOG_CRIT. Or -1 with errno (EBADF: FD
 * not open read-write; the journal is kept for the next attempt).
 */
int commit_recover(int statefd, int fd);

/*
 * Copies the maildrop path recorded in the journal in STATEFD into PATH
 * (SIZE octets, NUL-terminated). Only the header is checked, not IMAGE.
 * Returns 0, or -1 with errno ENOENT (no journal), EINVAL (a torn or
 * damaged header, which commit_recover() would delete as well),
 * ENAMETOOLONG (SIZE too small), EPERM (not a regular file of the
 * effective uid with one link: not opened, see state_open_file()) or a
 * read error.
 */
int commit_journal_path(int statefd, char *path, size_t size);

#endif
