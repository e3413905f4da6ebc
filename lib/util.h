/*
 * util: checked number parsing, bounded string copies, path templates, and
 * the few system-call helpers every module shares (the clock, whole reads
 * and writes, closing on a failure path). Nothing here prints or exits;
 * only the path builders (util_expand(), util_path_join()) allocate, and
 * their results are the caller's to free.
 */
#ifndef POP2_UTIL_H
#define POP2_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The largest message number a client may name (RFC 937 numbers are 31-bit). */
#define UTIL_MSGNO_MAX 2147483647UL

/*
 * Parses a message number from S (LEN octets, not NUL-terminated): ASCII
 * digits only, leading zeros allowed, value 1 to UTIL_MSGNO_MAX. Returns 0
 * and stores the value in *OUT, or -1 with errno EINVAL (empty, non-digit)
 * or ERANGE (zero or too large); *OUT is untouched on failure.
 */
int util_parse_msgno(const char *s, size_t len, uint32_t *out);

/*
 * Parses a whole NUL-terminated decimal string S into [MIN, MAX]: digits
 * only, no sign, no spaces. Returns 0 and stores *OUT, or -1 with errno
 * EINVAL or ERANGE.
 */
int util_parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out);

/* util_parse_ulong() for unsigned long long, which has 64 bits or more. */
int util_parse_ull(const char *s, unsigned long long min,
    unsigned long long max, unsigned long long *out);

/*
 * Copies SRC into DST of SIZE octets, always NUL-terminating when SIZE > 0.
 * Returns strlen(SRC); a result >= SIZE means the copy was truncated.
 */
size_t util_strlcpy(char *dst, const char *src, size_t size);

/*
 * Checks a path template: %u, %h and %% are the only escapes. Returns 0, or
 * -1 with errno EINVAL.
 */
int util_template_check(const char *tmpl);

/*
 * Expands TMPL into a string of its own length: %u becomes USER, %h
 * becomes HOME, %% a single %. Returns 0 with *OUT the result, which the
 * caller frees, or -1 with errno EINVAL (bad escape, or %h asked for while
 * HOME is empty) or ENOMEM, *OUT then NULL.
 */
int util_expand(
    char **out, const char *tmpl, const char *user, const char *home);

/*
 * Joins DIR and NAME with one '/' (none added when DIR ends in one; an
 * empty DIR gives "/NAME", so callers pass a directory they have named).
 * Returns 0 with *OUT the result, which the caller frees, or -1 with errno
 * ENOMEM, *OUT then NULL.
 */
int util_path_join(char **out, const char *dir, const char *name);

/* Compares LEN octets of A and B in time independent of their contents. */
int util_consttime_equal(const void *a, const void *b, size_t len);

/* Overwrites LEN octets at P in a way the compiler may not remove. */
void util_wipe(void *p, size_t len);

/*
 * Closes FD without letting close(2) overwrite the errno being reported.
 * Returns -1, so that a failure path can end in
 * `return util_close_keep_errno(fd);`.
 */
int util_close_keep_errno(int fd);

/* C with an ASCII capital letter made small; the locale plays no part. */
static inline int
util_ascii_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/*
 * Whether the first N octets of A and B are equal when ASCII letters are
 * folded to one case, as strncasecmp() in the C locale: the comparison
 * ends early where both strings end. Protocol words and folder names are
 * ASCII; the locale must not decide what matches them.
 */
bool util_ascii_caseeq(const char *a, const char *b, size_t n);

/* The CLOCK_MONOTONIC time in milliseconds, for deadlines. */
int64_t util_now_ms(void);

/*
 * Sleeps MS milliseconds (not at all when MS <= 0). Returns 0, or -1 with
 * errno EINTR when a signal ended the sleep early, so that the caller can
 * look at the flag its handler set.
 */
int util_sleep_ms(int64_t ms);

/*
 * Random bits for names and back-off, where nothing depends on their
 * quality: the kernel's when it has them at once, else the clock and the
 * PID, mixed. Keeps errno.
 */
uint64_t util_random64(void);

/*
 * Reads LEN octets of FD at offset OFF into BUF, going on after EINTR and
 * short reads. Returns the count, which is less than LEN only where the
 * file ends, or -1 with errno.
 */
ssize_t util_pread_full(int fd, void *buf, size_t len, off_t off);

/*
 * Writes LEN octets of BUF to FD at offset OFF, going on after EINTR and
 * short writes. Returns 0, or -1 with errno (EIO when the file takes no
 * more octets without saying why).
 */
int util_pwrite_full(int fd, const void *buf, size_t len, off_t off);

#endif
