/*
 * check_state: lib/state.c against real directories, FIFOs, links and
 * (as root) files of other uids: what is trusted, what is refused and why,
 * and that nothing refused is ever opened in a way that could block.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state.h"

/* A uid and gid that no test machine gives to anyone it cares about. */
#define OTHER 12345

/* The scratch folder, in the build tree: /tmp could never be safe. */
static char base[PATH_MAX];
static char statedir[PATH_MAX];
static int dfd = -1;

static void
at(char *buf, const char *dir, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", dir, rel);

	ck_assert(n > 0 && n < PATH_MAX);
}

static void
put(const char *name, const char *text)
{
	int fd =
	    openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
setup(void)
{
	char cwd[PATH_MAX];

	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	at(base, cwd, "check_state.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(base));
	ck_assert_int_eq(chmod(base, 0755), 0);
	at(statedir, base, "state");
	ck_assert_int_eq(mkdir(statedir, 0755), 0);
	ck_assert_int_eq(chmod(statedir, 0755), 0);
	dfd = open(statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ne(dfd, -1);
}

static void
teardown(void)
{
	close(dfd);
	nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * state_dir_safe(), with the offending directory copied into BAD (SIZE
 * octets) for the assertions; it is named for EPERM alone.
 */
static int
dir_safe_into(
    const char *dir, uid_t uid, char *bad, size_t size, const char **why)
{
	char *named = (char *)"unset";
	int r, saved;

	r = state_dir_safe(dir, uid, &named, why);
	saved = errno;
	if (r == -1 && saved == EPERM) {
		ck_assert_ptr_nonnull(named);
		ck_assert_uint_lt(strlen(named), size);
		snprintf(bad, size, "%s", named);
		free(named);
	} else {
		ck_assert_ptr_null(named);
	}
	errno = saved;
	return r;
}

/* Whether the build tree itself is safe to hold a state directory. */
static int
tree_safe(void)
{
	char bad[PATH_MAX];
	const char *why;

	return dir_safe_into(base, geteuid(), bad, sizeof(bad), &why) == 0;
}

START_TEST(dir_safe)
{
	char bad[PATH_MAX], p[PATH_MAX];
	const char *why;

	if (!tree_safe())
		return; /* a build tree others may write: nothing to prove here
			 */
	ck_assert_int_eq(
	    dir_safe_into(statedir, geteuid(), bad, sizeof(bad), &why), 0);
	/* Writable by the group: refused, and named. */
	ck_assert_int_eq(chmod(statedir, 0775), 0);
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(statedir, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(bad, statedir);
	ck_assert_str_eq(why, "writable by group or others");
	ck_assert_int_eq(chmod(statedir, 0755), 0);
	/* A sticky world-writable parent, as /tmp is: refused too. */
	ck_assert_int_eq(chmod(base, 01777), 0);
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(statedir, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(bad, base);
	ck_assert_int_eq(chmod(base, 0755), 0);
	/*
	 * A symbolic link on the way, in a folder anybody may write: the
	 * folder where it leads is safe, but the link could be swapped.
	 */
	at(p, base, "pub");
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(chmod(p, 01777), 0);
	at(p, base, "pub/way");
	ck_assert_int_eq(symlink(base, p), 0);
	at(p, base, "pub/way/state");
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	at(p, base, "pub");
	ck_assert_str_eq(bad, p);
	/* The same link in a safe folder is fine. */
	ck_assert_int_eq(chmod(p, 0755), 0);
	at(p, base, "pub/way/state");
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), 0);
	/* The directory itself may not be a symbolic link, nor a file. */
	at(p, base, "link");
	ck_assert_int_eq(symlink(statedir, p), 0);
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, ELOOP);
	put("file", "x");
	at(p, statedir, "file");
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	at(p, base, "missing");
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(dir_in_tmp)
{
	char tmp[] = "/tmp/check_state.XXXXXX", bad[PATH_MAX];
	const char *why;

	ck_assert_ptr_nonnull(mkdtemp(tmp));
	ck_assert_int_eq(chmod(tmp, 0755), 0);
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(tmp, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(bad, "/tmp");
	rmdir(tmp);
}
END_TEST

START_TEST(dir_other_owner)
{
	char bad[PATH_MAX];
	const char *why;

	if (geteuid() != 0 || !tree_safe())
		return;
	ck_assert_int_eq(chown(statedir, OTHER, OTHER), 0);
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(statedir, 0, bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "owned by neither root nor pop2d's user");
	/* pop2d running as that uid may use its own directory. */
	ck_assert_int_eq(
	    dir_safe_into(statedir, OTHER, bad, sizeof(bad), &why), 0);
}
END_TEST

START_TEST(make_dir)
{
	char p[PATH_MAX];
	struct stat st;
	mode_t old = umask(077);

	at(p, base, "made");
	ck_assert_int_eq(state_make_dir(p), 0);
	umask(old);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0755);
	errno = 0;
	ck_assert_int_eq(state_make_dir(p), -1);
	ck_assert_int_eq(errno, EEXIST);
	at(p, base, "no/parent");
	errno = 0;
	ck_assert_int_eq(state_make_dir(p), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(open_regular)
{
	const char *why = "unset";
	struct stat st;
	char buf[8];
	int fd;

	put("journal", "data");
	fd = state_open_file(dfd, "journal", O_RDONLY, 0, geteuid(), &why);
	ck_assert_int_ne(fd, -1);
	ck_assert_ptr_null(why);
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), 4);
	close(fd);
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "absent", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, ENOENT);
	fd = state_open_file(
	    dfd, "session", O_RDWR | O_CREAT, 0600, geteuid(), &why);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_mode & 07777, 0600);
	close(fd);
}
END_TEST

START_TEST(open_refused)
{
	const char *why;
	char p[PATH_MAX];

	/* A FIFO without a writer: opening it O_RDONLY would block for ever. */
	at(p, statedir, "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "fifo", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "not a regular file");
	errno = 0;
	ck_assert_int_eq(state_open_file(dfd, "fifo", O_RDWR | O_CREAT, 0600,
			     geteuid(), &why),
	    -1);
	ck_assert_int_eq(errno, EPERM);
	/* A symbolic link, even to a good file. */
	put("real", "x");
	at(p, statedir, "link");
	ck_assert_int_eq(symlink("real", p), 0);
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "link", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "a symbolic link");
	/* A second name of a file: it may be someone else's. */
	ck_assert_int_eq(linkat(dfd, "real", dfd, "twice", 0), 0);
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "twice", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "linked more than once");
	/* A directory. */
	ck_assert_int_eq(mkdirat(dfd, "dir", 0700), 0);
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "dir", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "not a regular file");
	/* Another uid's file. */
	put("theirs", "x");
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "theirs", O_RDONLY, 0, geteuid() + 1, &why),
	    -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "owned by another uid");
}
END_TEST

START_TEST(set_aside)
{
	char aside[64], p[PATH_MAX];
	struct stat st;

	at(p, statedir, "commit.jnl");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(
	    state_set_aside(dfd, "commit.jnl", aside, sizeof(aside)), 0);
	ck_assert_str_eq(aside, "commit.jnl.refused");
	ck_assert_int_eq(
	    fstatat(dfd, "commit.jnl.refused", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(
	    fstatat(dfd, "commit.jnl", &st, AT_SYMLINK_NOFOLLOW), -1);
	/* A second one never replaces the first. */
	put("commit.jnl", "second");
	ck_assert_int_eq(
	    state_set_aside(dfd, "commit.jnl", aside, sizeof(aside)), 0);
	ck_assert_str_eq(aside, "commit.jnl.refused.1");
	ck_assert_int_eq(
	    fstatat(dfd, "commit.jnl.refused", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert(S_ISFIFO(st.st_mode));
	ck_assert_int_eq(
	    fstatat(dfd, "commit.jnl.refused.1", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(st.st_size, 6);
	errno = 0;
	ck_assert_int_eq(
	    state_set_aside(dfd, "commit.jnl", aside, sizeof(aside)), -1);
	ck_assert_int_eq(errno, ENOENT);
}
END_TEST

START_TEST(leftovers)
{
	char p[PATH_MAX];
	struct stat st;

	put("commit.jnl.tmp", "half a journal");
	put("other.tmp", "x");
	put("session", "");
	put("commit.jnl", "a journal");
	at(p, statedir, "fifo.tmp");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	put("linked", "x");
	ck_assert_int_eq(linkat(dfd, "linked", dfd, "linked.tmp", 0), 0);
	at(p, statedir, "sym.tmp");
	ck_assert_int_eq(symlink("session", p), 0);
	ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), 2);
	ck_assert_int_eq(fstatat(dfd, "commit.jnl.tmp", &st, 0), -1);
	ck_assert_int_eq(fstatat(dfd, "other.tmp", &st, 0), -1);
	/* Only the user's lone regular files: nothing else is touched. */
	ck_assert_int_eq(fstatat(dfd, "session", &st, 0), 0);
	ck_assert_int_eq(fstatat(dfd, "commit.jnl", &st, 0), 0);
	ck_assert_int_eq(fstatat(dfd, "fifo.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(
	    fstatat(dfd, "linked.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
	ck_assert_int_eq(fstatat(dfd, "sym.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
	/* Another uid's: left alone too. */
	ck_assert_int_eq(state_remove_leftovers(dfd, geteuid() + 1), 0);
	ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), 0);
}
END_TEST

START_TEST(prepare)
{
	char p[PATH_MAX];
	struct stat st;

	if (geteuid() != 0)
		return;
	/* Made for the user, 0700. */
	ck_assert_int_eq(state_prepare(statedir, "new", OTHER, OTHER), 0);
	at(p, statedir, "new");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_uid, OTHER);
	ck_assert_int_eq(st.st_mode & 07777, 0700);
	ck_assert_int_eq(state_prepare(statedir, "new", OTHER, OTHER), 0);
	/* Left by root (a run killed before the fchown): given to the user. */
	at(p, statedir, "rootmade");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	ck_assert_int_eq(state_prepare(statedir, "rootmade", OTHER, OTHER), 0);
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_uid, OTHER);
	/* Another uid's folder is never adopted. */
	errno = 0;
	ck_assert_int_eq(
	    state_prepare(statedir, "new", OTHER + 1, OTHER + 1), -1);
	ck_assert_int_eq(errno, EPERM);
	at(p, statedir, "new");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert_int_eq(st.st_uid, OTHER);
	/* Never through a symbolic link. */
	at(p, statedir, "sym");
	ck_assert_int_eq(symlink("new", p), 0);
	errno = 0;
	ck_assert_int_eq(state_prepare(statedir, "sym", OTHER, OTHER), -1);
	ck_assert(errno == ELOOP || errno == ENOTDIR);
	errno = 0;
	ck_assert_int_eq(state_prepare(statedir, "..", OTHER, OTHER), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

/* The refusals that need no other uid: names, paths, descriptors. */
START_TEST(refusals)
{
	char bad[PATH_MAX], p[PATH_MAX], name[NAME_MAX + 1], aside[64];
	const char *why;
	int fd;

	/* A relative state directory, though it exists. */
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(".", geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* A file, a link, nothing at all. */
	put("file", "x");
	at(p, statedir, "file");
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	at(p, statedir, "none");
	errno = 0;
	ck_assert_int_eq(
	    dir_safe_into(p, geteuid(), bad, sizeof(bad), &why), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* A user's folder name is one plain name. */
	errno = 0;
	ck_assert_int_eq(state_open(statedir, ""), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(state_open(statedir, "a/b"), -1);
	ck_assert_int_eq(errno, EINVAL);
	errno = 0;
	ck_assert_int_eq(state_open(statedir, "."), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* The state directory itself missing. */
	at(p, statedir, "none");
	errno = 0;
	ck_assert_int_eq(state_open(p, "u"), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* A name in the way of its folder. */
	errno = 0;
	ck_assert_int_eq(state_open(statedir, "file"), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	/* state_make_dir() never adopts what exists. */
	errno = 0;
	ck_assert_int_eq(state_make_dir(statedir), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* O_EXCL on an existing file of the user's: open's own error. */
	errno = 0;
	ck_assert_int_eq(state_open_file(dfd, "file", O_RDWR | O_CREAT | O_EXCL,
			     0600, geteuid(), &why),
	    -1);
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_ptr_null(why);
	/* Missing, without O_CREAT. */
	errno = 0;
	ck_assert_int_eq(
	    state_open_file(dfd, "none", O_RDONLY, 0, geteuid(), &why), -1);
	ck_assert_int_eq(errno, ENOENT);
	/* A name too long to take the refused suffix. */
	memset(name, 'j', NAME_MAX - 4);
	name[NAME_MAX - 4] = '\0';
	put(name, "x");
	errno = 0;
	ck_assert_int_eq(state_set_aside(dfd, name, aside, sizeof(aside)), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	/* Leftovers looked for in what is not a directory. */
	fd = openat(dfd, "file", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ne(fd, -1);
	errno = 0;
	ck_assert_int_eq(state_remove_leftovers(fd, geteuid()), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	close(fd);
}
END_TEST

/*
 * Out of descriptors (a process at its RLIMIT_NOFILE): the leftovers are
 * not looked for, and the caller is told why; nothing is removed.
 */
START_TEST(leftovers_no_descriptor)
{
	struct rlimit rl, was;
	int fd, last = -1;

	put("commit.jnl.tmp", "half");
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &was), 0);
	rl = was;
	rl.rlim_cur = 64;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) != -1)
		last = fd;
	ck_assert_int_eq(errno, EMFILE);
	errno = 0;
	ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), -1);
	ck_assert_int_eq(errno, EMFILE);
	for (fd = dfd + 1; fd <= last; fd++)
		(void)close(fd);
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &was), 0);
	ck_assert_int_eq(faccessat(dfd, "commit.jnl.tmp", F_OK, 0), 0);
	ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), 1);
}
END_TEST

/* Every name a refused file may be kept under is taken: EEXIST. */
START_TEST(set_aside_full)
{
	char aside[64], name[64];
	int k;

	put("commit.jnl.refused", "");
	for (k = 1; k < 100; k++) {
		snprintf(name, sizeof(name), "commit.jnl.refused.%d", k);
		put(name, "");
	}
	put("commit.jnl", "kept");
	errno = 0;
	ck_assert_int_eq(
	    state_set_aside(dfd, "commit.jnl", aside, sizeof(aside)), -1);
	ck_assert_int_eq(errno, EEXIST);
	/* Nothing was replaced, and the refused file is where it was. */
	ck_assert_int_eq(faccessat(dfd, "commit.jnl", F_OK, 0), 0);
}
END_TEST

/* A new file made for another uid than ours is refused once open. */
START_TEST(open_made_for_other)
{
	struct stat st;
	const char *why;

	errno = 0;
	ck_assert_int_eq(state_open_file(dfd, "made", O_RDWR | O_CREAT, 0600,
			     geteuid() + 1, &why),
	    -1);
	ck_assert_int_eq(errno, EPERM);
	ck_assert_str_eq(why, "owned by another uid");
	/* It was made (by us), and is left for the caller to judge. */
	ck_assert_int_eq(fstatat(dfd, "made", &st, AT_SYMLINK_NOFOLLOW), 0);
}
END_TEST

/* A user's folder of another uid, or writable by others: never ours. */
START_TEST(open_user_refused)
{
	char p[PATH_MAX];
	int fd;

	at(p, statedir, "mine");
	ck_assert_int_eq(mkdir(p, 0700), 0);
	fd = state_open(statedir, "mine");
	ck_assert_int_ne(fd, -1);
	close(fd);
	ck_assert_int_eq(chmod(p, 0770), 0);
	errno = 0;
	ck_assert_int_eq(state_open(statedir, "mine"), -1);
	ck_assert_int_eq(errno, EPERM);
	if (geteuid() != 0)
		return;
	ck_assert_int_eq(chmod(p, 0700), 0);
	ck_assert_int_eq(chown(p, OTHER, OTHER), 0);
	errno = 0;
	ck_assert_int_eq(state_open(statedir, "mine"), -1);
	ck_assert_int_eq(errno, EPERM);
}
END_TEST

#ifdef POP2_TEST_SEAMS
/* Each system call of the state folders fails in turn. */
static const char *const state_faults[] = {
	"state.open:EIO",
	"state.mkdir:EIO",
	"state.open-user:EIO",
	"state.fchown:EIO",
	"state.unlink:EIO",
};

START_TEST(faults)
{
	char p[PATH_MAX];
	struct stat st;

	ck_assert_int_eq(setenv("POP2_FAIL_AT", state_faults[_i], 1), 0);
	errno = 0;
	if (_i == 4) {
		/* A leftover that cannot be removed is not counted, and stays.
		 */
		put("commit.jnl.tmp", "half");
		ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), 0);
		ck_assert_int_eq(faccessat(dfd, "commit.jnl.tmp", F_OK, 0), 0);
		unsetenv("POP2_FAIL_AT");
		ck_assert_int_eq(state_remove_leftovers(dfd, geteuid()), 1);
		return;
	}
	if (_i < 3)
		ck_assert_int_eq(state_open(statedir, "u"), -1);
	else if (geteuid() == 0) {
		ck_assert_int_eq(
		    state_prepare(statedir, "u", OTHER, OTHER), -1);
		/* Made, but still root's: the next attempt gives it away. */
		at(p, statedir, "u");
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert_int_eq(st.st_uid, 0);
	} else {
		unsetenv("POP2_FAIL_AT");
		return;
	}
	ck_assert_int_eq(errno, EIO);
	unsetenv("POP2_FAIL_AT");
	if (_i == 3) {
		ck_assert_int_eq(state_prepare(statedir, "u", OTHER, OTHER), 0);
		ck_assert_int_eq(lstat(p, &st), 0);
		ck_assert_int_eq(st.st_uid, OTHER);
	}
}
END_TEST
#endif

static Suite *
state_suite(void)
{
	Suite *s = suite_create("state");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, dir_safe);
	tcase_add_test(tc, dir_in_tmp);
	tcase_add_test(tc, dir_other_owner);
	tcase_add_test(tc, make_dir);
	tcase_add_test(tc, open_regular);
	tcase_add_test(tc, open_refused);
	tcase_add_test(tc, set_aside);
	tcase_add_test(tc, leftovers);
	tcase_add_test(tc, prepare);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, open_made_for_other);
	tcase_add_test(tc, set_aside_full);
	tcase_add_test(tc, leftovers_no_descriptor);
	tcase_add_test(tc, open_user_refused);
#ifdef POP2_TEST_SEAMS
	tcase_add_loop_test(tc, faults, 0,
	    (int)(sizeof(state_faults) / sizeof(state_faults[0])));
#endif
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
