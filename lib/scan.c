/*
 * scan: the scalar, SSE2 and AVX2 scanners (scan.h).
 *
 * The vector ones are written once, as inline templates that each build
 * instantiates with its own way of finding LF and CR in 64 octets, of
 * copying 64 octets and of counting bits; the scalar one is written
 * plainly with memchr(), and is the reference the others are compared
 * with (test/check_wire).
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <string.h>

#include "scan.h"

#if defined(__SSE2__) && !defined(SCAN_NO_SIMD)
#define SCAN_SSE2 1
#include <emmintrin.h>
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define SCAN_AVX2 1
#include <immintrin.h>
#endif
#endif

/* The scalar scanners. */

static int
scalar_usable(void)
{
	return 1;
}

static const char *
scalar_run(const char *p, const char *e, uint64_t *bare)
{
	const char *end, *nl, *q;

	for (q = end = p;
	     q < e && (nl = memchr(q, '\n', (size_t)(e - q))) != NULL;
	     q = end = nl + 1) {
		if (nl == q || (nl == q + 1 && q[0] == '\r'))
			break;
		if (nl[-1] != '\r')
			++*bare;
	}
	return end;
}

static uint64_t
scalar_bare_lf(const char *p, size_t n, char before)
{
	const char *nl, *q;
	uint64_t cnt = 0;

	for (q = p; (nl = memchr(q, '\n', n - (size_t)(q - p))) != NULL;
	     q = nl + 1)
		if ((nl > p ? nl[-1] : before) != '\r')
			cnt++;
	return cnt;
}

static const char *
scalar_lf_next(struct scan_cursor *c, const char *q, const char *e)
{
	(void)c;
	return q < e ? memchr(q, '\n', (size_t)(e - q)) : NULL;
}

static size_t
scalar_crlf(char *dst, const char *p, size_t n, char before)
{
	const char *e = p + n, *nl, *q, *s = p;
	char *w = dst;

	for (q = p; (nl = memchr(q, '\n', (size_t)(e - q))) != NULL;
	     q = nl + 1) {
		if ((nl > s ? nl[-1] : before) == '\r')
			continue;
		memcpy(w, p, (size_t)(nl - p));
		w += nl - p;
		*w++ = '\r';
		*w++ = '\n';
		p = nl + 1;
	}
	memcpy(w, p, (size_t)(e - p));
	w += e - p;
	return (size_t)(w - dst);
}

static const struct scan_impl scan_scalar = {
	"scalar",
	scalar_usable,
	scalar_run,
	scalar_bare_lf,
	scalar_lf_next,
	scalar_crlf,
};

#ifdef SCAN_SSE2
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
 * The run scanner, written once: each build inlines it with its own MASKS
 * (bit i of *LF, *CR set when P[i] is LF, CR, for 64 octets) and bit
 * count.
 */
static inline __attribute__((always_inline)) const char *
t_run(const char *p, const char *e, uint64_t *bare,
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

static inline __attribute__((always_inline)) uint64_t
t_bare_lf(const char *p, size_t n, char before,
    void (*masks)(const char *, uint64_t *, uint64_t *), int hwpopcnt)
{
	uint64_t lf, cr, b, cnt = 0, carry = before == '\r';
	size_t i;

	for (i = 0; n - i >= 64; i += 64) {
		masks(p + i, &lf, &cr);
		b = lf & ~(cr << 1 | carry);
		cnt += hwpopcnt ? (uint64_t)__builtin_popcountll(b)
				: popcount64(b);
		carry = cr >> 63;
	}
	/* What is left holds few lines: a header line holds one. */
	return cnt + scalar_bare_lf(p + i, n - i, i > 0 ? p[i - 1] : before);
}

static inline __attribute__((always_inline)) const char *
t_lf_next(struct scan_cursor *c, const char *q, const char *e,
    void (*masks)(const char *, uint64_t *, uint64_t *))
{
	uint64_t m, cr;

	for (;;) {
		if (c->blk != NULL && q < c->blk + 64) {
			m = c->mask & (~0ULL << (q - c->blk));
			if (m != 0)
				return c->blk + __builtin_ctzll(m);
			q = c->blk + 64;
		}
		if (e - q < 64)
			break;
		masks(q, &c->mask, &cr);
		c->blk = q;
	}
	return q < e ? memchr(q, '\n', (size_t)(e - q)) : NULL;
}

/*
 * The converter, a vector of WIDTH octets (16 or 32) at a time: the vector
 * is stored where it belongs, and at each LF that needs a CR the CR is
 * stored over the LF's place and the rest of the vector again one octet
 * further on, read afresh from the input. A vector without such an LF, the
 * common case, costs one load and one store. A copy reads up to WIDTH - 1
 * octets past its vector, so vectors are taken while 2 WIDTH octets
 * remain; the rest goes the scalar way.
 */
static inline __attribute__((always_inline)) size_t
t_crlf(char *dst, const char *p, size_t n, char before, unsigned width,
    uint32_t (*masks)(const char *, uint32_t *),
    void (*copy)(char *, const char *))
{
	uint32_t lf, cr, bare, carry = before == '\r';
	char *w = dst;
	size_t i;
	unsigned j, from;

	for (i = 0; n - i >= 2 * (size_t)width; i += width) {
		lf = masks(p + i, &cr);
		bare = lf & ~(cr << 1 | carry);
		carry = cr >> (width - 1);
		copy(w, p + i);
		for (from = 0; bare != 0; bare &= bare - 1) {
			j = (unsigned)__builtin_ctz(bare);
			w += j - from;
			*w++ = '\r';
			from = j;
			copy(w, p + i + from);
		}
		w += width - from;
	}
	return (size_t)(w - dst) +
	    scalar_crlf(w, p + i, n - i, i > 0 ? p[i - 1] : before);
}

static int
sse2_usable(void)
{
	return 1;
}

static inline void
sse2_masks(const char *p, uint64_t *lf, uint64_t *cr)
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

/* Bit i of the result (of *CR) set when P[i] is LF (CR), for 16 octets. */
static inline uint32_t
sse2_masks16(const char *p, uint32_t *cr)
{
	__m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);

	*cr =
	    (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_set1_epi8('\r')));
	return (uint32_t)_mm_movemask_epi8(
	    _mm_cmpeq_epi8(a, _mm_set1_epi8('\n')));
}

static inline void
sse2_copy16(char *dst, const char *p)
{
	_mm_storeu_si128((__m128i *)(void *)dst,
	    _mm_loadu_si128((const __m128i *)(const void *)p));
}

static const char *
sse2_run(const char *p, const char *e, uint64_t *bare)
{
	return t_run(p, e, bare, sse2_masks, 0);
}

static uint64_t
sse2_bare_lf(const char *p, size_t n, char before)
{
	return t_bare_lf(p, n, before, sse2_masks, 0);
}

static const char *
sse2_lf_next(struct scan_cursor *c, const char *q, const char *e)
{
	return t_lf_next(c, q, e, sse2_masks);
}

static size_t
sse2_crlf(char *dst, const char *p, size_t n, char before)
{
	return t_crlf(dst, p, n, before, 16, sse2_masks16, sse2_copy16);
}

static const struct scan_impl scan_sse2 = {
	"sse2",
	sse2_usable,
	sse2_run,
	sse2_bare_lf,
	sse2_lf_next,
	sse2_crlf,
};
#endif /* SCAN_SSE2 */

#ifdef SCAN_AVX2
static int
avx2_usable(void)
{
	__builtin_cpu_init();
	return __builtin_cpu_supports("avx2") &&
	    __builtin_cpu_supports("popcnt");
}

__attribute__((target("avx2"))) static inline void
avx2_masks(const char *p, uint64_t *lf, uint64_t *cr)
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

/* Bit i of the result (of *CR) set when P[i] is LF (CR), for 32 octets. */
__attribute__((target("avx2"))) static inline uint32_t
avx2_masks32(const char *p, uint32_t *cr)
{
	__m256i a = _mm256_loadu_si256((const __m256i *)(const void *)p);

	*cr = (uint32_t)_mm256_movemask_epi8(
	    _mm256_cmpeq_epi8(a, _mm256_set1_epi8('\r')));
	return (uint32_t)_mm256_movemask_epi8(
	    _mm256_cmpeq_epi8(a, _mm256_set1_epi8('\n')));
}

__attribute__((target("avx2"))) static inline void
avx2_copy32(char *dst, const char *p)
{
	_mm256_storeu_si256((__m256i *)(void *)dst,
	    _mm256_loadu_si256((const __m256i *)(const void *)p));
}

__attribute__((target("avx2,popcnt"))) static const char *
avx2_run(const char *p, const char *e, uint64_t *bare)
{
	return t_run(p, e, bare, avx2_masks, 1);
}

__attribute__((target("avx2,popcnt"))) static uint64_t
avx2_bare_lf(const char *p, size_t n, char before)
{
	return t_bare_lf(p, n, before, avx2_masks, 1);
}

__attribute__((target("avx2"))) static const char *
avx2_lf_next(struct scan_cursor *c, const char *q, const char *e)
{
	return t_lf_next(c, q, e, avx2_masks);
}

__attribute__((target("avx2"))) static size_t
avx2_crlf(char *dst, const char *p, size_t n, char before)
{
	return t_crlf(dst, p, n, before, 32, avx2_masks32, avx2_copy32);
}

static const struct scan_impl scan_avx2 = {
	"avx2",
	avx2_usable,
	avx2_run,
	avx2_bare_lf,
	avx2_lf_next,
	avx2_crlf,
};
#endif /* SCAN_AVX2 */

const struct scan_impl *const scan_impls[] = {
	&scan_scalar,
#ifdef SCAN_SSE2
	&scan_sse2,
#endif
#ifdef SCAN_AVX2
	&scan_avx2,
#endif
	NULL,
};

const struct scan_impl *
scan_best(void)
{
	const struct scan_impl *const *pp, *best = &scan_scalar;

	for (pp = scan_impls; *pp != NULL; pp++)
		if ((*pp)->usable())
			best = *pp;
	return best;
}

const struct scan_impl *
scan_find(const char *name)
{
	const struct scan_impl *const *pp;

	for (pp = scan_impls; *pp != NULL; pp++)
		if (strcmp((*pp)->name, name) == 0)
			return *pp;
	return NULL;
}
