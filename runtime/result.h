/* How a run ended, and its JSON form (--json / --json-fd). */
#ifndef SBX_RESULT_H
#define SBX_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "options.h"

#define SBX_MAX_LAYERS 24

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
	bool failed;       /* sbx or the exec failed: ERROR says why */
	struct sbx_error error;
	const char *runtime;
	const char *seccomp_profile; /* NULL: unconfined */
	int landlock_abi;            /* 0: the kernel has none */
	const char *layers[SBX_MAX_LAYERS];
	size_t n_layers;
};

void sbx_result_init(struct sbx_result *r);
void sbx_result_add_layer(struct sbx_result *r, const char *layer);

/* Write R (and the limits of OPTS) as one JSON object and a newline. */
int sbx_result_write_json(int fd, const struct sbx_result *r, const struct sbx_run_options *opts,
			  struct sbx_error *err);

#endif
