#include "command.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static bool plausible_term(const char *term)
{
	size_t len = term ? strlen(term) : 0;

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = term[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == '+'))
			return false;
	}
	return true;
}

void sbx_env_free(char **env)
{
	for (size_t i = 0; env != NULL && env[i] != NULL; i++)
		free(env[i]);
	free(env);
}

/* Set KEY=VALUE (ENTRY) in ENV of *N entries, replacing an earlier KEY. */
static int env_set(char **env, size_t *n, const char *entry)
{
	size_t keylen = strcspn(entry, "=");
	char *copy = strdup(entry);

	if (copy == NULL)
		return -1;
	for (size_t i = 0; i < *n; i++) {
		if (strncmp(env[i], entry, keylen + 1) == 0) {
			free(env[i]);
			env[i] = copy;
			return 0;
		}
	}
	env[(*n)++] = copy;
	return 0;
}

int sbx_env_build(const struct sbx_run_options *opts, const char *host_term, char ***out,
		  struct sbx_error *err)
{
	char term[80];
	const char *defaults[] = {
		"PATH=" SBX_DEFAULT_PATH,
		"HOME=/tmp",
		"LANG=C.UTF-8",
		term,
	};
	size_t n = 0;
	char **env = calloc(SBX_ARRAY_SIZE(defaults) + opts->n_image_env + opts->n_env + 1, sizeof(char *));

	if (env == NULL)
		return sbx_fail(err, ENOMEM, "building the environment");
	snprintf(term, sizeof(term), "TERM=%s", plausible_term(host_term) ? host_term : "dumb");
	for (size_t i = 0; i < SBX_ARRAY_SIZE(defaults); i++)
		if (env_set(env, &n, defaults[i]) < 0)
			goto nomem;
	for (size_t i = 0; i < opts->n_image_env; i++)
		if (env_set(env, &n, opts->image_env[i]) < 0)
			goto nomem;
	for (size_t i = 0; i < opts->n_env; i++)
		if (env_set(env, &n, opts->env[i]) < 0)
			goto nomem;
	*out = env;
	return 0;
nomem:
	sbx_env_free(env);
	return sbx_fail(err, ENOMEM, "building the environment");
}

static const char *env_get(char *const envp[], const char *key)
{
	size_t len = strlen(key);

	for (size_t i = 0; envp[i] != NULL; i++)
		if (strncmp(envp[i], key, len) == 0 && envp[i][len] == '=')
			return envp[i] + len + 1;
	return NULL;
}

static int exec_failed(const char *path, int errnum, const char *origin, struct sbx_error *err)
{
	struct stat st;

	if (errnum == ENOENT && stat(path, &st) == 0)
		return sbx_fail_status(err, SBX_EXIT_NOEXEC, 0,
				       "cannot execute %s in the sandbox: its interpreter was not found", path);
	if (errnum == ENOENT || errnum == ENOTDIR)
		return sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "%s: not found in the sandbox (%s has no such file)",
				       path, origin);
	if (errnum == ENOEXEC)
		return sbx_fail_status(err, SBX_EXIT_NOEXEC, 0,
				       "cannot execute %s in the sandbox: not an executable format "
				       "(a script needs a #! line)", path);
	return sbx_fail_status(err, SBX_EXIT_NOEXEC, errnum, "cannot execute %s in the sandbox", path);
}

int sbx_exec_command(char *const argv[], char *const envp[], const char *origin, struct sbx_error *err)
{
	const char *name = argv[0];
	const char *path = env_get(envp, "PATH");
	char candidate[PATH_MAX];
	int denied = 0;

	if (name[0] == '\0')
		return sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "empty command name");
	if (strchr(name, '/') != NULL) {
		execve(name, argv, envp);
		return exec_failed(name, errno, origin, err);
	}
	/* A PATH search like execvp's, but without its fallback of running
	 * any non-executable file through /bin/sh. */
	for (const char *p = path ? path : ""; ; ) {
		const char *end = strchrnul(p, ':');
		int len = (int)(end - p);

		snprintf(candidate, sizeof(candidate), "%.*s%s%s", len, p, len ? "/" : "", name);
		execve(candidate, argv, envp);
		if (errno == EACCES)
			denied = errno;
		else if (errno != ENOENT && errno != ENOTDIR)
			return exec_failed(candidate, errno, origin, err);
		if (*end == '\0')
			break;
		p = end + 1;
	}
	if (denied)
		return sbx_fail_status(err, SBX_EXIT_NOEXEC, denied,
				       "cannot execute %s in the sandbox", name);
	return sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0,
			       "command not found in the sandbox: %s (%s has none on PATH=%s)", name, origin,
			       path ? path : "");
}
