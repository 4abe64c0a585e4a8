#include "result.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <yajl/yajl_gen.h>

#include "json.h"
#include "util.h"

void sbx_result_init(struct sbx_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = SBX_EXIT_FAILURE;
	r->runtime = "native";
}

void sbx_result_add_layer(struct sbx_result *r, const char *layer)
{
	if (r->n_layers < SBX_MAX_LAYERS)
		r->layers[r->n_layers++] = layer;
}

int sbx_result_json_fd(int fd, struct sbx_error *err)
{
	/* A copy above stdio, close-on-exec: the command keeps its stdio
	 * (--json-fd 1 writes the result after the command's output) and never
	 * sees the descriptor. */
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	if (copy < 0)
		return sbx_fail(err, errno, "--json-fd %d", fd);
	return copy;
}

/* The path without its links, for the message that refuses them. */
static void path_without_links(const char *path, char *out, size_t size)
{
	cleanup_free char *dir_copy = strdup(path);
	cleanup_free char *base_copy = strdup(path);
	char real[PATH_MAX];

	snprintf(out, size, "?");
	if (dir_copy == NULL || base_copy == NULL || realpath(dirname(dir_copy), real) == NULL)
		return;
	snprintf(out, size, "%s/%s", strcmp(real, "/") == 0 ? "" : real, basename(base_copy));
}

int sbx_result_open_json_file(const char *path, struct sbx_error *err)
{
	/* Resolved once, through no symbolic link, never blocking on a fifo;
	 * created if need be but not truncated before it is checked. */
	struct open_how how = {
		.flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
		.mode = 0644,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	struct stat st;
	char plain[PATH_MAX + 256];

	if (fd < 0 && errno == ELOOP) {
		struct stat lst;

		if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			return sbx_fail(err, ELOOP, "--json %s: a symbolic link; sbx writes the result only "
					"to a regular file it reaches through no link", path);
		path_without_links(path, plain, sizeof(plain));
		return sbx_fail(err, ELOOP, "--json %s: the path goes through a symbolic link, which sbx "
				"does not follow to write the result; the same place without links: %s",
				path, plain);
	}
	/* ENXIO: a fifo nobody reads (or a device without its driver). */
	if (fd < 0 && errno != ENXIO)
		return sbx_fail(err, errno, "--json %s", path);
	if (fd >= 0 && fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "--json %s", path);
	if (fd < 0 || !S_ISREG(st.st_mode))
		return sbx_fail(err, 0, "--json %s: not a regular file (use --json-fd for a pipe "
				"or a terminal)", path);
	/* An existing file of someone else's (in /tmp, in a workspace a
	 * sandbox wrote) or with a second name could be a trap: a hard link
	 * to a file the caller can write and its planter cannot. */
	if (st.st_uid != geteuid())
		return sbx_fail(err, 0, "--json %s: the file belongs to uid %u, not to you (uid %u): "
				"remove it or choose another path", path, (unsigned)st.st_uid,
				(unsigned)geteuid());
	if (st.st_nlink > 1)
		return sbx_fail(err, 0, "--json %s: the file has %lu names (hard links); sbx writes "
				"the result only to a file with one", path, (unsigned long)st.st_nlink);
	if (ftruncate(fd, 0) < 0)
		return sbx_fail(err, errno, "--json %s", path);
	return sbx_steal_fd(&fd);
}

#define gen_key sbx_json_gen_key
#define gen_str sbx_json_gen_str

static void gen_int(yajl_gen g, const char *key, long long value)
{
	gen_key(g, key);
	yajl_gen_integer(g, value);
}

static void gen_bool(yajl_gen g, const char *key, bool value)
{
	gen_key(g, key);
	yajl_gen_bool(g, value);
}

/* Seconds to the microsecond: what the clocks measure, without the
 * twenty digits of yajl_gen_double. */
static void gen_number(yajl_gen g, double value)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%.6f", value);

	yajl_gen_number(g, buf, (size_t)n);
}

/* Thousandths as a decimal number ("0.5" for 500). */
static void gen_number3(yajl_gen g, uint64_t thousandths)
{
	char buf[64];
	int n = snprintf(buf, sizeof(buf), "%llu.%03llu", (unsigned long long)(thousandths / 1000),
			 (unsigned long long)(thousandths % 1000));

	while (n > 1 && buf[n - 1] == '0')
		n--;
	if (buf[n - 1] == '.')
		n--;
	yajl_gen_number(g, buf, (size_t)n);
}

static void gen_double(yajl_gen g, const char *key, double value)
{
	gen_key(g, key);
	gen_number(g, value);
}

/* A byte count, or null when it is unknown (output not relayed). */
static void gen_count(yajl_gen g, const char *key, bool known, uint64_t value)
{
	gen_key(g, key);
	if (known)
		yajl_gen_integer(g, (long long)value);
	else
		yajl_gen_null(g);
}

/* A limit's value, or null for none (or none enforced). */
static void gen_limit(yajl_gen g, const char *key, uint64_t value, bool in_force)
{
	gen_count(g, key, value != 0 && in_force, value);
}

static void gen_limits(yajl_gen g, const char *key, const struct sbx_run_options *o,
		       const struct sbx_limits_plan *held)
{
	const struct sbx_limits *l = &o->limits;

	gen_key(g, key);
	yajl_gen_map_open(g);
	gen_key(g, "timeout_s");
	if (o->timeout_ns)
		gen_number(g, (double)o->timeout_ns / 1e9);
	else
		yajl_gen_null(g);
	gen_double(g, "kill_grace_s", (double)o->kill_grace_ns / 1e9);
	gen_count(g, "output_limit_bytes", o->output_limit != 0, o->output_limit);
	gen_int(g, "tmp_bytes", (long long)o->tmp_size);
	gen_int(g, "shm_bytes", (long long)o->shm_size);
	gen_limit(g, "memory_bytes", l->memory_bytes, !held || held->memory != SBX_ENFORCER_NONE);
	gen_key(g, "cpus");
	if (l->cpu_millis && (!held || held->cpus != SBX_ENFORCER_NONE))
		gen_number3(g, l->cpu_millis);
	else
		yajl_gen_null(g);
	gen_limit(g, "pids", l->pids, !held || held->pids != SBX_ENFORCER_NONE);
	yajl_gen_map_close(g);
}

static void gen_enforcers(yajl_gen g, const struct sbx_limits_plan *p)
{
	gen_key(g, "limits_enforced_by");
	yajl_gen_map_open(g);
	gen_str(g, "memory", sbx_enforcer_name(p->memory));
	gen_str(g, "cpus", sbx_enforcer_name(p->cpus));
	gen_str(g, "pids", sbx_enforcer_name(p->pids));
	yajl_gen_map_close(g);
}

/* What the sandbox's cgroup measured; null where there was none. */
static void gen_cgroup_stats(yajl_gen g, const struct sbx_cgroup_stats *s)
{
	gen_count(g, "memory_peak_bytes", s->have_memory_peak, s->memory_peak_bytes);
	gen_bool(g, "oom_killed", s->oom_killed);
	gen_count(g, "pids_peak", s->have_pids_peak, s->pids_peak);
	gen_bool(g, "pids_limit_hit", s->pids_limit_hit);
	gen_key(g, "cpu_throttled_s");
	if (s->have_cpu_throttled)
		gen_number(g, s->cpu_throttled_s);
	else
		yajl_gen_null(g);
}

int sbx_result_write_json(int fd, const struct sbx_result *r, const struct sbx_run_options *o,
			  struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;
	/* With a deadline, a reader that does not take the result (--json-fd 1
	 * on a stalled pipe) holds sbx for the grace at most. */
	uint64_t grace_ms = o->kill_grace_ns / 1000000 + 1;
	int wait_ms = o->timeout_ns == 0 ? -1 : grace_ms > INT_MAX ? INT_MAX : (int)grace_ms;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "writing the JSON result");
	yajl_gen_map_open(g);
	gen_int(g, "exit_code", r->exit_code);
	gen_key(g, "signal");
	if (r->signal)
		yajl_gen_integer(g, r->signal);
	else
		yajl_gen_null(g);
	gen_bool(g, "timed_out", r->timed_out);
	gen_double(g, "duration_s", r->duration_s);
	gen_double(g, "cpu_user_s", r->cpu_user_s);
	gen_double(g, "cpu_sys_s", r->cpu_sys_s);
	gen_int(g, "max_rss_kib", r->max_rss_kib);
	gen_count(g, "stdout_bytes", r->relayed, r->stdout_bytes);
	gen_count(g, "stderr_bytes", r->relayed, r->stderr_bytes);
	gen_bool(g, "stdout_truncated", r->stdout_truncated);
	gen_bool(g, "stderr_truncated", r->stderr_truncated);
	gen_count(g, "output_dropped_bytes", r->output_through_sbx, r->output_dropped_bytes);
	gen_str(g, "setup_error", r->failed ? r->error.msg : NULL);
	gen_str(g, "runtime", r->runtime);
	gen_str(g, "runtime_reason", r->runtime_reason);
	gen_str(g, "image", o->image_name);
	gen_str(g, "image_id", o->image_id);
	gen_str(g, "seccomp_profile", r->seccomp_profile);
	gen_key(g, "landlock_abi");
	if (r->landlock_abi > 0)
		yajl_gen_integer(g, r->landlock_abi);
	else
		yajl_gen_null(g);
	gen_key(g, "layers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < r->n_layers; i++)
		yajl_gen_string(g, (const unsigned char *)r->layers[i], strlen(r->layers[i]));
	yajl_gen_array_close(g);
	gen_limits(g, "limits_requested", o, NULL);
	/* What a host cannot enforce (limits_enforced_by: none) is null. */
	gen_limits(g, "limits_in_force", o, &r->limits);
	gen_enforcers(g, &r->limits);
	gen_cgroup_stats(g, &r->cgroup);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = sbx_fail(err, 0, "generating the JSON result");
	else if (sbx_write_all_within(fd, buf, len, wait_ms) < 0 || sbx_write_all_within(fd, "\n", 1, wait_ms) < 0)
		ret = errno == ETIMEDOUT ? sbx_fail(err, 0, "writing the JSON result: its reader did not take it "
						    "within the grace after the deadline")
					 : sbx_fail(err, errno, "writing the JSON result");
	yajl_gen_free(g);
	return ret;
}
