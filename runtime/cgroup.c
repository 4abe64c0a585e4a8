#include "cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mountinfo.h"
#include "util.h"

#define SBX_CGROUP_SUBTREE "sbx"
#define LEAF_PREFIX "sbx-"

static const struct {
	unsigned int bit;
	const char *name;
} controllers[] = {
	{ SBX_CG_MEMORY, "memory" },
	{ SBX_CG_CPU, "cpu" },
	{ SBX_CG_PIDS, "pids" },
};

const char *sbx_cgroup_mode_name(enum sbx_cgroup_mode mode)
{
	switch (mode) {
	case SBX_CGROUP_MODE_V1:
		return "v1";
	case SBX_CGROUP_MODE_HYBRID:
		return "hybrid";
	case SBX_CGROUP_MODE_V2:
		return "v2";
	case SBX_CGROUP_MODE_NONE:
		break;
	}
	return "none";
}

/* The controller bits named in a space-separated list ("cpu io memory"). */
static unsigned int controller_bits(const char *list)
{
	unsigned int bits = 0;
	const char *p = list;

	while (*p != '\0') {
		size_t len = strcspn(p, " \n");

		for (size_t i = 0; i < SBX_ARRAY_SIZE(controllers); i++)
			if (strlen(controllers[i].name) == len && strncmp(p, controllers[i].name, len) == 0)
				bits |= controllers[i].bit;
		p += len;
		p += strspn(p, " \n");
	}
	return bits;
}

/* "memory", "memory and pids", "memory, cpu and pids". */
static void controller_names(unsigned int bits, char *out, size_t len)
{
	size_t n = 0;
	int total = __builtin_popcount(bits), seen = 0;

	out[0] = '\0';
	for (size_t i = 0; i < SBX_ARRAY_SIZE(controllers); i++) {
		if (!(bits & controllers[i].bit) || n >= len)
			continue;
		seen++;
		n += (size_t)snprintf(out + n, len - n, "%s%s", seen == 1 ? "" : seen == total ? " and " : ", ",
				      controllers[i].name);
	}
}

/* The controllers listed in the file NAME of the cgroup DIRFD (0 when it
 * cannot be read). */
unsigned int sbx_cgroup_read_controllers(int dirfd, const char *name)
{
	struct sbx_error ignored;
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free char *text = NULL;

	if (fd < 0 || sbx_read_fd(fd, name, 4096, &text, &ignored) < 0)
		return 0;
	return controller_bits(text);
}

/* The cgroup2 mount, and its root when WANT_ROOT (a rootless caller finds
 * its own cgroup below the mount through it; root makes sbx's subtree at
 * the mount itself). */
static int find_v2_mount(struct sbx_cgroup_host_info *out, bool want_root, char *v2_root, size_t root_len)
{
	static const char *const usual[] = { "/sys/fs/cgroup", "/sys/fs/cgroup/unified", NULL };
	struct sbx_mount_desc desc;
	struct sbx_error err = { 0 };
	int r = sbx_find_mount("cgroup2", CGROUP2_SUPER_MAGIC, usual, want_root, &desc, &err);

	if (r < 0) {
		snprintf(out->why, sizeof(out->why), "cannot find the cgroup2 mount: %.400s", err.msg);
		return -1;
	}
	if (r == 1) {
		snprintf(out->mount, sizeof(out->mount), "%s", desc.target);
		snprintf(v2_root, root_len, "%s", desc.root);
	}
	return 0;
}

/* /proc/self/cgroup (lines "id:controllers:path"; libmount has no parser
 * for it): the caller's cgroup v2 path (the "0::" line) and the
 * controllers bound to v1 hierarchies (every mounted hierarchy has a
 * line, with its id).  Whether any v1 hierarchy exists at all, even one
 * without controllers (name=systemd), is what makes a host hybrid. */
static void read_own_cgroups(struct sbx_cgroup_host_info *out, bool *v1)
{
	struct sbx_error ignored;
	cleanup_free char *text = NULL;
	char *line;

	*v1 = false;
	if (sbx_read_file("/proc/self/cgroup", 65536, &text, &ignored) < 0)
		return;
	for (line = text; line != NULL && *line != '\0';) {
		char *next = strchr(line, '\n'), *list, *path;

		if (next != NULL)
			*next++ = '\0';
		list = strchr(line, ':');
		path = list ? strchr(list + 1, ':') : NULL;
		if (path != NULL) {
			*path++ = '\0';
			if (strncmp(line, "0:", 2) == 0 && list[1] == '\0') {
				snprintf(out->own, sizeof(out->own), "%s", path);
			} else {
				char *c;

				*v1 = true;
				for (c = list + 1; *c != '\0'; c++)
					if (*c == ',')
						*c = ' ';
				out->v1_controllers |= controller_bits(list + 1);
			}
		}
		line = next;
	}
}

static bool writable_by_me(int dirfd, const char *name)
{
	return faccessat(dirfd, name, W_OK, AT_EACCESS) == 0;
}

/* Root: <mount>/sbx, made on demand, with what the mount's root offers. */
static void describe_root(struct sbx_cgroup_host_info *out)
{
	cleanup_close int mnt = open(out->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (mnt < 0 || !writable_by_me(mnt, "cgroup.subtree_control")) {
		snprintf(out->why, sizeof(out->why), "the cgroup2 mount %.200s is not writable (read-only in a "
			 "container?): give the container a writable cgroup file system", out->mount);
		return;
	}
	snprintf(out->parent, sizeof(out->parent), "%.4000s/" SBX_CGROUP_SUBTREE, out->mount);
	out->usable = out->v2_controllers;
}

/* Rootless: siblings of the caller's cgroup under its parent, which must
 * be the caller's (a delegated subtree). */
static void describe_rootless(struct sbx_cgroup_host_info *out, const char *v2_root)
{
	char own_dir[PATH_MAX * 2], parent[PATH_MAX * 2];
	const char *rel = out->own;
	size_t root_len = strcmp(v2_root, "/") == 0 ? 0 : strlen(v2_root);
	cleanup_close int pfd = -1;
	struct stat st;
	char *slash;

	if (root_len && strncmp(rel, v2_root, root_len) == 0)
		rel += root_len;
	snprintf(own_dir, sizeof(own_dir), "%s%s", out->mount, rel);
	snprintf(parent, sizeof(parent), "%s", own_dir);
	slash = strrchr(parent, '/');
	if (rel[0] != '/' || rel[1] == '\0' || slash == NULL) {
		snprintf(out->why, sizeof(out->why), "your process is in the root cgroup: sbx needs it in a "
			 "leaf of a cgroup v2 subtree delegated to you");
		return;
	}
	*slash = '\0';
	pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 || fstat(pfd, &st) < 0 || st.st_uid != geteuid() ||
	    !writable_by_me(pfd, ".") || !writable_by_me(pfd, "cgroup.procs") ||
	    !writable_by_me(pfd, "cgroup.subtree_control")) {
		snprintf(out->why, sizeof(out->why), "the parent of your cgroup (%.200s) is not delegated to "
			 "you: run sbx from a leaf of a subtree you own, e.g. `systemd-run --user --scope sbx "
			 "run ...`", parent);
		return;
	}
	snprintf(out->parent, sizeof(out->parent), "%.4000s", parent);
	out->usable = sbx_cgroup_read_controllers(pfd, "cgroup.controllers");
	if (out->usable != (SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS))
		snprintf(out->why, sizeof(out->why), "%.200s lacks controllers: delegate memory, cpu and pids "
			 "to your user (systemd: Delegate=memory cpu pids for user@.service)", parent);
}

int sbx_cgroup_describe(struct sbx_cgroup_host_info *out)
{
	char v2_root[PATH_MAX] = "/";
	cleanup_close int mnt = -1;
	char names[64];
	unsigned int v1_only;
	bool v1;

	memset(out, 0, sizeof(*out));
	read_own_cgroups(out, &v1);
	if (find_v2_mount(out, geteuid() != 0, v2_root, sizeof(v2_root)) < 0)
		return -1;
	if (out->mount[0] != '\0')
		out->mode = v1 ? SBX_CGROUP_MODE_HYBRID : SBX_CGROUP_MODE_V2;
	else
		out->mode = v1 ? SBX_CGROUP_MODE_V1 : SBX_CGROUP_MODE_NONE;
	if (out->mount[0] == '\0') {
		snprintf(out->why, sizeof(out->why), out->mode == SBX_CGROUP_MODE_V1
			 ? "this host has only cgroup v1, which sbx does not use: boot with "
			   "systemd.unified_cgroup_hierarchy=1 for cgroup v2"
			 : "no cgroup file system is mounted: mount cgroup2 (mount -t cgroup2 none /sys/fs/cgroup)");
		return 0;
	}
	mnt = open(out->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mnt >= 0)
		out->v2_controllers = sbx_cgroup_read_controllers(mnt, "cgroup.controllers");
	if (geteuid() == 0)
		describe_root(out);
	else
		describe_rootless(out, v2_root);
	v1_only = (SBX_CG_MEMORY | SBX_CG_CPU | SBX_CG_PIDS) & ~out->v2_controllers & out->v1_controllers;
	if (v1_only) {
		controller_names(v1_only, names, sizeof(names));
		snprintf(out->why, sizeof(out->why), "%s %s bound to cgroup v1 on this %s host, and sbx never "
			 "writes v1: boot with systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all for cgroup v2",
			 names, strchr(names, ' ') ? "are" : "is", sbx_cgroup_mode_name(out->mode));
	}
	return 0;
}

/* Add the controllers WANT to the cgroup.subtree_control of DIRFD, those
 * it lacks only (the file may be read-only when nothing is missing). */
int sbx_cgroup_enable_controllers(int dirfd, const char *path, unsigned int want, struct sbx_error *err)
{
	unsigned int have = sbx_cgroup_read_controllers(dirfd, "cgroup.subtree_control");
	char buf[64] = "";
	size_t n = 0;

	for (size_t i = 0; i < SBX_ARRAY_SIZE(controllers); i++)
		if ((want & controllers[i].bit) && !(have & controllers[i].bit))
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s+%s", n ? " " : "", controllers[i].name);
	if (n == 0)
		return 0;
	if (sbx_write_file_at(dirfd, "cgroup.subtree_control", buf, err) < 0) {
		sbx_error_wrap(err, "enabling %s in %s", buf, path);
		if (err->err == EBUSY)
			sbx_error_hint(err, "the cgroup has processes of its own (the no-internal-process rule)");
		return -1;
	}
	return 0;
}

/* Open (making it as root) the directory sandbox cgroups go under, with
 * the controllers WANT enabled for its children. */
static int open_parent(const struct sbx_cgroup_host_info *info, unsigned int want, struct sbx_error *err)
{
	cleanup_close int fd = -1;

	if (geteuid() == 0) {
		cleanup_close int mnt = open(info->mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (mnt < 0)
			return sbx_fail(err, errno, "opening %s", info->mount);
		if (sbx_cgroup_enable_controllers(mnt, info->mount, want, err) < 0)
			return -1;
		if (mkdirat(mnt, SBX_CGROUP_SUBTREE, 0755) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "creating %s", info->parent);
		fd = openat(mnt, SBX_CGROUP_SUBTREE, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		fd = open(info->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0)
		return sbx_fail(err, errno, "opening %s", info->parent);
	if (sbx_cgroup_enable_controllers(fd, info->parent, want, err) < 0)
		return -1;
	return sbx_steal_fd(&fd);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* SIGKILL every process of the cgroup DIRFD: cgroup.kill (5.14+), else
 * freeze it and kill what cgroup.procs lists until it is empty. */
static void kill_all(int dirfd)
{
	struct sbx_error ignored;

	if (sbx_write_file_at(dirfd, "cgroup.kill", "1", &ignored) == 0)
		return;
	(void)sbx_write_file_at(dirfd, "cgroup.freeze", "1", &ignored);
	for (int round = 0; round < 100; round++) {
		cleanup_close int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
		cleanup_free char *pids = NULL;
		bool any = false;

		if (fd < 0 || sbx_read_fd(fd, "cgroup.procs", 1 << 20, &pids, &ignored) < 0)
			break;
		for (char *p = pids; *p != '\0';) {
			char *end;
			long pid = strtol(p, &end, 10);

			if (end == p)
				break;
			if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
				any = true;
			p = end + strspn(end, "\n");
		}
		if (!any)
			break;
		sleep_ms(5);
	}
	(void)sbx_write_file_at(dirfd, "cgroup.freeze", "0", &ignored);
}

/* Kill and remove the cgroup NAME under PARENT, waiting up to a second
 * for its processes to go. */
int sbx_cgroup_remove(int parent, const char *name, int dirfd)
{
	kill_all(dirfd);
	for (int i = 0; i < 200; i++) {
		if (unlinkat(parent, name, AT_REMOVEDIR) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -1;
		sleep_ms(5);
	}
	return -1;
}

/* A leftover: a sbx-PID cgroup whose sbx is gone.  Its sbx held a lock on
 * the directory for as long as it lived, and PID is no process of ours
 * (the pid check guards the instant between mkdir and flock). */
static bool is_leftover(int dirfd, const char *name)
{
	char *end;
	long pid = strtol(name + strlen(LEAF_PREFIX), &end, 10);

	if (end == name + strlen(LEAF_PREFIX) || *end != '\0' || pid <= 0)
		return false;
	if (pid != getpid() && (kill((pid_t)pid, 0) == 0 || errno != ESRCH))
		return false;
	return flock(dirfd, LOCK_EX | LOCK_NB) == 0;
}

/* Remove the leftovers under PARENT; returns how many went. */
static size_t remove_leftovers(int parent, bool verbose)
{
	int dup = fcntl(parent, F_DUPFD_CLOEXEC, 3);
	DIR *dir = dup < 0 ? NULL : fdopendir(dup);
	struct dirent *de;
	size_t removed = 0;

	if (dir == NULL) {
		if (dup >= 0)
			close(dup);
		return 0;
	}
	while ((de = readdir(dir)) != NULL) {
		cleanup_close int fd = -1;

		if (de->d_type != DT_DIR || strncmp(de->d_name, LEAF_PREFIX, strlen(LEAF_PREFIX)) != 0)
			continue;
		fd = openat(parent, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || !is_leftover(fd, de->d_name))
			continue;
		sbx_verbose(verbose, "cgroup: removing %s, left by an sbx that was killed", de->d_name);
		if (sbx_cgroup_remove(parent, de->d_name, fd) == 0)
			removed++;
	}
	closedir(dir);
	return removed;
}

int sbx_cgroup_gc(bool verbose, size_t *removed, struct sbx_error *err)
{
	struct sbx_cgroup_host_info info;
	cleanup_close int parent = -1;

	*removed = 0;
	if (sbx_cgroup_describe(&info) < 0)
		return sbx_fail(err, 0, "cgroups: %s", info.why);
	if (info.parent[0] == '\0')
		return 0; /* no cgroup sbx may use here: none can be left either */
	parent = open(info.parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent < 0)
		return errno == ENOENT ? 0 : sbx_fail(err, errno, "opening %s", info.parent);
	*removed = remove_leftovers(parent, verbose);
	return 0;
}

static int write_limit(const struct sbx_cgroup *cg, const char *file, const char *value, bool optional,
		       struct sbx_error *err)
{
	if (sbx_write_file_at(cg->dirfd, file, value, err) == 0)
		return 0;
	if (optional && err->err == ENOENT)
		return 0;
	return sbx_error_wrap(err, "%s", cg->path);
}

static int write_limits(const struct sbx_cgroup *cg, const struct sbx_cgroup_limits *l, struct sbx_error *err)
{
	char buf[64];

	if (cg->controllers & SBX_CG_MEMORY) {
		snprintf(buf, sizeof(buf), "%" PRIu64, l->memory_bytes);
		/* No swap: the limit is what the sandbox may hold, not what it
		 * may push out to disk (absent without swap accounting). */
		if (write_limit(cg, "memory.max", buf, false, err) < 0 ||
		    write_limit(cg, "memory.swap.max", "0", true, err) < 0)
			return -1;
	}
	if (cg->controllers & SBX_CG_CPU) {
		/* A period of 100 ms, the kernel's default. */
		snprintf(buf, sizeof(buf), "%" PRIu64 " 100000", l->cpu_millis * 100);
		if (write_limit(cg, "cpu.max", buf, false, err) < 0)
			return -1;
	}
	if (cg->controllers & SBX_CG_PIDS) {
		snprintf(buf, sizeof(buf), "%" PRIu64, l->pids);
		if (write_limit(cg, "pids.max", buf, false, err) < 0)
			return -1;
	}
	return 0;
}

static unsigned int wanted_controllers(const struct sbx_cgroup_limits *l)
{
	return (l->memory_bytes ? SBX_CG_MEMORY : 0) | (l->cpu_millis ? SBX_CG_CPU : 0) |
	       (l->pids ? SBX_CG_PIDS : 0);
}

int sbx_cgroup_create(struct sbx_cgroup *cg, const struct sbx_cgroup_host_info *info,
		      const struct sbx_cgroup_limits *limits, bool verbose, struct sbx_error *err)
{
	unsigned int want = wanted_controllers(limits) & info->usable;

	if (want == 0 || info->parent[0] == '\0')
		return sbx_fail(err, 0, "no cgroup v2 controller usable here");
	cg->parentfd = open_parent(info, want, err);
	if (cg->parentfd < 0)
		return -1;
	remove_leftovers(cg->parentfd, verbose);
	snprintf(cg->name, sizeof(cg->name), LEAF_PREFIX "%d", (int)getpid());
	snprintf(cg->path, sizeof(cg->path), "%.4000s/%s", info->parent, cg->name);
	if (mkdirat(cg->parentfd, cg->name, 0755) < 0)
		return sbx_fail(err, errno, "creating the cgroup %s", cg->path);
	cg->dirfd = openat(cg->parentfd, cg->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (cg->dirfd < 0 || flock(cg->dirfd, LOCK_EX) < 0) {
		sbx_fail(err, errno, "opening the cgroup %s", cg->path);
		sbx_cgroup_destroy(cg);
		return -1;
	}
	cg->controllers = want;
	if (write_limits(cg, limits, err) < 0) {
		sbx_cgroup_destroy(cg);
		return -1;
	}
	sbx_verbose(verbose, "cgroup: %s", cg->path);
	return 0;
}

int sbx_cgroup_add_pid(int dirfd, const char *path, pid_t pid, struct sbx_error *err)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (sbx_write_file_at(dirfd, "cgroup.procs", buf, err) < 0)
		return sbx_error_wrap(err, "moving the sandbox into %s", path);
	return 0;
}

int sbx_cgroup_join(const struct sbx_cgroup *cg, pid_t pid, struct sbx_error *err)
{
	return sbx_cgroup_add_pid(cg->dirfd, cg->path, pid, err);
}

/* The number after KEY ("key value" lines), or false. */
static bool read_keyed(int dirfd, const char *file, const char *key, uint64_t *value)
{
	struct sbx_error ignored;
	cleanup_close int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	cleanup_free char *text = NULL;
	size_t klen = strlen(key);

	if (fd < 0 || sbx_read_fd(fd, file, 65536, &text, &ignored) < 0)
		return false;
	for (char *line = text; line != NULL && *line != '\0';) {
		if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
			*value = strtoull(line + klen + 1, NULL, 10);
			return true;
		}
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return false;
}

static bool read_number(int dirfd, const char *file, uint64_t *value)
{
	struct sbx_error ignored;
	cleanup_close int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);
	cleanup_free char *text = NULL;
	char *end;

	if (fd < 0 || sbx_read_fd(fd, file, 64, &text, &ignored) < 0)
		return false;
	*value = strtoull(text, &end, 10);
	return end != text;
}

void sbx_cgroup_read_stats(const struct sbx_cgroup *cg, struct sbx_cgroup_stats *s)
{
	uint64_t v;

	memset(s, 0, sizeof(*s));
	if (cg->dirfd < 0)
		return;
	if (cg->controllers & SBX_CG_MEMORY) {
		s->have_memory_peak = read_number(cg->dirfd, "memory.peak", &s->memory_peak_bytes);
		s->oom_killed = read_keyed(cg->dirfd, "memory.events", "oom_kill", &v) && v > 0;
	}
	if (cg->controllers & SBX_CG_PIDS) {
		s->have_pids_peak = read_number(cg->dirfd, "pids.peak", &s->pids_peak);
		s->pids_limit_hit = read_keyed(cg->dirfd, "pids.events", "max", &v) && v > 0;
	}
	if (read_keyed(cg->dirfd, "cpu.stat", "throttled_usec", &v)) {
		s->have_cpu_throttled = true;
		s->cpu_throttled_s = (double)v / 1e6;
	}
}

void sbx_cgroup_destroy(struct sbx_cgroup *cg)
{
	if (cg->dirfd >= 0 && cg->parentfd >= 0)
		(void)sbx_cgroup_remove(cg->parentfd, cg->name, cg->dirfd);
	sbx_closep(&cg->dirfd);
	sbx_closep(&cg->parentfd);
}
