/* sbx's side of a running sandbox: it relays output and the terminal,
 * passes signals on, enforces the timeout, and collects how the run ended. */
#ifndef SBX_SUPERVISE_H
#define SBX_SUPERVISE_H

#include <signal.h>
#include <sys/types.h>

#include "error.h"
#include "options.h"
#include "result.h"

/* Block the signals sbx handles through a signalfd, before the sandbox is
 * created so none is lost; returns the signalfd. */
int sbx_supervise_signals(struct sbx_error *err);

struct sbx_supervise_config {
	const struct sbx_run_options *opts;
	pid_t init;
	int sync_fd;
	int sigfd;
	int stdout_pipe; /* read ends, -1 when not relayed; owned by sbx_supervise */
	int stderr_pipe;
	const struct timespec *started; /* CLOCK_MONOTONIC at creation */
};

/* Run until the sandbox is gone; fills RES.  Returns -1 only when sbx
 * itself can no longer supervise (the sandbox is killed then). */
int sbx_supervise(const struct sbx_supervise_config *c, struct sbx_result *res,
		  struct sbx_error *err);

#endif
