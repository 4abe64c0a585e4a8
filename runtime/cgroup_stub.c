/* Stand-in for sbx_cgroup_describe until fix-limits' runtime/cgroup.c
 * lands: the same answers from /proc/self/mountinfo through libmount.
 * Remove when merging cgroup.c. */
#include "cgroup.h"

#include <libmount.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

const char *sbx_cgroup_mode_name(enum sbx_cgroup_mode mode)
{
	static const char *const names[] = { "none", "v1", "hybrid", "v2" };

	return names[mode];
}

static unsigned int controllers_in(const char *text)
{
	static const char *const names[] = { "memory", "cpu", "pids" };
	unsigned int mask = 0;

	for (unsigned int i = 0; i < 3; i++)
		for (const char *p = text; p && (p = strstr(p, names[i])) != NULL; p++)
			if ((p == text || p[-1] == ' ' || p[-1] == ',') &&
			    (p[strlen(names[i])] == '\0' || strchr(" ,\n", p[strlen(names[i])])))
				mask |= 1u << i;
	return mask;
}

static unsigned int read_controllers(const char *dir)
{
	struct sbx_error ignored;
	char path[PATH_MAX + 32];
	cleanup_free char *text = NULL;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	return sbx_read_file(path, 4096, &text, &ignored) < 0 ? 0 : controllers_in(text);
}

int sbx_cgroup_describe(struct sbx_cgroup_host_info *out)
{
	struct libmnt_table *tb = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	bool v1 = false;
	struct sbx_error ignored;
	cleanup_free char *self = NULL;
	char parent[PATH_MAX * 2 + 8];

	memset(out, 0, sizeof(*out));
	if (tb == NULL || it == NULL) {
		mnt_free_table(tb);
		mnt_free_iter(it);
		snprintf(out->why, sizeof(out->why), "/proc/self/mountinfo cannot be read");
		return -1;
	}
	while (mnt_table_next_fs(tb, it, &fs) == 0) {
		const char *type = mnt_fs_get_fstype(fs);

		if (type && strcmp(type, "cgroup2") == 0 && !out->mount[0])
			snprintf(out->mount, sizeof(out->mount), "%s", mnt_fs_get_target(fs));
		else if (type && strcmp(type, "cgroup") == 0) {
			v1 = true;
			out->v1_controllers |= controllers_in(mnt_fs_get_options(fs));
		}
	}
	mnt_free_table(tb);
	mnt_free_iter(it);
	out->mode = out->mount[0] ? (v1 ? SBX_CGROUP_MODE_HYBRID : SBX_CGROUP_MODE_V2)
				  : (v1 ? SBX_CGROUP_MODE_V1 : SBX_CGROUP_MODE_NONE);
	if (!out->mount[0])
		return 0;
	out->v2_controllers = read_controllers(out->mount);
	if (sbx_read_file("/proc/self/cgroup", 1 << 16, &self, &ignored) == 0) {
		char *line = strstr(self, "0::");

		if (line && (line == self || line[-1] == '\n'))
			snprintf(out->own, sizeof(out->own), "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
	}
	if (geteuid() == 0) {
		snprintf(out->parent, sizeof(out->parent), "%s/sbx", out->mount);
		out->usable = out->v2_controllers;
		return 0;
	}
	snprintf(parent, sizeof(parent), "%s%s", out->mount, out->own);
	if (strrchr(parent, '/') > parent + strlen(out->mount))
		*strrchr(parent, '/') = '\0';
	snprintf(out->parent, sizeof(out->parent), "%.4000s", parent);
	strncat(parent, "/cgroup.procs", sizeof(parent) - strlen(parent) - 1);
	if (access(parent, W_OK) == 0)
		out->usable = read_controllers(out->parent);
	else
		out->parent[0] = '\0';
	return 0;
}
