/* An OCI container's file system, built in its mount namespace before
 * pivot_root, in this order (oci_container.c calls them top to bottom):
 *
 *  1. the host's mounts become slaves of the host (nothing sbx mounts
 *     propagates back), and root.path is bound onto itself: the new root;
 *  2. mounts[] in order, each made detached, given its flags, and attached
 *     on a target resolved inside the new root (a symbolic link in the
 *     image never leads a mount out of it);
 *  3. the devices: the spec's default ones and linux.devices, bound from
 *     the host's nodes (never mknod), and /dev's links;
 *  4. maskedPaths, readonlyPaths and sbx's own /proc masks;
 *  5. linux.sysctl, namespaced keys only;
 *  6. pivot_root, root.readonly, rootfsPropagation.
 *
 * Device access without a device cgroup: every mount but the device nodes
 * sbx binds and devpts is made nodev, so a node made with mknod (the spec
 * may grant CAP_MKNOD) opens nothing; the nodes a rule allows but
 * linux.devices does not list are simply absent. */
#ifndef SBX_OCI_MOUNTS_H
#define SBX_OCI_MOUNTS_H

#include <stdbool.h>

#include "error.h"
#include "oci_config.h"

/* Steps 1: *ROOTFD is the new root (a mount of its own): GIVEN when it is
 * a detached mount of root.path (idmapped, below), else a clone. */
int sbx_oci_mount_root(const struct sbx_oci_config *cfg, int bundle_fd, int given, int *rootfd,
		       struct sbx_error *err);

/* In sbx, for a user namespace the spec did not ask for (hardened): a
 * detached clone of root.path idmapped through USERNS_FD, so that root
 * inside owns what host root owns there. */
int sbx_oci_idmapped_root(const struct sbx_oci_config *cfg, int bundle_fd, int userns_fd, struct sbx_error *err);
/* Steps 2-5. */
int sbx_oci_mount_all(const struct sbx_oci_config *cfg, int bundle_fd, int rootfd, struct sbx_error *err);
/* Step 6: the calling process's root becomes ROOTFD. */
int sbx_oci_pivot_root(const struct sbx_oci_config *cfg, int rootfd, struct sbx_error *err);

/* Checks that need no mount: what mounts[], linux.devices and the device
 * rules ask for that sbx cannot honour.  Run before anything is made. */
int sbx_oci_mounts_check(const struct sbx_oci_config *cfg, struct sbx_error *err);

#endif
