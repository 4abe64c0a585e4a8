/* A process's attributes as the runtime spec gives them, applied the same
 * way to the container's process (oci_container.c) and to an exec's
 * (oci_exec.c).
 *
 * Split by where each part must run:
 *  - prepare, in sbx before the process exists: compile the seccomp
 *    filter (libseccomp allocates; the child only loads BPF);
 *  - console, in the process once its /dev is the container's: a pty from
 *    the container's /dev/ptmx, the master sent over the console socket
 *    (SCM_RIGHTS, as runc does), the slave its controlling terminal and
 *    stdio;
 *  - find, before the process is told to go: the executable resolved in
 *    the container's PATH, so that "not found" fails create (127), not the
 *    start that follows;
 *  - exec, last: rlimits, umask, apparmor, groups and ids, capabilities
 *    (bounding, then the rest, ambient last), no_new_privs, seccomp, cwd,
 *    execve.  Returns only on failure. */
#ifndef SBX_OCI_PROCESS_H
#define SBX_OCI_PROCESS_H

#include <stdbool.h>

#include "error.h"
#include "oci_config.h"
#include "seccomp_filter.h"

struct sbx_oci_prepared {
	struct sbx_seccomp seccomp; /* enabled false: linux.seccomp absent */
	bool hardened;              /* run.sbx.profile=hardened: sbx's defaults on top */
	char exe[4096];             /* find's result */
};

/* SECCOMP_TEXT: the container's linux.seccomp as profile text, or NULL. */
int sbx_oci_process_prepare(const struct sbx_oci_process *p, const char *seccomp_text, bool hardened,
			    struct sbx_oci_prepared *out, struct sbx_error *err);
void sbx_oci_prepared_free(struct sbx_oci_prepared *pp);

/* process.terminal: make the pty, send its master over CONSOLE_SOCKET (a
 * connected unix socket fd), take the slave as stdio. */
int sbx_oci_process_console(const struct sbx_oci_process *p, int console_socket, struct sbx_error *err);

/* Resolve args[0] in the process's PATH (from env) into PP->exe: 127 when
 * absent, 126 when not executable. */
int sbx_oci_process_find(const struct sbx_oci_process *p, struct sbx_oci_prepared *pp, struct sbx_error *err);

/* The last steps, then execve(PP->exe).  Returns only on failure. */
int sbx_oci_process_exec(const struct sbx_oci_process *p, const struct sbx_oci_prepared *pp,
			 struct sbx_error *err);

#endif
