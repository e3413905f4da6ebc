#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "io.h"
#include "util.h"

/* The wait allowed now: the timeout, cut short by the deadline. */
static int
io_wait_ms(const struct io *io)
{
	long long left;

	if (io->deadline_ms == 0)
		return io->timeout_ms;
	left = io->deadline_ms - util_now_ms();
	if (left < 0)
		left = 0;
	if (io->timeout_ms >= 0 && left > io->timeout_ms)
		left = io->timeout_ms;
	return (int)left;
}

/*
 * Waits until FD is ready for EVENTS. Returns 0, or -1 with errno
 * ETIMEDOUT, EINTR (stop requested) or the poll error.
 */
static int
io_wait(struct io *io, int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };
	int n;

	for (;;) {
		if (io->stop != NULL && *io->stop) {
			errno = EINTR;
			return -1;
		}
		if (io->deadline_ms != 0 && util_now_ms() >= io->deadline_ms) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, io_wait_ms(io));
		if (n > 0)
			return 0;
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

static ssize_t
io_fd_read(struct io *io, void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		if (io_wait(io, io->fd_in, POLLIN) == -1)
			return -1;
		n = read(io->fd_in, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

static ssize_t
io_fd_write(struct io *io, const void *buf, size_t len)
{
	ssize_t n;

	for (;;) {
		n = write(io->fd_out, buf, len);
		if (n >= 0)
			return n;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
		if (io_wait(io, io->fd_out, POLLOUT) == -1)
			return -1;
	}
}

void
io_init(struct io *io, int fd_in, int fd_out, int timeout_ms)
{
	int fl;

	memset(io, 0, sizeof(*io));
	io->fd_in = fd_in;
	io->fd_out = fd_out;
	io->timeout_ms = timeout_ms;
	io->read_fn = io_fd_read;
	io->write_fn = io_fd_write;
	fl = fcntl(fd_out, F_GETFL);
	if (fl != -1)
		(void)fcntl(fd_out, F_SETFL, fl | O_NONBLOCK);
}

ssize_t
io_read(struct io *io, void *buf, size_t len)
{
	return io->read_fn(io, buf, len);
}

static int
io_write_all(struct io *io, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = io->write_fn(io, p, len);

		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
io_flush(struct io *io)
{
	size_t len = io->outlen;

	io->outlen = 0;
	return io_write_all(io, io->out, len);
}

int
io_put(struct io *io, const void *buf, size_t len)
{
	io->put_total += len;
	if (len <= sizeof(io->out) - io->outlen) {
		memcpy(io->out + io->outlen, buf, len);
		io->outlen += len;
		return 0;
	}
	if (io_flush(io) == -1)
		return -1;
	if (len < sizeof(io->out)) {
		memcpy(io->out, buf, len);
		io->outlen = len;
		return 0;
	}
	return io_write_all(io, buf, len);
}
