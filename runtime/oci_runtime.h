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

/* oci_container.c */
int sbx_oci_create(const struct sbx_oci_globals *g, const struct sbx_oci_create_opts *o,
		   struct sbx_error *err);
int sbx_oci_start(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err);

/* oci_hooks.c: run the hooks of KIND in order, each with the state JSON
 * on its stdin, outside the container; the first failure is the error. */
int sbx_oci_run_hooks(const struct sbx_oci_config *cfg, enum sbx_oci_hook_kind kind,
		      const struct sbx_oci_state *st, enum sbx_oci_status status, struct sbx_error *err);
/* The runtime-spec state JSON of ST (malloc'd). */
int sbx_oci_state_json(const struct sbx_oci_state *st, enum sbx_oci_status status,
		       const struct sbx_oci_config *cfg, char **out, struct sbx_error *err);

#endif
