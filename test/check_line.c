#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "io.h"
#include "line.h"

/* A scripted input: chunks handed out one per read, then EOF or an error. */
struct script {
	const char *chunks[8];
	size_t lens[8];
	size_t next;
	int end_errno; /* 0: EOF after the last chunk */
};

static ssize_t
script_read(struct io *io, void *buf, size_t len)
{
	struct script *sc = io->arg;
	size_t n;

	if (sc->chunks[sc->next] == NULL) {
		if (sc->end_errno != 0) {
			errno = sc->end_errno;
			return -1;
		}
		return 0;
	}
	n = sc->lens[sc->next];
	ck_assert_uint_le(n, len);
	memcpy(buf, sc->chunks[sc->next], n);
	sc->next++;
	return (ssize_t)n;
}

static struct io io;
static struct line_reader lr;
static struct script sc;

static void
feed(const char *chunk, size_t len)
{
	size_t i = 0;

	while (sc.chunks[i] != NULL)
		i++;
	sc.chunks[i] = chunk;
	sc.lens[i] = len;
}

static void
setup(void)
{
	memset(&sc, 0, sizeof(sc));
	memset(&io, 0, sizeof(io));
	io.read_fn = script_read;
	io.arg = &sc;
	line_init(&lr, &io);
}

static void
expect_line(const char *want)
{
	char *text = NULL;
	size_t len = 0;

	ck_assert_int_eq(line_read(&lr, &text, &len), LINE_OK);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_str_eq(text, want);
}

START_TEST(crlf_and_lf)
{
	feed("HELO a b\r\nREAD\nQUIT\r\n", 21);
	expect_line("HELO a b");
	expect_line("READ");
	expect_line("QUIT");
	{
		char *t;
		size_t l;

		ck_assert_int_eq(line_read(&lr, &t, &l), LINE_EOF);
	}
}
END_TEST

START_TEST(split_across_reads)
{
	feed("RE", 2);
	feed("AD 1", 4);
	feed("\r", 1);
	feed("\nACKS\n", 6);
	expect_line("READ 1");
	expect_line("ACKS");
}
END_TEST

START_TEST(empty_line_and_lone_cr)
{
	char *t;
	size_t l;

	feed("\r\n\n A\rB\r\n", 10);
	expect_line("");
	expect_line("");
	/* Only the CR right before LF is a terminator; others are text. */
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_OK);
	ck_assert_uint_eq(l, 4);
	ck_assert(memcmp(t, " A\rB", 4) == 0);
}
END_TEST

static char big[5000];

START_TEST(limit_exact)
{
	/* 1022 octets of text plus CRLF is 1024: the largest line allowed. */
	memset(big, 'a', 1022);
	memcpy(big + 1022, "\r\n", 2);
	feed(big, 1024);
	{
		char *t;
		size_t l;

		ck_assert_int_eq(line_read(&lr, &t, &l), LINE_OK);
		ck_assert_uint_eq(l, 1022);
	}
}
END_TEST

START_TEST(limit_lf_only)
{
	char *t;
	size_t l;

	memset(big, 'a', 1023);
	big[1023] = '\n';
	memset(big + 1024, 'b', 1024);
	big[2048] = '\n';
	feed(big, 2049);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_OK);
	ck_assert_uint_eq(l, 1023);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_TOO_LONG);
}
END_TEST

START_TEST(overlong_consumed_whole)
{
	char *t;
	size_t l;

	/* The tail of an overlong line must never become a command. */
	memset(big, 'x', sizeof(big));
	memcpy(big + 1020, "QUIT\r\n", 6);
	feed(big, 1026);
	feed("READ\r\n", 6);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_TOO_LONG);
	expect_line("READ");
}
END_TEST

START_TEST(overlong_over_many_reads)
{
	char *t;
	size_t l;

	memset(big, 'y', sizeof(big));
	feed(big, 4000);
	feed(big, 4000);
	feed("QUIT\r\nNACK\n", 11);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_TOO_LONG);
	expect_line("NACK");
}
END_TEST

START_TEST(overlong_then_eof)
{
	char *t;
	size_t l;

	memset(big, 'z', sizeof(big));
	feed(big, 3000);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_PARTIAL);
}
END_TEST

START_TEST(nul_rejects_line)
{
	char *t;
	size_t l;

	feed("HELO a\0b\r\nQUIT\r\n", 16);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_NUL);
	expect_line("QUIT");
}
END_TEST

START_TEST(partial_at_eof)
{
	char *t;
	size_t l;

	feed("QUIT", 4);
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_PARTIAL);
}
END_TEST

START_TEST(read_error)
{
	char *t;
	size_t l;

	feed("REA", 3);
	sc.end_errno = ETIMEDOUT;
	ck_assert_int_eq(line_read(&lr, &t, &l), LINE_ERROR);
	ck_assert_int_eq(errno, ETIMEDOUT);
}
END_TEST

START_TEST(wipe_clears_buffer)
{
	size_t i;

	feed("HELO alice secret\r\n", 19);
	expect_line("HELO alice secret");
	line_wipe(&lr);
	for (i = 0; i < sizeof(lr.buf); i++)
		ck_assert_int_eq(lr.buf[i], 0);
}
END_TEST

/* A preamble taken raw: what it leaves is where the lines start. */
START_TEST(peek_and_consume)
{
	const char *data = NULL;
	char *text;
	size_t len;

	feed("PRE", 3);
	feed("AMBLEREAD\r\nQUIT\r\n", 17);
	ck_assert_int_eq(line_peek(&lr, &data), 3);
	ck_assert(memcmp(data, "PRE", 3) == 0);
	line_consume(&lr, 3);
	/* Nothing buffered: one more read. */
	ck_assert_int_eq(line_peek(&lr, &data), 17);
	ck_assert(memcmp(data, "AMBLE", 5) == 0);
	line_consume(&lr, 2);
	/* Buffered octets are handed out again without a read. */
	ck_assert_int_eq(line_peek(&lr, &data), 15);
	ck_assert(memcmp(data, "BLEREAD", 7) == 0);
	line_consume(&lr, 3);
	expect_line("READ");
	expect_line("QUIT");
	ck_assert_int_eq(line_read(&lr, &text, &len), LINE_EOF);
	ck_assert_int_eq(line_peek(&lr, &data), 0);
}
END_TEST

START_TEST(peek_error)
{
	const char *data;

	sc.end_errno = ETIMEDOUT;
	ck_assert_int_eq(line_peek(&lr, &data), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
}
END_TEST

static Suite *
line_suite(void)
{
	Suite *s = suite_create("line");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");
	TCase *faults = tcase_create("faults");

	tcase_add_checked_fixture(core, setup, NULL);
	tcase_add_checked_fixture(limits, setup, NULL);
	tcase_add_checked_fixture(faults, setup, NULL);
	tcase_add_test(core, crlf_and_lf);
	tcase_add_test(core, split_across_reads);
	tcase_add_test(core, empty_line_and_lone_cr);
	tcase_add_test(core, wipe_clears_buffer);
	tcase_add_test(core, peek_and_consume);
	tcase_add_test(faults, peek_error);
	tcase_add_test(limits, limit_exact);
	tcase_add_test(limits, limit_lf_only);
	tcase_add_test(limits, overlong_consumed_whole);
	tcase_add_test(limits, overlong_over_many_reads);
	tcase_add_test(limits, overlong_then_eof);
	tcase_add_test(limits, nul_rejects_line);
	tcase_add_test(faults, partial_at_eof);
	tcase_add_test(faults, read_error);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	suite_add_tcase(s, faults);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(line_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
