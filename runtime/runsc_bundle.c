#include "runsc_bundle.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "json.h"
#include "seccomp_filter.h"
#include "util.h"

/* runsc decodes config.json with Go, which turns bytes that are not UTF-8
 * into U+FFFD: an argument, a variable or a path would change silently. */
static bool valid_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	while (*p) {
		size_t n;
		uint32_t cp;

		if (*p < 0x80) {
			p++;
			continue;
		} else if ((*p & 0xe0) == 0xc0) {
			n = 1, cp = *p & 0x1f;
		} else if ((*p & 0xf0) == 0xe0) {
			n = 2, cp = *p & 0x0f;
		} else if ((*p & 0xf8) == 0xf0) {
			n = 3, cp = *p & 0x07;
		} else {
			return false;
		}
		for (size_t i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		/* Overlong forms, surrogates and beyond U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return false;
		p += n + 1;
	}
	return true;
}

static int need_utf8(const char *field, size_t i, const char *s, struct sbx_error *err)
{
	if (s == NULL || valid_utf8(s))
		return 0;
	if (i == SIZE_MAX)
		return sbx_fail(err, EILSEQ, "runsc: %s is not UTF-8 (runsc would change it)", field);
	return sbx_fail(err, EILSEQ, "runsc: %s[%zu] is not UTF-8 (runsc would change it)", field, i);
}

static const char *root_path(const struct sbx_spec *spec, const struct sbx_bundle_paths *paths)
{
	return paths != NULL && paths->root != NULL ? paths->root : spec->root_path;
}

static bool is_bind(const struct sbx_spec_mount *m)
{
	return m->type != NULL && strcmp(m->type, "bind") == 0;
}

static const char *mount_source(const struct sbx_spec *spec, const struct sbx_bundle_paths *paths, size_t i)
{
	const struct sbx_spec_mount *m = &spec->mounts[i];

	if (is_bind(m) && paths != NULL && paths->mount_source[i] != NULL)
		return paths->mount_source[i];
	return m->source != NULL ? m->source : m->type;
}

static bool has_mount(const struct sbx_spec *spec, const char *destination)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (strcmp(spec->mounts[i].destination, destination) == 0)
			return true;
	return false;
}

static int check_spec(const struct sbx_spec *spec, const struct sbx_bundle_paths *paths, struct sbx_error *err)
{
	if (root_path(spec, paths) == NULL)
		return sbx_fail(err, 0, "runsc: the sandbox has no root");
	if (spec->args == NULL || spec->args[0] == NULL)
		return sbx_fail(err, 0, "runsc: the sandbox has no command");
	if (spec->n_mounts > SBX_SPEC_MAX_MOUNTS)
		return sbx_fail(err, E2BIG, "runsc: too many mounts");
	if (need_utf8("root.path", SIZE_MAX, root_path(spec, paths), err) < 0 ||
	    need_utf8("process.cwd", SIZE_MAX, spec->cwd, err) < 0 ||
	    need_utf8("hostname", SIZE_MAX, spec->hostname, err) < 0)
		return -1;
	for (size_t i = 0; spec->args[i] != NULL; i++)
		if (need_utf8("process.args", i, spec->args[i], err) < 0)
			return -1;
	for (size_t i = 0; spec->env != NULL && spec->env[i] != NULL; i++)
		if (need_utf8("process.env", i, spec->env[i], err) < 0)
			return -1;
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct sbx_spec_mount *m = &spec->mounts[i];

		if (m->destination == NULL || m->type == NULL)
			return sbx_fail(err, 0, "runsc: mounts[%zu] lacks a destination or a type", i);
		if (need_utf8("mounts.destination", i, m->destination, err) < 0 ||
		    need_utf8("mounts.source", i, mount_source(spec, paths, i), err) < 0)
			return -1;
	}
	/* OCI's numbers are signed where these are not. */
	if (spec->memory_limit > INT64_MAX || spec->cpu_quota_us > INT64_MAX || spec->pids_limit > INT64_MAX)
		return sbx_fail(err, ERANGE, "runsc: a resource limit is out of range");
	return 0;
}

/* ---- process, root, mounts ------------------------------------------------------- */

static void gen_bool(yajl_gen g, const char *key, bool value)
{
	sbx_json_gen_key(g, key);
	yajl_gen_bool(g, value);
}

static void gen_strv(yajl_gen g, const char *key, char *const *v)
{
	sbx_json_gen_key(g, key);
	yajl_gen_array_open(g);
	for (size_t i = 0; v != NULL && v[i] != NULL; i++)
		sbx_json_gen_str(g, NULL, v[i]);
	yajl_gen_array_close(g);
}

static void gen_root(yajl_gen g, const struct sbx_spec *spec, const struct sbx_bundle_paths *paths)
{
	sbx_json_gen_key(g, "root");
	yajl_gen_map_open(g);
	sbx_json_gen_str(g, "path", root_path(spec, paths));
	gen_bool(g, "readonly", spec->root_readonly);
	yajl_gen_map_close(g);
}

static void gen_process(yajl_gen g, const struct sbx_spec *spec)
{
	static const char *const cap_sets[] = { "bounding", "effective", "inheritable", "permitted", "ambient" };

	sbx_json_gen_key(g, "process");
	yajl_gen_map_open(g);
	gen_bool(g, "terminal", spec->terminal);
	sbx_json_gen_key(g, "user");
	yajl_gen_map_open(g);
	sbx_json_gen_uint(g, "uid", spec->uid);
	sbx_json_gen_uint(g, "gid", spec->gid);
	yajl_gen_map_close(g);
	gen_strv(g, "args", spec->args);
	gen_strv(g, "env", spec->env);
	sbx_json_gen_str(g, "cwd", spec->cwd != NULL ? spec->cwd : "/");
	/* The native sandbox's command holds no capability either. */
	sbx_json_gen_key(g, "capabilities");
	yajl_gen_map_open(g);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(cap_sets); i++)
		gen_strv(g, cap_sets[i], NULL);
	yajl_gen_map_close(g);
	gen_bool(g, "noNewPrivileges", spec->no_new_privileges);
	yajl_gen_map_close(g);
}

static void gen_options(yajl_gen g, const struct sbx_spec *spec, const struct sbx_spec_mount *m)
{
	char buf[64];

	sbx_json_gen_key(g, "options");
	yajl_gen_array_open(g);
	if (is_bind(m))
		sbx_json_gen_str(g, NULL, "rbind");
	sbx_json_gen_str(g, NULL, m->readonly ? "ro" : "rw");
	if (m->nosuid)
		sbx_json_gen_str(g, NULL, "nosuid");
	if (m->nodev)
		sbx_json_gen_str(g, NULL, "nodev");
	if (m->noexec)
		sbx_json_gen_str(g, NULL, "noexec");
	if (strcmp(m->type, "tmpfs") == 0) {
		if (m->size > 0) {
			snprintf(buf, sizeof(buf), "size=%llu", (unsigned long long)m->size);
			sbx_json_gen_str(g, NULL, buf);
		}
		/* 0 is "not set": no one asks for a tmpfs nobody can enter. */
		if (m->mode != 0) {
			snprintf(buf, sizeof(buf), "mode=0%o", (unsigned int)m->mode);
			sbx_json_gen_str(g, NULL, buf);
		}
	}
	if (m->owned) {
		snprintf(buf, sizeof(buf), "uid=%u", (unsigned int)spec->uid);
		sbx_json_gen_str(g, NULL, buf);
		snprintf(buf, sizeof(buf), "gid=%u", (unsigned int)spec->gid);
		sbx_json_gen_str(g, NULL, buf);
	}
	yajl_gen_array_close(g);
}

static void gen_mount(yajl_gen g, const char *destination, const char *type, const char *source,
		      const char *const *options)
{
	yajl_gen_map_open(g);
	sbx_json_gen_str(g, "destination", destination);
	sbx_json_gen_str(g, "type", type);
	sbx_json_gen_str(g, "source", source);
	sbx_json_gen_key(g, "options");
	yajl_gen_array_open(g);
	for (size_t i = 0; options[i] != NULL; i++)
		sbx_json_gen_str(g, NULL, options[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

static void gen_mounts(yajl_gen g, const struct sbx_spec *spec, const struct sbx_bundle_paths *paths)
{
	static const char *const dev_options[] = { "nosuid", "mode=0755", NULL };
	static const char *const pts_options[] = { "nosuid", "noexec", NULL };

	sbx_json_gen_key(g, "mounts");
	yajl_gen_array_open(g);
	/* What `runsc spec` gives every container, unless the spec says
	 * otherwise; first, since the spec's own may lie below /dev. */
	if (!has_mount(spec, "/dev"))
		gen_mount(g, "/dev", "tmpfs", "tmpfs", dev_options);
	if (!has_mount(spec, "/dev/pts"))
		gen_mount(g, "/dev/pts", "devpts", "devpts", pts_options);
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct sbx_spec_mount *m = &spec->mounts[i];

		yajl_gen_map_open(g);
		sbx_json_gen_str(g, "destination", m->destination);
		sbx_json_gen_str(g, "type", m->type);
		sbx_json_gen_str(g, "source", mount_source(spec, paths, i));
		gen_options(g, spec, m);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/* ---- linux ------------------------------------------------------------------------ */

static void gen_namespaces(yajl_gen g, const struct sbx_spec *spec)
{
	/* No "user": runsc runs inside sbx's own user namespace and fails
	 * to create a sandbox with one in the spec. */
	static const char *const always[] = { "pid", "ipc", "uts", "mount" };

	sbx_json_gen_key(g, "namespaces");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(always); i++) {
		yajl_gen_map_open(g);
		sbx_json_gen_str(g, "type", always[i]);
		yajl_gen_map_close(g);
	}
	if (spec->network_namespace) {
		yajl_gen_map_open(g);
		sbx_json_gen_str(g, "type", "network");
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/* GROUP: {"limit": VALUE}, for a limit in force (0: none). */
static void gen_limit(yajl_gen g, const char *group, uint64_t value)
{
	if (value == 0)
		return;
	sbx_json_gen_key(g, group);
	yajl_gen_map_open(g);
	sbx_json_gen_uint(g, "limit", value);
	yajl_gen_map_close(g);
}

static void gen_resources(yajl_gen g, const struct sbx_spec *spec)
{
	if (spec->memory_limit == 0 && spec->cpu_quota_us == 0 && spec->pids_limit == 0)
		return;
	sbx_json_gen_key(g, "resources");
	yajl_gen_map_open(g);
	gen_limit(g, "memory", spec->memory_limit);
	if (spec->cpu_quota_us > 0) {
		sbx_json_gen_key(g, "cpu");
		yajl_gen_map_open(g);
		sbx_json_gen_uint(g, "quota", spec->cpu_quota_us);
		if (spec->cpu_period_us > 0)
			sbx_json_gen_uint(g, "period", spec->cpu_period_us);
		yajl_gen_map_close(g);
	}
	gen_limit(g, "pids", spec->pids_limit);
	yajl_gen_map_close(g);
}

/* runc's defaults: gVisor's /proc and /sys show none of these host files,
 * but a config that asks keeps it so if that ever changes. */
static void gen_paths(yajl_gen g)
{
	static const char *const masked[] = {
		"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
		NULL,
	};
	static const char *const readonly[] = {
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
	};

	gen_strv(g, "maskedPaths", (char *const *)masked);
	gen_strv(g, "readonlyPaths", (char *const *)readonly);
}

/* ---- seccomp ---------------------------------------------------------------------- */

/* Where a rule goes in runsc's list.  runsc applies the first rule that
 * matches; sbx's filter (seccomp_filter.c) applies the strictest of B
 * (conditional rules stricter than their syscall's unconditional one) and
 * A (the rest, where libseccomp lets a syscall's unconditional rule
 * override its conditional ones and ignores rules equal to the default).
 * Ordered so, the first match is what sbx's filter answers. */
enum rule_rank {
	RANK_STRICTER,       /* B: strictest first */
	RANK_UNCONDITIONAL,  /* the syscall's rule in A, overriding the next */
	RANK_CONDITIONAL,    /* A's conditional rules, in the profile's order */
	RANK_INERT,          /* what A ignores: behind a rule that gives the same */
	RANK_COUNT,
};

static enum rule_rank rule_rank(const struct sbx_seccomp_profile *p, const struct sbx_seccomp_rule *r)
{
	const struct sbx_seccomp_rule *uncond = sbx_seccomp_first_unconditional(p, r->nr);

	if (r->n_args > 0 && uncond != NULL &&
	    sbx_seccomp_strictness(r->action) > sbx_seccomp_strictness(uncond->action))
		return RANK_STRICTER;
	if (r->action == p->default_action)
		return RANK_INERT;
	if (r->n_args == 0)
		return r == uncond ? RANK_UNCONDITIONAL : RANK_INERT;
	return RANK_CONDITIONAL;
}

/* What the translation knows of the whole profile. */
struct translation {
	const struct sbx_seccomp_profile *p;
	bool no_tracer; /* ptrace is refused whatever its arguments */
};

/* No rule lets ptrace(2) through: nothing in the sandbox can trace. */
static bool ptrace_refused(const struct sbx_seccomp_profile *p)
{
	const struct sbx_seccomp_rule *uncond;
	bool default_allows = sbx_seccomp_strictness(p->default_action) < sbx_seccomp_strictness(SCMP_ACT_ERRNO(0));
	int nr = seccomp_syscall_resolve_name("ptrace");

	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].nr == nr &&
		    sbx_seccomp_strictness(p->rules[i].action) < sbx_seccomp_strictness(SCMP_ACT_ERRNO(0)))
			return false;
	uncond = sbx_seccomp_first_unconditional(p, nr);
	return !default_allows || uncond != NULL;
}

/* ACTION as runsc 20221219 applies it, or NULL.  Measured: it knows
 * SCMP_ACT_ALLOW, _ERRNO, _KILL (the thread), _TRAP and _TRACE, and
 * answers every SCMP_ACT_ERRNO with EPERM whatever its errnoRet.  ENOSYS,
 * which programs take for "fall back" (glibc's clone3, then clone), is
 * what SCMP_ACT_TRACE gives when no tracer listens (seccomp(2), and
 * gVisor alike), so it is written so where nothing can trace. */
static const char *oci_action(const struct translation *t, uint32_t action, unsigned int *errnum)
{
	*errnum = 0;
	if ((action & SECCOMP_RET_ACTION_FULL) == SCMP_ACT_ERRNO(0)) {
		*errnum = action & SECCOMP_RET_DATA;
		if (*errnum == EPERM)
			return "SCMP_ACT_ERRNO";
		if (*errnum == ENOSYS && t->no_tracer)
			return "SCMP_ACT_TRACE";
		return NULL;
	}
	switch (action) {
	case SCMP_ACT_ALLOW: return "SCMP_ACT_ALLOW";
	case SCMP_ACT_KILL_THREAD: return "SCMP_ACT_KILL";
	case SCMP_ACT_TRAP: return "SCMP_ACT_TRAP";
	default: return NULL;
	}
}

static int fail_action(const struct translation *t, uint32_t action, const char *where, size_t entry,
		       const char *name, struct sbx_error *err)
{
	char what[160];

	if (entry == SIZE_MAX)
		snprintf(what, sizeof(what), "%s", where);
	else
		snprintf(what, sizeof(what), "syscalls[%zu] (%s)", entry, name);
	if ((action & SECCOMP_RET_DATA) == ENOSYS && (action & SECCOMP_RET_ACTION_FULL) == SCMP_ACT_ERRNO(0))
		return sbx_fail(err, 0,
				"seccomp profile %s: %s: runsc answers every SCMP_ACT_ERRNO with EPERM, not errno 38 "
				"(ENOSYS), and SCMP_ACT_TRACE, which gives ENOSYS, would let a tracer in the sandbox "
				"run the call: the profile allows ptrace",
				t->p->what, what);
	if ((action & SECCOMP_RET_ACTION_FULL) == SCMP_ACT_ERRNO(0))
		return sbx_fail(err, 0,
				"seccomp profile %s: %s: runsc answers every SCMP_ACT_ERRNO with EPERM, not errno %u",
				t->p->what, what, action & SECCOMP_RET_DATA);
	return sbx_fail(err, 0,
			"seccomp profile %s: %s: runsc has no such action "
			"(it knows SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_TRAP)",
			t->p->what, what);
}

static const char *op_name(enum scmp_compare op)
{
	switch (op) {
	case SCMP_CMP_NE: return "SCMP_CMP_NE";
	case SCMP_CMP_LT: return "SCMP_CMP_LT";
	case SCMP_CMP_LE: return "SCMP_CMP_LE";
	case SCMP_CMP_EQ: return "SCMP_CMP_EQ";
	case SCMP_CMP_GE: return "SCMP_CMP_GE";
	case SCMP_CMP_GT: return "SCMP_CMP_GT";
	case SCMP_CMP_MASKED_EQ: return "SCMP_CMP_MASKED_EQ";
	default: return NULL;
	}
}

static const char *arch_name(uint32_t arch)
{
	switch (arch) {
	case SCMP_ARCH_X86_64: return "SCMP_ARCH_X86_64";
	case SCMP_ARCH_X86: return "SCMP_ARCH_X86";
	case SCMP_ARCH_X32: return "SCMP_ARCH_X32";
	case SCMP_ARCH_AARCH64: return "SCMP_ARCH_AARCH64";
	case SCMP_ARCH_ARM: return "SCMP_ARCH_ARM";
	default: return NULL;
	}
}

/* What runsc would apply differently from sbx's filter. */
static int check_rule(const struct translation *t, const struct sbx_seccomp_rule *r, struct sbx_error *err)
{
	unsigned int errnum;
	bool seen[6] = { false };

	if (oci_action(t, r->action, &errnum) == NULL)
		return fail_action(t, r->action, NULL, r->entry, r->name, err);
	for (unsigned int i = 0; i < r->n_args; i++) {
		if (op_name(r->args[i].op) == NULL)
			return sbx_fail(err, 0, "seccomp profile %s: syscalls[%zu] (%s): runsc has no such comparison",
					t->p->what, r->entry, r->name);
		/* runsc (like runc) joins two comparisons of one argument with
		 * OR; sbx's filter with AND. */
		if (seen[r->args[i].arg])
			return sbx_fail(err, 0,
					"seccomp profile %s: syscalls[%zu] (%s): two comparisons of argument %u, "
					"which runsc would join with OR where sbx joins them with AND",
					t->p->what, r->entry, r->name, r->args[i].arg);
		seen[r->args[i].arg] = true;
	}
	return 0;
}

static void gen_action(yajl_gen g, const struct translation *t, const char *key, const char *errno_key,
		       uint32_t action)
{
	unsigned int errnum;

	sbx_json_gen_str(g, key, oci_action(t, action, &errnum));
	if (errnum > 0)
		sbx_json_gen_uint(g, errno_key, errnum);
}

static void gen_args(yajl_gen g, const struct sbx_seccomp_rule *r)
{
	if (r->n_args == 0)
		return;
	sbx_json_gen_key(g, "args");
	yajl_gen_array_open(g);
	for (unsigned int i = 0; i < r->n_args; i++) {
		yajl_gen_map_open(g);
		sbx_json_gen_uint(g, "index", r->args[i].arg);
		sbx_json_gen_uint(g, "value", r->args[i].datum_a);
		sbx_json_gen_uint(g, "valueTwo", r->args[i].datum_b);
		sbx_json_gen_str(g, "op", op_name(r->args[i].op));
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
}

/* A syscall's name, and the other name this runsc knows it by (its table
 * predates the kernel's name; it ignores a name it does not know, and the
 * syscall then meets the default action). */
static void gen_name(yajl_gen g, const char *name)
{
	static const char *const gvisor_names[][2] = { { "pselect6", "pselect" } };

	sbx_json_gen_str(g, NULL, name);
	for (size_t i = 0; i < SBX_ARRAY_SIZE(gvisor_names); i++)
		if (strcmp(name, gvisor_names[i][0]) == 0)
			sbx_json_gen_str(g, NULL, gvisor_names[i][1]);
}

/* One OCI entry for the rules from one profile entry that rank together
 * and follow each other; returns how many it took from ORDER. */
static size_t gen_entry(yajl_gen g, const struct translation *t, const size_t *order, const enum rule_rank *rank,
			size_t n)
{
	const struct sbx_seccomp_rule *rules = t->p->rules, *first = &rules[order[0]];
	size_t taken = 0;

	yajl_gen_map_open(g);
	sbx_json_gen_key(g, "names");
	yajl_gen_array_open(g);
	while (taken < n && rules[order[taken]].entry == first->entry && rank[order[taken]] == rank[order[0]])
		gen_name(g, rules[order[taken++]].name);
	yajl_gen_array_close(g);
	gen_action(g, t, "action", "errnoRet", first->action);
	gen_args(g, first);
	yajl_gen_map_close(g);
	return taken;
}

/* The rules' indices in runsc's order (see enum rule_rank). */
static int rule_order(const struct translation *t, size_t **order_out, enum rule_rank **rank_out,
		      struct sbx_error *err)
{
	const struct sbx_seccomp_profile *p = t->p;
	cleanup_free size_t *order = calloc(p->n_rules + 1, sizeof(*order));
	cleanup_free enum rule_rank *rank = calloc(p->n_rules + 1, sizeof(*rank));
	size_t n = 0;

	if (order == NULL || rank == NULL)
		return sbx_fail(err, ENOMEM, "seccomp profile %s", p->what);
	for (size_t i = 0; i < p->n_rules; i++) {
		if (check_rule(t, &p->rules[i], err) < 0)
			return -1;
		rank[i] = rule_rank(p, &p->rules[i]);
	}
	/* Stricter rules first by strictness, as stacked filters answer. */
	for (int s = 7; s >= 0; s--)
		for (size_t i = 0; i < p->n_rules; i++)
			if (rank[i] == RANK_STRICTER && sbx_seccomp_strictness(p->rules[i].action) == s)
				order[n++] = i;
	for (int k = RANK_UNCONDITIONAL; k < RANK_COUNT; k++)
		for (size_t i = 0; i < p->n_rules; i++)
			if (rank[i] == (enum rule_rank)k)
				order[n++] = i;
	*order_out = order;
	*rank_out = rank;
	order = NULL;
	rank = NULL;
	return 0;
}

static int gen_profile(yajl_gen g, const struct sbx_seccomp_profile *p, struct sbx_error *err)
{
	struct translation t = { .p = p, .no_tracer = ptrace_refused(p) };
	cleanup_free size_t *order = NULL;
	cleanup_free enum rule_rank *rank = NULL;
	unsigned int errnum;

	if (oci_action(&t, p->default_action, &errnum) == NULL)
		return fail_action(&t, p->default_action, "defaultAction", SIZE_MAX, NULL, err);
	for (size_t i = 0; i < p->n_arches; i++)
		if (arch_name(p->arches[i]) == NULL)
			return sbx_fail(err, 0, "seccomp profile %s: an architecture runsc does not know", p->what);
	if (rule_order(&t, &order, &rank, err) < 0)
		return -1;
	yajl_gen_map_open(g);
	gen_action(g, &t, "defaultAction", "defaultErrnoRet", p->default_action);
	sbx_json_gen_key(g, "architectures");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < p->n_arches; i++)
		sbx_json_gen_str(g, NULL, arch_name(p->arches[i]));
	yajl_gen_array_close(g);
	sbx_json_gen_key(g, "syscalls");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < p->n_rules;)
		i += gen_entry(g, &t, order + i, rank, p->n_rules - i);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
	return 0;
}

static int gen_seccomp_text(yajl_gen g, const char *text, const char *what, struct sbx_error *err)
{
	struct sbx_seccomp_profile p;
	sbx_json *doc = NULL;
	int r = sbx_seccomp_parse(text, what, &p, &doc, err);

	if (r == 0)
		r = gen_profile(g, &p, err);
	sbx_seccomp_profile_free(&p);
	sbx_json_free(doc);
	return r;
}

int sbx_runsc_seccomp_gen(const char *text, const char *what, char **out, struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "generating JSON");
	r = gen_seccomp_text(g, text, what, err);
	if (r == 0)
		r = sbx_json_gen_text(g, out, err);
	yajl_gen_free(g);
	return r;
}

static int gen_seccomp(yajl_gen g, const char *profile, struct sbx_error *err)
{
	char path[PATH_MAX + 32];
	cleanup_free char *text = NULL;
	int r = sbx_seccomp_resolve(profile, path, sizeof(path), err);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (sbx_seccomp_read_profile(path, &text, err) < 0)
		return -1;
	sbx_json_gen_key(g, "seccomp");
	return gen_seccomp_text(g, text, path, err);
}

static int gen_linux(yajl_gen g, const struct sbx_spec *spec, struct sbx_error *err)
{
	sbx_json_gen_key(g, "linux");
	yajl_gen_map_open(g);
	gen_namespaces(g, spec);
	gen_resources(g, spec);
	gen_paths(g);
	if (spec->seccomp_profile != NULL && gen_seccomp(g, spec->seccomp_profile, err) < 0)
		return -1;
	yajl_gen_map_close(g);
	return 0;
}

/* ---- the config ------------------------------------------------------------------- */

int sbx_runsc_config_gen(const struct sbx_spec *spec, const struct sbx_bundle_paths *paths, char **out,
			 struct sbx_error *err)
{
	yajl_gen g;
	int r = -1;

	if (check_spec(spec, paths, err) < 0)
		return -1;
	g = yajl_gen_alloc(NULL);
	if (g == NULL)
		return sbx_fail(err, ENOMEM, "generating JSON");
	yajl_gen_config(g, yajl_gen_beautify, 1);
	yajl_gen_map_open(g);
	/* The version runsc 20221219 speaks (it reports 1.0.2-dev). */
	sbx_json_gen_str(g, "ociVersion", "1.0.2");
	gen_root(g, spec, paths);
	gen_process(g, spec);
	if (spec->hostname != NULL)
		sbx_json_gen_str(g, "hostname", spec->hostname);
	gen_mounts(g, spec, paths);
	if (gen_linux(g, spec, err) < 0)
		goto out;
	yajl_gen_map_close(g);
	r = sbx_json_gen_text(g, out, err);
out:
	yajl_gen_free(g);
	return r;
}

int sbx_runsc_config_write_text(int dirfd, const char *text, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);

	if (fd < 0)
		return sbx_fail(err, errno, "runsc: creating the bundle's config.json");
	/* runsc must never read half a config. */
	if (sbx_write_all(fd, text, strlen(text)) < 0) {
		int saved = errno;

		unlinkat(dirfd, "config.json", 0);
		return sbx_fail(err, saved, "runsc: writing the bundle's config.json");
	}
	return 0;
}

int sbx_runsc_config_write(int dirfd, const struct sbx_spec *spec, const struct sbx_bundle_paths *paths,
			   struct sbx_error *err)
{
	cleanup_free char *text = NULL;

	if (sbx_runsc_config_gen(spec, paths, &text, err) < 0)
		return -1;
	return sbx_runsc_config_write_text(dirfd, text, err);
}
