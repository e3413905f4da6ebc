/*
 * check_store: the folders of one user as the session sees them (store.c):
 * selecting INBOX and folders, sizes, deletions and their commit, sending,
 * the recovery at login, and (in a test build) each injected failure of
 * the store's own system calls and of the dot-lock it takes.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commit.h"
#include "io.h"
#include "seam.h"
#include "store.h"
#include "have_openat2.h"

/* The journal's name in the state directory (doc/DESIGN). */
#define COMMIT_JOURNAL "commit.jnl"

#define MSG(subject)                                                           \
	"From a@example.org Mon Nov 16 09:12:44 2026\n"                        \
	"Subject: " subject "\n\nbody of " subject "\n\n"

static char tmpdir[PATH_MAX];
static char inbox[PATH_MAX + 16];
static int statefd;

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

/* The whole of PATH, NUL-terminated; the caller frees it. */
static char *
read_file(const char *path)
{
	static const size_t cap = 1 << 16;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	ck_assert_ptr_nonnull(buf);
	fd = open(path, O_RDONLY);
	ck_assert_int_ne(fd, -1);
	n = read(fd, buf, cap - 1);
	ck_assert_int_ge(n, 0);
	buf[n] = '\0';
	close(fd);
	return buf;
}

static void
setup(void)
{
	char path[PATH_MAX + 16];

	unsetenv("POP2_FAIL_AT");
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	snprintf(path, sizeof(path), "%s/state", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	statefd = open(path, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ne(statefd, -1);
	snprintf(path, sizeof(path), "%s/home", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(inbox, sizeof(inbox), "%s/inbox", tmpdir);
	write_file(inbox, MSG("one") MSG("two") MSG("three"));
}

static void
teardown(void)
{
	unsetenv("POP2_FAIL_AT");
	close(statefd);
	nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A store on the fixture's INBOX and folder directory. */
static void
open_store(struct store *st)
{
	char home[PATH_MAX + 16];

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	ck_assert_int_eq(store_init(st, inbox, home, statefd, NULL), 0);
}

/* Makes the Maildir DIR (tmp/, new/, cur/) holding one file per text. */
static void
make_maildir(const char *dir, const char *const *texts, size_t n)
{
	char path[PATH_MAX + 64];
	size_t i;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	snprintf(path, sizeof(path), "%s/tmp", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/new", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", dir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s/%zu.M%zuP1.test%s", dir,
		    i % 2 == 0 ? "new" : "cur", 1000 + i, i,
		    i % 2 == 0 ? "" : ":2,S");
		write_file(path, texts[i]);
	}
}

/* How many message files the Maildir DIR holds in new/ and cur/. */
static int
maildir_files(const char *dir)
{
	static const char *const subs[] = { "new", "cur" };
	char path[PATH_MAX + 16];
	struct dirent *de;
	int n = 0;
	size_t i;
	DIR *d;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subs[i]);
		ck_assert_ptr_nonnull(d = opendir(path));
		while ((de = readdir(d)) != NULL)
			n += de->d_name[0] != '.';
		closedir(d);
	}
	return n;
}

/* The octets RETR sends for message N of the selection. */
static size_t
sent(struct store *st, uint32_t n, char *buf, size_t size)
{
	struct io io;
	ssize_t got;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	io_init(&io, -1, p[1], 1000);
	ck_assert_int_eq(store_send(st, n, &io), 0);
	close(p[1]);
	got = read(p[0], buf, size - 1);
	close(p[0]);
	ck_assert_int_ge(got, 0);
	buf[got] = '\0';
	return (size_t)got;
}

static const char *const md_texts[] = {
	"Subject: md-one\n\nbody\n",
	"Subject: md-two\n\nbody\n",
	"Subject: md-three\n\nbody\n",
};

START_TEST(select_and_sizes)
{
	struct store st;
	size_t count = 99;

	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 3);
	/* "Subject: one\r\n\r\nbody of one\r\n" */
	ck_assert_uint_eq(store_size(&st, 1), 14 + 2 + 13);
	ck_assert_uint_eq(store_size(&st, 4), 0);
	ck_assert_uint_eq(store_size(&st, 0), 0);
	store_mark_deleted(&st, 2);
	store_mark_deleted(&st, 2);
	ck_assert_uint_eq(st.deleted, 1);
	ck_assert_uint_eq(store_size(&st, 2), 0);
	store_close(&st);
}
END_TEST

START_TEST(commit_removes_deleted)
{
	struct store st;
	size_t count;
	char *after;

	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	store_mark_deleted(&st, 1);
	store_mark_deleted(&st, 3);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	store_close(&st);
	after = read_file(inbox);
	ck_assert_str_eq(after, MSG("two"));
	free(after);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
}
END_TEST

START_TEST(commit_nothing_writes_nothing)
{
	struct store st;
	struct stat before, after;
	size_t count;

	ck_assert_int_eq(stat(inbox, &before), 0);
	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	store_close(&st);
	ck_assert_int_eq(stat(inbox, &after), 0);
	ck_assert_int_eq(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
	ck_assert_int_eq(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
}
END_TEST

START_TEST(send_matches_size)
{
	struct store st;
	struct io io;
	size_t count;
	int p[2];
	char buf[256];
	ssize_t n;

	ck_assert_int_eq(pipe(p), 0);
	io_init(&io, -1, p[1], 1000);
	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_int_eq(store_send(&st, 2, &io), 0);
	close(p[1]);
	n = read(p[0], buf, sizeof(buf));
	close(p[0]);
	ck_assert_int_eq(n, (ssize_t)store_size(&st, 2));
	ck_assert_int_eq(
	    memcmp(buf, "Subject: two\r\n\r\nbody of two\r\n", (size_t)n), 0);
	ck_assert_uint_eq(st.sent_messages, 1);
	ck_assert_uint_eq(st.sent_octets, (unsigned long long)n);
	store_close(&st);
}
END_TEST

START_TEST(folders)
{
	char path[PATH_MAX + 32];
	struct store st;
	size_t count = 99;

	snprintf(path, sizeof(path), "%s/home/saved", tmpdir);
	write_file(path, MSG("kept"));
	open_store(&st);
	ck_assert_int_eq(store_select(&st, "saved", &count), 0);
	ck_assert_uint_eq(count, 1);
	/* Outside the folder directory, or missing: refused. */
	ck_assert_int_eq(store_select(&st, "../inbox", &count), -1);
	ck_assert_int_eq(store_select(&st, "missing", &count), -1);
	ck_assert_int_eq(errno, ENOENT);
	store_close(&st);
}
END_TEST

/*
 * Before any folder is selected there is nothing to size, delete or send;
 * a directory in the folder directory that no format claims is refused
 * as a directory; an INBOX with two names is not selected; a message that
 * cannot reach the client is not counted as sent.
 */
START_TEST(no_selection_and_refusals)
{
	char path[PATH_MAX + 32];
	struct store st;
	struct io io;
	size_t count = 99;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	io_init(&io, -1, p[1], 1000);
	open_store(&st);
	ck_assert_uint_eq(store_size(&st, 1), 0);
	store_mark_deleted(&st, 1);
	ck_assert_uint_eq(st.deleted, 0);
	errno = 0;
	ck_assert_int_eq(store_send(&st, 1, &io), -1);
	ck_assert_int_eq(errno, ENOENT);
	snprintf(path, sizeof(path), "%s/home/plain", tmpdir);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	errno = 0;
	ck_assert_int_eq(store_select(&st, "plain", &count), -1);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_ptr_null(st.sel.ops);
	/*
	 * An INBOX with a second name is never taken for the lone file it
	 * must be: each attempt to open and lock it fails, and after the
	 * last one the selection does, with ESTALE.
	 */
	snprintf(path, sizeof(path), "%s/second", tmpdir);
	ck_assert_int_eq(link(inbox, path), 0);
	errno = 0;
	ck_assert_int_eq(store_select_inbox(&st, &count), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_ptr_null(st.sel.ops);
	ck_assert_int_eq(unlink(path), 0);
	/* The client stopped reading: the message is not sent. */
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	signal(SIGPIPE, SIG_IGN);
	close(p[0]);
	errno = 0;
	ck_assert_int_eq(store_send(&st, 2, &io), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(st.sent_messages, 0);
	ck_assert_uint_eq(st.sent_octets, 0);
	close(p[1]);
	store_close(&st);
}
END_TEST

START_TEST(maildir_inbox)
{
	char md[PATH_MAX + 16], path[PATH_MAX + 64], spec[PATH_MAX + 32];
	struct store st;
	size_t count = 99;

	snprintf(md, sizeof(md), "%s/md", tmpdir);
	ck_assert_int_eq(mkdir(md, 0700), 0);
	snprintf(path, sizeof(path), "%s/new", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/cur", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/tmp", md);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/new/1.M1P1.test", md);
	write_file(path, "Subject: one\n\nbody\n");
	snprintf(spec, sizeof(spec), "maildir:%s", md);
	ck_assert_int_eq(store_init(&st, spec, NULL, statefd, NULL), 0);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 1);
	store_mark_deleted(&st, 1);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	store_close(&st);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

/* mbox INBOX -> a Maildir beneath the folder directory -> back. */
START_TEST(fold_mbox_to_maildir_and_back)
{
	char md[PATH_MAX + 16], buf[256], *after;
	struct store st;
	size_t count = 99;

	snprintf(md, sizeof(md), "%s/home/md", tmpdir);
	make_maildir(md, md_texts, 3);
	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 3);
	store_mark_deleted(&st, 1);
	/* FOLD commits INBOX's deletion, then selects the Maildir. */
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	ck_assert_int_eq(store_select(&st, "md", &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(st.sel.path, md);
	ck_assert_uint_eq(sent(&st, 2, buf, sizeof(buf)), store_size(&st, 2));
	ck_assert_str_eq(buf, "Subject: md-two\r\n\r\nbody\r\n");
	store_mark_deleted(&st, 2);
	ck_assert_uint_eq(st.deleted, 1);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	ck_assert_int_eq(maildir_files(md), 2);
	ck_assert_int_eq(store_select(&st, "INBOX", &count), 0);
	ck_assert_uint_eq(count, 2);
	ck_assert_uint_eq(st.deleted_total, 2);
	store_close(&st);
	after = read_file(inbox);
	ck_assert_str_eq(after, MSG("two") MSG("three"));
	free(after);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
}
END_TEST

/*
 * Maildir INBOX: its Maildir++ folder comes first; a name it does not hold
 * is an mbox file (or a Maildir) beneath the folder directory, committed
 * through the journal like any mbox folder.
 */
START_TEST(fold_maildir_to_mbox_and_back)
{
	char md[PATH_MAX + 16], sub[PATH_MAX + 32], spec[PATH_MAX + 32];
	char home[PATH_MAX + 16], box[PATH_MAX + 32], buf[256], *after;
	struct store st;
	size_t count = 99;

	snprintf(md, sizeof(md), "%s/md", tmpdir);
	make_maildir(md, md_texts, 3);
	snprintf(sub, sizeof(sub), "%s/.both", md);
	make_maildir(sub, md_texts, 1);
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(box, sizeof(box), "%s/both", home);
	write_file(box, MSG("b1") MSG("b2"));
	snprintf(box, sizeof(box), "%s/box", home);
	write_file(box, MSG("x1") MSG("x2") MSG("x3"));
	snprintf(spec, sizeof(spec), "maildir:%s", md);
	ck_assert_int_eq(store_init(&st, spec, home, statefd, NULL), 0);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_int_eq(store_select(&st, "both", &count), 0);
	ck_assert_uint_eq(count, 1);
	ck_assert_int_eq(store_select(&st, "box", &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_str_eq(st.sel.path, box);
	ck_assert_uint_eq(sent(&st, 3, buf, sizeof(buf)), store_size(&st, 3));
	ck_assert_str_eq(buf, "Subject: x3\r\n\r\nbody of x3\r\n");
	store_mark_deleted(&st, 1);
	store_mark_deleted(&st, 3);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	ck_assert_int_eq(store_select(&st, "inbox", &count), 0);
	ck_assert_uint_eq(count, 3);
	store_mark_deleted(&st, 3);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	store_close(&st);
	after = read_file(box);
	ck_assert_str_eq(after, MSG("x2"));
	free(after);
	ck_assert_int_eq(maildir_files(md), 2);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
}
END_TEST

/* A Maildir++ folder that is no directory is refused, not looked past. */
START_TEST(fold_maildir_inside_refused)
{
	char md[PATH_MAX + 16], path[PATH_MAX + 32], spec[PATH_MAX + 32];
	char home[PATH_MAX + 16];
	struct store st;
	size_t count = 99;

	snprintf(md, sizeof(md), "%s/md", tmpdir);
	make_maildir(md, md_texts, 1);
	snprintf(path, sizeof(path), "%s/.plain", md);
	write_file(path, "not a folder\n");
	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(path, sizeof(path), "%s/plain", home);
	write_file(path, MSG("beneath"));
	snprintf(spec, sizeof(spec), "maildir:%s", md);
	ck_assert_int_eq(store_init(&st, spec, home, statefd, NULL), 0);
	ck_assert_int_eq(store_select(&st, "plain", &count), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	ck_assert_ptr_null(st.sel.ops);
	/* A Maildir++ folder whose cur/ is a link is refused at its index. */
	snprintf(path, sizeof(path), "%s/.linked", md);
	make_maildir(path, md_texts, 1);
	snprintf(path, sizeof(path), "%s/.linked/cur", md);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink("../cur", path), 0);
	ck_assert_int_eq(store_select(&st, "linked", &count), -1);
	ck_assert_int_eq(errno, ELOOP);
	ck_assert_ptr_null(st.sel.ops);
	store_close(&st);
}
END_TEST

/*
 * Beneath the folder directory: a link to a Maildir outside it, a Maildir
 * whose cur/ or new/ is a link, a FIFO and a directory that is no Maildir
 * are all refused, with an mbox INBOX and with a Maildir INBOX alike.
 * Where openat2 is missing (valgrind, old kernels) the walk follows no
 * link at all: ELOOP instead of EXDEV, and a link inside is refused too.
 */
START_TEST(fold_maildir_refusals)
{
	char md[PATH_MAX + 16], path[PATH_MAX + 64], spec[PATH_MAX + 32];
	char home[PATH_MAX + 16];
	struct store st;
	size_t count = 99;
	bool beneath;
	int kind;

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(md, sizeof(md), "%s/outside", tmpdir);
	make_maildir(md, md_texts, 2);
	snprintf(path, sizeof(path), "%s/out", home);
	ck_assert_int_eq(symlink(md, path), 0);
	snprintf(path, sizeof(path), "%s/rel", home);
	ck_assert_int_eq(symlink("../outside", path), 0);
	snprintf(path, sizeof(path), "%s/curlink", home);
	make_maildir(path, md_texts, 1);
	snprintf(path, sizeof(path), "%s/curlink/cur", home);
	ck_assert_int_eq(rmdir(path), 0);
	snprintf(spec, sizeof(spec), "%s/cur", md);
	ck_assert_int_eq(symlink(spec, path), 0);
	snprintf(path, sizeof(path), "%s/newlink", home);
	make_maildir(path, md_texts, 0);
	snprintf(path, sizeof(path), "%s/newlink/new", home);
	ck_assert_int_eq(rmdir(path), 0);
	ck_assert_int_eq(symlink("cur", path), 0);
	snprintf(path, sizeof(path), "%s/fifo", home);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	snprintf(path, sizeof(path), "%s/plain-dir", home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	/* Inside the folder directory a link is followed, as for an mbox. */
	snprintf(path, sizeof(path), "%s/good", home);
	make_maildir(path, md_texts, 3);
	snprintf(path, sizeof(path), "%s/alias", home);
	ck_assert_int_eq(symlink("good", path), 0);

	snprintf(md, sizeof(md), "%s/md", tmpdir);
	make_maildir(md, md_texts, 1);
	snprintf(spec, sizeof(spec), "maildir:%s", md);
	beneath = have_openat2();
	for (kind = 0; kind < 2; kind++) {
		ck_assert_int_eq(store_init(&st, kind == 0 ? inbox : spec, home,
				     statefd, NULL),
		    0);
		ck_assert_int_eq(store_select(&st, "out", &count), -1);
		ck_assert_int_eq(errno, beneath ? EXDEV : ELOOP);
		ck_assert_int_eq(store_select(&st, "rel", &count), -1);
		ck_assert_int_eq(errno, beneath ? EXDEV : ELOOP);
		ck_assert_int_eq(store_select(&st, "curlink", &count), -1);
		ck_assert_int_eq(errno, ELOOP);
		ck_assert_int_eq(store_select(&st, "newlink", &count), -1);
		ck_assert_int_eq(errno, ELOOP);
		ck_assert_int_eq(store_select(&st, "fifo", &count), -1);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_int_eq(store_select(&st, "plain-dir", &count), -1);
		ck_assert_int_eq(errno, EISDIR);
		ck_assert_ptr_null(st.sel.ops);
		if (beneath) {
			ck_assert_int_eq(store_select(&st, "alias", &count), 0);
			ck_assert_uint_eq(count, 3);
		} else {
			ck_assert_int_eq(
			    store_select(&st, "alias", &count), -1);
			ck_assert_int_eq(errno, ELOOP);
		}
		store_close(&st);
	}
	/* Nothing outside was touched. */
	snprintf(md, sizeof(md), "%s/outside", tmpdir);
	ck_assert_int_eq(maildir_files(md), 2);
}
END_TEST

/*
 * Half a Maildir beneath the folder directory (cur/ without new/, a cur/
 * that is a file) is refused; a Maildir INBOX that does not exist holds
 * no folders, so the name is looked up beneath; nothing selected, nothing
 * is sent or marked.
 */
START_TEST(fold_odd_shapes)
{
	char path[PATH_MAX + 64], spec[PATH_MAX + 32], home[PATH_MAX + 16];
	char *long_inbox;
	struct store st;
	struct io io;
	size_t count = 99;

	snprintf(home, sizeof(home), "%s/home", tmpdir);
	snprintf(path, sizeof(path), "%s/half", home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/half/cur", home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/filecur", home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/filecur/new", home);
	ck_assert_int_eq(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/filecur/cur", home);
	write_file(path, "not a directory\n");
	snprintf(path, sizeof(path), "%s/box", home);
	write_file(path, MSG("b1") MSG("b2"));
	snprintf(spec, sizeof(spec), "maildir:%s/no-such-maildir", tmpdir);
	ck_assert_int_eq(store_init(&st, spec, home, statefd, NULL), 0);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 0);
	ck_assert_int_eq(store_select(&st, "half", &count), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(store_select(&st, "filecur", &count), -1);
	ck_assert_int_eq(errno, ENOTDIR);
	io_init(&io, -1, -1, 1000);
	ck_assert_int_eq(store_send(&st, 1, &io), -1);
	ck_assert_int_eq(errno, ENOENT);
	store_mark_deleted(&st, 1);
	ck_assert_uint_eq(st.deleted, 0);
	ck_assert_int_eq(store_commit(&st), MAILDROP_COMMITTED);
	ck_assert_int_eq(store_select(&st, "box", &count), 0);
	ck_assert_uint_eq(count, 2);
	store_close(&st);
	/*
	 * An INBOX path longer than any path the kernel takes: kept whole,
	 * and refused by the kernel when it is opened, not taken for an
	 * empty INBOX.
	 */
	ck_assert_ptr_nonnull(long_inbox = malloc(PATH_MAX + 16));
	memset(long_inbox, 'a', PATH_MAX + 15);
	long_inbox[0] = '/';
	long_inbox[PATH_MAX + 15] = '\0';
	ck_assert_int_eq(store_init(&st, long_inbox, NULL, statefd, NULL), 0);
	ck_assert_str_eq(st.inbox, long_inbox);
	errno = 0;
	ck_assert_int_eq(store_select_inbox(&st, &count), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	store_close(&st);
	free(long_inbox);
}
END_TEST

/* The prefix of an INBOX path names its format, in one place. */
START_TEST(format_by_prefix)
{
	const char *path;

	ck_assert_ptr_eq(
	    maildrop_format("maildir:/m", &path), &maildrop_maildir);
	ck_assert_str_eq(path, "/m");
	ck_assert_ptr_eq(maildrop_format("/var/mail/u", &path), &maildrop_mbox);
	ck_assert_str_eq(path, "/var/mail/u");
	ck_assert_ptr_eq(maildrop_format("Maildir:/m", &path), &maildrop_mbox);
	ck_assert_str_eq(path, "Maildir:/m");
}
END_TEST

START_TEST(recover_nothing_and_damaged)
{
	struct store_recovery rec;
	struct store st;

	open_store(&st);
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 0);
	/* A damaged journal means the maildrop was never touched: removed. */
	{
		int fd =
		    openat(statefd, COMMIT_JOURNAL, O_WRONLY | O_CREAT, 0600);

		ck_assert_int_ne(fd, -1);
		ck_assert_int_eq(write(fd, "garbage\n", 8), 8);
		close(fd);
	}
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 0);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
	store_close(&st);
}
END_TEST

/*
 * A session of the fixture's INBOX, or of the folder NAME, deleting
 * message 1, killed in the middle of its commit: a journal waits in the
 * state directory.
 */
static void
crash_commit_folder(const char *name)
{
	struct store st;
	size_t count;
	pid_t pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		setenv("POP2_CRASH_AT", "mid-write", 1);
		open_store(&st);
		if ((name == NULL ? store_select_inbox(&st, &count)
				  : store_select(&st, name, &count)) != 0)
			_exit(1);
		store_mark_deleted(&st, 1);
		(void)store_commit(&st);
		_exit(2);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
	    "the commit was not killed (status %#x)", status);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), 0);
}

/*
 * The maildrop a journal names is no longer a file that may be used - a
 * symbolic link now, or a directory: what the journal holds is set aside
 * (1), the journal kept as the orphan, and what is at the name now is
 * neither followed nor touched.
 */
START_TEST(recover_inbox_replaced)
{
	char other[PATH_MAX + 16];
	struct store_recovery rec;
	struct store st;
	char *text;

	crash_commit_folder(NULL);
	snprintf(other, sizeof(other), "%s/other", tmpdir);
	write_file(other, MSG("other"));
	ck_assert_int_eq(unlink(inbox), 0);
	if (_i == 0)
		ck_assert_int_eq(symlink(other, inbox), 0);
	else
		ck_assert_int_eq(mkdir(inbox, 0700), 0);
	open_store(&st);
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 1);
	ck_assert_str_eq(rec.path, inbox);
	store_recovery_free(&rec);
	store_close(&st);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
	ck_assert_int_eq(faccessat(statefd, "commit.jnl.orphan", F_OK, 0), 0);
	ck_assert_int_eq(faccessat(statefd, "recovered.mbox", F_OK, 0), 0);
	text = read_file(other);
	ck_assert_str_eq(text, MSG("other"));
	free(text);
}
END_TEST

/* ------------------------------------------------------------- faults */

START_TEST(fault_open_inbox)
{
	struct store st;
	size_t count;

	setenv("POP2_FAIL_AT", "store.open:EIO", 1);
	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_ptr_null(st.sel.ops);
	store_close(&st);
}
END_TEST

START_TEST(fault_unlink_damaged_journal)
{
	struct store_recovery rec;
	struct store st;
	char *text;
	int fd;

	fd = openat(statefd, COMMIT_JOURNAL, O_WRONLY | O_CREAT, 0600);
	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, "garbage\n", 8), 8);
	close(fd);
	setenv("POP2_FAIL_AT", "commit.unlink:EIO", 1);
	open_store(&st);
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), 0);
	unsetenv("POP2_FAIL_AT");
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 0);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
	store_close(&st);
	text = read_file(inbox);
	ck_assert_str_eq(text, MSG("one") MSG("two") MSG("three"));
	free(text);
}
END_TEST

/*
 * A folder beneath the folder directory whose commit was killed, then
 * replaced by something no format opens - a FIFO, a socket, or a file in
 * place of the directory that held it: the journal's contents are set
 * aside, and what is there now is never read.
 */
START_TEST(recover_folder_replaced)
{
	char path[PATH_MAX + 32], sub[PATH_MAX + 32];
	struct sockaddr_un sa;
	struct store_recovery rec;
	struct store st;
	int s;

	snprintf(sub, sizeof(sub), "%s/home/sub", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/home/%s", tmpdir,
	    _i == 2 ? "sub/box" : "saved");
	write_file(path, MSG("a") MSG("b") MSG("c"));
	crash_commit_folder(_i == 2 ? "sub/box" : "saved");
	ck_assert_int_eq(unlink(path), 0);
	if (_i == 0)
		ck_assert_int_eq(mkfifo(path, 0600), 0);
	else if (_i == 1) {
		memset(&sa, 0, sizeof(sa));
		sa.sun_family = AF_UNIX;
		ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
		memcpy(sa.sun_path, path, strlen(path) + 1);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		ck_assert_int_ne(s, -1);
		ck_assert_int_eq(
		    bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
		close(s);
	} else {
		snprintf(path, sizeof(path), "%s/home/sub.away", tmpdir);
		ck_assert_int_eq(rename(sub, path), 0);
		write_file(sub, "not a directory\n");
	}
	open_store(&st);
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 1);
	ck_assert_str_eq(rec.path + strlen(rec.path) - (_i == 2 ? 8 : 6),
	    _i == 2 ? "/sub/box" : "/saved");
	store_recovery_free(&rec);
	store_close(&st);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
	ck_assert_int_eq(faccessat(statefd, "commit.jnl.orphan", F_OK, 0), 0);
	ck_assert_int_eq(faccessat(statefd, "recovered.mbox", F_OK, 0), 0);
}
END_TEST

/*
 * The maildrop a journal names cannot be opened (an I/O error): the
 * recovery fails with it and keeps the journal; the next one finishes
 * the commit.
 */
START_TEST(fault_recover_open)
{
	struct store_recovery rec;
	struct store st;
	char *text;

	crash_commit_folder(NULL);
	setenv("POP2_FAIL_AT", "store.open:EIO", 1);
	open_store(&st);
	errno = 0;
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), -1);
	ck_assert_int_eq(errno, EIO);
	store_recovery_free(&rec);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), 0);
	unsetenv("POP2_FAIL_AT");
	ck_assert_int_eq(store_recover(&st, geteuid(), &rec), 0);
	ck_assert_int_gt(rec.size, 0);
	store_recovery_free(&rec);
	store_close(&st);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
	text = read_file(inbox);
	ck_assert_str_eq(text, MSG("two") MSG("three"));
	free(text);
}
END_TEST

/* The dot-lock at the selection fails: INBOX is not selected, and says why. */
START_TEST(fault_select_lock)
{
	struct store st;
	size_t count = 99;

	setenv("POP2_FAIL_AT", "lock.post-open:EIO", 1);
	open_store(&st);
	errno = 0;
	ck_assert_int_eq(store_select_inbox(&st, &count), -1);
	ck_assert_int_eq(errno, EIO);
	ck_assert_ptr_null(st.sel.ops);
	unsetenv("POP2_FAIL_AT");
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	ck_assert_uint_eq(count, 3);
	store_close(&st);
}
END_TEST

/* The dot-lock at the commit (its second taking) fails: nothing deleted. */
static const char *const commit_lock_faults[] = {
	"lock.post-open:EIO:2",
	"lock.post-write:EIO:2",
	"lock.link:EIO:2",
	"lock.link:ENOSPC:2",
};

START_TEST(fault_commit_lock)
{
	enum maildrop_commit r;
	struct store st;
	size_t count;
	char *text;

	setenv("POP2_FAIL_AT", commit_lock_faults[_i], 1);
	open_store(&st);
	ck_assert_int_eq(store_select_inbox(&st, &count), 0);
	store_mark_deleted(&st, 2);
	/* Every failure of the lock leaves the folder as it was. */
	r = store_commit(&st);
	ck_assert(r == MAILDROP_BUSY || r == MAILDROP_LOCK_FAILED);
	store_close(&st);
	text = read_file(inbox);
	ck_assert_str_eq(text, MSG("one") MSG("two") MSG("three"));
	free(text);
	ck_assert_int_eq(faccessat(statefd, COMMIT_JOURNAL, F_OK, 0), -1);
}
END_TEST

static Suite *
store_suite(void)
{
	Suite *s = suite_create("store");
	TCase *core = tcase_create("core");
	TCase *faults = tcase_create("faults");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, select_and_sizes);
	tcase_add_test(core, commit_removes_deleted);
	tcase_add_test(core, commit_nothing_writes_nothing);
	tcase_add_test(core, send_matches_size);
	tcase_add_test(core, folders);
	tcase_add_test(core, no_selection_and_refusals);
	tcase_add_test(core, maildir_inbox);
	tcase_add_test(core, fold_mbox_to_maildir_and_back);
	tcase_add_test(core, fold_maildir_to_mbox_and_back);
	tcase_add_test(core, fold_maildir_inside_refused);
	tcase_add_test(core, fold_maildir_refusals);
	tcase_add_test(core, fold_odd_shapes);
	tcase_add_test(core, format_by_prefix);
	tcase_add_test(core, recover_nothing_and_damaged);
	suite_add_tcase(s, core);

	/* The failure points exist only in a test build. */
	if (seam_enabled()) {
		tcase_add_checked_fixture(faults, setup, teardown);
		tcase_add_test(faults, fault_open_inbox);
		tcase_add_test(faults, fault_select_lock);
		tcase_add_test(faults, fault_recover_open);
		tcase_add_loop_test(faults, recover_folder_replaced, 0, 3);
		tcase_add_loop_test(faults, recover_inbox_replaced, 0, 2);
		tcase_add_test(faults, fault_unlink_damaged_journal);
		tcase_add_loop_test(faults, fault_commit_lock, 0,
		    (int)(sizeof(commit_lock_faults) /
			sizeof(commit_lock_faults[0])));
		suite_add_tcase(s, faults);
	}
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(store_suite());
	int failed;

	/* Short lock waits: a busy lock is not what these tests are about. */
	setenv("POP2_LOCK_WAIT", "1", 1);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (failed != 0)
		return EXIT_FAILURE;
	if (!seam_enabled()) {
		/* Part of the suite could not run: a SKIP, not a pass. */
		fprintf(stderr,
		    "SKIP: check_store: the faults need "
		    "./configure --enable-test-seams\n");
		return 77;
	}
	return EXIT_SUCCESS;
}
