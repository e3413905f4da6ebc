/*
 * gen: writes an mbox of COUNT messages of SIZE stored octets each (the
 * "From " line and the separating empty line included) to standard output.
 * The text is printable ASCII in lines of 72 characters, varied from
 * message to message so that no two messages are alike; with SEED the
 * variation changes. Meant for the benchmark: fast, not realistic.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LINE 72
#define OUTSZ (1024 * 1024)

static char out[OUTSZ];
static size_t outlen;

static void
die(const char *what)
{
	fprintf(stderr, "gen: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
flush(void)
{
	size_t off;
	ssize_t w;

	for (off = 0; off < outlen; off += (size_t)w) {
		w = write(1, out + off, outlen - off);
		if (w == -1) {
			if (errno == EINTR) {
				w = 0;
				continue;
			}
			die("write");
		}
	}
	outlen = 0;
}

static void
put(const char *p, size_t n)
{
	while (n > 0) {
		size_t k = OUTSZ - outlen < n ? OUTSZ - outlen : n;

		memcpy(out + outlen, p, k);
		outlen += k;
		p += k;
		n -= k;
		if (outlen == OUTSZ)
			flush();
	}
}

static uint64_t
next(uint64_t *s)
{
	/* splitmix64: cheap and good enough to vary the text. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long long
number(const char *s, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end != '\0' || errno != 0) {
		fprintf(stderr, "gen: bad %s: %s\n", what, s);
		exit(64);
	}
	return v;
}

int
main(int argc, char **argv)
{
	static const char alphabet[] =
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789  ";
	char pool[4096], head[256];
	unsigned long long count, size, i, left;
	uint64_t seed;
	size_t k, hl;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: gen COUNT SIZE [SEED]\n");
		return 64;
	}
	count = number(argv[1], "count");
	size = number(argv[2], "size");
	seed = argc == 4 ? number(argv[3], "seed") : 1;
	/* Lines of LINE characters and a newline, cut from a random pool. */
	for (k = 0; k < sizeof(pool); k++)
		pool[k] = (k % (LINE + 1) == LINE)
		    ? '\n'
		    : alphabet[next(&seed) % (sizeof(alphabet) - 1)];
	for (i = 1; i <= count; i++) {
		hl = (size_t)snprintf(head, sizeof(head),
		    "From sender@example.org Mon Nov 16 09:12:44 2026\n"
		    "From: Sender <sender@example.org>\n"
		    "To: alice@example.org\n"
		    "Subject: message %llu\n"
		    "Message-ID: <%llu.%llu@example.org>\n\n",
		    i, i, (unsigned long long)seed);
		if (size < hl + 2) {
			fprintf(
			    stderr, "gen: size must be at least %zu\n", hl + 2);
			return 64;
		}
		put(head, hl);
		/* The body, ended by a newline, then the empty separator line.
		 */
		left = size - hl - 1;
		while (left > 1) {
			size_t start = (size_t)(next(&seed) % 32) * (LINE + 1);
			size_t n = sizeof(pool) - start;

			if (n > left - 1)
				n = (size_t)(left - 1);
			put(pool + start, n);
			left -= n;
		}
		put("\n\n", 2);
	}
	flush();
	return 0;
}
