/*
 * maildrop_mbox: a folder that is one mbox file.
 *
 * It is indexed and committed with the maildrop locks held (L1 and L2,
 * lock_maildrop()), read under a shared L1 taken only around each read,
 * and committed through the journal (commit_mbox_bounded()).
 */
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
#include "mbox.h"
#include "wire.h"
#include "seam.h"
#include "util.h"

/* How long RETR waits for a delivery agent to finish appending. */
#define SEND_LOCK_WAIT 30

struct mbox_folder {
	int fd;
	bool writable; /* fd is open read-write */
	bool indexed;  /* mb holds an index of fd */
	struct mbox mb;
};

static struct mbox_folder *
folder_new(struct maildrop *md)
{
	struct mbox_folder *f = calloc(1, sizeof(*f));

	if (f != NULL)
		f->fd = -1;
	md->priv = f;
	return f;
}

static void
mbox_folder_free(struct maildrop *md)
{
	struct mbox_folder *f = md->priv;

	if (f == NULL)
		return;
	if (f->indexed)
		mbox_free(&f->mb);
	if (f->fd != -1)
		(void)close(f->fd);
	free(f);
	md->priv = NULL;
}

static int
mbox_folder_open(struct maildrop *md, const char *path)
{
	struct mbox_folder *f;

	if ((md->path = strdup(path)) == NULL)
		return -1;
	if ((f = folder_new(md)) == NULL)
		return -1;
	if ((f->fd = maildrop_open_file(path, &f->writable)) == -1) {
		int saved = errno;

		mbox_folder_free(md);
		errno = saved;
		return -1;
	}
	return 0;
}

static bool
mbox_folder_claims(int fd, const struct stat *sb)
{
	(void)fd;
	return S_ISREG(sb->st_mode);
}

/* FD is read-only: the file is opened again to be written. */
static int
mbox_folder_open_at(struct maildrop *md, int fd, int dirfd, const char *name)
{
	struct mbox_folder *f;
	int rw, saved;

	if ((f = folder_new(md)) == NULL) {
		util_close_keep_errno(fd);
		return -1;
	}
	rw = folder_open(dirfd, name, O_RDWR);
	if (rw == -1 && errno != EACCES && errno != EROFS) {
		saved = errno;
		(void)close(fd);
		mbox_folder_free(md);
		errno = saved;
		return -1;
	}
	f->writable = rw != -1;
	if (rw != -1)
		(void)close(fd);
	f->fd = rw != -1 ? rw : fd;
	return 0;
}

static int
mbox_folder_index(struct maildrop *md)
{
	struct mbox_folder *f = md->priv;
	struct lock_dot dot;
	int r;

	r = lock_maildrop(f->fd, md->path, md->helper,
	    maildrop_lock_wait(LOCK_WAIT_SCAN), &dot);
	*md->lock_report = dot.report;
	if (r == -1)
		return -1;
	r = mbox_index(&f->mb, f->fd);
	lock_maildrop_release(f->fd, &dot);
	if (r == -1)
		return -1;
	f->indexed = true;
	return 0;
}

static size_t
mbox_folder_count(const struct maildrop *md)
{
	const struct mbox_folder *f = md->priv;

	return mbox_count(&f->mb);
}

static uint64_t
mbox_folder_size(const struct maildrop *md, uint32_t n)
{
	const struct mbox_folder *f = md->priv;
	const struct wire_msg *m = mbox_get(&f->mb, n);

	return m == NULL || (m->flags & WIRE_DELETED) ? 0 : m->wire;
}

static bool
mbox_folder_mark(struct maildrop *md, uint32_t n)
{
	struct mbox_folder *f = md->priv;
	struct wire_msg *m = mbox_get(&f->mb, n);

	if (m == NULL || (m->flags & WIRE_DELETED))
		return false;
	m->flags |= WIRE_DELETED;
	return true;
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

static int
mbox_folder_send(struct maildrop *md, uint32_t n, const struct sink *sink)
{
	struct mbox_folder *f = md->priv;
	struct wire_guard guard = { read_lock, read_unlock, &f->fd };

	/*
	 * A shared lock around each read of the file (delivery agents wait,
	 * other readers do not), never while the client reads: a slow client
	 * holds up no delivery. The hash check covers what happens between.
	 */
	return mbox_send_guarded(&f->mb, n, sink, &guard);
}

/* How a commit whose maildrop locks failed with errno E ended. */
static enum maildrop_commit
lock_failure(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return MAILDROP_BUSY;
	case ESTALE:
		return MAILDROP_CHANGED;
	default:
		return MAILDROP_LOCK_FAILED;
	}
}

/* How a commit that ended with R ended, in the store's terms. */
static enum maildrop_commit
commit_failure(enum commit_result r)
{
	switch (r) {
	case COMMIT_DONE:
		return MAILDROP_COMMITTED;
	case COMMIT_CHANGED:
		return MAILDROP_CHANGED;
	case COMMIT_NO_SPACE:
		return MAILDROP_NO_SPACE;
	case COMMIT_TOO_LARGE:
		return MAILDROP_TOO_LARGE;
	case COMMIT_INTERRUPTED:
		return MAILDROP_INTERRUPTED;
	default:
		return MAILDROP_FAILED;
	}
}

static enum maildrop_commit
mbox_folder_commit(struct maildrop *md)
{
	struct mbox_folder *f = md->priv;
	enum commit_result cr;
	struct lock_dot dot;
	int r, e;

	if (!f->writable) {
		errno = EACCES;
		return MAILDROP_READ_ONLY;
	}
	r = lock_maildrop(f->fd, md->path, md->helper,
	    maildrop_lock_wait(LOCK_WAIT_COMMIT), &dot);
	*md->lock_report = dot.report;
	if (r == -1)
		return lock_failure(errno);
	cr = commit_mbox_bounded(&f->mb, md->path, md->statefd,
	    maildrop_journal_max(md->journal_max), maildrop_refresh_dot, &dot);
	e = errno;
	lock_maildrop_release(f->fd, &dot);
	errno = e;
	return commit_failure(cr);
}

const struct maildrop_ops maildrop_mbox = {
	.prefix = "",
	.journaled = true,
	.locked = true,
	.open = mbox_folder_open,
	.claims = mbox_folder_claims,
	.open_at = mbox_folder_open_at,
	.open_inside = NULL,
	.index = mbox_folder_index,
	.count = mbox_folder_count,
	.size = mbox_folder_size,
	.mark = mbox_folder_mark,
	.send = mbox_folder_send,
	.commit = mbox_folder_commit,
	.free = mbox_folder_free,
};
