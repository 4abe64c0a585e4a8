/* runsc's config.json from a hand-built description, read back with the
 * project's own JSON reader. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "json.h"
#include "runsc_bundle.h"
#include "seccomp_filter.h"
#include "unit.h"
#include "util.h"

static char *args[] = { "sh", "-c", "echo hi", NULL };
static char *env[] = { "PATH=/usr/bin:/bin", "HOME=/workspace", NULL };

static void base_spec(struct sbx_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->root_path = "/var/lib/sbx/rootfs/abc";
	s->root_readonly = true;
	s->args = args;
	s->env = env;
	s->cwd = "/workspace";
	s->uid = 1000;
	s->gid = 1001;
	s->no_new_privileges = true;
	s->hostname = "sbx";
	s->network_namespace = true;
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/proc", .type = "proc",
							    .source = "proc", .nosuid = true, .nodev = true,
							    .noexec = true };
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/sys", .type = "sysfs",
							    .source = "sysfs", .readonly = true, .nosuid = true,
							    .nodev = true, .noexec = true };
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/dev/shm", .type = "tmpfs",
							    .source = "tmpfs", .nosuid = true, .nodev = true,
							    .size = 64 << 20, .mode = 01777 };
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/tmp", .type = "tmpfs",
							    .source = "tmpfs", .nosuid = true, .nodev = true,
							    .size = 1 << 30, .mode = 0755, .owned = true };
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/workspace", .type = "bind",
							    .source = "/home/u/project", .nosuid = true,
							    .nodev = true, .origin = SBX_SPEC_MOUNT_WORKSPACE };
	s->mounts[s->n_mounts++] = (struct sbx_spec_mount){ .destination = "/data", .type = "bind",
							    .source = "/srv/data", .readonly = true, .nosuid = true,
							    .nodev = true, .origin = SBX_SPEC_MOUNT_EXTRA };
}

static sbx_json *gen(const struct sbx_spec *s, const struct sbx_bundle_paths *paths)
{
	struct sbx_error err = { 0 };
	char *text = NULL;
	sbx_json *doc = NULL;

	if (sbx_runsc_config_gen(s, paths, &text, &err) < 0) {
		fprintf(stderr, "sbx_runsc_config_gen: %s\n", err.msg);
		return NULL;
	}
	if (sbx_json_parse(text, "config.json", &doc, &err) < 0)
		fprintf(stderr, "%s\n%s\n", text, err.msg);
	free(text);
	return doc;
}

static const sbx_json *path(const sbx_json *v, const char *a, const char *b, const char *c)
{
	v = sbx_json_get(v, a);
	if (b != NULL)
		v = sbx_json_get(v, b);
	if (c != NULL)
		v = sbx_json_get(v, c);
	return v;
}

static uint64_t num(const sbx_json *v)
{
	uint64_t n = UINT64_MAX;

	sbx_json_uint64(v, &n);
	return n;
}

static bool has_str(const sbx_json *list, const char *s)
{
	for (size_t i = 0; i < sbx_json_array_size(list); i++)
		if (sbx_json_string(sbx_json_array_at(list, i)) != NULL &&
		    strcmp(sbx_json_string(sbx_json_array_at(list, i)), s) == 0)
			return true;
	return false;
}

static const sbx_json *mount_at(const sbx_json *doc, const char *destination)
{
	const sbx_json *mounts = sbx_json_get(doc, "mounts");

	for (size_t i = 0; i < sbx_json_array_size(mounts); i++) {
		const sbx_json *m = sbx_json_array_at(mounts, i);

		if (strcmp(sbx_json_string(sbx_json_get(m, "destination")), destination) == 0)
			return m;
	}
	return NULL;
}

static bool has_namespace(const sbx_json *doc, const char *type)
{
	const sbx_json *ns = path(doc, "linux", "namespaces", NULL);

	for (size_t i = 0; i < sbx_json_array_size(ns); i++)
		if (strcmp(sbx_json_string(sbx_json_get(sbx_json_array_at(ns, i), "type")), type) == 0)
			return true;
	return false;
}

static void test_process_and_root(void)
{
	struct sbx_spec s;
	struct sbx_bundle_paths paths = { .root = "/run/sbx/runsc/1/rootfs" };
	static const char *const caps[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };
	sbx_json *doc;

	base_spec(&s);
	doc = gen(&s, &paths);
	CHECK(doc != NULL);
	CHECK_STR(sbx_json_string(sbx_json_get(doc, "ociVersion")), "1.0.2");
	CHECK_STR(sbx_json_string(path(doc, "root", "path", NULL)), "/run/sbx/runsc/1/rootfs");
	CHECK(sbx_json_is_true(path(doc, "root", "readonly", NULL)));
	CHECK(num(path(doc, "process", "user", "uid")) == 1000);
	CHECK(num(path(doc, "process", "user", "gid")) == 1001);
	CHECK(path(doc, "process", "user", "additionalGids") == NULL);
	CHECK(sbx_json_array_size(path(doc, "process", "args", NULL)) == 3);
	CHECK_STR(sbx_json_string(sbx_json_array_at(path(doc, "process", "args", NULL), 2)), "echo hi");
	CHECK(sbx_json_array_size(path(doc, "process", "env", NULL)) == 2);
	CHECK(has_str(path(doc, "process", "env", NULL), "HOME=/workspace"));
	CHECK_STR(sbx_json_string(path(doc, "process", "cwd", NULL)), "/workspace");
	CHECK(!sbx_json_is_true(path(doc, "process", "terminal", NULL)));
	CHECK(sbx_json_is_true(path(doc, "process", "noNewPrivileges", NULL)));
	CHECK(path(doc, "process", "rlimits", NULL) == NULL);
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const sbx_json *set = path(doc, "process", "capabilities", caps[i]);

		CHECK(sbx_json_is_array(set) && sbx_json_array_size(set) == 0);
	}
	CHECK(sbx_json_object_size(path(doc, "process", "capabilities", NULL)) == 5);
	CHECK_STR(sbx_json_string(sbx_json_get(doc, "hostname")), "sbx");
	sbx_json_free(doc);

	/* Without a clone, the spec's own root; a writable root stays so. */
	s.root_readonly = false;
	s.terminal = true;
	doc = gen(&s, NULL);
	CHECK_STR(sbx_json_string(path(doc, "root", "path", NULL)), "/var/lib/sbx/rootfs/abc");
	CHECK(!sbx_json_is_true(path(doc, "root", "readonly", NULL)));
	CHECK(sbx_json_is_true(path(doc, "process", "terminal", NULL)));
	sbx_json_free(doc);
}

static void test_mounts(void)
{
	struct sbx_spec s;
	struct sbx_bundle_paths paths = { .root = NULL };
	const sbx_json *m, *mounts, *opts;
	sbx_json *doc;

	base_spec(&s);
	paths.mount_source[4] = "/run/sbx/runsc/1/mnt/4";
	doc = gen(&s, &paths);
	mounts = sbx_json_get(doc, "mounts");
	/* The spec's six, in order, after the /dev and /dev/pts it lacks. */
	CHECK(sbx_json_array_size(mounts) == 8);
	CHECK_STR(sbx_json_string(sbx_json_get(sbx_json_array_at(mounts, 0), "destination")), "/dev");
	CHECK_STR(sbx_json_string(sbx_json_get(sbx_json_array_at(mounts, 1), "destination")), "/dev/pts");
	CHECK_STR(sbx_json_string(sbx_json_get(sbx_json_array_at(mounts, 1), "type")), "devpts");
	for (size_t i = 0; i < s.n_mounts; i++)
		CHECK_STR(sbx_json_string(sbx_json_get(sbx_json_array_at(mounts, i + 2), "destination")),
			  s.mounts[i].destination);

	m = mount_at(doc, "/sys");
	opts = sbx_json_get(m, "options");
	CHECK_STR(sbx_json_string(sbx_json_get(m, "type")), "sysfs");
	CHECK(has_str(opts, "ro") && !has_str(opts, "rw"));
	CHECK(has_str(opts, "nosuid") && has_str(opts, "nodev") && has_str(opts, "noexec"));

	m = mount_at(doc, "/dev/shm");
	opts = sbx_json_get(m, "options");
	CHECK(has_str(opts, "rw") && has_str(opts, "size=67108864") && has_str(opts, "mode=01777"));
	CHECK(!has_str(opts, "noexec") && !has_str(opts, "uid=1000"));

	m = mount_at(doc, "/tmp");
	opts = sbx_json_get(m, "options");
	CHECK(has_str(opts, "mode=0755") && has_str(opts, "uid=1000") && has_str(opts, "gid=1001"));
	CHECK(has_str(opts, "size=1073741824"));

	/* The workspace through the backend's clone, the extra bind from its
	 * own path; both recursive, with their own read-only bit. */
	m = mount_at(doc, "/workspace");
	opts = sbx_json_get(m, "options");
	CHECK_STR(sbx_json_string(sbx_json_get(m, "type")), "bind");
	CHECK_STR(sbx_json_string(sbx_json_get(m, "source")), "/run/sbx/runsc/1/mnt/4");
	CHECK(has_str(opts, "rbind") && has_str(opts, "rw") && !has_str(opts, "ro"));
	m = mount_at(doc, "/data");
	opts = sbx_json_get(m, "options");
	CHECK_STR(sbx_json_string(sbx_json_get(m, "source")), "/srv/data");
	CHECK(has_str(opts, "rbind") && has_str(opts, "ro") && !has_str(opts, "rw"));
	sbx_json_free(doc);

	/* A /dev of the spec's own is the only one. */
	s.mounts[s.n_mounts++] = (struct sbx_spec_mount){ .destination = "/dev", .type = "tmpfs", .source = "tmpfs",
							  .mode = 0755 };
	doc = gen(&s, NULL);
	CHECK(sbx_json_array_size(sbx_json_get(doc, "mounts")) == 8);
	CHECK_STR(sbx_json_string(sbx_json_get(sbx_json_array_at(sbx_json_get(doc, "mounts"), 0), "destination")),
		  "/dev/pts");
	sbx_json_free(doc);
}

static void test_linux(void)
{
	struct sbx_spec s;
	sbx_json *doc;

	base_spec(&s);
	doc = gen(&s, NULL);
	CHECK(has_namespace(doc, "pid") && has_namespace(doc, "ipc") && has_namespace(doc, "uts") &&
	      has_namespace(doc, "mount") && has_namespace(doc, "network"));
	CHECK(!has_namespace(doc, "user"));
	CHECK(sbx_json_array_size(path(doc, "linux", "namespaces", NULL)) == 5);
	CHECK(path(doc, "linux", "resources", NULL) == NULL);
	CHECK(path(doc, "linux", "seccomp", NULL) == NULL);
	CHECK(has_str(path(doc, "linux", "maskedPaths", NULL), "/proc/kcore"));
	CHECK(has_str(path(doc, "linux", "readonlyPaths", NULL), "/proc/sys"));
	sbx_json_free(doc);

	/* --network host: the host's network namespace; only the limits set. */
	s.network_namespace = false;
	s.memory_limit = 256 << 20;
	s.pids_limit = 64;
	s.seccomp_profile = "unconfined";
	doc = gen(&s, NULL);
	CHECK(!has_namespace(doc, "network") && !has_namespace(doc, "user"));
	CHECK(num(sbx_json_get(path(doc, "linux", "resources", "memory"), "limit")) == 256 << 20);
	CHECK(num(sbx_json_get(path(doc, "linux", "resources", "pids"), "limit")) == 64);
	CHECK(path(doc, "linux", "resources", "cpu") == NULL);
	CHECK(path(doc, "linux", "seccomp", NULL) == NULL);
	sbx_json_free(doc);

	s.memory_limit = 0;
	s.pids_limit = 0;
	s.cpu_quota_us = 50000;
	s.cpu_period_us = 100000;
	doc = gen(&s, NULL);
	CHECK(num(sbx_json_get(path(doc, "linux", "resources", "cpu"), "quota")) == 50000);
	CHECK(num(sbx_json_get(path(doc, "linux", "resources", "cpu"), "period")) == 100000);
	CHECK(path(doc, "linux", "resources", "memory") == NULL && path(doc, "linux", "resources", "pids") == NULL);
	sbx_json_free(doc);
}

static void test_refusals(void)
{
	struct sbx_spec s;
	struct sbx_error err = { 0 };
	char *text = NULL;
	char *bad_args[] = { "printf", "\xff\xfe", NULL };

	/* Go would turn the bytes into U+FFFD: the command would change. */
	base_spec(&s);
	s.args = bad_args;
	CHECK(sbx_runsc_config_gen(&s, NULL, &text, &err) < 0 && err.err == EILSEQ);
	CHECK(strstr(err.msg, "process.args[1]") != NULL);
	CHECK(text == NULL);

	base_spec(&s);
	s.args = NULL;
	CHECK(sbx_runsc_config_gen(&s, NULL, &text, &err) < 0);
	base_spec(&s);
	s.seccomp_profile = "no-such-profile-here";
	CHECK(sbx_runsc_config_gen(&s, NULL, &text, &err) < 0 && err.err == ENOENT);
}

/* ---- seccomp ---------------------------------------------------------------------- */

static sbx_json *seccomp_of(const char *profile_text, struct sbx_error *err)
{
	char *text = NULL;
	sbx_json *doc = NULL;

	if (sbx_runsc_seccomp_gen(profile_text, "test", &text, err) < 0)
		return NULL;
	if (sbx_json_parse(text, "seccomp", &doc, err) < 0)
		doc = NULL;
	free(text);
	return doc;
}

/* Index in syscalls[] of the first entry naming NAME with ACTION. */
static size_t find_rule(const sbx_json *seccomp, const char *name, const char *action)
{
	const sbx_json *list = sbx_json_get(seccomp, "syscalls");

	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		const sbx_json *e = sbx_json_array_at(list, i);

		if (has_str(sbx_json_get(e, "names"), name) &&
		    strcmp(sbx_json_string(sbx_json_get(e, "action")), action) == 0)
			return i;
	}
	return SIZE_MAX;
}

static size_t count_names(const sbx_json *seccomp)
{
	const sbx_json *list = sbx_json_get(seccomp, "syscalls");
	size_t n = 0;

	for (size_t i = 0; i < sbx_json_array_size(list); i++)
		n += sbx_json_array_size(sbx_json_get(sbx_json_array_at(list, i), "names"));
	return n;
}

static void test_default_profile(void)
{
	struct sbx_spec s;
	struct sbx_error err = { 0 };
	struct sbx_seccomp_profile p;
	sbx_json *doc, *native = NULL;
	char *text = NULL;
	const sbx_json *sc, *list, *e;
	size_t allow_ioctl, deny_ioctl;

	base_spec(&s);
	s.seccomp_profile = "profiles/default.json"; /* the tests run from the checkout */
	doc = gen(&s, NULL);
	sc = path(doc, "linux", "seccomp", NULL);
	CHECK(sbx_json_is_object(sc));
	CHECK_STR(sbx_json_string(sbx_json_get(sc, "defaultAction")), "SCMP_ACT_ERRNO");
	CHECK(num(sbx_json_get(sc, "defaultErrnoRet")) == 1);
	CHECK(has_str(sbx_json_get(sc, "architectures"), "SCMP_ARCH_X86_64"));

	/* Every rule sbx's own filter applies, no more (pselect6 twice:
	 * this runsc knows it as pselect). */
	CHECK(sbx_read_file("profiles/default.json", 1 << 20, &text, &err) == 0);
	CHECK(sbx_seccomp_parse(text, "default.json", &p, &native, &err) == 0);
	CHECK(count_names(sc) == p.n_rules + 1);
	CHECK(find_rule(sc, "pselect", "SCMP_ACT_ALLOW") == find_rule(sc, "pselect6", "SCMP_ACT_ALLOW"));
	sbx_seccomp_profile_free(&p);
	sbx_json_free(native);
	free(text);

	/* TIOCSTI's EPERM comes before the allow-all ioctl rule: runsc takes
	 * the first match. */
	deny_ioctl = find_rule(sc, "ioctl", "SCMP_ACT_ERRNO");
	allow_ioctl = find_rule(sc, "ioctl", "SCMP_ACT_ALLOW");
	CHECK(deny_ioctl < allow_ioctl && allow_ioctl != SIZE_MAX);
	CHECK(find_rule(sc, "prctl", "SCMP_ACT_ERRNO") < find_rule(sc, "prctl", "SCMP_ACT_ALLOW"));
	list = sbx_json_get(sc, "syscalls");
	e = sbx_json_array_at(list, deny_ioctl);
	CHECK(num(sbx_json_get(e, "errnoRet")) == 1);
	e = sbx_json_array_at(sbx_json_get(e, "args"), 0);
	CHECK(num(sbx_json_get(e, "index")) == 1);
	CHECK(num(sbx_json_get(e, "value")) == 0xffffffffu);
	CHECK_STR(sbx_json_string(sbx_json_get(e, "op")), "SCMP_CMP_MASKED_EQ");
	CHECK(num(sbx_json_get(e, "valueTwo")) == 0x5412 || num(sbx_json_get(e, "valueTwo")) == 0x541c ||
	      num(sbx_json_get(e, "valueTwo")) == 0x5423 || num(sbx_json_get(e, "valueTwo")) == 0x541d);
	/* ENOSYS, which runsc's SCMP_ACT_ERRNO cannot give, from
	 * SCMP_ACT_TRACE: the profile refuses ptrace, so nothing traces. */
	CHECK(find_rule(sc, "clone3", "SCMP_ACT_ERRNO") == SIZE_MAX);
	e = sbx_json_array_at(list, find_rule(sc, "clone3", "SCMP_ACT_TRACE"));
	CHECK(num(sbx_json_get(e, "errnoRet")) == ENOSYS);
	CHECK(find_rule(sc, "io_uring_setup", "SCMP_ACT_TRACE") != SIZE_MAX);
	e = sbx_json_array_at(list, find_rule(sc, "ptrace", "SCMP_ACT_ERRNO"));
	CHECK(num(sbx_json_get(e, "errnoRet")) == EPERM);
	/* socket(AF_NETLINK, *, NETLINK_ROUTE): both comparisons, one rule. */
	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		const sbx_json *args_ = sbx_json_get(sbx_json_array_at(list, i), "args");

		if (has_str(sbx_json_get(sbx_json_array_at(list, i), "names"), "socket") &&
		    num(sbx_json_get(sbx_json_array_at(args_, 0), "value")) == 16)
			CHECK(sbx_json_array_size(args_) == 2);
	}
	sbx_json_free(doc);
}

static void test_seccomp_order(void)
{
	struct sbx_error err = { 0 };
	sbx_json *sc;

	/* The syscall's rule equal to the default is ignored by libseccomp:
	 * the conditional allow must stay reachable. */
	sc = seccomp_of("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
			"{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ERRNO\"},"
			"{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ALLOW\","
			"\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
			&err);
	CHECK(sc != NULL);
	CHECK(find_rule(sc, "getpriority", "SCMP_ACT_ALLOW") < find_rule(sc, "getpriority", "SCMP_ACT_ERRNO"));
	CHECK(num(sbx_json_get(sc, "defaultErrnoRet")) == EPERM);
	sbx_json_free(sc);

	/* An unconditional rule that differs from the default overrides a
	 * less strict conditional one, as libseccomp makes it. */
	sc = seccomp_of("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
			"{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_ALLOW\","
			"\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]},"
			"{\"names\":[\"getpriority\",\"setpriority\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":1},"
			"{\"names\":[\"getpriority\"],\"action\":\"SCMP_ACT_KILL\","
			"\"args\":[{\"index\":0,\"value\":7,\"op\":\"SCMP_CMP_GT\"}]}]}",
			&err);
	CHECK(sc != NULL);
	CHECK(find_rule(sc, "getpriority", "SCMP_ACT_KILL") < find_rule(sc, "getpriority", "SCMP_ACT_ERRNO"));
	CHECK(find_rule(sc, "getpriority", "SCMP_ACT_ERRNO") < find_rule(sc, "getpriority", "SCMP_ACT_ALLOW"));
	CHECK(find_rule(sc, "setpriority", "SCMP_ACT_ERRNO") == find_rule(sc, "getpriority", "SCMP_ACT_ERRNO"));
	CHECK(num(sbx_json_get(sbx_json_array_at(sbx_json_get(sc, "syscalls"),
						 find_rule(sc, "setpriority", "SCMP_ACT_ERRNO")),
			       "errnoRet")) == EPERM);
	CHECK(sbx_json_get(sc, "defaultErrnoRet") == NULL);
	sbx_json_free(sc);

	/* With ptrace refused unconditionally, ENOSYS is expressible under
	 * an allow-all default too. */
	sc = seccomp_of("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
			"{\"names\":[\"bpf\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},"
			"{\"names\":[\"ptrace\"],\"action\":\"SCMP_ACT_KILL\"}]}",
			&err);
	CHECK(sc != NULL);
	CHECK(find_rule(sc, "bpf", "SCMP_ACT_TRACE") != SIZE_MAX);
	sbx_json_free(sc);

	/* Docker's conditions, decided as for the native filter: sbx's
	 * command holds no capability. */
	sc = seccomp_of("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":["
			"{\"names\":[\"reboot\"],\"action\":\"SCMP_ACT_ALLOW\",\"includes\":{\"caps\":[\"CAP_SYS_BOOT\"]}},"
			"{\"names\":[\"getpid\"],\"action\":\"SCMP_ACT_ALLOW\",\"excludes\":{\"caps\":[\"CAP_SYS_ADMIN\"]}}]}",
			&err);
	CHECK(sc != NULL);
	CHECK(find_rule(sc, "reboot", "SCMP_ACT_ALLOW") == SIZE_MAX);
	CHECK(find_rule(sc, "getpid", "SCMP_ACT_ALLOW") != SIZE_MAX);
	sbx_json_free(sc);
}

static void test_seccomp_refusals(void)
{
	static const struct {
		const char *text;
		const char *says;
	} cases[] = {
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpid\"],"
		  "\"action\":\"SCMP_ACT_LOG\"}]}",
		  "syscalls[0] (getpid): runsc has no such action" },
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getpid\"],"
		  "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"kill\"],\"action\":\"SCMP_ACT_KILL_PROCESS\"}]}",
		  "syscalls[1] (kill): runsc has no such action" },
		{ "{\"defaultAction\":\"SCMP_ACT_KILL_PROCESS\"}", "defaultAction" },
		/* runsc answers EPERM for any errno but ENOSYS (see below). */
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"chmod\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13}]}",
		  "syscalls[0] (chmod): runsc answers every SCMP_ACT_ERRNO with EPERM, not errno 13" },
		{ "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":22}", "defaultAction: runsc answers" },
		/* ENOSYS as SCMP_ACT_TRACE only where no tracer can let it through. */
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"bpf\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
		  "syscalls[0] (bpf): runsc answers every SCMP_ACT_ERRNO with EPERM, not errno 38 (ENOSYS)" },
		{ "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"bpf\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38},{\"names\":[\"ptrace\"],"
		  "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":0,\"op\":\"SCMP_CMP_EQ\"}]}]}",
		  "syscalls[0] (bpf): runsc answers every SCMP_ACT_ERRNO with EPERM, not errno 38 (ENOSYS), "
		  "and SCMP_ACT_TRACE, which gives ENOSYS, would let a tracer in the sandbox run the call: "
		  "the profile allows ptrace" },
		{ "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"socket\"],"
		  "\"action\":\"SCMP_ACT_ALLOW\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_GE\"},"
		  "{\"index\":0,\"value\":3,\"op\":\"SCMP_CMP_LE\"}]}]}",
		  "two comparisons of argument 0" },
		/* What the native parser refuses, the translation refuses. */
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"no_such_call\"],"
		  "\"action\":\"SCMP_ACT_ERRNO\"}]}",
		  "unknown syscall" },
		{ "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"bogus\":1}", "unknown field" },
		{ "[1,2]", "must be a JSON object" },
		{ "{", "not valid JSON" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sbx_error err = { 0 };
		char *text = NULL;

		CHECK(sbx_runsc_seccomp_gen(cases[i].text, "test", &text, &err) < 0);
		CHECK(text == NULL);
		if (strstr(err.msg, cases[i].says) == NULL)
			fprintf(stderr, "case %zu: \"%s\" lacks \"%s\"\n", i, err.msg, cases[i].says);
		CHECK(strstr(err.msg, cases[i].says) != NULL);
		free(text);
	}
}

static bool write_fails_whole(int dirfd, const struct sbx_spec *s)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		struct rlimit small = { 100, 100 };
		struct sbx_error err = { 0 };

		signal(SIGXFSZ, SIG_IGN);
		setrlimit(RLIMIT_FSIZE, &small);
		_exit(sbx_runsc_config_write(dirfd, s, NULL, &err) < 0 && err.err == EFBIG ? 0 : 1);
	}
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

static void test_write(void)
{
	struct sbx_spec s;
	struct sbx_error err = { 0 };
	char dir[] = "/tmp/sbx-unit-bundle-XXXXXX";
	struct stat st;
	int fd;

	base_spec(&s);
	CHECK(mkdtemp(dir) != NULL);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(sbx_runsc_config_write(fd, &s, NULL, &err) == 0);
	CHECK(fstatat(fd, "config.json", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 0600 &&
	      st.st_size > 100);
	/* Never over a file that is there already, link or not. */
	CHECK(sbx_runsc_config_write(fd, &s, NULL, &err) < 0 && err.err == EEXIST);
	CHECK(unlinkat(fd, "config.json", 0) == 0);
	CHECK(symlinkat("elsewhere", fd, "config.json") == 0);
	CHECK(sbx_runsc_config_write(fd, &s, NULL, &err) < 0 && err.err == EEXIST);
	CHECK(faccessat(fd, "elsewhere", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	unlinkat(fd, "elsewhere", 0);
	/* A config that cannot be made leaves no file. */
	CHECK(unlinkat(fd, "config.json", 0) == 0);
	s.seccomp_profile = "no-such-profile-here";
	CHECK(sbx_runsc_config_write(fd, &s, NULL, &err) < 0);
	CHECK(faccessat(fd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	/* Nor does one that cannot be written whole (a file size limit, in a
	 * child so that the limit stays there). */
	s.seccomp_profile = NULL;
	CHECK(write_fails_whole(fd, &s));
	CHECK(faccessat(fd, "config.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
	close(fd);
	CHECK(rmdir(dir) == 0);
}

void test_runsc_bundle(void)
{
	test_process_and_root();
	test_mounts();
	test_linux();
	test_refusals();
	test_default_profile();
	test_seccomp_order();
	test_seccomp_refusals();
	test_write();
}
