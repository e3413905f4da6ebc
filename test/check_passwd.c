#include "config.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passwd.h"

/* The hashes of test/data/passwd, as stored after the prefix. */
#define ALICE_HASH                                                             \
	"$6$Q2mAIQm2U7t92EN4$NMuSt1QrvaDIfk0JjIREFNmGb9bxS/"                   \
	"Bw0/gldeJQTV1VEsPO2FO6gBvp/YJCFhwQLRn7FTGPNAtbERSoV0kwh1"
#define BOB_HASH                                                               \
	"$6$trw3LbIpnCSWX1ue$gDSasw.UYW4TP8NFK/oZXmVPcYTkuOBSIUE"              \
	"qrCSM7.8z8Ja7TXDK1ZjKcc6uKxd8zK.PxtQuXEkvP3gnmTS8q0"
#define DAVE_HASH                                                              \
	"$y$j9T$LMTvNujqPVFVmfGce.7BA1$"                                       \
	"MXcsu182AnmF1zkPh.6Ho3VIB2yEmeLns9gh5gcDJl9"
#define ERIN_HASH "$2b$05$GWHCC7MWMVt6ccTOaaTOU.ohGPZJsvAbpbcz8G0X1NrDOcmM38UjW"
#define LOCKED_HASH                                                            \
	"!$6$ModR.DRbf1N2DLqF$WQCrJ5UGHdcWQH6U2dMw/v.mseP27m2jB"               \
	"Xv2BMOSXSHagjY4gCPKHR03rQs8HGpoRVv3EvDvU1kW0kUmitxda0"

#define WARN_MAX 16

struct warns {
	size_t n;
	unsigned long line[WARN_MAX];
	const char *why[WARN_MAX];
};

static void
collect(void *arg, unsigned long lineno, const char *why)
{
	struct warns *w = arg;

	if (w->n < WARN_MAX) {
		w->line[w->n] = lineno;
		w->why[w->n] = why;
	}
	w->n++;
}

static int
open_data(const char *name)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA, name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/* An unlinked temporary file holding LEN octets of DATA. */
static int
open_temp(const void *data, size_t len)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/check_passwd.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	return fd;
}

static int
open_temp_str(const char *s)
{
	return open_temp(s, strlen(s));
}

static int
lookup(int fd, const char *user, struct passwd_entry *e, struct warns *w)
{
	memset(w, 0, sizeof(*w));
	/* Junk, so that a test can see *E cleared. */
	memset(e, 'Z', sizeof(*e));
	return passwd_lookup(fd, user, e, collect, w);
}

static void
assert_cleared(const struct passwd_entry *e)
{
	static const struct passwd_entry zero;

	ck_assert_int_eq(memcmp(e, &zero, sizeof(zero)), 0);
}

/* Parses the NUL-terminated LINE and expects WHY (NULL: success). */
static void
parse(const char *line, const char *want_why, struct passwd_entry *e)
{
	const char *why = NULL;
	int r = passwd_parse_line(line, strlen(line), e, &why);

	if (want_why == NULL) {
		ck_assert_msg(r == 0, "\"%s\": %s", line, why);
	} else {
		ck_assert_msg(r == -1, "\"%s\" accepted", line);
		ck_assert_ptr_nonnull(why);
		ck_assert_str_eq(why, want_why);
	}
}

/* A string of LEN copies of C, in a buffer the caller frees. */
static char *
repeat(char c, size_t len)
{
	char *s = malloc(len + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, len);
	s[len] = '\0';
	return s;
}

/* parse_line: fields */

START_TEST(parse_all_fields)
{
	struct passwd_entry e;

	parse("ids:$6$x:1000:1001:Ids Tester,,,:/home/ids:/bin/sh:extra:a=b",
	    NULL, &e);
	ck_assert_str_eq(e.user, "ids");
	ck_assert_str_eq(e.hash, "$6$x");
	ck_assert(e.has_uid);
	ck_assert(e.has_gid);
	ck_assert_uint_eq(e.uid, 1000);
	ck_assert_uint_eq(e.gid, 1001);
	ck_assert_str_eq(e.home, "/home/ids");
}
END_TEST

START_TEST(parse_user_hash_only)
{
	struct passwd_entry e;

	parse("alice:$6$abc", NULL, &e);
	ck_assert_str_eq(e.user, "alice");
	ck_assert_str_eq(e.hash, "$6$abc");
	ck_assert(!e.has_uid);
	ck_assert(!e.has_gid);
	ck_assert_str_eq(e.home, "");

	parse("alice:$6$abc:::::", NULL, &e);
	ck_assert_str_eq(e.hash, "$6$abc");
	ck_assert(!e.has_uid);
	ck_assert(!e.has_gid);
	ck_assert_str_eq(e.home, "");

	parse("alice:", NULL, &e);
	ck_assert_str_eq(e.user, "alice");
	ck_assert_str_eq(e.hash, "");

	parse("alice:!$6$abc", NULL, &e);
	ck_assert_str_eq(e.hash, "!$6$abc");
	parse("alice:*", NULL, &e);
	ck_assert_str_eq(e.hash, "*");
}
END_TEST

START_TEST(parse_home_without_ids)
{
	struct passwd_entry e;

	parse("u:h::::/srv/mail/u", NULL, &e);
	ck_assert(!e.has_uid);
	ck_assert_str_eq(e.home, "/srv/mail/u");
	/* The shell and extra fields are not the home. */
	parse("u:h:::::/bin/sh:/extra", NULL, &e);
	ck_assert_str_eq(e.home, "");
}
END_TEST

START_TEST(parse_prefix_stripped)
{
	static const char *const lines[] = {
		"u:{CRYPT}$6$abc",
		"u:{SHA512-CRYPT}$6$abc",
		"u:{SHA256-CRYPT}$6$abc",
		"u:{BLF-CRYPT}$6$abc",
		"u:{crypt}$6$abc",
		"u:{Sha512-Crypt}$6$abc",
		"u:{sha256-crypt}$6$abc",
		"u:{blf-CRYPT}$6$abc:::::",
	};
	struct passwd_entry e;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		parse(lines[i], NULL, &e);
		ck_assert_str_eq(e.hash, "$6$abc");
	}
	parse("u:{CRYPT}", NULL, &e);
	ck_assert_str_eq(e.hash, "");
	/* Only a leading prefix is one. */
	parse("u:$6${PLAIN}x", NULL, &e);
	ck_assert_str_eq(e.hash, "$6${PLAIN}x");
	/* One prefix is removed, not two. */
	parse("u:{CRYPT}{CRYPT}$6$abc", NULL, &e);
	ck_assert_str_eq(e.hash, "{CRYPT}$6$abc");
}
END_TEST

START_TEST(parse_unsupported_scheme)
{
	struct passwd_entry e;

	parse("u:{PLAIN}secret", "unsupported scheme", &e);
	parse("u:{plain}secret", "unsupported scheme", &e);
	parse("u:{SSHA}abc", "unsupported scheme", &e);
	parse("u:{MD5-CRYPT}$1$abc", "unsupported scheme", &e);
	parse("u:{}$6$abc", "unsupported scheme", &e);
	parse("u:{CRYP}$6$abc", "unsupported scheme", &e);
	parse("u:{CRYPTX}$6$abc", "unsupported scheme", &e);
	parse("u:{ CRYPT}$6$abc", "unsupported scheme", &e);
	parse("u:{CRYPT$6$abc", "unterminated scheme", &e);
	parse("u:{", "unterminated scheme", &e);
}
END_TEST

START_TEST(parse_ids)
{
	struct passwd_entry e;

	parse("u:h:0:0", NULL, &e);
	ck_assert(e.has_uid && e.has_gid);
	ck_assert_uint_eq(e.uid, 0);
	ck_assert_uint_eq(e.gid, 0);
	parse("u:h:2147483646:2147483646", NULL, &e);
	ck_assert_uint_eq(e.uid, 2147483646U);
	ck_assert_uint_eq(e.gid, 2147483646U);
	parse("u:h:0001000:01", NULL, &e);
	ck_assert_uint_eq(e.uid, 1000);
	ck_assert_uint_eq(e.gid, 1);
}
END_TEST

START_TEST(parse_bad_ids)
{
	static const char *const bad[] = {
		"12x", "x", "-1", "+1", " 1", "1 ", "0x10", "1.0", "1e3",
		"2147483647", "4294967295", "4294967296",
		"99999999999999999999999999",
		"000000000000000000000000000000001",
		"\xd9\xa1", /* ARABIC-INDIC DIGIT ONE */
	};
	struct passwd_entry e;
	char line[128];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(line, sizeof(line), "u:h:%s:100", bad[i]);
		parse(line, "bad uid", &e);
		snprintf(line, sizeof(line), "u:h:100:%s", bad[i]);
		parse(line, "bad gid", &e);
	}
}
END_TEST

START_TEST(parse_lone_id)
{
	struct passwd_entry e;

	parse("u:h:1000", "uid without gid", &e);
	parse("u:h:1000:", "uid without gid", &e);
	parse("u:h:1000::g:/home/u", "uid without gid", &e);
	parse("u:h::1000", "gid without uid", &e);
	parse("u:h::1000:g:/home/u:/bin/sh", "gid without uid", &e);
}
END_TEST

START_TEST(parse_bad_user)
{
	struct passwd_entry e;

	parse(":h", "empty user", &e);
	parse(":", "empty user", &e);
	parse("", "empty user", &e);
	parse("user", "missing hash field", &e);
	parse("a\tb:h", "control character in user name", &e);
	parse("a\rb:h", "control character in user name", &e);
	parse("ab\x7f:h", "control character in user name", &e);
	parse("a/b:h", "bad user name", &e);
	parse("/:h", "bad user name", &e);
	parse(".:h", "bad user name", &e);
	parse("..:h", "bad user name", &e);
	/* Only the exact names "." and ".." are path tricks. */
	parse("...:h", NULL, &e);
	parse(".alice:h", NULL, &e);
	/* Octets above 127 are the file's business, not ours. */
	parse("j\xc3\xbcrgen:h", NULL, &e);
	ck_assert_str_eq(e.user, "j\xc3\xbcrgen");
}
END_TEST

START_TEST(parse_bad_hash_home)
{
	struct passwd_entry e;

	parse("u:$6$a\tb", "control character in hash", &e);
	parse("u:$6$ab\r", "control character in hash", &e);
	parse("u:{CRYPT}$6$a\x01", "control character in hash", &e);
	parse("u:h::::home/u", "home not absolute", &e);
	parse("u:h:1:1::~/u", "home not absolute", &e);
	parse("u:h:::: /home/u", "home not absolute", &e);
	parse("u:h::::/home/\tu", "control character in home", &e);
}
END_TEST

START_TEST(parse_nul)
{
	struct passwd_entry e;
	const char *why = NULL;

	ck_assert_int_eq(passwd_parse_line("a\0b:h", 5, &e, &why), -1);
	ck_assert_str_eq(why, "NUL in line");
	why = NULL;
	ck_assert_int_eq(passwd_parse_line("ab:h\0", 5, &e, &why), -1);
	ck_assert_str_eq(why, "NUL in line");
	/* LEN, not a terminator, bounds the line: "ab:hash" cut to "ab:h". */
	ck_assert_int_eq(passwd_parse_line("ab:hash", 4, &e, &why), 0);
	ck_assert_str_eq(e.hash, "h");
}
END_TEST

START_TEST(parse_limits)
{
	struct passwd_entry e;
	char *s, *line;
	size_t n;

	line = malloc(2 * PASSWD_LINE_MAX);
	ck_assert_ptr_nonnull(line);

	s = repeat('u', sizeof(e.user) - 1);
	snprintf(line, 2 * PASSWD_LINE_MAX, "%s:h", s);
	parse(line, NULL, &e);
	ck_assert_str_eq(e.user, s);
	snprintf(line, 2 * PASSWD_LINE_MAX, "%su:h", s);
	parse(line, "user name too long", &e);
	free(s);

	s = repeat('h', sizeof(e.hash) - 1);
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:%s", s);
	parse(line, NULL, &e);
	ck_assert_str_eq(e.hash, s);
	/* The limit applies after the prefix is gone. */
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:{SHA512-CRYPT}%s", s);
	parse(line, NULL, &e);
	ck_assert_str_eq(e.hash, s);
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:%sh", s);
	parse(line, "hash too long", &e);
	free(s);

	s = repeat('d', sizeof(e.home) - 2);
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:h::::/%s:/bin/sh", s);
	parse(line, NULL, &e);
	ck_assert_uint_eq(strlen(e.home), sizeof(e.home) - 1);
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:h::::/%sd:/bin/sh", s);
	parse(line, "home too long", &e);
	free(s);

	/* A long gecos field makes a long line of valid fields. */
	n = strlen("u:h:::");
	s = repeat('g', PASSWD_LINE_MAX - n);
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:h:::%s", s);
	ck_assert_uint_eq(strlen(line), PASSWD_LINE_MAX);
	parse(line, NULL, &e);
	ck_assert_str_eq(e.user, "u");
	snprintf(line, 2 * PASSWD_LINE_MAX, "u:h:::%sg", s);
	parse(line, "line too long", &e);
	free(s);
	free(line);
}
END_TEST

/* lookup: the fixture */

START_TEST(lookup_found)
{
	struct passwd_entry e;
	struct warns w;
	int fd = open_data("passwd");

	ck_assert_int_eq(lookup(fd, "alice", &e, &w), 1);
	ck_assert_str_eq(e.user, "alice");
	ck_assert_str_eq(e.hash, ALICE_HASH);
	ck_assert(!e.has_uid);
	ck_assert(!e.has_gid);
	ck_assert_str_eq(e.home, "");
	ck_assert_uint_eq(w.n, 0);

	ck_assert_int_eq(lookup(fd, "bob", &e, &w), 1);
	ck_assert_str_eq(e.hash, BOB_HASH);
	ck_assert_int_eq(lookup(fd, "dave", &e, &w), 1);
	ck_assert_str_eq(e.hash, DAVE_HASH);
	ck_assert_int_eq(lookup(fd, "erin", &e, &w), 1);
	ck_assert_str_eq(e.hash, ERIN_HASH);
	ck_assert_int_eq(lookup(fd, "locked", &e, &w), 1);
	ck_assert_str_eq(e.hash, LOCKED_HASH);
	ck_assert_int_eq(lookup(fd, "star", &e, &w), 1);
	ck_assert_str_eq(e.hash, "*");
	ck_assert_int_eq(lookup(fd, "nopass", &e, &w), 1);
	ck_assert_str_eq(e.user, "nopass");
	ck_assert_str_eq(e.hash, "");
	close(fd);
}
END_TEST

START_TEST(lookup_ids)
{
	struct passwd_entry e;
	struct warns w;
	int fd = open_data("passwd-ids");

	ck_assert_int_eq(lookup(fd, "ids", &e, &w), 1);
	ck_assert_str_eq(e.user, "ids");
	ck_assert_str_eq(e.hash,
	    "$6$.RFnQtbPdNQ6WOD6$uxG783q1ZNmFipkfJCtPkEWvg3"
	    "xjJxga3xGTS263OROpDohg0vG5TRhYigIWUQwKZP25FO3a8dPN7TXRlZoV9.");
	ck_assert(e.has_uid);
	ck_assert(e.has_gid);
	ck_assert_uint_eq(e.uid, 1000);
	ck_assert_uint_eq(e.gid, 1001);
	ck_assert_str_eq(e.home, "/home/ids");
	ck_assert_uint_eq(w.n, 0);
	close(fd);
}
END_TEST

START_TEST(lookup_not_found)
{
	static const char *const users[] = {
		"mallory",
		"",
		"Alice",
		"ALICE",
		"alic",
		"alice ",
		" alice",
		"nocolon",
		"baduid",
		"plain",
		"#",
		"alice:",
	};
	struct passwd_entry e;
	struct warns w;
	int fd = open_data("passwd");
	size_t i;

	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		ck_assert_msg(
		    lookup(fd, users[i], &e, &w) == 0, "\"%s\"", users[i]);
		assert_cleared(&e);
	}
	close(fd);
}
END_TEST

START_TEST(lookup_reports_malformed)
{
	struct passwd_entry e;
	struct warns w;
	int fd = open_data("passwd");

	/* A full scan meets every malformed line, no comment or blank one. */
	ck_assert_int_eq(lookup(fd, "mallory", &e, &w), 0);
	ck_assert_uint_eq(w.n, 3);
	ck_assert_uint_eq(w.line[0], 23);
	ck_assert_str_eq(w.why[0], "missing hash field");
	ck_assert_uint_eq(w.line[1], 27);
	ck_assert_str_eq(w.why[1], "bad uid");
	ck_assert_uint_eq(w.line[2], 31);
	ck_assert_str_eq(w.why[2], "unsupported scheme");

	/* Reading stops at the match. */
	ck_assert_int_eq(lookup(fd, "bob", &e, &w), 1);
	ck_assert_uint_eq(w.n, 0);
	ck_assert_int_eq(lookup(fd, "frank", &e, &w), 1);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_int_eq(lookup(fd, "nopass", &e, &w), 1);
	ck_assert_uint_eq(w.n, 3);

	/* Without a callback the lines are skipped all the same. */
	ck_assert_int_eq(passwd_lookup(fd, "nopass", &e, NULL, NULL), 1);
	ck_assert_int_eq(passwd_lookup(fd, "plain", &e, NULL, NULL), 0);
	close(fd);
}
END_TEST

START_TEST(lookup_offset_untouched)
{
	struct passwd_entry e;
	struct warns w;
	int fd = open_data("passwd");

	ck_assert_int_eq(lseek(fd, 100, SEEK_SET), 100);
	ck_assert_int_eq(lookup(fd, "alice", &e, &w), 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 100);
	close(fd);
}
END_TEST

/* lookup: crafted files */

START_TEST(lookup_first_match_wins)
{
	struct passwd_entry e;
	struct warns w;
	int fd;

	fd = open_temp_str("a:first\nb:x\na:second\n");
	ck_assert_int_eq(lookup(fd, "a", &e, &w), 1);
	ck_assert_str_eq(e.hash, "first");
	close(fd);

	/* The first well-formed one: a malformed line hides no later one. */
	fd = open_temp_str("a:{PLAIN}first\na:second:12x:1\na:third\n");
	ck_assert_int_eq(lookup(fd, "a", &e, &w), 1);
	ck_assert_str_eq(e.hash, "third");
	ck_assert_uint_eq(w.n, 2);
	ck_assert_uint_eq(w.line[0], 1);
	ck_assert_str_eq(w.why[0], "unsupported scheme");
	ck_assert_uint_eq(w.line[1], 2);
	ck_assert_str_eq(w.why[1], "bad uid");
	close(fd);
}
END_TEST

START_TEST(lookup_no_final_newline)
{
	struct passwd_entry e;
	struct warns w;
	int fd;

	fd = open_temp_str("a:x\nb:y");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 1);
	ck_assert_str_eq(e.hash, "y");
	close(fd);

	fd = open_temp_str("b:y:1:2::/home/b");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 1);
	ck_assert_str_eq(e.home, "/home/b");
	close(fd);

	fd = open_temp_str("a:x\nbad");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.line[0], 2);
	close(fd);

	fd = open_temp_str("");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 0);
	ck_assert_uint_eq(w.n, 0);
	close(fd);
}
END_TEST

START_TEST(lookup_crlf)
{
	struct passwd_entry e;
	struct warns w;
	int fd;

	fd = open_temp_str("a:x\r\nb:y\r\nd:w:1:2::/home/d\r\nc:z\r");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 1);
	ck_assert_str_eq(e.hash, "y");
	ck_assert_int_eq(lookup(fd, "d", &e, &w), 1);
	ck_assert_str_eq(e.home, "/home/d");
	ck_assert_int_eq(lookup(fd, "c", &e, &w), 1);
	ck_assert_str_eq(e.hash, "z");
	ck_assert_uint_eq(w.n, 0);
	close(fd);

	/* One CR is the line end; another one is in the hash. */
	fd = open_temp_str("b:y\r\r\n");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_str_eq(w.why[0], "control character in hash");
	close(fd);
}
END_TEST

START_TEST(lookup_comments_blank)
{
	struct passwd_entry e;
	struct warns w;
	int fd;

	fd = open_temp_str("#a:x\n\n\r\n# b:{PLAIN}x:12x\nb:y\n");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 1);
	ck_assert_str_eq(e.hash, "y");
	ck_assert_uint_eq(w.n, 0);
	/* A comment is not an entry for a user named "#a". */
	ck_assert_int_eq(lookup(fd, "#a", &e, &w), 0);
	close(fd);
}
END_TEST

START_TEST(lookup_nul)
{
	static const char data[] = "a\0b:x\nb:y\n";
	struct passwd_entry e;
	struct warns w;
	int fd = open_temp(data, sizeof(data) - 1);

	ck_assert_int_eq(lookup(fd, "a", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.line[0], 1);
	ck_assert_str_eq(w.why[0], "NUL in line");
	ck_assert_int_eq(lookup(fd, "b", &e, &w), 1);
	ck_assert_str_eq(e.hash, "y");
	close(fd);
}
END_TEST

START_TEST(lookup_overlong)
{
	struct passwd_entry e;
	struct warns w;
	char *data, *s;
	int fd;

	data = malloc(4 * PASSWD_LINE_MAX);
	ck_assert_ptr_nonnull(data);

	/* Exactly PASSWD_LINE_MAX octets: accepted. */
	s = repeat('g', PASSWD_LINE_MAX - strlen("u:h:::"));
	snprintf(data, 4 * PASSWD_LINE_MAX, "u:h:::%s\nv:y\n", s);
	fd = open_temp_str(data);
	ck_assert_int_eq(lookup(fd, "u", &e, &w), 1);
	ck_assert_str_eq(e.hash, "h");
	ck_assert_int_eq(lookup(fd, "v", &e, &w), 1);
	ck_assert_uint_eq(w.n, 0);
	close(fd);

	/* One more: skipped whole and reported; the line after still counts. */
	snprintf(data, 4 * PASSWD_LINE_MAX, "u:h:::%sg\nv:y\nbad\n", s);
	fd = open_temp_str(data);
	ck_assert_int_eq(lookup(fd, "u", &e, &w), 0);
	ck_assert_uint_eq(w.n, 2);
	ck_assert_uint_eq(w.line[0], 1);
	ck_assert_str_eq(w.why[0], "line too long");
	ck_assert_uint_eq(w.line[1], 3);
	ck_assert_str_eq(w.why[1], "missing hash field");
	ck_assert_int_eq(lookup(fd, "v", &e, &w), 1);
	ck_assert_str_eq(e.hash, "y");
	close(fd);

	/* A CR counts towards the limit. */
	snprintf(data, 4 * PASSWD_LINE_MAX, "u:h:::%s\r\n", s);
	fd = open_temp_str(data);
	ck_assert_int_eq(lookup(fd, "u", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_str_eq(w.why[0], "line too long");
	close(fd);
	free(s);

	/* The tail of an overlong line is not an entry of its own. */
	s = repeat('x', PASSWD_LINE_MAX + 1);
	snprintf(data, 4 * PASSWD_LINE_MAX, "%sevil:y\nok:z\n", s);
	fd = open_temp_str(data);
	ck_assert_int_eq(lookup(fd, "evil", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.line[0], 1);
	ck_assert_int_eq(lookup(fd, "ok", &e, &w), 1);
	ck_assert_str_eq(e.hash, "z");
	close(fd);
	free(s);

	/* Several buffers long, then at the end of a file without LF. */
	s = repeat('x', 3 * PASSWD_LINE_MAX);
	snprintf(data, 4 * PASSWD_LINE_MAX, "a:b\n%s", s);
	fd = open_temp_str(data);
	ck_assert_int_eq(lookup(fd, "x", &e, &w), 0);
	ck_assert_uint_eq(w.n, 1);
	ck_assert_uint_eq(w.line[0], 2);
	ck_assert_str_eq(w.why[0], "line too long");
	close(fd);
	free(s);
	free(data);
}
END_TEST

/* Lines of many lengths, so that some straddle every read boundary. */
START_TEST(lookup_many_lines)
{
	enum { NUSERS = 3000 };
	struct passwd_entry e;
	struct warns w;
	char *data, user[32], hash[64];
	size_t used = 0, size = (size_t)NUSERS * 128;
	int fd, i;

	data = malloc(size);
	ck_assert_ptr_nonnull(data);
	for (i = 0; i < NUSERS; i++)
		used += (size_t)snprintf(data + used, size - used,
		    "user%d:hash%d%.*s:::g:/home/u%d\n", i, i, i % 37,
		    "..................................................", i);
	fd = open_temp(data, used);
	free(data);

	for (i = 0; i < NUSERS; i += 97) {
		snprintf(user, sizeof(user), "user%d", i);
		ck_assert_int_eq(lookup(fd, user, &e, &w), 1);
		snprintf(hash, sizeof(hash), "hash%d", i);
		ck_assert_int_eq(strncmp(e.hash, hash, strlen(hash)), 0);
		ck_assert_uint_eq(
		    strlen(e.hash), strlen(hash) + (size_t)(i % 37));
	}
	ck_assert_int_eq(lookup(fd, "user2999", &e, &w), 1);
	ck_assert_str_eq(e.home, "/home/u2999");
	ck_assert_int_eq(lookup(fd, "user3000", &e, &w), 0);
	ck_assert_uint_eq(w.n, 0);
	close(fd);
}
END_TEST

START_TEST(lookup_read_error)
{
	struct passwd_entry e;
	struct warns w;
	int fd;

	fd = open(TEST_DATA, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(lookup(fd, "alice", &e, &w), -1);
	ck_assert_int_eq(errno, EISDIR);
	assert_cleared(&e);
	close(fd);

	/* Opened for writing only. */
	fd = open_temp_str("alice:x\n");
	{
		char path[64];
		int wfd;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		wfd = open(path, O_WRONLY);
		if (wfd >= 0) {
			errno = 0;
			ck_assert_int_eq(lookup(wfd, "alice", &e, &w), -1);
			ck_assert_int_eq(errno, EBADF);
			close(wfd);
		}
	}
	close(fd);

	errno = 0;
	ck_assert_int_eq(lookup(-1, "alice", &e, &w), -1);
	ck_assert_int_eq(errno, EBADF);

	/* pread needs a seekable file: a pipe is refused, not half-read. */
	{
		int p[2];

		ck_assert_int_eq(pipe(p), 0);
		ck_assert_int_eq(write(p[1], "alice:x\n", 8), 8);
		errno = 0;
		ck_assert_int_eq(lookup(p[0], "alice", &e, &w), -1);
		ck_assert_int_eq(errno, ESPIPE);
		close(p[0]);
		close(p[1]);
	}
}
END_TEST

START_TEST(check_whole_file)
{
	struct warns w;
	int fd = open_data("passwd");

	memset(&w, 0, sizeof(w));
	ck_assert_int_eq(passwd_check(fd, collect, &w), 3);
	ck_assert_uint_eq(w.n, 3);
	ck_assert_uint_eq(w.line[0], 23);
	ck_assert_uint_eq(w.line[2], 31);
	ck_assert_int_eq(passwd_check(fd, NULL, NULL), 3);
	close(fd);
	fd = open_temp_str("alice:x\n# comment\n\n");
	ck_assert_int_eq(passwd_check(fd, NULL, NULL), 0);
	close(fd);
}
END_TEST

/* Collects the users and uids passwd_each() hands over; stops at "stop". */
struct seen {
	char users[8][256];
	long uids[8];
	int n;
};

static int
collect_entry(void *arg, const struct passwd_entry *e)
{
	struct seen *sn = arg;

	if (strcmp(e->user, "stop") == 0)
		return 7;
	ck_assert_int_lt(sn->n, 8);
	snprintf(sn->users[sn->n], sizeof(sn->users[0]), "%s", e->user);
	sn->uids[sn->n] = e->has_uid ? (long)e->uid : -1;
	sn->n++;
	return 0;
}

START_TEST(each_entry)
{
	struct seen sn;
	off_t off;
	int fd;

	memset(&sn, 0, sizeof(sn));
	fd = open_temp_str("# comment\na:x:1:2\nbad line\n\nb:y\r\n"
			   "c:z:3:4::/h\nstop:s\nd:w\n");
	off = lseek(fd, 0, SEEK_CUR);
	/* Every well-formed entry in order; a nonzero answer stops there. */
	ck_assert_int_eq(passwd_each(fd, collect_entry, &sn), 7);
	ck_assert_int_eq(sn.n, 3);
	ck_assert_str_eq(sn.users[0], "a");
	ck_assert_str_eq(sn.users[1], "b");
	ck_assert_str_eq(sn.users[2], "c");
	ck_assert_int_eq(sn.uids[0], 1);
	ck_assert_int_eq(sn.uids[1], -1);
	ck_assert_int_eq(sn.uids[2], 3);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), off);
	close(fd);
	/* To the end: the last line needs no LF. */
	memset(&sn, 0, sizeof(sn));
	fd = open_temp_str("a:x\nb:y");
	ck_assert_int_eq(passwd_each(fd, collect_entry, &sn), 0);
	ck_assert_int_eq(sn.n, 2);
	close(fd);
	/* A read error. */
	fd = open(TEST_DATA, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(fd, -1);
	errno = 0;
	ck_assert_int_eq(passwd_each(fd, collect_entry, &sn), -1);
	ck_assert_int_eq(errno, EISDIR);
	close(fd);
}
END_TEST

/* How many version marks DIRFD holds. */
static int
marks(int dirfd)
{
	struct dirent *de;
	DIR *dir;
	int n = 0;

	dir = fdopendir(openat(dirfd, ".", O_RDONLY | O_DIRECTORY));
	ck_assert_ptr_nonnull(dir);
	while ((de = readdir(dir)) != NULL)
		if (strncmp(de->d_name, PASSWD_SEEN_PREFIX,
			strlen(PASSWD_SEEN_PREFIX)) == 0)
			n++;
	closedir(dir);
	return n;
}

START_TEST(first_sight_once_per_version)
{
	const char *tmpdir = getenv("TMPDIR");
	char dir[1024], file[1100], other[1100];
	int dirfd, fd, fd2;

	snprintf(dir, sizeof(dir), "%s/check_passwd.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	dirfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(dirfd, 0);
	snprintf(file, sizeof(file), "%s/passwd", dir);
	snprintf(other, sizeof(other), "%s/passwd2", dir);
	fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "bad\n", 4), 4);

	/* The first process to see a version is told so; later ones not. */
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 1);
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 0);
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 0);
	ck_assert_int_eq(marks(dirfd), 1);

	/* A change of the file is a new version; the old mark goes. */
	ck_assert_int_eq(write(fd, "worse\n", 6), 6);
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 1);
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 0);
	ck_assert_int_eq(marks(dirfd), 1);

	/* Another file (another path) has marks of its own, kept apart. */
	fd2 = open(other, O_RDWR | O_CREAT | O_EXCL, 0600);
	ck_assert_int_ge(fd2, 0);
	ck_assert_int_eq(passwd_first_sight(fd2, other, dirfd), 1);
	ck_assert_int_eq(passwd_first_sight(fd, file, dirfd), 0);
	ck_assert_int_eq(marks(dirfd), 2);

	/* Nowhere to remember: -1, and the caller reports every time. */
	ck_assert_int_eq(passwd_first_sight(fd, file, -1), -1);

	close(fd);
	close(fd2);
	{
		struct dirent *de;
		DIR *d = fdopendir(dirfd);

		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' || strlen(de->d_name) > 2)
				unlinkat(dirfd, de->d_name, 0);
		closedir(d);
	}
	ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

static Suite *
passwd_suite(void)
{
	Suite *s = suite_create("passwd");
	TCase *tc;

	tc = tcase_create("parse");
	tcase_add_test(tc, parse_all_fields);
	tcase_add_test(tc, parse_user_hash_only);
	tcase_add_test(tc, parse_home_without_ids);
	tcase_add_test(tc, parse_prefix_stripped);
	tcase_add_test(tc, parse_unsupported_scheme);
	tcase_add_test(tc, parse_ids);
	tcase_add_test(tc, parse_bad_ids);
	tcase_add_test(tc, parse_lone_id);
	tcase_add_test(tc, parse_bad_user);
	tcase_add_test(tc, parse_bad_hash_home);
	tcase_add_test(tc, parse_nul);
	tcase_add_test(tc, parse_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("lookup");
	tcase_add_test(tc, lookup_found);
	tcase_add_test(tc, lookup_ids);
	tcase_add_test(tc, lookup_not_found);
	tcase_add_test(tc, lookup_reports_malformed);
	tcase_add_test(tc, lookup_offset_untouched);
	tcase_add_test(tc, lookup_first_match_wins);
	tcase_add_test(tc, lookup_no_final_newline);
	tcase_add_test(tc, lookup_crlf);
	tcase_add_test(tc, lookup_comments_blank);
	tcase_add_test(tc, lookup_nul);
	tcase_add_test(tc, check_whole_file);
	tcase_add_test(tc, each_entry);
	tcase_add_test(tc, first_sight_once_per_version);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, lookup_overlong);
	tcase_add_test(tc, lookup_many_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_test(tc, lookup_read_error);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(passwd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
