#include "config.h"

#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "proxy.h"

/* The octets after every header below: they belong to the client. */
#define CLIENT "HELO alice wonderland\r\n"

static const unsigned char v2sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

/*
 * Feeds LEN octets at DATA in one call; then again in pieces of every size
 * from 1 to 7, checking that the status, the length and the result agree.
 * Returns the one-call parser's status, its state in *P.
 */
static enum proxy_status
feed(struct proxy_parser *p, const void *data, size_t len)
{
	enum proxy_status st, st2 = PROXY_MORE;
	struct proxy_parser q;
	size_t used, piece, at;

	proxy_init(p);
	st = proxy_feed(p, data, len, &used);
	if (st == PROXY_DONE)
		ck_assert_uint_eq(used, proxy_length(p));
	if (st == PROXY_MORE)
		ck_assert_uint_eq(used, len);
	for (piece = 1; piece <= 7; piece++) {
		proxy_init(&q);
		for (at = 0; at < len; at += used) {
			size_t n = len - at < piece ? len - at : piece;

			st2 = proxy_feed(&q, (const char *)data + at, n, &used);
			if (st2 != PROXY_MORE)
				break;
			ck_assert_uint_eq(used, n);
		}
		ck_assert_int_eq(st2, st);
		if (st == PROXY_DONE) {
			ck_assert_uint_eq(proxy_length(&q), proxy_length(p));
			ck_assert(memcmp(&q.result, &p->result,
				      sizeof(q.result)) == 0);
		}
		if (st == PROXY_BAD)
			ck_assert_str_eq(q.why, p->why);
	}
	return st;
}

static enum proxy_status
feed_str(struct proxy_parser *p, const char *s)
{
	return feed(p, s, strlen(s));
}

/* HDR followed by the client's first command, in a static buffer. */
static const char *
with_client(const char *hdr)
{
	static char buf[512];

	snprintf(buf, sizeof(buf), "%s%s", hdr, CLIENT);
	return buf;
}

/* Whether SS holds FAMILY's address TEXT and PORT. */
static void
assert_address(const struct sockaddr_storage *ss, int family, const char *text,
    unsigned port)
{
	char got[INET6_ADDRSTRLEN];

	ck_assert_int_eq(ss->ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;

		ck_assert_ptr_nonnull(
		    inet_ntop(AF_INET, &sin->sin_addr, got, sizeof(got)));
		ck_assert_uint_eq(ntohs(sin->sin_port), port);
	} else {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)ss;

		ck_assert_ptr_nonnull(
		    inet_ntop(AF_INET6, &sin6->sin6_addr, got, sizeof(got)));
		ck_assert_uint_eq(ntohs(sin6->sin6_port), port);
	}
	ck_assert_str_eq(got, text);
}

static void
assert_v1_bad(const char *line, const char *why)
{
	struct proxy_parser p;

	ck_assert_msg(feed_str(&p, line) == PROXY_BAD, "accepted: %s", line);
	if (why != NULL)
		ck_assert_msg(strcmp(p.why, why) == 0,
		    "%s: why \"%s\", not \"%s\"", line, p.why, why);
}

START_TEST(v1_tcp4)
{
	static const char hdr[] =
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	struct proxy_parser p;
	size_t used;

	ck_assert_int_eq(feed_str(&p, with_client(hdr)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), strlen(hdr));
	ck_assert_int_eq(p.result.version, 1);
	ck_assert(!p.result.local);
	assert_address(&p.result.src, AF_INET, "192.168.0.1", 56324);
	assert_address(&p.result.dst, AF_INET, "192.168.0.11", 443);
	/* Done is done: nothing more is taken. */
	ck_assert_int_eq(
	    proxy_feed(&p, CLIENT, strlen(CLIENT), &used), PROXY_DONE);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(v1_tcp6)
{
	static const char hdr[] = "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n";
	struct proxy_parser p;

	ck_assert_int_eq(feed_str(&p, with_client(hdr)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), strlen(hdr));
	assert_address(&p.result.src, AF_INET6, "2001:db8::1", 1);
	assert_address(&p.result.dst, AF_INET6, "::1", 65535);
	/* An IPv4-mapped address, as an IPv6 listener's peer is named. */
	ck_assert_int_eq(
	    feed_str(
		&p, "PROXY TCP6 ::ffff:127.0.0.5 ::ffff:127.0.0.1 0 109\r\n"),
	    PROXY_DONE);
	assert_address(&p.result.src, AF_INET6, "::ffff:127.0.0.5", 0);
	ck_assert_int_eq(
	    feed_str(&p, "PROXY TCP6 FFFF:ffff:0:0:0:0:0:1 ::1 9 9\r\n"),
	    PROXY_DONE);
	assert_address(&p.result.src, AF_INET6, "ffff:ffff::1", 9);
}
END_TEST

START_TEST(v1_unknown)
{
	struct proxy_parser p;

	ck_assert_int_eq(feed_str(&p, "PROXY UNKNOWN\r\n" CLIENT), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), 15);
	ck_assert(p.result.local);
	ck_assert_int_eq(p.result.src.ss_family, 0);
	/* Whatever follows UNKNOWN and a space is ignored. */
	ck_assert_int_eq(
	    feed_str(&p, "PROXY UNKNOWN anything \x01 at all\r\n"), PROXY_DONE);
	ck_assert(p.result.local);
	ck_assert_int_eq(feed_str(&p, "PROXY UNKNOWN \r\n"), PROXY_DONE);
	assert_v1_bad("PROXY UNKNOWNX\r\n", NULL);
	assert_v1_bad("PROXY UNKNOWN\n", "v1 line ends in LF without CR");
	assert_v1_bad("PROXY UNKNOWN a\rb\r\n", "CR inside the v1 line");
}
END_TEST

/* The spec's length table: 56, 104, 15 and the 107 worst case. */
START_TEST(v1_lengths)
{
	static const char v4max[] =
	    "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
	static const char v6max[] =
	    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char worst[] =
	    "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	struct proxy_parser p;
	char line[PROXY_V1_MAX + 16];
	size_t used;

	ck_assert_uint_eq(strlen(v4max), 56);
	ck_assert_int_eq(feed_str(&p, v4max), PROXY_DONE);
	assert_address(&p.result.src, AF_INET, "255.255.255.255", 65535);
	ck_assert_uint_eq(strlen(v6max), 104);
	ck_assert_int_eq(feed_str(&p, v6max), PROXY_DONE);
	ck_assert_uint_eq(strlen(worst), PROXY_V1_MAX);
	ck_assert_int_eq(feed_str(&p, with_client(worst)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), PROXY_V1_MAX);

	/* 108 octets: refused at the 107th, before the CRLF is seen. */
	memcpy(line, worst, PROXY_V1_MAX - 2);
	memcpy(line + PROXY_V1_MAX - 2, "f\r\n", 4);
	ck_assert_int_eq(feed_str(&p, line), PROXY_BAD);
	ck_assert_str_eq(p.why, "v1 line longer than 107 octets");
	ck_assert_uint_eq(proxy_length(&p), PROXY_V1_MAX);
	proxy_init(&p);
	ck_assert_int_eq(
	    proxy_feed(&p, line, PROXY_V1_MAX - 1, &used), PROXY_MORE);
	ck_assert_int_eq(
	    proxy_feed(&p, line + PROXY_V1_MAX - 1, 1, &used), PROXY_BAD);
	/* 107 octets whose last is the CR: the LF would be the 108th. */
	memcpy(line, worst, PROXY_V1_MAX - 3);
	memcpy(line + PROXY_V1_MAX - 3, "ff\r\n", 5);
	ck_assert_int_eq(feed_str(&p, line), PROXY_BAD);
}
END_TEST

START_TEST(v1_strict_syntax)
{
	static const char *const bad[] = {
		"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n",
		"PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n",
		"PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3. 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1..3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP4 1.2.3.4 ::1 1 2\r\n",
		"PROXY TCP4 ::1 ::1 1 2\r\n",
		"PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP6 ::1 ::1::2 1 2\r\n",
		"PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n",
		"PROXY TCP6 [::1] ::1 1 2\r\n",
		"PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
		/* 46 octets: longer than any IPv6 address can be written. */
		("PROXY TCP6 1111:2222:3333:4444:5555:6666:7777:8888:9999:a ::1 1 "
		 "2\r\n"),
		"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 00\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999999999999999999\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
		"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rHELO\r\n",
		"PROXY\r\n",
		"PROXY \r\n",
		"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"HELO alice wonderland\r\n",
		"\r\n\r\nx",
		"QUIT\r\n",
	};
	struct proxy_parser p;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_v1_bad(bad[i], NULL);
	/* The NUL case above was cut by strlen: give it whole. */
	ck_assert_int_eq(
	    feed(&p, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n", 34), PROXY_BAD);
	/* Refused at the first octet that cannot be a header's. */
	ck_assert_int_eq(feed_str(&p, "HELO"), PROXY_BAD);
	ck_assert_str_eq(p.why, "not a PROXY header");
	ck_assert_uint_eq(proxy_length(&p), 0);
	ck_assert_int_eq(feed_str(&p, "PRO"), PROXY_MORE);
	ck_assert_int_eq(feed_str(&p, "PROXI"), PROXY_BAD);
	ck_assert_uint_eq(proxy_length(&p), 4);
	/* Ports 0 and 65535, address 0.0.0.0: all in range. */
	ck_assert_int_eq(
	    feed_str(&p, "PROXY TCP4 0.0.0.0 10.0.0.1 0 65535\r\n"),
	    PROXY_DONE);
	assert_address(&p.result.src, AF_INET, "0.0.0.0", 0);
	assert_address(&p.result.dst, AF_INET, "10.0.0.1", 65535);
}
END_TEST

START_TEST(v1_truncated)
{
	static const char hdr[] =
	    "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	struct proxy_parser p;
	size_t n;

	ck_assert_int_eq(feed(&p, "", 0), PROXY_MORE);
	for (n = 1; n < strlen(hdr); n++)
		ck_assert_int_eq(feed(&p, hdr, n), PROXY_MORE);
}
END_TEST

/* Builds a v2 header in BUF: returns its length (16 + LEN). */
static size_t
v2(unsigned char *buf, unsigned char ver_cmd, unsigned char fam, size_t len)
{
	size_t i;

	memcpy(buf, v2sig, 12);
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	for (i = 0; i < len; i++)
		buf[16 + i] = (unsigned char)(0xa0 + i);
	return 16 + len;
}

static unsigned char big[PROXY_V2_MAX + 64];

START_TEST(v2_tcp4)
{
	struct proxy_parser p;
	size_t n = v2(big, 0x21, 0x11, 12);
	static const unsigned char addr[12] = { 127, 0, 0, 23, 10, 1, 2, 3,
		0xc3, 0x50, 0, 109 };

	memcpy(big + 16, addr, sizeof(addr));
	memcpy(big + n, CLIENT, strlen(CLIENT));
	ck_assert_int_eq(feed(&p, big, n + strlen(CLIENT)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), 28);
	ck_assert_int_eq(p.result.version, 2);
	ck_assert(!p.result.local);
	assert_address(&p.result.src, AF_INET, "127.0.0.23", 50000);
	assert_address(&p.result.dst, AF_INET, "10.1.2.3", 109);
	/* Every shorter prefix is just not complete yet. */
	for (n = 0; n < 28; n++)
		ck_assert_int_eq(feed(&p, big, n), PROXY_MORE);
	/* One octet short of the address block: refused. */
	n = v2(big, 0x21, 0x11, 11);
	ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
	ck_assert_str_eq(p.why, "v2 length shorter than its address block");
	ck_assert_uint_eq(proxy_length(&p), 16);
}
END_TEST

START_TEST(v2_tcp6)
{
	struct proxy_parser p;
	size_t n = v2(big, 0x21, 0x21, 36);

	memset(big + 16, 0, 32);
	big[16] = 0x20, big[17] = 0x01, big[18] = 0x0d, big[19] = 0xb8,
	big[31] = 5;
	big[47] = 1;
	big[48] = 0xff, big[49] = 0xff, big[50] = 0, big[51] = 109;
	ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), 52);
	assert_address(&p.result.src, AF_INET6, "2001:db8::5", 65535);
	assert_address(&p.result.dst, AF_INET6, "::1", 109);
	n = v2(big, 0x21, 0x21, 35);
	ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
}
END_TEST

/* The families that are valid but keep the connection's own addresses. */
START_TEST(v2_kept_families)
{
	static const struct {
		unsigned char fam;
		size_t alen;
	} kept[] = { { 0x12, 12 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 } };
	struct proxy_parser p;
	size_t i, n;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		n = v2(big, 0x21, kept[i].fam, kept[i].alen);
		ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
		ck_assert(p.result.local);
		ck_assert_int_eq(p.result.src.ss_family, 0);
		ck_assert_uint_eq(proxy_length(&p), n);
		n = v2(big, 0x21, kept[i].fam, kept[i].alen - 1);
		ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
	}
	/* Family or transport UNSPEC: the block is skipped, whatever it holds.
	 */
	for (i = 0; i < 7; i++) {
		static const unsigned char fam[] = { 0x00, 0x01, 0x02, 0x10,
			0x20, 0x30, 0x00 };

		n = v2(big, 0x21, fam[i], i * 5);
		ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
		ck_assert(p.result.local);
		ck_assert_uint_eq(proxy_length(&p), n);
	}
}
END_TEST

START_TEST(v2_local)
{
	struct proxy_parser p;
	size_t n;

	n = v2(big, 0x20, 0x00, 0);
	memcpy(big + n, CLIENT, strlen(CLIENT));
	ck_assert_int_eq(feed(&p, big, n + strlen(CLIENT)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), 16);
	ck_assert(p.result.local);
	/* LOCAL ignores the family (even an unknown one) and skips the block.
	 */
	n = v2(big, 0x20, 0x11, 12);
	ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
	ck_assert(p.result.local);
	ck_assert_int_eq(p.result.src.ss_family, 0);
	n = v2(big, 0x20, 0xff, 3);
	ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), 19);
	n = v2(big, 0x20, 0x11, 5);
	ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
}
END_TEST

START_TEST(v2_bad_fixed_part)
{
	struct proxy_parser p;
	size_t i, n;

	for (i = 0; i < 12; i++) {
		n = v2(big, 0x21, 0x11, 12);
		big[i] ^= 0x20;
		ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
		ck_assert_uint_eq(proxy_length(&p), i);
	}
	for (i = 0; i < 16; i++) {
		if (i == 2)
			continue;
		n = v2(big, (unsigned char)(i << 4 | 1), 0x11, 12);
		ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
		ck_assert_str_eq(p.why, "v2 version is not 2");
	}
	for (i = 2; i < 16; i++) {
		n = v2(big, (unsigned char)(0x20 | i), 0x11, 12);
		ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
		ck_assert_str_eq(
		    p.why, "v2 command is neither LOCAL nor PROXY");
		ck_assert_uint_eq(proxy_length(&p), 12);
	}
	for (i = 0; i < 256; i++) {
		if ((i >> 4) <= 3 && (i & 0xf) <= 2)
			continue;
		n = v2(big, 0x21, (unsigned char)i, 216);
		ck_assert_int_eq(feed(&p, big, n), PROXY_BAD);
		ck_assert_uint_eq(proxy_length(&p), 13);
		/* The same octet under LOCAL is ignored. */
		n = v2(big, 0x20, (unsigned char)i, 216);
		ck_assert_int_eq(feed(&p, big, n), PROXY_DONE);
	}
}
END_TEST

/* Appends a TLV of TYPE with LEN value octets at BUF + AT; returns the new end.
 */
static size_t
tlv(unsigned char *buf, size_t at, unsigned char type, size_t len)
{
	buf[at] = type;
	buf[at + 1] = (unsigned char)(len >> 8);
	buf[at + 2] = (unsigned char)len;
	memset(buf + at + 3, 'v', len);
	return at + 3 + len;
}

/* Sets the length field to END - 16. */
static void
set_len(unsigned char *buf, size_t end)
{
	buf[14] = (unsigned char)((end - 16) >> 8);
	buf[15] = (unsigned char)(end - 16);
}

START_TEST(v2_tlvs)
{
	struct proxy_parser p;
	size_t end;

	v2(big, 0x21, 0x11, 12);
	end = tlv(big, 28, 0x04, 0);	/* NOOP, empty */
	end = tlv(big, end, 0x20, 40);	/* SSL */
	end = tlv(big, end, 0x03, 4);	/* CRC32C: not verified */
	end = tlv(big, end, 0xe0, 300); /* custom */
	set_len(big, end);
	memcpy(big + end, CLIENT, strlen(CLIENT));
	ck_assert_int_eq(feed(&p, big, end + strlen(CLIENT)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), end);
	assert_address(&p.result.src, AF_INET, "160.161.162.163", 0xa8a9);

	/* A TLV one octet longer than what is left. */
	v2(big, 0x21, 0x11, 12);
	end = tlv(big, 28, 0x04, 10);
	set_len(big, end - 1);
	ck_assert_int_eq(feed(&p, big, end - 1), PROXY_BAD);
	ck_assert_str_eq(p.why, "v2 TLV runs past the header's length");
	/* One or two octets left: a TLV header cut short. */
	v2(big, 0x21, 0x11, 12);
	end = tlv(big, 28, 0x04, 0);
	set_len(big, end + 1);
	ck_assert_int_eq(feed(&p, big, end + 1), PROXY_BAD);
	ck_assert_str_eq(
	    p.why, "v2 TLV header cut short by the header's length");
	set_len(big, end + 2);
	ck_assert_int_eq(feed(&p, big, end + 2), PROXY_BAD);
	/* The same past IPv6 and AF_UNIX address blocks. */
	v2(big, 0x21, 0x21, 36);
	end = tlv(big, 52, 0x05, 128);
	set_len(big, end);
	ck_assert_int_eq(feed(&p, big, end), PROXY_DONE);
	set_len(big, end - 1);
	ck_assert_int_eq(feed(&p, big, end - 1), PROXY_BAD);
	v2(big, 0x21, 0x31, 216);
	end = tlv(big, 232, 0x30, 3);
	set_len(big, end);
	ck_assert_int_eq(feed(&p, big, end), PROXY_DONE);
	ck_assert(p.result.local);
	big[end] = 0;
	set_len(big, end + 1);
	ck_assert_int_eq(feed(&p, big, end + 1), PROXY_BAD);
}
END_TEST

/* The longest header there can be: 16 + 65535 octets, one TLV filling it. */
START_TEST(v2_longest)
{
	struct proxy_parser p;
	size_t end, used;

	v2(big, 0x21, 0x11, 12);
	end = tlv(big, 28, 0xe1, 65535 - 12 - 3);
	ck_assert_uint_eq(end, PROXY_V2_MAX);
	set_len(big, end);
	memcpy(big + end, CLIENT, strlen(CLIENT));
	ck_assert_int_eq(feed(&p, big, end + strlen(CLIENT)), PROXY_DONE);
	ck_assert_uint_eq(proxy_length(&p), PROXY_V2_MAX);
	/* In two pieces, split inside the TLV's value. */
	proxy_init(&p);
	ck_assert_int_eq(proxy_feed(&p, big, 40000, &used), PROXY_MORE);
	ck_assert_uint_eq(used, 40000);
	ck_assert_int_eq(
	    proxy_feed(&p, big + 40000, end + 5 - 40000, &used), PROXY_DONE);
	ck_assert_uint_eq(used, end - 40000);
	/* LOCAL with the longest block, in one piece and one short of it. */
	v2(big, 0x20, 0x00, 65535);
	proxy_init(&p);
	ck_assert_int_eq(
	    proxy_feed(&p, big, PROXY_V2_MAX + 3, &used), PROXY_DONE);
	ck_assert_uint_eq(used, PROXY_V2_MAX);
	proxy_init(&p);
	ck_assert_int_eq(
	    proxy_feed(&p, big, PROXY_V2_MAX - 1, &used), PROXY_MORE);
	ck_assert_int_eq(
	    proxy_feed(&p, big + PROXY_V2_MAX - 1, 4, &used), PROXY_DONE);
	ck_assert_uint_eq(used, 1);
}
END_TEST

static struct sockaddr_storage
sa(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':') != NULL) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		ck_assert_int_eq(
		    inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		ck_assert_int_eq(inet_pton(AF_INET, text, &sin->sin_addr), 1);
	}
	return ss;
}

static bool
listed(const struct proxy_nets *nets, const char *text)
{
	struct sockaddr_storage ss = sa(text);

	return proxy_nets_match(nets, (const struct sockaddr *)&ss, sizeof(ss));
}

START_TEST(nets_match)
{
	struct proxy_nets nets;
	struct sockaddr_un un;
	const char *why = NULL;

	ck_assert_int_eq(proxy_nets_parse(&nets, "127.0.0.1", &why), 0);
	ck_assert_uint_eq(nets.count, 1);
	ck_assert(listed(&nets, "127.0.0.1"));
	ck_assert(listed(&nets, "::ffff:127.0.0.1"));
	ck_assert(!listed(&nets, "127.0.0.2"));
	ck_assert(!listed(&nets, "::1"));
	ck_assert(!listed(&nets, "::127.0.0.1"));

	ck_assert_int_eq(
	    proxy_nets_parse(&nets,
		"10.0.0.0/8,192.168.1.128/25,::1,2001:db8::/32,fe80::/10",
		&why),
	    0);
	ck_assert_uint_eq(nets.count, 5);
	ck_assert(listed(&nets, "10.255.0.1"));
	ck_assert(listed(&nets, "::ffff:10.1.2.3"));
	ck_assert(!listed(&nets, "11.0.0.0"));
	ck_assert(listed(&nets, "192.168.1.128"));
	ck_assert(listed(&nets, "192.168.1.255"));
	ck_assert(!listed(&nets, "192.168.1.127"));
	ck_assert(listed(&nets, "::1"));
	ck_assert(!listed(&nets, "::2"));
	ck_assert(listed(&nets, "2001:db8:ffff::1"));
	ck_assert(!listed(&nets, "2001:db9::1"));
	ck_assert(listed(&nets, "febf::1"));
	ck_assert(!listed(&nets, "fec0::1"));

	/* An IPv4-mapped entry is the IPv4 network it names. */
	ck_assert_int_eq(
	    proxy_nets_parse(&nets, "::ffff:127.0.0.0/104", &why), 0);
	ck_assert_int_eq(nets.net[0].family, AF_INET);
	ck_assert_uint_eq(nets.net[0].prefix, 8);
	ck_assert(listed(&nets, "127.9.9.9"));
	ck_assert(listed(&nets, "::ffff:127.0.0.1"));
	ck_assert(!listed(&nets, "128.0.0.1"));

	/* Prefix 0: a whole family, and only that one. */
	ck_assert_int_eq(proxy_nets_parse(&nets, "0.0.0.0/0", &why), 0);
	ck_assert(listed(&nets, "1.2.3.4"));
	ck_assert(listed(&nets, "::ffff:1.2.3.4"));
	ck_assert(!listed(&nets, "::1"));
	ck_assert_int_eq(proxy_nets_parse(&nets, "::/0", &why), 0);
	ck_assert(listed(&nets, "2001:db8::1"));
	ck_assert(!listed(&nets, "::ffff:1.2.3.4"));
	ck_assert(!listed(&nets, "1.2.3.4"));

	/* Neither a Unix socket nor a short address is ever listed. */
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	ck_assert(
	    !proxy_nets_match(&nets, (const struct sockaddr *)&un, sizeof(un)));
	{
		struct sockaddr_storage ss = sa("127.0.0.1");

		ck_assert_int_eq(proxy_nets_parse(&nets, "127.0.0.1", &why), 0);
		ck_assert(
		    !proxy_nets_match(&nets, (const struct sockaddr *)&ss, 4));
	}
}
END_TEST

START_TEST(nets_bad)
{
	static const char *const bad[] = {
		"",
		",",
		"127.0.0.1,",
		",127.0.0.1",
		"127.0.0.1,,10.0.0.1",
		"127.0.0.1 ",
		" 127.0.0.1",
		"127.0.0.1, 10.0.0.1",
		"127.0.0.1;10.0.0.1",
		"127.0.0.1/33",
		"::/129",
		"127.0.0.1/",
		"10.0.0.0/08",
		"10.0.0.0/-8",
		"10.0.0.0/8/8",
		"10.0.0.1/8",
		"2001:db8::1/32",
		"01.2.3.4",
		"1.2.3",
		"1.2.3.256",
		"localhost",
		"::1::2",
		"[::1]",
		"fe80::1%lo",
		"::ffff:1.2.3.4/95x",
		"0x7f.0.0.1",
		"127.1",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999:a/128",
	};
	struct proxy_nets nets;
	const char *why;
	char many[PROXY_NETS_MAX * 16 + 32];
	size_t i, at = 0;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		errno = 0;
		ck_assert_msg(proxy_nets_parse(&nets, bad[i], &why) == -1,
		    "accepted \"%s\"", bad[i]);
		ck_assert_int_eq(errno, EINVAL);
		ck_assert_ptr_nonnull(why);
		ck_assert_uint_eq(nets.count, 0);
	}
	/* 64 entries are taken; a 65th is refused. */
	for (i = 0; i < PROXY_NETS_MAX; i++)
		at += (size_t)snprintf(many + at, sizeof(many) - at,
		    "%s10.0.0.%zu", i > 0 ? "," : "", i);
	ck_assert_int_eq(proxy_nets_parse(&nets, many, &why), 0);
	ck_assert_uint_eq(nets.count, PROXY_NETS_MAX);
	snprintf(many + at, sizeof(many) - at, ",10.0.1.0");
	ck_assert_int_eq(proxy_nets_parse(&nets, many, &why), -1);
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_uint_eq(nets.count, 0);
}
END_TEST

static Suite *
proxy_suite(void)
{
	Suite *s = suite_create("proxy");
	TCase *v1 = tcase_create("v1");
	TCase *v2c = tcase_create("v2");
	TCase *nets = tcase_create("nets");

	tcase_add_test(v1, v1_tcp4);
	tcase_add_test(v1, v1_tcp6);
	tcase_add_test(v1, v1_unknown);
	tcase_add_test(v1, v1_lengths);
	tcase_add_test(v1, v1_strict_syntax);
	tcase_add_test(v1, v1_truncated);
	tcase_add_test(v2c, v2_tcp4);
	tcase_add_test(v2c, v2_tcp6);
	tcase_add_test(v2c, v2_kept_families);
	tcase_add_test(v2c, v2_local);
	tcase_add_test(v2c, v2_bad_fixed_part);
	tcase_add_test(v2c, v2_tlvs);
	tcase_add_test(v2c, v2_longest);
	tcase_add_test(nets, nets_match);
	tcase_add_test(nets, nets_bad);
	suite_add_tcase(s, v1);
	suite_add_tcase(s, v2c);
	suite_add_tcase(s, nets);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(proxy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
