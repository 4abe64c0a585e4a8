#include "imagens.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap.h"
#include "options.h"
#include "util.h"

static int image_plan(struct sbx_idplan *plan, struct sbx_error *err)
{
	return sbx_idplan_make(SBX_DEFAULT_UID, SBX_DEFAULT_GID, -1, -1, plan, err);
}

bool sbx_imagens_keeps_owners(void)
{
	struct sbx_idplan plan;
	struct sbx_error ignored;

	return image_plan(&plan, &ignored) == 0 && plan.writer != SBX_IDMAP_SINGLE;
}

void sbx_imagens_stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

int sbx_imagens_stop_pending(struct sbx_error *err)
{
	sigset_t stop, pending;

	sbx_imagens_stop_signals(&stop);
	if (sigpending(&pending) < 0)
		return 0;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&stop, sig) == 1 && sigismember(&pending, sig) == 1)
			return sbx_fail_status(err, 128 + sig, 0, "interrupted by signal %d", sig);
	return 0;
}

int sbx_imagens_give_dir(int fd, struct sbx_error *err)
{
	struct sbx_idplan plan;

	if (!sbx_is_host_root())
		return 0;
	if (image_plan(&plan, err) < 0)
		return -1;
	if (fchown(fd, sbx_idmap_to_host(&plan.uid, 0), sbx_idmap_to_host(&plan.gid, 0)) < 0)
		return sbx_fail(err, errno, "handing a directory to the image worker");
	return 0;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (ssize_t)done;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/* The child: wait for the maps, become root inside, do the work, send the
 * error and OUT back. */
static void __attribute__((noreturn)) child(int sock, bool userns, sbx_imagens_fn fn, void *arg, void *out,
					       size_t out_len)
{
	struct sbx_error err = { 0 };
	sigset_t all;
	char c;

	sigfillset(&all);
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() == 1)
		_exit(1);
	if (!userns) {
		memset(out, 0, out_len);
		fn(arg, out, &err);
	} else if (unshare(CLONE_NEWUSER) < 0) {
		sbx_fail(&err, errno, "creating a user namespace to unpack the image in");
	} else if (sbx_write_all(sock, "u", 1) < 0 || read_full(sock, &c, 1) != 1 || c != 'm') {
		_exit(1); /* the parent reports why */
	} else if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		sbx_fail(&err, errno, "becoming root of the image's user namespace");
	} else {
		memset(out, 0, out_len);
		fn(arg, out, &err);
	}
	if (sbx_write_all(sock, &err, sizeof(err)) < 0 || sbx_write_all(sock, out, out_len) < 0)
		_exit(1);
	_exit(0);
}

/* Wait for N bytes from the worker, or a termination signal (blocked by
 * the caller so that it arrives here, not as a death of sbx that would
 * leave the worker's half-built tree behind). */
static int worker_read(int sock, void *buf, size_t len, struct sbx_error *err)
{
	sigset_t stop;
	cleanup_close int sfd = -1;
	size_t done = 0;

	sbx_imagens_stop_signals(&stop);
	sfd = signalfd(-1, &stop, SFD_CLOEXEC);
	if (sfd < 0)
		return sbx_fail(err, errno, "signalfd");
	while (done < len) {
		struct pollfd p[2] = { { sock, POLLIN, 0 }, { sfd, POLLIN, 0 } };
		struct signalfd_siginfo si;
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return sbx_fail(err, errno, "poll");
		}
		if (p[1].revents & POLLIN && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
			return sbx_fail_status(err, 128 + (int)si.ssi_signo, 0, "interrupted by signal %u",
					       si.ssi_signo);
		if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(sock, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return sbx_fail(err, n < 0 ? errno : 0, "the image worker died (killed?)");
		done += (size_t)n;
	}
	return 0;
}

static int run_worker(const struct sbx_idplan *plan, sbx_imagens_fn fn, void *arg, void *out, size_t out_len,
		      struct sbx_error *err)
{
	bool userns = plan->writer != SBX_IDMAP_SINGLE;
	int sv[2], status;
	char c;
	pid_t pid;
	struct sbx_error child_err;
	int r = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return sbx_fail(err, errno, "socketpair");
	pid = fork();
	if (pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return sbx_fail(err, errno, "fork");
	}
	if (pid == 0) {
		close(sv[0]);
		child(sv[1], userns, fn, arg, out, out_len);
	}
	close(sv[1]);
	if (userns && worker_read(sv[0], &c, 1, err) < 0) {
		sbx_error_wrap(err, "making the image worker's user namespace");
	} else if (userns && sbx_idplan_apply(plan, pid, err) < 0) {
		sbx_error_wrap(err, "mapping ids for the image worker");
	} else if (userns && sbx_write_all(sv[0], "m", 1) < 0) {
		sbx_fail(err, errno, "the image worker");
	} else if (worker_read(sv[0], &child_err, sizeof(child_err), err) < 0 ||
		   worker_read(sv[0], out, out_len, err) < 0) {
		/* err says why */
	} else if (child_err.msg[0] != '\0') {
		child_err.msg[sizeof(child_err.msg) - 1] = '\0';
		*err = child_err;
	} else {
		r = 0;
	}
	close(sv[0]);
	if (r < 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return r;
}

int sbx_imagens_run(sbx_imagens_fn fn, void *arg, void *out, size_t out_len, struct sbx_error *err)
{
	struct sbx_idplan plan;

	if (image_plan(&plan, err) < 0)
		return -1;
	return run_worker(&plan, fn, arg, out, out_len, err);
}
