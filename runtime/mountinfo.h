/* Where a file system is mounted, without paying for the whole mount
 * table on every run.
 *
 * statmount(2) (Linux 6.8) describes the one mount at a path: sbx asks it
 * about the few places a file system is usually mounted.  Where the kernel
 * has no statmount, or the file system is elsewhere, libmount reads
 * /proc/self/mountinfo; it is loaded only then (dlopen): linked into sbx,
 * libmount and what it pulls in (libblkid, libselinux, libpcre2) cost every
 * `sbx run` ~0.4 ms of dynamic loading. */
#ifndef SBX_MOUNTINFO_H
#define SBX_MOUNTINFO_H

#include <limits.h>
#include <stdbool.h>

#include "error.h"

struct sbx_mount_desc {
	char target[PATH_MAX]; /* where it is mounted, in our mount namespace */
	char root[PATH_MAX];   /* the directory of its file system mounted there */
	int how;               /* SBX_MOUNT_FOUND_* */
};

enum {
	SBX_MOUNT_FOUND_STATMOUNT = 1,
	SBX_MOUNT_FOUND_STATFS,    /* no statmount: ROOT is unknown (empty) */
	SBX_MOUNT_FOUND_MOUNTINFO,
};

/* The mount of type FSTYPE (superblock magic MAGIC): the first of
 * CANDIDATES (NULL-terminated) that is the mount point of such a mount,
 * else the first such mount of /proc/self/mountinfo.  A caller that does
 * not need the mount's root (WANT_ROOT false) takes a candidate on
 * statfs and statx alone where the kernel has no statmount (Linux < 6.8,
 * Debian 12's 6.1 among them), which spares it libmount.  Returns 1 and
 * fills OUT when there is one, 0 when there is none, -1 when the mount
 * table cannot be read. */
int sbx_find_mount(const char *fstype, unsigned long magic, const char *const *candidates, bool want_root,
		   struct sbx_mount_desc *out, struct sbx_error *err);

/* Ask statmount(2) about the mount point PATH only.  1 and OUT filled when
 * PATH is the mount point of a mount of type FSTYPE, 0 when it is not,
 * -1 with ERR->err ENOSYS when the kernel has no statmount (for tests). */
int sbx_statmount_point(const char *path, const char *fstype, struct sbx_mount_desc *out, struct sbx_error *err);

/* libmount's table of the kernel's mount options (MNT_LINUX_MAP: "ro",
 * "nosuid", "rbind", "rprivate"... with their MS_* flags), loaded with
 * libmount; NULL and ERR filled when it cannot be. */
struct libmnt_optmap;
const struct libmnt_optmap *sbx_mount_linux_optmap(struct sbx_error *err);

/* Look through /proc/self/mountinfo with libmount only (for tests). */
int sbx_mountinfo_find(const char *fstype, struct sbx_mount_desc *out, struct sbx_error *err);

#endif
