/*
 * mbox: the read path of an mbox maildrop.
 *
 * mbox_index() reads the file once and records, per message, where it is
 * stored, how many octets it takes on the wire and a hash of its stored
 * octets. mbox_send() streams one message as the wire octets of SPEC §2.
 * Both run every line of a message through the same conversion routine, so
 * the size announced by READ is always the number of octets RETR sends.
 *
 * Message boundaries (c-client's rule): a message starts at a line that
 * begins "From ", is the first line of the file or follows an empty line
 * (LF or CRLF), and carries a sender and a ctime-style date. The empty line
 * before such a line belongs to the separator, not to the message before
 * it; so does a single empty line at the very end of the file (a second
 * one is message text). Octets before the first separator (a file that
 * does not start with one) belong to no message: the first message starts
 * at the first valid From line that is the file's first line or follows an
 * empty line. A separator line longer than the index's 1 MiB buffer is
 * taken for text.
 *
 * A Content-Length header in the header section is believed only when the
 * body length it gives ends exactly at end of file, at the start of a
 * separator line, or at the start of an empty line followed by a separator
 * line or by end of file (the separator line must end within 4 KiB of that
 * point). A believed body is message text exactly: From lines inside it do
 * not split it, and the message ends where the length says. A header with
 * two Content-Length fields, or one that is not a plain decimal number, is
 * not believed; the message is then scanned as if it had none.
 *
 * Wire octets: the stored message without its "From " line and without the
 * separating empty line; LF becomes CRLF, an existing CRLF stays, the last
 * line gets a CRLF even when the file lacks the final newline (a lone CR at
 * the very end stays as data). The header lines Status, X-Status,
 * X-Keywords, X-UID, X-IMAP, X-IMAPbase and Content-Length (with their
 * continuation lines) are left out of the header section. A message with no
 * octets at all is sent as one empty line (2 octets). The UW c-client
 * pseudo-message (first message, with an X-IMAP or X-IMAPbase header and
 * the subject "DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA") is kept
 * in the index but not counted or numbered.
 *
 * The library never writes to the file here; the commit of deletions
 * builds on the offsets and hashes kept in struct mbox_msg.
 */
#ifndef POP2_MBOX_H
#define POP2_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
	MBOX_PSEUDO = 1 << 0,  /* the UW pseudo-message: hidden, always kept */
	MBOX_DELETED = 1 << 1, /* marked by the client, removed at commit */
	MBOX_CHUNKED = 1 << 2, /* chunk hashes from mb->chunk[chunk0] on */
};

/*
 * A message whose stored octets exceed 1 MiB also gets, in mb->chunk, the
 * XXH3-64 of each MBOX_CHUNK octets of them from its start (the last
 * chunk shorter), so that RETR can check each piece before it sends it.
 */
#define MBOX_CHUNK (256 * 1024)

struct mbox_msg {
	uint64_t start; /* offset of the "From " line */
	uint64_t body;	/* offset of the first octet after the "From " line */
	uint64_t end;	/* end of the message text, separator excluded */
	uint64_t wire;	/* octets on the wire; always >= 2 */
	uint64_t hash;	/* XXH3-64 of the stored octets [start, next start) */
	uint32_t flags;
	uint32_t chunk0; /* with MBOX_CHUNKED: its first entry in mb->chunk */
};

struct mbox {
	int fd; /* not owned: the caller opened it and closes it */
	dev_t dev;
	ino_t ino;
	uint64_t size; /* octets indexed (S); later growth is not shown */
	struct mbox_msg *msg; /* every message, the pseudo-message included */
	size_t nmsg;
	size_t first; /* index in msg[] of visible message 1 */
	uint64_t *chunk; /* chunk hashes of the messages over 1 MiB */
	size_t nchunk;
};

/* Where mbox_send() writes: returns 0, or -1 with errno set. */
struct mbox_sink {
	int (*write)(void *arg, const void *buf, size_t len);
	void *arg;
};

/*
 * Indexes the regular file open for reading at FD, from offset 0 to its
 * end of file at the time of the call (if it shrinks meanwhile, what could
 * be read; mb->size says how far). Reads with pread(): the descriptor's
 * file offset is neither used nor moved. Text before the first separator
 * (a file that does not start with one) is not a message and is kept out
 * of every range. Keeps 48 octets a message, and 8 more per MBOX_CHUNK
 * of the messages over 1 MiB. Returns 0, or -1 with errno: EINVAL (not a
 * regular file), ENOMEM, or a read error. On failure MB holds nothing to
 * free.
 */
int mbox_index(struct mbox *mb, int fd);

/* Frees what mbox_index() allocated; does not close mb->fd. */
void mbox_free(struct mbox *mb);

/* Number of visible messages (the pseudo-message is not counted). */
size_t mbox_count(const struct mbox *mb);

/* Visible message N (1-based), or NULL when N is 0 or past the end. */
struct mbox_msg *mbox_get(const struct mbox *mb, size_t n);

/* Offset just past the stored octets of msg[i] (the next start, or size). */
uint64_t mbox_stored_end(const struct mbox *mb, size_t i);

/*
 * Wrapped around every read of the maildrop by mbox_send_guarded(), e.g.
 * to take a shared lock only while the file is read, never while the
 * client is: begin returns 0, or -1 with errno (the send fails with it).
 */
struct mbox_guard {
	int (*begin)(void *arg);
	void (*end)(void *arg);
	void *arg;
};

/*
 * Streams the wire octets of visible message N to SINK: exactly
 * mbox_get(mb, n)->wire octets on success, reading each stored octet once
 * with pread(). A message whose stored octets fit in 1 MiB is read whole
 * in one call and checked against the hash taken at index time before
 * anything is written. A larger one is streamed in bounded pieces (never
 * held whole), each MBOX_CHUNK of it checked against the index's chunk
 * hash before any of that chunk is converted: nothing is sent that was
 * not checked. Returns 0, or -1 with errno: ENOENT (no such message),
 * ESTALE (the stored octets changed since the index), EIO and other read
 * errors, or the sink's errno. After a failure part of the message may
 * have been written (with ESTALE, only octets that were checked, and
 * never all of them; none for a message of at most 1 MiB).
 */
int mbox_send(const struct mbox *mb, size_t n, const struct mbox_sink *sink);

/* mbox_send() with every read of the file inside G (NULL: none). */
int mbox_send_guarded(const struct mbox *mb, size_t n,
    const struct mbox_sink *sink, const struct mbox_guard *g);

/*
 * Indexes the regular file open for reading at FD as one whole message
 * without a "From " line, as a Maildir holds it: the stored octets are the
 * file from offset 0 to its size at the time of the call, and the text is
 * all of them (no separator, no trailing empty line taken away). Fills M:
 * start and body 0, end the size, wire the octets mbox_send_file() will
 * send (the same conversion as for a message of an mbox), hash the XXH3-64
 * of the stored octets, flags 0. Reads with pread() in bounded chunks; the
 * file offset is not used. Returns 0, or -1 with errno: EINVAL (not a
 * regular file), ESTALE (the file shrank while read), ENOMEM, or a read
 * error; M is then zeroed.
 */
int mbox_index_file(int fd, struct mbox_msg *m);

/*
 * Streams the wire octets of the whole-file message M, indexed by
 * mbox_index_file() from a file now open at FD, to SINK: exactly m->wire
 * octets on success. The file must still have m->end octets that hash to
 * m->hash; otherwise errno is ESTALE (and, as for mbox_send(), nothing is
 * written for a file of at most 1 MiB; a larger one has no chunk hashes:
 * it is hashed as it streams and its last batch, up to 64 KiB, is held
 * back until the hash matches, so it is never sent whole).
 * Other errors as mbox_send(). After a failure part of the message may have been
 * written.
 */
int mbox_send_file(int fd, const struct mbox_msg *m,
    const struct mbox_sink *sink);

/*
 * Tells whether LINE (LEN octets, no terminator, CR allowed at the end)
 * is a valid "From " separator: "From ", a sender, then a ctime-style date
 * ("Www Mmm dd hh:mm[:ss] [zone] yyyy [zone]"), as c-client accepts. It is
 * read from the end, because the sender may contain spaces: an optional
 * " remote from HOST" suffix; the 4-digit year with at most one zone
 * ("+0100", "-0500", or 3 to 5 letters such as "UTC", "EST", "CEST")
 * before or after it; the time (hh 00-23, mm 00-59, ss 00-60); the day
 * (1 or 2 digits, 1-31); the month and weekday names (English, any case);
 * then a sender of at least one non-space octet. Tokens are separated by
 * one or more spaces; trailing spaces are allowed. Returns 1 or 0.
 */
int mbox_is_separator(const char *line, size_t len);

#endif
