/*
 * maildrop_maildir: a folder that is a Maildir.
 *
 * No lock is taken: a file in new/ is whole, and other programs rename or
 * remove single files. As INBOX ("maildir:PATH") it keeps its folders
 * inside it, as Maildir++ does: folder a/b is PATH/.a.b. Beneath the
 * folder directory, a directory is a Maildir when it has cur/ or new/, and
 * is served only when both are directories of its own (not links).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "folder.h"
#include "maildir.h"
#include "maildrop.h"
#include "seam.h"
#include "util.h"

struct maildir_folder {
	int fd;	      /* the Maildir directory */
	bool indexed; /* md holds an index of fd */
	struct maildir md;
};

static struct maildir_folder *
folder_new(struct maildrop *md, int fd)
{
	struct maildir_folder *f = calloc(1, sizeof(*f));

	if (f == NULL) {
		util_close_keep_errno(fd);
		return NULL;
	}
	f->fd = fd;
	md->priv = f;
	return f;
}

static void
maildir_folder_free(struct maildrop *md)
{
	struct maildir_folder *f = md->priv;

	if (f == NULL)
		return;
	if (f->indexed)
		maildir_free(&f->md);
	(void)close(f->fd);
	free(f);
	md->priv = NULL;
}

/* Opens the Maildir at PATH; -1 with ENOENT when it does not exist. */
static int
open_dir(const char *path)
{
	if (seam_fail("store.open-maildir"))
		return -1;
	return open(
	    path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW);
}

static int
maildir_folder_open(struct maildrop *md, const char *path)
{
	int fd;

	if ((md->path = strdup(path)) == NULL)
		return -1;
	if ((fd = open_dir(path)) == -1)
		return -1;
	return folder_new(md, fd) != NULL ? 0 : -1;
}

static bool
maildir_folder_claims(int fd, const struct stat *sb)
{
	struct stat sub;

	return S_ISDIR(sb->st_mode) &&
	    (fstatat(fd, "cur", &sub, AT_SYMLINK_NOFOLLOW) == 0 ||
		fstatat(fd, "new", &sub, AT_SYMLINK_NOFOLLOW) == 0);
}

/* Both cur/ and new/ must be directories of the Maildir's own. */
static int
maildir_folder_open_at(struct maildrop *md, int fd, int dirfd, const char *name)
{
	static const char *const subs[] = { "cur", "new" };
	struct stat sb;
	size_t i;

	(void)dirfd;
	(void)name;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (fstatat(fd, subs[i], &sb, AT_SYMLINK_NOFOLLOW) == -1) {
			util_close_keep_errno(fd);
			return -1;
		}
		if (!S_ISDIR(sb.st_mode)) {
			(void)close(fd);
			errno = S_ISLNK(sb.st_mode) ? ELOOP : ENOTDIR;
			return -1;
		}
	}
	return folder_new(md, fd) != NULL ? 0 : -1;
}

/* Folder NAME inside the Maildir INBOX: the Maildir++ folder ".a.b". */
static int
maildir_folder_open_inside(
    struct maildrop *md, const char *inbox, const char *name)
{
	char *sub;
	int dfd, fd, saved;

	if (maildir_folder_name(name, &sub) == -1)
		return -1;
	if ((dfd = open_dir(inbox)) == -1) {
		saved = errno;
		free(sub);
		errno = saved;
		return -1;
	}
	/* Beneath the Maildir, by the rules of every folder name. */
	fd = folder_open(dfd, sub, O_RDONLY | O_DIRECTORY);
	util_close_keep_errno(dfd);
	saved = errno;
	free(sub);
	errno = saved;
	if (fd == -1)
		return -1;
	if (maildrop_real_path(fd, &md->path) == -1) {
		util_close_keep_errno(fd);
		return -1;
	}
	return folder_new(md, fd) != NULL ? 0 : -1;
}

static int
maildir_folder_index(struct maildrop *md)
{
	struct maildir_folder *f = md->priv;

	if (maildir_index(&f->md, f->fd) == -1)
		return -1;
	f->indexed = true;
	return 0;
}

static size_t
maildir_folder_count(const struct maildrop *md)
{
	const struct maildir_folder *f = md->priv;

	return maildir_count(&f->md);
}

static uint64_t
maildir_folder_size(const struct maildrop *md, uint32_t n)
{
	const struct maildir_folder *f = md->priv;
	const struct maildir_msg *m = maildir_get(&f->md, n);

	return m == NULL || m->deleted ? 0 : m->wire;
}

static bool
maildir_folder_mark(struct maildrop *md, uint32_t n)
{
	struct maildir_folder *f = md->priv;
	struct maildir_msg *m = maildir_get(&f->md, n);

	if (m == NULL || m->deleted)
		return false;
	m->deleted = true;
	return true;
}

static int
maildir_folder_send(struct maildrop *md, uint32_t n, const struct sink *sink)
{
	struct maildir_folder *f = md->priv;

	return maildir_send(&f->md, n, sink);
}

/*
 * Each removal is whole: a failure midway leaves those done so far. Only
 * a refusal before any removal is "read-only; nothing deleted".
 */
static enum maildrop_commit
maildir_folder_commit(struct maildrop *md)
{
	struct maildir_folder *f = md->priv;

	if (maildir_commit(&f->md) == 0)
		return MAILDROP_COMMITTED;
	return errno == EACCES && f->md.removed == 0 ? MAILDROP_READ_ONLY
						     : MAILDROP_PARTLY;
}

const struct maildrop_ops maildrop_maildir = {
	.prefix = "maildir:",
	.journaled = false,
	.locked = false,
	.open = maildir_folder_open,
	.claims = maildir_folder_claims,
	.open_at = maildir_folder_open_at,
	.open_inside = maildir_folder_open_inside,
	.index = maildir_folder_index,
	.count = maildir_folder_count,
	.size = maildir_folder_size,
	.mark = maildir_folder_mark,
	.send = maildir_folder_send,
	.commit = maildir_folder_commit,
	.free = maildir_folder_free,
};
