/*
 * helotime: how long pop2d takes to answer one command line, measured
 * from the moment the line is written to the moment its reply line is
 * read, with the process start and the greeting left out.
 *
 * usage: helotime LINE PROGRAM [ARGUMENT...]
 *
 * Starts PROGRAM with pipes on its standard input and output (standard
 * error is inherited), waits for its greeting, writes LINE and CRLF, and
 * prints "MICROSECONDS REPLY" (the reply without its line end). Exits 0
 * when a reply came, 1 otherwise; 64 on bad usage.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads one line from FD into BUF within 120 s. Returns its length or -1. */
static int
read_line(int fd, char *buf, size_t size)
{
	size_t len = 0;

	while (len < size - 1) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 120000) <= 0)
			return -1;
		/* One octet at a time: nothing past the line is taken. */
		n = read(fd, buf + len, 1);
		if (n <= 0)
			return -1;
		if (buf[len++] == '\n')
			break;
	}
	buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return (int)len;
}

int
main(int argc, char **argv)
{
	char line[2048], reply[2048];
	int in[2], out[2], status;
	long long start, end;
	pid_t pid;
	size_t len;

	if (argc < 3 || strlen(argv[1]) > sizeof(line) - 3) {
		fprintf(stderr, "usage: helotime LINE PROGRAM [ARGUMENT...]\n");
		return 64;
	}
	signal(SIGPIPE, SIG_IGN);
	if (pipe(in) == -1 || pipe(out) == -1) {
		perror("helotime: pipe");
		return 1;
	}
	pid = fork();
	if (pid == -1) {
		perror("helotime: fork");
		return 1;
	}
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		execv(argv[2], argv + 2);
		perror("helotime: exec");
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (read_line(out[0], reply, sizeof(reply)) == -1) {
		fprintf(stderr, "helotime: no greeting\n");
		return 1;
	}
	len = (size_t)snprintf(line, sizeof(line), "%s\r\n", argv[1]);
	start = now_us();
	if (write(in[1], line, len) != (ssize_t)len) {
		perror("helotime: write");
		return 1;
	}
	if (read_line(out[0], reply, sizeof(reply)) == -1) {
		fprintf(stderr, "helotime: no reply\n");
		return 1;
	}
	end = now_us();
	close(in[1]);
	close(out[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	printf("%lld %s\n", end - start, reply);
	return 0;
}
