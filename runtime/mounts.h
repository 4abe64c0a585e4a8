/* Mount primitives.  Every mount is made detached first (open_tree or
 * fsmount), given its flags while nothing can see it, then attached with
 * move_mount onto a target opened inside the new root without following a
 * symlink out of it.  No path is resolved twice, so nothing in the image can
 * swap a target between the check and the mount. */
#ifndef SBX_MOUNTS_H
#define SBX_MOUNTS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/* Mount attributes, as MOUNT_ATTR_* of mount_setattr(2). */
#define SBX_MNT_RO 0x1u
#define SBX_MNT_NOSUID 0x2u
#define SBX_MNT_NODEV 0x4u
#define SBX_MNT_NOEXEC 0x8u

enum sbx_target_kind {
	SBX_TARGET_DIR,
	SBX_TARGET_FILE,
};

/* Clone the mount at PATH (not its submounts) into a detached mount with
 * private propagation.  Returns the mount fd. */
int sbx_clone_tree(const char *path, struct sbx_error *err);

/* Same for an fd of an attached mount or file (AT_EMPTY_PATH). */
int sbx_clone_tree_fd(int fd, struct sbx_error *err);

/* Open the host path PATH (an O_PATH fd), following no symbolic link on
 * the way: a link would decide for sbx what the sandbox gets, and whose
 * it is.  A path through one is refused with the path it leads to, for
 * the user to give instead.  WHAT names the option in errors. */
int sbx_open_host_path(const char *what, const char *path, bool want_dir, struct sbx_error *err);

/* Give a detached mount the SBX_MNT_* attributes ATTRS. */
int sbx_set_mount_attrs(int tree, unsigned int attrs, struct sbx_error *err);

/* Make the detached mount TREE idmapped through the user namespace
 * USERNS_FD. */
int sbx_set_mount_idmap(int tree, int userns_fd, struct sbx_error *err);

/* The kernel's own words on why a file system context FS (fsopen) was
 * refused: its log's error line into BUF, "" when there is none. */
void sbx_fs_context_error(int fs, char *buf, size_t len);

/* Make a detached new file system: tmpfs, proc, devpts... OPTIONS is a
 * NULL-terminated list of key, value pairs (value NULL for a flag). */
int sbx_new_fs(const char *fstype, const char *const *options, unsigned int attrs,
	       struct sbx_error *err);

/* Open PATH inside ROOTFD as an O_PATH fd: intermediate symlinks resolve as
 * if ROOTFD were /, the last component must not be a symlink and must be of
 * kind KIND.  Fails with ENOENT when it does not exist. */
int sbx_open_in_root(int rootfd, const char *path, enum sbx_target_kind kind,
		     struct sbx_error *err);

/* Open the regular file at PATH inside ROOTFD for reading, resolved as if
 * ROOTFD were /; anything but a regular file is refused. */
int sbx_open_file_in_root(int rootfd, const char *path, struct sbx_error *err);

/* A tmpfs: SIZE bytes (0: the kernel's default), MODE of its root, and
 * when not -1 its root's owner and an inode cap.  Without an explicit cap
 * a sized tmpfs gets one inode per SBX_TMPFS_BYTES_PER_INODE bytes, at
 * least SBX_TMPFS_MIN_INODES. */
#define SBX_TMPFS_BYTES_PER_INODE 4096u
#define SBX_TMPFS_MIN_INODES 1024u

struct sbx_tmpfs {
	uint64_t size;
	unsigned int mode;
	int64_t uid;
	int64_t gid;
	int64_t nr_inodes;
};

#define SBX_TMPFS(sz, md) ((struct sbx_tmpfs){ .size = (sz), .mode = (md), .uid = -1, .gid = -1, .nr_inodes = -1 })

int sbx_new_tmpfs(struct sbx_tmpfs t, unsigned int attrs, struct sbx_error *err);

/* An empty, read-only tmpfs: what masks a directory. */
int sbx_new_empty_ro_tmpfs(struct sbx_error *err);

/* A directory fd (not O_PATH) for PATH inside ROOTFD, symlinks on the way
 * resolved as if ROOTFD were /; with CREATE, missing directories are made
 * one by one, each inside the root. */
int sbx_open_dir_in_root(int rootfd, const char *path, bool create, struct sbx_error *err);

/* Attach the detached mount TREE onto the target TARGET_FD. */
int sbx_attach(int tree, int target_fd, struct sbx_error *err);

/* Attach TREE at PATH inside ROOTFD (see sbx_open_in_root); when the target
 * is missing and CREATE is set, make it first (a directory or an empty
 * file) — only ever inside sbx's own tmpfs mounts, since the image itself
 * is read-only by then. */
int sbx_attach_in_root(int tree, int rootfd, const char *path, enum sbx_target_kind kind,
		       bool create, struct sbx_error *err);

/* Kind of target that a detached mount needs (a directory or a file). */
int sbx_tree_kind(int tree, enum sbx_target_kind *kind, struct sbx_error *err);

#endif
