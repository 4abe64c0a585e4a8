/* sbx as an OCI runtime: the commands podman (through conmon), containerd's
 * runc shim and `ctr --runc-binary` call, with runc's command line.
 *
 * The model is runc's, and daemonless: `create` builds the container and
 * leaves its first process parked before execve, waiting on the exec fifo
 * in the state directory; `create` then exits, and the process is the
 * child of the engine's subreaper (conmon, the shim), which reaps it.
 * `start` opens the fifo, which lets it run.  Every other command reads the
 * state directory: ROOT/ID/ (0700, the caller's) holds state.json, a copy of
 * config.json as created (exec and delete read it, the bundle may change)
 * and, until `start`, exec.fifo.
 *
 * Ownership: oci_cli.c parses the command line and prints (the only place
 * besides main that does); oci_state.c owns the state directory;
 * oci_container.c builds a container (create, start); oci_process.c applies
 * a process's attributes (ids, capabilities, rlimits, seccomp, console),
 * the same for the container's process and an exec's; oci_exec.c enters a
 * running container; oci_hooks.c runs hooks; oci_config.c reads config.json. */
#ifndef SBX_OCI_RUNTIME_H
#define SBX_OCI_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "oci_config.h"

#define SBX_OCI_ID_MAX 1024 /* bytes of a container id; [A-Za-z0-9_+.-], not "." or ".." */

/* Global options, before the command. */
struct sbx_oci_globals {
	const char *root;     /* --root: state; default /run/sbx (root), $XDG_RUNTIME_DIR/sbx */
	const char *log;      /* --log FILE: errors and warnings also go there */
	bool log_json;        /* --log-format json */
	bool debug;           /* --debug */
	bool systemd_cgroup;  /* --systemd-cgroup: cgroupsPath is slice:prefix:name */
	bool rootless;        /* not root in the initial user namespace */
	char *const *argv;    /* the command and its arguments as given (the runsc hand-off
			       * passes them on); NULL-terminated */
};

struct sbx_oci_create_opts {
	const char *id;
	const char *bundle;         /* default "." */
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* NULL: none (needed when process.terminal) */
	int preserve_fds;           /* fds 3..3+N-1 pass to the process */
	/* Where create's warnings go (what it could not enforce, and did not
	 * have to refuse): the CLI prints them and logs them. NULL: dropped. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
};

/* The state a container's directory records (state.json). */
struct sbx_oci_state {
	char id[SBX_OCI_ID_MAX + 1];
	char bundle[4096];          /* absolute */
	pid_t pid;                  /* the container's process, on the host; 0 before it exists */
	unsigned long long pid_start; /* its start time (/proc/PID/stat field 22): against pid reuse */
	char created[40];           /* RFC 3339, UTC */
	uint32_t owner;             /* uid that created it */
	char cgroup[4096];          /* the cgroup sbx made ("" : none) */
	bool cgroup_owned;          /* sbx made it: delete removes it */
	bool own_pid_ns;            /* the container has a pid namespace of its own */
	bool runsc;                 /* handed to gVisor (run.sbx.runtime=runsc) */
	bool runsc_network_none;    /* ... with --network=none, which every runsc command must repeat */
	char runsc_path[4096];      /* ... the runsc create found (an engine's later commands may come
				     * with no PATH) */
};

enum sbx_oci_status {
	SBX_OCI_CREATING,
	SBX_OCI_CREATED,
	SBX_OCI_RUNNING,
	SBX_OCI_STOPPED,
};

/* oci_state.c */
int sbx_oci_valid_id(const char *id, struct sbx_error *err);
/* ROOT/ID opened (O_DIRECTORY, no symbolic link followed, checked: a
 * directory of the caller's, 0700) into *DIRFD; CREATE makes it (EEXIST:
 * "container ID exists").  A missing one: "container ID does not exist". */
int sbx_oci_state_open(const struct sbx_oci_globals *g, const char *id, bool create, int *dirfd,
		       struct sbx_error *err);
int sbx_oci_state_write(int dirfd, const struct sbx_oci_state *st, struct sbx_error *err);
int sbx_oci_state_read(int dirfd, struct sbx_oci_state *st, struct sbx_error *err);
/* The container's status now: its process alive (same pid and start time)
 * and exec.fifo present: created; alive: running; else stopped. */
enum sbx_oci_status sbx_oci_status(int dirfd, const struct sbx_oci_state *st);
const char *sbx_oci_status_name(enum sbx_oci_status s);
/* The saved config.json of the container. */
int sbx_oci_state_config(int dirfd, struct sbx_oci_config *cfg, struct sbx_error *err);
/* Remove the state directory ROOT/ID and what it holds. */
int sbx_oci_state_remove(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err);
/* Exclusive lock on the container (flock on its directory), released at close. */
int sbx_oci_state_lock(int dirfd, struct sbx_error *err);
/* ROOT (--root or the default) into OUT. */
int sbx_oci_default_root(const struct sbx_oci_globals *g, char *out, size_t len, struct sbx_error *err);
/* ROOT opened and checked (the caller's, nobody else may write, not a
 * symbolic link); CREATE makes it 0700 when missing. */
int sbx_oci_root_open(const struct sbx_oci_globals *g, bool create, int *rootfd, struct sbx_error *err);
/* /proc/PID/stat's state letter and start time (field 22); -1: no such process. */
int sbx_oci_proc_stat(pid_t pid, char *state, unsigned long long *start);
/* Now, in RFC 3339 with nanoseconds, UTC (state's created, the log's time). */
void sbx_oci_now(char *out, size_t len);
/* PID is the process that started at START and has not finished (a zombie has). */
bool sbx_oci_pid_alive(pid_t pid, unsigned long long start);
/* The host pids of the container's processes (malloc'd; none when its
 * process is gone): the members of its pid namespace and of those below
 * it; without a pid namespace of its own, those of its cgroup, or only its
 * process when it has neither. */
int sbx_oci_container_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n, struct sbx_error *err);

/* oci_cgroup.c (the lead's; oci_state.c has weak stand-ins until it
 * lands): delete: remove the cgroup ST records; the host pids in it. */
int sbx_oci_cgroup_remove(const struct sbx_oci_state *st, struct sbx_error *err);
int sbx_oci_cgroup_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n, struct sbx_error *err);

/* oci_container.c */
int sbx_oci_create(const struct sbx_oci_globals *g, const struct sbx_oci_create_opts *o,
		   struct sbx_error *err);
/* 1: started, and a poststart hook failed (ERR says which: a warning). */
int sbx_oci_start(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err);

/* oci_exec.c: `exec` (oci_cli.c parses its options; runc's names). */
struct sbx_oci_exec_opts {
	const char *id;
	const char *process;          /* --process FILE: the process (runtime-spec schema) */
	char **args;                  /* or the command and its args (NULL-terminated) */
	const char *cwd;              /* --cwd */
	const char *user;             /* --user UID[:GID] */
	const char **env;             /* --env K=V..., NULL-terminated (NULL: none) */
	size_t n_env;
	const char **additional_gids; /* --additional-gids GID... */
	size_t n_additional_gids;
	const char **caps;            /* --cap CAP_...: added to the process's */
	size_t n_caps;
	bool tty, detach, no_new_privs;
	const char *pid_file, *console_socket;
	const char *process_label, *apparmor;
	int preserve_fds;
};
/* Without --detach: wait, and the process's exit status in *STATUS. */
int sbx_oci_exec(const struct sbx_oci_globals *g, const struct sbx_oci_exec_opts *o, int *status,
		 struct sbx_error *err);

/* oci_cli.c: runc's command line (ARGV after "sbx"); returns the exit
 * status.  wants: whether ARGV is an OCI runtime invocation (global
 * options, a runtime command, or `run` with --bundle). */
int sbx_oci_cli(int argc, char *argv[]);
bool sbx_oci_cli_wants(int argc, char *argv[]);
/* "TERM", "SIGTERM", "term" or "15". */
int sbx_oci_parse_signal(const char *s, int *out, struct sbx_error *err);

/* oci_hooks.c: run the hooks of KIND in order, each with the state JSON
 * on its stdin, outside the container; the first failure is the error.
 * Which failures stop what is the runtime spec's: a prestart,
 * createRuntime, createContainer or startContainer hook that fails stops
 * the rest (and the caller fails the container); after a poststart or
 * poststop hook that fails the others still run, and the first failure
 * comes back for the caller to log as a warning. */
int sbx_oci_run_hooks(const struct sbx_oci_config *cfg, enum sbx_oci_hook_kind kind,
		      const struct sbx_oci_state *st, enum sbx_oci_status status, struct sbx_error *err);
/* The runtime-spec state JSON of ST (malloc'd). */
int sbx_oci_state_json(const struct sbx_oci_state *st, enum sbx_oci_status status,
		       const struct sbx_oci_config *cfg, char **out, struct sbx_error *err);

#endif
