/*
 * wire_ref.h: a reference for the wire octets of SPEC §2, written from its
 * words and not from lib/wire.c, for fuzz_mbox and test/check_wire to
 * compare the library with. Only the list of hidden fields is shared
 * (wire_hidden[]: the one table; check_wire pins it to SPEC's list).
 *
 * It works one octet at a time with explicit states, where the library
 * works on lines and blocks with memchr() and vector masks, so that the
 * two are unlikely to share a mistake:
 *
 * - A header line is a field when, within its first WIRE_HDR_LOOK octets,
 *   a name of at least one octet (no ':', space, tab, CR or LF) is
 *   followed by any spaces and tabs and then ':'. The name is compared
 *   with the table without regard to ASCII case.
 * - The header section ends at the first empty line ("\n" or "\r\n"),
 *   which is kept. A line that starts with a space or a tab continues the
 *   field above it and shares its fate; any other line that is not a
 *   hidden field is kept.
 * - Every kept LF whose stored predecessor is not CR becomes CRLF; the
 *   last line, when the text does not end in LF and the line is kept, is
 *   ended with CRLF; no octets at all become CRLF.
 *
 * Everything is static: include it in one file of a program.
 */
#ifndef POP2_WIRE_REF_H
#define POP2_WIRE_REF_H

#include <stddef.h>
#include <string.h>

#include "wire.h"

/* Receives the reference's output, in order. */
typedef void ref_emit_fn(void *arg, const char *p, size_t n);

enum ref_field_state {
	RF_NAME,  /* reading the name */
	RF_BLANK, /* spaces and tabs after the name */
	RF_FIELD, /* the ':' was seen in time: a field */
	RF_NONE,  /* not a field */
};

/*
 * Reads header line L (LEN octets) octet by octet. Returns the length of
 * its field name, copied in lower case to NAME (WIRE_HDR_LOOK octets), or
 * 0 when the line is no field; *COLON is then the offset of the ':'.
 */
static size_t
ref_field(const char *l, size_t len, char *name, size_t *colon)
{
	enum ref_field_state st = RF_NAME;
	size_t i, nlen = 0;
	char c;

	for (i = 0; i < len && i < WIRE_HDR_LOOK && st < RF_FIELD; i++) {
		c = l[i];
		switch (st) {
		case RF_NAME:
			if (c == ':')
				st = nlen > 0 ? RF_FIELD : RF_NONE;
			else if (c == ' ' || c == '\t')
				st = nlen > 0 ? RF_BLANK : RF_NONE;
			else if (c == '\r' || c == '\n')
				st = RF_NONE;
			else
				name[nlen++] =
				    (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			break;
		case RF_BLANK:
			if (c == ':')
				st = RF_FIELD;
			else if (c != ' ' && c != '\t')
				st = RF_NONE;
			break;
		default:
			break;
		}
		if (st == RF_FIELD)
			*colon = i;
	}
	return st == RF_FIELD ? nlen : 0;
}

/* Tells whether the lower-case NAME (LEN octets) is in the table. */
static int
ref_name_hidden(const char *name, size_t len)
{
	size_t k;

	for (k = 0; wire_hidden[k] != NULL; k++)
		if (strlen(wire_hidden[k]) == len &&
		    memcmp(wire_hidden[k], name, len) == 0)
			return 1;
	return 0;
}

/* The wire octets of the message text T (N octets), given to EMIT. */
static void
ref_wire(const char *t, size_t n, ref_emit_fn *emit, void *arg)
{
	char name[WIRE_HDR_LOOK];
	size_t i, len, colon, sent = 0;
	int header = 1, hidden = 0, keep = 1, at_bol = 1;
	char prev = '\n';

	for (i = 0; i < n; i++) {
		if (at_bol && header) {
			/* The line's fate, decided by its first octets. */
			if (t[i] == '\n' ||
			    (t[i] == '\r' && i + 1 < n && t[i + 1] == '\n'))
				header = hidden = 0;
			else if (t[i] != ' ' && t[i] != '\t') {
				len = ref_field(t + i, n - i, name, &colon);
				hidden = len > 0 && ref_name_hidden(name, len);
			}
			keep = !hidden;
		}
		at_bol = t[i] == '\n';
		if (keep) {
			if (t[i] == '\n' && prev != '\r') {
				emit(arg, "\r\n", 2);
				sent += 2;
			} else {
				emit(arg, t + i, 1);
				sent++;
			}
		}
		prev = t[i];
	}
	if (n > 0 && !at_bol && keep) {
		emit(arg, "\r\n", 2);
		sent += 2;
	}
	if (sent == 0)
		emit(arg, "\r\n", 2);
}

#endif
