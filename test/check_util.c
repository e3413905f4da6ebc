#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "util.h"

static int
msgno(const char *s, uint32_t *v)
{
	return util_parse_msgno(s, strlen(s), v);
}

START_TEST(msgno_valid)
{
	uint32_t v = 0;

	ck_assert_int_eq(msgno("1", &v), 0);
	ck_assert_uint_eq(v, 1);
	ck_assert_int_eq(msgno("0007", &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(msgno("2147483647", &v), 0);
	ck_assert_uint_eq(v, 2147483647u);
	ck_assert_int_eq(msgno("000000000000000000002147483647", &v), 0);
	ck_assert_uint_eq(v, 2147483647u);
}
END_TEST

START_TEST(msgno_invalid)
{
	static const struct {
		const char *s;
		int err;
	} bad[] = {
		{ "", EINVAL },
		{ "0", ERANGE },
		{ "000", ERANGE },
		{ "2147483648", ERANGE },
		{ "99999999999999999999999", ERANGE },
		{ "-1", EINVAL },
		{ "+1", EINVAL },
		{ " 1", EINVAL },
		{ "1 ", EINVAL },
		{ "1x", EINVAL },
		{ "0x10", EINVAL },
		{ "\xd9\xa1", EINVAL },
	};
	uint32_t v = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(
		    msgno(bad[i].s, &v) == -1, "accepted \"%s\"", bad[i].s);
		ck_assert_msg(errno == bad[i].err, "errno %d for \"%s\"", errno,
		    bad[i].s);
		ck_assert_uint_eq(v, 42);
	}
}
END_TEST

START_TEST(msgno_not_terminated)
{
	uint32_t v = 0;

	/* Only LEN octets count: the digits after them are not read. */
	ck_assert_int_eq(util_parse_msgno("12345", 2, &v), 0);
	ck_assert_uint_eq(v, 12);
}
END_TEST

/* Past 32 bits, whatever the width of long. */
START_TEST(ull_range)
{
	unsigned long long v = 0;

	ck_assert_int_eq(
	    util_parse_ull("1099511627776", 1, (uint64_t)1 << 40, &v), 0);
	ck_assert(v == (unsigned long long)1 << 40);
	ck_assert_int_eq(
	    util_parse_ull("1099511627777", 1, (uint64_t)1 << 40, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(
	    util_parse_ull("18446744073709551615", 0, ~0ULL, &v), 0);
	ck_assert(v == ~0ULL);
	ck_assert_int_eq(
	    util_parse_ull("18446744073709551616", 0, ~0ULL, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(util_parse_ull("4294967296x", 0, ~0ULL, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(ulong_range)
{
	unsigned long v = 0;

	ck_assert_int_eq(util_parse_ulong("60", 1, 86400, &v), 0);
	ck_assert_uint_eq(v, 60);
	ck_assert_int_eq(util_parse_ulong("0", 1, 86400, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(util_parse_ulong("86401", 1, 86400, &v), -1);
	ck_assert_int_eq(
	    util_parse_ulong("184467440737095516160", 0, ~0UL, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(
	    util_parse_ulong("18446744073709551615", 0, ~0UL, &v), 0);
	ck_assert_uint_eq(v, ~0UL);
	ck_assert_int_eq(util_parse_ulong("", 0, 10, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(util_parse_ulong("1e3", 0, 10000, &v), -1);
	ck_assert_int_eq(util_parse_ulong("-5", 0, 10, &v), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

START_TEST(strlcpy_truncates)
{
	char buf[4];

	ck_assert_uint_eq(util_strlcpy(buf, "abcdef", sizeof(buf)), 6);
	ck_assert_str_eq(buf, "abc");
	ck_assert_uint_eq(util_strlcpy(buf, "ab", sizeof(buf)), 2);
	ck_assert_str_eq(buf, "ab");
	ck_assert_uint_eq(util_strlcpy(buf, "zz", 0), 2);
	ck_assert_str_eq(buf, "ab");
}
END_TEST

/* Expands TMPL, checks the result against WANT, and frees it. */
static void
expands_to(
    const char *tmpl, const char *user, const char *home, const char *want)
{
	char *p = (char *)"unset";

	ck_assert_int_eq(util_expand(&p, tmpl, user, home), 0);
	ck_assert_str_eq(p, want);
	free(p);
}

/* Checks that TMPL is refused with EINVAL and nothing is returned. */
static void
refused(const char *tmpl, const char *user, const char *home)
{
	char *p = (char *)"unset";

	errno = 0;
	ck_assert_int_eq(util_expand(&p, tmpl, user, home), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(p);
}

START_TEST(template_expand)
{
	expands_to("/var/mail/%u", "alice", "", "/var/mail/alice");
	expands_to("%h/mail/%u%%x", "bob", "/home/bob", "/home/bob/mail/bob%x");
	expands_to("", "bob", "", "");
	expands_to("%%%%", "bob", "", "%%");
	refused("%h", "bob", "");
	refused("/x/%q", "bob", "");
	refused("/x/%", "bob", "");
	refused("/x/%%%", "bob", "");
}
END_TEST

/* Expansions and joins are as long as their parts, past any PATH_MAX. */
START_TEST(long_paths)
{
	char *home = malloc(3 * 4096 + 1), *want = malloc(6 * 4096 + 16);
	char *p;

	ck_assert_ptr_nonnull(home);
	ck_assert_ptr_nonnull(want);
	memset(home, 'h', 3 * 4096);
	home[0] = '/';
	home[3 * 4096] = '\0';
	snprintf(want, 6 * 4096 + 16, "%s/%s/x", home, home);
	expands_to("%h/%h/x", "u", home, want);
	ck_assert_uint_eq(strlen(want), 6 * 4096 + 3);

	ck_assert_int_eq(util_path_join(&p, home, home + 1), 0);
	ck_assert_uint_eq(strlen(p), 2 * 3 * 4096);
	ck_assert_int_eq(strncmp(p, home, 3 * 4096), 0);
	ck_assert_int_eq(p[3 * 4096], '/');
	ck_assert_str_eq(p + 3 * 4096 + 1, home + 1);
	free(p);
	free(home);
	free(want);
}
END_TEST

START_TEST(path_join)
{
	char *p = (char *)"unset";

	ck_assert_int_eq(util_path_join(&p, "/var/mail", "alice"), 0);
	ck_assert_str_eq(p, "/var/mail/alice");
	free(p);
	/* No second slash after a folder that ends in one, such as "/". */
	ck_assert_int_eq(util_path_join(&p, "/", "alice"), 0);
	ck_assert_str_eq(p, "/alice");
	free(p);
	ck_assert_int_eq(util_path_join(&p, "a/", "b"), 0);
	ck_assert_str_eq(p, "a/b");
	free(p);
	ck_assert_int_eq(util_path_join(&p, "", "b"), 0);
	ck_assert_str_eq(p, "/b");
	free(p);
	ck_assert_int_eq(util_path_join(&p, "a", ""), 0);
	ck_assert_str_eq(p, "a/");
	free(p);
}
END_TEST

START_TEST(template_check)
{
	ck_assert_int_eq(util_template_check("/var/mail/%u"), 0);
	ck_assert_int_eq(util_template_check("%h/%%/%u"), 0);
	ck_assert_int_eq(util_template_check("%d"), -1);
	ck_assert_int_eq(util_template_check("abc%"), -1);
}
END_TEST

START_TEST(consttime_and_wipe)
{
	char a[] = "secret", b[] = "secreT";

	ck_assert(util_consttime_equal(a, "secret", 6));
	ck_assert(!util_consttime_equal(a, b, 6));
	ck_assert(util_consttime_equal(a, b, 5));
	util_wipe(a, sizeof(a));
	ck_assert(memcmp(a, "\0\0\0\0\0\0\0", sizeof(a)) == 0);
}
END_TEST

START_TEST(ascii_case)
{
	ck_assert(util_ascii_caseeq("inbox", "INBOX", 6));
	ck_assert(util_ascii_caseeq("InBoX", "inbox", 6));
	ck_assert(!util_ascii_caseeq("inbo", "INBOX", 6));
	ck_assert(!util_ascii_caseeq("inboxes", "INBOX", 6));
	/* Only N octets count; equal strings end the comparison early. */
	ck_assert(util_ascii_caseeq("RETRxyz", "retr", 4));
	ck_assert(util_ascii_caseeq("ab", "AB", 100));
	/* Only ASCII letters fold: '@' and '`' sit next to 'A' and 'a'. */
	ck_assert(!util_ascii_caseeq("@", "`", 1));
	ck_assert(!util_ascii_caseeq("[", "{", 1));
	ck_assert(!util_ascii_caseeq("\xc9", "\xe9", 1));
	ck_assert_int_eq(util_ascii_lower('Z'), 'z');
	ck_assert_int_eq(util_ascii_lower('z'), 'z');
	ck_assert_int_eq(util_ascii_lower(0xc9), 0xc9);
	/* The Turkish dotless i of tr_TR must not change what matches. */
	if (setlocale(LC_CTYPE, "tr_TR.UTF-8") != NULL ||
	    setlocale(LC_CTYPE, "tr_TR.ISO-8859-9") != NULL) {
		ck_assert(util_ascii_caseeq("list", "LIST", 4));
		setlocale(LC_CTYPE, "C");
	}
}
END_TEST

/* A pipe delivers what is written in pieces; a file read past its end stops. */
START_TEST(full_read_write)
{
	char path[] = "/tmp/check_util.XXXXXX", buf[64];
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(util_pwrite_full(fd, "0123456789", 10, 0), 0);
	ck_assert_int_eq(util_pwrite_full(fd, "ab", 2, 20), 0);
	ck_assert_int_eq(util_pread_full(fd, buf, 4, 3), 4);
	ck_assert(memcmp(buf, "3456", 4) == 0);
	/* A hole reads as zeros, and the end of the file ends the read. */
	ck_assert_int_eq(util_pread_full(fd, buf, sizeof(buf), 8), 14);
	ck_assert(memcmp(buf, "89\0\0\0\0\0\0\0\0\0\0ab", 14) == 0);
	ck_assert_int_eq(util_pread_full(fd, buf, sizeof(buf), 100), 0);
	ck_assert_int_eq(util_pread_full(fd, buf, 0, 0), 0);
	close(fd);

	/* Errors are passed on with their errno. */
	errno = 0;
	ck_assert_int_eq(util_pread_full(fd, buf, 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	errno = 0;
	ck_assert_int_eq(util_pwrite_full(fd, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	fd = open("/dev/null", O_RDONLY);
	errno = 0;
	ck_assert_int_eq(util_pwrite_full(fd, "x", 1, 0), -1);
	ck_assert_int_eq(errno, EBADF);
	close(fd);
}
END_TEST

/* close(2) fails with EBADF here, yet the errno being reported survives. */
START_TEST(close_keeps_errno)
{
	errno = ENOSPC;
	ck_assert_int_eq(util_close_keep_errno(-1), -1);
	ck_assert_int_eq(errno, ENOSPC);
}
END_TEST

static void
on_alarm(int sig)
{
	(void)sig;
}

START_TEST(clock_and_sleep)
{
	struct sigaction sa;
	struct itimerval its;
	int64_t t0, t1;

	t0 = util_now_ms();
	ck_assert_int_eq(util_sleep_ms(0), 0);
	ck_assert_int_eq(util_sleep_ms(-5), 0);
	ck_assert_int_eq(util_sleep_ms(20), 0);
	t1 = util_now_ms();
	/* A lower bound only: a loaded machine may sleep longer. */
	ck_assert_int_ge(t1 - t0, 20);

	/* A signal ends the sleep early with EINTR. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGALRM, &sa, NULL), 0);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_usec = 10000;
	ck_assert_int_eq(setitimer(ITIMER_REAL, &its, NULL), 0);
	errno = 0;
	ck_assert_int_eq(util_sleep_ms(60000), -1);
	ck_assert_int_eq(errno, EINTR);
}
END_TEST

START_TEST(random_differs)
{
	uint64_t a = util_random64(), b = util_random64();

	errno = EDOM;
	(void)util_random64();
	ck_assert_int_eq(errno, EDOM);
	ck_assert(a != b);
}
END_TEST

static Suite *
util_suite(void)
{
	Suite *s = suite_create("util");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_test(core, msgno_valid);
	tcase_add_test(core, strlcpy_truncates);
	tcase_add_test(core, template_expand);
	tcase_add_test(core, template_check);
	tcase_add_test(core, path_join);
	tcase_add_test(limits, long_paths);
	tcase_add_test(core, consttime_and_wipe);
	tcase_add_test(core, ascii_case);
	tcase_add_test(core, full_read_write);
	tcase_add_test(core, close_keeps_errno);
	tcase_add_test(core, clock_and_sleep);
	tcase_add_test(core, random_differs);
	tcase_add_test(limits, msgno_invalid);
	tcase_add_test(limits, msgno_not_terminated);
	tcase_add_test(limits, ulong_range);
	tcase_add_test(limits, ull_range);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(util_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
