#include "config.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io.h"

/* A write backend that records every call and can fail or write short. */
struct recorder {
	char data[65536];
	size_t len;
	int calls;
	size_t max_per_call; /* 0: no limit */
	int fail_after; /* fail once this many octets were taken; -1 never */
};

static ssize_t
record_write(struct io *io, const void *buf, size_t len)
{
	struct recorder *r = io->arg;

	r->calls++;
	if (r->fail_after >= 0 && r->len >= (size_t)r->fail_after) {
		errno = EPIPE;
		return -1;
	}
	if (r->max_per_call != 0 && len > r->max_per_call)
		len = r->max_per_call;
	ck_assert_uint_le(r->len + len, sizeof(r->data));
	memcpy(r->data + r->len, buf, len);
	r->len += len;
	return (ssize_t)len;
}

static struct io io;
static struct recorder rec;

static void
setup(void)
{
	memset(&io, 0, sizeof(io));
	memset(&rec, 0, sizeof(rec));
	rec.fail_after = -1;
	io.write_fn = record_write;
	io.arg = &rec;
}

START_TEST(buffered_until_flush)
{
	ck_assert_int_eq(io_put(&io, "+ POP2 ", 7), 0);
	ck_assert_int_eq(io_put(&io, "ready\r\n", 7), 0);
	ck_assert_int_eq(rec.calls, 0);
	ck_assert_int_eq(io_flush(&io), 0);
	ck_assert_int_eq(rec.calls, 1);
	ck_assert_uint_eq(rec.len, 14);
	ck_assert(memcmp(rec.data, "+ POP2 ready\r\n", 14) == 0);
	ck_assert_int_eq(io_flush(&io), 0);
	ck_assert_uint_eq(rec.len, 14);
}
END_TEST

START_TEST(large_put_keeps_order)
{
	static char big[40000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)('a' + i % 26);
	ck_assert_int_eq(io_put(&io, "=40000\r\n", 8), 0);
	ck_assert_int_eq(io_put(&io, big, sizeof(big)), 0);
	ck_assert_int_eq(io_put(&io, "tail", 4), 0);
	ck_assert_int_eq(io_flush(&io), 0);
	ck_assert_uint_eq(rec.len, 8 + sizeof(big) + 4);
	ck_assert(memcmp(rec.data, "=40000\r\n", 8) == 0);
	ck_assert(memcmp(rec.data + 8, big, sizeof(big)) == 0);
	ck_assert(memcmp(rec.data + 8 + sizeof(big), "tail", 4) == 0);
}
END_TEST

START_TEST(short_writes_completed)
{
	rec.max_per_call = 3;
	ck_assert_int_eq(io_put(&io, "=123 characters\r\n", 17), 0);
	ck_assert_int_eq(io_flush(&io), 0);
	ck_assert_uint_eq(rec.len, 17);
	ck_assert_int_eq(rec.calls, 6);
}
END_TEST

START_TEST(write_error_reported)
{
	rec.fail_after = 4;
	rec.max_per_call = 4;
	ck_assert_int_eq(io_put(&io, "abcdefgh", 8), 0);
	ck_assert_int_eq(io_flush(&io), -1);
	ck_assert_int_eq(errno, EPIPE);
	ck_assert_uint_eq(rec.len, 4);
}
END_TEST

START_TEST(read_times_out)
{
	int p[2];
	char c;
	struct io rio;

	ck_assert_int_eq(pipe(p), 0);
	io_init(&rio, p[0], p[1], 50);
	ck_assert_int_eq(io_read(&rio, &c, 1), -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	ck_assert_int_eq(write(p[1], "x", 1), 1);
	ck_assert_int_eq(io_read(&rio, &c, 1), 1);
	ck_assert_int_eq(c, 'x');
	close(p[1]);
	ck_assert_int_eq(io_read(&rio, &c, 1), 0);
	close(p[0]);
}
END_TEST

START_TEST(blocked_write_times_out)
{
	static char chunk[65536];
	int p[2];
	struct io wio;
	int r = 0, i;

	/* Nobody reads the pipe: the write must give up, not hang. */
	ck_assert_int_eq(pipe(p), 0);
	io_init(&wio, p[0], p[1], 50);
	for (i = 0; i < 64 && r == 0; i++)
		r = io_put(&wio, chunk, sizeof(chunk));
	ck_assert_int_eq(r, -1);
	ck_assert_int_eq(errno, ETIMEDOUT);
	close(p[0]);
	close(p[1]);
}
END_TEST

START_TEST(stop_flag_interrupts)
{
	volatile sig_atomic_t stop = 1;
	int p[2];
	char c;
	struct io rio;

	ck_assert_int_eq(pipe(p), 0);
	io_init(&rio, p[0], p[1], -1);
	rio.stop = &stop;
	ck_assert_int_eq(io_read(&rio, &c, 1), -1);
	ck_assert_int_eq(errno, EINTR);
	close(p[0]);
	close(p[1]);
}
END_TEST

static Suite *
io_suite(void)
{
	Suite *s = suite_create("io");
	TCase *core = tcase_create("core");
	TCase *faults = tcase_create("faults");

	tcase_add_checked_fixture(core, setup, NULL);
	tcase_add_checked_fixture(faults, setup, NULL);
	tcase_add_test(core, buffered_until_flush);
	tcase_add_test(core, large_put_keeps_order);
	tcase_add_test(core, short_writes_completed);
	tcase_add_test(faults, write_error_reported);
	tcase_add_test(faults, read_times_out);
	tcase_add_test(faults, blocked_write_times_out);
	tcase_add_test(faults, stop_flag_interrupts);
	suite_add_tcase(s, core);
	suite_add_tcase(s, faults);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(io_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
