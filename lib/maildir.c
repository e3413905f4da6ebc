/*
 * maildir: index a Maildir's new/ and cur/, stream its messages through
 * the wire conversion, and remove the deleted ones.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "seam.h"
#include "wire.h"

/* The subfolders that hold messages, in the order they are read. */
static const char *const subdirs[] = { "new", "cur" };
/* "new/" and "cur/" */
#define SUB_LEN 4
/* How often a file renamed again and again is looked for. */
#define FIND_TRIES 8

/* The part of a file name that identifies the message: up to ':'. */
static size_t
unique_len(const char *base)
{
	const char *colon = strchr(base, ':');

	return colon != NULL ? (size_t)(colon - base) : strlen(base);
}

/* The delivery time a name starts with; names without one sort last. */
static uint64_t
name_time(const char *base)
{
	uint64_t v = 0;

	if (*base < '0' || *base > '9')
		return UINT64_MAX;
	for (; *base >= '0' && *base <= '9'; base++) {
		if (v > (UINT64_MAX - 1 - 9) / 10)
			return UINT64_MAX - 1;
		v = v * 10 + (uint64_t)(*base - '0');
	}
	return v;
}

static int
cmp_names(const char *a, const char *b)
{
	uint64_t ta = name_time(a), tb = name_time(b);
	size_t la = unique_len(a), lb = unique_len(b);
	int r;

	if (ta != tb)
		return ta < tb ? -1 : 1;
	r = memcmp(a, b, la < lb ? la : lb);
	if (r != 0)
		return r;
	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int
cmp_msg(const void *x, const void *y)
{
	const struct maildir_msg *a = x, *b = y;

	return cmp_names(a->name + SUB_LEN, b->name + SUB_LEN);
}

static int
same_unique(const char *a, const char *b)
{
	size_t la = unique_len(a);

	return la == unique_len(b) && memcmp(a, b, la) == 0;
}

/* Tells whether a directory entry may be a message. */
static int
is_candidate(const struct dirent *d)
{
	if (d->d_name[0] == '.')
		return 0;
	/* Where the type is known, only regular files; open() checks the rest.
	 */
	return d->d_type == DT_REG || d->d_type == DT_UNKNOWN;
}

/* The index in subdirs[] of "new/..." or "cur/...". */
static size_t
sub_of(const char *name)
{
	return name[0] == 'n' ? 0 : 1;
}

/*
 * Subfolder I of the Maildir (new/ or cur/), opened when first needed and
 * kept; never through a symbolic link. Returns the descriptor, or -1 with
 * errno (ENOENT: it does not exist; ELOOP: it is a symbolic link).
 */
static int
sub_fd(struct maildir *md, size_t i)
{
	struct stat sb;
	int dfd;

	if (md->sub[i] != -1)
		return md->sub[i];
	dfd = openat(md->fd, subdirs[i],
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	/* With O_DIRECTORY the kernel reports a link as ENOTDIR. */
	if (dfd == -1 && errno == ENOTDIR &&
	    fstatat(md->fd, subdirs[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(sb.st_mode))
		errno = ELOOP;
	if (dfd != -1)
		md->sub[i] = dfd;
	return dfd;
}

/* Subfolder I as a directory stream of its own, or NULL. */
static DIR *
open_sub(struct maildir *md, size_t i)
{
	int dfd;
	DIR *d;

	if (sub_fd(md, i) == -1)
		return NULL;
	dfd = openat(
	    md->sub[i], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
	if (dfd == -1)
		return NULL;
	if ((d = fdopendir(dfd)) == NULL) {
		int saved = errno;

		close(dfd);
		errno = saved;
	}
	return d;
}

/*
 * Looks for the file whose unique part is that of M's in new/ and cur/,
 * and makes its "sub/name" M's name. Returns 0, or -1 with errno ENOENT
 * when there is none, or another error (M unchanged).
 */
static int
find_renamed(struct maildir *md, struct maildir_msg *m)
{
	const char *base = m->name + SUB_LEN;
	struct dirent *de;
	size_t i, len;
	char *name;
	DIR *d;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((d = open_sub(md, i)) == NULL) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		errno = 0;
		/* cppcheck-suppress readdirCalled ; pop2d has one thread */
		while ((de = readdir(d)) != NULL) {
			if (!is_candidate(de) || !same_unique(de->d_name, base))
				continue;
			len = strlen(de->d_name);
			name = malloc(SUB_LEN + len + 1);
			if (name != NULL) {
				memcpy(name, subdirs[i], SUB_LEN - 1);
				name[SUB_LEN - 1] = '/';
				memcpy(name + SUB_LEN, de->d_name, len + 1);
				free(m->name);
				m->name = name;
			}
			closedir(d);
			return name != NULL ? 0 : -1;
		}
		closedir(d);
	}
	errno = ENOENT;
	return -1;
}

/*
 * Opens the file of M for reading, following it when another program
 * renamed it (M's name is updated). Returns the descriptor, or -1 with
 * errno (ENOENT: the message is gone).
 */
static int
open_msg(struct maildir *md, struct maildir_msg *m)
{
	int i, dfd, mfd;

	for (i = 0; i < FIND_TRIES; i++) {
		if ((dfd = sub_fd(md, sub_of(m->name))) == -1)
			return -1;
		mfd = openat(dfd, m->name + SUB_LEN,
		    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
		if (mfd != -1 || errno != ENOENT)
			return mfd;
		if (find_renamed(md, m) == -1)
			return -1;
	}
	errno = ENOENT;
	return -1;
}

/* Appends "SUB/NAME" to MD's list. */
static int
add_name(struct maildir *md, size_t *alloc, const char *sub, const char *name)
{
	struct maildir_msg *m;
	size_t len = strlen(name), n;
	void *p;

	if (md->nmsg == *alloc) {
		n = *alloc == 0 ? 64 : *alloc * 2;
		if (n > SIZE_MAX / sizeof(*m)) {
			errno = ENOMEM;
			return -1;
		}
		if ((p = realloc(md->msg, n * sizeof(*m))) == NULL)
			return -1;
		md->msg = p;
		*alloc = n;
	}
	m = &md->msg[md->nmsg];
	memset(m, 0, sizeof(*m));
	if ((m->name = malloc(SUB_LEN + len + 1)) == NULL)
		return -1;
	memcpy(m->name, sub, SUB_LEN - 1);
	m->name[SUB_LEN - 1] = '/';
	memcpy(m->name + SUB_LEN, name, len + 1);
	md->nmsg++;
	return 0;
}

/* Lists new/ and cur/, in that order, into MD. */
static int
list(struct maildir *md)
{
	struct dirent *de;
	size_t alloc = 0, i;
	DIR *d;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((d = open_sub(md, i)) == NULL) {
			if (errno == ENOENT)
				continue;
			return -1;
		}
		for (;;) {
			errno = 0;
			/* cppcheck-suppress readdirCalled ; pop2d has one thread */
			if ((de = readdir(d)) == NULL)
				break;
			if (is_candidate(de) &&
			    add_name(md, &alloc, subdirs[i], de->d_name) ==
				-1) {
				int saved = errno;

				closedir(d);
				errno = saved;
				return -1;
			}
		}
		if (errno != 0) {
			int saved = errno;

			closedir(d);
			errno = saved;
			return -1;
		}
		closedir(d);
	}
	return 0;
}

/* Reads message M's file for its size, wire octets and hash. 1: left out. */
static int
index_msg(struct maildir *md, struct maildir_msg *m)
{
	struct wire_msg mm;
	int mfd, r, saved;

	if ((mfd = open_msg(md, m)) == -1)
		/* Gone, or not a file we serve (a symbolic link, a FIFO). */
		return errno == ENOENT || errno == ELOOP || errno == ENXIO ? 1
									   : -1;
	r = wire_index_file(mfd, NULL, &mm);
	saved = errno;
	close(mfd);
	m->size = mm.end;
	m->wire = mm.wire;
	m->hash = mm.hash;
	m->deleted = false;
	if (r == -1) {
		/* Not a regular file, or shrank while read: not a message now.
		 */
		if (saved == EINVAL || saved == ESTALE)
			return 1;
		errno = saved;
		return -1;
	}
	return 0;
}

int
maildir_index(struct maildir *md, int fd)
{
	size_t i, j;
	int r, saved;

	md->fd = fd;
	md->sub[0] = md->sub[1] = -1;
	md->msg = NULL;
	md->nmsg = 0;
	if (list(md) == -1)
		goto fail;
	if (md->nmsg > 1)
		qsort(md->msg, md->nmsg, sizeof(md->msg[0]), cmp_msg);
	for (i = j = 0; i < md->nmsg; i++) {
		/*
		 * A file renamed from new/ to cur/ between the two listings
		 * is listed twice, next to itself in this order.
		 */
		if (j > 0 &&
		    same_unique(md->msg[j - 1].name + SUB_LEN,
			md->msg[i].name + SUB_LEN)) {
			free(md->msg[i].name);
			continue;
		}
		md->msg[j++] = md->msg[i];
		if ((r = index_msg(md, &md->msg[j - 1])) == -1) {
			md->nmsg = j + (md->nmsg - i - 1);
			/* Keep the unindexed rest freeable. */
			memmove(&md->msg[j], &md->msg[i + 1],
			    (md->nmsg - j) * sizeof(md->msg[0]));
			goto fail;
		}
		if (r == 1)
			free(md->msg[--j].name);
	}
	md->nmsg = j;
	return 0;
fail:
	saved = errno;
	maildir_free(md);
	errno = saved;
	return -1;
}

void
maildir_free(struct maildir *md)
{
	size_t i;

	for (i = 0; i < md->nmsg; i++)
		free(md->msg[i].name);
	free(md->msg);
	md->msg = NULL;
	md->nmsg = 0;
	for (i = 0; i < sizeof(md->sub) / sizeof(md->sub[0]); i++) {
		if (md->sub[i] != -1)
			(void)close(md->sub[i]);
		md->sub[i] = -1;
	}
}

size_t
maildir_count(const struct maildir *md)
{
	return md->nmsg;
}

struct maildir_msg *
maildir_get(const struct maildir *md, size_t n)
{
	if (n == 0 || n > md->nmsg)
		return NULL;
	return &md->msg[n - 1];
}

int
maildir_send(struct maildir *md, size_t n, const struct sink *sink)
{
	struct maildir_msg *m;
	struct wire_msg mm;
	int mfd, r, saved;

	if ((m = maildir_get(md, n)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	if ((mfd = open_msg(md, m)) == -1) {
		/* Removed by another program after READ announced it. */
		if (errno == ENOENT || errno == ELOOP || errno == ENXIO)
			errno = ESTALE;
		return -1;
	}
	memset(&mm, 0, sizeof(mm));
	mm.end = m->size;
	mm.wire = m->wire;
	mm.hash = m->hash;
	r = wire_send_file(mfd, &mm, NULL, sink);
	saved = errno;
	close(mfd);
	errno = saved;
	return r;
}

/* Removes the file of M; one already gone is done. */
static int
remove_msg(struct maildir *md, struct maildir_msg *m, int *touched)
{
	int i, dfd;

	for (i = 0; i < FIND_TRIES; i++) {
		if ((dfd = sub_fd(md, sub_of(m->name))) == -1)
			return -1;
		if (!seam_fail("maildir.unlink") &&
		    unlinkat(dfd, m->name + SUB_LEN, 0) == 0) {
			*touched |= 1 << sub_of(m->name);
			md->removed++;
			return 0;
		}
		if (errno != ENOENT)
			return -1;
		/* Renamed by another program, or removed: look it up. */
		if (find_renamed(md, m) == -1)
			return errno == ENOENT ? 0 : -1;
	}
	/* Renamed faster than it can be found: leave it. */
	errno = EAGAIN;
	return -1;
}

/* Makes the removals in subfolder I durable. */
static int
sync_sub(struct maildir *md, size_t i)
{
	return md->sub[i] == -1 ? 0 : fsync(md->sub[i]);
}

int
maildir_commit(struct maildir *md)
{
	size_t i, marked = 0;
	int touched = 0, r = 0, saved = 0;

	md->removed = 0;
	for (i = 0; i < md->nmsg; i++)
		if (md->msg[i].deleted)
			marked++;
	if (marked == 0)
		return 0;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++)
		if ((sub_fd(md, i) == -1 ||
			faccessat(md->sub[i], ".", W_OK | X_OK, AT_EACCESS) ==
			    -1) &&
		    errno != ENOENT) {
			if (errno == EROFS || errno == EPERM)
				errno = EACCES;
			return -1;
		}
	for (i = 0; i < md->nmsg && r == 0; i++)
		if (md->msg[i].deleted &&
		    remove_msg(md, &md->msg[i], &touched) == -1) {
			saved = errno;
			r = -1;
		}
	/* What was removed must stay removed, even after a failure. */
	if ((touched & 1) && sync_sub(md, 0) == -1 && r == 0) {
		saved = errno;
		r = -1;
	}
	if ((touched & 2) && sync_sub(md, 1) == -1 && r == 0) {
		saved = errno;
		r = -1;
	}
	if (r == -1)
		errno = saved;
	return r;
}

int
maildir_folder_name(const char *name, char **out)
{
	size_t i, len = strlen(name);
	char *buf;

	*out = NULL;
	if ((buf = malloc(len + 2)) == NULL)
		return -1;
	buf[0] = '.';
	for (i = 0; i <= len; i++)
		buf[i + 1] = name[i] == '/' ? '.' : name[i];
	*out = buf;
	return 0;
}
