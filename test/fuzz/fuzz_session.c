/*
 * fuzz_session: arbitrary client octets through the real line reader and
 * the real RFC 937 state machine, against a backend held in memory.
 *
 * The input is what a client sends. It reaches line_read() through an io
 * read backend that hands it over in pieces of a size chosen by the input's
 * length (so that lines are cut at every place), and every line goes to
 * session_step() as pop2d's main loop does it; a line the reader rejects
 * (too long, NUL) ends the session through session_fail(). Checked:
 * - the line reader returns exactly the lines, statuses and order that a
 *   plain reading of line.h's contract gives for the input;
 * - every reply ends with CRLF and holds no other CR or LF, and starts
 *   with '+', '-', '#' or '=';
 * - a reply starting '-' sets close and ends the session; after the
 *   session ends no line gets a reply, a message or a backend call;
 * - each line moves the state along one edge of SPEC §2's table, never
 *   skipping a state, and a closed session stays closed;
 * - the state, the current message, the reply's kind and number and the
 *   message to send are those of a reference model of SPEC §2's table
 *   (so NEXT only follows RETR, ITEM only a positive =N, and send is
 *   nonzero only for RETR, naming a message that exists);
 * - the backend is asked only about messages 1..count, marks only the
 *   message just sent, and gets the user and password the table says;
 * - after a HELO line the password is no longer in the line.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz.h"
#include "io.h"
#include "line.h"
#include "session.h"
#include "util.h"

#define HOST "pop2.test"
#define FUZZ_VERSION "0.0-fuzz"
#define MAX_DELETED 8192

/* Folders the backend knows; any other name selects nothing (#0). */
struct folder {
	const char *name;
	uint64_t count;
	bool commit_fails; /* a commit with deletions fails here */
};

static const struct folder folders[] = {
	{ "INBOX", 5, false },
	{ "saved", 3, false },
	{ "empty", 0, false },
	{ "ro", 4, true },
	{ "huge", 3000000000ULL, false }, /* more than a client can name */
	{ "mail/sent", 2, false },
};

/* Accounts: a NULL folder means the login is good but INBOX fails. */
static const struct {
	const char *user;
	const char *password;
	int result;
	enum session_error why;
} users[] = {
	{ "alice", "wonderland", 1, SESSION_OK },
	{ "bob", "pass with  two spaces", 1, SESSION_OK },
	{ "carol", "x", -1, SESSION_ERR_IN_USE },
	{ "dave", "y", -1, SESSION_ERR_MAILDROP_UNUSABLE },
};

/* The backend's state, and what the model expects it to be asked. */
struct world {
	const struct folder *folder; /* selected; NULL: none or missing */
	uint32_t deleted[MAX_DELETED];
	size_t ndeleted;
	bool closed;	   /* the session ended: no more calls */
	bool expect_login; /* the next call may be login() */
	char want_user[LINE_MAX_OCTETS];
	char want_password[LINE_MAX_OCTETS];
	bool expect_commit;
	bool expect_select;
	const char *want_name;
	size_t want_namelen;
	uint32_t expect_mark; /* 0: none */
	uint32_t count;	      /* the session's count, for size() */
};

/* The octet count of message N of F when not deleted. */
static uint64_t
folder_size(const struct folder *f, uint32_t n)
{
	if (f == NULL || n == 0 || n > f->count)
		return 0;
	/* Some sizes above 2^32, one message that "vanished" (0). */
	if (f == &folders[0] && n == 3)
		return 0;
	if (f == &folders[4] && n % 1000 == 7)
		return 5000000000ULL + n;
	return 2 + (uint64_t)n * 37;
}

static bool
is_deleted(const struct world *w, uint32_t n)
{
	size_t i;

	for (i = 0; i < w->ndeleted; i++)
		if (w->deleted[i] == n)
			return true;
	return false;
}

static uint64_t
world_size(const struct world *w, uint32_t n)
{
	return is_deleted(w, n) ? 0 : folder_size(w->folder, n);
}

static const struct folder *
find_folder(const char *name)
{
	size_t i;

	if (strcasecmp(name, "INBOX") == 0)
		return &folders[0];
	for (i = 1; i < sizeof(folders) / sizeof(folders[0]); i++)
		if (strcmp(name, folders[i].name) == 0)
			return &folders[i];
	return NULL;
}

static enum session_error
be_login(void *arg, const char *user, char *password, size_t *count)
{
	struct world *w = arg;
	size_t i;

	FUZZ_CHECK(!w->closed && w->expect_login);
	w->expect_login = false;
	FUZZ_CHECK(strcmp(user, w->want_user) == 0);
	FUZZ_CHECK(strcmp(password, w->want_password) == 0);
	FUZZ_CHECK(user[0] != '\0' && strchr(user, ' ') == NULL);
	FUZZ_CHECK(password[0] != '\0' && password[0] != ' ');
	for (i = 0; i < sizeof(users) / sizeof(users[0]); i++) {
		if (strcmp(user, users[i].user) != 0 ||
		    strcmp(password, users[i].password) != 0)
			continue;
		if (users[i].result == 1) {
			w->folder = &folders[0];
			w->ndeleted = 0;
			*count = (size_t)w->folder->count;
		}
		return users[i].why;
	}
	return SESSION_ERR_BAD_LOGIN;
}

static enum session_error
be_commit(void *arg)
{
	struct world *w = arg;

	FUZZ_CHECK(!w->closed && w->expect_commit);
	w->expect_commit = false;
	if (w->ndeleted > 0 && w->folder != NULL && w->folder->commit_fails)
		return SESSION_ERR_COMMIT_FAILED;
	w->ndeleted = 0;
	return SESSION_OK;
}

static int
be_select(void *arg, const char *name, size_t *count)
{
	struct world *w = arg;

	FUZZ_CHECK(!w->closed && w->expect_select);
	w->expect_select = false;
	FUZZ_CHECK(strlen(name) == w->want_namelen);
	FUZZ_CHECK(memcmp(name, w->want_name, w->want_namelen) == 0);
	w->ndeleted = 0;
	if ((w->folder = find_folder(name)) == NULL)
		return -1;
	*count = (size_t)w->folder->count;
	return 0;
}

static uint64_t
be_size(void *arg, uint32_t n)
{
	struct world *w = arg;

	FUZZ_CHECK(!w->closed);
	FUZZ_CHECK(n >= 1 && n <= w->count);
	return world_size(w, n);
}

static void
be_mark_deleted(void *arg, uint32_t n)
{
	struct world *w = arg;

	FUZZ_CHECK(!w->closed && w->expect_mark == n && n != 0);
	w->expect_mark = 0;
	FUZZ_CHECK(world_size(w, n) > 0);
	if (w->ndeleted < MAX_DELETED)
		w->deleted[w->ndeleted++] = n;
}

/* The io read backend: the input in pieces, then EOF or a read error. */
struct feed {
	const uint8_t *data;
	size_t size;
	size_t pos;
	size_t piece;
	bool error_at_end;
};

static ssize_t
feed_read(struct io *io, void *buf, size_t len)
{
	struct feed *f = io->arg;
	size_t n = f->size - f->pos;

	FUZZ_CHECK(len > 0);
	if (n == 0) {
		if (f->error_at_end) {
			errno = EIO;
			return -1;
		}
		return 0;
	}
	if (n > f->piece)
		n = f->piece;
	if (n > len)
		n = len;
	memcpy(buf, f->data + f->pos, n);
	f->pos += n;
	return (ssize_t)n;
}

static ssize_t
feed_write(struct io *io, const void *buf, size_t len)
{
	(void)io;
	(void)buf;
	(void)len;
	FUZZ_CHECK(!"the session never writes");
	return -1;
}

/*
 * What line.h's contract says the next line_read() returns: the status,
 * and for LINE_OK the line's offset and length. Advances *POS.
 */
static enum line_status
ref_line(const struct feed *f, size_t *pos, size_t *off, size_t *len)
{
	const uint8_t *p = f->data + *pos, *lf;
	size_t rest = f->size - *pos, total, l;

	lf = memchr(p, '\n', rest);
	if (lf == NULL) {
		*pos = f->size;
		if (f->error_at_end)
			return LINE_ERROR;
		return rest == 0 ? LINE_EOF : LINE_PARTIAL;
	}
	total = (size_t)(lf - p) + 1;
	*pos += total;
	if (total > LINE_MAX_OCTETS)
		return LINE_TOO_LONG;
	l = total - 1;
	if (memchr(p, '\0', l) != NULL)
		return LINE_NUL;
	if (l > 0 && p[l - 1] == '\r')
		l--;
	*off = (size_t)(p - f->data);
	*len = l;
	return LINE_OK;
}

/* A reply line: CRLF at the end and nowhere else, a known first octet. */
static void
check_reply(const struct session_out *out)
{
	size_t i;

	if (out->len == 0) {
		FUZZ_CHECK(out->reply[0] == '\0');
		return;
	}
	FUZZ_CHECK(out->len >= 3 && out->len < sizeof(out->reply));
	FUZZ_CHECK(strlen(out->reply) == out->len);
	FUZZ_CHECK(out->reply[out->len - 2] == '\r' &&
	    out->reply[out->len - 1] == '\n');
	for (i = 0; i < out->len - 2; i++)
		FUZZ_CHECK(out->reply[i] != '\r' && out->reply[i] != '\n');
	FUZZ_CHECK(strchr("+-#=", out->reply[0]) != NULL);
	if (out->reply[0] == '-')
		FUZZ_CHECK(out->close);
}

/* The reference model of SPEC §2: what one line must do. */
struct model {
	enum session_state state;
	uint32_t count;
	uint32_t current;
	char folder[1024];
};

struct expect {
	char kind;	 /* first octet of the reply; 0: no reply */
	uint64_t number; /* for '#' and '=' */
	uint32_t send;
	bool login_failed;
};

enum kw {
	KW_NONE,
	KW_HELO,
	KW_FOLD,
	KW_READ,
	KW_RETR,
	KW_ACKS,
	KW_ACKD,
	KW_NACK,
	KW_QUIT
};

static enum kw
keyword(const char *line, size_t len, bool *has_arg, size_t *arg)
{
	static const char *const names[] = { "HELO", "FOLD", "READ", "RETR",
		"ACKS", "ACKD", "NACK", "QUIT" };
	const char *sp = memchr(line, ' ', len);
	size_t klen = sp != NULL ? (size_t)(sp - line) : len, i;

	*has_arg = sp != NULL;
	*arg = sp != NULL ? klen + 1 : len;
	if (klen != 4)
		return KW_NONE;
	for (i = 0; i < 8; i++)
		if (strncasecmp(line, names[i], 4) == 0)
			return (enum kw)(i + 1);
	return KW_NONE;
}

static bool
ref_msgno(const char *s, size_t len, uint32_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return false;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v <= UTIL_MSGNO_MAX)
			v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v < 1 || v > UTIL_MSGNO_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static void
fail_to(struct model *m, struct expect *e)
{
	m->state = SESSION_CLOSED;
	e->kind = '-';
}

static void
announce(struct model *m, const struct world *w, struct expect *e)
{
	uint64_t size = 0;

	if (m->current >= 1 && m->current <= m->count)
		size = world_size(w, m->current);
	e->kind = '=';
	e->number = size;
	m->state = size > 0 ? SESSION_ITEM : SESSION_MBOX;
}

/*
 * Applies LINE to the model and tells the world which backend calls to
 * expect. The world is not changed: the backend does that when called.
 */
static void
model_step(struct model *m, struct world *w, const char *line, size_t len,
    struct expect *e)
{
	bool has_arg, in_folder;
	size_t a, u, ue, p;
	enum kw k = keyword(line, len, &has_arg, &a);
	const char *arg = line + a;
	size_t arglen = len - a;
	uint32_t n;
	size_t i;

	memset(e, 0, sizeof(*e));
	in_folder = m->state == SESSION_MBOX || m->state == SESSION_ITEM;
	if (m->state == SESSION_CLOSED)
		return;
	switch (k) {
	case KW_HELO:
		if (m->state != SESSION_AUTH)
			break;
		for (u = 0; u < arglen && arg[u] == ' '; u++)
			continue;
		for (ue = u; ue < arglen && arg[ue] != ' '; ue++)
			continue;
		for (p = ue; p < arglen && arg[p] == ' '; p++)
			continue;
		if (ue == u || p >= arglen) {
			fail_to(m, e);
			return;
		}
		memcpy(w->want_user, arg + u, ue - u);
		w->want_user[ue - u] = '\0';
		memcpy(w->want_password, arg + p, arglen - p);
		w->want_password[arglen - p] = '\0';
		w->expect_login = true;
		for (i = 0; i < sizeof(users) / sizeof(users[0]); i++)
			if (strcmp(w->want_user, users[i].user) == 0 &&
			    strcmp(w->want_password, users[i].password) == 0)
				break;
		if (i == sizeof(users) / sizeof(users[0])) {
			e->login_failed = true;
			fail_to(m, e);
			return;
		}
		if (users[i].result != 1) {
			fail_to(m, e);
			return;
		}
		m->count = (uint32_t)folders[0].count;
		m->current = 1;
		m->state = SESSION_MBOX;
		strcpy(m->folder, "INBOX");
		e->kind = '#';
		e->number = m->count;
		return;
	case KW_FOLD:
		if (!in_folder)
			break;
		if (arglen == 0) {
			fail_to(m, e);
			return;
		}
		w->expect_commit = true;
		if (w->ndeleted > 0 && w->folder != NULL &&
		    w->folder->commit_fails) {
			fail_to(m, e);
			return;
		}
		w->expect_select = true;
		w->want_name = arg;
		w->want_namelen = arglen;
		{
			const struct folder *f = find_folder(arg);
			uint64_t c = f != NULL ? f->count : 0;

			m->count =
			    c > UTIL_MSGNO_MAX ? UTIL_MSGNO_MAX : (uint32_t)c;
		}
		m->current = 1;
		m->state = SESSION_MBOX;
		for (i = 0; i < arglen && i < sizeof(m->folder) - 1; i++)
			m->folder[i] =
			    (unsigned char)arg[i] < 0x20 || arg[i] == 0x7f
			    ? '?'
			    : arg[i];
		m->folder[i] = '\0';
		e->kind = '#';
		e->number = m->count;
		return;
	case KW_READ:
		if (!in_folder)
			break;
		if (has_arg) {
			if (!ref_msgno(arg, arglen, &n)) {
				fail_to(m, e);
				return;
			}
			m->current = n;
		}
		announce(m, w, e);
		return;
	case KW_RETR:
		if (m->state != SESSION_ITEM)
			break;
		if (has_arg) {
			fail_to(m, e);
			return;
		}
		e->send = m->current;
		m->state = SESSION_NEXT;
		return;
	case KW_ACKS:
	case KW_ACKD:
	case KW_NACK:
		if (m->state != SESSION_NEXT)
			break;
		if (has_arg) {
			fail_to(m, e);
			return;
		}
		/* ACKD marks the message just sent, then moves on. */
		if (k == KW_ACKD)
			w->expect_mark = m->current;
		if (k != KW_NACK)
			m->current++;
		announce(m, w, e);
		return;
	case KW_QUIT:
		if (m->state != SESSION_AUTH && !in_folder)
			break;
		if (has_arg) {
			fail_to(m, e);
			return;
		}
		if (m->state != SESSION_AUTH) {
			w->expect_commit = true;
			if (w->ndeleted > 0 && w->folder != NULL &&
			    w->folder->commit_fails) {
				fail_to(m, e);
				return;
			}
		}
		m->state = SESSION_CLOSED;
		e->kind = '+';
		return;
	case KW_NONE:
		break;
	}
	fail_to(m, e);
}

/* Parses the decimal number after the first octet of a reply. */
static uint64_t
reply_number(const char *r)
{
	uint64_t v = 0;
	size_t i;

	FUZZ_CHECK(r[1] >= '0' && r[1] <= '9');
	for (i = 1; r[i] >= '0' && r[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(r[i] - '0');
	FUZZ_CHECK(r[i] == ' ');
	return v;
}

static void
check_step(const struct session *s, const struct model *m,
    const struct expect *e, const struct session_out *out, bool was_closed)
{
	char want[1200];

	check_reply(out);
	if (was_closed) {
		FUZZ_CHECK(out->len == 0 && out->close && out->send == 0);
		FUZZ_CHECK(s->state == SESSION_CLOSED);
		return;
	}
	FUZZ_CHECK(s->state == m->state);
	FUZZ_CHECK(out->send == e->send);
	FUZZ_CHECK(out->login_failed == e->login_failed);
	FUZZ_CHECK(out->close == (m->state == SESSION_CLOSED));
	if (e->send != 0) {
		FUZZ_CHECK(out->len == 0);
		FUZZ_CHECK(s->state == SESSION_NEXT);
		return;
	}
	FUZZ_CHECK(out->len > 0 && out->reply[0] == e->kind);
	if (m->state != SESSION_AUTH && m->state != SESSION_CLOSED) {
		FUZZ_CHECK(s->current == m->current);
		FUZZ_CHECK(s->count == m->count);
	}
	if (e->kind == '#') {
		FUZZ_CHECK(reply_number(out->reply) == e->number);
		snprintf(want, sizeof(want), "#%lu messages in %s\r\n",
		    (unsigned long)e->number, m->folder);
		FUZZ_CHECK(strcmp(out->reply, want) == 0);
	} else if (e->kind == '=') {
		FUZZ_CHECK(reply_number(out->reply) == e->number);
		if (e->number > 0)
			snprintf(want, sizeof(want),
			    "=%llu characters in message %lu\r\n",
			    (unsigned long long)e->number,
			    (unsigned long)m->current);
		else
			snprintf(want, sizeof(want), "=0 No message %lu\r\n",
			    (unsigned long)m->current);
		FUZZ_CHECK(strcmp(out->reply, want) == 0);
	} else if (e->kind == '+')
		FUZZ_CHECK(strncmp(out->reply, "+ OK", 4) == 0);
}

/*
 * Tells whether one line may take the session from state A to state B
 * (SPEC §2's table): no state is skipped, and none is left again once
 * the session is closed.
 */
static bool
step_allowed(enum session_state a, enum session_state b)
{
	if (b == SESSION_CLOSED)
		return true;
	switch (a) {
	case SESSION_AUTH:
		return b == SESSION_MBOX;
	case SESSION_MBOX:
		return b == SESSION_MBOX || b == SESSION_ITEM;
	case SESSION_ITEM:
		return b == SESSION_MBOX || b == SESSION_ITEM ||
		    b == SESSION_NEXT;
	case SESSION_NEXT:
		return b == SESSION_MBOX || b == SESSION_ITEM;
	case SESSION_CLOSED:
		break;
	}
	return false;
}

/* After a HELO line, nothing of the password may be left in it. */
static void
check_wiped(const char *line, size_t len, enum session_state before)
{
	bool has_arg;
	size_t a, u, i;

	if (keyword(line, len, &has_arg, &a) != KW_HELO)
		return;
	if (before != SESSION_AUTH) {
		/* Out of sequence: the whole line may hold a password. */
		for (i = 0; i < len; i++)
			FUZZ_CHECK(line[i] == '\0');
		return;
	}
	/* Skip the user; from the first space after it all is wiped. */
	for (u = a; u < len && line[u] == ' '; u++)
		continue;
	for (; u < len && line[u] != ' ' && line[u] != '\0'; u++)
		continue;
	/* The spaces before the password may stay; the password may not. */
	for (i = u; i < len; i++)
		FUZZ_CHECK(line[i] == '\0' || line[i] == ' ');
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t pieces[] = { 4096, 1, 7, 1000, 2 };
	static struct io io;
	static struct line_reader lr;
	static struct world w;
	struct session_backend be = { &w, be_login, be_commit, be_select,
		be_size, be_mark_deleted };
	struct feed f = { data, size, 0, pieces[size % 5], size % 7 == 3 };
	struct session s;
	struct session_out out;
	struct model m;
	struct expect e;
	enum line_status st, want;
	enum session_state before;
	size_t refpos = 0, off = 0, rlen = 0, len;
	char *text, greeting[200];
	bool was_closed;

	memset(&io, 0, sizeof(io));
	io.read_fn = feed_read;
	io.write_fn = feed_write;
	io.arg = &f;
	io.timeout_ms = -1;
	line_init(&lr, &io);
	memset(&w, 0, sizeof(w));
	memset(&m, 0, sizeof(m));
	m.state = SESSION_AUTH;

	session_init(&s, &be);
	session_greet(&s, HOST, FUZZ_VERSION, &out);
	check_reply(&out);
	snprintf(greeting, sizeof(greeting),
	    "+ POP2 %s pop2d %s server ready\r\n", HOST, FUZZ_VERSION);
	FUZZ_CHECK(strcmp(out.reply, greeting) == 0 && !out.close);
	FUZZ_CHECK(s.state == SESSION_AUTH);

	for (;;) {
		st = line_read(&lr, &text, &len);
		want = ref_line(&f, &refpos, &off, &rlen);
		FUZZ_CHECK(st == want);
		if (st == LINE_EOF || st == LINE_PARTIAL || st == LINE_ERROR)
			break;
		was_closed = s.state == SESSION_CLOSED;
		w.closed = was_closed;
		if (st != LINE_OK) {
			/* What pop2d's main loop does with a rejected line. */
			if (was_closed)
				continue;
			session_fail(&s,
			    st == LINE_TOO_LONG ? SESSION_ERR_LINE_TOO_LONG
						: SESSION_ERR_NUL_OCTET,
			    &out);
			check_reply(&out);
			FUZZ_CHECK(out.reply[0] == '-' && out.close);
			FUZZ_CHECK(s.state == SESSION_CLOSED);
			m.state = SESSION_CLOSED;
			continue;
		}
		FUZZ_CHECK(len == rlen && len < LINE_MAX_OCTETS);
		FUZZ_CHECK(memcmp(text, data + off, len) == 0);
		FUZZ_CHECK(text[len] == '\0');
		FUZZ_CHECK(memchr(text, '\n', len) == NULL);

		before = s.state;
		w.count = s.count;
		model_step(&m, &w, text, len, &e);
		session_step(&s, text, len, &out);
		FUZZ_CHECK(step_allowed(before, s.state));
		check_step(&s, &m, &e, &out, was_closed);
		if (!was_closed)
			check_wiped(text, len, before);
		/* Every call the model announced was made. */
		FUZZ_CHECK(!w.expect_login && !w.expect_commit &&
		    !w.expect_select && w.expect_mark == 0);
		if (out.send != 0)
			FUZZ_CHECK(world_size(&w, out.send) > 0);
	}
	return 0;
}
