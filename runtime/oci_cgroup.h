/* An OCI container's cgroup: linux.cgroupsPath and linux.resources on
 * cgroup v2, made by sbx create and removed by delete.
 *
 * Where (root only; sbx never touches a v1 hierarchy):
 *   "/a/b"              <cgroup2 mount>/a/b (runc's cgroupfs rule);
 *   "a/b"               below sbx's own cgroup;
 *   "slice:prefix:name" with --systemd-cgroup: systemd's path rules
 *                       (a-b.slice -> a.slice/a-b.slice/prefix-name.scope),
 *                       made by sbx itself, not asked of systemd over D-Bus;
 *   ""                  <mount>/sbx/oci-<id>.
 * A cgroup is made even when no controller can hold a limit (the hybrid
 * hosts' v2 tree): it groups the container's processes for kill --all,
 * ps and delete.  A limit no controller here can hold is not enforced and
 * says so (a warning), unless the annotation run.sbx.require-limits=true
 * makes it an error.  Rootless callers get no cgroup. */
#ifndef SBX_OCI_CGROUP_H
#define SBX_OCI_CGROUP_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "oci_config.h"
#include "oci_runtime.h"

#define SBX_OCI_CGROUP_MAX_WARNINGS 8

struct sbx_oci_cgroup {
	int dirfd;            /* the container's cgroup; -1: none */
	char path[PATH_MAX];  /* absolute ("" : none) */
	char unenforced[SBX_OCI_CGROUP_MAX_WARNINGS][256];
	size_t n_unenforced;
};

#define SBX_OCI_CGROUP_INIT { .dirfd = -1 }

/* Where the cgroup goes below the cgroup2 mount (no leading '/'), by the
 * rules above: CGROUPS_PATH is linux.cgroupsPath (NULL: none), ROOT the
 * state root.  Pure. */
int sbx_oci_cgroup_path(const char *cgroups_path, bool systemd, const char *root, const char *id, char *out,
			size_t len, struct sbx_error *err);

int sbx_oci_cgroup_create(const struct sbx_oci_config *cfg, const struct sbx_oci_globals *g, const char *id,
			  struct sbx_oci_cgroup *cg, struct sbx_error *err);
/* For when clone3 could not start PID in it. */
int sbx_oci_cgroup_join(const struct sbx_oci_cgroup *cg, pid_t pid, struct sbx_error *err);
/* Kill what is in it and remove it (create failed). */
void sbx_oci_cgroup_destroy(struct sbx_oci_cgroup *cg);
void sbx_oci_cgroup_release(struct sbx_oci_cgroup *cg);
/* delete: kill and remove the cgroup ST records, if sbx made it. */
int sbx_oci_cgroup_remove(const struct sbx_oci_state *st, struct sbx_error *err);
/* The host pids in the container's cgroup (ps, kill --all): malloc'd. */
int sbx_oci_cgroup_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n, struct sbx_error *err);

#endif
