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
 * Wire octets: the text [body, end) of a message through wire.h's
 * conversion: the "From " line and the separating empty line are not
 * part of it. The UW c-client pseudo-message (first message, with an
 * X-IMAP or X-IMAPbase header and the subject "DON'T DELETE THIS MESSAGE --
 * FOLDER INTERNAL DATA") is kept in the index but not counted or numbered.
 *
 * The library never writes to the file here; the commit of deletions
 * builds on the offsets and hashes kept in struct wire_msg.
 */
#ifndef POP2_MBOX_H
#define POP2_MBOX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "scan.h"
#include "wire.h"

struct mbox {
	int fd; /* not owned: the caller opened it and closes it */
	dev_t dev;
	ino_t ino;
	uint64_t size; /* octets indexed (S); later growth is not shown */
	struct wire_msg *msg; /* every message, the pseudo-message included */
	size_t nmsg;
	size_t first;	 /* index in msg[] of visible message 1 */
	uint64_t *chunk; /* chunk hashes of the messages over WIRE_WHOLE */
	size_t nchunk;
	const struct scan_impl *scan; /* the scanner of the index and sends */
};

/*
 * Indexes the regular file open for reading at FD, from offset 0 to its
 * end of file at the time of the call (if it shrinks meanwhile, what could
 * be read; mb->size says how far). Reads with pread(): the descriptor's
 * file offset is neither used nor moved. Text before the first separator
 * (a file that does not start with one) is not a message and is kept out
 * of every range. Keeps 48 octets a message, and 8 more per WIRE_CHUNK
 * of the messages over WIRE_WHOLE (flagged WIRE_CHUNKED). Returns 0, or -1
 * with errno: EINVAL (not a regular file), ENOMEM, or a read error. On
 * failure MB holds nothing to free.
 */
int mbox_index(struct mbox *mb, int fd);

/*
 * mbox_index() with scanner SC (NULL: scan_best()), which mbox_send() then
 * uses too.
 */
int mbox_index_with(struct mbox *mb, int fd, const struct scan_impl *sc);

/* Frees what mbox_index() allocated; does not close mb->fd. */
void mbox_free(struct mbox *mb);

/* Number of visible messages (the pseudo-message is not counted). */
size_t mbox_count(const struct mbox *mb);

/* Visible message N (1-based), or NULL when N is 0 or past the end. */
struct wire_msg *mbox_get(const struct mbox *mb, size_t n);

/* Offset just past the stored octets of msg[i] (the next start, or size). */
uint64_t mbox_stored_end(const struct mbox *mb, size_t i);

/*
 * Streams the wire octets of visible message N to SINK with wire_send():
 * exactly mbox_get(mb, n)->wire octets on success, each stored octet read
 * once and checked against the index's hash (or chunk hashes) before it
 * is sent. Returns 0, or -1 with errno: ENOENT (no such message), or as
 * wire_send() (ESTALE: the stored octets changed since the index).
 */
int mbox_send(const struct mbox *mb, size_t n, const struct sink *sink);

/* mbox_send() with every read of the file inside G (NULL: none). */
int mbox_send_guarded(const struct mbox *mb, size_t n, const struct sink *sink,
    const struct wire_guard *g);

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
