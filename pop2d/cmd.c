#include "config.h"

#include <string.h>

#include "cmd.h"
#include "util.h"

static const struct {
	const char *name;
	enum cmd_kind kind;
} cmd_table[] = {
	{ "HELO", CMD_HELO },
	{ "FOLD", CMD_FOLD },
	{ "READ", CMD_READ },
	{ "RETR", CMD_RETR },
	{ "ACKS", CMD_ACKS },
	{ "ACKD", CMD_ACKD },
	{ "NACK", CMD_NACK },
	{ "QUIT", CMD_QUIT },
};

void
cmd_parse(char *line, size_t len, struct cmd *c)
{
	char *sp = memchr(line, ' ', len);
	size_t klen = sp != NULL ? (size_t)(sp - line) : len;
	size_t i;

	c->kind = CMD_UNKNOWN;
	c->has_arg = sp != NULL;
	c->arg = sp != NULL ? sp + 1 : line + len;
	c->arglen = sp != NULL ? len - klen - 1 : 0;
	for (i = 0; i < sizeof(cmd_table) / sizeof(cmd_table[0]); i++) {
		if (klen == 4 &&
		    util_ascii_caseeq(line, cmd_table[i].name, 4)) {
			c->kind = cmd_table[i].kind;
			return;
		}
	}
}
