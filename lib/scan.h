/*
 * scan: the octet scanners behind the wire conversion (wire.c).
 *
 * Converting a message to wire octets (SPEC §2) comes down to finding the
 * LFs of the stored text and the ones among them that no CR precedes (each
 * becomes CRLF). Doing that 16, 32 or 64 octets at a time is what keeps
 * the index near the speed of wc -l and RETR near the speed of cat. The
 * ways of doing it are kept apart, each a table of the same functions:
 * "scalar" (memchr and plain loops, any processor), "sse2" and "avx2"
 * (x86-64; AVX2 only where the processor has it). They must give the same
 * answers for every input; test/check_wire runs every one of them over the
 * same inputs and compares them octet for octet.
 *
 * No function here keeps state between calls or makes a system call.
 */
#ifndef POP2_SCAN_H
#define POP2_SCAN_H

#include <stddef.h>
#include <stdint.h>

/*
 * Octets past the end of its output that scan_impl.crlf() may write
 * (garbage, later overwritten or ignored).
 */
#define SCAN_SLACK 64

/* Where lf_next() is: which 64 octets it last looked at. */
struct scan_cursor {
	const char *blk; /* the block the mask describes, or NULL */
	uint64_t mask;	 /* its LFs */
};

struct scan_impl {
	const char *name; /* "scalar", "sse2", "avx2" */

	/* Returns 1 when this processor can run these functions, else 0. */
	int (*usable)(void);

	/*
	 * Finds the run of whole lines at P that ends before the first
	 * empty line ("\n" or "\r\n") starting in [P, E), or at the last LF
	 * before E when there is none; the octet before P ends a line.
	 * Returns the run's end (P when the run is empty) and adds to *BARE
	 * the LFs in the run that do not follow a CR.
	 */
	const char *(*run)(const char *p, const char *e, uint64_t *bare);

	/*
	 * Counts the LFs in P (N octets) that do not follow a CR; BEFORE is
	 * the octet that precedes P[0].
	 */
	uint64_t (*bare_lf)(const char *p, size_t n, char before);

	/*
	 * The first LF in [Q, E), or NULL. C must be zeroed before the first
	 * call for a buffer, and Q may only move forward from call to call.
	 */
	const char *(*lf_next)(
	    struct scan_cursor *c, const char *q, const char *e);

	/*
	 * Copies P (N octets) to DST with a CR inserted before every LF that
	 * does not follow a CR (BEFORE precedes P[0]). Returns the octets
	 * written, N plus those LFs. DST must have room for 2 N plus
	 * SCAN_SLACK octets, and must not overlap P.
	 */
	size_t (*crlf)(char *dst, const char *p, size_t n, char before);
};

/*
 * Every implementation built into this program, scalar first, then in
 * increasing width; NULL-terminated. One that is not usable() here must
 * not be called.
 */
extern const struct scan_impl *const scan_impls[];

/* The widest implementation this processor can run. */
const struct scan_impl *scan_best(void);

/* The implementation called NAME, or NULL when none is built in. */
const struct scan_impl *scan_find(const char *name);

#endif
