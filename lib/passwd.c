#include "config.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"
#include "util.h"

/* The fields we use: user, hash, uid, gid, gecos, home; the rest is ignored. */
#define PASSWD_NFIELDS 6

/* Below 2^31-1: no id can become (uid_t)-1 or turn negative as an int. */
#define PASSWD_ID_MAX 2147483646UL

struct passwd_field {
	const char *p;
	size_t len;
};

/* Schemes holding a crypt(3) string; Dovecot's others (PLAIN...) do not. */
static const char *const passwd_schemes[] = {
	"CRYPT",
	"SHA512-CRYPT",
	"SHA256-CRYPT",
	"BLF-CRYPT",
};

static int
passwd_fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/*
 * A tab or CR in a hash or home is almost always an editing accident; taking
 * it literally would turn a typo into a silent login failure or a wrong path.
 */
static bool
passwd_has_ctl(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* Whether NAME (LEN octets) names a known scheme, in any case. */
static bool
passwd_scheme_known(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(passwd_schemes) / sizeof(passwd_schemes[0]);
	     i++) {
		const char *s = passwd_schemes[i];

		if (strlen(s) == len && util_ascii_caseeq(name, s, len))
			return true;
	}
	return false;
}

/* Splits LINE at ':' into up to PASSWD_NFIELDS fields; returns how many. */
static size_t
passwd_split(const char *line, size_t len, struct passwd_field *f)
{
	const char *p = line, *end = line + len;
	size_t n = 0;

	for (;;) {
		const char *colon = memchr(p, ':', (size_t)(end - p));

		f[n].p = p;
		f[n].len =
		    colon != NULL ? (size_t)(colon - p) : (size_t)(end - p);
		n++;
		if (colon == NULL || n == PASSWD_NFIELDS)
			return n;
		p = colon + 1;
	}
}

static int
passwd_parse_id(const struct passwd_field *f, unsigned long *out)
{
	char num[32];

	if (f->len >= sizeof(num)) {
		errno = ERANGE;
		return -1;
	}
	memcpy(num, f->p, f->len);
	num[f->len] = '\0';
	return util_parse_ulong(num, 0, PASSWD_ID_MAX, out);
}

int
passwd_parse_line(
    const char *line, size_t len, struct passwd_entry *e, const char **why)
{
	struct passwd_field f[PASSWD_NFIELDS];
	struct passwd_field *user = &f[0], *hash = &f[1];
	unsigned long id;
	size_t n;

	/* Start clean so that no tail of an earlier, longer entry survives. */
	memset(e, 0, sizeof(*e));
	if (len > PASSWD_LINE_MAX)
		return passwd_fail(why, "line too long");
	if (memchr(line, '\0', len) != NULL)
		return passwd_fail(why, "NUL in line");
	n = passwd_split(line, len, f);

	if (user->len == 0)
		return passwd_fail(why, "empty user");
	if (user->len >= sizeof(e->user))
		return passwd_fail(why, "user name too long");
	if (passwd_has_ctl(user->p, user->len))
		return passwd_fail(why, "control character in user name");
	/* The name is expanded into paths (%u): it must stay one component. */
	if (memchr(user->p, '/', user->len) != NULL ||
	    (user->len == 1 && user->p[0] == '.') ||
	    (user->len == 2 && user->p[0] == '.' && user->p[1] == '.'))
		return passwd_fail(why, "bad user name");

	if (n < 2)
		return passwd_fail(why, "missing hash field");
	if (hash->len > 0 && hash->p[0] == '{') {
		const char *close = memchr(hash->p, '}', hash->len);
		size_t skip;

		if (close == NULL)
			return passwd_fail(why, "unterminated scheme");
		if (!passwd_scheme_known(
			hash->p + 1, (size_t)(close - hash->p - 1)))
			return passwd_fail(why, "unsupported scheme");
		skip = (size_t)(close - hash->p) + 1;
		hash->p += skip;
		hash->len -= skip;
	}
	if (hash->len >= sizeof(e->hash))
		return passwd_fail(why, "hash too long");
	if (passwd_has_ctl(hash->p, hash->len))
		return passwd_fail(why, "control character in hash");

	if (n > 2 && f[2].len > 0) {
		if (passwd_parse_id(&f[2], &id) == -1)
			return passwd_fail(why, "bad uid");
		e->has_uid = true;
		e->uid = (uid_t)id;
	}
	if (n > 3 && f[3].len > 0) {
		if (passwd_parse_id(&f[3], &id) == -1)
			return passwd_fail(why, "bad gid");
		e->has_gid = true;
		e->gid = (gid_t)id;
	}
	/*
	 * There is no mail_uid/mail_gid default to fill in the missing half as
	 * Dovecot would, and guessing (gid = uid) could hand out a group.
	 */
	if (e->has_uid && !e->has_gid)
		return passwd_fail(why, "uid without gid");
	if (e->has_gid && !e->has_uid)
		return passwd_fail(why, "gid without uid");

	if (n > 5) {
		const struct passwd_field *home = &f[5];

		if (home->len >= sizeof(e->home))
			return passwd_fail(why, "home too long");
		if (passwd_has_ctl(home->p, home->len))
			return passwd_fail(why, "control character in home");
		/* A relative home would depend on pop2d's working directory. */
		if (home->len > 0 && home->p[0] != '/')
			return passwd_fail(why, "home not absolute");
		memcpy(e->home, home->p, home->len);
	}

	memcpy(e->user, user->p, user->len);
	memcpy(e->hash, hash->p, hash->len);
	return 0;
}

/* What a scan of the file looks for: one user, or every entry. */
struct passwd_scan {
	const char *user;     /* the user looked for, or NULL: every entry */
	passwd_each_fn *each; /* with USER NULL: called for each entry */
	void *each_arg;
	passwd_warn_fn *warn;
	void *warn_arg;
};

/*
 * Handles one line without its LF. Returns 1 when it is the user's entry
 * (then *E holds it), or what EACH returned for it; 0 otherwise.
 */
static int
passwd_line(const char *line, size_t len, unsigned long lineno,
    const struct passwd_scan *sc, struct passwd_entry *e)
{
	const char *why;

	/* Files edited elsewhere: the CR of a CRLF is not part of the line. */
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0 || line[0] == '#')
		return 0;
	if (passwd_parse_line(line, len, e, &why) == -1) {
		if (sc->warn != NULL)
			sc->warn(sc->warn_arg, lineno, why);
		return 0;
	}
	if (sc->user == NULL)
		return sc->each(sc->each_arg, e);
	return strcmp(e->user, sc->user) == 0;
}

/* Reads the file at FD for SC; passwd_lookup() and passwd_each() say how. */
static int
passwd_scan(int fd, const struct passwd_scan *sc, struct passwd_entry *e)
{
	/* A longest line and its LF: full without an LF means too long. */
	char buf[PASSWD_LINE_MAX + 1];
	size_t have = 0;	  /* octets in buf */
	off_t base = 0;		  /* the file offset of buf[0] */
	unsigned long lineno = 0; /* lines completed so far */
	bool skipping = false;	  /* in an overlong line, already reported */
	int ret = 0;

	util_wipe(e, sizeof(*e));
	for (;;) {
		ssize_t n;
		size_t start = 0;
		char *lf;

		n = pread(
		    fd, buf + have, sizeof(buf) - have, base + (off_t)have);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			ret = -1;
			break;
		}
		if (n == 0) {
			/* A last line without LF still counts. */
			if (have > 0 && !skipping)
				ret = passwd_line(buf, have, lineno + 1, sc, e);
			break;
		}
		have += (size_t)n;
		while (ret == 0 &&
		    (lf = memchr(buf + start, '\n', have - start)) != NULL) {
			size_t len = (size_t)(lf - (buf + start));

			lineno++;
			if (skipping)
				skipping = false;
			else
				ret = passwd_line(
				    buf + start, len, lineno, sc, e);
			start += len + 1;
		}
		if (ret != 0)
			break;
		if (start > 0) {
			/* Read an unfinished line again rather than move it. */
			base += (off_t)start;
			have = 0;
		} else if (have == sizeof(buf)) {
			/*
			 * Drop the whole line, not just this part, so that its
			 * tail can never be read as an entry of its own.
			 */
			if (!skipping && sc->warn != NULL)
				sc->warn(
				    sc->warn_arg, lineno + 1, "line too long");
			skipping = true;
			base += (off_t)have;
			have = 0;
		}
	}
	/* The buffer and a non-matching *E held other users' hashes. */
	util_wipe(buf, sizeof(buf));
	if (ret != 1 || sc->user == NULL)
		util_wipe(e, sizeof(*e));
	return ret;
}

int
passwd_lookup(int fd, const char *user, struct passwd_entry *e,
    passwd_warn_fn *warn, void *warn_arg)
{
	struct passwd_scan sc = { user, NULL, NULL, warn, warn_arg };

	return passwd_scan(fd, &sc, e);
}

int
passwd_each(int fd, passwd_each_fn *each, void *arg)
{
	struct passwd_scan sc = { NULL, each, arg, NULL, NULL };
	struct passwd_entry e;

	return passwd_scan(fd, &sc, &e);
}

/* Counts the malformed lines for passwd_check() and passes them on. */
struct passwd_count {
	passwd_warn_fn *warn;
	void *arg;
	int count;
};

static void
passwd_count_line(void *arg, unsigned long lineno, const char *why)
{
	struct passwd_count *c = arg;

	if (c->count < INT_MAX)
		c->count++;
	if (c->warn != NULL)
		c->warn(c->arg, lineno, why);
}

int
passwd_check(int fd, passwd_warn_fn *warn, void *warn_arg)
{
	struct passwd_count c = { warn, warn_arg, 0 };
	struct passwd_entry e;

	/* No well-formed line has an empty user, so the whole file is read. */
	if (passwd_lookup(fd, "", &e, passwd_count_line, &c) == -1)
		return -1;
	return c.count;
}

/* FNV-1a: a short, stable name for a path; nothing depends on its strength. */
static unsigned long long
passwd_path_hash(const char *path)
{
	unsigned long long h = 0xcbf29ce484222325ULL;

	for (; *path != '\0'; path++) {
		h ^= (unsigned char)*path;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int
passwd_first_sight(int fd, const char *path, int dirfd)
{
	char prefix[64], name[256];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int n, mfd, dfd;

	if (fstat(fd, &st) == -1)
		return -1;
	n = snprintf(prefix, sizeof(prefix),
	    PASSWD_SEEN_PREFIX "%016llx:", passwd_path_hash(path));
	if (n < 0 || (size_t)n >= sizeof(prefix)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	n = snprintf(name, sizeof(name),
	    "%s%llx:%llx:%lld:%lld.%09ld:%lld.%09ld", prefix,
	    (unsigned long long)st.st_dev, (unsigned long long)st.st_ino,
	    (long long)st.st_size, (long long)st.st_mtim.tv_sec,
	    (long)st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
	    (long)st.st_ctim.tv_nsec);
	if (n < 0 || (size_t)n >= sizeof(name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	mfd = openat(dirfd, name,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
	    0600);
	if (mfd == -1)
		return errno == EEXIST ? 0 : -1;
	close(mfd);

	/* Forget the earlier versions; failing to is harmless. */
	dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return 1;
	dir = fdopendir(dfd);
	if (dir == NULL) {
		close(dfd);
		return 1;
	}
	/* cppcheck-suppress readdirCalled ; pop2d has one thread */
	while ((de = readdir(dir)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		    strcmp(de->d_name, name) != 0)
			(void)unlinkat(dirfd, de->d_name, 0);
	closedir(dir);
	return 1;
}
