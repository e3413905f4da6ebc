/*
 * append: appends its standard input to FILE the way procmail does when
 * its rcfile names no lockfile: O_APPEND under a blocking classic fcntl
 * write lock on the whole file, then fsync. The crash tests deliver with
 * it after each kill (test/crash.sh); test/maildrop.sh and test/lock.sh
 * use the real procmail.
 *
 * usage: append FILE
 *
 * Exits 0 once every octet is written and synced; 1 on any failure (with
 * the reason on standard error), 64 on bad usage. The file must exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int
failed(const char *what, const char *path)
{
	fprintf(stderr, "append: %s: %s: %s\n", path, what, strerror(errno));
	return 1;
}

int
main(int argc, char **argv)
{
	struct flock lk = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char buf[65536];
	ssize_t n;
	int fd;

	if (argc != 2) {
		fprintf(stderr, "usage: append FILE\n");
		return 64;
	}
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return failed("open", argv[1]);
	while (fcntl(fd, F_SETLKW, &lk) == -1)
		if (errno != EINTR)
			return failed("fcntl", argv[1]);
	while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
		ssize_t done = 0;

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return failed("read", "standard input");
		}
		while (done < n) {
			ssize_t w = write(fd, buf + done, (size_t)(n - done));

			if (w == -1) {
				if (errno == EINTR)
					continue;
				return failed("write", argv[1]);
			}
			done += w;
		}
	}
	if (fsync(fd) == -1)
		return failed("fsync", argv[1]);
	return close(fd) == -1 ? failed("close", argv[1]) : 0;
}
