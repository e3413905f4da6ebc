#include "config.h"

#include <errno.h>
#include <string.h>
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
util_parse_ulong(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long v = 0;
	int overflow = 0;

	if (*s == '\0') {
		errno = EINVAL;
		return -1;
	}
	for (; *s != '\0'; s++) {
		unsigned long d;

		if (*s < '0' || *s > '9') {
			errno = EINVAL;
			return -1;
		}
		d = (unsigned long)(*s - '0');
		if (v > (~0UL - d) / 10)
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

int
util_expand(char *dst, size_t size, const char *tmpl, const char *user,
    const char *home)
{
	size_t used = 0;

	if (size == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	dst[0] = '\0';
	for (; *tmpl != '\0'; tmpl++) {
		const char *piece = tmpl;
		size_t len = 1;

		if (*tmpl == '%') {
			tmpl++;
			if (*tmpl == 'u') {
				piece = user;
				len = strlen(user);
			} else if (*tmpl == 'h') {
				if (*home == '\0') {
					dst[0] = '\0';
					errno = EINVAL;
					return -1;
				}
				piece = home;
				len = strlen(home);
			} else if (*tmpl == '%') {
				piece = tmpl;
			} else {
				dst[0] = '\0';
				errno = EINVAL;
				return -1;
			}
		}
		if (len >= size - used) {
			dst[0] = '\0';
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(dst + used, piece, len);
		used += len;
	}
	dst[used] = '\0';
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

void
util_close_keep_errno(int fd)
{
	int saved = errno;

	(void)close(fd);
	errno = saved;
}
