/* Where a file system is mounted: the statmount fast path must say what
 * libmount reads in /proc/self/mountinfo, for the mounts every host has,
 * and must refuse a path inside a mount (not its point). */
#include <errno.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>

#include "mountinfo.h"
#include "unit.h"

static void compare_with_mountinfo(const char *point, const char *fstype, unsigned long magic)
{
	static const char *none[] = { NULL };
	struct sbx_mount_desc fast = { 0 }, slow = { 0 }, found = { 0 };
	struct sbx_error err = { 0 };
	const char *candidates[] = { "/nonexistent-sbx-test", point, NULL };
	int r = sbx_statmount_point(point, fstype, &fast, &err);

	if (r < 0 && err.err == ENOSYS) {
		fprintf(stderr, "SKIP statmount: %s (this kernel has none; the libmount path is tested)\n",
			err.msg);
	} else {
		CHECK(r == 1);
		CHECK_STR(fast.target, point);
		CHECK(fast.how == SBX_MOUNT_FOUND_STATMOUNT);
	}
	/* The first mount of that type in the table may be another one
	 * (several proc mounts): compare with the one at POINT. */
	CHECK(sbx_mountinfo_find(fstype, &slow, &err) == 1);
	CHECK(slow.how == SBX_MOUNT_FOUND_MOUNTINFO);
	if (r == 1 && strcmp(slow.target, point) == 0)
		CHECK_STR(fast.root, slow.root);
	/* Candidates that do not exist are passed over. */
	CHECK(sbx_find_mount(fstype, magic, candidates, true, &found, &err) == 1);
	CHECK(found.target[0] == '/');
	CHECK(found.how != SBX_MOUNT_FOUND_STATFS);
	/* Without the root: the point only (statfs and statx where the kernel
	 * has no statmount, as the VM's 6.1). */
	CHECK(sbx_find_mount(fstype, magic, candidates, false, &found, &err) == 1);
	CHECK_STR(found.target, point);
	/* No candidates: the table says. */
	CHECK(sbx_find_mount(fstype, magic, none, true, &found, &err) == 1);
	CHECK(found.how == SBX_MOUNT_FOUND_MOUNTINFO);
}

void test_mountinfo(void)
{
	struct sbx_mount_desc d = { 0 };
	struct sbx_error err = { 0 };
	struct statfs sf;
	int r;

	compare_with_mountinfo("/proc", "proc", PROC_SUPER_MAGIC);
	/* Inside a mount, not its point: not the mount sought. */
	r = sbx_statmount_point("/proc/self", "proc", &d, &err);
	CHECK(r == 0 || (r < 0 && err.err == ENOSYS));
	/* The right point, the wrong type. */
	r = sbx_statmount_point("/proc", "cgroup2", &d, &err);
	CHECK(r == 0 || (r < 0 && err.err == ENOSYS));
	CHECK(sbx_statmount_point("/nonexistent-sbx-test", "proc", &d, &err) == 0);
	CHECK(sbx_mountinfo_find("no-such-fs-type", &d, &err) == 0);
	if (statfs("/sys/fs/cgroup", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		compare_with_mountinfo("/sys/fs/cgroup", "cgroup2", CGROUP2_SUPER_MAGIC);
	else if (statfs("/sys/fs/cgroup/unified", &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		compare_with_mountinfo("/sys/fs/cgroup/unified", "cgroup2", CGROUP2_SUPER_MAGIC);
}
