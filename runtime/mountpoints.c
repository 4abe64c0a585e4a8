#include "mountpoints.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

/* The owner the kernel shows for ids its user namespace does not map. */
#define OVERFLOW_ID 65534

struct point {
	const char *path; /* absolute, without "." or ".." components */
	enum sbx_target_kind kind;
	/* A symbolic link there is hidden by a file of the layer (images
	 * often link /etc/resolv.conf to a file of a daemon that is not
	 * running): nothing is followed, sbx's own file is mounted on it. */
	bool hide_link;
};

static const struct point fixed_points[] = {
	{ "/workspace", SBX_TARGET_DIR, false },      { "/tmp", SBX_TARGET_DIR, false },
	{ "/dev", SBX_TARGET_DIR, false },            { "/proc", SBX_TARGET_DIR, false },
	{ "/sys", SBX_TARGET_DIR, false },            { "/etc/hosts", SBX_TARGET_FILE, true },
	{ "/etc/hostname", SBX_TARGET_FILE, true },   { "/etc/resolv.conf", SBX_TARGET_FILE, true },
};

#define MAX_POINTS (SBX_ARRAY_SIZE(fixed_points) + SBX_MAX_MOUNTS + 1)

static bool is_under(const char *path, const char *dir, bool at_or_under)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || (at_or_under && path[n] == '\0'));
}

enum sbx_point_home sbx_point_home(const struct sbx_run_options *o, size_t upto, const char *path,
				   bool at_or_under)
{
	enum sbx_point_home home = SBX_HOME_TREE;

	/* The mount made last over a path is the one that holds it. */
	if (is_under(path, "/workspace", at_or_under))
		home = o->workspace != NULL ? SBX_HOME_HOST : SBX_HOME_SBX_TMPFS;
	if (is_under(path, "/tmp", at_or_under))
		home = SBX_HOME_SBX_TMPFS;
	for (size_t i = 0; i < upto && i < o->n_mounts; i++)
		if (is_under(path, o->mounts[i].dst, at_or_under))
			home = o->mounts[i].kind == SBX_MOUNT_TMPFS ? SBX_HOME_SBX_TMPFS : SBX_HOME_HOST;
	return home;
}

static bool workdir_is_cwd(const struct sbx_run_options *o)
{
	return o->workspace == NULL && o->workdir != NULL && strcmp(o->workdir, "/") != 0;
}

/* Every point sbx will mount on (or enter) that lies in the tree itself;
 * with BINDS_IN_TREE, the bind targets on a tmpfs of sbx's too (runsc's
 * gofer mounts every bind on the tree, there, before gVisor's tmpfs
 * covers it). */
static int list_points(const struct sbx_run_options *o, const struct sbx_sources *src, bool binds_in_tree,
		       struct point *pts, size_t *n, struct sbx_error *err)
{
	*n = 0;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(fixed_points); i++)
		pts[(*n)++] = fixed_points[i];
	if (workdir_is_cwd(o) && sbx_point_home(o, o->n_mounts, o->workdir, true) == SBX_HOME_TREE)
		pts[(*n)++] = (struct point){ o->workdir, SBX_TARGET_DIR, false };
	for (size_t i = 0; i < o->n_mounts; i++) {
		const struct sbx_mount_spec *m = &o->mounts[i];
		enum sbx_target_kind kind = SBX_TARGET_DIR;

		enum sbx_point_home home = sbx_point_home(o, i, m->dst, false);

		if (home != SBX_HOME_TREE &&
		    !(binds_in_tree && home == SBX_HOME_SBX_TMPFS && m->kind != SBX_MOUNT_TMPFS))
			continue;
		if (m->kind != SBX_MOUNT_TMPFS && sbx_tree_kind(src->mounts[i], &kind, err) < 0)
			return -1;
		pts[(*n)++] = (struct point){ m->dst, kind, false };
	}
	return 0;
}

/* Whether the tree lacks P (or has a link where P hides one).  Anything
 * else (a symbolic link, the wrong type, no permission) is left to the
 * mount, which says why. */
static bool point_missing(int root, const struct point *p)
{
	struct sbx_error probe = { 0 };
	cleanup_close int fd = sbx_open_in_root(root, p->path, p->kind, &probe);

	return fd < 0 && (probe.err == ENOENT || (p->hide_link && probe.err == ELOOP));
}

static int open_dir_in_root(int root, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	return (int)syscall(SYS_openat2, root, path[0] ? path : ".", &how, sizeof(how));
}

/* The directory DIR of the tree ROOT as a path from ROOT that has no
 * symbolic link and no "..": what the kernel resolved, checked to lead to
 * that same directory. */
static int real_path_in_tree(int root, int dir, char *out, size_t len, struct sbx_error *err)
{
	char link[64], top[PATH_MAX], at[PATH_MAX];
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_XDEV,
	};
	cleanup_close int again = -1;
	struct stat want, got;
	ssize_t n_top, n_at;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", root);
	n_top = readlink(link, top, sizeof(top) - 1);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dir);
	n_at = readlink(link, at, sizeof(at) - 1);
	if (n_top < 0 || n_at < 0)
		return sbx_fail(err, errno, "finding a directory of the tree");
	top[n_top] = at[n_at] = '\0';
	if (strcmp(top, "/") == 0)
		n_top = 0;
	if (strncmp(at, top, (size_t)n_top) != 0 || (at[n_top] != '/' && at[n_top] != '\0') ||
	    (size_t)(n_at - n_top) >= len)
		return sbx_fail(err, EXDEV, "a directory of the tree is outside it");
	snprintf(out, len, "%s", at[n_top] == '/' ? at + n_top + 1 : "");
	again = (int)syscall(SYS_openat2, root, out[0] ? out : ".", &how, sizeof(how));
	if (again < 0 || fstat(again, &got) < 0 || fstat(dir, &want) < 0 || want.st_dev != got.st_dev ||
	    want.st_ino != got.st_ino)
		return sbx_fail(err, again < 0 ? errno : 0, "the tree's /%s moved while sbx was starting", out);
	return 0;
}

/* The mode and owner of the tree's directory FROM on the layer's directory
 * TO: a directory of the layer hides the tree's own attributes.  An owner
 * the namespace does not map stays the setup user's (that id would name
 * someone else here). */
static void copy_attributes(int from, int to)
{
	struct stat st;

	if (fstat(from, &st) < 0)
		return;
	if (st.st_uid != OVERFLOW_ID && st.st_gid != OVERFLOW_ID)
		(void)!fchown(to, st.st_uid, st.st_gid);
	(void)!fchmod(to, st.st_mode & 07777);
}

/* Step from directory *AT of the layer into NAME, made when missing: with
 * the attributes of the tree's TREE_DIR when it mirrors one (TREE_DIR >= 0),
 * else as a new directory 0755 of the setup user. */
static int layer_step(int *at, const char *name, int tree_dir, struct sbx_error *err)
{
	bool made = mkdirat(*at, name, 0700) == 0;
	int next;

	if (!made && errno != EEXIST)
		return sbx_fail(err, errno, "making %s in the mount point layer", name);
	next = openat(*at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (next < 0)
		return sbx_fail(err, errno, "opening %s in the mount point layer", name);
	if (made && tree_dir >= 0)
		copy_attributes(tree_dir, next);
	else if (made && fchmod(next, 0755) < 0)
		return sbx_fail(err, errno, "making %s in the mount point layer", name);
	close(*at);
	*at = next;
	return 0;
}

/* Walk P in the tree ROOT, resolved as in the sandbox (symbolic links stay
 * inside), down to the deepest directory that exists: *DIR.  *REST points
 * to the components below it, all missing. */
static int deepest_existing(int root, const struct point *p, int *dir, const char **rest,
			    struct sbx_error *err)
{
	char prefix[PATH_MAX];
	const char *c = p->path + 1;

	*dir = open_dir_in_root(root, "");
	if (*dir < 0)
		return sbx_fail(err, errno, "opening the tree");
	for (;;) {
		const char *end = strchrnul(c, '/');
		struct stat st;
		char name[NAME_MAX + 1];
		int next;

		*rest = c;
		if (*end == '\0')
			return 0;
		if ((size_t)(end - p->path) >= sizeof(prefix) || (size_t)(end - c) > NAME_MAX)
			return sbx_fail(err, ENAMETOOLONG, "%s", p->path);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(end - p->path), p->path);
		snprintf(name, sizeof(name), "%.*s", (int)(end - c), c);
		next = open_dir_in_root(root, prefix);
		if (next < 0 && errno != ENOENT)
			return sbx_fail(err, errno, "%s", prefix);
		if (next < 0 && fstatat(*dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return sbx_fail(err, ENOENT, "%s is a symbolic link to nothing: sbx cannot make %s below it",
					prefix, p->path);
		if (next < 0)
			return 0;
		close(*dir);
		*dir = next;
		c = end + 1;
	}
}

/* Make the missing point P in the layer UPPER: the directories that lead to
 * it in the tree mirrored, then what is missing.  The tree is only read,
 * through fds; the layer is written through fds of its own. */
static int make_point(int root, int upper, const struct point *p, struct sbx_error *err)
{
	cleanup_close int tree_dir = -1;
	cleanup_close int tree_at = -1;
	cleanup_close int at = -1;
	char real[PATH_MAX];
	const char *rest = "";

	if (deepest_existing(root, p, &tree_dir, &rest, err) < 0 ||
	    real_path_in_tree(root, tree_dir, real, sizeof(real), err) < 0)
		return sbx_error_wrap(err, "making the mount point %s", p->path);
	tree_at = open_dir_in_root(root, "");
	at = fcntl(upper, F_DUPFD_CLOEXEC, 0);
	if (tree_at < 0 || at < 0)
		return sbx_fail(err, errno, "making the mount point %s", p->path);
	for (char *c = real, *save = NULL; (c = strtok_r(c, "/", &save)) != NULL; c = NULL) {
		int next = openat(tree_at, c, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (next < 0)
			return sbx_fail(err, errno, "making the mount point %s: /%s", p->path, real);
		close(tree_at);
		tree_at = next;
		if (layer_step(&at, c, tree_at, err) < 0)
			return sbx_error_wrap(err, "making the mount point %s", p->path);
	}
	for (const char *c = rest; *c != '\0';) {
		const char *end = strchrnul(c, '/');
		char name[NAME_MAX + 1];

		snprintf(name, sizeof(name), "%.*s", (int)(end - c), c);
		if (*end == '\0' && p->kind == SBX_TARGET_FILE) {
			cleanup_close int fd = openat(at, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
						      0644);

			if ((fd < 0 && errno != EEXIST) || (fd >= 0 && fchmod(fd, 0644) < 0))
				return sbx_fail(err, errno, "making the mount point %s", p->path);
			return 0;
		}
		if (layer_step(&at, name, -1, err) < 0)
			return sbx_error_wrap(err, "making the mount point %s", p->path);
		c = *end ? end + 1 : end;
	}
	return 0;
}

/* A new tmpfs below STAGING with the directory "upper" (and with a writable
 * root "work", which overlayfs needs): the upper's fd in *UPPER, the
 * work's in *WORK. */
static int make_layer(int staging, int root, const struct sbx_run_options *o, bool writable, int *upper,
		      int *work, struct sbx_error *err)
{
	struct sbx_tmpfs t = SBX_TMPFS(SBX_POINTS_TMPFS_SIZE, 0700);
	cleanup_close int tree = -1;
	cleanup_close int target = -1;
	cleanup_close int layer = -1;

	if (writable)
		t.size = o->writable_root_size ? o->writable_root_size : o->tmp_size;
	else
		t.nr_inodes = SBX_POINTS_TMPFS_INODES;
	tree = sbx_new_tmpfs(t, SBX_MNT_NOSUID | SBX_MNT_NODEV, err);
	if (tree < 0)
		return sbx_error_wrap(err, "the overlay's tmpfs");
	if (mkdirat(staging, "layer", 0700) < 0)
		return sbx_fail(err, errno, "staging: making the overlay's tmpfs mount point");
	target = openat(staging, "layer", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (target < 0 || sbx_attach(tree, target, err) < 0)
		return target < 0 ? sbx_fail(err, errno, "staging: the overlay's tmpfs")
				  : sbx_error_wrap(err, "staging: the overlay's tmpfs");
	layer = openat(staging, "layer", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (layer < 0 || mkdirat(layer, "upper", 0700) < 0 || (writable && mkdirat(layer, "work", 0700) < 0))
		return sbx_fail(err, errno, "staging: the overlay's directories");
	*upper = openat(layer, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	*work = writable ? openat(layer, "work", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
	if (*upper < 0 || (writable && *work < 0))
		return sbx_fail(err, errno, "staging: the overlay's directories");
	/* The merged / takes the upper's attributes: the tree's own. */
	copy_attributes(root, *upper);
	return 0;
}

static int set_string(int fs, const char *key, const char *value, struct sbx_error *err)
{
	if (fsconfig(fs, FSCONFIG_SET_STRING, key, value, 0) < 0)
		return sbx_fail(err, errno, "overlay option %s=%s", key, value);
	return 0;
}

/* The overlay: without WORK, UPPER is one more read-only lower over the
 * tree ROOT (no upper layer at all, the super block and the mount
 * read-only: nothing can write); with WORK, UPPER is a writable upper.
 * Overlayfs never writes a lower layer; index, xino and metacopy off and
 * redirects never followed keep it from storing or reading anything of its
 * own in the tree. */
static int new_overlay(int root, int upper, int work, struct sbx_error *err)
{
	static const char *const flags[][2] = {
		{ "index", "off" }, { "xino", "off" }, { "metacopy", "off" }, { "redirect_dir", "nofollow" },
	};
	char lower[64], up[32], wk[32], why[256];
	cleanup_close int fs = fsopen("overlay", FSOPEN_CLOEXEC);
	int mnt;

	if (fs < 0)
		return sbx_fail(err, errno, "overlayfs");
	if (work >= 0)
		snprintf(lower, sizeof(lower), "/proc/self/fd/%d", root);
	else
		snprintf(lower, sizeof(lower), "/proc/self/fd/%d:/proc/self/fd/%d", upper, root);
	snprintf(up, sizeof(up), "/proc/self/fd/%d", upper);
	snprintf(wk, sizeof(wk), "/proc/self/fd/%d", work);
	if (set_string(fs, "lowerdir", lower, err) < 0 ||
	    (work >= 0 && (set_string(fs, "upperdir", up, err) < 0 || set_string(fs, "workdir", wk, err) < 0)))
		return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(flags); i++)
		if (set_string(fs, flags[i][0], flags[i][1], err) < 0)
			return -1;
	/* Its own extended attributes (opaque directories), in the user.*
	 * namespace that a user namespace may write. */
	if (fsconfig(fs, FSCONFIG_SET_FLAG, "userxattr", NULL, 0) < 0)
		return sbx_fail(err, errno, "overlay option userxattr");
	if (work < 0 && fsconfig(fs, FSCONFIG_SET_FLAG, "ro", NULL, 0) < 0)
		return sbx_fail(err, errno, "overlay option ro");
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		int saved = errno;

		sbx_fs_context_error(fs, why, sizeof(why));
		return why[0] ? sbx_fail(err, saved, "overlayfs refused (kernel: %s)", why + 2)
			      : sbx_fail(err, saved, "overlayfs refused");
	}
	mnt = fsmount(fs, FSMOUNT_CLOEXEC, (work < 0 ? MOUNT_ATTR_RDONLY : 0) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
	if (mnt < 0)
		return sbx_fail(err, errno, "mounting the overlay");
	return mnt;
}

/* What to say when the kernel will not make the overlay. */
static int overlay_refused(const struct sbx_run_options *o, const char *missing, struct sbx_error *err)
{
	if (o->writable_root) {
		sbx_error_wrap(err, "--writable-root");
		return sbx_error_hint(err, "--writable-root needs overlayfs in user namespaces (Linux 5.11+); "
					   "run without it, writing under /workspace, /tmp or a --tmpfs");
	}
	if (o->image_name != NULL) {
		sbx_error_wrap(err, "the image %s lacks %s, which sbx makes on an overlay without writing the image",
			       o->image_name, missing);
		return sbx_error_hint(err, "use a kernel with overlayfs in user namespaces (Linux 5.11+), or an "
					   "image that has %s (a layer of its own can add it)", missing);
	}
	sbx_error_wrap(err, "the rootfs %s lacks %s, which sbx makes on an overlay without writing the rootfs",
		       o->rootfs, missing);
	return sbx_error_hint(err, "use a kernel with overlayfs in user namespaces (Linux 5.11+), or add it: "
				   "mkdir -p %s%s (touch, for a file)", o->rootfs, missing);
}

static int complete_root(int staging, int *root, const struct sbx_run_options *o, const struct sbx_sources *src,
			 bool binds_in_tree, unsigned int *flags, struct sbx_error *err)
{
	/* Writable only when asked for; all that follows obeys this. */
	bool writable = o->writable_root;
	struct point pts[MAX_POINTS];
	size_t n, n_missing = 0;
	const char *first_missing = NULL;
	bool missing[MAX_POINTS];
	cleanup_close int upper = -1;
	cleanup_close int work = -1;
	cleanup_close int overlay = -1;
	int merged;

	*flags = 0;
	if (list_points(o, src, binds_in_tree, pts, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		missing[i] = point_missing(*root, &pts[i]);
		if (missing[i] && n_missing++ == 0)
			first_missing = pts[i].path;
	}
	if (n_missing == 0 && !writable)
		return 0;
	sbx_verbose(o->verbose, "%s%s%s: an overlay over the tree", writable ? "--writable-root" : "",
		    n_missing && writable ? ", " : "", n_missing ? "missing mount points" : "");
	if (make_layer(staging, *root, o, writable, &upper, &work, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!missing[i])
			continue;
		sbx_verbose(o->verbose, "making the mount point %s", pts[i].path);
		if (make_point(*root, upper, &pts[i], err) < 0)
			return -1;
	}
	overlay = new_overlay(*root, upper, work, err);
	if (overlay < 0)
		return overlay_refused(o, first_missing ? first_missing : "nothing", err);
	merged = sbx_attach_in_staging(staging, overlay, "merged", err);
	if (merged < 0)
		return sbx_error_wrap(err, "mounting the overlay");
	close(*root);
	*root = merged;
	*flags = (n_missing ? SBX_ROOT_POINTS_MADE : 0) | (writable ? SBX_ROOT_WRITABLE : 0);
	return 0;
}

int sbx_complete_root(int staging, int *root, const struct sbx_run_options *o, const struct sbx_sources *src,
		      unsigned int *flags, struct sbx_error *err)
{
	return complete_root(staging, root, o, src, false, flags, err);
}

int sbx_complete_root_for_gofer(int staging, int *root, const struct sbx_run_options *o,
				const struct sbx_sources *src, unsigned int *flags, struct sbx_error *err)
{
	return complete_root(staging, root, o, src, true, flags, err);
}

int sbx_make_workdir_on_tmpfs(int root, const struct sbx_run_options *o, struct sbx_error *err)
{
	cleanup_close int dir = -1;

	if (!workdir_is_cwd(o) || sbx_point_home(o, o->n_mounts, o->workdir, true) != SBX_HOME_SBX_TMPFS)
		return 0;
	dir = sbx_open_dir_in_root(root, o->workdir, true, err);
	if (dir < 0)
		return sbx_error_wrap(err, "making the image's WorkingDir");
	return 0;
}

/* The host directory (-w or an earlier --bind/--ro-bind) that holds the
 * target PATH of extra mount UPTO: its tree in *TREE, PATH below it in
 * *REST. */
static void host_holder(const struct sbx_run_options *o, const struct sbx_sources *src, size_t upto,
			const char *path, int *tree, const char **rest)
{
	size_t len = strlen("/workspace");

	*tree = src->workspace;
	for (size_t i = 0; i < upto && i < o->n_mounts; i++)
		if (o->mounts[i].kind != SBX_MOUNT_TMPFS && is_under(path, o->mounts[i].dst, false)) {
			*tree = src->mounts[i];
			len = strlen(o->mounts[i].dst);
		}
	*rest = path + len;
}

/* A target of the tree: a real directory, never a symbolic link, as the
 * native setup opens it to mount on it. */
static int check_tree_target(int root, const char *path, enum sbx_target_kind kind, bool may_lack,
			     const char *what, struct sbx_error *err)
{
	cleanup_close int fd = sbx_open_in_root(root, path, kind, err);

	if (fd >= 0 || (may_lack && err->err == ENOENT))
		return 0;
	return sbx_error_wrap(err, "mounting %s", what);
}

int sbx_check_mount_targets(int root, const struct sbx_run_options *o, const struct sbx_sources *src,
			    struct sbx_error *err)
{
	static const char *const fixed[] = { "/tmp", "/dev", "/proc", "/sys" };

	if (check_tree_target(root, "/workspace", SBX_TARGET_DIR, o->workspace == NULL,
			      o->workspace != NULL ? "the workspace" : "scratch /workspace", err) < 0)
		return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(fixed); i++)
		if (check_tree_target(root, fixed[i], SBX_TARGET_DIR, false, fixed[i], err) < 0)
			return -1;
	for (size_t i = 0; i < o->n_mounts; i++) {
		const struct sbx_mount_spec *m = &o->mounts[i];
		enum sbx_point_home home = sbx_point_home(o, i, m->dst, false);
		enum sbx_target_kind kind = SBX_TARGET_DIR;
		cleanup_close int fd = -1;
		const char *rest = m->dst;
		int tree = root;

		/* A tmpfs of sbx's own is gVisor's too: it makes what is missing there. */
		if (home == SBX_HOME_SBX_TMPFS)
			continue;
		if (m->kind != SBX_MOUNT_TMPFS && sbx_tree_kind(src->mounts[i], &kind, err) < 0)
			return -1;
		if (home == SBX_HOME_HOST)
			host_holder(o, src, i, m->dst, &tree, &rest);
		fd = sbx_open_in_root(tree, rest, kind, err);
		if (fd < 0)
			return sbx_extra_target_error(m, err);
	}
	return 0;
}
