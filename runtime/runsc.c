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
#include <poll.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
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
#define CONSOLE BUNDLE "/console.sock"
#define PANIC_LOG BUNDLE "/panic.log"
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

int sbx_runsc_version(const char *path, char *out, size_t len, struct sbx_error *err)
{
	char *const argv[] = { (char *)path, "--version", NULL };
	char *const envp[] = { NULL };
	int status;

	if (sbx_run_capture(path, argv, envp, out, len, &status, err) < 0)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || out[0] == '\0')
		return sbx_fail(err, 0, "%s --version failed", path);
	out[strcspn(out, "\n")] = '\0';
	return 0;
}

/* Whether the mount's source is a file or a clone the bundle holds. */
static bool has_bundle_source(const struct sbx_spec_mount *m)
{
	return m->origin != SBX_SPEC_MOUNT_NEW;
}

/* Where the clone of a host source, or a file sbx writes, is in the
 * bundle. */
static void bundle_mount_path(size_t i, char *out, size_t len)
{
	snprintf(out, len, BUNDLE "/m%zu", i);
}

/* The host id that inside id 0 (runsc, its gofer) has in MAP. */
static bool root_outside(const struct sbx_idmap *map, uint32_t *out)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->e[i].inside == 0) {
			*out = map->e[i].outside;
			return true;
		}
	return false;
}

/* Add ID <-> ID to the workspace's idmap unless ID is taken either way. */
static void add_identity(struct sbx_idmap *m, uint32_t id)
{
	for (size_t i = 0; i < m->n; i++)
		if ((id >= m->e[i].inside && id - m->e[i].inside < m->e[i].count) ||
		    (id >= m->e[i].outside && id - m->e[i].outside < m->e[i].count))
			return;
	if (m->n < SBX_IDMAP_MAX)
		m->e[m->n++] = (struct sbx_idmap_entry){ id, id, 1 };
}

/* runsc's gofer makes the workspace's files with its own ids (root of
 * sbx's namespace) and then gives them to the sandbox user: through an
 * idmapped workspace it needs a mapping of its own, or every creation
 * fails (EOVERFLOW).  Its range ids stand for themselves there, and own
 * a file only until the gofer's chown. */
static void map_gofer_in_workspace(struct sbx_idplan *ids)
{
	uint32_t uid, gid;

	if (!ids->workspace_idmapped)
		return;
	if (root_outside(&ids->uid, &uid))
		add_identity(&ids->workspace_uid, uid);
	if (root_outside(&ids->gid, &gid))
		add_identity(&ids->workspace_gid, gid);
}

int sbx_runsc_prepare(struct sandbox *sb, struct sbx_error *err)
{
	char names[SBX_SPEC_MAX_MOUNTS][64];
	struct sbx_bundle_paths paths = { .root = BUNDLE "/rootfs" };

	/* gVisor applies the profile in its sentry: nothing reaches the
	 * kernel's log, and a request that would do nothing is refused. */
	if (sb->opts->seccomp_log)
		return sbx_fail(err, 0, "--seccomp-log: under runsc gVisor applies the profile and logs nothing "
				   "to the kernel's log: run with --runtime native");
	for (size_t i = 0; i < sb->spec.n_mounts; i++)
		if (has_bundle_source(&sb->spec.mounts[i])) {
			bundle_mount_path(i, names[i], sizeof(names[i]));
			paths.mount_source[i] = names[i];
		}
	if (sbx_runsc_config_gen(&sb->spec, &paths, &sb->runsc_config, err) < 0)
		return sbx_error_wrap(err, "runsc's config.json");
	return 0;
}

static bool maps_host_id(const struct sbx_idmap *map, uint32_t host)
{
	for (size_t i = 0; i < map->n; i++)
		if (host >= map->e[i].outside && host - map->e[i].outside < map->e[i].count)
			return true;
	return false;
}

/* What runsc cannot do with this host's sources, found once they are
 * resolved and the id maps decided. */
static int check_sources(const struct sandbox *sb, int64_t ws_gid, struct sbx_error *err)
{
	const struct sbx_run_options *o = sb->opts;

	struct stat ws;

	/* The gofer writes the workspace as root of sbx's namespace, which
	 * overrides permissions only on files whose owner and group are both
	 * mapped there.  A workspace whose owner is the sandbox user but whose
	 * group is one the owner lacks (never mapped: the sandbox must not get
	 * it) would be written with the permissions of others, not the
	 * owner's as natively.  (One whose owner is not mapped either, a
	 * rootless -w of another user's directory, gets others' permissions
	 * under both runtimes.) */
	if (ws_gid >= 0 && !sb->ids.workspace_idmapped && fstat(sb->src.workspace_path, &ws) == 0 &&
	    maps_host_id(&sb->ids.uid, ws.st_uid) && !maps_host_id(&sb->ids.gid, (uint32_t)ws_gid))
		return sbx_fail(err, 0, "--workspace %s: its group (gid %lld) is not one of its owner's, and "
				   "runsc's gofer could not write it without holding that group; chgrp it to the "
				   "owner's group or run with --runtime native",
				o->workspace, (long long)ws_gid);
	/* This runsc does not make a missing working directory, and every
	 * tmpfs of gVisor's starts empty. */
	if (o->workspace == NULL && o->workdir != NULL &&
	    sbx_point_home(o, o->n_mounts, o->workdir, false) == SBX_HOME_SBX_TMPFS)
		return sbx_fail(err, 0, "the image's WorkingDir %s lies inside a tmpfs of the sandbox, where this "
				   "runsc cannot start a command (it does not make a missing working directory); "
				   "give -w, or run with --runtime native", o->workdir);
	/* This runsc mounts files only onto files that exist: not onto a
	 * point sbx would make in one of its tmpfs mounts. */
	for (size_t i = 0; i < o->n_mounts; i++) {
		struct stat st;

		if (sb->src.mount_paths[i] < 0 || fstat(sb->src.mount_paths[i], &st) < 0 || S_ISDIR(st.st_mode))
			continue;
		if (sbx_point_home(o, i, o->mounts[i].dst, false) == SBX_HOME_SBX_TMPFS)
			return sbx_fail(err, 0, "%s of a file onto %s, inside a tmpfs: gVisor (this runsc) cannot "
					   "mount a file there; bind it onto a path of the image, bind its directory, "
					   "or run with --runtime native",
					sbx_mount_option_name(&o->mounts[i]), o->mounts[i].dst);
	}
	return 0;
}

int sbx_runsc_fit_sources(struct sandbox *sb, int64_t ws_gid, struct sbx_error *err)
{
	if (check_sources(sb, ws_gid, err) < 0)
		return -1;
	map_gofer_in_workspace(&sb->ids);
	return 0;
}

/* gVisor writes a host file it was given at an offset of its own, one per
 * descriptor: with `> log 2>&1` stdout and stderr overwrite each other.
 * Opened again with O_APPEND (from sbx, which may open it), every write
 * lands at the end, as the kernel would put it. */
static int reopen_for_append(int fd)
{
	char path[32];
	struct stat st;
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (flags & O_APPEND) ||
	    (flags & O_ACCMODE) == O_RDONLY)
		return -1;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	/* -1 for a file handed to us that we may not open ourselves (another
	 * user's): it stays as it is. */
	return open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
}

void sbx_runsc_prepare_stdio(struct sandbox *sb)
{
	if (sb->spec.output_limit || sb->spec.terminal)
		return;
	sb->out_pipe[1] = reopen_for_append(STDOUT_FILENO);
	sb->err_pipe[1] = reopen_for_append(STDERR_FILENO);
	sb->stdio_reopened[0] = sb->out_pipe[1] >= 0;
	sb->stdio_reopened[1] = sb->err_pipe[1] >= 0;
}

/* The caller's own descriptions of those files did not move while gVisor
 * appended: what the caller writes next must follow, as after a native
 * run. */
void sbx_runsc_end_stdio(const struct sandbox *sb)
{
	if (sb->stdio_reopened[0])
		lseek(STDOUT_FILENO, 0, SEEK_END);
	if (sb->stdio_reopened[1])
		lseek(STDERR_FILENO, 0, SEEK_END);
}

/* Attach TREE at BUNDLE/NAME, on a file when TREE is one (a --bind of a
 * file). */
static int attach_in_bundle(int bundle, int tree, const char *name, struct sbx_error *err)
{
	enum sbx_target_kind kind;

	if (sbx_tree_kind(tree, &kind, err) < 0)
		return -1;
	if (sbx_attach_in_root(tree, bundle, name, kind, true, err) < 0)
		return sbx_error_wrap(err, "staging: mounting on %s", name);
	return 0;
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

	if (root < 0 || sbx_complete_root_for_gofer(staging, &root, sb->opts, &sb->src, &flags, err) < 0)
		return -1;
	/* gVisor would follow a link there, and make a missing target in a
	 * host directory: refused here, as the native setup refuses them. */
	if (sbx_check_mount_targets(root, sb->opts, &sb->src, err) < 0)
		return -1;
	if (flags && sbx_sync_send_value(sb->sync_fd, SBX_MSG_ROOT, (int)flags) < 0)
		return sbx_fail(err, errno, "telling sbx about the overlay");
	clone = sbx_clone_tree_fd(root, err);
	if (clone < 0 || attach_in_bundle(bundle, clone, "rootfs", err) < 0)
		return sbx_error_wrap(err, "the rootfs");
	return 0;
}

/* Step 3: the bundle, on the staging tmpfs: the root, the clones and
 * files where sbx_runsc_prepare said they would be, and its config. */
static int write_bundle(struct sandbox *sb, struct sbx_error *err)
{
	cleanup_close int staging = sbx_mount_staging(err);
	cleanup_close int bundle = -1;

	if (staging < 0)
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

/* runsc's command line: its own state and logs in the bundle, no cgroup
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
	argv[n++] = "--panic-log=" PANIC_LOG;
	if (sb->spec.seccomp_profile != NULL)
		argv[n++] = "--oci-seccomp";
	argv[n++] = "run";
	if (sb->spec.terminal)
		argv[n++] = "--console-socket=" CONSOLE;
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

/* The first line of what the Go runtime of runsc's processes wrote when
 * one of them crashed (a panic, a fatal error), into OUT. */
static bool runsc_crash_line(char *out, size_t len)
{
	struct sbx_error ignored = { 0 };
	cleanup_free char *log = NULL;
	char *save = NULL;
	char *line;

	if (sbx_read_file(PANIC_LOG, 1 << 20, &log, &ignored) < 0)
		return false;
	line = strtok_r(log, "\n", &save);
	if (line == NULL)
		return false;
	snprintf(out, len, "%s", line);
	return true;
}

/* Whether the crash was the host refusing a thread or process (EAGAIN):
 * under --pids, pids.max counts gVisor's own threads. */
static bool crash_lacked_threads(const char *line)
{
	return strstr(line, "resource temporarily unavailable") != NULL || strstr(line, "errno=11") != NULL;
}

/* gVisor's PATH search found nothing: said as the native init says it
 * (127, the name, the image or rootfs, the PATH). */
static bool command_not_found(const char *msg, const char *origin, struct sbx_error *err)
{
	static const char name_at[] = "error finding executable \"", path_at[] = " in PATH [";
	const char *name = strstr(msg, name_at), *name_end, *path, *path_end;
	char dirs[1024];

	if (name == NULL || strstr(msg, "no such file or directory") == NULL)
		return false;
	name += sizeof(name_at) - 1;
	name_end = strchr(name, '"');
	path = name_end != NULL ? strstr(name_end, path_at) : NULL;
	path_end = path != NULL ? strchr(path, ']') : NULL;
	if (path_end == NULL)
		return false;
	path += sizeof(path_at) - 1;
	snprintf(dirs, sizeof(dirs), "%.*s", (int)(path_end - path), path);
	for (char *sp = strchr(dirs, ' '); sp != NULL; sp = strchr(sp, ' '))
		*sp = ':';
	sbx_fail_status(err, SBX_EXIT_NOTFOUND, 0, "command not found in the sandbox: %.*s (%s has none on PATH=%s)",
			(int)(name_end - name), name, origin, dirs);
	return true;
}

/* runsc's failure to start the command, in native's words and codes
 * (command.c): 127 for a command not found (a path, or none on PATH), 126
 * for one it cannot execute; 125 for any other failure of runsc's. */
static void command_failure(const struct sandbox *sb, const char *msg, struct sbx_error *err)
{
	const char *name = sb->command_name;
	bool load = strstr(msg, "failed to load") != NULL;
	bool search = strstr(msg, "error finding executable") != NULL;
	bool missing = strstr(msg, "no such file") != NULL || strstr(msg, "not a directory") != NULL;

	if (search && missing && command_not_found(msg, sb->command_origin, err))
		return;
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
 * 128 for a failure of its own (which its log then holds).  When gVisor's
 * sandbox (the sentry) crashes, runsc run exits with the sandbox process's
 * status instead (2 for a Go panic): that is gVisor failing, not the
 * command's status, and its panic log says why.  A sandbox killed by a
 * signal without a crash (the OOM killer's SIGKILL under --memory) stays
 * the run's end, with the signal. */
static int final_status(const struct sbx_init_config *c, int wstatus, struct sbx_error *err)
{
	const struct sandbox *sb = c->backend;
	char msg[SBX_ERROR_MSG_MAX];
	int code;

	if (!WIFEXITED(wstatus))
		return wstatus;
	code = WEXITSTATUS(wstatus);
	if (code == 128 && runsc_last_error(msg, sizeof(msg))) {
		command_failure(sb, msg, err);
		return -1;
	}
	if (runsc_crash_line(msg, sizeof(msg))) {
		sbx_fail(err, 0, "runsc: gVisor's sandbox crashed before the command ended (runsc exited with %d): %s",
			 code, msg);
		if (crash_lacked_threads(msg))
			sbx_error_hint(err, "the host refused gVisor a thread: under --pids, pids.max counts gVisor's "
					    "own threads (about 45) and several per process of the command; raise --pids");
		return -1;
	}
	if (code > 128 && code < 128 + 65)
		return code - 128; /* the wait status of a death by that signal */
	return wstatus;
}

/* The pty master runsc sends to its console socket once it has made the
 * sandbox's terminal: the sandbox holds the other side as its controlling
 * terminal, so a Ctrl-C typed there reaches gVisor, which passes it to the
 * command's foreground job.  Waits while runsc runs. */
static int receive_console(const struct sbx_init_config *c, pid_t command, struct sbx_error *err)
{
	const struct sandbox *sb = c->backend;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof(control.buf) };
	struct pollfd pfd = { .fd = sb->console_listen, .events = POLLIN };
	cleanup_close int conn = -1;
	struct cmsghdr *cm;
	int master;

	for (;;) {
		siginfo_t info = { 0 };
		int r = poll(&pfd, 1, 100);

		if (r > 0)
			break;
		if (r < 0 && errno != EINTR)
			return sbx_fail(err, errno, "waiting for runsc's console");
		/* runsc ended before it made one: its status says why. */
		if (waitid(P_PID, (id_t)command, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == command)
			return -1;
	}
	conn = accept4(sb->console_listen, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return sbx_fail(err, errno, "accepting runsc's console");
	if (recvmsg(conn, &mh, MSG_CMSG_CLOEXEC) < 0)
		return sbx_fail(err, errno, "receiving runsc's console");
	cm = CMSG_FIRSTHDR(&mh);
	if (cm == NULL || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
		return sbx_fail(err, EPROTO, "runsc's console socket passed no terminal");
	memcpy(&master, CMSG_DATA(cm), sizeof(master));
	return master;
}

/* The console socket, listening before runsc starts. */
static int listen_for_console(struct sandbox *sb, struct sbx_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX, .sun_path = CONSOLE };
	int null;

	sb->console_listen = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sb->console_listen < 0 || bind(sb->console_listen, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    listen(sb->console_listen, 1) < 0)
		return sbx_fail(err, errno, "making runsc's console socket");
	/* The terminal is the console now: runsc's own stdin is nothing. */
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, STDIN_FILENO) < 0)
		return sbx_fail(err, errno, "giving runsc /dev/null as stdin");
	close(null);
	return 0;
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
		.seccomp = &host_only,
		.forward_signal = forward_signal,
		.final_status = final_status,
		.console = sb->spec.terminal ? receive_console : NULL,
		.backend = sb,
	};

	runsc_argv(sb, argv);
	/* Before the init blanks sbx's arguments, where a --rootfs path
	 * lives. */
	snprintf(sb->command_origin, sizeof(sb->command_origin), "%s %s", init.image ? "image" : "rootfs",
		 init.image ? init.image : init.rootfs);
	snprintf(sb->command_name, sizeof(sb->command_name), "%s", sb->spec.args[0]);
	if (sb->spec.terminal && listen_for_console(sb, err) < 0)
		return -1;
	/* The filter needs it, and nothing runsc runs gains privileges. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_NO_NEW_PRIVS");
	return sbx_init_run(&init, err);
}

int sbx_runsc_setup(struct sandbox *sb, struct sbx_error *err)
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
	/* The tree gVisor's gofer serves: the same overlay as natively. */
	if (res->root_flags & SBX_ROOT_POINTS_MADE)
		sbx_result_add_layer(res, "mount-points-overlay");
	sbx_result_add_layer(res, "pid-namespace");
	sbx_result_add_layer(res, "clean-environment");
	sbx_result_add_layer(res, "no-capabilities");
	sbx_result_add_layer(res, "no-new-privs");
	sbx_result_add_layer(res, sb->spec.terminal ? "sandbox-pty" : "new-session");
}
