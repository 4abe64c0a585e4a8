#include "procfs.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "mounts.h"
#include "util.h"

/* Read as empty: kernel memory, keys, timers and scheduler internals that
 * leak host state or help exploits. */
static const char *const masked_files[] = {
	"kcore", "keys", "key-users", "timer_list", "timer_stats", "sched_debug",
	"latency_stats", "kallsyms", "kmsg", "kpagecount", "kpageflags", "kpagecgroup",
	"sysrq-trigger", "interrupts", "config.gz",
};

/* Shown as empty directories. */
static const char *const masked_dirs[] = { "acpi", "asound", "scsi", "driver" };

/* Readable, never writable: host-wide knobs. */
static const char *const readonly_paths[] = { "sys", "irq", "bus", "fs" };

static int mask_file(int proc, int null_tree_src, const char *name, struct sbx_error *err)
{
	cleanup_close int target = sbx_open_in_root(proc, name, SBX_TARGET_FILE, err);
	cleanup_close int tree = -1;

	if (target < 0)
		return err->err == ENOENT ? 0 : -1; /* not in this kernel */
	tree = sbx_clone_tree_fd(null_tree_src, err);
	if (tree < 0 || sbx_set_mount_attrs(tree, SBX_MNT_RO | SBX_MNT_NOSUID | SBX_MNT_NOEXEC, err) < 0 ||
	    sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "masking /proc/%s", name);
	return 0;
}

/* An empty read-only tmpfs over the directory PATH below DIRFD, when it
 * exists: what hides a directory. */
static int cover_dir(int dirfd, const char *path, struct sbx_error *err)
{
	cleanup_close int target = sbx_open_in_root(dirfd, path, SBX_TARGET_DIR, err);
	cleanup_close int tree = -1;

	if (target < 0)
		return err->err == ENOENT ? 0 : -1;
	tree = sbx_new_empty_ro_tmpfs(err);
	if (tree < 0 || sbx_attach(tree, target, err) < 0)
		return -1;
	return 0;
}

static int mask_dir(int proc, const char *name, struct sbx_error *err)
{
	return cover_dir(proc, name, err) < 0 ? sbx_error_wrap(err, "masking /proc/%s", name) : 0;
}

static int make_readonly(int proc, const char *name, struct sbx_error *err)
{
	cleanup_close int target = sbx_open_in_root(proc, name, SBX_TARGET_DIR, err);
	cleanup_close int tree = -1;

	if (target < 0)
		return err->err == ENOENT ? 0 : -1;
	tree = sbx_clone_tree_fd(target, err);
	if (tree < 0 ||
	    sbx_set_mount_attrs(tree, SBX_MNT_RO | SBX_MNT_NOSUID | SBX_MNT_NODEV | SBX_MNT_NOEXEC, err) < 0 ||
	    sbx_attach(tree, target, err) < 0)
		return sbx_error_wrap(err, "making /proc/%s read-only", name);
	return 0;
}

int sbx_mount_proc(int root, struct sbx_error *err)
{
	cleanup_close int tree = sbx_new_fs("proc", NULL, SBX_MNT_NOSUID | SBX_MNT_NODEV | SBX_MNT_NOEXEC, err);
	cleanup_close int proc = -1;
	cleanup_close int null = -1;

	if (tree < 0) {
		sbx_error_wrap(err, "mounting a fresh /proc for the sandbox's pid namespace");
		/* Binding the host's /proc instead would show every host
		 * process; refuse rather than weaken the sandbox. */
		return sbx_error_hint(err,
				      "the kernel refuses this inside containers whose own /proc is partly masked; "
				      "run sbx on the host or in a container with an unmasked /proc");
	}
	if (sbx_attach_in_root(tree, root, "/proc", SBX_TARGET_DIR, false, err) < 0)
		return sbx_error_wrap(err, "mounting /proc (the rootfs must have a /proc directory)");
	proc = sbx_open_in_root(root, "/proc", SBX_TARGET_DIR, err);
	/* Masks bind sbx's own /dev/null, never one from the image. */
	null = proc < 0 ? -1 : sbx_open_in_root(root, "/dev/null", SBX_TARGET_FILE, err);
	if (null < 0)
		return sbx_error_wrap(err, "reopening /proc");
	return sbx_proc_harden(proc, null, err);
}

int sbx_proc_harden(int proc, int null, struct sbx_error *err)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(masked_files); i++)
		if (mask_file(proc, null, masked_files[i], err) < 0)
			return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(masked_dirs); i++)
		if (mask_dir(proc, masked_dirs[i], err) < 0)
			return -1;
	for (size_t i = 0; i < SBX_ARRAY_SIZE(readonly_paths); i++)
		if (make_readonly(proc, readonly_paths[i], err) < 0)
			return -1;
	return 0;
}

int sbx_mount_sys(int root, struct sbx_error *err)
{
	return cover_dir(root, "/sys", err) < 0 ? sbx_error_wrap(err, "mounting an empty /sys") : 0;
}
