/* The sandbox's file system: where each piece comes from and where it goes.
 *
 * Sources (the rootfs, the workspace, --bind/--ro-bind sources, host device
 * nodes) are cloned into detached mounts by whoever may read them: the
 * parent when sbx runs as root (the child's inside root cannot search
 * root-only directories of the host), the child itself when rootless (only
 * it holds capabilities over its mount namespace).  Everything else is new
 * file systems made in the child. */
#ifndef SBX_LAYOUT_H
#define SBX_LAYOUT_H

#include <stdbool.h>

#include "error.h"
#include "options.h"

#define SBX_DEV_NODES 6

struct sbx_sources {
	int rootfs;
	int workspace; /* -1 without -w */
	/* The workspace and bind sources as resolved once, by sbx before the
	 * sandbox exists (O_PATH, no symbolic link followed): the owner is
	 * decided and the mounts are cloned from these. */
	int workspace_path;
	int mount_paths[SBX_MAX_MOUNTS];
	int mounts[SBX_MAX_MOUNTS]; /* per extra mount; -1 for tmpfs */
	int dev[SBX_DEV_NODES];     /* host null zero full random urandom tty */
};

/* Names of the device nodes, in the order of sbx_sources.dev. */
extern const char *const sbx_dev_node_names[SBX_DEV_NODES];

void sbx_sources_init(struct sbx_sources *src);
/* Resolve the workspace and the bind sources (see above). */
int sbx_sources_resolve(const struct sbx_run_options *opts, struct sbx_sources *src,
			struct sbx_error *err);
int sbx_sources_open(const struct sbx_run_options *opts, struct sbx_sources *src,
		     struct sbx_error *err);
void sbx_sources_close(struct sbx_sources *src);

/* Files sbx writes for the sandbox instead of using the image's. */
struct sbx_etc_files {
	char hosts[512];
	char resolv_conf[4096];
	char hostname[80];
};

int sbx_etc_files_make(const struct sbx_run_options *opts, struct sbx_etc_files *files,
		       struct sbx_error *err);

/* Mount a private tmpfs at /tmp of the (new) mount namespace, as sbx's
 * scratch space: the new root's mount point and the generated /etc files
 * live there until pivot_root.  Returns a directory fd of it. */
int sbx_mount_staging(struct sbx_error *err);

/* Attach TREE on a new directory NAME of the staging tmpfs; returns an
 * O_PATH fd of the mount. */
int sbx_attach_in_staging(int staging, int tree, const char *name, struct sbx_error *err);

/* Attach the read-only rootfs below the staging directory.  Returns an
 * O_PATH fd of the new root. */
int sbx_mount_root(int staging, int rootfs_tree, struct sbx_error *err);

int sbx_mount_workspace(int root, int workspace_tree, struct sbx_error *err);
int sbx_mount_tmp(int root, uint64_t size, struct sbx_error *err);
int sbx_mount_etc_files(int root, int staging, const struct sbx_etc_files *files,
			bool verbose, struct sbx_error *err);
/* The option that asked for extra mount M ("--bind"...), for messages. */
const char *sbx_mount_option_name(const struct sbx_mount_spec *m);
/* ERR, from opening or mounting on M's target, with the option and the
 * target and, for a missing one, why sbx never makes it.  Returns -1. */
int sbx_extra_target_error(const struct sbx_mount_spec *m, struct sbx_error *err);

int sbx_mount_extras(int root, const struct sbx_run_options *opts,
		     const struct sbx_sources *src, struct sbx_error *err);

/* Make ROOT the root of the mount namespace and drop every path back to
 * the host's tree.  The process's cwd is / of the sandbox afterwards. */
int sbx_pivot_root(int root, struct sbx_error *err);

#endif
