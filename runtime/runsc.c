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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "idmap.h"
#include "init.h"
#include "json.h"
#include "mountpoints.h"
#include "mounts.h"
#include "runsc_bundle.h"
#include "sync.h"
#include "util.h"

#define BUNDLE "/tmp/bundle"
#define STATE BUNDLE "/state"
#define LOG BUNDLE "/runsc.log"
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
static bool caller_has_ranges(char *why, size_t len, bool *lacks_range)
{
	struct sbx_id_range r;
	char helper[PATH_MAX], name[64];
	uid_t uid = getuid();

	user_name(uid, name, sizeof(name));
	if (!sbx_read_subid_range("/etc/subuid", name, uid, &r) || !sbx_read_subid_range("/etc/subgid", name, uid, &r)) {
		snprintf(why, len, "runsc needs a range of subordinate ids and %s has none in /etc/subuid and "
				   "/etc/subgid", name);
		*lacks_range = true;
		return false;
	}
	if (!sbx_find_map_helper("newuidmap", helper, sizeof(helper)) ||
	    !sbx_find_map_helper("newgidmap", helper, sizeof(helper))) {
		snprintf(why, len, "runsc needs newuidmap and newgidmap (Debian: apt-get install uidmap)");
		return false;
	}
	return true;
}

int sbx_runsc_name_container(char *id, size_t len, struct sbx_error *err)
{
	uint32_t nonce;

	if (getrandom(&nonce, sizeof(nonce), 0) != (ssize_t)sizeof(nonce))
		return sbx_fail(err, errno, "naming runsc's container");
	snprintf(id, len, "sbx-%d-%08x", (int)getpid(), nonce);
	return 0;
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
	p->usable = sbx_is_host_root() || caller_has_ranges(p->why, sizeof(p->why), &p->lacks_range);
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

/* Whether the mount's source is a file or a clone the bundle holds. */
static bool has_bundle_source(const struct sbx_spec_mount *m)
{
	return m->origin != SBX_SPEC_MOUNT_NEW;
}

/* Where the clone of a host source is attached in the bundle. */
static void bundle_mount_path(size_t i, char *out, size_t len)
{
	snprintf(out, len, BUNDLE "/m%zu", i);
}

int sbx_runsc_prepare(struct sandbox *sb, struct sbx_error *err)
{
	char names[SBX_SPEC_MAX_MOUNTS][64];
	struct sbx_bundle_paths paths = { .root = BUNDLE "/rootfs" };

	for (size_t i = 0; i < sb->spec.n_mounts; i++)
		if (has_bundle_source(&sb->spec.mounts[i])) {
			bundle_mount_path(i, names[i], sizeof(names[i]));
			paths.mount_source[i] = names[i];
		}
	if (sbx_runsc_config_gen(&sb->spec, &paths, &sb->runsc_config, err) < 0)
		return sbx_error_wrap(err, "runsc's config.json");
	return 0;
}

/* gVisor writes a host file it was given at an offset of its own, one per
 * descriptor: with `> log 2>&1` stdout and stderr overwrite each other.
 * Opened again with O_APPEND (from sbx, which may open it), every write
 * lands at the end, as the kernel would put it. */
static int reopen_for_append(int fd, int *out, struct sbx_error *err)
{
	char path[32];
	struct stat st;
	int flags = fcntl(fd, F_GETFL);

	*out = -1;
	if (flags < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (flags & O_APPEND) ||
	    (flags & O_ACCMODE) == O_RDONLY)
		return 0;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	*out = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (*out < 0)
		return sbx_fail(err, errno, "opening the file on %s again for runsc (to append)",
				fd == STDOUT_FILENO ? "stdout" : "stderr");
	return 0;
}

int sbx_runsc_prepare_stdio(struct sandbox *sb, struct sbx_error *err)
{
	if (sb->spec.output_limit || sb->spec.terminal)
		return 0;
	if (reopen_for_append(STDOUT_FILENO, &sb->out_pipe[1], err) < 0 ||
	    reopen_for_append(STDERR_FILENO, &sb->err_pipe[1], err) < 0)
		return -1;
	return 0;
}

/* Attach TREE at BUNDLE/NAME. */
static int attach_in_bundle(int bundle, int tree, const char *name, struct sbx_error *err)
{
	cleanup_close int mounted = sbx_attach_in_staging(bundle, tree, name, err);

	return mounted < 0 ? -1 : 0;
}

static const char *etc_file_text(const struct sbx_etc_files *etc, const char *name)
{
	return strcmp(name, "hosts") == 0 ? etc->hosts : strcmp(name, "hostname") == 0 ? etc->hostname
											: etc->resolv_conf;
}

static int write_file_in_bundle(int bundle, const char *name, const char *text, struct sbx_error *err)
{
	cleanup_close int fd = openat(bundle, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0 || sbx_write_all(fd, text, strlen(text)) < 0)
		return sbx_fail(err, errno, "writing %s in the bundle", name);
	return 0;
}

/* The root the native sandbox would get: the tree, or the overlay that
 * adds the mount points it lacks (or --writable-root's), made by the same
 * code (mountpoints.h), attached at BUNDLE/rootfs. */
static int attach_root(struct sandbox *sb, int staging, int bundle, struct sbx_error *err)
{
	cleanup_close int root = sbx_mount_root(staging, sb->src.rootfs, err);
	cleanup_close int clone = -1;
	unsigned int flags = 0;

	if (root < 0 || sbx_complete_root(staging, &root, sb->opts, &sb->src, &flags, err) < 0)
		return -1;
	if (flags && sbx_sync_send_value(sb->sync_fd, SBX_MSG_ROOT, (int)flags) < 0)
		return sbx_fail(err, errno, "telling sbx about the overlay");
	clone = sbx_clone_tree_fd(root, err);
	if (clone < 0 || attach_in_bundle(bundle, clone, "rootfs", err) < 0)
		return sbx_error_wrap(err, "the rootfs");
	return 0;
}

static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* The host directory that holds the target of mount I (the workspace or
 * an earlier --bind/--ro-bind), and the target's path inside it. */
static int host_holder(const struct sandbox *sb, size_t i, const char **rel)
{
	const struct sbx_run_options *o = sb->opts;
	const char *dst = o->mounts[i].dst;
	int tree = -1;

	if (o->workspace != NULL && is_below(dst, "/workspace")) {
		tree = sb->src.workspace;
		*rel = dst + strlen("/workspace") + 1;
	}
	for (size_t j = 0; j < i; j++)
		if (o->mounts[j].kind != SBX_MOUNT_TMPFS && is_below(dst, o->mounts[j].dst)) {
			tree = sb->src.mounts[j];
			*rel = dst + strlen(o->mounts[j].dst) + 1;
		}
	return tree;
}

/* Native's rule (layout.c): a target below a host directory must exist
 * there, sbx never makes it.  runsc would make it, through its gofer, in
 * the host's directory: checked here first, in native's words. */
static int check_targets_in_host_dirs(const struct sandbox *sb, struct sbx_error *err)
{
	const struct sbx_run_options *o = sb->opts;

	for (size_t i = 0; i < o->n_mounts; i++) {
		const struct sbx_mount_spec *m = &o->mounts[i];
		const char *opt = m->kind == SBX_MOUNT_TMPFS ? "--tmpfs" : m->kind == SBX_MOUNT_BIND ? "--bind" : "--ro-bind";
		enum sbx_target_kind kind = SBX_TARGET_DIR;
		const char *rel = NULL;
		cleanup_close int target = -1;
		int holder;

		if (sbx_point_home(o, i, m->dst, false) != SBX_HOME_HOST)
			continue;
		holder = host_holder(sb, i, &rel);
		if (holder < 0)
			continue;
		if (m->kind != SBX_MOUNT_TMPFS && sbx_tree_kind(sb->src.mounts[i], &kind, err) < 0)
			return -1;
		target = sbx_open_in_root(holder, rel, kind, err);
		if (target < 0) {
			sbx_error_wrap(err, "%s %s", opt, m->dst);
			if (err->err == ENOENT)
				return sbx_error_hint(err, "a target below a --bind or --ro-bind directory or the -w "
							   "workspace must exist there: sbx never writes the host's directories");
			return -1;
		}
	}
	return 0;
}

/* Step 3: the bundle, on the staging tmpfs: the root, the clones and
 * files where sbx_runsc_prepare said they would be, and its config. */
static int write_bundle(struct sandbox *sb, struct sbx_error *err)
{
	cleanup_close int staging = sbx_mount_staging(err);
	cleanup_close int bundle = -1;

	if (staging < 0 || check_targets_in_host_dirs(sb, err) < 0)
		return -1;
	if (mkdirat(staging, "bundle", 0700) < 0)
		return sbx_fail(err, errno, "making the bundle's directory");
	bundle = openat(staging, "bundle", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (bundle < 0)
		return sbx_fail(err, errno, "opening the bundle's directory");
	if (attach_root(sb, staging, bundle, err) < 0)
		return -1;
	for (size_t i = 0; i < sb->spec.n_mounts; i++) {
		const struct sbx_spec_mount *m = &sb->spec.mounts[i];
		char path[64];
		const char *name = path + sizeof(BUNDLE);

		if (!has_bundle_source(m))
			continue;
		bundle_mount_path(i, path, sizeof(path));
		if (m->origin == SBX_SPEC_MOUNT_GENERATED) {
			if (write_file_in_bundle(bundle, name, etc_file_text(&sb->etc, m->source), err) < 0)
				return -1;
			continue;
		}
		if (attach_in_bundle(bundle, m->origin == SBX_SPEC_MOUNT_WORKSPACE ? sb->src.workspace
										: sb->src.mounts[m->extra],
				     name, err) < 0)
			return sbx_error_wrap(err, "%s", m->destination);
	}
	if (mkdirat(bundle, "state", 0700) < 0)
		return sbx_fail(err, errno, "making runsc's state directory");
	return sbx_runsc_config_write_text(bundle, sb->runsc_config, err);
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
	argv[n++] = "run";
	argv[n++] = "--bundle=" BUNDLE;
	argv[n++] = sb->runsc_id;
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
		      sig == SBX_SIG_TERMINATE_ALL ? "--all" : sb->runsc_id,
		      sig == SBX_SIG_TERMINATE_ALL ? sb->runsc_id : signame,
		      sig == SBX_SIG_TERMINATE_ALL ? signame : (char *)NULL, (char *)NULL);
		_exit(127);
	}
	/* Reaped with the other orphans. */
}

/* The next record of runsc's JSON log at *CURSOR, its length in *LEN:
 * runsc's processes write the log each at an offset of its own, so a
 * record may follow another on the same line ("}{") as well as on the
 * next. */
static const char *next_record(const char **cursor, size_t *len)
{
	const char *rec = *cursor;
	const char *joined;

	rec += strspn(rec, "\n");
	if (*rec == '\0')
		return NULL;
	*len = strcspn(rec, "\n");
	joined = strstr(rec, "}{\"");
	if (joined != NULL && (size_t)(joined - rec) < *len)
		*len = (size_t)(joined - rec) + 1;
	*cursor = rec + *len;
	return rec;
}

/* The message of runsc's last error in its JSON log, into OUT. */
static bool runsc_last_error(char *out, size_t len)
{
	struct sbx_error ignored = { 0 };
	cleanup_free char *log = NULL;
	const char *cursor;
	size_t n = 0;
	bool found = false;

	if (sbx_read_file(LOG, 1 << 20, &log, &ignored) < 0)
		return false;
	cursor = log;
	for (const char *rec = next_record(&cursor, &n); rec != NULL; rec = next_record(&cursor, &n)) {
		cleanup_free char *line = strndup(rec, n);
		sbx_json *doc = NULL;
		const char *level, *msg;

		if (line == NULL || sbx_json_parse(line, "runsc's log", &doc, &ignored) < 0)
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

/* The command's name, copied before the init takes sbx's argv for its own
 * name (the spec's args point into it). */
static char command_name[256];

/* runsc's failure to start the command, in native's words and codes
 * (command.c): 127 for a command not found (a path, or none on PATH), 126
 * for one it cannot execute; 125 for any other failure of runsc's. */
static void command_failure(const char *name, const char *msg, struct sbx_error *err)
{
	bool load = strstr(msg, "failed to load") != NULL;
	bool search = strstr(msg, "error finding executable") != NULL;
	bool missing = strstr(msg, "no such file") != NULL || strstr(msg, "not a directory") != NULL;

	if (search && missing)
		sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "command not found in the sandbox: %s (runsc: %s)", name, msg);
	else if (load && missing)
		sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "%s: not found in the sandbox (runsc: %s)", name, msg);
	else if (load || search)
		sbx_fail_status(err, SBX_EXIT_NOEXEC, 0, "cannot execute %s in the sandbox (runsc: %s)", name, msg);
	else
		sbx_fail(err, 0, "runsc: %s", msg);
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
		command_failure(command_name, msg, err);
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
	snprintf(command_name, sizeof(command_name), "%s", sb->spec.args[0]);
	/* The filter needs it, and nothing runsc runs gains privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_NO_NEW_PRIVS");
	return sbx_init_run(&init, err);
}

static int setup_runsc(struct sandbox *sb, struct sbx_error *err)
{
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
	if (write_bundle(sb, err) < 0)
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
