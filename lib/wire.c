/*
 * wire: the one conversion from stored text to wire octets (wire.h), and
 * the reads that feed it when a message is sent.
 *
 * What a stored line becomes on the wire is decided by wire_conv(): a send
 * writes what it produces, an index counts it, which is what keeps READ's
 * =N equal to the octets RETR sends. For speed an index hands the counting
 * two shortcuts for lines that need no decision, wire_count_run() for the
 * body between empty lines and wire_count_header_run() for fields that are
 * not hidden; they apply the same rules with the same helpers. Should they
 * ever disagree, the send fails with ESTALE rather than send a count other
 * than the one announced.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
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

#include "util.h"
#include "wire.h"

/* Read size for a message larger than WIRE_WHOLE: one chunk. */
#define SEND_BUFSZ WIRE_CHUNK
/* The output batch: what one write to the client carries at most. */
#define SEND_OUTSZ (64 * 1024)
/* wire_conv() flushes a batch with less room than this for direct work. */
#define CONV_DIRECT_MIN (4 * 1024)

/* The index costs 48 octets a message (bench/README.md, the memory row). */
_Static_assert(sizeof(struct wire_msg) == 48, "struct wire_msg grew");

const char *const wire_hidden[] = {
	"status",
	"x-status",
	"x-keywords",
	"x-uid",
	"x-imap",
	"x-imapbase",
	"content-length",
	NULL,
};

static int
out_flush(struct wire_out *o)
{
	if (o->len == 0)
		return 0;
	/* A sink that fails without saying why still fails. */
	errno = 0;
	if (o->sink->write(o->sink->arg, o->buf, o->len) == -1) {
		o->err = errno != 0 ? errno : EIO;
		return -1;
	}
	o->len = 0;
	return 0;
}

/* Accounts for N octets when only counting: the index's common path. */
static inline int
out_count(struct wire_out *o, uint64_t n)
{
	if (o->sink != NULL || n > o->limit - o->total) {
		o->err = o->sink != NULL ? EINVAL : ESTALE;
		return -1;
	}
	o->total += n;
	return 0;
}

/* Accounts for N more octets; P holds them unless only counting. */
static int
out_put(struct wire_out *o, const char *p, size_t n)
{
	if (o->err != 0)
		return -1;
	if (n > o->limit - o->total) {
		/* The file no longer says what the index saw. */
		o->err = ESTALE;
		return -1;
	}
	o->total += n;
	if (o->sink == NULL || n == 0)
		return 0;
	if (n > o->cap - o->len) {
		if (out_flush(o) == -1)
			return -1;
		if (n >= o->cap) {
			errno = 0;
			if (o->sink->write(o->sink->arg, p, n) == -1) {
				o->err = errno != 0 ? errno : EIO;
				return -1;
			}
			return 0;
		}
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
	return 0;
}

void
wire_counter(struct wire_out *o, uint64_t limit)
{
	memset(o, 0, sizeof(*o));
	o->limit = limit;
}

int
wire_empty_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	    (n == 2 && p[0] == '\r' && p[1] == '\n');
}

int
wire_name_is(const char *p, size_t len, const char *name)
{
	return strlen(name) == len && util_ascii_caseeq(p, name, len);
}

size_t
wire_field_name(const char *p, size_t n, size_t *colon)
{
	size_t i, len;

	if (n > WIRE_HDR_LOOK)
		n = WIRE_HDR_LOOK;
	for (i = 0; i < n; i++)
		if (p[i] == ':' || p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r' || p[i] == '\n')
			break;
	len = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len == 0 || i == n || p[i] != ':')
		return 0;
	*colon = i;
	return len;
}

/* Most fields start otherwise: this keeps the common path short. */
static inline int
may_be_hidden(char c)
{
	c |= 0x20;
	return c == WIRE_HIDDEN_FIRST[0] || c == WIRE_HIDDEN_FIRST[1] ||
	    c == WIRE_HIDDEN_FIRST[2];
}

int
wire_is_hidden(const char *p, size_t n)
{
	size_t len, colon, i;

	if (n == 0 || !may_be_hidden(p[0]) ||
	    (len = wire_field_name(p, n, &colon)) == 0)
		return 0;
	for (i = 0; wire_hidden[i] != NULL; i++)
		if (wire_name_is(p, len, wire_hidden[i]))
			return 1;
	return 0;
}

void
wire_conv_init(struct wire_conv *c, const struct scan_impl *sc)
{
	c->sc = sc != NULL ? sc : scan_best();
	c->in_header = 1;
	c->drop = 0;
	c->line_drop = 0;
	c->bol = 1;
	c->last = '\n';
}

int
wire_conv(struct wire_conv *c, const char *p, size_t n, struct wire_out *o)
{
	const char *e, *nl, *q, *s;
	uint64_t k;
	int one_line;

	if (n == 0)
		return 0;
	/* In the header every call holds one line or a piece of one. */
	one_line = c->in_header;
	if (c->bol && c->in_header) {
		if (wire_empty_line(p, n)) {
			c->in_header = 0;
			c->drop = 0;
		} else if (p[0] != ' ' && p[0] != '\t') {
			c->drop = wire_is_hidden(p, n);
		}
		/* A continuation line goes with the field above it. */
		c->line_drop = c->drop;
	}
	c->bol = p[n - 1] == '\n';
	if (c->line_drop) {
		c->last = p[n - 1];
		return 0;
	}
	if (o->sink == NULL) {
		if (one_line)
			k = p[n - 1] == '\n' &&
			    (n >= 2 ? p[n - 2] : c->last) != '\r';
		else
			k = c->sc->bare_lf(p, n, c->last);
		c->last = p[n - 1];
		return out_count(o, n + k);
	}
	s = p;
	e = p + n;
	/*
	 * While the worst case (every octet an LF) fits both the batch and
	 * the promised count, convert straight into the batch: the same
	 * octets as below, a vector at a time.
	 */
	while (o->err == 0 && p < e) {
		size_t len = (size_t)(e - p), room = (o->cap - o->len) / 2, w;
		uint64_t left = (o->limit - o->total) / 2;

		if (room < len && room < CONV_DIRECT_MIN) {
			if (out_flush(o) == -1)
				return -1;
			room = (o->cap - o->len) / 2;
		}
		if (len > room)
			len = room;
		if (len > left)
			len = (size_t)left;
		if (len == 0)
			break; /* near the promised end: out_put() checks */
		w = c->sc->crlf(
		    o->buf + o->len, p, len, p > s ? p[-1] : c->last);
		p += len;
		o->len += w;
		o->total += w;
	}
	for (q = p; (nl = memchr(q, '\n', (size_t)(e - q))) != NULL;
	     q = nl + 1) {
		if ((nl > s ? nl[-1] : c->last) == '\r')
			continue;
		if (out_put(o, p, (size_t)(nl - p)) == -1 ||
		    out_put(o, "\r\n", 2) == -1)
			return -1;
		p = nl + 1;
	}
	c->last = e[-1];
	return out_put(o, p, (size_t)(e - p));
}

int
wire_conv_end(struct wire_conv *c, struct wire_out *o)
{
	if (!c->bol && !c->line_drop && out_put(o, "\r\n", 2) == -1)
		return -1;
	if (o->total == 0)
		return out_put(o, "\r\n", 2);
	return 0;
}

const char *
wire_count_run(
    struct wire_conv *c, const char *p, const char *e, struct wire_out *o)
{
	const char *end;
	uint64_t bare = 0;

	end = c->sc->run(p, e, &bare);
	if (end > p) {
		if (out_count(o, (uint64_t)(end - p) + bare) == -1)
			return NULL;
		c->last = '\n';
		c->bol = 1;
	}
	/* cppcheck-suppress returnDanglingLifetime ; END lies in [p, e] */
	return end;
}

const char *
wire_count_header_run(struct wire_conv *c, const char *p, const char *e,
    const char *stop, struct wire_out *o)
{
	struct scan_cursor cur = { NULL, 0 };
	const char *nl, *q;
	uint64_t n = 0;

	for (q = p; q < e; q = nl + 1) {
		if (q[0] == '\r' || q[0] == '\n' ||
		    strchr(stop, q[0] | 0x20) != NULL ||
		    (nl = c->sc->lf_next(&cur, q, e)) == NULL)
			break;
		/* A continuation line goes with the field above it. */
		if (q[0] != ' ' && q[0] != '\t')
			c->drop = wire_is_hidden(q, (size_t)(nl - q) + 1);
		if (!c->drop)
			n += (uint64_t)(nl - q) + 1 + (nl[-1] != '\r');
	}
	if (q > p) {
		if (out_count(o, n) == -1)
			return NULL;
		c->line_drop = c->drop;
		c->last = '\n';
		c->bol = 1;
	}
	return q;
}

/*
 * Reads up to LEN octets at OFF, inside G's begin and end when G is given;
 * a short file is a changed file.
 */
static ssize_t
raw_read(
    int fd, char *buf, size_t len, uint64_t off, const struct wire_guard *g)
{
	ssize_t r;
	int saved;

	if (g != NULL && g->begin(g->arg) == -1)
		return -1;
	do
		r = pread(fd, buf, len, (off_t)off);
	while (r == -1 && errno == EINTR);
	if (g != NULL) {
		saved = errno;
		g->end(g->arg);
		errno = saved;
	}
	if (r == 0 && len > 0) {
		errno = ESTALE;
		return -1;
	}
	return r;
}

/*
 * Where a message's stored octets [start, to) are read from. With CHUNK
 * (its chunk hashes), each WIRE_CHUNK of them is read whole into BUF and
 * checked before any of it is handed on: a change is caught before one
 * octet of the changed chunk leaves.
 */
struct src {
	int fd;
	const struct wire_guard *g;
	const uint64_t *chunk;
	uint64_t start, to;
	char *buf;  /* WIRE_CHUNK octets, with CHUNK */
	uint64_t k; /* the chunk in buf; UINT64_MAX: none */
};

/*
 * Reads chunk K of S, [C0, C0 + CLEN), whole into DST and checks it against
 * its hash. Returns 0, or -1 with errno (ESTALE: changed or cut short).
 */
static int
read_chunk(const struct src *s, char *dst, uint64_t k, uint64_t c0, size_t clen)
{
	size_t got;
	ssize_t r;

	for (got = 0; got < clen; got += (size_t)r)
		if ((r = raw_read(
			 s->fd, dst + got, clen - got, c0 + got, s->g)) == -1)
			return -1;
	if (XXH3_64bits(dst, clen) != s->chunk[k]) {
		errno = ESTALE;
		return -1;
	}
	return 0;
}

/* Up to LEN octets at OFF (START <= OFF < TO) of S. */
static ssize_t
src_read(struct src *s, char *buf, size_t len, uint64_t off)
{
	uint64_t k, c0;
	size_t clen, n;

	if (s->chunk == NULL)
		return raw_read(s->fd, buf, len, off, s->g);
	k = (off - s->start) / WIRE_CHUNK;
	c0 = s->start + k * WIRE_CHUNK;
	clen = (size_t)(s->to - c0 < WIRE_CHUNK ? s->to - c0 : WIRE_CHUNK);
	/* cppcheck-suppress knownConditionTrueFalse ; OFF < TO, so CLEN >= 1 */
	if (k != s->k && off == c0 && len >= clen) {
		/* A whole chunk asked for: read and check it in place. */
		if (read_chunk(s, buf, k, c0, clen) == -1)
			return -1;
		return (ssize_t)clen;
	}
	if (k != s->k) {
		s->k = UINT64_MAX;
		if (read_chunk(s, s->buf, k, c0, clen) == -1)
			return -1;
		s->k = k;
	}
	n = (size_t)(c0 + clen - off) < len ? (size_t)(c0 + clen - off) : len;
	memcpy(buf, s->buf + (off - c0), n);
	return (ssize_t)n;
}

/* Reads and hashes the stored octets [from, to) without keeping them. */
static int
skip(struct src *s, char *buf, size_t cap, uint64_t from, uint64_t to,
    XXH3_state_t *xs)
{
	ssize_t r;
	size_t len;

	for (; from < to; from += (uint64_t)r) {
		len = to - from < cap ? (size_t)(to - from) : cap;
		if ((r = src_read(s, buf, len, from)) == -1)
			return -1;
		if (xs != NULL)
			(void)XXH3_64bits_update(xs, buf, (size_t)r);
	}
	return 0;
}

/*
 * Converts the text [m->body, m->end) into O while hashing every stored
 * octet [m->start, to) into XS (unless NULL), reading each once, in pieces
 * of CAP.
 */
static int
stream(struct src *sr, const struct wire_msg *m, uint64_t to, char *buf,
    size_t cap, XXH3_state_t *xs, const struct scan_impl *sc,
    struct wire_out *o)
{
	struct wire_conv cv;
	uint64_t base;
	size_t pos, fill, len;
	ssize_t r;
	char *nl;

	if (xs != NULL && XXH3_64bits_reset(xs) == XXH_ERROR) {
		errno = EINVAL;
		return -1;
	}
	if (skip(sr, buf, cap, m->start, m->body, xs) == -1)
		return -1;
	wire_conv_init(&cv, sc);
	/* buf holds the text octets [base, base + fill); pos is unconverted. */
	base = m->body;
	fill = pos = 0;
	for (;;) {
		if (pos < fill) {
			/*
			 * The header goes line by line (a line longer than
			 * the buffer in pieces), the body as it comes.
			 */
			len = fill - pos;
			if (cv.in_header) {
				nl = memchr(buf + pos, '\n', len);
				if (nl != NULL)
					len = (size_t)(nl - (buf + pos)) + 1;
				else if (cv.bol && base + fill < m->end &&
				    !(pos == 0 && fill == cap))
					len = 0; /* read the rest of the line */
			}
			if (len > 0) {
				if (wire_conv(&cv, buf + pos, len, o) == -1)
					return -1;
				pos += len;
				continue;
			}
		} else if (base + fill == m->end)
			break;
		/* Keep the unconverted rest and read behind it. */
		memmove(buf, buf + pos, fill - pos);
		base += pos;
		fill -= pos;
		pos = 0;
		len = cap - fill;
		if (len > m->end - (base + fill))
			len = (size_t)(m->end - (base + fill));
		if (len == 0) {
			/* Cannot happen: every case above makes progress. */
			errno = EIO;
			return -1;
		}
		if ((r = src_read(sr, buf + fill, len, base + fill)) == -1)
			return -1;
		if (xs != NULL)
			(void)XXH3_64bits_update(xs, buf + fill, (size_t)r);
		fill += (size_t)r;
	}
	if (skip(sr, buf, cap, m->end, to, xs) == -1)
		return -1;
	return wire_conv_end(&cv, o);
}

/*
 * Converts the whole text TEXT (LEN octets) into O: the header line by
 * line, the body in one piece, as stream() hands them over.
 */
static int
conv_whole(const char *text, size_t len, const struct scan_impl *sc,
    struct wire_out *o)
{
	struct wire_conv cv;
	const char *nl;
	size_t pos, n;

	wire_conv_init(&cv, sc);
	for (pos = 0; pos < len; pos += n) {
		n = len - pos;
		if (cv.in_header && (nl = memchr(text + pos, '\n', n)) != NULL)
			n = (size_t)(nl - (text + pos)) + 1;
		if (wire_conv(&cv, text + pos, n, o) == -1)
			return -1;
	}
	return wire_conv_end(&cv, o);
}

/*
 * Sends message M, whose stored octets [m->start, to) fit in WIRE_WHOLE:
 * one read, checked against the hash before the first octet is written.
 */
static int
send_whole(int fd, const struct wire_msg *m, uint64_t to,
    const struct scan_impl *sc, const struct sink *sink,
    const struct wire_guard *g)
{
	struct wire_out o;
	char *buf;
	size_t len, got;
	ssize_t r;
	int rc, saved;

	len = (size_t)(to - m->start);
	memset(&o, 0, sizeof(o));
	o.limit = m->wire;
	o.sink = sink;
	o.cap = SEND_OUTSZ;
	rc = -1;
	saved = ENOMEM;
	buf = malloc(len > 0 ? len : 1);
	o.buf = malloc(o.cap + SCAN_SLACK);
	if (buf == NULL || o.buf == NULL)
		goto out;
	for (got = 0; got < len; got += (size_t)r)
		if ((r = raw_read(
			 fd, buf + got, len - got, m->start + got, g)) == -1) {
			saved = errno;
			goto out;
		}
	if (XXH3_64bits(buf, len) != m->hash) {
		saved = ESTALE;
		goto out;
	}
	if (conv_whole(buf + (m->body - m->start), (size_t)(m->end - m->body),
		sc, &o) == -1) {
		saved = o.err != 0 ? o.err : errno;
		goto out;
	}
	if (o.total != m->wire) {
		saved = ESTALE;
		goto out;
	}
	if (out_flush(&o) == -1) {
		saved = o.err;
		goto out;
	}
	rc = 0;
out:
	free(buf);
	free(o.buf);
	if (rc == -1)
		errno = saved;
	return rc;
}

int
wire_send(int fd, const struct wire_msg *m, uint64_t to, const uint64_t *chunk,
    const struct scan_impl *sc, const struct sink *sink,
    const struct wire_guard *g)
{
	XXH3_state_t *xs;
	struct src sr;
	struct wire_out o;
	char *buf;
	int rc, saved;

	if (m->start > m->body || m->body > m->end || m->end > to) {
		errno = EINVAL;
		return -1;
	}
	if (to - m->start <= WIRE_WHOLE)
		return send_whole(fd, m, to, sc, sink, g);
	memset(&o, 0, sizeof(o));
	o.limit = m->wire;
	o.sink = sink;
	o.cap = SEND_OUTSZ;
	memset(&sr, 0, sizeof(sr));
	sr.fd = fd;
	sr.g = g;
	sr.chunk = chunk;
	sr.start = m->start;
	sr.to = to;
	sr.k = UINT64_MAX;
	rc = -1;
	saved = ENOMEM;
	/* Checked chunk by chunk, every octet is: no hash of the whole. */
	xs = chunk == NULL ? XXH3_createState() : NULL;
	buf = malloc(SEND_BUFSZ);
	o.buf = malloc(o.cap + SCAN_SLACK);
	if (chunk != NULL)
		sr.buf = malloc(WIRE_CHUNK);
	if ((chunk == NULL && xs == NULL) || buf == NULL || o.buf == NULL ||
	    (chunk != NULL && sr.buf == NULL))
		goto out;
	if (stream(&sr, m, to, buf, SEND_BUFSZ, xs, sc, &o) == -1) {
		saved = o.err != 0 ? o.err : errno;
		goto out;
	}
	if (o.total != m->wire ||
	    (xs != NULL && XXH3_64bits_digest(xs) != m->hash)) {
		/* Changed while it was sent: hold the rest back. */
		saved = ESTALE;
		goto out;
	}
	if (out_flush(&o) == -1) {
		saved = o.err;
		goto out;
	}
	rc = 0;
out:
	XXH3_freeState(xs);
	free(buf);
	free(o.buf);
	free(sr.buf);
	if (rc == -1)
		errno = saved;
	return rc;
}

int
wire_index_file(int fd, const struct scan_impl *sc, struct wire_msg *m)
{
	XXH3_state_t *xs;
	struct stat st;
	struct src sr;
	struct wire_out o;
	char *buf;
	int rc, saved;

	memset(m, 0, sizeof(*m));
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	m->end = st.st_size > 0 ? (uint64_t)st.st_size : 0;
	/* Counting only: the same conversion that wire_send_file() writes. */
	wire_counter(&o, UINT64_MAX);
	rc = -1;
	saved = ENOMEM;
	xs = XXH3_createState();
	buf = malloc(SEND_BUFSZ);
	if (xs == NULL || buf == NULL)
		goto out;
	memset(&sr, 0, sizeof(sr));
	sr.fd = fd;
	if (stream(&sr, m, m->end, buf, SEND_BUFSZ, xs, sc, &o) == -1) {
		saved = o.err != 0 ? o.err : errno;
		goto out;
	}
	m->wire = o.total;
	m->hash = XXH3_64bits_digest(xs);
	rc = 0;
out:
	XXH3_freeState(xs);
	free(buf);
	if (rc == -1) {
		memset(m, 0, sizeof(*m));
		errno = saved;
	}
	return rc;
}

int
wire_send_file(int fd, const struct wire_msg *m, const struct scan_impl *sc,
    const struct sink *sink)
{
	struct stat st;

	/* A file that grew or shrank is a changed file. */
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->end) {
		errno = ESTALE;
		return -1;
	}
	return wire_send(fd, m, m->end, NULL, sc, sink, NULL);
}
