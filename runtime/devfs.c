#include "devfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

static const struct {
	const char *name;
	const char *target;
} dev_links[] = {
	{ "fd", "/proc/self/fd" },
	{ "stdin", "/proc/self/fd/0" },
	{ "stdout", "/proc/self/fd/1" },
	{ "stderr", "/proc/self/fd/2" },
	{ "ptmx", "pts/ptmx" },
};

static int mount_nodes(int dev, const int dev_trees[SBX_DEV_NODES], struct sbx_error *err)
{
	for (size_t i = 0; i < SBX_DEV_NODES; i++) {
		const char *name = sbx_dev_node_names[i];
		cleanup_close int fd = openat(dev, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);

		if (fd < 0)
			return sbx_fail(err, errno, "creating /dev/%s", name);
		sbx_closep(&fd);
		fd = openat(dev, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return sbx_fail(err, errno, "opening /dev/%s", name);
		if (sbx_attach(dev_trees[i], fd, err) < 0)
			return sbx_error_wrap(err, "/dev/%s", name);
	}
	return 0;
}

static int mount_in_dev(int dev, const char *name, int tree, struct sbx_error *err)
{
	cleanup_close int target = -1;

	if (mkdirat(dev, name, 0755) < 0)
		return sbx_fail(err, errno, "creating /dev/%s", name);
	target = openat(dev, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return sbx_fail(err, errno, "opening /dev/%s", name);
	if (sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "/dev/%s", name);
	return 0;
}

static int mount_pts(int dev, bool tty_gid_mapped, struct sbx_error *err)
{
	/* A new instance, so the sandbox sees and reaches no pty of the host. */
	const char *opts[] = { "newinstance", NULL, "ptmxmode", "0666", "mode", "0620",
			       tty_gid_mapped ? "gid" : NULL, "5", NULL };
	cleanup_close int tree = sbx_new_fs("devpts", opts, SBX_MNT_NOSUID | SBX_MNT_NOEXEC, err);

	if (tree < 0)
		return sbx_error_wrap(err, "/dev/pts");
	return mount_in_dev(dev, "pts", tree, err);
}

static int mount_shm(int dev, uint64_t size, struct sbx_error *err)
{
	cleanup_close int tree = sbx_new_tmpfs(SBX_TMPFS(size, 01777), SBX_MNT_NOSUID | SBX_MNT_NODEV, err);

	if (tree < 0)
		return sbx_error_wrap(err, "/dev/shm");
	return mount_in_dev(dev, "shm", tree, err);
}

int sbx_mount_dev(int root, const int dev_trees[SBX_DEV_NODES], uint64_t shm_size,
		  bool tty_gid_mapped, struct sbx_error *err)
{
	struct sbx_tmpfs dev_fs = SBX_TMPFS(64 << 10, 0755);
	cleanup_close int tree = -1;
	cleanup_close int dev_path = -1;
	cleanup_close int dev = -1;
	struct mount_attr ro = { .attr_set = MOUNT_ATTR_RDONLY };

	dev_fs.nr_inodes = 64;
	tree = sbx_new_tmpfs(dev_fs, SBX_MNT_NOSUID | SBX_MNT_NOEXEC, err);
	if (tree < 0)
		return sbx_error_wrap(err, "/dev");
	if (sbx_attach_in_root(tree, root, "/dev", SBX_TARGET_DIR, false, err) < 0)
		return sbx_error_wrap(err, "mounting /dev (the rootfs must have a /dev directory)");
	dev_path = sbx_open_in_root(root, "/dev", SBX_TARGET_DIR, err);
	if (dev_path < 0)
		return sbx_error_wrap(err, "reopening /dev");
	dev = openat(dev_path, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dev < 0)
		return sbx_fail(err, errno, "opening /dev");
	if (mount_nodes(dev, dev_trees, err) < 0 || mount_pts(dev, tty_gid_mapped, err) < 0 ||
	    mount_shm(dev, shm_size, err) < 0)
		return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(dev_links); i++)
		if (symlinkat(dev_links[i].target, dev, dev_links[i].name) < 0)
			return sbx_fail(err, errno, "creating /dev/%s", dev_links[i].name);
	/* Populated: nothing may add nodes or files to /dev from now on. */
	if (mount_setattr(dev_path, "", AT_EMPTY_PATH, &ro, sizeof(ro)) < 0)
		return sbx_fail(err, errno, "making /dev read-only");
	return 0;
}
