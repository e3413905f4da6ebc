/*
 * session: the RFC 937 state machine.
 *
 * It performs no I/O and keeps no globals: it is fed one client line at a
 * time and answers with what to do next. Everything it needs from the
 * world (passwords, folders, message sizes) comes through a backend, which
 * tests replace with one held in memory.
 */
#ifndef POP2_SESSION_H
#define POP2_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum session_state {
	SESSION_AUTH,
	SESSION_MBOX,
	SESSION_ITEM,
	SESSION_NEXT,
	SESSION_CLOSED
};

/* The backend. Every function gets ARG as its first parameter. */
struct session_backend {
	void *arg;
	/*
	 * Checks USER's PASSWORD (which it may overwrite) and selects INBOX.
	 * Returns 1 with *COUNT set, 0 for a bad login, or -1 when the login
	 * was good but INBOX cannot be served; *WHY then is the reply text.
	 */
	int (*login)(void *arg, const char *user, char *password, size_t *count,
	    const char **why);
	/* Commits the current folder's deletions. Returns 0, or -1 with *WHY. */
	int (*commit)(void *arg, const char **why);
	/*
	 * Selects folder NAME. Returns 0 with *COUNT set; -1 when it does not
	 * exist or may not be read (the reply is then #0).
	 */
	int (*select)(void *arg, const char *name, size_t *count);
	/* Octets that RETR would send for message N; 0 if none or deleted. */
	uint64_t (*size)(void *arg, uint32_t n);
	/* Marks message N deleted (N was just sent). */
	void (*mark_deleted)(void *arg, uint32_t n);
};

/* What the caller must do after session_step(). */
struct session_out {
	char reply[1200];   /* the reply line with CRLF, or empty */
	size_t len;
	uint32_t send;      /* nonzero: stream message SEND instead of a reply */
	bool login_failed;  /* reply at the failed-login deadline, not before */
	bool close;         /* close the connection after the reply */
	const char *reason; /* for the log when closing: why the session ends */
};

struct session {
	enum session_state state;
	const struct session_backend *be;
	uint32_t count;   /* messages in the selected folder */
	uint32_t current; /* current message number, 1-based */
	char folder[1024];
};

void session_init(struct session *s, const struct session_backend *be);

/* Fills *OUT with the greeting: "+ POP2 HOST pop2d VERSION server ready". */
void session_greet(struct session *s, const char *host, const char *version,
    struct session_out *out);

/*
 * Handles one client line (LEN octets, no terminator, NUL-terminated and
 * writable: a password in it is wiped). Fills *OUT.
 */
void session_step(struct session *s, char *line, size_t len,
    struct session_out *out);

/*
 * Fills *OUT with a negative reply REASON (e.g. "Autologout; idle for too
 * long") that closes the session.
 */
void session_fail(struct session *s, const char *reason, struct session_out *out);

#endif
