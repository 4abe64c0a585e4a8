#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

/* What the sandbox's terminal printed and our stdout has not taken yet.
 * When it is full the pty is not read: the command waits, as on a
 * terminal that does not keep up. */
struct pty_output {
	char buf[65536];
	size_t start, len;
};

struct supervisor {
	const struct sbx_supervise_config *c;
	struct sbx_result *res;
	int timerfd;
	/* Monotonic times the timer stands for, 0 when not due: the deadline,
	 * the SIGKILL after its grace, the end of waiting for a reader once a
	 * stop signal ended the sandbox. */
	uint64_t term_at, kill_at, give_up_at;
	struct sbx_relay out, err;
	bool relaying;
	int pty;            /* master of the sandbox's pty, or -1 */
	struct pty_output pty_out;
	bool stdin_open;    /* relaying stdin to the pty */
	char pending[4096]; /* stdin bytes the pty could not take yet */
	size_t pending_len;
	bool stdout_gone;   /* our reader went away: pty output is dropped */
	bool stop_forwarded;/* a stop signal went to the command */
	bool given_up;      /* undelivered output is dropped, the run ends */
	bool pty_used;
	uint64_t pty_dropped;
	struct sbx_host_tty host_tty;
	bool started;       /* the command's process exists */
	bool sync_open;
	bool init_reaped;
	int init_wstatus;
	struct rusage usage;
	bool got_exit;
	int command_wstatus;
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

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint64_t earliest(uint64_t a, uint64_t b)
{
	return a == 0 ? b : b == 0 ? a : a < b ? a : b;
}

/* Set the timer to the earliest of the times due, or disarm it. */
static void rearm(struct supervisor *s)
{
	uint64_t at = earliest(earliest(s->term_at, s->kill_at), s->give_up_at);
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(at / 1000000000ULL), .tv_nsec = (long)(at % 1000000000ULL) },
	};

	timerfd_settime(s->timerfd, TFD_TIMER_ABSTIME, &its, NULL);
}

/* The whole sandbox dies with its init. */
static void kill_sandbox(struct supervisor *s)
{
	if (!s->init_reaped)
		kill(s->c->init, SIGKILL);
}

/* Stop waiting for readers: what they have not taken is dropped (and
 * counted), and the run ends as soon as the sandbox is gone. */
static void give_up_output(struct supervisor *s)
{
	s->given_up = true;
	s->pty_dropped += s->pty_out.len;
	s->pty_out.len = 0;
	if (s->relaying) {
		sbx_relay_drop(&s->out);
		sbx_relay_drop(&s->err);
	}
}

/* The deadline: SIGTERM to every process of the sandbox, SIGKILL after the
 * grace.  The grace also bounds how long sbx waits for its readers when the
 * sandbox had ended before: the deadline holds whatever the output does. */
static void on_deadline(struct supervisor *s, uint64_t now)
{
	if (!s->started) {
		/* The deadline came during the setup: still a timeout (124),
		 * not a failure of sbx. */
		s->res->timed_out = true;
		kill_sandbox(s);
		give_up_output(s);
		return;
	}
	if (!s->init_reaped) {
		s->res->timed_out = true;
		kill(s->c->init, SBX_SIG_TERMINATE_ALL);
	}
	s->kill_at = now + s->c->opts->kill_grace_ns;
}

static void on_timer(struct supervisor *s)
{
	uint64_t ticks, now = now_ns();

	(void)!read(s->timerfd, &ticks, sizeof(ticks));
	if (s->term_at && now >= s->term_at) {
		s->term_at = 0;
		on_deadline(s, now);
	}
	if (s->kill_at && now >= s->kill_at) {
		s->kill_at = 0;
		kill_sandbox(s);
		give_up_output(s);
	}
	if (s->give_up_at && now >= s->give_up_at) {
		s->give_up_at = 0;
		give_up_output(s);
	}
	rearm(s);
}

static bool is_stop_signal(int sig)
{
	return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

/* The init is gone.  After a stop signal the command got, its readers get
 * the grace to take the rest, no longer. */
static void on_sandbox_gone(struct supervisor *s)
{
	s->init_reaped = true;
	if (s->stop_forwarded && !s->given_up) {
		s->give_up_at = earliest(s->give_up_at, now_ns() + s->c->opts->kill_grace_ns);
		rearm(s);
	}
}

static void on_signal(struct supervisor *s, int sig)
{
	if (sig == SIGCHLD) {
		pid_t pid = wait4(s->c->init, &s->init_wstatus, WNOHANG, &s->usage);

		if (pid == s->c->init)
			on_sandbox_gone(s);
		return;
	}
	if (sig == SIGWINCH && s->pty >= 0 && s->host_tty.raw)
		sbx_tty_copy_winsize(s->host_tty.fd, s->pty);
	if (s->init_reaped) {
		/* Only output is left: a request to stop ends the waiting for
		 * the reader. */
		if (is_stop_signal(sig))
			give_up_output(s);
		return;
	}
	if (s->started) {
		kill(s->c->init, sig);
		s->stop_forwarded |= is_stop_signal(sig);
		return;
	}
	/* Before the command exists there is nobody to pass it to: a request
	 * to stop ends the run. */
	if (is_stop_signal(sig)) {
		s->interrupted_by = sig;
		kill_sandbox(s);
		give_up_output(s);
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
	s->pty_used = true;
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
	case SBX_MSG_ROOT:
		s->res->root_flags = (unsigned int)msg.wstatus;
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

static void close_pty(struct supervisor *s)
{
	close(s->pty);
	s->pty = -1;
	s->stdin_open = false;
	s->pending_len = 0;
}

/* Take what the sandbox's terminal printed, as much as the buffer holds. */
static void read_pty(struct supervisor *s)
{
	struct pty_output *o = &s->pty_out;
	ssize_t n;

	if (o->len == 0)
		o->start = 0;
	n = read(s->pty, o->buf + o->start + o->len, sizeof(o->buf) - o->start - o->len);
	if (n > 0 && (s->given_up || s->stdout_gone)) {
		s->pty_dropped += (uint64_t)n;
		return;
	}
	if (n > 0)
		o->len += (size_t)n;
	else if (n == 0 || (errno != EAGAIN && errno != EINTR))
		close_pty(s); /* EIO: every holder of the other side is gone */
}

/* Reading appends after what is held; once all is written, the buffer
 * starts over. */
static bool pty_buffer_full(const struct supervisor *s)
{
	return s->pty_out.len > 0 && s->pty_out.start + s->pty_out.len == sizeof(s->pty_out.buf);
}

/* Write one chunk of BUF to FD, which poll said takes data: at most
 * PIPE_BUF, which a pipe with room takes whole; the watchdog bounds a
 * terminal with less room than that.  Returns the bytes taken (0: none for
 * now), -1 when the reader is gone. */
static ssize_t write_chunk(int fd, const char *buf, size_t len)
{
	ssize_t n = sbx_write_bounded(fd, buf, len < PIPE_BUF ? len : PIPE_BUF);

	if (n >= 0)
		return n;
	return errno == EINTR || errno == EAGAIN ? 0 : -1;
}

static void write_pty_output(struct supervisor *s)
{
	struct pty_output *o = &s->pty_out;
	ssize_t n = write_chunk(STDOUT_FILENO, o->buf + o->start, o->len);

	if (n < 0) {
		/* A reader that went away must not stop the sandbox. */
		s->stdout_gone = true;
		s->pty_dropped += o->len;
		o->len = 0;
		return;
	}
	o->start += (size_t)n;
	o->len -= (size_t)n;
}

static void write_relayed(struct sbx_relay *r)
{
	const char *buf;
	size_t due = sbx_relay_pending(r, &buf);
	ssize_t n = due ? write_chunk(r->out_fd, buf, due) : 0;

	if (n < 0)
		sbx_relay_drop(r);
	else
		sbx_relay_sent(r, (size_t)n);
}

static bool relay_due(const struct supervisor *s, const struct sbx_relay *r)
{
	const char *buf;

	return s->relaying && sbx_relay_pending(r, &buf) > 0;
}

static void flush_pending(struct supervisor *s)
{
	ssize_t n = write(s->pty, s->pending, s->pending_len);

	if (n > 0) {
		memmove(s->pending, s->pending + n, s->pending_len - (size_t)n);
		s->pending_len -= (size_t)n;
	} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
		s->pending_len = 0; /* EIO: nobody left to read it */
	}
}

static void pump_stdin(struct supervisor *s)
{
	ssize_t n = sbx_read_bounded(STDIN_FILENO, s->pending, sizeof(s->pending));

	if (n > 0) {
		s->pending_len = (size_t)n;
		flush_pending(s);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		/* End of our input: the sandbox's terminal reads end of file. */
		s->pending[0] = 0x04;
		s->pending_len = 1;
		flush_pending(s);
		s->stdin_open = false;
	}
}

static bool finished(const struct supervisor *s)
{
	return s->init_reaped && !s->sync_open && s->pty < 0 && s->pty_out.len == 0 &&
	       (!s->relaying || (s->out.in_fd < 0 && s->err.in_fd < 0)) &&
	       !relay_due(s, &s->out) && !relay_due(s, &s->err);
}

enum { P_SYNC, P_SIG, P_TIMER, P_OUT, P_ERR, P_PTY, P_STDIN, P_STDOUT, P_STDERR, P_COUNT };

/* Each wake-up does a bounded amount of work, the signals and the timer
 * first: whatever the output does, stop requests and the deadline are
 * seen at once. */
static int loop(struct supervisor *s, struct sbx_error *err)
{
	while (!finished(s)) {
		struct pollfd p[P_COUNT];

		for (int i = 0; i < P_COUNT; i++)
			p[i] = (struct pollfd){ .fd = -1, .events = POLLIN };
		p[P_SYNC].fd = s->sync_open ? s->c->sync_fd : -1;
		p[P_SIG].fd = s->c->sigfd;
		p[P_TIMER].fd = s->timerfd;
		p[P_OUT].fd = s->relaying ? s->out.in_fd : -1;
		p[P_ERR].fd = s->relaying ? s->err.in_fd : -1;
		/* A full buffer leaves the pty unread (not even polled: its
		 * hang-up would wake us in a loop). */
		p[P_PTY].events = (pty_buffer_full(s) ? 0 : POLLIN) | (s->pending_len > 0 ? POLLOUT : 0);
		p[P_PTY].fd = p[P_PTY].events ? s->pty : -1;
		p[P_STDIN].fd = s->stdin_open && s->pending_len == 0 ? STDIN_FILENO : -1;
		p[P_STDOUT].events = p[P_STDERR].events = POLLOUT;
		p[P_STDOUT].fd = s->pty_out.len > 0 || relay_due(s, &s->out) ? STDOUT_FILENO : -1;
		p[P_STDERR].fd = relay_due(s, &s->err) ? STDERR_FILENO : -1;
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
			on_timer(s);
		if (p[P_OUT].revents && sbx_relay_pump(&s->out, err) < 0)
			return -1;
		if (p[P_ERR].revents && sbx_relay_pump(&s->err, err) < 0)
			return -1;
		if (p[P_PTY].revents & POLLOUT)
			flush_pending(s);
		if (s->pty >= 0 && (p[P_PTY].revents & ~POLLOUT))
			read_pty(s);
		if (p[P_STDIN].revents)
			pump_stdin(s);
		if (p[P_STDOUT].revents && s->pty_out.len > 0)
			write_pty_output(s);
		else if (p[P_STDOUT].revents && relay_due(s, &s->out))
			write_relayed(&s->out);
		if (p[P_STDERR].revents && relay_due(s, &s->err))
			write_relayed(&s->err);
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
	r->output_through_sbx = s->relaying || s->pty_used;
	r->output_dropped_bytes = s->pty_dropped;
	r->output_given_up = s->given_up;
	if (s->relaying) {
		r->relayed = true;
		r->stdout_bytes = s->out.total;
		r->stderr_bytes = s->err.total;
		r->stdout_truncated = sbx_relay_truncated(&s->out);
		r->stderr_truncated = sbx_relay_truncated(&s->err);
		r->output_dropped_bytes += sbx_relay_dropped(&s->out) + sbx_relay_dropped(&s->err);
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
	/* Always: a stop signal can bound the wait for readers too. */
	s.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s.timerfd < 0) {
		sbx_fail(err, errno, "timerfd");
		goto out;
	}
	if (c->opts->timeout_ns) {
		s.term_at = (uint64_t)c->started->tv_sec * 1000000000ULL + (uint64_t)c->started->tv_nsec +
			    c->opts->timeout_ns;
		rearm(&s);
	}
	r = loop(&s, err);
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
