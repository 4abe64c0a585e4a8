/* /proc for the sandbox's own pid namespace, with the paths that expose or
 * change the host masked or read-only; and an empty, read-only /sys. */
#ifndef SBX_PROCFS_H
#define SBX_PROCFS_H

#include "error.h"

int sbx_mount_proc(int root, struct sbx_error *err);
/* The masks and read-only paths above, over the /proc at PROC (a mounted
 * proc's directory), with NULL_FD (a /dev/null that is sbx's) as the
 * source of the file masks. */
int sbx_proc_harden(int proc, int null_fd, struct sbx_error *err);

/* An empty read-only tmpfs over /sys when the image has one: nothing of the
 * host's devices, firmware or cgroups. */
int sbx_mount_sys(int root, struct sbx_error *err);

#endif
