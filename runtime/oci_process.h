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
 *  - exec, last: rlimits, umask, apparmor, the bounding set, groups and
 *    ids, cwd (as the user, as runc does), the other capability sets
 *    (ambient last), no_new_privs, seccomp, execve.  Without
 *    noNewPrivileges seccomp loads before the ids change: loading a filter
 *    then needs CAP_SYS_ADMIN, which the change takes away.  Returns only
 *    on failure.
 *
 * What only the caller can do: oomScoreAdj needs CAP_SYS_RESOURCE of the
 * initial user namespace to go down, so it is written before the process
 * enters a user namespace of its own (sbx_oci_oom_score_adj). */
#ifndef SBX_OCI_PROCESS_H
#define SBX_OCI_PROCESS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "oci_config.h"
#include "seccomp_filter.h"

struct sbx_oci_prepared {
	struct sbx_seccomp seccomp; /* linux.seccomp; enabled false: absent.  Its H is never set */
	/* run.sbx.profile=hardened: sbx's host-safety filter H and its
	 * `default` profile, stacked on the spec's (host.filter NULL: not
	 * hardened).  H is not loaded otherwise: it refuses set-id modes,
	 * which a container granted CAP_FSETID legitimately makes (dpkg
	 * installing sudo), and the spec's settings are the user's choice. */
	struct sbx_seccomp hardening;
	bool hardened;              /* also: no capabilities, no_new_privs */
	int preserve_fds;           /* fds 3..3+N-1 stay open across execve; the caller sets it */
	char exe[4096];             /* find's result */
};

/* The capability sets exec applies, from the process's and the kernel's
 * last capability: unknown ones dropped (as runc does), all empty when
 * hardened.  Refused: effective or ambient outside what the kernel lets
 * a process hold (effective within permitted; ambient within permitted
 * and inheritable), naming the capability. */
struct sbx_oci_caps {
	uint64_t bounding, effective, inheritable, permitted, ambient;
};
int sbx_oci_caps_plan(const struct sbx_oci_process *p, bool hardened, unsigned int last_cap,
		      struct sbx_oci_caps *out, struct sbx_error *err);

/* Enter containers only from a sealed copy of sbx (runc's CVE-2019-5736:
 * a container binary whose "#!" names /proc/self/exe would otherwise run,
 * and could then overwrite, the host's sbx): unless this process already
 * runs from one, re-exec it (same arguments, environment and fds) from a
 * sealed memfd copy.  Returns 0 when already sealed; does not return on
 * success otherwise.  Call it first thing in a command that forks into a
 * container (create, run, exec). */
int sbx_oci_reexec_sealed(struct sbx_error *err);
bool sbx_oci_running_sealed(void);

/* Write ADJ to /proc/PID/oom_score_adj (PID 0: this process). */
int sbx_oci_oom_score_adj(pid_t pid, int adj, struct sbx_error *err);

/* Resolve NAME as execvp would in PATH_ENV (NULL: execvp's default
 * "/bin:/usr/bin"), relative entries and names from CWD, into OUT.
 * -1 with ERR's status 127 (absent) or 126 (not executable), messages in
 * runc's words. */
int sbx_oci_find_executable(const char *name, const char *path_env, const char *cwd, char *out, size_t len,
			    struct sbx_error *err);

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
