/*
 * check_mbox: the mbox index and copy-out.
 *
 * Every test that indexes a file also sends every visible message and
 * checks that the octets sent are exactly the announced wire size, which is
 * the promise READ and RETR depend on.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xxhash.h>

#include "mbox.h"

#ifndef TEST_DATA
#error "TEST_DATA must name the test/data directory"
#endif

/* A literal with its length, NUL octets included. */
#define LIT(s) (s), (sizeof(s) - 1)

static char tmpdir[PATH_MAX];
static int nfiles;

/* A sink that keeps what it gets and can be told to fail. */
struct memsink {
	char *p;
	size_t len;
	size_t cap;
	int calls;
	size_t maxcall;
	int fail_at; /* fail on this call (1-based); 0 never */
	int fail_errno;
};

static int
mem_write(void *arg, const void *buf, size_t len)
{
	struct memsink *m = arg;
	char *np;

	m->calls++;
	if (m->fail_at != 0 && m->calls == m->fail_at) {
		errno = m->fail_errno;
		return -1;
	}
	if (len > m->maxcall)
		m->maxcall = len;
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

static void
mem_reset(struct memsink *m)
{
	free(m->p);
	memset(m, 0, sizeof(*m));
}

static void
setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/check_mbox.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	nfiles = 0;
}

static void
teardown(void)
{
	char path[PATH_MAX + 16];
	int i;

	for (i = 0; i < nfiles; i++) {
		snprintf(path, sizeof(path), "%s/f%d", tmpdir, i);
		(void)unlink(path);
	}
	(void)rmdir(tmpdir);
}

/* Writes DATA to a new file in the test directory; returns it O_RDWR. */
static int
put_file(const void *data, size_t len)
{
	char path[PATH_MAX + 16];
	ssize_t r;
	size_t off;
	int fd;

	snprintf(path, sizeof(path), "%s/f%d", tmpdir, nfiles++);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	for (off = 0; off < len; off += (size_t)r) {
		r = write(fd, (const char *)data + off, len - off);
		ck_assert_int_gt(r, 0);
	}
	return fd;
}

static void
send_into(const struct mbox *mb, size_t n, struct memsink *m)
{
	struct sink sink = { mem_write, m };

	ck_assert_msg(
	    mbox_send(mb, n, &sink) == 0, "send %zu: %s", n, strerror(errno));
}

/* Sends every visible message; each must be exactly its wire size. */
static void
check_all(const struct mbox *mb)
{
	struct memsink m;
	size_t i;

	for (i = 1; i <= mbox_count(mb); i++) {
		memset(&m, 0, sizeof(m));
		send_into(mb, i, &m);
		ck_assert_uint_eq(m.len, mbox_get(mb, i)->wire);
		ck_assert_uint_ge(m.len, 2);
		mem_reset(&m);
	}
}

/* Also checks each stored hash against the file's octets. */
static void
check_hashes(const struct mbox *mb, const char *data)
{
	size_t i;
	uint64_t s, e;

	for (i = 0; i < mb->nmsg; i++) {
		s = mb->msg[i].start;
		e = mbox_stored_end(mb, i);
		ck_assert_uint_eq(
		    mb->msg[i].hash, XXH3_64bits(data + s, (size_t)(e - s)));
	}
}

static int
index_data(struct mbox *mb, const char *data, size_t len)
{
	int fd;

	fd = put_file(data, len);
	ck_assert_int_eq(mbox_index(mb, fd), 0);
	ck_assert_uint_eq(mb->size, len);
	check_all(mb);
	check_hashes(mb, data);
	return fd;
}

static void
done(struct mbox *mb, int fd)
{
	mbox_free(mb);
	ck_assert_int_eq(close(fd), 0);
}

/* Message N must be sent as exactly the LEN octets at WANT. */
static void
expect_msg(const struct mbox *mb, size_t n, const char *want, size_t len)
{
	struct memsink m;

	memset(&m, 0, sizeof(m));
	send_into(mb, n, &m);
	ck_assert_uint_eq(mbox_get(mb, n)->wire, len);
	ck_assert_uint_eq(m.len, len);
	ck_assert_msg(memcmp(m.p, want, len) == 0, "message %zu: got \"%.*s\"",
	    n, (int)m.len, m.p);
	mem_reset(&m);
}

static void
expect_bounds(const struct mbox *mb, size_t n, uint64_t start, uint64_t body,
    uint64_t end)
{
	const struct wire_msg *m;

	m = mbox_get(mb, n);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->start, start);
	ck_assert_uint_eq(m->body, body);
	ck_assert_uint_eq(m->end, end);
}

static size_t
find(const char *data, size_t len, const char *needle, size_t nth)
{
	const char *p, *q;

	for (p = data;; p = q + 1) {
		q = memmem(p, len - (size_t)(p - data), needle, strlen(needle));
		ck_assert_ptr_nonnull(q);
		if (nth-- == 0)
			return (size_t)(q - data);
	}
}

#define SEP1 "From alice@example.org Mon Jan  1 10:00:00 2024\n"
#define SEP2 "From bob@example.org Tue Jan  2 11:00:00 2024\n"
#define SEP3 "From carol@example.org Wed Jan  3 12:00:00 2024\n"

/*
 * separator
 */

static const char *const good_seps[] = {
	"From alice@example.org Mon Jan  1 10:00:00 2024",
	"From alice@example.org Mon Jan 1 10:00:00 2024",
	"From alice@example.org Mon Jan 01 10:00 2024",
	"From alice@example.org Sun Dec 31 23:59:60 1999",
	"From alice@example.org Mon Jan  1 10:00:00 +0100 2024",
	"From alice@example.org Mon Jan  1 10:00:00 2024 -0500",
	"From alice@example.org Mon Jan  1 10:00:00 UTC 2024",
	"From alice@example.org Mon Jan  1 10:00 2024 GMT",
	"From alice@example.org Mon Jan  1 10:00:00 EST 2024",
	"From alice@example.org Mon Jan  1 10:00:00 CEST 2024",
	"From alice@example.org Mon Jan  1 10:00:00 2024\r",
	"From alice@example.org Mon Jan  1 10:00:00 2024  ",
	"From alice   Mon   Jan   1   10:00:00   2024",
	"From Alice Example <alice@example.org> Fri Mar 15 09:30:00 2024",
	"From MAILER-DAEMON Thu Feb 29 12:00:00 2024",
	"From host!alice Wed Jul  4 08:00:00 2001 remote from gateway",
	"From host!alice Wed Jul  4 08:00:00 2001   remote from gateway",
	"From host!alice Wed Jul  4 08:00 PDT 2001 remote from gateway",
	"From a Sat Aug  5 00:00:00 1995",
	"From a tue sep  5 00:00:00 1995",
	"From a Thu Oct  5 00:00:00 1995",
	"From a Fri Nov  5 00:00:00 1995",
	"From a Mon Apr  5 00:00:00 1995",
	"From a Mon May  5 00:00:00 1995",
	"From a Mon Jun  5 00:00:00 1995",
};

static const char *const bad_seps[] = {
	"",
	"From",
	"From ",
	"From alice@example.org",
	"From here on, this is body text.",
	"From the desk of Alice: no date here.",
	"from alice@example.org Mon Jan  1 10:00:00 2024",
	"From:alice@example.org Mon Jan  1 10:00:00 2024",
	">From alice@example.org Mon Jan  1 10:00:00 2024",
	" From alice@example.org Mon Jan  1 10:00:00 2024",
	"From Mon Jan  1 10:00:00 2024",
	"From  Mon Jan  1 10:00:00 2024",
	"From alice@example.org Jan  1 10:00:00 2024",
	"From alice@example.org Mon Jan  1 2024",
	"From alice@example.org Mon Jan  1 10:00:00",
	"From alice@example.org Mon Jan  1 10:00:00 24",
	"From alice@example.org Mon Jan  1 10:00:00 20245",
	"From alice@example.org Mon Foo  1 10:00:00 2024",
	"From alice@example.org Xyz Jan  1 10:00:00 2024",
	"From alice@example.org Mon Jan 32 10:00:00 2024",
	"From alice@example.org Mon Jan  0 10:00:00 2024",
	"From alice@example.org Mon Jan 123 10:00:00 2024",
	"From alice@example.org Mon Jan  1 24:00:00 2024",
	"From alice@example.org Mon Jan  1 10:60:00 2024",
	"From alice@example.org Mon Jan  1 1:00:00 2024",
	"From alice@example.org Mon Jan  1 10:00:0 2024",
	"From alice@example.org Mon Jan  1 10-00-00 2024",
	"From alice@example.org Mon Jan  1 10:00:00 +0100 2024 +0100",
	"From alice@example.org Mon Jan  1 10:00:00 +01 2024",
	"From alice@example.org Mon Jan  1 10:00:00 2024 remote from",
	"From alice@example.org Mon Jan  1 10:00:00 2024 remote",
	"From alice@example.org Mon Jan  1 10:00:00 2024\r\r",
	"From alice@example.org Mon\tJan  1 10:00:00 2024",
	"From alice@example.org Mon, 1 Jan 2024 10:00:00 +0000",
};

START_TEST(test_separator_good)
{
	const char *s = good_seps[_i];

	ck_assert_msg(mbox_is_separator(s, strlen(s)), "rejected: %s", s);
}
END_TEST

START_TEST(test_separator_bad)
{
	const char *s = bad_seps[_i];

	ck_assert_msg(!mbox_is_separator(s, strlen(s)), "accepted: %s", s);
}
END_TEST

START_TEST(test_separator_len)
{
	static const char s[] = "From a Mon Jan  1 10:00:00 2024 trailing";

	/* Only LEN octets count: the line need not end in NUL. */
	ck_assert(mbox_is_separator(s, sizeof(s) - 1 - 9));
	ck_assert(!mbox_is_separator(s, sizeof(s) - 1));
	ck_assert(!mbox_is_separator(s, 4));
	ck_assert(!mbox_is_separator(NULL, 0));
}
END_TEST

/*
 * index
 */

START_TEST(test_index_basic)
{
	static const char data[] = "From a@b Mon Jan  1 10:00:00 2024\n"
				   "Subject: x\n"
				   "\n"
				   "body\n"
				   "\n"
				   "From c@d Tue Jan  2 10:00:00 2024\n"
				   "Subject: y\n"
				   "\n"
				   "body2\n";
	struct mbox mb;
	struct stat st;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert_int_eq(mb.fd, fd);
	ck_assert(mb.dev == st.st_dev && mb.ino == st.st_ino);
	ck_assert_uint_eq(mb.size, 104);
	ck_assert_uint_eq(mb.nmsg, 2);
	ck_assert_uint_eq(mb.first, 0);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_bounds(&mb, 1, 0, 34, 51);
	expect_bounds(&mb, 2, 52, 86, 104);
	ck_assert_uint_eq(mbox_stored_end(&mb, 0), 52);
	ck_assert_uint_eq(mbox_stored_end(&mb, 1), 104);
	ck_assert_uint_eq(mb.msg[0].flags, 0);
	expect_msg(&mb, 1, LIT("Subject: x\r\n\r\nbody\r\n"));
	expect_msg(&mb, 2, LIT("Subject: y\r\n\r\nbody2\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_empty_file)
{
	struct mbox mb;
	int fd;

	fd = index_data(&mb, "", 0);
	ck_assert_uint_eq(mb.nmsg, 0);
	ck_assert_uint_eq(mbox_count(&mb), 0);
	ck_assert_ptr_null(mbox_get(&mb, 1));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_no_separator)
{
	static const char data[] = "Subject: not an mbox\n\nFrom here on\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 0);
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_text_before_first)
{
	/* Octets before the first separator belong to no message. */
	static const char data[] =
	    "garbage line\n" SEP3
	    "still garbage: no empty line before the From line\n"
	    "\n" SEP1 "\n"
	    "one\n";
	struct mbox mb;
	size_t s;
	int fd;

	fd = index_data(&mb, LIT(data));
	s = find(data, sizeof(data) - 1, SEP1, 0);
	ck_assert_uint_eq(mbox_count(&mb), 1);
	expect_bounds(&mb, 1, s, s + strlen(SEP1), sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("\r\none\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_leading_empty_line)
{
	static const char data[] = "\n" SEP1 "one\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	expect_bounds(&mb, 1, 1, 1 + strlen(SEP1), sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("one\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_from_without_date)
{
	static const char data[] =
	    SEP1 "Subject: a\n\ntext\n\nFrom here on, text.\n\n" SEP2 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1,
	    LIT("Subject: a\r\n\r\ntext\r\n\r\nFrom here on, text.\r\n"));
	expect_msg(&mb, 2, LIT("b\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_from_not_after_empty)
{
	/* A valid From line that does not follow an empty line is text. */
	static const char data[] = SEP1 "\ntext\n" SEP2 "more\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	expect_msg(&mb, 1,
	    LIT("\r\ntext\r\n"
		"From bob@example.org Tue Jan  2 11:00:00 2024\r\nmore\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_crlf_empty_line)
{
	static const char data[] = SEP1 "\r\ntext\r\n\r\n" SEP2 "more\n";
	struct mbox mb;
	size_t s;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	s = find(data, sizeof(data) - 1, SEP2, 0);
	expect_bounds(&mb, 1, 0, strlen(SEP1), s - 2);
	expect_bounds(&mb, 2, s, s + strlen(SEP2), sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("\r\ntext\r\n"));
	expect_msg(&mb, 2, LIT("more\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_trailing_blank_one)
{
	/* One empty line at the end of the file belongs to the separator. */
	static const char data[] = SEP1 "\ntext\n\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_bounds(&mb, 1, 0, strlen(SEP1), sizeof(data) - 2);
	ck_assert_uint_eq(mbox_stored_end(&mb, 0), sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("\r\ntext\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_trailing_blank_two)
{
	/* A second one is message text. */
	static const char data[] = SEP1 "\ntext\n\n\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_bounds(&mb, 1, 0, strlen(SEP1), sizeof(data) - 2);
	expect_msg(&mb, 1, LIT("\r\ntext\r\n\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_trailing_blank_crlf)
{
	static const char data[] = SEP1 "\ntext\r\n\r\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_bounds(&mb, 1, 0, strlen(SEP1), sizeof(data) - 3);
	expect_msg(&mb, 1, LIT("\r\ntext\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_blank_lines_between)
{
	/* Only the last empty line before a separator is the separator's. */
	static const char data[] = SEP1 "\ntext\n\n\n\n" SEP2 "\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("\r\ntext\r\n\r\n\r\n"));
	/* The From line then only the separator-like empty line at EOF. */
	expect_bounds(&mb, 2, sizeof(data) - 1 - strlen(SEP2) - 1,
	    sizeof(data) - 2, sizeof(data) - 2);
	expect_msg(&mb, 2, LIT("\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_from_line_only)
{
	/* A message that is only its From line, without a newline. */
	static const char data[] = SEP1 "\n"
					"From bob@x Tue Jan  2 11:00:00 2024";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_bounds(&mb, 1, 0, strlen(SEP1), strlen(SEP1));
	expect_bounds(
	    &mb, 2, strlen(SEP1) + 1, sizeof(data) - 1, sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("\r\n"));
	expect_msg(&mb, 2, LIT("\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_consecutive_separators)
{
	static const char data[] = SEP1 "\n" SEP2 "\n" SEP3;
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 3);
	expect_msg(&mb, 1, LIT("\r\n"));
	expect_msg(&mb, 2, LIT("\r\n"));
	expect_msg(&mb, 3, LIT("\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_index_many)
{
	struct mbox mb;
	char *data, *p;
	size_t i, n, cap, *starts;
	int fd;

	/* Enough messages to grow the array a few times. */
	n = 5000;
	cap = n * 128;
	p = data = malloc(cap);
	starts = malloc(n * sizeof(*starts));
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(starts);
	for (i = 0; i < n; i++) {
		starts[i] = (size_t)(p - data);
		p += sprintf(p,
		    "From u%zu@x Mon Jan  1 10:00:00 2024\n"
		    "Subject: %zu\n\nbody %zu\n\n",
		    i, i, i);
	}
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_count(&mb), n);
	for (i = 0; i < n; i++)
		ck_assert_uint_eq(mbox_get(&mb, i + 1)->start, starts[i]);
	done(&mb, fd);
	free(data);
	free(starts);
}
END_TEST

/*
 * Empty lines (LF and CRLF) and CRLF line ends at every position of the
 * 64-octet blocks the index scans a body in (from its second line on),
 * both where a separator follows and where text does.
 */
/* One case of test_index_block_edges: K octets of text before the line end. */
static void
block_edge_case(size_t k, const char *term, const char *empty, int sep)
{
	char a[160], data[1024], want[1024];
	struct mbox mb;
	size_t n, w;
	int fd;

	memset(a, 'a', k);
	a[k] = '\0';
	n = (size_t)snprintf(data, sizeof(data), "%s\nfirst\n%s%s%s%s", SEP1, a,
	    term, empty, sep ? SEP2 "b\n" : "c\r\n");
	w = (size_t)snprintf(want, sizeof(want), "\r\nfirst\r\n%s\r\n%s", a,
	    sep ? "" : "\r\nc\r\n");
	fd = index_data(&mb, data, n);
	ck_assert_uint_eq(mbox_count(&mb), (sep ? 2 : 1));
	expect_msg(&mb, 1, want, w);
	if (sep)
		expect_msg(&mb, 2, LIT("b\r\n"));
	done(&mb, fd);
}

START_TEST(test_index_block_edges)
{
	static const char *const ends[] = { "\n", "\r\n" };
	size_t k, t, u;

	for (k = 1; k <= 140; k++)
		for (t = 0; t < 2; t++)
			for (u = 0; u < 2; u++) {
				block_edge_case(k, ends[t], ends[u], 1);
				block_edge_case(k, ends[t], ends[u], 0);
			}
}
END_TEST

/*
 * A mailbox of a few MiB whose messages straddle the index's buffer ends,
 * with the expected wire text of each message built alongside.
 */
START_TEST(test_index_buffer_edges)
{
	struct mbox mb;
	struct memsink m;
	char *data, *p, **want, *w;
	size_t i, j, n, cap, *wlen, k;
	uint32_t seed;
	int fd;

	n = 3000;
	cap = 20 * 1024 * 1024;
	p = data = malloc(cap);
	want = calloc(n, sizeof(*want));
	wlen = calloc(n, sizeof(*wlen));
	ck_assert_ptr_nonnull(data);
	seed = 12345;
	for (i = 0; i < n; i++) {
		w = want[i] = malloc(8192);
		ck_assert_ptr_nonnull(w);
		p += sprintf(p, "From u%zu@x Mon Jan  1 10:00:00 2024\n", i);
		if (i % 3 == 0)
			p += sprintf(p, "Status: RO\nX-UID: %zu\n", i);
		p += sprintf(p, "Subject: message %zu\n\n", i);
		w += sprintf(w, "Subject: message %zu\r\n\r\n", i);
		seed = seed * 1103515245 + 12345;
		k = (seed >> 16) % 40;
		for (j = 0; j < k; j++) {
			seed = seed * 1103515245 + 12345;
			p += sprintf(p, "%s line %zu of %zu, %.*s%s",
			    j == 3 ? "From" : "text", j, i,
			    (int)((seed >> 16) % 120),
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxx",
			    i % 5 == 0 ? "\r\n" : "\n");
			w += sprintf(w, "%s line %zu of %zu, %.*s\r\n",
			    j == 3 ? "From" : "text", j, i,
			    (int)((seed >> 16) % 120),
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			    "xxxxxxxxxxxxxxxxxxxx");
		}
		*p++ = '\n';
		wlen[i] = (size_t)(w - want[i]);
	}
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_gt(mb.size, 2 * 1024 * 1024);
	ck_assert_uint_eq(mbox_count(&mb), n);
	for (i = 0; i < n; i++) {
		memset(&m, 0, sizeof(m));
		send_into(&mb, i + 1, &m);
		ck_assert_uint_eq(m.len, wlen[i]);
		ck_assert(memcmp(m.p, want[i], wlen[i]) == 0);
		mem_reset(&m);
		free(want[i]);
	}
	done(&mb, fd);
	free(want);
	free(wlen);
	free(data);
}
END_TEST

/* Lines longer than any buffer, in the header and in the body. */
START_TEST(test_index_long_lines)
{
	struct mbox mb;
	struct memsink m;
	char *data, *want, *p, *w;
	size_t big, cap;
	int fd;

	big = 1536 * 1024 + 7;
	cap = 6 * big + 4096;
	p = data = malloc(cap);
	w = want = malloc(cap);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(want);
	p += sprintf(p, "%s", SEP1);
	/* A bookkeeping field too long for any buffer is still left out. */
	p += sprintf(p, "X-UID: ");
	memset(p, '1', big);
	p += big;
	p += sprintf(p, "\n\tcontinued\nSubject: ");
	w += sprintf(w, "Subject: ");
	memset(p, 's', big);
	memset(w, 's', big);
	p += big;
	w += big;
	p += sprintf(p, "\n\n");
	w += sprintf(w, "\r\n\r\n");
	/* A long body line ending in CRLF, one ending in LF. */
	memset(p, 'a', big);
	memset(w, 'a', big);
	p += big;
	w += big;
	p += sprintf(p, "\r\n");
	w += sprintf(w, "\r\n");
	memset(p, 'b', big);
	memset(w, 'b', big);
	p += big;
	w += big;
	p += sprintf(p, "\n\n%s", SEP2);
	w += sprintf(w, "\r\n");
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, want, (size_t)(w - want));
	expect_msg(&mb, 2, LIT("\r\n"));
	done(&mb, fd);

	/*
	 * A CR that ends one piece of a long line and the LF that starts the
	 * next: 1 MiB and 256 KiB are where the index and the copy cut.
	 */
	p = data;
	p += sprintf(p, "%s\n", SEP1);
	memset(p, 'd', 1024 * 1024 - 1);
	p += 1024 * 1024 - 1;
	p += sprintf(p, "\r\nend\n");
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_get(&mb, 1)->wire, 2 + 1024 * 1024 + 1 + 5);
	memset(&m, 0, sizeof(m));
	send_into(&mb, 1, &m);
	ck_assert_uint_eq(m.len, 2 + 1024 * 1024 + 1 + 5);
	ck_assert(memcmp(m.p + m.len - 8, "d\r\nend\r\n", 8) == 0);
	mem_reset(&m);
	done(&mb, fd);

	/* A long last line without a newline. */
	p = data;
	p += sprintf(p, "%s\n", SEP1);
	memset(p, 'c', 3 * big);
	p += 3 * big;
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	ck_assert_uint_eq(mbox_get(&mb, 1)->wire, 3 * big + 4);
	memset(&m, 0, sizeof(m));
	send_into(&mb, 1, &m);
	ck_assert_uint_eq(m.len, 3 * big + 4);
	ck_assert(memcmp(m.p + 3 * big + 2, "\r\n", 2) == 0);
	ck_assert(memcmp(m.p + 3 * big, "cc", 2) == 0);
	mem_reset(&m);
	done(&mb, fd);
	free(data);
	free(want);
}
END_TEST

/*
 * wire
 */

START_TEST(test_wire_bookkeeping)
{
	static const char data[] = SEP1 "Status: RO\n"
					"X-Status: AF\n"
					"x-keywords: $Junk\n"
					"X-UID: 42\n"
					"X-IMAP: 1 2\n"
					"X-IMAPbase: 1 2\n"
					"CONTENT-LENGTH: 5\n"
					"From: a@example.org\n"
					"X-Status-Extra: kept\n"
					"X-UIDL: kept\n"
					"Status : RO\n"
					"X-UID: 43\n"
					" folded uid\n"
					"\tfolded again\n"
					"Subject: hello\n"
					" folded subject\n"
					"\n"
					"Status: RO\n"
					"X-UID: 7\n"
					"Content-Length: 999\n"
					"\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	expect_msg(&mb, 1,
	    LIT("From: a@example.org\r\n"
		"X-Status-Extra: kept\r\n"
		"X-UIDL: kept\r\n"
		"Subject: hello\r\n"
		" folded subject\r\n"
		"\r\n"
		"Status: RO\r\n"
		"X-UID: 7\r\n"
		"Content-Length: 999\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_only_bookkeeping)
{
	/* A message whose every line is left out is one empty line. */
	static const char data[] = SEP1 "Status: RO\nX-UID: 1\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_msg(&mb, 1, LIT("\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_crlf)
{
	static const char data[] = "From a@b Mon Jan  1 10:00:00 2024\r\n"
				   "Subject: crlf\r\n"
				   "Status: O\r\n"
				   "\r\n"
				   "one\r\n"
				   "two\n"
				   "cr\rinside\r\n"
				   "\r\n"
				   "From c@d Tue Jan  2 10:00:00 2024\r\n"
				   "\r\n"
				   "x\r\n"
				   "\r\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(
	    &mb, 1, LIT("Subject: crlf\r\n\r\none\r\ntwo\r\ncr\rinside\r\n"));
	expect_msg(&mb, 2, LIT("\r\nx\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_no_final_newline)
{
	static const char data[] = SEP1 "Subject: x\n\nlast line";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_get(&mb, 1)->end, sizeof(data) - 1);
	expect_msg(&mb, 1, LIT("Subject: x\r\n\r\nlast line\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_lone_cr_at_end)
{
	static const char data[] = SEP1 "\nlast line\r";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_msg(&mb, 1, LIT("\r\nlast line\r\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_only_cr_at_end)
{
	/* "\r" alone is not an empty line: it is data. */
	static const char data[] = SEP1 "\n\r";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	expect_msg(&mb, 1, LIT("\r\n\r\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_from_lines)
{
	static const char data[] =
	    SEP1 "\n"
		 ">From quoted\n"
		 "From unquoted, not after an empty line\n"
		 ">>From twice\n"
		 "\n"
		 "From after an empty line but no date\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	expect_msg(&mb, 1,
	    LIT("\r\n"
		">From quoted\r\n"
		"From unquoted, not after an empty line\r\n"
		">>From twice\r\n"
		"\r\n"
		"From after an empty line but no date\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_nul)
{
	static const char data[] =
	    SEP1 "Subject: n\0l\n\na\0b\n\0\n\n" SEP2 "\0";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("Subject: n\0l\r\n\r\na\0b\r\n\0\r\n"));
	expect_msg(&mb, 2, LIT("\0\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_empty_message)
{
	static const char data[] = SEP1 "\n" SEP2 "Subject: y\n\nb\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_bounds(&mb, 1, 0, strlen(SEP1), strlen(SEP1));
	ck_assert_uint_eq(mbox_get(&mb, 1)->wire, 2);
	expect_msg(&mb, 1, LIT("\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_header_only)
{
	/* The empty line ending the header is the separator's here. */
	static const char data[] = SEP1 "Subject: a\n\n" SEP2 "Subject: b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("Subject: a\r\n"));
	expect_msg(&mb, 2, LIT("Subject: b\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_believed)
{
	/* Content-Length covers a valid separator after an empty line. */
	static const char body[] = "From this body\n\n" SEP3 "in the body\n";
	char data[512];
	struct mbox mb;
	int fd, n;

	n = snprintf(data, sizeof(data),
	    SEP1 "Subject: cl\nContent-Length: %zu\n\n%s\n" SEP2 "two\n",
	    sizeof(body) - 1, body);
	fd = index_data(&mb, data, (size_t)n);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1,
	    LIT("Subject: cl\r\n\r\nFrom this body\r\n\r\n"
		"From carol@example.org Wed Jan  3 12:00:00 2024\r\n"
		"in the body\r\n"));
	expect_msg(&mb, 2, LIT("two\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_body_starts_with_separator)
{
	static const char body[] = SEP3 "x\n";
	char data[512];
	struct mbox mb;
	int fd, n;

	/* Lands on a separator with no empty line before it. */
	n = snprintf(data, sizeof(data),
	    SEP1 "Content-Length: %zu\n\n%s" SEP2 "two\n", sizeof(body) - 1,
	    body);
	fd = index_data(&mb, data, (size_t)n);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1,
	    LIT("\r\n"
		"From carol@example.org Wed Jan  3 12:00:00 2024\r\nx\r\n"));
	expect_msg(&mb, 2, LIT("two\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_to_eof)
{
	static const char body[] = "a\n\n" SEP3 "\n\n";
	char data[512];
	struct mbox mb;
	int fd, n;

	/* Ends exactly at EOF: every octet of the body is text. */
	n = snprintf(data, sizeof(data), SEP1 "Content-Length: %zu\n\n%s",
	    sizeof(body) - 1, body);
	fd = index_data(&mb, data, (size_t)n);
	ck_assert_uint_eq(mbox_count(&mb), 1);
	ck_assert_uint_eq(mbox_get(&mb, 1)->end, (uint64_t)n);
	expect_msg(&mb, 1,
	    LIT("\r\na\r\n\r\n"
		"From carol@example.org Wed Jan  3 12:00:00 2024\r\n\r\n\r\n"));
	done(&mb, fd);

	/* Ends on an empty line followed by EOF. */
	n = snprintf(data, sizeof(data), SEP1 "Content-Length: %zu\n\n%s\n",
	    sizeof(body) - 1, body);
	fd = index_data(&mb, data, (size_t)n);
	ck_assert_uint_eq(mbox_count(&mb), 1);
	ck_assert_uint_eq(mbox_get(&mb, 1)->end, (uint64_t)n - 1);
	expect_msg(&mb, 1,
	    LIT("\r\na\r\n\r\n"
		"From carol@example.org Wed Jan  3 12:00:00 2024\r\n\r\n\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_disbelieved)
{
	static const char *const lens[] = {
		"1",	  /* lands inside a line */
		"5",	  /* lands inside the separator line */
		"51",	  /* lands on "From here", no separator */
		"999999", /* past the end of the file */
		"abc",	  /* not a number */
		"12x",	  /* trailing junk */
		"",	  /* empty */
		"99999999999999999999999", /* too large */
	};
	static const char want1[] = "\r\na\r\n";
	char data[512];
	struct mbox mb;
	size_t i;
	int fd, n;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		n = snprintf(data, sizeof(data),
		    SEP1 "Content-Length: %s\n\na\n\n" SEP3 "From here\n\n" SEP2
			 "two\n",
		    lens[i]);
		fd = index_data(&mb, data, (size_t)n);
		ck_assert_uint_eq(mbox_count(&mb), 3);
		expect_msg(&mb, 1, LIT(want1));
		expect_msg(&mb, 2, LIT("From here\r\n"));
		expect_msg(&mb, 3, LIT("two\r\n"));
		done(&mb, fd);
	}
}
END_TEST

START_TEST(test_wire_cl_on_separator)
{
	/* Lands right on the separator: the empty line is body text. */
	static const char data[] = SEP1 "Content-Length: 3\n\na\n\n" SEP3 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("\r\na\r\n\r\n"));
	expect_msg(&mb, 2, LIT("b\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_twice)
{
	/* Two lengths, even if one of them fits: believe neither. */
	static const char data[] =
	    SEP1 "Content-Length: 3\nContent-Length: 3\n\na\n\n" SEP3 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("\r\na\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_in_body)
{
	/* Only the header's Content-Length counts. */
	static const char data[] = SEP1 "\nContent-Length: 0\n\n" SEP3 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("\r\nContent-Length: 0\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_wire_cl_large_body)
{
	struct mbox mb;
	char *data, *p, *b;
	size_t body, i, lf;
	int fd;

	/* A believed length whose end lies beyond the index's buffer. */
	body = 3 * 1024 * 1024;
	data = malloc(body + 1024);
	ck_assert_ptr_nonnull(data);
	p = data + sprintf(data, SEP1 "Content-Length: %zu\n\n", body);
	for (i = 0; i < body; i += 64) {
		memset(p, 'z', 63);
		p[63] = '\n';
		if (i % (64 * 1024) == 0)
			memcpy(p, "\n" SEP3, 1 + strlen(SEP3));
		p += 64;
	}
	b = p - body;
	for (i = 0, lf = 0; i < body; i++)
		lf += b[i] == '\n';
	p += sprintf(p, "\n" SEP2 "two\n");
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	/* The separators inside the body did not split it. */
	ck_assert_uint_eq(mbox_get(&mb, 1)->wire, 2 + body + lf);
	expect_msg(&mb, 2, LIT("two\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

/*
 * send
 */

START_TEST(test_send_big)
{
	struct mbox mb;
	struct memsink m;
	char *data, *want, *p, *w;
	size_t lines, i;
	int fd;

	lines = 5 * 1024 * 1024 / 80 + 1;
	data = malloc(lines * 80 + 1024);
	want = malloc(lines * 81 + 1024);
	ck_assert_ptr_nonnull(data);
	ck_assert_ptr_nonnull(want);
	p = data + sprintf(data, SEP1 "Subject: big\n\n");
	w = want + sprintf(want, "Subject: big\r\n\r\n");
	for (i = 0; i < lines; i++) {
		p += sprintf(p, "%08zu %.70s\n", i,
		    "The quick brown fox jumps over the lazy dog. "
		    "0123456789012345678901234");
		w += sprintf(w, "%08zu %.70s\r\n", i,
		    "The quick brown fox jumps over the lazy dog. "
		    "0123456789012345678901234");
	}
	p += sprintf(p, "\n" SEP2 "small\n");
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_gt(mbox_get(&mb, 1)->end, 5 * 1024 * 1024);
	memset(&m, 0, sizeof(m));
	send_into(&mb, 1, &m);
	ck_assert_uint_eq(m.len, mbox_get(&mb, 1)->wire);
	ck_assert_uint_eq(m.len, (size_t)(w - want));
	ck_assert(memcmp(m.p, want, m.len) == 0);
	/* Streamed in batches: many calls, none holding the message. */
	ck_assert_int_gt(m.calls, 16);
	ck_assert_uint_le(m.maxcall, 1024 * 1024);
	ck_assert_uint_ge(m.len / (size_t)m.calls, 4096);
	mem_reset(&m);
	done(&mb, fd);
	free(data);
	free(want);
}
END_TEST

/* A guard that counts the reads and may change the file before one. */
struct countguard {
	int calls;
	int open;    /* begin without end */
	int poke_at; /* change the file at this call (0: never) */
	int fd;
	off_t poke_off;
};

static int
cg_begin(void *arg)
{
	struct countguard *g = arg;
	char c = '#';

	ck_assert_int_eq(g->open, 0);
	g->open = 1;
	if (++g->calls == g->poke_at)
		ck_assert_int_eq(pwrite(g->fd, &c, 1, g->poke_off), 1);
	return 0;
}

static void
cg_end(void *arg)
{
	struct countguard *g = arg;

	ck_assert_int_eq(g->open, 1);
	g->open = 0;
}

/* A message of about SIZE octets of body lines, then a small one. */
static int
index_sized(struct mbox *mb, size_t size, char **datap)
{
	char *data, *p;
	size_t i;

	data = malloc(size + 1024);
	ck_assert_ptr_nonnull(data);
	p = data + sprintf(data, SEP1 "Subject: sized\n\n");
	for (i = 0; (size_t)(p - data) < size; i++)
		p += sprintf(p, "%08zu the quick brown fox\n", i);
	p += sprintf(p, "\n" SEP2 "small\n");
	*datap = data;
	return index_data(mb, data, (size_t)(p - data));
}

/*
 * Each stored octet is read once: a message up to 1 MiB in one read, a
 * larger one in 256 KiB pieces (reading it twice would take twice as
 * many); the guard is around every read and released after each.
 */
START_TEST(test_send_one_pass)
{
	static const size_t sizes[] = { 4096, 900 * 1024, 5 * 1024 * 1024 };
	struct countguard g;
	struct wire_guard mg = { cg_begin, cg_end, &g };
	struct sink sink;
	struct memsink m;
	struct mbox mb;
	char *data;
	size_t stored;
	int fd;

	fd = index_sized(&mb, sizes[_i], &data);
	memset(&g, 0, sizeof(g));
	memset(&m, 0, sizeof(m));
	sink.write = mem_write;
	sink.arg = &m;
	ck_assert_int_eq(mbox_send_guarded(&mb, 1, &sink, &mg), 0);
	ck_assert_uint_eq(m.len, mbox_get(&mb, 1)->wire);
	ck_assert_int_eq(g.open, 0);
	stored = (size_t)mbox_stored_end(&mb, 0);
	if (_i < 2)
		ck_assert_int_eq(g.calls, 1);
	else
		ck_assert_int_le(g.calls, (int)(stored / (256 * 1024)) + 3);
	mem_reset(&m);
	done(&mb, fd);
	free(data);
}
END_TEST

/*
 * The file changes under a RETR: a message read whole is refused before
 * its first octet; a streamed one is caught at the chunk that changed,
 * before any of that chunk is sent.
 */
START_TEST(test_send_changed_under)
{
	struct countguard g;
	struct wire_guard mg = { cg_begin, cg_end, &g };
	struct sink sink;
	struct memsink m;
	struct mbox mb;
	char *data;
	int fd;

	fd = index_sized(&mb, _i == 0 ? 4096 : 5 * 1024 * 1024, &data);
	memset(&g, 0, sizeof(g));
	g.fd = fd;
	/* Before the only read; or ahead of the reader, mid-way. */
	g.poke_at = _i == 0 ? 1 : 3;
	g.poke_off = _i == 0 ? 100 : 4 * 1024 * 1024;
	memset(&m, 0, sizeof(m));
	sink.write = mem_write;
	sink.arg = &m;
	errno = 0;
	ck_assert_int_eq(mbox_send_guarded(&mb, 1, &sink, &mg), -1);
	ck_assert_int_eq(errno, ESTALE);
	if (_i == 0)
		ck_assert_uint_eq(m.len, 0);
	else {
		/*
		 * Checked chunk by chunk: nothing of the changed 256 KiB
		 * chunk or after it went out (each 29-octet stored line is
		 * 30 on the wire).
		 */
		ck_assert(mbox_get(&mb, 1)->flags & WIRE_CHUNKED);
		ck_assert_uint_gt(m.len, 0);
		ck_assert_uint_le(
		    m.len, (size_t)4 * 1024 * 1024 / 29 * 30 + 64);
	}
	mem_reset(&m);
	done(&mb, fd);
	free(data);
}
END_TEST

/*
 * A message over 1 MiB is checked 256 KiB at a time: a header line longer
 * than a chunk, a bookkeeping header after it, and CR LF pairs cut by
 * chunk boundaries all come out as the index counted them.
 */
START_TEST(test_send_chunk_edges)
{
	struct mbox mb;
	struct memsink m;
	char *data, *p;
	size_t i;
	int fd;

	data = malloc(2 * 1024 * 1024 + 4096);
	ck_assert_ptr_nonnull(data);
	p = data + sprintf(data, SEP1);
	p += sprintf(p, "X-Long: ");
	while ((size_t)(p - data) < 300 * 1024)
		*p++ = 'a';
	p += sprintf(p, "\nStatus: RO\nSubject: edges\n\n");
	/* Body lines ending in CR LF, a CR right before each boundary. */
	while ((size_t)(p - data) < 2 * 1024 * 1024) {
		i = (size_t)(p - data) % (256 * 1024);
		if (i == 256 * 1024 - 1 - 5)
			p += sprintf(p, "edge\r\n");
		else
			*p++ = (i % 71 == 70) ? '\n' : 'b';
	}
	p += sprintf(p, "\n" SEP2 "small\n");
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_uint_eq(mbox_count(&mb), 2);
	ck_assert(mbox_get(&mb, 1)->flags & WIRE_CHUNKED);
	ck_assert(!(mbox_get(&mb, 2)->flags & WIRE_CHUNKED));
	memset(&m, 0, sizeof(m));
	send_into(&mb, 1, &m);
	ck_assert_uint_eq(m.len, mbox_get(&mb, 1)->wire);
	ck_assert(memmem(m.p, m.len, "Status:", 7) == NULL);
	ck_assert(memmem(m.p, m.len, "\r\nSubject: edges\r\n\r\n", 20) != NULL);
	ck_assert(memcmp(m.p, "X-Long: aaaa", 12) == 0);
	ck_assert(memmem(m.p, m.len, "edge\r\n", 6) != NULL);
	ck_assert(memmem(m.p, m.len, "edge\r\r\n", 7) == NULL);
	mem_reset(&m);
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_send_small_batched)
{
	static const char data[] = SEP1 "a\nb\nc\nd\ne\nf\n";
	struct mbox mb;
	struct memsink m;
	int fd;

	/* Short lines are batched, not written one call per line. */
	fd = index_data(&mb, LIT(data));
	memset(&m, 0, sizeof(m));
	send_into(&mb, 1, &m);
	ck_assert_int_eq(m.calls, 1);
	ck_assert_uint_eq(m.len, 18);
	mem_reset(&m);
	done(&mb, fd);
}
END_TEST

START_TEST(test_send_no_such_message)
{
	static const char data[] = SEP1 "a\n";
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	int fd;

	fd = index_data(&mb, LIT(data));
	memset(&m, 0, sizeof(m));
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 0, &sink), -1);
	ck_assert_int_eq(errno, ENOENT);
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 2, &sink), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_int_eq(m.calls, 0);
	done(&mb, fd);
}
END_TEST

/*
 * pseudo
 */

START_TEST(test_pseudo_hidden)
{
	static const char data[] =
	    "From MAILER-DAEMON Mon Jan  1 10:00:00 2024\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "X-IMAP: 1704103200 0000000002\n"
	    "\n"
	    "internal\n"
	    "\n" SEP1 "\none\n\n" SEP2 "\ntwo\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mb.nmsg, 3);
	ck_assert_uint_eq(mb.first, 1);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	ck_assert(mb.msg[0].flags & WIRE_PSEUDO);
	ck_assert_ptr_eq(mbox_get(&mb, 1), &mb.msg[1]);
	ck_assert_ptr_eq(mbox_get(&mb, 2), &mb.msg[2]);
	ck_assert_ptr_null(mbox_get(&mb, 3));
	ck_assert_uint_eq(mbox_stored_end(&mb, 0), mb.msg[1].start);
	expect_msg(&mb, 1, LIT("\r\none\r\n"));
	expect_msg(&mb, 2, LIT("\r\ntwo\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_pseudo_imapbase_only)
{
	/* X-IMAPbase after the subject; the pseudo-message alone. */
	static const char data[] =
	    "From MAILER-DAEMON Mon Jan  1 10:00:00 2024\n"
	    "subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "x-imapbase: 1704103200 2\n"
	    "\n"
	    "internal\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mb.nmsg, 1);
	ck_assert_uint_eq(mbox_count(&mb), 0);
	ck_assert_ptr_null(mbox_get(&mb, 1));
	done(&mb, fd);
}
END_TEST

START_TEST(test_pseudo_not_first)
{
	static const char data[] =
	    SEP1 "\none\n\n"
		 "From MAILER-DAEMON Mon Jan  1 10:00:00 2024\n"
		 "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
		 "X-IMAP: 1704103200 0000000002\n"
		 "\n"
		 "internal\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_uint_eq(mb.first, 0);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	ck_assert_uint_eq(mb.msg[1].flags, 0);
	expect_msg(&mb, 2,
	    LIT("Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\r\n"
		"\r\n"
		"internal\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_pseudo_incomplete)
{
	/* The subject without X-IMAP, and X-IMAP without the subject. */
	static const char d1[] =
	    "From MAILER-DAEMON Mon Jan  1 10:00:00 2024\n"
	    "Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n"
	    "\n"
	    "x\n";
	static const char d2[] =
	    "From MAILER-DAEMON Mon Jan  1 10:00:00 2024\n"
	    "Subject: hello\n"
	    "X-IMAP: 1 2\n"
	    "\n"
	    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(d1));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	ck_assert_uint_eq(mb.first, 0);
	done(&mb, fd);
	fd = index_data(&mb, LIT(d2));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	ck_assert_uint_eq(mb.first, 0);
	expect_msg(&mb, 1,
	    LIT("Subject: hello\r\n\r\n"
		"DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\r\n"));
	done(&mb, fd);
}
END_TEST

/*
 * fixtures: the files the session transcripts use too
 */

static int
index_fixture(struct mbox *mb, const char *name, char **datap)
{
	char path[PATH_MAX];
	struct stat st;
	char *data;
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path), "%s/mbox/%s", TEST_DATA, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	ck_assert_int_eq(fstat(fd, &st), 0);
	data = malloc((size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(data);
	r = pread(fd, data, (size_t)st.st_size, 0);
	ck_assert_int_eq(r, st.st_size);
	ck_assert_int_eq(mbox_index(mb, fd), 0);
	check_all(mb);
	check_hashes(mb, data);
	*datap = data;
	return fd;
}

START_TEST(test_fixture_bookkeeping)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "bookkeeping.mbox", &data);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1,
	    LIT("From: Alice <alice@example.org>\r\n"
		"To: bob@example.org\r\n"
		"Subject: bookkeeping\r\n"
		"\tfolded subject line\r\n"
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\n"
		"\r\n"
		"Hello\r\n"));
	expect_msg(&mb, 2,
	    LIT("From: Bob <bob@example.org>\r\n"
		"Subject: second\r\n"
		"\r\n"
		"Status: this line is in the body and stays\r\n"
		"X-UID: 5\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_fixture_crlf)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "crlf.mbox", &data);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("Subject: crlf one\r\n\r\nline one\r\n"));
	expect_msg(&mb, 2, LIT("Subject: crlf two\r\n\r\nline two\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_fixture_nofinal)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "nofinal.mbox", &data);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("Subject: first\r\n\r\nfirst body\r\n"));
	expect_msg(
	    &mb, 2, LIT("Subject: last\r\n\r\nno newline at the end\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_fixture_fromline)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "fromline.mbox", &data);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1,
	    LIT("From: alice@example.org\r\n"
		"Subject: quoting\r\n"
		"\r\n"
		">From the start, this line was quoted.\r\n"
		"From here on, this line does not follow an empty line.\r\n"
		"\r\n"
		"From the desk of Alice: no date here, so this is body "
		"text.\r\n"
		">>From twice quoted.\r\n"
		"From bob@example.org Mon Jan  1 10:30:00 2024\r\n"));
	expect_msg(&mb, 2, LIT("Subject: second\r\n\r\nbody two\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_fixture_pseudo)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "pseudo.mbox", &data);
	ck_assert_uint_eq(mb.nmsg, 3);
	ck_assert_uint_eq(mb.first, 1);
	ck_assert(mb.msg[0].flags & WIRE_PSEUDO);
	ck_assert_uint_eq(mbox_count(&mb), 2);
	expect_msg(&mb, 1, LIT("Subject: one\r\n\r\nfirst real message\r\n"));
	expect_msg(&mb, 2, LIT("Subject: two\r\n\r\nsecond real message\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_fixture_mboxcl2)
{
	struct mbox mb;
	char *data;
	int fd;

	fd = index_fixture(&mb, "mboxcl2.mbox", &data);
	ck_assert_uint_eq(mbox_count(&mb), 4);
	expect_msg(&mb, 1,
	    LIT("Subject: believed\r\n"
		"\r\n"
		"Line one\r\n"
		"\r\n"
		"From carol@example.org Wed Jan  3 12:00:00 2024\r\n"
		"is not a separator here: Content-Length covers it.\r\n"));
	expect_msg(
	    &mb, 2, LIT("Subject: disbelieved\r\n\r\nWrong length below.\r\n"));
	expect_msg(&mb, 3, LIT("Subject: empty body\r\n\r\n"));
	expect_msg(&mb, 4,
	    LIT("Subject: to the end\r\n"
		"\r\n"
		"Last body, Content-Length runs to the end of the file.\r\n"));
	done(&mb, fd);
	free(data);
}
END_TEST

/*
 * limits
 */

START_TEST(test_limits_get)
{
	static const char data[] = SEP1 "a\n\n" SEP2 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_ptr_null(mbox_get(&mb, 0));
	ck_assert_ptr_nonnull(mbox_get(&mb, 1));
	ck_assert_ptr_nonnull(mbox_get(&mb, 2));
	ck_assert_ptr_null(mbox_get(&mb, 3));
	ck_assert_ptr_null(mbox_get(&mb, (size_t)-1));
	done(&mb, fd);
}
END_TEST

START_TEST(test_limits_directory)
{
	struct mbox mb;
	int fd;

	fd = open(tmpdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(mbox_index(&mb, fd), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(mb.msg);
	ck_assert_uint_eq(mb.nmsg, 0);
	mbox_free(&mb);
	ck_assert_int_eq(close(fd), 0);
}
END_TEST

START_TEST(test_limits_pipe)
{
	struct mbox mb;
	int p[2];

	ck_assert_int_eq(pipe(p), 0);
	errno = 0;
	ck_assert_int_eq(mbox_index(&mb, p[0]), -1);
	ck_assert_int_eq(errno, EINVAL);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(test_limits_bad_fd)
{
	struct mbox mb;

	errno = 0;
	ck_assert_int_eq(mbox_index(&mb, -1), -1);
	ck_assert_int_eq(errno, EBADF);
}
END_TEST

START_TEST(test_limits_write_only)
{
	static const char data[] = SEP1 "a\n";
	char path[PATH_MAX + 16];
	struct mbox mb;
	int fd;

	/* A read error is passed on. */
	close(put_file(LIT(data)));
	snprintf(path, sizeof(path), "%s/f%d", tmpdir, nfiles - 1);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(mbox_index(&mb, fd), -1);
	ck_assert_int_eq(errno, EBADF);
	ck_assert_ptr_null(mb.msg);
	close(fd);
}
END_TEST

START_TEST(test_limits_offset_untouched)
{
	static const char data[] = SEP1 "a\n";
	struct mbox mb;
	int fd;

	/* The caller's file offset is neither used nor moved. */
	fd = put_file(LIT(data));
	ck_assert_int_eq(lseek(fd, 7, SEEK_SET), 7);
	ck_assert_int_eq(mbox_index(&mb, fd), 0);
	ck_assert_uint_eq(mbox_count(&mb), 1);
	check_all(&mb);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 7);
	done(&mb, fd);
}
END_TEST

START_TEST(test_limits_growth_not_shown)
{
	static const char data[] = SEP1 "a\n";
	static const char more[] = "\n" SEP2 "b\n";
	struct mbox mb;
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_int_eq(pwrite(fd, more, sizeof(more) - 1, sizeof(data) - 1),
	    (ssize_t)(sizeof(more) - 1));
	ck_assert_uint_eq(mbox_count(&mb), 1);
	/* The appended mail is not offered; message 1 is still intact. */
	expect_msg(&mb, 1, LIT("a\r\n"));
	done(&mb, fd);
}
END_TEST

/*
 * faults
 */

START_TEST(test_faults_changed_byte)
{
	static const char data[] = SEP1 "Subject: a\n\none\n\n" SEP2 "two\n";
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_int_eq(pwrite(fd, "X", 1, 60), 1);
	memset(&m, 0, sizeof(m));
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(m.calls, 0);
	ck_assert_uint_eq(m.len, 0);
	/* The other message is untouched and still goes out. */
	expect_msg(&mb, 2, LIT("two\r\n"));
	mem_reset(&m);
	done(&mb, fd);
}
END_TEST

START_TEST(test_faults_changed_big)
{
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	char *data, *p;
	size_t i;
	int fd;

	/* A change near the end of a long message: still nothing is sent. */
	data = malloc(2 * 1024 * 1024);
	ck_assert_ptr_nonnull(data);
	p = data + sprintf(data, SEP1 "\n");
	for (i = 0; i < 1024 * 1024 / 32; i++)
		p += sprintf(p, "%030zu\n", i);
	fd = index_data(&mb, data, (size_t)(p - data));
	ck_assert_int_eq(pwrite(fd, "X", 1, (off_t)(p - data) - 2), 1);
	memset(&m, 0, sizeof(m));
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(m.calls, 0);
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_faults_changed_separator)
{
	static const char data[] = SEP1 "one\n\n" SEP2 "two\n";
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	size_t s;
	int fd;

	/* The empty line after message 1 is in its hashed range. */
	fd = index_data(&mb, LIT(data));
	s = find(data, sizeof(data) - 1, SEP2, 0);
	ck_assert_int_eq(pwrite(fd, "x", 1, (off_t)s - 1), 1);
	memset(&m, 0, sizeof(m));
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(m.calls, 0);
	done(&mb, fd);
}
END_TEST

START_TEST(test_faults_truncated)
{
	static const char data[] = SEP1 "one\n\n" SEP2 "two\n";
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	int fd;

	fd = index_data(&mb, LIT(data));
	ck_assert_int_eq(ftruncate(fd, (off_t)sizeof(data) - 3), 0);
	memset(&m, 0, sizeof(m));
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 2, &sink), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(m.calls, 0);
	expect_msg(&mb, 1, LIT("one\r\n"));
	done(&mb, fd);
}
END_TEST

START_TEST(test_faults_sink_first_call)
{
	static const char data[] = SEP1 "one\n";
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	int fd;

	fd = index_data(&mb, LIT(data));
	memset(&m, 0, sizeof(m));
	m.fail_at = 1;
	m.fail_errno = EPIPE;
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), -1);
	ck_assert_int_eq(errno, EPIPE);
	mem_reset(&m);
	done(&mb, fd);
}
END_TEST

START_TEST(test_faults_sink_midway)
{
	struct mbox mb;
	struct memsink m;
	struct sink sink = { mem_write, &m };
	char *data, *p;
	size_t i;
	int fd;

	data = malloc(2 * 1024 * 1024);
	ck_assert_ptr_nonnull(data);
	p = data + sprintf(data, SEP1 "\n");
	for (i = 0; i < 1024 * 1024 / 32; i++)
		p += sprintf(p, "%030zu\n", i);
	fd = index_data(&mb, data, (size_t)(p - data));
	memset(&m, 0, sizeof(m));
	m.fail_at = 3;
	m.fail_errno = ETIMEDOUT;
	errno = 0;
	ck_assert_int_eq(mbox_send(&mb, 1, &sink), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_eq(m.calls, 3);
	mem_reset(&m);
	done(&mb, fd);
	free(data);
}
END_TEST

START_TEST(test_faults_index_after_change)
{
	static const char data[] = SEP1 "one\n";
	struct mbox mb;
	int fd;

	/* A fresh index of the changed file sees the new octets. */
	fd = index_data(&mb, LIT(data));
	mbox_free(&mb);
	ck_assert_int_eq(pwrite(fd, "ONE", 3, strlen(SEP1)), 3);
	ck_assert_int_eq(mbox_index(&mb, fd), 0);
	expect_msg(&mb, 1, LIT("ONE\r\n"));
	done(&mb, fd);
}
END_TEST

static Suite *
mbox_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("mbox");

	tc = tcase_create("separator");
	tcase_add_loop_test(tc, test_separator_good, 0,
	    (int)(sizeof(good_seps) / sizeof(good_seps[0])));
	tcase_add_loop_test(tc, test_separator_bad, 0,
	    (int)(sizeof(bad_seps) / sizeof(bad_seps[0])));
	tcase_add_test(tc, test_separator_len);
	suite_add_tcase(s, tc);

	tc = tcase_create("index");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_index_basic);
	tcase_add_test(tc, test_index_empty_file);
	tcase_add_test(tc, test_index_no_separator);
	tcase_add_test(tc, test_index_text_before_first);
	tcase_add_test(tc, test_index_leading_empty_line);
	tcase_add_test(tc, test_index_from_without_date);
	tcase_add_test(tc, test_index_from_not_after_empty);
	tcase_add_test(tc, test_index_crlf_empty_line);
	tcase_add_test(tc, test_index_trailing_blank_one);
	tcase_add_test(tc, test_index_trailing_blank_two);
	tcase_add_test(tc, test_index_trailing_blank_crlf);
	tcase_add_test(tc, test_index_blank_lines_between);
	tcase_add_test(tc, test_index_from_line_only);
	tcase_add_test(tc, test_index_consecutive_separators);
	tcase_add_test(tc, test_index_many);
	tcase_add_test(tc, test_index_block_edges);
	tcase_add_test(tc, test_index_buffer_edges);
	tcase_add_test(tc, test_index_long_lines);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_wire_bookkeeping);
	tcase_add_test(tc, test_wire_only_bookkeeping);
	tcase_add_test(tc, test_wire_crlf);
	tcase_add_test(tc, test_wire_no_final_newline);
	tcase_add_test(tc, test_wire_lone_cr_at_end);
	tcase_add_test(tc, test_wire_only_cr_at_end);
	tcase_add_test(tc, test_wire_from_lines);
	tcase_add_test(tc, test_wire_nul);
	tcase_add_test(tc, test_wire_empty_message);
	tcase_add_test(tc, test_wire_header_only);
	tcase_add_test(tc, test_wire_cl_believed);
	tcase_add_test(tc, test_wire_cl_body_starts_with_separator);
	tcase_add_test(tc, test_wire_cl_to_eof);
	tcase_add_test(tc, test_wire_cl_disbelieved);
	tcase_add_test(tc, test_wire_cl_on_separator);
	tcase_add_test(tc, test_wire_cl_twice);
	tcase_add_test(tc, test_wire_cl_in_body);
	tcase_add_test(tc, test_wire_cl_large_body);
	suite_add_tcase(s, tc);

	tc = tcase_create("send");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_send_big);
	tcase_add_test(tc, test_send_small_batched);
	tcase_add_loop_test(tc, test_send_one_pass, 0, 3);
	tcase_add_test(tc, test_send_chunk_edges);
	tcase_add_loop_test(tc, test_send_changed_under, 0, 2);
	tcase_add_test(tc, test_send_no_such_message);
	suite_add_tcase(s, tc);

	tc = tcase_create("pseudo");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pseudo_hidden);
	tcase_add_test(tc, test_pseudo_imapbase_only);
	tcase_add_test(tc, test_pseudo_not_first);
	tcase_add_test(tc, test_pseudo_incomplete);
	suite_add_tcase(s, tc);

	tc = tcase_create("fixtures");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_fixture_bookkeeping);
	tcase_add_test(tc, test_fixture_crlf);
	tcase_add_test(tc, test_fixture_nofinal);
	tcase_add_test(tc, test_fixture_fromline);
	tcase_add_test(tc, test_fixture_pseudo);
	tcase_add_test(tc, test_fixture_mboxcl2);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_limits_get);
	tcase_add_test(tc, test_limits_directory);
	tcase_add_test(tc, test_limits_pipe);
	tcase_add_test(tc, test_limits_bad_fd);
	tcase_add_test(tc, test_limits_write_only);
	tcase_add_test(tc, test_limits_offset_untouched);
	tcase_add_test(tc, test_limits_growth_not_shown);
	suite_add_tcase(s, tc);

	tc = tcase_create("faults");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_faults_changed_byte);
	tcase_add_test(tc, test_faults_changed_big);
	tcase_add_test(tc, test_faults_changed_separator);
	tcase_add_test(tc, test_faults_truncated);
	tcase_add_test(tc, test_faults_sink_first_call);
	tcase_add_test(tc, test_faults_sink_midway);
	tcase_add_test(tc, test_faults_index_after_change);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr;
	int failed;

	sr = srunner_create(mbox_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed != 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
