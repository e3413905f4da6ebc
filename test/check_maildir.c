/*
 * check_maildir: the Maildir index, copy-out and commit.
 *
 * Every message sent is checked against the size the index announced, and
 * the octets are checked against what lib/mbox.c sends for the same
 * message stored in an mbox file.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "maildir.h"
#include "mbox.h"
#include "wire.h"

/* A literal with its length, NUL octets included. */
#define LIT(s) (s), (sizeof(s) - 1)

static char tmpdir[PATH_MAX];
static int dirfd_;

struct memsink {
	char *p;
	size_t len;
	size_t cap;
};

static int
mem_write(void *arg, const void *buf, size_t len)
{
	struct memsink *m = arg;
	char *np;

	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		np = realloc(m->p, m->cap);
		ck_assert_ptr_nonnull(np);
		m->p = np;
	}
	memcpy(m->p + m->len, buf, len);
	m->len += len;
	return 0;
}

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Makes SUB of the Maildir mode MODE. */
static void
chmod_sub(const char *sub, mode_t mode)
{
	ck_assert_int_eq(fchmodat(dirfd_, sub, mode, 0), 0);
}

static void
setup(void)
{
	char path[PATH_MAX + 16];

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_maildir.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/new", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tmp", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	dirfd_ = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(dirfd_, 0);
}

static void
teardown(void)
{
	close(dirfd_);
	(void)nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* Writes DATA as file NAME ("new/...", "cur/...", ...) of the Maildir. */
static void
put(const char *name, const void *data, size_t len)
{
	ssize_t r;
	size_t off;
	int fd;

	fd = openat(
	    dirfd_, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "%s: %s", name, strerror(errno));
	for (off = 0; off < len; off += (size_t)r) {
		r = write(fd, (const char *)data + off, len - off);
		ck_assert_int_gt(r, 0);
	}
	ck_assert_int_eq(close(fd), 0);
}

static void
put_str(const char *name, const char *s)
{
	put(name, s, strlen(s));
}

static int
exists(const char *name)
{
	return faccessat(dirfd_, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Sends message N of MD; it must be exactly its announced size. */
static void
send_ok(struct maildir *md, size_t n, struct memsink *m)
{
	struct sink sink = { mem_write, m };

	memset(m, 0, sizeof(*m));
	ck_assert_msg(maildir_send(md, n, &sink) == 0, "send %zu: %s", n,
	    strerror(errno));
	ck_assert_uint_eq(m->len, maildir_get(md, n)->wire);
}

/* Message N must be the one whose text starts with FIRST. */
static void
check_first_line(struct maildir *md, size_t n, const char *first)
{
	struct memsink m;

	send_ok(md, n, &m);
	ck_assert_msg(
	    m.len >= strlen(first) && memcmp(m.p, first, strlen(first)) == 0,
	    "message %zu is not %s", n, first);
	free(m.p);
}

START_TEST(test_order)
{
	struct maildir md;

	put_str("cur/1700000003.M3P1.host:2,S", "Subject: c\n\nc\n");
	put_str("new/1700000001.M9P1.host", "Subject: a\n\na\n");
	put_str("new/1700000002.M1P1.host", "Subject: b\n\nb\n");
	/* Same time: the unique part decides. */
	put_str("cur/1700000002.M2P1.host:2,", "Subject: b2\n\nb2\n");
	/* A longer number is a later time, not a smaller string. */
	put_str("new/999999999.M1P1.host", "Subject: early\n\ne\n");
	put_str("new/10000000000.M1P1.host", "Subject: late\n\nl\n");
	/* No time at all: last. */
	put_str("new/nodate", "Subject: z\n\nz\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 7);
	check_first_line(&md, 1, "Subject: early");
	check_first_line(&md, 2, "Subject: a");
	check_first_line(&md, 3, "Subject: b\r\n");
	check_first_line(&md, 4, "Subject: b2");
	check_first_line(&md, 5, "Subject: c");
	check_first_line(&md, 6, "Subject: late");
	check_first_line(&md, 7, "Subject: z");
	ck_assert_ptr_null(maildir_get(&md, 0));
	ck_assert_ptr_null(maildir_get(&md, 8));
	maildir_free(&md);
}
END_TEST

START_TEST(test_ignored)
{
	struct maildir md;
	char path[PATH_MAX + 32];

	put_str("new/1.a.host", "Subject: kept\n\nx\n");
	put_str("tmp/0.a.host", "Subject: tmp\n\nx\n");
	put_str("new/.0.hidden", "Subject: dot\n\nx\n");
	put_str("cur/.1.hidden:2,S", "Subject: dot\n\nx\n");
	put_str(".2.in-top", "Subject: top\n\nx\n");
	snprintf(path, sizeof(path), "%s/new/2.dir.host", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	ck_assert_int_eq(symlinkat("1.a.host", dirfd_, "new/3.link.host"), 0);
	snprintf(path, sizeof(path), "%s/new/4.fifo.host", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 1);
	check_first_line(&md, 1, "Subject: kept");
	maildir_free(&md);
}
END_TEST

START_TEST(test_missing_subdirs)
{
	struct maildir md;

	ck_assert_int_eq(unlinkat(dirfd_, "new", AT_REMOVEDIR), 0);
	ck_assert_int_eq(unlinkat(dirfd_, "tmp", AT_REMOVEDIR), 0);
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 0);
	maildir_free(&md);
	ck_assert_int_eq(unlinkat(dirfd_, "cur", AT_REMOVEDIR), 0);
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 0);
	maildir_free(&md);
}
END_TEST

/*
 * A cur/ or new/ that is a symbolic link is refused, wherever it points:
 * nothing outside the Maildir is read or removed through it.
 */
START_TEST(test_linked_subdirs)
{
	char path[PATH_MAX + 32];
	struct maildir md;
	size_t i;
	static const char *const subs[] = { "cur", "new" };

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/elsewhere", tmpdir);
		ck_assert_int_eq(mkdir(path, 0700), 0);
		put_str("elsewhere/1.out.host", "Subject: out\n\nx\n");
		ck_assert_int_eq(unlinkat(dirfd_, subs[i], AT_REMOVEDIR), 0);
		ck_assert_int_eq(symlinkat("elsewhere", dirfd_, subs[i]), 0);
		ck_assert_int_eq(maildir_index(&md, dirfd_), -1);
		ck_assert_int_eq(errno, ELOOP);
		ck_assert_int_eq(unlinkat(dirfd_, subs[i], 0), 0);
		ck_assert_int_eq(mkdirat(dirfd_, subs[i], 0700), 0);
		ck_assert_int_eq(
		    unlinkat(dirfd_, "elsewhere/1.out.host", 0), 0);
		ck_assert_int_eq(
		    unlinkat(dirfd_, "elsewhere", AT_REMOVEDIR), 0);
	}
}
END_TEST

/* The same message listed in new/ and cur/ (a rename mid-scan) shows once. */
START_TEST(test_listed_twice)
{
	struct maildir md;

	put_str("new/5.twice.host", "Subject: t\n\nt\n");
	ck_assert_int_eq(linkat(dirfd_, "new/5.twice.host", dirfd_,
			     "cur/5.twice.host:2,S", 0),
	    0);
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 1);
	maildir_free(&md);
}
END_TEST

/*
 * Sends TEXT (LEN octets) from a Maildir file and from a one-message mbox
 * file and checks that both give the same octets and sizes.
 */
static void
same_as_mbox(const char *text, size_t len)
{
	static const char from[] =
	    "From a@b.example Mon Jan  1 00:00:00 2024\n";
	struct sink sink;
	struct memsink a, b;
	struct maildir md;
	struct mbox mb;
	char *buf;
	size_t n;
	int fd;

	(void)unlinkat(dirfd_, "new/1.msg.host", 0);
	(void)unlinkat(dirfd_, "mbox", 0);
	put("new/1.msg.host", text, len);
	n = sizeof(from) - 1 + len + 1;
	ck_assert_ptr_nonnull(buf = malloc(n));
	memcpy(buf, from, sizeof(from) - 1);
	memcpy(buf + sizeof(from) - 1, text, len);
	n = sizeof(from) - 1 + len;
	/* The empty line that ends a message in an mbox is not its text. */
	if (len > 0 && text[len - 1] == '\n')
		buf[n++] = '\n';
	put("mbox", buf, n);
	free(buf);

	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 1);
	send_ok(&md, 1, &a);
	fd = openat(dirfd_, "mbox", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mbox_index(&mb, fd), 0);
	ck_assert_uint_eq(mbox_count(&mb), 1);
	memset(&b, 0, sizeof(b));
	sink.write = mem_write;
	sink.arg = &b;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), 0);
	ck_assert_uint_eq(mbox_get(&mb, 1)->wire, maildir_get(&md, 1)->wire);
	ck_assert_uint_eq(a.len, b.len);
	ck_assert(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
	mbox_free(&mb);
	close(fd);
	maildir_free(&md);
	free(a.p);
	free(b.p);
}

START_TEST(test_conversion)
{
	static const char *const texts[] = {
		"Subject: plain\n\nbody\n",
		"Status: RO\nX-Status: A\nSubject: s\nX-UID: 4\n\tcontinued\n"
		"X-Keywords: a\nContent-Length: 5\nX-IMAP: 1 2\nX-IMAPbase: 3\n"
		"\nbody\nStatus: in body stays\n",
		"Subject: crlf\r\n\r\nline\r\nbare\nmixed\r\n",
		"Subject: no final newline\n\nend",
		"Subject: lone cr\n\nend\r",
		"Subject: h\n",
		"",
		"\n",
		"\n\n\n",
		("Subject: from\n\nFrom inside\n>From quoted\n\n>From a@b Mon Jan  "
		 "1 00:00:00 2024\n"),
		"Subject: trailing\n\nbody\n\n\n",
		"Status: R\n",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		same_as_mbox(texts[i], strlen(texts[i]));
	same_as_mbox(LIT("Subject: nul\0x\n\nbody\0\0\n"));
}
END_TEST

/* Long lines across the copy buffer: the same octets as an mbox. */
START_TEST(test_conversion_big)
{
	size_t len = 700 * 1024, i;
	char *t = malloc(len);

	ck_assert_ptr_nonnull(t);
	memcpy(t, "X-Long: ", 8);
	for (i = 8; i < 300000; i++)
		t[i] = 'h';
	t[i++] = '\n';
	memcpy(t + i, "Status: O\n\n", 11);
	i += 11;
	for (; i < len; i++)
		t[i] = i % 97 == 0 ? '\n' : (i % 89 == 0 ? '\r' : 'b');
	same_as_mbox(t, len);
	free(t);
}
END_TEST

START_TEST(test_vanished)
{
	struct sink sink;
	struct memsink m;
	struct maildir md;

	put_str("new/1.a.host", "Subject: a\n\na\n");
	put_str("cur/2.b.host:2,S", "Subject: b\n\nb\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 2);
	ck_assert_int_eq(unlinkat(dirfd_, "new/1.a.host", 0), 0);
	memset(&m, 0, sizeof(m));
	sink.write = mem_write;
	sink.arg = &m;
	ck_assert_int_eq(maildir_send(&md, 1, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_uint_eq(m.len, 0);
	/* Deleting what is already gone is no error. */
	maildir_get(&md, 1)->deleted = true;
	maildir_get(&md, 2)->deleted = true;
	ck_assert_int_eq(unlinkat(dirfd_, "cur/2.b.host:2,S", 0), 0);
	ck_assert_int_eq(maildir_commit(&md), 0);
	maildir_free(&md);
}
END_TEST

START_TEST(test_renamed)
{
	struct maildir md;
	struct memsink m;

	put_str("new/1.a.host", "Subject: a\n\na\n");
	put_str("new/2.b.host", "Subject: b\n\nb\n");
	put_str("new/3.c.host", "Subject: c\n\nc\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_uint_eq(maildir_count(&md), 3);
	/* Another mail program reads them: new/ to cur/, flags changed. */
	ck_assert_int_eq(
	    renameat(dirfd_, "new/1.a.host", dirfd_, "cur/1.a.host:2,S"), 0);
	ck_assert_int_eq(
	    renameat(dirfd_, "new/2.b.host", dirfd_, "cur/2.b.host:2,S"), 0);
	ck_assert_int_eq(
	    renameat(dirfd_, "cur/2.b.host:2,S", dirfd_, "cur/2.b.host:2,RS"),
	    0);
	check_first_line(&md, 1, "Subject: a");
	check_first_line(&md, 2, "Subject: b");
	ck_assert_int_eq(
	    renameat(dirfd_, "cur/1.a.host:2,S", dirfd_, "cur/1.a.host:2,FS"),
	    0);
	maildir_get(&md, 1)->deleted = true;
	maildir_get(&md, 2)->deleted = true;
	ck_assert_int_eq(maildir_commit(&md), 0);
	ck_assert(!exists("cur/1.a.host:2,FS"));
	ck_assert(!exists("cur/2.b.host:2,RS"));
	ck_assert(exists("new/3.c.host"));
	send_ok(&md, 3, &m);
	free(m.p);
	maildir_free(&md);
}
END_TEST

START_TEST(test_commit_keeps_new_mail)
{
	struct maildir md;
	size_t i;

	put_str("new/1.a.host", "Subject: a\n\na\n");
	put_str("cur/2.b.host:2,S", "Subject: b\n\nb\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	/* Delivered during the session. */
	put_str("new/3.c.host", "Subject: c\n\nc\n");
	put_str("tmp/4.d.host", "Subject: d\n");
	for (i = 1; i <= maildir_count(&md); i++)
		maildir_get(&md, i)->deleted = true;
	ck_assert_int_eq(maildir_commit(&md), 0);
	ck_assert(!exists("new/1.a.host"));
	ck_assert(!exists("cur/2.b.host:2,S"));
	ck_assert(exists("new/3.c.host"));
	ck_assert(exists("tmp/4.d.host"));
	maildir_free(&md);
}
END_TEST

START_TEST(test_commit_nothing)
{
	struct maildir md;
	struct stat before, after;

	put_str("new/1.a.host", "Subject: a\n\na\n");
	ck_assert_int_eq(fstatat(dirfd_, "new", &before, 0), 0);
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	ck_assert_int_eq(maildir_commit(&md), 0);
	ck_assert_int_eq(fstatat(dirfd_, "new", &after, 0), 0);
	ck_assert(exists("new/1.a.host"));
	ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	maildir_free(&md);
}
END_TEST

START_TEST(test_hash_mismatch)
{
	struct sink sink;
	struct memsink m;
	struct maildir md;

	put_str("new/1.a.host", "Subject: a\n\nalpha\n");
	put_str("new/2.b.host", "Subject: b\n\nbeta\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	/* Same size, one octet changed. */
	put_str("new/1.a.host", "Subject: a\n\nalphA\n");
	/* Grown. */
	put_str("new/2.b.host", "Subject: b\n\nbeta and more\n");
	memset(&m, 0, sizeof(m));
	sink.write = mem_write;
	sink.arg = &m;
	ck_assert_int_eq(maildir_send(&md, 1, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(maildir_send(&md, 2, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_uint_eq(m.len, 0);
	maildir_free(&md);
}
END_TEST

START_TEST(test_index_file_not_regular)
{
	struct wire_msg m;
	int fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(wire_index_file(fd, NULL, &m), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(fd);
}
END_TEST

START_TEST(test_commit_read_only)
{
	struct maildir md;

	if (geteuid() == 0)
		return; /* root may write anyway */
	put_str("new/1.a.host", "Subject: a\n\na\n");
	put_str("cur/2.b.host:2,S", "Subject: b\n\nb\n");
	ck_assert_int_eq(maildir_index(&md, dirfd_), 0);
	maildir_get(&md, 1)->deleted = true;
	maildir_get(&md, 2)->deleted = true;
	chmod_sub("cur", 0500);
	ck_assert_int_eq(maildir_commit(&md), -1);
	ck_assert_int_eq(errno, EACCES);
	chmod_sub("cur", 0700);
	ck_assert(exists("new/1.a.host"));
	ck_assert(exists("cur/2.b.host:2,S"));
	maildir_free(&md);
}
END_TEST

START_TEST(test_folder_name)
{
	char name[5000], *buf;

	ck_assert_int_eq(maildir_folder_name("work", &buf), 0);
	ck_assert_str_eq(buf, ".work");
	free(buf);
	ck_assert_int_eq(maildir_folder_name("a/b/c", &buf), 0);
	ck_assert_str_eq(buf, ".a.b.c");
	free(buf);
	/* As long as the name: no fixed bound of its own. */
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	name[100] = '/';
	ck_assert_int_eq(maildir_folder_name(name, &buf), 0);
	ck_assert_uint_eq(strlen(buf), sizeof(name));
	ck_assert_int_eq(buf[0], '.');
	ck_assert_int_eq(buf[101], '.');
	ck_assert_int_eq(buf[sizeof(name) - 1], 'a');
	free(buf);
}
END_TEST

static Suite *
maildir_suite(void)
{
	Suite *s = suite_create("maildir");
	TCase *tc;

	tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_order);
	tcase_add_test(tc, test_ignored);
	tcase_add_test(tc, test_missing_subdirs);
	tcase_add_test(tc, test_listed_twice);
	tcase_add_test(tc, test_linked_subdirs);
	tcase_add_test(tc, test_conversion);
	tcase_add_test(tc, test_conversion_big);
	tcase_add_test(tc, test_commit_keeps_new_mail);
	tcase_add_test(tc, test_commit_nothing);
	tcase_add_test(tc, test_folder_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_vanished);
	tcase_add_test(tc, test_renamed);
	tcase_add_test(tc, test_hash_mismatch);
	tcase_add_test(tc, test_index_file_not_regular);
	tcase_add_test(tc, test_commit_read_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(maildir_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
