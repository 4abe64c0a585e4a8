#include "oci_cgroup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "cgroup.h"
#include "util.h"


/* ---- where ---- */

/* "a-b.slice" -> "a.slice/a-b.slice": systemd nests a slice in the slices
 * its dashes name. */
static int expand_slice(const char *slice, char *out, size_t len, struct sbx_error *err)
{
	size_t n = 0, slen = strlen(slice);

	out[0] = '\0';
	if (strcmp(slice, "-.slice") == 0 || slen == 0)
		return 0;
	if (slen < 7 || strcmp(slice + slen - 6, ".slice") != 0 || strchr(slice, '/') || slice[0] == '-')
		return sbx_fail(err, 0, "linux.cgroupsPath: %.128s is not a systemd slice name", slice);
	for (const char *dash = strchr(slice, '-'); dash && dash < slice + slen - 6; dash = strchr(dash + 1, '-'))
		n += (size_t)snprintf(out + n, len > n ? len - n : 0, "%.*s.slice/", (int)(dash - slice), slice);
	n += (size_t)snprintf(out + n, len > n ? len - n : 0, "%s", slice);
	return n >= len ? sbx_fail(err, ENAMETOOLONG, "linux.cgroupsPath") : 0;
}

static int systemd_path(const char *cp, char *out, size_t len, struct sbx_error *err)
{
	char slice[256], prefix[256], name[512], expanded[PATH_MAX];
	const char *c1 = strchr(cp, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	int n;

	if (c2 == NULL || strchr(c2 + 1, ':') || (size_t)(c1 - cp) >= sizeof(slice) ||
	    (size_t)(c2 - c1 - 1) >= sizeof(prefix) || strlen(c2 + 1) >= sizeof(name) || c2[1] == '\0')
		return sbx_fail(err, 0, "linux.cgroupsPath %.128s: with --systemd-cgroup it is slice:prefix:name",
				cp);
	snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - cp), cp);
	snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
	snprintf(name, sizeof(name), "%s", c2 + 1);
	if (expand_slice(slice[0] ? slice : "system.slice", expanded, sizeof(expanded), err) < 0)
		return -1;
	if (strlen(name) > 6 && strcmp(name + strlen(name) - 6, ".slice") == 0)
		n = snprintf(out, len, "%s/%s", expanded, name);
	else if (prefix[0])
		n = snprintf(out, len, "%s/%s-%s.scope", expanded, prefix, name);
	else
		n = snprintf(out, len, "%s/%s.scope", expanded, name);
	return n < 0 || (size_t)n >= len ? sbx_fail(err, ENAMETOOLONG, "linux.cgroupsPath %.128s", cp) : 0;
}

/* FNV-1a: two state roots may hold the same container id. */
static uint32_t hash_root(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

int sbx_oci_cgroup_path(const char *cp, bool systemd, const char *root, const char *id, char *out, size_t len,
			struct sbx_error *err)
{
	char copy[PATH_MAX];

	if (cp == NULL || cp[0] == '\0') {
		snprintf(out, len, "sbx/oci-%08x-%.200s", hash_root(root ? root : ""), id);
		return 0;
	}
	if (systemd && strchr(cp, ':'))
		return systemd_path(cp, out, len, err) < 0 ? -1 : 0;
	snprintf(copy, sizeof(copy), "%s", cp + strspn(cp, "/"));
	for (char *save = NULL, *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save))
		if (strcmp(c, ".") == 0 || strcmp(c, "..") == 0)
			return sbx_fail(err, 0, "linux.cgroupsPath %.128s: no . or .. components", cp);
	snprintf(out, len, "%s", cp + strspn(cp, "/"));
	return 0;
}

/* ---- what ---- */

static unsigned int wanted(const struct sbx_oci_config *cfg)
{
	unsigned int w = 0;

	if ((cfg->has_memory_limit && cfg->memory_limit > 0) ||
	    (cfg->has_memory_reservation && cfg->memory_reservation > 0))
		w |= SBX_CG_MEMORY;
	if ((cfg->has_cpu_quota && cfg->cpu_quota > 0) || cfg->cpu_shares > 0)
		w |= SBX_CG_CPU;
	if (cfg->has_pids_limit && cfg->pids_limit > 0)
		w |= SBX_CG_PIDS;
	return w;
}

static void unenforced(struct sbx_oci_cgroup *cg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void unenforced(struct sbx_oci_cgroup *cg, const char *fmt, ...)
{
	va_list ap;

	if (cg->n_unenforced >= SBX_OCI_CGROUP_MAX_WARNINGS)
		return;
	va_start(ap, fmt);
	vsnprintf(cg->unenforced[cg->n_unenforced++], sizeof(cg->unenforced[0]), fmt, ap);
	va_end(ap);
}

static void say_unenforced(const struct sbx_oci_config *cfg, unsigned int missing, const char *why,
			   struct sbx_oci_cgroup *cg)
{
	if (missing & SBX_CG_MEMORY)
		unenforced(cg, "linux.resources.memory (limit %" PRId64 ", reservation %" PRId64 ") is not enforced: %s",
			   cfg->has_memory_limit ? cfg->memory_limit : 0,
			   cfg->has_memory_reservation ? cfg->memory_reservation : 0, why);
	if (missing & SBX_CG_CPU)
		unenforced(cg, "linux.resources.cpu (quota %" PRId64 ", shares %" PRIu64 ") is not enforced: %s",
			   cfg->has_cpu_quota ? cfg->cpu_quota : 0, cfg->cpu_shares, why);
	if ((cfg->cpu_cpus && cfg->cpu_cpus[0]) || (cfg->cpu_mems && cfg->cpu_mems[0]))
		unenforced(cg, "linux.resources.cpu.cpus/mems is not enforced: sbx does not set cpusets");
	if (missing & SBX_CG_PIDS)
		unenforced(cg, "linux.resources.pids.limit=%" PRId64 " is not enforced: %s", cfg->pids_limit, why);
}

static bool limits_required(const struct sbx_oci_config *cfg)
{
	const char *v = sbx_oci_annotation(cfg, "run.sbx.require-limits");

	return v != NULL && strcmp(v, "true") == 0;
}

static int write_value(int dirfd, const char *file, const char *value, struct sbx_error *err)
{
	if (sbx_write_file_at(dirfd, file, value, err) < 0)
		return sbx_error_wrap(err, "linux.resources: %s=%s", file, value);
	return 0;
}

static int write_limits(const struct sbx_oci_config *cfg, int dirfd, unsigned int have, struct sbx_error *err)
{
	char buf[64];

	if ((have & SBX_CG_MEMORY) && cfg->has_memory_reservation && cfg->memory_reservation > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, cfg->memory_reservation);
		if (write_value(dirfd, "memory.low", buf, err) < 0)
			return -1;
	}
	if ((have & SBX_CG_MEMORY) && cfg->has_memory_limit && cfg->memory_limit > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64, cfg->memory_limit);
		if (write_value(dirfd, "memory.max", buf, err) < 0)
			return -1;
		/* swap is memory+swap in the spec; v2 counts swap alone. */
		if (cfg->has_memory_swap && cfg->memory_swap != 0) {
			if (cfg->memory_swap < 0)
				snprintf(buf, sizeof(buf), "max");
			else
				snprintf(buf, sizeof(buf), "%" PRId64,
					 cfg->memory_swap > cfg->memory_limit ? cfg->memory_swap - cfg->memory_limit : 0);
			if (sbx_write_file_at(dirfd, "memory.swap.max", buf, err) < 0 && err->err != ENOENT)
				return sbx_error_wrap(err, "linux.resources.memory.swap");
		}
	}
	if ((have & SBX_CG_CPU) && cfg->has_cpu_quota && cfg->cpu_quota > 0) {
		snprintf(buf, sizeof(buf), "%" PRId64 " %" PRIu64, cfg->cpu_quota,
			 cfg->cpu_period ? cfg->cpu_period : 100000);
		if (write_value(dirfd, "cpu.max", buf, err) < 0)
			return -1;
	}
	if ((have & SBX_CG_CPU) && cfg->cpu_shares > 0) {
		/* runc's mapping of shares [2, 262144] onto weight [1, 10000]. */
		uint64_t s = cfg->cpu_shares < 2 ? 2 : cfg->cpu_shares > 262144 ? 262144 : cfg->cpu_shares;

		snprintf(buf, sizeof(buf), "%" PRIu64, 1 + ((s - 2) * 9999) / 262142);
		if (write_value(dirfd, "cpu.weight", buf, err) < 0)
			return -1;
	}
	if (have & SBX_CG_PIDS) {
		snprintf(buf, sizeof(buf), "%" PRId64, cfg->pids_limit);
		if (write_value(dirfd, "pids.max", buf, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- hugetlb: a controller of its own, beside cgroup.h's three ---- */

static bool offers(int dirfd, const char *controller)
{
	struct sbx_error ignored;
	cleanup_close int fd = openat(dirfd, "cgroup.controllers", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	cleanup_free char *text = NULL;

	if (fd < 0 || sbx_read_fd(fd, "cgroup.controllers", 4096, &text, &ignored) < 0)
		return false;
	for (char *save = NULL, *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (strcmp(t, controller) == 0)
			return true;
	return false;
}

/* hugetlb enabled down REL from the mount, as far as each level offers it. */
static void enable_hugetlb(int mnt, const char *rel)
{
	char copy[PATH_MAX];
	cleanup_close int dir = dup(mnt);
	struct sbx_error ignored;

	snprintf(copy, sizeof(copy), "%s", rel);
	for (char *save = NULL, *c = strtok_r(copy, "/", &save); c && dir >= 0; c = strtok_r(NULL, "/", &save)) {
		int next;

		if (offers(dir, "hugetlb"))
			(void)sbx_write_file_at(dir, "cgroup.subtree_control", "+hugetlb", &ignored);
		next = openat(dir, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		dir = next;
	}
}

/* hugepageLimits: hugetlb.<size>.max.  A size this kernel has no pages of
 * cannot be used at all: nothing to write. */
static int write_hugepages(const struct sbx_oci_config *cfg, int mnt, const char *rel, int leaf,
			   struct sbx_oci_cgroup *cg, struct sbx_error *err)
{
	char file[64], value[24];

	if (cfg->n_hugepages == 0)
		return 0;
	enable_hugetlb(mnt, rel);
	if (!offers(leaf, "hugetlb")) {
		unenforced(cg, "linux.resources.hugepageLimits is not enforced: the cgroup v2 tree does not offer "
			       "the hugetlb controller here");
		return 0;
	}
	for (size_t i = 0; i < cfg->n_hugepages; i++) {
		snprintf(file, sizeof(file), "hugetlb.%s.max", cfg->hugepages[i].page_size);
		snprintf(value, sizeof(value), "%" PRIu64, cfg->hugepages[i].limit);
		if (sbx_write_file_at(leaf, file, value, err) < 0 && err->err != ENOENT)
			return sbx_error_wrap(err, "linux.resources.hugepageLimits: %s=%s", file, value);
	}
	return 0;
}

/* ---- make ---- */

/* Walk REL from the mount, making what is missing (the leaf must be
 * new), enabling WANT (as far as each level offers it) on the way. */
static int make_path(int mnt, const char *mount, const char *rel, unsigned int want, struct sbx_error *err)
{
	char copy[PATH_MAX];
	cleanup_close int dir = dup(mnt);
	char *save = NULL, *c, *next;

	snprintf(copy, sizeof(copy), "%s", rel);
	if (dir < 0)
		return sbx_fail(err, errno, "dup");
	for (c = strtok_r(copy, "/", &save); c; c = next) {
		unsigned int offered = sbx_cgroup_read_controllers(dir, "cgroup.controllers");
		int fd;

		next = strtok_r(NULL, "/", &save);
		if ((want & offered) && sbx_cgroup_enable_controllers(dir, mount, want & offered, err) < 0)
			return -1;
		if (mkdirat(dir, c, 0755) < 0 && (errno != EEXIST || next == NULL))
			return sbx_fail(err, errno, "creating the cgroup %s/%s", mount, rel);
		fd = openat(dir, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return sbx_fail(err, errno, "opening the cgroup %s/%s", mount, rel);
		close(dir);
		dir = fd;
	}
	return sbx_steal_fd(&dir);
}

int sbx_oci_cgroup_create(const struct sbx_oci_config *cfg, const struct sbx_oci_globals *g, const char *id,
			  struct sbx_oci_cgroup *cg, struct sbx_error *err)
{
	struct sbx_cgroup_host_info info;
	char rel[PATH_MAX];
	unsigned int want = wanted(cfg), have;
	cleanup_close int mnt = -1;

	if (g->rootless || geteuid() != 0) {
		say_unenforced(cfg, want, "sbx makes no cgroup for a rootless caller", cg);
		if (cfg->n_hugepages > 0)
			unenforced(cg, "linux.resources.hugepageLimits is not enforced: sbx makes no cgroup for a "
				       "rootless caller");
		goto check;
	}
	sbx_cgroup_describe(&info);
	if (info.mount[0] == '\0') {
		say_unenforced(cfg, want, "this host has no cgroup v2 file system", cg);
		if (cfg->n_hugepages > 0)
			unenforced(cg, "linux.resources.hugepageLimits is not enforced: this host has no cgroup v2 "
				       "file system");
		goto check;
	}
	if (sbx_oci_cgroup_path(cfg->cgroups_path, g->systemd_cgroup, g->root, id, rel, sizeof(rel), err) < 0)
		return -1;
	mnt = open(info.mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mnt < 0)
		return sbx_fail(err, errno, "opening %s", info.mount);
	snprintf(cg->path, sizeof(cg->path), "%.2000s/%.2000s", info.mount, rel);
	cg->dirfd = make_path(mnt, info.mount, rel, want, err);
	if (cg->dirfd < 0) {
		cg->path[0] = '\0';
		return sbx_error_wrap(err, "linux.cgroupsPath");
	}
	have = sbx_cgroup_read_controllers(cg->dirfd, "cgroup.controllers") & want;
	if (write_limits(cfg, cg->dirfd, have, err) < 0 || write_hugepages(cfg, mnt, rel, cg->dirfd, cg, err) < 0)
		return -1;
	say_unenforced(cfg, want & ~have,
		       info.mode == SBX_CGROUP_MODE_HYBRID
			       ? "this host's cgroup v2 tree lacks the controller (it is bound to v1, which sbx never "
				 "touches)"
			       : "the cgroup v2 tree does not offer the controller here",
		       cg);
check:
	if (cg->n_unenforced > 0 && limits_required(cfg))
		return sbx_fail(err, 0, "%s (annotation run.sbx.require-limits=true)", cg->unenforced[0]);
	return 0;
}

int sbx_oci_cgroup_join(const struct sbx_oci_cgroup *cg, pid_t pid, struct sbx_error *err)
{
	return sbx_cgroup_add_pid(cg->dirfd, cg->path, pid, err);
}

/* The cgroup PATH as (parent, leaf) fds, checked to be cgroup2. */
static int open_cgroup(const char *path, int *parent, int *leaf, const char **name, struct sbx_error *err)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct statfs sf;

	if (slash == NULL || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return sbx_fail(err, EINVAL, "cgroup %s", path);
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	*name = slash + 1;
	*parent = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*parent < 0)
		return sbx_fail(err, errno, "opening %s", dir);
	*leaf = openat(*parent, *name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*leaf < 0)
		return sbx_fail(err, errno, "opening the cgroup %s", path);
	if (fstatfs(*leaf, &sf) < 0 || sf.f_type != CGROUP2_SUPER_MAGIC)
		return sbx_fail(err, EINVAL, "%s is not a cgroup v2 directory", path);
	return 0;
}

void sbx_oci_cgroup_destroy(struct sbx_oci_cgroup *cg)
{
	struct sbx_oci_state st = { .cgroup_owned = true };
	struct sbx_error ignored;

	if (cg->dirfd < 0)
		return;
	snprintf(st.cgroup, sizeof(st.cgroup), "%s", cg->path);
	(void)sbx_oci_cgroup_remove(&st, &ignored);
}

void sbx_oci_cgroup_release(struct sbx_oci_cgroup *cg)
{
	sbx_closep(&cg->dirfd);
}

int sbx_oci_cgroup_remove(const struct sbx_oci_state *st, struct sbx_error *err)
{
	cleanup_close int parent = -1;
	cleanup_close int leaf = -1;
	const char *name;

	if (!st->cgroup_owned || st->cgroup[0] == '\0')
		return 0;
	if (open_cgroup(st->cgroup, &parent, &leaf, &name, err) < 0)
		return err->err == ENOENT ? 0 : -1;
	if (sbx_cgroup_remove(parent, name, leaf) < 0)
		return sbx_fail(err, errno, "removing the cgroup %s", st->cgroup);
	return 0;
}

static int add_pids(int dirfd, pid_t **pids, size_t *n, size_t *cap, int depth, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	cleanup_free char *text = NULL;
	DIR *d;
	struct dirent *de;

	if (fd < 0 || sbx_read_fd(fd, "cgroup.procs", 4u << 20, &text, err) < 0)
		return -1;
	for (char *p = text, *end; *p; p = end + strspn(end, "\n")) {
		long pid = strtol(p, &end, 10);

		if (end == p)
			break;
		if (*n == *cap) {
			pid_t *grown = realloc(*pids, (*cap = *cap ? *cap * 2 : 64) * sizeof(pid_t));

			if (grown == NULL)
				return sbx_fail(err, ENOMEM, "listing the container's processes");
			*pids = grown;
		}
		(*pids)[(*n)++] = (pid_t)pid;
	}
	if (depth >= 16)
		return 0;
	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = fd < 0 ? NULL : fdopendir(fd);
	if (d == NULL)
		return 0;
	fd = -1;
	while ((de = readdir(d)) != NULL) {
		int sub;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		sub = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub >= 0) {
			int r = add_pids(sub, pids, n, cap, depth + 1, err);

			close(sub);
			if (r < 0) {
				closedir(d);
				return -1;
			}
		}
	}
	closedir(d);
	return 0;
}

int sbx_oci_cgroup_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n, struct sbx_error *err)
{
	cleanup_close int parent = -1;
	cleanup_close int leaf = -1;
	const char *name;
	size_t cap = 0;

	*pids = NULL;
	*n = 0;
	if (st->cgroup[0] == '\0')
		return sbx_fail(err, ENOENT, "the container has no cgroup");
	if (open_cgroup(st->cgroup, &parent, &leaf, &name, err) < 0)
		return -1;
	if (add_pids(leaf, pids, n, &cap, 0, err) < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}
