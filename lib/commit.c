/*
 * commit: the in-place, journaled removal of deleted messages
 * (MAILDROP.md, "Commit" and "Recovery"; commit.h has the journal layout).
 *
 * Compaction moves every kept octet toward the front of the file, so the
 * output written at [o, o + C) can only destroy original octets that the
 * output of that same stretch still needs: everything later comes from
 * further back. The commit therefore goes in rounds over the output, and
 * before each round the journal receives, durably, only the round's own
 * sources that its destination overlaps. Whatever else the round reads
 * lies behind its destination and is still the original. After a crash
 * the last journaled round is redone from the journal and the untouched
 * original octets, and the rounds after it continue: forward, never
 * backward, and every step may be run again.
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
#include "util.h"

/* The journal's names in the state directory. */
#define COMMIT_JOURNAL "commit.jnl"
#define COMMIT_JOURNAL_TMP "commit.jnl.tmp"
#define COMMIT_ORPHAN "commit.jnl.orphan"

#define JNL_MAGIC "POP2JNL3"
/* The build before page tables: its journals are still recovered. */
#define JNL_MAGIC_V2 "POP2JNL2"
#define JNL_MAGIC_LEN 8
/* The header's fields, at these offsets (commit.h has the layout). */
#define JNL_PHASE_OFF 8
#define JNL_MARK_OFF 9	 /* the mark octet */
#define JNL_HMARK_OFF 10 /* 48 bits of the marked tail's hash */
#define JNL_DEV_OFF 16
#define JNL_INO_OFF 24
#define JNL_D_OFF 32
#define JNL_E_OFF 40
#define JNL_N_OFF 48
#define JNL_ROUND_OFF 56
#define JNL_CAP_OFF 64
#define JNL_NSEG_OFF 72
#define JNL_HPREFIX_OFF 80
#define JNL_HTAIL_OFF 88
#define JNL_HTABLES_OFF 96
#define JNL_PATHLEN_OFF 104
#define JNL_FIXED 112 /* then the path, then the header's hash */
#define JNL_PATH_MAX 4095
/*
 * The header of a journal of the format before rounds ("POP2JNL1"): the
 * fields it shares with the current one, then these; the block hashes
 * follow at JNL1_FIXED, then the path and the header's hash, then IMAGE.
 */
#define JNL1_HIMAGE_OFF 56
#define JNL1_HPREFIX_OFF 64
#define JNL1_HTAIL_OFF 72
#define JNL1_NBLK_OFF 88
#define JNL1_PATHLEN_OFF 96
#define JNL1_FIXED 104
/* A slot's header fields. */
#define SLOT_R_OFF 8
#define SLOT_W0_OFF 16
#define SLOT_W1_OFF 24
#define SLOT_LEN_OFF 32
#define SLOT_HASH_OFF 40
/* Phases: rounds being written; cutting, the tail marked (or, in a
 * journal of an earlier build, not). */
#define PHASE_COPY 'C'
#define PHASE_MARKED 'M'
#define PHASE_TRUNC 'T'
/* The 48 bits of a hash that the header keeps of the marked tail. */
#define HMARK_MASK (((uint64_t)1 << 48) - 1)
/*
 * Rounds after the first start on the file's own 4 KiB pages, so that no
 * page is written by two rounds: whatever a power cut leaves of a page
 * belongs to one round.
 */
#define PAGE 4096
/* A round slot: its header, then up to the journal's slot capacity. */
#define SLOT_MAGIC "POP2RND2"
#define SLOT_MAGIC_V2 "POP2RND1"
#define SLOT_HDR 64
/*
 * A slot also holds the hashes of its round's destination, page by page,
 * as it was and as it will be: a recovery vouches for every page before
 * writing over it. A power cut leaves each page old or new, and a round
 * is written in whole pages, which a kill cannot tear either.
 */
/* How much of the untouched prefix a recovery compares: its last 64 KiB. */
#define PREFIX_CHECK (64 * 1024)

/* Read size for hashing and copying: large reads, bounded memory. */
#define COPY_BUFSZ (1024 * 1024)
/* Octets read or copied between two calls of the caller's tick function. */
#define TICK_EVERY (4 * 1024 * 1024)
/* How many names recovered.mbox, recovered.mbox.1, ... are tried. */
#define RECOVERED_MAX 1000
/* Table entries written or read per system call. */
#define BATCH 512

struct jnl {
	int v2; /* a journal of the build before page tables */
	char phase;
	uint64_t dev, ino;
	uint64_t d;	    /* first octet that changes */
	uint64_t e;	    /* the maildrop's size when the commit began */
	uint64_t n;	    /* its size afterwards */
	uint64_t round;	    /* octets of output per round, a multiple of PAGE */
	uint64_t cap;	    /* octets a round slot holds */
	uint64_t nseg;	    /* pieces of output, in the table */
	uint64_t h_prefix;  /* the original [D - min(D, 64 KiB), D) */
	uint64_t h_tail;    /* the original [N, E) */
	unsigned char mark; /* what the cut's first step writes at N */
	uint64_t h_mark;    /* 48 bits of the hash of [N, E) so marked; 0 in
			       a journal of an earlier build (no mark) */
	uint64_t h_tables;  /* the segment and page tables */
	char path[JNL_PATH_MAX + 1];
	size_t pathlen;
	/* Derived from the above by layout(). */
	uint64_t h_hdr; /* the header's hash: binds the slots to it */
	uint64_t hdrlen, seg_off, opg_off, ipg_off, nrd, slot_off, size;
	uint64_t spr;  /* page hashes in each of a slot's two tables */
	uint64_t nblk; /* POP2JNL1: hashes of the original pages of [D, N) */
};

struct tick {
	commit_tick_fn *fn;
	void *arg;
	uint64_t since;
};

/* One round as its slot records it. */
struct slot {
	uint64_t r;	 /* round number, from 0 */
	uint64_t w0, w1; /* its output range */
	uint64_t len;	 /* journaled octets */
	uint64_t tab;	 /* where its page hashes are in the journal */
	uint64_t data;	 /* where its octets are */
};

/* Reads the segment table of a journal in batches, forward. */
struct segcur {
	int jfd;
	const struct jnl *j;
	uint64_t i;	   /* the current segment */
	uint64_t out;	   /* where its output starts */
	uint64_t src, len; /* where its octets come from, how many */
	uint64_t b0, bn;   /* segments [b0, b0 + bn) are in b */
	unsigned char b[BATCH * 16];
};

/*
 * Hashes a range unit by unit (the rounds of [D, N), or the pages of a
 * round) and writes the hashes to a table: a unit that starts at A ends at
 * (A + STEP) rounded down to ALIGN, or at LIMIT.
 */
struct pager {
	XXH3_state_t *xs;
	uint64_t step, align, limit;
	uint64_t at; /* the next octet it expects */
	uint64_t w1; /* where the current unit ends */
	uint64_t k;  /* rounds written */
	int jfd;
	uint64_t tab; /* where the table starts in the journal */
	size_t nout;
	unsigned char out[BATCH * 8];
};

static void pager_start(struct pager *pg, uint64_t step, uint64_t align,
    uint64_t a, uint64_t limit, int jfd, uint64_t tab);
static int pager_feed(struct pager *pg, const char *p, uint64_t len);
static int pager_flush(struct pager *pg);

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

static uint64_t
min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
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

/*
 * The system calls that change files, each with its seam, so that the
 * fault tests can make any one of them fail (POP2_FAIL_AT=commit.CALL).
 */
static int
sys_fsync(int fd)
{
	return seam_fail("commit.fsync") ? -1 : fsync(fd);
}

static int
sys_fdatasync(int fd)
{
	return seam_fail("commit.fdatasync") ? -1 : fdatasync(fd);
}

static int
sys_ftruncate(int fd, uint64_t len)
{
	return seam_fail("commit.ftruncate") ? -1 : ftruncate(fd, (off_t)len);
}

static int
sys_unlink(int dfd, const char *name)
{
	return seam_fail("commit.unlink") ? -1 : unlinkat(dfd, name, 0);
}

/*
 * Every file the commit opens in the state directory is opened here,
 * through state_open_file(): never through a symbolic link, never blocking
 * on a FIFO, and only a regular file of the effective uid with one link
 * (EPERM otherwise).
 */
static int
sfile_open(int statefd, const char *name, int flags)
{
	const char *why;

	if (seam_fail("commit.open"))
		return -1;
	return state_open_file(statefd, name, flags, 0600, geteuid(), &why);
}

/*
 * Every rename in the state directory is done here; the caller makes it
 * durable with an fsync of the directory.
 */
static int
sfile_rename(int statefd, const char *from, const char *to)
{
	if (seam_fail("commit.rename"))
		return -1;
	return renameat(statefd, from, statefd, to);
}

/* Reads exactly LEN octets at OFF; a file shorter than that has changed. */
static int
read_full(int fd, void *buf, size_t len, uint64_t off)
{
	ssize_t r;

	if (seam_fail("commit.pread"))
		return -1;
	r = util_pread_full(fd, buf, len, (off_t)off);
	if (r >= 0 && (size_t)r < len)
		errno = ESTALE;
	return r >= 0 && (size_t)r == len ? 0 : -1;
}

static int
write_full(int fd, const void *buf, size_t len, uint64_t off)
{
	if (seam_fail("commit.pwrite"))
		return -1;
	return util_pwrite_full(fd, buf, len, (off_t)off);
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

/* A stop point of a round: STEP, and STEP@R for round R alone. */
static void
round_seam(const char *step, uint64_t r)
{
	char name[64];

	seam_point(step);
	if (seam_enabled()) {
		(void)snprintf(
		    name, sizeof(name), "%s@%llu", step, (unsigned long long)r);
		seam_point(name);
	}
}

static int
is_deleted(const struct wire_msg *m)
{
	return (m->flags & WIRE_DELETED) && !(m->flags & WIRE_PSEUDO);
}

/* Writing needs the maildrop open for writing; find out before. */
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

/*
 * The round after the one that starts at W0: rounds end on page
 * boundaries (except the last, at N), so that no page belongs to two.
 */
static uint64_t
next_w(const struct jnl *j, uint64_t w0)
{
	return min64((w0 + j->round) / PAGE * PAGE, j->n);
}

/*
 * The number of rounds from D to N: the first ends on the page boundary
 * at most R past D, every other is R long, the last shorter.
 */
static uint64_t
rounds_of(const struct jnl *j)
{
	uint64_t w1;

	if (j->d >= j->n)
		return 0;
	w1 = next_w(j, j->d);
	return 1 + (j->n - w1 + j->round - 1) / j->round;
}

/* A round slot: header, two tables of page hashes, journaled octets. */
static uint64_t
slot_size(const struct jnl *j)
{
	return SLOT_HDR + 16 * j->spr + j->cap;
}

static uint64_t
slot_pos(const struct jnl *j, uint64_t r)
{
	return j->slot_off + (r % 2) * slot_size(j);
}

/* Fills the offsets that follow from the header's fields. */
static void
layout(struct jnl *j)
{
	j->hdrlen = JNL_FIXED + j->pathlen + 8;
	j->seg_off = j->hdrlen;
	j->nrd = rounds_of(j);
	j->opg_off = j->seg_off + 16 * j->nseg;
	j->ipg_off = j->opg_off + 8 * j->nrd;
	j->slot_off = j->ipg_off + 8 * j->nrd;
	/* A range of L octets spans at most L / PAGE + 2 pages. */
	j->spr =
	    j->v2 || j->nrd == 0 ? 0 : min64(j->round, j->n - j->d) / PAGE + 2;
	j->size = j->slot_off + 2 * slot_size(j);
}

/* The header of J with its hash; the phase octet is not hashed. */
static void
jnl_encode(struct jnl *j, unsigned char *h)
{
	unsigned char m[8];

	memset(h, 0, (size_t)j->hdrlen);
	memcpy(h, JNL_MAGIC, JNL_MAGIC_LEN);
	h[JNL_MARK_OFF] = j->mark;
	put64(m, j->h_mark);
	memcpy(h + JNL_HMARK_OFF, m, 6);
	put64(h + JNL_DEV_OFF, j->dev);
	put64(h + JNL_INO_OFF, j->ino);
	put64(h + JNL_D_OFF, j->d);
	put64(h + JNL_E_OFF, j->e);
	put64(h + JNL_N_OFF, j->n);
	put64(h + JNL_ROUND_OFF, j->round);
	put64(h + JNL_CAP_OFF, j->cap);
	put64(h + JNL_NSEG_OFF, j->nseg);
	put64(h + JNL_HPREFIX_OFF, j->h_prefix);
	put64(h + JNL_HTAIL_OFF, j->h_tail);
	put64(h + JNL_HTABLES_OFF, j->h_tables);
	put64(h + JNL_PATHLEN_OFF, j->pathlen);
	memcpy(h + JNL_FIXED, j->path, j->pathlen);
	j->h_hdr = XXH3_64bits(h, (size_t)(j->hdrlen - 8));
	put64(h + j->hdrlen - 8, j->h_hdr);
	h[JNL_PHASE_OFF] = (unsigned char)j->phase;
}

/* Loads segment I (< nseg) into the cursor. */
static int
seg_load(struct segcur *c, uint64_t i)
{
	uint64_t n, b0;

	if (i < c->b0 || i >= c->b0 + c->bn) {
		/* Going on, the batch starts at I; going back, it ends there.
		 */
		if (i >= c->b0)
			b0 = i;
		else
			b0 = i + 1 > BATCH ? i + 1 - BATCH : 0;
		n = min64(BATCH, c->j->nseg - b0);
		if (read_full(c->jfd, c->b, (size_t)(16 * n),
			c->j->seg_off + 16 * b0) == -1)
			return -1;
		c->b0 = b0;
		c->bn = n;
	}
	c->i = i;
	c->src = get64(c->b + 16 * (i - c->b0));
	c->len = get64(c->b + 16 * (i - c->b0) + 8);
	return 0;
}

static int
seg_init(struct segcur *c, int jfd, const struct jnl *j)
{
	c->jfd = jfd;
	c->j = j;
	c->b0 = c->bn = 0;
	c->out = j->d;
	c->src = c->len = 0;
	c->i = 0;
	return j->nseg > 0 ? seg_load(c, 0) : 0;
}

/* Moves the cursor to the segment whose output holds X (D <= X < N). */
static int
seg_seek(struct segcur *c, uint64_t x)
{
	/* Rounds walk forward, and each walks its own range more than once. */
	while (x < c->out) {
		if (c->i == 0) {
			errno = EINVAL;
			return -1;
		}
		if (seg_load(c, c->i - 1) == -1)
			return -1;
		c->out -= c->len;
	}
	while (c->out + c->len <= x) {
		if (c->i + 1 >= c->j->nseg) {
			errno = EINVAL;
			return -1;
		}
		c->out += c->len;
		if (seg_load(c, c->i + 1) == -1)
			return -1;
	}
	return 0;
}

/*
 * What a round does with one piece of its output: LEN octets for the
 * output at OUT, which are the original octets at SRC; when FROM_SLOT they
 * lie inside the round's own destination and are journaled at slot offset
 * ROFF.
 */
typedef int piece_fn(void *arg, int from_slot, uint64_t src, uint64_t roff,
    uint64_t out, uint64_t len);

/*
 * Calls FN for the pieces of the output [X, Y) of the round [W0, W1), in
 * order. The round's sources inside [W0, W1) are journaled in order, so
 * their slot offsets follow from the walk.
 */
static int
walk(struct segcur *c, uint64_t w0, uint64_t w1, uint64_t x, uint64_t y,
    piece_fn *fn, void *arg)
{
	uint64_t out, roff, src, len, part, a, b;
	int slot, k;

	roff = 0;
	for (out = w0; out < w1 && out < y; out += len) {
		if (seg_seek(c, out) == -1)
			return -1;
		src = c->src + (out - c->out);
		len = min64(c->out + c->len, w1) - out;
		for (k = 0; k < 2; k++) {
			/* First the part of the sources inside [W0, W1). */
			slot = k == 0;
			if (slot)
				part = src < w1 ? min64(len, w1 - src) : 0;
			else
				part =
				    len - (src < w1 ? min64(len, w1 - src) : 0);
			a = out + (slot ? 0 : len - part);
			b = a + part;
			if (part > 0 && b > x && a < y) {
				uint64_t s = a < x ? x - a : 0;
				uint64_t e = b > y ? b - y : 0;

				if (fn(arg, slot, src + (a - out) + s,
					slot ? roff + s : 0, a + s,
					part - s - e) == -1)
					return -1;
			}
			if (slot)
				roff += part;
		}
	}
	return 0;
}

static int
sum_risk(void *arg, int from_slot, uint64_t src, uint64_t roff, uint64_t out,
    uint64_t len)
{
	(void)src;
	(void)roff;
	(void)out;
	if (from_slot)
		*(uint64_t *)arg += len;
	return 0;
}

/* The octets round [W0, W1) must journal. */
static int
risk_of(struct segcur *c, uint64_t w0, uint64_t w1, uint64_t *risk)
{
	*risk = 0;
	return walk(c, w0, w1, w0, w1, sum_risk, risk);
}

/* What the copying piece functions need. */
struct copier {
	int fd;		/* the maildrop */
	int jfd;	/* the journal */
	int dfd;	/* where output goes */
	uint64_t doff;	/* subtracted from output offsets */
	uint64_t sdata; /* where the slot's octets are in the journal */
	int save;	/* journal the sources rather than write output */
	int noslot;	/* no slot: every source is read from the maildrop */
	char *buf;
	struct tick *t;
	/*
	 * Output waiting in BUF: BL octets for BO on. It is written in whole
	 * pages of the destination (but at the ends of what is copied), so
	 * that a crash between two writes leaves no page half written.
	 */
	uint64_t bo;
	size_t bl;
};

/* Writes the output the copier holds. */
static int
copier_flush(struct copier *cp)
{
	if (cp->bl == 0)
		return 0;
	if (write_full(cp->dfd, cp->buf, cp->bl, cp->bo) == -1)
		return -1;
	cp->bl = 0;
	return 0;
}

static int
copy_piece(void *arg, int from_slot, uint64_t src, uint64_t roff, uint64_t out,
    uint64_t len)
{
	struct copier *cp = arg;
	size_t n, cap;
	int sfd, dfd;
	uint64_t soff, doff;

	if (cp->save && !from_slot)
		return 0;
	if (cp->save) {
		/* The original octets go into the slot. */
		sfd = cp->fd;
		soff = src;
		dfd = cp->jfd;
		doff = cp->sdata + roff;
	} else {
		if (cp->noslot)
			from_slot = 0;
		sfd = from_slot ? cp->jfd : cp->fd;
		soff = from_slot ? cp->sdata + roff : src;
		dfd = cp->dfd;
		doff = out - cp->doff;
	}
	if (cp->save) {
		for (; len > 0; soff += n, doff += n, len -= n) {
			n = len < COPY_BUFSZ ? (size_t)len : COPY_BUFSZ;
			if (read_full(sfd, cp->buf, n, soff) == -1 ||
			    write_full(dfd, cp->buf, n, doff) == -1)
				return -1;
			tick_add(cp->t, n);
		}
		return 0;
	}
	while (len > 0) {
		if (cp->bl > 0 && doff != cp->bo + cp->bl &&
		    copier_flush(cp) == -1)
			return -1;
		if (cp->bl == 0)
			cp->bo = doff;
		/* Up to the last page boundary within the buffer's size. */
		cap = (size_t)((cp->bo + COPY_BUFSZ) / PAGE * PAGE - cp->bo);
		n = (size_t)min64(len, cap - cp->bl);
		if (read_full(sfd, cp->buf + cp->bl, n, soff) == -1)
			return -1;
		cp->bl += n;
		soff += n;
		doff += n;
		len -= n;
		tick_add(cp->t, n);
		if (cp->bl == cap && copier_flush(cp) == -1)
			return -1;
	}
	return 0;
}

/*
 * Reads and checks the header of the journal open at JFD into J; with
 * TABLES, also its segment and page tables. Returns 0, or -1 with errno
 * EINVAL when the journal is torn or damaged, or another error.
 */
static int
jnl_read(int jfd, struct jnl *j, int tables, char *buf)
{
	unsigned char fixed[JNL_FIXED], h[JNL_FIXED + JNL_PATH_MAX + 8];
	XXH3_state_t *xs;
	struct segcur c;
	struct stat st;
	uint64_t pathlen, i, out, prev, hv;
	int rc;

	memset(j, 0, sizeof(*j));
	if (fstat(jfd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || st.st_size < JNL_FIXED + 8)
		goto bad;
	if (read_full(jfd, fixed, sizeof(fixed), 0) == -1)
		return errno == ESTALE ? (errno = EINVAL, -1) : -1;
	if (memcmp(fixed, JNL_MAGIC_V2, JNL_MAGIC_LEN) == 0)
		j->v2 = 1;
	else if (memcmp(fixed, JNL_MAGIC, JNL_MAGIC_LEN) != 0)
		goto bad;
	j->phase = (char)fixed[JNL_PHASE_OFF];
	j->mark = fixed[JNL_MARK_OFF];
	/* 48 bits, little-endian, then the dev field. */
	j->h_mark = get64(fixed + JNL_HMARK_OFF) & HMARK_MASK;
	j->dev = get64(fixed + JNL_DEV_OFF);
	j->ino = get64(fixed + JNL_INO_OFF);
	j->d = get64(fixed + JNL_D_OFF);
	j->e = get64(fixed + JNL_E_OFF);
	j->n = get64(fixed + JNL_N_OFF);
	j->round = get64(fixed + JNL_ROUND_OFF);
	j->cap = get64(fixed + JNL_CAP_OFF);
	j->nseg = get64(fixed + JNL_NSEG_OFF);
	j->h_prefix = get64(fixed + JNL_HPREFIX_OFF);
	j->h_tail = get64(fixed + JNL_HTAIL_OFF);
	j->h_tables = get64(fixed + JNL_HTABLES_OFF);
	pathlen = get64(fixed + JNL_PATHLEN_OFF);
	/* An earlier build's journal has no mark, and never phase M. */
	if (j->v2 ? j->h_mark != 0 || j->mark != 0 ||
		    (j->phase != PHASE_COPY && j->phase != PHASE_TRUNC)
		  : j->h_mark == 0 || (j->mark != 0 && j->mark != '\n') ||
		    (j->phase != PHASE_COPY && j->phase != PHASE_MARKED))
		goto bad;
	if (j->d > j->n || j->n > j->e || j->e > (uint64_t)INT64_MAX / 4 ||
	    j->round < PAGE || j->round % PAGE != 0 ||
	    j->round > (uint64_t)1 << 40 || j->cap > j->round ||
	    j->nseg > j->n - j->d || pathlen > JNL_PATH_MAX)
		goto bad;
	j->pathlen = (size_t)pathlen;
	layout(j);
	if ((uint64_t)st.st_size != j->size)
		goto bad;
	if (read_full(jfd, h, (size_t)j->hdrlen, 0) == -1)
		return -1;
	h[JNL_PHASE_OFF] = 0;
	j->h_hdr = XXH3_64bits(h, (size_t)(j->hdrlen - 8));
	if (j->h_hdr != get64(h + j->hdrlen - 8))
		goto bad;
	memcpy(j->path, h + JNL_FIXED, j->pathlen);
	j->path[j->pathlen] = '\0';
	if (!tables)
		return 0;
	if ((xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = hash_range(jfd, j->seg_off, j->ipg_off + 8 * j->nrd - j->seg_off,
	    buf, xs, &hv);
	XXH3_freeState(xs);
	if (rc == -1)
		return -1;
	if (hv != j->h_tables)
		goto bad;
	/*
	 * The hash vouches for the tables; still, the segments must describe
	 * a compaction, or the rounds' reasoning would not hold.
	 */
	if (seg_init(&c, jfd, j) == -1)
		return -1;
	out = j->d;
	prev = j->d;
	for (i = 0; i < j->nseg; i++) {
		if (seg_load(&c, i) == -1)
			return -1;
		if (c.len == 0 || c.src < out || c.src < prev ||
		    c.src + c.len > j->e)
			goto bad;
		out += c.len;
		prev = c.src + c.len;
	}
	if (out != j->n)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * A journal of the format before rounds ("POP2JNL1": a header, then the
 * whole new contents of [D, N)), left by a crash before an upgrade. It is
 * not redone: its new contents are set aside like an orphan's, for the
 * administrator. Fills J's path and phase, and *S with where those
 * contents are. Returns 0, or -1 with errno EINVAL when it is not such a
 * journal or is torn (never complete: the maildrop was never touched).
 */
static int
jnl1_read(int jfd, struct jnl *j, struct slot *s, char *buf)
{
	unsigned char f[JNL1_FIXED], *h;
	XXH3_state_t *xs;
	struct stat st;
	uint64_t d, n, nblk, pathlen, hdrlen, hv;
	int rc;

	memset(j, 0, sizeof(*j));
	memset(s, 0, sizeof(*s));
	if (fstat(jfd, &st) == -1)
		return -1;
	if (st.st_size < (off_t)sizeof(f))
		goto bad;
	/* A read that fails says nothing about the journal. */
	if (read_full(jfd, f, sizeof(f), 0) == -1)
		return -1;
	if (memcmp(f, "POP2JNL1", 8) != 0)
		goto bad;
	d = get64(f + JNL_D_OFF);
	n = get64(f + JNL_N_OFF);
	nblk = get64(f + JNL1_NBLK_OFF);
	pathlen = get64(f + JNL1_PATHLEN_OFF);
	j->e = get64(f + JNL_E_OFF);
	if (d > n || n > j->e || j->e > (uint64_t)INT64_MAX / 4 ||
	    nblk != (n == d ? 0 : (n - 1) / PAGE - d / PAGE + 1) ||
	    pathlen > JNL_PATH_MAX)
		goto bad;
	hdrlen = JNL1_FIXED + 8 * nblk + pathlen + 8;
	if ((uint64_t)st.st_size != hdrlen + (n - d) || buf == NULL)
		goto bad;
	if ((h = malloc((size_t)hdrlen)) == NULL)
		return -1;
	if (read_full(jfd, h, (size_t)hdrlen, 0) == -1) {
		free(h);
		return -1;
	}
	j->phase = (char)h[JNL_PHASE_OFF];
	h[JNL_PHASE_OFF] = 0;
	rc = XXH3_64bits(h, (size_t)(hdrlen - 8)) == get64(h + hdrlen - 8) ? 0
									   : 1;
	j->pathlen = (size_t)pathlen;
	memcpy(j->path, h + JNL1_FIXED + 8 * nblk, j->pathlen);
	j->path[j->pathlen] = '\0';
	free(h);
	if (rc != 0 || (j->phase != PHASE_COPY && j->phase != PHASE_TRUNC))
		goto bad;
	if ((xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = hash_range(jfd, hdrlen, n - d, buf, xs, &hv);
	XXH3_freeState(xs);
	if (rc == -1)
		return -1;
	if (hv != get64(f + JNL1_HIMAGE_OFF))
		goto bad;
	j->dev = get64(f + JNL_DEV_OFF);
	j->ino = get64(f + JNL_INO_OFF);
	j->d = d;
	j->n = n;
	j->h_prefix = get64(f + JNL1_HPREFIX_OFF);
	j->h_tail = get64(f + JNL1_HTAIL_OFF);
	j->nblk = nblk;
	s->data = hdrlen;
	s->len = n - d;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* The slot's hash: of the journal's header hash, its fields and octets. */
static int
slot_hash(int jfd, const struct jnl *j, const struct slot *s, char *buf,
    XXH3_state_t *xs, uint64_t *out)
{
	unsigned char f[40];
	uint64_t off, len;
	size_t n;

	put64(f, j->h_hdr);
	put64(f + 8, s->r);
	put64(f + 16, s->w0);
	put64(f + 24, s->w1);
	put64(f + 32, s->len);
	(void)XXH3_64bits_reset(xs);
	(void)XXH3_64bits_update(xs, f, sizeof(f));
	for (off = s->tab, len = s->data - s->tab + s->len; len > 0;
	     off += n, len -= n) {
		n = len < COPY_BUFSZ ? (size_t)len : COPY_BUFSZ;
		if (read_full(jfd, buf, n, off) == -1)
			return -1;
		(void)XXH3_64bits_update(xs, buf, n);
	}
	*out = XXH3_64bits_digest(xs);
	return 0;
}

/*
 * Reads the slot that round R % 2 uses into *S. Returns 1 when it holds a
 * whole round of this journal, 0 when it holds nothing usable (never
 * written, or torn by a crash while written), -1 with errno.
 */
static int
slot_read(int jfd, const struct jnl *j, uint64_t r, struct segcur *c, char *buf,
    XXH3_state_t *xs, struct slot *s)
{
	unsigned char h[SLOT_HDR];
	uint64_t pos, hv, risk;

	pos = slot_pos(j, r);
	if (read_full(jfd, h, sizeof(h), pos) == -1)
		return -1;
	if (memcmp(h, j->v2 ? SLOT_MAGIC_V2 : SLOT_MAGIC, 8) != 0)
		return 0;
	s->r = get64(h + SLOT_R_OFF);
	s->w0 = get64(h + SLOT_W0_OFF);
	s->w1 = get64(h + SLOT_W1_OFF);
	s->len = get64(h + SLOT_LEN_OFF);
	s->tab = pos + SLOT_HDR;
	s->data = s->tab + 16 * j->spr;
	if (s->r % 2 != r % 2 || s->w0 < j->d || s->w0 >= j->n ||
	    (s->w0 != j->d && s->w0 % PAGE != 0) || s->w1 != next_w(j, s->w0) ||
	    s->len > j->cap)
		return 0;
	if (slot_hash(jfd, j, s, buf, xs, &hv) == -1)
		return -1;
	if (hv != get64(h + SLOT_HASH_OFF))
		return 0;
	if (risk_of(c, s->w0, s->w1, &risk) == -1)
		return -1;
	return risk == s->len;
}

/* What hash_piece() needs. */
struct hasher {
	int fd;
	struct pager *pg;
	char *buf;
	struct tick *t;
};

/* Feeds the original octets of a piece of output to the pager. */
static int
hash_piece(void *arg, int from_slot, uint64_t src, uint64_t roff, uint64_t out,
    uint64_t len)
{
	struct hasher *hs = arg;
	size_t n;

	(void)from_slot;
	(void)roff;
	(void)out;
	for (; len > 0; src += n, len -= n) {
		n = len < COPY_BUFSZ ? (size_t)len : COPY_BUFSZ;
		if (read_full(hs->fd, hs->buf, n, src) == -1 ||
		    pager_feed(hs->pg, hs->buf, n) == -1)
			return -1;
		tick_add(hs->t, n);
	}
	return 0;
}

/*
 * Writes the page hashes of round S's destination into its slot: as it
 * is (the original) and as the round will write it (from its sources, all
 * still original before the round is written).
 */
static int
page_hashes(int fd, int jfd, const struct jnl *j, struct segcur *c,
    const struct slot *s, char *buf, struct tick *t)
{
	struct hasher hs;
	struct pager pg;
	uint64_t off;
	size_t len;
	int rc;

	memset(&pg, 0, sizeof(pg));
	if ((pg.xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = -1;
	pager_start(&pg, PAGE, PAGE, s->w0, s->w1, jfd, s->tab);
	for (off = s->w0; off < s->w1; off += len) {
		len = (size_t)min64(s->w1 - off, COPY_BUFSZ);
		if (read_full(fd, buf, len, off) == -1 ||
		    pager_feed(&pg, buf, len) == -1)
			goto out;
		tick_add(t, len);
	}
	if (pager_flush(&pg) == -1)
		goto out;
	pager_start(&pg, PAGE, PAGE, s->w0, s->w1, jfd, s->tab + 8 * j->spr);
	hs.fd = fd;
	hs.pg = &pg;
	hs.buf = buf;
	hs.t = t;
	if (walk(c, s->w0, s->w1, s->w0, s->w1, hash_piece, &hs) == -1 ||
	    pager_flush(&pg) == -1)
		goto out;
	rc = 0;
out:
	XXH3_freeState(pg.xs);
	return rc;
}

/*
 * Journals round R over [W0, W1): its sources inside [W0, W1), then the
 * slot's header, then fdatasync. The other slot keeps round R - 1.
 */
static int
slot_save(int fd, int jfd, const struct jnl *j, struct segcur *c,
    struct slot *s, char *buf, XXH3_state_t *xs, struct tick *t)
{
	unsigned char h[SLOT_HDR];
	struct copier cp;
	uint64_t hv;

	s->tab = slot_pos(j, s->r) + SLOT_HDR;
	s->data = s->tab + 16 * j->spr;
	/* The old header goes first: a torn slot must never look whole. */
	memset(h, 0, sizeof(h));
	if (write_full(jfd, h, sizeof(h), s->tab - SLOT_HDR) == -1)
		return -1;
	if (!j->v2 && page_hashes(fd, jfd, j, c, s, buf, t) == -1)
		return -1;
	memset(&cp, 0, sizeof(cp));
	cp.fd = fd;
	cp.jfd = jfd;
	cp.sdata = s->data;
	cp.save = 1;
	cp.buf = buf;
	cp.t = t;
	if (risk_of(c, s->w0, s->w1, &s->len) == -1 || s->len > j->cap) {
		errno = EINVAL;
		return -1;
	}
	if (walk(c, s->w0, s->w1, s->w0, s->w1, copy_piece, &cp) == -1)
		return -1;
	if (slot_hash(jfd, j, s, buf, xs, &hv) == -1)
		return -1;
	memcpy(h, j->v2 ? SLOT_MAGIC_V2 : SLOT_MAGIC, 8);
	put64(h + SLOT_R_OFF, s->r);
	put64(h + SLOT_W0_OFF, s->w0);
	put64(h + SLOT_W1_OFF, s->w1);
	put64(h + SLOT_LEN_OFF, s->len);
	put64(h + SLOT_HASH_OFF, hv);
	if (write_full(jfd, h, sizeof(h), s->tab - SLOT_HDR) == -1 ||
	    sys_fdatasync(jfd) == -1)
		return -1;
	return 0;
}

/*
 * Writes the output of the journaled round S over the maildrop and makes
 * it durable, in whole pages. Two pieces, so that a crash test stopping
 * in between meets a write front inside the round.
 */
static int
round_write(int fd, int jfd, struct segcur *c, const struct slot *s, char *buf,
    struct tick *t)
{
	struct copier cp;
	uint64_t half;

	memset(&cp, 0, sizeof(cp));
	cp.fd = fd;
	cp.jfd = jfd;
	cp.dfd = fd;
	cp.sdata = s->data;
	cp.buf = buf;
	cp.t = t;
	half = (s->w0 + (s->w1 - s->w0) / 2) / PAGE * PAGE;
	if (half < s->w0)
		half = s->w0;
	if (walk(c, s->w0, s->w1, s->w0, half, copy_piece, &cp) == -1 ||
	    copier_flush(&cp) == -1)
		return -1;
	round_seam("mid-write", s->r);
	if (walk(c, s->w0, s->w1, half, s->w1, copy_piece, &cp) == -1 ||
	    copier_flush(&cp) == -1)
		return -1;
	if (sys_fsync(fd) == -1)
		return -1;
	round_seam("written", s->r);
	return 0;
}

/*
 * The rounds from S on (S->r, S->w0 set; REDO: S is journaled already),
 * up to N. Each round is journaled, written and synced before the next.
 */
static int
rounds(int fd, int jfd, const struct jnl *j, struct slot *s, int redo,
    char *buf, struct tick *t)
{
	struct segcur c;
	XXH3_state_t *xs;
	int rc;

	if ((xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = -1;
	if (seg_init(&c, jfd, j) == -1)
		goto out;
	while (s->w0 < j->n) {
		s->w1 = next_w(j, s->w0);
		if (!redo) {
			if (slot_save(fd, jfd, j, &c, s, buf, xs, t) == -1)
				goto out;
			round_seam("round-saved", s->r);
		}
		redo = 0;
		if (round_write(fd, jfd, &c, s, buf, t) == -1)
			goto out;
		s->r++;
		s->w0 = s->w1;
	}
	rc = 0;
out:
	XXH3_freeState(xs);
	return rc;
}

/*
 * The cut at N, the journal gone. The cut is announced in two durable
 * steps, so that a recovery never has to guess whether it happened: the
 * first octet of [N, E) is overwritten with the mark (never "F", which
 * every delivery starts with, nor the octet it covers) and synced, then
 * phase M is recorded. A tail that is not the marked one has then been
 * cut, and what lies at N arrived later, even when it is the old tail
 * octet for octet. A journal of an earlier build has no mark: phase T.
 */
static int
finish(int statefd, int jfd, const struct jnl *j, int fd)
{
	char phase;

	if (j->phase == PHASE_COPY) {
		phase = PHASE_TRUNC;
		if (j->h_mark != 0) {
			if (j->n < j->e &&
			    (write_full(fd, &j->mark, 1, j->n) == -1 ||
				sys_fdatasync(fd) == -1))
				return -1;
			seam_point("marked");
			phase = PHASE_MARKED;
		}
		if (write_full(jfd, &phase, 1, JNL_PHASE_OFF) == -1 ||
		    sys_fdatasync(jfd) == -1)
			return -1;
		seam_point("phase-t");
	}
	if (sys_ftruncate(fd, j->n) == -1 || sys_fsync(fd) == -1)
		return -1;
	seam_point("truncated");
	if (sys_unlink(statefd, COMMIT_JOURNAL) == -1 && errno != ENOENT)
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

static uint64_t
pager_next(const struct pager *pg, uint64_t a)
{
	return min64((a + pg->step) / pg->align * pg->align, pg->limit);
}

/* Starts PG on [A, LIMIT) with its table at TAB of the journal JFD. */
static void
pager_start(struct pager *pg, uint64_t step, uint64_t align, uint64_t a,
    uint64_t limit, int jfd, uint64_t tab)
{
	(void)XXH3_64bits_reset(pg->xs);
	pg->step = step;
	pg->align = align;
	pg->limit = limit;
	pg->at = a;
	pg->w1 = pager_next(pg, a);
	pg->k = 0;
	pg->jfd = jfd;
	pg->tab = tab;
	pg->nout = 0;
}

static int
pager_flush(struct pager *pg)
{
	if (pg->nout == 0)
		return 0;
	if (write_full(pg->jfd, pg->out, 8 * pg->nout,
		pg->tab + 8 * (pg->k - pg->nout)) == -1)
		return -1;
	pg->nout = 0;
	return 0;
}

/* Feeds LEN octets, which belong at pg->at, to the round hashes. */
static int
pager_feed(struct pager *pg, const char *p, uint64_t len)
{
	uint64_t end, n;

	while (len > 0) {
		end = pg->w1;
		n = min64(len, end - pg->at);
		(void)XXH3_64bits_update(pg->xs, p, (size_t)n);
		p += n;
		len -= n;
		pg->at += n;
		if (pg->at == end) {
			put64(pg->out + 8 * pg->nout++,
			    XXH3_64bits_digest(pg->xs));
			(void)XXH3_64bits_reset(pg->xs);
			pg->k++;
			pg->w1 = pager_next(pg, pg->at);
			if (pg->nout == BATCH && pager_flush(pg) == -1)
				return -1;
		}
	}
	return 0;
}

/*
 * Where the new contents of [D, E) come from: with MB, the messages from
 * FIRST on, the deleted ones left out, then everything past MB's size;
 * without, [D, G) left out and [G, E) kept (the mail a recovery found
 * appended after the crash).
 */
struct plan {
	const struct mbox *mb;
	size_t first;
	uint64_t g;
	size_t k; /* the message at the last offset asked about */
};

/* Whether the octet at OFF is kept, and where that run ends (<= E). */
static int
plan_kept(struct plan *pl, const struct jnl *j, uint64_t off, uint64_t *end)
{
	const struct mbox *mb = pl->mb;

	if (mb == NULL) {
		*end = off < pl->g ? pl->g : j->e;
		return off >= pl->g;
	}
	while (pl->k < mb->nmsg && mbox_stored_end(mb, pl->k) <= off)
		pl->k++;
	if (pl->k == mb->nmsg) {
		*end = j->e;
		return 1;
	}
	*end = mbox_stored_end(mb, pl->k);
	return !is_deleted(&mb->msg[pl->k]);
}

/* Appends segment (SRC, LEN) to the batch B, writing full batches. */
static int
seg_emit(unsigned char *b, uint64_t *nb, uint64_t *k, uint64_t src,
    uint64_t len, const struct jnl *j, int jfd)
{
	if (*nb == BATCH) {
		if (jfd != -1 &&
		    write_full(
			jfd, b, BATCH * 16, j->seg_off + 16 * (*k - *nb)) == -1)
			return -1;
		*nb = 0;
	}
	put64(b + 16 * *nb, src);
	put64(b + 16 * *nb + 8, len);
	(*nb)++;
	(*k)++;
	return 0;
}

/*
 * Counts (JFD -1) or writes to the journal the segments of the plan:
 * each run of adjacent kept octets is one.
 */
static int
plan_segments(struct plan *pl, struct jnl *j, int jfd)
{
	unsigned char b[BATCH * 16];
	uint64_t off, end, k, nb, ps, plen;

	pl->k = pl->first;
	k = nb = 0;
	ps = plen = 0;
	for (off = j->d; off < j->e; off = end) {
		if (!plan_kept(pl, j, off, &end))
			continue;
		if (plen > 0 && ps + plen == off) {
			plen += end - off;
			continue;
		}
		if (plen > 0 && seg_emit(b, &nb, &k, ps, plen, j, jfd) == -1)
			return -1;
		ps = off;
		plen = end - off;
	}
	if (plen > 0 && seg_emit(b, &nb, &k, ps, plen, j, jfd) == -1)
		return -1;
	if (jfd != -1 && nb > 0 &&
	    write_full(jfd, b, (size_t)(16 * nb), j->seg_off + 16 * (k - nb)) ==
		-1)
		return -1;
	if (jfd == -1)
		j->nseg = k;
	return 0;
}

/* The 48 bits the header keeps of a marked tail's hash H: never 0. */
static uint64_t
mark_hash(uint64_t h)
{
	return (h & HMARK_MASK) != 0 ? h & HMARK_MASK : 1;
}

/*
 * Reads [D, E) once: checks the indexed messages there against their
 * hashes, and writes the hashes of each round's range [w0, w1) as it is
 * and as it will be into the journal, and the hash of the original [N, E)
 * into J.
 * The prefix [0, D) is not read, except its last 64 KiB for J's hash.
 */
static int
plan_scan(
    int fd, int jfd, struct jnl *j, struct plan *pl, char *buf, struct tick *t)
{
	struct pager op, ip;
	XXH3_state_t *ts, *ks, *ms, *ps;
	uint64_t off, a, b, end, pre;
	size_t len, i;
	int rc;

	rc = -1;
	memset(&op, 0, sizeof(op));
	memset(&ip, 0, sizeof(ip));
	op.xs = XXH3_createState();
	ip.xs = XXH3_createState();
	ts = XXH3_createState();
	ks = XXH3_createState();
	ms = XXH3_createState();
	ps = XXH3_createState();
	if (op.xs == NULL || ip.xs == NULL || ts == NULL || ks == NULL ||
	    ms == NULL || ps == NULL) {
		errno = ENOMEM;
		goto out;
	}
	pre = min64(j->d, PREFIX_CHECK);
	if (hash_range(fd, j->d - pre, pre, buf, ps, &j->h_prefix) == -1)
		goto out;
	(void)XXH3_64bits_reset(ts);
	(void)XXH3_64bits_reset(ks);
	(void)XXH3_64bits_reset(ms);
	pager_start(&op, j->round, PAGE, j->d, j->n, jfd, j->opg_off);
	pager_start(&ip, j->round, PAGE, j->d, j->n, jfd, j->ipg_off);
	pl->k = pl->first;
	i = pl->first;
	for (off = j->d; off < j->e; off += len) {
		len = (size_t)min64(j->e - off, COPY_BUFSZ);
		if (read_full(fd, buf, len, off) == -1)
			goto out;
		if (off < j->n &&
		    pager_feed(&op, buf, min64(len, j->n - off)) == -1)
			goto out;
		if (off + len > j->n) {
			a = off > j->n ? off : j->n;
			(void)XXH3_64bits_update(
			    ts, buf + (a - off), (size_t)(off + len - a));
			if (a == j->n) {
				/* The mark differs from the octet it covers. */
				j->mark = buf[a - off] == 0 ? '\n' : 0;
				(void)XXH3_64bits_update(ks, &j->mark, 1);
				a++;
			}
			(void)XXH3_64bits_update(
			    ks, buf + (a - off), (size_t)(off + len - a));
		}
		if (pl->mb != NULL &&
		    feed_msgs(pl->mb, ms, &i, buf, off, len) == -1)
			goto out;
		for (a = off; a < off + len; a = b) {
			int kept = plan_kept(pl, j, a, &end);

			b = min64(end, off + len);
			if (kept &&
			    pager_feed(&ip, buf + (a - off), b - a) == -1)
				goto out;
		}
		tick_add(t, len);
	}
	if (pager_flush(&op) == -1 || pager_flush(&ip) == -1)
		goto out;
	if (op.k != j->nrd || ip.k != j->nrd ||
	    (pl->mb != NULL && i != pl->mb->nmsg)) {
		/* The index or the plan does not fit the file. */
		errno = ESTALE;
		goto out;
	}
	j->h_tail = XXH3_64bits_digest(ts);
	j->h_mark = mark_hash(XXH3_64bits_digest(ks));
	rc = 0;
out:
	XXH3_freeState(op.xs);
	XXH3_freeState(ip.xs);
	XXH3_freeState(ts);
	XXH3_freeState(ks);
	XXH3_freeState(ms);
	XXH3_freeState(ps);
	return rc;
}

/* The largest number of octets one round must journal. */
static int
plan_cap(int jfd, struct jnl *j)
{
	struct segcur c;
	uint64_t w0, w1, risk;

	j->cap = 0;
	if (seg_init(&c, jfd, j) == -1)
		return -1;
	for (w0 = j->d; w0 < j->n; w0 = w1) {
		w1 = next_w(j, w0);
		if (risk_of(&c, w0, w1, &risk) == -1)
			return -1;
		if (risk > j->cap)
			j->cap = risk;
	}
	return 0;
}

/*
 * Chooses the round size of journal J (its segments counted) so that the
 * whole journal, slots at their largest, takes at most MAX octets (0:
 * COMMIT_JOURNAL_MAX): a quarter of MAX, or half of that, and so on down
 * to a page. Returns 0, or -1 with errno EFBIG when even rounds of a page
 * leave too little room for the tables.
 */
static int
fit_round(struct jnl *j, uint64_t max)
{
	uint64_t r;

	if (max == 0)
		max = COMMIT_JOURNAL_MAX;
	for (r = max / 4 / PAGE * PAGE; r >= PAGE; r = r / 2 / PAGE * PAGE) {
		j->round = r;
		j->cap = r;
		layout(j);
		if (j->size <= max) {
			j->cap = 0;
			layout(j);
			return 0;
		}
	}
	errno = EFBIG;
	return -1;
}

/*
 * Writes journal J for plan PL on the maildrop FD (j->d, e, n, round and
 * the path set) under COMMIT_JOURNAL through COMMIT_JOURNAL_TMP, with its
 * full size reserved, durably, and leaves it open in *JFDP. On failure no
 * new journal is left, and an older one of the same name is untouched.
 */
static int
jnl_create(int statefd, int fd, struct jnl *j, struct plan *pl, uint64_t max,
    char *buf, struct tick *t, int *jfdp)
{
	unsigned char *h;
	XXH3_state_t *xs;
	int jfd, saved, e;

	h = NULL;
	xs = NULL;
	if (plan_segments(pl, j, -1) == -1 || fit_round(j, max) == -1)
		return -1;
	/* A leftover is removed at login, never reused: O_EXCL. */
	jfd =
	    sfile_open(statefd, COMMIT_JOURNAL_TMP, O_RDWR | O_CREAT | O_EXCL);
	if (jfd == -1)
		return -1;
	if (plan_segments(pl, j, jfd) == -1 || plan_cap(jfd, j) == -1)
		goto fail;
	layout(j);
	/* Every octet the rounds will need is reserved before the first. */
	e = seam_fail("commit.fallocate")
	    ? errno
	    : posix_fallocate(jfd, 0, (off_t)j->size);
	if (e != 0) {
		errno = e;
		goto fail;
	}
	if (plan_scan(fd, jfd, j, pl, buf, t) == -1)
		goto fail;
	if ((xs = XXH3_createState()) == NULL ||
	    (h = malloc((size_t)j->hdrlen)) == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	if (hash_range(jfd, j->seg_off, j->ipg_off + 8 * j->nrd - j->seg_off,
		buf, xs, &j->h_tables) == -1)
		goto fail;
	jnl_encode(j, h);
	if (write_full(jfd, h, (size_t)j->hdrlen, 0) == -1 ||
	    sys_fsync(jfd) == -1)
		goto fail;
	seam_point("journal-written");
	if (sfile_rename(statefd, COMMIT_JOURNAL_TMP, COMMIT_JOURNAL) == -1)
		goto fail;
	if (sys_fsync(statefd) == -1) {
		saved = errno;
		/*
		 * A commit's journal whose rename may not be durable is taken
		 * back: the maildrop was never touched. A recovery's replaced
		 * the one before it and is the only record left.
		 */
		if (pl->mb != NULL) {
			(void)unlinkat(statefd, COMMIT_JOURNAL, 0);
			(void)fsync(statefd);
		}
		free(h);
		XXH3_freeState(xs);
		(void)close(jfd);
		errno = saved;
		return -1;
	}
	seam_point("journal-synced");
	free(h);
	XXH3_freeState(xs);
	*jfdp = jfd;
	return 0;
fail:
	saved = errno;
	free(h);
	XXH3_freeState(xs);
	(void)close(jfd);
	(void)unlinkat(statefd, COMMIT_JOURNAL_TMP, 0);
	errno = saved;
	return -1;
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

/*
 * The index must describe ascending, non-empty ranges within S. A
 * message's stored range ends where the next one starts, the last one's
 * at S (mbox_stored_end()): ranges that are not empty are ascending, end
 * to end, and within S.
 */
static int
index_ok(const struct mbox *mb)
{
	size_t i;

	for (i = 0; i < mb->nmsg; i++)
		if (mb->msg[i].start >= mbox_stored_end(mb, i))
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

/*
 * The commit: 0 when done, 1 when the maildrop began to change and the
 * journal stays, -1 with errno when nothing changed.
 */
static int
commit_run(const struct mbox *mb, const char *path, int statefd,
    uint64_t journal_max, commit_tick_fn *tick, void *tick_arg)
{
	struct tick t;
	struct stat st;
	struct jnl j;
	struct plan pl;
	struct slot s;
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
	j.pathlen = strlen(path);
	memcpy(j.path, path, j.pathlen + 1);
	memset(&pl, 0, sizeof(pl));
	pl.mb = mb;
	pl.first = first;

	t.fn = tick;
	t.arg = tick_arg;
	t.since = 0;
	rc = -1;
	jfd = -1;
	if ((buf = malloc(COPY_BUFSZ)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	signals_block(&old);
	if (jnl_create(statefd, mb->fd, &j, &pl, journal_max, buf, &t, &jfd) ==
	    -1)
		goto out;
	memset(&s, 0, sizeof(s));
	s.w0 = j.d;
	if (rounds(mb->fd, jfd, &j, &s, 0, buf, &t) == -1 ||
	    finish(statefd, jfd, &j, mb->fd) == -1) {
		/* The maildrop may have begun to change: the journal stays. */
		rc = 1;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	signals_restore(&old);
	if (jfd != -1)
		(void)close(jfd);
	free(buf);
	errno = saved;
	return rc;
}

/* The result for a commit that failed with errno E, nothing changed. */
static enum commit_result
failed(int e)
{
	switch (e) {
	case ESTALE:
		return COMMIT_CHANGED;
	case ENOSPC:
	case EDQUOT:
		return COMMIT_NO_SPACE;
	case EFBIG:
		return COMMIT_TOO_LARGE;
	case EBUSY:
		return COMMIT_PENDING;
	default:
		return COMMIT_FAILED;
	}
}

enum commit_result
commit_mbox_bounded(const struct mbox *mb, const char *path, int statefd,
    uint64_t journal_max, commit_tick_fn *tick, void *tick_arg)
{
	int r = commit_run(mb, path, statefd, journal_max, tick, tick_arg);

	return r == 0 ? COMMIT_DONE
	    : r == 1  ? COMMIT_INTERRUPTED
		      : failed(errno);
}

enum commit_result
commit_mbox(const struct mbox *mb, const char *path, int statefd,
    commit_tick_fn *tick, void *tick_arg)
{
	return commit_mbox_bounded(mb, path, statefd, 0, tick, tick_arg);
}

/* Reads entry K of the hash table at TAB through the batch B (*B0, *BN). */
static int
tab_get(int jfd, uint64_t tab, uint64_t nent, uint64_t k, unsigned char *b,
    uint64_t *b0, uint64_t *bn, uint64_t *out)
{
	uint64_t n;

	if (k < *b0 || k >= *b0 + *bn) {
		n = min64(BATCH, nent - k);
		if (read_full(jfd, b, (size_t)(8 * n), tab + 8 * k) == -1)
			return -1;
		*b0 = k;
		*bn = n;
	}
	*out = get64(b + 8 * (k - *b0));
	return 0;
}

/*
 * Tells whether every page of round S's destination in the maildrop at
 * FD is either as it was or as the round writes it: a crash or a power
 * cut leaves any mix of the two, another program anything else. Returns
 * 1 when it is so, 0 when not, -1 with errno.
 */
static int
pages_vouched(
    int fd, int jfd, const struct jnl *j, const struct slot *s, char *buf)
{
	unsigned char ob[BATCH * 8], nb[BATCH * 8];
	uint64_t off, end, a, b, k, ho, hn, h;
	uint64_t ob0 = 0, obn = 0, nb0 = 0, nbn = 0;

	k = 0;
	for (off = s->w0; off < s->w1; off = end) {
		/* Whole pages per read, as the tables have them. */
		end = min64(s->w1, (off + COPY_BUFSZ) / PAGE * PAGE);
		if (read_full(fd, buf, (size_t)(end - off), off) == -1)
			return -1;
		for (a = off; a < end; a = b, k++) {
			b = min64((a / PAGE + 1) * PAGE, end);
			h = XXH3_64bits(buf + (a - off), (size_t)(b - a));
			if (tab_get(jfd, s->tab, j->spr, k, ob, &ob0, &obn,
				&ho) == -1 ||
			    tab_get(jfd, s->tab + 8 * j->spr, j->spr, k, nb,
				&nb0, &nbn, &hn) == -1)
				return -1;
			if (h != ho && h != hn)
				return 0;
		}
	}
	return 1;
}

/*
 * Tells whether the maildrop at FD (status ST) is in a state that journal
 * J explains, S being its last journaled round when HAVE: the same file;
 * the end of the prefix intact; each round before S the new contents,
 * each round after it the original (every source the redo reads behind S
 * is thus intact; S's own are in its slot); in S each page old or new
 * (a crash or a power cut in the middle of it leaves any mix, and it is
 * written over; a journal of the build before page tables cannot tell,
 * and S may hold anything); [N, E) intact or marked, or after phase
 * M (T) possibly cut off. A marked tail, and phase M or T, mean that every
 * round was written and synced: each must be its new contents, and *DONE
 * is set. Sets *FROM to where mail that arrived after the crash begins.
 * Returns 1, 0 when another program changed the file, or -1 with errno.
 */
static int
explained(int fd, int jfd, const struct jnl *j, const struct stat *st, int have,
    const struct slot *s, char *buf, uint64_t *from, int *done)
{
	unsigned char ob[BATCH * 8], ib[BATCH * 8];
	XXH3_state_t *xs;
	uint64_t size, k, w0, w1, h, want, ob0, obn, ib0, ibn, pre;
	int rc, tail; /* [N, E): 0 not there, 1 original, 2 marked */

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
	pre = min64(j->d, PREFIX_CHECK);
	if (hash_range(fd, j->d - pre, pre, buf, xs, &h) == -1)
		goto out;
	if (h != j->h_prefix) {
		rc = 0;
		goto out;
	}
	tail = 0;
	if (size >= j->e) {
		if (hash_range(fd, j->n, j->e - j->n, buf, xs, &h) == -1)
			goto out;
		if (h == j->h_tail)
			tail = 1;
		else if (j->h_mark != 0 && mark_hash(h) == j->h_mark)
			tail = 2;
	}
	if (j->phase == PHASE_COPY && tail == 0) {
		rc = 0;
		goto out;
	}
	*done = j->phase != PHASE_COPY || tail == 2;
	/*
	 * Past phase M, a tail that is not the marked one was cut, and what
	 * lies at N arrived since. An earlier build's phase T has no mark.
	 */
	*from =
	    tail == 2 || (tail == 1 && j->phase != PHASE_MARKED) ? j->e : j->n;
	ob0 = obn = ib0 = ibn = 0;
	for (k = 0, w0 = j->d; w0 < j->n; k++, w0 = w1) {
		w1 = next_w(j, w0);
		if (!*done && have && w0 == s->w0) {
			if (!j->v2 &&
			    (rc = pages_vouched(fd, jfd, j, s, buf)) != 1)
				goto out;
			rc = -1;
			continue;
		}
		if (*done || (have && w0 < s->w0)) {
			if (tab_get(jfd, j->ipg_off, j->nrd, k, ib, &ib0, &ibn,
				&want) == -1)
				goto out;
		} else if (tab_get(jfd, j->opg_off, j->nrd, k, ob, &ob0, &obn,
			       &want) == -1)
			goto out;
		if (hash_range(fd, w0, w1 - w0, buf, xs, &h) == -1)
			goto out;
		if (h != want) {
			rc = 0;
			goto out;
		}
	}
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
 * Writes into OFD what the commit would have made of [D, N): the new
 * pages before the journaled round, its output from the slot and the
 * maildrop, the output of the rounds after it from the maildrop. Stops
 * quietly where the maildrop has become too short.
 */
static int
rebuild(int fd, int jfd, const struct jnl *j, int have, const struct slot *s,
    int ofd, char *buf)
{
	struct copier cp;
	struct segcur c;
	uint64_t done;
	int r, saved;

	memset(&cp, 0, sizeof(cp));
	cp.fd = fd;
	cp.jfd = jfd;
	cp.dfd = ofd;
	cp.doff = j->d;
	cp.buf = buf;
	done = j->phase != PHASE_COPY ? j->n : have ? s->w0 : j->d;
	cp.noslot = 1;
	r = copy_piece(&cp, 0, j->d, 0, j->d, done - j->d);
	if (r == 0)
		r = seg_init(&c, jfd, j);
	if (r == 0 && have && j->phase == PHASE_COPY) {
		cp.noslot = 0;
		cp.sdata = s->data;
		r = walk(&c, s->w0, s->w1, s->w0, s->w1, copy_piece, &cp);
		done = s->w1;
		cp.noslot = 1;
	}
	if (r == 0)
		r = walk(&c, done, j->n, done, j->n, copy_piece, &cp);
	/* What was read before the maildrop ended is kept too. */
	saved = errno;
	if (copier_flush(&cp) == -1)
		return -1;
	errno = saved;
	return r;
}

/*
 * Another program rewrote the maildrop, or removed it: what the commit
 * would have written is kept in the first free name of recovered.mbox,
 * recovered.mbox.1, ... (never appended to an earlier one), rebuilt from
 * the maildrop when FD is still the journaled file, else the octets of the
 * last journaled round alone (all that exists nowhere else); the journal
 * is renamed to the orphan name with the same suffix.
 */
static int
orphan(int statefd, int jfd, const struct jnl *j, int fd, int have,
    const struct slot *s, char *buf)
{
	char name[sizeof(COMMIT_RECOVERED) + 16];
	char oname[sizeof(COMMIT_ORPHAN) + 16];
	struct copier cp;
	int ofd, k, saved, r;

	ofd = -1;
	for (k = 0; k < RECOVERED_MAX; k++) {
		suffixed(name, sizeof(name), COMMIT_RECOVERED, k);
		ofd = sfile_open(statefd, name, O_WRONLY | O_CREAT | O_EXCL);
		if (ofd != -1 || errno != EEXIST)
			break;
	}
	if (ofd == -1)
		return -1;
	if (fd != -1)
		r = rebuild(fd, jfd, j, have, s, ofd, buf);
	else if (have) {
		memset(&cp, 0, sizeof(cp));
		cp.fd = jfd;
		cp.dfd = ofd;
		cp.buf = buf;
		cp.noslot = 1;
		r = copy_piece(&cp, 0, s->data, 0, 0, s->len) == -1 ||
			copier_flush(&cp) == -1
		    ? -1
		    : 0;
	} else
		r = 0;
	if (r == -1 && errno != ESTALE)
		goto fail;
	if (sys_fsync(ofd) == -1)
		goto fail;
	r = close(ofd);
	ofd = -1;
	if (r == -1)
		goto fail;
	/* Not renamed: the next attempt sets it aside again, under NAME. */
	suffixed(oname, sizeof(oname), COMMIT_ORPHAN, k);
	if (sfile_rename(statefd, COMMIT_JOURNAL, oname) == -1)
		goto fail;
	return sys_fsync(statefd);
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
	if (sys_unlink(statefd, COMMIT_JOURNAL) == -1 && errno != ENOENT)
		return -1;
	(void)fsync(statefd);
	return 0;
}

/* Finds the last journaled round: 1 with *S set, 0 when there is none. */
static int
last_round(int jfd, const struct jnl *j, char *buf, struct slot *s)
{
	struct slot a[2];
	struct segcur c;
	XXH3_state_t *xs;
	int ok[2], k;

	if ((xs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	ok[0] = ok[1] = 0;
	/* A read that fails must not pass for slots that hold nothing. */
	if (seg_init(&c, jfd, j) == -1)
		ok[0] = -1;
	else
		for (k = 0; k < 2; k++)
			if ((ok[k] = slot_read(jfd, j, (uint64_t)k, &c, buf, xs,
				 &a[k])) == -1)
				break;
	XXH3_freeState(xs);
	if (ok[0] == -1 || ok[1] == -1)
		return -1;
	if (!ok[0] && !ok[1])
		return 0;
	*s = !ok[1] || (ok[0] && a[0].r > a[1].r) ? a[0] : a[1];
	return 1;
}

/*
 * Tells whether the maildrop at FD (status ST) is in a state that the
 * POP2JNL1 journal J (IMAGE at S) explains, as the build that wrote it
 * judged: the same file with its prefix [0, D) intact; each page of
 * [D, N) either the original or IMAGE, except one that may mix them (the
 * write front of a killed pwrite); [N, E) intact, or in phase T possibly
 * cut off. Sets *FROM to where mail that arrived after the crash begins.
 * Returns 1, 0 when another program rewrote the file, or -1 with errno.
 */
static int
explained1(int fd, int jfd, const struct jnl *j, const struct slot *s,
    const struct stat *st, char *buf, uint64_t *from)
{
	unsigned char tb[BATCH * 8];
	XXH3_state_t *xs;
	uint64_t size, k, b0, b1, h, want, tb0, tbn;
	char *img;
	int mixed, rc;

	if (!S_ISREG(st->st_mode) || (uint64_t)st->st_dev != j->dev ||
	    (uint64_t)st->st_ino != j->ino || st->st_size < 0)
		return 0;
	size = (uint64_t)st->st_size;
	if (size < (j->phase == PHASE_COPY ? j->e : j->n))
		return 0;
	xs = XXH3_createState();
	img = malloc(PAGE);
	rc = -1;
	if (xs == NULL || img == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if (hash_range(fd, 0, j->d, buf, xs, &h) == -1)
		goto out;
	if (h != j->h_prefix) {
		rc = 0;
		goto out;
	}
	mixed = 0;
	tb0 = tbn = 0;
	for (k = 0; k < j->nblk; k++) {
		b0 = k == 0 ? j->d : (j->d / PAGE + k) * PAGE;
		b1 = min64((j->d / PAGE + k + 1) * PAGE, j->n);
		if (read_full(fd, buf, (size_t)(b1 - b0), b0) == -1 ||
		    read_full(jfd, img, (size_t)(b1 - b0),
			s->data + (b0 - j->d)) == -1 ||
		    tab_get(jfd, JNL1_FIXED, j->nblk, k, tb, &tb0, &tbn,
			&want) == -1)
			goto out;
		if (memcmp(buf, img, (size_t)(b1 - b0)) == 0 ||
		    XXH3_64bits(buf, (size_t)(b1 - b0)) == want)
			continue;
		if (++mixed > 1) {
			rc = 0;
			goto out;
		}
	}
	rc = 1;
	if (size >= j->e) {
		if (hash_range(fd, j->n, j->e - j->n, buf, xs, &h) == -1) {
			rc = -1;
			goto out;
		}
		if (h == j->h_tail) {
			*from = j->e;
			goto out;
		}
	}
	if (j->phase == PHASE_COPY)
		rc = 0;
	/* Cut at N already; what follows arrived after the crash. */
	*from = j->n;
out:
	free(img);
	XXH3_freeState(xs);
	return rc;
}

/*
 * Finishes the commit of a journal of the format before rounds
 * ("POP2JNL1", header in J, its new contents of [D, N) at S), left by a
 * crash before an upgrade, on the maildrop at FD (-1: gone): IMAGE is
 * written over [D, N) and synced, as that build did; what is left -
 * removing [N, E) and keeping what arrived past E - is a commit of the
 * current format, whose journal replaces this one. A maildrop that the
 * journal does not explain keeps nothing but IMAGE set aside. Returns 0,
 * 1 when set aside, -1 with errno.
 */
static int
replay1(int statefd, int jfd, int fd, const struct jnl *j, const struct slot *s,
    char *buf, struct tick *t, uint64_t max)
{
	struct copier cp;
	struct stat st;
	struct plan pl;
	struct jnl nj;
	struct slot ns;
	uint64_t from, size;
	int r, njfd, saved;

	if (fd != -1 && (check_writable(fd) == -1 || fstat(fd, &st) == -1))
		return -1;
	from = 0;
	r = fd == -1 ? 0 : explained1(fd, jfd, j, s, &st, buf, &from);
	if (r == -1)
		return -1;
	if (r == 0)
		return orphan(statefd, jfd, j, -1, 1, s, buf) == 0 ? 1 : -1;
	memset(&cp, 0, sizeof(cp));
	cp.fd = jfd;
	cp.dfd = fd;
	cp.buf = buf;
	cp.t = t;
	cp.noslot = 1;
	if (copy_piece(&cp, 0, s->data, 0, j->d, s->len) == -1 ||
	    copier_flush(&cp) == -1 || sys_fsync(fd) == -1)
		return -1;
	seam_point("v1-written");
	size = (uint64_t)st.st_size;
	if (from == j->n) {
		/* Cut already: what follows arrived since, in place. */
		if (sys_unlink(statefd, COMMIT_JOURNAL) == -1 &&
		    errno != ENOENT)
			return -1;
		(void)fsync(statefd);
		return 0;
	}
	memset(&nj, 0, sizeof(nj));
	nj.phase = PHASE_COPY;
	nj.dev = j->dev;
	nj.ino = j->ino;
	nj.d = j->n;
	nj.e = size;
	nj.n = j->n + (size - from);
	nj.pathlen = j->pathlen;
	memcpy(nj.path, j->path, j->pathlen + 1);
	memset(&pl, 0, sizeof(pl));
	pl.g = from;
	if (jnl_create(statefd, fd, &nj, &pl, max, buf, t, &njfd) == -1)
		return -1;
	memset(&ns, 0, sizeof(ns));
	ns.w0 = nj.d;
	r = rounds(fd, njfd, &nj, &ns, 0, buf, t) == 0 &&
		finish(statefd, njfd, &nj, fd) == 0
	    ? 0
	    : -1;
	saved = errno;
	(void)close(njfd);
	errno = saved;
	return r;
}

enum commit_recovery
commit_recover(int statefd, int fd, commit_tick_fn *tick, void *tick_arg)
{
	return commit_recover_bounded(statefd, fd, 0, tick, tick_arg);
}

enum commit_recovery
commit_recover_bounded(int statefd, int fd, uint64_t journal_max,
    commit_tick_fn *tick, void *tick_arg)
{
	struct tick t = { tick, tick_arg, 0 };
	struct stat st;
	struct jnl j, nj;
	struct plan pl;
	struct slot s;
	sigset_t old;
	char *buf;
	uint64_t from, size;
	int jfd, njfd, have, done, r, rc, saved;

	/* Never renamed, so never used: leftovers of a killed write. */
	(void)state_remove_leftovers(statefd, geteuid());
	jfd = sfile_open(statefd, COMMIT_JOURNAL, O_RDWR);
	if (jfd == -1)
		return errno == ENOENT ? 0 : -1;
	if ((buf = malloc(COPY_BUFSZ)) == NULL) {
		(void)close(jfd);
		errno = ENOMEM;
		return -1;
	}
	njfd = -1;
	rc = -1;
	memset(&s, 0, sizeof(s));
	signals_block(&old);
	if (jnl_read(jfd, &j, 1, buf) == -1) {
		if (errno != EINVAL)
			goto out;
		/* A journal of the format before rounds. */
		if (jnl1_read(jfd, &j, &s, buf) == 0) {
			rc = replay1(
			    statefd, jfd, fd, &j, &s, buf, &t, journal_max);
			goto out;
		}
		if (errno == EINVAL)
			rc = drop(statefd);
		goto out;
	}
	if ((have = last_round(jfd, &j, buf, &s)) == -1)
		goto out;
	if (fd == -1) {
		/* The maildrop is gone: the round's octets exist nowhere else.
		 */
		if (orphan(statefd, jfd, &j, -1, have, &s, buf) == 0)
			rc = 1;
		goto out;
	}
	if (check_writable(fd) == -1 || fstat(fd, &st) == -1)
		goto out;
	from = 0;
	if ((r = explained(fd, jfd, &j, &st, have, &s, buf, &from, &done)) ==
	    -1)
		goto out;
	if (r == 0) {
		if (orphan(statefd, jfd, &j,
			(uint64_t)st.st_dev == j.dev &&
				(uint64_t)st.st_ino == j.ino
			    ? fd
			    : -1,
			have, &s, buf) == 0)
			rc = 1;
		goto out;
	}
	size = (uint64_t)st.st_size;
	if (!done) {
		/* Redo the last journaled round, then go on. */
		if (!have) {
			s.r = 0;
			s.w0 = j.d;
		}
		if (rounds(fd, jfd, &j, &s, have, buf, &t) == -1)
			goto out;
	}
	if (size == from) {
		if (finish(statefd, jfd, &j, fd) == 0)
			rc = 0;
		goto out;
	}
	if (from == j.n) {
		/* Cut already, and mail appended since: it is in place. */
		if (sys_fsync(fd) == -1 ||
		    (sys_unlink(statefd, COMMIT_JOURNAL) == -1 &&
			errno != ENOENT))
			goto out;
		(void)fsync(statefd);
		rc = 0;
		goto out;
	}
	/*
	 * Mail arrived after the crash, past E, and [D, N) holds the new
	 * contents: what is left is removing [N, E), a commit of its own
	 * whose journal replaces this one.
	 */
	memset(&nj, 0, sizeof(nj));
	nj.phase = PHASE_COPY;
	nj.dev = j.dev;
	nj.ino = j.ino;
	nj.d = j.n;
	nj.e = size;
	nj.n = j.n + (size - from);
	nj.pathlen = j.pathlen;
	memcpy(nj.path, j.path, j.pathlen + 1);
	memset(&pl, 0, sizeof(pl));
	pl.g = from;
	if (jnl_create(statefd, fd, &nj, &pl, journal_max, buf, &t, &njfd) ==
	    -1)
		goto out;
	memset(&s, 0, sizeof(s));
	s.w0 = nj.d;
	if (rounds(fd, njfd, &nj, &s, 0, buf, &t) == 0 &&
	    finish(statefd, njfd, &nj, fd) == 0)
		rc = 0;
out:
	saved = errno;
	signals_restore(&old);
	if (njfd != -1)
		(void)close(njfd);
	(void)close(jfd);
	free(buf);
	errno = saved;
	return rc;
}

/*
 * Reads the maildrop path from the header of the journal open at JFD into
 * *PATH, of its length (jnl_read() bounds it by JNL_PATH_MAX).
 */
static int
header_path(int jfd, char **path)
{
	struct jnl j;
	struct slot s;
	char *buf;
	int saved;

	if (jnl_read(jfd, &j, 0, NULL) == -1) {
		saved = errno;
		if (saved == EINVAL && (buf = malloc(COPY_BUFSZ)) != NULL) {
			/* A journal of the earlier format names a maildrop too.
			 */
			if (jnl1_read(jfd, &j, &s, buf) == 0)
				saved = 0;
			free(buf);
		}
		if (saved != 0) {
			errno = saved;
			return -1;
		}
	}
	if ((*path = malloc(j.pathlen + 1)) == NULL)
		return -1;
	memcpy(*path, j.path, j.pathlen + 1);
	return 0;
}

int
commit_refuse(int statefd, struct commit_pending *p, const char *why)
{
	p->refused = why;
	return state_set_aside(
	    statefd, COMMIT_JOURNAL, p->aside, sizeof(p->aside));
}

enum commit_found
commit_find(int statefd, uid_t uid, struct commit_pending *p)
{
	const char *why;
	int jfd, r;

	p->refused = NULL;
	p->aside[0] = '\0';
	p->path = NULL;
	if ((p->leftovers = state_remove_leftovers(statefd, uid)) == -1) {
		p->leftovers = 0;
		return COMMIT_FOUND_ERROR;
	}
	jfd = state_open_file(statefd, COMMIT_JOURNAL, O_RDONLY, 0, uid, &why);
	if (jfd == -1 && errno == EPERM)
		return commit_refuse(statefd, p, why) == 0
		    ? COMMIT_FOUND_REFUSED
		    : COMMIT_FOUND_ERROR;
	if (jfd == -1)
		return errno == ENOENT ? COMMIT_FOUND_NONE : COMMIT_FOUND_ERROR;
	r = header_path(jfd, &p->path);
	(void)close(jfd);
	if (r == 0)
		return COMMIT_FOUND_JOURNAL;
	p->path = NULL;
	if (errno != EINVAL)
		return COMMIT_FOUND_ERROR;
	/* Damaged, so never complete: the maildrop was not touched. */
	return drop(statefd) == 0 ? COMMIT_FOUND_TORN : COMMIT_FOUND_ERROR;
}

int
commit_journal_present(int statefd)
{
	struct stat st;

	return fstatat(statefd, COMMIT_JOURNAL, &st, AT_SYMLINK_NOFOLLOW) ==
	    0 ||
	    errno != ENOENT;
}

const char *
commit_journal_name(void)
{
	return COMMIT_JOURNAL;
}
