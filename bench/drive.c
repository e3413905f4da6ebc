/*
 * drive: one timed POP2 session against pop2d, through pipes.
 *
 *   drive [-u 'HELO user password'] MODE -- POP2D [ARGS...]
 *
 * MODE is one of
 *   login        HELO, then QUIT
 *   all          HELO, READ, then RETR and ACKS until =0, then QUIT
 *   retr:N       HELO, READ N, RETR, ACKS, QUIT
 *   retr:A-B     HELO, then READ n, RETR, ACKS for n from A to B, QUIT
 *   read:A-B     HELO, then READ n for n from A to B, QUIT
 *   del:A-B      HELO, then READ n, RETR, ACKD for n from A to B, QUIT
 *   floor:C:S    as "all", against a stand-in server built into drive that
 *                answers from memory, C messages of S octets, with the
 *                system calls pop2d needs at the least (poll and read for
 *                each command, one write for each reply and message): the
 *                cost of the lock-step protocol alone, with no maildrop.
 *                Give no POP2D then ("--" ends the arguments).
 *
 * A client reads "=S" before RETR and then exactly S octets, as RFC 937
 * says; the octets are read and dropped, like "cat >/dev/null". Prints one
 * line of KEY=VALUE: the times in microseconds of the login (HELO sent to
 * "#N" read), the work (after "#N" to QUIT sent), the QUIT (QUIT sent to
 * its reply read) and the whole session; the octets and messages received;
 * pop2d's peak resident set (KiB) and the octets it caused to be written
 * to storage (/proc/PID/io write_bytes), its exit status, and the CPU time
 * it used (user and system, microseconds). Exits 1 if a
 * reply is negative or the session breaks.
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUFSZ (256 * 1024)

static int to_srv = -1, from_srv = -1;
static char buf[BUFSZ];
static size_t bpos, blen;

static void
die(const char *what)
{
	fprintf(stderr, "drive: %s\n", what);
	exit(1);
}

static void
die_errno(const char *what)
{
	fprintf(stderr, "drive: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static int
fill(void)
{
	ssize_t r;

	do
		r = read(from_srv, buf, sizeof(buf));
	while (r == -1 && errno == EINTR);
	if (r == -1)
		die_errno("read");
	bpos = 0;
	blen = (size_t)r;
	return r > 0;
}

/* One reply line without its CRLF; dies on EOF. */
static void
reply(char *line, size_t cap)
{
	size_t n = 0;

	for (;;) {
		if (bpos == blen && !fill())
			die("connection closed before a reply");
		char c = buf[bpos++];
		if (c == '\n')
			break;
		if (n + 1 < cap)
			line[n++] = c;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	if (line[0] == '-') {
		fprintf(stderr, "drive: server said: %s\n", line);
		exit(1);
	}
}

static void
send_line(const char *s)
{
	char l[1100];
	size_t n = (size_t)snprintf(l, sizeof(l), "%s\r\n", s), off;
	ssize_t w;

	for (off = 0; off < n; off += (size_t)w) {
		w = write(to_srv, l + off, n - off);
		if (w == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			die_errno("write");
		}
	}
}

/* Reads and drops exactly N octets. */
static void
take(uint64_t n)
{
	while (n > 0) {
		if (bpos == blen && !fill())
			die("connection closed inside a message");
		size_t k = blen - bpos < n ? blen - bpos : (size_t)n;
		bpos += k;
		n -= k;
	}
}

/* The N of "=N ..." or "#N ...". */
static uint64_t
count_of(const char *line, char mark)
{
	char *end;
	unsigned long long v;

	if (line[0] != mark || line[1] < '0' || line[1] > '9')
		die("unexpected reply");
	errno = 0;
	v = strtoull(line + 1, &end, 10);
	if (errno != 0 || (*end != ' ' && *end != '\0'))
		die("bad number in a reply");
	return v;
}

/* The stand-in server of floor:C:S, on fds 0 and 1; never returns. */
static void
null_server(unsigned long count, unsigned long size)
{
	static char msg[1 << 20];
	char in[4096], rep[128];
	size_t have = 0, k;
	unsigned long cur = 1;
	struct pollfd pfd = { .fd = 0, .events = POLLIN };
	ssize_t r;

	if (size > sizeof(msg))
		_exit(64);
	memset(msg, 'x', size);
	if (write(1, "+ POP2 null server ready\r\n", 26) != 26)
		_exit(1);
	for (;;) {
		char *lf = memchr(in, '\n', have);
		const char *out = rep;
		size_t len;

		if (lf == NULL) {
			if (poll(&pfd, 1, 600000) != 1)
				_exit(1);
			r = read(0, in + have, sizeof(in) - have);
			if (r <= 0)
				_exit(r == 0 ? 0 : 1);
			have += (size_t)r;
			continue;
		}
		if (strncmp(in, "HELO", 4) == 0)
			len = (size_t)snprintf(
			    rep, sizeof(rep), "#%lu messages\r\n", count);
		else if (strncmp(in, "RETR", 4) == 0) {
			out = msg;
			len = size;
		} else if (strncmp(in, "QUIT", 4) == 0)
			len = (size_t)snprintf(rep, sizeof(rep), "+ OK\r\n");
		else {
			if (strncmp(in, "ACKS", 4) == 0)
				cur++;
			len = (size_t)snprintf(rep, sizeof(rep),
			    "=%lu characters\r\n", cur <= count ? size : 0);
		}
		for (k = 0; k < len; k += (size_t)r)
			if ((r = write(1, out + k, len - k)) <= 0)
				_exit(1);
		k = (size_t)(lf + 1 - in);
		memmove(in, lf + 1, have - k);
		have -= k;
	}
}

static uint64_t
write_bytes(pid_t pid)
{
	char path[64], line[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "write_bytes: %llu", &v) == 1)
			break;
	fclose(f);
	return v;
}

int
main(int argc, char **argv)
{
	const char *helo = "HELO alice wonderland", *mode;
	char line[1100], cmd[64];
	uint64_t t0, t1, t2, t3, t4, octets = 0, msgs = 0, wire, wb;
	unsigned long a = 0, b = 0, n, fcount = 0, fsize = 0;
	int null = 0;
	int in[2], out[2], status, opt;
	struct rusage ru;
	siginfo_t si;
	pid_t pid;

	while ((opt = getopt(argc, argv, "+u:")) != -1) {
		if (opt == 'u')
			helo = optarg;
		else
			return 64;
	}
	if (argc - optind >= 2 && strncmp(argv[optind], "floor:", 6) == 0 &&
	    strcmp(argv[optind + 1], "--") == 0) {
		if (sscanf(argv[optind] + 6, "%lu:%lu", &fcount, &fsize) != 2)
			die("floor:C:S");
		null = 1;
	} else if (argc - optind < 3 || strcmp(argv[optind + 1], "--") != 0) {
		fprintf(stderr,
		    "usage: drive [-u HELO-line] login|all|"
		    "retr:N|retr:A-B|read:A-B|del:A-B -- POP2D [ARGS...]\n"
		    "       drive floor:C:S --\n");
		return 64;
	}
	mode = null ? "all" : argv[optind];
	if (strncmp(mode, "retr:", 5) == 0 && strchr(mode, '-') == NULL)
		a = b = strtoul(mode + 5, NULL, 10);
	else if ((strncmp(mode, "del:", 4) == 0 ||
		     strncmp(mode, "retr:", 5) == 0 ||
		     strncmp(mode, "read:", 5) == 0) &&
	    sscanf(strchr(mode, ':') + 1, "%lu-%lu", &a, &b) != 2)
		die("MODE:A-B");
	else if (strcmp(mode, "login") != 0 && strcmp(mode, "all") != 0 &&
	    strncmp(mode, "del:", 4) != 0 && strncmp(mode, "retr:", 5) != 0 &&
	    strncmp(mode, "read:", 5) != 0)
		die("unknown mode");

	signal(SIGPIPE, SIG_IGN);
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1)
		die_errno("pipe");
	t0 = now_us();
	if ((pid = fork()) == -1)
		die_errno("fork");
	if (pid == 0) {
		if (dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1)
			_exit(127);
		if (null) {
			close(in[1]);
			close(out[0]);
			null_server(fcount, fsize);
		}
		execv(argv[optind + 2], argv + optind + 2);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	to_srv = in[1];
	from_srv = out[0];

	reply(line, sizeof(line));
	t1 = now_us();
	send_line(helo);
	reply(line, sizeof(line));
	(void)count_of(line, '#');
	t2 = now_us();
	if (strcmp(mode, "all") == 0) {
		send_line("READ");
		for (;;) {
			reply(line, sizeof(line));
			if ((wire = count_of(line, '=')) == 0)
				break;
			send_line("RETR");
			take(wire);
			octets += wire;
			msgs++;
			send_line("ACKS");
		}
	} else if (a > 0) {
		for (n = a; n <= b; n++) {
			snprintf(cmd, sizeof(cmd), "READ %lu", n);
			send_line(cmd);
			reply(line, sizeof(line));
			if ((wire = count_of(line, '=')) == 0)
				die("no such message");
			if (strncmp(mode, "read:", 5) == 0) {
				/* read:A-B: READ alone, the cost of a command. */
				msgs++;
				continue;
			}
			send_line("RETR");
			take(wire);
			octets += wire;
			msgs++;
			send_line(mode[0] == 'd' ? "ACKD" : "ACKS");
			reply(line, sizeof(line));
		}
	}
	t3 = now_us();
	send_line("QUIT");
	reply(line, sizeof(line));
	t4 = now_us();
	close(to_srv);
	while (fill())
		;
	/* Read its I/O account while it is a zombie, then reap it. */
	if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT) == -1)
		die_errno("waitid");
	wb = write_bytes(pid);
	if (wait4(pid, &status, 0, &ru) == -1)
		die_errno("wait4");
	printf("login_us=%llu work_us=%llu quit_us=%llu total_us=%llu "
	       "octets=%llu msgs=%llu rss_kib=%ld write_bytes=%lld status=%d "
	       "cpu_us=%lld\n",
	    (unsigned long long)(t2 - t1), (unsigned long long)(t3 - t2),
	    (unsigned long long)(t4 - t3), (unsigned long long)(t4 - t0),
	    (unsigned long long)octets, (unsigned long long)msgs, ru.ru_maxrss,
	    wb == UINT64_MAX ? -1LL : (long long)wb,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
	    (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
		ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}
