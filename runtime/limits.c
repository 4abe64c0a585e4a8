#include "limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cgroup.h"

const char *sbx_enforcer_name(enum sbx_enforcer e)
{
	switch (e) {
	case SBX_ENFORCER_CGROUP:
		return "cgroup-v2";
	case SBX_ENFORCER_RLIMIT:
		return "rlimit";
	case SBX_ENFORCER_NONE:
		break;
	}
	return "none";
}

bool sbx_limits_nproc_private(enum sbx_idmap_writer writer, uint32_t host_uid, int64_t ws_uid)
{
	/* Only root mode maps the sandbox user into a range no one else
	 * uses; rootless, the sandbox user is the caller.  A workspace's
	 * owner runs processes of their own.  Host uid 0 is never limited by
	 * the kernel anyway. */
	return writer == SBX_IDMAP_DIRECT && host_uid != 0 && (int64_t)host_uid != ws_uid;
}

void sbx_limits_plan_make(const struct sbx_limits *l, unsigned int cg, bool nproc_private,
			  struct sbx_limits_plan *plan)
{
	plan->memory = !l->memory_bytes ? SBX_ENFORCER_NONE
		       : (cg & SBX_CG_MEMORY) ? SBX_ENFORCER_CGROUP : SBX_ENFORCER_RLIMIT;
	plan->cpus = !l->cpu_millis ? SBX_ENFORCER_NONE
		     : (cg & SBX_CG_CPU) ? SBX_ENFORCER_CGROUP : SBX_ENFORCER_NONE;
	plan->pids = !l->pids ? SBX_ENFORCER_NONE
		     : (cg & SBX_CG_PIDS) ? SBX_ENFORCER_CGROUP
		     : nproc_private ? SBX_ENFORCER_RLIMIT : SBX_ENFORCER_NONE;
}

static void append(char *out, size_t len, const char *fmt, const char *a, const char *b)
{
	size_t n = strlen(out);

	if (n < len)
		snprintf(out + n, len - n, fmt, n ? "; " : "", a, b);
}

static void format_memory(uint64_t bytes, char *buf, size_t len)
{
	if (bytes % (1ULL << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "g", bytes >> 30);
	else if (bytes % (1ULL << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "m", bytes >> 20);
	else
		snprintf(buf, len, "%" PRIu64, bytes);
}

void sbx_limits_describe_weaker(const struct sbx_limits *l, const struct sbx_limits_plan *plan,
				bool given, char *out, size_t len)
{
	char value[32];

	out[0] = '\0';
	if (l->memory_bytes && l->memory_given == given && plan->memory != SBX_ENFORCER_CGROUP) {
		format_memory(l->memory_bytes, value, sizeof(value));
		append(out, len, plan->memory == SBX_ENFORCER_RLIMIT
			   ? "%s--memory %s per process only (RLIMIT_DATA%s), not for the sandbox as a whole"
			   : "%s--memory %s not enforced%s", value, "");
	}
	if (l->cpu_millis && l->cpus_given == given && plan->cpus != SBX_ENFORCER_CGROUP) {
		snprintf(value, sizeof(value), "%" PRIu64 ".%03" PRIu64, l->cpu_millis / 1000, l->cpu_millis % 1000);
		append(out, len, "%s--cpus %s not enforced%s (no rlimit sets a rate; --timeout bounds the wall clock)",
		       value, "");
	}
	if (l->pids && l->pids_given == given && plan->pids != SBX_ENFORCER_CGROUP) {
		snprintf(value, sizeof(value), "%" PRIu64, l->pids);
		append(out, len, plan->pids == SBX_ENFORCER_RLIMIT
			   ? "%s--pids %s held by RLIMIT_NPROC%s (threads count too)"
			   : "%s--pids %s not enforced%s (RLIMIT_NPROC would count processes of a host uid "
			     "the sandbox shares)", value, "");
	}
}

int sbx_limits_check_required(const struct sbx_limits *l, const struct sbx_limits_plan *plan, const char *why,
			      struct sbx_error *err)
{
	char missing[128] = "";

	if (!l->required)
		return 0;
	if (l->memory_bytes && plan->memory != SBX_ENFORCER_CGROUP)
		append(missing, sizeof(missing), "%s%s%s", "memory", "");
	if (l->cpu_millis && plan->cpus != SBX_ENFORCER_CGROUP)
		append(missing, sizeof(missing), "%s%s%s", "cpus", "");
	if (l->pids && plan->pids != SBX_ENFORCER_CGROUP)
		append(missing, sizeof(missing), "%s%s%s", "pids", "");
	if (missing[0] == '\0')
		return 0;
	for (char *p = missing; (p = strchr(p, ';')) != NULL;)
		*p = ',';
	sbx_fail(err, 0, "--require-limits: no cgroup v2 can hold the %s limit%s here", missing,
		 strchr(missing, ',') ? "s" : "");
	return sbx_error_hint(err, "%s (or give --memory 0 / --pids 0 / no --cpus for a limit you do "
				   "not need; sbx check says what this host offers)",
			      why && why[0] ? why : "this host offers no cgroup v2 sbx may use");
}

static int set_limit(int resource, const char *name, uint64_t value, struct sbx_error *err)
{
	struct rlimit rl = { .rlim_cur = value, .rlim_max = value };

	if (setrlimit(resource, &rl) < 0)
		return sbx_fail(err, errno, "setting %s to %" PRIu64, name, value);
	return 0;
}

int sbx_limits_apply_rlimits(const struct sbx_limits *l, const struct sbx_limits_plan *plan,
			     struct sbx_error *err)
{
	if (plan->memory == SBX_ENFORCER_RLIMIT && set_limit(RLIMIT_DATA, "RLIMIT_DATA", l->memory_bytes, err) < 0)
		return -1;
	if (plan->pids == SBX_ENFORCER_RLIMIT && set_limit(RLIMIT_NPROC, "RLIMIT_NPROC", l->pids, err) < 0)
		return -1;
	return 0;
}
