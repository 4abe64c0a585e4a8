/* The options of `sbx run`, parsed from argv into plain data.  This is the
 * only state the rest of sbx reads; it is filled once and never changed. */
#ifndef SBX_OPTIONS_H
#define SBX_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SBX_DEFAULT_UID 1000
#define SBX_DEFAULT_GID 1000
#define SBX_DEFAULT_HOSTNAME "sandbox"
#define SBX_DEFAULT_TMPFS_SIZE (256ULL << 20)
#define SBX_MAX_MOUNTS 64
#define SBX_MAX_ENV 256

enum sbx_mount_kind {
	SBX_MOUNT_RO_BIND,
	SBX_MOUNT_BIND,
	SBX_MOUNT_TMPFS,
};

struct sbx_mount_spec {
	enum sbx_mount_kind kind;
	const char *src; /* host path; NULL for tmpfs */
	char *dst;       /* absolute path inside the sandbox */
	uint64_t size;   /* tmpfs size in bytes */
};

enum sbx_network {
	SBX_NETWORK_NONE,
	SBX_NETWORK_HOST,
};

enum sbx_tty_mode {
	SBX_TTY_AUTO, /* a pty when stdin is a terminal */
	SBX_TTY_ALWAYS,
	SBX_TTY_NEVER,
};

/* --runtime: which backend builds the sandbox (see spec.h). */
enum sbx_runtime {
	SBX_RUNTIME_AUTO, /* runsc when installed and usable by this caller */
	SBX_RUNTIME_NATIVE,
	SBX_RUNTIME_RUNSC,
};

#define SBX_DEFAULT_KILL_GRACE_NS (2ULL * 1000000000ULL)
#define SBX_DEFAULT_MEMORY (2ULL << 30)
#define SBX_DEFAULT_PIDS 256
#define SBX_MAX_CPUS 4096
#define SBX_MAX_PIDS 4194304

/* The resource limits in force (the defaults unless given); 0 means no
 * limit.  *_given: set on the command line, so that sbx speaks of it. */
struct sbx_limits {
	uint64_t memory_bytes; /* -m/--memory */
	uint64_t cpu_millis;   /* --cpus, in thousandths of a CPU */
	uint64_t pids;         /* --pids/--pids-limit */
	bool memory_given;
	bool cpus_given;
	bool pids_given;
	bool required; /* --require-limits: every limit in force by cgroup v2, or 125 */
};

struct sbx_run_options {
	const char *rootfs; /* --rootfs, or the stored image's tree */
	int rootfs_fd;      /* the stored image's tree as checked and locked, or -1 */
	const char *image;  /* --image NAME[:TAG] */
	const char *store;  /* --store DIR */
	const char *image_name; /* NAME:TAG of the image run, for the result */
	const char *image_id;   /* its config digest */
	const char *workspace;
	const char *hostname;
	uint32_t uid;
	uint32_t gid;
	bool user_set; /* --user given: the image's User does not apply */
	enum sbx_network network;
	bool verbose;
	uint64_t tmp_size; /* /tmp tmpfs */
	uint64_t shm_size; /* /dev/shm tmpfs */
	const char *env[SBX_MAX_ENV]; /* KEY=VALUE from -e, in order */
	size_t n_env;
	const char *image_env[SBX_MAX_ENV]; /* the image's Env, under -e */
	size_t n_image_env;
	const char *workdir; /* the image's WorkingDir, used without -w */
	bool writable_root;  /* --writable-root: a throw-away overlay over the tree */
	uint64_t writable_root_size; /* its tmpfs upper; 0: the /tmp size */
	struct sbx_mount_spec mounts[SBX_MAX_MOUNTS]; /* extra mounts, in order */
	size_t n_mounts;
	uint64_t timeout_ns;    /* 0: none */
	uint64_t kill_grace_ns; /* SIGTERM to SIGKILL after the timeout */
	uint64_t output_limit;  /* bytes kept of each of stdout/stderr; 0: pass through */
	const char *json_path;  /* --json FILE */
	int json_fd;            /* --json-fd N, or -1 */
	enum sbx_tty_mode tty;
	const char *seccomp;    /* profile name, path, or "unconfined" */
	bool seccomp_log;
	bool require_landlock;
	struct sbx_limits limits;
	enum sbx_runtime runtime; /* --runtime */
	char *const *argv; /* the command, NULL-terminated: from argv, or the image's */
};

/* Parse the arguments that follow `run`.  Returns 1 when --help was asked
 * for (nothing else is filled), 0 on success, -1 on a bad option with ERR
 * saying which and why. */
int sbx_parse_run_options(int argc, char *const argv[], struct sbx_run_options *opts,
			  struct sbx_error *err);

/* Release what parsing allocated. */
void sbx_run_options_free(struct sbx_run_options *opts);

/* Parse a duration in seconds with an optional fraction ("2", "0.5",
 * "1.25") into nanoseconds; rejects zero, negatives, garbage, > 1 year. */
int sbx_parse_seconds(const char *s, uint64_t *ns);

/* --memory SIZE ("0": none; at least 1m), --cpus N with up to three
 * decimals ("0": none; at least 0.01), --pids N ("0": none). */
int sbx_parse_memory(const char *s, uint64_t *bytes);
int sbx_parse_cpus(const char *s, uint64_t *millis);
int sbx_parse_pids(const char *s, uint64_t *pids);

/* Parse "UID[:GID]"; GID defaults to UID. */
int sbx_parse_user(const char *spec, uint32_t *uid, uint32_t *gid);

/* Check that PATH is absolute, has no "." or ".." component and is not "/".
 * Returns a malloc'd copy without repeated or trailing slashes, or NULL. */
char *sbx_normalize_sandbox_path(const char *path);

/* PATH taken from / (a relative one too), "." and ".." applied by name, as
 * an absolute path without repeated slashes ("/" at the least) in OUT of
 * LEN bytes.  A ".." at the top stays at the top, as it does in a root.
 * Returns -1 when it does not fit. */
int sbx_clean_sandbox_path(const char *path, char *out, size_t len);

#endif
