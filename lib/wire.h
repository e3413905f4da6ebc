/*
 * wire: a stored message as the octets of SPEC §2, for every maildrop
 * format.
 *
 * The one conversion: the stored text of a message, without the format's
 * own framing (an mbox "From " line and the separator's empty line), goes
 * out with every LF that no CR precedes turned into CRLF (an existing CRLF
 * stays), the last line ended by CRLF even when the store lacks the final
 * newline (a lone CR at the very end stays as data), and the header lines
 * named in wire_hidden[] left out of the header section with their
 * continuation lines. A message with no octets at all is one empty line (2
 * octets), so that =0 keeps meaning "no message".
 *
 * A header line's field name is the octets before the first ':', space,
 * tab, CR or LF; it must be followed, after any spaces and tabs, by ':',
 * all within the line's first WIRE_HDR_LOOK octets; the name is compared
 * without regard to ASCII case. A line starting with a space or a tab
 * continues the field above it. The header section ends at the first
 * empty line ("\n" or "\r\n"), which is kept.
 *
 * The same routine counts (READ's =N, at index time) and writes (RETR), so
 * the two cannot disagree; should the octets at send time give another
 * count than the one announced, the send fails with ESTALE before the
 * count is passed. Every send checks the stored octets against the hash
 * taken at index time (XXH3-64) before it sends them.
 *
 * The scanning itself is scan.h's: each entry point takes the scanner
 * implementation to use (NULL: scan_best()).
 */
#ifndef POP2_WIRE_H
#define POP2_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "scan.h"
#include "sink.h"

enum {
	WIRE_PSEUDO = 1 << 0,  /* the UW pseudo-message: hidden, always kept */
	WIRE_DELETED = 1 << 1, /* marked by the client, removed at commit */
	WIRE_CHUNKED = 1 << 2, /* chunk hashes from chunk0 on (mbox) */
};

/*
 * A message whose stored octets exceed WIRE_WHOLE is read in pieces; an
 * index may then keep the XXH3-64 of each WIRE_CHUNK octets of it from its
 * start (the last chunk shorter), so that each piece is checked before any
 * of it is sent. One of at most WIRE_WHOLE octets is read, checked and
 * converted whole.
 */
#define WIRE_CHUNK (256 * 1024)
#define WIRE_WHOLE (1024 * 1024)

/*
 * How much of a header line decides whether it is hidden. It must not
 * exceed the smallest piece a long line is ever cut into, so that the
 * decision cannot depend on who reads the line.
 */
#define WIRE_HDR_LOOK 64

/* One stored message: where it is, its wire size, its hash. */
struct wire_msg {
	uint64_t start; /* offset of the stored octets (an mbox "From " line) */
	uint64_t body;	/* offset of the text: after the format's framing */
	uint64_t end;	/* end of the text, trailing framing excluded */
	uint64_t wire;	/* octets on the wire; always >= 2 */
	uint64_t hash;	/* XXH3-64 of the stored octets [start, next start) */
	uint32_t flags;
	uint32_t chunk0; /* with WIRE_CHUNKED: its first chunk hash */
};

/*
 * Wrapped around every read of the stored octets, e.g. to take a shared
 * lock only while the file is read, never while the client is: begin
 * returns 0, or -1 with errno (the send fails with it).
 */
struct wire_guard {
	int (*begin)(void *arg);
	void (*end)(void *arg);
	void *arg;
};

/* The hidden header fields, lower case, NULL-terminated. */
extern const char *const wire_hidden[];

/* The first octets (lower case) of the names in wire_hidden[]. */
#define WIRE_HIDDEN_FIRST "csx"

/*
 * The field name of header line P (N octets): returns its length and sets
 * *COLON to the offset of its ':', or returns 0 when P is no field (see
 * above; only the first WIRE_HDR_LOOK octets are looked at).
 */
size_t wire_field_name(const char *p, size_t n, size_t *colon);

/* Tells whether P (LEN octets) is NAME (lower case) in any ASCII case. */
int wire_name_is(const char *p, size_t len, const char *name);

/* Tells whether line P (N octets, its ending included) is empty: LF or CRLF. */
int wire_empty_line(const char *p, size_t n);

/* Tells whether header line P (N octets) starts a hidden field. */
int wire_is_hidden(const char *p, size_t n);

/*
 * Where converted octets go: with no sink they are only counted (the
 * index), with one they are batched in buf (cap octets, plus SCAN_SLACK
 * that the converter may scribble on) and written in large pieces. limit
 * is the count promised; producing more fails with ESTALE. err is the
 * first failure's errno. The fields are the caller's to read.
 */
struct wire_out {
	uint64_t total;
	uint64_t limit;
	const struct sink *sink;
	char *buf;
	size_t len;
	size_t cap;
	int err;
};

/* The state of converting one message's text. */
struct wire_conv {
	const struct scan_impl *sc;
	int in_header; /* still inside the header section */
	int drop;      /* the current header field is hidden */
	int line_drop; /* the line being converted is left out */
	int bol;       /* the next octet starts a line */
	char last;     /* the octet before the next one */
};

/* Makes O a counter that accepts up to LIMIT octets. */
void wire_counter(struct wire_out *o, uint64_t limit);

/* Starts converting a message's text with scanner SC (NULL: the best). */
void wire_conv_init(struct wire_conv *c, const struct scan_impl *sc);

/*
 * Converts the next piece [P, P + N) of a message's text into O. Within
 * the header section a call holds one line, or, for a line longer than the
 * caller's buffer, a first piece of at least WIRE_HDR_LOOK octets and then
 * the rest; after it, pieces of any length cut anywhere. The result does
 * not depend on where the text is cut. Returns 0, or -1 when O refused
 * octets (O->err says why).
 */
int wire_conv(struct wire_conv *c, const char *p, size_t n, struct wire_out *o);

/* Ends the message's text (its last CRLF, the empty message). 0 or -1. */
int wire_conv_end(struct wire_conv *c, struct wire_out *o);

/*
 * wire_conv() for a counter O inside a body: counts the run of whole lines
 * at P up to the first empty line that starts in [P, E), or up to the last
 * LF before E when there is none, and returns the run's end (NULL when O
 * refused the octets). The empty line itself is left to the caller.
 */
const char *wire_count_run(
    struct wire_conv *c, const char *p, const char *e, struct wire_out *o);

/*
 * wire_conv() for a counter O inside the header section: counts the whole
 * lines at P up to E whose fate needs no further look, and returns where
 * it stopped: before an empty or incomplete line, or before a line whose
 * first octet, in lower case, is in STOP (the fields the caller must read
 * itself). NULL when O refused the octets.
 */
const char *wire_count_header_run(struct wire_conv *c, const char *p,
    const char *e, const char *stop, struct wire_out *o);

/*
 * Sends the wire octets of message M, whose stored octets are [m->start,
 * TO) of FD, to SINK: exactly m->wire octets on success, reading each
 * stored octet once with pread() (the file offset is not used), each read
 * inside G (NULL: none). A message of at most WIRE_WHOLE stored octets is
 * read whole and checked against m->hash before anything is written. A
 * larger one is streamed in bounded pieces (never held whole): with CHUNK
 * (its chunk hashes, NULL: none), each WIRE_CHUNK of it is checked before
 * any of it is converted; without, it is hashed as it streams and its last
 * batch is held back until the hash matches, so it is never sent whole.
 * Returns 0, or -1 with errno: EINVAL (M's offsets out of order), ESTALE
 * (the stored octets changed since the index, or are cut short), ENOMEM,
 * EIO and other read errors, or the sink's errno (EIO when it gave none).
 * After a failure part of the message may have been written (with ESTALE,
 * only octets that were checked, and never all of them; none for a
 * message of at most WIRE_WHOLE).
 */
int wire_send(int fd, const struct wire_msg *m, uint64_t to,
    const uint64_t *chunk, const struct scan_impl *sc, const struct sink *sink,
    const struct wire_guard *g);

/*
 * Indexes the regular file open at FD as one whole message without
 * framing, as a Maildir holds it: the stored octets and the text are the
 * file from offset 0 to its size at the time of the call. Fills M: start
 * and body 0, end the size, wire the octets wire_send_file() will send,
 * hash the XXH3-64 of the stored octets, flags 0. Reads with pread() in
 * bounded pieces. Returns 0, or -1 with errno: EINVAL (not a regular
 * file), ESTALE (the file shrank while read), ENOMEM, or a read error; M
 * is then zeroed.
 */
int wire_index_file(int fd, const struct scan_impl *sc, struct wire_msg *m);

/*
 * Sends the whole-file message M, indexed by wire_index_file() from a file
 * now open at FD, as wire_send() does; a file whose size is no longer
 * m->end is a changed file (ESTALE, nothing written).
 */
int wire_send_file(int fd, const struct wire_msg *m, const struct scan_impl *sc,
    const struct sink *sink);

#endif
