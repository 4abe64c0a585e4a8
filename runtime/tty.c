#include "tty.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"


int sbx_pty_open(int *master, int *slave, struct sbx_error *err)
{
	cleanup_close int m = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	int unlock = 0;
	int s;

	if (m < 0)
		return sbx_fail(err, errno, "opening the sandbox's /dev/pts/ptmx");
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return sbx_fail(err, errno, "unlocking the sandbox's pty");
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return sbx_fail(err, errno, "opening the sandbox's pty peer");
	*master = sbx_steal_fd(&m);
	*slave = s;
	return 0;
}

int sbx_pty_make_controlling(int slave, struct sbx_error *err)
{
	if (ioctl(slave, TIOCSCTTY, 0) < 0)
		return sbx_fail(err, errno, "making the pty the controlling terminal");
	for (int fd = 0; fd < 3; fd++)
		if (dup2(slave, fd) < 0)
			return sbx_fail(err, errno, "attaching the pty to stdio");
	return 0;
}

int sbx_host_tty_raw(struct sbx_host_tty *t, int fd, struct sbx_error *err)
{
	struct termios raw;

	t->fd = fd;
	t->raw = false;
	if (tcgetattr(fd, &t->saved) < 0)
		return sbx_fail(err, errno, "reading the terminal's settings");
	raw = t->saved;
	cfmakeraw(&raw);
	if (tcsetattr(fd, TCSADRAIN, &raw) < 0)
		return sbx_fail(err, errno, "putting the terminal in raw mode");
	t->raw = true;
	return 0;
}

void sbx_host_tty_restore(struct sbx_host_tty *t)
{
	/* TCSANOW: waiting for the output to drain would wait on a terminal
	 * nobody reads. */
	if (t->raw) {
		tcsetattr(t->fd, TCSANOW, &t->saved);
		t->raw = false;
	}
}

void sbx_caller_ttys_save(struct sbx_caller_ttys *c)
{
	c->n = 0;
	for (int fd = 0; fd < 3; fd++) {
		struct sbx_caller_tty *t = &c->t[c->n];

		t->fd = fd;
		if (isatty(fd) && tcgetattr(fd, &t->saved) == 0 && ioctl(fd, TIOCGEXCL, &t->exclusive) == 0)
			c->n++;
	}
}

static bool same_settings(const struct termios *a, const struct termios *b)
{
	return a->c_iflag == b->c_iflag && a->c_oflag == b->c_oflag && a->c_cflag == b->c_cflag &&
	       a->c_lflag == b->c_lflag && memcmp(a->c_cc, b->c_cc, sizeof(a->c_cc)) == 0 &&
	       cfgetispeed(a) == cfgetispeed(b) && cfgetospeed(a) == cfgetospeed(b);
}

void sbx_caller_ttys_restore(struct sbx_caller_ttys *c)
{
	sigset_t ttou, old;

	/* sbx may run in the background (the sandbox, in a session of its
	 * own, was never stopped for changing the terminal): with SIGTTOU
	 * blocked the kernel lets a background process set it back. */
	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	for (size_t i = 0; i < c->n; i++) {
		struct termios now;

		int exclusive;

		if (tcgetattr(c->t[i].fd, &now) == 0 && !same_settings(&now, &c->t[i].saved))
			tcsetattr(c->t[i].fd, TCSANOW, &c->t[i].saved);
		tcflow(c->t[i].fd, TCOON);
		if (ioctl(c->t[i].fd, TIOCGEXCL, &exclusive) == 0 && exclusive != c->t[i].exclusive)
			ioctl(c->t[i].fd, c->t[i].exclusive ? TIOCEXCL : TIOCNXCL);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	c->n = 0;
}

void sbx_tty_copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}
