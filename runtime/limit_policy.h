/* Which mechanism holds each resource limit, and what sbx says about it.
 *
 * A cgroup v2 (see cgroup.h) holds the whole sandbox.  Where the host
 * offers none, rlimits do what they can, per process:
 *  - memory: RLIMIT_DATA (private writable memory: heap and anonymous
 *    mappings), not RLIMIT_AS, which also counts address space reserved
 *    but never used and so breaks runtimes that reserve big (Go, the JVM,
 *    V8, sanitizers);
 *  - pids: RLIMIT_NPROC, only where the sandbox user's host uid belongs to
 *    the sandbox alone (root mode with sbx's range); elsewhere it would
 *    count the caller's own processes too, so the limit is not enforced;
 *  - cpus: nothing: --cpus is a rate, RLIMIT_CPU a per-process budget of
 *    seconds; the wall-clock bound is --timeout.
 * The plan is pure data, decided before the clone; the child applies the
 * rlimits in it. */
#ifndef SBX_LIMIT_POLICY_H
#define SBX_LIMIT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "idmap.h"
#include "options.h"

enum sbx_enforcer {
	SBX_ENFORCER_NONE,
	SBX_ENFORCER_CGROUP,
	SBX_ENFORCER_RLIMIT,
};

struct sbx_limits_plan {
	enum sbx_enforcer memory;
	enum sbx_enforcer cpus;
	enum sbx_enforcer pids;
};

/* "none", "cgroup-v2", "rlimit": the JSON's words. */
const char *sbx_enforcer_name(enum sbx_enforcer e);

/* Whether RLIMIT_NPROC counts the sandbox's processes only: the sandbox
 * user maps to host uid HOST_UID, ids written by WRITER, the workspace
 * owned by WS_UID (-1: none). */
bool sbx_limits_nproc_private(enum sbx_idmap_writer writer, uint32_t host_uid, int64_t ws_uid);

/* Decide the plan for LIMITS: CGROUP_CONTROLLERS (SBX_CG_*) are those
 * the sandbox's cgroup sets. */
void sbx_limits_plan_make(const struct sbx_limits *limits, unsigned int cgroup_controllers,
			  bool nproc_private, struct sbx_limits_plan *plan);

/* --require-limits: -1 with ERR naming each limit in force that no cgroup
 * holds, and WHY (the host's reason and remedy), when there is one. */
int sbx_limits_check_required(const struct sbx_limits *limits, const struct sbx_limits_plan *plan,
			      const char *why, struct sbx_error *err);

/* The limits in force that no cgroup holds, as one phrase in OUT of LEN
 * bytes ("" when there is none): with GIVEN those set on the command line
 * (said on stderr), without it the defaults (said with -v only). */
void sbx_limits_describe_weaker(const struct sbx_limits *limits, const struct sbx_limits_plan *plan,
				bool given, char *out, size_t len);

/* In the sandbox, before the command: the rlimits of PLAN. */
int sbx_limits_apply_rlimits(const struct sbx_limits *limits, const struct sbx_limits_plan *plan,
			     struct sbx_error *err);

#endif
