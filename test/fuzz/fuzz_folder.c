/*
 * fuzz_folder: arbitrary folder names through folder_name_ok() and
 * folder_open() on a fixed tree.
 *
 * LLVMFuzzerInitialize() builds, in a new temporary directory, a folder
 * directory "home" and beside it "outside" with a file "secret". The
 * folder directory holds regular files, nested folders, a FIFO, and
 * symbolic links that stay inside, that leave it (relative, absolute,
 * through a directory, through "/proc"), and a loop. The input, up to its
 * first NUL, is the name. Checked:
 * - folder_name_ok() agrees with a plain reading of folder.h's rules;
 * - a refused name is never opened (EPERM or ENAMETOOLONG);
 * - a descriptor returned by folder_open() or folder_open_walk() refers to
 *   a regular file or a directory strictly beneath the folder directory:
 *   not the outside file or folder (device and inode), and its
 *   /proc/self/fd path starts with the folder directory's path and "/";
 *   it is close-on-exec, read-only and blocking as asked;
 * - every failure has one of the errno values the header lists;
 * - a name the component walk opens, openat2 opens too, as the same file;
 * - no descriptor is left open.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "folder.h"
#include "fuzz.h"

static char base[PATH_MAX]; /* the temporary directory */
static char home[PATH_MAX]; /* the folder directory in it */
static size_t homelen;
static int homefd = -1;
static struct stat secret_st, outside_st;
static int lowest_free_fd = -1;
static char *name;

static void
path_in(char *dst, const char *rel)
{
	FUZZ_CHECK(
	    (size_t)snprintf(dst, PATH_MAX, "%s/%s", base, rel) < PATH_MAX);
}

static void
make_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	int fd;

	path_in(path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	FUZZ_CHECK(fd != -1);
	FUZZ_CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	FUZZ_CHECK(close(fd) == 0);
}

static void
make_dir(const char *rel)
{
	char path[PATH_MAX];

	path_in(path, rel);
	FUZZ_CHECK(mkdir(path, 0755) == 0);
}

static void
make_link(const char *target, const char *rel)
{
	char path[PATH_MAX];

	path_in(path, rel);
	FUZZ_CHECK(symlink(target, path) == 0);
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void
remove_tree(void)
{
	if (base[0] != '\0')
		(void)nftw(base, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void
build_tree(void)
{
	const char *tmp = getenv("TMPDIR");
	char tmpl[PATH_MAX], real[PATH_MAX], abs_secret[PATH_MAX + 16];
	const char *mbox = "From a@b Mon Jan  1 00:00:00 2024\nSubject: x\n\n"
			   "body\n";

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	FUZZ_CHECK((size_t)snprintf(tmpl, sizeof(tmpl),
		       "%s/pop2d-fuzz-folder.XXXXXX", tmp) < sizeof(tmpl));
	FUZZ_CHECK(mkdtemp(tmpl) != NULL);
	/* Compared with /proc/self/fd paths, which are resolved. */
	FUZZ_CHECK(realpath(tmpl, real) != NULL);
	FUZZ_CHECK(strlen(real) < sizeof(base));
	strcpy(base, real);
	atexit(remove_tree);

	make_dir("outside");
	make_file("outside/secret", mbox);
	make_dir("home");
	make_file("home/saved", mbox);
	make_file("home/notmbox", "just text\n");
	make_dir("home/dir");
	make_dir("home/mail");
	make_file("home/mail/sent", mbox);
	make_dir("home/mail/inner");
	make_file("home/mail/inner/deep", mbox);
	path_in(real, "home/fifo");
	FUZZ_CHECK(mkfifo(real, 0644) == 0);
	/* Links that stay inside. */
	make_link("saved", "home/alias");
	make_link("mail", "home/maillink");
	make_link("../saved", "home/mail/up");
	make_link("inner/deep", "home/mail/down");
	make_link("../mail/sent", "home/dir/across");
	/* Links that leave. */
	make_link("../outside/secret", "home/escape");
	make_link("../outside", "home/outdir");
	make_link("../../outside/secret", "home/mail/out");
	make_link("../../../outside", "home/mail/inner/outdir");
	path_in(abs_secret, "outside/secret");
	make_link(abs_secret, "home/abs");
	make_link("/proc/self/cwd", "home/proc");
	make_link("/", "home/root");
	make_link("..", "home/dotdot");
	make_link("loop", "home/loop");
	make_link("dangling-target", "home/dangling");

	path_in(real, "outside/secret");
	FUZZ_CHECK(stat(real, &secret_st) == 0);
	path_in(real, "outside");
	FUZZ_CHECK(stat(real, &outside_st) == 0);
	path_in(home, "home");
	homelen = strlen(home);
	homefd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	FUZZ_CHECK(homefd != -1);
}

/* folder.h's rules for a name, read plainly. */
static bool
ref_name_ok(const char *s)
{
	size_t len = strlen(s), i, start;

	if (len == 0 || len >= PATH_MAX || s[0] == '/' || s[0] == '~')
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	for (start = 0; start <= len; start = i + 1) {
		for (i = start; i < len && s[i] != '/'; i++)
			continue;
		if (i == start || (i - start == 1 && s[start] == '.') ||
		    (i - start == 2 && s[start] == '.' && s[start + 1] == '.'))
			return false;
	}
	return true;
}

static bool
known_errno(int e)
{
	return e == EPERM || e == ENAMETOOLONG || e == EINVAL || e == EXDEV ||
	    e == ELOOP || e == ENOENT || e == ENOTDIR;
}

/*
 * Checks the descriptor returned for a good name and returns its inode;
 * closes it.
 */
static ino_t
check_fd(int fd, bool want_dir)
{
	char proc[64], path[PATH_MAX + 1];
	struct stat st;
	ssize_t n;
	int fl;

	FUZZ_CHECK(fstat(fd, &st) == 0);
	FUZZ_CHECK(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
	if (want_dir)
		FUZZ_CHECK(S_ISDIR(st.st_mode));
	FUZZ_CHECK(
	    !(st.st_dev == secret_st.st_dev && st.st_ino == secret_st.st_ino));
	FUZZ_CHECK(!(
	    st.st_dev == outside_st.st_dev && st.st_ino == outside_st.st_ino));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	n = readlink(proc, path, sizeof(path) - 1);
	FUZZ_CHECK(n > 0);
	path[n] = '\0';
	FUZZ_CHECK((size_t)n > homelen + 1);
	FUZZ_CHECK(memcmp(path, home, homelen) == 0 && path[homelen] == '/');
	FUZZ_CHECK((fl = fcntl(fd, F_GETFL)) != -1);
	FUZZ_CHECK((fl & O_ACCMODE) == O_RDONLY);
	FUZZ_CHECK(!(fl & O_NONBLOCK));
	FUZZ_CHECK(fcntl(fd, F_GETFD) == FD_CLOEXEC);
	FUZZ_CHECK(close(fd) == 0);
	return st.st_ino;
}

/* Opens NAME with FLAGS through OPEN; returns the inode or 0. */
static ino_t
try_open(int (*open_fn)(int, const char *, int), bool ok, int flags)
{
	int fd;

	errno = 0;
	fd = open_fn(homefd, name, flags);
	if (fd == -1) {
		FUZZ_CHECK(known_errno(errno));
		if (!ok)
			FUZZ_CHECK(errno == EPERM || errno == ENAMETOOLONG);
		return 0;
	}
	FUZZ_CHECK(ok);
	return check_fd(fd, (flags & O_DIRECTORY) != 0);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	build_tree();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd != -1);
	lowest_free_fd = fd;
	FUZZ_CHECK(close(fd) == 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ino_t a, b;
	bool ok;
	int fd;

	if (homefd == -1)
		(void)LLVMFuzzerInitialize(NULL, NULL);
	name = malloc(size + 1);
	FUZZ_CHECK(name != NULL);
	memcpy(name, data, size);
	name[size] = '\0';

	ok = folder_name_ok(name);
	FUZZ_CHECK(ok == ref_name_ok(name));

	a = try_open(folder_open, ok, O_RDONLY);
	b = try_open(folder_open_walk, ok, O_RDONLY);
	/* The walk is the stricter resolver. */
	if (b != 0)
		FUZZ_CHECK(a == b);
	a = try_open(folder_open, ok, O_RDONLY | O_DIRECTORY);
	b = try_open(folder_open_walk, ok, O_RDONLY | O_DIRECTORY);
	if (b != 0)
		FUZZ_CHECK(a == b);
	(void)try_open(folder_open, ok, O_RDONLY | O_NOFOLLOW);

	/* Nothing leaked: the lowest free descriptor is still free. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	FUZZ_CHECK(fd == lowest_free_fd);
	FUZZ_CHECK(close(fd) == 0);
	free(name);
	name = NULL;
	return 0;
}
