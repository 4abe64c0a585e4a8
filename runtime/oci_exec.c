/* `sbx exec` (sbx_oci_exec, declared in oci_runtime.h): a new process in
 * a created or running container (podman exec, kubectl exec through the
 * shims).
 *
 * sbx opens the container's namespaces (/proc/PID/ns/..., the pid checked
 * against its recorded start time), forks a child that joins them (those
 * its own rights allow, then the container's user namespace when it has
 * one of its own, then the rest) and forks again into the container's pid namespace; that
 * grandchild applies the process (oci_process.c: the container's seccomp
 * from its saved config.json, its capabilities unless the process says
 * otherwise) and execs.  Without --detach sbx waits for it (it is
 * re-parented to sbx, a subreaper) and returns its status, 128+N for a
 * signal N; with --detach it writes the pid file and returns at once, and
 * the process is re-parented to the caller's subreaper (conmon, the shim).
 * Every host fd but stdio, the preserved ones and the console socket is
 * closed or close-on-exec, and the children are not dumpable until the
 * execve: a process of the container can neither ptrace them nor open
 * their /proc files. */
#include "oci_runtime.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "oci_process.h"
#include "sync.h"
#include "util.h"

#define PROCESS_FILE_MAX (1u << 20)

/* The namespaces an exec joins (see join_namespaces for the order): the
 * user namespace first in the table, the mount namespace last (it changes
 * the root; nothing after it resolves a host path). */
static const struct {
	const char *name;
	int type;
} join_order[] = {
	{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },   { "pid", CLONE_NEWPID },       { "cgroup", CLONE_NEWCGROUP },
	{ "time", CLONE_NEWTIME }, { "mnt", CLONE_NEWNS },
};
#define N_NS (sizeof(join_order) / sizeof(join_order[0]))

/* What the exec owns: freed whatever happens. */
struct exec_ctx {
	struct sbx_oci_config cfg;
	bool have_cfg;
	struct sbx_oci_process proc;   /* the process to run (borrows from cfg or file_proc) */
	struct sbx_oci_process file_proc;
	sbx_json *file_doc;
	bool have_file_proc;
	char **args, **env;            /* our arrays (elements borrowed) */
	uint32_t *gids;
	struct sbx_oci_prepared pp;
	bool have_pp;
	int nsfd[N_NS];                /* -1: not joined (the container shares ours) */
	int cgroup_procs;              /* the container's cgroup.procs, or -1 */
};

static void ctx_free(struct exec_ctx *c)
{
	for (size_t i = 0; i < N_NS; i++)
		if (c->nsfd[i] >= 0)
			close(c->nsfd[i]);
	if (c->cgroup_procs >= 0)
		close(c->cgroup_procs);
	if (c->have_pp)
		sbx_oci_prepared_free(&c->pp);
	free(c->args);
	free(c->env);
	free(c->gids);
	if (c->have_file_proc)
		sbx_oci_process_free(&c->file_proc);
	sbx_json_free(c->file_doc);
	if (c->have_cfg)
		sbx_oci_config_free(&c->cfg);
}

/* ---- the process ---------------------------------------------------------------- */

static size_t strv_len(char *const *v)
{
	size_t n = 0;

	while (v != NULL && v[n] != NULL)
		n++;
	return n;
}

/* The container's environment with each --env KEY=VALUE in place of the
 * variable of that name, or added. */
static int merge_env(char **base, const char **extra, size_t m, char ***out, struct sbx_error *err)
{
	size_t n = strv_len(base);
	char **env = calloc(n + m + 1, sizeof(*env));

	if (env == NULL)
		return sbx_fail(err, ENOMEM, "--env");
	memcpy(env, base, n * sizeof(*env));
	for (size_t i = 0; i < m; i++) {
		const char *eq = strchr(extra[i], '=');
		size_t k, klen;

		if (eq == NULL || !sbx_valid_env_name(extra[i], (size_t)(eq - extra[i]))) {
			free(env);
			return sbx_fail(err, 0, "--env %s: expected KEY=VALUE", extra[i]);
		}
		klen = (size_t)(eq - extra[i]) + 1;
		for (k = 0; k < n && strncmp(env[k], extra[i], klen) != 0; k++)
			;
		env[k] = (char *)extra[i];
		if (k == n)
			n++;
	}
	*out = env;
	return 0;
}

static int parse_user(const char *s, uint32_t *uid, uint32_t *gid, struct sbx_error *err)
{
	char buf[32];
	char *colon;

	if (snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return sbx_fail(err, 0, "--user %s: expected UID[:GID]", s);
	colon = strchr(buf, ':');
	if (colon != NULL)
		*colon = '\0';
	/* runc's rule: a uid alone runs with gid 0. */
	*gid = 0;
	if (sbx_parse_id(buf, uid) < 0 || (colon != NULL && sbx_parse_id(colon + 1, gid) < 0))
		return sbx_fail(err, 0, "--user %s: expected UID[:GID], numbers", s);
	return 0;
}

static int parse_caps(const char **names, size_t n, uint64_t *out, struct sbx_error *err)
{
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		char lower[64];
		cap_value_t cap;
		size_t j;

		for (j = 0; names[i][j] != '\0' && j < sizeof(lower) - 1; j++)
			lower[j] = (char)tolower((unsigned char)names[i][j]);
		lower[j] = '\0';
		if (strncmp(lower, "cap_", 4) != 0 || cap_from_name(lower, &cap) < 0 || cap >= 64)
			return sbx_fail(err, 0, "--cap %s: not a capability (CAP_NET_ADMIN, ...)", names[i]);
		*out |= 1ULL << cap;
	}
	return 0;
}

/* The container's additional gids and --additional-gids after them. */
static int parse_gids(const struct sbx_oci_exec_opts *o, struct exec_ctx *c, struct sbx_error *err)
{
	size_t n = c->cfg.process.n_additional_gids;

	if (o->n_additional_gids == 0)
		return 0;
	c->gids = calloc(n + o->n_additional_gids, sizeof(*c->gids));
	if (c->gids == NULL)
		return sbx_fail(err, ENOMEM, "--additional-gids");
	memcpy(c->gids, c->cfg.process.additional_gids, n * sizeof(*c->gids));
	for (size_t i = 0; i < o->n_additional_gids; i++)
		if (sbx_parse_id(o->additional_gids[i], &c->gids[n + i]) < 0)
			return sbx_fail(err, 0, "--additional-gids %s: not a gid", o->additional_gids[i]);
	c->proc.additional_gids = c->gids;
	c->proc.n_additional_gids = n + o->n_additional_gids;
	return 0;
}

static bool options_besides_process(const struct sbx_oci_exec_opts *o)
{
	return strv_len(o->args) > 0 || o->cwd != NULL || o->n_env > 0 || o->user != NULL || o->n_caps > 0 ||
	       o->n_additional_gids > 0 || o->no_new_privs || o->apparmor != NULL || o->process_label != NULL;
}

/* --process FILE: the process as the file gives it; capabilities it does
 * not give are the container's (runc's rule). */
static int process_from_file(const struct sbx_oci_exec_opts *o, struct exec_ctx *c, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	const struct sbx_oci_process *cp = &c->cfg.process;

	/* runc ignores them beside --process; sbx says so rather than run
	 * something other than asked. */
	if (options_besides_process(o))
		return sbx_fail(err, 0, "--process: the process file says it all; remove the command and "
					"--cwd/--env/--user/--additional-gids/--cap/--no-new-privs/--apparmor/--process-label");
	if (sbx_read_file(o->process, PROCESS_FILE_MAX, &text, err) < 0)
		return sbx_error_wrap(err, "--process");
	if (sbx_oci_process_parse(text, o->process, &c->file_proc, &c->file_doc, err) < 0)
		return -1;
	c->have_file_proc = true;
	c->proc = c->file_proc;
	if (!c->proc.has_caps) {
		c->proc.has_caps = cp->has_caps;
		c->proc.cap_bounding = cp->cap_bounding;
		c->proc.cap_effective = cp->cap_effective;
		c->proc.cap_inheritable = cp->cap_inheritable;
		c->proc.cap_permitted = cp->cap_permitted;
		c->proc.cap_ambient = cp->cap_ambient;
	}
	c->proc.terminal = c->proc.terminal || o->tty;
	return 0;
}

/* ARGS and the options over the container's process. */
static int process_from_options(const struct sbx_oci_exec_opts *o, struct exec_ctx *c, struct sbx_error *err)
{
	size_t n = strv_len(o->args);
	uint64_t add = 0;

	if (n == 0)
		return sbx_fail(err, 0, "exec: a command (or --process FILE) is required");
	c->proc = c->cfg.process;
	c->args = calloc(n + 1, sizeof(*c->args));
	if (c->args == NULL)
		return sbx_fail(err, ENOMEM, "exec");
	memcpy(c->args, o->args, n * sizeof(*c->args));
	c->proc.args = c->args;
	if (merge_env(c->cfg.process.env, o->env, o->n_env, &c->env, err) < 0)
		return -1;
	c->proc.env = c->env;
	if (o->cwd != NULL) {
		if (o->cwd[0] != '/')
			return sbx_fail(err, 0, "--cwd %s: must be an absolute path", o->cwd);
		c->proc.cwd = o->cwd;
	}
	if (o->user != NULL && parse_user(o->user, &c->proc.uid, &c->proc.gid, err) < 0)
		return -1;
	if (parse_gids(o, c, err) < 0 || parse_caps(o->caps, o->n_caps, &add, err) < 0)
		return -1;
	if (add) {
		c->proc.has_caps = true;
		c->proc.cap_bounding |= add;
		c->proc.cap_effective |= add;
		c->proc.cap_permitted |= add;
	}
	c->proc.no_new_privileges = c->proc.no_new_privileges || o->no_new_privs;
	if (o->apparmor != NULL)
		c->proc.apparmor_profile = o->apparmor;
	/* Checked with the rest of the process: sbx applies no label. */
	if (o->process_label != NULL)
		c->proc.selinux_label = o->process_label;
	c->proc.terminal = o->tty;
	return 0;
}

/* ---- the container -------------------------------------------------------------- */

static int load_container(const struct sbx_oci_globals *g, const char *id, struct sbx_oci_state *st,
			  struct exec_ctx *c, struct sbx_error *err)
{
	cleanup_close int dirfd = -1;
	enum sbx_oci_status status;

	if (sbx_oci_state_open(g, id, false, &dirfd, err) < 0 || sbx_oci_state_read(dirfd, st, err) < 0)
		return -1;
	status = sbx_oci_status(dirfd, st);
	/* runc lets an exec into a created container too: its process
	 * exists, parked before execve, with every namespace in place. */
	if (status != SBX_OCI_RUNNING && status != SBX_OCI_CREATED)
		return sbx_fail(err, 0, "cannot exec in a %s container", sbx_oci_status_name(status));
	if (st->runsc)
		return sbx_fail(err, 0, "container %s runs in gVisor (run.sbx.runtime=runsc): sbx cannot exec into it",
				id);
	if (sbx_oci_state_config(dirfd, &c->cfg, err) < 0)
		return -1;
	c->have_cfg = true;
	return 0;
}

static bool same_ns(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The container's namespaces that are not already ours, as fds, the pid
 * pinned by a pidfd and its start time checked before, its life after:
 * the fds then are its, not those of a process that reused the pid. */
static int open_namespaces(const struct sbx_oci_state *st, struct exec_ctx *c, struct sbx_error *err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	char path[64], self[64];

	if (pidfd < 0 || !sbx_oci_pid_alive(st->pid, st->pid_start))
		return sbx_fail(err, 0, "container %s is not running (its process %d is gone)", st->id, (int)st->pid);
	for (size_t i = 0; i < N_NS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)st->pid, join_order[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", join_order[i].name);
		/* A kernel without the type: neither has one to join. */
		if (access(self, F_OK) < 0 && errno == ENOENT)
			continue;
		if (same_ns(path, self))
			continue;
		c->nsfd[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (c->nsfd[i] < 0)
			return sbx_fail(err, errno, "opening %s", path);
	}
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) < 0)
		return sbx_fail(err, 0, "container %s is not running (its process %d is gone)", st->id, (int)st->pid);
	return 0;
}

/* The exec joins the cgroup the container's limits are set on. */
static int open_cgroup(const struct sbx_oci_state *st, struct exec_ctx *c, struct sbx_error *err)
{
	char path[PATH_MAX];

	if (st->cgroup[0] == '\0')
		return 0;
	if (snprintf(path, sizeof(path), "%s%s/cgroup.procs", st->cgroup[0] == '/' ? "" : "/sys/fs/cgroup/",
		     st->cgroup) >= (int)sizeof(path))
		return sbx_fail(err, ENAMETOOLONG, "the container's cgroup");
	c->cgroup_procs = open(path, O_WRONLY | O_CLOEXEC);
	if (c->cgroup_procs < 0)
		return sbx_fail(err, errno, "opening %s", path);
	return 0;
}

static int connect_console(const char *path, struct sbx_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path))
		return sbx_fail(err, ENAMETOOLONG, "--console-socket %s", path);
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return sbx_fail(err, errno, "--console-socket %s", path);
	return sbx_steal_fd(&fd);
}

/* ---- the children ----------------------------------------------------------------- */

/* The grandchild, in every namespace of the container: apply the process
 * and exec.  Errors go to sbx over SYNC. */
static void run_process(struct exec_ctx *c, int sync, int console, const sigset_t *mask)
{
	struct sbx_error err = { 0 };

	sigprocmask(SIG_SETMASK, mask, NULL);
	if (sbx_oci_process_find(&c->proc, &c->pp, &err) == 0 &&
	    (console < 0 || sbx_oci_process_console(&c->proc, console, &err) == 0)) {
		if (console >= 0)
			close(console);
		sbx_oci_process_exec(&c->proc, &c->pp, &err);
	}
	sbx_sync_send(sync, SBX_MSG_ERROR, &err);
	_exit(err.status ? err.status : SBX_EXIT_FAILURE);
}

static int join_one(struct exec_ctx *c, size_t i, struct sbx_error *err)
{
	if (setns(c->nsfd[i], join_order[i].type) < 0)
		return sbx_fail(err, errno, "joining the container's %s namespace", join_order[i].name);
	close(c->nsfd[i]);
	c->nsfd[i] = -1;
	return 0;
}

/* A namespace of the container may belong to a user namespace other than
 * the one its process is in (one made before it, or the host's): joining
 * the process's user namespace first would then leave us without rights
 * over it.  So, as runc does: first whatever our own rights let us join,
 * then the user namespace, then what needed it. */
static int join_namespaces(struct exec_ctx *c, struct sbx_error *err)
{
	for (size_t i = 1; i < N_NS; i++)
		if (c->nsfd[i] >= 0 && setns(c->nsfd[i], join_order[i].type) == 0) {
			close(c->nsfd[i]);
			c->nsfd[i] = -1;
		} else if (c->nsfd[i] >= 0 && errno != EPERM) {
			return sbx_fail(err, errno, "joining the container's %s namespace", join_order[i].name);
		}
	for (size_t i = 0; i < N_NS; i++)
		if (c->nsfd[i] >= 0 && join_one(c, i, err) < 0)
			return -1;
	return 0;
}

/* The child: what needs the host's view and privileges, then the
 * namespaces, then the fork into the pid namespace.  Its pid goes to sbx. */
static void run_joiner(struct exec_ctx *c, int sync, int console, const sigset_t *mask)
{
	struct sbx_error err = { 0 };
	pid_t pid;

	/* Not dumpable from here to the execve: a process of the container
	 * may not ptrace us or open our /proc files (host fds, sbx's exe). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		sbx_fail(&err, errno, "PR_SET_DUMPABLE");
		goto fail;
	}
	if (c->cgroup_procs >= 0) {
		if (sbx_write_all(c->cgroup_procs, "0", 1) < 0) {
			sbx_fail(&err, errno, "joining the container's cgroup");
			goto fail;
		}
		close(c->cgroup_procs);
		c->cgroup_procs = -1;
	}
	/* Both need the initial user namespace's CAP_SYS_RESOURCE (to go
	 * down, to go up): before joining the container's. */
	if (c->proc.has_oom_score_adj && sbx_oci_oom_score_adj(0, c->proc.oom_score_adj, &err) < 0)
		goto fail;
	for (size_t i = 0; i < c->proc.n_rlimits; i++) {
		const struct sbx_oci_rlimit *l = &c->proc.rlimits[i];
		struct rlimit rl = { .rlim_cur = (rlim_t)l->soft, .rlim_max = (rlim_t)l->hard };

		if (setrlimit(l->resource, &rl) < 0) {
			sbx_fail(&err, errno, "process.rlimits[%zu]", i);
			goto fail;
		}
	}
	if (join_namespaces(c, &err) < 0)
		goto fail;
	pid = fork();
	if (pid < 0) {
		sbx_fail(&err, errno, "forking into the container's pid namespace");
		goto fail;
	}
	if (pid == 0)
		run_process(c, sync, console, mask);
	sbx_sync_send_value(sync, SBX_MSG_STARTED, pid);
	_exit(0);
fail:
	sbx_sync_send(sync, SBX_MSG_ERROR, &err);
	_exit(SBX_EXIT_FAILURE);
}

/* ---- sbx's side --------------------------------------------------------------------- */

static int write_pid_file(const char *path, pid_t pid, struct sbx_error *err)
{
	char tmp[PATH_MAX], text[32];
	cleanup_close int fd = -1;
	int n;

	if (snprintf(tmp, sizeof(tmp), "%s.sbx-%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return sbx_fail(err, ENAMETOOLONG, "--pid-file %s", path);
	n = snprintf(text, sizeof(text), "%d", (int)pid);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sbx_fail(err, errno, "--pid-file %s", path);
	/* Whole or not at all: the engine reads it as soon as it exists. */
	if (sbx_write_all(fd, text, (size_t)n) < 0 || rename(tmp, path) < 0) {
		int e = errno;

		unlink(tmp);
		return sbx_fail(err, e, "--pid-file %s", path);
	}
	return 0;
}

/* The child's report: the grandchild's pid, or an error. */
static int receive_pid(int sync, pid_t joiner, pid_t *pid, struct sbx_error *err)
{
	struct sbx_msg msg;
	int status, r = sbx_sync_recv(sync, &msg, NULL, err);

	while (waitpid(joiner, &status, 0) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
	if (r == 0)
		return sbx_fail(err, 0, "exec: sbx's child died before the process started");
	if (msg.type == SBX_MSG_ERROR) {
		*err = msg.error;
		return -1;
	}
	*pid = msg.wstatus;
	return 0;
}

/* End of file: the process's execve closed the last copy of the socket. */
static int receive_exec(int sync, pid_t pid, struct sbx_error *err)
{
	struct sbx_msg msg;
	int status, r = sbx_sync_recv(sync, &msg, NULL, err);

	if (r == 0)
		return 0;
	if (r > 0 && msg.type == SBX_MSG_ERROR)
		*err = msg.error;
	/* Reaped here when sbx is its subreaper; otherwise its new parent's. */
	waitpid(pid, &status, WNOHANG);
	return -1;
}

static const int forwarded[] = { SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT };

/* Pass signals on to the process until it ends; reap whatever else the
 * subreaper inherits. */
static int wait_process(pid_t pid, const sigset_t *set, int *exit_status, struct sbx_error *err)
{
	for (;;) {
		siginfo_t si;
		int status, sig;
		pid_t r;

		while ((r = waitpid(-1, &status, WNOHANG)) > 0) {
			if (r == pid) {
				*exit_status = sbx_exit_status(status);
				return 0;
			}
		}
		if (r < 0 && errno == ECHILD)
			return sbx_fail(err, ECHILD, "exec: the process %d vanished", (int)pid);
		sig = sigwaitinfo(set, &si);
		if (sig < 0 && errno != EINTR)
			return sbx_fail(err, errno, "exec: waiting for signals");
		if (sig > 0 && sig != SIGCHLD)
			kill(pid, sig);
	}
}

static int start(struct exec_ctx *c, const struct sbx_oci_exec_opts *o, int console, int *exit_status,
		 struct sbx_error *err)
{
	sigset_t set, old;
	int sv[2];
	pid_t joiner, pid = -1;
	int r = -1;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; !o->detach && i < SBX_ARRAY_SIZE(forwarded); i++)
		sigaddset(&set, forwarded[i]);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return sbx_fail(err, errno, "exec: socketpair");
	/* Without --detach the process comes back to sbx when the child that
	 * forked it exits: sbx waits for it as its subreaper. */
	if (!o->detach && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		sbx_fail(err, errno, "PR_SET_CHILD_SUBREAPER");
		goto out;
	}
	sigprocmask(SIG_BLOCK, &set, &old);
	joiner = fork();
	if (joiner < 0) {
		sbx_fail(err, errno, "exec: fork");
		goto out_mask;
	}
	if (joiner == 0) {
		close(sv[0]);
		run_joiner(c, sv[1], console, &old);
	}
	close(sv[1]);
	sv[1] = -1;
	if (receive_pid(sv[0], joiner, &pid, err) < 0 || receive_exec(sv[0], pid, err) < 0)
		goto out_mask;
	if (o->pid_file != NULL && write_pid_file(o->pid_file, pid, err) < 0) {
		kill(pid, SIGKILL);
		goto out_mask;
	}
	*exit_status = 0;
	r = o->detach ? 0 : wait_process(pid, &set, exit_status, err);
out_mask:
	sigprocmask(SIG_SETMASK, &old, NULL);
out:
	close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	return r;
}

int sbx_oci_exec(const struct sbx_oci_globals *g, const struct sbx_oci_exec_opts *o, int *exit_status,
		 struct sbx_error *err)
{
	struct exec_ctx c = { .cgroup_procs = -1 };
	struct sbx_oci_state st;
	cleanup_free char *seccomp_text = NULL;
	cleanup_close int console = -1;
	const char *profile;
	int r = -1;

	for (size_t i = 0; i < N_NS; i++)
		c.nsfd[i] = -1;
	*exit_status = 0;
	if (sbx_oci_reexec_sealed(err) < 0)
		return -1;
	if (o->preserve_fds < 0)
		return sbx_fail(err, 0, "--preserve-fds must not be negative");
	if (load_container(g, o->id, &st, &c, err) < 0)
		goto out;
	if ((o->process ? process_from_file(o, &c, err) : process_from_options(o, &c, err)) < 0)
		goto out;
	if (c.proc.terminal && o->console_socket == NULL) {
		sbx_fail(err, 0, "exec: --tty needs --console-socket (sbx does not relay a terminal itself)");
		goto out;
	}
	if (!c.proc.terminal && o->console_socket != NULL) {
		sbx_fail(err, 0, "exec: --console-socket is only for --tty");
		goto out;
	}
	profile = sbx_oci_annotation(&c.cfg, "run.sbx.profile");
	if (sbx_oci_seccomp_text(&c.cfg, &seccomp_text, err) < 0 ||
	    sbx_oci_process_prepare(&c.proc, seccomp_text, profile != NULL && strcmp(profile, "hardened") == 0,
				    &c.pp, err) < 0)
		goto out;
	c.have_pp = true;
	c.pp.preserve_fds = o->preserve_fds;
	if (c.proc.terminal && (console = connect_console(o->console_socket, err)) < 0)
		goto out;
	if (open_namespaces(&st, &c, err) < 0 || open_cgroup(&st, &c, err) < 0)
		goto out;
	r = start(&c, o, console, exit_status, err);
out:
	ctx_free(&c);
	return r;
}
