#include "mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util.h"

static uint64_t to_mount_attr(unsigned int attrs)
{
	uint64_t out = 0;

	if (attrs & SBX_MNT_RO)
		out |= MOUNT_ATTR_RDONLY;
	if (attrs & SBX_MNT_NOSUID)
		out |= MOUNT_ATTR_NOSUID;
	if (attrs & SBX_MNT_NODEV)
		out |= MOUNT_ATTR_NODEV;
	if (attrs & SBX_MNT_NOEXEC)
		out |= MOUNT_ATTR_NOEXEC;
	return out;
}

static int set_private(int tree, unsigned int attrs, struct sbx_error *err)
{
	struct mount_attr attr = {
		.attr_set = to_mount_attr(attrs),
		/* A clone keeps the shared peer group of its source; mounts
		 * must neither leak to the host nor arrive from it. */
		.propagation = MS_PRIVATE,
	};

	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return sbx_fail(err, errno, "setting mount attributes");
	return 0;
}

int sbx_clone_tree(const char *path, struct sbx_error *err)
{
	cleanup_close int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

	if (tree < 0)
		return sbx_fail(err, errno, "%s", path);
	if (set_private(tree, 0, err) < 0)
		return sbx_error_wrap(err, "%s", path);
	return sbx_steal_fd(&tree);
}

int sbx_clone_tree_fd(int fd, struct sbx_error *err)
{
	cleanup_close int tree = open_tree(fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH);

	if (tree < 0)
		return sbx_fail(err, errno, "cloning a mount");
	if (set_private(tree, 0, err) < 0)
		return -1;
	return sbx_steal_fd(&tree);
}

int sbx_open_host_path(const char *what, const char *path, bool want_dir, struct sbx_error *err)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC | (want_dir ? O_DIRECTORY : 0),
		.resolve = RESOLVE_NO_SYMLINKS,
	};
	int fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
	cleanup_free char *real = NULL;

	if (fd >= 0)
		return fd;
	if (errno != ELOOP)
		return sbx_fail(err, errno, "%s %s", what, path);
	real = realpath(path, NULL);
	sbx_fail(err, 0, "%s %s: the path goes through a symbolic link, which sbx does not follow", what, path);
	return real != NULL ? sbx_error_hint(err, "give the real path instead: %s", real)
			    : sbx_error_hint(err, "give the real path instead");
}

int sbx_set_mount_attrs(int tree, unsigned int attrs, struct sbx_error *err)
{
	return set_private(tree, attrs, err);
}

int sbx_set_mount_idmap(int tree, int userns_fd, struct sbx_error *err)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_IDMAP,
		.userns_fd = (uint64_t)userns_fd,
	};

	if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
		return sbx_fail(err, errno, "making an idmapped mount");
	return 0;
}

int sbx_new_fs(const char *fstype, const char *const *options, unsigned int attrs,
	       struct sbx_error *err)
{
	cleanup_close int fs = fsopen(fstype, FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return sbx_fail(err, errno, "creating a %s file system", fstype);
	for (size_t i = 0; options != NULL && options[i] != NULL; i += 2) {
		int r = options[i + 1] == NULL
				? fsconfig(fs, FSCONFIG_SET_FLAG, options[i], NULL, 0)
				: fsconfig(fs, FSCONFIG_SET_STRING, options[i], options[i + 1], 0);

		if (r < 0)
			return sbx_fail(err, errno, "%s option %s%s%s", fstype, options[i],
					options[i + 1] ? "=" : "", options[i + 1] ? options[i + 1] : "");
	}
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return sbx_fail(err, errno, "creating a %s file system", fstype);
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)to_mount_attr(attrs));
	if (mnt < 0)
		return sbx_fail(err, errno, "mounting a %s file system", fstype);
	return mnt;
}

void sbx_fs_context_error(int fs, char *buf, size_t len)
{
	ssize_t n;

	buf[0] = '\0';
	while ((n = read(fs, buf, len - 1)) > 0) {
		buf[n] = '\0';
		if (buf[n - 1] == '\n')
			buf[n - 1] = '\0';
		if (buf[0] == 'e') /* "e ..." is an error; "w", "i" the rest */
			return;
	}
	buf[0] = '\0';
}

int sbx_new_tmpfs(struct sbx_tmpfs t, unsigned int attrs, struct sbx_error *err)
{
	char size[24], mode[8], uid[24], gid[24], inodes[24];
	const char *opts[11];
	size_t n = 0;

	snprintf(mode, sizeof(mode), "%o", t.mode);
	opts[n++] = "mode";
	opts[n++] = mode;
	if (t.size) {
		snprintf(size, sizeof(size), "%llu", (unsigned long long)t.size);
		opts[n++] = "size";
		opts[n++] = size;
	}
	if (t.uid >= 0 && t.gid >= 0) {
		snprintf(uid, sizeof(uid), "%lld", (long long)t.uid);
		snprintf(gid, sizeof(gid), "%lld", (long long)t.gid);
		opts[n++] = "uid";
		opts[n++] = uid;
		opts[n++] = "gid";
		opts[n++] = gid;
	}
	/* Without a cap the kernel allows half of RAM's pages in inodes, and
	 * empty files cost kernel memory (about 1 KiB each) while the size
	 * limit sees 0 bytes: one inode per page of the size, so that a tmpfs
	 * full of one-page files meets both limits together. */
	if (t.nr_inodes < 0 && t.size)
		t.nr_inodes = (int64_t)(t.size / SBX_TMPFS_BYTES_PER_INODE > SBX_TMPFS_MIN_INODES
						? t.size / SBX_TMPFS_BYTES_PER_INODE
						: SBX_TMPFS_MIN_INODES);
	if (t.nr_inodes >= 0) {
		snprintf(inodes, sizeof(inodes), "%lld", (long long)t.nr_inodes);
		opts[n++] = "nr_inodes";
		opts[n++] = inodes;
	}
	opts[n] = NULL;
	return sbx_new_fs("tmpfs", opts, attrs, err);
}

int sbx_new_empty_ro_tmpfs(struct sbx_error *err)
{
	struct sbx_tmpfs t = SBX_TMPFS(4096, 0555);

	t.nr_inodes = 1;
	return sbx_new_tmpfs(t, SBX_MNT_RO | SBX_MNT_NOSUID | SBX_MNT_NODEV | SBX_MNT_NOEXEC, err);
}

/* openat2 PATH as if ROOTFD were / (symlinks and ".." stay inside), the
last component never followed; ST describes what was opened. */
static int open_beneath(int rootfd, const char *path, uint64_t flags, struct stat *st, struct sbx_error *err)
{
	struct open_how how = {
		.flags = flags | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	if (fd < 0)
		return sbx_fail(err, errno, "/%s", path);
	if (fstat(fd, st) < 0)
		return sbx_fail(err, errno, "/%s", path);
	return sbx_steal_fd(&fd);
}

int sbx_open_in_root(int rootfd, const char *path, enum sbx_target_kind kind,
		     struct sbx_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	while (*path == '/')
		path++;
	fd = open_beneath(rootfd, path, O_PATH, &st, err);
	if (fd < 0)
		return -1;
	if (S_ISLNK(st.st_mode))
		return sbx_fail(err, ELOOP,
				"/%s is a symbolic link, and sbx mounts only on real directories and files",
				path);
	if (kind == SBX_TARGET_DIR && !S_ISDIR(st.st_mode))
		return sbx_fail(err, ENOTDIR, "/%s", path);
	if (kind == SBX_TARGET_FILE && S_ISDIR(st.st_mode))
		return sbx_fail(err, EISDIR, "/%s must be a file to mount a file on it", path);
	return sbx_steal_fd(&fd);
}

int sbx_open_file_in_root(int rootfd, const char *path, struct sbx_error *err)
{
	cleanup_close int fd = -1;
	struct stat st;

	while (*path == '/')
		path++;
	/* O_NONBLOCK: a FIFO planted in place of the file must not hang us;
	 * it is refused below as not regular. */
	fd = open_beneath(rootfd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK, &st, err);
	if (fd < 0)
		return -1;
	if (!S_ISREG(st.st_mode))
		return sbx_fail(err, EINVAL, "/%s is not a regular file", path);
	if (fcntl(fd, F_SETFL, 0) < 0)
		return sbx_fail(err, errno, "/%s", path);
	return sbx_steal_fd(&fd);
}

int sbx_attach(int tree, int target_fd, struct sbx_error *err)
{
	if (move_mount(tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return sbx_fail(err, errno, "attaching the mount");
	return 0;
}

int sbx_open_dir_in_root(int rootfd, const char *path, bool create, struct sbx_error *err)
{
	struct open_how how = {
		.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char prefix[PATH_MAX];
	const char *p;
	int fd;

	while (*path == '/')
		path++;
	fd = (int)syscall(SYS_openat2, rootfd, path[0] ? path : ".", &how, sizeof(how));
	if (fd >= 0 || errno != ENOENT || !create)
		return fd >= 0 ? fd : sbx_fail(err, errno, "/%s", path);
	/* Create the missing components one by one, each inside the root. */
	for (p = path; *p != '\0';) {
		const char *end = strchrnul(p, '/');
		cleanup_close int parent = -1;
		char name[NAME_MAX + 1];

		if ((size_t)(end - p) > NAME_MAX || (size_t)(p - path) >= sizeof(prefix))
			return sbx_fail(err, ENAMETOOLONG, "/%s", path);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(p - path), path);
		snprintf(name, sizeof(name), "%.*s", (int)(end - p), p);
		parent = (int)syscall(SYS_openat2, rootfd, prefix[0] ? prefix : ".", &how, sizeof(how));
		if (parent < 0)
			return sbx_fail(err, errno, "/%s", prefix);
		if (end > p && mkdirat(parent, name, 0755) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "creating /%s%s", prefix, name);
		p = *end ? end + 1 : end;
	}
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	return fd >= 0 ? fd : sbx_fail(err, errno, "/%s", path);
}

/* Create the last component of PATH inside ROOTFD (a directory or an empty
 * file), its missing parents on the way. */
static int create_target(int rootfd, const char *path, enum sbx_target_kind kind,
			 struct sbx_error *err)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	char parent[PATH_MAX];
	cleanup_close int dir = -1;

	snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - path) : 0, path);
	dir = sbx_open_dir_in_root(rootfd, parent, true, err);
	if (dir < 0)
		return -1;
	if (kind == SBX_TARGET_DIR) {
		if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "creating %s", path);
	} else {
		int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

		if (fd < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "creating %s", path);
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

int sbx_attach_in_root(int tree, int rootfd, const char *path, enum sbx_target_kind kind,
		       bool create, struct sbx_error *err)
{
	cleanup_close int target = sbx_open_in_root(rootfd, path, kind, err);

	if (target < 0 && err->err == ENOENT && create) {
		if (create_target(rootfd, path, kind, err) < 0)
			return -1;
		target = sbx_open_in_root(rootfd, path, kind, err);
	}
	if (target < 0)
		return -1;
	if (sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "%s", path);
	return 0;
}

int sbx_tree_kind(int tree, enum sbx_target_kind *kind, struct sbx_error *err)
{
	struct stat st;

	if (fstat(tree, &st) < 0)
		return sbx_fail(err, errno, "stat of a mount");
	*kind = S_ISDIR(st.st_mode) ? SBX_TARGET_DIR : SBX_TARGET_FILE;
	return 0;
}
