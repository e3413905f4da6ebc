#include "config.h"

#include <string.h>

#include "line.h"
#include "util.h"

void
line_init(struct line_reader *lr, struct io *io)
{
	lr->io = io;
	lr->start = 0;
	lr->end = 0;
}

/* Moves unconsumed octets to the front and reads more. Returns io_read's result. */
static ssize_t
line_fill(struct line_reader *lr)
{
	ssize_t n;

	if (lr->start > 0) {
		memmove(lr->buf, lr->buf + lr->start, lr->end - lr->start);
		lr->end -= lr->start;
		lr->start = 0;
	}
	n = io_read(lr->io, lr->buf + lr->end, sizeof(lr->buf) - lr->end);
	if (n > 0)
		lr->end += (size_t)n;
	return n;
}

/*
 * Discards input up to and including the next LF: the rest of a line that
 * is already rejected. Returns LINE_OK when the LF was found.
 */
static enum line_status
line_skip(struct line_reader *lr)
{
	for (;;) {
		char *lf =
		    memchr(lr->buf + lr->start, '\n', lr->end - lr->start);
		ssize_t n;

		if (lf != NULL) {
			lr->start = (size_t)(lf - lr->buf) + 1;
			return LINE_OK;
		}
		lr->start = lr->end = 0;
		n = line_fill(lr);
		if (n == 0)
			return LINE_PARTIAL;
		if (n < 0)
			return LINE_ERROR;
	}
}

enum line_status
line_read(struct line_reader *lr, char **text, size_t *len)
{
	size_t scanned = 0;

	for (;;) {
		size_t avail = lr->end - lr->start;
		char *p = lr->buf + lr->start;
		char *lf = memchr(p + scanned, '\n', avail - scanned);
		ssize_t n;

		if (lf != NULL) {
			size_t total = (size_t)(lf - p) + 1;
			size_t l = total - 1;

			if (total > LINE_MAX_OCTETS) {
				lr->start += total;
				return LINE_TOO_LONG;
			}
			lr->start += total;
			if (memchr(p, '\0', l) != NULL)
				return LINE_NUL;
			if (l > 0 && p[l - 1] == '\r')
				l--;
			p[l] = '\0';
			*text = p;
			*len = l;
			return LINE_OK;
		}
		scanned = avail;
		if (avail >= LINE_MAX_OCTETS) {
			enum line_status st = line_skip(lr);

			return st == LINE_OK ? LINE_TOO_LONG : st;
		}
		n = line_fill(lr);
		if (n == 0)
			return avail == 0 ? LINE_EOF : LINE_PARTIAL;
		if (n < 0)
			return LINE_ERROR;
	}
}

ssize_t
line_peek(struct line_reader *lr, const char **data)
{
	ssize_t n;

	if (lr->end == lr->start) {
		n = line_fill(lr);
		if (n <= 0)
			return n;
	}
	*data = lr->buf + lr->start;
	return (ssize_t)(lr->end - lr->start);
}

void
line_consume(struct line_reader *lr, size_t n)
{
	lr->start += n;
	if (lr->start > lr->end)
		lr->start = lr->end;
}

void
line_wipe(struct line_reader *lr)
{
	util_wipe(lr->buf, sizeof(lr->buf));
}
