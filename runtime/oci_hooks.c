/* OCI hooks: programs the bundle names, run by sbx outside the container
 * (in sbx's own namespaces, with sbx's rights) at the points of the
 * lifecycle the runtime spec defines, each with the container's state JSON
 * on its stdin.
 *
 * A hook gets exactly the args and env the spec gives (nothing of sbx's
 * environment), no descriptor of sbx's beyond stdio, a process group of its
 * own so that its timeout kills what it started too. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "oci_runtime.h"
#include "util.h"

#define SPEC_VERSION "1.0.2"

static void gen_owner(yajl_gen g, uint32_t uid)
{
	struct passwd *pw = getpwuid(uid);
	char num[16];

	snprintf(num, sizeof(num), "%u", (unsigned)uid);
	sbx_json_gen_str(g, "owner", pw != NULL ? pw->pw_name : num);
}

int sbx_oci_state_json(const struct sbx_oci_state *st, enum sbx_oci_status status,
		       const struct sbx_oci_config *cfg, char **out, struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const char *version = cfg != NULL && cfg->oci_version != NULL ? cfg->oci_version : SPEC_VERSION;
	int r;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "the state JSON");
	yajl_gen_map_open(g);
	sbx_json_gen_str(g, "ociVersion", version);
	sbx_json_gen_str(g, "id", st->id);
	/* runc's: a stopped container's pid is 0 (the number may be another's by now) */
	sbx_json_gen_uint(g, "pid", status == SBX_OCI_STOPPED ? 0 : (uint64_t)st->pid);
	sbx_json_gen_str(g, "status", sbx_oci_status_name(status));
	sbx_json_gen_str(g, "bundle", st->bundle);
	if (cfg != NULL && cfg->root_path != NULL) {
		char rootfs[8192];

		if (cfg->root_path[0] == '/')
			snprintf(rootfs, sizeof(rootfs), "%s", cfg->root_path);
		else
			snprintf(rootfs, sizeof(rootfs), "%s/%s", st->bundle, cfg->root_path);
		sbx_json_gen_str(g, "rootfs", rootfs);
	}
	sbx_json_gen_str(g, "created", st->created);
	gen_owner(g, st->owner);
	if (cfg != NULL && cfg->n_annotations > 0) {
		sbx_json_gen_key(g, "annotations");
		yajl_gen_map_open(g);
		for (size_t i = 0; i < cfg->n_annotations; i++)
			sbx_json_gen_str(g, cfg->annotation_keys[i], cfg->annotation_values[i]);
		yajl_gen_map_close(g);
	}
	yajl_gen_map_close(g);
	r = sbx_json_gen_text(g, out, err);
	yajl_gen_free(g);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The state on a memfd rather than a pipe: a hook that never reads its
 * stdin cannot hold sbx up, and one that reads it twice may. */
static int state_memfd(const char *json, struct sbx_error *err)
{
	cleanup_close int fd = memfd_create("sbx-hook-state", MFD_CLOEXEC);

	if (fd < 0)
		return sbx_fail(err, errno, "the hook's stdin");
	if (sbx_write_all(fd, json, strlen(json)) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return sbx_fail(err, errno, "the hook's stdin");
	return sbx_steal_fd(&fd);
}

static void hook_child(const struct sbx_oci_hook *h, int in)
{
	static char *const no_env[] = { NULL };
	char *argv0[] = { (char *)h->path, NULL };
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setpgid(0, 0);
	if (dup2(in, STDIN_FILENO) < 0)
		_exit(127);
	syscall(SYS_close_range, 3, ~0u, 0);
	execve(h->path, h->args != NULL && h->args[0] != NULL ? h->args : argv0,
	       h->env != NULL ? h->env : no_env);
	_exit(errno == ENOENT ? 127 : 126);
}

/* Wait for PID, at most TIMEOUT seconds (0: as long as it takes); a hook
 * past its timeout is killed with its process group. */
static int wait_hook(pid_t pid, int timeout, int *wstatus, bool *timed_out)
{
	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	int64_t deadline = now_ms() + (int64_t)timeout * 1000;

	*timed_out = false;
	if (pidfd >= 0 && timeout > 0) {
		for (;;) {
			struct pollfd p = { .fd = pidfd, .events = POLLIN };
			int64_t left = deadline - now_ms();
			int n;

			if (left <= 0) {
				*timed_out = true;
				kill(-pid, SIGKILL);
				kill(pid, SIGKILL);
				break;
			}
			n = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
			if (n > 0 || (n < 0 && errno != EINTR))
				break;
		}
	}
	if (pidfd >= 0)
		close(pidfd);
	while (waitpid(pid, wstatus, 0) < 0)
		if (errno != EINTR)
			return -1;
	return 0;
}

static int run_hook(const struct sbx_oci_hook *h, const char *kind, size_t index, const char *json,
		    struct sbx_error *err)
{
	cleanup_close int in = state_memfd(json, err);
	bool timed_out;
	int wstatus;
	pid_t pid;

	if (in < 0)
		return -1;
	if (h->path == NULL || h->path[0] != '/')
		return sbx_fail(err, 0, "error running %s hook #%zu: path \"%s\" is not absolute", kind, index,
				h->path != NULL ? h->path : "");
	pid = fork();
	if (pid < 0)
		return sbx_fail(err, errno, "error running %s hook #%zu (%s)", kind, index, h->path);
	if (pid == 0)
		hook_child(h, in);
	if (wait_hook(pid, h->timeout, &wstatus, &timed_out) < 0)
		return sbx_fail(err, errno, "error running %s hook #%zu (%s): waiting for it", kind, index, h->path);
	if (timed_out)
		return sbx_fail(err, 0, "error running %s hook #%zu (%s): timed out after %d s", kind, index,
				h->path, h->timeout);
	if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
		return 0;
	if (WIFSIGNALED(wstatus))
		return sbx_fail(err, 0, "error running %s hook #%zu (%s): killed by signal %d", kind, index,
				h->path, WTERMSIG(wstatus));
	return sbx_fail(err, 0, "error running %s hook #%zu (%s): exit status %d", kind, index, h->path,
			WEXITSTATUS(wstatus));
}

int sbx_oci_run_hooks(const struct sbx_oci_config *cfg, enum sbx_oci_hook_kind kind,
		      const struct sbx_oci_state *st, enum sbx_oci_status status, struct sbx_error *err)
{
	bool keep_going = kind == SBX_OCI_HOOK_POSTSTART || kind == SBX_OCI_HOOK_POSTSTOP;
	cleanup_free char *json = NULL;
	struct sbx_error first = { 0 };
	bool failed = false;

	if (kind >= SBX_OCI_HOOK_KINDS || cfg->n_hooks[kind] == 0)
		return 0;
	if (sbx_oci_state_json(st, status, cfg, &json, err) < 0)
		return -1;
	for (size_t i = 0; i < cfg->n_hooks[kind]; i++) {
		if (run_hook(&cfg->hooks[kind][i], sbx_oci_hook_kind_name(kind), i, json, err) == 0)
			continue;
		if (!keep_going)
			return -1;
		if (!failed)
			first = *err;
		failed = true;
	}
	if (failed) {
		*err = first;
		return -1;
	}
	return 0;
}
