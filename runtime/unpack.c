#include "unpack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "archive_lib.h"
#include "fstree.h"
#include "mounts.h"
#include "util.h"

#define WHITEOUT ".wh."
#define OPAQUE ".wh..wh..opq"
#define MAX_DEFERRED_DIRS 65536

/* Directory modes and times are applied once the layer is written: a
 * read-only directory must not stop the entries that follow from landing
 * in it. */
struct deferred_dir {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct unpack {
	const struct sbx_archive_lib *lib;
	int rootfd;
	const struct sbx_unpack_limits *limits;
	bool set_owner;
	bool keep_setid;
	struct sbx_unpack_stats *stats;
	struct deferred_dir *dirs;
	size_t n_dirs;
	/* Unprivileged (no DAC override), sbx keeps its own directories
	 * writable to itself, or a read-only one from a lower layer would
	 * block the layers above: inside, the rootfs is read-only anyway. */
	mode_t dir_owner_bits;
};

/* Reduce NAME to components joined by '/': no leading '/', no "." and no
 * empty components.  ".." anywhere is refused.  "" is the root itself. */
static int clean_name(const char *name, char *out, size_t len, unsigned int *depth)
{
	size_t used = 0;
	const char *p = name;

	*depth = 0;
	out[0] = '\0';
	while (*p != '\0') {
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (used + n + 2 > len)
				return -1;
			if (used > 0)
				out[used++] = '/';
			memcpy(out + used, p, n);
			used += n;
			out[used] = '\0';
			(*depth)++;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int fail_entry(struct sbx_error *err, const char *name, int errnum, const char *what)
{
	return sbx_fail(err, errnum, "layer entry \"%s\": %s", name, what);
}

static int apply_whiteout(struct unpack *u, const char *parent, const char *base, const char *raw,
			  struct sbx_error *err)
{
	const char *victim = base + strlen(WHITEOUT);
	cleanup_close int dir = sbx_open_dir_in_root(u->rootfd, parent, true, err);

	if (dir < 0)
		return sbx_error_wrap(err, "layer entry \"%s\"", raw);
	u->stats->whiteouts++;
	if (strcmp(base, OPAQUE) == 0) {
		/* Hide what lower layers put in the directory (a symlinked
		 * directory resolved inside the root, like every parent). */
		int copy = openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (copy < 0 || sbx_tree_empty(copy) < 0)
			return fail_entry(err, raw, errno, "applying the opaque whiteout");
		return 0;
	}
	if (victim[0] == '\0' || strcmp(victim, ".") == 0 || strcmp(victim, "..") == 0 ||
	    strncmp(victim, WHITEOUT, strlen(WHITEOUT)) == 0)
		return fail_entry(err, raw, EINVAL, "invalid whiteout");
	if (sbx_tree_remove(dir, victim) < 0)
		return fail_entry(err, raw, errno, "applying the whiteout");
	return 0;
}

static int check_limits(struct unpack *u, const char *raw, unsigned int depth, struct sbx_error *err)
{
	if (++u->stats->entries > u->limits->max_entries)
		return sbx_fail(err, EFBIG, "the image has more than %llu entries (a decompression bomb?)",
				(unsigned long long)u->limits->max_entries);
	if (depth > u->limits->max_depth)
		return fail_entry(err, raw, ENAMETOOLONG, "nested deeper than the limit");
	return 0;
}

/* A full disk shows first as a short write: go on until the kernel says
 * why it stopped. */
static int pwrite_all(int fd, const char *buf, size_t size, off_t offset)
{
	while (size > 0) {
		ssize_t n = pwrite(fd, buf, size, offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ENOSPC;
			return -1;
		}
		buf += n;
		size -= (size_t)n;
		offset += n;
	}
	return 0;
}

static int write_data(struct unpack *u, struct archive *a, int fd, const char *raw, struct sbx_error *err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t offset;
		int r = u->lib->data_block(a, &buf, &size, &offset);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r != ARCHIVE_OK)
			return fail_entry(err, raw, 0, u->lib->error_string(a));
		u->stats->bytes += size;
		if (u->stats->bytes > u->limits->max_bytes)
			return sbx_fail(err, EFBIG, "the image unpacks to more than %llu bytes (a decompression bomb?)",
					(unsigned long long)u->limits->max_bytes);
		if (offset < 0)
			return fail_entry(err, raw, EINVAL, "negative offset");
		if (pwrite_all(fd, buf, size, offset) < 0)
			return fail_entry(err, raw, errno, "writing");
	}
}

static void set_owner_and_times(struct unpack *u, int dir, const char *base, struct archive_entry *e,
				bool is_dir)
{
	struct timespec times[2] = { { 0, UTIME_OMIT }, { u->lib->entry_mtime(e), u->lib->entry_mtime_nsec(e) } };

	if (u->set_owner)
		(void)!fchownat(dir, base, (uid_t)u->lib->entry_uid(e), (gid_t)u->lib->entry_gid(e),
				AT_SYMLINK_NOFOLLOW); /* as far as the caller may */
	if (!is_dir)
		utimensat(dir, base, times, AT_SYMLINK_NOFOLLOW);
}

/* Make room for the new entry: a directory stays when a directory comes,
 * anything else goes (types change between layers). */
static int make_room(int dir, const char *base, bool keep_dir)
{
	struct stat st;

	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	if (keep_dir && S_ISDIR(st.st_mode))
		return 0;
	return sbx_tree_remove(dir, base);
}

static int extract_hardlink(struct unpack *u, int dir, const char *base, const char *target,
			    const char *raw, struct sbx_error *err)
{
	struct open_how how = {
		.flags = O_PATH | O_NOFOLLOW | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	char clean[PATH_MAX], proc[64];
	unsigned int depth;
	cleanup_close int src = -1;
	struct stat st;

	if (clean_name(target, clean, sizeof(clean), &depth) < 0 || clean[0] == '\0')
		return fail_entry(err, raw, EINVAL, "hardlink target outside the image");
	/* The target is found inside the root, and linked as the inode found:
	 * never by a path that could lead elsewhere. */
	src = (int)syscall(SYS_openat2, u->rootfd, clean, &how, sizeof(how));
	if (src < 0)
		return fail_entry(err, raw, errno, "hardlink target");
	if (fstat(src, &st) < 0 || S_ISDIR(st.st_mode))
		return fail_entry(err, raw, EPERM, "hardlink to a directory");
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", src);
	if (make_room(dir, base, false) < 0 || linkat(AT_FDCWD, proc, dir, base, AT_SYMLINK_FOLLOW) < 0)
		return fail_entry(err, raw, errno, "creating the hardlink");
	return 0;
}

static int defer_dir(struct unpack *u, const char *path, struct archive_entry *e, struct sbx_error *err)
{
	struct deferred_dir *d;

	if (u->n_dirs >= MAX_DEFERRED_DIRS)
		return sbx_fail(err, EFBIG, "the layer has more than %d directories", MAX_DEFERRED_DIRS);
	if (u->n_dirs % 256 == 0) {
		struct deferred_dir *grown = realloc(u->dirs, (u->n_dirs + 256) * sizeof(*grown));

		if (grown == NULL)
			return sbx_fail(err, ENOMEM, "unpacking");
		u->dirs = grown;
	}
	d = &u->dirs[u->n_dirs];
	d->path = strdup(path);
	if (d->path == NULL)
		return sbx_fail(err, ENOMEM, "unpacking");
	d->mode = u->lib->entry_perm(e);
	d->mtime = (struct timespec){ u->lib->entry_mtime(e), u->lib->entry_mtime_nsec(e) };
	u->n_dirs++;
	return 0;
}

static mode_t file_mode(struct unpack *u, mode_t mode)
{
	if (u->keep_setid || !(mode & (S_ISUID | S_ISGID)))
		return mode;
	u->stats->setid_stripped++;
	return mode & ~(mode_t)(S_ISUID | S_ISGID);
}

static int extract_entry(struct unpack *u, struct archive *a, struct archive_entry *e,
			 struct sbx_error *err)
{
	const char *raw = u->lib->entry_pathname(e) ? u->lib->entry_pathname(e) : "";
	char clean[PATH_MAX], parent[PATH_MAX];
	const char *base;
	unsigned int depth;
	mode_t type = u->lib->entry_filetype(e);
	cleanup_close int dir = -1;
	int fd;

	if (clean_name(raw, clean, sizeof(clean), &depth) < 0)
		return fail_entry(err, raw, EINVAL, "the name leads outside the image (\"..\")");
	if (check_limits(u, raw, depth, err) < 0)
		return -1;
	if (clean[0] == '\0') {
		/* The root itself: it stays the directory it is. */
		if (type != AE_IFDIR)
			return fail_entry(err, raw, EINVAL, "refusing to change the type of the root directory");
		return 0;
	}
	base = strrchr(clean, '/');
	snprintf(parent, sizeof(parent), "%.*s", base ? (int)(base - clean) : 0, clean);
	base = base ? base + 1 : clean;
	if (u->lib->entry_xattr_count(e) > 0)
		u->stats->xattrs_skipped++;
	if (strncmp(base, WHITEOUT, strlen(WHITEOUT)) == 0)
		return apply_whiteout(u, parent, base, raw, err);
	dir = sbx_open_dir_in_root(u->rootfd, parent, true, err);
	if (dir < 0)
		return sbx_error_wrap(err, "layer entry \"%s\"", raw);
	if (u->lib->entry_hardlink(e) != NULL)
		return extract_hardlink(u, dir, base, u->lib->entry_hardlink(e), raw, err);
	switch (type) {
	case AE_IFDIR:
		if (make_room(dir, base, true) < 0 || (mkdirat(dir, base, 0700) < 0 && errno != EEXIST))
			return fail_entry(err, raw, errno, "creating the directory");
		set_owner_and_times(u, dir, base, e, true);
		return defer_dir(u, clean, e, err);
	case AE_IFREG:
		if (make_room(dir, base, false) < 0)
			return fail_entry(err, raw, errno, "replacing what was there");
		fd = openat(dir, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0)
			return fail_entry(err, raw, errno, "creating the file");
		if (write_data(u, a, fd, raw, err) < 0) {
			close(fd);
			return -1;
		}
		if (u->set_owner)
			(void)!fchown(fd, (uid_t)u->lib->entry_uid(e), (gid_t)u->lib->entry_gid(e));
		/* After the chown, which clears setuid bits.  An image's tree
		 * keeps them (nosuid and no_new_privs neutralise them at run
		 * time); a directory unpacked on the host does not, unless asked:
		 * there they would work. */
		fchmod(fd, file_mode(u, u->lib->entry_perm(e)));
		futimens(fd, (struct timespec[2]){ { 0, UTIME_OMIT },
						   { u->lib->entry_mtime(e), u->lib->entry_mtime_nsec(e) } });
		close(fd);
		/* Not set_owner_and_times: a second chown would clear the
		 * setuid bits just set. */
		return 0;
	case AE_IFLNK:
		if (make_room(dir, base, false) < 0 ||
		    symlinkat(u->lib->entry_symlink(e) ? u->lib->entry_symlink(e) : "", dir, base) < 0)
			return fail_entry(err, raw, errno, "creating the symlink");
		set_owner_and_times(u, dir, base, e, false);
		return 0;
	case AE_IFIFO:
		if (make_room(dir, base, false) < 0 || mkfifoat(dir, base, u->lib->entry_perm(e)) < 0)
			return fail_entry(err, raw, errno, "creating the FIFO");
		set_owner_and_times(u, dir, base, e, false);
		return 0;
	default:
		/* Device nodes and sockets: never created, only counted. */
		u->stats->devices_skipped++;
		return 0;
	}
}

static int apply_deferred_dirs(struct unpack *u, struct sbx_error *err)
{
	/* Deepest first, so that a read-only parent is set last. */
	for (size_t i = u->n_dirs; i-- > 0;) {
		struct deferred_dir *d = &u->dirs[i];
		const char *slash = strrchr(d->path, '/');
		char parent[PATH_MAX];
		cleanup_close int pfd = -1;
		cleanup_close int fd = -1;
		struct timespec times[2] = { { 0, UTIME_OMIT }, d->mtime };

		snprintf(parent, sizeof(parent), "%.*s", slash ? (int)(slash - d->path) : 0, d->path);
		pfd = sbx_open_dir_in_root(u->rootfd, parent, true, err);
		if (pfd < 0)
			return -1;
		/* The directory itself, not what a later entry of the same name
		 * (a file, a symlink) turned it into. */
		fd = openat(pfd, slash ? slash + 1 : d->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;
			return sbx_fail(err, errno, "/%s", d->path);
		}
		fchmod(fd, d->mode | u->dir_owner_bits);
		futimens(fd, times);
	}
	return 0;
}

int sbx_unpack_layer(int rootfd, int layer_fd, const struct sbx_unpack_limits *limits, unsigned int flags,
		     struct sbx_unpack_stats *stats, struct sbx_error *err)
{
	struct unpack u = { .rootfd = rootfd, .limits = limits, .set_owner = (flags & SBX_UNPACK_OWNERS) != 0,
			   .keep_setid = (flags & SBX_UNPACK_SETID) != 0, .stats = stats,
			    .dir_owner_bits = geteuid() == 0 ? 0 : 0700 };
	struct archive *a;
	struct archive_entry *e;
	int r = -1, rc;

	if (sbx_archive_lib(&u.lib, err) < 0)
		return -1;
	a = u.lib->read_new();
	if (a == NULL)
		return sbx_fail(err, ENOMEM, "unpacking");
	u.lib->support_filter_gzip(a);
	u.lib->support_filter_zstd(a);
	u.lib->support_filter_none(a);
	u.lib->support_format_tar(a);
	if (u.lib->open_fd(a, layer_fd, 1 << 16) != ARCHIVE_OK) {
		sbx_fail(err, 0, "reading the layer: %s", u.lib->error_string(a));
		goto out;
	}
	while ((rc = u.lib->next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN) {
		if (extract_entry(&u, a, e, err) < 0)
			goto out;
	}
	if (rc != ARCHIVE_EOF) {
		sbx_fail(err, 0, "reading the layer: %s", u.lib->error_string(a));
		goto out;
	}
	r = apply_deferred_dirs(&u, err);
out:
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	u.lib->read_free(a);
	return r;
}
