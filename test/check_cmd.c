#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"

static struct cmd
parse(const char *text)
{
	static char buf[256];
	struct cmd c;

	strcpy(buf, text);
	cmd_parse(buf, strlen(buf), &c);
	return c;
}

START_TEST(keywords_any_case)
{
	static const struct {
		const char *text;
		enum cmd_kind kind;
	} table[] = {
		{ "HELO", CMD_HELO },
		{ "helo", CMD_HELO },
		{ "FoLd", CMD_FOLD },
		{ "READ", CMD_READ },
		{ "retr", CMD_RETR },
		{ "Acks", CMD_ACKS },
		{ "ACKD", CMD_ACKD },
		{ "nack", CMD_NACK },
		{ "QUIT", CMD_QUIT },
		{ "", CMD_UNKNOWN },
		{ "REA", CMD_UNKNOWN },
		{ "READX", CMD_UNKNOWN },
		{ "USER", CMD_UNKNOWN },
		{ " READ", CMD_UNKNOWN },
		{ "QUIT\r", CMD_UNKNOWN },
	};
	size_t i;

	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		struct cmd c = parse(table[i].text);

		ck_assert_msg(c.kind == table[i].kind, "\"%s\" parsed as %d",
		    table[i].text, (int)c.kind);
		ck_assert(!c.has_arg || table[i].text[0] == ' ');
	}
}
END_TEST

START_TEST(argument_after_one_space)
{
	struct cmd c = parse("READ 12");

	ck_assert_int_eq(c.kind, CMD_READ);
	ck_assert(c.has_arg);
	ck_assert_uint_eq(c.arglen, 2);
	ck_assert(memcmp(c.arg, "12", 2) == 0);

	c = parse("READ ");
	ck_assert(c.has_arg);
	ck_assert_uint_eq(c.arglen, 0);

	/* Only one space separates: the second belongs to the argument. */
	c = parse("FOLD  mail/sent box");
	ck_assert_int_eq(c.kind, CMD_FOLD);
	ck_assert_uint_eq(c.arglen, strlen(" mail/sent box"));
	ck_assert(memcmp(c.arg, " mail/sent box", c.arglen) == 0);

	c = parse("QUIT");
	ck_assert(!c.has_arg);
	ck_assert_uint_eq(c.arglen, 0);
}
END_TEST

static Suite *
cmd_suite(void)
{
	Suite *s = suite_create("cmd");
	TCase *core = tcase_create("core");

	tcase_add_test(core, keywords_any_case);
	tcase_add_test(core, argument_after_one_space);
	suite_add_tcase(s, core);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cmd_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
