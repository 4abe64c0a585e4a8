#include "fstree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int remove_at(int dirfd, const char *name, int depth);

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

static int empty_dir(int dir, int depth, bool going)
{
	DIR *d = fdopendir(dir);
	bool again = true;

	if (d == NULL) {
		close(dir);
		return -1;
	}
	/* A read-only directory of ours that is going (an image's 0555 /usr,
	 * say) must still be emptied: we own it, so we may make it writable. */
	if (going)
		fchmod(dirfd(d), 0700);
	/* Start over until nothing is left: removing while reading may skip. */
	while (again) {
		struct dirent *de;

		again = false;
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			if (is_dot(de->d_name))
				continue;
			if (remove_at(dirfd(d), de->d_name, depth + 1) < 0) {
				int saved = errno;

				closedir(d);
				errno = saved;
				return -1;
			}
			again = true;
		}
	}
	closedir(d);
	return 0;
}

static int remove_at(int dirfd, const char *name, int depth)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth > SBX_FSTREE_MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || empty_dir(fd, depth, true) < 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int sbx_tree_remove(int dirfd, const char *name)
{
	return remove_at(dirfd, name, 0);
}

int sbx_tree_empty(int dir)
{
	return empty_dir(dir, 0, false);
}

static void copy_dir_metadata(int fd, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	(void)!fchown(fd, st->st_uid, st->st_gid); /* as far as the caller may */
	fchmod(fd, st->st_mode & 07777);
	futimens(fd, times);
}

static int clone_dir(int src, int dst, int depth, struct sbx_error *err)
{
	cleanup_close int dup_src = fcntl(src, F_DUPFD_CLOEXEC, 0);
	DIR *d = dup_src < 0 ? NULL : fdopendir(dup_src);
	struct dirent *de;
	int r = 0;

	if (d == NULL)
		return sbx_fail(err, errno, "reading a directory to clone");
	dup_src = -1; /* owned by d */
	if (depth > SBX_FSTREE_MAX_DEPTH) {
		closedir(d);
		return sbx_fail(err, ELOOP, "cloning: deeper than %d", SBX_FSTREE_MAX_DEPTH);
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		struct stat st;
		cleanup_close int s = -1;
		cleanup_close int t = -1;

		if (is_dot(de->d_name))
			continue;
		if (fstatat(src, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = sbx_fail(err, errno, "cloning %s", de->d_name);
		} else if (!S_ISDIR(st.st_mode)) {
			if (linkat(src, de->d_name, dst, de->d_name, 0) < 0)
				r = sbx_fail(err, errno, "cloning %s", de->d_name);
		} else if (mkdirat(dst, de->d_name, 0700) < 0 ||
			   (s = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			   (t = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			r = sbx_fail(err, errno, "cloning %s", de->d_name);
		} else if ((r = clone_dir(s, t, depth + 1, err)) < 0) {
			sbx_error_wrap(err, "%s", de->d_name);
		} else {
			copy_dir_metadata(t, &st);
		}
	}
	closedir(d);
	return r;
}

int sbx_tree_clone_links(int src, int dst, struct sbx_error *err)
{
	struct stat st;

	if (clone_dir(src, dst, 0, err) < 0)
		return -1;
	if (fstat(src, &st) < 0)
		return sbx_fail(err, errno, "cloning");
	copy_dir_metadata(dst, &st);
	return 0;
}
