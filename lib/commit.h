/*
 * commit: removing the deleted messages from an mbox, crash-safe.
 *
 * The file is rewritten in place, never replaced by a new file: a delivery
 * agent blocked on the old inode would otherwise write its message into an
 * unlinked file. Before any octet of the maildrop changes, the original
 * octets that the change destroys and that are still needed are made
 * durable in a journal in the user's state directory, so that a crash at
 * any instant is finished by commit_recover(): forward, never backward. See
 * MAILDROP.md and doc/DESIGN for the steps and why each exists.
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
 *     0  magic "POP2JNL3" ("POP2JNL2": the build before page tables,
 *        whose slots have none and whose magic is "POP2RND1")
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
 *        two slots of 64 + 16 SP + K octets: magic "POP2RND2", round
 *        number, w0, w1, L, hash (of the header's hash, those four fields,
 *        the tables and the L octets), zero octets up to 64; SP hashes of
 *        the 4096-octet pages of [w0, w1) (the first and last may be
 *        partial) as they were, SP hashes of them as the round writes
 *        them, then the L journaled octets. SP is 0 when there is no
 *        round, else min(R, N - D) / 4096 + 2.
 * The journal's size is fixed when it is created (its space reserved), so
 * no round can fail for lack of space, and bounded: the round size is
 * chosen so that the whole journal fits the bound (commit_mbox_bounded()). A
 * header that is short, damaged or inconsistent, or tables that do not match
 * their hash, make a journal "torn": it was never renamed into place complete,
 * so the maildrop was never touched. A slot that does not match its hash holds
 * no round.
 */
#ifndef POP2_COMMIT_H
#define POP2_COMMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mbox.h"

/*
 * The file in which what an interrupted commit would have written is kept
 * for the administrator when another program changed the maildrop (the
 * first free name of it, then COMMIT_RECOVERED.1, ...). The journal's own
 * names are private to the commit: only commit.c opens, renames or
 * removes a journal.
 */
#define COMMIT_RECOVERED "recovered.mbox"
/* The default bound on the journal's size: -J. */
#define COMMIT_JOURNAL_MAX ((uint64_t)64 * 1024 * 1024)

/* Called now and then during long copies, e.g. to refresh a dot-lock. */
typedef void commit_tick_fn(void *arg);

/* What commit_mbox() did. */
enum commit_result {
	COMMIT_DONE = 0,   /* the deleted messages are gone (or none were) */
	COMMIT_CHANGED,	   /* the maildrop is not the one indexed */
	COMMIT_NO_SPACE,   /* no room for the journal (ENOSPC, EDQUOT) */
	COMMIT_TOO_LARGE,  /* the journal would exceed its bound */
	COMMIT_PENDING,	   /* an interrupted commit waits for recovery */
	COMMIT_FAILED,	   /* another error (errno) before any change */
	COMMIT_INTERRUPTED /* the maildrop began to change: the journal stays,
			      and the next recovery completes the removal */
};

/*
 * Removes the messages marked WIRE_DELETED in MB from its file MB->fd,
 * which the caller opened read-write and holds L1 and L2 on. PATH is the
 * maildrop's name (kept in the journal for pop2d --recover-all; at most
 * 4095 octets); STATEFD is the user's state directory. TERM, HUP, INT and
 * ALRM are blocked while the journal is written and the maildrop changed.
 * Mail appended since the index (past mb->size) is kept. The pseudo-message
 * is never removed, even when marked. TICK (if not NULL) is called with
 * TICK_ARG every few MiB read or copied.
 *
 * Nothing deleted: returns COMMIT_DONE at once, without reading or writing
 * anything. Otherwise the indexed messages from the first deleted one on
 * (those that move and those removed) are read and checked against their
 * hashes first; the prefix before it is not read, except its last 64 KiB.
 * The memory used does not depend on the maildrop's size. Returns
 * COMMIT_DONE when done; else, with errno set and the maildrop as it was:
 *   COMMIT_CHANGED    (ESTALE) the file is not the one indexed (other
 *                     inode, link count not 1, shorter than indexed, an
 *                     indexed message changed, or what was appended does
 *                     not start with "From "): nothing removed;
 *   COMMIT_PENDING    (EBUSY) a journal is waiting in STATEFD (a commit
 *                     interrupted earlier, maybe of another folder):
 *                     recover it first (commit_find()); nothing written;
 *   COMMIT_NO_SPACE   (ENOSPC, EDQUOT) the journal could not be written
 *                     (it is removed);
 *   COMMIT_TOO_LARGE  (EFBIG) even with rounds of one page, the table of
 *                     runs of kept messages does not fit the journal's
 *                     bound: delete fewer scattered messages at a time;
 *   COMMIT_FAILED     EBADF (MB->fd not open for reading and writing),
 *                     EINVAL (MB's index not consistent), ENAMETOOLONG
 *                     (PATH), EEXIST (a temporary journal in the way that
 *                     was not the user's regular file), EIO and others: a
 *                     read or write failed before the maildrop changed;
 * or COMMIT_INTERRUPTED when a step failed after the maildrop began to
 * change: the journal stays and the next recovery completes the removal.
 */
enum commit_result commit_mbox(const struct mbox *mb, const char *path,
    int statefd, commit_tick_fn *tick, void *tick_arg);

/*
 * commit_mbox() with the journal bounded by JOURNAL_MAX octets (0:
 * COMMIT_JOURNAL_MAX) in all: rounds of JOURNAL_MAX / 4 octets, halved
 * (down to one page) while the journal - its header, 16 octets per run of
 * kept messages and per round, and two slots, each a round's octets and 16
 * per page of its destination - would not fit.
 */
enum commit_result commit_mbox_bounded(const struct mbox *mb, const char *path,
    int statefd, uint64_t journal_max, commit_tick_fn *tick, void *tick_arg);

/* What commit_find() found in a state directory. */
enum commit_found {
	COMMIT_FOUND_NONE,    /* no journal: no commit was interrupted */
	COMMIT_FOUND_JOURNAL, /* one names the maildrop in PATH: recover it */
	COMMIT_FOUND_TORN,    /* one never written whole (the maildrop was
				 never touched): removed */
	COMMIT_FOUND_REFUSED, /* one that is not the user's own lone regular
				 file: set aside, never followed */
	COMMIT_FOUND_ERROR    /* errno; anything found is left in place */
};

/* The details of what commit_find() found, for the caller's log. */
struct commit_pending {
	int leftovers;	     /* temporary journals removed */
	const char *refused; /* why the journal was refused, or NULL */
	char aside[64];	     /* the name a refused journal is kept under */
	char *path; /* the maildrop the journal names, or NULL; the caller's */
};

/*
 * Looks for an interrupted commit in the state directory STATEFD of the
 * user UID: first removes the temporary journals a killed commit leaves
 * (state_remove_leftovers()), then opens the journal as state_open_file()
 * does. One that is not a regular file of UID with one link is refused:
 * set aside (state_set_aside()), with the reason in P->refused. A torn or
 * damaged header means the journal was never renamed into place whole:
 * it is removed. Otherwise (COMMIT_FOUND_JOURNAL) P->path names the
 * maildrop to lock and pass to commit_recover(), in memory of its length
 * that the caller frees; it is NULL with every other result. A journal
 * naming a file the caller does not trust is set aside with
 * commit_refuse().
 */
enum commit_found commit_find(int statefd, uid_t uid, struct commit_pending *p);

/*
 * Sets the journal in STATEFD aside, never followed, as commit_find() does
 * with one it refuses: P->refused is set to WHY and P->aside to the name
 * it is kept under. Returns 0, or -1 with errno.
 */
int commit_refuse(int statefd, struct commit_pending *p, const char *why);

/* Whether anything is in the way of a journal in STATEFD (only looked at). */
int commit_journal_present(int statefd);

/* The journal's name, for messages only. */
const char *commit_journal_name(void);

/* What commit_recover() did. */
enum commit_recovery {
	COMMIT_RECOVERY_FAILED = -1,  /* errno; the journal stays */
	COMMIT_RECOVERY_DONE = 0,     /* nothing to do, or complete now */
	COMMIT_RECOVERY_SET_ASIDE = 1 /* maildrop changed: data set aside */
};

/*
 * Finishes an interrupted commit recorded in STATEFD on the maildrop open
 * read-write at FD (the caller holds L1 and L2 on it): the last journaled
 * round is redone from the journal and the original octets behind it, and
 * the rounds after it follow. FD must be the maildrop that commit_find()
 * named, which after a FOLD may be another folder than INBOX: any other
 * file is taken for a replaced maildrop. A torn or damaged journal is
 * deleted (the maildrop was never touched). The journal is opened as
 * state_open_file() does (a refused one is left in place: EPERM).
 * Leftovers such as a temporary journal are removed first. Mail that
 * arrived after the crash is kept. TERM, HUP, INT and ALRM are blocked
 * while it works. Every step may be interrupted and this function run
 * again.
 *
 * FD is -1 when the maildrop the journal names no longer exists (or is no
 * longer a file that can be opened without following a symbolic link).
 * TICK, unless NULL, is called with TICK_ARG every few MiB that the rounds
 * copy, as by commit_mbox(), so that the caller can keep its dot-lock fresh
 * through a long recovery.
 *
 * Returns COMMIT_RECOVERY_DONE when there was nothing to do or the commit
 * is now complete; COMMIT_RECOVERY_SET_ASIDE when the maildrop was removed
 * or rewritten by another program since the crash (FD -1, other inode, the
 * end of [0, D) changed, [N, E) changed or cut before phase M, or a round
 * before the last journaled one not its new contents, or one after it not
 * the original): what the commit would have written is saved in the first
 * free name of COMMIT_RECOVERED, COMMIT_RECOVERED.1, ... (rebuilt from the
 * journaled round and the maildrop as it is; when the maildrop is gone or
 * another file, the journaled round's octets alone) and the journal kept
 * aside as an orphan with the same suffix, the maildrop not touched; the
 * caller must log it at LOG_CRIT. Or COMMIT_RECOVERY_FAILED with errno
 * (EBADF: FD not open read-write; the journal is kept for the next
 * attempt).
 */
enum commit_recovery commit_recover(
    int statefd, int fd, commit_tick_fn *tick, void *tick_arg);

/*
 * commit_recover() with JOURNAL_MAX (0: COMMIT_JOURNAL_MAX) bounding the
 * journal it writes when mail arrived after the crash, as
 * commit_mbox_bounded() does.
 */
enum commit_recovery commit_recover_bounded(int statefd, int fd,
    uint64_t journal_max, commit_tick_fn *tick, void *tick_arg);

#endif
