/* `sbx exec`: a new process in a created or running container (podman
 * exec, kubectl exec through the shims).
 *
 * sbx opens the container's namespaces (/proc/PID/ns/..., the pid checked
 * against its recorded start time), forks a child that joins them (the
 * user namespace first when the container has one of its own, the mount
 * namespace last) and forks again into the container's pid namespace; that
 * grandchild applies the process (oci_process.c: the container's seccomp
 * from its saved config.json, its capabilities unless the process says
 * otherwise) and execs.  Without --detach sbx waits for it (it is
 * re-parented to sbx, a subreaper) and returns its status, 128+N for a
 * signal N; with --detach it writes the pid file and returns at once, and
 * the process is re-parented to the caller's subreaper (conmon, the shim).
 * Every host fd but stdio, the preserved ones and the console socket is
 * closed or close-on-exec, and the children are not dumpable until the
 * execve: a process of the container can neither ptrace them nor open
 * their /proc files. */
#ifndef SBX_OCI_EXEC_H
#define SBX_OCI_EXEC_H

#include <stdbool.h>

#include "error.h"
#include "oci_runtime.h"

/* runc's options (oci_cli.c parses them; the same fields as oci_cli.c's
 * first draft of this struct in oci_runtime.h). */
struct sbx_oci_exec_opts {
	const char *id;
	const char *process;          /* --process FILE: a runtime-spec process object (NULL: ARGS) */
	char **args;                  /* or the command and its args (NULL-terminated) */
	const char *cwd;              /* --cwd DIR (NULL: the container's) */
	const char *user;             /* --user UID[:GID] (NULL: the container's user; GID: 0) */
	const char **env;             /* --env K=V...: in place of the container's variable of that
				       * name, or added */
	size_t n_env;
	const char **additional_gids; /* --additional-gids GID...: added to the container's */
	size_t n_additional_gids;
	const char **caps;            /* --cap CAP_X...: added to the bounding, effective and
				       * permitted sets of the container's process */
	size_t n_caps;
	bool tty;                     /* --tty/-t: a pty, its master over CONSOLE_SOCKET */
	bool detach;                  /* --detach/-d */
	bool no_new_privs;            /* --no-new-privs: set, whatever the container's process says */
	const char *pid_file;         /* --pid-file: the process's pid, once it runs */
	const char *console_socket;   /* --console-socket PATH (--tty needs it) */
	const char *process_label;    /* --process-label: refused (no SELinux in sbx) */
	const char *apparmor;         /* --apparmor PROFILE: in place of the container's */
	int preserve_fds;             /* --preserve-fds N: fds 3..3+N-1 pass to the process */
};

/* The process's wait status as an exit status into *EXIT_STATUS (0 with
 * --detach).  Fails on a missing, stopped or unknown container, an option
 * the process cannot have, or any step of the setup: ERR's status is 127 or
 * 126 when the executable is missing or not executable. */
int sbx_oci_exec(const struct sbx_oci_globals *g, const struct sbx_oci_exec_opts *o, int *exit_status,
		 struct sbx_error *err);

#endif
