#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
#include "folder.h"
#include "lock.h"
#include "maildrop.h"
#include "seam.h"
#include "store.h"
#include "util.h"

/* How often a folder replaced between open and lock is opened again. */
#define REOPEN_TRIES 3

int
store_init(struct store *st, const char *inbox, const char *folder_dir,
    int statefd, const char *helper)
{
	st->dirfd = -1;
	st->statefd = statefd;
	st->helper = helper;
	st->journal_max = 0;
	memset(&st->sel, 0, sizeof(st->sel));
	st->deleted = 0;
	st->sent_messages = 0;
	st->deleted_total = 0;
	st->sent_octets = 0;
	st->deleted_octets = 0;
	st->deleted_octets_total = 0;
	memset(&st->lock_report, 0, sizeof(st->lock_report));
	st->inbox_ops = maildrop_format(inbox, &inbox);
	if ((st->inbox = strdup(inbox)) == NULL)
		return -1;
	st->folders = NULL;
	st->folders_errno = 0;
	if (folder_dir != NULL &&
	    (st->dirfd = open(folder_dir,
		 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY)) == -1)
		st->folders_errno = errno;
	/* Journals name folders by their real path. */
	if (st->dirfd != -1 &&
	    maildrop_real_path(st->dirfd, &st->folders) == -1)
		st->folders_errno = errno != 0 ? errno : EIO;
	return 0;
}

static void
store_unselect(struct store *st)
{
	if (st->sel.ops != NULL)
		st->sel.ops->free(&st->sel);
	st->sel.ops = NULL;
	free(st->sel.path);
	st->sel.path = NULL;
	st->deleted = 0;
	st->deleted_octets = 0;
}

/* Readies the selection for a folder of format OPS. */
static void
store_begin(struct store *st, const struct maildrop_ops *ops)
{
	st->sel.ops = ops;
	st->sel.priv = NULL;
	st->sel.path = NULL;
	st->sel.statefd = st->statefd;
	st->sel.helper = st->helper;
	st->sel.lock_report = &st->lock_report;
	st->sel.journal_max = st->journal_max;
}

/* The selection's open failed: its format left nothing to free. */
static int
store_open_failed(struct store *st)
{
	int saved = errno;

	st->sel.ops = NULL;
	free(st->sel.path);
	st->sel.path = NULL;
	errno = saved;
	return -1;
}

/* Indexes the folder just opened, which becomes the selection. */
static int
store_index(struct store *st, size_t *count)
{
	int saved;

	if (st->sel.ops->index(&st->sel) == -1) {
		saved = errno;
		store_unselect(st);
		errno = saved;
		return -1;
	}
	*count = st->sel.ops->count(&st->sel);
	return 0;
}

int
store_select_inbox(struct store *st, size_t *count)
{
	int tries;

	store_unselect(st);
	for (tries = 0; tries < REOPEN_TRIES; tries++) {
		store_begin(st, st->inbox_ops);
		if (st->inbox_ops->open(&st->sel, st->inbox) == -1) {
			store_open_failed(st);
			if (errno != ENOENT)
				return -1;
			*count = 0;
			return 0;
		}
		if (store_index(st, count) == 0)
			return 0;
		/* Replaced between open and lock: the new file is INBOX. */
		if (errno != ESTALE)
			return -1;
	}
	return -1;
}

/*
 * Opens NAME beneath the folder directory, in the format that claims it.
 * It is opened read-only first, by the rules of every folder name (no
 * FIFO, no link out, never a wait), and offered to each format in turn.
 */
static int
store_open_beneath(struct store *st, const char *name)
{
	const struct maildrop_ops *ops = NULL;
	struct stat sb;
	size_t i;
	int fd;

	if (st->dirfd == -1) {
		errno = ENOENT;
		return -1;
	}
	if ((fd = folder_open(st->dirfd, name, O_RDONLY)) == -1)
		return -1;
	if (fstat(fd, &sb) == -1) {
		util_close_keep_errno(fd);
		return -1;
	}
	for (i = 0; maildrop_formats[i] != NULL && ops == NULL; i++)
		if (maildrop_formats[i]->claims(fd, &sb))
			ops = maildrop_formats[i];
	if (ops == NULL) {
		(void)close(fd);
		errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
		return -1;
	}
	store_begin(st, ops);
	/* Locked by its real name: a link inside the folder directory works. */
	if (maildrop_real_path(fd, &st->sel.path) == -1) {
		util_close_keep_errno(fd);
		return store_open_failed(st);
	}
	if (ops->open_at(&st->sel, fd, st->dirfd, name) == -1)
		return store_open_failed(st);
	return 0;
}

int
store_select(struct store *st, const char *name, size_t *count)
{
	if (util_ascii_caseeq(name, "INBOX", sizeof("INBOX")))
		return store_select_inbox(st, count);
	store_unselect(st);
	if (!folder_name_ok(name)) {
		errno = EPERM;
		return -1;
	}
	/* A folder kept inside INBOX comes first; a missing one, beneath. */
	if (st->inbox_ops->open_inside != NULL) {
		store_begin(st, st->inbox_ops);
		if (st->inbox_ops->open_inside(&st->sel, st->inbox, name) == 0)
			return store_index(st, count);
		store_open_failed(st);
		if (errno != ENOENT)
			return -1;
	}
	if (store_open_beneath(st, name) == -1)
		return -1;
	return store_index(st, count);
}

uint64_t
store_size(const struct store *st, uint32_t n)
{
	if (st->sel.ops == NULL)
		return 0;
	return st->sel.ops->size(&st->sel, n);
}

void
store_mark_deleted(struct store *st, uint32_t n)
{
	uint64_t size = store_size(st, n);

	if (size == 0 || !st->sel.ops->mark(&st->sel, n))
		return;
	st->deleted++;
	st->deleted_octets += size;
}

enum maildrop_commit
store_commit(struct store *st)
{
	enum maildrop_commit r;

	if (st->deleted == 0)
		return MAILDROP_COMMITTED;
	if ((r = st->sel.ops->commit(&st->sel)) != MAILDROP_COMMITTED)
		return r;
	/* The selection's deletions are committed: they count in the totals. */
	st->deleted_total += st->deleted;
	st->deleted_octets_total += st->deleted_octets;
	/* The index no longer describes the folder. */
	store_unselect(st);
	return MAILDROP_COMMITTED;
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
	size_t len = st->folders != NULL ? strlen(st->folders) : 0;
	struct stat sb;
	bool writable;
	int fd;

	*foreign = false;
	if (st->inbox_ops->journaled && strcmp(path, st->inbox) == 0)
		return maildrop_open_file(path, &writable);
	if (len > 0 && strncmp(path, st->folders, len) == 0 &&
	    path[len] == '/' && path[len + 1] != '\0') {
		fd = folder_open(st->dirfd, path + len + 1, O_RDWR);
		if (fd == -1 && (errno == EACCES || errno == EROFS))
			fd = folder_open(st->dirfd, path + len + 1, O_RDONLY);
		/* A folder's name that has become a directory is not its file. */
		if (fd != -1 &&
		    (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode))) {
			util_close_keep_errno(fd);
			errno = EISDIR;
			return -1;
		}
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
	rep->path = NULL;
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
	/* The journal's path is the caller's to log: it is handed over. */
	rep->path = p.path;
	p.path = NULL;
	fd = open_journaled(st, rep->path, &foreign);
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
	/*
	 * The name no longer names a regular file that may be used (removed,
	 * or now a directory, a FIFO, a device, a symbolic link): the
	 * interrupted round is saved from the journal and the journal set
	 * aside, as for a removed maildrop.
	 */
	if (fd == -1 &&
	    (errno == ENOENT || errno == ELOOP || errno == ENOTDIR ||
		errno == EXDEV || errno == EPERM || errno == EISDIR ||
		errno == EINVAL || errno == ENXIO))
		return commit_recover_bounded(st->statefd, -1,
		    maildrop_journal_max(st->journal_max), NULL,
		    NULL); /* removed: set aside */
	if (fd == -1)
		return -1;
	r = lock_maildrop(fd, rep->path, st->helper,
	    maildrop_lock_wait(LOCK_WAIT_SCAN), &dot);
	st->lock_report = dot.report;
	if (r == -1) {
		util_close_keep_errno(fd);
		return -1;
	}
	/* A long recovery keeps its dot-lock fresh, as a commit does. */
	r = commit_recover_bounded(st->statefd, fd,
	    maildrop_journal_max(st->journal_max), maildrop_refresh_dot, &dot);
	if (r == COMMIT_RECOVERY_DONE && fstat(fd, &sb) == 0)
		rep->size = (long long)sb.st_size;
	lock_maildrop_release(fd, &dot);
	util_close_keep_errno(fd);
	return r;
}

void
store_recovery_free(struct store_recovery *rep)
{
	free(rep->path);
	rep->path = NULL;
}

static int
store_sink_write(void *arg, const void *buf, size_t len)
{
	return io_put(arg, buf, len);
}

int
store_send(struct store *st, uint32_t n, struct io *io)
{
	struct sink sink = { store_sink_write, io };
	uint64_t size = store_size(st, n);

	if (st->sel.ops == NULL) {
		errno = ENOENT;
		return -1;
	}
	if (st->sel.ops->send(&st->sel, n, &sink) == -1 || io_flush(io) == -1)
		return -1;
	st->sent_messages++;
	st->sent_octets += size;
	return 0;
}

void
store_close(struct store *st)
{
	store_unselect(st);
	if (st->dirfd != -1)
		close(st->dirfd);
	st->dirfd = -1;
	free(st->inbox);
	st->inbox = NULL;
	free(st->folders);
	st->folders = NULL;
}
