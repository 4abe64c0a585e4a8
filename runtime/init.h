/* sbx's init: pid 1 of the sandbox.  It starts the command (pid 2) in a
 * new session, forwards the signals sbx passes on, reaps every orphan, and
 * ends with the command, reporting its wait status to sbx.  Its death
 * takes the whole pid namespace along. */
#ifndef SBX_INIT_H
#define SBX_INIT_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "seccomp_filter.h"

/* Sent by sbx at the timeout: the init then sends SIGTERM to every process
 * of the sandbox. */
#define SBX_SIG_TERMINATE_ALL SIGRTMIN

struct sbx_init_config {
	char *const *argv; /* points into sbx's own argument area */
	char *const *env;
	const char *cwd;
	const char *image;  /* the image's NAME:TAG, or NULL with --rootfs */
	const char *rootfs; /* for messages: what the command was looked for in */
	int sync_fd;
	int stdout_fd; /* pipe to sbx, or -1 to keep sbx's stdout */
	int stderr_fd;
	bool pty;
	/* Applied by the command right before execve, in this order. */
	int landlock_abi; /* 0: none */
	const char *const *writable;
	size_t n_writable;
	const struct sbx_seccomp *seccomp;
	/* A backend whose "command" is another runtime (runsc): how sbx's
	 * signals reach the real command, and what the runtime's exit
	 * status means.  NULL: kill(2), and the status as it is. */
	void (*forward_signal)(const struct sbx_init_config *c, pid_t command, int sig);
	/* The wait status to report, or -1 with ERR (reported as an error). */
	int (*final_status)(const struct sbx_init_config *c, int wstatus, struct sbx_error *err);
	/* Once the command runs: a terminal the runtime made (runsc's
	 * console), passed to sbx as the pty; -1 for none. */
	int (*console)(const struct sbx_init_config *c, pid_t command, struct sbx_error *err);
	const void *backend; /* for the three above */
};

/* The signals sbx forwards to the command through the init. */
extern const int sbx_forwarded_signals[7];

/* Whether a signal the init received was sent by sbx (and not forged by a
 * process of the sandbox). */
bool sbx_init_signal_from_sbx(const siginfo_t *info);

/* Park until sbx says start (its end closing: exit). */
int sbx_init_wait_for_start(int sync_fd, struct sbx_error *err);

/* Become the init and run the command; returns only on failure before the
 * command was started. */
int sbx_init_run(const struct sbx_init_config *c, struct sbx_error *err);

#endif
