/* The description of one sandbox, as both backends consume it.
 *
 * `sbx run`'s options and the image's config resolve into this plain data
 * once; a backend (native: sandbox.c, runsc: runsc.c) turns it into a
 * running sandbox.  Its fields follow the OCI runtime spec where one exists
 * (the name in the comment), so that an OCI config.json can fill it too
 * and the runsc backend can write one from it field by field.  What the
 * OCI spec has no word for (the timeout, the output limit, the runtime to
 * use) sits under "sbx's own". */
#ifndef SBX_SPEC_H
#define SBX_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "options.h"

/* Where a mount's source comes from: the backends open host sources
 * themselves (resolved once, no symbolic link followed). */
enum sbx_spec_mount_origin {
	SBX_SPEC_MOUNT_NEW,       /* a file system made for the sandbox: source is its type */
	SBX_SPEC_MOUNT_WORKSPACE, /* -w: the workspace */
	SBX_SPEC_MOUNT_EXTRA,     /* --bind/--ro-bind: extra[index] of the options */
	SBX_SPEC_MOUNT_GENERATED, /* a file sbx writes (/etc/hosts...): source is its name */
};

/* mounts[]: destination, type, source, options. */
struct sbx_spec_mount {
	const char *destination;
	const char *type;   /* "bind", "tmpfs", "proc", "sysfs" */
	const char *source; /* host path of a bind; the type otherwise */
	enum sbx_spec_mount_origin origin;
	size_t extra;       /* SBX_SPEC_MOUNT_EXTRA: index in the options' mounts */
	bool readonly;      /* "ro" */
	bool nosuid, nodev, noexec;
	uint64_t size;      /* tmpfs "size=" in bytes; 0: none */
	uint32_t mode;      /* tmpfs "mode=" */
	bool owned;         /* tmpfs "uid=,gid=" set to the process user */
};

/* The /etc files sbx writes for every sandbox (layout.h's etc files). */
struct sbx_spec_etc_file {
	const char *name;
	const char *destination;
};
extern const struct sbx_spec_etc_file sbx_spec_etc_files[3];

#define SBX_SPEC_MAX_MOUNTS (SBX_MAX_MOUNTS + 10)

struct sbx_spec {
	/* root */
	const char *root_path;  /* root.path */
	bool root_readonly;     /* root.readonly; false with --writable-root */
	uint64_t root_upper_size; /* sbx's own: --writable-root's tmpfs */
	/* process */
	char *const *args;      /* process.args */
	char **env;             /* process.env: the clean environment */
	const char *cwd;        /* process.cwd */
	uint32_t uid, gid;      /* process.user */
	bool terminal;          /* process.terminal */
	bool no_new_privileges; /* process.noNewPrivileges: always */
	/* hostname, linux.namespaces (network: absent with --network host) */
	const char *hostname;
	bool network_namespace;
	struct sbx_spec_mount mounts[SBX_SPEC_MAX_MOUNTS];
	size_t n_mounts;
	/* linux.resources: memory.limit, cpu.quota per cpu.period, pids.limit;
	 * 0: none */
	uint64_t memory_limit;
	uint64_t cpu_quota_us, cpu_period_us;
	uint64_t pids_limit;
	/* linux.seccomp, as a profile name or path (NULL: unconfined) */
	const char *seccomp_profile;
	/* sbx's own */
	enum sbx_runtime runtime;
	const char *image; /* NAME:TAG, or NULL for --rootfs */
	uint64_t timeout_ns, kill_grace_ns, output_limit;
	const struct sbx_run_options *options; /* the details only the native backend reads */
};

/* What the builder needs to know of the world: whether stdin is a
 * terminal (for --tty auto) and the caller's TERM. */
struct sbx_spec_host {
	bool stdin_is_tty;
	const char *term;
};

/* Fill SPEC from OPTS (the options with the image's config applied).
 * Pure: it reads nothing but its arguments. */
int sbx_spec_build(const struct sbx_run_options *opts, const struct sbx_spec_host *host,
		   struct sbx_spec *spec, struct sbx_error *err);
void sbx_spec_free(struct sbx_spec *spec);

/* The mount at DESTINATION, or NULL. */
const struct sbx_spec_mount *sbx_spec_find_mount(const struct sbx_spec *spec, const char *destination);

const char *sbx_runtime_name(enum sbx_runtime r);
int sbx_parse_runtime(const char *s, enum sbx_runtime *out);

#endif
