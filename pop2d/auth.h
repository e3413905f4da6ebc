/*
 * auth: verify a user's password. Nothing else: no identity changes, no
 * maildrop access, no replies.
 *
 * Every failure costs one crypt(3) call: an unknown user or a locked entry
 * is checked against a dummy hash so that timing does not tell them apart
 * from a wrong password. The dummy is a hash of the source's own accounts,
 * chosen once before any user name is seen (auth_dummy_passwd_file(),
 * auth_dummy_shadow()), so that it costs what their real hashes cost
 * without depending on the name asked for.
 */
#ifndef POP2_AUTH_H
#define POP2_AUTH_H

#include <pwd.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct auth_user {
	char name[256];
	char home[1024]; /* empty when unknown */
	bool change_id;	 /* false: keep the current identity */
	bool system;	 /* a system account: initgroups() for its groups */
	uid_t uid;
	gid_t gid;
};

/* The size of a dummy: crypt(3)'s largest output (CRYPT_OUTPUT_SIZE). */
#define AUTH_DUMMY_SIZE 384

enum auth_result {
	AUTH_OK,     /* *user is filled in */
	AUTH_DENIED, /* unknown user, wrong password, locked: same reply */
	AUTH_ERROR   /* the backend failed (read error, out of memory) */
};

/*
 * Checks PASSWORD against the crypt(3) string HASH (no {SCHEME} prefix) in
 * constant time. A hash that is empty, starts with '!' or '*', or that
 * crypt(3) rejects never matches, but costs one crypt(3) call of the dummy
 * hash all the same. A password of CRYPT_MAX_PASSPHRASE_SIZE octets or
 * more never matches. Returns true on a match.
 */
bool auth_check_hash(const char *password, const char *hash);

/*
 * Sets DUMMY (AUTH_DUMMY_SIZE octets) to the setting (method, cost and
 * salt, not the hash) of the first well-formed entry of the passwd-file
 * open at FD whose hash is a "$id$" crypt(3) string (not empty, locked or
 * DES), so that a check against it costs the method and cost of the
 * file's own hashes; to a built-in yescrypt hash at
 * Debian's default cost when there is none or the file cannot be read.
 */
void auth_dummy_passwd_file(int fd, char *dummy);

/*
 * Sets DUMMY as auth_dummy_passwd_file() does, from the shadow file PATH
 * (/etc/shadow, readable by root only): the setting of the first such hash of an account
 * other than root, which cannot log in and whose hash may be older than
 * the rest; the built-in one when there is none or PATH cannot be read.
 */
void auth_dummy_shadow(const char *path, char *dummy);

/*
 * Looks USER up in the passwd-file open at FD and checks PASSWORD, which
 * is neither copied nor cleared (that is the caller's job). Wherever there
 * is no real hash to check, DUMMY is checked instead (NULL or "": the
 * built-in one; one that crypt(3) rejects: that one, then the built-in
 * one). *OUT is zeroed
 * first and filled in on AUTH_OK only: change_id is true when the entry
 * has a uid and a gid. On AUTH_OK *WHY is set to NULL; on AUTH_DENIED and
 * AUTH_ERROR to a static phrase for the log: "unknown user", "wrong
 * password", "locked entry" ('!' or '*'), "no password" (empty hash),
 * "unusable hash" (crypt(3) rejects the stored string), or "passwd-file
 * unreadable" (AUTH_ERROR, errno set by the read). Malformed lines are
 * skipped silently: they are reported by passwd_check() once per change of
 * the file, not at every login.
 */
enum auth_result auth_passwd_file(int fd, const char *dummy, const char *user,
    const char *password, struct auth_user *out, const char **why);

/*
 * Looks NAME up in the passwd database with getpwnam_r(), its buffer
 * growing from sysconf(_SC_GETPW_R_SIZE_MAX) as ERANGE asks, up to 1 MiB.
 * Returns 0 with *PW filled in and pointing into *BUF, SIZE octets, which
 * the caller releases with auth_getpw_free(); or -1 with errno (ENOENT: no
 * such user; ENOMEM; ERANGE: an entry past the bound; the database's
 * error), *BUF then NULL.
 */
int auth_getpw(const char *name, struct passwd *pw, char **buf, size_t *size);

/* Wipes and frees BUF of SIZE octets from auth_getpw() (NULL: nothing). */
void auth_getpw_free(char *buf, size_t size);

/*
 * Fills OUT as the system account PW, whose identity the session takes.
 * Returns 0, or -1 with OUT zeroed when the name or the home would not
 * fit whole (cut, a home would name another folder).
 */
int auth_user_from_pw(struct auth_user *out, const struct passwd *pw);

/*
 * Looks USER up in the system's accounts (getpwnam, and getspnam for the
 * hash when the shadow file can be read) and checks PASSWORD, as
 * auth_passwd_file() does, DUMMY alike. User names are case-sensitive. Refused
 * with the same AUTH_DENIED: uid 0 ("uid 0"), a locked or empty hash ('!', '*',
 * empty: "locked entry", "no password"), an account past its shadow
 * expiry date or whose password has expired or must be changed
 * ("expired"), and, when pop2d does not run as root, any user but the
 * one it runs as ("not this server's user"), and an account whose name
 * or home does not fit struct auth_user ("user name or home too long").
 * On AUTH_OK change_id and system are true and uid, gid and home come
 * from the account.
 */
enum auth_result auth_system(const char *dummy, const char *user,
    const char *password, struct auth_user *out, const char **why);

#endif
