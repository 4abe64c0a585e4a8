#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "command.h"
#include "landlock.h"
#include "sync.h"
#include "tty.h"
#include "util.h"

const int sbx_forwarded_signals[7] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };

static char **copy_argv(char *const argv[])
{
	size_t n = 0;
	char **copy;

	while (argv[n] != NULL)
		n++;
	copy = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; copy != NULL && i < n; i++)
		if ((copy[i] = strdup(argv[i])) == NULL)
			return NULL;
	return copy;
}

/* sbx's own command line and environment (host paths, maybe secrets) are
 * still in the init's memory, and /proc/1/cmdline is readable by every
 * process in the sandbox: blank both areas, as setproctitle does. */
static int blank_host_strings(struct sbx_error *err)
{
	unsigned long area[4]; /* arg_start arg_end env_start env_end */
	cleanup_free char *stat = NULL;
	char *p;

	if (sbx_read_file("/proc/self/stat", 4096, &stat, err) < 0)
		return -1;
	p = strrchr(stat, ')');
	/* Fields 48 to 51; the one after the command name is field 3. */
	for (int field = 2; p != NULL && field < 48; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p, " %lu %lu %lu %lu", &area[0], &area[1], &area[2], &area[3]) != 4 ||
	    area[1] < area[0] || area[3] < area[2])
		return sbx_fail(err, 0, "reading the init's argument area from /proc/self/stat");
	memset((void *)area[0], 0, area[1] - area[0]);
	memset((void *)area[2], 0, area[3] - area[2]);
	if (area[1] - area[0] > sizeof("sbx-init"))
		memcpy((void *)area[0], "sbx-init", sizeof("sbx-init"));
	prctl(PR_SET_NAME, "sbx-init", 0, 0, 0);
	return 0;
}

static void empty_handler(int sig)
{
	(void)sig;
}

/* The signals the init waits for.  Each gets a handler: the kernel drops
 * signals with the default action that are sent to a pid namespace's init,
 * even from outside. */
static int catch_signals(sigset_t *set, struct sbx_error *err)
{
	struct sigaction sa = { .sa_handler = empty_handler };

	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	sigaddset(set, SBX_SIG_TERMINATE_ALL);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(sbx_forwarded_signals); i++)
		sigaddset(set, sbx_forwarded_signals[i]);
	for (int sig = 1; sig < SIGRTMAX; sig++)
		if (sigismember(set, sig) && sigaction(sig, &sa, NULL) < 0)
			return sbx_fail(err, errno, "installing the init's signal handlers");
	if (sigprocmask(SIG_BLOCK, set, NULL) < 0)
		return sbx_fail(err, errno, "blocking the init's signals");
	return 0;
}

/* Put FD on TARGET (0, 1 or 2); a no-op when it is already there. */
static int move_fd(int fd, int target)
{
	return fd < 0 || fd == target ? 0 : dup2(fd, target) < 0 ? -1 : 0;
}

/* The command's process: a new session, stdio only, its working directory,
 * default signals, exec. */
static void run_command(const struct sbx_init_config *c, char *const argv[], const char *origin, int slave)
{
	struct sbx_error err = { 0 };
	int sync = c->sync_fd;
	sigset_t none;

	sigemptyset(&none);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(sbx_forwarded_signals); i++)
		signal(sbx_forwarded_signals[i], SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	signal(SBX_SIG_TERMINATE_ALL, SIG_DFL);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* A new session without a controlling terminal (or with the sandbox's
	 * own pty): TIOCSTI reaches no terminal of the user. */
	if (setsid() < 0) {
		sbx_fail(&err, errno, "starting a new session");
	} else if (slave >= 0 && sbx_pty_make_controlling(slave, &err) < 0) {
		/* err filled */
	} else if (move_fd(c->stdout_fd, 1) < 0 || move_fd(c->stderr_fd, 2) < 0) {
		sbx_fail(&err, errno, "attaching the output pipes");
	} else if ((sync != 3 && dup3(sync, 3, O_CLOEXEC) < 0) || (sync = 3, close_range(4, ~0U, 0) < 0)) {
		/* The sync socket stays only until execve: sbx learns of an
		 * exec failure through it. */
		sbx_fail(&err, errno, "closing sbx's file descriptors");
	} else if (chdir(c->cwd) < 0) {
		sbx_fail(&err, errno, "entering %s", c->cwd);
	} else if (c->landlock_abi > 0 &&
		   sbx_landlock_apply(c->landlock_abi, c->writable, c->n_writable, &err) < 0) {
		/* err filled */
	} else if (sbx_seccomp_load(c->seccomp, &err) < 0) {
		/* err filled; the filter is the very last step before execve */
	} else {
		sbx_exec_command(argv, c->env, origin, &err);
	}
	sbx_sync_send(sync, SBX_MSG_ERROR, &err);
	_exit(err.status);
}

/* Keep only FD open. */
static void close_all_but(int fd)
{
	if (fd > 0)
		close_range(0, (unsigned int)fd - 1, 0);
	close_range((unsigned int)fd + 1, ~0U, 0);
}

static void report_end(const struct sbx_init_config *c, int wstatus)
{
	struct sbx_error err = { 0 };
	int reported = c->final_status ? c->final_status(c, wstatus, &err) : wstatus;

	if (reported < 0) {
		sbx_sync_send(c->sync_fd, SBX_MSG_ERROR, &err);
		_exit(err.status ? err.status : SBX_EXIT_FAILURE);
	}
	sbx_sync_send_status(c->sync_fd, reported);
	_exit(sbx_exit_status(reported));
}

static void reap_and_report(const struct sbx_init_config *c, pid_t command)
{
	for (;;) {
		int wstatus;
		pid_t pid = waitpid(-1, &wstatus, WNOHANG);

		if (pid <= 0)
			return;
		if (pid == command) {
			/* Everything else in the sandbox dies with us. */
			report_end(c, wstatus);
		}
	}
}

bool sbx_init_signal_from_sbx(const siginfo_t *info)
{
	/* sbx is outside the sandbox's pid namespace: its kill() arrives as
	 * SI_USER with sender pid 0.  A process of the sandbox cannot forge
	 * both.  kill, tkill and tgkill from inside carry its own pid, which
	 * the kernel fills in and which is never 0 here.  rt_sigqueueinfo,
	 * rt_tgsigqueueinfo and pidfd_send_signal take the whole siginfo from
	 * the caller, si_pid 0 included, but refuse (EPERM) an si_code >= 0,
	 * SI_USER among them, for any process but the caller itself
	 * (kernel/signal.c): a forged order carries SI_QUEUE or another
	 * negative code.  So sender pid 0 alone is not enough. */
	return info->si_code == SI_USER && info->si_pid == 0;
}

static void supervise_command(const struct sbx_init_config *c, pid_t command, const sigset_t *set)
{
	for (;;) {
		siginfo_t info;
		int sig = sigwaitinfo(set, &info);

		if (sig < 0)
			continue;
		if (sig == SIGCHLD) {
			reap_and_report(c, command);
			continue;
		}
		/* Orders come from sbx only. */
		if (!sbx_init_signal_from_sbx(&info))
			continue;
		if (c->forward_signal)
			c->forward_signal(c, command, sig);
		else if (sig == SBX_SIG_TERMINATE_ALL)
			kill(-1, SIGTERM);
		else
			kill(command, sig);
	}
}

static int pass_console(const struct sbx_init_config *c, pid_t command, struct sbx_error *err)
{
	int master = c->console(c, command, err);

	if (master == -1 && err->msg[0] != '\0')
		return -1;
	if (master >= 0 && sbx_sync_send_fd(c->sync_fd, SBX_MSG_PTY, master) < 0)
		return sbx_fail(err, errno, "passing the terminal to sbx");
	if (master >= 0)
		close(master);
	return 0;
}

int sbx_init_wait_for_start(int sync_fd, struct sbx_error *err)
{
	struct sbx_msg msg;
	int r = sbx_sync_recv(sync_fd, &msg, NULL, err);

	if (r < 0)
		return -1;
	if (r == 0 || msg.type != SBX_MSG_START)
		_exit(SBX_EXIT_FAILURE); /* sbx is gone: nobody to run it for */
	return 0;
}

int sbx_init_run(const struct sbx_init_config *c, struct sbx_error *err)
{
	char **argv = copy_argv(c->argv);
	char origin[PATH_MAX + 16];
	int master = -1, slave = -1;
	sigset_t set;
	pid_t command;

	if (argv == NULL)
		return sbx_fail(err, ENOMEM, "copying the command line");
	/* Before the blanking: a --rootfs path lives in sbx's arguments. */
	snprintf(origin, sizeof(origin), "%s %s", c->image ? "image" : "rootfs", c->image ? c->image : c->rootfs);
	/* Nothing of the host may be read from the init, before the command
	 * exists: not its memory (non-dumpable) nor its command line. */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return sbx_fail(err, errno, "making the init non-dumpable");
	if (blank_host_strings(err) < 0)
		return -1;
	/* Out of sbx's session, so that a Ctrl-C on the user's terminal
	 * reaches the command once, through sbx, and not a second time here. */
	if (setsid() < 0)
		return sbx_fail(err, errno, "starting the init's session");
	if (catch_signals(&set, err) < 0)
		return -1;
	if (c->pty) {
		if (sbx_pty_open(&master, &slave, err) < 0)
			return -1;
		if (sbx_sync_send_fd(c->sync_fd, SBX_MSG_PTY, master) < 0)
			return sbx_fail(err, errno, "passing the pty to sbx");
	}
	/* Created: park until sbx says start. */
	if (sbx_init_wait_for_start(c->sync_fd, err) < 0)
		return -1;
	command = fork();
	if (command < 0)
		return sbx_fail(err, errno, "starting the command");
	if (command == 0)
		run_command(c, argv, origin, slave);
	sbx_sync_send(c->sync_fd, SBX_MSG_STARTED, NULL);
	if (c->console != NULL && pass_console(c, command, err) < 0)
		return -1;
	close_all_but(c->sync_fd);
	supervise_command(c, command, &set);
	return 0;
}
