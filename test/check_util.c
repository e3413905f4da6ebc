#include "config.h"

#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

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
		{ "", EINVAL }, { "0", ERANGE }, { "000", ERANGE },
		{ "2147483648", ERANGE }, { "99999999999999999999999", ERANGE },
		{ "-1", EINVAL }, { "+1", EINVAL }, { " 1", EINVAL },
		{ "1 ", EINVAL }, { "1x", EINVAL }, { "0x10", EINVAL },
		{ "\xd9\xa1", EINVAL },
	};
	uint32_t v = 42;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		ck_assert_msg(msgno(bad[i].s, &v) == -1, "accepted \"%s\"", bad[i].s);
		ck_assert_msg(errno == bad[i].err, "errno %d for \"%s\"", errno, bad[i].s);
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

START_TEST(ulong_range)
{
	unsigned long v = 0;

	ck_assert_int_eq(util_parse_ulong("60", 1, 86400, &v), 0);
	ck_assert_uint_eq(v, 60);
	ck_assert_int_eq(util_parse_ulong("0", 1, 86400, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(util_parse_ulong("86401", 1, 86400, &v), -1);
	ck_assert_int_eq(util_parse_ulong("184467440737095516160", 0, ~0UL, &v), -1);
	ck_assert_int_eq(errno, ERANGE);
	ck_assert_int_eq(util_parse_ulong("18446744073709551615", 0, ~0UL, &v), 0);
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

START_TEST(template_expand)
{
	char buf[64];

	ck_assert_int_eq(util_expand(buf, sizeof(buf), "/var/mail/%u", "alice", ""), 0);
	ck_assert_str_eq(buf, "/var/mail/alice");
	ck_assert_int_eq(util_expand(buf, sizeof(buf), "%h/mail/%u%%x", "bob", "/home/bob"), 0);
	ck_assert_str_eq(buf, "/home/bob/mail/bob%x");
	ck_assert_int_eq(util_expand(buf, sizeof(buf), "%h", "bob", ""), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(buf, "");
	ck_assert_int_eq(util_expand(buf, sizeof(buf), "/x/%q", "bob", ""), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(util_expand(buf, sizeof(buf), "/x/%", "bob", ""), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(util_expand(buf, 8, "/var/mail/%u", "alice", ""), -1);
	ck_assert_int_eq(errno, ENAMETOOLONG);
	ck_assert_str_eq(buf, "");
	/* Exactly filling the buffer leaves room for the NUL. */
	ck_assert_int_eq(util_expand(buf, 6, "/a/%u", "bc", ""), 0);
	ck_assert_str_eq(buf, "/a/bc");
	ck_assert_int_eq(util_expand(buf, 5, "/a/%u", "bc", ""), -1);
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
	tcase_add_test(core, consttime_and_wipe);
	tcase_add_test(limits, msgno_invalid);
	tcase_add_test(limits, msgno_not_terminated);
	tcase_add_test(limits, ulong_range);
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
