#include "fstree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Removal holds one open directory per level: below this depth a
 * directory is moved up to the top of the tree instead, and removed from
 * there, so that no nesting (a hostile layer, a planted 10000-deep chain)
 * can exhaust fds or stop the removal. */
#define REMOVE_MAX_OPEN 64

struct removal {
	int top;        /* the directory being emptied */
	unsigned moved; /* names given to directories moved up */
	int error;      /* the first errno met; removal goes on regardless */
};

static int remove_at(struct removal *rm, int dirfd, const char *name, int depth);

static bool is_dot(const char *name)
{
	return strcmp(name, ".") == 0 || strcmp(name, "..") == 0;
}

/* Empty DIR (closing it); -1 with errno when something stays. */
static int empty_dir(struct removal *rm, int dir, int depth, bool going)
{
	DIR *d = fdopendir(dir);
	bool progress = true, left = false;

	if (d == NULL) {
		close(dir);
		return -1;
	}
	/* A read-only directory of ours that is going (an image's 0555 /usr,
	 * say) must still be emptied: we own it, so we may make it writable. */
	if (going)
		fchmod(dirfd(d), 0700);
	/* Start over while something went: removing while reading may skip,
	 * and directories moved up land at the top.  What cannot be removed
	 * is skipped, not a reason to stop. */
	while (progress) {
		struct dirent *de;

		progress = left = false;
		rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			if (is_dot(de->d_name))
				continue;
			if (remove_at(rm, dirfd(d), de->d_name, depth + 1) == 0) {
				progress = true;
			} else {
				if (rm->error == 0)
					rm->error = errno;
				left = true;
			}
		}
	}
	closedir(d);
	if (left) {
		errno = rm->error ? rm->error : ENOTEMPTY;
		return -1;
	}
	return 0;
}

/* Move the directory NAME in DIRFD to the top of the removal. */
static int move_up(struct removal *rm, int dirfd, const char *name)
{
	char to[32];

	for (int tries = 0; tries < 1000; tries++) {
		snprintf(to, sizeof(to), ".sbx-deep-%u", rm->moved++);
		if (renameat(dirfd, name, rm->top, to) == 0)
			return 0;
		/* Moving a directory rewrites its "..": it must be writable. */
		if (errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0 && renameat(dirfd, name, rm->top, to) == 0)
			return 0;
		if (errno != EEXIST && errno != ENOTEMPTY)
			return -1;
	}
	return -1;
}

static int remove_at(struct removal *rm, int dirfd, const char *name, int depth)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	if (depth >= REMOVE_MAX_OPEN && rm->top >= 0)
		return move_up(rm, dirfd, name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (rm->top < 0) {
		/* NAME is the tree itself: deep directories move up into it. */
		rm->top = fd;
		depth = 0;
	}
	if (empty_dir(rm, fd, depth, true) < 0)
		return -1;
	return unlinkat(dirfd, name, AT_REMOVEDIR) == 0 || errno == ENOENT ? 0 : -1;
}

int sbx_tree_remove(int dirfd, const char *name)
{
	struct removal rm = { .top = -1 };

	return remove_at(&rm, dirfd, name, 0);
}

int sbx_tree_empty(int dir)
{
	struct removal rm = { .top = dir };

	return empty_dir(&rm, dir, 0, false);
}

static void copy_dir_metadata(int fd, const struct stat *st)
{
	struct timespec times[2] = { st->st_atim, st->st_mtim };

	(void)!fchown(fd, st->st_uid, st->st_gid); /* as far as the caller may */
	fchmod(fd, st->st_mode & 07777);
	futimens(fd, times);
}

/* A copy of the regular file or symlink NAME (other kinds are skipped:
 * a copy-up has no use for a fifo or a socket, and a device node would be
 * nodev anyway). */
static int copy_entry(int src, int dst, const char *name, const struct stat *st)
{
	cleanup_close int in = -1;
	cleanup_close int out = -1;
	char target[4097];
	ssize_t n;

	if (S_ISLNK(st->st_mode)) {
		n = readlinkat(src, name, target, sizeof(target) - 1);
		if (n < 0)
			return -1;
		target[n] = '\0';
		if (symlinkat(target, dst, name) < 0)
			return -1;
		(void)!fchownat(dst, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW);
		return 0;
	}
	if (!S_ISREG(st->st_mode))
		return 0;
	in = openat(src, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	out = in < 0 ? -1 : openat(dst, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return -1;
	for (off_t left = st->st_size; left > 0; left -= n) {
		n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);
		if (n <= 0)
			return n == 0 ? 0 : -1;
	}
	(void)!fchown(out, st->st_uid, st->st_gid);
	return fchmod(out, st->st_mode & 07777);
}

static int clone_dir(int src, int dst, int depth, bool copy, struct sbx_error *err)
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
			if (copy ? copy_entry(src, dst, de->d_name, &st) < 0 : linkat(src, de->d_name, dst, de->d_name, 0) < 0)
				r = sbx_fail(err, errno, "cloning %s", de->d_name);
		} else if (mkdirat(dst, de->d_name, 0700) < 0 ||
			   (s = openat(src, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			   (t = openat(dst, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			r = sbx_fail(err, errno, "cloning %s", de->d_name);
		} else if ((r = clone_dir(s, t, depth + 1, copy, err)) < 0) {
			sbx_error_wrap(err, "%s", de->d_name);
		} else {
			copy_dir_metadata(t, &st);
		}
	}
	closedir(d);
	return r;
}

static int clone_tree(int src, int dst, bool copy, struct sbx_error *err)
{
	struct stat st;

	if (clone_dir(src, dst, 0, copy, err) < 0)
		return -1;
	if (fstat(src, &st) < 0)
		return sbx_fail(err, errno, "cloning");
	copy_dir_metadata(dst, &st);
	return 0;
}

int sbx_tree_clone_links(int src, int dst, struct sbx_error *err)
{
	return clone_tree(src, dst, false, err);
}

int sbx_tree_copy(int src, int dst, struct sbx_error *err)
{
	return clone_tree(src, dst, true, err);
}
