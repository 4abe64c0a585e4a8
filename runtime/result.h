/* How a run ended, and its JSON form (--json / --json-fd). */
#ifndef SBX_RESULT_H
#define SBX_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "error.h"
#include "limit_policy.h"
#include "options.h"

#define SBX_MAX_LAYERS 32

struct sbx_result {
	int exit_code;  /* what sbx exits with */
	int signal;     /* the signal that killed the command, or 0 */
	bool timed_out;
	double duration_s;
	double cpu_user_s; /* the whole sandbox: init and every reaped process */
	double cpu_sys_s;
	long max_rss_kib;  /* the largest single process */
	bool relayed;      /* stdout/stderr went through sbx (--output-limit) */
	uint64_t stdout_bytes;
	uint64_t stderr_bytes;
	bool stdout_truncated;
	bool stderr_truncated;
	bool output_through_sbx;       /* relayed, or the sandbox's pty */
	uint64_t output_dropped_bytes; /* kept output never delivered */
	bool output_given_up;          /* dropped at the deadline or a stop */
	bool failed;       /* sbx or the exec failed: ERROR says why */
	struct sbx_error error;
	const char *runtime;         /* the backend: "native" or "runsc" */
	char runtime_reason[512];    /* why that one */
	const char *seccomp_profile; /* NULL: unconfined */
	int landlock_abi;            /* 0: the kernel has none */
	unsigned int root_flags;     /* SBX_ROOT_* the sandbox reported */
	struct sbx_limits_plan limits;   /* what held each limit */
	struct sbx_cgroup_stats cgroup;  /* read from the sandbox's cgroup */
	const char *layers[SBX_MAX_LAYERS];
	size_t n_layers;
};

void sbx_result_init(struct sbx_result *r);
void sbx_result_add_layer(struct sbx_result *r, const char *layer);

/* Where the result goes, opened before the sandbox exists so that a bad
 * target fails at once.  --json-fd N: a close-on-exec copy of N above 2.
 * --json FILE: a regular file of the caller's with one name, reached
 * through no symbolic link, truncated only once checked. */
int sbx_result_json_fd(int fd, struct sbx_error *err);
int sbx_result_open_json_file(const char *path, struct sbx_error *err);

/* Write R (and the limits of OPTS) as one JSON object and a newline. */
int sbx_result_write_json(int fd, const struct sbx_result *r, const struct sbx_run_options *opts,
			  struct sbx_error *err);

#endif
