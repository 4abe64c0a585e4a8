/* Building and running one sandbox: the ordered setup sequence. */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include "error.h"
#include "options.h"

/* Run OPTS's command in a new sandbox and wait for it.  Returns 0 with
 * *EXIT_STATUS set to the command's status (128+N for a signal N), or -1
 * with ERR saying what failed (its status is 125, 126 or 127). */
int sbx_sandbox_run(const struct sbx_run_options *opts, int *exit_status, struct sbx_error *err);

#endif
