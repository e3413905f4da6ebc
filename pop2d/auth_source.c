#include "config.h"

#include <stddef.h>

#include "auth_source.h"
#ifdef HAVE_PAM
#include "auth_pam.h"
#endif

static enum auth_result
passwd_file_verify(struct auth_login *l, const char *user, char *password,
    struct auth_user *out, const char **why)
{
	return auth_passwd_file(
	    l->cfg->passwd_fd, l->cfg->dummy, user, password, out, why);
}

static enum auth_result
shadow_verify(struct auth_login *l, const char *user, char *password,
    struct auth_user *out, const char **why)
{
	return auth_system(l->cfg->dummy, user, password, out, why);
}

static void
passwd_file_dummy(struct auth_source_config *cfg)
{
	auth_dummy_passwd_file(cfg->passwd_fd, cfg->dummy);
}

static void
shadow_dummy(struct auth_source_config *cfg)
{
	auth_dummy_shadow("/etc/shadow", cfg->dummy);
}

static const struct auth_source passwd_file_source = {
	.name = "passwd-file",
	.prepare_dummy = passwd_file_dummy,
	.verify = passwd_file_verify,
};

static const struct auth_source shadow_source = {
	.name = "shadow",
	.prepare_dummy = shadow_dummy,
	.verify = shadow_verify,
};

#ifdef HAVE_PAM
static const struct auth_source pam_source = {
	.name = "pam",
	.verify = auth_pam_verify,
	.establish = auth_pam_establish,
	.end = auth_pam_end,
};
#endif

/* The system's accounts, in order of preference: the first one built in. */
static const struct auth_source *const system_sources[] = {
#ifdef HAVE_PAM
	&pam_source,
#endif
	&shadow_source,
};

const struct auth_source *
auth_source_choose(const struct auth_source_config *cfg)
{
	if (cfg->passwd_fd != -1)
		return &passwd_file_source;
	return system_sources[0];
}

void
auth_source_prepare(struct auth_source_config *cfg)
{
	const struct auth_source *src = auth_source_choose(cfg);

	cfg->dummy[0] = '\0';
	if (src->prepare_dummy != NULL)
		src->prepare_dummy(cfg);
}

bool
auth_source_have_pam(void)
{
#ifdef HAVE_PAM
	return true;
#else
	return false;
#endif
}
