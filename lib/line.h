/*
 * line: the bounded command-line reader.
 *
 * A line ends in LF; a CR before the LF is removed. A line longer than
 * LINE_MAX_OCTETS octets, terminator included, is consumed up to and
 * including its LF and then reported as too long, so that its tail can
 * never be taken for a second command. A line containing a NUL octet is
 * consumed whole and reported as such. Memory is fixed: no allocation.
 */
#ifndef POP2_LINE_H
#define POP2_LINE_H

#include <stddef.h>

#include "io.h"

#define LINE_MAX_OCTETS 1024

enum line_status {
	LINE_OK,       /* a line is in *text */
	LINE_EOF,      /* end of input before any octet of a new line */
	LINE_PARTIAL,  /* end of input in the middle of a line */
	LINE_TOO_LONG, /* the line was longer than LINE_MAX_OCTETS */
	LINE_NUL,      /* the line contained a NUL octet */
	LINE_ERROR /* io_read failed; errno says why (ETIMEDOUT, EINTR, ...) */
};

struct line_reader {
	struct io *io;
	size_t start; /* first unconsumed octet in buf */
	size_t end;   /* one past the last octet read into buf */
	char buf[4096];
};

void line_init(struct line_reader *lr, struct io *io);

/*
 * Reads the next line. On LINE_OK, *TEXT points to the line without its
 * terminator, NUL-terminated inside the reader's buffer and valid until the
 * next call, and *LEN is its length.
 */
enum line_status line_read(struct line_reader *lr, char **text, size_t *len);

/*
 * For what comes before the first line (a PROXY header): points *DATA at
 * the octets buffered and not yet consumed, reading once when there are
 * none. Returns their count, 0 at end of input, or -1 with errno as for
 * io_read(). Nothing is consumed: line_consume() does that, and the
 * octets left are where the next line_read() starts.
 */
ssize_t line_peek(struct line_reader *lr, const char **data);

/* Consumes N octets, at most as many as line_peek() returned. */
void line_consume(struct line_reader *lr, size_t n);

/* Overwrites the reader's buffer (it may have held a password). */
void line_wipe(struct line_reader *lr);

#endif
