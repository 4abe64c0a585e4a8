/* The state directory of the OCI runtime: ROOT/ID/state.json.
 *
 * ROOT is the caller's choice (--root) but what sbx finds there decides
 * which process `kill` signals and what `delete` removes, so the root must
 * be a directory of the caller's that nobody else may write to, and
 * nothing below it is reached through a symbolic link: every entry is
 * opened with openat(O_NOFOLLOW) from the checked root's fd. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/nsfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "json.h"
#include "oci_runtime.h"
#include "util.h"

#define STATE_FILE "state.json"
#define STATE_TMP "state.json.tmp"
#define STATE_MAX (64u << 10)

int sbx_oci_valid_id(const char *id, struct sbx_error *err)
{
	size_t len = id == NULL ? 0 : strlen(id);

	if (len == 0)
		return sbx_fail(err, 0, "container id cannot be empty");
	if (len > SBX_OCI_ID_MAX)
		return sbx_fail(err, 0, "invalid container id: longer than %d bytes", SBX_OCI_ID_MAX);
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
		return sbx_fail(err, 0, "invalid container id '%s'", id);
	for (size_t i = 0; i < len; i++) {
		char c = id[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      c == '+' || c == '-' || c == '.'))
			return sbx_fail(err, 0, "invalid container id '%.64s': only [A-Za-z0-9_+.-] are allowed",
					id);
	}
	return 0;
}

int sbx_oci_default_root(const struct sbx_oci_globals *g, char *out, size_t len, struct sbx_error *err)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	const char *user = getenv("USER");
	bool use_xdg = xdg != NULL && xdg[0] == '/' &&
		       (geteuid() != 0 || (g->rootless && (user == NULL || strcmp(user, "root") != 0)));

	/* runc's rule, which the engines expect: $XDG_RUNTIME_DIR for an
	 * unprivileged caller and for root in a user namespace that is not
	 * root's (rootless podman runs its runtime so, with it set); podman as
	 * root sets it empty. */
	if (g->root != NULL && g->root[0] != '\0')
		n = snprintf(out, len, "%s", g->root);
	else if (use_xdg)
		n = snprintf(out, len, "%s/sbx", xdg);
	else if (geteuid() == 0)
		n = snprintf(out, len, "/run/sbx");
	else
		return sbx_fail(err, 0, "no state directory: XDG_RUNTIME_DIR is not set (give --root DIR)");
	if (n < 0 || (size_t)n >= len)
		return sbx_fail(err, ENAMETOOLONG, "the state directory");
	return 0;
}

/* Others may not write where sbx keeps what decides which pid it signals. */
static int check_private_dir(int fd, const char *what, struct sbx_error *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "%s", what);
	if (!S_ISDIR(st.st_mode))
		return sbx_fail(err, ENOTDIR, "%s", what);
	if (st.st_uid != geteuid())
		return sbx_fail(err, 0, "%s belongs to uid %u, not to you (uid %u): refused", what,
				(unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return sbx_fail(err, 0, "%s is writable by others (mode %04o): refused", what,
				(unsigned)(st.st_mode & 07777));
	return 0;
}

/* The parent of ROOT is the caller's to choose (/var/run is a link to /run
 * on Debian); ROOT itself is opened without following a link. */
/* The missing directories of PATH, 0700 each (containerd's shim gives a
 * --root whose parent it has not made; runc makes them all). */
static int make_parents(const char *path, struct sbx_error *err)
{
	char p[PATH_MAX];

	snprintf(p, sizeof(p), "%s", path);
	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s != NULL)
			*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "making the state directory's parent %s", p);
		if (s == NULL)
			return 0;
		*s = '/';
	}
}

int sbx_oci_root_open(const struct sbx_oci_globals *g, bool create, int *rootfd, struct sbx_error *err)
{
	char path[PATH_MAX], parent[PATH_MAX];
	const char *base;
	char *slash;
	cleanup_close int pfd = -1;
	int fd;

	if (sbx_oci_default_root(g, path, sizeof(path), err) < 0)
		return -1;
	while (strlen(path) > 1 && path[strlen(path) - 1] == '/')
		path[strlen(path) - 1] = '\0';
	slash = strrchr(path, '/');
	if (slash == NULL) {
		snprintf(parent, sizeof(parent), ".");
		base = path;
	} else if (slash == path) {
		snprintf(parent, sizeof(parent), "/");
		base = slash + 1;
	} else {
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - path), path);
		base = slash + 1;
	}
	if (base[0] == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return sbx_fail(err, 0, "state directory %s: give a directory of its own", path);
	pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd < 0 && errno == ENOENT && create) {
		if (make_parents(parent, err) < 0)
			return -1;
		pfd = open(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	}
	if (pfd < 0)
		return sbx_fail(err, errno, "state directory %s", parent);
	if (create && mkdirat(pfd, base, 0700) < 0 && errno != EEXIST)
		return sbx_fail(err, errno, "making the state directory %s", path);
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOTDIR)
		return sbx_fail(err, ENOTDIR, "state directory %s (a symbolic link is refused)", path);
	if (fd < 0 && errno == ELOOP)
		return sbx_fail(err, 0, "state directory %s is a symbolic link: refused", path);
	if (fd < 0)
		return sbx_fail(err, errno, "state directory %s", path);
	{
		char what[PATH_MAX + 32];

		snprintf(what, sizeof(what), "state directory %s", path);
		if (check_private_dir(fd, what, err) < 0) {
			close(fd);
			return -1;
		}
	}
	*rootfd = fd;
	return 0;
}

int sbx_oci_state_open(const struct sbx_oci_globals *g, const char *id, bool create, int *dirfd,
		       struct sbx_error *err)
{
	cleanup_close int root = -1;
	int fd;

	if (sbx_oci_valid_id(id, err) < 0)
		return -1;
	if (sbx_oci_root_open(g, create, &root, err) < 0) {
		if (!create && err->err == ENOENT)
			return sbx_fail(err, 0, "container does not exist: %s", id);
		return -1;
	}
	if (create && mkdirat(root, id, 0700) < 0) {
		if (errno == EEXIST)
			return sbx_fail(err, 0, "container with id exists: %s", id);
		return sbx_fail(err, errno, "making the state of container %s", id);
	}
	fd = openat(root, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return sbx_fail(err, 0, "container does not exist: %s", id);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR))
		return sbx_fail(err, 0, "container %s: its state is not a directory (a symbolic link?): refused",
				id);
	if (fd < 0)
		return sbx_fail(err, errno, "opening the state of container %s", id);
	{
		char what[SBX_OCI_ID_MAX + 32];

		snprintf(what, sizeof(what), "the state of container %s", id);
		if (check_private_dir(fd, what, err) < 0) {
			close(fd);
			return -1;
		}
	}
	*dirfd = fd;
	return 0;
}

int sbx_oci_state_lock(int dirfd, struct sbx_error *err)
{
	while (flock(dirfd, LOCK_EX) < 0)
		if (errno != EINTR)
			return sbx_fail(err, errno, "locking the container's state");
	return 0;
}

static int state_text(const struct sbx_oci_state *st, char **out, struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	int r;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "writing the state");
	yajl_gen_map_open(g);
	sbx_json_gen_str(g, "id", st->id);
	sbx_json_gen_str(g, "bundle", st->bundle);
	sbx_json_gen_uint(g, "pid", (uint64_t)st->pid);
	sbx_json_gen_uint(g, "pidStart", st->pid_start);
	sbx_json_gen_str(g, "created", st->created);
	sbx_json_gen_uint(g, "owner", st->owner);
	sbx_json_gen_str(g, "cgroup", st->cgroup);
	sbx_json_gen_key(g, "cgroupOwned");
	yajl_gen_bool(g, st->cgroup_owned);
	sbx_json_gen_key(g, "ownPidNs");
	yajl_gen_bool(g, st->own_pid_ns);
	sbx_json_gen_key(g, "runsc");
	yajl_gen_bool(g, st->runsc);
	sbx_json_gen_key(g, "runscNetworkNone");
	yajl_gen_bool(g, st->runsc_network_none);
	sbx_json_gen_str(g, "runscPath", st->runsc_path);
	yajl_gen_map_close(g);
	r = sbx_json_gen_text(g, out, err);
	yajl_gen_free(g);
	return r;
}

/* Readers never see half a state: a new file renamed over the old one. */
int sbx_oci_state_write(int dirfd, const struct sbx_oci_state *st, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	cleanup_close int fd = -1;

	if (state_text(st, &text, err) < 0)
		return -1;
	if (unlinkat(dirfd, STATE_TMP, 0) < 0 && errno != ENOENT)
		return sbx_fail(err, errno, "writing the state: removing %s", STATE_TMP);
	fd = openat(dirfd, STATE_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sbx_fail(err, errno, "writing the state: %s", STATE_TMP);
	if (sbx_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)
		return sbx_fail(err, errno, "writing the state: %s", STATE_TMP);
	if (renameat(dirfd, STATE_TMP, dirfd, STATE_FILE) < 0)
		return sbx_fail(err, errno, "writing the state: %s", STATE_FILE);
	return 0;
}

static int copy_string(const sbx_json *doc, const char *key, char *out, size_t len, struct sbx_error *err)
{
	const char *s = sbx_json_string(sbx_json_get(doc, key));

	if (s == NULL || strlen(s) >= len)
		return sbx_fail(err, 0, "%s: \"%s\" missing or too long", STATE_FILE, key);
	memcpy(out, s, strlen(s) + 1);
	return 0;
}

static int read_uint(const sbx_json *doc, const char *key, uint64_t max, uint64_t *out, struct sbx_error *err)
{
	if (sbx_json_uint64(sbx_json_get(doc, key), out) < 0 || *out > max)
		return sbx_fail(err, 0, "%s: \"%s\" missing or out of range", STATE_FILE, key);
	return 0;
}

int sbx_oci_state_read(int dirfd, struct sbx_oci_state *st, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, STATE_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_free char *text = NULL;
	sbx_json *doc = NULL;
	uint64_t pid, start, owner;
	struct stat sb;
	int r;

	memset(st, 0, sizeof(*st));
	if (fd < 0)
		return sbx_fail(err, errno, "reading the container's state");
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return sbx_fail(err, errno ? errno : EINVAL, "reading the container's state: not a file");
	if (sbx_read_fd(fd, STATE_FILE, STATE_MAX, &text, err) < 0 ||
	    sbx_json_parse(text, STATE_FILE, &doc, err) < 0)
		return -1;
	r = copy_string(doc, "id", st->id, sizeof(st->id), err) < 0 ||
	    copy_string(doc, "bundle", st->bundle, sizeof(st->bundle), err) < 0 ||
	    copy_string(doc, "created", st->created, sizeof(st->created), err) < 0 ||
	    copy_string(doc, "cgroup", st->cgroup, sizeof(st->cgroup), err) < 0 ||
	    read_uint(doc, "pid", INT_MAX, &pid, err) < 0 || read_uint(doc, "pidStart", UINT64_MAX, &start, err) < 0 ||
	    read_uint(doc, "owner", UINT32_MAX, &owner, err) < 0 ? -1 : 0;
	if (r == 0) {
		st->pid = (pid_t)pid;
		st->pid_start = start;
		st->owner = (uint32_t)owner;
		st->cgroup_owned = sbx_json_is_true(sbx_json_get(doc, "cgroupOwned"));
		st->own_pid_ns = sbx_json_is_true(sbx_json_get(doc, "ownPidNs"));
		st->runsc = sbx_json_is_true(sbx_json_get(doc, "runsc"));
		st->runsc_network_none = sbx_json_is_true(sbx_json_get(doc, "runscNetworkNone"));
		if (sbx_json_string(sbx_json_get(doc, "runscPath")) != NULL)
			snprintf(st->runsc_path, sizeof(st->runsc_path), "%s",
				 sbx_json_string(sbx_json_get(doc, "runscPath")));
	}
	sbx_json_free(doc);
	return r;
}

void sbx_oci_now(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, len - n, ".%09ldZ", ts.tv_nsec);
}

int sbx_oci_proc_stat(pid_t pid, char *state, unsigned long long *start)
{
	char path[64], buf[1024], *p;
	cleanup_close int fd = -1;
	ssize_t n;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the fields start after the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return -1;
	p += 2;
	*state = *p;
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return -1;
		p++;
	}
	*start = strtoull(p, NULL, 10);
	return 0;
}

bool sbx_oci_pid_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	char state;

	if (pid <= 0 || sbx_oci_proc_stat(pid, &state, &now) < 0)
		return false;
	/* a zombie has finished: what is left is its exit status for its parent */
	return now == start && state != 'Z' && state != 'X';
}

enum sbx_oci_status sbx_oci_status(int dirfd, const struct sbx_oci_state *st)
{
	struct stat sb;

	if (st->pid == 0)
		return SBX_OCI_CREATING;
	if (!sbx_oci_pid_alive(st->pid, st->pid_start))
		return SBX_OCI_STOPPED;
	if (fstatat(dirfd, "exec.fifo", &sb, AT_SYMLINK_NOFOLLOW) == 0)
		return SBX_OCI_CREATED;
	return SBX_OCI_RUNNING;
}

const char *sbx_oci_status_name(enum sbx_oci_status s)
{
	switch (s) {
	case SBX_OCI_CREATING:
		return "creating";
	case SBX_OCI_CREATED:
		return "created";
	case SBX_OCI_RUNNING:
		return "running";
	case SBX_OCI_STOPPED:
		break;
	}
	return "stopped";
}

int sbx_oci_state_config(int dirfd, struct sbx_oci_config *cfg, struct sbx_error *err)
{
	cleanup_close int fd = openat(dirfd, "config.json", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	cleanup_free char *text = NULL;
	struct stat sb;

	memset(cfg, 0, sizeof(*cfg));
	if (fd < 0)
		return sbx_fail(err, errno, "reading the container's saved config.json");
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode))
		return sbx_fail(err, errno ? errno : EINVAL, "reading the container's saved config.json: not a file");
	if (sbx_read_fd(fd, "config.json", SBX_OCI_CONFIG_MAX, &text, err) < 0)
		return -1;
	return sbx_oci_config_parse(text, "config.json", cfg, err);
}

/* Depth-first, no link followed (unlinkat removes a link, not its target). */
static int remove_tree_at(int parent, const char *name, int depth, struct sbx_error *err)
{
	int fd;
	DIR *d;
	struct dirent *e;
	int r = 0;

	if (unlinkat(parent, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return sbx_fail(err, errno, "removing %s", name);
	if (depth > 16)
		return sbx_fail(err, ELOOP, "removing %s", name);
	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sbx_fail(err, errno, "removing %s", name);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return sbx_fail(err, errno, "removing %s", name);
	}
	while (r == 0 && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			r = remove_tree_at(dirfd(d), e->d_name, depth + 1, err);
	closedir(d);
	if (r == 0 && unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return sbx_fail(err, errno, "removing %s", name);
	return r;
}

int sbx_oci_state_remove(const struct sbx_oci_globals *g, const char *id, struct sbx_error *err)
{
	cleanup_close int root = -1;

	if (sbx_oci_valid_id(id, err) < 0 || sbx_oci_root_open(g, false, &root, err) < 0)
		return -1;
	if (remove_tree_at(root, id, 0, err) < 0)
		return sbx_error_wrap(err, "removing the state of container %s", id);
	return 0;
}

static int ns_of(pid_t pid, struct stat *out)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	return stat(path, out);
}

/* PID's pid namespace is NS or lies below it (the container may nest
 * namespaces of its own). */
static bool in_pid_ns(pid_t pid, const struct stat *ns)
{
	char path[64];
	struct stat sb;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	for (int depth = 0; depth < 33; depth++) {
		int up;

		if (fstat(fd, &sb) < 0)
			break;
		if (sb.st_dev == ns->st_dev && sb.st_ino == ns->st_ino) {
			close(fd);
			return true;
		}
		up = ioctl(fd, NS_GET_PARENT);
		close(fd);
		fd = up;
		if (fd < 0)
			return false;
	}
	close(fd);
	return false;
}

static int add_pid(pid_t **pids, size_t *n, size_t *cap, pid_t pid, struct sbx_error *err)
{
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		pid_t *np = realloc(*pids, ncap * sizeof(**pids));

		if (np == NULL)
			return sbx_fail(err, ENOMEM, "listing the container's processes");
		*pids = np;
		*cap = ncap;
	}
	(*pids)[(*n)++] = pid;
	return 0;
}

int sbx_oci_container_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n, struct sbx_error *err)
{
	struct stat ns;
	size_t cap = 0;
	DIR *proc;
	struct dirent *e;

	*pids = NULL;
	*n = 0;
	if (!sbx_oci_pid_alive(st->pid, st->pid_start))
		return 0;
	if (!st->own_pid_ns && st->cgroup[0] != '\0')
		return sbx_oci_cgroup_pids(st, pids, n, err);
	if (!st->own_pid_ns)
		return add_pid(pids, n, &cap, st->pid, err);
	if (ns_of(st->pid, &ns) < 0)
		return sbx_fail(err, errno, "the pid namespace of container %s", st->id);
	/* the init still being the one recorded: its namespace is the container's */
	if (!sbx_oci_pid_alive(st->pid, st->pid_start))
		return 0;
	proc = opendir("/proc");
	if (proc == NULL)
		return sbx_fail(err, errno, "listing /proc");
	while ((e = readdir(proc)) != NULL) {
		char *end;
		long pid = strtol(e->d_name, &end, 10);

		if (*end != '\0' || pid <= 0 || !in_pid_ns((pid_t)pid, &ns))
			continue;
		if (add_pid(pids, n, &cap, (pid_t)pid, err) < 0) {
			closedir(proc);
			free(*pids);
			*pids = NULL;
			return -1;
		}
	}
	closedir(proc);
	return 0;
}

/* Stand-ins for oci_cgroup.c's, which replace them at link time: they
 * know no cgroup, so a state that records one is an error, not a cgroup
 * left behind or a process missed. */
__attribute__((weak)) int sbx_oci_cgroup_remove(const struct sbx_oci_state *st, struct sbx_error *err)
{
	if (st->cgroup[0] == '\0')
		return 0;
	return sbx_fail(err, 0, "removing cgroup %s of container %s: not implemented", st->cgroup, st->id);
}

__attribute__((weak)) int sbx_oci_cgroup_pids(const struct sbx_oci_state *st, pid_t **pids, size_t *n,
					      struct sbx_error *err)
{
	*pids = NULL;
	*n = 0;
	if (st->cgroup[0] == '\0')
		return 0;
	return sbx_fail(err, 0, "listing cgroup %s of container %s: not implemented", st->cgroup, st->id);
}
