#include "options.h"
#include "spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum option_id {
	OPT_ROOTFS,
	OPT_IMAGE,
	OPT_STORE,
	OPT_WORKSPACE,
	OPT_ENV,
	OPT_RO_BIND,
	OPT_BIND,
	OPT_TMPFS,
	OPT_USER,
	OPT_NETWORK,
	OPT_HOSTNAME,
	OPT_VERBOSE,
	OPT_TIMEOUT,
	OPT_KILL_GRACE,
	OPT_OUTPUT_LIMIT,
	OPT_JSON,
	OPT_JSON_FD,
	OPT_TTY,
	OPT_NO_TTY,
	OPT_SECCOMP,
	OPT_SECCOMP_LOG,
	OPT_REQUIRE,
	OPT_WRITABLE_ROOT,
	OPT_MEMORY,
	OPT_CPUS,
	OPT_PIDS,
	OPT_REQUIRE_LIMITS,
	OPT_RUNTIME,
	OPT_HELP,
};

struct option_def {
	const char *long_name;
	char short_name;
	enum { ARG_NONE, ARG_REQUIRED, ARG_OPTIONAL /* --name=VALUE only */ } arg;
	enum option_id id;
};

static const struct option_def option_defs[] = {
	{ "rootfs", 0, ARG_REQUIRED, OPT_ROOTFS },
	{ "image", 0, ARG_REQUIRED, OPT_IMAGE },
	{ "store", 0, ARG_REQUIRED, OPT_STORE },
	{ "workspace", 'w', ARG_REQUIRED, OPT_WORKSPACE },
	{ "env", 'e', ARG_REQUIRED, OPT_ENV },
	{ "ro-bind", 0, ARG_REQUIRED, OPT_RO_BIND },
	{ "bind", 0, ARG_REQUIRED, OPT_BIND },
	{ "tmpfs", 0, ARG_REQUIRED, OPT_TMPFS },
	{ "user", 0, ARG_REQUIRED, OPT_USER },
	{ "network", 0, ARG_REQUIRED, OPT_NETWORK },
	{ "hostname", 0, ARG_REQUIRED, OPT_HOSTNAME },
	{ "verbose", 'v', ARG_NONE, OPT_VERBOSE },
	{ "timeout", 0, ARG_REQUIRED, OPT_TIMEOUT },
	{ "kill-grace", 0, ARG_REQUIRED, OPT_KILL_GRACE },
	{ "output-limit", 0, ARG_REQUIRED, OPT_OUTPUT_LIMIT },
	{ "json", 0, ARG_REQUIRED, OPT_JSON },
	{ "json-fd", 0, ARG_REQUIRED, OPT_JSON_FD },
	{ "tty", 't', ARG_NONE, OPT_TTY },
	{ "no-tty", 0, ARG_NONE, OPT_NO_TTY },
	{ "seccomp", 0, ARG_REQUIRED, OPT_SECCOMP },
	{ "seccomp-log", 0, ARG_NONE, OPT_SECCOMP_LOG },
	{ "require", 0, ARG_REQUIRED, OPT_REQUIRE },
	{ "writable-root", 0, ARG_OPTIONAL, OPT_WRITABLE_ROOT },
	{ "memory", 'm', ARG_REQUIRED, OPT_MEMORY },
	{ "cpus", 0, ARG_REQUIRED, OPT_CPUS },
	{ "pids", 0, ARG_REQUIRED, OPT_PIDS },
	{ "pids-limit", 0, ARG_REQUIRED, OPT_PIDS }, /* Docker's and Podman's name */
	{ "require-limits", 0, ARG_NONE, OPT_REQUIRE_LIMITS },
	{ "runtime", 0, ARG_REQUIRED, OPT_RUNTIME },
	{ "help", 'h', ARG_NONE, OPT_HELP },
};

/* S as a decimal number in units of 1/UNIT (a power of ten), its whole
 * part at most MAX_WHOLE; digits finer than 1/UNIT are refused when EXACT,
 * dropped otherwise. */
static int parse_fixed_point(const char *s, uint64_t unit, uint64_t max_whole, bool exact, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, scale = unit;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (uint64_t)(*p - '0');
		if (whole > max_whole)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1) {
				if (exact)
					return -1;
				continue;
			}
			scale /= 10;
			frac += (uint64_t)(*p - '0') * scale;
		}
	}
	if (*p != '\0')
		return -1;
	*out = whole * unit + frac;
	return 0;
}

int sbx_parse_seconds(const char *s, uint64_t *ns)
{
	if (parse_fixed_point(s, 1000000000ULL, 366ULL * 24 * 3600, false, ns) < 0 || *ns == 0)
		return -1;
	return 0;
}

int sbx_parse_memory(const char *s, uint64_t *bytes)
{
	if (strcmp(s, "0") == 0) {
		*bytes = 0;
		return 0;
	}
	/* Below a megabyte not even the dynamic loader starts. */
	if (sbx_parse_size(s, bytes) < 0 || *bytes < (1ULL << 20))
		return -1;
	return 0;
}

int sbx_parse_cpus(const char *s, uint64_t *millis)
{
	/* Thousandths at most: finer is refused, not rounded. */
	if (parse_fixed_point(s, 1000, SBX_MAX_CPUS, true, millis) < 0)
		return -1;
	/* cpu.max takes no quota below 1 ms in its 100 ms period. */
	if (*millis != 0 && (*millis < 10 || *millis > SBX_MAX_CPUS * 1000ULL))
		return -1;
	return 0;
}

int sbx_parse_pids(const char *s, uint64_t *pids)
{
	uint32_t n;

	if (sbx_parse_id(s, &n) < 0 || n > SBX_MAX_PIDS)
		return -1;
	*pids = n;
	return 0;
}

int sbx_parse_user(const char *spec, uint32_t *uid, uint32_t *gid)
{
	const char *colon = strchr(spec, ':');
	char uid_part[16];
	size_t len = colon ? (size_t)(colon - spec) : strlen(spec);

	if (len == 0 || len >= sizeof(uid_part))
		return -1;
	memcpy(uid_part, spec, len);
	uid_part[len] = '\0';
	if (sbx_parse_id(uid_part, uid) < 0)
		return -1;
	if (colon == NULL) {
		*gid = *uid;
		return 0;
	}
	return sbx_parse_id(colon + 1, gid);
}

char *sbx_normalize_sandbox_path(const char *path)
{
	size_t len = strlen(path);
	char *out, *o;
	const char *p = path;

	if (path[0] != '/' || len > 4096)
		return NULL;
	out = malloc(len + 1);
	if (out == NULL)
		return NULL;
	o = out;
	while (*p != '\0') {
		const char *start, *end;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		start = p;
		end = strchrnul(p, '/');
		if ((end - start == 1 && start[0] == '.') ||
		    (end - start == 2 && start[0] == '.' && start[1] == '.')) {
			free(out);
			return NULL;
		}
		*o++ = '/';
		memcpy(o, start, (size_t)(end - start));
		o += end - start;
		p = end;
	}
	*o = '\0';
	if (o == out) { /* "/" itself: the root is not a mount target */
		free(out);
		return NULL;
	}
	return out;
}

int sbx_clean_sandbox_path(const char *path, char *out, size_t len)
{
	size_t n = 0;

	if (len < 2)
		return -1;
	for (const char *p = path; *p != '\0';) {
		const char *end = strchrnul(p, '/');
		size_t part = (size_t)(end - p);

		if (part == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else if (part > 0 && !(part == 1 && p[0] == '.')) {
			if (n + 1 + part >= len)
				return -1;
			out[n] = '/';
			memcpy(out + n + 1, p, part);
			n += 1 + part;
		}
		p = *end ? end + 1 : end;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

static bool path_is_or_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Where extra mounts may not go: sbx owns these trees, and a mount there
 * could unmask /proc or replace a device node. */
static int check_mount_target(const char *opt, const char *dst, struct sbx_error *err)
{
	static const char *const reserved[] = { "/proc", "/dev", "/sys" };

	for (size_t i = 0; i < SBX_ARRAY_SIZE(reserved); i++)
		if (path_is_or_under(dst, reserved[i]) && strcmp(dst, "/dev/shm") != 0)
			return sbx_fail(err, 0, "--%s %s: sbx manages %s itself; choose another target",
					opt, dst, reserved[i]);
	return 0;
}

static int add_mount(struct sbx_run_options *opts, enum sbx_mount_kind kind, const char *opt,
		     const char *arg, struct sbx_error *err)
{
	struct sbx_mount_spec *m;
	const char *colon = strrchr(arg, ':');
	cleanup_free char *dst = NULL;
	uint64_t size = SBX_DEFAULT_TMPFS_SIZE;

	if (kind == SBX_MOUNT_TMPFS) {
		/* DST[:SIZE]; a sandbox path never needs a colon. */
		cleanup_free char *target = strndup(arg, colon ? (size_t)(colon - arg) : strlen(arg));

		if (target == NULL)
			return sbx_fail(err, ENOMEM, "--%s", opt);
		if (colon != NULL && sbx_parse_size(colon + 1, &size) < 0)
			return sbx_fail(err, 0, "--%s %s: bad size '%s' (use e.g. 64m or 1g)", opt,
					arg, colon + 1);
		dst = sbx_normalize_sandbox_path(target);
	} else {
		if (colon == NULL || colon == arg || colon[1] == '\0')
			return sbx_fail(err, 0, "--%s %s: expected SRC:DST", opt, arg);
		dst = sbx_normalize_sandbox_path(colon + 1);
	}
	if (dst == NULL)
		return sbx_fail(err, 0,
				"--%s %s: the target must be an absolute path other than / without . or .. components",
				opt, arg);
	/* /tmp and /dev/shm always get a tmpfs; --tmpfs only sets their size. */
	if (kind == SBX_MOUNT_TMPFS && strcmp(dst, "/tmp") == 0) {
		opts->tmp_size = size;
		return 0;
	}
	if (kind == SBX_MOUNT_TMPFS && strcmp(dst, "/dev/shm") == 0) {
		opts->shm_size = size;
		return 0;
	}
	if (check_mount_target(opt, dst, err) < 0)
		return -1;
	if (strcmp(dst, "/workspace") == 0)
		return sbx_fail(err, 0, "--%s %s: use -w/--workspace for /workspace", opt, arg);
	if (opts->n_mounts >= SBX_MAX_MOUNTS)
		return sbx_fail(err, 0, "--%s: at most %d extra mounts", opt, SBX_MAX_MOUNTS);
	m = &opts->mounts[opts->n_mounts];
	m->kind = kind;
	m->size = size;
	if (kind != SBX_MOUNT_TMPFS) {
		m->src = strndup(arg, (size_t)(colon - arg));
		if (m->src == NULL)
			return sbx_fail(err, ENOMEM, "--%s", opt);
	}
	m->dst = dst;
	dst = NULL;
	opts->n_mounts++;
	return 0;
}

static int check_hostname(const char *name, struct sbx_error *err)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64)
		return sbx_fail(err, 0, "--hostname '%s': must be 1 to 64 characters", name);
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return sbx_fail(err, 0,
					"--hostname '%s': only letters, digits, '-' and '.' are allowed",
					name);
	}
	return 0;
}

static int apply_option(struct sbx_run_options *opts, const struct option_def *def,
			const char *arg, struct sbx_error *err)
{
	const char *eq;

	switch (def->id) {
	case OPT_ROOTFS:
		opts->rootfs = arg;
		return 0;
	case OPT_IMAGE:
		opts->image = arg;
		return 0;
	case OPT_STORE:
		opts->store = arg;
		return 0;
	case OPT_WORKSPACE:
		opts->workspace = arg;
		return 0;
	case OPT_ENV:
		eq = strchr(arg, '=');
		if (eq == NULL || !sbx_valid_env_name(arg, (size_t)(eq - arg)))
			return sbx_fail(err, 0, "--env '%s': expected KEY=VALUE with KEY made of letters, digits and _",
					arg);
		if (opts->n_env >= SBX_MAX_ENV)
			return sbx_fail(err, 0, "--env: at most %d variables", SBX_MAX_ENV);
		opts->env[opts->n_env++] = arg;
		return 0;
	case OPT_RO_BIND:
		return add_mount(opts, SBX_MOUNT_RO_BIND, def->long_name, arg, err);
	case OPT_BIND:
		return add_mount(opts, SBX_MOUNT_BIND, def->long_name, arg, err);
	case OPT_TMPFS:
		return add_mount(opts, SBX_MOUNT_TMPFS, def->long_name, arg, err);
	case OPT_USER:
		if (sbx_parse_user(arg, &opts->uid, &opts->gid) < 0)
			return sbx_fail(err, 0, "--user '%s': expected UID[:GID] with numeric ids", arg);
		opts->user_set = true;
		return 0;
	case OPT_NETWORK:
		if (strcmp(arg, "none") == 0)
			opts->network = SBX_NETWORK_NONE;
		else if (strcmp(arg, "host") == 0)
			opts->network = SBX_NETWORK_HOST;
		else
			return sbx_fail(err, 0, "--network '%s': expected none or host", arg);
		return 0;
	case OPT_HOSTNAME:
		if (check_hostname(arg, err) < 0)
			return -1;
		opts->hostname = arg;
		return 0;
	case OPT_VERBOSE:
		opts->verbose = true;
		return 0;
	case OPT_TIMEOUT:
		if (sbx_parse_seconds(arg, &opts->timeout_ns) < 0)
			return sbx_fail(err, 0, "--timeout '%s': expected seconds, e.g. 30 or 0.5", arg);
		return 0;
	case OPT_KILL_GRACE:
		if (sbx_parse_seconds(arg, &opts->kill_grace_ns) < 0)
			return sbx_fail(err, 0, "--kill-grace '%s': expected seconds, e.g. 2 or 0.1", arg);
		return 0;
	case OPT_OUTPUT_LIMIT:
		if (sbx_parse_size(arg, &opts->output_limit) < 0 || opts->output_limit < 2)
			return sbx_fail(err, 0, "--output-limit '%s': expected a size, e.g. 1m or 64k", arg);
		return 0;
	case OPT_JSON:
		opts->json_path = arg;
		return 0;
	case OPT_JSON_FD: {
		uint32_t fd;

		if (sbx_parse_id(arg, &fd) < 0 || fd > 1000000)
			return sbx_fail(err, 0, "--json-fd '%s': expected a file descriptor number", arg);
		opts->json_fd = (int)fd;
		return 0;
	}
	case OPT_TTY:
		opts->tty = SBX_TTY_ALWAYS;
		return 0;
	case OPT_NO_TTY:
		opts->tty = SBX_TTY_NEVER;
		return 0;
	case OPT_SECCOMP:
		if (arg[0] == '\0')
			return sbx_fail(err, 0, "--seccomp: expected a profile name, a path or unconfined");
		opts->seccomp = arg;
		return 0;
	case OPT_SECCOMP_LOG:
		opts->seccomp_log = true;
		return 0;
	case OPT_REQUIRE:
		if (strcmp(arg, "landlock") != 0)
			return sbx_fail(err, 0, "--require '%s': the layers that can be required are: landlock", arg);
		opts->require_landlock = true;
		return 0;
	case OPT_WRITABLE_ROOT:
		opts->writable_root = true;
		if (arg != NULL && (sbx_parse_size(arg, &opts->writable_root_size) < 0 ||
				    opts->writable_root_size == 0))
			return sbx_fail(err, 0, "--writable-root=%s: expected a size, e.g. 512m or 2g", arg);
		return 0;
	case OPT_MEMORY:
		if (sbx_parse_memory(arg, &opts->limits.memory_bytes) < 0)
			return sbx_fail(err, 0, "--memory '%s': expected a size of 1m or more, e.g. 512m or 2g "
					   "(0: no limit)", arg);
		opts->limits.memory_given = true;
		return 0;
	case OPT_CPUS:
		if (sbx_parse_cpus(arg, &opts->limits.cpu_millis) < 0)
			return sbx_fail(err, 0, "--cpus '%s': expected a number of CPUs from 0.01 to %d, e.g. 0.5 "
					   "or 2 (0: no limit)", arg, SBX_MAX_CPUS);
		opts->limits.cpus_given = true;
		return 0;
	case OPT_PIDS:
		if (sbx_parse_pids(arg, &opts->limits.pids) < 0)
			return sbx_fail(err, 0, "--%s '%s': expected a number of processes up to %d (0: no limit)",
					def->long_name, arg, SBX_MAX_PIDS);
		opts->limits.pids_given = true;
		return 0;
	case OPT_REQUIRE_LIMITS:
		opts->limits.required = true;
		return 0;
	case OPT_RUNTIME:
		if (sbx_parse_runtime(arg, &opts->runtime) < 0)
			return sbx_fail(err, 0, "--runtime '%s': expected auto, native or runsc", arg);
		return 0;
	case OPT_HELP:
		return 1;
	}
	return sbx_fail(err, 0, "internal error: unhandled option");
}

static const struct option_def *find_long(const char *name, size_t len)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(option_defs); i++)
		if (strlen(option_defs[i].long_name) == len &&
		    strncmp(option_defs[i].long_name, name, len) == 0)
			return &option_defs[i];
	return NULL;
}

static const struct option_def *find_short(char c)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(option_defs); i++)
		if (option_defs[i].short_name == c)
			return &option_defs[i];
	return NULL;
}

/* Parse one option word at argv[*i]; advances *i past its argument. */
static int parse_one(int argc, char *const argv[], int *i, struct sbx_run_options *opts,
		     struct sbx_error *err)
{
	const char *word = argv[*i];
	const struct option_def *def;
	const char *inline_arg = NULL;

	if (word[1] == '-') {
		const char *name = word + 2;
		const char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);

		def = find_long(name, len);
		if (def == NULL)
			return sbx_fail(err, 0, "unknown option '%.*s' (see sbx run --help)",
					(int)len + 2, word);
		if (eq != NULL) {
			if (def->arg == ARG_NONE)
				return sbx_fail(err, 0, "option --%s takes no value", def->long_name);
			inline_arg = eq + 1;
		}
	} else {
		def = find_short(word[1]);
		if (def == NULL)
			return sbx_fail(err, 0, "unknown option '-%c' (see sbx run --help)", word[1]);
		if (word[2] != '\0') {
			if (def->arg != ARG_REQUIRED)
				return sbx_fail(err, 0, "option -%c takes no value", word[1]);
			inline_arg = word + 2;
		}
	}
	if (def->arg == ARG_REQUIRED && inline_arg == NULL) {
		if (*i + 1 >= argc)
			return sbx_fail(err, 0, "option --%s needs a value", def->long_name);
		inline_arg = argv[++*i];
	}
	return apply_option(opts, def, inline_arg, err);
}

int sbx_parse_run_options(int argc, char *const argv[], struct sbx_run_options *opts,
			  struct sbx_error *err)
{
	int i;

	memset(opts, 0, sizeof(*opts));
	opts->uid = SBX_DEFAULT_UID;
	opts->gid = SBX_DEFAULT_GID;
	opts->hostname = SBX_DEFAULT_HOSTNAME;
	opts->network = SBX_NETWORK_NONE;
	opts->tmp_size = SBX_DEFAULT_TMPFS_SIZE;
	opts->shm_size = SBX_DEFAULT_TMPFS_SIZE;
	opts->kill_grace_ns = SBX_DEFAULT_KILL_GRACE_NS;
	opts->json_fd = -1;
	opts->rootfs_fd = -1;
	opts->tty = SBX_TTY_AUTO;
	opts->seccomp = "default";
	opts->limits.memory_bytes = SBX_DEFAULT_MEMORY;
	opts->limits.pids = SBX_DEFAULT_PIDS;

	for (i = 0; i < argc; i++) {
		const char *word = argv[i];
		int r;

		if (strcmp(word, "--") == 0) {
			i++;
			break;
		}
		/* The command starts at the first word that is not an option, so
		 * its own options are never taken for ours. */
		if (word[0] != '-' || word[1] == '\0')
			break;
		r = parse_one(argc, argv, &i, opts, err);
		if (r != 0)
			return r;
	}
	if (opts->rootfs != NULL && opts->image != NULL)
		return sbx_fail(err, 0, "give --image or --rootfs, not both");
	/* No command: the image's Entrypoint and Cmd (see image_run.c). */
	opts->argv = &argv[i < argc ? i : argc];
	return 0;
}

void sbx_run_options_free(struct sbx_run_options *opts)
{
	for (size_t i = 0; i < opts->n_mounts; i++) {
		free((char *)opts->mounts[i].src);
		free(opts->mounts[i].dst);
	}
	opts->n_mounts = 0;
}
