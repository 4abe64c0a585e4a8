/* The runsc backend.  See runsc.h for the shape; the order of the child's
 * steps, and why:
 *
 *  1. die with sbx, wait for the id maps, become root of the new user
 *     namespace (the same maps as the native sandbox: the workspace's
 *     owner is the sandbox user, runsc and its gofer are no host id that
 *     owns anything of the host's);
 *  2. rootless: clone the sources (the rootfs, the workspace, --bind
 *     sources) now, while the host's paths are visible;
 *  3. a private tmpfs over /tmp of this mount namespace holds the bundle:
 *     the clones attached below it, config.json, runsc's state and log.
 *     Nothing of it exists on the host: it goes with the namespace, even
 *     when sbx is killed;
 *  4. park until sbx says start, then become the init of this pid
 *     namespace and run `runsc run` as its command, under the host-safety
 *     filter (runsc's gofer writes the workspace: no set-id bit may reach
 *     the host through it).  The init's death takes runsc, its sandbox and
 *     its gofer along. */
#include "runsc.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "idmap.h"
#include "init.h"
#include "json.h"
#include "runsc_bundle.h"
#include "sync.h"
#include "util.h"

#define BUNDLE "/tmp/bundle"
#define STATE BUNDLE "/state"
#define LOG BUNDLE "/runsc.log"
#define CONTAINER_ID "sbx"
#define MAX_ARGS 16

/* An executable regular file NAME in one of PATH's absolute directories. */
static bool find_on_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	char dirs[4096];
	char *save = NULL;

	if (path == NULL)
		return false;
	snprintf(dirs, sizeof(dirs), "%s", path);
	for (char *dir = strtok_r(dirs, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;

		/* A relative entry would depend on where sbx was started. */
		if (dir[0] != '/')
			continue;
		if ((size_t)snprintf(out, len, "%s/%s", dir, name) >= len)
			continue;
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0)
			return true;
	}
	return false;
}

static const char *user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, len, "%s", pw->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned int)uid);
	return buf;
}

/* runsc needs every id of a full range inside (its gofer and sentry take
 * ids of their own): a caller without one cannot run it. */
static bool caller_has_ranges(char *why, size_t len)
{
	struct sbx_id_range r;
	char helper[PATH_MAX], name[64];
	uid_t uid = getuid();

	user_name(uid, name, sizeof(name));
	if (!sbx_read_subid_range("/etc/subuid", name, uid, &r) || !sbx_read_subid_range("/etc/subgid", name, uid, &r)) {
		snprintf(why, len, "runsc needs a range of subordinate ids and %s has none in /etc/subuid and "
				   "/etc/subgid", name);
		return false;
	}
	if (!sbx_find_map_helper("newuidmap", helper, sizeof(helper)) ||
	    !sbx_find_map_helper("newgidmap", helper, sizeof(helper))) {
		snprintf(why, len, "runsc needs newuidmap and newgidmap (Debian: apt-get install uidmap)");
		return false;
	}
	return true;
}

void sbx_runsc_probe(struct sbx_runsc_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->found = find_on_path("runsc", p->path, sizeof(p->path));
	if (!p->found) {
		p->path[0] = '\0';
		snprintf(p->why, sizeof(p->why), "runsc is not installed (not on PATH)");
		return;
	}
	p->usable = sbx_is_host_root() || caller_has_ranges(p->why, sizeof(p->why));
}

int sbx_runsc_fail_without_range(struct sbx_error *err)
{
	char name[64];
	uid_t uid = getuid();
	/* A range clear of the usual ones (100000 + 65536 per user). */
	unsigned long start = 100000UL + 65536UL * (1000UL + uid % 1000UL);

	user_name(uid, name, sizeof(name));
	sbx_fail(err, 0, "--runtime runsc: runsc needs a range of subordinate ids and %s has none", name);
	return sbx_error_hint(err, "add the line '%s:%lu:65536' to /etc/subuid and to /etc/subgid (as root: "
				   "usermod --add-subuids %lu-%lu --add-subgids %lu-%lu %s), or run with "
				   "--runtime native",
			      name, start, start, start + 65535, start, start + 65535, name);
}

static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)got;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int sbx_runsc_version(const char *path, char *out, size_t len, struct sbx_error *err)
{
	int fds[2];
	pid_t pid;
	ssize_t n;
	int status;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "running %s --version", path);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return sbx_fail(err, errno, "running %s --version", path);
	}
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		execl(path, "runsc", "--version", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	n = read_all(fds[0], out, len - 1);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return sbx_fail(err, 0, "%s --version failed", path);
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* Attach TREE at BUNDLE/NAME, its path in PATH. */
static int attach_in_bundle(int bundle, int tree, const char *name, char *path, size_t len,
			    struct sbx_error *err)
{
	cleanup_close int mounted = sbx_attach_in_staging(bundle, tree, name, err);

	if (mounted < 0)
		return -1;
	snprintf(path, len, BUNDLE "/%s", name);
	return 0;
}

struct bundle_names {
	char root[64];
	char mounts[SBX_SPEC_MAX_MOUNTS][32];
};

/* Step 3: the bundle, on the staging tmpfs. */
static int write_bundle(struct sandbox *sb, struct bundle_names *names, struct sbx_error *err)
{
	struct sbx_bundle_paths paths = { 0 };
	cleanup_close int staging = sbx_mount_staging(err);
	cleanup_close int bundle = -1;

	if (staging < 0)
		return -1;
	if (mkdirat(staging, "bundle", 0700) < 0)
		return sbx_fail(err, errno, "making the bundle's directory");
	bundle = openat(staging, "bundle", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bundle < 0)
		return sbx_fail(err, errno, "opening the bundle's directory");
	if (attach_in_bundle(bundle, sb->src.rootfs, "rootfs", names->root, sizeof(names->root), err) < 0)
		return sbx_error_wrap(err, "the rootfs");
	paths.root = names->root;
	for (size_t i = 0; i < sb->spec.n_mounts; i++) {
		const struct sbx_spec_mount *m = &sb->spec.mounts[i];
		int tree = m->origin == SBX_SPEC_MOUNT_WORKSPACE ? sb->src.workspace
			   : m->origin == SBX_SPEC_MOUNT_EXTRA   ? sb->src.mounts[m->extra]
								 : -1;
		char name[16];

		if (tree < 0)
			continue;
		snprintf(name, sizeof(name), "m%zu", i);
		if (attach_in_bundle(bundle, tree, name, names->mounts[i], sizeof(names->mounts[i]), err) < 0)
			return sbx_error_wrap(err, "%s", m->destination);
		paths.mount_source[i] = names->mounts[i];
	}
	if (mkdirat(bundle, "state", 0700) < 0)
		return sbx_fail(err, errno, "making runsc's state directory");
	return sbx_runsc_config_write(bundle, &sb->spec, &paths, err);
}

/* runsc's command line: its own state and log in the bundle, no cgroup
 * work of its own (sbx's cgroup holds it from outside), no network unless
 * --network host, the profile loaded inside gVisor too. */
static void runsc_argv(const struct sandbox *sb, const char **argv)
{
	size_t n = 0;

	argv[n++] = sb->runsc_path;
	argv[n++] = "--root=" STATE;
	argv[n++] = sb->spec.network_namespace ? "--network=none" : "--network=host";
	argv[n++] = "--ignore-cgroups";
	argv[n++] = "--log=" LOG;
	argv[n++] = "--log-format=json";
	if (sb->spec.seccomp_profile != NULL)
		argv[n++] = "--oci-seccomp";
	/* A writable root is gVisor's own overlay in memory: nothing reaches
	 * the image (whose clone is read-only anyway). */
	if (!sb->spec.root_readonly)
		argv[n++] = "--overlay2=root:memory";
	argv[n++] = "run";
	argv[n++] = "--bundle=" BUNDLE;
	argv[n++] = CONTAINER_ID;
	argv[n] = NULL;
}

/* `runsc kill`: runsc run does not pass signals on to the container. */
static void forward_signal(const struct sbx_init_config *c, pid_t command, int sig)
{
	const struct sandbox *sb = c->backend;
	char signame[16];
	pid_t pid;

	(void)command;
	snprintf(signame, sizeof(signame), "%d", sig == SBX_SIG_TERMINATE_ALL ? SIGTERM : sig);
	pid = fork();
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execl(sb->runsc_path, "runsc", "--root=" STATE, "kill",
		      sig == SBX_SIG_TERMINATE_ALL ? "--all" : CONTAINER_ID,
		      sig == SBX_SIG_TERMINATE_ALL ? CONTAINER_ID : signame,
		      sig == SBX_SIG_TERMINATE_ALL ? signame : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	/* Reaped with the other orphans. */
}

/* The message of runsc's last error in its JSON log, into OUT. */
static bool runsc_last_error(char *out, size_t len)
{
	struct sbx_error ignored = { 0 };
	cleanup_free char *log = NULL;
	char *save = NULL;
	bool found = false;

	if (sbx_read_file(LOG, 1 << 20, &log, &ignored) < 0)
		return false;
	for (char *line = strtok_r(log, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		sbx_json *doc = NULL;
		const char *level, *msg;

		if (sbx_json_parse(line, "runsc's log", &doc, &ignored) < 0)
			continue;
		level = sbx_json_string(sbx_json_get(doc, "level"));
		msg = sbx_json_string(sbx_json_get(doc, "msg"));
		if (level != NULL && msg != NULL && (strcmp(level, "error") == 0 || strcmp(level, "fatal") == 0)) {
			snprintf(out, len, "%s", msg);
			found = true;
		}
		sbx_json_free(doc);
	}
	return found;
}

/* runsc run exits with the container's status, 128+N for a signal N, and
 * 128 for a failure of its own (which its log then holds). */
static int final_status(const struct sbx_init_config *c, int wstatus, struct sbx_error *err)
{
	char msg[SBX_ERROR_MSG_MAX];
	int code;

	(void)c;
	if (!WIFEXITED(wstatus))
		return wstatus;
	code = WEXITSTATUS(wstatus);
	if (code == 128 && runsc_last_error(msg, sizeof(msg))) {
		bool load = strstr(msg, "failed to load") != NULL;

		sbx_fail(err, 0, "runsc: %s", msg);
		err->status = load && strstr(msg, "no such file") ? SBX_EXIT_NOTFOUND
			      : load && strstr(msg, "permission denied") ? SBX_EXIT_NOEXEC
			      : SBX_EXIT_FAILURE;
		return -1;
	}
	if (code > 128 && code < 128 + 65)
		return code - 128; /* the wait status of a death by that signal */
	return wstatus;
}

static int run_runsc(struct sandbox *sb, struct sbx_error *err)
{
	static char *const env[] = { "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	const char *argv[MAX_ARGS];
	/* runsc installs its own filters; sbx's profile goes to it in the
	 * bundle.  Here only the host-safety filter, on runsc itself. */
	struct sbx_seccomp host_only = { .host = sb->seccomp.host, .flags = sb->seccomp.flags };
	struct sbx_init_config init = {
		.argv = (char *const *)argv,
		.env = env,
		.cwd = BUNDLE,
		.image = sb->opts->image_name,
		.rootfs = sb->opts->rootfs,
		.sync_fd = sb->sync_fd,
		.stdout_fd = sb->out_pipe[1],
		.stderr_fd = sb->err_pipe[1],
		.pty = sb->spec.terminal,
		.seccomp = &host_only,
		.forward_signal = forward_signal,
		.final_status = final_status,
		.backend = sb,
	};

	runsc_argv(sb, argv);
	/* The filter needs it, and nothing runsc runs gains privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_NO_NEW_PRIVS");
	return sbx_init_run(&init, err);
}

static int setup_runsc(struct sandbox *sb, struct sbx_error *err)
{
	struct bundle_names names;

	/* 1. */
	if (sbx_child_begin(sb, err) < 0)
		return -1;
	/* 2. */
	if (sb->sources_in_child && sbx_sources_open(sb->opts, &sb->src, err) < 0)
		return -1;
	/* 3. Nothing mounted from here on may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sbx_fail(err, errno, "making / private in the new mount namespace");
	/* runsc re-executes itself through /proc/self/exe: a /proc of this
	 *    pid namespace, or "self" names no process. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		return sbx_fail(err, errno, "mounting /proc of runsc's pid namespace");
	/* The terminal runsc gets as its console: from a devpts of our own
	 *    (the host's ptmx node there is not ours to open). */
	if (sb->spec.terminal &&
	    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620") < 0)
		return sbx_fail(err, errno, "mounting a devpts for runsc's terminal");
	sbx_verbose(sb->opts->verbose, "runsc: writing the bundle (config.json, the mounts' clones)");
	if (write_bundle(sb, &names, err) < 0)
		return sbx_error_wrap(err, "runsc's bundle");
	sbx_sources_close(&sb->src);
	/* 4. */
	return run_runsc(sb, err);
}

void sbx_runsc_child_main(struct sandbox *sb)
{
	struct sbx_error err = { 0 };

	sbx_closep(&sb->cg.dirfd);
	sbx_closep(&sb->cg.parentfd);
	if (setup_runsc(sb, &err) < 0) {
		sbx_sync_send(sb->sync_fd, SBX_MSG_ERROR, &err);
		_exit(err.status ? err.status : SBX_EXIT_FAILURE);
	}
	_exit(SBX_EXIT_FAILURE);
}

void sbx_runsc_record_layers(const struct sandbox *sb, struct sbx_result *res)
{
	/* sbx's: the namespaces runsc runs in, the filter on runsc, the
	 * cgroup around it; gVisor's: the rest, as the bundle asked. */
	sbx_result_add_layer(res, "gvisor");
	sbx_result_add_layer(res, "gvisor-seccomp");
	if (sb->spec.seccomp_profile != NULL)
		sbx_result_add_layer(res, "seccomp");
	sbx_result_add_layer(res, "host-safety-filter");
	if (sb->cg.dirfd >= 0)
		sbx_result_add_layer(res, "cgroup-v2-limits");
	if (sb->spec.network_namespace)
		sbx_result_add_layer(res, "network-namespace");
	sbx_result_add_layer(res, sb->spec.root_readonly ? "read-only-rootfs" : "writable-root-overlay");
	sbx_result_add_layer(res, "pid-namespace");
	sbx_result_add_layer(res, "clean-environment");
	sbx_result_add_layer(res, "no-capabilities");
	sbx_result_add_layer(res, "no-new-privs");
	sbx_result_add_layer(res, sb->spec.terminal ? "sandbox-pty" : "new-session");
}
