/* Resource limits: a cgroup v2 per sandbox where the host lets sbx make
 * one, and what rlimits can do where it does not.
 *
 * The cgroup is sbx's (the parent's) business: the sandbox child cannot
 * reach the host's cgroup tree (its cgroup namespace is unshared, /sys is
 * empty after pivot_root, and capabilities in a user namespace give no
 * rights over host files).  sbx creates the cgroup before the clone, the
 * child is born in it (clone3 with CLONE_INTO_CGROUP, or joins it before
 * it leaves MAPS_READY), and sbx kills and removes it at the end.
 *
 * Where sandbox cgroups go (see sbx(1), LIMITS):
 *   root:     <cgroup2 mount>/sbx/sbx-<pid>; sbx creates <mount>/sbx and
 *             enables memory, cpu and pids in the subtree_control files.
 *   rootless: <parent of the caller's cgroup>/sbx-<pid>: the caller's
 *             process must already sit in a leaf of a subtree delegated to
 *             it (the parent is the caller's, with the controllers in its
 *             cgroup.controllers and its cgroup.procs and
 *             cgroup.subtree_control writable by the caller).
 * A cgroup left by an sbx killed with SIGKILL (no process holds the lock
 * on its directory any more) is killed and removed by the next run that
 * uses the same parent. */
#ifndef SBX_CGROUP_H
#define SBX_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* The controllers sbx uses, as bits. */
#define SBX_CG_MEMORY 0x1u
#define SBX_CG_CPU 0x2u
#define SBX_CG_PIDS 0x4u

enum sbx_cgroup_mode {
	SBX_CGROUP_MODE_NONE,   /* no cgroup file system mounted */
	SBX_CGROUP_MODE_V1,     /* only v1 hierarchies */
	SBX_CGROUP_MODE_HYBRID, /* v1 hierarchies and a cgroup2 mount */
	SBX_CGROUP_MODE_V2,     /* only cgroup2 (unified) */
};

/* What this host and this user offer, as sbx would use it. */
struct sbx_cgroup_host_info {
	enum sbx_cgroup_mode mode;
	char mount[PATH_MAX];  /* the cgroup2 mount point; "" when none */
	char own[PATH_MAX];    /* the caller's cgroup ("0::" line of
				* /proc/self/cgroup), from the mount; "" when none */
	char parent[PATH_MAX]; /* the directory sandbox cgroups go under
				* (absolute); "" when there is none sbx may use */
	unsigned int v2_controllers;   /* SBX_CG_* the cgroup2 root offers */
	unsigned int v1_controllers;   /* SBX_CG_* bound to v1 hierarchies */
	unsigned int usable;           /* SBX_CG_* sbx can set for this user */
	char why[512];   /* when USABLE lacks one of the three: why, and the remedy */
};

/* Fill OUT about this host and user; never writes anything under the
 * cgroup tree.  Returns 0, or -1 when /proc/self/mountinfo cannot be read
 * (OUT then says mode none and why). */
int sbx_cgroup_describe(struct sbx_cgroup_host_info *out);

/* "none", "v1", "hybrid", "v2". */
const char *sbx_cgroup_mode_name(enum sbx_cgroup_mode mode);

/* One sandbox's cgroup. */
struct sbx_cgroup {
	int dirfd;           /* the leaf, open and flock'ed; -1 when none */
	int parentfd;        /* its parent */
	char name[64];       /* sbx-<pid> */
	char path[PATH_MAX]; /* absolute, for messages */
	unsigned int controllers; /* SBX_CG_* set in it */
};

/* The limits as numbers; 0 means none. */
struct sbx_cgroup_limits {
	uint64_t memory_bytes;
	uint64_t cpu_millis; /* 1000 = one CPU */
	uint64_t pids;
};

/* What sbx read from the cgroup after the run. */
struct sbx_cgroup_stats {
	bool have_memory_peak;
	uint64_t memory_peak_bytes;
	bool oom_killed;
	bool have_pids_peak;
	uint64_t pids_peak;
	bool pids_limit_hit;
	bool have_cpu_throttled;
	double cpu_throttled_s;
};

#define SBX_CGROUP_INIT { .dirfd = -1, .parentfd = -1 }

/* Create and configure the sandbox's cgroup for the LIMITS in force
 * (only those whose controllers INFO says are usable), after removing
 * leftovers of dead sbx processes.  Returns 0 with CG->dirfd open, or -1
 * with ERR saying why (the caller falls back to rlimits). */
int sbx_cgroup_create(struct sbx_cgroup *cg, const struct sbx_cgroup_host_info *info,
		      const struct sbx_cgroup_limits *limits, bool verbose, struct sbx_error *err);

/* Put PID into the cgroup DIRFD (PATH: messages). */
int sbx_cgroup_add_pid(int dirfd, const char *path, pid_t pid, struct sbx_error *err);
/* Put PID into CG (for when clone3 could not start it there). */
int sbx_cgroup_join(const struct sbx_cgroup *cg, pid_t pid, struct sbx_error *err);

/* Read the statistics of CG into STATS. */
void sbx_cgroup_read_stats(const struct sbx_cgroup *cg, struct sbx_cgroup_stats *stats);

/* Kill every process in CG (cgroup.kill, or freeze and SIGKILL each),
 * wait for it to empty, and remove it.  Safe on a CG never created. */
void sbx_cgroup_destroy(struct sbx_cgroup *cg);

/* `sbx gc`: kill and remove the cgroups that sbx processes killed with
 * SIGKILL left under the parent this caller's sandboxes use (a run does
 * the same before it makes its own); *REMOVED says how many. */
int sbx_cgroup_gc(bool verbose, size_t *removed, struct sbx_error *err);

/* The SBX_CG_* bits listed in the file NAME of the cgroup DIRFD
 * (cgroup.controllers, cgroup.subtree_control). */
unsigned int sbx_cgroup_read_controllers(int dirfd, const char *name);
/* Enable the controllers WANT for the children of DIRFD (PATH: messages). */
int sbx_cgroup_enable_controllers(int dirfd, const char *path, unsigned int want, struct sbx_error *err);
/* Kill every process of the cgroup NAME (DIRFD) under PARENT and remove it. */
int sbx_cgroup_remove(int parent, const char *name, int dirfd);

#endif
