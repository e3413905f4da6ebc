/*
 * commit: the in-place, journaled removal of deleted messages
 * (MAILDROP.md, "Commit" and "Recovery").
 *
 * Before the first octet of the maildrop changes, the journal holds, durably,
 * what the changed range must end up holding (IMAGE) and enough hashes of
 * what it held before to tell, after a crash, our own half-done work from a
 * file that somebody else rewrote. Every step after that can be run again,
 * so commit_recover() only ever goes forward.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#if defined(__x86_64__) || defined(__i386__)
/* libxxhash picks the widest vector unit at run time. */
#include <xxh_x86dispatch.h>
#endif

#include "commit.h"
#include "seam.h"
#include "state.h"

/* The journal; commit.h describes the layout. */
#define JNL_MAGIC "POP2JNL1"
#define JNL_MAGIC_LEN 8
#define JNL_PHASE_OFF 8
#define JNL_FIXED 104 /* magic, phase and padding, then 11 integers */
/*
 * Journal blocks are the file's pages, aligned to the file's offsets: a
 * power cut leaves each page of the rewritten range either old or new,
 * and recovery can tell which.
 */
#define JNL_BLOCK 4096
#define JNL_PATH_MAX 4095
#define PHASE_COPY 'C'
#define PHASE_TRUNC 'T'

/* Read size for hashing and copying: large reads, bounded memory. */
#define COPY_BUFSZ (1024 * 1024)
/* Octets read or copied between two calls of the caller's tick function. */
#define TICK_EVERY (4 * 1024 * 1024)
/* How many names recovered.mbox, recovered.mbox.1, ... are tried. */
#define RECOVERED_MAX 1000

struct jnl {
	char phase;
	uint64_t dev;
	uint64_t ino;
	uint64_t d; /* first octet that changes */
	uint64_t e; /* the maildrop's size when the commit began */
	uint64_t n; /* its size afterwards: D + |IMAGE| */
	uint64_t h_image;
	uint64_t h_prefix; /* [0, D) */
	uint64_t h_tail;   /* the original [N, E) */
	uint64_t nblk; /* blocks of the original [D, N), the last cut at N */
	uint64_t *blk;
	char path[JNL_PATH_MAX + 1];
	size_t pathlen;
	uint64_t hdrlen; /* where IMAGE starts in the journal */
};

struct tick {
	commit_tick_fn *fn;
	void *arg;
	uint64_t since;
};

/* A piece of IMAGE: LEN octets of FD at OFF; if CHECK, their hash is HASH. */
struct seg {
	int fd;
	uint64_t off;
	uint64_t len;
	int check;
	uint64_t hash;
};

/*
 * Where IMAGE comes from, one piece at a time: the NSEG pieces SG; or, with
 * MB, each message of MB from index I on that is not deleted (checked
 * against the hash its index took), then what arrived past MB's size, up
 * to E. A commit of many messages thus needs no memory per message.
 */
struct image {
	const struct seg *sg;
	size_t nseg;
	const struct mbox *mb;
	size_t i;
	uint64_t e;
	int arrived; /* the piece past MB's size was given */
};

static void
put64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t
get64(const unsigned char *p)
{
	uint64_t v;
	int i;

	v = 0;
	for (i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void
tick_add(struct tick *t, uint64_t n)
{
	if (t == NULL || t->fn == NULL)
		return;
	t->since += n;
	if (t->since >= TICK_EVERY) {
		t->since = 0;
		t->fn(t->arg);
	}
}

/* Reads exactly LEN octets at OFF; a file shorter than that has changed. */
static int
read_full(int fd, void *buf, size_t len, uint64_t off)
{
	size_t got;
	ssize_t r;

	for (got = 0; got < len; got += (size_t)r) {
		r = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (r == -1) {
			if (errno != EINTR)
				return -1;
			r = 0;
		} else if (r == 0) {
			errno = ESTALE;
			return -1;
		}
	}
	return 0;
}

static int
write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	size_t put;
	ssize_t r;

	for (put = 0; put < len; put += (size_t)r) {
		r = pwrite(
		    fd, (const char *)buf + put, len - put, (off_t)(off + put));
		if (r == -1) {
			if (errno != EINTR)
				return -1;
			r = 0;
		} else if (r == 0) {
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

/*
 * Copies LEN octets from SFD at SOFF to DFD at DOFF through BUF, feeding
 * them to the hash states XS and MS when not NULL. A chunk at a time: a
 * mailbox of a gigabyte is never held whole.
 */
static int
copy(int sfd, uint64_t soff, int dfd, uint64_t doff, uint64_t len, char *buf,
    XXH3_state_t *xs, XXH3_state_t *ms, struct tick *t)
{
	size_t n;

	while (len > 0) {
		n = len < COPY_BUFSZ ? (size_t)len : COPY_BUFSZ;
		if (read_full(sfd, buf, n, soff) == -1)
			return -1;
		if (xs != NULL)
			(void)XXH3_64bits_update(xs, buf, n);
		if (ms != NULL)
			(void)XXH3_64bits_update(ms, buf, n);
		if (write_full(dfd, buf, n, doff) == -1)
			return -1;
		soff += n;
		doff += n;
		len -= n;
		tick_add(t, n);
	}
	return 0;
}

/* Hashes LEN octets of FD at OFF into *OUT. */
static int
hash_range(int fd, uint64_t off, uint64_t len, char *buf, XXH3_state_t *xs,
    uint64_t *out)
{
	size_t n;

	(void)XXH3_64bits_reset(xs);
	while (len > 0) {
		n = len < COPY_BUFSZ ? (size_t)len : COPY_BUFSZ;
		if (read_full(fd, buf, n, off) == -1)
			return -1;
		(void)XXH3_64bits_update(xs, buf, n);
		off += n;
		len -= n;
	}
	*out = XXH3_64bits_digest(xs);
	return 0;
}

/*
 * TERM, HUP, INT and ALRM would only end the process between two steps;
 * holding them back keeps a crash (and a recovery) for real crashes.
 */
static void
signals_block(sigset_t *old)
{
	sigset_t set;

	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGHUP);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGALRM);
	(void)sigprocmask(SIG_BLOCK, &set, old);
}

static void
signals_restore(const sigset_t *old)
{
	int saved;

	saved = errno;
	(void)sigprocmask(SIG_SETMASK, old, NULL);
	errno = saved;
}

static int
is_deleted(const struct mbox_msg *m)
{
	return (m->flags & MBOX_DELETED) && !(m->flags & MBOX_PSEUDO);
}

/* Writing IMAGE needs the maildrop open for writing; find out before. */
static int
check_writable(int fd)
{
	int fl;

	if ((fl = fcntl(fd, F_GETFL)) == -1)
		return -1;
	if ((fl & O_ACCMODE) != O_RDWR) {
		errno = EBADF;
		return -1;
	}
	return 0;
}

static uint64_t
hdr_len(const struct jnl *j)
{
	return JNL_FIXED + 8 * j->nblk + j->pathlen + 8;
}

/* The number of file pages that [D, N) touches. */
static uint64_t
blocks_of(uint64_t d, uint64_t n)
{
	return n == d ? 0 : (n - 1) / JNL_BLOCK - d / JNL_BLOCK + 1;
}

/* Where block K (from 0) of [D, N) starts and ends. */
static uint64_t
block_start(const struct jnl *j, uint64_t k)
{
	return k == 0 ? j->d : (j->d / JNL_BLOCK + k) * JNL_BLOCK;
}

static uint64_t
block_end(const struct jnl *j, uint64_t k)
{
	uint64_t end = (j->d / JNL_BLOCK + k + 1) * JNL_BLOCK;

	return end < j->n ? end : j->n;
}

/*
 * The pieces a journal hashes, in file order: piece 0 is [0, D), pieces 1
 * to nblk are the blocks of [D, N), the last is [N, E). Returns where
 * piece P ends.
 */
static uint64_t
piece_end(const struct jnl *j, uint64_t p)
{
	if (p == 0)
		return j->d;
	if (p <= j->nblk)
		return block_end(j, p - 1);
	return j->e;
}

static void
piece_done(struct jnl *j, uint64_t p, uint64_t h)
{
	if (p == 0)
		j->h_prefix = h;
	else if (p <= j->nblk)
		j->blk[p - 1] = h;
	else
		j->h_tail = h;
}

/* Feeds LEN octets at OFF (in BUF) to the pieces; *P is the open one. */
static void
feed_pieces(struct jnl *j, XXH3_state_t *xs, uint64_t *p, const char *buf,
    uint64_t off, size_t len)
{
	uint64_t cur, end, last;

	last = j->nblk + 1;
	cur = off;
	for (;;) {
		/* Pieces ending here close, empty ones included. */
		while (*p <= last && piece_end(j, *p) == cur) {
			piece_done(j, *p, XXH3_64bits_digest(xs));
			(void)XXH3_64bits_reset(xs);
			(*p)++;
		}
		if (cur == off + len || *p > last)
			return;
		end = piece_end(j, *p);
		if (end > off + len)
			end = off + len;
		(void)XXH3_64bits_update(
		    xs, buf + (cur - off), (size_t)(end - cur));
		cur = end;
	}
}

/*
 * Feeds the chunk to the indexed messages; *I is the one being hashed.
 * Returns -1 with errno ESTALE when a message ends here with another hash
 * than the index took.
 */
static int
feed_msgs(const struct mbox *mb, XXH3_state_t *xs, size_t *i, const char *buf,
    uint64_t off, size_t len)
{
	uint64_t cur, start, end, stop;

	cur = off;
	stop = off + len;
	while (*i < mb->nmsg && cur < stop) {
		start = mb->msg[*i].start;
		end = mbox_stored_end(mb, *i);
		if (cur < start) {
			/* Text before the first message: kept, not indexed. */
			cur = start < stop ? start : stop;
			continue;
		}
		if (end > stop)
			end = stop;
		(void)XXH3_64bits_update(
		    xs, buf + (cur - off), (size_t)(end - cur));
		cur = end;
		if (cur == mbox_stored_end(mb, *i)) {
			if (XXH3_64bits_digest(xs) != mb->msg[*i].hash) {
				errno = ESTALE;
				return -1;
			}
			(void)XXH3_64bits_reset(xs);
			(*i)++;
		}
	}
	return 0;
}

/*
 * Reads [0, E) of FD once and fills J's hashes of [0, D), of each block of
 * [D, N) and of [N, E). With MB, also checks every indexed message against
 * the hash the index took: -1 with errno ESTALE on a difference.
 */
static int
scan(int fd, struct jnl *j, const struct mbox *mb, char *buf, struct tick *t)
{
	XXH3_state_t *ps, *ms;
	uint64_t off, p;
	size_t len, i;
	int rc;

	rc = -1;
	ps = XXH3_createState();
	ms = XXH3_createState();
	if (ps == NULL || ms == NULL) {
		errno = ENOMEM;
		goto out;
	}
	(void)XXH3_64bits_reset(ps);
	(void)XXH3_64bits_reset(ms);
	p = 0;
	i = 0;
	for (off = 0; off < j->e; off += len) {
		len =
		    j->e - off < COPY_BUFSZ ? (size_t)(j->e - off) : COPY_BUFSZ;
		if (read_full(fd, buf, len, off) == -1)
			goto out;
		feed_pieces(j, ps, &p, buf, off, len);
		if (mb != NULL && feed_msgs(mb, ms, &i, buf, off, len) == -1)
			goto out;
		tick_add(t, len);
	}
	feed_pieces(j, ps, &p, buf, j->e, 0);
	if (p != j->nblk + 2 || (mb != NULL && i != mb->nmsg)) {
		/* The index or the journal does not fit the file. */
		errno = ESTALE;
		goto out;
	}
	rc = 0;
out:
	XXH3_freeState(ps);
	XXH3_freeState(ms);
	return rc;
}

/* The header of J, hashed, with its phase octet; NULL when out of memory. */
static unsigned char *
jnl_encode(const struct jnl *j)
{
	unsigned char *h, *p;
	uint64_t k;

	if ((h = calloc(1, (size_t)j->hdrlen)) == NULL)
		return NULL;
	memcpy(h, JNL_MAGIC, JNL_MAGIC_LEN);
	p = h + 16;
	put64(p, j->dev);
	put64(p + 8, j->ino);
	put64(p + 16, j->d);
	put64(p + 24, j->e);
	put64(p + 32, j->n);
	put64(p + 40, j->h_image);
	put64(p + 48, j->h_prefix);
	put64(p + 56, j->h_tail);
	put64(p + 64, JNL_BLOCK);
	put64(p + 72, j->nblk);
	put64(p + 80, j->pathlen);
	p = h + JNL_FIXED;
	for (k = 0; k < j->nblk; k++, p += 8)
		put64(p, j->blk[k]);
	memcpy(p, j->path, j->pathlen);
	p += j->pathlen;
	/* The phase octet is rewritten in place later: the hash skips it. */
	put64(p, XXH3_64bits(h, (size_t)(p - h)));
	h[JNL_PHASE_OFF] = (unsigned char)j->phase;
	return h;
}

/*
 * Reads and checks the header of the journal open at JFD into J (j->blk
 * allocated: free it). Returns 0, or -1 with errno EINVAL when the journal
 * is torn or damaged, or another error when it could not be read.
 */
static int
jnl_read(int jfd, struct jnl *j)
{
	unsigned char fixed[JNL_FIXED], *h;
	struct stat st;
	uint64_t bsize, pathlen, k;

	memset(j, 0, sizeof(*j));
	if (fstat(jfd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size < JNL_FIXED + 8)
		goto bad;
	if (read_full(jfd, fixed, sizeof(fixed), 0) == -1)
		return -1;
	if (memcmp(fixed, JNL_MAGIC, JNL_MAGIC_LEN) != 0)
		goto bad;
	j->phase = (char)fixed[JNL_PHASE_OFF];
	j->dev = get64(fixed + 16);
	j->ino = get64(fixed + 24);
	j->d = get64(fixed + 32);
	j->e = get64(fixed + 40);
	j->n = get64(fixed + 48);
	j->h_image = get64(fixed + 56);
	j->h_prefix = get64(fixed + 64);
	j->h_tail = get64(fixed + 72);
	bsize = get64(fixed + 80);
	j->nblk = get64(fixed + 88);
	pathlen = get64(fixed + 96);
	if ((j->phase != PHASE_COPY && j->phase != PHASE_TRUNC) ||
	    bsize != JNL_BLOCK || j->d > j->n || j->n > j->e ||
	    j->e > (uint64_t)INT64_MAX || j->nblk != blocks_of(j->d, j->n) ||
	    pathlen > JNL_PATH_MAX)
		goto bad;
	j->pathlen = (size_t)pathlen;
	j->hdrlen = hdr_len(j);
	if ((uint64_t)st.st_size != j->hdrlen + (j->n - j->d))
		goto bad;
	if ((h = malloc((size_t)j->hdrlen)) == NULL)
		return -1;
	if (read_full(jfd, h, (size_t)j->hdrlen, 0) == -1) {
		free(h);
		return -1;
	}
	h[JNL_PHASE_OFF] = 0;
	if (XXH3_64bits(h, (size_t)(j->hdrlen - 8)) !=
	    get64(h + j->hdrlen - 8)) {
		free(h);
		goto bad;
	}
	if ((j->blk = calloc((size_t)j->nblk + 1, 8)) == NULL) {
		free(h);
		return -1;
	}
	for (k = 0; k < j->nblk; k++)
		j->blk[k] = get64(h + JNL_FIXED + 8 * k);
	memcpy(j->path, h + JNL_FIXED + 8 * j->nblk, j->pathlen);
	j->path[j->pathlen] = '\0';
	free(h);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* Fills *SG with the next piece of IM; returns 1, or 0 after the last. */
static int
image_next(struct image *im, struct seg *sg)
{
	const struct mbox_msg *m;

	if (im->mb == NULL) {
		if (im->i == im->nseg)
			return 0;
		*sg = im->sg[im->i++];
		return 1;
	}
	while (im->i < im->mb->nmsg) {
		m = &im->mb->msg[im->i++];
		if (is_deleted(m))
			continue;
		sg->fd = im->mb->fd;
		sg->off = m->start;
		sg->len = mbox_stored_end(im->mb, im->i - 1) - m->start;
		sg->check = 1;
		sg->hash = m->hash;
		return 1;
	}
	if (!im->arrived && im->e > im->mb->size) {
		im->arrived = 1;
		sg->fd = im->mb->fd;
		sg->off = im->mb->size;
		sg->len = im->e - im->mb->size;
		sg->check = 0;
		sg->hash = 0;
		return 1;
	}
	return 0;
}

/*
 * Writes journal J, whose IMAGE is the pieces of IM, under COMMIT_JOURNAL
 * through COMMIT_JOURNAL_TMP, durably, and leaves it open read-write in
 * *JFDP. Fills j->hdrlen and j->h_image. On failure no journal of ours is
 * left, except after the rename when KEEP is set: recovery's new journal
 * has replaced the old one by then and is the only record left.
 */
static int
jnl_write(int statefd, struct jnl *j, struct image *im, char *buf,
    struct tick *t, int keep, int *jfdp)
{
	XXH3_state_t *xs, *ms;
	unsigned char *h;
	struct seg sg;
	uint64_t off;
	int jfd, renamed, saved;

	h = NULL;
	renamed = 0;
	/* A leftover is removed at login, never reused: O_EXCL. */
	jfd = openat(statefd, COMMIT_JOURNAL_TMP,
	    O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (jfd == -1)
		return -1;
	xs = XXH3_createState();
	ms = XXH3_createState();
	if (xs == NULL || ms == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	j->hdrlen = hdr_len(j);
	(void)XXH3_64bits_reset(xs);
	off = j->hdrlen;
	while (image_next(im, &sg)) {
		(void)XXH3_64bits_reset(ms);
		if (copy(sg.fd, sg.off, jfd, off, sg.len, buf, xs,
			sg.check ? ms : NULL, t) == -1)
			goto fail;
		if (sg.check && XXH3_64bits_digest(ms) != sg.hash) {
			/* Changed since it was checked: nothing is removed. */
			errno = ESTALE;
			goto fail;
		}
		off += sg.len;
	}
	j->h_image = XXH3_64bits_digest(xs);
	if ((h = jnl_encode(j)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if (write_full(jfd, h, (size_t)j->hdrlen, 0) == -1 || fsync(jfd) == -1)
		goto fail;
	seam_point("journal-written");
	if (renameat(statefd, COMMIT_JOURNAL_TMP, statefd, COMMIT_JOURNAL) ==
	    -1)
		goto fail;
	renamed = 1;
	if (fsync(statefd) == -1)
		goto fail;
	seam_point("journal-synced");
	free(h);
	XXH3_freeState(xs);
	XXH3_freeState(ms);
	*jfdp = jfd;
	return 0;
fail:
	saved = errno;
	free(h);
	XXH3_freeState(xs);
	XXH3_freeState(ms);
	(void)close(jfd);
	if (!renamed)
		(void)unlinkat(statefd, COMMIT_JOURNAL_TMP, 0);
	else if (!keep) {
		(void)unlinkat(statefd, COMMIT_JOURNAL, 0);
		(void)fsync(statefd);
	}
	errno = saved;
	return -1;
}

/*
 * Steps 4 to 7 with the durable journal J open at JFD: IMAGE over the
 * maildrop at D, phase T, the cut at N, the journal gone. Each step may be
 * run again after a crash at any point in it.
 */
static int
apply(int statefd, int jfd, const struct jnl *j, int fd, char *buf,
    struct tick *t)
{
	static const char phase = PHASE_TRUNC;
	uint64_t len, half;

	/*
	 * Two pieces, the first not ending on a block boundary, so that a
	 * crash test stopping in between meets a torn write front.
	 */
	len = j->n - j->d;
	half = len / 2;
	if (half > 0 && (j->d + half) % JNL_BLOCK == 0)
		half--;
	if (copy(jfd, j->hdrlen, fd, j->d, half, buf, NULL, NULL, t) == -1)
		return -1;
	seam_point("mid-write");
	if (copy(jfd, j->hdrlen + half, fd, j->d + half, len - half, buf, NULL,
		NULL, t) == -1)
		return -1;
	if (len > 0 && fsync(fd) == -1)
		return -1;
	seam_point("written");
	if (write_full(jfd, &phase, 1, JNL_PHASE_OFF) == -1 ||
	    fdatasync(jfd) == -1)
		return -1;
	seam_point("phase-t");
	if (ftruncate(fd, (off_t)j->n) == -1 || fsync(fd) == -1)
		return -1;
	seam_point("truncated");
	if (unlinkat(statefd, COMMIT_JOURNAL, 0) == -1 && errno != ENOENT)
		return -1;
	/*
	 * The maildrop is complete. Should the unlink not be durable, the
	 * journal comes back after a crash and recovery redoes steps that
	 * change nothing.
	 */
	(void)fsync(statefd);
	seam_point("unlinked");
	return 0;
}

/* The first message the commit removes, or mb->nmsg. */
static size_t
first_deleted(const struct mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nmsg; i++)
		if (is_deleted(&mb->msg[i]))
			break;
	return i;
}

/* The index must describe ascending, non-empty ranges within S. */
static int
index_ok(const struct mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nmsg; i++)
		if (mb->msg[i].start >= mbox_stored_end(mb, i) ||
		    mbox_stored_end(mb, i) > mb->size)
			return 0;
	return 1;
}

/* The file at FD (status ST) is still the one MB indexes. */
static int
same_file(const struct mbox *mb, const struct stat *st)
{
	return S_ISREG(st->st_mode) && st->st_dev == mb->dev &&
	    st->st_ino == mb->ino && st->st_nlink == 1 && st->st_size >= 0 &&
	    (uint64_t)st->st_size >= mb->size;
}

int
commit_mbox(const struct mbox *mb, const char *path, int statefd,
    commit_tick_fn *tick, void *tick_arg)
{
	struct tick t;
	struct stat st;
	struct jnl j;
	struct image im;
	sigset_t old;
	char from[5], *buf;
	size_t first, i;
	uint64_t kept;
	int jfd, rc, saved;

	if ((first = first_deleted(mb)) == mb->nmsg)
		return 0;
	if (!index_ok(mb)) {
		errno = EINVAL;
		return -1;
	}
	if (path == NULL)
		path = "";
	if (strlen(path) > JNL_PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* An unfinished commit (of any folder) goes first: commit_recover(). */
	if (fstatat(statefd, COMMIT_JOURNAL, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		errno = EBUSY;
		return -1;
	}
	if (errno != ENOENT)
		return -1;
	if (check_writable(mb->fd) == -1 || fstat(mb->fd, &st) == -1)
		return -1;
	if (!same_file(mb, &st)) {
		errno = ESTALE;
		return -1;
	}
	if ((uint64_t)st.st_size > mb->size) {
		/* What was appended must be mail, or it is not ours to move. */
		if ((uint64_t)st.st_size - mb->size < sizeof(from)) {
			errno = ESTALE;
			return -1;
		}
		if (read_full(mb->fd, from, sizeof(from), mb->size) == -1)
			return -1;
		if (memcmp(from, "From ", sizeof(from)) != 0) {
			errno = ESTALE;
			return -1;
		}
	}

	memset(&j, 0, sizeof(j));
	j.phase = PHASE_COPY;
	j.dev = (uint64_t)st.st_dev;
	j.ino = (uint64_t)st.st_ino;
	j.d = mb->msg[first].start;
	j.e = (uint64_t)st.st_size;
	kept = 0;
	for (i = first; i < mb->nmsg; i++)
		if (!is_deleted(&mb->msg[i]))
			kept += mbox_stored_end(mb, i) - mb->msg[i].start;
	j.n = j.d + kept + (j.e - mb->size);
	j.nblk = blocks_of(j.d, j.n);
	j.pathlen = strlen(path);
	memcpy(j.path, path, j.pathlen + 1);

	t.fn = tick;
	t.arg = tick_arg;
	t.since = 0;
	rc = -1;
	jfd = -1;
	buf = malloc(COPY_BUFSZ);
	j.blk = calloc((size_t)j.nblk + 1, sizeof(*j.blk));
	if (buf == NULL || j.blk == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if (scan(mb->fd, &j, mb, buf, &t) == -1)
		goto out;

	memset(&im, 0, sizeof(im));
	im.mb = mb;
	im.i = first;
	im.e = j.e;

	signals_block(&old);
	if (jnl_write(statefd, &j, &im, buf, &t, 0, &jfd) == -1) {
		signals_restore(&old);
		goto out;
	}
	if (apply(statefd, jfd, &j, mb->fd, buf, &t) == -1) {
		/* The maildrop may have begun to change: the journal stays. */
		errno = EIO;
		signals_restore(&old);
		goto out;
	}
	signals_restore(&old);
	rc = 0;
out:
	saved = errno;
	if (jfd != -1)
		(void)close(jfd);
	free(buf);
	free(j.blk);
	errno = saved;
	return rc;
}

/*
 * Tells whether the maildrop at FD (status ST) is in a state that journal
 * J explains: the same file with its prefix intact; each block of [D, N)
 * either the original or IMAGE, except one that may mix them (the write
 * front of a killed pwrite); [N, E) intact, or in phase T possibly cut off.
 * Sets *FROM to where mail that arrived after the crash begins. Returns 1,
 * 0 when another program rewrote the file, or -1 with errno.
 */
static int
explained(int fd, int jfd, const struct jnl *j, const struct stat *st,
    char *buf, char *img, uint64_t *from)
{
	XXH3_state_t *xs;
	uint64_t size, k, b0, h;
	size_t len;
	int mixed, rc;

	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_dev != j->dev ||
	    (uint64_t)st->st_ino != j->ino || st->st_size < 0)
		return 0;
	size = (uint64_t)st->st_size;
	/* We never cut below N, and in phase C not at all. */
	if (size < (j->phase == PHASE_COPY ? j->e : j->n))
		return 0;
	if ((xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = -1;
	if (hash_range(fd, 0, j->d, buf, xs, &h) == -1)
		goto out;
	if (h != j->h_prefix) {
		rc = 0;
		goto out;
	}
	mixed = 0;
	for (k = 0; k < j->nblk; k++) {
		b0 = block_start(j, k);
		len = (size_t)(block_end(j, k) - b0);
		if (read_full(fd, buf, len, b0) == -1 ||
		    read_full(jfd, img, len, j->hdrlen + (b0 - j->d)) == -1)
			goto out;
		if (memcmp(buf, img, len) == 0 ||
		    XXH3_64bits(buf, len) == j->blk[k])
			continue;
		if (++mixed > 1) {
			rc = 0;
			goto out;
		}
	}
	if (size >= j->e) {
		if (hash_range(fd, j->n, j->e - j->n, buf, xs, &h) == -1)
			goto out;
		if (h == j->h_tail) {
			*from = j->e;
			rc = 1;
			goto out;
		}
	}
	if (j->phase == PHASE_COPY) {
		rc = 0;
		goto out;
	}
	/* Cut at N already; what follows arrived after the crash. */
	*from = j->n;
	rc = 1;
out:
	XXH3_freeState(xs);
	return rc;
}

/* BASE, or BASE.K when K > 0, into DST. */
static void
suffixed(char *dst, size_t size, const char *base, int k)
{
	if (k == 0)
		(void)snprintf(dst, size, "%s", base);
	else
		(void)snprintf(dst, size, "%s.%d", base, k);
}

/*
 * Another program rewrote the maildrop: IMAGE is kept in the first free
 * name of recovered.mbox, recovered.mbox.1, ... (never appended to an
 * earlier one, whose last message may lack its final newline), and the
 * journal is renamed to the orphan name with the same suffix.
 */
static int
orphan(int statefd, int jfd, const struct jnl *j, char *buf)
{
	char name[sizeof(COMMIT_RECOVERED) + 16];
	char oname[sizeof(COMMIT_ORPHAN) + 16];
	int ofd, k, saved;

	ofd = -1;
	for (k = 0; k < RECOVERED_MAX; k++) {
		suffixed(name, sizeof(name), COMMIT_RECOVERED, k);
		ofd = openat(statefd, name,
		    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (ofd != -1 || errno != EEXIST)
			break;
	}
	if (ofd == -1)
		return -1;
	if (copy(jfd, j->hdrlen, ofd, 0, j->n - j->d, buf, NULL, NULL, NULL) ==
	    -1)
		goto fail;
	if (fsync(ofd) == -1)
		goto fail;
	if (close(ofd) == -1) {
		ofd = -1;
		goto fail;
	}
	suffixed(oname, sizeof(oname), COMMIT_ORPHAN, k);
	if (renameat(statefd, COMMIT_JOURNAL, statefd, oname) == -1 ||
	    fsync(statefd) == -1)
		return -1;
	return 0;
fail:
	saved = errno;
	if (ofd != -1)
		(void)close(ofd);
	(void)unlinkat(statefd, name, 0);
	errno = saved;
	return -1;
}

/* The journal cannot be complete, so the maildrop was never touched. */
static int
drop(int statefd)
{
	if (unlinkat(statefd, COMMIT_JOURNAL, 0) == -1 && errno != ENOENT)
		return -1;
	(void)fsync(statefd);
	return 0;
}

int
commit_recover(int statefd, int fd)
{
	struct stat st;
	struct jnl j, nj;
	struct seg sg[2];
	struct image im;
	sigset_t old;
	char *buf, *img;
	uint64_t from, h, size;
	int jfd, njfd, r, rc, saved;
	const char *why;
	XXH3_state_t *xs;

	/* Never renamed, so never used: leftovers of a killed write. */
	(void)state_remove_leftovers(statefd, geteuid());
	jfd = state_open_file(statefd, COMMIT_JOURNAL, O_RDWR, 0, geteuid(),
	    &why);
	if (jfd == -1)
		return errno == ENOENT ? 0 : -1;
	memset(&nj, 0, sizeof(nj));
	from = 0;
	njfd = -1;
	rc = -1;
	buf = malloc(COPY_BUFSZ);
	img = malloc(JNL_BLOCK);
	xs = XXH3_createState();
	if (buf == NULL || img == NULL || xs == NULL) {
		(void)close(jfd);
		free(buf);
		free(img);
		XXH3_freeState(xs);
		errno = ENOMEM;
		return -1;
	}
	if (jnl_read(jfd, &j) == -1) {
		if (errno == EINVAL)
			rc = drop(statefd);
		goto out;
	}
	if (hash_range(jfd, j.hdrlen, j.n - j.d, buf, xs, &h) == -1) {
		if (errno == ESTALE)
			rc = drop(statefd);
		goto out;
	}
	if (h != j.h_image) {
		rc = drop(statefd);
		goto out;
	}
	if (fd == -1) {
		/* The maildrop is gone: IMAGE may be the only copy of its mail. */
		if (orphan(statefd, jfd, &j, buf) == 0)
			rc = 1;
		goto out;
	}
	if (check_writable(fd) == -1)
		goto out;

	signals_block(&old);
	if (fstat(fd, &st) == -1 ||
	    (r = explained(fd, jfd, &j, &st, buf, img, &from)) == -1)
		goto restore;
	if (r == 0) {
		if (orphan(statefd, jfd, &j, buf) == 0)
			rc = 1;
		goto restore;
	}
	size = (uint64_t)st.st_size;
	if (size == from) {
		/* Nothing arrived since: the journal as it is will do. */
		if (apply(statefd, jfd, &j, fd, buf, NULL) == 0)
			rc = 0;
		goto restore;
	}
	/*
	 * Mail arrived after the crash: IMAGE grows by it, in a new journal
	 * whose "original" is the maildrop as it is now.
	 */
	nj.phase = PHASE_COPY;
	nj.dev = j.dev;
	nj.ino = j.ino;
	nj.d = j.d;
	nj.e = size;
	nj.n = j.n + (size - from);
	nj.nblk = blocks_of(nj.d, nj.n);
	nj.pathlen = j.pathlen;
	memcpy(nj.path, j.path, j.pathlen + 1);
	if ((nj.blk = calloc((size_t)nj.nblk + 1, sizeof(*nj.blk))) == NULL) {
		errno = ENOMEM;
		goto restore;
	}
	if (scan(fd, &nj, NULL, buf, NULL) == -1)
		goto restore;
	sg[0].fd = jfd;
	sg[0].off = j.hdrlen;
	sg[0].len = j.n - j.d;
	sg[0].check = 1;
	sg[0].hash = j.h_image;
	sg[1].fd = fd;
	sg[1].off = from;
	sg[1].len = size - from;
	sg[1].check = 0;
	sg[1].hash = 0;
	memset(&im, 0, sizeof(im));
	im.sg = sg;
	im.nseg = 2;
	if (jnl_write(statefd, &nj, &im, buf, NULL, 1, &njfd) == -1)
		goto restore;
	if (apply(statefd, njfd, &nj, fd, buf, NULL) == 0)
		rc = 0;
restore:
	signals_restore(&old);
out:
	saved = errno;
	if (njfd != -1)
		(void)close(njfd);
	(void)close(jfd);
	free(j.blk);
	free(nj.blk);
	free(buf);
	free(img);
	XXH3_freeState(xs);
	errno = saved;
	return rc;
}

int
commit_journal_path(int statefd, char *path, size_t size)
{
	struct jnl j;
	const char *why;
	int jfd, saved;

	jfd = state_open_file(statefd, COMMIT_JOURNAL, O_RDONLY, 0, geteuid(),
	    &why);
	if (jfd == -1)
		return -1;
	if (jnl_read(jfd, &j) == -1) {
		saved = errno;
		(void)close(jfd);
		errno = saved;
		return -1;
	}
	(void)close(jfd);
	free(j.blk);
	if (j.pathlen >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(path, j.path, j.pathlen + 1);
	return 0;
}
