#include "spec.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "command.h"
#include "util.h"

#define CPU_PERIOD_US 100000ULL

const struct sbx_spec_etc_file sbx_spec_etc_files[3] = {
	{ "hosts", "/etc/hosts" },
	{ "hostname", "/etc/hostname" },
	{ "resolv.conf", "/etc/resolv.conf" },
};

static const char *const runtime_names[] = {
	[SBX_RUNTIME_AUTO] = "auto",
	[SBX_RUNTIME_NATIVE] = "native",
	[SBX_RUNTIME_RUNSC] = "runsc",
};

const char *sbx_runtime_name(enum sbx_runtime r)
{
	return (size_t)r < SBX_ARRAY_SIZE(runtime_names) ? runtime_names[r] : "?";
}

int sbx_parse_runtime(const char *s, enum sbx_runtime *out)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(runtime_names); i++)
		if (strcmp(s, runtime_names[i]) == 0) {
			*out = (enum sbx_runtime)i;
			return 0;
		}
	return -1;
}

static struct sbx_spec_mount *add_mount(struct sbx_spec *spec, const char *destination, const char *type)
{
	struct sbx_spec_mount *m = &spec->mounts[spec->n_mounts++];

	memset(m, 0, sizeof(*m));
	m->destination = destination;
	m->type = type;
	m->source = type;
	m->origin = SBX_SPEC_MOUNT_NEW;
	m->nosuid = m->nodev = true;
	return m;
}

static void add_tmpfs(struct sbx_spec *spec, const char *destination, uint64_t size, uint32_t mode, bool owned)
{
	struct sbx_spec_mount *m = add_mount(spec, destination, "tmpfs");

	m->size = size;
	m->mode = mode;
	m->owned = owned;
}

/* The file systems every sandbox gets, in the order the native setup
 * mounts them: the workspace, /tmp, /dev/shm, /proc, /sys. */
static void add_standard_mounts(struct sbx_spec *spec, const struct sbx_run_options *o)
{
	struct sbx_spec_mount *m;

	if (o->workspace != NULL) {
		m = add_mount(spec, "/workspace", "bind");
		m->source = o->workspace;
		m->origin = SBX_SPEC_MOUNT_WORKSPACE;
	} else {
		/* A writable place to start in, the sandbox user's: on the
		 * tree's /workspace, or on the one sbx_complete_root makes when
		 * the tree lacks it, as the native setup does. */
		add_tmpfs(spec, "/workspace", o->tmp_size, 0755, true);
	}
	add_tmpfs(spec, "/tmp", o->tmp_size, 01777, false);
	add_tmpfs(spec, "/dev/shm", o->shm_size, 01777, false);
	m = add_mount(spec, "/proc", "proc");
	m->noexec = true;
	m = add_mount(spec, "/sys", "sysfs");
	m->noexec = true;
	m->readonly = true;
	/* sbx's own /etc files, hiding the image's. */
	for (size_t i = 0; i < SBX_ARRAY_SIZE(sbx_spec_etc_files); i++) {
		m = add_mount(spec, sbx_spec_etc_files[i].destination, "bind");
		m->source = sbx_spec_etc_files[i].name;
		m->origin = SBX_SPEC_MOUNT_GENERATED;
		m->readonly = true;
		m->noexec = true;
	}
}

/* --bind, --ro-bind and --tmpfs, after the standard ones so that they
 * may go below /workspace or /tmp. */
static void add_extra_mounts(struct sbx_spec *spec, const struct sbx_run_options *o)
{
	for (size_t i = 0; i < o->n_mounts; i++) {
		const struct sbx_mount_spec *x = &o->mounts[i];
		struct sbx_spec_mount *m;

		if (x->kind == SBX_MOUNT_TMPFS) {
			add_tmpfs(spec, x->dst, x->size, 01777, false);
			continue;
		}
		m = add_mount(spec, x->dst, "bind");
		m->source = x->src;
		m->origin = SBX_SPEC_MOUNT_EXTRA;
		m->extra = i;
		m->readonly = x->kind == SBX_MOUNT_RO_BIND;
	}
}

static const char *working_directory(const struct sbx_run_options *o, const struct sbx_spec *spec)
{
	if (o->workspace == NULL && o->workdir != NULL)
		return o->workdir;
	return sbx_spec_find_mount(spec, "/workspace") != NULL ? "/workspace" : "/";
}

int sbx_spec_build(const struct sbx_run_options *o, const struct sbx_spec_host *host, struct sbx_spec *spec,
		   struct sbx_error *err)
{
	memset(spec, 0, sizeof(*spec));
	if (o->n_mounts + 8 > SBX_SPEC_MAX_MOUNTS)
		return sbx_fail(err, E2BIG, "too many mounts (at most %d)", SBX_MAX_MOUNTS);
	spec->options = o;
	spec->root_path = o->rootfs;
	spec->root_readonly = !o->writable_root;
	spec->root_upper_size = o->writable_root_size ? o->writable_root_size : o->tmp_size;
	spec->args = o->argv;
	spec->uid = o->uid;
	spec->gid = o->gid;
	spec->terminal = o->tty == SBX_TTY_ALWAYS || (o->tty == SBX_TTY_AUTO && host->stdin_is_tty);
	spec->no_new_privileges = true;
	spec->hostname = o->hostname;
	spec->network_namespace = o->network == SBX_NETWORK_NONE;
	add_standard_mounts(spec, o);
	add_extra_mounts(spec, o);
	spec->cwd = working_directory(o, spec);
	spec->memory_limit = o->limits.memory_bytes;
	if (o->limits.cpu_millis) {
		spec->cpu_period_us = CPU_PERIOD_US;
		spec->cpu_quota_us = o->limits.cpu_millis * CPU_PERIOD_US / 1000;
	}
	spec->pids_limit = o->limits.pids;
	spec->seccomp_profile = o->seccomp != NULL && strcmp(o->seccomp, "unconfined") == 0 ? NULL
				: o->seccomp != NULL ? o->seccomp : "default";
	spec->runtime = o->runtime;
	spec->image = o->image_name;
	spec->timeout_ns = o->timeout_ns;
	spec->kill_grace_ns = o->kill_grace_ns;
	spec->output_limit = o->output_limit;
	if (sbx_env_build(o, host->term, &spec->env, err) < 0)
		return -1;
	return 0;
}

void sbx_spec_free(struct sbx_spec *spec)
{
	sbx_env_free(spec->env);
	spec->env = NULL;
}

const struct sbx_spec_mount *sbx_spec_find_mount(const struct sbx_spec *spec, const char *destination)
{
	for (size_t i = 0; i < spec->n_mounts; i++)
		if (strcmp(spec->mounts[i].destination, destination) == 0)
			return &spec->mounts[i];
	return NULL;
}
