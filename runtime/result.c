#include "result.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>

#include "json.h"
#include "util.h"

void sbx_result_init(struct sbx_result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = SBX_EXIT_FAILURE;
	r->runtime = "sbx";
}

void sbx_result_add_layer(struct sbx_result *r, const char *layer)
{
	if (r->n_layers < SBX_MAX_LAYERS)
		r->layers[r->n_layers++] = layer;
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

static void gen_limits(yajl_gen g, const char *key, const struct sbx_run_options *o)
{
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
	yajl_gen_map_close(g);
}

int sbx_result_write_json(int fd, const struct sbx_result *r, const struct sbx_run_options *o,
			  struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *buf;
	size_t len;
	int ret = 0;

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
	gen_str(g, "setup_error", r->failed ? r->error.msg : NULL);
	gen_str(g, "runtime", r->runtime);
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
	gen_limits(g, "limits_requested", o);
	/* Everything asked for is enforced so far; cgroup limits, which a
	 * host may not offer, will make the two differ. */
	gen_limits(g, "limits_in_force", o);
	yajl_gen_map_close(g);
	if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok)
		ret = sbx_fail(err, 0, "generating the JSON result");
	else if (sbx_write_all(fd, buf, len) < 0 || sbx_write_all(fd, "\n", 1) < 0)
		ret = sbx_fail(err, errno, "writing the JSON result");
	yajl_gen_free(g);
	return ret;
}
