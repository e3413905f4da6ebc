#include "config.h"

#include <sys/random.h>

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
util_parse_msgno(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9') {
			errno = EINVAL;
			return -1;
		}
		/* Saturate instead of wrapping so that huge numbers stay huge. */
		if (v <= UTIL_MSGNO_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v == 0 || v > UTIL_MSGNO_MAX) {
		errno = ERANGE;
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}

int
util_parse_ull(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *out)
{
	unsigned long long v = 0;
	int overflow = 0;

	if (*s == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (; *s != '\0'; s++) {
		unsigned long long d;

		if (*s < '0' || *s > '9') {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned long long)(*s - '0');
		if (v > (~0ULL - d) / 10)
			overflow = 1;
		else
			v = v * 10 + d;
	}
	if (overflow || v < min || v > max) {
		errno = ERANGE;
		return -1;
	}
	*out = v;
	return 0;
}

int
util_parse_ulong(
    const char *s, unsigned long min, unsigned long max, unsigned long *out)
{
	unsigned long long v;

	if (util_parse_ull(s, min, max, &v) == -1)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

size_t
util_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size > 0) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

int
util_template_check(const char *tmpl)
{
	for (; *tmpl != '\0'; tmpl++) {
		if (*tmpl != '%')
			continue;
		tmpl++;
		if (*tmpl != 'u' && *tmpl != 'h' && *tmpl != '%') {
			errno = EINVAL;
			return -1;
		}
	}
	return 0;
}

/*
 * The octets TMPL expands to for USER and HOME, without the NUL; -1 with
 * errno EINVAL for a bad escape or a %h with HOME empty.
 */
static ssize_t
expanded_length(const char *tmpl, size_t user_len, const char *home)
{
	size_t len = 0, piece;

	for (; *tmpl != '\0'; tmpl++) {
		piece = 1;
		if (*tmpl == '%') {
			tmpl++;
			if (*tmpl == 'u') {
				piece = user_len;
			} else if (*tmpl == 'h' && *home != '\0') {
				piece = strlen(home);
			} else if (*tmpl != '%') {
				errno = EINVAL;
				return -1;
			}
		}
		if (piece > (size_t)SSIZE_MAX - 1 - len) {
			errno = ENOMEM;
			return -1;
		}
		len += piece;
	}
	return (ssize_t)len;
}

int
util_expand(char **out, const char *tmpl, const char *user, const char *home)
{
	size_t user_len = strlen(user), home_len = strlen(home);
	ssize_t len = expanded_length(tmpl, user_len, home);
	char *dst, *p;

	*out = NULL;
	if (len == -1 || (dst = malloc((size_t)len + 1)) == NULL)
		return -1;
	for (p = dst; *tmpl != '\0'; tmpl++) {
		if (*tmpl != '%') {
			*p++ = *tmpl;
		} else if (*++tmpl == 'u') {
			memcpy(p, user, user_len);
			p += user_len;
		} else if (*tmpl == 'h') {
			memcpy(p, home, home_len);
			p += home_len;
		} else {
			*p++ = '%';
		}
	}
	*p = '\0';
	*out = dst;
	return 0;
}

int
util_path_join(char **out, const char *dir, const char *name)
{
	size_t dlen = strlen(dir), nlen = strlen(name);
	bool slash = dlen == 0 || dir[dlen - 1] != '/';
	char *p;

	*out = NULL;
	if (nlen > SIZE_MAX - 2 - dlen) {
		errno = ENOMEM;
		return -1;
	}
	if ((p = malloc(dlen + slash + nlen + 1)) == NULL)
		return -1;
	memcpy(p, dir, dlen);
	if (slash)
		p[dlen] = '/';
	memcpy(p + dlen + slash, name, nlen + 1);
	*out = p;
	return 0;
}

int
util_consttime_equal(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *pa = a, *pb = b;
	unsigned char diff = 0;
	size_t i;

	for (i = 0; i < len; i++)
		diff |= pa[i] ^ pb[i];
	return diff == 0;
}

void
util_wipe(void *p, size_t len)
{
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, len);
#else
	volatile unsigned char *v = p;

	while (len-- > 0)
		*v++ = 0;
#endif
}

int
util_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
	return -1;
}

bool
util_ascii_caseeq(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (util_ascii_lower((unsigned char)a[i]) !=
		    util_ascii_lower((unsigned char)b[i]))
			return false;
		if (a[i] == '\0')
			break;
	}
	return true;
}

int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
util_sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	return nanosleep(&ts, NULL);
}

uint64_t
util_random64(void)
{
	struct timespec ts;
	uint64_t r;
	int saved = errno;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    ((uint64_t)getpid() << 44);
		/* splitmix64's finalizer: neighbouring inputs differ everywhere */
		r ^= r >> 30;
		r *= 0xbf58476d1ce4e5b9ULL;
		r ^= r >> 27;
		r *= 0x94d049bb133111ebULL;
		r ^= r >> 31;
	}
	errno = saved;
	return r;
}

ssize_t
util_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t r =
		    pread(fd, (char *)buf + got, len - got, off + (off_t)got);

		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

int
util_pwrite_full(int fd, const void *buf, size_t len, off_t off)
{
	size_t put = 0;

	while (put < len) {
		ssize_t r = pwrite(
		    fd, (const char *)buf + put, len - put, off + (off_t)put);

		if (r == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = EIO;
			return -1;
		}
		put += (size_t)r;
	}
	return 0;
}
