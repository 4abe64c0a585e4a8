#include "seccomp_filter.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "json.h"
#include "statedirs.h"
#include "util.h"

#define PROFILE_MAX_BYTES (1u << 20)
#define MAX_RULES 4096

#if defined(__x86_64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_X86_64
#define NATIVE_GO_ARCH "amd64"
#elif defined(__aarch64__)
#define NATIVE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#define NATIVE_GO_ARCH "arm64"
#else
#error "sbx knows the seccomp architecture of x86_64 and aarch64 only"
#endif

/* ---- parsing ---------------------------------------------------------------- */

static int fail_at(struct sbx_error *err, const struct sbx_seccomp_profile *p, size_t entry, const char *field,
		   const char *why)
{
	if (entry == SIZE_MAX)
		return sbx_fail(err, 0, "seccomp profile %s: field \"%s\": %s", p->what, field, why);
	return sbx_fail(err, 0, "seccomp profile %s: syscalls[%zu], field \"%s\": %s", p->what, entry, field, why);
}

static bool only_keys(const sbx_json *obj, const char *const *allowed, const char **bad)
{
	for (size_t i = 0; i < sbx_json_object_size(obj); i++) {
		const char *key = sbx_json_object_key(obj, i);
		bool ok = false;

		for (size_t j = 0; allowed[j] != NULL && !ok; j++)
			ok = strcmp(key, allowed[j]) == 0;
		if (!ok) {
			*bad = key;
			return false;
		}
	}
	return true;
}

static int check_keys(const sbx_json *obj, const char *const *allowed, const struct sbx_seccomp_profile *p,
		      size_t entry, const char *where, struct sbx_error *err)
{
	const char *bad = NULL;
	char why[300];

	if (!sbx_json_is_object(obj))
		return fail_at(err, p, entry, where, "must be an object");
	if (!only_keys(obj, allowed, &bad)) {
		snprintf(why, sizeof(why), "unknown field \"%s\"", bad);
		return fail_at(err, p, entry, where, why);
	}
	return 0;
}

static int errno_by_name(const char *name)
{
	for (int e = 1; e < 4096; e++) {
		const char *n = strerrorname_np(e);

		if (n != NULL && strcmp(n, name) == 0)
			return e;
	}
	return -1;
}

/* errnoRet (a number) and/or errno (a name, Podman's older field). */
static int parse_errno(const sbx_json *obj, const char *num_key, const char *name_key, int fallback,
		       const struct sbx_seccomp_profile *p, size_t entry, int *out, struct sbx_error *err)
{
	const sbx_json *num = sbx_json_get(obj, num_key);
	const sbx_json *name = sbx_json_get(obj, name_key);
	uint64_t n;
	int by_name = -1;

	*out = fallback;
	if (!sbx_json_is_null(name)) {
		if (sbx_json_string(name) == NULL || (by_name = errno_by_name(sbx_json_string(name))) < 0)
			return fail_at(err, p, entry, name_key, "not an errno name such as EPERM");
		*out = by_name;
	}
	if (!sbx_json_is_null(num)) {
		if (sbx_json_uint64(num, &n) < 0 || n == 0 || n > 4095)
			return fail_at(err, p, entry, num_key, "must be an errno number from 1 to 4095");
		if (by_name >= 0 && (int)n != by_name)
			return fail_at(err, p, entry, num_key, "disagrees with the errno name beside it");
		*out = (int)n;
	}
	return 0;
}

static int parse_action(const char *s, int errnum, uint32_t *out)
{
	static const struct {
		const char *name;
		uint32_t action;
	} simple[] = {
		{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW },
		{ "SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD },
		{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD },
		{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS },
		{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP },
		{ "SCMP_ACT_LOG", SCMP_ACT_LOG },
	};

	if (s == NULL)
		return -1;
	if (strcmp(s, "SCMP_ACT_ERRNO") == 0) {
		*out = SCMP_ACT_ERRNO((uint32_t)errnum);
		return 0;
	}
	for (size_t i = 0; i < SBX_ARRAY_SIZE(simple); i++) {
		if (strcmp(s, simple[i].name) == 0) {
			*out = simple[i].action;
			return 0;
		}
	}
	return -1;
}

static int parse_op(const char *s, enum scmp_compare *out)
{
	static const struct {
		const char *name;
		enum scmp_compare op;
	} ops[] = {
		{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
		{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
		{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
		{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
	};

	for (size_t i = 0; s != NULL && i < SBX_ARRAY_SIZE(ops); i++) {
		if (strcmp(s, ops[i].name) == 0) {
			*out = ops[i].op;
			return 0;
		}
	}
	return -1;
}

static int parse_arch(const char *s, uint32_t *out)
{
	char lower[32];
	size_t i;

	if (s == NULL || strncmp(s, "SCMP_ARCH_", 10) != 0 || strlen(s + 10) >= sizeof(lower))
		return -1;
	for (i = 0; s[10 + i] != '\0'; i++)
		lower[i] = (char)tolower((unsigned char)s[10 + i]);
	lower[i] = '\0';
	*out = seccomp_arch_resolve_name(lower);
	return *out == 0 ? -1 : 0;
}

static int add_arch(struct sbx_seccomp_profile *p, uint32_t arch)
{
	for (size_t i = 0; i < p->n_arches; i++)
		if (p->arches[i] == arch)
			return 0;
	if (p->n_arches >= SBX_ARRAY_SIZE(p->arches))
		return -1;
	p->arches[p->n_arches++] = arch;
	return 0;
}

static int parse_arches(const sbx_json *doc, struct sbx_seccomp_profile *p, struct sbx_error *err)
{
	static const char *const map_keys[] = { "architecture", "subArchitectures", NULL };
	const sbx_json *list = sbx_json_get(doc, "architectures");
	const sbx_json *map = sbx_json_get(doc, "archMap");
	uint32_t arch;

	if (!sbx_json_is_null(list) && !sbx_json_is_array(list))
		return fail_at(err, p, SIZE_MAX, "architectures", "must be a list");
	for (size_t i = 0; i < sbx_json_array_size(list); i++)
		if (parse_arch(sbx_json_string(sbx_json_array_at(list, i)), &arch) < 0 || add_arch(p, arch) < 0)
			return fail_at(err, p, SIZE_MAX, "architectures", "unknown architecture");
	if (!sbx_json_is_null(map) && !sbx_json_is_array(map))
		return fail_at(err, p, SIZE_MAX, "archMap", "must be a list");
	/* Docker's rule: the entry of the native architecture brings its
	 * sub-architectures along. */
	for (size_t i = 0; i < sbx_json_array_size(map); i++) {
		const sbx_json *e = sbx_json_array_at(map, i);
		const sbx_json *subs = sbx_json_get(e, "subArchitectures");

		if (check_keys(e, map_keys, p, SIZE_MAX, "archMap", err) < 0)
			return -1;
		if (parse_arch(sbx_json_string(sbx_json_get(e, "architecture")), &arch) < 0)
			return fail_at(err, p, SIZE_MAX, "archMap", "unknown architecture");
		if (arch != seccomp_arch_native())
			continue;
		for (size_t j = 0; j < sbx_json_array_size(subs); j++)
			if (parse_arch(sbx_json_string(sbx_json_array_at(subs, j)), &arch) < 0 || add_arch(p, arch) < 0)
				return fail_at(err, p, SIZE_MAX, "archMap", "unknown sub-architecture");
	}
	return 0;
}

static bool kernel_at_least(const char *version)
{
	struct utsname u;
	unsigned int want_major = 0, want_minor = 0, major = 0, minor = 0;

	if (sscanf(version, "%u.%u", &want_major, &want_minor) < 1 || uname(&u) < 0 ||
	    sscanf(u.release, "%u.%u", &major, &minor) < 1)
		return false;
	return major > want_major || (major == want_major && minor >= want_minor);
}

static bool list_has(const sbx_json *list, const char *value)
{
	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		const char *s = sbx_json_string(sbx_json_array_at(list, i));

		if (s != NULL && strcmp(s, value) == 0)
			return true;
	}
	return false;
}

/* Docker's includes/excludes.  sbx runs the command with no capability at
 * all, so a rule that needs one never applies. */
static int entry_applies(const sbx_json *entry, const struct sbx_seccomp_profile *p, size_t idx, bool *applies,
			 struct sbx_error *err)
{
	static const char *const keys[] = { "arches", "caps", "minKernel", NULL };
	const sbx_json *inc = sbx_json_get(entry, "includes");
	const sbx_json *exc = sbx_json_get(entry, "excludes");
	const sbx_json *min;

	*applies = true;
	if ((!sbx_json_is_null(inc) && check_keys(inc, keys, p, idx, "includes", err) < 0) ||
	    (!sbx_json_is_null(exc) && check_keys(exc, keys, p, idx, "excludes", err) < 0))
		return -1;
	if (sbx_json_array_size(sbx_json_get(inc, "arches")) > 0 &&
	    !list_has(sbx_json_get(inc, "arches"), NATIVE_GO_ARCH))
		*applies = false;
	if (sbx_json_array_size(sbx_json_get(inc, "caps")) > 0)
		*applies = false;
	min = sbx_json_get(inc, "minKernel");
	if (!sbx_json_is_null(min)) {
		if (sbx_json_string(min) == NULL)
			return fail_at(err, p, idx, "includes.minKernel", "must be a string such as \"5.8\"");
		if (!kernel_at_least(sbx_json_string(min)))
			*applies = false;
	}
	if (list_has(sbx_json_get(exc, "arches"), NATIVE_GO_ARCH))
		*applies = false;
	return 0;
}

static int parse_args(const sbx_json *args, struct sbx_seccomp_rule *r, const struct sbx_seccomp_profile *p, size_t idx,
		      struct sbx_error *err)
{
	static const char *const keys[] = { "index", "value", "valueTwo", "op", NULL };

	if (sbx_json_is_null(args))
		return 0;
	if (!sbx_json_is_array(args) || sbx_json_array_size(args) > 6)
		return fail_at(err, p, idx, "args", "must be a list of at most 6 comparisons");
	for (size_t i = 0; i < sbx_json_array_size(args); i++) {
		const sbx_json *a = sbx_json_array_at(args, i);
		uint64_t index, value = 0, two = 0;
		enum scmp_compare op;

		if (check_keys(a, keys, p, idx, "args", err) < 0)
			return -1;
		if (sbx_json_uint64(sbx_json_get(a, "index"), &index) < 0 || index > 5)
			return fail_at(err, p, idx, "args.index", "must be 0 to 5");
		if (sbx_json_uint64(sbx_json_get(a, "value"), &value) < 0)
			return fail_at(err, p, idx, "args.value", "must be a non-negative integer");
		if (!sbx_json_is_null(sbx_json_get(a, "valueTwo")) &&
		    sbx_json_uint64(sbx_json_get(a, "valueTwo"), &two) < 0)
			return fail_at(err, p, idx, "args.valueTwo", "must be a non-negative integer");
		if (parse_op(sbx_json_string(sbx_json_get(a, "op")), &op) < 0)
			return fail_at(err, p, idx, "args.op", "unknown comparison");
		r->args[r->n_args++] = (struct scmp_arg_cmp){ .arg = (unsigned int)index, .op = op,
							      .datum_a = value, .datum_b = two };
	}
	return 0;
}

static int parse_entry(const sbx_json *entry, size_t idx, int default_errno, struct sbx_seccomp_profile *p,
		       struct sbx_error *err)
{
	static const char *const keys[] = { "names", "action", "errnoRet", "errno", "args",
					    "comment", "includes", "excludes", NULL };
	const sbx_json *names = sbx_json_get(entry, "names");
	struct sbx_seccomp_rule proto = { .entry = idx };
	bool applies;
	int errnum;

	if (check_keys(entry, keys, p, idx, "syscalls", err) < 0)
		return -1;
	if (sbx_json_array_size(names) == 0)
		return fail_at(err, p, idx, "names", "must be a non-empty list of syscall names");
	if (parse_errno(entry, "errnoRet", "errno", default_errno, p, idx, &errnum, err) < 0)
		return -1;
	if (parse_action(sbx_json_string(sbx_json_get(entry, "action")), errnum, &proto.action) < 0)
		return fail_at(err, p, idx, "action", "unknown action (SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, "
						      "SCMP_ACT_KILL_PROCESS, SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_LOG)");
	if (parse_args(sbx_json_get(entry, "args"), &proto, p, idx, err) < 0 ||
	    entry_applies(entry, p, idx, &applies, err) < 0)
		return -1;
	for (size_t i = 0; i < sbx_json_array_size(names); i++) {
		const char *name = sbx_json_string(sbx_json_array_at(names, i));
		int nr = name ? seccomp_syscall_resolve_name(name) : __NR_SCMP_ERROR;
		char why[300];

		if (nr == __NR_SCMP_ERROR) {
			snprintf(why, sizeof(why), "unknown syscall \"%s\"", name ? name : "(not a string)");
			return fail_at(err, p, idx, "names", why);
		}
		if (!applies)
			continue;
		if (p->n_rules >= MAX_RULES)
			return fail_at(err, p, idx, "names", "too many rules");
		p->rules[p->n_rules] = proto;
		p->rules[p->n_rules].nr = nr;
		p->rules[p->n_rules].name = name;
		p->n_rules++;
	}
	return 0;
}

static int parse_profile(const sbx_json *doc, struct sbx_seccomp_profile *p, struct sbx_error *err)
{
	static const char *const keys[] = { "defaultAction", "defaultErrnoRet", "defaultErrno",
					    "architectures", "archMap", "syscalls", NULL };
	const sbx_json *syscalls = sbx_json_get(doc, "syscalls");
	int default_errno;

	if (check_keys(doc, keys, p, SIZE_MAX, "(top level)", err) < 0 ||
	    parse_errno(doc, "defaultErrnoRet", "defaultErrno", EPERM, p, SIZE_MAX, &default_errno, err) < 0)
		return -1;
	if (parse_action(sbx_json_string(sbx_json_get(doc, "defaultAction")), default_errno,
			 &p->default_action) < 0)
		return fail_at(err, p, SIZE_MAX, "defaultAction", "missing or unknown action");
	if (parse_arches(doc, p, err) < 0)
		return -1;
	if (!sbx_json_is_null(syscalls) && !sbx_json_is_array(syscalls))
		return fail_at(err, p, SIZE_MAX, "syscalls", "must be a list");
	p->rules = calloc(MAX_RULES, sizeof(*p->rules));
	if (p->rules == NULL)
		return sbx_fail(err, ENOMEM, "seccomp profile %s", p->what);
	for (size_t i = 0; i < sbx_json_array_size(syscalls); i++)
		if (parse_entry(sbx_json_array_at(syscalls, i), i, EPERM, p, err) < 0)
			return -1;
	return 0;
}

/* ---- compiling ---------------------------------------------------------------- */

/* The kernel's precedence of actions (seccomp(2)): higher wins. */
int sbx_seccomp_strictness(uint32_t action)
{
	switch (action & SECCOMP_RET_ACTION_FULL) {
	case SECCOMP_RET_KILL_PROCESS: return 7;
	case SECCOMP_RET_KILL_THREAD: return 6;
	case SECCOMP_RET_TRAP: return 5;
	case SECCOMP_RET_ERRNO: return 4;
	case SECCOMP_RET_USER_NOTIF: return 3;
	case SECCOMP_RET_TRACE: return 2;
	case SECCOMP_RET_LOG: return 1;
	default: return 0;
	}
}

const struct sbx_seccomp_rule *sbx_seccomp_first_unconditional(const struct sbx_seccomp_profile *p, int nr)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i].nr == nr && p->rules[i].n_args == 0)
			return &p->rules[i];
	return NULL;
}

static scmp_filter_ctx new_filter(const struct sbx_seccomp_profile *p, uint32_t default_action, uint32_t badarch)
{
	scmp_filter_ctx ctx = seccomp_init(default_action);

	if (ctx == NULL)
		return NULL;
	/* sbx sets no_new_privs itself; the tree layout keeps argument rules
	 * cheap (measured-facts.md). */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, badarch) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0)
		goto fail;
	for (size_t i = 0; i < p->n_arches; i++)
		if (p->arches[i] != seccomp_arch_native() && seccomp_arch_add(ctx, p->arches[i]) < 0)
			goto fail;
	return ctx;
fail:
	seccomp_release(ctx);
	return NULL;
}

static int export_filter(scmp_filter_ctx ctx, struct sock_fprog *out, struct sbx_error *err)
{
	cleanup_close int fd = memfd_create("sbx-seccomp", MFD_CLOEXEC);
	off_t len;
	void *buf;
	int r;

	if (fd < 0)
		return sbx_fail(err, errno, "seccomp: memfd");
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return sbx_fail(err, -r, "seccomp: exporting the filter");
	len = lseek(fd, 0, SEEK_CUR);
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) != 0 || len / 8 > USHRT_MAX)
		return sbx_fail(err, EINVAL, "seccomp: exported filter has a bad size");
	buf = malloc((size_t)len);
	if (buf == NULL)
		return sbx_fail(err, ENOMEM, "seccomp");
	if (pread(fd, buf, (size_t)len, 0) != len) {
		free(buf);
		return sbx_fail(err, errno, "seccomp: reading the exported filter");
	}
	out->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
	out->filter = buf;
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, const struct sbx_seccomp_rule *r, const struct sbx_seccomp_profile *p, struct sbx_error *err)
{
	int rc = seccomp_rule_add_array(ctx, r->action, r->nr, r->n_args, r->args);

	if (rc < 0)
		return sbx_fail(err, -rc, "seccomp profile %s: syscalls[%zu], \"%s\": libseccomp refused the rule",
				p->what, r->entry, r->name);
	return 0;
}

int sbx_seccomp_max_known_nr(void)
{
	int max = -1;

	for (int nr = 0; nr < 1024; nr++) {
		char *name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (name != NULL) {
			max = nr;
			free(name);
		}
	}
	return max;
}

/* C, put in front of A: syscall numbers newer than libseccomp's table get
 * ENOSYS rather than the profile's default, so that libc and runtimes take
 * their fallbacks.  In front of A and not a filter of its own, because a
 * profile that does not allow seccomp(2) (the seed's) would refuse the
 * loading of any filter after it.  x32 numbers fall through to A, which
 * kills them.  cBPF jumps are relative, so A's own stay valid. */
static int prepend_unknown_check(struct sock_fprog *a, struct sbx_error *err)
{
	const struct sock_filter prefix[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, NATIVE_AUDIT_ARCH, 0, 4),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JGT | BPF_K, (uint32_t)sbx_seccomp_max_known_nr(), 0, 2),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x40000000, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
	};
	size_t n = SBX_ARRAY_SIZE(prefix);
	struct sock_filter *merged;

	if (a->len + n > BPF_MAXINSNS)
		return sbx_fail(err, E2BIG, "seccomp: the filter is too long (%u instructions)", a->len);
	merged = malloc((a->len + n) * sizeof(*merged));
	if (merged == NULL)
		return sbx_fail(err, ENOMEM, "seccomp");
	memcpy(merged, prefix, sizeof(prefix));
	memcpy(merged + n, a->filter, a->len * sizeof(*merged));
	free(a->filter);
	a->filter = merged;
	a->len = (unsigned short)(a->len + n);
	return 0;
}

/* A: the profile; B: stricter conditional rules over an unconditional one. */
static int compile_filters(const struct sbx_seccomp_profile *p, struct sbx_seccomp *out, struct sbx_error *err)
{
	scmp_filter_ctx a = new_filter(p, p->default_action, SCMP_ACT_KILL_PROCESS);
	scmp_filter_ctx b = new_filter(p, SCMP_ACT_ALLOW, SCMP_ACT_ALLOW);
	size_t in_b = 0;
	int r = -1;

	if (a == NULL || b == NULL) {
		sbx_fail(err, ENOMEM, "seccomp: creating a filter");
		goto out;
	}
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct sbx_seccomp_rule *rule = &p->rules[i];
		const struct sbx_seccomp_rule *uncond = sbx_seccomp_first_unconditional(p, rule->nr);

		/* Stricter than the syscall's unconditional rule: B, even when
		 * it equals A's default (there it would be shadowed). */
		if (rule->n_args > 0 && uncond != NULL &&
		    sbx_seccomp_strictness(rule->action) > sbx_seccomp_strictness(uncond->action)) {
			if (add_rule(b, rule, p, err) < 0)
				goto out;
			in_b++;
			continue;
		}
		/* libseccomp refuses a rule equal to the default: a no-op in A.
		 * Of two unconditional rules for one syscall the first wins. */
		if (rule->action == p->default_action || (rule->n_args == 0 && rule != uncond))
			continue;
		if (add_rule(a, rule, p, err) < 0)
			goto out;
	}
	out->n_rules = p->n_rules;
	/* B first: A may not allow seccomp(2) itself, and among the kernel's
	 * results the strictest wins whatever the order. */
	if (in_b > 0 && export_filter(b, &out->filters[out->n_filters++], err) < 0)
		goto out;
	if (export_filter(a, &out->filters[out->n_filters], err) < 0 ||
	    prepend_unknown_check(&out->filters[out->n_filters++], err) < 0)
		goto out;
	r = 0;
out:
	if (a != NULL)
		seccomp_release(a);
	if (b != NULL)
		seccomp_release(b);
	return r;
}

/* ---- H: the host-safety filter ------------------------------------------------ */

#if defined(__x86_64__)
static const uint32_t compat_arches[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
#else
static const uint32_t compat_arches[] = { SCMP_ARCH_ARM };
#endif

/* Syscalls whose argument MODE_ARG is a mode the kernel stores as given
 * (chmod) or with the umask applied (creation): the set-id bits would
 * survive either way. */
static const struct {
	const char *name;
	unsigned int mode_arg;
} mode_syscalls[] = {
	{ "chmod", 1 },	   { "fchmod", 1 }, { "fchmodat", 2 }, { "fchmodat2", 2 },
	{ "creat", 1 },	   { "mkdir", 1 },  { "mkdirat", 2 },  { "mknod", 1 },
	{ "mknodat", 2 },
};

/* open and openat: the mode means something only when the call creates. */
static const struct {
	const char *name;
	unsigned int flags_arg;
	unsigned int mode_arg;
} open_syscalls[] = {
	{ "open", 1, 2 },
	{ "openat", 2, 3 },
};

static int host_rule(scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned int n,
		     const struct scmp_arg_cmp *args, struct sbx_error *err)
{
	int nr = seccomp_syscall_resolve_name(name);
	int r;

	/* A syscall this libseccomp does not know cannot be named here; the
	 * ones above are all older than it. */
	if (nr == __NR_SCMP_ERROR)
		return sbx_fail(err, ENOSYS, "seccomp: libseccomp does not know %s", name);
	r = seccomp_rule_add_array(ctx, action, nr, n, args);
	if (r < 0)
		return sbx_fail(err, -r, "seccomp: the host-safety rule for %s", name);
	return 0;
}

/* Every rule is a deny on an allow-all default, so no two rules of one
 * syscall overlap with different actions (the libseccomp 2.5.4 pitfall in
 * measured-facts.md).  The masks name bits of the low 32 bits only, so the
 * high half of a 32-bit argument (which the kernel ignores) cannot matter. */
static int add_host_rules(scmp_filter_ctx ctx, struct sbx_error *err)
{
	static const uint64_t setid_bits[] = { S_ISUID, S_ISGID };
	/* O_TMPFILE includes O_DIRECTORY; the kernel tests __O_TMPFILE. */
	static const uint64_t create_flags[] = { O_CREAT, O_TMPFILE & ~O_DIRECTORY };
	const uint32_t deny = SCMP_ACT_ERRNO(EPERM);

	for (size_t b = 0; b < SBX_ARRAY_SIZE(setid_bits); b++) {
		for (size_t i = 0; i < SBX_ARRAY_SIZE(mode_syscalls); i++) {
			struct scmp_arg_cmp mode = SCMP_CMP(mode_syscalls[i].mode_arg, SCMP_CMP_MASKED_EQ,
							    setid_bits[b], setid_bits[b]);

			if (host_rule(ctx, deny, mode_syscalls[i].name, 1, &mode, err) < 0)
				return -1;
		}
		for (size_t i = 0; i < SBX_ARRAY_SIZE(open_syscalls); i++) {
			for (size_t f = 0; f < SBX_ARRAY_SIZE(create_flags); f++) {
				struct scmp_arg_cmp args[2] = {
					SCMP_CMP(open_syscalls[i].flags_arg, SCMP_CMP_MASKED_EQ, create_flags[f],
						 create_flags[f]),
					SCMP_CMP(open_syscalls[i].mode_arg, SCMP_CMP_MASKED_EQ, setid_bits[b],
						 setid_bits[b]),
				};

				if (host_rule(ctx, deny, open_syscalls[i].name, 2, args, err) < 0)
					return -1;
			}
		}
	}
	/* Modes out of seccomp's sight: openat2's is in a struct, io_uring's
	 * in the ring.  ENOSYS, as for a kernel without them: libc and
	 * runtimes fall back to openat and epoll. */
	if (host_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "openat2", 0, NULL, err) < 0 ||
	    host_rule(ctx, SCMP_ACT_ERRNO(ENOSYS), "io_uring_setup", 0, NULL, err) < 0)
		return -1;
	return 0;
}

int sbx_seccomp_host_filter(struct sock_fprog *out, struct sbx_error *err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int r = -1;

	if (ctx == NULL)
		return sbx_fail(err, ENOMEM, "seccomp: creating the host-safety filter");
	/* The compat ABIs (int 0x80, x32) reach the same chmod: H covers
	 * them rather than killing them, since "unconfined" must run 32-bit
	 * programs.  Any other architecture cannot run here anyway. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0 ||
	    seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2) < 0) {
		sbx_fail(err, EINVAL, "seccomp: the host-safety filter's attributes");
		goto out;
	}
	for (size_t i = 0; i < SBX_ARRAY_SIZE(compat_arches); i++) {
		int a = seccomp_arch_add(ctx, compat_arches[i]);

		if (a < 0 && a != -EEXIST) {
			sbx_fail(err, -a, "seccomp: the host-safety filter's architectures");
			goto out;
		}
	}
	if (add_host_rules(ctx, err) < 0 || export_filter(ctx, out, err) < 0)
		goto out;
	r = 0;
out:
	seccomp_release(ctx);
	return r;
}

int sbx_seccomp_parse(const char *text, const char *what, struct sbx_seccomp_profile *p, sbx_json **doc,
		      struct sbx_error *err)
{
	*p = (struct sbx_seccomp_profile){ .what = what };
	*doc = NULL;
	if (sbx_json_parse(text, what, doc, err) < 0)
		return -1;
	if (!sbx_json_is_object(*doc))
		return sbx_fail(err, 0, "seccomp profile %s: must be a JSON object", what);
	return parse_profile(*doc, p, err);
}

void sbx_seccomp_profile_free(struct sbx_seccomp_profile *p)
{
	free(p->rules);
	p->rules = NULL;
	p->n_rules = 0;
}

int sbx_seccomp_compile(const char *text, const char *what, struct sbx_seccomp *out,
			struct sbx_error *err)
{
	struct sbx_seccomp_profile p;
	sbx_json *doc = NULL;
	int r = -1;

	if (sbx_seccomp_parse(text, what, &p, &doc, err) < 0 || compile_filters(&p, out, err) < 0)
		goto out;
	out->enabled = true;
	r = 0;
out:
	sbx_seccomp_profile_free(&p);
	sbx_json_free(doc);
	return r;
}

/* ---- the cache ------------------------------------------------------------------ */

/* libseccomp takes ~2 ms to build the default profile's BPF, more than the
 * rest of sbx's start-up.  The result is kept per user, keyed by the
 * profile's text: a cache file holds that text in full, compared byte for
 * byte, with the versions that shaped the BPF.  The directory must be the
 * caller's own and closed to others; anything unexpected means "compile". */

#define CACHE_MAGIC "sbx-seccomp-bpf-2"

/* A cache file: this header, the profile's text (empty for unconfined),
 * the host-safety filter H, then the profile's filters.  H is there too:
 * building it with libseccomp costs each run ~0.2 ms, two thirds of the rest
 * of sbx's own work before the clone. */
struct cache_header {
	char magic[24];
	char versions[64]; /* sbx and libseccomp */
	uint32_t text_len;
	uint32_t host_len;
	uint32_t n_filters;
	uint32_t lens[SBX_SECCOMP_MAX_FILTERS];
	uint64_t n_rules;
};

static void cache_versions(char *buf, size_t len)
{
	const struct scmp_version *v = seccomp_version();

	/* libseccomp's version also fixes its syscall table, hence the
	 * ENOSYS prefix: no need to scan the table on every start. */
	snprintf(buf, len, "%s libseccomp-%u.%u.%u", SBX_VERSION, v->major, v->minor, v->micro);
}

static uint64_t fnv1a(const char *s, size_t len, uint64_t h)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
	return h;
}

/* Open (creating) the cache directory, a directory of its own with the
 * mode it needs whatever else sbx keeps beside it; -1 when there is no
 * safe one. */
static int open_cache_dir(void)
{
	return sbx_cache_dir_open();
}

static void cache_name(const char *text, size_t len, const char *versions, char *name, size_t n)
{
	uint64_t h = fnv1a(text, len, 14695981039346656037ULL);

	h = fnv1a(versions, strlen(versions), h);
	snprintf(name, n, "%016llx.bpf", (unsigned long long)h);
}

/* A copy of LEN instructions at SRC, or an empty program when out of
 * memory. */
static struct sock_fprog copy_program(const char *src, uint32_t len)
{
	size_t bytes = len * sizeof(struct sock_filter);
	struct sock_filter *f = malloc(bytes);

	if (f == NULL)
		return (struct sock_fprog){ 0 };
	memcpy(f, src, bytes);
	return (struct sock_fprog){ .len = (unsigned short)len, .filter = f };
}

/* The header of the cache file BUF (SIZE bytes) when it is whole and
 * made for TEXT by this sbx and libseccomp. */
static bool cache_header_fits(const char *buf, size_t size, const char *text, size_t text_len,
			      const char *versions, struct cache_header *h)
{
	size_t total;

	if (size < sizeof(*h))
		return false;
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, CACHE_MAGIC, sizeof(CACHE_MAGIC)) != 0 ||
	    strncmp(h->versions, versions, sizeof(h->versions)) != 0 || h->text_len != text_len ||
	    h->n_filters > SBX_SECCOMP_MAX_FILTERS || (h->n_filters == 0) != (text_len == 0) ||
	    h->host_len == 0 || h->host_len > BPF_MAXINSNS)
		return false;
	total = sizeof(*h) + text_len + h->host_len * sizeof(struct sock_filter);
	for (uint32_t i = 0; i < h->n_filters; i++) {
		if (h->lens[i] == 0 || h->lens[i] > BPF_MAXINSNS)
			return false;
		total += h->lens[i] * sizeof(struct sock_filter);
	}
	return total == size && memcmp(buf + sizeof(*h), text, text_len) == 0;
}

static int cache_load(const char *text, struct sbx_seccomp *out)
{
	cleanup_close int dir = open_cache_dir();
	cleanup_close int fd = -1;
	cleanup_free char *buf = NULL;
	size_t text_len = strlen(text), at;
	struct cache_header h;
	char name[64], versions[64];
	struct stat st;

	if (dir < 0)
		return -1;
	cache_versions(versions, sizeof(versions));
	cache_name(text, text_len, versions, name, sizeof(name));
	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    st.st_size > (off_t)(PROFILE_MAX_BYTES + sizeof(h) + 3 * BPF_MAXINSNS * 8))
		return -1;
	buf = malloc((size_t)st.st_size);
	if (buf == NULL || pread(fd, buf, (size_t)st.st_size, 0) != st.st_size ||
	    !cache_header_fits(buf, (size_t)st.st_size, text, text_len, versions, &h))
		return -1;
	at = sizeof(h) + text_len;
	out->host = copy_program(buf + at, h.host_len);
	at += h.host_len * sizeof(struct sock_filter);
	for (uint32_t i = 0; i < h.n_filters; i++) {
		out->filters[i] = copy_program(buf + at, h.lens[i]);
		out->n_filters = i + 1;
		at += h.lens[i] * sizeof(struct sock_filter);
		if (out->filters[i].filter == NULL)
			break;
	}
	if (out->host.filter == NULL || (h.n_filters && out->filters[out->n_filters - 1].filter == NULL)) {
		sbx_seccomp_free(out);
		return -1;
	}
	out->n_rules = h.n_rules;
	out->enabled = h.n_filters > 0;
	out->cached = true;
	return 0;
}

/* Best effort: a cache that cannot be written is no error. */
static void cache_store(const char *text, const struct sbx_seccomp *s)
{
	cleanup_close int dir = open_cache_dir();
	cleanup_close int fd = -1;
	struct cache_header h = { .magic = CACHE_MAGIC, .text_len = (uint32_t)strlen(text),
				  .host_len = s->host.len, .n_filters = (uint32_t)s->n_filters,
				  .n_rules = s->n_rules };
	char name[64], tmp[96];
	bool ok;

	if (dir < 0)
		return;
	cache_versions(h.versions, sizeof(h.versions));
	cache_name(text, h.text_len, h.versions, name, sizeof(name));
	snprintf(tmp, sizeof(tmp), ".%s.%d", name, getpid());
	for (size_t i = 0; i < s->n_filters; i++)
		h.lens[i] = s->filters[i].len;
	fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	ok = sbx_write_all(fd, &h, sizeof(h)) == 0 && sbx_write_all(fd, text, h.text_len) == 0 &&
	     sbx_write_all(fd, s->host.filter, s->host.len * sizeof(struct sock_filter)) == 0;
	for (size_t i = 0; ok && i < s->n_filters; i++)
		ok = sbx_write_all(fd, s->filters[i].filter, s->filters[i].len * sizeof(struct sock_filter)) == 0;
	/* Published whole or not at all. */
	if (!ok || renameat(dir, tmp, dir, name) < 0)
		unlinkat(dir, tmp, 0);
}

/* ---- finding, loading ----------------------------------------------------------- */

static bool plausible_name(const char *s)
{
	if (s[0] == '\0' || s[0] == '.' || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.')
			return false;
	return true;
}

/* Where profile names are looked up: beside the binary (a checkout), the
 * installed data directory, then the one sbx was built for. */
int sbx_seccomp_find_profile(const char *name, char *path, size_t len, struct sbx_error *err)
{
	char exe[PATH_MAX / 2], dirs[3][PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	size_t n_dirs = 0;

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(dirs[n_dirs++], PATH_MAX, "%s/profiles", exe);
		snprintf(dirs[n_dirs++], PATH_MAX, "%s/../share/sbx/profiles", exe);
	}
	snprintf(dirs[n_dirs++], PATH_MAX, "%s", SBX_PROFILE_DIR);
	for (size_t i = 0; i < n_dirs; i++) {
		if (snprintf(path, len, "%.*s/%s.json", PATH_MAX - 80, dirs[i], name) >= (int)len)
			continue;
		if (access(path, R_OK) == 0)
			return 0;
	}
	return sbx_fail(err, ENOENT, "--seccomp %s: no profile of that name in %s, %s or %s", name,
			n_dirs > 2 ? dirs[0] : "", n_dirs > 2 ? dirs[1] : "", SBX_PROFILE_DIR);
}

int sbx_seccomp_resolve(const char *spec, char *path, size_t len, struct sbx_error *err)
{
	if (strcmp(spec, "unconfined") == 0)
		return 1;
	if (strchr(spec, '/') != NULL) {
		if (snprintf(path, len, "%s", spec) >= (int)len)
			return sbx_fail(err, ENAMETOOLONG, "--seccomp");
		return 0;
	}
	if (!plausible_name(spec))
		return sbx_fail(err, 0, "--seccomp %s: expected a profile name, a path or unconfined", spec);
	return sbx_seccomp_find_profile(spec, path, len, err);
}

int sbx_seccomp_read_profile(const char *path, char **text, struct sbx_error *err)
{
	if (sbx_read_file(path, PROFILE_MAX_BYTES, text, err) < 0)
		return sbx_error_wrap(err, "--seccomp");
	return 0;
}

int sbx_seccomp_prepare(const char *spec, bool log, struct sbx_seccomp *out, struct sbx_error *err)
{
	char path[PATH_MAX + 32] = "";
	cleanup_free char *text = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", spec);
	if (log)
		out->flags |= SECCOMP_FILTER_FLAG_LOG;
	r = sbx_seccomp_resolve(spec, path, sizeof(path), err);
	if (r < 0)
		return -1;
	/* Unconfined: the cache's entry for no profile holds H alone. */
	if (r == 0 && sbx_seccomp_read_profile(path, &text, err) < 0)
		return -1;
	if (cache_load(text ? text : "", out) == 0)
		return 0;
	if (sbx_seccomp_host_filter(&out->host, err) < 0 ||
	    (text != NULL && sbx_seccomp_compile(text, path, out, err) < 0))
		return -1;
	cache_store(text ? text : "", out);
	return 0;
}

int sbx_seccomp_load(const struct sbx_seccomp *s, struct sbx_error *err)
{
	/* H first: a profile may not allow seccomp(2) itself. */
	if (s->host.filter == NULL)
		return sbx_fail(err, EINVAL, "the host-safety seccomp filter was not compiled");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->flags, &s->host) < 0)
		return sbx_fail(err, errno, "loading the host-safety seccomp filter");
	for (size_t i = 0; s->enabled && i < s->n_filters; i++)
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, s->flags, &s->filters[i]) < 0)
			return sbx_fail(err, errno, "loading seccomp filter %zu of %zu", i + 1, s->n_filters);
	return 0;
}

void sbx_seccomp_free(struct sbx_seccomp *s)
{
	free(s->host.filter);
	s->host.filter = NULL;
	for (size_t i = 0; i < s->n_filters; i++)
		free(s->filters[i].filter);
	s->n_filters = 0;
}
