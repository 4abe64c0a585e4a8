#include "oci_runsc.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup.h"
#include "runsc.h"
#include "util.h"

#define MAX_ARGS 256

extern char **environ;

bool sbx_oci_wants_runsc(const struct sbx_oci_config *cfg)
{
	const char *rt = sbx_oci_annotation(cfg, "run.sbx.runtime");

	return rt != NULL && strcmp(rt, "runsc") == 0;
}

/* runsc's command line: its binary, its root beside sbx's, the engine's
 * logging and cgroup choices, then ARGV. */
/* The runsc create found on PATH (into ST, for the later commands). */
static int find_runsc(struct sbx_oci_state *st, struct sbx_error *err)
{
	struct sbx_runsc_probe probe;

	sbx_runsc_probe(&probe);
	if (!probe.found)
		return sbx_fail(err, ENOENT, "annotation run.sbx.runtime=runsc: runsc (gVisor) is not installed "
				"(apt-get install runsc)");
	snprintf(st->runsc_path, sizeof(st->runsc_path), "%s", probe.path);
	return 0;
}

static int build_argv(const struct sbx_oci_globals *g, char *const argv[], const struct sbx_oci_state *st,
		      const char **out, char *root, size_t root_len, struct sbx_error *err)
{
	struct sbx_cgroup_host_info info;
	char base[4096];
	size_t n = 0, given = 0;
	bool network_none = st->runsc_network_none;

	if (sbx_oci_default_root(g, base, sizeof(base), err) < 0)
		return -1;
	/* beside the containers' directories; no container id has an '@' */
	if (snprintf(root, root_len, "%s/@runsc", base) >= (int)root_len)
		return sbx_fail(err, ENAMETOOLONG, "runsc's state root");
	while (argv[given] != NULL)
		given++;
	if (given + 12 > MAX_ARGS)
		return sbx_fail(err, E2BIG, "too many arguments for runsc");
	out[n++] = "runsc";
	out[n++] = "--root";
	out[n++] = root;
	if (g->log != NULL) {
		out[n++] = "--log";
		out[n++] = g->log;
		out[n++] = g->log_json ? "--log-format=json" : "--log-format=text";
	}
	if (g->debug)
		out[n++] = "--debug";
	if (g->systemd_cgroup)
		out[n++] = "--systemd-cgroup";
	sbx_cgroup_describe(&info);
	if (info.mode != SBX_CGROUP_MODE_V2)
		out[n++] = "--ignore-cgroups";
	/* A network namespace of the container's own has only lo: gVisor's
	 * netstack then needs none of the host's (runsc refuses to take
	 * interfaces from a namespace it did not get by path). */
	if (network_none)
		out[n++] = "--network=none";
	/* runc's short -b is not runsc's */
	for (size_t i = 0; i < given; i++)
		out[n++] = strcmp(argv[i], "-b") == 0 ? "--bundle" : argv[i];
	out[n] = NULL;
	return 0;
}

int sbx_oci_runsc_run(const struct sbx_oci_globals *g, char *const argv[], const struct sbx_oci_state *st,
		      int *status, struct sbx_error *err)
{
	const char *args[MAX_ARGS];
	char root[4096 + 8];
	pid_t pid;
	int r, ws;

	if (build_argv(g, argv, st, args, root, sizeof(root), err) < 0)
		return -1;
	r = posix_spawn(&pid, st->runsc_path, NULL, NULL, (char *const *)args, environ);
	if (r != 0)
		return sbx_fail(err, r, "running %s", st->runsc_path);
	while (waitpid(pid, &ws, 0) < 0)
		if (errno != EINTR)
			return sbx_fail(err, errno, "waiting for runsc");
	*status = sbx_exit_status(ws);
	return 0;
}

int sbx_oci_runsc_exec(const struct sbx_oci_globals *g, char *const argv[], const struct sbx_oci_state *st,
		       struct sbx_error *err)
{
	const char *args[MAX_ARGS];
	char root[4096 + 8];

	if (build_argv(g, argv, st, args, root, sizeof(root), err) < 0)
		return -1;
	execve(st->runsc_path, (char *const *)args, environ);
	return sbx_fail(err, errno, "running %s", st->runsc_path);
}

void sbx_oci_runsc_tidy(const struct sbx_oci_globals *g)
{
	char base[4096], root[4096 + 8];
	struct sbx_error ignored;

	if (sbx_oci_default_root(g, base, sizeof(base), &ignored) == 0 &&
	    snprintf(root, sizeof(root), "%s/@runsc", base) < (int)sizeof(root))
		(void)rmdir(root); /* only when empty: another container may be runsc's */
}

int sbx_oci_runsc_hand_off(const struct sbx_oci_globals *g, const struct sbx_oci_config *cfg, const char *id,
			   const char *bundle, bool keep_marker, int *status, struct sbx_error *err)
{
	struct sbx_oci_state st = { .owner = (uint32_t)geteuid(), .runsc = true };
	struct sbx_error ignored;
	cleanup_close int dirfd = -1;
	int r;

	if (g->argv == NULL)
		return sbx_fail(err, EINVAL, "the runsc hand-off needs the command line");
	snprintf(st.id, sizeof(st.id), "%s", id);
	snprintf(st.bundle, sizeof(st.bundle), "%s", bundle);
	st.runsc_network_none = cfg->ns[SBX_OCI_NS_NETWORK].present && cfg->ns[SBX_OCI_NS_NETWORK].path == NULL;
	if (find_runsc(&st, err) < 0 || sbx_oci_state_open(g, id, true, &dirfd, err) < 0)
		return -1;
	r = sbx_oci_state_lock(dirfd, err) < 0 || sbx_oci_state_write(dirfd, &st, err) < 0 ? -1 : 0;
	sbx_closep(&dirfd); /* runsc's later commands lock nothing of sbx's */
	if (r == 0)
		r = sbx_oci_runsc_run(g, g->argv, &st, status, err);
	if (r < 0 || *status != 0 || !keep_marker) {
		sbx_oci_state_remove(g, id, &ignored);
		sbx_oci_runsc_tidy(g);
	}
	return r;
}
