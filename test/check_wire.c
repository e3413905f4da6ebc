/*
 * check_wire: every scanner implementation against the others, and the
 * wire conversion against an independent reference.
 *
 * Each scanner built in (scan_impls[]: scalar, SSE2, AVX2) that this
 * processor can run gets the same inputs: hand-made edge cases (an LF, a
 * CR, CRLF, empty lines and "From " lines at every offset around the
 * 64-octet blocks, hidden fields at the WIRE_HDR_LOOK limit, chunks larger
 * than WIRE_WHOLE), pseudo-random texts from a fixed seed, and every file
 * of the fuzz corpus in the tree (test/fuzz/corpus). Every scanner function
 * is compared with a per-octet loop; every index (mbox_index_with) and
 * every message sent (mbox_send, wire_send_file) with the scalar one's,
 * octet for octet, and with test/fuzz/wire_ref.h's reading of SPEC §2. A
 * scanner this processor lacks is reported as a SKIP line and counted.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mbox.h"
#include "scan.h"
#include "wire.h"

#include "fuzz/wire_ref.h"

#ifndef FUZZ_CORPUS
#error "FUZZ_CORPUS must name the test/fuzz/corpus directory"
#endif

/* The scanners this processor runs, scalar first. */
static const struct scan_impl *impl[8];
static size_t nimpl;

/* A growing buffer of octets. */
struct buf {
	char *p;
	size_t len;
	size_t cap;
};

static void
buf_add(struct buf *b, const char *p, size_t n)
{
	char *np;

	if (n > b->cap - b->len) {
		b->cap = (b->len + n) * 2;
		np = realloc(b->p, b->cap);
		ck_assert_ptr_nonnull(np);
		b->p = np;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
ref_emit(void *arg, const char *p, size_t n)
{
	buf_add(arg, p, n);
}

static int
sink_write(void *arg, const void *p, size_t n)
{
	buf_add(arg, p, n);
	return 0;
}

static void
find_impls(void)
{
	size_t i;

	nimpl = 0;
	for (i = 0; scan_impls[i] != NULL; i++)
		if (scan_impls[i]->usable())
			impl[nimpl++] = scan_impls[i];
}

/* The reference answers, one octet at a time. */

static uint64_t
slow_bare_lf(const char *p, size_t n, char before)
{
	uint64_t k = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] == '\n' && (i > 0 ? p[i - 1] : before) != '\r')
			k++;
	return k;
}

static const char *
slow_run(const char *p, const char *e, uint64_t *bare)
{
	const char *q, *end = p, *line = p;

	for (q = p; q < e; q++) {
		if (q == line &&
		    (q[0] == '\n' ||
			(q[0] == '\r' && q + 1 < e && q[1] == '\n')))
			return end;
		if (q[0] == '\n') {
			if (q > line && q[-1] != '\r')
				++*bare;
			line = end = q + 1;
		}
	}
	return end;
}

/*
 * Compares every scanner function of every implementation with the
 * per-octet answers on [P, P + N), for every start in the first STARTS
 * octets and every end in the last ENDS.
 */
static void
check_scanners(const char *p, size_t n, size_t starts, size_t ends)
{
	size_t i, s, t, k, w;
	char *dst;
	int ok;

	dst = malloc(2 * n + SCAN_SLACK);
	ck_assert_ptr_nonnull(dst);
	for (s = 0; s < starts && s <= n; s++)
		for (t = n >= ends ? n - ends : 0; t <= n; t++) {
			const char *q = p + s, *e = p + (t > s ? t : s);
			size_t len = (size_t)(e - q);
			uint64_t want_bare = 0, bare, lfs;
			const char *want_end = slow_run(q, e, &want_bare);
			char before = s > 0 ? p[s - 1] : '\n';

			lfs = slow_bare_lf(q, len, before);
			for (i = 0; i < nimpl; i++) {
				struct scan_cursor c = { NULL, 0 };
				const char *x, *nl;

				/*
				 * Plain comparisons, one assertion each: Check
				 * records every assertion it passes.
				 */
				bare = 0;
				ok = impl[i]->run(q, e, &bare) == want_end &&
				    bare == want_bare;
				ok = ok &&
				    impl[i]->bare_lf(q, len, before) == lfs;
				/* Every LF, found in order. */
				for (x = q; ok; x = nl + 1) {
					nl = impl[i]->lf_next(&c, x, e);
					ok = nl ==
					    (x < e ? memchr(x, '\n',
							 (size_t)(e - x))
						   : NULL);
					if (nl == NULL)
						break;
				}
				w = impl[i]->crlf(dst, q, len, before);
				ok = ok && w == len + lfs;
				/* The octets: the input, a CR before bare LFs.
				 */
				for (k = 0, x = q; ok && x < e; x++) {
					if (*x == '\n' &&
					    (x > q ? x[-1] : before) != '\r')
						ok = dst[k++] == '\r';
					ok = ok && dst[k++] == *x;
				}
				if (!ok)
					ck_abort_msg("%s differs from the "
						     "per-octet answer on "
						     "[%zu, %zu) of %zu",
					    impl[i]->name, s, t, n);
			}
		}
	free(dst);
}

/* An anonymous file holding P (N octets). */
static int
memfile(const char *p, size_t n)
{
	size_t off;
	ssize_t r;
	int fd;

	fd = memfd_create("check_wire", MFD_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	for (off = 0; off < n; off += (size_t)r) {
		r = write(fd, p + off, n - off);
		ck_assert_int_gt(r, 0);
	}
	return fd;
}

static int
same_msgs(const struct mbox *a, const struct mbox *b)
{
	return a->size == b->size && a->nmsg == b->nmsg &&
	    a->first == b->first && a->nchunk == b->nchunk &&
	    (a->nmsg == 0 ||
		memcmp(a->msg, b->msg, a->nmsg * sizeof(*a->msg)) == 0) &&
	    (a->nchunk == 0 ||
		memcmp(a->chunk, b->chunk, a->nchunk * sizeof(*a->chunk)) == 0);
}

/*
 * Runs the text P (N octets, named WHAT) through every implementation as
 * an mbox and as one Maildir message; the indexes and the octets sent must
 * be the scalar scanner's and the reference's. Returns the messages seen.
 */
static size_t
check_text(const char *p, size_t n, const char *what)
{
	struct mbox mb[8];
	struct buf ref = { NULL, 0, 0 }, got = { NULL, 0, 0 };
	struct sink sink = { sink_write, &got };
	struct wire_msg fm[8];
	const struct wire_msg *m;
	size_t i, k, count;
	int fd;

	fd = memfile(p, n);
	for (i = 0; i < nimpl; i++) {
		ck_assert_msg(mbox_index_with(&mb[i], fd, impl[i]) == 0,
		    "%s: index with %s: %s", what, impl[i]->name,
		    strerror(errno));
		ck_assert_ptr_eq(mb[i].scan, impl[i]);
		ck_assert_msg(same_msgs(&mb[0], &mb[i]),
		    "%s: the %s index differs from the scalar one", what,
		    impl[i]->name);
	}
	count = mbox_count(&mb[0]);
	for (k = 1; k <= count; k++) {
		m = mbox_get(&mb[0], k);
		ref.len = 0;
		ref_wire(
		    p + m->body, (size_t)(m->end - m->body), ref_emit, &ref);
		ck_assert_msg(ref.len == m->wire,
		    "%s: message %zu: =%llu announced, %zu by SPEC", what, k,
		    (unsigned long long)m->wire, ref.len);
		for (i = 0; i < nimpl; i++) {
			got.len = 0;
			ck_assert_msg(mbox_send(&mb[i], k, &sink) == 0,
			    "%s: send %zu with %s: %s", what, k, impl[i]->name,
			    strerror(errno));
			ck_assert_msg(got.len == ref.len &&
				memcmp(got.p, ref.p, ref.len) == 0,
			    "%s: message %zu sent by %s differs", what, k,
			    impl[i]->name);
		}
	}
	/* The whole text as one Maildir message. */
	ref.len = 0;
	ref_wire(p, n, ref_emit, &ref);
	for (i = 0; i < nimpl; i++) {
		ck_assert_int_eq(wire_index_file(fd, impl[i], &fm[i]), 0);
		ck_assert_msg(fm[i].wire == ref.len && fm[i].end == n &&
			fm[i].hash == fm[0].hash,
		    "%s: as a file, %s counts %llu, SPEC %zu", what,
		    impl[i]->name, (unsigned long long)fm[i].wire, ref.len);
		got.len = 0;
		ck_assert_int_eq(wire_send_file(fd, &fm[i], impl[i], &sink), 0);
		ck_assert_msg(
		    got.len == ref.len && memcmp(got.p, ref.p, ref.len) == 0,
		    "%s: the file sent by %s differs", what, impl[i]->name);
	}
	for (i = 0; i < nimpl; i++)
		mbox_free(&mb[i]);
	close(fd);
	free(ref.p);
	free(got.p);
	return count;
}

/* A pseudo-random generator with a fixed seed: the same inputs each run. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char *const pieces[] = {
	"From a@b Thu Jan  1 00:00:00 1970\n",
	"From a@b Thu Jan  1 00:00:00 1970\r\n",
	"From nobody\n",
	"\n",
	"\r\n",
	"\r",
	"\n\n",
	"\r\n\r\n",
	"Status: RO\n",
	"X-Status: F\r\n",
	"x-uid: 7\n",
	"X-IMAPbase: 1 2\n",
	"X-IMAP: 1\n",
	"X-Keywords:\n",
	"Content-Length: 3\n",
	"Content-Length: 0\n",
	"CONTENT-LENGTH :\t12\n",
	"Subject: DON'T DELETE THIS MESSAGE -- FOLDER INTERNAL DATA\n",
	"Subject: hello\n",
	"X-UIDs: not hidden\n",
	"Statusbar: kept\n",
	" continued\n",
	"\tcontinued\r\n",
	":no name\n",
	"Received: from x\n",
	"body text\n",
	">From quoted\n",
	"a\0b\n",
};

/*
 * A text of LEN octets from PIECES and runs of 'x'; without SEPS, no
 * separator line (the first two pieces), so that it is one message.
 */
static size_t
gen_text(char *t, size_t len, int seps, uint64_t *seed)
{
	size_t n = 0, k, r;
	const char *pc;

	while (n < len) {
		r = rnd(seed) % 40;
		if (!seps && r < 2)
			continue;
		if (r < sizeof(pieces) / sizeof(pieces[0])) {
			pc = pieces[r];
			/* "a\0b\n" holds a NUL: take its 4 octets. */
			k = pc[0] == 'a' && pc[1] == '\0' ? 4 : strlen(pc);
		} else {
			/* A run around the block and look-ahead sizes. */
			static const size_t runs[] = { 1, 62, 63, 64, 65, 127,
				128, 129, WIRE_HDR_LOOK - 8, 300 };
			pc = NULL;
			k = runs[rnd(seed) % (sizeof(runs) / sizeof(runs[0]))];
		}
		if (k > len - n)
			k = len - n;
		if (pc != NULL)
			memcpy(t + n, pc, k);
		else
			memset(t + n, 'x', k);
		n += k;
	}
	return n;
}

START_TEST(test_hidden_table)
{
	/* SPEC §2's list, in its words. */
	static const char *const spec[] = { "status", "x-status", "x-keywords",
		"x-uid", "x-imap", "x-imapbase", "content-length" };
	size_t i, k;

	for (i = 0; wire_hidden[i] != NULL; i++) {
		for (k = 0; k < sizeof(spec) / sizeof(spec[0]); k++)
			if (strcmp(spec[k], wire_hidden[i]) == 0)
				break;
		ck_assert_msg(k < sizeof(spec) / sizeof(spec[0]),
		    "%s is not in SPEC's list", wire_hidden[i]);
		ck_assert_ptr_nonnull(
		    strchr(WIRE_HIDDEN_FIRST, wire_hidden[i][0]));
	}
	ck_assert_uint_eq(i, sizeof(spec) / sizeof(spec[0]));
}
END_TEST

START_TEST(test_hidden_fields)
{
	static const struct {
		const char *line;
		int hidden;
	} t[] = {
		{ "Status: RO\n", 1 },
		{ "status:\n", 1 },
		{ "STATUS :x\n", 1 },
		{ "Status\t \t:x\n", 1 },
		{ "X-Status: A\r\n", 1 },
		{ "X-Keywords: $x\n", 1 },
		{ "X-UID: 1\n", 1 },
		{ "X-IMAP: 1 2\n", 1 },
		{ "X-IMAPbase: 1 2\n", 1 },
		{ "Content-Length: 12\n", 1 },
		{ "Status", 0 },
		{ "Status\n", 0 },
		{ "Status x:\n", 0 },
		{ "Statu: x\n", 0 },
		{ "Statuss: x\n", 0 },
		{ "X-UIDL: 1\n", 0 },
		{ "X-IMAP-Foo: 1\n", 0 },
		{ ": x\n", 0 },
		{ " Status: x\n", 0 },
		{ "\rStatus: x\n", 0 },
		{ "Subject: x\n", 0 },
		{ "Content-Type: x\n", 0 },
	};
	char line[WIRE_HDR_LOOK + 16], name[WIRE_HDR_LOOK];
	size_t i, len, colon;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(
		    wire_is_hidden(t[i].line, strlen(t[i].line)) == t[i].hidden,
		    "%s", t[i].line);
		len = ref_field(t[i].line, strlen(t[i].line), name, &colon);
		ck_assert_int_eq(
		    len > 0 && ref_name_hidden(name, len), t[i].hidden);
	}
	/* The ':' must come within the first WIRE_HDR_LOOK octets. */
	for (len = 6; len < WIRE_HDR_LOOK + 4; len++) {
		memset(line, ' ', sizeof(line));
		memcpy(line, "Status", 6);
		line[len] = ':';
		line[len + 1] = '\n';
		ck_assert_int_eq(
		    wire_is_hidden(line, len + 2), len < WIRE_HDR_LOOK);
		ck_assert_int_eq(ref_field(line, len + 2, name, &colon) == 6,
		    len < WIRE_HDR_LOOK);
	}
}
END_TEST

/* An LF, a CR, CRLF, "\n\n" or "\r\n\r\n" at every offset of 3 blocks. */
START_TEST(test_scanners_offsets)
{
	static const char *const marks[] = { "\n", "\r", "\r\n", "\n\n",
		"\r\n\r\n", "\n\r\n", "\r\r\n", "\n\r" };
	char t[200];
	size_t off, m;

	for (m = 0; m < sizeof(marks) / sizeof(marks[0]); m++)
		for (off = 0; off + strlen(marks[m]) <= sizeof(t); off++) {
			memset(t, 'a', sizeof(t));
			/* A line end every 70 octets besides the mark. */
			t[69] = t[139] = '\n';
			memcpy(t + off, marks[m], strlen(marks[m]));
			check_scanners(t, sizeof(t), 3, 3);
		}
}
END_TEST

/* Random mixes of 'a', LF, CR and blanks, every window near the ends. */
START_TEST(test_scanners_random)
{
	static const char alpha[] = "aaaa\n\r :";
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char t[700];
	size_t i, k, n;

	for (k = 0; k < 300; k++) {
		n = (size_t)(rnd(&seed) % sizeof(t)) + 1;
		for (i = 0; i < n; i++)
			t[i] = alpha[rnd(&seed) % (sizeof(alpha) - 1)];
		check_scanners(t, n, 2, 2);
	}
}
END_TEST

/* Header lines and "From " lines split across the blocks. */
START_TEST(test_texts_offsets)
{
	static const char *const lines[] = { "Status: RO\n", "X-UID: 1\r\n",
		"Content-Length: 0\n", "\n", "\r\n",
		"From a@b Thu Jan  1 00:00:00 1970\n", " cont\n", "\r" };
	char t[400];
	size_t i, off, n;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		for (off = 0; off < 140; off++) {
			n = 0;
			memcpy(t, "From a@b Thu Jan  1 00:00:00 1970\n", 34);
			n = 34;
			memset(t + n, 'h', off);
			n += off;
			t[n++] = ':';
			t[n++] = '\n';
			memcpy(t + n, lines[i], strlen(lines[i]));
			n += strlen(lines[i]);
			memcpy(t + n, "Subject: s\n\nbody\n\n", 18);
			n += 18;
			memcpy(t + n, lines[i], strlen(lines[i]));
			n += strlen(lines[i]);
			memcpy(t + n, "tail\r\n\r", 7);
			n += 7;
			check_text(t, n, lines[i]);
		}
}
END_TEST

/* Texts from pieces, at many sizes, and one over WIRE_WHOLE. */
START_TEST(test_texts_random)
{
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	size_t k, n, len;
	char *t;

	len = 2 * WIRE_WHOLE + 12345;
	t = malloc(len);
	ck_assert_ptr_nonnull(t);
	for (k = 0; k < 200; k++) {
		n = gen_text(t, (size_t)(rnd(&seed) % 3000), 1, &seed);
		check_text(t, n, "random text");
	}
	/* One message over WIRE_WHOLE: streamed and checked by chunks. */
	memcpy(t, "From a@b Thu Jan  1 00:00:00 1970\n", 34);
	n = 34 + gen_text(t + 34, len - 34, 0, &seed);
	ck_assert_uint_eq(check_text(t, n, "large text"), 1);
	free(t);
}
END_TEST

/* Every file of the fuzz corpus, of every harness. */
START_TEST(test_fuzz_corpus)
{
	char dir[PATH_MAX], path[PATH_MAX * 2];
	struct dirent *h, *f;
	DIR *top, *d;
	struct stat st;
	size_t files = 0;
	char *p;
	ssize_t r;
	int fd;

	top = opendir(FUZZ_CORPUS);
	ck_assert_ptr_nonnull(top);
	while ((h = readdir(top)) != NULL) {
		if (h->d_name[0] == '.')
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", FUZZ_CORPUS, h->d_name);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((f = readdir(d)) != NULL) {
			snprintf(path, sizeof(path), "%s/%s", dir, f->d_name);
			if (f->d_name[0] == '.' || stat(path, &st) == -1 ||
			    !S_ISREG(st.st_mode))
				continue;
			fd = open(path, O_RDONLY | O_CLOEXEC);
			ck_assert_int_ge(fd, 0);
			p = malloc((size_t)st.st_size + 1);
			ck_assert_ptr_nonnull(p);
			r = read(fd, p, (size_t)st.st_size);
			ck_assert_int_eq(r, st.st_size);
			close(fd);
			check_text(p, (size_t)r, path);
			check_scanners(p, (size_t)r, 2, 2);
			free(p);
			files++;
		}
		closedir(d);
	}
	closedir(top);
	/* The tree holds the mbox seeds at least. */
	ck_assert_uint_ge(files, 30);
}
END_TEST

static Suite *
wire_suite(void)
{
	Suite *s;
	TCase *tc;

	s = suite_create("wire");

	tc = tcase_create("hidden");
	tcase_add_test(tc, test_hidden_table);
	tcase_add_test(tc, test_hidden_fields);
	suite_add_tcase(s, tc);

	tc = tcase_create("scanners");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_scanners_offsets);
	tcase_add_test(tc, test_scanners_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("texts");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_texts_offsets);
	tcase_add_test(tc, test_texts_random);
	tcase_add_test(tc, test_fuzz_corpus);
	suite_add_tcase(s, tc);

	return s;
}

int
main(void)
{
	static const char *const vector[] = { "sse2", "avx2" };
	SRunner *sr;
	size_t i, skipped = 0;
	int failed;

	find_impls();
	/* The vector scanners exist only in an x86 build. */
	for (i = 0; i < sizeof(vector) / sizeof(vector[0]); i++)
		if (scan_find(vector[i]) == NULL) {
			printf("SKIP: scanner %s: not built for this "
			       "architecture\n",
			    vector[i]);
			skipped++;
		}
	for (i = 0; scan_impls[i] != NULL; i++)
		if (!scan_impls[i]->usable()) {
			printf("SKIP: scanner %s: this processor lacks it\n",
			    scan_impls[i]->name);
			skipped++;
		}
	printf("scanners compared:");
	for (i = 0; i < nimpl; i++)
		printf(" %s", impl[i]->name);
	printf("; skipped: %zu\n", skipped);
	fflush(stdout);
	sr = srunner_create(wire_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
