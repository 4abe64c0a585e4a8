#include "mountinfo.h"

#include <errno.h>
#include <fcntl.h>
#include <libmount.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dynlib.h"
#include "util.h"

/* statmount(2)'s ABI (Linux 6.8, include/uapi/linux/mount.h): Debian 12's
 * headers predate it. */
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#define SBX_STATX_MNT_ID_UNIQUE 0x4000U
#define SBX_STATMOUNT_MNT_ROOT 0x08U
#define SBX_STATMOUNT_MNT_POINT 0x10U
#define SBX_STATMOUNT_FS_TYPE 0x20U

struct sbx_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

struct sbx_statmount {
	uint32_t size;
	uint32_t spare1;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags;
	uint32_t fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
	uint32_t mnt_root;
	uint32_t mnt_point;
	uint64_t spare2[50];
	char str[];
};

/* The string at OFFSET of the statmount reply SM of LEN bytes, or NULL
 * when the kernel's offset points outside it. */
static const char *statmount_string(const struct sbx_statmount *sm, size_t len, uint32_t offset)
{
	size_t base = offsetof(struct sbx_statmount, str);

	if (base + offset >= len || memchr(sm->str + offset, '\0', len - base - offset) == NULL)
		return NULL;
	return sm->str + offset;
}

int sbx_statmount_point(const char *path, const char *fstype, struct sbx_mount_desc *out, struct sbx_error *err)
{
	const uint64_t want = SBX_STATMOUNT_MNT_ROOT | SBX_STATMOUNT_MNT_POINT | SBX_STATMOUNT_FS_TYPE;
	union {
		struct sbx_statmount sm;
		char bytes[sizeof(struct sbx_statmount) + 2 * PATH_MAX + 64];
	} buf;
	struct sbx_mnt_id_req req = { .size = sizeof(req) };
	const char *type, *root, *point;
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, SBX_STATX_MNT_ID_UNIQUE, &stx) < 0)
		return errno == ENOENT || errno == ENOTDIR ? 0 : sbx_fail(err, errno, "statx %s", path);
	if (!(stx.stx_mask & SBX_STATX_MNT_ID_UNIQUE))
		return sbx_fail(err, ENOSYS, "statx %s: no unique mount id (Linux < 6.8)", path);
	req.mnt_id = stx.stx_mnt_id;
	req.param = want;
	memset(&buf, 0, sizeof(buf));
	if (syscall(SYS_statmount, &req, &buf.sm, sizeof(buf), 0) < 0)
		return sbx_fail(err, errno, "statmount %s", path);
	if ((buf.sm.mask & want) != want || buf.sm.size > sizeof(buf))
		return sbx_fail(err, ENOSYS, "statmount %s: the kernel left out the mount's root or point", path);
	type = statmount_string(&buf.sm, buf.sm.size, buf.sm.fs_type);
	root = statmount_string(&buf.sm, buf.sm.size, buf.sm.mnt_root);
	point = statmount_string(&buf.sm, buf.sm.size, buf.sm.mnt_point);
	if (type == NULL || root == NULL || point == NULL)
		return sbx_fail(err, EPROTO, "statmount %s: a malformed reply", path);
	/* PATH inside a mount (not its point) is not the mount sought. */
	if (strcmp(type, fstype) != 0 || strcmp(point, path) != 0)
		return 0;
	snprintf(out->target, sizeof(out->target), "%s", point);
	snprintf(out->root, sizeof(out->root), "%s", root);
	out->how = SBX_MOUNT_FOUND_STATMOUNT;
	return 1;
}

struct sbx_mount_lib {
	struct libmnt_table *(*new_table_from_file)(const char *);
	struct libmnt_iter *(*new_iter)(int);
	int (*table_next_fs)(struct libmnt_table *, struct libmnt_iter *, struct libmnt_fs **);
	const char *(*fs_get_fstype)(struct libmnt_fs *);
	const char *(*fs_get_target)(struct libmnt_fs *);
	const char *(*fs_get_root)(struct libmnt_fs *);
	void (*free_iter)(struct libmnt_iter *);
	void (*unref_table)(struct libmnt_table *);
	const struct libmnt_optmap *(*get_builtin_optmap)(int);
};

#define SYM(name, field) { name, offsetof(struct sbx_mount_lib, field) }

static const struct sbx_dynlib_symbol mount_symbols[] = {
	SYM("mnt_new_table_from_file", new_table_from_file),
	SYM("mnt_new_iter", new_iter),
	SYM("mnt_table_next_fs", table_next_fs),
	SYM("mnt_fs_get_fstype", fs_get_fstype),
	SYM("mnt_fs_get_target", fs_get_target),
	SYM("mnt_fs_get_root", fs_get_root),
	SYM("mnt_free_iter", free_iter),
	SYM("mnt_unref_table", unref_table),
	SYM("mnt_get_builtin_optmap", get_builtin_optmap),
};

static int mount_lib(const struct sbx_mount_lib **out, struct sbx_error *err)
{
	static struct sbx_mount_lib lib;
	static void *handle;

	if (sbx_dynlib_load(&handle, "libmount.so.1", "libmount1", mount_symbols, SBX_ARRAY_SIZE(mount_symbols),
			    &lib, err) < 0)
		return -1;
	*out = &lib;
	return 0;
}

const struct libmnt_optmap *sbx_mount_linux_optmap(struct sbx_error *err)
{
	const struct sbx_mount_lib *mnt;
	const struct libmnt_optmap *map;

	if (mount_lib(&mnt, err) < 0)
		return NULL;
	map = mnt->get_builtin_optmap(MNT_LINUX_MAP);
	if (map == NULL)
		sbx_fail(err, 0, "libmount has no map of the kernel's mount options");
	return map;
}

int sbx_mountinfo_find(const char *fstype, struct sbx_mount_desc *out, struct sbx_error *err)
{
	const struct sbx_mount_lib *mnt;
	struct libmnt_table *tb;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	int found = 0;

	if (mount_lib(&mnt, err) < 0)
		return -1;
	tb = mnt->new_table_from_file("/proc/self/mountinfo");
	it = mnt->new_iter(MNT_ITER_FORWARD);
	if (tb == NULL || it == NULL) {
		if (tb != NULL)
			mnt->unref_table(tb);
		mnt->free_iter(it);
		return sbx_fail(err, errno, "reading /proc/self/mountinfo");
	}
	while (!found && mnt->table_next_fs(tb, it, &fs) == 0) {
		const char *type = mnt->fs_get_fstype(fs), *root = mnt->fs_get_root(fs);

		if (type == NULL || strcmp(type, fstype) != 0)
			continue;
		snprintf(out->target, sizeof(out->target), "%s", mnt->fs_get_target(fs));
		snprintf(out->root, sizeof(out->root), "%s", root ? root : "/");
		out->how = SBX_MOUNT_FOUND_MOUNTINFO;
		found = 1;
	}
	mnt->free_iter(it);
	mnt->unref_table(tb);
	return found;
}

/* Whether PATH is the root of a mount (statx, Linux 5.8): 1, 0, or -1
 * when the kernel does not say. */
static int is_mount_root(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, STATX_BASIC_STATS, &stx) < 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		return -1;
	return (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) != 0;
}

int sbx_find_mount(const char *fstype, unsigned long magic, const char *const *candidates, bool want_root,
		   struct sbx_mount_desc *out, struct sbx_error *err)
{
	for (size_t i = 0; candidates[i] != NULL; i++) {
		struct sbx_error why = { 0 };
		struct statfs sf;
		int r;

		/* statfs first: a path of another type costs no statmount. */
		if (statfs(candidates[i], &sf) < 0 || (unsigned long)sf.f_type != magic)
			continue;
		r = sbx_statmount_point(candidates[i], fstype, out, &why);
		if (r == 1)
			return 1;
		/* No statmount: the superblock's magic and the mount root
		 * attribute say as much, but not the mount's root. */
		if (r < 0 && !want_root && is_mount_root(candidates[i]) == 1) {
			snprintf(out->target, sizeof(out->target), "%s", candidates[i]);
			out->root[0] = '\0';
			out->how = SBX_MOUNT_FOUND_STATFS;
			return 1;
		}
		/* Otherwise (or a reply sbx cannot trust): libmount says. */
		if (r < 0)
			break;
	}
	return sbx_mountinfo_find(fstype, out, err);
}
