/* The seam between what every sandbox shares and the backend that builds
 * it.
 *
 * sandbox.c owns the shared part, in order: the description (spec.h), the
 * choice of backend, what sbx resolves and decides before any child exists
 * (sources, id maps, seccomp, limits and the cgroup), then the lifecycle
 * around a handle: create (the backend's child exists, parked before the
 * command), start (one message: go), wait (supervise.c, the same for both:
 * the child of either backend speaks sync.h's protocol), and the result.
 * A backend only creates: native (sandbox.c) or runsc (runsc.c). */
#ifndef SBX_BACKEND_H
#define SBX_BACKEND_H

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "cgroup.h"
#include "error.h"
#include "idmap.h"
#include "layout.h"
#include "limit_policy.h"
#include "options.h"
#include "result.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "tty.h"

struct sandbox {
	const struct sbx_run_options *opts;
	struct sbx_spec spec;
	enum sbx_runtime runtime; /* the backend chosen: native or runsc */
	char runtime_reason[512];
	char runsc_path[4096];    /* runsc: the binary found on PATH */
	char *runsc_config;       /* runsc: config.json, made in sbx (the profile is read here) */
	char command_origin[4096 + 16]; /* runsc: "image NAME" or "rootfs PATH", for a 127 */
	char command_name[256];         /* runsc: args[0], kept for a 126/127 */
	int console_listen;       /* runsc, in its child: the console socket */
	char runsc_id[48];        /* runsc: the container's id, unique on the host (runsc names its
				   * control socket, an abstract one, after it) */
	struct sbx_idplan ids;
	struct sbx_sources src;
	bool sources_in_child; /* rootless: only the child may clone mounts */
	struct sbx_etc_files etc;
	struct sbx_caller_ttys caller_ttys; /* without a pty: restored at the end */
	int sync_fd;     /* the child's end, in the child */
	int out_pipe[2]; /* the command's stdout and stderr, when relayed */
	int err_pipe[2];
	struct sbx_seccomp seccomp; /* compiled here, loaded by the command */
	int landlock_abi;
	const char *writable[SBX_MAX_MOUNTS + 4]; /* where Landlock lets it write */
	size_t n_writable;
	struct sbx_cgroup cg;          /* sbx's, never the child's */
	struct sbx_limits_plan limits; /* the child applies its rlimits */
	/* The handle of the created sandbox. */
	pid_t child;
	int parent_fd; /* sbx's end of the sync socket */
	int sigfd;
	bool in_cgroup;
	struct timespec started;
	/* Native, network none: the namespace is made beside the setup
	 * (net.h); sbx's end [0], the child's [1], and the maker. */
	int netns_sock[2];
	pid_t netns_maker;
	bool stdio_reopened[2]; /* runsc: stdout, stderr opened again to append */
};

/* The child's first steps, the same under both backends: tie its life to
 * sbx's, wait for the id maps, take the setup ids. */
int sbx_child_begin(const struct sandbox *sb, struct sbx_error *err);

/* Tie the calling child's life to sbx's again (after a credential change). */
int sbx_die_with_parent(int sync_fd, struct sbx_error *err);

/* The runsc backend's part of the preparation, in sbx: config.json. */
int sbx_runsc_prepare(struct sandbox *sb, struct sbx_error *err);

/* Once the sources are resolved and the id maps decided: what runsc
 * cannot do with them (an error), and the ids its gofer needs. */
int sbx_runsc_fit_sources(struct sandbox *sb, int64_t ws_gid, struct sbx_error *err);

/* The runsc backend's stdout and stderr when they are files (see
 * runsc.c), in the write ends of out_pipe and err_pipe. */
void sbx_runsc_prepare_stdio(struct sandbox *sb);
/* ... and, once the run is over, the caller's own offsets at their end. */
void sbx_runsc_end_stdio(const struct sandbox *sb);

/* The runsc backend's child: sets up the bundle and runs runsc as the
 * sandbox's init would run the command.  Returns only on failure. */
int sbx_runsc_setup(struct sandbox *sb, struct sbx_error *err);

/* The layers the runsc backend applied, for the JSON result. */
void sbx_runsc_record_layers(const struct sandbox *sb, struct sbx_result *res);

#endif
