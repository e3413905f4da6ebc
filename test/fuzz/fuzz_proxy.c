/*
 * fuzz_proxy: arbitrary octets as the start of a connection through the
 * PROXY header parser, and (up to the first NUL) as a -H list.
 *
 * Checked:
 * - fed whole, and again in pieces whose sizes come from the input, the
 *   parser gives the same status, length, result and reason: a header is
 *   read the same however the network splits it;
 * - PROXY_MORE takes every octet; PROXY_DONE takes no octet past the
 *   header; after DONE or BAD nothing more is taken;
 * - a version 1 header is at most 107 octets, starts "PROXY " and ends in
 *   CRLF with no other CR or LF; a TCP4 one is exactly the line that
 *   inet_ntop(3) and "%u" print back from its result (canonical form);
 * - a version 2 header is 16 + its length field long, starts with the
 *   signature; TCP over IPv4 and IPv6 give exactly the octets of the
 *   address block, and every other header keeps the connection's own
 *   addresses (local, src and dst zero);
 * - a refused header has a reason and no result;
 * - a -H list that parses has 1 to PROXY_NETS_MAX networks, each with its
 *   bits past the prefix zero, and each network's own address matches.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fuzz.h"
#include "proxy.h"

static const unsigned char v2sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static bool
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return false;
	return true;
}

static void
check_v1(const struct proxy_parser *p, const uint8_t *data, size_t len)
{
	char line[PROXY_V1_MAX + 1], src[INET6_ADDRSTRLEN],
	    dst[INET6_ADDRSTRLEN];
	const struct sockaddr_in *s4 =
	    (const struct sockaddr_in *)&p->result.src;
	const struct sockaddr_in *d4 =
	    (const struct sockaddr_in *)&p->result.dst;
	size_t i;

	FUZZ_CHECK(len >= 15 && len <= PROXY_V1_MAX);
	FUZZ_CHECK(memcmp(data, "PROXY ", 6) == 0);
	FUZZ_CHECK(data[len - 2] == '\r' && data[len - 1] == '\n');
	for (i = 0; i < len - 2; i++)
		FUZZ_CHECK(data[i] != '\r' && data[i] != '\n');
	if (p->result.local) {
		FUZZ_CHECK(memcmp(data + 6, "UNKNOWN", 7) == 0);
		return;
	}
	FUZZ_CHECK(memcmp(data + 6, "TCP", 3) == 0);
	if (p->result.src.ss_family == AF_INET6) {
		FUZZ_CHECK(data[9] == '6');
		FUZZ_CHECK(p->result.dst.ss_family == AF_INET6);
		return;
	}
	FUZZ_CHECK(p->result.src.ss_family == AF_INET &&
	    p->result.dst.ss_family == AF_INET);
	FUZZ_CHECK(inet_ntop(AF_INET, &s4->sin_addr, src, sizeof(src)) != NULL);
	FUZZ_CHECK(inet_ntop(AF_INET, &d4->sin_addr, dst, sizeof(dst)) != NULL);
	snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", src, dst,
	    ntohs(s4->sin_port), ntohs(d4->sin_port));
	FUZZ_CHECK(strlen(line) == len && memcmp(line, data, len) == 0);
}

static void
check_v2(const struct proxy_parser *p, const uint8_t *data, size_t len)
{
	const struct sockaddr_in *s4 =
	    (const struct sockaddr_in *)&p->result.src;
	const struct sockaddr_in *d4 =
	    (const struct sockaddr_in *)&p->result.dst;
	const struct sockaddr_in6 *s6 =
	    (const struct sockaddr_in6 *)&p->result.src;
	const struct sockaddr_in6 *d6 =
	    (const struct sockaddr_in6 *)&p->result.dst;

	FUZZ_CHECK(len >= 16 && memcmp(data, v2sig, 12) == 0);
	FUZZ_CHECK(len == 16 + ((size_t)data[14] << 8 | data[15]));
	FUZZ_CHECK(data[12] == 0x20 || data[12] == 0x21);
	if (p->result.local) {
		FUZZ_CHECK(!(data[12] == 0x21 &&
		    (data[13] == 0x11 || data[13] == 0x21)));
		return;
	}
	FUZZ_CHECK(data[12] == 0x21);
	if (data[13] == 0x11) {
		FUZZ_CHECK(len >= 28);
		FUZZ_CHECK(
		    s4->sin_family == AF_INET && d4->sin_family == AF_INET);
		FUZZ_CHECK(memcmp(&s4->sin_addr, data + 16, 4) == 0);
		FUZZ_CHECK(memcmp(&d4->sin_addr, data + 20, 4) == 0);
		FUZZ_CHECK(memcmp(&s4->sin_port, data + 24, 2) == 0);
		FUZZ_CHECK(memcmp(&d4->sin_port, data + 26, 2) == 0);
	} else {
		FUZZ_CHECK(data[13] == 0x21 && len >= 52);
		FUZZ_CHECK(
		    s6->sin6_family == AF_INET6 && d6->sin6_family == AF_INET6);
		FUZZ_CHECK(memcmp(&s6->sin6_addr, data + 16, 16) == 0);
		FUZZ_CHECK(memcmp(&d6->sin6_addr, data + 32, 16) == 0);
		FUZZ_CHECK(memcmp(&s6->sin6_port, data + 48, 2) == 0);
		FUZZ_CHECK(memcmp(&d6->sin6_port, data + 50, 2) == 0);
	}
}

static void
check_header(const uint8_t *data, size_t size)
{
	struct proxy_parser whole, piecewise;
	enum proxy_status st, st2 = PROXY_MORE;
	size_t used, at, n, k = 0;

	proxy_init(&whole);
	st = proxy_feed(&whole, data, size, &used);
	FUZZ_CHECK(used <= size);
	if (st == PROXY_MORE) {
		FUZZ_CHECK(used == size);
		FUZZ_CHECK(whole.seen == size);
	}
	if (st == PROXY_BAD) {
		FUZZ_CHECK(whole.why != NULL && whole.why[0] != '\0');
		FUZZ_CHECK(all_zero(&whole.result, sizeof(whole.result)));
	}
	if (st == PROXY_DONE) {
		FUZZ_CHECK(used == proxy_length(&whole));
		FUZZ_CHECK(
		    whole.result.version == 1 || whole.result.version == 2);
		if (whole.result.local)
			FUZZ_CHECK(all_zero(&whole.result.src,
				       sizeof(whole.result.src)) &&
			    all_zero(
				&whole.result.dst, sizeof(whole.result.dst)));
		if (whole.result.version == 1)
			check_v1(&whole, data, used);
		else
			check_v2(&whole, data, used);
	}
	if (st != PROXY_MORE) {
		FUZZ_CHECK(proxy_feed(&whole, data, size, &n) == st && n == 0);
	}

	/* The same octets in pieces: sizes from the input's own octets. */
	proxy_init(&piecewise);
	for (at = 0; at < size; at += n) {
		n = (size_t)data[k++ % size] % 19 + 1;
		if (n > size - at)
			n = size - at;
		st2 = proxy_feed(&piecewise, data + at, n, &used);
		if (st2 != PROXY_MORE) {
			at += used;
			break;
		}
		FUZZ_CHECK(used == n);
	}
	FUZZ_CHECK(st2 == st);
	if (st == PROXY_DONE) {
		FUZZ_CHECK(at == proxy_length(&whole));
		FUZZ_CHECK(proxy_length(&piecewise) == proxy_length(&whole));
		FUZZ_CHECK(memcmp(&piecewise.result, &whole.result,
			       sizeof(whole.result)) == 0);
	}
	if (st == PROXY_BAD)
		FUZZ_CHECK(strcmp(piecewise.why, whole.why) == 0);
}

static void
check_nets(const uint8_t *data, size_t size)
{
	static char list[4096];
	struct proxy_nets nets;
	const char *why = NULL;
	size_t n = size < sizeof(list) - 1 ? size : sizeof(list) - 1, i;
	unsigned bit;

	memcpy(list, data, n);
	list[n] = '\0';
	if (proxy_nets_parse(&nets, list, &why) == -1) {
		FUZZ_CHECK(why != NULL && nets.count == 0);
		return;
	}
	FUZZ_CHECK(nets.count >= 1 && nets.count <= PROXY_NETS_MAX);
	for (i = 0; i < nets.count; i++) {
		const struct proxy_net *net = &nets.net[i];
		struct sockaddr_storage ss;
		unsigned max = net->family == AF_INET ? 32 : 128;

		FUZZ_CHECK(net->family == AF_INET || net->family == AF_INET6);
		FUZZ_CHECK(net->prefix <= max);
		for (bit = net->prefix; bit < 128; bit++)
			FUZZ_CHECK(
			    (net->addr[bit / 8] & (0x80 >> (bit % 8))) == 0);
		memset(&ss, 0, sizeof(ss));
		if (net->family == AF_INET) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

			sin->sin_family = AF_INET;
			memcpy(&sin->sin_addr, net->addr, 4);
		} else {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

			sin6->sin6_family = AF_INET6;
			memcpy(&sin6->sin6_addr, net->addr, 16);
			/* A mapped address names IPv4: only an IPv4 entry may
			 * take it. */
			if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
				continue;
		}
		FUZZ_CHECK(proxy_nets_match(
		    &nets, (struct sockaddr *)&ss, sizeof(ss)));
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > PROXY_V2_MAX + 64)
		return 0;
	check_header(data, size);
	check_nets(data, size);
	return 0;
}
