/*
 * sink: where a message's wire octets go.
 *
 * Every format streams a message through one of these, so a format's
 * header needs nothing of another format's to say where it writes.
 */
#ifndef POP2_SINK_H
#define POP2_SINK_H

#include <stddef.h>

/* Takes LEN octets at BUF: returns 0, or -1 with errno set. */
struct sink {
	int (*write)(void *arg, const void *buf, size_t len);
	void *arg;
};

#endif
