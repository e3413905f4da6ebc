#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "folder.h"
#include "lock.h"
#include "seam.h"
#include "store.h"
#include "util.h"

/*
 * How long to wait for the maildrop locks. Test builds may shorten it
 * (POP2_LOCK_WAIT seconds) so that busy-lock tests do not take minutes;
 * production builds never look at the environment for it.
 */
static int
lock_wait(int seconds)
{
	return (int)seam_number("POP2_LOCK_WAIT", (unsigned long)seconds, 1,
	    3600);
}

/*
 * The bound on the commit journal (-J; 0: the default). Test builds may
 * set it below -J's minimum (POP2_JOURNAL_MAX octets) so that the fault
 * tests see commits of many rounds on small maildrops.
 */
static uint64_t
journal_max(const struct store *st)
{
	return seam_number("POP2_JOURNAL_MAX", st->journal_max, 4096, 1UL << 40);
}

/* How long RETR waits for a delivery agent to finish appending. */
#define SEND_LOCK_WAIT 30
/* How often a folder replaced between open and lock is opened again. */
#define REOPEN_TRIES 3
/* The prefix of a maildrop path that names a Maildir. */
#define MAILDIR_PREFIX "maildir:"

static int fd_path(int fd, char *buf, size_t size);

int
store_init(struct store *st, const char *inbox, const char *folder_dir,
    int statefd, const char *helper)
{
	st->dirfd = -1;
	st->statefd = statefd;
	st->helper = helper;
	st->journal_max = 0;
	st->fd = -1;
	st->path[0] = '\0';
	st->writable = false;
	st->indexed = false;
	st->is_maildir = false;
	st->inbox_maildir = false;
	st->deleted = 0;
	st->sent_messages = 0;
	st->deleted_total = 0;
	st->sent_octets = 0;
	st->deleted_octets = 0;
	st->deleted_octets_total = 0;
	memset(&st->lock_report, 0, sizeof(st->lock_report));
	if (strncmp(inbox, MAILDIR_PREFIX, sizeof(MAILDIR_PREFIX) - 1) == 0) {
		st->inbox_maildir = true;
		inbox += sizeof(MAILDIR_PREFIX) - 1;
		/* Its folders live inside it, not in the folder directory. */
		folder_dir = NULL;
	}
	if (util_strlcpy(st->inbox, inbox, sizeof(st->inbox)) >= sizeof(st->inbox)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	st->folders[0] = '\0';
	st->folders_errno = 0;
	if (folder_dir != NULL &&
	    (st->dirfd = open(folder_dir,
		 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY)) == -1)
		st->folders_errno = errno;
	/* Journals name folders by their real path (fd_path()). */
	if (st->dirfd != -1 &&
	    fd_path(st->dirfd, st->folders, sizeof(st->folders)) == -1) {
		st->folders_errno = errno != 0 ? errno : EIO;
		st->folders[0] = '\0';
	}
	return 0;
}

static void
store_unselect(struct store *st)
{
	if (st->indexed && st->is_maildir)
		maildir_free(&st->md);
	else if (st->indexed)
		mbox_free(&st->mb);
	if (st->fd != -1)
		close(st->fd);
	st->indexed = false;
	st->is_maildir = false;
	st->fd = -1;
	st->path[0] = '\0';
	st->deleted = 0;
	st->deleted_octets = 0;
}

/*
 * Opens PATH read-write (read-only when that is all we may), never through
 * a symbolic link. Returns the descriptor or -1; *WRITABLE says which.
 */
static int
open_path(const char *path, bool *writable)
{
	int flags = O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK;
	int fd = seam_fail("store.open") ? -1 : open(path, flags | O_RDWR);

	*writable = fd != -1;
	if (fd == -1 && (errno == EACCES || errno == EROFS))
		fd = open(path, flags | O_RDONLY);
	return fd;
}

/* Scans the folder open at FD named PATH with L1 and L2 held. */
static int
store_scan(struct store *st, int fd, size_t *count)
{
	struct lock_dot dot;
	int r;

	r = lock_maildrop(
	    fd, st->path, st->helper, lock_wait(LOCK_WAIT_SCAN), &dot);
	st->lock_report = dot.report;
	if (r == -1)
		return -1;
	r = mbox_index(&st->mb, fd);
	lock_maildrop_release(fd, &dot);
	if (r == -1)
		return -1;
	st->fd = fd;
	st->indexed = true;
	*count = mbox_count(&st->mb);
	return 0;
}

/* The name of the file open at FD, with every symbolic link resolved. */
static int
fd_path(int fd, char *buf, size_t size)
{
	char proc[64];
	ssize_t n;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, buf, size - 1);
	if (n == -1)
		return -1;
	if ((size_t)n >= size - 1) {
		errno = ENAMETOOLONG;
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/* Indexes the Maildir open at FD, which becomes the selection. */
static int
store_scan_maildir(struct store *st, int fd, size_t *count)
{
	/* Maildir takes no locks: each file is whole once it is in new/. */
	if (maildir_index(&st->md, fd) == -1)
		return -1;
	st->fd = fd;
	st->indexed = true;
	st->is_maildir = true;
	st->writable = true;
	*count = maildir_count(&st->md);
	return 0;
}

/* Opens the Maildir INBOX; -1 with ENOENT when it does not exist. */
static int
open_maildir_inbox(const struct store *st)
{
	if (seam_fail("store.open-maildir"))
		return -1;
	return open(st->inbox,
	    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
}

static int
store_select_maildir_inbox(struct store *st, size_t *count)
{
	int fd;

	if ((fd = open_maildir_inbox(st)) == -1) {
		if (errno != ENOENT)
			return -1;
		*count = 0;
		return 0;
	}
	util_strlcpy(st->path, st->inbox, sizeof(st->path));
	if (store_scan_maildir(st, fd, count) == -1) {
		util_close_keep_errno(fd);
		st->path[0] = '\0';
		return -1;
	}
	return 0;
}

/* Selects Maildir++ folder NAME inside the Maildir INBOX. */
static int
store_select_maildir(struct store *st, const char *name, size_t *count)
{
	char sub[4096];
	int dfd, fd;

	if (maildir_folder_name(name, sub, sizeof(sub)) == -1)
		return -1;
	if ((dfd = open_maildir_inbox(st)) == -1)
		return -1;
	/* Beneath the Maildir, by the rules of every folder name. */
	fd = folder_open(dfd, sub, O_RDONLY | O_DIRECTORY);
	util_close_keep_errno(dfd);
	if (fd == -1)
		return -1;
	if (fd_path(fd, st->path, sizeof(st->path)) == -1) {
		util_close_keep_errno(fd);
		return -1;
	}
	if (store_scan_maildir(st, fd, count) == -1) {
		util_close_keep_errno(fd);
		st->path[0] = '\0';
		return -1;
	}
	return 0;
}

int
store_select_inbox(struct store *st, size_t *count)
{
	int tries, fd;

	store_unselect(st);
	if (st->inbox_maildir)
		return store_select_maildir_inbox(st, count);
	for (tries = 0; tries < REOPEN_TRIES; tries++) {
		fd = open_path(st->inbox, &st->writable);
		if (fd == -1) {
			if (errno != ENOENT)
				return -1;
			*count = 0;
			return 0;
		}
		util_strlcpy(st->path, st->inbox, sizeof(st->path));
		if (store_scan(st, fd, count) == 0)
			return 0;
		util_close_keep_errno(fd);
		st->path[0] = '\0';
		/* Replaced between open and lock: the new file is the maildrop. */
		if (errno != ESTALE)
			return -1;
	}
	return -1;
}

int
store_select(struct store *st, const char *name, size_t *count)
{
	int fd;

	if (strcasecmp(name, "INBOX") == 0)
		return store_select_inbox(st, count);
	store_unselect(st);
	if (!folder_name_ok(name)) {
		errno = EPERM;
		return -1;
	}
	if (st->inbox_maildir)
		return store_select_maildir(st, name, count);
	if (st->dirfd == -1) {
		errno = ENOENT;
		return -1;
	}
	st->writable = true;
	fd = folder_open(st->dirfd, name, O_RDWR);
	if (fd == -1 && (errno == EACCES || errno == EROFS)) {
		st->writable = false;
		fd = folder_open(st->dirfd, name, O_RDONLY);
	}
	if (fd == -1)
		return -1;
	/* Lock by the real name, so that a link inside the folder directory still works. */
	if (fd_path(fd, st->path, sizeof(st->path)) == -1 ||
	    store_scan(st, fd, count) == -1) {
		util_close_keep_errno(fd);
		st->path[0] = '\0';
		return -1;
	}
	return 0;
}

/* Message N of the selection, whichever kind, or NULL. */
static struct wire_msg *
store_msg(const struct store *st, uint32_t n)
{
	struct maildir_msg *dm;

	if (!st->indexed)
		return NULL;
	if (!st->is_maildir)
		return mbox_get(&st->mb, n);
	dm = maildir_get(&st->md, n);
	return dm != NULL ? &dm->m : NULL;
}

uint64_t
store_size(const struct store *st, uint32_t n)
{
	const struct wire_msg *m;

	if ((m = store_msg(st, n)) == NULL || (m->flags & WIRE_DELETED))
		return 0;
	return m->wire;
}

void
store_mark_deleted(struct store *st, uint32_t n)
{
	struct wire_msg *m;

	if ((m = store_msg(st, n)) == NULL || (m->flags & WIRE_DELETED))
		return;
	m->flags |= WIRE_DELETED;
	st->deleted++;
	st->deleted_octets += m->wire;
}

/* The selection's deletions are committed: they count in the totals. */
static void
count_committed(struct store *st)
{
	st->deleted_total += st->deleted;
	st->deleted_octets_total += st->deleted_octets;
}

static void
refresh_dot(void *arg)
{
	lock_dot_refresh(arg);
}

/* The reply for a commit whose maildrop locks failed with errno E. */
static const char *
lock_failure(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return "Maildrop busy; nothing deleted";
	case ESTALE:
		return "Maildrop changed by another program; nothing deleted";
	default:
		return "Cannot lock maildrop; nothing deleted";
	}
}

/* The reply for a commit that ended with R. */
static const char *
commit_failure(enum commit_result r)
{
	switch (r) {
	case COMMIT_CHANGED:
		return "Maildrop changed by another program; nothing deleted";
	case COMMIT_NO_SPACE:
		return "No space for the commit journal; nothing deleted";
	case COMMIT_TOO_LARGE:
		return "Too many scattered deletions for one commit; nothing deleted";
	case COMMIT_INTERRUPTED:
		return "Commit interrupted; it completes at the next login";
	default:
		return "Commit failed; nothing deleted";
	}
}

int
store_commit(struct store *st, const char **why)
{
	enum commit_result cr;
	struct lock_dot dot;
	int r;

	if (st->deleted == 0)
		return 0;
	if (st->is_maildir) {
		if (maildir_commit(&st->md) == -1) {
			*why = errno == EACCES ?
			    "Maildrop is read-only; nothing deleted" :
			    "Commit failed; some messages may not be deleted";
			return -1;
		}
		count_committed(st);
		store_unselect(st);
		return 0;
	}
	if (!st->writable) {
		*why = "Maildrop is read-only; nothing deleted";
		errno = EACCES;
		return -1;
	}
	r = lock_maildrop(
	    st->fd, st->path, st->helper, lock_wait(LOCK_WAIT_COMMIT), &dot);
	st->lock_report = dot.report;
	if (r == -1) {
		*why = lock_failure(errno);
		return -1;
	}
	cr = commit_mbox_bounded(&st->mb, st->path, st->statefd, journal_max(st),
	    refresh_dot, &dot);
	lock_maildrop_release(st->fd, &dot);
	if (cr != COMMIT_DONE) {
		*why = commit_failure(cr);
		return -1;
	}
	count_committed(st);
	/* The index no longer describes the file. */
	store_unselect(st);
	return 0;
}

/*
 * Opens the folder PATH that a journal names, when it is this user's:
 * the maildrop, or a file beneath the folder directory (opened beneath it,
 * by the rules of every folder name). Returns the descriptor, or -1 with
 * errno; *FOREIGN tells when PATH is neither, and so was not opened.
 */
static int
open_journaled(const struct store *st, const char *path, bool *foreign)
{
	size_t len = strlen(st->folders);
	bool writable;
	int fd;

	*foreign = false;
	if (!st->inbox_maildir && strcmp(path, st->inbox) == 0)
		return open_path(path, &writable);
	if (len > 0 && strncmp(path, st->folders, len) == 0 &&
	    path[len] == '/' && path[len + 1] != '\0') {
		fd = folder_open(st->dirfd, path + len + 1, O_RDWR);
		if (fd == -1 && (errno == EACCES || errno == EROFS))
			fd = folder_open(st->dirfd, path + len + 1, O_RDONLY);
		return fd;
	}
	*foreign = true;
	errno = EPERM;
	return -1;
}

int
store_recover(struct store *st, uid_t uid, struct store_recovery *rep)
{
	enum commit_found found;
	struct commit_pending p;
	struct lock_dot dot;
	struct stat sb;
	bool foreign;
	int fd, r;

	rep->torn = false;
	rep->size = -1;
	rep->refused = NULL;
	rep->aside[0] = '\0';
	rep->path[0] = '\0';
	found = commit_find(st->statefd, uid, &p);
	rep->leftovers = p.leftovers;
	switch (found) {
	case COMMIT_FOUND_NONE:
		return 0;
	case COMMIT_FOUND_TORN:
		/* Never complete, so the maildrop was not touched: removed. */
		rep->torn = true;
		return 0;
	case COMMIT_FOUND_REFUSED:
		rep->refused = p.refused;
		util_strlcpy(rep->aside, p.aside, sizeof(rep->aside));
		return 2;
	case COMMIT_FOUND_JOURNAL:
		break;
	default:
		return -1;
	}
	util_strlcpy(rep->path, p.path, sizeof(rep->path));
	fd = open_journaled(st, p.path, &foreign);
	/*
	 * With the folder directory out of reach (a home not mounted yet),
	 * a folder's journal cannot be told from a foreign one: keep it for
	 * a later attempt rather than leave that folder half rewritten.
	 */
	if (foreign && st->folders_errno != 0) {
		errno = st->folders_errno;
		return -1;
	}
	if (foreign) {
		if (commit_refuse(st->statefd, &p,
		    "names neither the maildrop nor a folder") == -1)
			return -1;
		rep->refused = p.refused;
		util_strlcpy(rep->aside, p.aside, sizeof(rep->aside));
		return 2;
	}
	if (fd == -1 && (errno == ENOENT || errno == ELOOP ||
	    errno == ENOTDIR || errno == EXDEV || errno == EPERM))
		return commit_recover_bounded(st->statefd, -1, journal_max(st),
		    NULL, NULL); /* removed: set aside */
	if (fd == -1)
		return -1;
	r = lock_maildrop(
	    fd, p.path, st->helper, lock_wait(LOCK_WAIT_SCAN), &dot);
	st->lock_report = dot.report;
	if (r == -1) {
		util_close_keep_errno(fd);
		return -1;
	}
	/* A long recovery keeps its dot-lock fresh, as a commit does. */
	r = commit_recover_bounded(
	    st->statefd, fd, journal_max(st), refresh_dot, &dot);
	if (r == COMMIT_RECOVERY_DONE && fstat(fd, &sb) == 0)
		rep->size = (long long)sb.st_size;
	lock_maildrop_release(fd, &dot);
	util_close_keep_errno(fd);
	return r;
}

static int
store_sink_write(void *arg, const void *buf, size_t len)
{
	return io_put(arg, buf, len);
}

static int
read_lock(void *arg)
{
	return lock_ofd_read(*(const int *)arg, SEND_LOCK_WAIT);
}

static void
read_unlock(void *arg)
{
	lock_ofd_release(*(const int *)arg);
}

int
store_send(struct store *st, uint32_t n, struct io *io)
{
	struct sink sink = { store_sink_write, io };
	struct wire_guard guard = { read_lock, read_unlock, &st->fd };

	if (!st->indexed) {
		errno = ENOENT;
		return -1;
	}
	if (st->is_maildir) {
		if (maildir_send(&st->md, n, &sink) == -1 || io_flush(io) == -1)
			return -1;
		st->sent_messages++;
		st->sent_octets += store_msg(st, n)->wire;
		return 0;
	}
	/*
	 * A shared lock around each read of the file (delivery agents wait,
	 * other readers do not), never while the client reads: a slow client
	 * holds up no delivery. The hash check covers what happens between.
	 */
	if (mbox_send_guarded(&st->mb, n, &sink, &guard) == -1 ||
	    io_flush(io) == -1)
		return -1;
	st->sent_messages++;
	st->sent_octets += mbox_get(&st->mb, n)->wire;
	return 0;
}

void
store_close(struct store *st)
{
	store_unselect(st);
	if (st->dirfd != -1)
		close(st->dirfd);
	st->dirfd = -1;
}
