/* A minimal /dev: a tmpfs holding the host's harmless character devices
 * (bound, since a user namespace may not mknod), a private devpts instance,
 * /dev/shm and the usual links.  Nothing else: no /dev/kvm, /dev/mem,
 * /dev/kmsg or GPU nodes. */
#ifndef SBX_DEVFS_H
#define SBX_DEVFS_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "layout.h"

/* DEV_TREES are the cloned host nodes in the order of sbx_dev_node_names;
 * TTY_GID_MAPPED says whether gid 5 exists inside for devpts. */
int sbx_mount_dev(int root, const int dev_trees[SBX_DEV_NODES], uint64_t shm_size,
		  bool tty_gid_mapped, struct sbx_error *err);

#endif
