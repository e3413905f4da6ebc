/*
 * fuzz_passwd: arbitrary octets through passwd_parse_line() and, as a
 * whole passwd-file on a memfd, through passwd_lookup().
 *
 * Checked:
 * - passwd_parse_line() on the whole input: on success the user is
 *   non-empty, holds no ':', '/' or control octet and is not "." or "..";
 *   every string is NUL-terminated inside its array; hash and home hold no
 *   control octet; the home is empty or absolute; uid and gid come both
 *   or neither and are below 2^31-1. On failure a reason is given and the
 *   entry holds nothing;
 * - passwd_lookup() of the first well-formed user in the file, of a user
 *   that is not in it, and of "root": the answer, the entry, every warning
 *   and its line number are those of a plain reading of passwd.h's
 *   contract, line by line, through passwd_parse_line();
 * - the lookup leaves the file offset where it was.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "passwd.h"

/* At most one warning a line: more than the longest input has lines. */
#define MAX_WARN 65536

static int passwd_fd = -1;

struct warnings {
	size_t n;
	unsigned long lineno[MAX_WARN];
};

static void
record_warning(void *arg, unsigned long lineno, const char *why)
{
	struct warnings *w = arg;

	FUZZ_CHECK(why != NULL && why[0] != '\0');
	FUZZ_CHECK(w->n < MAX_WARN);
	w->lineno[w->n++] = lineno;
}

static bool
terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool
has_ctl(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
check_entry(const struct passwd_entry *e)
{
	FUZZ_CHECK(terminated(e->user, sizeof(e->user)));
	FUZZ_CHECK(terminated(e->hash, sizeof(e->hash)));
	FUZZ_CHECK(terminated(e->home, sizeof(e->home)));
	FUZZ_CHECK(e->user[0] != '\0');
	FUZZ_CHECK(strchr(e->user, ':') == NULL);
	FUZZ_CHECK(strchr(e->user, '/') == NULL);
	FUZZ_CHECK(strcmp(e->user, ".") != 0 && strcmp(e->user, "..") != 0);
	FUZZ_CHECK(!has_ctl(e->user) && !has_ctl(e->hash) && !has_ctl(e->home));
	FUZZ_CHECK(strchr(e->hash, ':') == NULL);
	FUZZ_CHECK(strchr(e->home, ':') == NULL);
	FUZZ_CHECK(e->home[0] == '\0' || e->home[0] == '/');
	FUZZ_CHECK(e->has_uid == e->has_gid);
	if (e->has_uid)
		FUZZ_CHECK(e->uid < 2147483647U && e->gid < 2147483647U);
	else
		FUZZ_CHECK(e->uid == 0 && e->gid == 0);
}

/*
 * passwd.h's contract read plainly: lines end at LF; a line longer than
 * PASSWD_LINE_MAX (a CR counts) is malformed; then one CR at its end is
 * removed; empty and '#' lines are skipped; the rest goes to
 * passwd_parse_line(). Returns what passwd_lookup() must: 1 with *E, or 0;
 * the warnings go to *W.
 */
static int
ref_lookup(const uint8_t *data, size_t size, const char *user,
    struct passwd_entry *e, struct warnings *w)
{
	const char *p = (const char *)data, *end = p + size, *lf;
	unsigned long lineno = 0;
	const char *why;
	size_t len;

	w->n = 0;
	while (p < end) {
		lf = memchr(p, '\n', (size_t)(end - p));
		len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		lineno++;
		if (len > PASSWD_LINE_MAX) {
			record_warning(w, lineno, "line too long");
		} else {
			if (len > 0 && p[len - 1] == '\r')
				len--;
			if (len > 0 && p[0] != '#') {
				if (passwd_parse_line(p, len, e, &why) == -1)
					record_warning(w, lineno, why);
				else if (strcmp(e->user, user) == 0)
					return 1;
			}
		}
		if (lf == NULL)
			break;
		p = lf + 1;
	}
	memset(e, 0, sizeof(*e));
	return 0;
}

static void
check_lookup(const uint8_t *data, size_t size, const char *user)
{
	static struct passwd_entry got, want;
	static struct warnings wgot, wwant;
	int r, ref;

	wgot.n = 0;
	memset(&got, 0xa5, sizeof(got));
	FUZZ_CHECK(lseek(passwd_fd, 0, SEEK_SET) == 0);
	r = passwd_lookup(passwd_fd, user, &got, record_warning, &wgot);
	FUZZ_CHECK(lseek(passwd_fd, 0, SEEK_CUR) == 0);
	ref = ref_lookup(data, size, user, &want, &wwant);
	FUZZ_CHECK(r == ref);
	FUZZ_CHECK(memcmp(&got, &want, sizeof(got)) == 0);
	if (r == 1) {
		check_entry(&got);
		FUZZ_CHECK(strcmp(got.user, user) == 0);
	} else
		FUZZ_CHECK(all_zero(&got, sizeof(got)));
	FUZZ_CHECK(wgot.n == wwant.n);
	FUZZ_CHECK(memcmp(wgot.lineno, wwant.lineno,
		       wgot.n * sizeof(wgot.lineno[0])) == 0);
	/* Without a callback the answer is the same. */
	FUZZ_CHECK(passwd_lookup(passwd_fd, user, &got, NULL, NULL) == r);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	passwd_fd = fuzz_memfd("fuzz_passwd");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct passwd_entry e;
	const char *why = NULL;
	const char *p, *end, *lf;
	char first[sizeof(e.user)] = "";
	size_t len;

	if (size >= MAX_WARN)
		return 0;
	/* One line: the whole input, as the parser's contract allows. */
	if (passwd_parse_line((const char *)data, size, &e, &why) == 0) {
		check_entry(&e);
		FUZZ_CHECK(size <= PASSWD_LINE_MAX);
		FUZZ_CHECK(memchr(data, '\0', size) == NULL);
		FUZZ_CHECK(memcmp(data, e.user, strlen(e.user)) == 0);
		FUZZ_CHECK(
		    strlen(e.user) == size || data[strlen(e.user)] == ':');
	} else {
		FUZZ_CHECK(why != NULL && why[0] != '\0');
	}

	/* The input as a passwd-file. */
	if (passwd_fd == -1)
		passwd_fd = fuzz_memfd("fuzz_passwd");
	fuzz_memfd_set(passwd_fd, data, size);
	for (p = (const char *)data, end = p + size; p < end; p = lf + 1) {
		lf = memchr(p, '\n', (size_t)(end - p));
		len = lf != NULL ? (size_t)(lf - p) : (size_t)(end - p);
		if (len > 0 && p[len - 1] == '\r')
			len--;
		if (len > 0 && p[0] != '#' &&
		    passwd_parse_line(p, len, &e, &why) == 0) {
			memcpy(first, e.user, sizeof(first));
			break;
		}
		if (lf == NULL)
			break;
	}
	if (first[0] != '\0')
		check_lookup(data, size, first);
	check_lookup(data, size, "root");
	check_lookup(data, size, "no-such-user-here");
	return 0;
}
