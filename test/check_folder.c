#include "config.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder.h"
#include "have_openat2.h"

/* ---------------------------------------------------------------- names */

struct name_case {
	const char *name;
	bool ok;
};

static const struct name_case name_cases[] = {
	{ "mail/sent", true },
	{ "sent", true },
	{ "INBOX", true },
	{ "a/b/c/d", true },
	{ "..a", true },
	{ "a..", true },
	{ "a/..b/c", true },
	{ "...", true },
	{ ".hidden", true },
	{ "mail/.hidden", true },
	{ "with space", true },
	{ "caf\xc3\xa9", true },
	{ "\xe2\x82\xac/\xf0\x9f\x93\xa7", true },
	{ "\x80\xff", true },
	{ "a~b", true },
	{ "a/~b", true },
	{ "", false },
	{ "/", false },
	{ "/etc/passwd", false },
	{ "//x", false },
	{ "~", false },
	{ "~user", false },
	{ "~user/mail", false },
	{ "~/mail", false },
	{ "..", false },
	{ "../x", false },
	{ "a/../b", false },
	{ "a/..", false },
	{ ".", false },
	{ "./a", false },
	{ "a/./b", false },
	{ "a/.", false },
	{ "a//b", false },
	{ "a/", false },
	{ "a\x01", false },
	{ "a\x1f"
	  "b",
	    false },
	{ "a\x7f", false },
	{ "a\tb", false },
	{ "a\nb", false },
	{ "a\rb", false },
	{ "\x1b[31m", false },
};

START_TEST(test_name_table)
{
	const struct name_case *c = &name_cases[_i];

	ck_assert_msg(folder_name_ok(c->name) == c->ok,
	    "case %d: folder_name_ok(\"%s\") should be %s", _i, c->name,
	    c->ok ? "true" : "false");
}
END_TEST

START_TEST(test_name_null)
{
	ck_assert(!folder_name_ok(NULL));
}
END_TEST

START_TEST(test_name_length)
{
	char *name = malloc(PATH_MAX + 1);

	ck_assert_ptr_nonnull(name);
	memset(name, 'a', PATH_MAX);
	name[PATH_MAX - 1] = '\0';
	ck_assert(folder_name_ok(name));
	name[PATH_MAX - 1] = 'a';
	name[PATH_MAX] = '\0';
	ck_assert(!folder_name_ok(name));
	free(name);
}
END_TEST

/* ------------------------------------------------------------- the tree */

/*
 * root/outside, root/outside_dir/secret: what no name may reach.
 * root/home: the folder directory, open as home_fd.
 */
static char root[PATH_MAX];
static char home[PATH_MAX];
static int home_fd = -1;

static void
put_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "fopen %s: %s", path, strerror(errno));
	ck_assert_int_ne(fputs(text, f), EOF);
	ck_assert_int_eq(fclose(f), 0);
}

static void
at(char *buf, const char *base, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", base, rel);

	ck_assert(n > 0 && n < PATH_MAX);
}

static void
tree_setup(void)
{
	char p[PATH_MAX], q[PATH_MAX];
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	ck_assert(snprintf(root, sizeof(root), "%s/check_folder.XXXXXX", tmp) <
	    (int)sizeof(root));
	ck_assert_msg(mkdtemp(root) != NULL, "mkdtemp: %s", strerror(errno));
	at(home, root, "home");
	ck_assert_int_eq(mkdir(home, 0700), 0);

	at(p, root, "outside");
	put_file(p, "outside\n");
	at(p, root, "outside_dir");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	at(p, root, "outside_dir/secret");
	put_file(p, "secret\n");

	at(p, home, "plain");
	put_file(p, "plain\n");
	at(p, home, "mail");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	at(p, home, "mail/sent");
	put_file(p, "sent\n");
	at(p, home, "mail/sub");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	at(p, home, "mail/sub/deep");
	put_file(p, "deep\n");
	at(p, home, "caf\xc3\xa9");
	put_file(p, "utf8\n");

	/* Links that stay inside the folder directory. */
	at(p, home, "link_in");
	ck_assert_int_eq(symlink("plain", p), 0);
	at(p, home, "mail/link_up");
	ck_assert_int_eq(symlink("../plain", p), 0);
	at(p, home, "dir_in");
	ck_assert_int_eq(symlink("mail", p), 0);
	/* Absolute, although it points inside. */
	at(p, home, "link_abs_in");
	at(q, home, "plain");
	ck_assert_int_eq(symlink(q, p), 0);

	/* Links that leave it. */
	at(p, home, "link_out");
	ck_assert_int_eq(symlink("../outside", p), 0);
	at(p, home, "mail/link_out2");
	ck_assert_int_eq(symlink("../../outside", p), 0);
	at(p, home, "link_passwd");
	ck_assert_int_eq(symlink("/etc/passwd", p), 0);
	at(p, home, "dir_out");
	ck_assert_int_eq(symlink("../outside_dir", p), 0);
	at(p, home, "dir_root");
	ck_assert_int_eq(symlink("/", p), 0);
	at(p, home, "link_self");
	ck_assert_int_eq(symlink("link_self", p), 0);
	at(p, home, "link_proc");
	ck_assert_int_eq(symlink("/proc/self/root/etc/passwd", p), 0);
	at(p, home, "dangling");
	ck_assert_int_eq(symlink("nowhere", p), 0);

	/* Neither a regular file nor a directory. */
	at(p, home, "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);

	home_fd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(home_fd, 0);
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

static void
tree_teardown(void)
{
	char p[PATH_MAX];

	if (home_fd != -1) {
		(void)close(home_fd);
		home_fd = -1;
	}
	/* A test may have locked a directory; open it again to remove it. */
	at(p, home, "locked");
	(void)chmod(p, 0700);
	ck_assert_int_eq(nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS), 0);
}

/* The lowest free descriptor: unchanged by a call that leaks nothing. */
static int
lowest_free_fd(void)
{
	int fd = dup(0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	return fd;
}

/* ---------------------------------------------------------- folder_open */

/* Marks a case that opens a directory. */
static const char DIR_[] = "<directory>";

/*
 * ERR2 is what folder_open answers where openat2 works, ERRWALK what the
 * component walk answers: 0 for success, or an errno. TEXT is the file's
 * content, or DIR_ for a directory.
 */
struct open_case {
	const char *name;
	int flags;
	int err2;
	int errwalk;
	const char *text;
};

static const struct open_case open_cases[] = {
	{ "plain", O_RDONLY, 0, 0, "plain\n" },
	{ "plain", O_RDWR, 0, 0, "plain\n" },
	{ "mail/sent", O_RDONLY, 0, 0, "sent\n" },
	{ "mail/sub/deep", O_RDONLY, 0, 0, "deep\n" },
	{ "caf\xc3\xa9", O_RDONLY, 0, 0, "utf8\n" },
	{ "mail", O_RDONLY, 0, 0, DIR_ },
	{ "mail/sub", O_RDONLY | O_DIRECTORY, 0, 0, DIR_ },
	{ "plain", O_RDONLY | O_DIRECTORY, ENOTDIR, ENOTDIR, NULL },
	{ "plain/x", O_RDONLY, ENOTDIR, ENOTDIR, NULL },
	{ "missing", O_RDONLY, ENOENT, ENOENT, NULL },
	{ "mail/missing", O_RDONLY, ENOENT, ENOENT, NULL },
	{ "missing/x", O_RDONLY, ENOENT, ENOENT, NULL },
	{ "dangling", O_RDONLY, ENOENT, ELOOP, NULL },

	/* Links inside: followed by openat2, never by the walk. */
	{ "link_in", O_RDONLY, 0, ELOOP, "plain\n" },
	{ "mail/link_up", O_RDONLY, 0, ELOOP, "plain\n" },
	{ "dir_in/sent", O_RDONLY, 0, ELOOP, "sent\n" },
	{ "dir_in", O_RDONLY | O_DIRECTORY, 0, ELOOP, DIR_ },
	{ "link_in", O_RDONLY | O_NOFOLLOW, ELOOP, ELOOP, NULL },
	{ "link_self", O_RDONLY, ELOOP, ELOOP, NULL },
	{ "link_abs_in", O_RDONLY, EXDEV, ELOOP, NULL },

	/* Links outside. */
	{ "link_out", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "link_out", O_RDWR, EXDEV, ELOOP, NULL },
	{ "mail/link_out2", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "link_passwd", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "link_proc", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "dir_out", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "dir_out", O_RDONLY | O_DIRECTORY, EXDEV, ELOOP, NULL },
	{ "dir_out/secret", O_RDONLY, EXDEV, ELOOP, NULL },
	{ "dir_root/etc/passwd", O_RDONLY, EXDEV, ELOOP, NULL },

	/* Refused by name. */
	{ "../outside", O_RDONLY, EPERM, EPERM, NULL },
	{ "mail/../plain", O_RDONLY, EPERM, EPERM, NULL },
	{ "/etc/passwd", O_RDONLY, EPERM, EPERM, NULL },
	{ "~/plain", O_RDONLY, EPERM, EPERM, NULL },
	{ "", O_RDONLY, EPERM, EPERM, NULL },
	{ ".", O_RDONLY, EPERM, EPERM, NULL },
	{ "mail//sent", O_RDONLY, EPERM, EPERM, NULL },
	{ "plain\n", O_RDONLY, EPERM, EPERM, NULL },

	/* Neither regular nor a directory: refused without blocking. */
	{ "fifo", O_RDONLY, EINVAL, EINVAL, NULL },
	{ "fifo", O_RDWR, EINVAL, EINVAL, NULL },

	/* Flags that would create or not really open. */
	{ "plain", O_RDWR | O_CREAT, EINVAL, EINVAL, NULL },
	{ "new", O_RDWR | O_CREAT | O_EXCL, EINVAL, EINVAL, NULL },
	{ "mail", O_RDWR | O_TMPFILE, EINVAL, EINVAL, NULL },
	{ "plain", O_PATH, EINVAL, EINVAL, NULL },
};

static void
check_open(
    int (*fn)(int, const char *, int), const char *fname, int expect, int i)
{
	const struct open_case *c = &open_cases[i];
	int before = lowest_free_fd();
	int fd, saved;

	errno = 0;
	fd = fn(home_fd, c->name, c->flags);
	saved = errno;
	if (expect != 0) {
		ck_assert_msg(fd == -1 && saved == expect,
		    "case %d: %s(\"%s\", %#x) = %d, errno %s; want errno %s", i,
		    fname, c->name, c->flags, fd, strerror(saved),
		    strerror(expect));
		ck_assert_int_eq(lowest_free_fd(), before);
	} else {
		struct stat st;
		int fl;

		ck_assert_msg(fd >= 0, "case %d: %s(\"%s\", %#x) failed: %s", i,
		    fname, c->name, c->flags, strerror(saved));
		ck_assert_int_eq(fstat(fd, &st), 0);
		if (c->text == DIR_) {
			ck_assert(S_ISDIR(st.st_mode));
		} else {
			char buf[64];
			ssize_t n;

			ck_assert(S_ISREG(st.st_mode));
			n = read(fd, buf, sizeof(buf) - 1);
			ck_assert_int_ge(n, 0);
			buf[n] = '\0';
			ck_assert_str_eq(buf, c->text);
		}
		fl = fcntl(fd, F_GETFL);
		ck_assert_int_ne(fl, -1);
		ck_assert_int_eq(fl & O_ACCMODE, c->flags & O_ACCMODE);
		ck_assert_msg((fl & O_NONBLOCK) == 0, "O_NONBLOCK left set");
		ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
		ck_assert_int_eq(close(fd), 0);
		/* The walk closed every directory it passed through. */
		ck_assert_int_eq(lowest_free_fd(), before);
	}
	/* The folder directory's descriptor belongs to the caller. */
	ck_assert_int_ne(fcntl(home_fd, F_GETFD), -1);
}

START_TEST(test_open_table)
{
	const struct open_case *c = &open_cases[_i];
	char p[PATH_MAX];

	check_open(folder_open, "folder_open",
	    have_openat2() ? c->err2 : c->errwalk, _i);
	/* Nothing was created by the refused O_CREAT. */
	at(p, home, "new");
	ck_assert_int_eq(access(p, F_OK), -1);
}
END_TEST

START_TEST(test_walk_table)
{
	check_open(
	    folder_open_walk, "folder_open_walk", open_cases[_i].errwalk, _i);
}
END_TEST

START_TEST(test_open_nonblock_kept)
{
	int fd = folder_open(home_fd, "plain", O_RDONLY | O_NONBLOCK);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_open_long_names)
{
	char *name = malloc(PATH_MAX + 1);
	char comp[NAME_MAX + 2], two[NAME_MAX + 4];

	ck_assert_ptr_nonnull(name);
	memset(name, 'a', PATH_MAX);
	name[PATH_MAX] = '\0';
	errno = 0;
	ck_assert_int_eq(folder_open(home_fd, name, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(folder_open_walk(home_fd, name, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	free(name);

	/* One component longer than NAME_MAX, last or in the middle. */
	memset(comp, 'b', NAME_MAX + 1);
	comp[NAME_MAX + 1] = '\0';
	ck_assert(snprintf(two, sizeof(two), "%s/x", comp) == NAME_MAX + 3);
	errno = 0;
	ck_assert_int_eq(folder_open(home_fd, comp, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(folder_open_walk(home_fd, comp, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(folder_open(home_fd, two, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	errno = 0;
	ck_assert_int_eq(folder_open_walk(home_fd, two, O_RDONLY), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
}
END_TEST

START_TEST(test_open_null)
{
	errno = 0;
	ck_assert_int_eq(folder_open(home_fd, NULL, O_RDONLY), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

/*
 * A directory the caller may not search: folder_open answers whatever a
 * plain openat answers (EACCES unless the caller has CAP_DAC_OVERRIDE).
 */
START_TEST(test_open_permission)
{
	char p[PATH_MAX];
	int fd, want, fd2, fdw;

	at(p, home, "locked");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	at(p, home, "locked/f");
	put_file(p, "locked\n");
	at(p, home, "locked");
	ck_assert_int_eq(chmod(p, 0), 0);

	fd = openat(home_fd, "locked/f", O_RDONLY | O_CLOEXEC);
	want = fd == -1 ? errno : 0;
	if (fd != -1)
		ck_assert_int_eq(close(fd), 0);

	errno = 0;
	fd2 = folder_open(home_fd, "locked/f", O_RDONLY);
	ck_assert_int_eq(fd2 == -1 ? errno : 0, want);
	errno = 0;
	fdw = folder_open_walk(home_fd, "locked/f", O_RDONLY);
	ck_assert_int_eq(fdw == -1 ? errno : 0, want);
	if (fd2 != -1)
		ck_assert_int_eq(close(fd2), 0);
	if (fdw != -1)
		ck_assert_int_eq(close(fdw), 0);
}
END_TEST

/* Relative to the working directory when the caller passes AT_FDCWD. */
START_TEST(test_open_at_fdcwd)
{
	int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd;

	ck_assert_int_ge(cwd, 0);
	ck_assert_int_eq(fchdir(home_fd), 0);
	fd = folder_open(AT_FDCWD, "mail/sent", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	fd = folder_open_walk(AT_FDCWD, "mail/sent", O_RDONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(close(fd), 0);
	errno = 0;
	ck_assert_int_eq(folder_open_walk(AT_FDCWD, "link_out", O_RDONLY), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_int_eq(fchdir(cwd), 0);
	ck_assert_int_eq(close(cwd), 0);
}
END_TEST

/*
 * folder_open itself falls back to the walk when openat2 answers ENOSYS,
 * as under an old kernel or a container's seccomp filter. The filter is
 * installed in a child so that it cannot outlive the test when Check does
 * not fork (CK_FORK=no).
 */
static int
child_without_openat2(void)
{
#ifdef SYS_openat2
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
		    offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(insns) / sizeof(insns[0]),
		.filter = insns,
	};
#endif
	int fd;

#ifdef SYS_openat2
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == -1)
		return 77;
#endif
	if (have_openat2())
		return 2;
	fd = folder_open(home_fd, "mail/sent", O_RDONLY);
	if (fd == -1)
		return 3;
	(void)close(fd);
	/* Only the walk refuses a link that stays inside. */
	if (folder_open(home_fd, "link_in", O_RDONLY) != -1 || errno != ELOOP)
		return 4;
	if (folder_open(home_fd, "dir_out/secret", O_RDONLY) != -1 ||
	    errno != ELOOP)
		return 5;
	if (folder_open(home_fd, "fifo", O_RDONLY) != -1 || errno != EINVAL)
		return 6;
	return 0;
}

START_TEST(test_open_fallback)
{
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ne(pid, -1);
	if (pid == 0)
		_exit(child_without_openat2());
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr,
		    "check_folder: no seccomp here; "
		    "fallback covered by folder_open_walk only\n");
		return;
	}
	ck_assert_msg(WEXITSTATUS(status) == 0, "fallback child failed: %d",
	    WEXITSTATUS(status));
}
END_TEST

static Suite *
folder_suite(void)
{
	Suite *s = suite_create("folder");
	TCase *tc;

	tc = tcase_create("names");
	tcase_add_loop_test(tc, test_name_table, 0,
	    (int)(sizeof(name_cases) / sizeof(name_cases[0])));
	tcase_add_test(tc, test_name_null);
	tcase_add_test(tc, test_name_length);
	suite_add_tcase(s, tc);

	tc = tcase_create("open");
	tcase_add_checked_fixture(tc, tree_setup, tree_teardown);
	tcase_add_loop_test(tc, test_open_table, 0,
	    (int)(sizeof(open_cases) / sizeof(open_cases[0])));
	tcase_add_loop_test(tc, test_walk_table, 0,
	    (int)(sizeof(open_cases) / sizeof(open_cases[0])));
	tcase_add_test(tc, test_open_nonblock_kept);
	tcase_add_test(tc, test_open_long_names);
	tcase_add_test(tc, test_open_null);
	tcase_add_test(tc, test_open_permission);
	tcase_add_test(tc, test_open_at_fdcwd);
	tcase_add_test(tc, test_open_fallback);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(folder_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
