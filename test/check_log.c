/*
 * log: the escaping of client-supplied strings for a log line.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

START_TEST(escape_plain)
{
	char buf[64];

	ck_assert_str_eq(log_escape(buf, sizeof(buf), "INBOX"), "INBOX");
	ck_assert_str_eq(
	    log_escape(buf, sizeof(buf), "mail/2026-11"), "mail/2026-11");
	ck_assert_str_eq(log_escape(buf, sizeof(buf), ""), "");
}
END_TEST

START_TEST(escape_controls)
{
	char buf[128];

	/* A TAB or space could forge " peer=..." for a log filter. */
	ck_assert_str_eq(log_escape(buf, sizeof(buf), "a\tpeer=10.9.8.7"),
	    "a\\x09peer=10.9.8.7");
	ck_assert_str_eq(log_escape(buf, sizeof(buf), "a b"), "a\\x20b");
	ck_assert_str_eq(log_escape(buf, sizeof(buf), "\r\n\033\a\x7f"),
	    "\\x0d\\x0a\\x1b\\x07\\x7f");
	/* The backslash itself, so that an escape cannot be forged either. */
	ck_assert_str_eq(log_escape(buf, sizeof(buf), "\\x41"), "\\x5cx41");
	ck_assert_str_eq(
	    log_escape(buf, sizeof(buf), "\xc3\xa9"), "\\xc3\\xa9");
}
END_TEST

START_TEST(escape_truncates)
{
	char buf[12];
	size_t i;

	/* Cut at an escape's boundary, marked, always terminated. */
	ck_assert_str_eq(
	    log_escape(buf, sizeof(buf), "abcdefghijklmnop"), "abcdefgh...");
	ck_assert_str_eq(
	    log_escape(buf, sizeof(buf), "abcde\tfgh"), "abcde...");
	for (i = 1; i <= sizeof(buf); i++) {
		log_escape(buf, i, "\t\t\t\t\t\t");
		ck_assert_uint_lt(strlen(buf), i);
		ck_assert(strchr(buf, '\t') == NULL);
	}
}
END_TEST

static Suite *
log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *core = tcase_create("core");
	TCase *limits = tcase_create("limits");

	tcase_add_test(core, escape_plain);
	tcase_add_test(core, escape_controls);
	tcase_add_test(limits, escape_truncates);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
