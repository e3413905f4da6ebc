#include "config.h"

#include <check.h>
#include <crypt.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "auth_source.h"

/* The hashes of test/data/passwd, as stored after the prefix. */
#define ALICE_HASH                                                             \
	"$6$Q2mAIQm2U7t92EN4$NMuSt1QrvaDIfk0JjIREFNmGb9bxS/"                   \
	"Bw0/gldeJQTV1VEsPO2FO6gBvp/YJCFhwQLRn7FTGPNAtbERSoV0kwh1"
#define BOB_HASH                                                               \
	"$6$trw3LbIpnCSWX1ue$gDSasw.UYW4TP8NFK/oZXmVPcYTkuOBSIUE"              \
	"qrCSM7.8z8Ja7TXDK1ZjKcc6uKxd8zK.PxtQuXEkvP3gnmTS8q0"
#define CAROL_HASH                                                             \
	"$y$j9T$myiZuVqC9w5o2e/O81Re0.$"                                       \
	"q54JuTGnf6.ufEfTASfZhpCNfOxLySbu8b3kdw5AA09"
#define DAVE_HASH                                                              \
	"$y$j9T$LMTvNujqPVFVmfGce.7BA1$"                                       \
	"MXcsu182AnmF1zkPh.6Ho3VIB2yEmeLns9gh5gcDJl9"
#define ERIN_HASH "$2b$05$GWHCC7MWMVt6ccTOaaTOU.ohGPZJsvAbpbcz8G0X1NrDOcmM38UjW"
#define FRANK_HASH                                                             \
	"$5$Yf.njvNteKpz3GJo$r7arVmkoVB154.yTJNIUSfvN55RWJsMPyLLHtNgWDw2"
#define LOCKED_HASH                                                            \
	"$6$ModR.DRbf1N2DLqF$WQCrJ5UGHdcWQH6U2dMw/v.mseP27m2jB"                \
	"Xv2BMOSXSHagjY4gCPKHR03rQs8HGpoRVv3EvDvU1kW0kUmitxda0"

#define BOB_PASSWORD "pass with  two spaces"

/* A cheap method and cost, of "five-secret", and a dearer one. */
#define FIVE_SETTING "$5$rounds=1000$SaltSaltSalt$"
#define FIVE_HASH FIVE_SETTING "SS4OIkW9wb66MrI6aIw/rVdSBfeA9vF36cTy8lPxwr9"
#define SIX_HASH                                                               \
	"$6$rounds=5000$AnotherSalt$dlhvf0g/c/"                                \
	"lcBl.Y4RqqKLHpRpeSJGsQa5z2BG5TjAJB"                                   \
	"xG3ffgSShE9A1igJgSfTOYTJIHI43LvCkKEL5athv1"

struct fixture_user {
	const char *name;
	const char *hash;
	const char *password;
	const char *wrong; /* a near miss */
};

static const struct fixture_user users[] = {
	{ "alice", ALICE_HASH, "wonderland", "Wonderland" },
	{ "bob", BOB_HASH, BOB_PASSWORD, "pass with two spaces" },
	{ "carol", CAROL_HASH, "carol-secret", "carol-secret " },
	{ "dave", DAVE_HASH, "dave-secret", "dave-secreT" },
	{ "erin", ERIN_HASH, "erin-secret", "erin-secre" },
	{ "frank", FRANK_HASH, "frank-secret", "" },
};
#define NUSERS (sizeof(users) / sizeof(users[0]))

/*
 * The crypt(3) calls auth makes, seen through wrappers of crypt_rn and
 * crypt_r: this executable's definitions win over libcrypt's at link time,
 * and the wrappers pass each call on to the real function. They show that
 * every failure pays for a real hash, which no clock could show reliably.
 */
#define CALLS_MAX 4

static struct {
	unsigned int n;
	char setting[CALLS_MAX][CRYPT_OUTPUT_SIZE];
	bool ok[CALLS_MAX]; /* crypt returned a hash, not an error */
} calls;

static void
calls_reset(void)
{
	memset(&calls, 0, sizeof(calls));
}

static void
calls_record(const char *setting, const char *r)
{
	if (calls.n < CALLS_MAX) {
		snprintf(calls.setting[calls.n], sizeof(calls.setting[0]), "%s",
		    setting);
		calls.ok[calls.n] = r != NULL && r[0] != '*';
	}
	calls.n++;
}

char *
crypt_rn(const char *phrase, const char *setting, void *data, int size)
{
	static char *(*real)(const char *, const char *, void *, int);
	char *r;

	if (real == NULL)
		real = (char *(*)(const char *, const char *, void *,
		    int))dlsym(RTLD_NEXT, "crypt_rn");
	ck_assert_ptr_nonnull(real);
	r = real(phrase, setting, data, size);
	calls_record(setting, r);
	return r;
}

char *
crypt_r(
    const char *phrase, const char *setting, struct crypt_data *restrict data)
{
	static char *(*real)(const char *, const char *, struct crypt_data *);
	char *r;

	if (real == NULL)
		real = (char *(*)(const char *, const char *,
		    struct crypt_data *))dlsym(RTLD_NEXT, "crypt_r");
	ck_assert_ptr_nonnull(real);
	r = real(phrase, setting, data);
	calls_record(setting, r);
	return r;
}

/* The last call hashed the dummy: a yescrypt setting, and it succeeded. */
static void
assert_dummy_call(unsigned int i)
{
	ck_assert_uint_lt(i, CALLS_MAX);
	ck_assert_msg(strncmp(calls.setting[i], "$y$", 3) == 0,
	    "call %u used \"%s\", not the yescrypt dummy", i, calls.setting[i]);
	ck_assert_msg(calls.ok[i], "the dummy hash did not hash");
}

static int
open_data(const char *name)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", TEST_DATA, name);
	fd = open(path, O_RDONLY);
	ck_assert_msg(fd >= 0, "open %s: %s", path, strerror(errno));
	return fd;
}

/* An unlinked temporary file holding S. */
static int
open_temp_str(const char *s)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/check_auth.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	fd = mkstemp(path);
	ck_assert_msg(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	ck_assert_int_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
	return fd;
}

static enum auth_result
login(int fd, const char *user, const char *password, struct auth_user *out,
    const char **why)
{
	/* Junk, so that a test can see what auth writes. */
	memset(out, 'Z', sizeof(*out));
	*why = "junk";
	calls_reset();
	return auth_passwd_file(fd, NULL, user, password, out, why);
}

static void
assert_denied(
    int fd, const char *user, const char *password, const char *want_why)
{
	static const struct auth_user zero;
	struct auth_user out;
	const char *why;

	ck_assert_msg(login(fd, user, password, &out, &why) == AUTH_DENIED,
	    "%s with \"%s\" not denied", user, password);
	ck_assert_ptr_nonnull(why);
	ck_assert_str_eq(why, want_why);
	ck_assert_int_eq(memcmp(&out, &zero, sizeof(zero)), 0);
}

/* auth_check_hash */

/*
 * Every fixture hash uses a method this libcrypt can check (sha256crypt is
 * "legacy" but still checks), or the tests below would prove nothing.
 * Calling libcrypt here also keeps it linked under --as-needed, where the
 * wrappers alone would drop it.
 */
static void
assert_method_enabled(const char *name, const char *hash)
{
	int r = crypt_checksalt(hash);

	ck_assert_msg(r == CRYPT_SALT_OK || r == CRYPT_SALT_METHOD_LEGACY,
	    "%s: crypt_checksalt says %d", name, r);
}

START_TEST(hash_fixture_methods)
{
	size_t i;

	for (i = 0; i < NUSERS; i++)
		assert_method_enabled(users[i].name, users[i].hash);
	assert_method_enabled("locked", LOCKED_HASH);
}
END_TEST

START_TEST(hash_every_kind)
{
	size_t i;

	for (i = 0; i < NUSERS; i++) {
		ck_assert_msg(auth_check_hash(users[i].password, users[i].hash),
		    "%s: right password refused", users[i].name);
		ck_assert_msg(!auth_check_hash(users[i].wrong, users[i].hash),
		    "%s: \"%s\" accepted", users[i].name, users[i].wrong);
	}
}
END_TEST

START_TEST(hash_bob_spaces)
{
	ck_assert(auth_check_hash(BOB_PASSWORD, BOB_HASH));
	ck_assert(!auth_check_hash("pass with two spaces", BOB_HASH));
	ck_assert(!auth_check_hash(BOB_PASSWORD " ", BOB_HASH));
	ck_assert(!auth_check_hash(BOB_PASSWORD "\r", BOB_HASH));
	ck_assert(!auth_check_hash(" " BOB_PASSWORD, BOB_HASH));
}
END_TEST

START_TEST(hash_locked)
{
	/* The password is right for the hash behind the '!'... */
	ck_assert(auth_check_hash("locked-secret", LOCKED_HASH));
	/* ...and still never opens the locked entry. */
	ck_assert(!auth_check_hash("locked-secret", "!" LOCKED_HASH));
	ck_assert(!auth_check_hash("locked-secret", "*" LOCKED_HASH));
	ck_assert(!auth_check_hash("*", "*"));
	ck_assert(!auth_check_hash("", "*"));
	ck_assert(!auth_check_hash("!", "!"));
	ck_assert(!auth_check_hash("", ""));
	ck_assert(!auth_check_hash("x", ""));
}
END_TEST

START_TEST(hash_unusable)
{
	ck_assert(!auth_check_hash("abc", "abc"));
	ck_assert(!auth_check_hash("", "$6$"));
	ck_assert(!auth_check_hash("x", "$y$garbage"));
	ck_assert(!auth_check_hash("wonderland", "{CRYPT}" ALICE_HASH));
	/* The hash itself is not a password that matches it. */
	ck_assert(!auth_check_hash(ALICE_HASH, ALICE_HASH));
}
END_TEST

START_TEST(hash_long_password)
{
	char *pw = malloc(4096);

	ck_assert_ptr_nonnull(pw);
	memset(pw, 'a', 4095);
	pw[4095] = '\0';
	ck_assert(!auth_check_hash(pw, ALICE_HASH));
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 1] = '\0';
	ck_assert(!auth_check_hash(pw, ALICE_HASH));
	pw[CRYPT_MAX_PASSPHRASE_SIZE - 2] = '\0';
	ck_assert(!auth_check_hash(pw, ALICE_HASH));
	free(pw);
}
END_TEST

/* auth_passwd_file */

START_TEST(file_every_user)
{
	struct auth_user out;
	const char *why;
	int fd = open_data("passwd");
	size_t i;

	for (i = 0; i < NUSERS; i++) {
		ck_assert_msg(login(fd, users[i].name, users[i].password, &out,
				  &why) == AUTH_OK,
		    "%s: %s", users[i].name, why);
		ck_assert_ptr_null(why);
		ck_assert_str_eq(out.name, users[i].name);
		ck_assert_str_eq(out.home, "");
		ck_assert(!out.change_id);
		ck_assert_uint_eq(out.uid, 0);
		ck_assert_uint_eq(out.gid, 0);

		assert_denied(
		    fd, users[i].name, users[i].wrong, "wrong password");
	}
	close(fd);
}
END_TEST

START_TEST(file_bob_spaces)
{
	struct auth_user out;
	const char *why;
	int fd = open_data("passwd");

	ck_assert_int_eq(login(fd, "bob", BOB_PASSWORD, &out, &why), AUTH_OK);
	assert_denied(fd, "bob", "pass with two spaces", "wrong password");
	close(fd);
}
END_TEST

START_TEST(file_locked)
{
	int fd = open_data("passwd");

	assert_denied(fd, "locked", "locked-secret", "locked entry");
	assert_denied(fd, "star", "*", "locked entry");
	assert_denied(fd, "star", "", "locked entry");
	assert_denied(fd, "nopass", "", "no password");
	assert_denied(fd, "nopass", "x", "no password");
	close(fd);
}
END_TEST

START_TEST(file_unknown)
{
	int fd = open_data("passwd");

	assert_denied(fd, "mallory", "wonderland", "unknown user");
	assert_denied(fd, "Alice", "wonderland", "unknown user");
	assert_denied(fd, "", "", "unknown user");
	/* Malformed lines name no user. */
	assert_denied(fd, "nocolon", "", "unknown user");
	assert_denied(fd, "baduid", "baduid-secret", "unknown user");
	assert_denied(fd, "plain", "plain-secret", "unknown user");
	close(fd);
}
END_TEST

START_TEST(file_ids)
{
	struct auth_user out;
	const char *why;
	int fd = open_data("passwd-ids");

	ck_assert_int_eq(login(fd, "ids", "ids-secret", &out, &why), AUTH_OK);
	ck_assert_str_eq(out.name, "ids");
	ck_assert_str_eq(out.home, "/home/ids");
	ck_assert(out.change_id);
	ck_assert_uint_eq(out.uid, 1000);
	ck_assert_uint_eq(out.gid, 1001);
	assert_denied(fd, "ids", "ids-secreT", "wrong password");
	close(fd);
}
END_TEST

START_TEST(file_unusable_hash)
{
	int fd = open_temp_str("g:@@not-crypt\nh:{CRYPT}$9$no-such-method\n");

	assert_denied(fd, "g", "@@not-crypt", "unusable hash");
	assert_denied(fd, "h", "", "unusable hash");
	close(fd);
}
END_TEST

/* Longer than any crypt(3) output, so refused before crypt(3) sees it. */
START_TEST(file_long_hash)
{
	char line[1024];
	int fd;

	ck_assert_int_lt(snprintf(line, sizeof(line), "l:$6$saltsalt$%0*d\n",
			     CRYPT_OUTPUT_SIZE, 0),
	    (int)sizeof(line));
	fd = open_temp_str(line);
	assert_denied(fd, "l", "", "unusable hash");
	ck_assert_uint_eq(calls.n, 1);
	assert_dummy_call(0);
	close(fd);
}
END_TEST

START_TEST(file_unreadable)
{
	static const struct auth_user zero;
	struct auth_user out;
	const char *why;
	int fd;

	fd = open(TEST_DATA, O_RDONLY | O_DIRECTORY);
	ck_assert_int_ge(fd, 0);
	errno = 0;
	ck_assert_int_eq(
	    login(fd, "alice", "wonderland", &out, &why), AUTH_ERROR);
	ck_assert_int_eq(errno, EISDIR);
	ck_assert_str_eq(why, "passwd-file unreadable");
	ck_assert_int_eq(memcmp(&out, &zero, sizeof(zero)), 0);
	close(fd);

	ck_assert_int_eq(
	    login(-1, "alice", "wonderland", &out, &why), AUTH_ERROR);
	ck_assert_str_eq(why, "passwd-file unreadable");
}
END_TEST

/* What each outcome costs, counted in crypt(3) calls. */

START_TEST(cost_right_and_wrong)
{
	struct auth_user out;
	const char *why;
	int fd = open_data("passwd");

	ck_assert_int_eq(login(fd, "alice", "wonderland", &out, &why), AUTH_OK);
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_str_eq(calls.setting[0], ALICE_HASH);

	ck_assert_int_eq(login(fd, "bob", "x", &out, &why), AUTH_DENIED);
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_str_eq(calls.setting[0], BOB_HASH);
	close(fd);
}
END_TEST

START_TEST(cost_unknown_and_locked)
{
	static const char *const who[] = { "mallory", "locked", "star",
		"nopass", "plain" };
	struct auth_user out;
	const char *why;
	int fd = open_data("passwd");
	size_t i;

	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		ck_assert_int_eq(login(fd, who[i], "locked-secret", &out, &why),
		    AUTH_DENIED);
		ck_assert_msg(
		    calls.n == 1, "%s: %u crypt calls", who[i], calls.n);
		assert_dummy_call(0);
	}
	close(fd);

	calls_reset();
	ck_assert(!auth_check_hash("", ""));
	ck_assert_uint_eq(calls.n, 1);
	assert_dummy_call(0);
}
END_TEST

START_TEST(cost_unusable)
{
	struct auth_user out;
	const char *why;
	int fd = open_temp_str("g:@@not-crypt\n");

	ck_assert_int_eq(login(fd, "g", "x", &out, &why), AUTH_DENIED);
	/* The rejected hash costs nothing, so the dummy follows it. */
	ck_assert_uint_eq(calls.n, 2);
	ck_assert_str_eq(calls.setting[0], "@@not-crypt");
	ck_assert(!calls.ok[0]);
	assert_dummy_call(1);
	close(fd);
}
END_TEST

/*
 * The dummy: a hash of the source's own accounts, so that a refusal
 * without a real hash costs the method and cost of a real one.
 */

/* A passwd-file whose first usable hash comes after every kind of unusable one.
 */
static const char dummy_file[] = "malformed line\n"
				 "locked:!" SIX_HASH ":1:1\n"
				 "star:*:1:1\n"
				 "nopass::1:1\n"
				 "des:abJnggxhB/yWI:1:1\n"
				 "five:{SHA256-CRYPT}" FIVE_HASH ":1:1\n"
				 "six:" SIX_HASH ":1:1\n"
				 "g:@@not-crypt:1:1\n";

START_TEST(dummy_passwd_file_first_usable)
{
	static const char *const who[] = { "mallory", "locked", "star",
		"nopass", "Five", "five " };
	char dummy[AUTH_DUMMY_SIZE];
	struct auth_user out;
	const char *why;
	int fd = open_temp_str(dummy_file);
	size_t i;

	auth_dummy_passwd_file(fd, dummy);
	ck_assert_str_eq(dummy, FIVE_SETTING);
	/* Every refusal without a real hash pays for the file's dummy. */
	for (i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
		calls_reset();
		ck_assert_int_eq(auth_passwd_file(fd, dummy, who[i],
				     "five-secret", &out, &why),
		    AUTH_DENIED);
		ck_assert_msg(
		    calls.n == 1, "%s: %u crypt calls", who[i], calls.n);
		ck_assert_str_eq(calls.setting[0], FIVE_SETTING);
		ck_assert(calls.ok[0]);
	}
	/* A rejected hash: its cheap failure, then the dummy. */
	calls_reset();
	ck_assert_int_eq(
	    auth_passwd_file(fd, dummy, "g", "x", &out, &why), AUTH_DENIED);
	ck_assert_str_eq(why, "unusable hash");
	ck_assert_uint_eq(calls.n, 2);
	ck_assert_str_eq(calls.setting[1], FIVE_SETTING);
	/* A known user pays for their own hash; the dummy never matches. */
	calls_reset();
	ck_assert_int_eq(
	    auth_passwd_file(fd, dummy, "six", "five-secret", &out, &why),
	    AUTH_DENIED);
	ck_assert_str_eq(why, "wrong password");
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_str_eq(calls.setting[0], SIX_HASH);
	ck_assert_int_eq(
	    auth_passwd_file(fd, dummy, "five", "five-secret", &out, &why),
	    AUTH_OK);
	close(fd);
}
END_TEST

START_TEST(dummy_passwd_file_none)
{
	char dummy[AUTH_DUMMY_SIZE];
	int fd =
	    open_temp_str("locked:!" SIX_HASH "\nnopass:\ndes:abJnggxhB/yWI\n");

	auth_dummy_passwd_file(fd, dummy);
	ck_assert_msg(strncmp(dummy, "$y$", 3) == 0, "dummy %s", dummy);
	close(fd);
	auth_dummy_passwd_file(-1, dummy);
	ck_assert_msg(strncmp(dummy, "$y$", 3) == 0, "dummy %s", dummy);
}
END_TEST

/*
 * Only a hash's setting is kept, and crypt(3) hashes it with the method,
 * cost and salt of the whole hash: for bcrypt, whose salt no '$' ends,
 * too. Each hash is made here by crypt(3) from a setting it generates.
 */
START_TEST(dummy_setting_only)
{
	static const char *const prefixes[] = { "$y$", "$6$", "$5$", "$2b$",
		"$1$" };
	char dummy[AUTH_DUMMY_SIZE], hash[CRYPT_OUTPUT_SIZE], file[512];
	char whole[CRYPT_OUTPUT_SIZE];
	struct crypt_data cd;
	const char *r;
	size_t i;
	int fd;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		r = crypt_gensalt(prefixes[i], 0, NULL, 0);
		ck_assert_ptr_nonnull(r);
		memset(&cd, 0, sizeof(cd));
		r = crypt_rn("an account's password", r, &cd, (int)sizeof(cd));
		ck_assert_ptr_nonnull(r);
		snprintf(hash, sizeof(hash), "%s", r);
		snprintf(file, sizeof(file), "u:%s:1:1\n", hash);
		fd = open_temp_str(file);
		auth_dummy_passwd_file(fd, dummy);
		close(fd);
		ck_assert_msg(strlen(dummy) < strlen(hash) &&
			strncmp(dummy, hash, strlen(dummy)) == 0,
		    "%s: dummy \"%s\" is not a setting of %s", prefixes[i],
		    dummy, hash);
		/* The setting and the whole hash hash alike. */
		memset(&cd, 0, sizeof(cd));
		r = crypt_rn("x", hash, &cd, (int)sizeof(cd));
		ck_assert_ptr_nonnull(r);
		snprintf(whole, sizeof(whole), "%s", r);
		memset(&cd, 0, sizeof(cd));
		r = crypt_rn("x", dummy, &cd, (int)sizeof(cd));
		ck_assert_msg(r != NULL && r[0] != '*', "%s: \"%s\" rejected",
		    prefixes[i], dummy);
		ck_assert_str_eq(r, whole);
	}
}
END_TEST

/* A dummy crypt(3) rejects is followed by the built-in one. */
START_TEST(dummy_rejected)
{
	struct auth_user out;
	const char *why;
	int fd = open_temp_str(dummy_file);

	calls_reset();
	ck_assert_int_eq(
	    auth_passwd_file(fd, "$y$garbage", "mallory", "x", &out, &why),
	    AUTH_DENIED);
	ck_assert_uint_eq(calls.n, 2);
	ck_assert(!calls.ok[0]);
	assert_dummy_call(1);
	close(fd);
}
END_TEST

START_TEST(dummy_shadow)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[1024], dummy[AUTH_DUMMY_SIZE];
	int fd;
	FILE *f;

	snprintf(path, sizeof(path), "%s/check_auth.XXXXXX",
	    tmpdir != NULL && *tmpdir != '\0' ? tmpdir : "/tmp");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	ck_assert_ptr_nonnull(f);
	/* Root's own hash is passed over: it cannot log in. */
	fputs("root:" SIX_HASH ":19000:0:99999:7:::\n"
	      "daemon:*:19000:0:99999:7:::\n"
	      "bin:!:19000:0:99999:7:::\n"
	      "nopass::19000:0:99999:7:::\n"
	      "user:" FIVE_HASH ":19000:0:99999:7:::\n"
	      "other:" SIX_HASH ":19000:0:99999:7:::\n",
	    f);
	ck_assert_int_eq(fclose(f), 0);
	auth_dummy_shadow(path, dummy);
	ck_assert_str_eq(dummy, FIVE_SETTING);
	unlink(path);
	auth_dummy_shadow(path, dummy);
	ck_assert_msg(strncmp(dummy, "$y$", 3) == 0, "dummy %s", dummy);
}
END_TEST

/* The system's accounts pay for the dummy given for an unknown user. */
START_TEST(dummy_system_unknown)
{
	struct auth_user out;
	const char *why;

	calls_reset();
	ck_assert_int_eq(
	    auth_system(FIVE_HASH, "pop2d-no-such-user-here", "x", &out, &why),
	    AUTH_DENIED);
	ck_assert_str_eq(why, "unknown user");
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_str_eq(calls.setting[0], FIVE_HASH);
	ck_assert(calls.ok[0]);
}
END_TEST

/* The passwd database's lookup: found in a buffer of its own, or ENOENT. */
START_TEST(system_getpw)
{
	struct passwd pw, *want;
	char *buf = (char *)"unset", *name;
	size_t size = 0;

	want = getpwuid(getuid());
	ck_assert_ptr_nonnull(want);
	name = strdup(want->pw_name);
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(auth_getpw(name, &pw, &buf, &size), 0);
	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_ge(size, 1024);
	ck_assert_str_eq(pw.pw_name, name);
	ck_assert_int_eq(pw.pw_uid, getuid());
	ck_assert(pw.pw_name >= buf && pw.pw_name < buf + size);
	auth_getpw_free(buf, size);
	errno = 0;
	ck_assert_int_eq(
	    auth_getpw("pop2d-no-such-user-here", &pw, &buf, &size), -1);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_ptr_null(buf);
	auth_getpw_free(NULL, 0);
	free(name);
}
END_TEST

/* The passwd-file source takes its dummy from the file, once. */
START_TEST(dummy_source_prepare)
{
	struct auth_source_config cfg = { .passwd_fd =
					      open_temp_str(dummy_file) };
	struct auth_login l = { .cfg = &cfg };
	const struct auth_source *src;
	struct auth_user out;
	const char *why;
	char pw[] = "x";

	auth_source_prepare(&cfg);
	ck_assert_str_eq(cfg.dummy, FIVE_SETTING);
	src = auth_source_choose(&cfg);
	calls_reset();
	ck_assert_int_eq(
	    src->verify(&l, "mallory", pw, &out, &why), AUTH_DENIED);
	ck_assert_uint_eq(calls.n, 1);
	ck_assert_str_eq(calls.setting[0], FIVE_SETTING);
	close(cfg.passwd_fd);
	/* The system's accounts: the shadow file's, none for PAM. */
	cfg.passwd_fd = -1;
	auth_source_prepare(&cfg);
	if (auth_source_have_pam())
		ck_assert_str_eq(cfg.dummy, "");
}
END_TEST

/* The table: -p's file is its own source, else the build's system source. */
START_TEST(source_choice)
{
	struct auth_source_config cfg = { .passwd_fd = -1,
		.pam_service = "pop2" };
	const struct auth_source *src;

	src = auth_source_choose(&cfg);
	ck_assert_str_eq(src->name, auth_source_have_pam() ? "pam" : "shadow");
	ck_assert_ptr_nonnull(src->verify);
	/* Only PAM has credentials to establish and a handle to end. */
	ck_assert(auth_source_have_pam() == (src->establish != NULL));
	ck_assert(auth_source_have_pam() == (src->end != NULL));
#ifdef HAVE_PAM
	ck_assert(auth_source_have_pam());
#else
	ck_assert(!auth_source_have_pam());
#endif
	cfg.passwd_fd = open_data("passwd");
	src = auth_source_choose(&cfg);
	ck_assert_str_eq(src->name, "passwd-file");
	ck_assert_ptr_null(src->establish);
	ck_assert_ptr_null(src->end);
	close(cfg.passwd_fd);
}
END_TEST

/* The passwd-file source verifies as auth_passwd_file() does. */
START_TEST(source_passwd_file)
{
	struct auth_source_config cfg = { .passwd_fd = open_data("passwd") };
	struct auth_login l = { .cfg = &cfg };
	const struct auth_source *src = auth_source_choose(&cfg);
	struct auth_user out;
	const char *why;
	char good[] = "wonderland", bad[] = "wonderlan";

	ck_assert_int_eq(src->verify(&l, "alice", good, &out, &why), AUTH_OK);
	ck_assert_str_eq(out.name, "alice");
	ck_assert_ptr_null(why);
	ck_assert_int_eq(
	    src->verify(&l, "alice", bad, &out, &why), AUTH_DENIED);
	ck_assert_str_eq(why, "wrong password");
	ck_assert_int_eq(
	    src->verify(&l, "mallory", good, &out, &why), AUTH_DENIED);
	ck_assert_str_eq(why, "unknown user");
	close(cfg.passwd_fd);
}
END_TEST

static Suite *
auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	/* Real hashes are slow under sanitizers and valgrind. */
	tc = tcase_create("hash");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, hash_fixture_methods);
	tcase_add_test(tc, hash_every_kind);
	tcase_add_test(tc, hash_bob_spaces);
	tcase_add_test(tc, hash_locked);
	tcase_add_test(tc, hash_unusable);
	tcase_add_test(tc, hash_long_password);
	suite_add_tcase(s, tc);

	tc = tcase_create("passwd-file");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, file_every_user);
	tcase_add_test(tc, file_bob_spaces);
	tcase_add_test(tc, file_locked);
	tcase_add_test(tc, file_unknown);
	tcase_add_test(tc, file_ids);
	tcase_add_test(tc, file_unusable_hash);
	tcase_add_test(tc, file_long_hash);
	tcase_add_test(tc, file_unreadable);
	suite_add_tcase(s, tc);

	tc = tcase_create("cost");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, cost_right_and_wrong);
	tcase_add_test(tc, cost_unknown_and_locked);
	tcase_add_test(tc, cost_unusable);
	suite_add_tcase(s, tc);

	tc = tcase_create("dummy");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, dummy_passwd_file_first_usable);
	tcase_add_test(tc, dummy_passwd_file_none);
	tcase_add_test(tc, dummy_setting_only);
	tcase_add_test(tc, dummy_rejected);
	tcase_add_test(tc, dummy_shadow);
	tcase_add_test(tc, dummy_system_unknown);
	tcase_add_test(tc, system_getpw);
	tcase_add_test(tc, dummy_source_prepare);
	suite_add_tcase(s, tc);

	tc = tcase_create("source");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, source_choice);
	tcase_add_test(tc, source_passwd_file);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(auth_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
