/*
 * mbox: index an mbox file in one pass and stream its messages as wire
 * octets.
 *
 * What a stored line becomes on the wire is decided by conv(): mbox_send()
 * writes what it produces, the index counts it, which is what keeps READ's
 * =N equal to the octets RETR sends. For speed the index hands conv()'s
 * counting two shortcuts for lines that need no decision, conv_run() for
 * the body between empty lines and conv_header_run() for fields that are
 * not bookkeeping; they apply the same rules with the same helpers. Should
 * they ever disagree, mbox_send() fails with ESTALE rather than send a
 * count other than the one announced.
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
#if defined(__x86_64__) && !defined(MBOX_NO_XXH_DISPATCH)
/*
 * Debian's libxxhash picks the widest vector unit at run time through
 * these names: twice the speed of the SSE2 default on AVX2 processors.
 */
#include <xxh_x86dispatch.h>
#endif

#include "mbox.h"

/* Index read size: large reads keep the scan close to memchr speed. */
#define IX_BUFSZ (1024 * 1024)
/* mbox_send() read size and output batch size: bounded memory per RETR. */
#define SEND_BUFSZ (256 * 1024)
/*
 * A message whose stored octets fit in this is read with one pread(),
 * checked against its hash, then converted and sent from that buffer.
 */
#define SEND_WHOLE (1024 * 1024)
#define SEND_OUTSZ (64 * 1024)
/* conv() flushes a batch with less room than this for direct conversion. */
#define CONV_DIRECT_MIN (4 * 1024)
/*
 * How far past a Content-Length target the index looks to confirm it. A
 * separator line longer than this cannot confirm a Content-Length; the
 * message is then scanned as if it had none.
 */
#define CL_LOOK 4096
/*
 * How much of a header line decides whether it is bookkeeping. It must not
 * exceed the smallest piece a long line is ever cut into (SEND_BUFSZ), so
 * that the decision cannot depend on who reads the line.
 */
#define HDR_LOOK 64

/* The index costs 48 octets a message (bench/README.md, the memory row). */
_Static_assert(sizeof(struct mbox_msg) == 48, "struct mbox_msg grew");

static const char pseudo_subject[] =
    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";

/*
 * Where converted octets go. With no sink the octets are only counted; with
 * one they are batched in buf and written in large pieces. limit is the
 * count the caller promised; producing more is refused before it is sent.
 */
struct out {
	uint64_t total;
	uint64_t limit;
	const struct mbox_sink *sink;
	char *buf;
	size_t len;
	size_t cap;
	int err;
};

/* The state of converting one message's text. */
struct conv {
	int in_header; /* still inside the header section */
	int drop;      /* the current header field is bookkeeping */
	int line_drop; /* the line being converted is left out */
	int bol;       /* the next octet starts a line */
	char last;     /* the octet before the next one */
};

static int
out_flush(struct out *o)
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
out_count(struct out *o, uint64_t n)
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
out_put(struct out *o, const char *p, size_t n)
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

/*
 * Vector helpers. Scanning 64 octets at a time keeps the index near the
 * speed of wc -l; the scalar versions give the same answers. On x86 the
 * run scanner also exists in an AVX2 build, chosen at run time.
 */
#if defined(__SSE2__) && !defined(MBOX_NO_SIMD)
#define MBOX_SIMD 1
#include <emmintrin.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) &&         \
    !defined(MBOX_NO_AVX2)
#define MBOX_AVX2 1
#include <immintrin.h>
#endif

/* Bit i of *LF (*CR) is set when P[i] is LF (CR), for 64 octets. */
static inline void
masks64(const char *p, uint64_t *lf, uint64_t *cr)
{
	const __m128i nl = _mm_set1_epi8('\n'), r = _mm_set1_epi8('\r');
	__m128i a, b, c, d;

	a = _mm_loadu_si128((const __m128i *)(const void *)p);
	b = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
	c = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
	d = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
	*lf = (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, nl)) |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, nl)) << 16 |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(c, nl)) << 32 |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(d, nl)) << 48;
	*cr = (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, r)) |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(b, r)) << 16 |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(c, r)) << 32 |
	    (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(d, r)) << 48;
}

#ifdef MBOX_AVX2
__attribute__((target("avx2"))) static inline void
masks64_avx2(const char *p, uint64_t *lf, uint64_t *cr)
{
	const __m256i nl = _mm256_set1_epi8('\n'), r = _mm256_set1_epi8('\r');
	__m256i a, b;

	a = _mm256_loadu_si256((const __m256i *)(const void *)p);
	b = _mm256_loadu_si256((const __m256i *)(const void *)(p + 32));
	*lf =
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, nl)) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, nl))
		<< 32;
	*cr =
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(a, r)) |
	    (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(b, r))
		<< 32;
}
#endif

static inline unsigned
popcount64(uint64_t x)
{
	/* Without -mpopcnt the builtin may become a library call. */
	x = x - ((x >> 1) & 0x5555555555555555ULL);
	x = (x & 0x3333333333333333ULL) + ((x >> 2) & 0x3333333333333333ULL);
	x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0fULL;
	return (unsigned)((x * 0x0101010101010101ULL) >> 56);
}

/*
 * The run scanner of conv_run(), written once: each build below inlines it
 * with its own way of finding LF and CR and of counting bits. Returns where
 * the run of whole lines at P ends (see conv_run()) and adds the LFs in it
 * that do not follow a CR to *BARE.
 */
static inline __attribute__((always_inline)) const char *
scan_run(const char *p, const char *e, uint64_t *bare,
    void (*masks)(const char *, uint64_t *, uint64_t *), int hwpopcnt)
{
	/* The octet before P ends a line: it counts as an LF. */
	uint64_t lf, cr, lf1, cr1, lf2, hit, c_lf1 = 1, c_cr1 = 0, c_lf2 = 2;
	uint64_t lastmask = 0, b, n = 0;
	const char *q, *lastblk = p;
	char tail[64];
	int i;

	for (q = p; q < e; q += 64) {
		if (e - q >= 64)
			masks(q, &lf, &cr);
		else {
			/* Zeros are neither LF nor CR. */
			memset(tail, 0, sizeof(tail));
			memcpy(tail, q, (size_t)(e - q));
			masks(tail, &lf, &cr);
		}
		lf1 = lf << 1 | c_lf1;
		cr1 = cr << 1 | c_cr1;
		lf2 = lf << 2 | c_lf2;
		/* An LF right after a line start, or after CR after one. */
		hit = lf & (lf1 | (cr1 & lf2));
		if (hit != 0) {
			i = __builtin_ctzll(hit);
			/* Before "\r\n", the run ends at the CR. */
			if (!(lf1 >> i & 1))
				i--;
			b = i > 0 ? lf & ~cr1 & (~0ULL >> (64 - i)) : 0;
			*bare += n +
			    (hwpopcnt ? (uint64_t)__builtin_popcountll(b)
				      : popcount64(b));
			return q + i;
		}
		b = lf & ~cr1;
		n += hwpopcnt ? (uint64_t)__builtin_popcountll(b)
			      : popcount64(b);
		if (lf != 0) {
			lastmask = lf;
			lastblk = q;
		}
		c_lf1 = lf >> 63;
		c_cr1 = cr >> 63;
		c_lf2 = lf >> 62;
	}
	*bare += n;
	return lastmask == 0 ? p : lastblk + 64 - __builtin_clzll(lastmask);
}

static const char *
scan_run_sse2(const char *p, const char *e, uint64_t *bare)
{
	return scan_run(p, e, bare, masks64, 0);
}

#ifdef MBOX_AVX2
__attribute__((target("avx2,popcnt"))) static const char *
scan_run_avx2(const char *p, const char *e, uint64_t *bare)
{
	return scan_run(p, e, bare, masks64_avx2, 1);
}
#endif
#endif /* MBOX_SIMD */

/* Tells whether the AVX2 scanner may be used on this processor. */
static int
cpu_wide(void)
{
#ifdef MBOX_AVX2
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("popcnt");
#else
	return 0;
#endif
}

/*
 * Counts the LFs in P (N octets) that do not follow a CR; BEFORE is the
 * octet that precedes P[0]. Each of them becomes CRLF on the wire.
 */
static uint64_t
bare_lf(const char *p, size_t n, char before)
{
	const char *q, *s, *nl;
	uint64_t cnt = 0;
	size_t i = 0;
#ifdef MBOX_SIMD
	uint64_t lf, cr, carry = before == '\r';

	for (; n - i >= 64; i += 64) {
		masks64(p + i, &lf, &cr);
		cnt += popcount64(lf & ~(cr << 1 | carry));
		carry = cr >> 63;
	}
	if (i > 0)
		before = p[i - 1];
#endif
	/* What is left holds few lines: a header line holds one. */
	for (q = p + i, s = q;
	     (nl = memchr(q, '\n', n - (size_t)(q - p))) != NULL; q = nl + 1)
		if ((nl > s ? nl[-1] : before) != '\r')
			cnt++;
	return cnt;
}

static int
is_empty_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	    (n == 2 && p[0] == '\r' && p[1] == '\n');
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
casematch(const char *p, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] == '\0' || lower((unsigned char)p[i]) != word[i])
			return 0;
	return word[n] == '\0';
}

/*
 * Finds the field name of header line P (N octets): the octets before the
 * colon, which may be preceded by blanks. Only the first HDR_LOOK octets
 * are looked at. Returns the name's length, or 0 when P is no field.
 */
static size_t
hdr_name(const char *p, size_t n, size_t *colon)
{
	size_t i, len;

	if (n > HDR_LOOK)
		n = HDR_LOOK;
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
may_be_bookkeeping(char c)
{
	c |= 0x20;
	return c == 's' || c == 'x' || c == 'c';
}

/* Tells whether header line P is one of the mailbox's bookkeeping fields. */
static int
is_bookkeeping(const char *p, size_t n)
{
	size_t len, colon;

	if ((len = hdr_name(p, n, &colon)) == 0)
		return 0;
	return casematch(p, len, "status") || casematch(p, len, "x-status") ||
	    casematch(p, len, "x-keywords") || casematch(p, len, "x-uid") ||
	    casematch(p, len, "x-imap") || casematch(p, len, "x-imapbase") ||
	    casematch(p, len, "content-length");
}

static void
conv_init(struct conv *c)
{
	c->in_header = 1;
	c->drop = 0;
	c->line_drop = 0;
	c->bol = 1;
	c->last = '\n';
}

/*
 * The conversion of SPEC §2, the one routine behind both the wire size and
 * the octets sent. It takes the stored text of a message in order, in
 * pieces [p, p + n): within the header section one line per call, or, for
 * a line too long for the reader's buffer, a first piece of at least
 * HDR_LOOK octets and then the rest; after the header, pieces of any
 * length cut anywhere. The result does not depend on where the text is
 * cut. Each LF not preceded by CR becomes CRLF; bookkeeping fields and
 * their continuation lines are left out. Without a sink in O it only
 * counts. Returns 0, or -1 when O refused octets.
 */
static int
conv(struct conv *c, const char *p, size_t n, struct out *o)
{
	const char *e, *nl, *q, *s;
	uint64_t k;
	int one_line;

	if (n == 0)
		return 0;
	/* In the header every call holds one line or a piece of one. */
	one_line = c->in_header;
	if (c->bol && c->in_header) {
		if (is_empty_line(p, n)) {
			c->in_header = 0;
			c->drop = 0;
		} else if (p[0] != ' ' && p[0] != '\t') {
			c->drop =
			    may_be_bookkeeping(p[0]) && is_bookkeeping(p, n);
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
			k = bare_lf(p, n, c->last);
		c->last = p[n - 1];
		return out_count(o, n + k);
	}
	s = p;
	e = p + n;
	/*
	 * While the worst case (every octet an LF) fits both the batch and
	 * the promised count, convert straight into the batch: the same
	 * octets as below, without two calls of out_put() per line.
	 */
	while (o->err == 0 && p < e) {
		size_t len = (size_t)(e - p), room = (o->cap - o->len) / 2;
		uint64_t left = (o->limit - o->total) / 2;
		const char *end;
		char *w, *w0;

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
		end = p + len;
		w = w0 = o->buf + o->len;
		for (q = p; (nl = memchr(q, '\n', (size_t)(end - q))) != NULL;
		     q = nl + 1) {
			if ((nl > s ? nl[-1] : c->last) == '\r')
				continue;
			memcpy(w, p, (size_t)(nl - p));
			w += nl - p;
			*w++ = '\r';
			*w++ = '\n';
			p = nl + 1;
		}
		memcpy(w, p, (size_t)(end - p));
		w += end - p;
		p = end;
		o->len += (size_t)(w - w0);
		o->total += (uint64_t)(w - w0);
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

/*
 * Ends a message's text: the last line gets its CRLF when the file lacks
 * the final newline (a lone CR there stays data), and a message with no
 * octets at all becomes one empty line.
 */
static int
conv_end(struct conv *c, struct out *o)
{
	if (!c->bol && !c->line_drop && out_put(o, "\r\n", 2) == -1)
		return -1;
	if (o->total == 0)
		return out_put(o, "\r\n", 2);
	return 0;
}

/*
 * conv() for the index inside a body: counts the run of whole lines at P up
 * to the first empty line that starts in [p, e), or up to the last LF
 * before E when there is none, and returns the run's end (NULL when O
 * refused the octets). The empty line itself is left to the caller, who
 * must first know what follows it. Finding the run and counting it is one
 * pass over the octets; WIDE picks the AVX2 scanner (see cpu_wide()).
 */
static const char *
conv_run(struct conv *c, const char *p, const char *e, int wide, struct out *o)
{
	const char *end;
	uint64_t bare = 0;
#ifndef MBOX_SIMD
	const char *nl, *q;
#endif

	(void)wide;
#ifdef MBOX_SIMD
#ifdef MBOX_AVX2
	if (wide)
		end = scan_run_avx2(p, e, &bare);
	else
#endif
		end = scan_run_sse2(p, e, &bare);
#else
	for (q = end = p;
	     q < e && (nl = memchr(q, '\n', (size_t)(e - q))) != NULL;
	     q = end = nl + 1) {
		if (nl == q || (nl == q + 1 && q[0] == '\r'))
			break;
		if (nl[-1] != '\r')
			bare++;
	}
#endif
	if (end > p) {
		if (out_count(o, (uint64_t)(end - p) + bare) == -1)
			return NULL;
		c->last = '\n';
		c->bol = 1;
	}
	return end;
}

/*
 * Finds the LFs of a run of short lines: the LF mask of one 64-octet block
 * serves every line that ends in it, where memchr() would be called once
 * per line.
 */
struct lf_cursor {
	const char *blk; /* the block the mask describes, or NULL */
	uint64_t mask;	 /* its LFs */
};

static void
lf_cursor_init(struct lf_cursor *lc)
{
	lc->blk = NULL;
	lc->mask = 0;
}

/* Returns the first LF in [q, e), or NULL; Q only moves forward. */
static inline const char *
lf_next(struct lf_cursor *lc, const char *q, const char *e)
{
#ifdef MBOX_SIMD
	uint64_t m, cr;

	for (;;) {
		if (lc->blk != NULL && q < lc->blk + 64) {
			m = lc->mask & (~0ULL << (q - lc->blk));
			if (m != 0)
				return lc->blk + __builtin_ctzll(m);
			q = lc->blk + 64;
		}
		if (e - q < 64)
			break;
		masks64(q, &lc->mask, &cr);
		lc->blk = q;
	}
	if (q >= e)
		return NULL;
#else
	(void)lc;
#endif
	return memchr(q, '\n', (size_t)(e - q));
}

/*
 * conv() for the index inside the header section: counts the whole lines
 * at P up to E whose fate needs no further look (kept fields and their
 * continuations, bookkeeping fields and theirs, which are dropped), and
 * returns where it stopped: before an empty or incomplete line, or before
 * a field the index itself must read. That is Content-Length, and with
 * FIRST (the first message, which may be the pseudo-message) also every
 * field that may be X-IMAP, X-IMAPbase or Subject.
 */
static const char *
conv_header_run(
    struct conv *c, const char *p, const char *e, int first, struct out *o)
{
	const char *nl, *q;
	struct lf_cursor lc;
	uint64_t n = 0;
	int ch;

	lf_cursor_init(&lc);
	for (q = p; q < e; q = nl + 1) {
		ch = q[0] | 0x20;
		if (q[0] == '\r' || q[0] == '\n' || ch == 'c' ||
		    (first && (ch == 's' || ch == 'x')) ||
		    (nl = lf_next(&lc, q, e)) == NULL)
			break;
		/* A continuation line goes with the field above it. */
		if (q[0] != ' ' && q[0] != '\t')
			c->drop = may_be_bookkeeping(q[0]) &&
			    is_bookkeeping(q, (size_t)(nl - q) + 1);
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
		if (lower((unsigned char)p[0]) == list[0] &&
		    lower((unsigned char)p[1]) == list[1] &&
		    lower((unsigned char)p[2]) == list[2])
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
 * them go to conv() whole.
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
	int wide;    /* use the AVX2 scanner */
	int in_long; /* pos is inside a line longer than the buffer */
	char *look;  /* CL_LOOK + 1 octets for confirming Content-Length */
	XXH3_state_t *xs;
	size_t alloc; /* entries allocated in mb->msg */

	int cur;	 /* a message is open: mb->msg[mb->nmsg - 1] */
	uint64_t hashed; /* the open message is hashed up to here */
	int hstarted;	 /* ... by the streaming state xs */
	XXH3_state_t *cs; /* the open message's current chunk, when streamed */
	uint64_t cfill;	  /* octets in it */
	size_t chunk0;	  /* the open message's first entry in mb->chunk */
	size_t calloc;	  /* entries allocated in mb->chunk */
	struct conv cv;
	struct out cnt;

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
		if ((p = realloc(mb->chunk, alloc * sizeof(*mb->chunk))) == NULL)
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
		n = MBOX_CHUNK - ix->cfill < len ? MBOX_CHUNK - ix->cfill : len;
		(void)XXH3_64bits_update(ix->cs, p, (size_t)n);
		ix->cfill += n;
		if (ix->cfill == MBOX_CHUNK && ix_chunk_end(ix) == -1)
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
	struct mbox_msg *m;

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
		if (next - m->start > SEND_WHOLE) {
			if (ix->cfill > 0 && ix_chunk_end(ix) == -1)
				return -1;
			m->flags |= MBOX_CHUNKED;
			m->chunk0 = (uint32_t)ix->chunk0;
		} else
			ix->mb->nchunk = ix->chunk0;
	}
	m->end = end;
	if (conv_end(&ix->cv, &ix->cnt) == -1)
		return -1;
	m->wire = ix->cnt.total;
	if (ix->mb->nmsg == 1 && ix->px_imap && ix->px_subject) {
		m->flags |= MBOX_PSEUDO;
		ix->mb->first = 1;
	}
	ix->cur = 0;
	return 0;
}

static int
ix_open(struct ix *ix, uint64_t start, uint64_t body)
{
	struct mbox *mb = ix->mb;
	struct mbox_msg *m;
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
	conv_init(&ix->cv);
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
	size_t got;
	ssize_t r;

	if (off >= ix->size)
		return 0;
	if (len > ix->size - off)
		len = (size_t)(ix->size - off);
	if (off >= ix->base && off + len <= ix->base + ix->fill) {
		*out = ix->buf + (off - ix->base);
		return (ssize_t)len;
	}
	for (got = 0; got < len; got += (size_t)r) {
		r = pread(
		    ix->fd, ix->look + got, len - got, (off_t)(off + got));
		if (r == -1) {
			if (errno == EINTR) {
				r = 0;
				continue;
			}
			return -1;
		}
		if (r == 0)
			break;
	}
	*out = ix->look;
	return (ssize_t)got;
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
	c = lower((unsigned char)p[0]);
	if (c != 'c' && ix->mb->nmsg != 1)
		return;
	if ((len = hdr_name(p, n, &colon)) == 0)
		return;
	if (casematch(p, len, "content-length")) {
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
	} else if (casematch(p, len, "x-imap") ||
	    casematch(p, len, "x-imapbase"))
		ix->px_imap = 1;
	else if (casematch(p, len, "subject") &&
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
	return conv(&ix->cv, ix->pend_line, ix->pend_len, &ix->cnt);
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
			return conv(&ix->cv, p, n, &ix->cnt);
		/* The body Content-Length gave is over. */
		ix->cl_mode = 0;
		ix->sep_ok = off == ix->cl_end;
		ix->text_end = off;
	}
	empty = whole && is_empty_line(p, n);
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
				return conv(&ix->cv, p, n, &ix->cnt);
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
	if (ix->cv.in_header && whole && may_be_bookkeeping(p[0]))
		ix_header(ix, p, n);
	return conv(&ix->cv, p, n, &ix->cnt);
}

/*
 * Where nothing is held back, hands runs of whole lines to conv() at once:
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
		q = conv_header_run(&ix->cv, p, e, ix->mb->nmsg == 1, &ix->cnt);
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
		if (conv(&ix->cv, p, (size_t)(q - p), &ix->cnt) == -1)
			return -1;
	} else
		q = conv_run(&ix->cv, p, e, ix->wide, &ix->cnt);
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
				    conv(&ix->cv, p, avail, &ix->cnt) == -1)
					return -1;
				ix->pos = ix->fill;
				if (ix_fill(ix) == -1)
					return -1;
				continue;
			}
			ix->in_long = 0;
			if (ix->cur && conv(&ix->cv, p, avail, &ix->cnt) == -1)
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
mbox_index(struct mbox *mb, int fd)
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
	ix.wide = cpu_wide();
	ix.sep_ok = 1; /* the first line of the file may be a separator */
	ix.cnt.limit = UINT64_MAX;
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

struct mbox_msg *
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

/*
 * Reads up to LEN octets at OFF, inside G's begin and end when G is given;
 * a short file is a changed file.
 */
static ssize_t
raw_read(int fd, char *buf, size_t len, uint64_t off, const struct mbox_guard *g)
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
 * (its chunk hashes), each MBOX_CHUNK of them is read whole into BUF and
 * checked before any of it is handed on: a change is caught before one
 * octet of the changed chunk leaves.
 */
struct src {
	int fd;
	const struct mbox_guard *g;
	const uint64_t *chunk;
	uint64_t start, to;
	char *buf;    /* MBOX_CHUNK octets, with CHUNK */
	uint64_t k;   /* the chunk in buf; UINT64_MAX: none */
};

/*
 * Reads chunk K of S, [C0, C0 + CLEN), whole into DST and checks it against
 * its hash. Returns 0, or -1 with errno (ESTALE: changed or cut short).
 */
static int
read_chunk(const struct src *s, char *dst, uint64_t k, uint64_t c0,
    size_t clen)
{
	size_t got;
	ssize_t r;

	for (got = 0; got < clen; got += (size_t)r)
		if ((r = raw_read(s->fd, dst + got, clen - got, c0 + got,
			 s->g)) == -1)
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
	k = (off - s->start) / MBOX_CHUNK;
	c0 = s->start + k * MBOX_CHUNK;
	clen = (size_t)(s->to - c0 < MBOX_CHUNK ? s->to - c0 : MBOX_CHUNK);
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
stream(struct src *sr, const struct mbox_msg *m, uint64_t to, char *buf,
    size_t cap, XXH3_state_t *xs, struct out *o)
{
	struct conv cv;
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
	conv_init(&cv);
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
				if (conv(&cv, buf + pos, len, o) == -1)
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
	return conv_end(&cv, o);
}

/*
 * Converts the whole text TEXT (LEN octets) into O: the header line by
 * line, the body in one piece, as stream() hands them over.
 */
static int
conv_whole(const char *text, size_t len, struct out *o)
{
	struct conv cv;
	const char *nl;
	size_t pos, n;

	conv_init(&cv);
	for (pos = 0; pos < len; pos += n) {
		n = len - pos;
		if (cv.in_header &&
		    (nl = memchr(text + pos, '\n', n)) != NULL)
			n = (size_t)(nl - (text + pos)) + 1;
		if (conv(&cv, text + pos, n, o) == -1)
			return -1;
	}
	return conv_end(&cv, o);
}

/*
 * Sends message M, whose stored octets [m->start, to) fit in SEND_WHOLE:
 * one read, checked against the hash before the first octet is written.
 */
static int
send_whole(int fd, const struct mbox_msg *m, uint64_t to,
    const struct mbox_sink *sink, const struct mbox_guard *g)
{
	struct out o;
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
	o.buf = malloc(o.cap);
	if (buf == NULL || o.buf == NULL)
		goto out;
	for (got = 0; got < len; got += (size_t)r)
		if ((r = raw_read(fd, buf + got, len - got, m->start + got, g)) ==
		    -1) {
			saved = errno;
			goto out;
		}
	if (XXH3_64bits(buf, len) != m->hash) {
		saved = ESTALE;
		goto out;
	}
	if (conv_whole(buf + (m->body - m->start), (size_t)(m->end - m->body),
		&o) == -1) {
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

/*
 * Sends message M, whose stored octets are [m->start, to) of FD, to SINK,
 * reading each octet once. A message larger than SEND_WHOLE is hashed as
 * it streams; with its chunk hashes (CHUNK, from the index) each chunk is
 * checked before any of it is sent, and in any case its last batch is held
 * back until the whole hash matches: a message that changed meanwhile is
 * never sent whole.
 */
static int
send_msg(int fd, const struct mbox_msg *m, uint64_t to,
    const struct mbox_sink *sink, const struct mbox_guard *g,
    const uint64_t *chunk)
{
	XXH3_state_t *xs;
	struct src sr;
	struct out o;
	char *buf;
	int rc, saved;

	if (m->start > m->body || m->body > m->end || m->end > to) {
		errno = EINVAL;
		return -1;
	}
	if (to - m->start <= SEND_WHOLE)
		return send_whole(fd, m, to, sink, g);
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
	o.buf = malloc(o.cap);
	if (chunk != NULL)
		sr.buf = malloc(MBOX_CHUNK);
	if ((chunk == NULL && xs == NULL) || buf == NULL || o.buf == NULL ||
	    (chunk != NULL && sr.buf == NULL))
		goto out;
	if (stream(&sr, m, to, buf, SEND_BUFSZ, xs, &o) == -1) {
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
mbox_send_guarded(const struct mbox *mb, size_t n,
    const struct mbox_sink *sink, const struct mbox_guard *g)
{
	const struct mbox_msg *m;
	const uint64_t *chunk;
	uint64_t to;

	if ((m = mbox_get(mb, n)) == NULL) {
		errno = ENOENT;
		return -1;
	}
	to = mbox_stored_end(mb, (size_t)(m - mb->msg));
	/* Its chunk hashes, when the index has all of them. */
	chunk = NULL;
	if ((m->flags & MBOX_CHUNKED) && to > m->start &&
	    m->chunk0 <= mb->nchunk &&
	    (to - m->start + MBOX_CHUNK - 1) / MBOX_CHUNK <=
		mb->nchunk - m->chunk0)
		chunk = mb->chunk + m->chunk0;
	return send_msg(mb->fd, m, to, sink, g, chunk);
}

int
mbox_send(const struct mbox *mb, size_t n, const struct mbox_sink *sink)
{
	return mbox_send_guarded(mb, n, sink, NULL);
}

int
mbox_index_file(int fd, struct mbox_msg *m)
{
	XXH3_state_t *xs;
	struct stat st;
	struct src sr;
	struct out o;
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
	/* Counting only: the same conversion that mbox_send_file() writes. */
	memset(&o, 0, sizeof(o));
	o.limit = UINT64_MAX;
	rc = -1;
	saved = ENOMEM;
	xs = XXH3_createState();
	buf = malloc(SEND_BUFSZ);
	if (xs == NULL || buf == NULL)
		goto out;
	memset(&sr, 0, sizeof(sr));
	sr.fd = fd;
	if (stream(&sr, m, m->end, buf, SEND_BUFSZ, xs, &o) == -1) {
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
mbox_send_file(int fd, const struct mbox_msg *m, const struct mbox_sink *sink)
{
	struct stat st;

	/* A file that grew or shrank is a changed file. */
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != m->end) {
		errno = ESTALE;
		return -1;
	}
	return send_msg(fd, m, m->end, sink, NULL, NULL);
}
