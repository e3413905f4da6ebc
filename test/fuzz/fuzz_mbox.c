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
 *   are what wire_ref.h, a per-octet reading of SPEC §2 written apart from
 *   lib/wire.c, makes of the text [body, end); so are those of the whole
 *   input sent as one Maildir message (wire_index_file, wire_send_file);
 * - every scanner implementation this processor runs (scan_impls[]:
 *   scalar, SSE2, AVX2) indexes and sends exactly the same;
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
#include "scan.h"
#include "wire.h"
#include "wire_ref.h"

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

static void
ref_emit(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
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
	char name[WIRE_HDR_LOOK];
	size_t pos, len, nlen, colon;

	*content_length = false;
	for (pos = 0; pos < n; pos += len) {
		const char *l = t + pos;

		len = line_len(l, n - pos);
		if (is_empty_line(l, len))
			break;
		if ((nlen = ref_field(l, len, name, &colon)) == 0)
			continue;
		if (nlen == 14 && memcmp(name, "content-length", 14) == 0)
			*content_length = true;
		else if ((nlen == 6 && memcmp(name, "x-imap", 6) == 0) ||
		    (nlen == 10 && memcmp(name, "x-imapbase", 10) == 0))
			imap = true;
		else if (nlen == 7 && memcmp(name, "subject", 7) == 0 &&
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
	FUZZ_CHECK(!ref_has_separator(
	    d, mb->nmsg > 0 ? mb->msg[0].start : size, true));
	for (i = 0; i < mb->nmsg; i++) {
		const struct wire_msg *m = &mb->msg[i];

		stored = mbox_stored_end(mb, i);
		/* The stored ranges tile [msg[0].start, size) exactly. */
		FUZZ_CHECK(
		    i == 0 ? m->start >= prev_end : m->start == prev_end);
		FUZZ_CHECK(m->start + 5 <= m->body);
		FUZZ_CHECK(m->body <= m->end);
		FUZZ_CHECK(m->end <= stored);
		FUZZ_CHECK(stored <= size);
		FUZZ_CHECK(m->start < stored);
		FUZZ_CHECK(m->wire >= 2);
		FUZZ_CHECK((m->flags & ~(uint32_t)WIRE_PSEUDO) == 0);
		prev_end = stored;

		/* The From line: at a line start, whole, valid. */
		FUZZ_CHECK(m->start == 0 || d[m->start - 1] == '\n');
		FUZZ_CHECK(memcmp(d + m->start, "From ", 5) == 0);
		FUZZ_CHECK(line_len(d + m->start, size - m->start) ==
		    m->body - m->start);
		FUZZ_CHECK(mbox_is_separator(d + m->start,
		    (size_t)(m->body - m->start) - (d[m->body - 1] == '\n')));

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
		ref_header(
		    d + m->body, (size_t)(m->end - m->body), &cl, &pseudo);
		if (!cl)
			FUZZ_CHECK(!ref_has_separator(
			    d + m->body, (size_t)(m->end - m->body), false));
		if (i == 0)
			FUZZ_CHECK(pseudo == ((m->flags & WIRE_PSEUDO) != 0));
		else
			FUZZ_CHECK(!(m->flags & WIRE_PSEUDO));
	}
	FUZZ_CHECK(mb->nmsg == 0 || prev_end == size);
	FUZZ_CHECK(mb->first ==
	    (mb->nmsg > 0 && (mb->msg[0].flags & WIRE_PSEUDO) ? 1u : 0u));
}

static bool
same_index(const struct mbox *a, const struct mbox *b)
{
	return a->size == b->size && a->nmsg == b->nmsg &&
	    a->first == b->first && a->dev == b->dev && a->ino == b->ino &&
	    a->nchunk == b->nchunk &&
	    (a->nmsg == 0 ||
		memcmp(a->msg, b->msg, a->nmsg * sizeof(*a->msg)) == 0) &&
	    (a->nchunk == 0 ||
		memcmp(a->chunk, b->chunk, a->nchunk * sizeof(*a->chunk)) == 0);
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
	struct mbox mb, mbi;
	struct sink sink = { sink_write, &sent };
	struct sink sink2 = { sink_write, &other };
	struct buf failing;
	struct sink fsink = { sink_write, &failing };
	struct wire_msg fm, fmi;
	size_t n, count, i;

	if (mbox_fd == -1)
		mbox_fd = fuzz_memfd("fuzz_mbox");
	fuzz_memfd_set(mbox_fd, data, size);

	FUZZ_CHECK(mbox_index(&mb, mbox_fd) == 0);
	FUZZ_CHECK(mb.scan == scan_best());
	check_index(&mb, data, size);

	count = mbox_count(&mb);
	errno = 0;
	FUZZ_CHECK(mbox_send(&mb, 0, &sink) == -1 && errno == ENOENT);
	errno = 0;
	FUZZ_CHECK(mbox_send(&mb, count + 1, &sink) == -1 && errno == ENOENT);
	for (n = 1; n <= count; n++) {
		const struct wire_msg *m = mbox_get(&mb, n);

		FUZZ_CHECK(m == &mb.msg[mb.first + n - 1]);
		sent.len = sent.writes = sent.fail_at = 0;
		FUZZ_CHECK(mbox_send(&mb, n, &sink) == 0);
		check_wire(&sent, m->wire);

		ref.len = 0;
		ref_wire((const char *)data + m->body,
		    (size_t)(m->end - m->body), ref_emit, &ref);
		FUZZ_CHECK(ref.len == sent.len);
		FUZZ_CHECK(memcmp(ref.p, sent.p, sent.len) == 0);
	}
	/* The whole input as one Maildir message: the same conversion. */
	FUZZ_CHECK(wire_index_file(mbox_fd, NULL, &fm) == 0);
	sent.len = sent.writes = sent.fail_at = 0;
	FUZZ_CHECK(wire_send_file(mbox_fd, &fm, NULL, &sink) == 0);
	check_wire(&sent, fm.wire);
	ref.len = 0;
	ref_wire((const char *)data, size, ref_emit, &ref);
	FUZZ_CHECK(ref.len == sent.len);
	FUZZ_CHECK(memcmp(ref.p, sent.p, sent.len) == 0);

	/* Every other scanner: the same index, the same octets. */
	for (i = 0; scan_impls[i] != NULL; i++) {
		if (scan_impls[i] == mb.scan || !scan_impls[i]->usable())
			continue;
		FUZZ_CHECK(mbox_index_with(&mbi, mbox_fd, scan_impls[i]) == 0);
		FUZZ_CHECK(same_index(&mb, &mbi));
		for (n = 1; n <= count; n++) {
			sent.len = sent.writes = sent.fail_at = 0;
			FUZZ_CHECK(mbox_send(&mb, n, &sink) == 0);
			other.len = other.writes = other.fail_at = 0;
			FUZZ_CHECK(mbox_send(&mbi, n, &sink2) == 0);
			FUZZ_CHECK(other.len == sent.len &&
			    memcmp(other.p, sent.p, sent.len) == 0);
		}
		mbox_free(&mbi);
		FUZZ_CHECK(wire_index_file(mbox_fd, scan_impls[i], &fmi) == 0);
		FUZZ_CHECK(memcmp(&fm, &fmi, sizeof(fm)) == 0);
		other.len = other.writes = other.fail_at = 0;
		FUZZ_CHECK(
		    wire_send_file(mbox_fd, &fmi, scan_impls[i], &sink2) == 0);
		FUZZ_CHECK(other.len == ref.len &&
		    memcmp(other.p, ref.p, ref.len) == 0);
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
	return 0;
}
