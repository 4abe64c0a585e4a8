#include "statedirs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"
#include "util.h"

#define WALK_MAX 4096

/* The trusted base of the cache (the caller's own cache home, or root's
 * /var/cache) in BASE, and the rest of the path below it in REST. */
static int cache_base(char *base, size_t blen, const char **rest)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0) {
		n = snprintf(base, blen, "/var/cache");
		*rest = "sbx/seccomp";
	} else if (xdg != NULL && xdg[0] == '/') {
		n = snprintf(base, blen, "%s", xdg);
		*rest = "sbx/seccomp";
	} else if (home != NULL && home[0] == '/') {
		n = snprintf(base, blen, "%s", home);
		*rest = ".cache/sbx/seccomp";
	} else {
		return -1;
	}
	return n < 0 || (size_t)n >= blen ? -1 : 0;
}

int sbx_cache_dir_path(char *out, size_t len)
{
	char base[PATH_MAX];
	const char *rest;
	int n;

	if (cache_base(base, sizeof(base), &rest) < 0)
		return -1;
	n = snprintf(out, len, "%s/%s", base, rest);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Whether a directory of the cache's path is the caller's alone: the last
 * closed to everyone else; a parent at least to other users (writable by
 * its owner's own group too, with a umask of 002 and a group per user, is
 * still only the user's, not root's). */
static bool safe_dir(const struct stat *st, bool last)
{
	if (st->st_uid != geteuid())
		return false;
	if (last)
		return (st->st_mode & 077) == 0;
	return (st->st_mode & 002) == 0 && ((st->st_mode & 020) == 0 || (geteuid() != 0 && st->st_gid == getegid()));
}

/* NAME in DIR, made if missing, opened without following a symlink, and
 * safe (safe_dir). */
static int open_owned_dir(int dir, const char *name, bool last)
{
	/* Root's /var/cache/sbx also holds the layouts rootfs/build makes. */
	mode_t mode = geteuid() == 0 && !last ? 0755 : 0700;
	struct stat st;
	int fd;

	if (mkdirat(dir, name, mode) < 0 && errno != EEXIST)
		return -1;
	fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !safe_dir(&st, last)) {
		close(fd);
		return -1;
	}
	return fd;
}

int sbx_cache_dir_open(void)
{
	char base[PATH_MAX], rest[64];
	const char *tail;
	char *save = NULL;
	int fd;

	if (cache_base(base, sizeof(base), &tail) < 0)
		return -1;
	snprintf(rest, sizeof(rest), "%s", tail);
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (char *name = strtok_r(rest, "/", &save); fd >= 0 && name != NULL; name = strtok_r(NULL, "/", &save)) {
		int next = open_owned_dir(fd, name, save == NULL || *save == '\0');

		close(fd);
		fd = next;
	}
	return fd;
}

/* ---- keeping sandboxes away ---- */

static bool same_dir(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether the directory FD (an O_PATH fd, consumed) or one of its
 * ancestors up to / is TARGET. */
static bool at_or_below(int fd, const struct stat *target)
{
	bool found = false;

	for (int i = 0; fd >= 0 && i < WALK_MAX; i++) {
		struct stat st, up;
		int parent;

		if (fstat(fd, &st) < 0)
			break;
		if (same_dir(&st, target)) {
			found = true;
			break;
		}
		parent = openat(fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || fstat(parent, &up) < 0 || same_dir(&up, &st)) {
			if (parent >= 0)
				close(parent);
			break; /* the top */
		}
		close(fd);
		fd = parent;
	}
	if (fd >= 0)
		close(fd);
	return found;
}

/* PATH, or the nearest of its ancestors that exists (what a sandbox could
 * create PATH in), as an O_PATH fd; EXISTS says which. */
static int open_nearest(const char *path, bool *exists)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	*exists = true;
	for (;;) {
		int fd = open(buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
		char *slash;

		if (fd >= 0 || errno != ENOENT)
			return fd;
		*exists = false;
		slash = strrchr(buf, '/');
		if (slash == NULL || slash == buf)
			return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		*slash = '\0';
	}
}

/* Refuse the writable host directory SRC (what: "the workspace", ...) if
 * it contains the state directory STATE or lies inside it. */
static int check_one(const char *what, const char *src, int src_fd, const char *kind, const char *state,
		     struct sbx_error *err)
{
	struct stat w, s;
	bool exists, inside = false, contains;
	/* The directory as resolved once, the one that will be mounted. */
	int fd = fcntl(src_fd, F_DUPFD_CLOEXEC, 3);
	int near;

	if (fd < 0)
		return 0; /* not a directory, or missing: opening the sources says so */
	near = open_nearest(state, &exists);
	if (near < 0 || fstat(fd, &w) < 0) {
		close(fd);
		if (near >= 0)
			close(near);
		return 0;
	}
	if (exists && fstat(near, &s) == 0)
		inside = at_or_below(fd, &s);
	else
		close(fd);
	contains = at_or_below(near, &w);
	if (inside) {
		sbx_fail(err, 0, "%s %s lies inside %s %s: the sandbox could rewrite it", what, src, kind, state);
		return sbx_error_hint(err, "give a directory outside it");
	}
	if (contains) {
		sbx_fail(err, 0, "%s %s contains %s %s: the sandbox could rewrite it, and so decide what later "
			 "runs get", what, src, kind, state);
		return sbx_error_hint(err, "give a directory that does not contain it, or move it: --store DIR "
				      "(or SBX_STORE) for the store, XDG_CACHE_HOME for the cache");
	}
	return 0;
}

int sbx_statedirs_check(const struct sbx_run_options *opts, const struct sbx_sources *resolved,
			struct sbx_error *err)
{
	char cache[PATH_MAX], store[PATH_MAX];
	struct sbx_error ignored;
	bool have_cache = sbx_cache_dir_path(cache, sizeof(cache)) == 0;
	bool have_store = sbx_store_locate(opts->store, store, sizeof(store), &ignored) == 0;

	for (size_t i = 0; i <= opts->n_mounts; i++) {
		const char *src = i == opts->n_mounts ? opts->workspace : opts->mounts[i].src;
		int fd = i == opts->n_mounts ? resolved->workspace_path : resolved->mount_paths[i];
		const char *what = i == opts->n_mounts ? "the workspace" : "the --bind source";

		if (src == NULL || fd < 0 || (i < opts->n_mounts && opts->mounts[i].kind != SBX_MOUNT_BIND))
			continue;
		if ((have_cache && check_one(what, src, fd, "sbx's seccomp cache", cache, err) < 0) ||
		    (have_store && check_one(what, src, fd, "the image store", store, err) < 0))
			return -1;
	}
	return 0;
}
