/* The sandbox's setup sequence, in one place.
 *
 * sbx (the parent) decides the id maps, clones what only it may read, makes
 * the sandbox's cgroup where a limit is in force (cgroup.h), and creates the
 * child with clone3(2), in that cgroup, in new user, mount, pid, ipc, uts,
 * cgroup and (unless --network host) network namespaces.  The child is pid 1 of
 * the new pid namespace: it builds the file system, switches to the sandbox
 * user, then forks the command and stays as a minimal init that reaps and
 * passes the command's status on.  Errors anywhere in the child travel back
 * to the parent over the sync socket. */
#include "sandbox.h"
#include "backend.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cgroup.h"
#include "command.h"
#include "devfs.h"
#include "idmap.h"
#include "layout.h"
#include "mountpoints.h"
#include "mounts.h"
#include "net.h"
#include "procfs.h"
#include "result.h"
#include "supervise.h"
#include "sync.h"
#include "tty.h"
#include "landlock.h"
#include "limit_policy.h"
#include "privileges.h"
#include "seccomp_filter.h"
#include "statedirs.h"
#include "init.h"
#include "runsc.h"
#include "spec.h"
#include "util.h"


static int switch_to_sandbox_user(const struct sandbox *sb, struct sbx_error *err)
{
	uid_t uid = sb->opts->uid;
	gid_t gid = sb->opts->gid;

	/* Drop the caller's supplementary groups where the kernel lets us;
	 * with setgroups denied they show as nogroup and cannot be dropped. */
	if (sb->ids.setgroups_allowed && setgroups(0, NULL) < 0)
		return sbx_fail(err, errno, "dropping supplementary groups");
	if (setresgid(gid, gid, gid) < 0)
		return sbx_fail(err, errno, "switching to gid %u", gid);
	if (setresuid(uid, uid, uid) < 0)
		return sbx_fail(err, errno, "switching to uid %u", uid);
	/* With the securebits locked the uid change kept the capabilities
	 * (and under a single-id map there was no change at all): empty every
	 * set, for the init and the command alike, uid 0 included. */
	return sbx_drop_capabilities(err);
}

static int become_setup_user(const struct sandbox *sb, struct sbx_error *err)
{
	/* Files made on sbx's tmpfs mounts need an owner mapped inside. */
	if (setresgid(sb->ids.setup_gid, sb->ids.setup_gid, sb->ids.setup_gid) < 0 ||
	    setresuid(sb->ids.setup_uid, sb->ids.setup_uid, sb->ids.setup_uid) < 0)
		return sbx_fail(err, errno, "taking the setup ids inside the user namespace");
	return 0;
}

/* Tie our life to sbx's.  The kernel clears the parent-death signal at
 * every credential change, so this runs again after each; and since sbx may
 * have died before the signal was armed, check that it is still there: its
 * end of the sync socket closes when it dies. */
int sbx_die_with_parent(int sync_fd, struct sbx_error *err)
{
	struct pollfd pfd = { .fd = sync_fd, .events = POLLRDHUP };

	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "PR_SET_PDEATHSIG");
	if (poll(&pfd, 1, 0) < 0)
		return sbx_fail(err, errno, "polling the sync socket");
	if (pfd.revents & (POLLHUP | POLLRDHUP | POLLERR))
		_exit(SBX_EXIT_FAILURE);
	return 0;
}

static int wait_for_id_maps(int sync_fd, struct sbx_error *err)
{
	struct sbx_msg msg;
	int r = sbx_sync_recv(sync_fd, &msg, NULL, err);

	if (r <= 0 || msg.type != SBX_MSG_MAPS_READY)
		return sbx_fail(err, 0, "sbx went away during setup");
	return 0;
}

int sbx_child_begin(const struct sandbox *sb, struct sbx_error *err)
{
	/* Die with sbx, before anything else. */
	if (sbx_die_with_parent(sb->sync_fd, err) < 0)
		return -1;
	/* Wait until sbx has written our uid and gid maps: until then we
	 * are nobody and may not create a single file. */
	if (wait_for_id_maps(sb->sync_fd, err) < 0)
		return -1;
	return become_setup_user(sb, err) < 0 ? -1 : sbx_die_with_parent(sb->sync_fd, err);
}

/* No user namespace may be made inside the sandbox, whatever the seccomp
 * profile allows: root of a nested namespace holds CAP_SETFCAP over the
 * sandbox user's files and could write a file capability into the
 * workspace, one that on a root-owned (idmapped) workspace is stored as
 * root's and works on the host.  The limit is per user namespace and
 * counts at every level, so 0 here holds for all descendants; only a
 * holder of CAP_SYS_RESOURCE in this namespace (the setup, never the
 * command) may raise it again. */
static int forbid_nested_user_namespaces(struct sbx_error *err)
{
	if (sbx_write_file_at(AT_FDCWD, "/proc/sys/user/max_user_namespaces", "0", err) < 0)
		return sbx_error_wrap(err, "forbidding user namespaces inside the sandbox");
	return 0;
}

/* Mount a tmpfs on /workspace when no -w was given and the image has the
 * directory: the command still gets a writable place to start in. */
static int mount_scratch_workspace(int root, const struct sbx_run_options *o, bool *mounted,
				   struct sbx_error *err)
{
	struct sbx_tmpfs scratch = SBX_TMPFS(o->tmp_size, 0755);
	cleanup_close int target = sbx_open_in_root(root, "/workspace", SBX_TARGET_DIR, err);
	cleanup_close int tree = -1;

	*mounted = false;
	if (target < 0)
		return err->err == ENOENT ? 0 : sbx_error_wrap(err, "scratch /workspace");
	/* Owned by the sandbox user, who must write there. */
	scratch.uid = o->uid;
	scratch.gid = o->gid;
	tree = sbx_new_tmpfs(scratch, SBX_MNT_NOSUID | SBX_MNT_NODEV, err);
	if (tree < 0 || sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "scratch /workspace");
	*mounted = true;
	return 0;
}

/* The checklist.  Each step says why it sits where it does. */
static int setup_sandbox(struct sandbox *sb, struct sbx_error *err)
{
	const struct sbx_run_options *o = sb->opts;
	cleanup_close int staging = -1;
	cleanup_close int root = -1;
	bool has_workspace = o->workspace != NULL;
	unsigned int root_flags;

	/* 1. and 2. Die with sbx; wait for the id maps; take the setup ids. */
	if (sbx_child_begin(sb, err) < 0)
		return -1;
	/* 3. Rootless: clone the sources now, while host paths are still the
	 *    host's (the staging tmpfs below hides /tmp). */
	if (sb->sources_in_child && sbx_sources_open(o, &sb->src, err) < 0)
		return -1;
	/* 4. Nothing we mount from here on may propagate to the host. */
	sbx_verbose(o->verbose, "making mount propagation private");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return sbx_fail(err, errno, "making / private in the new mount namespace");
	/* 5. Scratch space of our own for the new root and generated files. */
	staging = sbx_mount_staging(err);
	if (staging < 0)
		return -1;
	/* 6. The rootfs, read-only, nosuid, nodev from the moment it is
	 *    visible: nothing below can write into the image. */
	sbx_verbose(o->verbose, "mounting rootfs %s read-only", o->rootfs);
	root = sbx_mount_root(staging, sb->src.rootfs, err);
	if (root < 0)
		return -1;
	/*    The points it lacks (or --writable-root): an overlay over it,
	 *    the points made in its upper before it exists, read-only (or
	 *    the throw-away writable root) from the start.  sbx records it
	 *    among the layers. */
	if (sbx_complete_root(staging, &root, o, &sb->src, &root_flags, err) < 0)
		return -1;
	if (root_flags && sbx_sync_send_value(sb->sync_fd, SBX_MSG_ROOT, (int)root_flags) < 0)
		return sbx_fail(err, errno, "telling sbx about the overlay");
	/* 7. The file system the command sees, all on targets opened inside
	 *    the new root without following symlinks out of it.  /dev before
	 *    /proc: the /proc masks bind sbx's own /dev/null. */
	if (has_workspace) {
		sbx_verbose(o->verbose, "mounting workspace %s at /workspace", o->workspace);
		if (sbx_mount_workspace(root, sb->src.workspace, err) < 0)
			return -1;
	} else if (mount_scratch_workspace(root, o, &has_workspace, err) < 0) {
		return -1;
	}
	sbx_verbose(o->verbose, "mounting /tmp, /dev, /proc, /sys");
	if (sbx_mount_tmp(root, o->tmp_size, err) < 0 ||
	    sbx_mount_dev(root, sb->src.dev, o->shm_size, sbx_idmap_has_inside(&sb->ids.gid, 5), err) < 0 ||
	    sbx_mount_proc(root, err) < 0 || sbx_mount_sys(root, err) < 0)
		return -1;
	/* Through the host's /proc, still ours until pivot_root (the fresh
	 * one's /proc/sys is read-only). */
	if (forbid_nested_user_namespaces(err) < 0)
		return -1;
	if (sbx_mount_etc_files(root, staging, &sb->etc, o->verbose, err) < 0)
		return -1;
	/* 8. Extra mounts last, so they may go below /workspace or /tmp. */
	if (sbx_mount_extras(root, o, &sb->src, err) < 0 || sbx_make_workdir_on_tmpfs(root, o, err) < 0)
		return -1;
	sbx_sources_close(&sb->src);
	/* 9. Enter the new root and cut the way back. */
	sbx_verbose(o->verbose, "pivot_root into the rootfs, detaching the host's tree");
	if (sbx_pivot_root(root, err) < 0)
		return -1;
	/* 10. Identity and network of the new namespaces.  The network
	 *     namespace was made meanwhile beside us (net.h) and is entered
	 *     as late as this so that its making overlaps all of the above;
	 *     before the rlimits (RLIMIT_NPROC would not matter, but a
	 *     failure here must still be sbx's 125) and before the user
	 *     switch, which drops CAP_SYS_ADMIN that setns needs. */
	if (sethostname(sb->spec.hostname, strlen(sb->spec.hostname)) < 0)
		return sbx_fail(err, errno, "setting the hostname");
	if (sb->netns_sock[1] >= 0) {
		sbx_verbose(o->verbose, "network none: entering the new namespace (lo up)");
		if (sbx_netns_enter(sb->netns_sock[1], err) < 0)
			return -1;
		sbx_closep(&sb->netns_sock[1]);
	}
	/* 11. The rlimits that stand in for what no cgroup holds (the
	 *     cgroup itself is sbx's: it made it and we were born in it).
	 *     Inherited by init and the command. */
	if (sbx_limits_apply_rlimits(&o->limits, &sb->limits, err) < 0)
		return -1;
	/* 12. Privileges, for good: empty bounding set and locked securebits
	 *     (needs CAP_SETPCAP, so before the user switch), no core dumps,
	 *     no_new_privs.  Landlock and seccomp follow in the command,
	 *     seccomp as the very last step before execve. */
	sbx_verbose(o->verbose, "dropping the bounding set, locking securebits, no_new_privs");
	if (sbx_lock_privileges(err) < 0)
		return -1;
	/* 13. Become the sandbox user and drop every capability. */
	sbx_verbose(o->verbose, "switching to uid %u gid %u", o->uid, o->gid);
	if (switch_to_sandbox_user(sb, err) < 0 || sbx_die_with_parent(sb->sync_fd, err) < 0)
		return -1;
	/* 14. Become the init and start the command. */
	struct sbx_init_config init = {
		.argv = sb->spec.args,
		.env = sb->spec.env,
		.cwd = sb->spec.cwd,
		.image = o->image_name,
		.rootfs = o->rootfs,
		.sync_fd = sb->sync_fd,
		.stdout_fd = sb->out_pipe[1],
		.stderr_fd = sb->err_pipe[1],
		.pty = sb->spec.terminal,
		.landlock_abi = sb->landlock_abi,
		.writable = sb->writable,
		.n_writable = sb->n_writable,
		.seccomp = &sb->seccomp,
	};
	return sbx_init_run(&init, err);
}

static int child_main(struct sandbox *sb)
{
	struct sbx_error err = { 0 };

	/* The cgroup's lock must end with sbx, not live on in init. */
	sbx_closep(&sb->cg.dirfd);
	sbx_closep(&sb->cg.parentfd);

	if ((sb->runtime == SBX_RUNTIME_RUNSC ? sbx_runsc_setup(sb, &err) : setup_sandbox(sb, &err)) < 0) {
		struct sbx_msg start;
		struct sbx_error ignored = { 0 };

		sbx_sync_send(sb->sync_fd, SBX_MSG_ERROR, &err);
		/* sbx sends start without waiting for the setup: left unread,
		 * it would reset the socket, and the error with it. */
		(void)sbx_sync_recv(sb->sync_fd, &start, NULL, &ignored);
		_exit(err.status ? err.status : SBX_EXIT_FAILURE);
	}
	_exit(SBX_EXIT_FAILURE);
}

/* The native sandbox's namespaces; runsc's child needs only the three
 * that hold runsc itself (gVisor makes the sandbox's own). */
static int namespace_flags(const struct sandbox *sb)
{
	int flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID;

	/* runsc's too: its control socket is an abstract one, reachable by
	 * every process of the network namespace it is made in.  The native
	 * sandbox's is made beside its setup (net.h). */
	if (sb->spec.network_namespace && sb->netns_sock[1] < 0)
		flags |= CLONE_NEWNET;
	if (sb->runtime != SBX_RUNTIME_RUNSC)
		flags |= CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
	return flags;
}

/* From the fd that is mounted, not from the path again. */
static int workspace_owner(int fd, const char *path, int64_t *uid, int64_t *gid, struct sbx_error *err)
{
	struct stat st;

	*uid = *gid = -1;
	if (fd < 0)
		return 0;
	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "--workspace %s", path);
	if (!S_ISDIR(st.st_mode))
		return sbx_fail(err, ENOTDIR, "--workspace %s", path);
	*uid = st.st_uid;
	*gid = st.st_gid;
	return 0;
}

/* Root mode, a root-owned workspace or a sandbox running as uid 0: show
 * the workspace's owner to the sandbox as the sandbox user, and store what
 * the sandbox creates as that owner. */
static int idmap_workspace(struct sandbox *sb, struct sbx_error *err)
{
	cleanup_close int userns = sbx_userns_with_maps(&sb->ids.workspace_uid, &sb->ids.workspace_gid, err);
	bool root_owned = sb->ids.workspace_uid.e[0].inside == 0;

	sbx_verbose(sb->opts->verbose, "workspace %s: idmapped mount",
		    root_owned ? "owned by root" : "of a sandbox running as uid 0");
	if (userns < 0 || sbx_set_mount_idmap(sb->src.workspace, userns, err) < 0) {
		sbx_error_wrap(err, "--workspace %s", sb->opts->workspace);
		if (root_owned)
			return sbx_error_hint(err, "it is owned by root and sbx never runs the sandbox as host root: "
						   "its file system must support idmapped mounts, or chown it to an "
						   "unprivileged user");
		return sbx_error_hint(err, "with --user 0 the workspace is shown to the image's root through an "
					   "idmapped mount: its file system must support them, or run without --user 0");
	}
	return 0;
}

/* Compile the seccomp profile and settle Landlock before the sandbox
 * exists: a bad profile or a missing required layer fails at once. */
static int prepare_security(struct sandbox *sb, struct sbx_error *err)
{
	const struct sbx_run_options *o = sb->opts;

	if (sbx_seccomp_prepare(o->seccomp, o->seccomp_log, &sb->seccomp, err) < 0)
		return -1;
	if (sb->runtime == SBX_RUNTIME_RUNSC) {
		/* gVisor's sentry answers the command's system calls; the
		 * host's Landlock would bind runsc, not the command. */
		if (o->require_landlock)
			return sbx_fail(err, 0, "--require landlock: under runsc the command's file "
					   "accesses are gVisor's, not the kernel's: run with --runtime native");
		sbx_verbose(o->verbose, "landlock: not applied under runsc (gVisor's own file system)");
		return 0;
	}
	sbx_verbose(o->verbose, "seccomp: %s (%zu rules, %zu stacked filters%s)",
		    sb->seccomp.enabled ? sb->seccomp.name : "unconfined: no system call filter",
		    sb->seccomp.n_rules, sb->seccomp.n_filters, sb->seccomp.cached ? ", from the cache" : "");
	sb->landlock_abi = sbx_landlock_abi();
	if (sb->landlock_abi == 0 && o->require_landlock)
		return sbx_fail(err, 0, "--require landlock: this kernel offers no Landlock "
				   "(it needs Linux 5.13+ with landlock in the lsm= boot parameter)");
	sbx_verbose(o->verbose, !sb->landlock_abi ? "landlock: not available on this kernel (ABI %d): not applied"
				: o->writable_root ? "landlock: ABI %d, writes to the whole (throw-away) root"
				: "landlock: ABI %d, writes only to /workspace, /tmp, /dev/shm, the pty and "
				  "--bind/--tmpfs targets",
		    sb->landlock_abi);
	/* With --writable-root the whole root: its writes land on the
	 * overlay's tmpfs, and what else Landlock would guard is read-only
	 * mounts or sbx's own tmpfs mounts anyway. */
	if (o->writable_root)
		sb->writable[sb->n_writable++] = "/";
	sb->writable[sb->n_writable++] = "/workspace";
	sb->writable[sb->n_writable++] = "/tmp";
	sb->writable[sb->n_writable++] = "/dev/shm";
	for (size_t i = 0; i < o->n_mounts; i++)
		if (o->mounts[i].kind != SBX_MOUNT_RO_BIND)
			sb->writable[sb->n_writable++] = o->mounts[i].dst;
	return 0;
}

/* Under runsc no rlimit stands in for a missing cgroup: it would bind
 * runsc's own processes (the sentry holds the whole sandbox's memory), not
 * the command's. */
static void drop_rlimit_enforcers(struct sbx_limits_plan *plan)
{
	if (plan->memory == SBX_ENFORCER_RLIMIT)
		plan->memory = SBX_ENFORCER_NONE;
	if (plan->pids == SBX_ENFORCER_RLIMIT)
		plan->pids = SBX_ENFORCER_NONE;
}

/* The sandbox's cgroup where a limit is in force and the host lets sbx
 * make one; the plan says what holds each limit (limit_policy.h).  Fails only
 * for --require-limits. */
static int prepare_limits(struct sandbox *sb, int64_t ws_uid, struct sbx_error *err)
{
	const struct sbx_run_options *o = sb->opts;
	const struct sbx_limits *l = &o->limits;
	struct sbx_cgroup_limits want = { l->memory_bytes, l->cpu_millis, l->pids };
	struct sbx_cgroup_host_info info = { .mode = SBX_CGROUP_MODE_NONE };
	struct sbx_error cg_err = { 0 };
	uint32_t host_uid = sbx_idmap_to_host(&sb->ids.uid, o->uid);
	char weaker[512];

	if (want.memory_bytes || want.cpu_millis || want.pids) {
		sbx_cgroup_describe(&info);
		sbx_verbose(o->verbose, "cgroups: %s, cgroup2 at %s; %s%s", sbx_cgroup_mode_name(info.mode),
			    info.mount[0] ? info.mount : "(none)",
			    info.usable ? "sandbox cgroups under " : "no controller sbx may use: ",
			    info.usable ? info.parent : info.why);
		if (info.usable && sbx_cgroup_create(&sb->cg, &info, &want, o->verbose, &cg_err) < 0) {
			sbx_verbose(o->verbose, "cgroup: %s", cg_err.msg);
			snprintf(info.why, sizeof(info.why), "%.500s", cg_err.msg);
		}
	}
	sbx_limits_plan_make(l, sb->cg.dirfd >= 0 ? sb->cg.controllers : 0,
			     sbx_limits_nproc_private(sb->ids.writer, host_uid, ws_uid), &sb->limits);
	if (sb->runtime == SBX_RUNTIME_RUNSC)
		drop_rlimit_enforcers(&sb->limits);
	sbx_verbose(o->verbose, "limits: memory by %s, cpus by %s, pids by %s", sbx_enforcer_name(sb->limits.memory),
		    sbx_enforcer_name(sb->limits.cpus), sbx_enforcer_name(sb->limits.pids));
	if (sbx_limits_check_required(l, &sb->limits, info.why, err) < 0)
		return -1;
	sbx_limits_describe_weaker(l, &sb->limits, false, weaker, sizeof(weaker));
	if (weaker[0] != '\0')
		sbx_verbose(o->verbose, "default limits: %s%s%s", weaker, info.why[0] ? "; " : "", info.why);
	sbx_limits_describe_weaker(l, &sb->limits, true, weaker, sizeof(weaker));
	/* Asked for on the command line and held less: said once, not an
	 * error (--require-limits makes it one). */
	if (weaker[0] != '\0')
		fprintf(stderr, "sbx: notice: %s%s%s\n", weaker, info.why[0] ? "; " : "", info.why);
	return 0;
}

/* --runtime: auto picks runsc when it is installed and this caller can
 * run it.  The reason goes to -v and to the JSON. */
static int choose_runtime(struct sandbox *sb, struct sbx_error *err)
{
	struct sbx_runsc_probe probe;
	enum sbx_runtime asked = sb->opts->runtime;

	if (asked == SBX_RUNTIME_NATIVE) {
		sb->runtime = SBX_RUNTIME_NATIVE;
		snprintf(sb->runtime_reason, sizeof(sb->runtime_reason), "--runtime native");
		return 0;
	}
	if (asked == SBX_RUNTIME_AUTO && sb->opts->require_landlock) {
		sb->runtime = SBX_RUNTIME_NATIVE;
		snprintf(sb->runtime_reason, sizeof(sb->runtime_reason),
			 "--require landlock: only the native sandbox applies Landlock");
		return 0;
	}
	sbx_runsc_probe(&probe);
	if (probe.usable) {
		if (sbx_runsc_name_container(sb->runsc_id, sizeof(sb->runsc_id), err) < 0)
			return -1;
		sb->runtime = SBX_RUNTIME_RUNSC;
		snprintf(sb->runsc_path, sizeof(sb->runsc_path), "%s", probe.path);
		snprintf(sb->runtime_reason, sizeof(sb->runtime_reason), "%s: %.400s",
			 asked == SBX_RUNTIME_RUNSC ? "--runtime runsc" : "runsc is installed and usable",
			 probe.path);
		return 0;
	}
	if (asked == SBX_RUNTIME_RUNSC && probe.found && probe.lacks_range)
		return sbx_runsc_fail_without_range(err);
	if (asked == SBX_RUNTIME_RUNSC) {
		sbx_fail(err, 0, "--runtime runsc: %s", probe.found ? probe.why : "runsc is not installed (not on PATH)");
		return sbx_error_hint(err, probe.found ? "or run with --runtime native"
							: "install gVisor (Debian: apt-get install runsc), or run with "
							  "--runtime native");
	}
	sb->runtime = SBX_RUNTIME_NATIVE;
	snprintf(sb->runtime_reason, sizeof(sb->runtime_reason), "%.500s",
		 probe.found ? probe.why : "runsc is not installed (not on PATH)");
	return 0;
}

static int build_spec(struct sandbox *sb, struct sbx_error *err)
{
	struct sbx_spec_host host = {
		.stdin_is_tty = isatty(STDIN_FILENO),
		.term = getenv("TERM"),
	};

	if (sbx_spec_build(sb->opts, &host, &sb->spec, err) < 0)
		return -1;
	if (sb->spec.terminal && sb->opts->output_limit)
		return sbx_fail(err, 0, "--output-limit applies to separate stdout and stderr; "
				   "with a terminal they are one: add --no-tty");
	return 0;
}

static int runsc_takes_spec(struct sandbox *sb, int64_t unused, struct sbx_error *err)
{
	(void)unused;
	return sbx_runsc_prepare(sb, err);
}

/* A sandbox runsc cannot run as asked (a profile it cannot apply as sbx
 * does, a source it cannot serve) is an error with --runtime runsc; auto
 * runs it natively instead and says why.  CHECK is the runsc backend's
 * check of one stage: the description, then the resolved sources. */
static int runsc_takes(struct sandbox *sb, int (*check)(struct sandbox *, int64_t, struct sbx_error *),
		       int64_t arg, struct sbx_error *err)
{
	struct sbx_error why = { 0 };

	if (sb->runtime != SBX_RUNTIME_RUNSC || check(sb, arg, &why) == 0)
		return 0;
	if (sb->opts->runtime == SBX_RUNTIME_RUNSC) {
		*err = why;
		return sbx_error_wrap(err, "--runtime runsc");
	}
	sb->runtime = SBX_RUNTIME_NATIVE;
	snprintf(sb->runtime_reason, sizeof(sb->runtime_reason), "runsc cannot run this sandbox as asked: %.400s",
		 why.msg);
	return 0;
}

static int prepare(struct sandbox *sb, const struct sbx_run_options *opts, struct sbx_error *err)
{
	int64_t ws_uid, ws_gid;
	char desc[512];

	if (choose_runtime(sb, err) < 0 || build_spec(sb, err) < 0 ||
	    runsc_takes(sb, runsc_takes_spec, 0, err) < 0)
		return -1;
	if (sbx_sources_resolve(opts, &sb->src, err) < 0 || sbx_statedirs_check(opts, &sb->src, err) < 0 ||
	    workspace_owner(sb->src.workspace_path, opts->workspace, &ws_uid, &ws_gid, err) < 0 ||
	    sbx_idplan_make(opts->uid, opts->gid, ws_uid, ws_gid, &sb->ids, err) < 0 ||
	    sbx_etc_files_make(opts, &sb->etc, err) < 0 ||
	    runsc_takes(sb, sbx_runsc_fit_sources, ws_gid, err) < 0)
		return -1;
	sbx_verbose(opts->verbose, "runtime: %s (%s)", sbx_runtime_name(sb->runtime), sb->runtime_reason);
	if (sb->runtime == SBX_RUNTIME_RUNSC && sb->ids.writer == SBX_IDMAP_SINGLE)
		return sbx_runsc_fail_without_range(err);
	if (prepare_security(sb, err) < 0 || prepare_limits(sb, ws_uid, err) < 0)
		return -1;
	sbx_idplan_describe(&sb->ids, desc, sizeof(desc));
	sbx_verbose(opts->verbose, "user namespace: %s", desc);
	/* Root of the initial user namespace writes the maps itself and may
	 * clone host mounts; everyone else leaves that to the child. */
	sb->sources_in_child = sb->ids.writer != SBX_IDMAP_DIRECT;
	if (!sb->sources_in_child && sbx_sources_open(opts, &sb->src, err) < 0)
		return -1;
	if (sb->ids.workspace_idmapped && idmap_workspace(sb, err) < 0)
		return -1;
	return 0;
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* The layers a completed native setup applied, for the JSON result. */
static void record_layers(const struct sandbox *sb, struct sbx_result *res)
{
	static const char *const writers[] = {
		[SBX_IDMAP_DIRECT] = "user-namespace:root-range",
		[SBX_IDMAP_HELPERS] = "user-namespace:subordinate-ranges",
		[SBX_IDMAP_SINGLE] = "user-namespace:single-id",
	};

	sbx_result_add_layer(res, writers[sb->ids.writer]);
	if (sb->runtime == SBX_RUNTIME_RUNSC) {
		sbx_runsc_record_layers(sb, res);
		return;
	}
	sbx_result_add_layer(res, "mount-namespace");
	sbx_result_add_layer(res, "pid-namespace");
	sbx_result_add_layer(res, "ipc-namespace");
	sbx_result_add_layer(res, "uts-namespace");
	sbx_result_add_layer(res, "cgroup-namespace");
	if (sb->cg.dirfd >= 0)
		sbx_result_add_layer(res, "cgroup-v2-limits");
	if (sb->limits.memory == SBX_ENFORCER_RLIMIT || sb->limits.pids == SBX_ENFORCER_RLIMIT)
		sbx_result_add_layer(res, "rlimits");
	if (sb->spec.network_namespace)
		sbx_result_add_layer(res, "network-namespace");
	sbx_result_add_layer(res, "pivot-root");
	sbx_result_add_layer(res, res->root_flags & SBX_ROOT_WRITABLE ? "writable-root-overlay" : "read-only-rootfs");
	if (res->root_flags & SBX_ROOT_POINTS_MADE)
		sbx_result_add_layer(res, "mount-points-overlay");
	sbx_result_add_layer(res, "masked-proc");
	sbx_result_add_layer(res, "minimal-dev");
	sbx_result_add_layer(res, "clean-environment");
	if (sb->ids.workspace_idmapped)
		sbx_result_add_layer(res, "idmapped-workspace");
	sbx_result_add_layer(res, "no-capabilities");
	sbx_result_add_layer(res, "securebits-locked");
	sbx_result_add_layer(res, "no-new-privs");
	sbx_result_add_layer(res, "no-core-dumps");
	if (sb->landlock_abi > 0)
		sbx_result_add_layer(res, "landlock");
	if (sb->seccomp.enabled)
		sbx_result_add_layer(res, "seccomp");
	sbx_result_add_layer(res, "host-safety-filter");
	sbx_result_add_layer(res, "no-nested-user-namespaces");
	sbx_result_add_layer(res, sb->spec.terminal ? "sandbox-pty" : "new-session");
}

static int make_pipes(struct sandbox *sb, struct sbx_error *err)
{
	if (sb->opts->output_limit == 0)
		return 0;
	if (pipe2(sb->out_pipe, O_CLOEXEC) < 0 || pipe2(sb->err_pipe, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "creating the output pipes");
	fcntl(sb->out_pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(sb->err_pipe[0], F_SETFL, O_NONBLOCK);
	return 0;
}

static void close_pair(int fds[2])
{
	sbx_closep(&fds[0]);
	sbx_closep(&fds[1]);
}

/* clone3's arguments, as the kernel has them since 5.7. */
struct clone3_args {
	uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
	uint64_t set_tid, set_tid_size, cgroup;
};

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Create the child with fork semantics (it runs on a copy of our stack
 * and is pid 1 of its new pid namespace), born in the cgroup CG when
 * there is one; *IN_CGROUP says whether it was.  Kernels or filters
 * without clone3 get clone(2), and sbx moves the child itself. */
static pid_t clone_sandbox(const struct sandbox *sb, bool *in_cgroup)
{
	struct clone3_args args = {
		.flags = (uint64_t)namespace_flags(sb),
		.exit_signal = SIGCHLD,
	};
	pid_t pid;

	if (sb->cg.dirfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)sb->cg.dirfd;
	}
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid >= 0) {
		*in_cgroup = sb->cg.dirfd >= 0;
		return pid;
	}
	if (errno != ENOSYS && errno != E2BIG && errno != EINVAL)
		return -1;
	*in_cgroup = false;
	return (pid_t)syscall(SYS_clone, namespace_flags(sb) | SIGCHLD, NULL, NULL, NULL, 0);
}

/* The network namespace's maker (net.h), once: the child fails with the
 * maker's error, if any. */
static int start_netns_maker(struct sandbox *sb, int userns, struct sbx_error *err)
{
	if (sb->netns_sock[0] < 0)
		return 0;
	sb->netns_maker = sbx_netns_make_beside(userns, sb->netns_sock[0], err);
	sbx_closep(&sb->netns_sock[0]);
	return sb->netns_maker < 0 ? -1 : 0;
}

/* Create: everything decided, the backend's child made and given its id
 * maps.  The child sets up and parks before the command until start. */
static int sandbox_create(struct sandbox *sb, struct sbx_error *err)
{
	const struct sbx_run_options *opts = sb->opts;
	cleanup_close int userns = -1;
	int fds[2];

	if (prepare(sb, opts, err) < 0 || make_pipes(sb, err) < 0)
		return -1;
	if (sb->runtime == SBX_RUNTIME_RUNSC)
		sbx_runsc_prepare_stdio(sb);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) < 0)
		return sbx_fail(err, errno, "creating the sync socket");
	if (sb->runtime == SBX_RUNTIME_NATIVE && sb->spec.network_namespace &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sb->netns_sock) < 0) {
		close(fds[0]);
		close(fds[1]);
		return sbx_fail(err, errno, "creating the network namespace's socket");
	}
	sb->parent_fd = fds[0];
	sb->sync_fd = fds[1];
	/* Before the clone, so that no signal meant for the command is lost. */
	sb->sigfd = sbx_supervise_signals(err);
	if (sb->sigfd < 0)
		return -1;
	/* Before the command can touch them. */
	if (!sb->spec.terminal)
		sbx_caller_ttys_save(&sb->caller_ttys);
	sbx_verbose(opts->verbose, sb->runtime == SBX_RUNTIME_RUNSC
			? "creating user, mount, pid namespaces for runsc"
			: "creating user, mount, pid, ipc, uts, cgroup%s namespaces",
		    sb->spec.network_namespace ? ", net" : "");
	clock_gettime(CLOCK_MONOTONIC, &sb->started);
	sb->child = clone_sandbox(sb, &sb->in_cgroup);
	if (sb->child < 0) {
		sbx_fail(err, errno, "creating the sandbox's namespaces");
		if (errno == EPERM || errno == ENOSPC)
			sbx_error_hint(err, "unprivileged user namespaces may be disabled: check "
					    "kernel.unprivileged_userns_clone and user.max_user_namespaces");
		return -1;
	}
	if (sb->child == 0) {
		close(sb->parent_fd);
		close(sb->sigfd);
		sbx_closep(&sb->netns_sock[0]);
		child_main(sb);
	}
	sbx_closep(&sb->sync_fd);
	sbx_closep(&sb->netns_sock[1]);
	if (sb->netns_sock[0] >= 0)
		userns = sbx_netns_open_userns(sb->child, err);
	sbx_closep(&sb->out_pipe[1]);
	sbx_closep(&sb->err_pipe[1]);
	sbx_sources_close(&sb->src);
	/* Before MAPS_READY: the child waits for it, so nothing it runs
	 * escapes the cgroup. */
	if ((sb->netns_sock[0] >= 0 && userns < 0) ||
	    (sb->cg.dirfd >= 0 && !sb->in_cgroup && sbx_cgroup_join(&sb->cg, sb->child, err) < 0) ||
	    sbx_idplan_apply(&sb->ids, sb->child, err) < 0 ||
	    sbx_sync_send(sb->parent_fd, SBX_MSG_MAPS_READY, NULL) < 0) {
		if (err->msg[0] == '\0')
			sbx_fail(err, errno, "signalling the sandbox");
		sbx_error_wrap(err, "writing the sandbox's id maps");
		kill(sb->child, SIGKILL);
		reap(sb->child);
		sb->child = -1;
		return -1;
	}
	/* After MAPS_READY, so that it runs while the child sets up (not
	 * beside newuidmap and newgidmap: on two cores the three slowed each
	 * other down more than the overlap saved). */
	if (start_netns_maker(sb, userns, err) < 0) {
		kill(sb->child, SIGKILL);
		reap(sb->child);
		sb->child = -1;
		return -1;
	}
	return 0;
}

/* Start: the parked init runs the command (it reads this message once
 * its setup is done). */
static int sandbox_start(struct sandbox *sb, struct sbx_error *err)
{
	if (sbx_sync_send(sb->parent_fd, SBX_MSG_START, NULL) < 0) {
		sbx_fail(err, errno, "starting the sandbox's command");
		kill(sb->child, SIGKILL);
		reap(sb->child);
		return -1;
	}
	return 0;
}

/* Wait: supervise to the end, the same for both backends.  Every outcome
 * lands in RES; -1 means sbx itself could no longer supervise. */
static int sandbox_wait(struct sandbox *sb, struct sbx_result *res, struct sbx_error *err)
{
	struct sbx_supervise_config sup = {
		.opts = sb->opts,
		.init = sb->child,
		.sync_fd = sb->parent_fd,
		.sigfd = sb->sigfd,
		.stdout_pipe = sb->out_pipe[0],
		.stderr_pipe = sb->err_pipe[0],
		.started = &sb->started,
	};

	/* The relays own the read ends now, whatever happens. */
	sb->out_pipe[0] = sb->err_pipe[0] = -1;
	if (sbx_supervise(&sup, res, err) < 0)
		return -1;
	sbx_cgroup_read_stats(&sb->cg, &res->cgroup);
	if (!res->failed || res->error.status != SBX_EXIT_FAILURE)
		record_layers(sb, res);
	return 0;
}

static void record_runtime(const struct sandbox *sb, struct sbx_result *res)
{
	if (sb->runtime != SBX_RUNTIME_AUTO)
		res->runtime = sbx_runtime_name(sb->runtime);
	snprintf(res->runtime_reason, sizeof(res->runtime_reason), "%s", sb->runtime_reason);
}

int sbx_sandbox_run(const struct sbx_run_options *opts, struct sbx_result *res)
{
	struct sandbox sb = { .sync_fd = -1, .out_pipe = { -1, -1 }, .err_pipe = { -1, -1 },
			      .cg = SBX_CGROUP_INIT, .child = -1, .parent_fd = -1, .sigfd = -1,
			      .netns_sock = { -1, -1 }, .netns_maker = -1 };
	struct sbx_error err = { 0 };

	sbx_result_init(res);
	sb.opts = opts;
	sbx_sources_init(&sb.src);
	if (sandbox_create(&sb, &err) < 0 || sandbox_start(&sb, &err) < 0 || sandbox_wait(&sb, res, &err) < 0) {
		res->failed = true;
		res->error = err;
		res->exit_code = err.status ? err.status : SBX_EXIT_FAILURE;
	}
	/* Done long ago (it lives ~1 ms); killed first should it hang. */
	if (sb.netns_maker > 0) {
		kill(sb.netns_maker, SIGKILL);
		reap(sb.netns_maker);
	}
	record_runtime(&sb, res);
	sbx_runsc_end_stdio(&sb);
	/* The sandbox is gone (reaped) by now; what it left, the cgroup
	 * kills. */
	sbx_cgroup_destroy(&sb.cg);
	res->limits = sb.limits;
	sbx_caller_ttys_restore(&sb.caller_ttys);
	res->landlock_abi = sb.landlock_abi;
	if (sb.seccomp.enabled)
		res->seccomp_profile = opts->seccomp;
	sbx_closep(&sb.sync_fd);
	sbx_closep(&sb.parent_fd);
	sbx_closep(&sb.sigfd);
	sbx_seccomp_free(&sb.seccomp);
	close_pair(sb.out_pipe);
	close_pair(sb.err_pipe);
	close_pair(sb.netns_sock);
	sbx_sources_close(&sb.src);
	sbx_spec_free(&sb.spec);
	free(sb.runsc_config);
	return res->exit_code;
}
