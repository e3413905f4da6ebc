/*
 * maildrop: one folder format behind one table of operations.
 *
 * Each format (an mbox file, a Maildir) fills a struct maildrop_ops in a
 * file of its own and is registered by one line in maildrop_formats[]
 * (maildrop.c). The store chooses a format once, when it opens a folder,
 * and from then on calls only through the table: nothing outside a
 * format's file names the format. Adding a format is one new file and one
 * line in that table.
 *
 * A folder's life: open (INBOX by its path, a folder beneath the folder
 * directory once its format has claimed it, or a folder inside INBOX),
 * index, then any number of count, size, mark and send, then at most one
 * commit, and free. The store takes no lock itself: each format takes
 * what it needs (an mbox file its maildrop locks while it is indexed,
 * read and committed; a Maildir none).
 */
#ifndef POP2_MAILDROP_H
#define POP2_MAILDROP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "lock.h"
#include "sink.h"

/* How a commit ended. The session chooses the reply for each. */
enum maildrop_commit {
	MAILDROP_COMMITTED = 0, /* done, or nothing to do */
	MAILDROP_BUSY,		/* its locks stayed taken: nothing deleted */
	MAILDROP_LOCK_FAILED, /* its locks could not be taken: nothing deleted */
	MAILDROP_TOO_LARGE, /* the journal would exceed its bound: nothing deleted */
	MAILDROP_CHANGED,    /* changed by another program: nothing deleted */
	MAILDROP_NO_SPACE,   /* no room for the journal: nothing deleted */
	MAILDROP_READ_ONLY,  /* it may not be written: nothing deleted */
	MAILDROP_FAILED,     /* any other failure: nothing deleted */
	MAILDROP_PARTLY,     /* failed midway: some removals may be done */
	MAILDROP_INTERRUPTED /* failed midway: finished at the next login */
};

/*
 * One open folder. The store owns it and PATH (which it frees); its format
 * owns PRIV. PATH is set by the format's open, or by the store before
 * open_at for a folder beneath the folder directory.
 */
struct maildrop {
	const struct maildrop_ops *ops;
	void *priv;  /* the format's state: made by open, freed by free */
	char *path;  /* the folder's real path: locks, journal, log */
	int statefd; /* the user's state directory (journals); lent */
	const char *helper;   /* pop2-lock, for dot-locks we may not make */
	uint64_t journal_max; /* -J, the journal's bound (0: the default) */
	/* Why pop2-lock failed when a lock was last refused, for the log. */
	struct lock_helper_report *lock_report;
};

struct maildrop_ops {
	/*
	 * What an INBOX path starts with to be of this format ("maildir:"),
	 * or "" for the format of a path with no known prefix. The prefix is
	 * not part of the path the format opens.
	 */
	const char *prefix;
	/*
	 * Whether a commit journals in the state directory, so that a
	 * journal may name this format's INBOX (store_recover()).
	 */
	bool journaled;
	/*
	 * Whether it takes the maildrop locks (lock_maildrop()): then its
	 * dot-lock is made beside the folder, by pop2-lock where the session
	 * may not create files there.
	 */
	bool locked;
	/*
	 * Opens INBOX at PATH (without the prefix) and sets md->path.
	 * Returns 0, or -1 with errno (ENOENT: there is none, which is an
	 * empty INBOX).
	 */
	int (*open)(struct maildrop *md, const char *path);
	/*
	 * Tells whether FD, opened read-only beneath the folder directory
	 * (a regular file or a directory; SB is its fstat), is a folder of
	 * this format. May look beneath FD; never changes anything.
	 */
	bool (*claims)(int fd, const struct stat *sb);
	/*
	 * Opens the claimed folder FD, named NAME beneath DIRFD, taking FD
	 * (closed on failure too); md->path is already set. Returns 0, or -1
	 * with errno.
	 */
	int (*open_at)(
	    struct maildrop *md, int fd, int dirfd, const char *name);
	/*
	 * Optional (NULL: none): opens folder NAME (checked by
	 * folder_name_ok()) kept inside INBOX at INBOX, by this format's
	 * layout and beneath INBOX by the rules of every folder name; sets
	 * md->path. Returns 0, or -1 with errno (ENOENT: INBOX holds no
	 * such folder, which may then be looked for in the folder directory).
	 */
	int (*open_inside)(
	    struct maildrop *md, const char *inbox, const char *name);
	/*
	 * Reads the folder's messages as they are now. Returns 0, or -1 with
	 * errno (ESTALE: the file was replaced after it was opened, and may
	 * be opened again; ETIMEDOUT: its locks stayed taken).
	 */
	int (*index)(struct maildrop *md);
	/* The number of messages the client sees. */
	size_t (*count)(const struct maildrop *md);
	/* Octets RETR sends for message N; 0 when absent or deleted. */
	uint64_t (*size)(const struct maildrop *md, uint32_t n);
	/* Marks message N deleted; true when it was not marked before. */
	bool (*mark)(struct maildrop *md, uint32_t n);
	/*
	 * Streams message N to SINK: exactly size(N) octets, checked against
	 * the index. Returns 0, or -1 with errno (ESTALE: it changed since
	 * the index; ETIMEDOUT; the sink's error).
	 */
	int (*send)(struct maildrop *md, uint32_t n, const struct sink *sink);
	/*
	 * Removes the marked messages (at least one is marked). Returns how
	 * it ended, with errno set for the log when not MAILDROP_COMMITTED.
	 * The index no longer describes the folder afterwards.
	 */
	enum maildrop_commit (*commit)(struct maildrop *md);
	/* Releases what open and index made, descriptors included. */
	void (*free)(struct maildrop *md);
};

extern const struct maildrop_ops maildrop_mbox;
extern const struct maildrop_ops maildrop_maildir;

/* Every format, NULL-terminated, in the order a folder is offered to them. */
extern const struct maildrop_ops *const maildrop_formats[];

/*
 * The format of the INBOX path SPEC, by its prefix, and in *PATH the path
 * without it. The one place an INBOX path's prefix is read.
 */
const struct maildrop_ops *maildrop_format(const char *spec, const char **path);

/* What the formats and the store's recovery share. */

/*
 * How long to wait for a folder's locks, given the normal SECONDS
 * (LOCK_WAIT_SCAN, LOCK_WAIT_COMMIT). Test builds may shorten it
 * (POP2_LOCK_WAIT seconds; 0 gives up after the first attempt) so that
 * busy-lock tests do not take minutes; production builds never look at
 * the environment for it.
 */
int maildrop_lock_wait(int seconds);

/*
 * The bound on the commit journal, given -J's JOURNAL_MAX (0: the
 * default). Test builds may set it below -J's minimum (POP2_JOURNAL_MAX
 * octets) so that the fault tests see commits of many rounds on small
 * maildrops.
 */
uint64_t maildrop_journal_max(uint64_t journal_max);

/* Keeps the dot-lock ARG (a struct lock_dot) fresh during a long write. */
void maildrop_refresh_dot(void *arg);

/*
 * Opens the file PATH read-write (read-only when that is all we may),
 * never through a symbolic link and never waiting on a FIFO. Returns the
 * descriptor, or -1 with errno; *WRITABLE says which.
 */
int maildrop_open_file(const char *path, bool *writable);

/*
 * The name of the file open at FD, with every symbolic link resolved.
 * Returns 0 with *OUT the name, which the caller frees, or -1 with errno
 * (ENOMEM, or the kernel's: ENAMETOOLONG past a page), *OUT then NULL.
 */
int maildrop_real_path(int fd, char **out);

#endif
