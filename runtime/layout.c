#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <fts.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "mounts.h"
#include "mountpoints.h"
#include "util.h"

const char *const sbx_dev_node_names[SBX_DEV_NODES] = {
	"null", "zero", "full", "random", "urandom", "tty",
};

void sbx_sources_init(struct sbx_sources *src)
{
	src->rootfs = -1;
	src->workspace = -1;
	src->workspace_path = -1;
	for (size_t i = 0; i < SBX_MAX_MOUNTS; i++)
		src->mounts[i] = src->mount_paths[i] = -1;
	for (size_t i = 0; i < SBX_DEV_NODES; i++)
		src->dev[i] = -1;
}

void sbx_sources_close(struct sbx_sources *src)
{
	sbx_closep(&src->rootfs);
	sbx_closep(&src->workspace);
	sbx_closep(&src->workspace_path);
	for (size_t i = 0; i < SBX_MAX_MOUNTS; i++) {
		sbx_closep(&src->mounts[i]);
		sbx_closep(&src->mount_paths[i]);
	}
	for (size_t i = 0; i < SBX_DEV_NODES; i++)
		sbx_closep(&src->dev[i]);
	sbx_sources_init(src);
}

int sbx_sources_resolve(const struct sbx_run_options *opts, struct sbx_sources *src,
			struct sbx_error *err)
{
	if (opts->workspace != NULL) {
		src->workspace_path = sbx_open_host_path("--workspace", opts->workspace, true, err);
		if (src->workspace_path < 0)
			return -1;
	}
	for (size_t i = 0; i < opts->n_mounts; i++) {
		const struct sbx_mount_spec *m = &opts->mounts[i];

		if (m->kind == SBX_MOUNT_TMPFS)
			continue;
		src->mount_paths[i] = sbx_open_host_path(sbx_mount_option_name(m),
							 m->src, false, err);
		if (src->mount_paths[i] < 0)
			return -1;
	}
	return 0;
}

/* Clone the mount of FD, resolved by sbx.  In the rootless child, whose
 * mount namespace is new, the kernel will not clone a mount of sbx's
 * (EINVAL): the child resolves PATH the same way again and takes it only
 * if it is the very inode sbx resolved. */
static int clone_resolved(const char *what, int fd, const char *path, struct sbx_error *err)
{
	cleanup_close int again = -1;
	struct stat want, got;
	int tree = sbx_clone_tree_fd(fd, err);

	if (tree >= 0 || err->err != EINVAL)
		return tree;
	again = sbx_open_host_path(what, path, false, err);
	if (again < 0)
		return -1;
	if (fstat(fd, &want) < 0 || fstat(again, &got) < 0)
		return sbx_fail(err, errno, "%s %s", what, path);
	if (want.st_dev != got.st_dev || want.st_ino != got.st_ino)
		return sbx_fail(err, 0, "%s %s: replaced while sbx was starting", what, path);
	return sbx_clone_tree_fd(again, err);
}

/* Clone PATH (or FD, PATH's resolution by sbx, when not -1) and check that
 * it is a directory (or, with WANT_DIR false, anything but a directory is
 * fine too). */
static int clone_source(const char *what, int fd, const char *path, unsigned int attrs, bool want_dir,
			struct sbx_error *err)
{
	cleanup_close int tree = fd >= 0 ? clone_resolved(what, fd, path, err) : sbx_clone_tree(path, err);
	struct stat st;

	if (tree < 0)
		return sbx_error_wrap(err, "%s", what);
	if (fstat(tree, &st) < 0)
		return sbx_fail(err, errno, "%s %s", what, path);
	if (want_dir && !S_ISDIR(st.st_mode))
		return sbx_fail(err, ENOTDIR, "%s %s", what, path);
	if (sbx_set_mount_attrs(tree, attrs, err) < 0)
		return sbx_error_wrap(err, "%s %s", what, path);
	return sbx_steal_fd(&tree);
}

/* Why the file at ENT is one the sandbox must not get to write, or NULL. */
static const char *privileged_file(const FTSENT *ent)
{
	if (ent->fts_info != FTS_F)
		return NULL;
	if (ent->fts_statp->st_mode & S_ISUID)
		return "a setuid bit";
	if (ent->fts_statp->st_mode & S_ISGID)
		return "a setgid bit";
	if (lgetxattr(ent->fts_accpath, "security.capability", NULL, 0) >= 0 || errno == ERANGE)
		return "file capabilities";
	return NULL;
}

/* The host-safety filter stops the sandbox from setting a set-id bit or a
 * file capability, and write() drops them, but a write through a shared
 * mapping does not (the kernel strips them on write and truncate only):
 * the sandbox could turn a setuid file of the workspace into its own
 * program and keep the bit.  So a tree the sandbox may write must hold no
 * such file when the sandbox starts.  TREE is the clone the sandbox will
 * get (no submounts: exactly what it sees).  Directories sbx cannot read
 * are skipped: the sandbox cannot list them either. */
static int refuse_privileged_files(int tree, const char *what, const char *path, struct sbx_error *err)
{
	char root[64];
	char *const roots[] = { root, NULL };
	FTS *fts;
	FTSENT *ent;
	int r = 0;

	snprintf(root, sizeof(root), "/proc/self/fd/%d", tree);
	fts = fts_open(roots, FTS_PHYSICAL | FTS_COMFOLLOW, NULL);
	if (fts == NULL)
		return sbx_fail(err, errno, "%s %s: checking for set-id files", what, path);
	/* fts steps into each directory (fchdir) and back out at the end:
	 * three times faster than resolving every path from the top. */
	while (r == 0 && (errno = 0, ent = fts_read(fts)) != NULL) {
		const char *why = privileged_file(ent);

		if (why != NULL) {
			const char *rel = ent->fts_path + strlen(root);

			r = sbx_fail(err, 0, "%s %s: %s%s has %s, which the sandbox could keep while rewriting the file "
					     "(writes through mmap do not clear it)",
				     what, path, path, rel, why);
			sbx_error_hint(err, "remove the bit or capability (chmod ug-s, setcap -r) or move the file "
					    "out of the tree, or mount it with --ro-bind");
		}
	}
	if (r == 0 && errno != 0)
		r = sbx_fail(err, errno, "%s %s: checking for set-id files", what, path);
	if (fts_close(fts) < 0 && r == 0)
		r = sbx_fail(err, errno, "%s %s: returning from the check for set-id files", what, path);
	return r;
}

/* PATH cloned with the file system rights of the owner of the store that
 * holds the tree at FD (a store is private to its owner, whom the setup
 * user of a rootless sandbox with subordinate ranges is not). */
static int clone_as_store_owner(int fd, const char *path, struct sbx_error *err)
{
	struct stat st;
	int before, tree;

	if (fstatat(fd, "..", &st, 0) < 0)
		return sbx_fail(err, errno, "%s", path);
	before = setfsuid(st.st_uid);
	tree = sbx_clone_tree(path, err);
	setfsuid((uid_t)before);
	return tree;
}

/* The stored image's tree: the directory sbx checked and locked (FD).  A
 * process in a new mount namespace cannot clone a mount of the host's from
 * an fd, so there the path is cloned and must lead to that same
 * directory. */
static int clone_checked_tree(int fd, const char *path, unsigned int attrs, struct sbx_error *err)
{
	cleanup_close int tree = sbx_clone_tree_fd(fd, err);
	struct stat want, got;

	if (tree < 0 && err->err == EINVAL) {
		memset(err, 0, sizeof(*err));
		tree = clone_as_store_owner(fd, path, err);
		if (tree >= 0 && (fstat(fd, &want) < 0 || fstat(tree, &got) < 0 || want.st_dev != got.st_dev ||
				  want.st_ino != got.st_ino))
			return sbx_fail(err, 0, "the image's tree %s was replaced while sbx was starting", path);
	}
	if (tree < 0)
		return sbx_error_wrap(err, "the image's tree %s", path);
	if (sbx_set_mount_attrs(tree, attrs, err) < 0)
		return sbx_error_wrap(err, "the image's tree %s", path);
	return sbx_steal_fd(&tree);
}

static int clone_dev_node(const char *name, struct sbx_error *err)
{
	char path[32];
	cleanup_close int tree = -1;
	struct stat st;

	snprintf(path, sizeof(path), "/dev/%s", name);
	tree = clone_source("host device", -1, path, SBX_MNT_NOSUID | SBX_MNT_NOEXEC, false, err);
	if (tree < 0)
		return -1;
	/* The host's own node, never a file someone put there. */
	if (fstat(tree, &st) < 0 || !S_ISCHR(st.st_mode))
		return sbx_fail(err, 0, "host %s is not a character device", path);
	return sbx_steal_fd(&tree);
}

int sbx_sources_open(const struct sbx_run_options *opts, struct sbx_sources *src,
		     struct sbx_error *err)
{
	const unsigned int ro = SBX_MNT_RO | SBX_MNT_NOSUID | SBX_MNT_NODEV;

	src->rootfs = opts->rootfs_fd >= 0 ? clone_checked_tree(opts->rootfs_fd, opts->rootfs, ro, err)
					    : clone_source("--rootfs", -1, opts->rootfs, ro, true, err);
	if (src->rootfs < 0)
		return sbx_error_hint(err, "give --rootfs an unpacked root file system, e.g. from rootfs/build");
	if (opts->workspace != NULL) {
		src->workspace = clone_source("--workspace", src->workspace_path, opts->workspace,
					      SBX_MNT_NOSUID | SBX_MNT_NODEV, true, err);
		if (src->workspace < 0 ||
		    refuse_privileged_files(src->workspace, "--workspace", opts->workspace, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < opts->n_mounts; i++) {
		const struct sbx_mount_spec *m = &opts->mounts[i];

		if (m->kind == SBX_MOUNT_TMPFS)
			continue;
		src->mounts[i] = clone_source(sbx_mount_option_name(m),
					      src->mount_paths[i], m->src,
					      m->kind == SBX_MOUNT_BIND ? SBX_MNT_NOSUID | SBX_MNT_NODEV : ro,
					      false, err);
		if (src->mounts[i] < 0 ||
		    (m->kind == SBX_MOUNT_BIND && refuse_privileged_files(src->mounts[i], "--bind", m->src, err) < 0))
			return -1;
	}
	for (size_t i = 0; i < SBX_DEV_NODES; i++) {
		src->dev[i] = clone_dev_node(sbx_dev_node_names[i], err);
		if (src->dev[i] < 0)
			return -1;
	}
	return 0;
}

int sbx_etc_files_make(const struct sbx_run_options *opts, struct sbx_etc_files *files,
		       struct sbx_error *err)
{
	snprintf(files->hosts, sizeof(files->hosts),
		 "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n",
		 opts->hostname);
	snprintf(files->hostname, sizeof(files->hostname), "%s\n", opts->hostname);
	if (opts->network == SBX_NETWORK_HOST) {
		cleanup_free char *host = NULL;

		if (sbx_read_file("/etc/resolv.conf", sizeof(files->resolv_conf) - 1, &host, err) < 0)
			return sbx_error_hint(err, "--network host copies the host's DNS settings");
		snprintf(files->resolv_conf, sizeof(files->resolv_conf), "%s", host);
	} else {
		snprintf(files->resolv_conf, sizeof(files->resolv_conf),
			 "# sbx: this sandbox has no network (--network none)\n");
	}
	return 0;
}

/* Reopen an O_PATH directory fd (or a path below it) for real use. */
static int open_dir_at(int dirfd, const char *path, struct sbx_error *err)
{
	int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return sbx_fail(err, errno, "opening %s", path);
	return fd;
}

int sbx_mount_staging(struct sbx_error *err)
{
	cleanup_close int tree = sbx_new_tmpfs(SBX_TMPFS(16 << 20, 0700), SBX_MNT_NOSUID | SBX_MNT_NODEV, err);
	cleanup_close int target = -1;

	if (tree < 0)
		return sbx_error_wrap(err, "sbx's staging tmpfs");
	target = open("/tmp", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (target < 0)
		return sbx_fail(err, errno, "staging: /tmp of the host");
	if (sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "staging on /tmp");
	return open_dir_at(AT_FDCWD, "/tmp", err);
}

int sbx_attach_in_staging(int staging, int tree, const char *name, struct sbx_error *err)
{
	cleanup_close int target = -1;
	int mounted;

	if (mkdirat(staging, name, 0755) < 0)
		return sbx_fail(err, errno, "staging: making the mount point %s", name);
	target = openat(staging, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0)
		return sbx_fail(err, errno, "staging: opening the mount point %s", name);
	if (sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "staging: mounting on %s", name);
	/* The mount, not the directory below it that TARGET still names. */
	mounted = openat(staging, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (mounted < 0)
		return sbx_fail(err, errno, "staging: opening what is mounted on %s", name);
	return mounted;
}

int sbx_mount_root(int staging, int rootfs_tree, struct sbx_error *err)
{
	int root = sbx_attach_in_staging(staging, rootfs_tree, "root", err);

	return root < 0 ? sbx_error_wrap(err, "mounting the rootfs") : root;
}

/* Mount TREE on PATH, a directory of the root (made by sbx_complete_root
 * when the tree lacked it). */
static int mount_on_image_dir(int root, int tree, const char *path, const char *why,
			      struct sbx_error *err)
{
	if (sbx_attach_in_root(tree, root, path, SBX_TARGET_DIR, false, err) < 0)
		return sbx_error_wrap(err, "mounting %s", why);
	return 0;
}

int sbx_mount_workspace(int root, int workspace_tree, struct sbx_error *err)
{
	return mount_on_image_dir(root, workspace_tree, "/workspace", "the workspace", err);
}

int sbx_mount_tmp(int root, uint64_t size, struct sbx_error *err)
{
	cleanup_close int tree = sbx_new_tmpfs(SBX_TMPFS(size, 01777), SBX_MNT_NOSUID | SBX_MNT_NODEV, err);

	if (tree < 0)
		return sbx_error_wrap(err, "/tmp");
	return mount_on_image_dir(root, tree, "/tmp", "/tmp", err);
}

static int write_staging_file(int staging, const char *name, const char *content,
			      struct sbx_error *err)
{
	cleanup_close int fd = openat(staging, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				      0644);

	if (fd < 0 || sbx_write_all(fd, content, strlen(content)) < 0)
		return sbx_fail(err, errno, "staging: writing %s", name);
	return 0;
}

/* Bind the staged file NAME read-only over PATH, when the image has PATH as
 * a regular file; the image stays untouched either way. */
static int mount_etc_file(int root, int staging, const char *name, const char *path,
			  const char *content, bool verbose, struct sbx_error *err)
{
	cleanup_close int file = -1;
	cleanup_close int tree = -1;

	if (write_staging_file(staging, name, content, err) < 0)
		return -1;
	file = openat(staging, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (file < 0)
		return sbx_fail(err, errno, "staging: opening %s", name);
	tree = sbx_clone_tree_fd(file, err);
	if (tree < 0 ||
	    sbx_set_mount_attrs(tree, SBX_MNT_RO | SBX_MNT_NOSUID | SBX_MNT_NODEV | SBX_MNT_NOEXEC, err) < 0)
		return sbx_error_wrap(err, "%s", path);
	if (sbx_attach_in_root(tree, root, path, SBX_TARGET_FILE, false, err) < 0) {
		if (err->err == ENOENT || err->err == ELOOP) {
			sbx_verbose(verbose, "not providing %s: %s", path, err->msg);
			return 0;
		}
		return sbx_error_wrap(err, "mounting %s", path);
	}
	return 0;
}

int sbx_mount_etc_files(int root, int staging, const struct sbx_etc_files *files,
			bool verbose, struct sbx_error *err)
{
	if (mount_etc_file(root, staging, "hosts", "/etc/hosts", files->hosts, verbose, err) < 0 ||
	    mount_etc_file(root, staging, "hostname", "/etc/hostname", files->hostname, verbose, err) < 0 ||
	    mount_etc_file(root, staging, "resolv.conf", "/etc/resolv.conf", files->resolv_conf, verbose,
			   err) < 0)
		return -1;
	return 0;
}

/* A missing target may be created only inside a tmpfs of sbx's own (/tmp,
 * the scratch /workspace or an earlier --tmpfs): never in a host
 * directory; the tree's missing points are made before it is mounted (see
 * mountpoints.h). */
static bool may_create_target(const struct sbx_run_options *opts, size_t upto, const char *dst)
{
	return sbx_point_home(opts, upto, dst, false) == SBX_HOME_SBX_TMPFS;
}

const char *sbx_mount_option_name(const struct sbx_mount_spec *m)
{
	return m->kind == SBX_MOUNT_TMPFS ? "--tmpfs" : m->kind == SBX_MOUNT_BIND ? "--bind" : "--ro-bind";
}

int sbx_extra_target_error(const struct sbx_mount_spec *m, struct sbx_error *err)
{
	sbx_error_wrap(err, "%s %s", sbx_mount_option_name(m), m->dst);
	if (err->err == ENOENT)
		return sbx_error_hint(err, "a target below a --bind or --ro-bind directory or the -w "
					   "workspace must exist there: sbx never writes the host's directories");
	return -1;
}

int sbx_mount_extras(int root, const struct sbx_run_options *opts,
		     const struct sbx_sources *src, struct sbx_error *err)
{
	for (size_t i = 0; i < opts->n_mounts; i++) {
		const struct sbx_mount_spec *m = &opts->mounts[i];
		cleanup_close int fresh = -1; /* a new tmpfs, owned here */
		int tree;
		enum sbx_target_kind kind = SBX_TARGET_DIR;
		const char *opt = sbx_mount_option_name(m);

		if (m->kind == SBX_MOUNT_TMPFS)
			tree = fresh = sbx_new_tmpfs(SBX_TMPFS(m->size, 01777), SBX_MNT_NOSUID | SBX_MNT_NODEV, err);
		else
			tree = src->mounts[i];
		if (tree < 0)
			return sbx_error_wrap(err, "%s %s", opt, m->dst);
		if (m->kind != SBX_MOUNT_TMPFS && sbx_tree_kind(tree, &kind, err) < 0)
			return -1;
		if (sbx_attach_in_root(tree, root, m->dst, kind, may_create_target(opts, i, m->dst), err) < 0)
			return sbx_extra_target_error(m, err);
	}
	return 0;
}

int sbx_pivot_root(int root, struct sbx_error *err)
{
	if (fchdir(root) < 0)
		return sbx_fail(err, errno, "entering the new root");
	/* With new and old root both ".", the old root ends up stacked on the
	 * new one, from where it is detached: no directory is needed for it
	 * and no path leads back to the host's tree. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return sbx_fail(err, errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return sbx_fail(err, errno, "detaching the host's root");
	if (chdir("/") < 0)
		return sbx_fail(err, errno, "chdir /");
	return 0;
}
