/*
 * commit: removing the deleted messages from an mbox, crash-safe.
 *
 * The file is rewritten in place, never replaced by a new file: a delivery
 * agent blocked on the old inode would otherwise write its message into an
 * unlinked file. Before any octet of the maildrop changes, the original
 * octets that the change destroys and that are still needed are made
 * durable in a journal in the user's state directory, so that a crash at
 * any instant is finished by commit_recover(): forward, never backward. See MAILDROP.md and
 * doc/DESIGN for the steps and why each exists.
 *
 * D is the first octet that changes (the start of the first deleted
 * message), E the maildrop's size when the commit began, and the new
 * contents of [D, N) are the kept messages of [D, S) followed by all of
 * [S, E); N <= E is the size afterwards. The output is written in rounds of
 * R octets (the last round shorter; rounds after the first start on a page
 * boundary), each from octets at or behind it: it never grows the file, so
 * a full spool cannot stop a commit. Before round [w0, w1) is written, the
 * part of its own sources that lies inside [w0, w1) (what the round
 * overwrites and still needs; nothing once the deleted octets before it
 * exceed R) is journaled in one of two slots, alternately, so that the
 * round before stays whole until this one is durable.
 *
 * Journal layout; integers are unsigned 64-bit little-endian, hashes XXH3-64:
 *     0  magic "POP2JNL2"
 *     8  phase, one octet: 'C' (rounds being written) or 'M' (every round
 *        written and synced, the octet at N overwritten with the mark and
 *        synced; cutting at N); 'T' in a journal of the build before the
 *        mark (cutting at N, no mark)
 *     9  the mark, one octet: 0, or '\n' where the octet at N was 0
 *    10  the low 48 bits of the hash of [N, E) with the mark at N (never
 *        all zero; zero in a journal of the build before the mark)
 *    16  dev, ino of the maildrop
 *    32  D, E, N
 *    56  R, the round size (a multiple of the 4096-octet page)
 *    64  K, the capacity of a slot: the most any round journals
 *    72  NS, the number of segments
 *    80  hash of the original [D - min(D, 64 KiB), D)
 *    88  hash of the original [N, E)
 *    96  hash of the tables below
 *   104  P, the length of the maildrop's path
 *   112  P octets: the path (no NUL)
 *        hash of the header so far, taken with the phase octet as 0
 *   HDR  NS segments (source offset, length): the new [D, N) is their
 *        octets of the original file, in order, each further back than
 *        where it goes
 *        NR hashes of the original octets of each round's range [w0, w1),
 *        then NR hashes of their new contents (NR, the number of rounds,
 *        follows from D, N and R)
 *        two slots of 64 + K octets: magic "POP2RND1", round number, w0, w1,
 *        L, hash (of the header's hash, those four fields and the L
 *        octets), zero octets up to 64, then the L journaled octets.
 * The journal's size is fixed when it is created (its space reserved), so
 * no round can fail for lack of space. A header that is short, damaged or
 * inconsistent, or tables that do not match their hash, make a journal
 * "torn": it was never renamed into place complete, so the maildrop was
 * never touched. A slot that does not match its hash holds no round.
 */
#ifndef POP2_COMMIT_H
#define POP2_COMMIT_H

#include <stddef.h>
#include <stdint.h>

#include "mbox.h"

#define COMMIT_JOURNAL "commit.jnl"
#define COMMIT_JOURNAL_TMP "commit.jnl.tmp"
#define COMMIT_ORPHAN "commit.jnl.orphan"
#define COMMIT_RECOVERED "recovered.mbox"
/* The default bound on the journal's two round slots: rounds of 32 MiB. */
#define COMMIT_JOURNAL_MAX ((uint64_t)64 * 1024 * 1024)

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
 * Otherwise the indexed messages from the first deleted one on (those that
 * move and those removed) are read and checked against their hashes
 * first; the prefix before it is not read, except its last 64 KiB. The
 * memory used does not depend on the maildrop's size. Returns 0 when done, or -1 with errno, the maildrop left as it was:
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
 * commit_mbox() with the journal's round slots bounded by JOURNAL_MAX
 * octets (0: COMMIT_JOURNAL_MAX): rounds of JOURNAL_MAX / 2 octets, at
 * least one page. The journal also holds its header, 16 octets per segment
 * (a run of kept messages) and 16 octets per round.
 */
int commit_mbox_bounded(const struct mbox *mb, const char *path, int statefd,
    uint64_t journal_max, commit_tick_fn *tick, void *tick_arg);

/*
 * Finishes an interrupted commit recorded in STATEFD on the maildrop open
 * read-write at FD (the caller holds L1 and L2 on it): the last journaled
 * round is redone from the journal and the original octets behind it, and
 * the rounds after it follow. FD must be the
 * maildrop that commit_journal_path() names, which after a FOLD may be
 * another folder than INBOX: any other file is taken for a replaced
 * maildrop. A torn or damaged journal is deleted (the maildrop was never
 * touched). The journal is opened as state_open_file() does: one that is
 * not a regular file of the effective uid with one link is not opened
 * (EPERM, left in place for the caller to set aside). Leftovers such as
 * COMMIT_JOURNAL_TMP are removed first (state_remove_leftovers()). Mail
 * that arrived after the crash is kept. TERM, HUP, INT and ALRM are blocked while it
 * works. Every step may be interrupted and this function run again.
 *
 * FD is -1 when the maildrop the journal names no longer exists (or is no
 * longer a file that can be opened without following a symbolic link).
 * TICK, unless NULL, is called with TICK_ARG every few MiB that the rounds
 * copy, as by commit_mbox(), so that the caller can keep its dot-lock fresh
 * through a long recovery.
 *
 * Returns 0 when there was nothing to do or the commit is now complete; 1
 * when the maildrop was removed or rewritten by another program since the
 * crash (FD -1, other inode, the end of [0, D) changed, [N, E) changed or
 * cut before phase T, or a round before the last journaled one not its
 * new contents, or one after it not the original): what the commit would have written is saved in the first free
 * name of COMMIT_RECOVERED, COMMIT_RECOVERED.1, ... (rebuilt from the
 * journaled round and the maildrop as it is; when the maildrop is gone or
 * another file, the journaled round's octets alone) and the journal
 * renamed to COMMIT_ORPHAN with the same suffix, the maildrop not
 * touched; the caller must log it at LOG_CRIT. Or -1 with errno (EBADF: FD
 * not open read-write; the journal is kept for the next attempt).
 */
int commit_recover(int statefd, int fd, commit_tick_fn *tick, void *tick_arg);

/*
 * Copies the maildrop path recorded in the journal in STATEFD into PATH
 * (SIZE octets, NUL-terminated). Only the header is checked, not the tables or slots.
 * Returns 0, or -1 with errno ENOENT (no journal), EINVAL (a torn or
 * damaged header, which commit_recover() would delete as well),
 * ENAMETOOLONG (SIZE too small), EPERM (not a regular file of the
 * effective uid with one link: not opened, see state_open_file()) or a
 * read error.
 */
int commit_journal_path(int statefd, char *path, size_t size);

#endif
