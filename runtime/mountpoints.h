/* Mount points the image lacks, made without writing the image.
 *
 * sbx mounts on /workspace, /tmp, /dev, /proc, /sys, three /etc files, the
 * image's WorkingDir and the --bind/--ro-bind/--tmpfs targets that lie in
 * the image.  Images made for other runtimes lack most of them, and the
 * tree is a stored image or the caller's --rootfs: never to be written.
 * So, only when a point is missing (or with --writable-root), the tree
 * becomes the lower layer of an overlay whose upper is a small tmpfs of
 * sbx's own, in which the missing points are made first; the overlay is
 * read-only from the moment it exists (or, with --writable-root, writable,
 * its writes landing on the tmpfs and vanishing with it).  A run whose
 * tree has every point keeps the bare tree, at the cost of a few lookups. */
#ifndef SBX_MOUNTPOINTS_H
#define SBX_MOUNTPOINTS_H

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "layout.h"
#include "options.h"

/* What sbx_complete_root did, for the JSON result's layers. */
#define SBX_ROOT_POINTS_MADE 0x1 /* an overlay holds points the tree lacks */
#define SBX_ROOT_WRITABLE 0x2    /* --writable-root: a writable overlay */

/* Upper layer of an overlay made only for mount points. */
#define SBX_POINTS_TMPFS_SIZE (1u << 20)
#define SBX_POINTS_TMPFS_INODES 512

/* Which file system holds PATH once sbx's mounts are in place: the tree,
 * a tmpfs of sbx's own (where missing targets are created as they are
 * mounted), or a host directory (-w, --bind, --ro-bind: never written).
 * UPTO is how many of the extra mounts are in place; AT_OR_UNDER counts a
 * mount's own target as inside it. */
enum sbx_point_home {
	SBX_HOME_TREE,
	SBX_HOME_SBX_TMPFS,
	SBX_HOME_HOST,
};

enum sbx_point_home sbx_point_home(const struct sbx_run_options *o, size_t upto, const char *path,
				   bool at_or_under);

/* *ROOT is the tree attached below STAGING (an O_PATH fd).  It stays the
 * root to build the sandbox on when it has every mount point and
 * --writable-root was not given; else it is replaced (closed) by an
 * overlay over it (see above), attached below STAGING too.  *FLAGS gets
 * SBX_ROOT_*. */
int sbx_complete_root(int staging, int *root, const struct sbx_run_options *o, const struct sbx_sources *src,
		      unsigned int *flags, struct sbx_error *err);

/* The same for runsc: its gofer mounts each --bind/--ro-bind on the tree
 * (making a missing target there, in the image when it may), also those
 * below /tmp, the scratch /workspace or a --tmpfs, which gVisor's own
 * tmpfs covers after: those targets are made on the overlay too. */
int sbx_complete_root_for_gofer(int staging, int *root, const struct sbx_run_options *o,
				const struct sbx_sources *src, unsigned int *flags, struct sbx_error *err);

/* The image's WorkingDir when the command starts there and it lies on a
 * tmpfs of sbx's: made once the mounts are in place. */
int sbx_make_workdir_on_tmpfs(int root, const struct sbx_run_options *o, struct sbx_error *err);

/* The targets the native setup opens as it mounts, opened the same way
 * (inside ROOT, the completed tree, or inside the host directory that
 * holds them; never through a symbolic link at the end; none made in a
 * host directory), for a backend whose mounts are made by someone else:
 * gVisor follows a link inside its root, and makes a missing target, in a
 * host directory too.  Fails as the native setup would. */
int sbx_check_mount_targets(int root, const struct sbx_run_options *o, const struct sbx_sources *src,
			    struct sbx_error *err);

#endif
