/*
 * cmd: one client line to one command. No state, no I/O.
 */
#ifndef POP2_CMD_H
#define POP2_CMD_H

#include <stdbool.h>
#include <stddef.h>

enum cmd_kind {
	CMD_UNKNOWN,
	CMD_HELO,
	CMD_FOLD,
	CMD_READ,
	CMD_RETR,
	CMD_ACKS,
	CMD_ACKD,
	CMD_NACK,
	CMD_QUIT
};

struct cmd {
	enum cmd_kind kind;
	bool has_arg; /* a space followed the keyword */
	char *arg;    /* what follows that one space (may be empty) */
	size_t arglen;
};

/*
 * Splits LINE (LEN octets, no terminator) into a case-insensitive keyword
 * and the argument after the single space that ends it. Always fills *C;
 * an unknown or empty keyword gives CMD_UNKNOWN.
 */
void cmd_parse(char *line, size_t len, struct cmd *c);

#endif
