/*
 * mbox: index an mbox file in one pass; its messages go out through
 * wire.c.
 *
 * The index finds the messages (separators, Content-Length, the
 * pseudo-message) and, as it goes, hands every line of a message's text
 * to the wire conversion with a counter, which is what READ's =N is:
 * mbox_send() runs the same conversion with a sink.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>
#if defined(__x86_64__) && !defined(WIRE_NO_XXH_DISPATCH)
/*
 * Debian's libxxhash picks the widest vector unit at run time through
 * these names: twice the speed of the SSE2 default on AVX2 processors.
 */
#include <xxh_x86dispatch.h>
#endif

#include "mbox.h"
#include "util.h"

/* Index read size: large reads keep the scan close to memchr speed. */
#define IX_BUFSZ (1024 * 1024)
/*
 * How far past a Content-Length target the index looks to confirm it. A
 * separator line longer than this cannot confirm a Content-Length; the
 * message is then scanned as if it had none.
 */
#define CL_LOOK 4096
/*
 * The first octets (lower case) of the header fields the index reads:
 * Content-Length, and in the first message X-IMAP, X-IMAPbase, Subject.
 */
#define IX_HEADER_FIRST "csx"

static const char pseudo_subject[] =
    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";

/*
 * Separator parsing. c-client reads the date from the end of the line,
 * because the sender may contain spaces; so do we.
 */

/*
 * Takes the last space-separated token of [b, *e), where *e is not
 * preceded by a space. Stores it in *ts and returns its length (0 when
 * there is none); *e moves before the spaces that precede it.
 */
static size_t
last_token(const char *b, const char **e, const char **ts)
{
	const char *t, *end;

	end = t = *e;
	while (t > b && t[-1] != ' ')
		t--;
	*ts = t;
	while (t > b && t[-1] == ' ')
		t--;
	*e = t;
	return (size_t)(end - *ts);
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
digits(const char *p, size_t n)
{
	size_t i;
	int v;

	for (i = 0, v = 0; i < n; i++) {
		if (!is_digit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static int
is_year(const char *p, size_t n)
{
	return n == 4 && digits(p, n) >= 0;
}

/* "+0100", "-0500", or a zone name such as "UTC", "EST", "CEST". */
static int
is_zone(const char *p, size_t n)
{
	size_t i;

	if (n == 5 && (p[0] == '+' || p[0] == '-'))
		return digits(p + 1, 4) >= 0;
	if (n < 3 || n > 5)
		return 0;
	for (i = 0; i < n; i++)
		if (!is_alpha((unsigned char)p[i]))
			return 0;
	return 1;
}

/* hh:mm or hh:mm:ss. */
static int
is_time(const char *p, size_t n)
{
	if (n != 5 && n != 8)
		return 0;
	if (p[2] != ':' || digits(p, 2) < 0 || digits(p, 2) > 23 ||
	    digits(p + 3, 2) < 0 || digits(p + 3, 2) > 59)
		return 0;
	if (n == 8 &&
	    (p[5] != ':' || digits(p + 6, 2) < 0 || digits(p + 6, 2) > 60))
		return 0;
	return 1;
}

static int
is_day(const char *p, size_t n)
{
	int v;

	if (n < 1 || n > 2)
		return 0;
	v = digits(p, n);
	return v >= 1 && v <= 31;
}

static int
in_list(const char *p, size_t n, const char *list)
{
	/* LIST holds three-letter lower-case names back to back. */
	if (n != 3)
		return 0;
	for (; *list != '\0'; list += 3)
		if (util_ascii_lower((unsigned char)p[0]) == list[0] &&
		    util_ascii_lower((unsigned char)p[1]) == list[1] &&
		    util_ascii_lower((unsigned char)p[2]) == list[2])
			return 1;
	return 0;
}

int
mbox_is_separator(const char *line, size_t len)
{
	const char *b, *e, *save, *t;
	size_t n;

	if (line == NULL || len < 5 || memcmp(line, "From ", 5) != 0)
		return 0;
	b = line + 5;
	e = line + len;
	if (e > b && e[-1] == '\r')
		e--;
	while (e > b && e[-1] == ' ')
		e--;

	/* UUCP's " remote from HOST" suffix. */
	save = e;
	if (last_token(b, &e, &t) == 0 || last_token(b, &e, &t) != 4 ||
	    memcmp(t, "from", 4) != 0 || last_token(b, &e, &t) != 6 ||
	    memcmp(t, "remote", 6) != 0)
		e = save;

	/* [zone] yyyy [zone], then the time. */
	n = last_token(b, &e, &t);
	if (is_zone(t, n)) {
		n = last_token(b, &e, &t);
		if (!is_year(t, n))
			return 0;
		n = last_token(b, &e, &t);
	} else if (is_year(t, n)) {
		n = last_token(b, &e, &t);
		if (is_zone(t, n))
			n = last_token(b, &e, &t);
	} else
		return 0;
	if (!is_time(t, n))
		return 0;
	n = last_token(b, &e, &t);
	if (!is_day(t, n))
		return 0;
	n = last_token(b, &e, &t);
	if (!in_list(t, n, "janfebmaraprmayjunjulaugsepoctnovdec"))
		return 0;
	n = last_token(b, &e, &t);
	if (!in_list(t, n, "sunmontuewedthufrisat"))
		return 0;
	/* Whatever is left is the sender; it may not be missing. */
	return e > b;
}

/*
 * The index.
 *
 * Lines are examined as they are read. An empty line may be the one that
 * belongs to the next separator, which is only known from the line after
 * it, so it is held back ("pending") and given to the message only when the
 * next line turns out not to be a separator. In a body, only an empty line
 * and the line after it can change anything, so the runs of lines between
 * them go to wire_conv() whole.
 */
struct ix {
	struct mbox *mb;
	int fd;
	char *buf;
	size_t cap;
	size_t fill;   /* octets in buf */
	size_t pos;    /* next unexamined octet in buf */
	uint64_t base; /* file offset of buf[0] */
	uint64_t size; /* where the index stops */
	int eof;
	const struct scan_impl *sc;
	int in_long; /* pos is inside a line longer than the buffer */
	char *look;  /* CL_LOOK + 1 octets for confirming Content-Length */
	XXH3_state_t *xs;
	size_t alloc; /* entries allocated in mb->msg */

	int cur;	  /* a message is open: mb->msg[mb->nmsg - 1] */
	uint64_t hashed;  /* the open message is hashed up to here */
	int hstarted;	  /* ... by the streaming state xs */
	XXH3_state_t *cs; /* the open message's current chunk, when streamed */
	uint64_t cfill;	  /* octets in it */
	size_t chunk0;	  /* the open message's first entry in mb->chunk */
	size_t calloc;	  /* entries allocated in mb->chunk */
	struct wire_conv cv;
	struct wire_out cnt;

	int sep_ok;	       /* a separator may start at the next line */
	uint64_t text_end;     /* where the open message ends if one does */
	int pending;	       /* an empty line is held back */
	const char *pend_line; /* its octets, "\n" or "\r\n" */
	size_t pend_len;

	int cl_mode; /* inside a body whose Content-Length is believed */
	uint64_t cl_end;
	int cl_state; /* 0 none seen, 1 one valid value, -1 unusable */
	uint64_t cl;

	int px_imap;	/* the first message has X-IMAP or X-IMAPbase */
	int px_subject; /* ... and the pseudo-message's subject */
};

/*
 * Feeds the open message's octets up to TO to the hash before the buffer
 * lets go of them. The state is started only when a message does not fit
 * in the buffer; most are hashed in one call when they close.
 */
/* Appends the hash of the chunk being hashed to mb->chunk. */
static int
ix_chunk_end(struct ix *ix)
{
	struct mbox *mb = ix->mb;
	size_t alloc;
	void *p;

	if (mb->nchunk == ix->calloc) {
		alloc = ix->calloc == 0 ? 64 : ix->calloc * 2;
		if (alloc > SIZE_MAX / sizeof(*mb->chunk)) {
			errno = ENOMEM;
			return -1;
		}
		if ((p = realloc(mb->chunk, alloc * sizeof(*mb->chunk))) ==
		    NULL)
			return -1;
		mb->chunk = p;
		ix->calloc = alloc;
	}
	mb->chunk[mb->nchunk++] = XXH3_64bits_digest(ix->cs);
	(void)XXH3_64bits_reset(ix->cs);
	ix->cfill = 0;
	return 0;
}

/*
 * Feeds the open message's octets up to TO to the hash before the buffer
 * lets go of them, and to the chunk hashes. The states are started only
 * when a message does not fit in the buffer (every message over 1 MiB);
 * most are hashed in one call when they close.
 */
static int
ix_hash(struct ix *ix, uint64_t to)
{
	const char *p;
	uint64_t n, len;

	if (!ix->cur || to <= ix->hashed)
		return 0;
	if (!ix->hstarted) {
		if (XXH3_64bits_reset(ix->xs) == XXH_ERROR ||
		    XXH3_64bits_reset(ix->cs) == XXH_ERROR) {
			errno = EINVAL;
			return -1;
		}
		ix->cfill = 0;
		ix->chunk0 = ix->mb->nchunk;
	}
	p = ix->buf + (ix->hashed - ix->base);
	len = to - ix->hashed;
	if (XXH3_64bits_update(ix->xs, p, (size_t)len) == XXH_ERROR) {
		errno = EINVAL;
		return -1;
	}
	for (; len > 0; p += n, len -= n) {
		n = WIRE_CHUNK - ix->cfill < len ? WIRE_CHUNK - ix->cfill : len;
		(void)XXH3_64bits_update(ix->cs, p, (size_t)n);
		ix->cfill += n;
		if (ix->cfill == WIRE_CHUNK && ix_chunk_end(ix) == -1)
			return -1;
	}
	ix->hstarted = 1;
	ix->hashed = to;
	return 0;
}

/* Closes the open message, whose text ends at END and stored octets at NEXT. */
static int
ix_close(struct ix *ix, uint64_t end, uint64_t next)
{
	struct wire_msg *m;

	if (!ix->cur)
		return 0;
	m = &ix->mb->msg[ix->mb->nmsg - 1];
	if (!ix->hstarted)
		m->hash = XXH3_64bits(
		    ix->buf + (m->start - ix->base), (size_t)(next - m->start));
	else {
		if (ix_hash(ix, next) == -1)
			return -1;
		m->hash = XXH3_64bits_digest(ix->xs);
		/* Chunks are kept for the messages RETR streams. */
		if (next - m->start > WIRE_WHOLE) {
			if (ix->cfill > 0 && ix_chunk_end(ix) == -1)
				return -1;
			m->flags |= WIRE_CHUNKED;
			m->chunk0 = (uint32_t)ix->chunk0;
		} else
			ix->mb->nchunk = ix->chunk0;
	}
	m->end = end;
	if (wire_conv_end(&ix->cv, &ix->cnt) == -1)
		return -1;
	m->wire = ix->cnt.total;
	if (ix->mb->nmsg == 1 && ix->px_imap && ix->px_subject) {
		m->flags |= WIRE_PSEUDO;
		ix->mb->first = 1;
	}
	ix->cur = 0;
	return 0;
}

static int
ix_open(struct ix *ix, uint64_t start, uint64_t body)
{
	struct mbox *mb = ix->mb;
	struct wire_msg *m;
	size_t alloc;
	void *p;

	if (mb->nmsg == ix->alloc) {
		/* Doubling keeps the copying linear. */
		alloc = ix->alloc == 0 ? 64 : ix->alloc * 2;
		if (alloc > SIZE_MAX / sizeof(*m)) {
			errno = ENOMEM;
			return -1;
		}
		if ((p = realloc(mb->msg, alloc * sizeof(*m))) == NULL)
			return -1;
		mb->msg = p;
		ix->alloc = alloc;
	}
	m = &mb->msg[mb->nmsg++];
	memset(m, 0, sizeof(*m));
	m->start = start;
	m->body = body;
	ix->cur = 1;
	ix->hashed = start;
	ix->hstarted = 0;
	wire_conv_init(&ix->cv, ix->sc);
	ix->cnt.total = 0;
	ix->sep_ok = 0;
	ix->pending = 0;
	ix->cl_mode = 0;
	ix->cl_state = 0;
	ix->px_imap = 0;
	ix->px_subject = 0;
	return 0;
}

/*
 * Reads [off, off + len) of the indexed range into the look-ahead buffer,
 * or points into the main buffer when it already holds it. Returns the
 * number of octets available (short at the end of the range), or -1.
 */
static ssize_t
ix_peek(struct ix *ix, uint64_t off, size_t len, const char **out)
{
	ssize_t r;

	if (off >= ix->size)
		return 0;
	if (len > ix->size - off)
		len = (size_t)(ix->size - off);
	if (off >= ix->base && off + len <= ix->base + ix->fill) {
		*out = ix->buf + (off - ix->base);
		return (ssize_t)len;
	}
	r = util_pread_full(ix->fd, ix->look, len, (off_t)off);
	if (r == -1)
		return -1;
	*out = ix->look;
	return r;
}

/*
 * Tells whether the line at P (N octets available, AT_END when they run to
 * the end of the indexed range) is a complete separator line.
 */
static int
peek_separator(const char *p, size_t n, int at_end)
{
	const char *nl;

	if ((nl = memchr(p, '\n', n)) != NULL)
		return mbox_is_separator(p, (size_t)(nl - p));
	return at_end && mbox_is_separator(p, n);
}

/*
 * Tells whether a body that ends at T agrees with the file: T is the end of
 * the file, or starts a separator line, or starts an empty line followed by
 * a separator line or by the end of the file.
 */
static int
ix_cl_lands(struct ix *ix, uint64_t t, int *lands)
{
	const char *p;
	ssize_t r;
	size_t n, eol;
	int at_end;

	*lands = 0;
	if (t == ix->size) {
		*lands = 1;
		return 0;
	}
	if (t > ix->size || t == 0)
		return 0;
	/* The octet before T shows that T starts a line. */
	if ((r = ix_peek(ix, t - 1, CL_LOOK + 1, &p)) == -1)
		return -1;
	n = (size_t)r;
	if (n < 2 || p[0] != '\n')
		return 0;
	at_end = t - 1 + n == ix->size;
	p++;
	n--;
	if (peek_separator(p, n, at_end)) {
		*lands = 1;
		return 0;
	}
	if (p[0] == '\n')
		eol = 1;
	else if (n >= 2 && p[0] == '\r' && p[1] == '\n')
		eol = 2;
	else
		return 0;
	p += eol;
	n -= eol;
	if ((n == 0 && at_end) || peek_separator(p, n, at_end))
		*lands = 1;
	return 0;
}

/* Looks at a whole header line of the open message for what the index needs. */
static void
ix_header(struct ix *ix, const char *p, size_t n)
{
	size_t len, colon, i;
	uint64_t v;
	int c;

	/* Past the first message only Content-Length matters. */
	c = util_ascii_lower((unsigned char)p[0]);
	if (c != 'c' && ix->mb->nmsg != 1)
		return;
	if ((len = wire_field_name(p, n, &colon)) == 0)
		return;
	if (wire_name_is(p, len, "content-length")) {
		if (ix->cl_state != 0) {
			/* Two lengths: believe neither. */
			ix->cl_state = -1;
			return;
		}
		ix->cl_state = -1;
		i = colon + 1;
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		if (i == n || !is_digit((unsigned char)p[i]))
			return;
		for (v = 0; i < n && is_digit((unsigned char)p[i]); i++) {
			if (v > (UINT64_MAX - 9) / 10)
				return;
			v = v * 10 + (uint64_t)(p[i] - '0');
		}
		while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
			i++;
		if (i < n && p[i] != '\n')
			return;
		ix->cl = v;
		ix->cl_state = 1;
	} else if (wire_name_is(p, len, "x-imap") ||
	    wire_name_is(p, len, "x-imapbase"))
		ix->px_imap = 1;
	else if (wire_name_is(p, len, "subject") &&
	    memmem(p + colon, n - colon, pseudo_subject,
		sizeof(pseudo_subject) - 1) != NULL)
		ix->px_subject = 1;
}

/* Gives the held-back empty line to the open message: it was message text. */
static int
ix_flush_pending(struct ix *ix)
{
	if (!ix->pending)
		return 0;
	ix->pending = 0;
	if (!ix->cur)
		return 0;
	return wire_conv(&ix->cv, ix->pend_line, ix->pend_len, &ix->cnt);
}

/*
 * Examines the line at file offset OFF: P holds N octets of it, all of it
 * when WHOLE, otherwise its first piece (a line longer than the buffer,
 * which can be neither empty nor a separator).
 */
static int
ix_line(struct ix *ix, const char *p, size_t n, uint64_t off, int whole)
{
	int empty, lands;

	if (ix->cl_mode) {
		if (off < ix->cl_end)
			return wire_conv(&ix->cv, p, n, &ix->cnt);
		/* The body Content-Length gave is over. */
		ix->cl_mode = 0;
		ix->sep_ok = off == ix->cl_end;
		ix->text_end = off;
	}
	empty = whole && wire_empty_line(p, n);
	if (ix->sep_ok && whole && n >= 5 && p[0] == 'F' &&
	    memcmp(p, "From ", 5) == 0 &&
	    mbox_is_separator(p, p[n - 1] == '\n' ? n - 1 : n)) {
		ix->pending = 0;
		if (ix_close(ix, ix->text_end, off) == -1)
			return -1;
		return ix_open(ix, off, off + n);
	}
	if (ix_flush_pending(ix) == -1)
		return -1;
	if (!ix->cur) {
		/* Before the first message: only looking for a separator. */
		ix->sep_ok = empty;
		return 0;
	}
	if (empty) {
		if (ix->cv.in_header && ix->cl_state == 1 &&
		    ix->cl <= ix->size - (off + n)) {
			if (ix_cl_lands(ix, off + n + ix->cl, &lands) == -1)
				return -1;
			if (lands) {
				ix->cl_mode = 1;
				ix->cl_end = off + n + ix->cl;
				ix->sep_ok = 0;
				return wire_conv(&ix->cv, p, n, &ix->cnt);
			}
		}
		ix->pending = 1;
		ix->pend_line = n == 1 ? "\n" : "\r\n";
		ix->pend_len = n;
		ix->sep_ok = 1;
		ix->text_end = off;
		return 0;
	}
	ix->sep_ok = 0;
	if (ix->cv.in_header && whole &&
	    strchr(IX_HEADER_FIRST, p[0] | 0x20) != NULL)
		ix_header(ix, p, n);
	return wire_conv(&ix->cv, p, n, &ix->cnt);
}

/*
 * Where nothing is held back, hands runs of whole lines to wire_conv() at once:
 * in the header the lines nobody needs to look at, in a body those up to
 * the next empty line (or to the end Content-Length gives).
 */
static int
ix_run_lines(struct ix *ix)
{
	const char *p, *e, *q;
	uint64_t lim;

	p = ix->buf + ix->pos;
	e = ix->buf + ix->fill;
	if (ix->cv.in_header)
		q = wire_count_header_run(&ix->cv, p, e,
		    ix->mb->nmsg == 1 ? IX_HEADER_FIRST : "c", &ix->cnt);
	else if (ix->cl_mode) {
		lim = ix->cl_end - ix->base;
		if (lim <= ix->pos)
			return 0;
		if (lim < ix->fill)
			e = ix->buf + lim;
		/* Whole lines only: the line at cl_end must be examined. */
		if ((q = memrchr(p, '\n', (size_t)(e - p))) == NULL)
			return 0;
		q++;
		if (wire_conv(&ix->cv, p, (size_t)(q - p), &ix->cnt) == -1)
			return -1;
	} else
		q = wire_count_run(&ix->cv, p, e, &ix->cnt);
	if (q == NULL)
		return -1;
	ix->pos += (size_t)(q - p);
	return 0;
}

/*
 * Drops the examined octets from the buffer and reads more behind the
 * rest. Sets ix->eof when the indexed range has been read.
 */
static int
ix_fill(struct ix *ix)
{
	ssize_t r;
	size_t want;

	if (ix_hash(ix, ix->base + ix->pos) == -1)
		return -1;
	if (ix->pos > 0) {
		memmove(ix->buf, ix->buf + ix->pos, ix->fill - ix->pos);
		ix->base += ix->pos;
		ix->fill -= ix->pos;
		ix->pos = 0;
	}
	want = ix->cap - ix->fill;
	if (want > ix->size - (ix->base + ix->fill))
		want = (size_t)(ix->size - (ix->base + ix->fill));
	if (want == 0) {
		ix->eof = ix->base + ix->fill == ix->size;
		return 0;
	}
	do
		r = pread(ix->fd, ix->buf + ix->fill, want,
		    (off_t)(ix->base + ix->fill));
	while (r == -1 && errno == EINTR);
	if (r == -1)
		return -1;
	if (r == 0) {
		/* The file shrank under us: index what was there. */
		ix->size = ix->base + ix->fill;
		ix->eof = 1;
		return 0;
	}
	ix->fill += (size_t)r;
	ix->eof = ix->base + ix->fill == ix->size;
	return 0;
}

static int
ix_run(struct ix *ix)
{
	char *p, *nl;
	size_t avail;

	for (;;) {
		if (ix->cur && !ix->in_long && !ix->pending && !ix->sep_ok &&
		    ix_run_lines(ix) == -1)
			return -1;
		p = ix->buf + ix->pos;
		avail = ix->fill - ix->pos;
		nl = memchr(p, '\n', avail);
		if (ix->in_long) {
			/* The rest of a line longer than the buffer. */
			if (nl != NULL)
				avail = (size_t)(nl - p) + 1;
			else if (!ix->eof) {
				if (ix->cur &&
				    wire_conv(&ix->cv, p, avail, &ix->cnt) ==
					-1)
					return -1;
				ix->pos = ix->fill;
				if (ix_fill(ix) == -1)
					return -1;
				continue;
			}
			ix->in_long = 0;
			if (ix->cur &&
			    wire_conv(&ix->cv, p, avail, &ix->cnt) == -1)
				return -1;
			ix->pos += avail;
			continue;
		}
		if (nl != NULL) {
			if (ix_line(ix, p, (size_t)(nl - p) + 1,
				ix->base + ix->pos, 1) == -1)
				return -1;
			ix->pos += (size_t)(nl - p) + 1;
			continue;
		}
		if (ix->eof) {
			if (avail > 0 &&
			    ix_line(ix, p, avail, ix->base + ix->pos, 1) == -1)
				return -1;
			ix->pos = ix->fill;
			return 0;
		}
		if (ix->pos == 0 && ix->fill == ix->cap) {
			/* Longer than the buffer: pass it in pieces. */
			if (ix_line(ix, p, avail, ix->base, 0) == -1)
				return -1;
			ix->pos = ix->fill;
			ix->in_long = 1;
		}
		if (ix_fill(ix) == -1)
			return -1;
	}
}

int
mbox_index_with(struct mbox *mb, int fd, const struct scan_impl *sc)
{
	struct ix ix;
	struct stat st;
	int rc, saved;

	memset(mb, 0, sizeof(*mb));
	mb->fd = fd;
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	mb->dev = st.st_dev;
	mb->ino = st.st_ino;
	/* Only a hint for a cold cache: a larger read-ahead window. */
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

	memset(&ix, 0, sizeof(ix));
	ix.mb = mb;
	ix.fd = fd;
	ix.size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	ix.cap = IX_BUFSZ;
	ix.sc = mb->scan = sc != NULL ? sc : scan_best();
	ix.sep_ok = 1; /* the first line of the file may be a separator */
	wire_counter(&ix.cnt, UINT64_MAX);
	rc = -1;
	if ((ix.buf = malloc(ix.cap)) == NULL ||
	    (ix.look = malloc(CL_LOOK + 1)) == NULL)
		goto out;
	if ((ix.xs = XXH3_createState()) == NULL ||
	    (ix.cs = XXH3_createState()) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	if (ix_fill(&ix) == -1 || ix_run(&ix) == -1)
		goto out;
	/*
	 * A single empty line at the end of the file belongs to the
	 * separator, as mbox writers end every message with one.
	 */
	if (ix_close(&ix, ix.pending ? ix.text_end : ix.size, ix.size) == -1)
		goto out;
	mb->size = ix.size;
	rc = 0;
out:
	saved = errno;
	free(ix.buf);
	free(ix.look);
	XXH3_freeState(ix.xs);
	XXH3_freeState(ix.cs);
	if (rc == 0 && mb->nchunk > UINT32_MAX) {
		errno = ENOMEM;
		rc = -1;
	}
	if (rc == -1) {
		mbox_free(mb);
		errno = saved;
	}
	return rc;
}

int
mbox_index(struct mbox *mb, int fd)
{
	return mbox_index_with(mb, fd, NULL);
}

void
mbox_free(struct mbox *mb)
{
	free(mb->msg);
	free(mb->chunk);
	mb->msg = NULL;
	mb->chunk = NULL;
	mb->nmsg = 0;
	mb->nchunk = 0;
	mb->first = 0;
}

size_t
mbox_count(const struct mbox *mb)
{
	return mb->nmsg > mb->first ? mb->nmsg - mb->first : 0;
}

struct wire_msg *
mbox_get(const struct mbox *mb, size_t n)
{
	if (n == 0 || n > mbox_count(mb))
		return NULL;
	return &mb->msg[mb->first + n - 1];
}

uint64_t
mbox_stored_end(const struct mbox *mb, size_t i)
{
	return i + 1 < mb->nmsg ? mb->msg[i + 1].start : mb->size;
}

int
mbox_send_guarded(const struct mbox *mb, size_t n, const struct sink *sink,
    const struct wire_guard *g)
{
	const struct wire_msg *m;
	const uint64_t *chunk;
	uint64_t to;

	if ((m = mbox_get(mb, n)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	to = mbox_stored_end(mb, (size_t)(m - mb->msg));
	/* Its chunk hashes, when the index has all of them. */
	chunk = NULL;
	if ((m->flags & WIRE_CHUNKED) && to > m->start &&
	    m->chunk0 <= mb->nchunk &&
	    (to - m->start + WIRE_CHUNK - 1) / WIRE_CHUNK <=
		mb->nchunk - m->chunk0)
		chunk = mb->chunk + m->chunk0;
	return wire_send(mb->fd, m, to, chunk, mb->scan, sink, g);
}

int
mbox_send(const struct mbox *mb, size_t n, const struct sink *sink)
{
	return mbox_send_guarded(mb, n, sink, NULL);
}
