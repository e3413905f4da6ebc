/*
 * passwd: Dovecot-style passwd-file lookups.
 *
 * Line format: user:hash:uid:gid:gecos:home:shell:extra, every field after
 * the hash optional; gecos, shell, extra and anything after them are
 * ignored. Lines end with LF; a CR just before the LF (or at the end of a
 * last line without LF) is removed. Empty lines and lines starting with '#'
 * are ignored. The hash is a crypt(3) string, optionally prefixed by
 * {CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT} or {BLF-CRYPT} (the scheme name
 * in any case); the prefix is removed.
 *
 * A malformed line is reported through the callback with its line number
 * and skipped, so a later line for the same user can still match:
 * - a line longer than PASSWD_LINE_MAX octets (a CR counts, the LF does
 *   not), or one containing a NUL octet;
 * - an empty user, a user of 256 octets or more, one containing a control
 *   character or '/', or the names "." and ".." (users become paths);
 * - no ':' after the user (a missing hash field);
 * - a {SCHEME} prefix other than the four above, or a '{' without '}';
 * - a hash of 512 octets or more, or one containing a control character;
 * - a uid or gid that is not all ASCII digits or not below 2^31-1;
 * - a uid without a gid or a gid without a uid: both or neither (there is
 *   no default to fill in the other half);
 * - a home of 1024 octets or more, containing a control character, or not
 *   starting with '/'.
 * An empty hash, or one starting with '!' or '*', is well-formed: it is
 * the caller's business to refuse it.
 */
#ifndef POP2_PASSWD_H
#define POP2_PASSWD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PASSWD_LINE_MAX 4096

struct passwd_entry {
	char user[256];
	char hash[512]; /* crypt(3) string, prefix removed */
	bool has_uid;	/* false: the uid field was empty or absent */
	bool has_gid;	/* always equal to has_uid in a parsed entry */
	uid_t uid;
	gid_t gid;
	char home[1024]; /* empty when absent */
};

/* Called once per malformed line: LINENO counts from 1; WHY is a phrase. */
typedef void passwd_warn_fn(void *arg, unsigned long lineno, const char *why);

/*
 * Reads the passwd-file open at FD from its start (pread, the offset is not
 * moved) and looks for USER (case-sensitive). The first well-formed line
 * for USER wins and reading stops there: malformed lines after it are
 * neither read nor reported. Returns 1 and fills *E when found, 0 when not
 * found, or -1 with errno on a read error (EISDIR for a directory). WARN
 * may be NULL. Nothing is allocated. *E is all zero on 0 and -1; hashes of
 * other users are wiped from memory before returning.
 */
int passwd_lookup(int fd, const char *user, struct passwd_entry *e,
    passwd_warn_fn *warn, void *warn_arg);

/*
 * Called for each well-formed entry E (its hash included, wiped once the
 * call returns); a nonzero result stops the reading.
 */
typedef int passwd_each_fn(void *arg, const struct passwd_entry *e);

/*
 * Reads the passwd-file open at FD from its start (pread, the offset is
 * not moved) and calls EACH for every well-formed entry, in file order,
 * until it returns nonzero. Malformed lines are skipped silently. Returns
 * what EACH last returned (0 when the file was read to its end), or -1
 * with errno on a read error. Nothing is allocated.
 */
int passwd_each(int fd, passwd_each_fn *each, void *arg);

/*
 * Reads the whole passwd-file open at FD (pread, the offset is not moved)
 * and reports every malformed line through WARN, as passwd_lookup() would
 * on its way to a user it never finds. Returns the number of malformed
 * lines, or -1 with errno on a read error.
 */
int passwd_check(int fd, passwd_warn_fn *warn, void *warn_arg);

/*
 * Tells whether the passwd-file open at FD, named PATH, is seen in this
 * version for the first time by any process that shares the directory open
 * at DIRFD, so that its malformed lines are reported once per change of the
 * file rather than at every login. A version is the file's device, inode,
 * size, mtime and ctime (an edit in place changes the last three, a
 * replacement the inode). It is remembered as an empty file in DIRFD named
 * PASSWD_SEEN_PREFIX, a hash of PATH, and the version; creating it with
 * O_EXCL makes exactly one process the first. The first also removes the
 * marks of PATH's earlier versions. A name with ':' cannot be a user's
 * (':' separates the fields of every passwd format). Returns 1 (first
 * sight: report), 0 (seen before), or -1 with errno when nothing can be
 * remembered there (the caller then reports every time).
 */
int passwd_first_sight(int fd, const char *path, int dirfd);

#define PASSWD_SEEN_PREFIX ".passwd-seen:"

/*
 * Parses one line (LEN octets, no LF or CR terminator) into *E, which is
 * zeroed first. Returns 0, or -1 and sets *WHY to a short static phrase
 * saying what is wrong (*E then holds no usable entry). Comment and empty
 * lines are the caller's business: passwd_lookup skips them before calling
 * this. Exposed for tests and the fuzzer.
 */
int passwd_parse_line(
    const char *line, size_t len, struct passwd_entry *e, const char **why);

#endif
