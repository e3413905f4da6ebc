/*
 * util: checked number parsing, bounded string copies and path templates.
 * Nothing here allocates, prints or exits.
 */
#ifndef POP2_UTIL_H
#define POP2_UTIL_H

#include <stddef.h>
#include <stdint.h>

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
int util_parse_ulong(const char *s, unsigned long min, unsigned long max,
    unsigned long *out);

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
 * Expands TMPL into DST of SIZE octets: %u becomes USER, %h becomes HOME,
 * %% a single %. Returns 0, or -1 with errno EINVAL (bad escape, or %h
 * asked for while HOME is empty) or ENAMETOOLONG (DST too small; DST then
 * holds an empty string).
 */
int util_expand(char *dst, size_t size, const char *tmpl, const char *user,
    const char *home);

/* Compares LEN octets of A and B in time independent of their contents. */
int util_consttime_equal(const void *a, const void *b, size_t len);

/* Overwrites LEN octets at P in a way the compiler may not remove. */
void util_wipe(void *p, size_t len);

/* Closes FD without letting close(2) overwrite the errno being reported. */
void util_close_keep_errno(int fd);

#endif
