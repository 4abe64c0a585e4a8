#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "init.h"
#include "relay.h"
#include "sync.h"
#include "tty.h"
#include "util.h"

struct supervisor {
	const struct sbx_supervise_config *c;
	struct sbx_result *res;
	int timerfd;
	struct sbx_relay out, err;
	bool relaying;
	int pty;            /* master of the sandbox's pty, or -1 */
	bool stdin_open;    /* relaying stdin to the pty */
	char pending[4096]; /* stdin bytes the pty could not take yet */
	size_t pending_len;
	struct sbx_host_tty host_tty;
	bool started;       /* the command's process exists */
	bool sync_open;
	bool init_reaped;
	int init_wstatus;
	struct rusage usage;
	bool got_exit;
	int command_wstatus;
	bool in_grace;
	int interrupted_by; /* a signal that ended the run before the command */
};

int sbx_supervise_signals(struct sbx_error *err)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(sbx_forwarded_signals); i++)
		sigaddset(&set, sbx_forwarded_signals[i]);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return sbx_fail(err, errno, "blocking signals");
	fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (fd < 0)
		return sbx_fail(err, errno, "signalfd");
	return fd;
}

static void set_timer(int timerfd, uint64_t ns)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) },
	};

	timerfd_settime(timerfd, 0, &its, NULL);
}

/* The whole sandbox dies with its init. */
static void kill_sandbox(struct supervisor *s)
{
	if (!s->init_reaped)
		kill(s->c->init, SIGKILL);
}

static void on_timeout(struct supervisor *s)
{
	uint64_t ticks;

	(void)!read(s->timerfd, &ticks, sizeof(ticks));
	if (s->in_grace || !s->started) {
		kill_sandbox(s);
		return;
	}
	s->res->timed_out = true;
	s->in_grace = true;
	kill(s->c->init, SBX_SIG_TERMINATE_ALL);
	set_timer(s->timerfd, s->c->opts->kill_grace_ns);
}

static void on_signal(struct supervisor *s, int sig)
{
	if (sig == SIGCHLD) {
		pid_t pid = wait4(s->c->init, &s->init_wstatus, WNOHANG, &s->usage);

		if (pid == s->c->init)
			s->init_reaped = true;
		return;
	}
	if (sig == SIGWINCH && s->pty >= 0 && s->host_tty.raw)
		sbx_tty_copy_winsize(s->host_tty.fd, s->pty);
	if (s->started) {
		kill(s->c->init, sig);
		return;
	}
	/* Before the command exists there is nobody to pass it to: a request
	 * to stop ends the run. */
	if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT) {
		s->interrupted_by = sig;
		kill_sandbox(s);
	}
}

static void drain_signals(struct supervisor *s)
{
	struct signalfd_siginfo si;

	while (read(s->c->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		on_signal(s, (int)si.ssi_signo);
}

static int start_pty(struct supervisor *s, int master, struct sbx_error *err)
{
	s->pty = master;
	fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
	s->stdin_open = true;
	if (isatty(STDIN_FILENO)) {
		if (sbx_host_tty_raw(&s->host_tty, STDIN_FILENO, err) < 0)
			return -1;
		sbx_tty_copy_winsize(STDIN_FILENO, master);
	}
	return 0;
}

static int on_sync(struct supervisor *s, struct sbx_error *err)
{
	struct sbx_msg msg;
	int passed = -1;
	int r = sbx_sync_recv(s->c->sync_fd, &msg, &passed, err);

	if (r <= 0) {
		s->sync_open = false;
		return r;
	}
	switch (msg.type) {
	case SBX_MSG_ERROR:
		s->res->failed = true;
		s->res->error = msg.error;
		break;
	case SBX_MSG_STARTED:
		s->started = true;
		break;
	case SBX_MSG_EXIT:
		s->got_exit = true;
		s->command_wstatus = msg.wstatus;
		break;
	case SBX_MSG_PTY:
		if (passed >= 0 && s->pty < 0)
			return start_pty(s, passed, err);
		break;
	}
	if (passed >= 0)
		close(passed);
	return 0;
}

/* Copy what the sandbox's terminal printed to ours. */
static void pump_pty_output(struct supervisor *s)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(s->pty, buf, sizeof(buf))) > 0)
		sbx_write_all(STDOUT_FILENO, buf, (size_t)n);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		/* EIO: every holder of the other side is gone. */
		close(s->pty);
		s->pty = -1;
		s->stdin_open = false;
	}
}

static void flush_pending(struct supervisor *s)
{
	ssize_t n = write(s->pty, s->pending, s->pending_len);

	if (n > 0) {
		memmove(s->pending, s->pending + n, s->pending_len - (size_t)n);
		s->pending_len -= (size_t)n;
	}
}

static void pump_stdin(struct supervisor *s)
{
	ssize_t n = read(STDIN_FILENO, s->pending, sizeof(s->pending));

	if (n > 0) {
		s->pending_len = (size_t)n;
		flush_pending(s);
	} else if (n == 0 || errno != EINTR) {
		/* End of our input: the sandbox's terminal reads end of file. */
		s->pending[0] = 0x04;
		s->pending_len = 1;
		flush_pending(s);
		s->stdin_open = false;
	}
}

static bool finished(const struct supervisor *s)
{
	return s->init_reaped && !s->sync_open && s->pty < 0 &&
	       (!s->relaying || (s->out.in_fd < 0 && s->err.in_fd < 0));
}

enum { P_SYNC, P_SIG, P_TIMER, P_OUT, P_ERR, P_PTY, P_STDIN, P_COUNT };

static int loop(struct supervisor *s, struct sbx_error *err)
{
	while (!finished(s)) {
		struct pollfd p[P_COUNT];

		for (int i = 0; i < P_COUNT; i++)
			p[i] = (struct pollfd){ .fd = -1 };
		p[P_SYNC].fd = s->sync_open ? s->c->sync_fd : -1;
		p[P_SIG].fd = s->c->sigfd;
		p[P_TIMER].fd = s->timerfd;
		p[P_OUT].fd = s->relaying ? s->out.in_fd : -1;
		p[P_ERR].fd = s->relaying ? s->err.in_fd : -1;
		p[P_PTY].fd = s->pty;
		p[P_STDIN].fd = s->stdin_open && s->pending_len == 0 ? STDIN_FILENO : -1;
		for (int i = 0; i < P_COUNT; i++)
			p[i].events = POLLIN;
		if (s->pending_len > 0)
			p[P_PTY].events |= POLLOUT;
		if (poll(p, P_COUNT, -1) < 0) {
			if (errno == EINTR)
				continue;
			return sbx_fail(err, errno, "poll");
		}
		if (p[P_SIG].revents)
			drain_signals(s);
		if (p[P_SYNC].revents && on_sync(s, err) < 0)
			return -1;
		if (p[P_TIMER].revents)
			on_timeout(s);
		if (p[P_OUT].revents && sbx_relay_pump(&s->out, err) < 0)
			return -1;
		if (p[P_ERR].revents && sbx_relay_pump(&s->err, err) < 0)
			return -1;
		if (p[P_PTY].revents & POLLOUT)
			flush_pending(s);
		if (p[P_PTY].revents & ~POLLOUT)
			pump_pty_output(s);
		if (p[P_STDIN].revents)
			pump_stdin(s);
	}
	return 0;
}

static double seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void fill_result(struct supervisor *s, const struct timespec *end)
{
	struct sbx_result *r = s->res;
	const struct timespec *start = s->c->started;

	r->duration_s = (double)(end->tv_sec - start->tv_sec) + (double)(end->tv_nsec - start->tv_nsec) / 1e9;
	r->cpu_user_s = seconds(&s->usage.ru_utime);
	r->cpu_sys_s = seconds(&s->usage.ru_stime);
	r->max_rss_kib = s->usage.ru_maxrss;
	if (s->relaying) {
		r->relayed = true;
		r->stdout_bytes = s->out.total;
		r->stderr_bytes = s->err.total;
		r->stdout_truncated = sbx_relay_truncated(&s->out);
		r->stderr_truncated = sbx_relay_truncated(&s->err);
	}
	if (s->got_exit && WIFSIGNALED(s->command_wstatus))
		r->signal = WTERMSIG(s->command_wstatus);
	if (r->failed)
		r->exit_code = r->error.status ? r->error.status : SBX_EXIT_FAILURE;
	else if (r->timed_out)
		r->exit_code = 124;
	else if (s->got_exit)
		r->exit_code = sbx_exit_status(s->command_wstatus);
	else if (s->interrupted_by) {
		r->exit_code = 128 + s->interrupted_by;
		r->failed = true;
		sbx_fail(&r->error, 0, "interrupted by signal %d while setting up the sandbox", s->interrupted_by);
	} else {
		r->failed = true;
		sbx_fail(&r->error, 0, "the sandbox's init ended without reporting the command's status (%s %d)",
			 WIFSIGNALED(s->init_wstatus) ? "signal" : "status",
			 WIFSIGNALED(s->init_wstatus) ? WTERMSIG(s->init_wstatus) : WEXITSTATUS(s->init_wstatus));
	}
}

int sbx_supervise(const struct sbx_supervise_config *c, struct sbx_result *res,
		  struct sbx_error *err)
{
	struct supervisor s = { .c = c, .res = res, .timerfd = -1, .pty = -1, .sync_open = true,
				.out = { .in_fd = c->stdout_pipe }, .err = { .in_fd = c->stderr_pipe } };
	struct timespec end;
	int r = -1;

	/* A reader that goes away must not kill sbx (and the sandbox with it):
	 * relays keep draining.  Only sbx ignores SIGPIPE; the sandbox, made
	 * before this, keeps the default. */
	signal(SIGPIPE, SIG_IGN);
	if (c->stdout_pipe >= 0) {
		if (sbx_relay_init(&s.out, c->stdout_pipe, STDOUT_FILENO, c->opts->output_limit, err) < 0 ||
		    sbx_relay_init(&s.err, c->stderr_pipe, STDERR_FILENO, c->opts->output_limit, err) < 0)
			goto out;
		s.relaying = true;
	}
	if (c->opts->timeout_ns) {
		s.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
		if (s.timerfd < 0) {
			sbx_fail(err, errno, "timerfd");
			goto out;
		}
		set_timer(s.timerfd, c->opts->timeout_ns);
	}
	r = loop(&s, err);
	if (r == 0 && s.relaying)
		r = sbx_relay_finish(&s.out, err) < 0 || sbx_relay_finish(&s.err, err) < 0 ? -1 : 0;
	clock_gettime(CLOCK_MONOTONIC, &end);
	fill_result(&s, &end);
out:
	sbx_host_tty_restore(&s.host_tty);
	if (r < 0) {
		kill_sandbox(&s);
		while (!s.init_reaped && waitpid(c->init, NULL, 0) < 0 && errno == EINTR)
			;
	}
	sbx_relay_free(&s.out);
	sbx_relay_free(&s.err);
	sbx_closep(&s.timerfd);
	sbx_closep(&s.pty);
	return r;
}
