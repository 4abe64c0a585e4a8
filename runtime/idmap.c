#include "idmap.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "options.h"
#include "util.h"

#define SUBID_FILE_MAX (1u << 20)
#define ID_DB_MAX (64u << 20)

/* Parse one "name:start:count" line of LEN bytes. */
static int parse_subid_line(const char *line, size_t len, const char *user, uint32_t id,
			    struct sbx_id_range *out)
{
	char buf[512], idbuf[16];
	char *start, *count, *end;
	unsigned long long s, c;

	if (len == 0 || len >= sizeof(buf) || line[0] == '#')
		return 0;
	memcpy(buf, line, len);
	buf[len] = '\0';
	start = strchr(buf, ':');
	if (start == NULL)
		return 0;
	*start++ = '\0';
	count = strchr(start, ':');
	if (count == NULL)
		return 0;
	*count++ = '\0';
	snprintf(idbuf, sizeof(idbuf), "%u", id);
	if (!((user != NULL && strcmp(buf, user) == 0) || strcmp(buf, idbuf) == 0))
		return 0;
	/* strtoull takes "-1" as a huge number: accept digits only. */
	if (start[0] < '0' || start[0] > '9' || count[0] < '0' || count[0] > '9')
		return 0;
	errno = 0;
	s = strtoull(start, &end, 10);
	if (errno || *end != '\0' || end == start)
		return 0;
	c = strtoull(count, &end, 10);
	if (errno || *end != '\0' || c == 0 || s > UINT32_MAX || c > UINT32_MAX - s)
		return 0;
	out->start = (uint32_t)s;
	out->count = (uint32_t)c;
	return 1;
}

int sbx_subid_find_line(const char *content, const char *user, uint32_t id, struct sbx_id_range *out,
			unsigned int *line)
{
	const char *p = content;

	for (*line = 1; *p != '\0'; (*line)++) {
		const char *nl = strchrnul(p, '\n');

		if (parse_subid_line(p, (size_t)(nl - p), user, id, out))
			return 1;
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

int sbx_subid_find(const char *content, const char *user, uint32_t id, struct sbx_id_range *out)
{
	unsigned int line;

	return sbx_subid_find_line(content, user, id, out, &line);
}

/* The third field of a passwd or group line, its id; -1 when there is
 * none. */
static int64_t db_line_id(const char *line, size_t len, char *name, size_t name_len)
{
	const char *colon1 = memchr(line, ':', len);
	const char *colon2 = colon1 ? memchr(colon1 + 1, ':', len - (size_t)(colon1 + 1 - line)) : NULL;
	const char *end = line + len;
	uint64_t id = 0;
	const char *d;

	if (colon2 == NULL || line[0] == '#')
		return -1;
	for (d = colon2 + 1; d < end && *d >= '0' && *d <= '9'; d++) {
		id = id * 10 + (uint64_t)(*d - '0');
		if (id > UINT32_MAX)
			return -1;
	}
	if (d == colon2 + 1 || (d < end && *d != ':'))
		return -1;
	snprintf(name, name_len, "%.*s", (int)(colon1 - line), line);
	return (int64_t)id;
}

int sbx_id_range_check(const struct sbx_id_range *range, const char *db, char *why, size_t len)
{
	const char *p = db;

	if (range->start == 0) {
		snprintf(why, len, "starts at 0, host root's id");
		return -1;
	}
	while (*p != '\0') {
		const char *nl = strchrnul(p, '\n');
		char name[64];
		int64_t id = db_line_id(p, (size_t)(nl - p), name, sizeof(name));

		if (id >= range->start && (uint64_t)id - range->start < range->count) {
			snprintf(why, len, "holds %lld, the id of %s", (long long)id, name);
			return -1;
		}
		p = *nl ? nl + 1 : nl;
	}
	return 0;
}

static void add_entry(struct sbx_idmap *m, uint32_t inside, uint32_t outside, uint32_t count)
{
	if (count == 0 || m->n >= SBX_IDMAP_MAX)
		return;
	m->e[m->n++] = (struct sbx_idmap_entry){ inside, outside, count };
}

static int compare_entries(const void *a, const void *b)
{
	const struct sbx_idmap_entry *x = a, *y = b;

	return (x->inside > y->inside) - (x->inside < y->inside);
}

int sbx_idmap_build(uint32_t sandbox_id, uint32_t host_id, const struct sbx_id_range *background,
		    struct sbx_idmap *out)
{
	uint32_t holes[2];
	size_t n_holes = 0;
	uint32_t next = 0;

	memset(out, 0, sizeof(*out));
	if (background == NULL) {
		add_entry(out, sandbox_id, host_id, 1);
		return 0;
	}
	if (background->count == 0 || background->start > UINT32_MAX - background->count)
		return -1;
	/* The sandbox id is sent elsewhere, and the inside id whose background
	 * host id is HOST_ID must not map it a second time. */
	holes[n_holes++] = sandbox_id;
	if (host_id >= background->start && host_id - background->start < background->count &&
	    host_id - background->start != sandbox_id)
		holes[n_holes++] = host_id - background->start;
	if (n_holes == 2 && holes[1] < holes[0]) {
		uint32_t t = holes[0];

		holes[0] = holes[1];
		holes[1] = t;
	}
	for (size_t i = 0; i < n_holes; i++) {
		if (holes[i] >= background->count)
			break;
		add_entry(out, next, background->start + next, holes[i] - next);
		next = holes[i] + 1;
	}
	if (next < background->count)
		add_entry(out, next, background->start + next, background->count - next);
	add_entry(out, sandbox_id, host_id, 1);
	qsort(out->e, out->n, sizeof(out->e[0]), compare_entries);
	return 0;
}

int sbx_idmap_format(const struct sbx_idmap *map, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < map->n; i++) {
		int n = snprintf(buf + used, len - used, "%u %u %u\n", map->e[i].inside,
				 map->e[i].outside, map->e[i].count);

		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return 0;
}

uint32_t sbx_idmap_to_host(const struct sbx_idmap *map, uint32_t id)
{
	for (size_t i = 0; i < map->n; i++)
		if (id >= map->e[i].inside && id - map->e[i].inside < map->e[i].count)
			return map->e[i].outside + (id - map->e[i].inside);
	return (uint32_t)-1;
}

bool sbx_idmap_has_inside(const struct sbx_idmap *map, uint32_t id)
{
	return sbx_idmap_to_host(map, id) != (uint32_t)-1;
}

static const char *const helper_dirs[] = { "/usr/bin", "/usr/sbin", "/bin", "/sbin" };

/* newuidmap/newgidmap from the system directories only: they are setuid
 * helpers, and a caller's PATH is no place to look for one. */
bool sbx_find_map_helper(const char *name, char *path, size_t len)
{
	for (size_t i = 0; i < SBX_ARRAY_SIZE(helper_dirs); i++) {
		snprintf(path, len, "%s/%s", helper_dirs[i], name);
		if (access(path, X_OK) == 0)
			return true;
	}
	return false;
}

int sbx_read_subid_range(const char *file, const char *user, uint32_t id, struct sbx_id_range *out)
{
	struct sbx_error ignored;
	cleanup_free char *content = NULL;

	if (sbx_read_file(file, SUBID_FILE_MAX, &content, &ignored) < 0)
		return 0;
	return sbx_subid_find(content, user, id, out);
}

/* Whether OWNER (a host uid) has group GID: its primary group or one
 * /etc/group lists it in.  A uid without a passwd entry has no group we
 * can name; it is granted only a group number that /etc/group does not
 * name either (its user-private group, as a test or a removed account
 * leaves it), never a named one such as disk or shadow. */
static bool owner_has_group(uint32_t owner, uint32_t gid)
{
	struct passwd *pw = getpwuid(owner);
	gid_t groups[256];
	int n = SBX_ARRAY_SIZE(groups);

	if (pw == NULL)
		return getgrgid(gid) == NULL;
	if (pw->pw_gid == gid)
		return true;
	if (getgrouplist(pw->pw_name, pw->pw_gid, groups, &n) < 0)
		return false;
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* The host group whose rights the sandbox has in a workspace owned by
 * OWNER with group WS_GID: never one the owner does not have (a root:disk
 * workspace must not hand out group disk), so the workspace's group when
 * the owner has it, else the owner's primary group, else NONE. */
static uint32_t owner_group(uint32_t owner, uint32_t ws_gid, uint32_t none)
{
	struct passwd *pw;

	if (owner_has_group(owner, ws_gid))
		return ws_gid;
	pw = getpwuid(owner);
	return pw != NULL ? (uint32_t)pw->pw_gid : none;
}

/* Root's range in FILE, if it has one, checked against the real ids of
 * DB: sbx maps the sandbox's ids into it, so a range over host root or a
 * user would hand the sandbox their files. */
static int read_root_range(const char *file, const char *db_file, struct sbx_id_range *out,
			   struct sbx_error *err)
{
	struct sbx_error ignored;
	cleanup_free char *content = NULL;
	cleanup_free char *db = NULL;
	unsigned int line;
	char why[128];

	if (sbx_read_file(file, SUBID_FILE_MAX, &content, &ignored) < 0 ||
	    !sbx_subid_find_line(content, "root", 0, out, &line))
		return 0;
	if (sbx_read_file(db_file, ID_DB_MAX, &db, err) < 0)
		return sbx_error_wrap(err, "checking root's range in %s", file);
	if (sbx_id_range_check(out, db, why, sizeof(why)) < 0) {
		sbx_fail(err, 0, "%s line %u: root's range %u:%u %s%s%s", file, line, out->start, out->count, why,
			 out->start != 0 ? " in " : "", out->start != 0 ? db_file : "");
		return sbx_error_hint(err, "sbx runs sandboxes as root under this range and never as a real user: "
					   "give root a range of unused ids (or remove the line: sbx then uses %u:%u)",
				      SBX_ROOT_RANGE_BASE, SBX_ROOT_RANGE_COUNT);
	}
	return 0;
}

static int plan_root(uint32_t uid, uint32_t gid, int64_t ws_uid, int64_t ws_gid,
		     struct sbx_idplan *plan, struct sbx_error *err)
{
	struct sbx_id_range uids = { SBX_ROOT_RANGE_BASE, SBX_ROOT_RANGE_COUNT };
	struct sbx_id_range gids = uids;
	uint32_t host_uid, host_gid, owner_gid = 0;

	if (read_root_range("/etc/subuid", "/etc/passwd", &uids, err) < 0 ||
	    read_root_range("/etc/subgid", "/etc/group", &gids, err) < 0)
		return -1;
	/* Never host root: a root-owned workspace is idmapped instead.  So is
	 * every workspace of a sandbox that runs as uid 0 (--user 0): its root
	 * is then the image's (the range's first id owns the image's root
	 * files, which --writable-root lets it change), and the workspace's
	 * owner is shown to it as itself through the idmapped mount. */
	plan->workspace_idmapped = ws_uid == 0 || (ws_uid > 0 && uid == 0);
	host_uid = ws_uid > 0 && !plan->workspace_idmapped ? (uint32_t)ws_uid : uids.start + uid;
	host_gid = gids.start + gid;
	/* The group a user's workspace gets on disk: one of its owner's, never
	 * 0; for an owner without any known group, one range id whatever the
	 * --user, so that runs as uid 0 (idmapped) and as others agree on it
	 * (an idmapped mount refuses to delete a file whose group it does not
	 * map). */
	if (ws_uid > 0)
		owner_gid = ws_gid >= 0 ? owner_group((uint32_t)ws_uid, (uint32_t)ws_gid, 0) : 0;
	if (owner_gid == 0)
		owner_gid = gids.start + SBX_DEFAULT_GID;
	/* The process never holds host gid 0: it would reach root's group
	 * files in every mount, not only in the workspace. */
	if (ws_uid > 0 && !plan->workspace_idmapped)
		host_gid = owner_gid;
	/* Idmapped, the sandbox's group is stored on disk as a group of
	 * root's: the workspace's when root has it, else root's own 0.  Files
	 * the sandbox creates there are then root:root, which is acceptable
	 * only because no set-id bit can ever be set on them (the host-safety
	 * seccomp filter) and they are root's files anyway: the idmap shows
	 * the sandbox every root-owned file of the workspace as its own. */
	if (plan->workspace_idmapped) {
		uint32_t owner = (uint32_t)ws_uid;
		uint32_t disk_gid = owner != 0 ? owner_gid : ws_gid >= 0 ? owner_group(0, (uint32_t)ws_gid, 0) : 0;

		sbx_idmap_build(owner, host_uid, NULL, &plan->workspace_uid);
		sbx_idmap_build(disk_gid, host_gid, NULL, &plan->workspace_gid);
		/* The kernel refuses writes below an inode whose group the
		 * mount does not map: show the workspace's own group as the
		 * range's last id, a group the sandbox user never has. */
		if (ws_gid >= 0 && (uint32_t)ws_gid != disk_gid && gid != gids.count - 1)
			add_entry(&plan->workspace_gid, (uint32_t)ws_gid, gids.start + gids.count - 1, 1);
	}
	if (uid >= uids.count || gid >= gids.count)
		return sbx_fail(err, 0, "--user %u:%u: outside the %u ids sbx maps", uid, gid,
				uids.count);
	plan->writer = SBX_IDMAP_DIRECT;
	plan->setgroups_allowed = true;
	if (sbx_idmap_build(uid, host_uid, &uids, &plan->uid) < 0 ||
	    sbx_idmap_build(gid, host_gid, &gids, &plan->gid) < 0)
		return sbx_fail(err, 0, "/etc/subuid or /etc/subgid: bad range for root");
	return 0;
}

static int plan_rootless(uint32_t uid, uint32_t gid, struct sbx_idplan *plan,
			 struct sbx_error *err)
{
	uid_t caller = getuid();
	gid_t caller_gid = getgid();
	struct passwd *pw = getpwuid(caller);
	const char *name = pw ? pw->pw_name : NULL;
	struct sbx_id_range uids, gids;
	char path[64];
	bool ranges = sbx_read_subid_range("/etc/subuid", name, caller, &uids) &&
		      sbx_read_subid_range("/etc/subgid", name, caller, &gids) &&
		      sbx_find_map_helper("newuidmap", path, sizeof(path)) &&
		      sbx_find_map_helper("newgidmap", path, sizeof(path));

	plan->writer = ranges ? SBX_IDMAP_HELPERS : SBX_IDMAP_SINGLE;
	plan->setgroups_allowed = ranges;
	if (sbx_idmap_build(uid, caller, ranges ? &uids : NULL, &plan->uid) < 0 ||
	    sbx_idmap_build(gid, caller_gid, ranges ? &gids : NULL, &plan->gid) < 0)
		return sbx_fail(err, 0, "/etc/subuid or /etc/subgid: bad range for %s",
				name ? name : "the caller");
	return 0;
}

bool sbx_is_host_root(void)
{
	struct sbx_error ignored;
	cleanup_free char *map = NULL;
	unsigned long inside, outside, count;

	if (geteuid() != 0)
		return false;
	/* Root of a container's user namespace can map only what it was
	 * given: it is treated as rootless. */
	if (sbx_read_file("/proc/self/uid_map", 4096, &map, &ignored) < 0 ||
	    sscanf(map, "%lu %lu %lu", &inside, &outside, &count) != 3)
		return false;
	return inside == 0 && outside == 0 && count == 4294967295UL;
}

int sbx_idplan_make(uint32_t uid, uint32_t gid, int64_t ws_uid, int64_t ws_gid,
		    struct sbx_idplan *plan, struct sbx_error *err)
{
	int r;

	memset(plan, 0, sizeof(*plan));
	r = sbx_is_host_root() ? plan_root(uid, gid, ws_uid, ws_gid, plan, err)
			   : plan_rootless(uid, gid, plan, err);
	if (r < 0)
		return r;
	plan->setup_uid = sbx_idmap_has_inside(&plan->uid, 0) ? 0 : uid;
	plan->setup_gid = sbx_idmap_has_inside(&plan->gid, 0) ? 0 : gid;
	return 0;
}

/* newuidmap/newgidmap PID in out count..., as one argument vector. */
struct map_helper_args {
	char path[64], pid[16], nums[SBX_IDMAP_MAX * 3][16];
	char *argv[2 + SBX_IDMAP_MAX * 3 + 1];
};

static int map_helper_args(const char *name, pid_t pid, const struct sbx_idmap *map, struct map_helper_args *a,
			   struct sbx_error *err)
{
	size_t argc = 0;

	if (!sbx_find_map_helper(name, a->path, sizeof(a->path)))
		return sbx_fail(err, ENOENT, "%s", name);
	snprintf(a->pid, sizeof(a->pid), "%d", pid);
	a->argv[argc++] = a->path;
	a->argv[argc++] = a->pid;
	for (size_t i = 0; i < map->n; i++) {
		snprintf(a->nums[3 * i], sizeof(a->nums[0]), "%u", map->e[i].inside);
		snprintf(a->nums[3 * i + 1], sizeof(a->nums[0]), "%u", map->e[i].outside);
		snprintf(a->nums[3 * i + 2], sizeof(a->nums[0]), "%u", map->e[i].count);
		a->argv[argc++] = a->nums[3 * i];
		a->argv[argc++] = a->nums[3 * i + 1];
		a->argv[argc++] = a->nums[3 * i + 2];
	}
	a->argv[argc] = NULL;
	return 0;
}

/* Collect a started helper; its output goes into ERR when it failed. */
static int map_helper_finish(const char *name, struct sbx_capture *c, struct sbx_error *err)
{
	char output[512] = "";
	int status;

	if (sbx_capture_finish(c, output, sizeof(output), &status, err) < 0)
		return sbx_error_wrap(err, "%s", name);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		output[strcspn(output, "\n")] = '\0';
		return sbx_fail(err, 0, "%s failed: %s", name, output[0] ? output : "no message");
	}
	return 0;
}

/* Both at once: each is a setuid program whose start-up (the dynamic
 * loader with libaudit and libselinux, NSS, /etc/login.defs and
 * /etc/subuid) costs ~1.3 ms here, and they write different files. */
static int run_map_helpers(pid_t pid, const struct sbx_idplan *plan, struct sbx_error *err)
{
	char *const envp[] = { NULL };
	struct map_helper_args uid, gid;
	struct sbx_capture uc, gc;
	struct sbx_error gid_err = { 0 };
	int r;

	if (map_helper_args("newuidmap", pid, &plan->uid, &uid, err) < 0 ||
	    map_helper_args("newgidmap", pid, &plan->gid, &gid, err) < 0)
		return -1;
	if (sbx_capture_start(uid.path, uid.argv, envp, &uc, err) < 0)
		return sbx_error_wrap(err, "newuidmap");
	if (sbx_capture_start(gid.path, gid.argv, envp, &gc, &gid_err) < 0) {
		struct sbx_error ignored;

		(void)map_helper_finish("newuidmap", &uc, &ignored);
		*err = gid_err;
		return sbx_error_wrap(err, "newgidmap");
	}
	r = map_helper_finish("newuidmap", &uc, err);
	if (map_helper_finish("newgidmap", &gc, &gid_err) < 0 && r == 0) {
		*err = gid_err;
		r = -1;
	}
	return r;
}

static int write_map_file(int procfd, const char *file, const struct sbx_idmap *map,
			  struct sbx_error *err)
{
	char text[SBX_IDMAP_MAX * 40];

	if (sbx_idmap_format(map, text, sizeof(text)) < 0)
		return sbx_fail(err, EOVERFLOW, "formatting %s", file);
	return sbx_write_file_at(procfd, file, text, err);
}

int sbx_idplan_apply(const struct sbx_idplan *plan, pid_t pid, struct sbx_error *err)
{
	char procdir[32];
	cleanup_close int procfd = -1;

	if (plan->writer == SBX_IDMAP_HELPERS) {
		if (run_map_helpers(pid, plan, err) < 0)
			return sbx_error_hint(err, "check your ranges in /etc/subuid and /etc/subgid");
		return 0;
	}
	snprintf(procdir, sizeof(procdir), "/proc/%d", pid);
	procfd = open(procdir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (procfd < 0)
		return sbx_fail(err, errno, "opening %s", procdir);
	/* An unprivileged writer must deny setgroups before it may write
	 * gid_map; otherwise the sandbox could drop a group that is there to
	 * deny it access. */
	if (plan->writer == SBX_IDMAP_SINGLE &&
	    sbx_write_file_at(procfd, "setgroups", "deny", err) < 0)
		return -1;
	if (write_map_file(procfd, "uid_map", &plan->uid, err) < 0 ||
	    write_map_file(procfd, "gid_map", &plan->gid, err) < 0)
		return -1;
	return 0;
}

int sbx_userns_with_maps(const struct sbx_idmap *uid, const struct sbx_idmap *gid,
			 struct sbx_error *err)
{
	struct sbx_idplan plan = { .writer = SBX_IDMAP_DIRECT, .uid = *uid, .gid = *gid };
	int ready[2], hold[2], nsfd = -1;
	char path[64], c;
	pid_t pid;

	if (pipe2(ready, O_CLOEXEC) < 0)
		return sbx_fail(err, errno, "pipe");
	if (pipe2(hold, O_CLOEXEC) < 0) {
		close(ready[0]);
		close(ready[1]);
		return sbx_fail(err, errno, "pipe");
	}
	pid = fork();
	if (pid == 0) {
		/* Live in a new user namespace until the parent has its fd. */
		close(ready[0]);
		close(hold[1]);
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		(void)!read(hold[0], &c, 1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (pid < 0) {
		sbx_fail(err, errno, "fork");
	} else if (read(ready[0], &c, 1) != 1) {
		sbx_fail(err, 0, "creating a user namespace for an idmapped mount failed");
	} else if (sbx_idplan_apply(&plan, pid, err) == 0) {
		snprintf(path, sizeof(path), "/proc/%d/ns/user", pid);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		if (nsfd < 0)
			sbx_fail(err, errno, "opening %s", path);
	}
	close(ready[0]);
	close(hold[1]);
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	return nsfd;
}

void sbx_idplan_describe(const struct sbx_idplan *plan, char *buf, size_t len)
{
	static const char *const names[] = {
		[SBX_IDMAP_DIRECT] = "written by sbx (root)",
		[SBX_IDMAP_HELPERS] = "newuidmap/newgidmap with the caller's subordinate ranges",
		[SBX_IDMAP_SINGLE] = "single id, setgroups denied (no subordinate ranges)",
	};
	char u[SBX_IDMAP_MAX * 40], g[SBX_IDMAP_MAX * 40];

	sbx_idmap_format(&plan->uid, u, sizeof(u));
	sbx_idmap_format(&plan->gid, g, sizeof(g));
	for (char *p = u; *p; p++)
		if (*p == '\n')
			*p = ';';
	for (char *p = g; *p; p++)
		if (*p == '\n')
			*p = ';';
	snprintf(buf, len, "%s; uid_map %s gid_map %s", names[plan->writer], u, g);
}
