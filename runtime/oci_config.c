#include "oci_config.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mountinfo.h"
#include "util.h"

/* Bounds on what a config.json may ask for.  Each is far above what an
 * engine sends (podman: ~15 mounts, 5 namespaces, 2 rlimits) and low
 * enough that a hostile file costs little before it is refused. */
#define MAX_DEPTH 32             /* nesting of arrays and objects */
#define MAX_MOUNTS 4096
#define MAX_STRINGS 32768        /* args, env */
#define MAX_ARG_LEN 131072       /* one of args or env: the kernel's MAX_ARG_STRLEN */
#define MAX_HOOKS 256            /* of each kind */
#define MAX_ANNOTATIONS 4096
#define MAX_ANNOTATION_LEN 262144
#define MAX_SYSCTL 1024
#define MAX_SYSCTL_LEN 4096
#define MAX_IDMAPS 340           /* the kernel's limit on a uid_map's lines */
#define MAX_GROUPS 65536         /* NGROUPS_MAX */
#define MAX_RLIMITS 64
#define MAX_PATHS 4096           /* maskedPaths, readonlyPaths */
#define MAX_DEVICES 4096
#define MAX_DEVICE_RULES 4096
#define MAX_HUGEPAGES 16
#define MAX_SECCOMP_RULES 4096
#define MAX_SECCOMP_NAMES 4096
#define MAX_NAME_LEN 4096        /* labels, profiles, types, cgroupsPath, options */
#define MAX_HOSTNAME 64          /* HOST_NAME_MAX */
#define MAX_MOUNT_DATA 4096      /* the kernel copies one page of mount data */
#define AT_MAX 320               /* a field path in an error */

struct parser {
	const char *what;
	struct sbx_error *err;
};

static int fail(const struct parser *p, const char *at, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int fail(const struct parser *p, const char *at, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (at[0] == '\0')
		return sbx_fail(p->err, 0, "%s: %s", p->what, why);
	return sbx_fail(p->err, 0, "%s: %s: %s", p->what, at, why);
}

/* AT.KEY into OUT, the key with its control characters escaped: keys come
 * from the file and end up on a terminal. */
static const char *truncated(char *out, int n)
{
	if (n < 0 || n >= AT_MAX)
		strcpy(out + AT_MAX - 4, "...");
	return out;
}

static const char *field(char *out, const char *at, const char *key)
{
	char safe[128];

	sbx_escape_controls(key, safe, sizeof(safe));
	return truncated(out, snprintf(out, AT_MAX, "%s%s%s", at, at[0] ? "." : "", safe));
}

static const char *item(char *out, const char *at, size_t i)
{
	return truncated(out, snprintf(out, AT_MAX, "%s[%zu]", at, i));
}

/* ---- the text before it is parsed ------------------------------------------ */

/* yajl turns "\u0000" into a NUL that would cut a string short without a
 * word (a path "/a\u0000/../etc" read as "/a"), and neither its parser nor
 * its tree's free bounds the nesting (recursion: a stack overflow).  Both
 * refused here, on the text. */
static int precheck(const struct parser *p, const char *text)
{
	int depth = 0;
	bool in_string = false;

	for (const char *c = text; *c != '\0'; c++) {
		if (in_string) {
			if (*c == '\\') {
				if (c[1] == 'u' && strncmp(c + 2, "0000", 4) == 0)
					return fail(p, "", "a string holds a NUL character (\\u0000)");
				if (c[1] != '\0')
					c++;
			} else if (*c == '"') {
				in_string = false;
			}
		} else if (*c == '"') {
			in_string = true;
		} else if (*c == '[' || *c == '{') {
			if (++depth > MAX_DEPTH)
				return fail(p, "", "nested deeper than %d levels", MAX_DEPTH);
		} else if (*c == ']' || *c == '}') {
			depth--;
		}
	}
	return 0;
}

/* ---- the document as a whole -------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Two members of one object with the same name: yajl keeps both, and a
 * reader that takes the first and one that takes the last would see two
 * different containers.  Refused everywhere in the document. */
static int check_duplicates(const struct parser *p, const sbx_json *v, const char *at)
{
	char sub[AT_MAX];
	size_t n;

	if (sbx_json_is_array(v)) {
		for (size_t i = 0; i < sbx_json_array_size(v); i++)
			if (check_duplicates(p, sbx_json_array_at(v, i), item(sub, at, i)) < 0)
				return -1;
		return 0;
	}
	n = sbx_json_object_size(v);
	if (n > 1) {
		cleanup_free const char **keys = malloc(n * sizeof(*keys));

		if (keys == NULL)
			return sbx_fail(p->err, ENOMEM, "%s", p->what);
		for (size_t i = 0; i < n; i++)
			keys[i] = sbx_json_object_key(v, i);
		qsort(keys, n, sizeof(*keys), cmp_str);
		for (size_t i = 1; i < n; i++)
			if (strcmp(keys[i - 1], keys[i]) == 0)
				return fail(p, field(sub, at, keys[i]), "appears twice");
	}
	for (size_t i = 0; i < n; i++) {
		const char *key = sbx_json_object_key(v, i);

		if (check_duplicates(p, sbx_json_get(v, key), field(sub, at, key)) < 0)
			return -1;
	}
	return 0;
}

/* Nothing asked: absent, null, false, "", [], {} or an object of such.
 * Engines send some fields sbx does not honour with nothing in them. */
static bool is_empty(const sbx_json *v)
{
	if (sbx_json_is_null(v) || (sbx_json_is_bool(v) && !sbx_json_is_true(v)))
		return true;
	if (sbx_json_is_string(v))
		return sbx_json_string(v)[0] == '\0';
	if (sbx_json_is_array(v))
		return sbx_json_array_size(v) == 0;
	if (sbx_json_is_object(v)) {
		for (size_t i = 0; i < sbx_json_object_size(v); i++)
			if (!is_empty(sbx_json_get(v, sbx_json_object_key(v, i))))
				return false;
		return true;
	}
	return false;
}

static bool in_list(const char *const *list, const char *s)
{
	for (size_t i = 0; list != NULL && list[i] != NULL; i++)
		if (strcmp(list[i], s) == 0)
			return true;
	return false;
}

/* OBJ is an object whose members are all KNOWN (read by the caller) or
 * UNSUPPORTED (runtime-spec fields sbx does not honour: refused unless
 * they ask for nothing).  A member of neither is an error: it may be a
 * newer spec's restriction that sbx would otherwise drop. */
static int check_fields(const struct parser *p, const sbx_json *obj, const char *at, const char *const *known,
			const char *const *unsupported)
{
	char sub[AT_MAX];

	if (!sbx_json_is_object(obj))
		return fail(p, at, "must be an object");
	for (size_t i = 0; i < sbx_json_object_size(obj); i++) {
		const char *key = sbx_json_object_key(obj, i);

		if (in_list(known, key))
			continue;
		if (in_list(unsupported, key)) {
			if (!is_empty(sbx_json_get(obj, key)))
				return fail(p, field(sub, at, key), "not supported by sbx");
			continue;
		}
		return fail(p, field(sub, at, key), "unknown field");
	}
	return 0;
}

/* ---- typed members ------------------------------------------------------------ */

static int get_string(const struct parser *p, const sbx_json *obj, const char *key, const char *at, size_t max,
		      bool required, const char **out)
{
	const sbx_json *v = sbx_json_get(obj, key);
	char sub[AT_MAX];

	*out = NULL;
	if (sbx_json_is_null(v)) {
		if (required)
			return fail(p, field(sub, at, key), "missing");
		return 0;
	}
	*out = sbx_json_string(v);
	if (*out == NULL)
		return fail(p, field(sub, at, key), "must be a string");
	if (strlen(*out) > max)
		return fail(p, field(sub, at, key), "longer than %zu bytes", max);
	return 0;
}

static int get_bool(const struct parser *p, const sbx_json *obj, const char *key, const char *at, bool *out)
{
	const sbx_json *v = sbx_json_get(obj, key);
	char sub[AT_MAX];

	*out = false;
	if (sbx_json_is_null(v))
		return 0;
	if (!sbx_json_is_bool(v))
		return fail(p, field(sub, at, key), "must be true or false");
	*out = sbx_json_is_true(v);
	return 0;
}

/* An integer member in [MIN, MAX]; *PRESENT false (and *OUT 0) when absent. */
static int get_int(const struct parser *p, const sbx_json *obj, const char *key, const char *at, int64_t min,
		   int64_t max, int64_t *out, bool *present)
{
	const sbx_json *v = sbx_json_get(obj, key);
	char sub[AT_MAX];

	*out = 0;
	*present = !sbx_json_is_null(v);
	if (!*present)
		return 0;
	if (sbx_json_int64(v, out) < 0 || *out < min || *out > max)
		return fail(p, field(sub, at, key), "must be an integer from %lld to %lld", (long long)min,
			    (long long)max);
	return 0;
}

static int get_uint(const struct parser *p, const sbx_json *obj, const char *key, const char *at, uint64_t max,
		    uint64_t *out, bool *present)
{
	const sbx_json *v = sbx_json_get(obj, key);
	char sub[AT_MAX];

	*out = 0;
	*present = !sbx_json_is_null(v);
	if (!*present)
		return 0;
	if (sbx_json_uint64(v, out) < 0 || *out > max)
		return fail(p, field(sub, at, key), "must be an integer from 0 to %llu", (unsigned long long)max);
	return 0;
}

static int get_u32(const struct parser *p, const sbx_json *obj, const char *key, const char *at, bool required,
		   uint32_t *out)
{
	uint64_t n;
	bool present;
	char sub[AT_MAX];

	*out = 0;
	if (get_uint(p, obj, key, at, UINT32_MAX, &n, &present) < 0)
		return -1;
	if (!present && required)
		return fail(p, field(sub, at, key), "missing");
	*out = (uint32_t)n;
	return 0;
}

/* A uid or gid: 2^32-1 is the "no change" of setresuid, never an id. */
static int get_id(const struct parser *p, const sbx_json *obj, const char *key, const char *at, uint32_t *out)
{
	char sub[AT_MAX];

	if (get_u32(p, obj, key, at, false, out) < 0)
		return -1;
	if (*out == UINT32_MAX)
		return fail(p, field(sub, at, key), "4294967295 is not an id");
	return 0;
}

static int get_array(const struct parser *p, const sbx_json *obj, const char *key, const char *at, size_t max,
		     const sbx_json **out)
{
	const sbx_json *v = sbx_json_get(obj, key);
	char sub[AT_MAX];

	*out = NULL;
	if (sbx_json_is_null(v))
		return 0;
	if (!sbx_json_is_array(v))
		return fail(p, field(sub, at, key), "must be an array");
	if (sbx_json_array_size(v) > max)
		return fail(p, field(sub, at, key), "more than %zu entries", max);
	*out = v;
	return 0;
}

/* calloc, with the error. */
static void *alloc(const struct parser *p, size_t n, size_t size)
{
	void *ptr = calloc(n ? n : 1, size);

	if (ptr == NULL)
		sbx_fail(p->err, ENOMEM, "%s", p->what);
	return ptr;
}

/* A NULL-terminated array of the strings of array KEY (NULL when absent),
 * each at most MAX_LEN bytes. */
static int get_strings(const struct parser *p, const sbx_json *obj, const char *key, const char *at, size_t max,
		       size_t max_len, char ***out, size_t *n_out)
{
	const sbx_json *arr;
	char sub[AT_MAX], one[AT_MAX];
	size_t n;

	*out = NULL;
	if (n_out != NULL)
		*n_out = 0;
	if (get_array(p, obj, key, at, max, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	n = sbx_json_array_size(arr);
	*out = alloc(p, n + 1, sizeof(**out));
	if (*out == NULL)
		return -1;
	field(sub, at, key);
	for (size_t i = 0; i < n; i++) {
		const char *s = sbx_json_string(sbx_json_array_at(arr, i));

		if (s == NULL)
			return fail(p, item(one, sub, i), "must be a string");
		if (strlen(s) > max_len)
			return fail(p, item(one, sub, i), "longer than %zu bytes", max_len);
		(*out)[i] = (char *)s;
	}
	if (n_out != NULL)
		*n_out = n;
	return 0;
}

/* Absolute, at most PATH_MAX, and no ".." component: destinations inside
 * the container are resolved under its root, but a path that climbs is
 * never what an engine meant. */
static int check_abs_path(const struct parser *p, const char *at, const char *path)
{
	if (path[0] != '/')
		return fail(p, at, "\"%.64s\" is not an absolute path", path);
	if (strlen(path) >= PATH_MAX)
		return fail(p, at, "longer than %d bytes", PATH_MAX - 1);
	for (const char *c = path; c != NULL; c = strchr(c, '/')) {
		c++;
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return fail(p, at, "\"%.64s\" has a \"..\" component", path);
	}
	return 0;
}

static int get_abs_path(const struct parser *p, const sbx_json *obj, const char *key, const char *at, bool required,
			const char **out)
{
	char sub[AT_MAX];

	if (get_string(p, obj, key, at, PATH_MAX, required, out) < 0)
		return -1;
	if (*out != NULL && check_abs_path(p, field(sub, at, key), *out) < 0)
		return -1;
	return 0;
}

static int get_abs_paths(const struct parser *p, const sbx_json *obj, const char *key, const char *at,
			 const char ***out, size_t *n)
{
	char sub[AT_MAX], one[AT_MAX];
	char **list;

	if (get_strings(p, obj, key, at, MAX_PATHS, PATH_MAX, &list, n) < 0) {
		*out = (const char **)list;
		return -1;
	}
	*out = (const char **)list;
	field(sub, at, key);
	for (size_t i = 0; i < *n; i++)
		if (check_abs_path(p, item(one, sub, i), list[i]) < 0)
			return -1;
	return 0;
}

/* ---- process -------------------------------------------------------------------- */

static int parse_cap_set(const struct parser *p, const sbx_json *caps, const char *key, const char *at,
			 uint64_t *set)
{
	const sbx_json *arr;
	char sub[AT_MAX], one[AT_MAX];

	*set = 0;
	if (get_array(p, caps, key, at, 64 * 4, &arr) < 0)
		return -1;
	field(sub, at, key);
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		const char *name = sbx_json_string(sbx_json_array_at(arr, i));
		cap_value_t cap;
		char *back;
		bool same;

		if (name == NULL)
			return fail(p, item(one, sub, i), "must be a string");
		/* cap_from_name also takes numbers, lower case and a name
		 * followed by anything ("CAP_KILL,CAP_SYS_ADMIN"): the name
		 * must be exactly one libcap gives back. */
		if (strncmp(name, "CAP_", 4) != 0 || strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") != strlen(name) ||
		    cap_from_name(name, &cap) < 0 || cap < 0 || cap > 63)
			return fail(p, item(one, sub, i), "unknown capability \"%.64s\"", name);
		back = cap_to_name(cap);
		same = back != NULL && strcasecmp(back, name) == 0;
		cap_free(back);
		if (!same)
			return fail(p, item(one, sub, i), "unknown capability \"%.64s\"", name);
		*set |= UINT64_C(1) << cap;
	}
	return 0;
}

static int parse_caps(const struct parser *p, const sbx_json *proc, const char *at, struct sbx_oci_process *out)
{
	static const char *const known[] = { "bounding", "effective", "inheritable", "permitted", "ambient", NULL };
	const sbx_json *caps = sbx_json_get(proc, "capabilities");
	char sub[AT_MAX];

	out->has_caps = !sbx_json_is_null(caps);
	if (!out->has_caps)
		return 0;
	field(sub, at, "capabilities");
	if (check_fields(p, caps, sub, known, NULL) < 0 || parse_cap_set(p, caps, "bounding", sub, &out->cap_bounding) < 0 ||
	    parse_cap_set(p, caps, "effective", sub, &out->cap_effective) < 0 ||
	    parse_cap_set(p, caps, "inheritable", sub, &out->cap_inheritable) < 0 ||
	    parse_cap_set(p, caps, "permitted", sub, &out->cap_permitted) < 0 ||
	    parse_cap_set(p, caps, "ambient", sub, &out->cap_ambient) < 0)
		return -1;
	return 0;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_AS", RLIMIT_AS },		{ "RLIMIT_CORE", RLIMIT_CORE },
	{ "RLIMIT_CPU", RLIMIT_CPU },		{ "RLIMIT_DATA", RLIMIT_DATA },
	{ "RLIMIT_FSIZE", RLIMIT_FSIZE },	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE },
	{ "RLIMIT_NICE", RLIMIT_NICE },		{ "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },	{ "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },	{ "RLIMIT_RTTIME", RLIMIT_RTTIME },
	{ "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING }, { "RLIMIT_STACK", RLIMIT_STACK },
};

static int parse_rlimits(const struct parser *p, const sbx_json *proc, const char *at, struct sbx_oci_process *out)
{
	static const char *const known[] = { "type", "soft", "hard", NULL };
	const sbx_json *arr;
	char sub[AT_MAX], one[AT_MAX];

	if (get_array(p, proc, "rlimits", at, MAX_RLIMITS, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	out->rlimits = alloc(p, sbx_json_array_size(arr), sizeof(*out->rlimits));
	if (out->rlimits == NULL)
		return -1;
	field(sub, at, "rlimits");
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		const sbx_json *e = sbx_json_array_at(arr, i);
		struct sbx_oci_rlimit *r = &out->rlimits[i];
		const char *type;
		bool present;
		size_t k;

		item(one, sub, i);
		if (check_fields(p, e, one, known, NULL) < 0 || get_string(p, e, "type", one, 64, true, &type) < 0)
			return -1;
		for (k = 0; k < SBX_ARRAY_SIZE(rlimit_names) && strcmp(rlimit_names[k].name, type) != 0; k++)
			;
		if (k == SBX_ARRAY_SIZE(rlimit_names))
			return fail(p, one, "unknown rlimit type \"%.64s\"", type);
		r->resource = rlimit_names[k].resource;
		for (size_t j = 0; j < out->n_rlimits; j++)
			if (out->rlimits[j].resource == r->resource)
				return fail(p, one, "%s appears twice", type);
		if (get_uint(p, e, "soft", one, UINT64_MAX, &r->soft, &present) < 0)
			return -1;
		if (!present)
			return fail(p, one, "no soft limit");
		if (get_uint(p, e, "hard", one, UINT64_MAX, &r->hard, &present) < 0)
			return -1;
		if (!present)
			return fail(p, one, "no hard limit");
		if (r->soft > r->hard)
			return fail(p, one, "soft limit above the hard limit");
		out->n_rlimits++;
	}
	return 0;
}

static int parse_user(const struct parser *p, const sbx_json *proc, const char *at, struct sbx_oci_process *out)
{
	static const char *const known[] = { "uid", "gid", "umask", "additionalGids", NULL };
	static const char *const unsupported[] = { "username", NULL }; /* Windows */
	const sbx_json *user = sbx_json_get(proc, "user"), *gids;
	char sub[AT_MAX], list[AT_MAX], one[AT_MAX];
	uint64_t umask;

	if (sbx_json_is_null(user))
		return 0;
	field(sub, at, "user");
	if (check_fields(p, user, sub, known, unsupported) < 0 || get_id(p, user, "uid", sub, &out->uid) < 0 ||
	    get_id(p, user, "gid", sub, &out->gid) < 0 || get_uint(p, user, "umask", sub, 0777, &umask, &out->has_umask) < 0 ||
	    get_array(p, user, "additionalGids", sub, MAX_GROUPS, &gids) < 0)
		return -1;
	out->umask = (uint32_t)umask;
	if (gids == NULL)
		return 0;
	out->additional_gids = alloc(p, sbx_json_array_size(gids), sizeof(*out->additional_gids));
	if (out->additional_gids == NULL)
		return -1;
	field(list, sub, "additionalGids");
	for (size_t i = 0; i < sbx_json_array_size(gids); i++) {
		uint64_t gid;

		if (sbx_json_uint64(sbx_json_array_at(gids, i), &gid) < 0 || gid >= UINT32_MAX)
			return fail(p, item(one, list, i), "must be a gid from 0 to 4294967294");
		out->additional_gids[out->n_additional_gids++] = (uint32_t)gid;
	}
	return 0;
}

static int parse_console_size(const struct parser *p, const sbx_json *proc, const char *at,
			      struct sbx_oci_process *out)
{
	static const char *const known[] = { "height", "width", NULL };
	const sbx_json *box = sbx_json_get(proc, "consoleSize");
	char sub[AT_MAX];
	uint64_t h, w;
	bool present;

	if (sbx_json_is_null(box))
		return 0;
	field(sub, at, "consoleSize");
	if (check_fields(p, box, sub, known, NULL) < 0 || get_uint(p, box, "height", sub, UINT16_MAX, &h, &present) < 0 ||
	    get_uint(p, box, "width", sub, UINT16_MAX, &w, &present) < 0)
		return -1;
	out->console_height = (unsigned int)h;
	out->console_width = (unsigned int)w;
	return 0;
}

static int parse_args_env(const struct parser *p, const sbx_json *proc, const char *at, struct sbx_oci_process *out)
{
	char sub[AT_MAX], one[AT_MAX];
	size_t n;

	if (get_strings(p, proc, "args", at, MAX_STRINGS, MAX_ARG_LEN, &out->args, &n) < 0)
		return -1;
	if (n == 0 || out->args[0][0] == '\0')
		return fail(p, field(sub, at, "args"), "must name a program");
	if (get_strings(p, proc, "env", at, MAX_STRINGS, MAX_ARG_LEN, &out->env, &n) < 0)
		return -1;
	if (out->env == NULL) {
		out->env = alloc(p, 1, sizeof(*out->env));
		if (out->env == NULL)
			return -1;
	}
	/* As runc: a name before "=", whatever its characters (images set
	 * "spring.profiles.active=..."). */
	field(sub, at, "env");
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(out->env[i], '=');

		if (eq == NULL || eq == out->env[i])
			return fail(p, item(one, sub, i), "not NAME=VALUE");
	}
	return 0;
}

static int parse_process_fields(const struct parser *p, const sbx_json *proc, const char *at,
				struct sbx_oci_process *out)
{
	static const char *const known[] = { "terminal", "consoleSize", "user", "args", "env", "cwd",
					     "capabilities", "rlimits", "noNewPrivileges", "apparmorProfile",
					     "oomScoreAdj", "selinuxLabel", NULL };
	static const char *const unsupported[] = { "commandLine", "scheduler", "ioPriority", "execCPUAffinity",
						   NULL };
	int64_t oom;

	if (check_fields(p, proc, at, known, unsupported) < 0 || get_bool(p, proc, "terminal", at, &out->terminal) < 0 ||
	    parse_console_size(p, proc, at, out) < 0 || parse_user(p, proc, at, out) < 0 ||
	    parse_args_env(p, proc, at, out) < 0 || get_abs_path(p, proc, "cwd", at, true, &out->cwd) < 0 ||
	    parse_caps(p, proc, at, out) < 0 || parse_rlimits(p, proc, at, out) < 0 ||
	    get_bool(p, proc, "noNewPrivileges", at, &out->no_new_privileges) < 0 ||
	    get_string(p, proc, "apparmorProfile", at, MAX_NAME_LEN, false, &out->apparmor_profile) < 0 ||
	    get_string(p, proc, "selinuxLabel", at, MAX_NAME_LEN, false, &out->selinux_label) < 0 ||
	    get_int(p, proc, "oomScoreAdj", at, -1000, 1000, &oom, &out->has_oom_score_adj) < 0)
		return -1;
	out->oom_score_adj = (int)oom;
	return 0;
}

void sbx_oci_process_free(struct sbx_oci_process *proc)
{
	free(proc->additional_gids);
	free(proc->args);
	free(proc->env);
	free(proc->rlimits);
	memset(proc, 0, sizeof(*proc));
}

/* ---- mounts ---------------------------------------------------------------------- */

static const struct libmnt_optmap *find_option(const struct libmnt_optmap *map, const char *name)
{
	for (; map->name != NULL; map++)
		if (strcmp(map->name, name) == 0)
			return map;
	return NULL;
}

static int append_data(const struct parser *p, const char *at, struct sbx_oci_mount *m, const char *opt)
{
	size_t have = m->data ? strlen(m->data) : 0, add = strlen(opt);
	char *data;

	if (have + add + 2 > MAX_MOUNT_DATA)
		return fail(p, at, "the file system's options are longer than %d bytes", MAX_MOUNT_DATA - 1);
	data = realloc(m->data, have + add + 2);
	if (data == NULL)
		return sbx_fail(p->err, ENOMEM, "%s", p->what);
	if (have > 0)
		data[have++] = ',';
	memcpy(data + have, opt, add + 1);
	m->data = data;
	return 0;
}

/* One option through libmount's map of the kernel's: a flag set or
 * cleared, a bind, a propagation; what the map does not know is the file
 * system's (data). */
static int apply_option(const struct parser *p, const char *at, const struct libmnt_optmap *map,
			struct sbx_oci_mount *m, const char *opt)
{
	const unsigned long propagation = MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_UNBINDABLE;
	const struct libmnt_optmap *e;
	unsigned long id;

	if (opt[0] == '\0' || strchr(opt, ',') != NULL)
		return fail(p, at, "\"%.64s\" is not one mount option", opt);
	if (strcmp(opt, "defaults") == 0) /* runc's no-op */
		return 0;
	if (strcmp(opt, "tmpcopyup") == 0 || strcmp(opt, "notmpcopyup") == 0) {
		m->tmpcopyup = opt[0] == 't';
		return 0;
	}
	if (strcmp(opt, "idmap") == 0 || strcmp(opt, "ridmap") == 0)
		return fail(p, at, "\"%s\" (id-mapped mounts) is not supported by sbx", opt);
	e = find_option(map, opt);
	if (e == NULL) {
		/* The runtime-spec's recursive attributes ("rro", "rnosuid"):
		 * mount_setattr(AT_RECURSIVE), not a flag. */
		if (opt[0] == 'r' && find_option(map, opt + 1) != NULL)
			return fail(p, at, "\"%.64s\" (a recursive mount attribute) is not supported by sbx", opt);
		return append_data(p, at, m, opt);
	}
	id = (unsigned long)(unsigned int)e->id;
	if (id & MS_REMOUNT)
		return fail(p, at, "\"%s\" has no meaning in a container's mounts", opt);
	if (id & propagation) {
		if (m->propagation != 0 && m->propagation != id)
			return fail(p, at, "\"%s\" contradicts an earlier propagation option", opt);
		m->propagation = id;
		return 0;
	}
	if (id & MS_BIND)
		m->bind = true;
	if (e->mask & MNT_INVERT) {
		m->clear |= id;
		m->flags &= ~id;
	} else {
		m->flags |= id;
		m->clear &= ~id;
	}
	return 0;
}

static int parse_mount_options(const struct parser *p, const sbx_json *e, const char *at, struct sbx_oci_mount *m)
{
	const struct libmnt_optmap *map = NULL;
	const sbx_json *opts;
	char sub[AT_MAX], one[AT_MAX];

	if (get_array(p, e, "options", at, 256, &opts) < 0)
		return -1;
	field(sub, at, "options");
	for (size_t i = 0; i < sbx_json_array_size(opts); i++) {
		const char *opt = sbx_json_string(sbx_json_array_at(opts, i));

		item(one, sub, i);
		if (opt == NULL)
			return fail(p, one, "must be a string");
		if (strlen(opt) > MAX_NAME_LEN)
			return fail(p, one, "longer than %d bytes", MAX_NAME_LEN);
		if (map == NULL && (map = sbx_mount_linux_optmap(p->err)) == NULL)
			return sbx_error_wrap(p->err, "%s: %s", p->what, one);
		if (apply_option(p, one, map, m, opt) < 0)
			return -1;
	}
	return 0;
}

static int parse_mount(const struct parser *p, const sbx_json *e, const char *at, struct sbx_oci_mount *m)
{
	static const char *const known[] = { "destination", "type", "source", "options", NULL };
	static const char *const unsupported[] = { "uidMappings", "gidMappings", NULL };

	if (check_fields(p, e, at, known, unsupported) < 0 ||
	    get_abs_path(p, e, "destination", at, true, &m->destination) < 0 ||
	    get_string(p, e, "type", at, MAX_NAME_LEN, false, &m->type) < 0 ||
	    get_string(p, e, "source", at, PATH_MAX, false, &m->source) < 0 || parse_mount_options(p, e, at, m) < 0)
		return -1;
	if (m->type != NULL && m->type[0] == '\0')
		m->type = NULL;
	if (m->type != NULL && strcmp(m->type, "bind") == 0)
		m->bind = true;
	if (m->bind)
		m->flags |= MS_BIND;
	if (m->type == NULL && !m->bind)
		return fail(p, at, "neither a type nor a bind mount");
	if (m->bind && m->data != NULL)
		return fail(p, at, "\"%.64s\": not an option of a bind mount", m->data);
	if (m->tmpcopyup && (m->type == NULL || strcmp(m->type, "tmpfs") != 0))
		return fail(p, at, "tmpcopyup is for tmpfs mounts only");
	return 0;
}

static int parse_mounts(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	const sbx_json *arr;
	char one[AT_MAX];

	if (get_array(p, doc, "mounts", "", MAX_MOUNTS, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	cfg->mounts = alloc(p, sbx_json_array_size(arr), sizeof(*cfg->mounts));
	if (cfg->mounts == NULL)
		return -1;
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		cfg->n_mounts++;
		if (parse_mount(p, sbx_json_array_at(arr, i), item(one, "mounts", i), &cfg->mounts[i]) < 0)
			return -1;
	}
	return 0;
}

/* ---- hooks ---------------------------------------------------------------------- */

static const char *const hook_kinds[SBX_OCI_HOOK_KINDS + 1] = { /* NULL-terminated */
	[SBX_OCI_HOOK_PRESTART] = "prestart",
	[SBX_OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[SBX_OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[SBX_OCI_HOOK_START_CONTAINER] = "startContainer",
	[SBX_OCI_HOOK_POSTSTART] = "poststart",
	[SBX_OCI_HOOK_POSTSTOP] = "poststop",
};

const char *sbx_oci_hook_kind_name(enum sbx_oci_hook_kind kind)
{
	return kind < SBX_OCI_HOOK_KINDS ? hook_kinds[kind] : "?";
}

static int parse_hook(const struct parser *p, const sbx_json *e, const char *at, struct sbx_oci_hook *h)
{
	static const char *const known[] = { "path", "args", "env", "timeout", NULL };
	char sub[AT_MAX], one[AT_MAX];
	bool present;
	int64_t timeout;
	size_t n;

	if (check_fields(p, e, at, known, NULL) < 0 || get_abs_path(p, e, "path", at, true, &h->path) < 0 ||
	    get_strings(p, e, "args", at, MAX_STRINGS, MAX_ARG_LEN, &h->args, NULL) < 0 ||
	    get_strings(p, e, "env", at, MAX_STRINGS, MAX_ARG_LEN, &h->env, &n) < 0 ||
	    get_int(p, e, "timeout", at, 1, INT_MAX, &timeout, &present) < 0)
		return -1;
	field(sub, at, "env");
	for (size_t i = 0; i < n; i++)
		if (strchr(h->env[i], '=') == NULL || h->env[i][0] == '=')
			return fail(p, item(one, sub, i), "not NAME=VALUE");
	h->timeout = (int)timeout;
	return 0;
}

static int parse_hooks(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	const sbx_json *hooks = sbx_json_get(doc, "hooks");
	char sub[AT_MAX], one[AT_MAX];

	if (sbx_json_is_null(hooks))
		return 0;
	if (check_fields(p, hooks, "hooks", (const char *const *)hook_kinds, NULL) < 0)
		return -1;
	for (int k = 0; k < SBX_OCI_HOOK_KINDS; k++) {
		const sbx_json *arr;

		if (get_array(p, hooks, hook_kinds[k], "hooks", MAX_HOOKS, &arr) < 0)
			return -1;
		if (arr == NULL)
			continue;
		cfg->hooks[k] = alloc(p, sbx_json_array_size(arr), sizeof(*cfg->hooks[k]));
		if (cfg->hooks[k] == NULL)
			return -1;
		field(sub, "hooks", hook_kinds[k]);
		for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
			cfg->n_hooks[k]++;
			if (parse_hook(p, sbx_json_array_at(arr, i), item(one, sub, i), &cfg->hooks[k][i]) < 0)
				return -1;
		}
	}
	return 0;
}

/* ---- string maps ------------------------------------------------------------------ */

static int parse_map(const struct parser *p, const sbx_json *obj, const char *key, const char *at, size_t max,
		     size_t max_len, const char ***keys, const char ***values, size_t *n)
{
	const sbx_json *map = sbx_json_get(obj, key);
	char sub[AT_MAX], one[AT_MAX];
	size_t size;

	if (sbx_json_is_null(map))
		return 0;
	field(sub, at, key);
	if (!sbx_json_is_object(map))
		return fail(p, sub, "must be an object");
	size = sbx_json_object_size(map);
	if (size > max)
		return fail(p, sub, "more than %zu entries", max);
	*keys = alloc(p, size, sizeof(**keys));
	*values = alloc(p, size, sizeof(**values));
	if (*keys == NULL || *values == NULL)
		return -1;
	for (size_t i = 0; i < size; i++) {
		const char *k = sbx_json_object_key(map, i);
		const char *v = sbx_json_string(sbx_json_get(map, k));

		field(one, sub, k);
		if (k[0] == '\0')
			return fail(p, sub, "an empty key");
		if (v == NULL)
			return fail(p, one, "must be a string");
		if (strlen(k) > max_len || strlen(v) > max_len)
			return fail(p, one, "longer than %zu bytes", max_len);
		(*keys)[i] = k;
		(*values)[i] = v;
		(*n)++;
	}
	return 0;
}

/* A sysctl names a file under /proc/sys: dots or slashes between plain
 * names, nothing that climbs out. */
static int check_sysctls(const struct parser *p, const struct sbx_oci_config *cfg)
{
	char sub[AT_MAX];

	for (size_t i = 0; i < cfg->n_sysctl; i++) {
		const char *k = cfg->sysctl_keys[i];
		bool bad = strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./") != strlen(k) ||
			   k[0] == '.' || k[0] == '/' || strstr(k, "..") != NULL || strstr(k, "//") != NULL ||
			   strstr(k, "./") != NULL || strstr(k, "/.") != NULL;

		if (bad)
			return fail(p, field(sub, "linux.sysctl", k), "not a sysctl name");
	}
	return 0;
}

/* ---- linux --------------------------------------------------------------------------- */

static const char *const ns_names[SBX_OCI_NS_COUNT] = {
	[SBX_OCI_NS_PID] = "pid",     [SBX_OCI_NS_NETWORK] = "network", [SBX_OCI_NS_MOUNT] = "mount",
	[SBX_OCI_NS_IPC] = "ipc",     [SBX_OCI_NS_UTS] = "uts",         [SBX_OCI_NS_USER] = "user",
	[SBX_OCI_NS_CGROUP] = "cgroup", [SBX_OCI_NS_TIME] = "time",
};

const char *sbx_oci_ns_name(enum sbx_oci_ns ns)
{
	return (unsigned int)ns < SBX_OCI_NS_COUNT ? ns_names[ns] : "?";
}

static int parse_namespaces(const struct parser *p, const sbx_json *lx, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "type", "path", NULL };
	const sbx_json *arr;
	char one[AT_MAX], sub[AT_MAX];

	if (get_array(p, lx, "namespaces", "linux", SBX_OCI_NS_COUNT * 4, &arr) < 0)
		return -1;
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		const sbx_json *e = sbx_json_array_at(arr, i);
		const char *type, *path;
		int ns;

		item(one, "linux.namespaces", i);
		/* "path": "" is Go's empty string for none. */
		if (check_fields(p, e, one, known, NULL) < 0 || get_string(p, e, "type", one, 64, true, &type) < 0 ||
		    get_string(p, e, "path", one, PATH_MAX, false, &path) < 0)
			return -1;
		if (path != NULL && path[0] == '\0')
			path = NULL;
		if (path != NULL && check_abs_path(p, field(sub, one, "path"), path) < 0)
			return -1;
		for (ns = 0; ns < SBX_OCI_NS_COUNT && strcmp(ns_names[ns], type) != 0; ns++)
			;
		if (ns == SBX_OCI_NS_COUNT)
			return fail(p, one, "unknown namespace type \"%.64s\"", type);
		if (cfg->ns[ns].present)
			return fail(p, one, "a second %s namespace", type);
		cfg->ns[ns].present = true;
		cfg->ns[ns].path = path;
	}
	return 0;
}

static int parse_idmaps(const struct parser *p, const sbx_json *lx, const char *key, struct sbx_oci_idmap **out,
			size_t *n)
{
	static const char *const known[] = { "containerID", "hostID", "size", NULL };
	const sbx_json *arr;
	char sub[AT_MAX], one[AT_MAX];

	if (get_array(p, lx, key, "linux", MAX_IDMAPS, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	*out = alloc(p, sbx_json_array_size(arr), sizeof(**out));
	if (*out == NULL)
		return -1;
	field(sub, "linux", key);
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		const sbx_json *e = sbx_json_array_at(arr, i);
		struct sbx_oci_idmap *m = &(*out)[i];

		item(one, sub, i);
		if (check_fields(p, e, one, known, NULL) < 0 || get_u32(p, e, "containerID", one, true, &m->container_id) < 0 ||
		    get_u32(p, e, "hostID", one, true, &m->host_id) < 0 || get_u32(p, e, "size", one, true, &m->size) < 0)
			return -1;
		if (m->size == 0)
			return fail(p, one, "size 0 maps nothing");
		if ((uint64_t)m->container_id + m->size > UINT32_MAX || (uint64_t)m->host_id + m->size > UINT32_MAX)
			return fail(p, one, "the range goes past 4294967294");
		(*n)++;
	}
	return 0;
}

static int parse_device(const struct parser *p, const sbx_json *e, const char *at, struct sbx_oci_device *d)
{
	static const char *const known[] = { "path", "type", "major", "minor", "fileMode", "uid", "gid", NULL };
	const char *type;
	bool has_major, has_minor;
	uint64_t mode;
	char sub[AT_MAX];

	if (check_fields(p, e, at, known, NULL) < 0 || get_abs_path(p, e, "path", at, true, &d->path) < 0 ||
	    get_string(p, e, "type", at, 1, true, &type) < 0 ||
	    get_int(p, e, "major", at, 0, UINT32_MAX, &d->major, &has_major) < 0 ||
	    get_int(p, e, "minor", at, 0, UINT32_MAX, &d->minor, &has_minor) < 0 ||
	    get_uint(p, e, "fileMode", at, UINT32_MAX, &mode, &d->has_mode) < 0 ||
	    get_u32(p, e, "uid", at, false, &d->uid) < 0 || get_u32(p, e, "gid", at, false, &d->gid) < 0)
		return -1;
	if (strlen(type) != 1 || strchr("cbup", type[0]) == NULL)
		return fail(p, field(sub, at, "type"), "must be c, b, u or p");
	d->type = type[0];
	if (d->type != 'p' && (!has_major || !has_minor))
		return fail(p, at, "a %s device needs major and minor", d->type == 'b' ? "block" : "character");
	/* The type bits may come along (podman sends S_IFCHR|0666): they
	 * must agree with the type; setuid and setgid bits mean nothing on a
	 * device and are refused. */
	if ((mode & S_IFMT) != 0 && (mode & S_IFMT) != (d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR))
		return fail(p, field(sub, at, "fileMode"), "its file type is not the device's");
	if (mode & ~(uint64_t)(S_IFMT | 0777))
		return fail(p, field(sub, at, "fileMode"), "only permission bits (0777) are allowed");
	d->file_mode = (uint32_t)(mode & 0777);
	d->has_uid = sbx_json_get(e, "uid") != NULL && !sbx_json_is_null(sbx_json_get(e, "uid"));
	d->has_gid = sbx_json_get(e, "gid") != NULL && !sbx_json_is_null(sbx_json_get(e, "gid"));
	return 0;
}

static int parse_devices(const struct parser *p, const sbx_json *lx, struct sbx_oci_config *cfg)
{
	const sbx_json *arr;
	char one[AT_MAX];

	if (get_array(p, lx, "devices", "linux", MAX_DEVICES, &arr) < 0)
		return -1;
	if (arr == NULL)
		return 0;
	cfg->devices = alloc(p, sbx_json_array_size(arr), sizeof(*cfg->devices));
	if (cfg->devices == NULL)
		return -1;
	for (size_t i = 0; i < sbx_json_array_size(arr); i++) {
		if (parse_device(p, sbx_json_array_at(arr, i), item(one, "linux.devices", i), &cfg->devices[i]) < 0)
			return -1;
		cfg->n_devices++;
	}
	return 0;
}

static int parse_device_rule(const struct parser *p, const sbx_json *e, const char *at,
			     struct sbx_oci_device_rule *r)
{
	static const char *const known[] = { "allow", "type", "major", "minor", "access", NULL };
	const char *type;
	bool present;
	char sub[AT_MAX];

	if (check_fields(p, e, at, known, NULL) < 0 || get_bool(p, e, "allow", at, &r->allow) < 0 ||
	    get_string(p, e, "type", at, 1, false, &type) < 0 || get_string(p, e, "access", at, 3, false, &r->access) < 0 ||
	    get_int(p, e, "major", at, -1, UINT32_MAX, &r->major, &present) < 0)
		return -1;
	if (!present)
		r->major = -1;
	if (get_int(p, e, "minor", at, -1, UINT32_MAX, &r->minor, &present) < 0)
		return -1;
	if (!present)
		r->minor = -1;
	if (type == NULL || type[0] == '\0')
		type = "a";
	if (strlen(type) != 1 || strchr("acb", type[0]) == NULL)
		return fail(p, field(sub, at, "type"), "must be a, c or b");
	r->type = type[0];
	if (r->access == NULL || r->access[0] == '\0')
		r->access = "rwm";
	if (strspn(r->access, "rwm") != strlen(r->access))
		return fail(p, field(sub, at, "access"), "must be letters of \"rwm\"");
	return 0;
}

/* "2MB": digits, then KB, MB or GB (the kernel's hugetlb.<size> names). */
static bool valid_page_size(const char *s)
{
	size_t digits = strspn(s, "0123456789");

	return digits > 0 && digits < 8 && s[0] != '0' &&
	       (strcmp(s + digits, "KB") == 0 || strcmp(s + digits, "MB") == 0 || strcmp(s + digits, "GB") == 0);
}

static int parse_hugepages(const struct parser *p, const sbx_json *res, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "pageSize", "limit", NULL };
	const char *at = "linux.resources.hugepageLimits";
	const sbx_json *list;
	char one[AT_MAX], sub[AT_MAX];
	bool present;

	if (get_array(p, res, "hugepageLimits", at, MAX_HUGEPAGES, &list) < 0)
		return -1;
	if (list == NULL)
		return 0;
	cfg->hugepages = alloc(p, sbx_json_array_size(list), sizeof(*cfg->hugepages));
	if (cfg->hugepages == NULL)
		return -1;
	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		const sbx_json *e = sbx_json_array_at(list, i);
		struct sbx_oci_hugepage *h = &cfg->hugepages[i];

		item(one, at, i);
		if (check_fields(p, e, one, known, NULL) < 0 ||
		    get_string(p, e, "pageSize", one, 16, true, &h->page_size) < 0 ||
		    get_uint(p, e, "limit", one, UINT64_MAX, &h->limit, &present) < 0)
			return -1;
		if (!valid_page_size(h->page_size))
			return fail(p, field(sub, one, "pageSize"), "must be a size such as \"2MB\" or \"1GB\"");
		for (size_t j = 0; j < i; j++)
			if (strcmp(cfg->hugepages[j].page_size, h->page_size) == 0)
				return fail(p, field(sub, one, "pageSize"), "%s appears twice", h->page_size);
		cfg->n_hugepages++;
	}
	return 0;
}

static int parse_resources(const struct parser *p, const sbx_json *lx, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "devices", "memory", "cpu", "pids", "hugepageLimits", NULL };
	static const char *const unsupported[] = { "blockIO", "network", "rdma", "unified", NULL };
	static const char *const mem_known[] = { "limit", "swap", "reservation", NULL };
	static const char *const mem_unsupported[] = { "kernel", "kernelTCP", "swappiness", "disableOOMKiller",
						       "useHierarchy", "checkBeforeUpdate", NULL };
	static const char *const cpu_known[] = { "shares", "quota", "period", "cpus", "mems", NULL };
	static const char *const cpu_unsupported[] = { "burst", "realtimeRuntime", "realtimePeriod", "idle", NULL };
	static const char *const pids_known[] = { "limit", NULL };
	const char *at = "linux.resources";
	const sbx_json *res = sbx_json_get(lx, "resources"), *mem, *cpu, *pids, *rules;
	char one[AT_MAX];
	bool present;

	if (sbx_json_is_null(res))
		return 0;
	if (check_fields(p, res, at, known, unsupported) < 0 || get_array(p, res, "devices", at, MAX_DEVICE_RULES, &rules) < 0 ||
	    parse_hugepages(p, res, cfg) < 0)
		return -1;
	if (rules != NULL) {
		cfg->device_rules = alloc(p, sbx_json_array_size(rules), sizeof(*cfg->device_rules));
		if (cfg->device_rules == NULL)
			return -1;
		for (size_t i = 0; i < sbx_json_array_size(rules); i++) {
			if (parse_device_rule(p, sbx_json_array_at(rules, i), item(one, "linux.resources.devices", i),
					      &cfg->device_rules[i]) < 0)
				return -1;
			cfg->n_device_rules++;
		}
	}
	mem = sbx_json_get(res, "memory");
	if (!sbx_json_is_null(mem)) {
		at = "linux.resources.memory";
		if (check_fields(p, mem, at, mem_known, mem_unsupported) < 0 ||
		    get_int(p, mem, "limit", at, -1, INT64_MAX, &cfg->memory_limit, &cfg->has_memory_limit) < 0 ||
		    get_int(p, mem, "swap", at, -1, INT64_MAX, &cfg->memory_swap, &cfg->has_memory_swap) < 0 ||
		    get_int(p, mem, "reservation", at, -1, INT64_MAX, &cfg->memory_reservation,
			    &cfg->has_memory_reservation) < 0)
			return -1;
	}
	cpu = sbx_json_get(res, "cpu");
	if (!sbx_json_is_null(cpu)) {
		at = "linux.resources.cpu";
		if (check_fields(p, cpu, at, cpu_known, cpu_unsupported) < 0 ||
		    get_uint(p, cpu, "shares", at, 262144, &cfg->cpu_shares, &present) < 0 ||
		    get_int(p, cpu, "quota", at, -1, INT64_MAX, &cfg->cpu_quota, &cfg->has_cpu_quota) < 0 ||
		    get_uint(p, cpu, "period", at, 1000000, &cfg->cpu_period, &present) < 0 ||
		    get_string(p, cpu, "cpus", at, MAX_NAME_LEN, false, &cfg->cpu_cpus) < 0 ||
		    get_string(p, cpu, "mems", at, MAX_NAME_LEN, false, &cfg->cpu_mems) < 0)
			return -1;
		if (cfg->cpu_cpus != NULL && cfg->cpu_cpus[0] == '\0')
			cfg->cpu_cpus = NULL;
		if (cfg->cpu_mems != NULL && cfg->cpu_mems[0] == '\0')
			cfg->cpu_mems = NULL;
	}
	pids = sbx_json_get(res, "pids");
	if (!sbx_json_is_null(pids)) {
		at = "linux.resources.pids";
		if (check_fields(p, pids, at, pids_known, NULL) < 0 ||
		    get_int(p, pids, "limit", at, INT64_MIN, INT64_MAX, &cfg->pids_limit, &cfg->has_pids_limit) < 0)
			return -1;
	}
	return 0;
}

/* ---- seccomp -------------------------------------------------------------------------- */

static const char *const seccomp_actions[] = { "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
					       "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP",
					       "SCMP_ACT_LOG", NULL };

static int check_action(const struct parser *p, const sbx_json *obj, const char *key, const char *at)
{
	const char *action;
	char sub[AT_MAX];

	if (get_string(p, obj, key, at, 64, true, &action) < 0)
		return -1;
	if (strcmp(action, "SCMP_ACT_TRACE") == 0 || strcmp(action, "SCMP_ACT_NOTIFY") == 0)
		return fail(p, field(sub, at, key), "%s is not supported by sbx", action);
	if (!in_list(seccomp_actions, action))
		return fail(p, field(sub, at, key), "unknown action \"%.64s\"", action);
	return 0;
}

static int check_seccomp_rule(const struct parser *p, const sbx_json *e, const char *at)
{
	static const char *const known[] = { "names", "action", "errnoRet", "args", NULL };
	static const char *const arg_known[] = { "index", "value", "valueTwo", "op", NULL };
	static const char *const ops[] = { "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
					   "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL };
	cleanup_free char **names = NULL;
	const sbx_json *args;
	char sub[AT_MAX], one[AT_MAX];
	uint64_t n;
	size_t n_names;
	bool present;
	const char *op;

	if (check_fields(p, e, at, known, NULL) < 0 ||
	    get_strings(p, e, "names", at, MAX_SECCOMP_NAMES, 64, &names, &n_names) < 0 ||
	    check_action(p, e, "action", at) < 0 ||
	    get_uint(p, e, "errnoRet", at, 4095, &n, &present) < 0 || get_array(p, e, "args", at, 6, &args) < 0)
		return -1;
	if (n_names == 0)
		return fail(p, field(sub, at, "names"), "must name at least one system call");
	field(sub, at, "args");
	for (size_t i = 0; i < sbx_json_array_size(args); i++) {
		const sbx_json *a = sbx_json_array_at(args, i);

		item(one, sub, i);
		if (check_fields(p, a, one, arg_known, NULL) < 0 || get_uint(p, a, "index", one, 5, &n, &present) < 0 ||
		    get_uint(p, a, "value", one, UINT64_MAX, &n, &present) < 0 ||
		    get_uint(p, a, "valueTwo", one, UINT64_MAX, &n, &present) < 0 ||
		    get_string(p, a, "op", one, 64, true, &op) < 0)
			return -1;
		if (!in_list(ops, op))
			return fail(p, field(sub, one, "op"), "unknown operator \"%.64s\"", op);
	}
	return 0;
}

/* linux.seccomp's shape; what its names and numbers mean is the
 * compiler's to check (sbx_seccomp_compile, through sbx_oci_seccomp_text). */
static int check_seccomp(const struct parser *p, const sbx_json *lx, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "defaultAction", "defaultErrnoRet", "architectures", "flags",
					     "syscalls", NULL };
	static const char *const unsupported[] = { "listenerPath", "listenerMetadata", NULL };
	/* Without effect on a process that is single-threaded when its
	 * filter is loaded; the others change what the filter does. */
	static const char *const flags_ok[] = { "SECCOMP_FILTER_FLAG_TSYNC", NULL };
	static const char *const flags_refused[] = { "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
						     "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", NULL };
	const char *at = "linux.seccomp";
	const sbx_json *sc = sbx_json_get(lx, "seccomp"), *rules;
	cleanup_free char **arches = NULL, **flags = NULL;
	char sub[AT_MAX], one[AT_MAX];
	size_t n_flags;
	uint64_t n;
	bool present;

	if (sbx_json_is_null(sc))
		return 0;
	if (check_fields(p, sc, at, known, unsupported) < 0 || check_action(p, sc, "defaultAction", at) < 0 ||
	    get_uint(p, sc, "defaultErrnoRet", at, 4095, &n, &present) < 0 ||
	    get_strings(p, sc, "architectures", at, 64, 64, &arches, NULL) < 0 ||
	    get_strings(p, sc, "flags", at, 64, 64, &flags, &n_flags) < 0 ||
	    get_array(p, sc, "syscalls", at, MAX_SECCOMP_RULES, &rules) < 0)
		return -1;
	field(sub, at, "flags");
	for (size_t i = 0; i < n_flags; i++) {
		if (in_list(flags_refused, flags[i]))
			return fail(p, item(one, sub, i), "%s is not supported by sbx", flags[i]);
		if (!in_list(flags_ok, flags[i]))
			return fail(p, item(one, sub, i), "unknown flag \"%.64s\"", flags[i]);
	}
	field(sub, at, "syscalls");
	for (size_t i = 0; i < sbx_json_array_size(rules); i++)
		if (check_seccomp_rule(p, sbx_json_array_at(rules, i), item(one, sub, i)) < 0)
			return -1;
	cfg->seccomp = sc;
	return 0;
}

int sbx_oci_seccomp_text(const struct sbx_oci_config *cfg, char **text, struct sbx_error *err)
{
	yajl_gen g;
	int ret;

	*text = NULL;
	if (cfg->seccomp == NULL)
		return 0;
	g = yajl_gen_alloc(NULL);
	if (g == NULL)
		return sbx_fail(err, ENOMEM, "linux.seccomp");
	/* The parser let through only what the compiler takes, besides the
	 * flags, which were checked and have no text. */
	yajl_gen_map_open(g);
	for (size_t i = 0; i < sbx_json_object_size(cfg->seccomp); i++) {
		const char *key = sbx_json_object_key(cfg->seccomp, i);

		if (strcmp(key, "flags") != 0 && strcmp(key, "listenerPath") != 0 && strcmp(key, "listenerMetadata") != 0)
			sbx_json_gen_value(g, key, sbx_json_get(cfg->seccomp, key));
	}
	yajl_gen_map_close(g);
	ret = sbx_json_gen_text(g, text, err);
	yajl_gen_free(g);
	return ret;
}

/* ---- linux, as a whole ------------------------------------------------------------------ */

static int check_propagation(const struct parser *p, const char *at, const char *value)
{
	static const char *const known[] = { "private", "rprivate", "slave", "rslave", "shared", "rshared",
					     "unbindable", "runbindable", NULL };

	if (value != NULL && value[0] != '\0' && !in_list(known, value))
		return fail(p, at, "unknown propagation \"%.64s\"", value);
	return 0;
}

/* A path under the cgroup root, or systemd's "slice:prefix:name": never
 * one that climbs out of where the runtime puts it. */
static int check_cgroups_path(const struct parser *p, const char *path)
{
	for (const char *c = path; *c != '\0'; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return fail(p, "linux.cgroupsPath", "holds a control character");
	for (const char *c = path; c != NULL; c = strpbrk(c, "/:")) {
		c += *c == '/' || *c == ':';
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == ':' || c[2] == '\0'))
			return fail(p, "linux.cgroupsPath", "\"%.64s\" has a \"..\" component", path);
	}
	return 0;
}

static int parse_linux(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "uidMappings", "gidMappings", "sysctl", "resources", "cgroupsPath",
					     "namespaces", "devices", "seccomp", "rootfsPropagation", "maskedPaths",
					     "readonlyPaths", "mountLabel", NULL };
	static const char *const unsupported[] = { "intelRdt", "personality", "timeOffsets", NULL };
	const sbx_json *lx = sbx_json_get(doc, "linux");

	if (sbx_json_is_null(lx))
		return 0;
	if (check_fields(p, lx, "linux", known, unsupported) < 0 ||
	    parse_idmaps(p, lx, "uidMappings", &cfg->uid_mappings, &cfg->n_uid_mappings) < 0 ||
	    parse_idmaps(p, lx, "gidMappings", &cfg->gid_mappings, &cfg->n_gid_mappings) < 0 ||
	    parse_map(p, lx, "sysctl", "linux", MAX_SYSCTL, MAX_SYSCTL_LEN, &cfg->sysctl_keys, &cfg->sysctl_values,
		      &cfg->n_sysctl) < 0 ||
	    check_sysctls(p, cfg) < 0 || parse_resources(p, lx, cfg) < 0 ||
	    get_string(p, lx, "cgroupsPath", "linux", MAX_NAME_LEN, false, &cfg->cgroups_path) < 0 ||
	    parse_namespaces(p, lx, cfg) < 0 || parse_devices(p, lx, cfg) < 0 || check_seccomp(p, lx, cfg) < 0 ||
	    get_string(p, lx, "rootfsPropagation", "linux", 64, false, &cfg->rootfs_propagation) < 0 ||
	    check_propagation(p, "linux.rootfsPropagation", cfg->rootfs_propagation) < 0 ||
	    get_abs_paths(p, lx, "maskedPaths", "linux", &cfg->masked_paths, &cfg->n_masked_paths) < 0 ||
	    get_abs_paths(p, lx, "readonlyPaths", "linux", &cfg->readonly_paths, &cfg->n_readonly_paths) < 0 ||
	    get_string(p, lx, "mountLabel", "linux", MAX_NAME_LEN, false, &cfg->mount_label) < 0)
		return -1;
	if (cfg->cgroups_path != NULL && cfg->cgroups_path[0] == '\0')
		cfg->cgroups_path = NULL;
	if (cfg->cgroups_path != NULL && check_cgroups_path(p, cfg->cgroups_path) < 0)
		return -1;
	if (cfg->rootfs_propagation != NULL && cfg->rootfs_propagation[0] == '\0')
		cfg->rootfs_propagation = NULL;
	return 0;
}

/* ---- the document ------------------------------------------------------------------------- */

static int check_version(const struct parser *p, const char *version)
{
	char *end;
	unsigned long major;

	if (version[0] < '0' || version[0] > '9')
		return fail(p, "ociVersion", "\"%.64s\" is not a version", version);
	major = strtoul(version, &end, 10);
	if (*end != '.' || major != 1)
		return fail(p, "ociVersion", "\"%.64s\": sbx reads runtime-spec 1.x", version);
	return 0;
}

static int parse_root(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "path", "readonly", NULL };
	const sbx_json *root = sbx_json_get(doc, "root");

	if (sbx_json_is_null(root))
		return fail(p, "root", "missing");
	if (check_fields(p, root, "root", known, NULL) < 0 ||
	    get_string(p, root, "path", "root", PATH_MAX - 1, true, &cfg->root_path) < 0 ||
	    get_bool(p, root, "readonly", "root", &cfg->root_readonly) < 0)
		return -1;
	if (cfg->root_path[0] == '\0')
		return fail(p, "root.path", "empty");
	return 0;
}

static int parse_names(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	if (get_string(p, doc, "hostname", "", MAX_HOSTNAME, false, &cfg->hostname) < 0 ||
	    get_string(p, doc, "domainname", "", MAX_HOSTNAME, false, &cfg->domainname) < 0)
		return -1;
	if (cfg->hostname != NULL && cfg->hostname[0] == '\0')
		cfg->hostname = NULL;
	if (cfg->domainname != NULL && cfg->domainname[0] == '\0')
		cfg->domainname = NULL;
	return 0;
}

static int parse_doc(const struct parser *p, const sbx_json *doc, struct sbx_oci_config *cfg)
{
	static const char *const known[] = { "ociVersion", "process", "root", "hostname", "domainname", "mounts",
					     "hooks", "annotations", "linux", NULL };
	static const char *const unsupported[] = { "solaris", "windows", "vm", "zos", "freebsd", NULL };
	const sbx_json *proc;

	if (!sbx_json_is_object(doc))
		return fail(p, "", "not a JSON object");
	if (check_duplicates(p, doc, "") < 0 || check_fields(p, doc, "", known, unsupported) < 0 ||
	    get_string(p, doc, "ociVersion", "", 64, true, &cfg->oci_version) < 0 || check_version(p, cfg->oci_version) < 0)
		return -1;
	/* Optional in the spec until `start`; an engine always sends it, and
	 * sbx starts what it creates. */
	proc = sbx_json_get(doc, "process");
	if (sbx_json_is_null(proc))
		return fail(p, "process", "missing");
	if (parse_process_fields(p, proc, "process", &cfg->process) < 0 || parse_root(p, doc, cfg) < 0 ||
	    parse_names(p, doc, cfg) < 0 || parse_mounts(p, doc, cfg) < 0 || parse_hooks(p, doc, cfg) < 0 ||
	    parse_map(p, doc, "annotations", "", MAX_ANNOTATIONS, MAX_ANNOTATION_LEN, &cfg->annotation_keys,
		      &cfg->annotation_values, &cfg->n_annotations) < 0 ||
	    parse_linux(p, doc, cfg) < 0)
		return -1;
	return 0;
}

int sbx_oci_config_parse(const char *text, const char *what, struct sbx_oci_config *cfg, struct sbx_error *err)
{
	struct parser p = { .what = what, .err = err };

	memset(cfg, 0, sizeof(*cfg));
	if (strlen(text) > SBX_OCI_CONFIG_MAX)
		return fail(&p, "", "larger than %u bytes", SBX_OCI_CONFIG_MAX);
	if (precheck(&p, text) < 0 || sbx_json_parse(text, what, &cfg->doc, err) < 0)
		return -1;
	if (parse_doc(&p, cfg->doc, cfg) < 0) {
		sbx_oci_config_free(cfg);
		return -1;
	}
	return 0;
}

int sbx_oci_process_parse(const char *text, const char *what, struct sbx_oci_process *proc, sbx_json **doc,
			  struct sbx_error *err)
{
	struct parser p = { .what = what, .err = err };

	memset(proc, 0, sizeof(*proc));
	*doc = NULL;
	if (strlen(text) > SBX_OCI_CONFIG_MAX)
		return fail(&p, "", "larger than %u bytes", SBX_OCI_CONFIG_MAX);
	if (precheck(&p, text) < 0 || sbx_json_parse(text, what, doc, err) < 0)
		return -1;
	if (!sbx_json_is_object(*doc) ? fail(&p, "", "not a JSON object") < 0
				      : check_duplicates(&p, *doc, "") < 0 || parse_process_fields(&p, *doc, "", proc) < 0) {
		sbx_oci_process_free(proc);
		sbx_json_free(*doc);
		*doc = NULL;
		return -1;
	}
	return 0;
}

int sbx_oci_config_load(int bundle_dirfd, struct sbx_oci_config *cfg, struct sbx_error *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *text = NULL;
	struct stat st;

	memset(cfg, 0, sizeof(*cfg));
	/* O_NONBLOCK: a fifo in its place must not hang the engine. */
	fd = openat(bundle_dirfd, "config.json", O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return sbx_fail(err, errno, "opening the bundle's config.json");
	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "config.json");
	if (!S_ISREG(st.st_mode))
		return sbx_fail(err, 0, "config.json: not a regular file");
	if (sbx_read_fd(fd, "config.json", SBX_OCI_CONFIG_MAX, &text, err) < 0)
		return -1;
	if ((off_t)strlen(text) != st.st_size)
		return sbx_fail(err, 0, "config.json: holds a NUL byte, or changed while it was read");
	return sbx_oci_config_parse(text, "config.json", cfg, err);
}

void sbx_oci_config_free(struct sbx_oci_config *cfg)
{
	sbx_oci_process_free(&cfg->process);
	for (size_t i = 0; cfg->mounts != NULL && i < cfg->n_mounts; i++)
		free(cfg->mounts[i].data);
	free(cfg->mounts);
	for (int k = 0; k < SBX_OCI_HOOK_KINDS; k++) {
		for (size_t i = 0; cfg->hooks[k] != NULL && i < cfg->n_hooks[k]; i++) {
			free(cfg->hooks[k][i].args);
			free(cfg->hooks[k][i].env);
		}
		free(cfg->hooks[k]);
	}
	free(cfg->annotation_keys);
	free(cfg->annotation_values);
	free(cfg->uid_mappings);
	free(cfg->gid_mappings);
	free(cfg->sysctl_keys);
	free(cfg->sysctl_values);
	free(cfg->devices);
	free(cfg->device_rules);
	free(cfg->hugepages);
	free(cfg->masked_paths);
	free(cfg->readonly_paths);
	sbx_json_free(cfg->doc);
	memset(cfg, 0, sizeof(*cfg));
}

const char *sbx_oci_annotation(const struct sbx_oci_config *cfg, const char *key)
{
	for (size_t i = 0; i < cfg->n_annotations; i++)
		if (strcmp(cfg->annotation_keys[i], key) == 0)
			return cfg->annotation_values[i];
	return NULL;
}
