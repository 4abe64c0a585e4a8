/* An OCI bundle's config.json, read into plain data (runtime-spec 1.0-1.2).
 *
 * The reader is strict in one direction: a field sbx cannot honour is an
 * error that names it (a container weaker than asked must not start), and
 * so is a field it does not know.  What it accepts it keeps as given; the
 * decisions (which namespaces to create, what the limits fall back to)
 * belong to oci_container.c.  Strings are borrowed from the parsed
 * document, which lives as long as the config. */
#ifndef SBX_OCI_CONFIG_H
#define SBX_OCI_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "error.h"
#include "json.h"

#define SBX_OCI_CONFIG_MAX (4u << 20) /* bytes of config.json accepted */

/* One bit per namespace type, in linux.namespaces[].type's order. */
enum sbx_oci_ns {
	SBX_OCI_NS_PID,
	SBX_OCI_NS_NETWORK,
	SBX_OCI_NS_MOUNT,
	SBX_OCI_NS_IPC,
	SBX_OCI_NS_UTS,
	SBX_OCI_NS_USER,
	SBX_OCI_NS_CGROUP,
	SBX_OCI_NS_TIME,
	SBX_OCI_NS_COUNT,
};

struct sbx_oci_namespace {
	bool present;     /* listed: the container gets its own, or joins PATH */
	const char *path; /* join this one (NULL: a new one) */
};

struct sbx_oci_mount {
	const char *destination;
	const char *type;   /* NULL: a bind when options say so */
	const char *source;
	/* options turned into flags by libmount's option map (MNT_LINUX_MAP) */
	unsigned long flags;     /* MS_* to set (MS_BIND, MS_REC, MS_RDONLY...) */
	unsigned long clear;     /* MS_* the options clear ("rw", "suid"...) */
	unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (|MS_REC) or 0 */
	char *data;              /* what libmount left for the file system ("mode=755,size=65536k") */
	bool bind;               /* "bind" or "rbind" (or type "bind") */
	bool tmpcopyup;          /* "tmpcopyup" (tmpfs only; runc's and crun's extension, which podman
				  * sends for --read-only's /run, /tmp, /var/tmp and --tmpfs): the tmpfs
				  * starts with a copy of what the image has at the destination.  The
				  * container must do it or refuse. */
};

struct sbx_oci_idmap {
	uint32_t container_id, host_id, size;
};

struct sbx_oci_rlimit {
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

struct sbx_oci_hook {
	const char *path;
	char **args; /* NULL-terminated (NULL: none); args[0] as given */
	char **env;  /* NULL-terminated or NULL */
	int timeout; /* seconds; 0: none */
};

enum sbx_oci_hook_kind {
	SBX_OCI_HOOK_PRESTART,
	SBX_OCI_HOOK_CREATE_RUNTIME,
	SBX_OCI_HOOK_CREATE_CONTAINER,
	SBX_OCI_HOOK_START_CONTAINER,
	SBX_OCI_HOOK_POSTSTART,
	SBX_OCI_HOOK_POSTSTOP,
	SBX_OCI_HOOK_KINDS,
};

struct sbx_oci_device {
	const char *path;
	char type;          /* 'c', 'b', 'u' or 'p' */
	int64_t major, minor;
	uint32_t file_mode; /* 0: 0666 */
	bool has_mode;
	uint32_t uid, gid;
	bool has_uid, has_gid;
};

struct sbx_oci_hugepage { /* linux.resources.hugepageLimits[] */
	const char *page_size; /* "2MB", "1GB", "64KB" */
	uint64_t limit;        /* bytes; 0: none may be used (what kubelet sends) */
};

struct sbx_oci_device_rule { /* linux.resources.devices[] */
	bool allow;
	char type;           /* 'a', 'c', 'b' */
	int64_t major, minor; /* -1: any */
	const char *access;  /* "rwm" subset */
};

/* The process to run: the container's (process) or an exec's (the
 * --process file, the same schema). */
struct sbx_oci_process {
	bool terminal;
	unsigned int console_height, console_width;
	uint32_t uid, gid;
	bool has_umask;
	uint32_t umask;
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char **args;  /* NULL-terminated, at least one */
	char **env;   /* NULL-terminated */
	const char *cwd;
	/* capabilities: each set as CAP_* numbers; has_caps false: the
	 * field was absent (no capability at all) */
	bool has_caps;
	uint64_t cap_bounding, cap_effective, cap_inheritable, cap_permitted, cap_ambient;
	struct sbx_oci_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	const char *apparmor_profile; /* NULL or "": none */
	const char *selinux_label;    /* NULL or "": none (anything else: refused where SELinux is off) */
};

struct sbx_oci_config {
	sbx_json *doc;
	const char *oci_version;
	const char *root_path; /* as written: relative to the bundle or absolute */
	bool root_readonly;
	struct sbx_oci_process process;
	const char *hostname, *domainname;
	struct sbx_oci_mount *mounts;
	size_t n_mounts;
	struct sbx_oci_hook *hooks[SBX_OCI_HOOK_KINDS];
	size_t n_hooks[SBX_OCI_HOOK_KINDS];
	/* annotations: parallel arrays */
	const char **annotation_keys, **annotation_values;
	size_t n_annotations;
	/* linux */
	struct sbx_oci_namespace ns[SBX_OCI_NS_COUNT];
	struct sbx_oci_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	const char **sysctl_keys, **sysctl_values;
	size_t n_sysctl;
	struct sbx_oci_device *devices;
	size_t n_devices;
	const char *cgroups_path;
	/* linux.resources (0 / has_* false: not set).  A limit given as 0 is
	 * what engines send for "none" (CRI): runc and crun write nothing for
	 * it, and so should sbx. */
	bool has_memory_limit;
	int64_t memory_limit;        /* -1: unlimited */
	bool has_memory_swap;
	int64_t memory_swap;
	bool has_memory_reservation; /* podman --memory-reservation: honour (memory.low) or refuse */
	int64_t memory_reservation;  /* -1: unlimited */
	bool has_cpu_quota;
	int64_t cpu_quota;           /* -1: unlimited */
	uint64_t cpu_period;
	uint64_t cpu_shares;
	const char *cpu_cpus, *cpu_mems;
	bool has_pids_limit;
	int64_t pids_limit;          /* <= 0: unlimited */
	struct sbx_oci_device_rule *device_rules;
	size_t n_device_rules;
	struct sbx_oci_hugepage *hugepages;
	size_t n_hugepages;
	const sbx_json *seccomp;     /* linux.seccomp as parsed (NULL: none) */
	const char *rootfs_propagation;
	const char **masked_paths, **readonly_paths;
	size_t n_masked_paths, n_readonly_paths;
	const char *mount_label;
};

/* Read BUNDLE_DIRFD's config.json (no symbolic link followed, at most
 * SBX_OCI_CONFIG_MAX bytes) into CFG.  Errors name the field
 * ("config.json: linux.intelRdt: not supported by sbx").  On failure CFG
 * holds nothing (zeroed; sbx_oci_config_free on it is harmless). */
int sbx_oci_config_load(int bundle_dirfd, struct sbx_oci_config *cfg, struct sbx_error *err);

/* Parse TEXT (WHAT names it in errors) into CFG.  Pure: the fuzzer's entry. */
int sbx_oci_config_parse(const char *text, const char *what, struct sbx_oci_config *cfg,
			 struct sbx_error *err);

/* Parse an exec's --process file (a runtime-spec process object): PROC's
 * strings live in *DOC; free PROC, then sbx_json_free(*DOC).  On failure
 * both are empty (*DOC NULL). */
int sbx_oci_process_parse(const char *text, const char *what, struct sbx_oci_process *proc,
			  sbx_json **doc, struct sbx_error *err);

void sbx_oci_process_free(struct sbx_oci_process *proc);
void sbx_oci_config_free(struct sbx_oci_config *cfg);

/* The annotation KEY, or NULL. */
const char *sbx_oci_annotation(const struct sbx_oci_config *cfg, const char *key);

/* "prestart", "createRuntime"... (the spec's keys under hooks) */
const char *sbx_oci_hook_kind_name(enum sbx_oci_hook_kind kind);

/* "pid", "network"... */
const char *sbx_oci_ns_name(enum sbx_oci_ns ns);

/* linux.seccomp as profile text that sbx_seccomp_compile accepts
 * (malloc'd), or NULL in *TEXT when there is none. */
int sbx_oci_seccomp_text(const struct sbx_oci_config *cfg, char **text, struct sbx_error *err);

#endif
