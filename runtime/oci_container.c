/* An OCI container's life up to its command: create and start (see
 * oci_runtime.h for the model).
 *
 * create, in order:
 *   1. read the bundle: config.json, and refuse what sbx cannot honour;
 *   2. compile the process's seccomp filter (in sbx: libseccomp allocates);
 *   3. the state directory: the config's copy and the exec fifo;
 *   4. the child, cloned into the namespaces the spec asks for (those it
 *      joins by path are entered around the clone) and the cgroup;
 *   5. its id maps, then the child builds its file system (oci_mounts.h)
 *      and stops for the prestart and createRuntime hooks, which sbx runs;
 *   6. pivot_root, the console, the executable found: the child says
 *      ready; sbx writes state.json and the pid file, and lets it park on
 *      the fifo.  create exits; the child lives on under the engine.
 * Until step 6 is acknowledged the child dies with sbx (PDEATHSIG), so a
 * create killed half-way leaves no process behind; its state directory
 * is then "stopped" and `delete` removes it.
 *
 * start opens the fifo, which lets the child run its last steps
 * (oci_process.h) and execve. */
#include "oci_runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <linux/securebits.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/nsfs.h>
#include <linux/sched.h>

#include "backend.h"
#include "idmap.h"
#include "net.h"
#include "oci_cgroup.h"
#include "oci_mounts.h"
#include "oci_process.h"
#include "oci_runsc.h"
#include "sync.h"
#include "util.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

static const int ns_clone_flag[SBX_OCI_NS_COUNT] = {
	[SBX_OCI_NS_PID] = CLONE_NEWPID, [SBX_OCI_NS_NETWORK] = CLONE_NEWNET,
	[SBX_OCI_NS_MOUNT] = CLONE_NEWNS, [SBX_OCI_NS_IPC] = CLONE_NEWIPC,
	[SBX_OCI_NS_UTS] = CLONE_NEWUTS, [SBX_OCI_NS_USER] = CLONE_NEWUSER,
	[SBX_OCI_NS_CGROUP] = CLONE_NEWCGROUP, [SBX_OCI_NS_TIME] = 0,
};

struct container {
	const struct sbx_oci_globals *g;
	const struct sbx_oci_create_opts *o;
	struct sbx_oci_config cfg;
	char *config_text;
	int bundle_fd;
	int state_fd;
	int fifo_fd;     /* O_PATH, for the child */
	int console_fd;  /* connected console socket, or -1 */
	int sync[2];     /* [0] sbx's, [1] the child's */
	int join_fd[SBX_OCI_NS_COUNT]; /* namespaces joined by path */
	struct sbx_oci_prepared pp;
	struct sbx_oci_cgroup cg;
	struct sbx_oci_state st;
	pid_t child;
	bool state_made;
	int added_userns;  /* hardened: a user namespace the spec did not have (its fd), or -1 */
	uint32_t range_base; /* ... the caller's id its root is */
	int root_tree;     /* ... and the root idmapped through it, or -1 */
};

static void warn(const struct container *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const struct container *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (c->o->warn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	c->o->warn(c->o->warn_ctx, msg);
}

/* ---- 1. the bundle ---- */

static int read_bundle(struct container *c, struct sbx_error *err)
{
	const char *bundle = c->o->bundle ? c->o->bundle : ".";
	char link[64], abs[4096];
	cleanup_close int fd = -1;
	ssize_t n;

	c->bundle_fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->bundle_fd < 0)
		return sbx_fail(err, errno, "bundle %s", bundle);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", c->bundle_fd);
	n = readlink(link, abs, sizeof(abs) - 1);
	if (n < 0 || (size_t)n >= sizeof(c->st.bundle))
		return sbx_fail(err, n < 0 ? errno : ENAMETOOLONG, "bundle %s: its absolute path", bundle);
	abs[n] = '\0';
	memcpy(c->st.bundle, abs, (size_t)n + 1);
	fd = openat(c->bundle_fd, "config.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sbx_fail(err, errno, "%s/config.json", abs);
	if (sbx_read_fd(fd, "config.json", SBX_OCI_CONFIG_MAX, &c->config_text, err) < 0 ||
	    sbx_oci_config_parse(c->config_text, "config.json", &c->cfg, err) < 0)
		return -1;
	return 0;
}

static bool want_hardened(const struct sbx_oci_config *cfg, struct sbx_error *err, int *bad)
{
	const char *p = sbx_oci_annotation(cfg, "run.sbx.profile");

	*bad = 0;
	if (p == NULL || strcmp(p, "default") == 0)
		return false;
	if (strcmp(p, "hardened") == 0)
		return true;
	*bad = sbx_fail(err, 0, "annotation run.sbx.profile=%.64s: sbx knows \"hardened\" (and \"default\")", p);
	return false;
}

/* What the spec asks for that this create cannot give: refused before
 * anything exists. */
static int check_supported(const struct container *c, struct sbx_error *err)
{
	const struct sbx_oci_config *cfg = &c->cfg;
	const char *rt = sbx_oci_annotation(cfg, "run.sbx.runtime");

	if (rt != NULL && strcmp(rt, "native") != 0 && strcmp(rt, "runsc") != 0)
		return sbx_fail(err, 0, "annotation run.sbx.runtime=%.64s: sbx knows native and runsc", rt);
	if (!cfg->ns[SBX_OCI_NS_MOUNT].present || cfg->ns[SBX_OCI_NS_MOUNT].path != NULL)
		return sbx_fail(err, 0, "linux.namespaces: sbx needs a mount namespace of the container's own");
	if (cfg->ns[SBX_OCI_NS_TIME].present)
		return sbx_fail(err, 0, "linux.namespaces: time: not supported by sbx");
	if (cfg->ns[SBX_OCI_NS_USER].present && cfg->ns[SBX_OCI_NS_USER].path != NULL)
		return sbx_fail(err, 0, "linux.namespaces: joining a user namespace by path is not supported by sbx");
	if (cfg->ns[SBX_OCI_NS_USER].present && cfg->ns[SBX_OCI_NS_USER].path == NULL &&
	    (cfg->n_uid_mappings == 0 || cfg->n_gid_mappings == 0))
		return sbx_fail(err, 0, "linux.uidMappings, linux.gidMappings: a new user namespace needs both");
	if (!cfg->ns[SBX_OCI_NS_USER].present && (cfg->n_uid_mappings || cfg->n_gid_mappings))
		return sbx_fail(err, 0, "linux.uidMappings: given without a user namespace");
	/* Root in an engine's user namespace (rootless podman) is root
	 * enough; only a caller without privileges needs one of its own. */
	if (geteuid() != 0 && !cfg->ns[SBX_OCI_NS_USER].present)
		return sbx_fail(err, 0, "linux.namespaces: not root, sbx needs a user namespace in config.json to "
				"make a container (`sbx spec --rootless` writes one)");
	if (cfg->process.terminal && c->o->console_socket == NULL)
		return sbx_fail(err, 0, "process.terminal is true: --console-socket is required");
	return sbx_oci_mounts_check(cfg, err);
}

/* ---- 3. the state directory ---- */

static int write_new_file(int dirfd, const char *name, const char *text, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0 || sbx_write_all(fd, text, strlen(text)) < 0)
		return sbx_fail(err, errno, "writing %s in the state directory", name);
	return 0;
}

static int make_state(struct container *c, struct sbx_error *err)
{
	struct stat st;

	if (sbx_oci_state_open(c->g, c->o->id, true, &c->state_fd, err) < 0)
		return -1;
	c->state_made = true;
	if (sbx_oci_state_lock(c->state_fd, err) < 0 ||
	    write_new_file(c->state_fd, "config.json", c->config_text, err) < 0)
		return -1;
	snprintf(c->st.id, sizeof(c->st.id), "%s", c->o->id);
	sbx_oci_now(c->st.created, sizeof(c->st.created));
	c->st.owner = (uint32_t)geteuid();
	c->st.own_pid_ns = c->cfg.ns[SBX_OCI_NS_PID].present && c->cfg.ns[SBX_OCI_NS_PID].path == NULL;
	if (sbx_oci_state_write(c->state_fd, &c->st, err) < 0)
		return -1;
	/* 0622: the child opens it for writing as whatever host id its
	 * root maps to; the directory (0700) keeps everyone else out. */
	if (mkfifoat(c->state_fd, "exec.fifo", 0600) < 0 || fchmodat(c->state_fd, "exec.fifo", 0622, 0) < 0)
		return sbx_fail(err, errno, "making the exec fifo");
	c->fifo_fd = openat(c->state_fd, "exec.fifo", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (c->fifo_fd < 0 || fstat(c->fifo_fd, &st) < 0 || !S_ISFIFO(st.st_mode))
		return sbx_fail(err, errno, "opening the exec fifo");
	return 0;
}

static int connect_console(struct container *c, struct sbx_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = c->o->console_socket;

	if (path == NULL)
		return 0;
	if (strlen(path) >= sizeof(addr.sun_path))
		return sbx_fail(err, ENAMETOOLONG, "--console-socket %s", path);
	strcpy(addr.sun_path, path);
	c->console_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->console_fd < 0 || connect(c->console_fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return sbx_fail(err, errno, "connecting to --console-socket %s", path);
	return 0;
}

/* ---- 4. the child's namespaces ---- */

static int open_joined_namespaces(struct container *c, struct sbx_error *err)
{
	for (int t = 0; t < SBX_OCI_NS_COUNT; t++) {
		const char *path = c->cfg.ns[t].path;
		int nstype;

		if (!c->cfg.ns[t].present || path == NULL)
			continue;
		c->join_fd[t] = open(path, O_RDONLY | O_CLOEXEC);
		if (c->join_fd[t] < 0)
			return sbx_fail(err, errno, "linux.namespaces: %s path %s", sbx_oci_ns_name(t), path);
		/* A path that is not a namespace of that type would silently
		 * give the container the wrong one. */
		nstype = ioctl(c->join_fd[t], NS_GET_NSTYPE);
		if (nstype != ns_clone_flag[t])
			return sbx_fail(err, nstype < 0 ? errno : 0, "linux.namespaces: %s is not a %s namespace", path,
					sbx_oci_ns_name(t));
	}
	return 0;
}

static uint64_t new_namespace_flags(const struct sbx_oci_config *cfg)
{
	uint64_t flags = 0;

	for (int t = 0; t < SBX_OCI_NS_COUNT; t++)
		if (cfg->ns[t].present && cfg->ns[t].path == NULL)
			flags |= (uint64_t)ns_clone_flag[t];
	return flags;
}

/* Enter the namespaces the spec joins by path. */
static int join_namespaces(const struct container *c, struct sbx_error *err)
{
	for (int t = 0; t < SBX_OCI_NS_COUNT; t++)
		if (c->join_fd[t] >= 0 && setns(c->join_fd[t], ns_clone_flag[t]) < 0)
			return sbx_fail(err, errno, "linux.namespaces: entering %s %s", sbx_oci_ns_name(t),
					c->cfg.ns[t].path);
	return 0;
}

static pid_t clone_child(const struct container *c)
{
	struct clone_args args = {
		/* sbx's child, not the spawner's (see spawn_child); its exit
		 * signal is then the spawner's own, SIGCHLD (clone3 wants 0) */
		.flags = new_namespace_flags(&c->cfg) | CLONE_PARENT,
	};

	if (c->cg.dirfd >= 0) {
		args.flags |= CLONE_INTO_CGROUP;
		args.cgroup = (uint64_t)c->cg.dirfd;
	}
	return (pid_t)syscall(SYS_clone3, &args, sizeof(args));
}

/* The namespaces joined by path are entered by a short-lived spawner,
 * which clones the child as sbx's own (CLONE_PARENT) and exits: sbx never
 * leaves its namespaces (it could not always come back: rootless podman's
 * runtime has no rights over the host's network namespace), and the
 * hooks it runs stay in the runtime's namespaces, as the spec says.  A
 * user namespace made by the clone comes after the joined ones. */
static pid_t spawn_child(struct container *c, int (*child_main)(struct container *), struct sbx_error *err)
{
	int pipefd[2], status;
	struct {
		pid_t pid;
		struct sbx_error err;
	} report = { -1, { 0 } };
	pid_t spawner;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "pipe");
	spawner = fork();
	if (spawner == 0) {
		close(pipefd[0]);
		if (join_namespaces(c, &report.err) == 0) {
			report.pid = clone_child(c);
			if (report.pid == 0) {
				close(pipefd[1]);
				_exit(child_main(c));
			}
			if (report.pid < 0)
				sbx_fail(&report.err, errno, "creating the container's process");
		}
		(void)!write(pipefd[1], &report, sizeof(report));
		_exit(0);
	}
	close(pipefd[1]);
	if (spawner < 0) {
		close(pipefd[0]);
		return sbx_fail(err, errno, "fork");
	}
	if (read(pipefd[0], &report, sizeof(report)) != (ssize_t)sizeof(report))
		sbx_fail(&report.err, 0, "the container's spawner died");
	close(pipefd[0]);
	while (waitpid(spawner, &status, 0) < 0 && errno == EINTR)
		;
	if (report.pid < 0)
		*err = report.err;
	return report.pid;
}

/* ---- 5. the id maps ---- */

static int fill_map(const struct sbx_oci_idmap *m, size_t n, struct sbx_idmap *out, const char *what,
		    struct sbx_error *err)
{
	if (n > SBX_IDMAP_MAX)
		return sbx_fail(err, E2BIG, "%s: at most %d entries", what, SBX_IDMAP_MAX);
	out->n = n;
	for (size_t i = 0; i < n; i++)
		out->e[i] = (struct sbx_idmap_entry){ .inside = m[i].container_id, .outside = m[i].host_id,
						      .count = m[i].size };
	return 0;
}

/* Root (in the initial namespace or in the engine's) writes the maps
 * itself; a rootless caller maps only itself directly and needs
 * newuidmap/newgidmap, which check /etc/subuid, for more. */
static int write_id_maps(const struct container *c, struct sbx_error *err)
{
	struct sbx_idplan plan = { .writer = SBX_IDMAP_DIRECT };

	if (fill_map(c->cfg.uid_mappings, c->cfg.n_uid_mappings, &plan.uid, "linux.uidMappings", err) < 0 ||
	    fill_map(c->cfg.gid_mappings, c->cfg.n_gid_mappings, &plan.gid, "linux.gidMappings", err) < 0)
		return -1;
	if (geteuid() != 0) {
		bool single = plan.uid.n == 1 && plan.gid.n == 1 && plan.uid.e[0].count == 1 &&
			      plan.gid.e[0].count == 1 && plan.uid.e[0].outside == geteuid() &&
			      plan.gid.e[0].outside == getegid();

		plan.writer = single ? SBX_IDMAP_SINGLE : SBX_IDMAP_HELPERS;
	}
	if (sbx_idplan_apply(&plan, c->child, err) < 0)
		return sbx_error_wrap(err, "writing the container's id maps");
	return 0;
}

/* ---- hardened's user namespace ---- */

/* run.sbx.profile=hardened asks for a user namespace where the spec has
 * none, whose root is never the caller's own uid:
 *  - as host root: sbx's dedicated range (idmap.h);
 *  - as root of an engine's user namespace (rootless podman, where the
 *    container's root would be the user): the largest range of that
 *    namespace that leaves out its root, i.e. the user's subordinate ids.
 * The namespace is made here, with its maps, and the child enters it last,
 * before the process's own steps: the setup keeps the caller's rights (it
 * reaches the bundle's paths, often root's and 0700), and the container's
 * other namespaces stay owned by the caller's, so that root inside holds
 * nothing over them.  The root is idmapped through it where the caller may
 * (host root), so that root inside owns what the image's root owns;
 * elsewhere the root's files belong to nobody inside (stricter, and
 * said). */
static int hardened_range(struct sbx_idmap *map, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	uint32_t best_in = 0, best_count = 0;

	*map = (struct sbx_idmap){ .n = 1 };
	if (sbx_is_host_root()) {
		map->e[0] = (struct sbx_idmap_entry){ 0, SBX_ROOT_RANGE_BASE, SBX_ROOT_RANGE_COUNT };
		return 0;
	}
	if (sbx_read_file("/proc/self/uid_map", 4096, &text, err) < 0)
		return -1;
	for (char *line = text, *next; line && *line; line = next) {
		unsigned int in, out, count;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (sscanf(line, "%u %u %u", &in, &out, &count) != 3)
			continue;
		if (in == 0 && count > 0) { /* leave root out */
			in = 1;
			count--;
		}
		if (count > best_count) {
			best_in = in;
			best_count = count;
		}
	}
	if (best_count == 0)
		return sbx_fail(err, 0, "run.sbx.profile=hardened: this user namespace maps no id but root; give "
				"the engine subordinate ids (/etc/subuid, /etc/subgid)");
	map->e[0] = (struct sbx_idmap_entry){ 0, best_in, best_count < SBX_ROOT_RANGE_COUNT ? best_count
											 : SBX_ROOT_RANGE_COUNT };
	return 0;
}

static int add_user_namespace(struct container *c, struct sbx_error *err)
{
	struct sbx_idmap map;
	struct sbx_error why = { 0 };

	if (c->cfg.ns[SBX_OCI_NS_USER].present || geteuid() != 0)
		return 0;
	if (hardened_range(&map, err) < 0)
		return -1;
	c->added_userns = sbx_userns_with_maps(&map, &map, err);
	if (c->added_userns < 0)
		return sbx_error_wrap(err, "run.sbx.profile=hardened: the user namespace");
	c->range_base = map.e[0].outside;
	if (!sbx_is_host_root())
		return 0;
	c->root_tree = sbx_oci_idmapped_root(&c->cfg, c->bundle_fd, c->added_userns, &why);
	if (c->root_tree < 0)
		warn(c, "run.sbx.profile=hardened: %s; the root's files belong to nobody in the container's user "
			"namespace", why.msg);
	return 0;
}

/* Under an idmapped root, what the setup creates (mount targets, /dev's
 * nodes and links) must have an owner the idmap can map: the range's root,
 * which is root inside.  The capabilities stay (no setuid fix-up): the
 * setup still reaches the host's paths as before. */
static int own_as_range_root(const struct container *c, struct sbx_error *err)
{
	if (c->root_tree < 0)
		return 0;
	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "run.sbx.profile=hardened: securebits");
	setfsgid(c->range_base);
	setfsuid(c->range_base);
	if ((uid_t)setfsuid((uid_t)-1) != c->range_base)
		return sbx_fail(err, EPERM, "run.sbx.profile=hardened: taking the range's root as file owner");
	return 0;
}

/* The last step of the setup under hardened (see add_user_namespace). */
static int enter_added_user_namespace(struct container *c, struct sbx_error *err)
{
	if (c->added_userns < 0)
		return 0;
	if (setns(c->added_userns, CLONE_NEWUSER) < 0)
		return sbx_fail(err, errno, "run.sbx.profile=hardened: entering the user namespace");
	sbx_closep(&c->added_userns);
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0 || prctl(PR_SET_SECUREBITS, 0, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "run.sbx.profile=hardened: becoming root in the user namespace");
	return 0;
}

/* ---- the child ---- */

/* After start nobody waits for the child's messages: its errors go to its
 * stderr, which the engine logs (runc does the same). */
static int late_failure(const struct sbx_error *err)
{
	char msg[SBX_ERROR_MSG_MAX * 4];
	size_t n = sbx_escape_controls(err->msg, msg, sizeof(msg) - 1);

	msg[n++] = '\n';
	(void)!write(STDERR_FILENO, "sbx: ", 5);
	(void)!write(STDERR_FILENO, msg, n);
	return err->status ? err->status : SBX_EXIT_FAILURE;
}

static int wait_go(int fd, pid_t *host_pid, struct sbx_error *err)
{
	struct sbx_msg msg;

	if (sbx_sync_recv(fd, &msg, NULL, err) <= 0 || msg.type != SBX_MSG_OCI_GO)
		return sbx_fail(err, 0, "sbx went away during the container's setup");
	if (host_pid != NULL)
		*host_pid = msg.wstatus;
	return 0;
}

static int become_root_inside(const struct container *c, struct sbx_error *err)
{
	struct sbx_msg msg;

	if (!c->cfg.ns[SBX_OCI_NS_USER].present)
		return 0;
	if (sbx_sync_recv(c->sync[1], &msg, NULL, err) <= 0 || msg.type != SBX_MSG_MAPS_READY)
		return sbx_fail(err, 0, "sbx went away before the id maps");
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
		return sbx_fail(err, errno, "becoming root in the container's user namespace (is 0 mapped?)");
	return 0;
}

static int set_names(const struct sbx_oci_config *cfg, struct sbx_error *err)
{
	if (!cfg->ns[SBX_OCI_NS_UTS].present)
		return (cfg->hostname && cfg->hostname[0]) ? sbx_fail(err, 0, "hostname without a uts namespace") : 0;
	if (cfg->hostname && sethostname(cfg->hostname, strlen(cfg->hostname)) < 0)
		return sbx_fail(err, errno, "hostname %s", cfg->hostname);
	if (cfg->domainname && setdomainname(cfg->domainname, strlen(cfg->domainname)) < 0)
		return sbx_fail(err, errno, "domainname %s", cfg->domainname);
	return 0;
}

/* The fds the process keeps: 0-2 and --preserve-fds (the rest close at
 * execve: sbx_oci_process_exec). */
static int keep_preserved_fds(int preserve, struct sbx_error *err)
{
	for (int fd = 3; fd < 3 + preserve; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			return sbx_fail(err, errno, "--preserve-fds: fd %d", fd);
	return 0;
}

/* Parked until start opens the fifo for reading.  The host's /proc,
 * opened before pivot_root, reaches the fifo whatever the container
 * mounts (or not) at /proc. */
static int wait_for_start(int host_proc, int fifo_fd, struct sbx_error *err)
{
	char path[64];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "self/fd/%d", fifo_fd);
	fd = openat(host_proc, path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return sbx_fail(err, errno, "opening the exec fifo");
	if (write(fd, "0", 1) != 1)
		return sbx_fail(err, errno, "writing the exec fifo");
	return 0;
}

/* The bundle as the child's mount namespace has it: an fd opened in sbx's
 * walks sbx's mounts, and the kernel clones no mount of another
 * namespace (a root.path that is a mount, as containerd's is, would be
 * refused).  Reopened by its path, checked to be the same directory. */
static int reopen_bundle(struct container *c, struct sbx_error *err)
{
	struct stat was, now;
	int fd = open(c->st.bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return sbx_fail(err, errno, "bundle %s", c->st.bundle);
	if (fstat(fd, &now) < 0 || fstat(c->bundle_fd, &was) < 0 || now.st_dev != was.st_dev ||
	    now.st_ino != was.st_ino) {
		close(fd);
		return sbx_fail(err, EXDEV, "bundle %s changed during create", c->st.bundle);
	}
	close(c->bundle_fd);
	c->bundle_fd = fd;
	return 0;
}

static int child_setup(struct container *c, int *host_proc, struct sbx_error *err)
{
	cleanup_close int rootfd = -1;
	pid_t host_pid = 0;

	/* Die with sbx until it has recorded us (again after the id change,
	 * which clears the parent-death signal). */
	if (sbx_die_with_parent(c->sync[1], err) < 0 || become_root_inside(c, err) < 0 ||
	    sbx_die_with_parent(c->sync[1], err) < 0)
		return -1;
	/* A network namespace of its own starts with lo up, as runc's does
	 * (podman's --network none and pods count on localhost). */
	if (set_names(&c->cfg, err) < 0)
		return -1;
	if (c->cfg.ns[SBX_OCI_NS_NETWORK].present && c->cfg.ns[SBX_OCI_NS_NETWORK].path == NULL &&
	    sbx_loopback_up(err) < 0)
		return sbx_error_wrap(err, "bringing lo up in the container's network namespace");
	*host_proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*host_proc < 0)
		return sbx_fail(err, errno, "opening /proc");
	if (reopen_bundle(c, err) < 0 || own_as_range_root(c, err) < 0)
		return -1;
	if (sbx_oci_mount_root(&c->cfg, c->bundle_fd, sbx_steal_fd(&c->root_tree), &rootfd, err) < 0 ||
	    sbx_oci_mount_all(&c->cfg, c->bundle_fd, rootfd, err) < 0)
		return -1;
	if (sbx_sync_send(c->sync[1], SBX_MSG_OCI_HOOKS, NULL) < 0 || wait_go(c->sync[1], &host_pid, err) < 0)
		return -1;
	c->st.pid = host_pid;
	if (sbx_oci_run_hooks(&c->cfg, SBX_OCI_HOOK_CREATE_CONTAINER, &c->st, SBX_OCI_CREATING, err) < 0)
		return -1;
	sbx_closep(&c->bundle_fd);
	if (sbx_oci_pivot_root(&c->cfg, rootfd, err) < 0)
		return -1;
	if (c->cfg.process.terminal && sbx_oci_process_console(&c->cfg.process, c->console_fd, err) < 0)
		return -1;
	sbx_closep(&c->console_fd);
	if (sbx_oci_process_find(&c->cfg.process, &c->pp, err) < 0)
		return -1;
	return keep_preserved_fds(c->o->preserve_fds, err);
}

static int child_main(struct container *c)
{
	struct sbx_error err = { 0 };
	cleanup_close int host_proc = -1;

	/* sbx's fds, not the container's: the state directory's fd carries
	 * create's flock, which start and delete must be able to take. */
	close(c->sync[0]);
	sbx_closep(&c->state_fd);
	sbx_oci_cgroup_release(&c->cg);
	if (child_setup(c, &host_proc, &err) < 0) {
		sbx_sync_send(c->sync[1], SBX_MSG_ERROR, &err);
		return err.status ? err.status : SBX_EXIT_FAILURE;
	}
	if (sbx_sync_send(c->sync[1], SBX_MSG_OCI_READY, NULL) < 0 || wait_go(c->sync[1], NULL, &err) < 0)
		return SBX_EXIT_FAILURE;
	/* Recorded: from now on the container outlives sbx create, which
	 * waits for this word (exiting before the signal is cleared would
	 * kill us). */
	if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0 || sbx_sync_send(c->sync[1], SBX_MSG_OCI_DETACHED, NULL) < 0)
		return SBX_EXIT_FAILURE;
	close(c->sync[1]);
	if (wait_for_start(host_proc, c->fifo_fd, &err) < 0)
		return late_failure(&err);
	sbx_closep(&host_proc);
	close(c->fifo_fd);
	if (sbx_oci_run_hooks(&c->cfg, SBX_OCI_HOOK_START_CONTAINER, &c->st, SBX_OCI_RUNNING, &err) < 0 ||
	    enter_added_user_namespace(c, &err) < 0)
		return late_failure(&err);
	sbx_oci_process_exec(&c->cfg.process, &c->pp, &err);
	return late_failure(&err);
}

/* ---- sbx's side of the setup ---- */

static int read_start_time(pid_t pid, unsigned long long *out, struct sbx_error *err)
{
	char state;

	if (sbx_oci_proc_stat(pid, &state, out) < 0)
		return sbx_fail(err, errno ? errno : ESRCH, "reading /proc/%d/stat", (int)pid);
	return 0;
}

static int write_pid_file(const char *path, pid_t pid, struct sbx_error *err)
{
	char tmp[4096 + 16], text[24];
	cleanup_close int fd = -1;

	if (path == NULL)
		return 0;
	if (snprintf(tmp, sizeof(tmp), "%s.sbx-tmp", path) >= (int)sizeof(tmp))
		return sbx_fail(err, ENAMETOOLONG, "--pid-file %s", path);
	snprintf(text, sizeof(text), "%d", pid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0 || sbx_write_all(fd, text, strlen(text)) < 0)
		return sbx_fail(err, errno, "--pid-file %s", path);
	if (rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return sbx_fail(err, e, "--pid-file %s", path);
	}
	return 0;
}

static int on_hooks(struct container *c, struct sbx_error *err)
{
	c->st.pid = c->child;
	if (read_start_time(c->child, &c->st.pid_start, err) < 0 ||
	    sbx_oci_state_write(c->state_fd, &c->st, err) < 0)
		return -1;
	if (sbx_oci_run_hooks(&c->cfg, SBX_OCI_HOOK_PRESTART, &c->st, SBX_OCI_CREATING, err) < 0 ||
	    sbx_oci_run_hooks(&c->cfg, SBX_OCI_HOOK_CREATE_RUNTIME, &c->st, SBX_OCI_CREATING, err) < 0)
		return -1;
	return sbx_sync_send_value(c->sync[0], SBX_MSG_OCI_GO, c->child);
}

static int on_ready(struct container *c, struct sbx_error *err)
{
	struct sbx_msg msg;

	if (sbx_oci_state_write(c->state_fd, &c->st, err) < 0 || write_pid_file(c->o->pid_file, c->child, err) < 0 ||
	    sbx_sync_send_value(c->sync[0], SBX_MSG_OCI_GO, c->child) < 0)
		return -1;
	if (sbx_sync_recv(c->sync[0], &msg, NULL, err) <= 0 || msg.type != SBX_MSG_OCI_DETACHED)
		return sbx_fail(err, 0, "the container's process died before it was ready");
	return 0;
}

static int set_oom_score(const struct container *c, struct sbx_error *err)
{
	char path[64], value[16];

	if (!c->cfg.process.has_oom_score_adj)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", c->child);
	snprintf(value, sizeof(value), "%d", c->cfg.process.oom_score_adj);
	return sbx_write_file_at(AT_FDCWD, path, value, err) < 0 ? sbx_error_wrap(err, "process.oomScoreAdj") : 0;
}

/* Drive the child's setup to its ready message. */
static int supervise_setup(struct container *c, struct sbx_error *err)
{
	struct sbx_msg msg;
	int r;

	if (set_oom_score(c, err) < 0)
		return -1;
	if (c->cfg.ns[SBX_OCI_NS_USER].present) {
		if (write_id_maps(c, err) < 0 || sbx_sync_send(c->sync[0], SBX_MSG_MAPS_READY, NULL) < 0)
			return -1;
	}
	for (;;) {
		r = sbx_sync_recv(c->sync[0], &msg, NULL, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return sbx_fail(err, 0, "the container's process died during its setup");
		if (msg.type == SBX_MSG_ERROR) {
			*err = msg.error;
			return -1;
		}
		if (msg.type == SBX_MSG_OCI_HOOKS && on_hooks(c, err) < 0)
			return -1;
		if (msg.type == SBX_MSG_OCI_READY)
			return on_ready(c, err);
	}
}

static void container_init(struct container *c, const struct sbx_oci_globals *g,
			   const struct sbx_oci_create_opts *o)
{
	memset(c, 0, sizeof(*c));
	c->g = g;
	c->o = o;
	c->bundle_fd = c->state_fd = c->fifo_fd = c->console_fd = -1;
	c->sync[0] = c->sync[1] = -1;
	for (int t = 0; t < SBX_OCI_NS_COUNT; t++)
		c->join_fd[t] = -1;
	c->cg = (struct sbx_oci_cgroup)SBX_OCI_CGROUP_INIT;
	c->root_tree = c->added_userns = -1;
}

static void container_release(struct container *c, bool failed)
{
	struct sbx_error ignored = { 0 };

	if (failed && c->child > 0) {
		kill(c->child, SIGKILL);
		while (waitpid(c->child, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (failed)
		sbx_oci_cgroup_destroy(&c->cg);
	sbx_oci_cgroup_release(&c->cg);
	if (failed && c->state_made)
		sbx_oci_state_remove(c->g, c->o->id, &ignored);
	for (int t = 0; t < SBX_OCI_NS_COUNT; t++)
		sbx_closep(&c->join_fd[t]);
	sbx_closep(&c->bundle_fd);
	sbx_closep(&c->state_fd);
	sbx_closep(&c->fifo_fd);
	sbx_closep(&c->console_fd);
	sbx_closep(&c->sync[0]);
	sbx_closep(&c->sync[1]);
	sbx_closep(&c->root_tree);
	sbx_closep(&c->added_userns);
	sbx_oci_prepared_free(&c->pp);
	sbx_oci_config_free(&c->cfg);
	free(c->config_text);
}

/* run.sbx.runtime=runsc: runsc's own create, with sbx's marker. */
static int hand_to_runsc(struct container *c, struct sbx_error *err)
{
	int status;

	if (sbx_oci_runsc_hand_off(c->g, &c->cfg, c->o->id, c->st.bundle, true, &status, err) < 0)
		return -1;
	if (status != 0)
		return sbx_fail_status(err, status, 0, "runsc create failed (exit status %d; its log says why)", status);
	return 0;
}

static int create(struct container *c, struct sbx_error *err)
{
	cleanup_free char *seccomp = NULL;
	int bad;
	bool hardened;

	if (sbx_oci_valid_id(c->o->id, err) < 0 || read_bundle(c, err) < 0 || check_supported(c, err) < 0)
		return -1;
	if (sbx_oci_wants_runsc(&c->cfg))
		return hand_to_runsc(c, err);
	hardened = want_hardened(&c->cfg, err, &bad);
	if (bad < 0 || (hardened && add_user_namespace(c, err) < 0) || sbx_oci_seccomp_text(&c->cfg, &seccomp, err) < 0 ||
	    sbx_oci_process_prepare(&c->cfg.process, seccomp, hardened, &c->pp, err) < 0)
		return -1;
	c->pp.preserve_fds = c->o->preserve_fds;
	if (open_joined_namespaces(c, err) < 0 || make_state(c, err) < 0 || connect_console(c, err) < 0)
		return -1;
	if (sbx_oci_cgroup_create(&c->cfg, c->g, c->o->id, &c->cg, err) < 0)
		return -1;
	for (size_t i = 0; i < c->cg.n_unenforced; i++)
		warn(c, "%s", c->cg.unenforced[i]);
	if (c->g->systemd_cgroup && c->cg.dirfd >= 0)
		warn(c, "--systemd-cgroup: sbx made the cgroup %s itself, by systemd's path rules; systemd was not "
			"asked (no transient unit)", c->cg.path);
	snprintf(c->st.cgroup, sizeof(c->st.cgroup), "%s", c->cg.path);
	c->st.cgroup_owned = c->cg.dirfd >= 0;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, c->sync) < 0)
		return sbx_fail(err, errno, "creating the sync socket");
	c->child = spawn_child(c, child_main, err);
	if (c->child < 0)
		return -1;
	sbx_closep(&c->sync[1]);
	if (c->cg.dirfd >= 0 && sbx_oci_cgroup_join(&c->cg, c->child, err) < 0)
		return -1;
	return supervise_setup(c, err);
}

int sbx_oci_create(const struct sbx_oci_globals *g, const struct sbx_oci_create_opts *o, struct sbx_error *err)
{
	struct container c;
	int r;

	/* The container's process runs sbx's binary until its execve: from a
	 * sealed copy, so that nothing in the container can reach the host's
	 * (oci_process.h; runc's CVE-2019-5736). */
	if (sbx_oci_reexec_sealed(err) < 0)
		return sbx_error_wrap(err, "create %s", o->id);
	container_init(&c, g, o);
	r = create(&c, err);
	if (r < 0)
		sbx_error_wrap(err, "create %s", o->id);
	container_release(&c, r < 0);
	return r;
}

/* ---- start ---- */

static int open_fifo(int state_fd, struct sbx_error *err)
{
	struct stat st;
	int fd = openat(state_fd, "exec.fifo", O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return sbx_fail(err, errno, "opening the exec fifo");
	if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
		close(fd);
		return sbx_fail(err, EINVAL, "exec.fifo is not a fifo");
	}
	return fd;
}

/* The child writes one byte once it has the fifo open; its death ends the
 * wait too (its pidfd turns readable). */
static int release_child(int fifo, int pidfd, struct sbx_error *err)
{
	struct pollfd p[2] = { { .fd = fifo, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
	char byte;

	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return sbx_fail(err, errno, "waiting for the container's process");
		}
		if (p[0].revents & POLLIN) {
			if (read(fifo, &byte, 1) == 1)
				return 0;
		}
		if (p[1].revents & POLLIN)
			return sbx_fail(err, 0, "the container's process exited before it started");
	}
}

int sbx_oci_start(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err)
{
	cleanup_close int state_fd = -1;
	cleanup_close int fifo = -1;
	cleanup_close int pidfd = -1;
	struct sbx_oci_state st;
	struct sbx_oci_config cfg = { 0 };
	enum sbx_oci_status status;
	unsigned long long start;
	int r;

	if (sbx_oci_valid_id(id, err) < 0 || sbx_oci_state_open(g, id, false, &state_fd, err) < 0 ||
	    sbx_oci_state_lock(state_fd, err) < 0 || sbx_oci_state_read(state_fd, &st, err) < 0)
		return -1;
	status = sbx_oci_status(state_fd, &st);
	if (status != SBX_OCI_CREATED)
		return sbx_fail(err, 0, "cannot start a container that is %s", sbx_oci_status_name(status));
	pidfd = (int)syscall(SYS_pidfd_open, st.pid, 0);
	/* The pidfd is of the container's process only if its start time
	 * is still the one recorded (pid reuse). */
	if (pidfd < 0 || read_start_time(st.pid, &start, err) < 0 || start != st.pid_start)
		return sbx_fail(err, ESRCH, "the container's process is gone");
	fifo = open_fifo(state_fd, err);
	if (fifo < 0 || release_child(fifo, pidfd, err) < 0)
		return -1;
	if (unlinkat(state_fd, "exec.fifo", 0) < 0)
		return sbx_fail(err, errno, "removing the exec fifo");
	if (sbx_oci_state_config(state_fd, &cfg, err) < 0)
		return -1;
	r = sbx_oci_run_hooks(&cfg, SBX_OCI_HOOK_POSTSTART, &st, SBX_OCI_RUNNING, err);
	sbx_oci_config_free(&cfg);
	/* A poststart hook's failure is a warning (runtime-spec): the
	 * container runs. */
	return r < 0 ? 1 : 0;
}
