/* The sandbox's description, built from options and the image's config:
 * plain data, so every field is checked here without a sandbox. */
#include <stdlib.h>

#include "options.h"
#include "spec.h"
#include "unit.h"

#define ARGS(...) (char *[]){ __VA_ARGS__, NULL }
#define NARGS(...) ((int)(sizeof((char *[]){ __VA_ARGS__ }) / sizeof(char *)))
/* The options keep pointers into argv: it must outlive them, so it is a
 * local of the test, not a literal scoped to one CHECK. */
#define PARSE_INTO(argv, o, e, ...)                                                      \
	char *argv[] = { __VA_ARGS__, NULL };                                            \
	int argv##_r = sbx_parse_run_options(NARGS(__VA_ARGS__), argv, o, e)
#define PARSE(o, e, ...) sbx_parse_run_options(NARGS(__VA_ARGS__), ARGS(__VA_ARGS__), o, e)

static const struct sbx_spec_host no_tty = { .stdin_is_tty = false, .term = "xterm" };

static const char *env_get(char *const *env, const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; env[i] != NULL; i++)
		if (strncmp(env[i], key, n) == 0 && env[i][n] == '=')
			return env[i] + n + 1;
	return NULL;
}

static void test_defaults(void)
{
	struct sbx_run_options o;
	struct sbx_error err = { 0 };
	struct sbx_spec s;
	const struct sbx_spec_mount *m;

	unsetenv("SBX_RUNTIME");
	PARSE_INTO(a1, &o, &err, "--rootfs", "/r", "--", "sh", "-c", "x");
	CHECK(a1_r == 0);
	CHECK(sbx_spec_build(&o, &no_tty, &s, &err) == 0);
	CHECK_STR(s.root_path, "/r");
	CHECK(s.root_readonly);
	CHECK_STR(s.args[0], "sh");
	CHECK(s.uid == 1000 && s.gid == 1000);
	CHECK(!s.terminal);
	CHECK(s.no_new_privileges);
	CHECK_STR(s.hostname, "sandbox");
	CHECK(s.network_namespace);
	CHECK_STR(s.cwd, "/workspace");
	CHECK_STR(env_get(s.env, "PATH"), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	CHECK_STR(env_get(s.env, "TERM"), "xterm");
	CHECK(s.memory_limit == 2ULL << 30 && s.pids_limit == 256);
	CHECK(s.cpu_quota_us == 0 && s.cpu_period_us == 0);
	CHECK_STR(s.seccomp_profile, "default");
	CHECK(s.runtime == SBX_RUNTIME_AUTO);
	/* The scratch workspace, the sandbox user's. */
	m = sbx_spec_find_mount(&s, "/workspace");
	CHECK(m != NULL && m->origin == SBX_SPEC_MOUNT_NEW && m->owned && !m->readonly);
	CHECK(m != NULL && strcmp(m->type, "tmpfs") == 0 && m->size == SBX_DEFAULT_TMPFS_SIZE);
	m = sbx_spec_find_mount(&s, "/tmp");
	CHECK(m != NULL && m->mode == 01777 && m->nosuid && m->nodev && !m->owned);
	m = sbx_spec_find_mount(&s, "/sys");
	CHECK(m != NULL && m->readonly && strcmp(m->type, "sysfs") == 0);
	m = sbx_spec_find_mount(&s, "/etc/resolv.conf");
	CHECK(m != NULL && m->origin == SBX_SPEC_MOUNT_GENERATED && m->readonly);
	CHECK(sbx_spec_find_mount(&s, "/dev/shm") != NULL && sbx_spec_find_mount(&s, "/proc") != NULL);
	sbx_spec_free(&s);
	sbx_run_options_free(&o);
}

static void test_options_map_one_to_one(void)
{
	struct sbx_run_options o;
	struct sbx_error err = { 0 };
	struct sbx_spec s;
	const struct sbx_spec_mount *m;

	PARSE_INTO(a2, &o, &err, "--rootfs", "/r", "-w", "/ws", "--user", "0:5", "--network", "host", "--hostname",
		   "h1", "--cpus", "1.5", "--memory", "0", "--pids", "9", "--seccomp", "unconfined", "--ro-bind",
		   "/a:/opt/a", "--bind", "/b:/opt/b", "--tmpfs", "/opt/t", "--writable-root", "-e", "K=V",
		   "--runtime", "runsc", "--timeout", "2", "-t", "true");
	CHECK(a2_r == 0);
	CHECK(sbx_spec_build(&o, &no_tty, &s, &err) == 0);
	CHECK(s.uid == 0 && s.gid == 5);
	CHECK(!s.network_namespace);
	CHECK_STR(s.hostname, "h1");
	CHECK(s.cpu_period_us == 100000 && s.cpu_quota_us == 150000);
	CHECK(s.memory_limit == 0 && s.pids_limit == 9);
	CHECK(s.seccomp_profile == NULL);
	CHECK(!s.root_readonly);
	CHECK(s.terminal); /* -t, whatever stdin is */
	CHECK(s.runtime == SBX_RUNTIME_RUNSC);
	CHECK(s.timeout_ns == 2000000000ULL);
	CHECK_STR(env_get(s.env, "K"), "V");
	m = sbx_spec_find_mount(&s, "/workspace");
	CHECK(m != NULL && m->origin == SBX_SPEC_MOUNT_WORKSPACE && strcmp(m->source, "/ws") == 0);
	CHECK_STR(s.cwd, "/workspace");
	m = sbx_spec_find_mount(&s, "/opt/a");
	CHECK(m != NULL && m->origin == SBX_SPEC_MOUNT_EXTRA && m->extra == 0 && m->readonly);
	m = sbx_spec_find_mount(&s, "/opt/b");
	CHECK(m != NULL && m->origin == SBX_SPEC_MOUNT_EXTRA && m->extra == 1 && !m->readonly);
	m = sbx_spec_find_mount(&s, "/opt/t");
	CHECK(m != NULL && strcmp(m->type, "tmpfs") == 0);
	/* Extra mounts come after the standard ones: they may go below them. */
	CHECK(sbx_spec_find_mount(&s, "/opt/a") > sbx_spec_find_mount(&s, "/tmp"));
	sbx_spec_free(&s);
	sbx_run_options_free(&o);
}

static void test_working_directory(void)
{
	struct sbx_run_options o;
	struct sbx_error err = { 0 };
	struct sbx_spec s;
	struct sbx_spec_host bare = { .stdin_is_tty = false };

	/* No -w and no /workspace in the image: the scratch one all the
	 * same, on the point sbx_complete_root makes, as natively. */
	PARSE_INTO(a3, &o, &err, "--rootfs", "/r", "true");
	CHECK(a3_r == 0);
	CHECK(sbx_spec_build(&o, &bare, &s, &err) == 0);
	CHECK(sbx_spec_find_mount(&s, "/workspace") != NULL);
	CHECK_STR(s.cwd, "/workspace");
	sbx_spec_free(&s);
	/* The image's WorkingDir without -w. */
	o.workdir = "/srv/app";
	CHECK(sbx_spec_build(&o, &bare, &s, &err) == 0);
	CHECK_STR(s.cwd, "/srv/app");
	sbx_spec_free(&s);
	/* --tty auto follows stdin. */
	bare.stdin_is_tty = true;
	CHECK(sbx_spec_build(&o, &bare, &s, &err) == 0);
	CHECK(s.terminal);
	sbx_spec_free(&s);
	sbx_run_options_free(&o);
	/* -w wins over the WorkingDir; --no-tty over a terminal. */
	PARSE_INTO(a4, &o, &err, "--rootfs", "/r", "-w", "/ws", "--no-tty", "true");
	CHECK(a4_r == 0);
	o.workdir = "/srv/app";
	CHECK(sbx_spec_build(&o, &bare, &s, &err) == 0);
	CHECK_STR(s.cwd, "/workspace");
	CHECK(!s.terminal);
	sbx_spec_free(&s);
	sbx_run_options_free(&o);
}

static void test_runtime_names(void)
{
	struct sbx_run_options o;
	struct sbx_error err = { 0 };
	enum sbx_runtime r;

	CHECK(sbx_parse_runtime("auto", &r) == 0 && r == SBX_RUNTIME_AUTO);
	CHECK(sbx_parse_runtime("native", &r) == 0 && r == SBX_RUNTIME_NATIVE);
	CHECK(sbx_parse_runtime("runsc", &r) == 0 && r == SBX_RUNTIME_RUNSC);
	CHECK(sbx_parse_runtime("runc", &r) < 0);
	CHECK(sbx_parse_runtime("", &r) < 0);
	CHECK_STR(sbx_runtime_name(SBX_RUNTIME_RUNSC), "runsc");
	CHECK(PARSE(&o, &err, "--runtime", "gvisor", "true") < 0);
	/* $SBX_RUNTIME is the default; the option wins. */
	setenv("SBX_RUNTIME", "native", 1);
	CHECK(PARSE(&o, &err, "true") == 0 && o.runtime == SBX_RUNTIME_NATIVE);
	sbx_run_options_free(&o);
	CHECK(PARSE(&o, &err, "--runtime", "runsc", "true") == 0 && o.runtime == SBX_RUNTIME_RUNSC);
	sbx_run_options_free(&o);
	setenv("SBX_RUNTIME", "bogus", 1);
	CHECK(PARSE(&o, &err, "true") < 0 && strstr(err.msg, "SBX_RUNTIME") != NULL);
	unsetenv("SBX_RUNTIME");
}

void test_spec(void)
{
	test_defaults();
	test_options_map_one_to_one();
	test_working_directory();
	test_runtime_names();
}
