#include "tty.h"

#include <errno.h>
#include <fcntl.h>
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
	if (t->raw) {
		tcsetattr(t->fd, TCSADRAIN, &t->saved);
		t->raw = false;
	}
}

void sbx_tty_copy_winsize(int from, int to)
{
	struct winsize ws;

	if (ioctl(from, TIOCGWINSZ, &ws) == 0)
		ioctl(to, TIOCSWINSZ, &ws);
}
