#include "limit_policy.h"

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

/* Add ITEM to the list in OUT: "a", "a and b", "a, b and c". */
static void list_add(char *out, size_t len, int *count, const char *item)
{
	size_t n = strlen(out);

	if (*count >= 2) {
		/* "a and b" becomes "a, b and ..." */
		char *and = strstr(out, " and ");

		if (and != NULL) {
			memmove(and + 2, and + 5, strlen(and + 5) + 1);
			memcpy(and, ", ", 2);
			n = strlen(out);
		}
	}
	if (n < len)
		snprintf(out + n, len - n, "%s%s", *count ? " and " : "", item);
	(*count)++;
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

static void format_cpus(uint64_t millis, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, millis / 1000, millis % 1000);

	while (n > 1 && buf[n - 1] == '0')
		buf[--n] = '\0';
	if (n > 1 && buf[n - 1] == '.')
		buf[--n] = '\0';
}

void sbx_limits_describe_weaker(const struct sbx_limits *l, const struct sbx_limits_plan *plan,
				bool given, char *out, size_t len)
{
	char value[32], item[160];
	int count = 0;

	out[0] = '\0';
	if (l->memory_bytes && l->memory_given == given && plan->memory != SBX_ENFORCER_CGROUP) {
		format_memory(l->memory_bytes, value, sizeof(value));
		snprintf(item, sizeof(item), plan->memory == SBX_ENFORCER_RLIMIT
			 ? "--memory %s holds per process only (RLIMIT_DATA)" : "--memory %s is not enforced", value);
		list_add(out, len, &count, item);
	}
	if (l->cpu_millis && l->cpus_given == given && plan->cpus != SBX_ENFORCER_CGROUP) {
		format_cpus(l->cpu_millis, value, sizeof(value));
		snprintf(item, sizeof(item), "--cpus %s is not enforced (no rlimit sets a rate)", value);
		list_add(out, len, &count, item);
	}
	if (l->pids && l->pids_given == given && plan->pids != SBX_ENFORCER_CGROUP) {
		snprintf(item, sizeof(item), plan->pids == SBX_ENFORCER_RLIMIT
			 ? "--pids %" PRIu64 " holds by RLIMIT_NPROC of the sandbox's own uid"
			 : "--pids %" PRIu64 " is not enforced (RLIMIT_NPROC would count the processes of a uid "
			   "the sandbox shares)", l->pids);
		list_add(out, len, &count, item);
	}
}

int sbx_limits_check_required(const struct sbx_limits *l, const struct sbx_limits_plan *plan, const char *why,
			      struct sbx_error *err)
{
	char missing[64] = "";
	int count = 0;

	if (!l->required)
		return 0;
	if (l->memory_bytes && plan->memory != SBX_ENFORCER_CGROUP)
		list_add(missing, sizeof(missing), &count, "memory");
	if (l->cpu_millis && plan->cpus != SBX_ENFORCER_CGROUP)
		list_add(missing, sizeof(missing), &count, "cpus");
	if (l->pids && plan->pids != SBX_ENFORCER_CGROUP)
		list_add(missing, sizeof(missing), &count, "pids");
	if (count == 0)
		return 0;
	sbx_fail(err, 0, "--require-limits: no cgroup v2 can hold the %s limit%s here: %s", missing,
		 count > 1 ? "s" : "", why && why[0] ? why : "this host offers no cgroup v2 sbx may use");
	return sbx_error_hint(err, "`sbx check` says what this host offers; --memory 0 and --pids 0 drop "
				   "a default you do not need");
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
