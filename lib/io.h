/*
 * io: the read/write seam between the protocol and the connection.
 *
 * All client traffic goes through a struct io. The default backends wait
 * with poll() so that every read and every write is bounded by a timeout;
 * tests swap the backends for functions that return data from memory or
 * fail at a chosen octet. No stdio is used on the connection.
 */
#ifndef POP2_IO_H
#define POP2_IO_H

#include <signal.h>
#include <stddef.h>
#include <sys/types.h>

#define IO_OUTBUF 16384

struct io {
	int fd_in;
	int fd_out;
	/* Milliseconds a single read or write may wait; -1 waits forever. */
	int timeout_ms;
	/*
	 * The util_now_ms() time after which every wait fails with
	 * ETIMEDOUT, however the time is split between calls; 0: none.
	 */
	long long deadline_ms;
	/* Octets accepted by io_put() so far, buffered or written. */
	unsigned long long put_total;
	/* When non-NULL and set, waits end early with errno EINTR. */
	volatile sig_atomic_t *stop;
	/*
	 * Backends: like read(2) and write(2) but bounded by timeout_ms, and
	 * returning -1 with errno ETIMEDOUT when it runs out. A write backend
	 * may write fewer octets than asked.
	 */
	ssize_t (*read_fn)(struct io *, void *, size_t);
	ssize_t (*write_fn)(struct io *, const void *, size_t);
	void *arg; /* for test backends */
	size_t outlen;
	char out[IO_OUTBUF];
};

/*
 * Sets up IO on the two descriptors with the poll()-based backends. Makes
 * FD_OUT non-blocking so that a client that stops reading cannot stall a
 * write past the timeout.
 */
void io_init(struct io *io, int fd_in, int fd_out, int timeout_ms);

/*
 * Reads up to LEN octets. Returns the count, 0 at end of input, or -1 with
 * errno (ETIMEDOUT, EINTR when io->stop was set, or the read(2) error).
 */
ssize_t io_read(struct io *io, void *buf, size_t len);

/*
 * Appends LEN octets to the output buffer, writing out full buffers (large
 * LEN goes straight through). Returns 0, or -1 with errno as for io_flush.
 */
int io_put(struct io *io, const void *buf, size_t len);

/* Writes out everything buffered. Returns 0, or -1 with errno (ETIMEDOUT, EINTR, EPIPE, ...). */
int io_flush(struct io *io);

#endif
