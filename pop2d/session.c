#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "session.h"
#include "util.h"

#define STATE_BIT(st) (1u << (st))
#define IN_FOLDER (STATE_BIT(SESSION_MBOX) | STATE_BIT(SESSION_ITEM))

typedef void session_handler(
    struct session *, const struct cmd *, struct session_out *);

static session_handler do_helo, do_fold, do_read, do_retr, do_acks, do_ackd,
    do_nack, do_quit;

/*
 * Which command may run in which state, kept apart from what it does: a
 * command not allowed now never reaches its handler.
 */
static const struct {
	enum cmd_kind kind;
	unsigned states;
	int takes_arg;
	session_handler *handle;
} session_table[] = {
	{ CMD_HELO, STATE_BIT(SESSION_AUTH), 1, do_helo },
	{ CMD_FOLD, IN_FOLDER, 1, do_fold },
	{ CMD_READ, IN_FOLDER, 1, do_read },
	{ CMD_RETR, STATE_BIT(SESSION_ITEM), 0, do_retr },
	{ CMD_ACKS, STATE_BIT(SESSION_NEXT), 0, do_acks },
	{ CMD_ACKD, STATE_BIT(SESSION_NEXT), 0, do_ackd },
	{ CMD_NACK, STATE_BIT(SESSION_NEXT), 0, do_nack },
	{ CMD_QUIT, STATE_BIT(SESSION_AUTH) | IN_FOLDER, 0, do_quit },
};

static void reply(struct session_out *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reply(struct session_out *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out->reply, sizeof(out->reply) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(out->reply) - 3)
		n = (int)(sizeof(out->reply) - 3);
	memcpy(out->reply + n, "\r\n", 3);
	out->len = (size_t)n + 2;
}

/*
 * The text of every negative reply, and the reason logged when it ends the
 * session (NULL: the text itself).
 */
static const struct {
	const char *text;
	const char *reason;
} session_errors[SESSION_ERR_COUNT] = {
	[SESSION_ERR_MISSING_LOGIN] = { "Missing user or password",
	    "missing user or password" },
	[SESSION_ERR_BAD_LOGIN] = { "Bad login", "bad login" },
	[SESSION_ERR_MISSING_FOLDER] = { "Missing folder name",
	    "missing folder name" },
	[SESSION_ERR_BAD_MSGNO] = { "Invalid message number",
	    "invalid message number" },
	[SESSION_ERR_UNEXPECTED_ARG] = { "No argument expected",
	    "protocol error" },
	[SESSION_ERR_OUT_OF_SEQUENCE] = { "Bogus or out of sequence command",
	    "protocol error" },
	/* The login's and the server's. */
	[SESSION_ERR_UNAVAILABLE] = { "POP2 server unavailable", NULL },
	[SESSION_ERR_STATE_UNUSABLE] = { "State directory unusable", NULL },
	[SESSION_ERR_IN_USE] = { "Maildrop already in use", NULL },
	[SESSION_ERR_MAILDROP_BUSY] = { "Maildrop busy", NULL },
	[SESSION_ERR_MAILDROP_UNUSABLE] = { "Cannot open maildrop", NULL },
	[SESSION_ERR_LINE_TOO_LONG] = { "Command line too long", NULL },
	[SESSION_ERR_NUL_OCTET] = { "NUL octet in command", NULL },
	[SESSION_ERR_IDLE] = { "Autologout; idle for too long", NULL },
	[SESSION_ERR_MAILDROP_CHANGED] = { "Maildrop changed by another program",
	    NULL },
	/* A commit's: what was deleted, and whether it is finished later. */
	[SESSION_ERR_COMMIT_BUSY] = { "Maildrop busy; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_LOCK_FAILED] = { "Cannot lock maildrop; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_TOO_LARGE] = { "Too many scattered deletions for one commit; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_CHANGED] = { "Maildrop changed by another program; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_NO_SPACE] = { "No space for the commit journal; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_READ_ONLY] = { "Maildrop is read-only; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_FAILED] = { "Commit failed; nothing deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_PARTLY] = { "Commit failed; some messages may not be deleted",
	    "commit failed" },
	[SESSION_ERR_COMMIT_INTERRUPTED] = { "Commit interrupted; it completes at the next login",
	    "commit failed" },
};

/* Every negative reply ends the session (RFC 937: close on any error). */
static void
fail_text(struct session *s, struct session_out *out, const char *text,
    const char *reason)
{
	reply(out, "- %s", text);
	out->close = true;
	out->reason = reason;
	if (s != NULL)
		s->state = SESSION_CLOSED;
}

static void
fail(struct session *s, struct session_out *out, enum session_error err)
{
	const char *text = "Server error", *reason = "server error";

	if (err > SESSION_OK && err < SESSION_ERR_COUNT &&
	    session_errors[err].text != NULL) {
		text = session_errors[err].text;
		reason = session_errors[err].reason != NULL
		    ? session_errors[err].reason
		    : text;
	}
	fail_text(s, out, text, reason);
}

void
session_init(struct session *s, const struct session_backend *be)
{
	memset(s, 0, sizeof(*s));
	s->state = SESSION_AUTH;
	s->be = be;
}

static void
out_clear(struct session_out *out)
{
	out->reply[0] = '\0';
	out->len = 0;
	out->send = 0;
	out->login_failed = false;
	out->close = false;
	out->reason = NULL;
}

void
session_greet(struct session *s, const char *host, const char *version,
    struct session_out *out)
{
	(void)s;
	out_clear(out);
	reply(out, "+ POP2 %s pop2d %s server ready", host, version);
}

void
session_fail(struct session *s, enum session_error err, struct session_out *out)
{
	out_clear(out);
	fail(s, out, err);
}

/* Enters a folder of COUNT messages named NAME (already sanitized). */
static void
enter_folder(struct session *s, size_t count, struct session_out *out)
{
	s->count = count > UTIL_MSGNO_MAX ? UTIL_MSGNO_MAX : (uint32_t)count;
	s->current = 1;
	s->state = SESSION_MBOX;
	reply(out, "#%lu messages in %s", (unsigned long)s->count, s->folder);
}

/* The answer to READ, ACKS, ACKD and NACK: the size of the current message. */
static void
announce_current(struct session *s, struct session_out *out)
{
	uint64_t size = 0;

	if (s->current >= 1 && s->current <= s->count)
		size = s->be->size(s->be->arg, s->current);
	if (size > 0) {
		s->state = SESSION_ITEM;
		reply(out, "=%llu characters in message %lu",
		    (unsigned long long)size, (unsigned long)s->current);
	} else {
		s->state = SESSION_MBOX;
		reply(out, "=0 No message %lu", (unsigned long)s->current);
	}
}

static void
do_helo(struct session *s, const struct cmd *c, struct session_out *out)
{
	char *user = c->arg, *end = user + c->arglen, *password;
	enum session_error r;
	size_t count = 0;

	while (user < end && *user == ' ')
		user++;
	password = user;
	while (password < end && *password != ' ')
		password++;
	if (password < end)
		*password++ = '\0';
	while (password < end && *password == ' ')
		password++;
	if (*user == '\0' || password >= end) {
		util_wipe(c->arg, c->arglen);
		fail(s, out, SESSION_ERR_MISSING_LOGIN);
		return;
	}
	r = s->be->login(s->be->arg, user, password, &count);
	util_wipe(password, (size_t)(end - password));
	if (r == SESSION_OK) {
		util_strlcpy(s->folder, "INBOX", sizeof(s->folder));
		enter_folder(s, count, out);
		return;
	}
	/* Every refusal alike, at the deadline; the rest say which. */
	out->login_failed = r == SESSION_ERR_BAD_LOGIN;
	fail(s, out, r);
}

/* Copies a client's folder name for the reply, with control octets masked. */
static void
copy_folder_name(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	dst[len] = '\0';
}

static void
do_fold(struct session *s, const struct cmd *c, struct session_out *out)
{
	enum session_error err;
	size_t count = 0;

	if (c->arglen == 0) {
		fail(s, out, SESSION_ERR_MISSING_FOLDER);
		return;
	}
	if ((err = s->be->commit(s->be->arg)) != SESSION_OK) {
		fail(s, out, err);
		return;
	}
	if (s->be->select(s->be->arg, c->arg, &count) == -1)
		count = 0;
	copy_folder_name(s->folder, sizeof(s->folder), c->arg, c->arglen);
	enter_folder(s, count, out);
}

static void
do_read(struct session *s, const struct cmd *c, struct session_out *out)
{
	uint32_t n;

	if (c->has_arg) {
		if (util_parse_msgno(c->arg, c->arglen, &n) == -1) {
			fail(s, out, SESSION_ERR_BAD_MSGNO);
			return;
		}
		s->current = n;
	}
	announce_current(s, out);
}

static void
do_retr(struct session *s, const struct cmd *c, struct session_out *out)
{
	(void)c;
	out->send = s->current;
	s->state = SESSION_NEXT;
}

static void
do_acks(struct session *s, const struct cmd *c, struct session_out *out)
{
	(void)c;
	s->current++;
	announce_current(s, out);
}

static void
do_ackd(struct session *s, const struct cmd *c, struct session_out *out)
{
	(void)c;
	s->be->mark_deleted(s->be->arg, s->current);
	s->current++;
	announce_current(s, out);
}

static void
do_nack(struct session *s, const struct cmd *c, struct session_out *out)
{
	(void)c;
	announce_current(s, out);
}

static void
do_quit(struct session *s, const struct cmd *c, struct session_out *out)
{
	enum session_error err;

	(void)c;
	if (s->state != SESSION_AUTH &&
	    (err = s->be->commit(s->be->arg)) != SESSION_OK) {
		fail(s, out, err);
		return;
	}
	reply(out, "+ OK Sayonara");
	out->close = true;
	out->reason = "QUIT";
	s->state = SESSION_CLOSED;
}

void
session_step(struct session *s, char *line, size_t len, struct session_out *out)
{
	struct cmd c;
	size_t i;

	out_clear(out);
	if (s->state == SESSION_CLOSED) {
		out->close = true;
		out->reason = "closed";
		return;
	}
	cmd_parse(line, len, &c);
	for (i = 0; i < sizeof(session_table) / sizeof(session_table[0]); i++) {
		if (session_table[i].kind != c.kind)
			continue;
		if (!(session_table[i].states & STATE_BIT(s->state)))
			break;
		if (c.has_arg && !session_table[i].takes_arg) {
			fail(s, out, SESSION_ERR_UNEXPECTED_ARG);
			return;
		}
		session_table[i].handle(s, &c, out);
		return;
	}
	if (c.kind == CMD_HELO)
		util_wipe(line, len);
	fail(s, out, SESSION_ERR_OUT_OF_SEQUENCE);
}
