/* Building and running one sandbox: the ordered setup sequence. */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include "error.h"
#include "options.h"

#include "result.h"

/* Run OPTS's command in a new sandbox, supervise it to the end and fill
 * RES with how it ended.  Returns the status sbx should exit with: the
 * command's own, 128+N for a signal N, 124 on timeout, or 125, 126, 127
 * with RES->error saying what failed. */
int sbx_sandbox_run(const struct sbx_run_options *opts, struct sbx_result *res);

#endif
