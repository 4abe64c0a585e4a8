/* Terminals.  Interactive runs get a pseudo-terminal of the sandbox's own
 * devpts instance; sbx relays between it and the user's terminal, which is
 * never handed to the sandbox (TIOCSTI on it would type into the user's
 * shell). */
#ifndef SBX_TTY_H
#define SBX_TTY_H

#include <stdbool.h>
#include <termios.h>

#include "error.h"

/* Inside the sandbox: open a pty pair on /dev/pts/ptmx.  The peer comes from
 * TIOCGPTPEER, never by opening a path an image could have replaced. */
int sbx_pty_open(int *master, int *slave, struct sbx_error *err);

/* Make SLAVE the controlling terminal and stdio of this (new-session)
 * process. */
int sbx_pty_make_controlling(int slave, struct sbx_error *err);

/* The user's terminal, saved on entry to raw mode and restored on exit. */
struct sbx_host_tty {
	int fd;
	bool raw;
	struct termios saved;
};

int sbx_host_tty_raw(struct sbx_host_tty *t, int fd, struct sbx_error *err);
void sbx_host_tty_restore(struct sbx_host_tty *t);

/* Without a pty of its own the command gets the caller's stdio, and with
 * it any terminal among them: it can change its modes (stty -echo) or stop
 * its output (tcflow), though not push input (TIOCSTI wants the terminal to
 * be the caller's controlling one, which it never is in the sandbox's new
 * session).  Their settings (and exclusive mode) are saved before the sandbox exists and put
 * back when it is gone, however the run ends short of SIGKILL to sbx. */
struct sbx_caller_tty {
	int fd;
	struct termios saved;
	int exclusive; /* TIOCEXCL would keep everyone else from opening it */
};

struct sbx_caller_ttys {
	size_t n;
	struct sbx_caller_tty t[3];
};

void sbx_caller_ttys_save(struct sbx_caller_ttys *c);
void sbx_caller_ttys_restore(struct sbx_caller_ttys *c);

/* Copy the window size of FROM to TO (the pty's master sends SIGWINCH to
 * the sandbox's foreground job). */
void sbx_tty_copy_winsize(int from, int to);

#endif
