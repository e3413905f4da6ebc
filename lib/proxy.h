/*
 * proxy: the PROXY protocol header that a proxy or TLS terminator puts in
 * front of a relayed connection (HAProxy's proxy-protocol.txt, versions 1
 * and 2), and the list of networks allowed to send one (pop2d -H).
 *
 * The parser is fed the connection's first octets in pieces of any size,
 * down to one octet at a time, and takes no octet past the header's last:
 * what follows belongs to the client. It does no I/O, allocates nothing
 * and keeps no pointer to the caller's octets. A header is refused as soon
 * as an octet shows it cannot be one.
 *
 * Version 1: "PROXY TCP4 SRC DST SPORT DPORT\r\n", TCP6 likewise, or
 * "PROXY UNKNOWN" followed by CRLF or by a space and anything but CR and
 * LF. At most PROXY_V1_MAX octets, CRLF included; one space between
 * fields; IPv4 addresses as four decimal numbers 0-255 without leading
 * zeros; IPv6 addresses as inet_pton(3) reads them; ports 0-65535 in
 * decimal without leading zeros. A CR anywhere but just before the LF is
 * refused, and so is an LF without its CR.
 *
 * Version 2: the 12-octet signature, version 2, command LOCAL (0) or PROXY
 * (1), a family/transport octet whose nibbles are known (family 0-3,
 * transport 0-2), a 16-bit length, then exactly that many octets. For
 * PROXY over TCP/IPv4 (0x11) and TCP/IPv6 (0x21) the addresses and ports
 * are taken. UDP (0x12, 0x22) and AF_UNIX (0x31, 0x32) are valid but keep
 * the connection's own addresses. For these six the length must cover the
 * address block (12, 36 or 216 octets) and the rest must be whole TLVs
 * (type, 16-bit length, value), which are skipped unread; a CRC32C TLV is
 * not verified. LOCAL, and PROXY with any other family/transport octet,
 * keep the connection's own addresses and skip the whole block unread.
 */
#ifndef POP2_PROXY_H
#define POP2_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* The longest version 1 header, CRLF included. */
#define PROXY_V1_MAX 107
/* The longest version 2 header: 16 fixed octets and a 16-bit length. */
#define PROXY_V2_MAX (16 + 65535)

enum proxy_status {
	PROXY_MORE, /* every octet given was taken; the header goes on */
	PROXY_DONE, /* the header is complete; result holds what it says */
	PROXY_BAD   /* not a valid header; why says what is wrong */
};

struct proxy_result {
	int version; /* 1 or 2 */
	/*
	 * true: LOCAL, UNKNOWN or a family pop2d does not take: the
	 * connection's own addresses stand, src and dst are all zero.
	 * false: src and dst are AF_INET or AF_INET6, ports included.
	 */
	bool local;
	struct sockaddr_storage src;
	struct sockaddr_storage dst;
};

/* One header being read. Only result and why are for the caller. */
struct proxy_parser {
	struct proxy_result result; /* valid after PROXY_DONE */
	const char *why;	    /* a phrase, set by PROXY_BAD */
	enum proxy_status status;
	size_t seen;	/* octets of the header taken */
	size_t total;	/* v2: 16 + the length field, once known */
	size_t keep;	/* v2: octets kept in buf (fixed part and addresses) */
	bool tlv_check; /* v2: the octets past keep must be whole TLVs */
	unsigned tlv_hdr; /* v2: octets of the current TLV's header taken */
	unsigned tlv_hi;  /* v2: the high octet of its length */
	size_t tlv_end;	  /* v2: where the current TLV's value ends */
	unsigned char buf[16 + 216];
};

/* Makes P ready for a new header. */
void proxy_init(struct proxy_parser *p);

/*
 * Takes octets of the header from DATA (LEN octets, LEN may be 0) and
 * stores in *USED how many of them belong to it: all of them for
 * PROXY_MORE, the header's tail for PROXY_DONE (the rest is the client's),
 * unspecified for PROXY_BAD. Once PROXY_DONE or PROXY_BAD has been
 * returned, every later call returns it again with *USED = 0. The header's
 * whole length is then proxy_length(P).
 */
enum proxy_status proxy_feed(
    struct proxy_parser *p, const void *data, size_t len, size_t *used);

/* The octets of the header taken so far (its length after PROXY_DONE). */
size_t proxy_length(const struct proxy_parser *p);

/* A network of -H: FAMILY's first PREFIX bits of ADDR, the rest zero. */
struct proxy_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned prefix;
	unsigned char addr[16]; /* 4 octets used for AF_INET */
};

#define PROXY_NETS_MAX 64

struct proxy_nets {
	size_t count;
	struct proxy_net net[PROXY_NETS_MAX];
};

/*
 * Parses LIST: one or more entries separated by single commas, no spaces;
 * an entry is an IPv4 or IPv6 address (inet_pton(3)) alone (a /32 or
 * /128) or followed by "/PREFIX" (decimal, no leading zero, at most 32 or
 * 128). An IPv4-mapped IPv6 entry (::ffff:a.b.c.d) with a prefix of 96 or
 * more is stored as the IPv4 network it names. Host bits set past the
 * prefix are refused as a likely mistake. Returns 0 with *NETS filled, or
 * -1 with errno EINVAL (or E2BIG: more than PROXY_NETS_MAX entries), *WHY
 * a phrase and *NETS empty.
 */
int proxy_nets_parse(
    struct proxy_nets *nets, const char *list, const char **why);

/*
 * Whether the address SA (LEN octets, as from getpeername(2)) lies in one
 * of NETS. An IPv4-mapped IPv6 address is taken as the IPv4 address it
 * carries. Any family other than AF_INET and AF_INET6 is never listed.
 */
bool proxy_nets_match(
    const struct proxy_nets *nets, const struct sockaddr *sa, socklen_t len);

#endif
