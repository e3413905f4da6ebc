#include "config.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session.h"

/*
 * The session is driven against a backend held in memory, so that every
 * call it makes can be counted and every answer chosen by the test.
 */

#define FAKE_MAX_MSGS 8

struct fake_user {
	const char *user;
	const char *password;
	/* Not SESSION_OK: the login is good but INBOX cannot be served. */
	enum session_error why;
};

struct fake_folder {
	const char *name;
	const uint64_t *sizes; /* octets of messages 1..nmsgs, never 0 */
	size_t nmsgs;
};

static const uint64_t inbox_sizes[] = { 120, 45, 3000 };
static const uint64_t sent_sizes[] = { 10, 20 };
static const uint64_t big_sizes[] = { UINT64_C(5000000000) };

static const struct fake_folder fake_folders[] = {
	{ "INBOX", inbox_sizes, 3 },
	{ "mail/sent", sent_sizes, 2 },
	{ "my folder", sent_sizes, 1 },
	{ "empty", NULL, 0 },
	{ "big", big_sizes, 1 },
};

static const struct fake_user fake_users[] = {
	{ "alice", "secret", SESSION_OK },
	{ "bob", "pass with  two spaces", SESSION_OK },
	{ "carol", "secret", SESSION_ERR_IN_USE },
};

struct fake {
	/* What the test tells the backend to do. */
	bool commit_fails;
	enum session_error commit_error;

	/* The backend's own state. */
	const struct fake_folder *folder; /* selected, NULL if none */
	bool deleted[FAKE_MAX_MSGS + 1];

	/* What the session asked for. */
	unsigned seq; /* orders the calls below */
	unsigned login_calls, commit_calls, select_calls, size_calls;
	unsigned mark_calls, bad_marks;
	unsigned commit_seq, select_seq;
	unsigned committed_deletions; /* marked messages at the last commit */
	char last_user[256];
	char last_password[1100];
	char last_select[1100];
	uint32_t last_marked;
};

static struct fake fk;
static struct session ss;
static struct session_out out;
static char line[2048];
static size_t line_len;

static void
copy_string(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n > size - 1)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const struct fake_folder *
fake_find_folder(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(fake_folders) / sizeof(fake_folders[0]); i++) {
		const char *f = fake_folders[i].name;

		/* INBOX is the one name that is case-insensitive (SPEC 4). */
		if (strcmp(f, "INBOX") == 0 ? strcasecmp(name, f) == 0
					    : strcmp(name, f) == 0)
			return &fake_folders[i];
	}
	return NULL;
}

static void
fake_enter(const struct fake_folder *f)
{
	fk.folder = f;
	memset(fk.deleted, 0, sizeof(fk.deleted));
}

static enum session_error
fake_login(void *arg, const char *user, char *password, size_t *count)
{
	size_t i;

	ck_assert_ptr_eq(arg, &fk);
	fk.login_calls++;
	copy_string(fk.last_user, sizeof(fk.last_user), user);
	copy_string(fk.last_password, sizeof(fk.last_password), password);
	for (i = 0; i < sizeof(fake_users) / sizeof(fake_users[0]); i++) {
		if (strcmp(user, fake_users[i].user) != 0 ||
		    strcmp(password, fake_users[i].password) != 0)
			continue;
		if (fake_users[i].why != SESSION_OK)
			return fake_users[i].why;
		fake_enter(fake_find_folder("INBOX"));
		*count = fk.folder->nmsgs;
		return SESSION_OK;
	}
	return SESSION_ERR_BAD_LOGIN;
}

static enum session_error
fake_commit(void *arg)
{
	unsigned n;

	ck_assert_ptr_eq(arg, &fk);
	fk.commit_calls++;
	fk.commit_seq = ++fk.seq;
	fk.committed_deletions = 0;
	for (n = 1; n <= FAKE_MAX_MSGS; n++)
		if (fk.deleted[n])
			fk.committed_deletions++;
	return fk.commit_fails ? fk.commit_error : SESSION_OK;
}

static int
fake_select(void *arg, const char *name, size_t *count)
{
	const struct fake_folder *f;

	ck_assert_ptr_eq(arg, &fk);
	fk.select_calls++;
	fk.select_seq = ++fk.seq;
	copy_string(fk.last_select, sizeof(fk.last_select), name);
	f = fake_find_folder(name);
	fake_enter(f);
	if (f == NULL)
		return -1;
	*count = f->nmsgs;
	return 0;
}

/* Like the real backend: a deleted message has no octets. */
static uint64_t
fake_size(void *arg, uint32_t n)
{
	ck_assert_ptr_eq(arg, &fk);
	fk.size_calls++;
	if (fk.folder == NULL || n < 1 || n > fk.folder->nmsgs || fk.deleted[n])
		return 0;
	return fk.folder->sizes[n - 1];
}

static void
fake_mark_deleted(void *arg, uint32_t n)
{
	ck_assert_ptr_eq(arg, &fk);
	fk.mark_calls++;
	fk.last_marked = n;
	if (fk.folder == NULL || n < 1 || n > fk.folder->nmsgs ||
	    fk.deleted[n]) {
		fk.bad_marks++;
		return;
	}
	fk.deleted[n] = true;
}

static const struct session_backend fake_backend = {
	&fk,
	fake_login,
	fake_commit,
	fake_select,
	fake_size,
	fake_mark_deleted,
};

static void
setup(void)
{
	memset(&fk, 0, sizeof(fk));
	fk.commit_error = SESSION_ERR_COMMIT_CHANGED;
	memset(&out, 0, sizeof(out));
	session_init(&ss, &fake_backend);
}

static void
teardown(void)
{
}

/* Forgets the calls made so far, keeping the backend's state. */
static void
reset_counters(void)
{
	fk.login_calls = fk.commit_calls = fk.select_calls = 0;
	fk.size_calls = fk.mark_calls = fk.bad_marks = 0;
	fk.committed_deletions = 0;
	fk.last_marked = 0;
}

/* Feeds TEXT to the session as one line in a writable buffer. */
static void
step(const char *text)
{
	line_len = strlen(text);
	ck_assert_uint_lt(line_len, sizeof(line));
	memcpy(line, text, line_len + 1);
	/* Junk in OUT must not survive a step. */
	memset(&out, 0x5a, sizeof(out));
	session_step(&ss, line, line_len, &out);
	ck_assert_uint_lt(out.len, sizeof(out.reply));
	ck_assert_uint_eq(out.len, strlen(out.reply));
}

static bool
line_contains(const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= line_len; i++)
		if (memcmp(line + i, needle, n) == 0)
			return true;
	return false;
}

/* A reply that keeps the session open. */
#define ASSERT_REPLY(text, st)                                                 \
	do {                                                                   \
		ck_assert_str_eq(out.reply, (text));                           \
		ck_assert_uint_eq(out.len, strlen(text));                      \
		ck_assert_uint_eq(out.send, 0);                                \
		ck_assert(!out.close);                                         \
		ck_assert(!out.login_failed);                                  \
		ck_assert_int_eq(ss.state, (st));                              \
	} while (0)

/* A negative reply: "- TEXT", close, and the session is over. */
#define ASSERT_FAIL(text)                                                      \
	do {                                                                   \
		ck_assert_str_eq(out.reply, "- " text "\r\n");                 \
		ck_assert_uint_eq(out.send, 0);                                \
		ck_assert(out.close);                                          \
		ck_assert_ptr_nonnull(out.reason);                             \
		ck_assert_int_eq(ss.state, SESSION_CLOSED);                    \
	} while (0)

#define BOGUS "Bogus or out of sequence command"

static void
login(void)
{
	step("HELO alice secret");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
}

/* Brings a fresh session into ST over INBOX, current message 1. */
static void
drive(enum session_state st)
{
	if (st == SESSION_AUTH)
		return;
	login();
	if (st == SESSION_MBOX)
		goto done;
	step("READ 1");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
	if (st == SESSION_ITEM)
		goto done;
	step("RETR");
	ck_assert_uint_eq(out.send, 1);
	ck_assert_int_eq(ss.state, SESSION_NEXT);
done:
	reset_counters();
}

/* Sends message N (READ n, then RETR) and answers with ACK. */
static void
take(uint32_t n, const char *ack)
{
	char buf[32];
	int len = snprintf(buf, sizeof(buf), "READ %u", (unsigned)n);

	ck_assert_int_gt(len, 0);
	step(buf);
	ck_assert_int_eq(ss.state, SESSION_ITEM);
	step("RETR");
	ck_assert_uint_eq(out.send, n);
	step(ack);
}

/*
 * "table": every command in every state, accepted exactly where SPEC 2's
 * table lists it. A NULL reply means "- Bogus or out of sequence command".
 */

static const struct table_case {
	enum session_state state;
	const char *line;
	const char *reply;
	enum session_state next;
	uint32_t send;
	bool close;
	unsigned logins, commits, selects, marks;
} table_cases[] = {
	{ SESSION_AUTH, "HELO alice secret", "#3 messages in INBOX\r\n",
	    SESSION_MBOX, 0, false, 1, 0, 0, 0 },
	{ SESSION_AUTH, "FOLD mail/sent", NULL, SESSION_CLOSED, 0, true, 0, 0,
	    0, 0 },
	{ SESSION_AUTH, "READ", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_AUTH, "RETR", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_AUTH, "ACKS", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_AUTH, "ACKD", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_AUTH, "NACK", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_AUTH, "QUIT", "+ OK Sayonara\r\n", SESSION_CLOSED, 0, true, 0,
	    0, 0, 0 },
	{ SESSION_AUTH, "LIST", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },

	{ SESSION_MBOX, "HELO alice secret", NULL, SESSION_CLOSED, 0, true, 0,
	    0, 0, 0 },
	{ SESSION_MBOX, "FOLD mail/sent", "#2 messages in mail/sent\r\n",
	    SESSION_MBOX, 0, false, 0, 1, 1, 0 },
	{ SESSION_MBOX, "READ", "=120 characters in message 1\r\n",
	    SESSION_ITEM, 0, false, 0, 0, 0, 0 },
	{ SESSION_MBOX, "RETR", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_MBOX, "ACKS", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_MBOX, "ACKD", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_MBOX, "NACK", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_MBOX, "QUIT", "+ OK Sayonara\r\n", SESSION_CLOSED, 0, true, 0,
	    1, 0, 0 },
	{ SESSION_MBOX, "LIST", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },

	{ SESSION_ITEM, "HELO alice secret", NULL, SESSION_CLOSED, 0, true, 0,
	    0, 0, 0 },
	{ SESSION_ITEM, "FOLD mail/sent", "#2 messages in mail/sent\r\n",
	    SESSION_MBOX, 0, false, 0, 1, 1, 0 },
	{ SESSION_ITEM, "READ", "=120 characters in message 1\r\n",
	    SESSION_ITEM, 0, false, 0, 0, 0, 0 },
	{ SESSION_ITEM, "RETR", "", SESSION_NEXT, 1, false, 0, 0, 0, 0 },
	{ SESSION_ITEM, "ACKS", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_ITEM, "ACKD", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_ITEM, "NACK", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_ITEM, "QUIT", "+ OK Sayonara\r\n", SESSION_CLOSED, 0, true, 0,
	    1, 0, 0 },
	{ SESSION_ITEM, "LIST", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },

	{ SESSION_NEXT, "HELO alice secret", NULL, SESSION_CLOSED, 0, true, 0,
	    0, 0, 0 },
	{ SESSION_NEXT, "FOLD mail/sent", NULL, SESSION_CLOSED, 0, true, 0, 0,
	    0, 0 },
	{ SESSION_NEXT, "READ", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_NEXT, "RETR", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_NEXT, "ACKS", "=45 characters in message 2\r\n", SESSION_ITEM,
	    0, false, 0, 0, 0, 0 },
	{ SESSION_NEXT, "ACKD", "=45 characters in message 2\r\n", SESSION_ITEM,
	    0, false, 0, 0, 0, 1 },
	{ SESSION_NEXT, "NACK", "=120 characters in message 1\r\n",
	    SESSION_ITEM, 0, false, 0, 0, 0, 0 },
	{ SESSION_NEXT, "QUIT", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
	{ SESSION_NEXT, "LIST", NULL, SESSION_CLOSED, 0, true, 0, 0, 0, 0 },
};

#define NTABLE ((int)(sizeof(table_cases) / sizeof(table_cases[0])))

START_TEST(table_row)
{
	const struct table_case *t = &table_cases[_i];
	const char *want = t->reply != NULL ? t->reply : "- " BOGUS "\r\n";

	drive(t->state);
	step(t->line);
	ck_assert_msg(strcmp(out.reply, want) == 0,
	    "state %d, \"%s\": got \"%s\"", (int)t->state, t->line, out.reply);
	ck_assert_int_eq(ss.state, t->next);
	ck_assert_uint_eq(out.send, t->send);
	ck_assert(out.close == t->close);
	ck_assert(!out.login_failed);
	if (t->close)
		ck_assert_ptr_nonnull(out.reason);
	/* A command refused in this state never reaches the backend. */
	ck_assert_uint_eq(fk.login_calls, t->logins);
	ck_assert_uint_eq(fk.commit_calls, t->commits);
	ck_assert_uint_eq(fk.select_calls, t->selects);
	ck_assert_uint_eq(fk.mark_calls, t->marks);
	ck_assert_uint_eq(fk.bad_marks, 0);
	if (t->marks > 0)
		ck_assert_uint_eq(fk.last_marked, 1);
}
END_TEST

/* The table itself covers the 4 states and 9 commands, nothing less. */
START_TEST(table_complete)
{
	static const char *const kw[] = { "HELO", "FOLD", "READ", "RETR",
		"ACKS", "ACKD", "NACK", "QUIT", "LIST" };
	enum session_state st;
	size_t k;
	int i;

	ck_assert_int_eq(NTABLE, 4 * 9);
	for (st = SESSION_AUTH; st <= SESSION_NEXT; st++) {
		for (k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
			int found = 0;

			for (i = 0; i < NTABLE; i++)
				if (table_cases[i].state == st &&
				    strncmp(table_cases[i].line, kw[k], 4) == 0)
					found++;
			ck_assert_msg(found == 1, "state %d %s: %d rows",
			    (int)st, kw[k], found);
		}
	}
}
END_TEST

/*
 * "auth": the greeting, HELO and QUIT before login.
 */

START_TEST(greeting)
{
	memset(&out, 0x5a, sizeof(out));
	session_greet(&ss, "mail.example.org", "1.2.3", &out);
	ck_assert_str_eq(
	    out.reply, "+ POP2 mail.example.org pop2d 1.2.3 server ready\r\n");
	ck_assert_uint_eq(out.len, strlen(out.reply));
	ck_assert_uint_eq(out.send, 0);
	ck_assert(!out.close);
	ck_assert(!out.login_failed);
	ck_assert_int_eq(ss.state, SESSION_AUTH);
	ck_assert_uint_eq(
	    fk.login_calls + fk.commit_calls + fk.select_calls, 0);
}
END_TEST

START_TEST(helo_good)
{
	step("HELO alice secret");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.login_calls, 1);
	ck_assert_str_eq(fk.last_user, "alice");
	ck_assert_str_eq(fk.last_password, "secret");
	ck_assert(!line_contains("secret"));
	/* The selected INBOX is the current folder, message 1 first. */
	step("READ");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(helo_password_with_spaces)
{
	step("HELO bob pass with  two spaces");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	ck_assert_str_eq(fk.last_user, "bob");
	ck_assert_str_eq(fk.last_password, "pass with  two spaces");
	ck_assert(!line_contains("pass"));
	ck_assert(!line_contains("with"));
	ck_assert(!line_contains("spaces"));
}
END_TEST

START_TEST(helo_several_spaces)
{
	step("HELO alice    secret");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	ck_assert_str_eq(fk.last_user, "alice");
	ck_assert_str_eq(fk.last_password, "secret");
	ck_assert(!line_contains("secret"));
}
END_TEST

/* The password is the rest of the line: a trailing space belongs to it. */
START_TEST(helo_trailing_space_in_password)
{
	step("HELO alice secret ");
	ck_assert_uint_eq(fk.login_calls, 1);
	ck_assert_str_eq(fk.last_password, "secret ");
	ck_assert(out.login_failed);
	ASSERT_FAIL("Bad login");
	ck_assert(!line_contains("secret"));
}
END_TEST

static const char *const helo_missing_lines[] = {
	"HELO alice",
	"HELO alice ",
	"HELO alice   ",
	"HELO",
	"HELO ",
	"HELO   ",
};

START_TEST(helo_missing)
{
	step(helo_missing_lines[_i]);
	ASSERT_FAIL("Missing user or password");
	ck_assert(!out.login_failed);
	ck_assert_uint_eq(fk.login_calls, 0);
}
END_TEST

START_TEST(helo_any_case)
{
	step("helo alice secret");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	setup();
	step("HeLo alice secret");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	ck_assert_str_eq(fk.last_password, "secret");
}
END_TEST

START_TEST(helo_bad_password)
{
	step("HELO alice Secret");
	ck_assert(out.login_failed);
	ASSERT_FAIL("Bad login");
	ck_assert_uint_eq(fk.login_calls, 1);
	ck_assert_str_eq(fk.last_password, "Secret");
	ck_assert(!line_contains("Secret"));
	ck_assert_uint_eq(fk.commit_calls + fk.select_calls, 0);
}
END_TEST

/* An unknown user is told exactly what a wrong password is told. */
START_TEST(helo_unknown_user)
{
	struct session_out bad;

	step("HELO alice wrong");
	bad = out;
	setup();
	step("HELO mallory wrong");
	ck_assert_str_eq(out.reply, bad.reply);
	ck_assert_uint_eq(out.len, bad.len);
	ck_assert(out.login_failed && bad.login_failed);
	ck_assert(out.close && bad.close);
	ASSERT_FAIL("Bad login");
	ck_assert(!line_contains("wrong"));
}
END_TEST

START_TEST(helo_inbox_unavailable)
{
	step("HELO carol secret");
	ASSERT_FAIL("Maildrop already in use");
	ck_assert(!out.login_failed);
	ck_assert_uint_eq(fk.login_calls, 1);
	ck_assert(!line_contains("secret"));
}
END_TEST

/*
 * The texts the rest of pop2d asks for by kind: the wire contract that the
 * transcripts and the shell tests also read.
 */
START_TEST(fail_by_kind)
{
	static const struct {
		enum session_error err;
		const char *reply;
	} want[] = {
		{ SESSION_ERR_STATE_UNUSABLE,
		    "- State directory unusable\r\n" },
		{ SESSION_ERR_IN_USE, "- Maildrop already in use\r\n" },
		{ SESSION_ERR_MAILDROP_BUSY, "- Maildrop busy\r\n" },
		{ SESSION_ERR_MAILDROP_UNUSABLE, "- Cannot open maildrop\r\n" },
		{ SESSION_ERR_LINE_TOO_LONG, "- Command line too long\r\n" },
		{ SESSION_ERR_NUL_OCTET, "- NUL octet in command\r\n" },
		{ SESSION_ERR_IDLE, "- Autologout; idle for too long\r\n" },
		{ SESSION_ERR_MAILDROP_CHANGED,
		    "- Maildrop changed by another program\r\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		session_init(&ss, &fake_backend);
		session_fail(&ss, want[i].err, &out);
		ck_assert_str_eq(out.reply, want[i].reply);
		ck_assert_uint_eq(out.len, strlen(want[i].reply));
		ck_assert(out.close && !out.login_failed);
		ck_assert_int_eq(ss.state, SESSION_CLOSED);
		/* The log's reason is the reply's text. */
		ck_assert_uint_eq(strlen(out.reason), out.len - 4);
		ck_assert(strncmp(out.reason, out.reply + 2, out.len - 4) == 0);
	}
	/* Before any session: a configuration error. */
	session_fail(NULL, SESSION_ERR_UNAVAILABLE, &out);
	ck_assert_str_eq(out.reply, "- POP2 server unavailable\r\n");
	ck_assert(out.close);
}
END_TEST

START_TEST(quit_in_auth)
{
	step("QUIT");
	ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
	ck_assert(out.close);
	ck_assert(!out.login_failed);
	ck_assert_ptr_nonnull(out.reason);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
	/* Nothing is selected before HELO, so there is nothing to commit. */
	ck_assert_uint_eq(fk.commit_calls, 0);
	ck_assert_uint_eq(fk.login_calls, 0);
}
END_TEST

/*
 * "mbox": READ and FOLD with a folder selected.
 */

START_TEST(read_current)
{
	login();
	step("READ");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(read_number)
{
	login();
	step("READ 2");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	/* The number given becomes the current message. */
	step("READ");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	step("READ 3");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(read_leading_zeros)
{
	login();
	step("READ 0002");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	step("READ 000000000000000000003");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(read_largest_number)
{
	login();
	step("READ 2147483647");
	ASSERT_REPLY("=0 No message 2147483647\r\n", SESSION_MBOX);
}
END_TEST

START_TEST(read_past_end)
{
	login();
	step("READ 4");
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	/* The current message is 4 now, and still has nothing to send. */
	step("READ");
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	step("RETR");
	ASSERT_FAIL(BOGUS);
}
END_TEST

static const char *const read_invalid_lines[] = {
	"READ 0",
	"READ 0000",
	"READ -1",
	"READ +1",
	"READ 2147483648",
	"READ 4294967297",
	"READ 99999999999999999999",
	"READ ",
	"READ 1x",
	"READ x",
	"READ 0x1",
	"READ 1 ",
	"READ  1",
	"READ 1.0",
	"READ \t1",
	"READ 1 2",
};

START_TEST(read_invalid)
{
	login();
	step("READ 2");
	ck_assert_int_eq(ss.state, SESSION_ITEM);
	step(read_invalid_lines[_i]);
	ASSERT_FAIL("Invalid message number");
	ck_assert_uint_eq(fk.commit_calls, 0);
}
END_TEST

START_TEST(read_huge_size)
{
	login();
	step("FOLD big");
	ASSERT_REPLY("#1 messages in big\r\n", SESSION_MBOX);
	step("READ");
	ASSERT_REPLY("=5000000000 characters in message 1\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(read_empty_folder)
{
	login();
	step("FOLD empty");
	ASSERT_REPLY("#0 messages in empty\r\n", SESSION_MBOX);
	step("READ");
	ASSERT_REPLY("=0 No message 1\r\n", SESSION_MBOX);
	step("READ 1");
	ASSERT_REPLY("=0 No message 1\r\n", SESSION_MBOX);
}
END_TEST

START_TEST(fold_commits_then_selects)
{
	login();
	take(2, "ACKD");
	ck_assert_uint_eq(fk.mark_calls, 1);
	reset_counters();
	step("FOLD mail/sent");
	ASSERT_REPLY("#2 messages in mail/sent\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.committed_deletions, 1);
	ck_assert_uint_eq(fk.select_calls, 1);
	ck_assert_uint_lt(fk.commit_seq, fk.select_seq);
	ck_assert_str_eq(fk.last_select, "mail/sent");
	/* The new folder's sizes, from message 1. */
	step("READ");
	ASSERT_REPLY("=10 characters in message 1\r\n", SESSION_ITEM);
	step("READ 2");
	ASSERT_REPLY("=20 characters in message 2\r\n", SESSION_ITEM);
	step("READ 3");
	ASSERT_REPLY("=0 No message 3\r\n", SESSION_MBOX);
}
END_TEST

START_TEST(fold_current_back_to_1)
{
	login();
	step("READ 3");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
	step("FOLD INBOX");
	ASSERT_REPLY("#3 messages in INBOX\r\n", SESSION_MBOX);
	step("READ");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(fold_missing_folder)
{
	login();
	step("FOLD nosuch");
	ASSERT_REPLY("#0 messages in nosuch\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.select_calls, 1);
	ck_assert_str_eq(fk.last_select, "nosuch");
	step("READ");
	ASSERT_REPLY("=0 No message 1\r\n", SESSION_MBOX);
	/* The session goes on: another folder can still be selected. */
	step("FOLD mail/sent");
	ASSERT_REPLY("#2 messages in mail/sent\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.commit_calls, 2);
}
END_TEST

START_TEST(fold_no_name)
{
	login();
	step(_i == 0 ? "FOLD" : "FOLD ");
	ASSERT_FAIL("Missing folder name");
	ck_assert_uint_eq(fk.commit_calls, 0);
	ck_assert_uint_eq(fk.select_calls, 0);
}
END_TEST

START_TEST(fold_commit_fails)
{
	login();
	take(1, "ACKD");
	reset_counters();
	fk.commit_fails = true;
	step("FOLD mail/sent");
	ASSERT_FAIL("Maildrop changed by another program; nothing deleted");
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.select_calls, 0);
}
END_TEST

START_TEST(fold_control_chars_masked)
{
	login();
	step("FOLD a\tb\x1b[0m\x7f\rc");
	/* A CR in the name must not split the reply line. */
	ASSERT_REPLY("#0 messages in a?b?[0m??c\r\n", SESSION_MBOX);
}
END_TEST

START_TEST(fold_inbox_case_as_typed)
{
	login();
	step("FOLD inbox");
	ASSERT_REPLY("#3 messages in inbox\r\n", SESSION_MBOX);
	step("FOLD InBoX");
	ASSERT_REPLY("#3 messages in InBoX\r\n", SESSION_MBOX);
	ck_assert_str_eq(fk.last_select, "InBoX");
}
END_TEST

START_TEST(fold_name_with_space)
{
	login();
	step("FOLD my folder");
	ASSERT_REPLY("#1 messages in my folder\r\n", SESSION_MBOX);
	ck_assert_str_eq(fk.last_select, "my folder");
}
END_TEST

/* The longest name a 1024-octet line can carry comes back whole. */
START_TEST(fold_long_name)
{
	char cmd[1100], want[1100];
	size_t n = 1024 - 2 - strlen("FOLD ");

	memcpy(cmd, "FOLD ", 5);
	memset(cmd + 5, 'f', n);
	cmd[5 + n] = '\0';
	login();
	step(cmd);
	memcpy(want, "#0 messages in ", 15);
	memset(want + 15, 'f', n);
	memcpy(want + 15 + n, "\r\n", 3);
	ASSERT_REPLY(want, SESSION_MBOX);
	ck_assert_uint_eq(strlen(fk.last_select), n);
}
END_TEST

START_TEST(quit_in_mbox)
{
	login();
	step("QUIT");
	ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
	ck_assert(out.close);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.committed_deletions, 0);
}
END_TEST

/*
 * "item": RETR, and READ or FOLD or QUIT while a message is current.
 */

START_TEST(retr_sends_current)
{
	login();
	step("READ 2");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	step("RETR");
	ck_assert_str_eq(out.reply, "");
	ck_assert_uint_eq(out.len, 0);
	ck_assert_uint_eq(out.send, 2);
	ck_assert(!out.close);
	ck_assert_int_eq(ss.state, SESSION_NEXT);
	ck_assert_uint_eq(fk.mark_calls + fk.commit_calls, 0);
}
END_TEST

START_TEST(read_in_item_retargets)
{
	login();
	step("READ 1");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
	step("READ 3");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
	step("RETR");
	ck_assert_uint_eq(out.send, 3);
	ck_assert_int_eq(ss.state, SESSION_NEXT);
}
END_TEST

START_TEST(read_in_item_past_end)
{
	login();
	step("READ 2");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	step("READ 9");
	ASSERT_REPLY("=0 No message 9\r\n", SESSION_MBOX);
	step("RETR");
	ASSERT_FAIL(BOGUS);
}
END_TEST

START_TEST(fold_in_item)
{
	login();
	step("READ 2");
	step("FOLD mail/sent");
	ASSERT_REPLY("#2 messages in mail/sent\r\n", SESSION_MBOX);
	step("RETR");
	ASSERT_FAIL(BOGUS);
}
END_TEST

START_TEST(quit_in_item)
{
	login();
	take(1, "ACKD");
	ck_assert_int_eq(ss.state, SESSION_ITEM);
	reset_counters();
	step("QUIT");
	ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
	ck_assert(out.close);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.committed_deletions, 1);
}
END_TEST

START_TEST(quit_commit_fails)
{
	login();
	take(1, "ACKD");
	reset_counters();
	fk.commit_fails = true;
	fk.commit_error = SESSION_ERR_COMMIT_NO_SPACE;
	step("QUIT");
	ASSERT_FAIL("No space for the commit journal; nothing deleted");
	ck_assert_uint_eq(fk.commit_calls, 1);
}
END_TEST

/* Every kind of failed commit has its own reply, and ends the session. */
START_TEST(commit_failures_have_replies)
{
	char seen[SESSION_ERR_COUNT][sizeof(out.reply)];
	int k, j;

	for (k = SESSION_ERR_COMMIT_BUSY; k <= SESSION_ERR_COMMIT_INTERRUPTED;
	     k++) {
		setup();
		login();
		take(1, "ACKD");
		fk.commit_fails = true;
		fk.commit_error = (enum session_error)k;
		step(k % 2 == 0 ? "QUIT" : "FOLD saved");
		ck_assert_int_eq(strncmp(out.reply, "- ", 2), 0);
		ck_assert_str_ne(out.reply, "- Server error\r\n");
		ck_assert(out.close);
		ck_assert_str_eq(out.reason, "commit failed");
		ck_assert_int_eq(ss.state, SESSION_CLOSED);
		memcpy(seen[k], out.reply, sizeof(out.reply));
		for (j = SESSION_ERR_COMMIT_BUSY; j < k; j++)
			ck_assert_str_ne(seen[j], seen[k]);
	}
}
END_TEST

/*
 * "next": ACKS, ACKD and NACK after RETR.
 */

START_TEST(acks_moves_on)
{
	login();
	take(1, "ACKS");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.mark_calls, 0);
	step("RETR");
	ck_assert_uint_eq(out.send, 2);
	ck_assert_str_eq(out.reply, "");
}
END_TEST

START_TEST(acks_walks_folder)
{
	uint32_t n;

	login();
	step("READ");
	for (n = 1; n <= 3; n++) {
		ck_assert_int_eq(ss.state, SESSION_ITEM);
		step("RETR");
		ck_assert_uint_eq(out.send, n);
		ck_assert_uint_eq(out.len, 0);
		step("ACKS");
		/* SEND from the previous step must not leak into this one. */
		ck_assert_uint_eq(out.send, 0);
	}
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.mark_calls, 0);
}
END_TEST

START_TEST(acks_last)
{
	login();
	take(3, "ACKS");
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	step("RETR");
	ASSERT_FAIL(BOGUS);
}
END_TEST

START_TEST(ackd_marks_and_moves_on)
{
	login();
	take(1, "ACKD");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.mark_calls, 1);
	ck_assert_uint_eq(fk.last_marked, 1);
	ck_assert_uint_eq(fk.bad_marks, 0);
	/* A deleted message keeps its number and has no octets. */
	step("READ 1");
	ASSERT_REPLY("=0 No message 1\r\n", SESSION_MBOX);
	step("READ 2");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.commit_calls, 0);
}
END_TEST

START_TEST(ackd_middle)
{
	login();
	take(2, "ACKD");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.last_marked, 2);
	/* ACKS onto the deleted message answers =0 and leaves ITEM. */
	take(1, "ACKS");
	ASSERT_REPLY("=0 No message 2\r\n", SESSION_MBOX);
	step("READ 3");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.mark_calls, 1);
}
END_TEST

START_TEST(ackd_last)
{
	login();
	take(3, "ACKD");
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.mark_calls, 1);
	ck_assert_uint_eq(fk.last_marked, 3);
	step("READ 3");
	ASSERT_REPLY("=0 No message 3\r\n", SESSION_MBOX);
}
END_TEST

START_TEST(ackd_all_then_quit)
{
	uint32_t n;

	login();
	step("READ");
	for (n = 1; n <= 3; n++) {
		step("RETR");
		ck_assert_uint_eq(out.send, n);
		step("ACKD");
		ck_assert_uint_eq(fk.last_marked, n);
	}
	ASSERT_REPLY("=0 No message 4\r\n", SESSION_MBOX);
	ck_assert_uint_eq(fk.mark_calls, 3);
	ck_assert_uint_eq(fk.bad_marks, 0);
	ck_assert_uint_eq(fk.commit_calls, 0);
	step("QUIT");
	ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
	ck_assert_uint_eq(fk.commit_calls, 1);
	ck_assert_uint_eq(fk.committed_deletions, 3);
}
END_TEST

START_TEST(nack_keeps_message)
{
	login();
	take(2, "NACK");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	ck_assert_uint_eq(fk.mark_calls, 0);
	step("RETR");
	ck_assert_uint_eq(out.send, 2);
	ck_assert_int_eq(ss.state, SESSION_NEXT);
	step("NACK");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
}
END_TEST

START_TEST(nack_last)
{
	login();
	take(3, "NACK");
	ASSERT_REPLY("=3000 characters in message 3\r\n", SESSION_ITEM);
}
END_TEST

/*
 * "errors": arguments where none is allowed, closed sessions, keywords.
 */

static const struct {
	enum session_state state;
	const char *line;
} noarg_cases[] = {
	{ SESSION_ITEM, "RETR 1" },
	{ SESSION_ITEM, "RETR " },
	{ SESSION_NEXT, "ACKS 1" },
	{ SESSION_NEXT, "ACKS " },
	{ SESSION_NEXT, "ACKD 1" },
	{ SESSION_NEXT, "ACKD " },
	{ SESSION_NEXT, "NACK x" },
	{ SESSION_AUTH, "QUIT x" },
	{ SESSION_MBOX, "QUIT x" },
	{ SESSION_ITEM, "QUIT now" },
	{ SESSION_MBOX, "QUIT " },
};

START_TEST(no_argument_expected)
{
	drive(noarg_cases[_i].state);
	step(noarg_cases[_i].line);
	ASSERT_FAIL("No argument expected");
	ck_assert_uint_eq(fk.commit_calls, 0);
	ck_assert_uint_eq(fk.mark_calls, 0);
	ck_assert_uint_eq(fk.select_calls, 0);
}
END_TEST

/* Out of sequence is judged before the argument is. */
START_TEST(bogus_before_argument)
{
	login();
	step("ACKD 1");
	ASSERT_FAIL(BOGUS);
	ck_assert_uint_eq(fk.mark_calls, 0);
	setup();
	drive(SESSION_NEXT);
	step("QUIT x");
	ASSERT_FAIL(BOGUS);
	ck_assert_uint_eq(fk.commit_calls, 0);
}
END_TEST

/* A session ended by an error commits nothing. */
START_TEST(error_does_not_commit)
{
	login();
	take(1, "ACKD");
	step("READ 0");
	ASSERT_FAIL("Invalid message number");
	ck_assert_uint_eq(fk.commit_calls, 0);
	ck_assert_uint_eq(fk.mark_calls, 1);
}
END_TEST

START_TEST(closed_stays_closed)
{
	static const char *const after[] = { "QUIT", "HELO alice secret",
		"READ 1", "FOLD INBOX", "", "RETR" };
	size_t i;

	switch (_i) {
	case 0:
		login();
		step("QUIT");
		ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
		break;
	case 1:
		login();
		step("NOOP");
		ASSERT_FAIL(BOGUS);
		break;
	default:
		login();
		session_fail(&ss, SESSION_ERR_IDLE, &out);
		break;
	}
	ck_assert(out.close);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
	reset_counters();
	for (i = 0; i < sizeof(after) / sizeof(after[0]); i++) {
		step(after[i]);
		ck_assert_str_eq(out.reply, "");
		ck_assert_uint_eq(out.len, 0);
		ck_assert_uint_eq(out.send, 0);
		ck_assert(out.close);
		ck_assert(!out.login_failed);
		ck_assert_int_eq(ss.state, SESSION_CLOSED);
	}
	ck_assert_uint_eq(fk.login_calls + fk.commit_calls + fk.select_calls +
		fk.size_calls + fk.mark_calls,
	    0);
}
END_TEST

START_TEST(fail_reply)
{
	memset(&out, 0x5a, sizeof(out));
	session_fail(&ss, SESSION_ERR_IDLE, &out);
	ck_assert_str_eq(out.reply, "- Autologout; idle for too long\r\n");
	ck_assert_uint_eq(out.len, strlen(out.reply));
	ck_assert_uint_eq(out.send, 0);
	ck_assert(out.close);
	ck_assert(!out.login_failed);
	ck_assert_ptr_nonnull(out.reason);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
}
END_TEST

START_TEST(fail_in_folder_does_not_commit)
{
	login();
	take(1, "ACKD");
	reset_counters();
	session_fail(&ss, SESSION_ERR_LINE_TOO_LONG, &out);
	ck_assert_str_eq(out.reply, "- Command line too long\r\n");
	ck_assert(out.close);
	ck_assert_int_eq(ss.state, SESSION_CLOSED);
	ck_assert_uint_eq(fk.commit_calls, 0);
}
END_TEST

START_TEST(keywords_any_case)
{
	login();
	step("Read 1");
	ASSERT_REPLY("=120 characters in message 1\r\n", SESSION_ITEM);
	step("rEtR");
	ck_assert_uint_eq(out.send, 1);
	step("ackS");
	ASSERT_REPLY("=45 characters in message 2\r\n", SESSION_ITEM);
	step("fold mail/sent");
	ASSERT_REPLY("#2 messages in mail/sent\r\n", SESSION_MBOX);
	step("quit");
	ck_assert_str_eq(out.reply, "+ OK Sayonara\r\n");
	ck_assert(out.close);
	ck_assert_uint_eq(fk.commit_calls, 2);
}
END_TEST

static const char *const bogus_lines[] = {
	"READX",
	"READX 1",
	"REA",
	"REA 1",
	"",
	" READ",
	"READ\t1",
	"READ\r",
	"XTND",
	"USER alice",
};

START_TEST(bogus_keyword)
{
	login();
	step(bogus_lines[_i]);
	ASSERT_FAIL(BOGUS);
	ck_assert_uint_eq(fk.commit_calls + fk.size_calls, 0);
}
END_TEST

/* "separated by one space": the second space belongs to the argument. */
START_TEST(read_two_spaces)
{
	login();
	step("READ  1");
	ASSERT_FAIL("Invalid message number");
}
END_TEST

/* HELO out of sequence still must not leave the password in the buffer. */
START_TEST(helo_out_of_sequence_wiped)
{
	login();
	step("HELO alice secret");
	ASSERT_FAIL(BOGUS);
	ck_assert(!line_contains("secret"));
	ck_assert_uint_eq(fk.login_calls, 1);
}
END_TEST

static Suite *
session_suite(void)
{
	Suite *s = suite_create("session");
	TCase *tc;

	tc = tcase_create("auth");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, greeting);
	tcase_add_test(tc, helo_good);
	tcase_add_test(tc, helo_password_with_spaces);
	tcase_add_test(tc, helo_several_spaces);
	tcase_add_test(tc, helo_trailing_space_in_password);
	tcase_add_loop_test(tc, helo_missing, 0,
	    (int)(sizeof(helo_missing_lines) / sizeof(helo_missing_lines[0])));
	tcase_add_test(tc, helo_any_case);
	tcase_add_test(tc, helo_bad_password);
	tcase_add_test(tc, helo_unknown_user);
	tcase_add_test(tc, helo_inbox_unavailable);
	tcase_add_test(tc, fail_by_kind);
	tcase_add_test(tc, quit_in_auth);
	suite_add_tcase(s, tc);

	tc = tcase_create("mbox");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, read_current);
	tcase_add_test(tc, read_number);
	tcase_add_test(tc, read_leading_zeros);
	tcase_add_test(tc, read_largest_number);
	tcase_add_test(tc, read_past_end);
	tcase_add_loop_test(tc, read_invalid, 0,
	    (int)(sizeof(read_invalid_lines) / sizeof(read_invalid_lines[0])));
	tcase_add_test(tc, read_huge_size);
	tcase_add_test(tc, read_empty_folder);
	tcase_add_test(tc, fold_commits_then_selects);
	tcase_add_test(tc, fold_current_back_to_1);
	tcase_add_test(tc, fold_missing_folder);
	tcase_add_loop_test(tc, fold_no_name, 0, 2);
	tcase_add_test(tc, fold_commit_fails);
	tcase_add_test(tc, fold_control_chars_masked);
	tcase_add_test(tc, fold_inbox_case_as_typed);
	tcase_add_test(tc, fold_name_with_space);
	tcase_add_test(tc, fold_long_name);
	tcase_add_test(tc, quit_in_mbox);
	suite_add_tcase(s, tc);

	tc = tcase_create("item");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, retr_sends_current);
	tcase_add_test(tc, read_in_item_retargets);
	tcase_add_test(tc, read_in_item_past_end);
	tcase_add_test(tc, fold_in_item);
	tcase_add_test(tc, quit_in_item);
	tcase_add_test(tc, quit_commit_fails);
	tcase_add_test(tc, commit_failures_have_replies);
	suite_add_tcase(s, tc);

	tc = tcase_create("next");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, acks_moves_on);
	tcase_add_test(tc, acks_walks_folder);
	tcase_add_test(tc, acks_last);
	tcase_add_test(tc, ackd_marks_and_moves_on);
	tcase_add_test(tc, ackd_middle);
	tcase_add_test(tc, ackd_last);
	tcase_add_test(tc, ackd_all_then_quit);
	tcase_add_test(tc, nack_keeps_message);
	tcase_add_test(tc, nack_last);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, no_argument_expected, 0,
	    (int)(sizeof(noarg_cases) / sizeof(noarg_cases[0])));
	tcase_add_test(tc, bogus_before_argument);
	tcase_add_test(tc, error_does_not_commit);
	tcase_add_loop_test(tc, closed_stays_closed, 0, 3);
	tcase_add_test(tc, fail_reply);
	tcase_add_test(tc, fail_in_folder_does_not_commit);
	tcase_add_test(tc, keywords_any_case);
	tcase_add_loop_test(tc, bogus_keyword, 0,
	    (int)(sizeof(bogus_lines) / sizeof(bogus_lines[0])));
	tcase_add_test(tc, read_two_spaces);
	tcase_add_test(tc, helo_out_of_sequence_wiped);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, table_row, 0, NTABLE);
	tcase_add_test(tc, table_complete);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(session_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
