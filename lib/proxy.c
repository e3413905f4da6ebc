#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

static const unsigned char v2_signature[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
	0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };
static const char v1_signature[] = "PROXY ";
/* The first 12 octets of an IPv4-mapped IPv6 address, ::ffff:a.b.c.d. */
static const unsigned char v4_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff,
	0xff };

#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1

void
proxy_init(struct proxy_parser *p)
{
	memset(p, 0, sizeof(*p));
	p->status = PROXY_MORE;
}

size_t
proxy_length(const struct proxy_parser *p)
{
	return p->seen;
}

static void
refuse(struct proxy_parser *p, const char *why)
{
	p->status = PROXY_BAD;
	p->why = why;
	memset(&p->result, 0, sizeof(p->result));
}

/*
 * Parses N octets at S as an IPv4 address in version 1's canonical form:
 * four decimal numbers 0-255, no leading zeros, single dots. Returns 0 with
 * OUT filled, or -1.
 */
static int
parse_ipv4(const char *s, size_t n, unsigned char out[4])
{
	size_t i = 0;
	int part;

	for (part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;

		if (part > 0) {
			if (i >= n || s[i] != '.')
				return -1;
			i++;
		}
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			if (digits == 1 && v == 0)
				return -1; /* a leading zero: octal to some */
			v = v * 10 + (unsigned)(s[i] - '0');
			if (v > 255)
				return -1;
			digits++;
		}
		if (digits == 0)
			return -1;
		out[part] = (unsigned char)v;
	}
	return i == n ? 0 : -1;
}

/* Parses N octets at S as an IPv6 address (inet_pton). Returns 0 or -1. */
static int
parse_ipv6(const char *s, size_t n, unsigned char out[16])
{
	char text[INET6_ADDRSTRLEN];
	size_t i;

	if (n == 0 || n >= sizeof(text))
		return -1;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			(c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return -1;
	}
	memcpy(text, s, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, out) == 1 ? 0 : -1;
}

/* Parses N octets at S as a decimal number 0-MAX without leading zeros. */
static int
parse_decimal(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n == 0 || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* Stores an address and port, in network order, as FAMILY's sockaddr. */
static void
set_address(struct sockaddr_storage *ss, int family, const unsigned char *addr,
    unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons((uint16_t)port);
	}
}

/*
 * Reads the fields of a version 1 line after "PROXY " (N octets at S, CRLF
 * removed) into the result.
 */
static void
v1_parse(struct proxy_parser *p, const char *s, size_t n)
{
	const char *field[4];
	size_t flen[4], i, k;
	unsigned char src[16], dst[16];
	unsigned long sport, dport;
	int family;

	p->result.version = 1;
	if (n >= 7 && memcmp(s, "UNKNOWN", 7) == 0 && (n == 7 || s[7] == ' ')) {
		p->result.local = true;
		p->status = PROXY_DONE;
		return;
	}
	if (n < 5 ||
	    (memcmp(s, "TCP4 ", 5) != 0 && memcmp(s, "TCP6 ", 5) != 0)) {
		refuse(p, "v1 protocol is not TCP4, TCP6 or UNKNOWN");
		return;
	}
	family = s[3] == '4' ? AF_INET : AF_INET6;
	/* Exactly four fields, one space between each. */
	for (i = 5, k = 0; k < 4; k++) {
		size_t start = i;

		while (i < n && s[i] != ' ')
			i++;
		field[k] = s + start;
		flen[k] = i - start;
		if (flen[k] == 0) {
			refuse(p, "v1 fields not separated by single spaces");
			return;
		}
		if (k < 3) {
			if (i >= n) {
				refuse(p, "v1 line has too few fields");
				return;
			}
			i++; /* the space */
		}
	}
	if (i != n) {
		refuse(p, "v1 line has too many fields");
		return;
	}
	if (family == AF_INET &&
	    (parse_ipv4(field[0], flen[0], src) == -1 ||
		parse_ipv4(field[1], flen[1], dst) == -1)) {
		refuse(p, "v1 TCP4 address is not a canonical IPv4 address");
		return;
	}
	if (family == AF_INET6 &&
	    (parse_ipv6(field[0], flen[0], src) == -1 ||
		parse_ipv6(field[1], flen[1], dst) == -1)) {
		refuse(p, "v1 TCP6 address is not an IPv6 address");
		return;
	}
	if (parse_decimal(field[2], flen[2], 65535, &sport) == -1 ||
	    parse_decimal(field[3], flen[3], 65535, &dport) == -1) {
		refuse(p,
		    "v1 port is not a decimal number 0-65535 without leading "
		    "zeros");
		return;
	}
	set_address(&p->result.src, family, src, (unsigned)sport);
	set_address(&p->result.dst, family, dst, (unsigned)dport);
	p->status = PROXY_DONE;
}

/* Takes octet C of a version 1 line (its first is 'P') at position p->seen. */
static void
v1_take(struct proxy_parser *p, unsigned char c)
{
	size_t pos = p->seen;

	if (pos < sizeof(v1_signature) - 1 &&
	    c != (unsigned char)v1_signature[pos]) {
		refuse(p, "bad v1 signature");
		return;
	}
	if (pos > 0 && p->buf[pos - 1] == '\r' && c != '\n') {
		refuse(p, "CR inside the v1 line");
		return;
	}
	p->buf[pos] = c;
	p->seen++;
	if (c == '\n') {
		if (p->buf[pos - 1] != '\r') {
			refuse(p, "v1 line ends in LF without CR");
			return;
		}
		v1_parse(p, (const char *)p->buf + 6, pos - 1 - 6);
		return;
	}
	if (p->seen == PROXY_V1_MAX)
		refuse(p, "v1 line longer than 107 octets");
}

/* The address block's length for a PROXY command's family/transport octet; 0:
 * not taken. */
static size_t
v2_address_length(unsigned char fam)
{
	switch (fam) {
	case 0x11: /* TCP over IPv4 */
	case 0x12: /* UDP over IPv4 */
		return 12;
	case 0x21: /* TCP over IPv6 */
	case 0x22: /* UDP over IPv6 */
		return 36;
	case 0x31: /* AF_UNIX stream */
	case 0x32: /* AF_UNIX datagram */
		return 216;
	default:
		return 0;
	}
}

/* The fixed part is in: checks the length and decides what to keep. */
static void
v2_fixed_part(struct proxy_parser *p)
{
	unsigned char cmd = p->buf[12] & 0x0f, fam = p->buf[13];
	size_t len = (size_t)p->buf[14] << 8 | p->buf[15];
	size_t alen = cmd == V2_CMD_PROXY ? v2_address_length(fam) : 0;

	p->result.version = 2;
	p->result.local =
	    !(cmd == V2_CMD_PROXY && (fam == 0x11 || fam == 0x21));
	p->total = 16 + len;
	p->keep = 16;
	if (alen > 0) {
		if (len < alen) {
			refuse(p, "v2 length shorter than its address block");
			return;
		}
		p->keep = 16 + alen;
		p->tlv_check = true;
		p->tlv_end = p->keep;
	}
}

/* The address block is in: takes the addresses of TCP over IPv4 and IPv6. */
static void
v2_addresses(struct proxy_parser *p)
{
	unsigned char fam = p->buf[13];
	const unsigned char *a = p->buf + 16;

	/* Only a PROXY command keeps an address block (v2_fixed_part). */
	if (fam == 0x11) {
		set_address(
		    &p->result.src, AF_INET, a, (unsigned)(a[8] << 8 | a[9]));
		set_address(&p->result.dst, AF_INET, a + 4,
		    (unsigned)(a[10] << 8 | a[11]));
	} else if (fam == 0x21) {
		set_address(&p->result.src, AF_INET6, a,
		    (unsigned)(a[32] << 8 | a[33]));
		set_address(&p->result.dst, AF_INET6, a + 16,
		    (unsigned)(a[34] << 8 | a[35]));
	}
}

/* Takes octet C of a version 2 header's fixed part or address block. */
static void
v2_take_kept(struct proxy_parser *p, unsigned char c)
{
	size_t pos = p->seen;

	if (pos < sizeof(v2_signature) && c != v2_signature[pos]) {
		refuse(p, pos == 0 ? "not a PROXY header" : "bad v2 signature");
		return;
	}
	if (pos == 12 && (c >> 4) != 2) {
		refuse(p, "v2 version is not 2");
		return;
	}
	if (pos == 12 && (c & 0x0f) != V2_CMD_LOCAL &&
	    (c & 0x0f) != V2_CMD_PROXY) {
		refuse(p, "v2 command is neither LOCAL nor PROXY");
		return;
	}
	/* LOCAL ignores the family; PROXY's must be one the spec knows. */
	if (pos == 13 && (p->buf[12] & 0x0f) == V2_CMD_PROXY &&
	    ((c >> 4) > 3 || (c & 0x0f) > 2)) {
		refuse(p, "v2 address family or transport unknown");
		return;
	}
	p->buf[pos] = c;
	p->seen++;
	if (p->seen == 16)
		v2_fixed_part(p);
	else if (p->seen > 16 && p->seen == p->keep)
		v2_addresses(p);
}

/* Takes octet C of a TLV's header (type, then the 16-bit length of its value).
 */
static void
v2_take_tlv(struct proxy_parser *p, unsigned char c)
{
	if (p->tlv_hdr == 1)
		p->tlv_hi = c;
	if (p->tlv_hdr == 2) {
		p->tlv_end = p->seen + 1 + (p->tlv_hi << 8 | c);
		p->tlv_hdr = 0;
		if (p->tlv_end > p->total) {
			refuse(p, "v2 TLV runs past the header's length");
			return;
		}
	} else {
		p->tlv_hdr++;
	}
	p->seen++;
}

enum proxy_status
proxy_feed(struct proxy_parser *p, const void *data, size_t len, size_t *used)
{
	const unsigned char *d = data;
	size_t i = 0;

	*used = 0;
	if (p->status != PROXY_MORE)
		return p->status;
	while (i < len && p->status == PROXY_MORE) {
		if (p->seen == 0 ? d[i] == 'P' : p->buf[0] == 'P') {
			v1_take(p, d[i++]);
			continue;
		}
		if (p->seen < 16 || p->seen < p->keep) {
			v2_take_kept(p, d[i++]);
		} else if (p->tlv_check && p->seen >= p->tlv_end) {
			v2_take_tlv(p, d[i++]);
		} else {
			/* A TLV's value, or a block not looked into: skipped
			 * whole. */
			size_t end = p->tlv_check ? p->tlv_end : p->total;
			size_t n =
			    end - p->seen < len - i ? end - p->seen : len - i;

			p->seen += n;
			i += n;
		}
		if (p->status == PROXY_MORE && p->seen >= 16 &&
		    p->seen == p->total) {
			if (p->tlv_check && p->tlv_hdr != 0)
				refuse(p,
				    "v2 TLV header cut short by the header's "
				    "length");
			else
				p->status = PROXY_DONE;
		}
	}
	*used = i;
	return p->status;
}

/* Parses one -H entry of N octets at S into *NET. */
static int
parse_net(const char *s, size_t n, struct proxy_net *net, const char **why)
{
	const char *slash = memchr(s, '/', n);
	size_t alen = slash != NULL ? (size_t)(slash - s) : n;
	unsigned long prefix;
	unsigned max, bit;

	memset(net, 0, sizeof(*net));
	if (memchr(s, ':', alen) != NULL) {
		net->family = AF_INET6;
		max = 128;
		if (parse_ipv6(s, alen, net->addr) == -1) {
			*why = "not an IPv6 address";
			return -1;
		}
	} else {
		net->family = AF_INET;
		max = 32;
		if (parse_ipv4(s, alen, net->addr) == -1) {
			*why = "not an IPv4 address (four numbers 0-255, no "
			       "leading zeros)";
			return -1;
		}
	}
	prefix = max;
	if (slash != NULL &&
	    parse_decimal(slash + 1, n - alen - 1, max, &prefix) == -1) {
		*why =
		    "prefix is not a number from 0 to 32 (IPv4) or 128 (IPv6)";
		return -1;
	}
	net->prefix = (unsigned)prefix;
	for (bit = net->prefix; bit < max; bit++)
		if (net->addr[bit / 8] & (0x80 >> (bit % 8))) {
			*why = "address has bits set past its prefix";
			return -1;
		}
	/* ::ffff:a.b.c.d/96+ is an IPv4 network, as peers are compared. */
	if (net->family == AF_INET6 && net->prefix >= 96 &&
	    memcmp(net->addr, v4_mapped, sizeof(v4_mapped)) == 0) {
		net->family = AF_INET;
		net->prefix -= 96;
		memmove(net->addr, net->addr + 12, 4);
		memset(net->addr + 4, 0, 12);
	}
	return 0;
}

int
proxy_nets_parse(struct proxy_nets *nets, const char *list, const char **why)
{
	const char *s = list;

	memset(nets, 0, sizeof(*nets));
	for (;;) {
		size_t n = strcspn(s, ",");

		if (n == 0) {
			*why = "empty entry (entries are separated by single "
			       "commas)";
			goto bad;
		}
		if (nets->count == PROXY_NETS_MAX) {
			*why = "more than 64 entries";
			memset(nets, 0, sizeof(*nets));
			errno = E2BIG;
			return -1;
		}
		if (parse_net(s, n, &nets->net[nets->count], why) == -1)
			goto bad;
		nets->count++;
		if (s[n] == '\0')
			return 0;
		s += n + 1;
	}
bad:
	memset(nets, 0, sizeof(*nets));
	errno = EINVAL;
	return -1;
}

static bool
prefix_equal(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	return ((a[whole] ^ b[whole]) & (0xff << (8 - rest)) & 0xff) == 0;
}

bool
proxy_nets_match(
    const struct proxy_nets *nets, const struct sockaddr *sa, socklen_t len)
{
	unsigned char addr[16];
	int family;
	size_t i;

	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		family = AF_INET;
		memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (memcmp(a6->s6_addr, v4_mapped, sizeof(v4_mapped)) == 0) {
			family = AF_INET;
			memcpy(addr, a6->s6_addr + 12, 4);
		} else {
			family = AF_INET6;
			memcpy(addr, a6->s6_addr, 16);
		}
	} else {
		return false;
	}
	for (i = 0; i < nets->count; i++)
		if (nets->net[i].family == family &&
		    prefix_equal(addr, nets->net[i].addr, nets->net[i].prefix))
			return true;
	return false;
}
