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

/*
 * Why a session is refused or ends with a negative reply. Every reply text
 * is in one table in session.c; the rest of pop2d names a reply by its
 * kind and never writes protocol text.
 */
enum session_error {
	SESSION_OK = 0,
	/* The state machine's own. */
	SESSION_ERR_MISSING_LOGIN,  /* HELO without a user or a password */
	SESSION_ERR_BAD_LOGIN,	    /* any refused login, at the deadline */
	SESSION_ERR_MISSING_FOLDER, /* FOLD without a name */
	SESSION_ERR_BAD_MSGNO,	    /* READ with a bad number */
	SESSION_ERR_UNEXPECTED_ARG, /* an argument to a command that has none */
	SESSION_ERR_OUT_OF_SEQUENCE, /* unknown, or not allowed now */
	/* The login's and the server's. */
	SESSION_ERR_UNAVAILABLE,    /* a configuration error: no session */
	SESSION_ERR_STATE_UNUSABLE, /* the user's state directory */
	SESSION_ERR_IN_USE,	    /* another session holds the user's lock */
	SESSION_ERR_MAILDROP_BUSY,  /* its lock was not had in time */
	SESSION_ERR_MAILDROP_UNUSABLE, /* it cannot be opened or read */
	SESSION_ERR_LINE_TOO_LONG,
	SESSION_ERR_NUL_OCTET,
	SESSION_ERR_IDLE,	      /* the idle or login timeout */
	SESSION_ERR_MAILDROP_CHANGED, /* by another program, under RETR */
	/* A commit's, at QUIT and FOLD. */
	SESSION_ERR_COMMIT_BUSY, /* locks stayed taken; nothing deleted */
	SESSION_ERR_COMMIT_LOCK_FAILED, /* locks not taken; nothing deleted */
	SESSION_ERR_COMMIT_TOO_LARGE,	/* the journal would exceed -J */
	SESSION_ERR_COMMIT_CHANGED,   /* by another program; nothing deleted */
	SESSION_ERR_COMMIT_NO_SPACE,  /* no room for the journal */
	SESSION_ERR_COMMIT_READ_ONLY, /* the folder may not be written */
	SESSION_ERR_COMMIT_FAILED,    /* any other: nothing deleted */
	SESSION_ERR_COMMIT_PARTLY,    /* some removals may be done */
	SESSION_ERR_COMMIT_INTERRUPTED, /* finished at the next login */
	SESSION_ERR_COUNT
};

/* The backend. Every function gets ARG as its first parameter. */
struct session_backend {
	void *arg;
	/*
	 * Checks USER's PASSWORD (which it may overwrite) and selects INBOX.
	 * Returns SESSION_OK with *COUNT set, SESSION_ERR_BAD_LOGIN for a
	 * refused login, or the kind of error that keeps a good login from
	 * being served (SESSION_ERR_IN_USE...).
	 */
	enum session_error (*login)(
	    void *arg, const char *user, char *password, size_t *count);
	/*
	 * Commits the current folder's deletions. Returns SESSION_OK, or the
	 * kind of failure (SESSION_ERR_COMMIT_...).
	 */
	enum session_error (*commit)(void *arg);
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
	char reply[1200]; /* the reply line with CRLF, or empty */
	size_t len;
	uint32_t send;	   /* nonzero: stream message SEND instead of a reply */
	bool login_failed; /* reply at the failed-login deadline, not before */
	bool close;	   /* close the connection after the reply */
	const char *reason; /* for the log when closing: why the session ends */
};

struct session {
	enum session_state state;
	const struct session_backend *be;
	uint32_t count;	  /* messages in the selected folder */
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
void session_step(
    struct session *s, char *line, size_t len, struct session_out *out);

/*
 * Fills *OUT with the negative reply of kind ERR (not SESSION_OK) that
 * closes the session; OUT->reason is the reply's text. S may be NULL when
 * no session runs yet (a configuration error: SESSION_ERR_UNAVAILABLE).
 */
void session_fail(
    struct session *s, enum session_error err, struct session_out *out);

#endif
