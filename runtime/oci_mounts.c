#include "oci_mounts.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>

#include "fstree.h"
#include "layout.h"
#include "mounts.h"
#include "options.h"
#include "procfs.h"
#include "util.h"

/* The devices every container has (runtime-spec, "Default Devices"). */
static const char *const default_devices[] = {
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty",
};

/* ---- flags ---- */

/* MS_* as mount_setattr(2)'s attributes.  The atime modes are one field:
 * setting one clears the others. */
static void to_setattr(unsigned long set, unsigned long clear, struct mount_attr *a)
{
	static const struct {
		unsigned long ms;
		uint64_t attr;
	} map[] = {
		{ MS_RDONLY, MOUNT_ATTR_RDONLY },
		{ MS_NOSUID, MOUNT_ATTR_NOSUID },
		{ MS_NODEV, MOUNT_ATTR_NODEV },
		{ MS_NOEXEC, MOUNT_ATTR_NOEXEC },
		{ MS_NODIRATIME, MOUNT_ATTR_NODIRATIME },
	};

	for (size_t i = 0; i < SBX_ARRAY_SIZE(map); i++) {
		if (set & map[i].ms)
			a->attr_set |= map[i].attr;
		else if (clear & map[i].ms)
			a->attr_clr |= map[i].attr;
	}
	if (set & (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)) {
		a->attr_clr |= MOUNT_ATTR__ATIME;
		a->attr_set |= (set & MS_NOATIME) ? MOUNT_ATTR_NOATIME :
			       (set & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
	}
}

static int set_attrs(int tree, unsigned long set, unsigned long clear, bool recursive, struct sbx_error *err)
{
	struct mount_attr a = { 0 };

	to_setattr(set, clear, &a);
	if (a.attr_set == 0 && a.attr_clr == 0)
		return 0;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a, sizeof(a)) < 0)
		return sbx_fail(err, errno, "setting the mount's flags");
	return 0;
}

static int set_propagation(int tree, unsigned long prop, struct sbx_error *err)
{
	struct mount_attr a = { .propagation = prop & (MS_PRIVATE | MS_SLAVE | MS_SHARED | MS_UNBINDABLE) };

	if (a.propagation == 0)
		return 0;
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | ((prop & MS_REC) ? AT_RECURSIVE : 0), &a,
		    sizeof(a)) < 0)
		return sbx_fail(err, errno, "setting the mount's propagation");
	return 0;
}

/* ---- device rules ---- */

static bool rule_matches(const struct sbx_oci_device_rule *r, char type, unsigned int major, unsigned int minor)
{
	return (r->type == 'a' || r->type == type) && (r->major < 0 || r->major == (int64_t)major) &&
	       (r->minor < 0 || r->minor == (int64_t)minor);
}

/* What the rules let the container do with the device, as "r", "w" bits:
 * the last matching rule decides each letter, as the device cgroup does.
 * Without rules the spec set no policy: everything listed is allowed. */
static unsigned int device_access(const struct sbx_oci_config *cfg, char type, unsigned int major,
				  unsigned int minor)
{
	unsigned int allowed = cfg->n_device_rules == 0 ? 3u : 0u;

	for (size_t i = 0; i < cfg->n_device_rules; i++) {
		const struct sbx_oci_device_rule *r = &cfg->device_rules[i];
		unsigned int bits = 0;
		const char *a = r->access ? r->access : "rwm";

		if (!rule_matches(r, type, major, minor))
			continue;
		if (strchr(a, 'r'))
			bits |= 1u;
		if (strchr(a, 'w'))
			bits |= 2u;
		allowed = r->allow ? (allowed | bits) : (allowed & ~bits);
	}
	return allowed;
}

static char node_type(mode_t mode)
{
	return S_ISCHR(mode) ? 'c' : S_ISBLK(mode) ? 'b' : '\0';
}

/* ---- helpers on paths inside the root ---- */

/* PATH inside ROOTFD as an O_PATH fd, the last component not followed. */
static int open_path_in_root(int rootfd, const char *path, struct sbx_error *err)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	if (fd < 0)
		return sbx_fail(err, errno, "opening %s in the container's root", path);
	return fd;
}

static int clone_host_node(const char *path, struct stat *st, struct sbx_error *err)
{
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path,
				OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_SYMLINK_NOFOLLOW);

	if (tree < 0)
		return sbx_fail(err, errno, "binding the host's %s", path);
	if (fstat(tree, st) < 0) {
		close(tree);
		return sbx_fail(err, errno, "stat of the host's %s", path);
	}
	return tree;
}

/* ---- 1. the root ---- */

int sbx_oci_mount_root(const struct sbx_oci_config *cfg, int bundle_fd, int given, int *rootfd,
		       struct sbx_error *err)
{
	cleanup_close int dir = -1;
	int tree;

	/* Before anything is mounted: nothing made here may reach the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
		return sbx_fail(err, errno, "making the host's mounts slaves in the container's mount namespace");
	dir = openat(bundle_fd, cfg->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return sbx_fail(err, errno, "root.path %s", cfg->root_path);
	tree = given >= 0 ? given
			  : (int)syscall(SYS_open_tree, dir, "",
					 AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return sbx_fail(err, errno, "binding root.path %s", cfg->root_path);
	/* Device nodes are only the ones sbx binds (see oci_mounts.h). */
	if (set_attrs(tree, MS_NODEV, 0, true, err) < 0 || sbx_attach(tree, dir, err) < 0) {
		close(tree);
		return sbx_error_wrap(err, "root.path %s", cfg->root_path);
	}
	*rootfd = tree;
	return 0;
}

/* ---- 2. mounts[] ---- */

static int open_bind_source(const struct sbx_oci_mount *m, int bundle_fd, struct sbx_error *err)
{
	unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | ((m->flags & MS_REC) ? AT_RECURSIVE : 0);
	int tree;

	if (m->source == NULL || m->source[0] == '\0')
		return sbx_fail(err, EINVAL, "a bind mount needs a source");
	tree = (int)syscall(SYS_open_tree, m->source[0] == '/' ? AT_FDCWD : bundle_fd, m->source, flags);
	if (tree < 0)
		return sbx_fail(err, errno, "source %s", m->source);
	return tree;
}

static int add_fs_options(int fs, const char *data, struct sbx_error *err)
{
	cleanup_free char *copy = data ? strdup(data) : NULL;
	char *save = NULL;

	if (data != NULL && copy == NULL)
		return sbx_fail(err, ENOMEM, "copying mount options");
	for (char *opt = copy ? strtok_r(copy, ",", &save) : NULL; opt; opt = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(opt, '=');
		int r;

		if (eq != NULL) {
			*eq = '\0';
			r = fsconfig(fs, FSCONFIG_SET_STRING, opt, eq + 1, 0);
		} else {
			r = fsconfig(fs, FSCONFIG_SET_FLAG, opt, NULL, 0);
		}
		if (r < 0) {
			char why[256];
			int e = errno;

			sbx_fs_context_error(fs, why, sizeof(why));
			return sbx_fail(err, e, "option %s%s%s%s%s", opt, eq ? "=" : "", eq ? eq + 1 : "",
					why[0] ? ": " : "", why);
		}
	}
	return 0;
}

/* "cgroup" means the unified hierarchy: sbx never shows (or touches) v1. */
static const char *fs_type(const char *type)
{
	return strcmp(type, "cgroup") == 0 ? "cgroup2" : type;
}

static int new_fs(const struct sbx_oci_mount *m, struct sbx_error *err)
{
	cleanup_close int fs = fsopen(fs_type(m->type), FSOPEN_CLOEXEC);
	struct mount_attr a = { 0 };
	int tree;

	if (fs < 0)
		return sbx_fail(err, errno, "creating a %s file system", m->type);
	if (add_fs_options(fs, m->data, err) < 0)
		return -1;
	if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) {
		char why[256];
		int e = errno;

		sbx_fs_context_error(fs, why, sizeof(why));
		return sbx_fail(err, e, "creating a %s file system%s%s", m->type, why[0] ? ": " : "", why);
	}
	to_setattr(m->flags | (strcmp(m->type, "devpts") == 0 ? 0 : MS_NODEV), m->clear, &a);
	tree = fsmount(fs, FSMOUNT_CLOEXEC, (unsigned int)a.attr_set);
	if (tree < 0)
		return sbx_fail(err, errno, "mounting a %s file system", m->type);
	return tree;
}

/* A bind of a device node keeps its devices only when the rules allow
 * reading and writing it; anything else is nodev like every mount. */
static unsigned long bind_nodev(const struct sbx_oci_config *cfg, int tree)
{
	struct stat st;

	if (fstat(tree, &st) == 0 && node_type(st.st_mode) &&
	    device_access(cfg, node_type(st.st_mode), major(st.st_rdev), minor(st.st_rdev)) == 3u)
		return 0;
	return MS_NODEV;
}

/* In a user namespace that does not own the network (cgroup, pid)
 * namespace the kernel refuses a new sysfs (cgroup2, proc): runc binds the
 * host's instead,
 * and so does sbx, with the flags asked for and nodev.  For cgroup that
 * is the unified hierarchy only. */
static const char *fallback_source(const char *type)
{
	if (strcmp(type, "sysfs") == 0)
		return "/sys";
	/* Without a pid namespace of its own the container shares sbx's
	 * processes by the spec's choice; a user namespace may not make a
	 * proc for them, but it may bind the one that shows them. */
	if (strcmp(type, "proc") == 0)
		return "/proc";
	if (strcmp(type, "cgroup") == 0 || strcmp(type, "cgroup2") == 0) {
		struct statfs sf;

		return statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC
			       ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup";
	}
	return NULL;
}

static int bind_instead(const struct sbx_oci_mount *m, struct sbx_error *err)
{
	const char *src = fallback_source(m->type);
	int tree = (int)syscall(SYS_open_tree, AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);

	if (tree < 0)
		return sbx_fail(err, errno, "binding the host's %s instead of a new %s", src, m->type);
	if (set_attrs(tree, m->flags | MS_NODEV, m->clear, true, err) < 0) {
		close(tree);
		return -1;
	}
	return tree;
}

/* tmpcopyup: the new tmpfs TREE starts with what the image has at
 * DESTINATION (nothing when it has nothing there). */
static int copy_up(int rootfd, const char *destination, int tree, struct sbx_error *err)
{
	cleanup_close int src = sbx_open_dir_in_root(rootfd, destination, false, err);
	cleanup_close int dst = -1;

	if (src < 0)
		return err->err == ENOENT ? 0 : -1;
	dst = openat(tree, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dst < 0)
		return sbx_fail(err, errno, "opening the new tmpfs");
	if (sbx_tree_copy(src, dst, err) < 0)
		return sbx_error_wrap(err, "tmpcopyup of %s", destination);
	return 0;
}

/* DEST with every symbolic link at its end followed as if ROOTFD were /
 * (runc's securejoin does the same: an image's /etc/resolv.conf is often
 * a link), into OUT: a path inside the root that is not a link.  Links on
 * the way are the kernel's business (RESOLVE_IN_ROOT). */
static int follow_destination(int rootfd, const char *dest, char *out, size_t len, struct sbx_error *err)
{
	char path[PATH_MAX], link[PATH_MAX], next[2 * PATH_MAX];

	snprintf(path, sizeof(path), "%s", dest);
	for (int hops = 0; hops < 40; hops++) {
		struct open_how how = {
			.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
			.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
		};
		cleanup_close int fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
		struct stat st;
		ssize_t n;
		char *slash;

		if (fd < 0 || fstat(fd, &st) < 0 || !S_ISLNK(st.st_mode)) {
			if (fd < 0 && errno != ENOENT)
				return sbx_fail(err, errno, "%s in the container's root", path);
			return sbx_clean_sandbox_path(path, out, len) < 0 ? sbx_fail(err, ENAMETOOLONG, "%s", dest) : 0;
		}
		n = readlinkat(fd, "", link, sizeof(link) - 1);
		if (n < 0)
			return sbx_fail(err, errno, "reading the link %s", path);
		link[n] = '\0';
		slash = strrchr(path, '/');
		if (link[0] == '/' || slash == NULL)
			snprintf(next, sizeof(next), "%s", link);
		else
			snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - path), path, link);
		if (sbx_clean_sandbox_path(next, path, sizeof(path)) < 0)
			return sbx_fail(err, ENAMETOOLONG, "%s", dest);
	}
	return sbx_fail(err, ELOOP, "%s: too many symbolic links", dest);
}

static int mount_one(const struct sbx_oci_config *cfg, const struct sbx_oci_mount *m, int bundle_fd,
		     int rootfd, struct sbx_error *err)
{
	cleanup_close int tree = -1;
	enum sbx_target_kind kind = SBX_TARGET_DIR;
	char target[PATH_MAX];

	if (m->bind) {
		tree = open_bind_source(m, bundle_fd, err);
		if (tree < 0 || sbx_tree_kind(tree, &kind, err) < 0 ||
		    set_attrs(tree, m->flags | bind_nodev(cfg, tree), m->clear, (m->flags & MS_REC) != 0, err) < 0)
			return -1;
	} else {
		tree = new_fs(m, err);
		if (tree < 0 && err->err == EPERM && fallback_source(m->type) != NULL)
			tree = bind_instead(m, err);
		if (tree < 0 || (m->tmpcopyup && copy_up(rootfd, m->destination, tree, err) < 0))
			return -1;
	}
	if (follow_destination(rootfd, m->destination, target, sizeof(target), err) < 0 ||
	    sbx_attach_in_root(tree, rootfd, target, kind, true, err) < 0)
		return -1;
	return set_propagation(tree, m->propagation, err);
}

/* ---- 3. devices ---- */

/* DEFAULT: one of the devices every container has, whatever the rules
 * say (runc allows them the same way). */
static int bind_device(const struct sbx_oci_config *cfg, int rootfd, const char *path, char want_type,
		       int64_t want_major, int64_t want_minor, bool is_default, struct sbx_error *err)
{
	struct stat st;
	cleanup_close int tree = clone_host_node(path, &st, err);
	unsigned int access;
	char type;

	if (tree < 0)
		return sbx_error_hint(err, "sbx binds device nodes from the host's same path");
	type = node_type(st.st_mode);
	if (type == '\0' || (want_type && want_type != type && !(want_type == 'u' && type == 'c')) ||
	    (want_major >= 0 && (int64_t)major(st.st_rdev) != want_major) ||
	    (want_minor >= 0 && (int64_t)minor(st.st_rdev) != want_minor))
		return sbx_fail(err, 0, "the host's %s is not the device asked for (%c %lld:%lld): sbx binds "
				"device nodes from the host's same path and cannot make one", path,
				want_type ? want_type : '?', (long long)want_major, (long long)want_minor);
	access = is_default ? 3u : device_access(cfg, type, major(st.st_rdev), minor(st.st_rdev));
	if (access == 0)
		return 0; /* denied: absent is stricter than unopenable */
	if (access != 3u)
		return sbx_fail(err, 0, "linux.resources.devices allows only %s of %s (%c %u:%u): without a device "
				"cgroup sbx can give a device whole or not at all", access == 1u ? "reading" : "writing",
				path, type, major(st.st_rdev), minor(st.st_rdev));
	if (set_attrs(tree, MS_NOSUID | MS_NOEXEC, MS_NODEV, false, err) < 0 ||
	    sbx_attach_in_root(tree, rootfd, path, SBX_TARGET_FILE, true, err) < 0)
		return -1;
	return 0;
}

static const struct sbx_oci_mount *mount_at(const struct sbx_oci_config *cfg, const char *destination)
{
	for (size_t i = cfg->n_mounts; i-- > 0;)
		if (strcmp(cfg->mounts[i].destination, destination) == 0)
			return &cfg->mounts[i];
	return NULL;
}

static int dev_links(int rootfd, bool with_ptmx, struct sbx_error *err)
{
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" }, { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },
	};
	cleanup_close int dev = sbx_open_dir_in_root(rootfd, "/dev", false, err);

	if (dev < 0)
		return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(links); i++) {
		if (strcmp(links[i][0], "ptmx") == 0 && !with_ptmx)
			continue;
		if (symlinkat(links[i][1], dev, links[i][0]) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "linking /dev/%s", links[i][0]);
	}
	return 0;
}

static int mount_devices(const struct sbx_oci_config *cfg, int rootfd, struct sbx_error *err)
{
	const struct sbx_oci_mount *dev = mount_at(cfg, "/dev");
	bool listed;

	for (size_t i = 0; i < SBX_ARRAY_SIZE(default_devices); i++) {
		listed = false;
		for (size_t j = 0; j < cfg->n_devices; j++)
			listed |= strcmp(cfg->devices[j].path, default_devices[i]) == 0;
		if (!listed && bind_device(cfg, rootfd, default_devices[i], 'c', -1, -1, true, err) < 0)
			return sbx_error_wrap(err, "default device %s", default_devices[i]);
	}
	for (size_t j = 0; j < cfg->n_devices; j++) {
		const struct sbx_oci_device *d = &cfg->devices[j];

		if (bind_device(cfg, rootfd, d->path, d->type, d->major, d->minor, false, err) < 0)
			return sbx_error_wrap(err, "linux.devices[%zu] %s", j, d->path);
	}
	/* The links belong to a /dev the spec made; an image's own /dev is
	 * the image's business. */
	if (dev != NULL && !dev->bind)
		return dev_links(rootfd, mount_at(cfg, "/dev/pts") != NULL, err);
	return 0;
}

/* ---- 4. masks ---- */

static int mask_path(int rootfd, int null_fd, const char *path, struct sbx_error *err)
{
	cleanup_close int target = open_path_in_root(rootfd, path, err);
	cleanup_close int tree = -1;
	struct stat st;

	if (target < 0)
		return err->err == ENOENT ? 0 : -1;
	if (fstat(target, &st) < 0)
		return sbx_fail(err, errno, "stat of %s", path);
	if (S_ISDIR(st.st_mode))
		tree = sbx_new_empty_ro_tmpfs(err);
	else
		tree = sbx_clone_tree_fd(null_fd, err);
	if (tree < 0 || (!S_ISDIR(st.st_mode) && set_attrs(tree, MS_RDONLY | MS_NOSUID | MS_NOEXEC, 0, false, err) < 0) ||
	    sbx_attach(tree, target, err) < 0)
		return -1;
	return 0;
}

static int readonly_path(int rootfd, const char *path, struct sbx_error *err)
{
	cleanup_close int target = open_path_in_root(rootfd, path, err);
	cleanup_close int tree = -1;

	if (target < 0)
		return err->err == ENOENT ? 0 : -1;
	tree = (int)syscall(SYS_open_tree, target, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return sbx_fail(err, errno, "binding %s", path);
	if (set_attrs(tree, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, 0, true, err) < 0 ||
	    sbx_attach(tree, target, err) < 0)
		return -1;
	return 0;
}

static int mask_all(const struct sbx_oci_config *cfg, int rootfd, struct sbx_error *err)
{
	/* The masks clone the /dev/null sbx bound in the root (mount_devices
	 * always does): a mount that is attached, as kernels before 6.x want
	 * of a clone's source, and never the image's own. */
	cleanup_close int null_fd = sbx_open_in_root(rootfd, "/dev/null", SBX_TARGET_FILE, err);
	cleanup_close int proc = -1;

	if (null_fd < 0)
		return sbx_error_wrap(err, "the container's /dev/null");
	for (size_t i = 0; i < cfg->n_masked_paths; i++)
		if (mask_path(rootfd, null_fd, cfg->masked_paths[i], err) < 0)
			return sbx_error_wrap(err, "linux.maskedPaths %s", cfg->masked_paths[i]);
	for (size_t i = 0; i < cfg->n_readonly_paths; i++)
		if (readonly_path(rootfd, cfg->readonly_paths[i], err) < 0)
			return sbx_error_wrap(err, "linux.readonlyPaths %s", cfg->readonly_paths[i]);
	/* sbx's own masks, on top of the spec's: they take nothing the spec
	 * gives (kernel memory, keys, sysrq-trigger...). */
	if (mount_at(cfg, "/proc") == NULL)
		return 0;
	proc = sbx_open_in_root(rootfd, "/proc", SBX_TARGET_DIR, err);
	if (proc < 0 || sbx_proc_harden(proc, null_fd, err) < 0)
		return -1;
	return 0;
}

/* ---- 5. sysctl ---- */

static bool sysctl_namespaced(const struct sbx_oci_config *cfg, const char *key)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
					   "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
					   "kernel.shm_rmid_forced" };

	for (size_t i = 0; i < SBX_ARRAY_SIZE(ipc); i++)
		if (strcmp(key, ipc[i]) == 0)
			return cfg->ns[SBX_OCI_NS_IPC].present;
	if (strncmp(key, "fs.mqueue.", 10) == 0)
		return cfg->ns[SBX_OCI_NS_IPC].present;
	if (strncmp(key, "net.", 4) == 0)
		return cfg->ns[SBX_OCI_NS_NETWORK].present;
	if (strcmp(key, "kernel.hostname") == 0 || strcmp(key, "kernel.domainname") == 0)
		return cfg->ns[SBX_OCI_NS_UTS].present;
	return false;
}

static int write_sysctl(int rootfd, const char *key, const char *value, struct sbx_error *err)
{
	char path[512];
	struct open_how how = {
		.flags = O_WRONLY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	cleanup_close int fd = -1;
	int n = snprintf(path, sizeof(path), "proc/sys/%s", key);

	if (n < 0 || (size_t)n >= sizeof(path))
		return sbx_fail(err, ENAMETOOLONG, "linux.sysctl %s", key);
	for (char *p = path + 9; *p; p++)
		if (*p == '.')
			*p = '/';
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0 || sbx_write_all(fd, value, strlen(value)) < 0)
		return sbx_fail(err, errno, "linux.sysctl %s=%s", key, value);
	return 0;
}

static int write_sysctls(const struct sbx_oci_config *cfg, int rootfd, struct sbx_error *err)
{
	for (size_t i = 0; i < cfg->n_sysctl; i++)
		if (write_sysctl(rootfd, cfg->sysctl_keys[i], cfg->sysctl_values[i], err) < 0)
			return -1;
	return 0;
}

int sbx_oci_mount_all(const struct sbx_oci_config *cfg, int bundle_fd, int rootfd, struct sbx_error *err)
{
	for (size_t i = 0; i < cfg->n_mounts; i++)
		if (mount_one(cfg, &cfg->mounts[i], bundle_fd, rootfd, err) < 0)
			return sbx_error_wrap(err, "mounts[%zu] (%s on %s)", i,
					      cfg->mounts[i].type ? cfg->mounts[i].type : "bind",
					      cfg->mounts[i].destination);
	/* sysctls before the masks: sbx's make /proc/sys read-only. */
	if (mount_devices(cfg, rootfd, err) < 0 || write_sysctls(cfg, rootfd, err) < 0 ||
	    mask_all(cfg, rootfd, err) < 0)
		return -1;
	return 0;
}

/* ---- 6. pivot_root ---- */

static int parse_propagation(const char *s, unsigned long *out)
{
	static const struct {
		const char *name;
		unsigned long flags;
	} map[] = {
		{ "private", MS_PRIVATE }, { "rprivate", MS_PRIVATE | MS_REC },
		{ "slave", MS_SLAVE }, { "rslave", MS_SLAVE | MS_REC },
		{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
	};

	for (size_t i = 0; i < SBX_ARRAY_SIZE(map); i++)
		if (strcmp(s, map[i].name) == 0) {
			*out = map[i].flags;
			return 0;
		}
	return -1;
}

int sbx_oci_pivot_root(const struct sbx_oci_config *cfg, int rootfd, struct sbx_error *err)
{
	unsigned long prop = 0;
	cleanup_close int root = -1;

	if (sbx_pivot_root(rootfd, err) < 0)
		return sbx_error_wrap(err, "the container's root");
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return sbx_fail(err, errno, "opening the new root");
	if (cfg->root_readonly && set_attrs(root, MS_RDONLY, 0, false, err) < 0)
		return sbx_error_wrap(err, "root.readonly");
	if (cfg->rootfs_propagation != NULL && parse_propagation(cfg->rootfs_propagation, &prop) == 0)
		return set_propagation(root, prop, err) < 0 ? sbx_error_wrap(err, "linux.rootfsPropagation") : 0;
	return 0;
}

int sbx_oci_mounts_check(const struct sbx_oci_config *cfg, struct sbx_error *err)
{
	unsigned long prop;

	if (cfg->rootfs_propagation != NULL && cfg->rootfs_propagation[0] != '\0' &&
	    parse_propagation(cfg->rootfs_propagation, &prop) < 0)
		return sbx_fail(err, 0, "linux.rootfsPropagation \"%.32s\": not supported by sbx (private, slave "
				"and unbindable are; a shared root would let the container's mounts reach the host)",
				cfg->rootfs_propagation);
	for (size_t i = 0; i < cfg->n_mounts; i++) {
		const struct sbx_oci_mount *m = &cfg->mounts[i];

		if (m->propagation & MS_SHARED)
			return sbx_fail(err, 0, "mounts[%zu] (%s): shared propagation is not supported by sbx (the "
					"container's mounts would reach the host)", i, m->destination);
		if (!m->bind && (m->type == NULL || m->type[0] == '\0'))
			return sbx_fail(err, 0, "mounts[%zu] (%s): no type, and not a bind", i, m->destination);
	}
	for (size_t i = 0; i < cfg->n_sysctl; i++)
		if (!sysctl_namespaced(cfg, cfg->sysctl_keys[i]) || strchr(cfg->sysctl_keys[i], '/') ||
		    strstr(cfg->sysctl_keys[i], ".."))
			return sbx_fail(err, 0, "linux.sysctl %.128s: not a sysctl of a namespace the container has of "
					"its own; sbx refuses to change the host's", cfg->sysctl_keys[i]);
	return 0;
}

int sbx_oci_idmapped_root(const struct sbx_oci_config *cfg, int bundle_fd, int userns_fd, struct sbx_error *err)
{
	struct mount_attr a = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns_fd };
	cleanup_close int dir = openat(bundle_fd, cfg->root_path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int tree = -1;

	if (dir < 0)
		return sbx_fail(err, errno, "root.path %s", cfg->root_path);
	tree = (int)syscall(SYS_open_tree, dir, "", AT_EMPTY_PATH | OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
	if (tree < 0)
		return sbx_fail(err, errno, "binding root.path %s", cfg->root_path);
	if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof(a)) < 0)
		return sbx_fail(err, errno, "an idmapped mount of root.path %s", cfg->root_path);
	return sbx_steal_fd(&tree);
}
