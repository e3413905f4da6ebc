#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folder.h"
#include "store.h"
#include "util.h"

int
store_init(struct store *st, const char *inbox, const char *folder_dir)
{
	st->dirfd = -1;
	st->fd = -1;
	st->indexed = false;
	st->deleted = 0;
	st->sent_messages = 0;
	st->deleted_total = 0;
	st->sent_octets = 0;
	if (util_strlcpy(st->inbox, inbox, sizeof(st->inbox)) >= sizeof(st->inbox)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (folder_dir != NULL)
		st->dirfd = open(folder_dir,
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	return 0;
}

static void
store_unselect(struct store *st)
{
	if (st->indexed)
		mbox_free(&st->mb);
	if (st->fd != -1)
		close(st->fd);
	st->indexed = false;
	st->fd = -1;
	st->deleted = 0;
}

/* Indexes the folder open at FD, which the store then owns. */
static int
store_take(struct store *st, int fd, size_t *count)
{
	int saved;

	if (mbox_index(&st->mb, fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	st->fd = fd;
	st->indexed = true;
	*count = mbox_count(&st->mb);
	return 0;
}

int
store_select_inbox(struct store *st, size_t *count)
{
	int fd;

	store_unselect(st);
	fd = open(st->inbox, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW |
	    O_NONBLOCK);
	if (fd == -1) {
		if (errno == ENOENT) {
			*count = 0;
			return 0;
		}
		return -1;
	}
	return store_take(st, fd, count);
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
	if (st->dirfd == -1) {
		errno = ENOENT;
		return -1;
	}
	fd = folder_open(st->dirfd, name, O_RDONLY);
	if (fd == -1)
		return -1;
	return store_take(st, fd, count);
}

uint64_t
store_size(const struct store *st, uint32_t n)
{
	const struct mbox_msg *m;

	if (!st->indexed || (m = mbox_get(&st->mb, n)) == NULL ||
	    (m->flags & MBOX_DELETED))
		return 0;
	return m->wire;
}

void
store_mark_deleted(struct store *st, uint32_t n)
{
	struct mbox_msg *m;

	if (!st->indexed || (m = mbox_get(&st->mb, n)) == NULL ||
	    (m->flags & MBOX_DELETED))
		return;
	m->flags |= MBOX_DELETED;
	st->deleted++;
	st->deleted_total++;
}

int
store_commit(struct store *st, const char **why)
{
	if (st->deleted == 0)
		return 0;
	/* Removing messages from the maildrop is not part of this release. */
	*why = "Deletion is not available";
	return -1;
}

static int
store_sink_write(void *arg, const void *buf, size_t len)
{
	return io_put(arg, buf, len);
}

int
store_send(struct store *st, uint32_t n, struct io *io)
{
	struct mbox_sink sink = { store_sink_write, io };

	if (!st->indexed) {
		errno = ENOENT;
		return -1;
	}
	if (mbox_send(&st->mb, n, &sink) == -1 || io_flush(io) == -1)
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
