/*
 * store: the folders of one logged-in user, as the session sees them.
 *
 * It opens INBOX and the folders beneath the folder directory, keeps the
 * selected one open behind its format's table (maildrop.h), remembers the
 * client's deletions, commits them and streams messages to the
 * connection. It names no format: each folder's format is chosen once,
 * when it is opened. It never writes protocol replies: a commit says how
 * it ended with an enum, and the session chooses the words.
 *
 * INBOX is an mbox file, or a Maildir when its path is given as
 * "maildir:PATH" (the prefix is its format's, maildrop_format()). A folder
 * NAME is, with a Maildir INBOX, its Maildir++ folder PATH/.a.b when that
 * exists; otherwise NAME beneath the folder directory, which may be an
 * mbox file or a Maildir (a directory with cur/ and new/), by the rules
 * of every folder name (folder_open()).
 */
#ifndef POP2_STORE_H
#define POP2_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "io.h"
#include "lock.h"
#include "maildrop.h"

struct store {
	char *inbox; /* path of the maildrop, without its prefix; owned */
	const struct maildrop_ops *inbox_ops; /* INBOX's format */
	int dirfd;     /* the folder directory, or -1 when it cannot be used */
	char *folders; /* its real path (for journals), or NULL; owned */
	int folders_errno; /* why a folder directory given could not be used, or 0 */
	int statefd;	   /* the user's state directory (journal), not owned */
	const char *helper;   /* pop2-lock, for dot-locks we may not make */
	uint64_t journal_max; /* -J, the commit journal's bound (0: default) */
	/* The selected folder (sel.path its name); sel.ops NULL: none. */
	struct maildrop sel;
	size_t deleted; /* messages marked deleted in the selected folder */
	/* Why pop2-lock failed when a lock was last refused, for the log. */
	struct lock_helper_report lock_report;
	unsigned long long deleted_octets; /* their octets as RETR sends them */
	/* Totals for the log line at the end of the session; deletions
	 * count once committed. */
	unsigned long sent_messages;
	unsigned long deleted_total;
	unsigned long long sent_octets;
	unsigned long long deleted_octets_total;
};

/*
 * Prepares a store for the maildrop at INBOX ("maildir:PATH" for a Maildir)
 * and the folder directory FOLDER_DIR (NULL or unusable: only INBOX and,
 * with a Maildir INBOX, its Maildir++ folders can be selected). STATEFD is
 * the user's state directory, HELPER the pop2-lock program. Returns 0, or
 * -1 with errno ENOMEM (nothing then to release). Once it returned 0,
 * store_close() releases what it holds.
 */
int store_init(struct store *st, const char *inbox, const char *folder_dir,
    int statefd, const char *helper);

/*
 * What store_recover() found, for the caller's log; store_recovery_free()
 * releases it.
 */
struct store_recovery {
	int leftovers;	     /* temporary files of killed commits removed */
	const char *refused; /* why the journal was refused, or NULL */
	char aside[64];	     /* the name the refused journal is kept under */
	char *path;	     /* the folder the journal names, or NULL */
	bool torn;	     /* a torn journal was removed: nothing changed */
	long long size;	     /* finished: the folder's size afterwards, or -1 */
};

/*
 * Finishes a commit that an earlier session did not complete (a journal in
 * the state directory), as UID, the owner of the state directory. First
 * removes what killed commits left (state_remove_leftovers()). A journal
 * is used only when it is a regular file of UID's with one link and names
 * the maildrop or a file beneath the folder directory, as this store
 * computes them; any other is refused: set aside (state_set_aside()),
 * never followed or removed. Fills *REP. Returns 0 (nothing to do, or
 * done), 1 when the folder had been rewritten by another program (the
 * journal's contents were saved aside; logged by the caller), 2 when the
 * journal was refused (logged by the caller at LOG_CRIT), or -1 with errno
 * (ETIMEDOUT: the folder stayed locked by others).
 */
int store_recover(struct store *st, uid_t uid, struct store_recovery *rep);

/* Releases what store_recover() put in *REP. */
void store_recovery_free(struct store_recovery *rep);

/*
 * Selects INBOX. A maildrop that does not exist has no messages. Returns 0
 * with *COUNT set, or -1 with errno (ETIMEDOUT: it stayed locked by others).
 */
int store_select_inbox(struct store *st, size_t *count);

/*
 * Selects folder NAME ("INBOX" in any case is the maildrop). Returns 0
 * with *COUNT set, or -1 with errno when the name is refused (EPERM,
 * EXDEV, ELOOP), missing, of no known format (EISDIR: a directory that is
 * not a Maildir; EINVAL), unreadable or busy; nothing is selected then.
 */
int store_select(struct store *st, const char *name, size_t *count);

/* Octets RETR sends for visible message N; 0 when absent or deleted. */
uint64_t store_size(const struct store *st, uint32_t n);

/* Marks visible message N deleted for the rest of the selection. */
void store_mark_deleted(struct store *st, uint32_t n);

/*
 * Removes the messages marked deleted from the selected folder. Nothing
 * marked: returns MAILDROP_COMMITTED and writes nothing. Otherwise returns
 * MAILDROP_COMMITTED when done (the folder is then unselected: its index
 * no longer describes it), or how it failed with errno set for the log:
 * the folder is then as it was (MAILDROP_BUSY, _CHANGED, _NO_SPACE,
 * _READ_ONLY, _FAILED), finished at the next login
 * (MAILDROP_INTERRUPTED), or partly done (MAILDROP_PARTLY, a Maildir);
 * the folder stays selected after a failure.
 */
enum maildrop_commit store_commit(struct store *st);

/*
 * Streams message N into IO, as its format sends it: checked against the
 * index (an mbox file under a shared lock taken only around each read of
 * the file). Returns 0, or -1 with errno (ESTALE: the folder changed under
 * us; ETIMEDOUT; the connection's error).
 */
int store_send(struct store *st, uint32_t n, struct io *io);

/* Releases the selection, the folder directory and the paths. */
void store_close(struct store *st);

#endif
