/* The command: its environment and its execution inside the sandbox. */
#ifndef SBX_COMMAND_H
#define SBX_COMMAND_H

#include "error.h"
#include "options.h"

#define SBX_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A clean environment: PATH, HOME, LANG and TERM, then the -e variables
 * (which override those).  HOST_TERM is the caller's TERM, kept only when it
 * is a plausible terminal name.  Returns a malloc'd NULL-terminated array;
 * free it with sbx_env_free. */
int sbx_env_build(const struct sbx_run_options *opts, const char *host_term, char ***out,
		  struct sbx_error *err);
void sbx_env_free(char **env);

/* Execute ARGV with ENVP, looking a bare name up in the PATH of ENVP.
 * Returns only on failure, with ERR's status 127 when the command does not
 * exist and 126 when it exists but cannot be executed.  ORIGIN names what
 * the sandbox was made from ("image NAME:TAG", "rootfs DIR") for the 127
 * message. */
int sbx_exec_command(char *const argv[], char *const envp[], const char *origin, struct sbx_error *err);

#endif
