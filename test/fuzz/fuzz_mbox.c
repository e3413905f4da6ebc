/*
 * fuzz_mbox: arbitrary file contents through mbox_index() and mbox_send().
 *
 * The input is written to a memfd, indexed, and every visible message is
 * sent into a sink that keeps the octets. Checked for every input:
 * - mbox_index() succeeds (a readable regular file is always an mbox) and
 *   covers the whole file;
 * - the stored ranges [start, mbox_stored_end) are non-empty, in
 *   increasing order, and tile [first start, size) without gap or
 *   overlap; each
 *   starts with a valid "From " line at the start of a line; the text
 *   [body, end) is followed by nothing, "\n" or "\r\n" (the separator's
 *   empty line);
 * - no message (without a Content-Length field) contains an empty line
 *   followed by a separator line, and none precedes the first message;
 * - the pseudo-message flag agrees with the first message's header;
 * - mbox_send() succeeds and sends exactly msg->wire octets (wire >= 2),
 *   every LF preceded by CR and the last two octets CRLF, and these octets
 *   are what a plain reimplementation of SPEC §2's conversion makes of the
 *   text [body, end);
 * - the builds without AVX2 and without any vector code (mbox_sse2.c,
 *   mbox_scalar.c) index and send exactly the same;
 * - a sink that fails makes mbox_send() fail with its errno, or EIO.
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "mbox.h"

/* The other builds of mbox.c (mbox_sse2.c, mbox_scalar.c). */
int mbox_index_sse2(struct mbox *mb, int fd);
void mbox_free_sse2(struct mbox *mb);
int mbox_send_sse2(const struct mbox *mb, size_t n,
    const struct mbox_sink *sink);
int mbox_index_scalar(struct mbox *mb, int fd);
void mbox_free_scalar(struct mbox *mb);
int mbox_send_scalar(const struct mbox *mb, size_t n,
    const struct mbox_sink *sink);

#define HDR_LOOK 64

static const char pseudo_subject[] =
    "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA";

static int mbox_fd = -1;

/* A growing buffer: the sink's output, or the reference conversion's. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
	unsigned writes;
	unsigned fail_at; /* 0: never; otherwise fail write number fail_at */
	int fail_errno;
};

static void
buf_add(struct buf *b, const void *p, size_t n)
{
	if (n > b->cap - b->len) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;

		while (n > cap - b->len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		FUZZ_CHECK(b->p != NULL);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static int
sink_write(void *arg, const void *p, size_t n)
{
	struct buf *b = arg;

	FUZZ_CHECK(n > 0);
	if (++b->writes == b->fail_at) {
		errno = b->fail_errno;
		return -1;
	}
	buf_add(b, p, n);
	return 0;
}

/* The field name of header line P (N octets), as SPEC §2 describes it. */
static size_t
ref_hdr_name(const char *p, size_t n, size_t *colon)
{
	size_t i, len;

	if (n > HDR_LOOK)
		n = HDR_LOOK;
	for (i = 0; i < n; i++)
		if (p[i] == ':' || p[i] == ' ' || p[i] == '\t' ||
		    p[i] == '\r' || p[i] == '\n')
			break;
	len = i;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	if (len == 0 || i == n || p[i] != ':')
		return 0;
	*colon = i;
	return len;
}

static bool
ref_name_is(const char *p, size_t len, const char *name)
{
	size_t i;

	if (strlen(name) != len)
		return false;
	for (i = 0; i < len; i++) {
		char c = p[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != name[i])
			return false;
	}
	return true;
}

static bool
ref_bookkeeping(const char *p, size_t n)
{
	static const char *const names[] = { "status", "x-status",
		"x-keywords", "x-uid", "x-imap", "x-imapbase",
		"content-length" };
	size_t len, colon, i;

	if ((len = ref_hdr_name(p, n, &colon)) == 0)
		return false;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ref_name_is(p, len, names[i]))
			return true;
	return false;
}

static bool
is_empty_line(const char *p, size_t n)
{
	return (n == 1 && p[0] == '\n') ||
	    (n == 2 && p[0] == '\r' && p[1] == '\n');
}

/* The length of the line at P (its LF included), N octets available. */
static size_t
line_len(const char *p, size_t n)
{
	const char *nl = memchr(p, '\n', n);

	return nl != NULL ? (size_t)(nl - p) + 1 : n;
}

/*
 * SPEC §2's conversion, written plainly, one line at a time: the wire
 * octets of the message text T (N octets) appended to OUT.
 */
static void
ref_conv(const char *t, size_t n, struct buf *out)
{
	bool in_header = true, drop = false, line_drop = false;
	char prev = '\n';
	size_t pos, len, i, from, start = out->len;

	for (pos = 0; pos < n; pos += len) {
		const char *l = t + pos;

		len = line_len(l, n - pos);
		line_drop = false;
		if (in_header) {
			if (is_empty_line(l, len)) {
				in_header = false;
				drop = false;
			} else if (l[0] != ' ' && l[0] != '\t')
				drop = ref_bookkeeping(l, len);
			line_drop = drop;
		}
		if (!line_drop) {
			for (i = from = 0; i < len; i++) {
				if (l[i] != '\n' ||
				    (i > 0 ? l[i - 1] : prev) == '\r')
					continue;
				buf_add(out, l + from, i - from);
				buf_add(out, "\r\n", 2);
				from = i + 1;
			}
			buf_add(out, l + from, len - from);
		}
		prev = l[len - 1];
	}
	if (n > 0 && t[n - 1] != '\n' && !line_drop)
		buf_add(out, "\r\n", 2);
	if (out->len == start)
		buf_add(out, "\r\n", 2);
}

/*
 * Tells whether the text T (N octets) holds a separator line that starts
 * the file or follows an empty line; AT_START says T starts the file.
 */
static bool
ref_has_separator(const char *t, size_t n, bool at_start)
{
	bool prev_empty = at_start;
	size_t pos, len, l;

	for (pos = 0; pos < n; pos += len) {
		len = line_len(t + pos, n - pos);
		l = t[pos + len - 1] == '\n' ? len - 1 : len;
		if (prev_empty && mbox_is_separator(t + pos, l))
			return true;
		prev_empty = is_empty_line(t + pos, len);
	}
	return false;
}

/*
 * Looks through the header section of the text T (N octets) for fields
 * that change how the index treats a message.
 */
static void
ref_header(const char *t, size_t n, bool *content_length, bool *pseudo)
{
	bool imap = false, subject = false;
	size_t pos, len, name, colon;

	*content_length = false;
	for (pos = 0; pos < n; pos += len) {
		const char *l = t + pos;

		len = line_len(l, n - pos);
		if (is_empty_line(l, len))
			break;
		if ((name = ref_hdr_name(l, len, &colon)) == 0)
			continue;
		if (ref_name_is(l, name, "content-length"))
			*content_length = true;
		else if (ref_name_is(l, name, "x-imap") ||
		    ref_name_is(l, name, "x-imapbase"))
			imap = true;
		else if (ref_name_is(l, name, "subject") &&
		    memmem(l + colon, len - colon, pseudo_subject,
		    sizeof(pseudo_subject) - 1) != NULL)
			subject = true;
	}
	*pseudo = imap && subject;
}

/* Tells whether the octets before OFF in D end with a whole empty line. */
static bool
follows_empty_line(const char *d, size_t off)
{
	if (off >= 1 && d[off - 1] == '\n' && (off == 1 || d[off - 2] == '\n'))
		return true;
	return off >= 2 && d[off - 2] == '\r' && d[off - 1] == '\n' &&
	    (off == 2 || d[off - 3] == '\n');
}

static void
check_index(const struct mbox *mb, const uint8_t *data, size_t size)
{
	const char *d = (const char *)data;
	bool cl = false, pseudo;
	uint64_t prev_end = 0, stored;
	size_t i, gap;

	FUZZ_CHECK(mb->size == size);
	FUZZ_CHECK(mb->first <= 1);
	FUZZ_CHECK(mb->first <= mb->nmsg);
	FUZZ_CHECK(mbox_count(mb) == mb->nmsg - mb->first);
	FUZZ_CHECK(!ref_has_separator(d, mb->nmsg > 0 ? mb->msg[0].start :
	    size, true));
	for (i = 0; i < mb->nmsg; i++) {
		const struct mbox_msg *m = &mb->msg[i];

		stored = mbox_stored_end(mb, i);
		/* The stored ranges tile [msg[0].start, size) exactly. */
		FUZZ_CHECK(i == 0 ? m->start >= prev_end :
		    m->start == prev_end);
		FUZZ_CHECK(m->start + 5 <= m->body);
		FUZZ_CHECK(m->body <= m->end);
		FUZZ_CHECK(m->end <= stored);
		FUZZ_CHECK(stored <= size);
		FUZZ_CHECK(m->start < stored);
		FUZZ_CHECK(m->wire >= 2);
		FUZZ_CHECK((m->flags & ~(uint32_t)MBOX_PSEUDO) == 0);
		prev_end = stored;

		/* The From line: at a line start, whole, valid. */
		FUZZ_CHECK(m->start == 0 || d[m->start - 1] == '\n');
		FUZZ_CHECK(memcmp(d + m->start, "From ", 5) == 0);
		FUZZ_CHECK(line_len(d + m->start, size - m->start) ==
		    m->body - m->start);
		FUZZ_CHECK(mbox_is_separator(d + m->start,
		    (size_t)(m->body - m->start) -
		    (d[m->body - 1] == '\n')));

		/* What lies between the text and the next message. */
		gap = (size_t)(stored - m->end);
		FUZZ_CHECK(gap == 0 || is_empty_line(d + m->end, gap));

		/*
		 * A message starts at the file's first line, after an empty
		 * line (the previous message's gap), or, after a believed
		 * Content-Length, right where the body it gives ends (CL still
		 * describes the previous message here).
		 */
		if (i == 0)
			FUZZ_CHECK(m->start == 0 ||
			    follows_empty_line(d, (size_t)m->start));
		else
			FUZZ_CHECK(mb->msg[i - 1].end < m->start || cl);
		ref_header(d + m->body, (size_t)(m->end - m->body), &cl,
		    &pseudo);
		if (!cl)
			FUZZ_CHECK(!ref_has_separator(d + m->body,
			    (size_t)(m->end - m->body), false));
		if (i == 0)
			FUZZ_CHECK(pseudo == ((m->flags & MBOX_PSEUDO) != 0));
		else
			FUZZ_CHECK(!(m->flags & MBOX_PSEUDO));
	}
	FUZZ_CHECK(mb->nmsg == 0 || prev_end == size);
	FUZZ_CHECK(mb->first == (mb->nmsg > 0 &&
	    (mb->msg[0].flags & MBOX_PSEUDO) ? 1u : 0u));
}

static bool
same_index(const struct mbox *a, const struct mbox *b)
{
	return a->size == b->size && a->nmsg == b->nmsg &&
	    a->first == b->first && a->dev == b->dev && a->ino == b->ino &&
	    (a->nmsg == 0 ||
	    memcmp(a->msg, b->msg, a->nmsg * sizeof(*a->msg)) == 0);
}

static void
check_wire(const struct buf *b, uint64_t wire)
{
	size_t i;

	FUZZ_CHECK(b->len == wire);
	FUZZ_CHECK(b->len >= 2);
	FUZZ_CHECK(b->p[b->len - 2] == '\r' && b->p[b->len - 1] == '\n');
	for (i = 0; i < b->len; i++)
		if (b->p[i] == '\n')
			FUZZ_CHECK(i > 0 && b->p[i - 1] == '\r');
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mbox_fd = fuzz_memfd("fuzz_mbox");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct buf sent, other, ref;
	struct mbox mb, mb2, mb3;
	struct mbox_sink sink = { sink_write, &sent };
	struct mbox_sink sink2 = { sink_write, &other };
	struct buf failing;
	struct mbox_sink fsink = { sink_write, &failing };
	size_t n, count;

	if (mbox_fd == -1)
		mbox_fd = fuzz_memfd("fuzz_mbox");
	fuzz_memfd_set(mbox_fd, data, size);

	FUZZ_CHECK(mbox_index(&mb, mbox_fd) == 0);
	FUZZ_CHECK(mbox_index_sse2(&mb2, mbox_fd) == 0);
	FUZZ_CHECK(mbox_index_scalar(&mb3, mbox_fd) == 0);
	FUZZ_CHECK(same_index(&mb, &mb2));
	FUZZ_CHECK(same_index(&mb, &mb3));
	check_index(&mb, data, size);

	count = mbox_count(&mb);
	errno = 0;
	FUZZ_CHECK(mbox_send(&mb, 0, &sink) == -1 && errno == ENOENT);
	errno = 0;
	FUZZ_CHECK(mbox_send(&mb, count + 1, &sink) == -1 && errno == ENOENT);
	for (n = 1; n <= count; n++) {
		const struct mbox_msg *m = mbox_get(&mb, n);

		FUZZ_CHECK(m == &mb.msg[mb.first + n - 1]);
		sent.len = sent.writes = sent.fail_at = 0;
		FUZZ_CHECK(mbox_send(&mb, n, &sink) == 0);
		check_wire(&sent, m->wire);

		ref.len = 0;
		ref_conv((const char *)data + m->body,
		    (size_t)(m->end - m->body), &ref);
		FUZZ_CHECK(ref.len == sent.len);
		FUZZ_CHECK(memcmp(ref.p, sent.p, sent.len) == 0);

		other.len = other.writes = other.fail_at = 0;
		FUZZ_CHECK(mbox_send_sse2(&mb2, n, &sink2) == 0);
		FUZZ_CHECK(other.len == sent.len &&
		    memcmp(other.p, sent.p, sent.len) == 0);
		other.len = other.writes = other.fail_at = 0;
		FUZZ_CHECK(mbox_send_scalar(&mb3, n, &sink2) == 0);
		FUZZ_CHECK(other.len == sent.len &&
		    memcmp(other.p, sent.p, sent.len) == 0);
	}
	/* The whole input as one Maildir message: the same conversion. */
	{
		struct mbox_msg fm;

		FUZZ_CHECK(mbox_index_file(mbox_fd, &fm) == 0);
		sent.len = sent.writes = sent.fail_at = 0;
		FUZZ_CHECK(mbox_send_file(mbox_fd, &fm, &sink) == 0);
		check_wire(&sent, fm.wire);
		ref.len = 0;
		ref_conv((const char *)data, size, &ref);
		FUZZ_CHECK(ref.len == sent.len);
		FUZZ_CHECK(memcmp(ref.p, sent.p, sent.len) == 0);
	}
	if (count > 0) {
		/* A sink's failure reaches the caller, with a reason. */
		memset(&failing, 0, sizeof(failing));
		failing.fail_at = 1;
		failing.fail_errno = EPIPE;
		errno = 0;
		FUZZ_CHECK(mbox_send(&mb, 1, &fsink) == -1 && errno == EPIPE);
		failing.writes = 0;
		failing.fail_errno = 0;
		errno = 0;
		FUZZ_CHECK(mbox_send(&mb, 1, &fsink) == -1 && errno == EIO);
		free(failing.p);
	}
	mbox_free(&mb);
	mbox_free_sse2(&mb2);
	mbox_free_scalar(&mb3);
	return 0;
}
