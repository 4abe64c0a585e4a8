#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fstree.h"
#include "idmap.h"
#include "imagens.h"
#include "util.h"

#define RECORD_MAX (1u << 20)

static const char *const store_dirs[] = { "images", "blobs", "blobs/sha256", "rootfs", "tmp" };

int sbx_store_locate(const char *override, char *out, size_t len, struct sbx_error *err)
{
	const char *env = getenv("SBX_STORE");
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (override != NULL)
		n = snprintf(out, len, "%s", override);
	else if (env != NULL && env[0] != '\0')
		n = snprintf(out, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(out, len, "/var/lib/sbx");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, len, "%s/sbx", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, len, "%s/.local/share/sbx", home);
	else
		return sbx_fail(err, 0, "cannot tell where the image store is: HOME is not set (give --store DIR)");
	if (n < 0 || (size_t)n >= len)
		return sbx_fail(err, ENAMETOOLONG, "image store path");
	if (out[0] != '/')
		return sbx_fail(err, 0, "image store %s: give an absolute path", out);
	return 0;
}

/* Make the missing directories of PATH, each 0700: parents sbx creates
 * are its own business, the store itself is private. */
static int mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* The store must be ours and reachable by nobody else: other users could
 * otherwise run the images' setuid files, change trees through the
 * worker's ids, or plant records.  One that others may only read or
 * enter (an older sbx made stores 0755) is made private, with a notice;
 * one that others could write to may hold anything, and is refused. */
static int check_store_dir(struct sbx_store *s, struct sbx_error *err)
{
	struct stat st;

	if (fstat(s->dirfd, &st) < 0)
		return sbx_fail(err, errno, "image store %s", s->path);
	if (!S_ISDIR(st.st_mode))
		return sbx_fail(err, ENOTDIR, "image store %s", s->path);
	if (st.st_uid != geteuid()) {
		sbx_fail(err, 0, "image store %s belongs to uid %u, not to this user (uid %u): refusing a store "
			 "someone else controls", s->path, (unsigned)st.st_uid, (unsigned)geteuid());
		return sbx_error_hint(err, "give --store DIR (or SBX_STORE) a directory of your own");
	}
	if (st.st_mode & 022) {
		sbx_fail(err, 0, "image store %s is writable by others (mode %04o): its records and trees cannot "
			 "be trusted", s->path, (unsigned)(st.st_mode & 07777));
		return sbx_error_hint(err, "check its contents, then chmod 700 %s (or remove it)", s->path);
	}
	if (st.st_mode & 077) {
		if (fchmod(s->dirfd, 0700) < 0)
			return sbx_fail(err, errno, "making the image store %s private (chmod 700)", s->path);
		fprintf(stderr, "sbx: the image store %s was mode %04o: made it 0700, so that no other user "
				"reaches its trees\n", s->path, (unsigned)(st.st_mode & 07777));
	}
	return 0;
}

int sbx_store_open(const char *override, bool create, struct sbx_store *s, struct sbx_error *err)
{
	s->dirfd = s->lockfd = -1;
	if (sbx_store_locate(override, s->path, sizeof(s->path), err) < 0)
		return -1;
	if (create && mkdir_p(s->path) < 0)
		return sbx_fail(err, errno, "creating the image store %s", s->path);
	/* A symlinked store (on another disk, say) is fine: what it leads to
	 * is what is checked and used. */
	s->dirfd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return sbx_fail_status(err, errno == ENOENT ? SBX_EXIT_IMAGE_MISSING : SBX_EXIT_FAILURE, errno,
				       "image store %s", s->path);
	if (check_store_dir(s, err) < 0) {
		close(s->dirfd);
		s->dirfd = -1;
		return -1;
	}
	for (size_t i = 0; create && i < SBX_ARRAY_SIZE(store_dirs); i++)
		if (mkdirat(s->dirfd, store_dirs[i], 0700) < 0 && errno != EEXIST)
			return sbx_fail(err, errno, "creating %s/%s", s->path, store_dirs[i]);
	return 0;
}

void sbx_store_close(struct sbx_store *s)
{
	sbx_closep(&s->lockfd);
	sbx_closep(&s->dirfd);
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

uint64_t sbx_lock_timeout_ns(void)
{
	const char *env = getenv("SBX_LOCK_TIMEOUT");
	uint32_t seconds;

	if (env != NULL && sbx_parse_id(env, &seconds) == 0)
		return (uint64_t)seconds * 1000000000ULL;
	return SBX_LOCK_TIMEOUT_DEFAULT_NS;
}

int sbx_lock_bounded(int fd, int op, const char *what, uint64_t limit_ns, int status, struct sbx_error *err)
{
	uint64_t start = now_ns();
	bool told = false;

	for (;;) {
		struct timespec pause = { 0, 50 * 1000 * 1000 };

		if (flock(fd, op | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return sbx_fail(err, errno, "locking %s", what);
		if (now_ns() - start >= limit_ns)
			break;
		if (sbx_imagens_stop_pending(err) < 0)
			return sbx_error_wrap(err, "waiting for the lock on %s", what);
		if (!told) {
			/* Said once, so that a wait is never a silent hang. */
			fprintf(stderr, "sbx: waiting for the lock on %s held by another sbx; giving up after %llu s\n",
				what, (unsigned long long)((limit_ns + 999999999ULL) / 1000000000ULL));
			told = true;
		}
		nanosleep(&pause, NULL);
	}
	sbx_fail_status(err, status, 0, "gave up after %llu s waiting for the lock on %s: another sbx (or another "
			"process) holds it", (unsigned long long)((limit_ns + 999999999ULL) / 1000000000ULL), what);
	return sbx_error_hint(err, "see who with: fuser -v %s; SBX_LOCK_TIMEOUT=SECONDS sets the wait", what);
}

int sbx_store_lock(struct sbx_store *s, struct sbx_error *err)
{
	char what[PATH_MAX + 8];

	/* 0600: a lock others can open is a lock others can hold. */
	if (s->lockfd < 0)
		s->lockfd = openat(s->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (s->lockfd < 0)
		return sbx_fail(err, errno, "%s/lock", s->path);
	fchmod(s->lockfd, 0600);
	snprintf(what, sizeof(what), "%s/lock", s->path);
	return sbx_lock_bounded(s->lockfd, LOCK_EX, what, sbx_lock_timeout_ns(), SBX_EXIT_FAILURE, err);
}

void sbx_store_unlock(struct sbx_store *s)
{
	if (s->lockfd >= 0)
		flock(s->lockfd, LOCK_UN);
}

static bool valid_part(const char *s, size_t max, const char *first, const char *rest)
{
	size_t len = strlen(s);

	return len > 0 && len <= max && strchr(first, s[0]) != NULL && strspn(s, rest) == len;
}

#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

int sbx_image_ref_parse(const char *text, struct sbx_image_ref *ref, struct sbx_error *err)
{
	const char *colon = strrchr(text, ':');
	const char *slash = strrchr(text, '/');

	/* A colon before the last slash is a registry port, not a tag. */
	if (colon != NULL && slash != NULL && colon < slash)
		colon = NULL;
	if (colon == NULL) {
		snprintf(ref->tag, sizeof(ref->tag), "latest");
		if (snprintf(ref->name, sizeof(ref->name), "%s", text) >= (int)sizeof(ref->name))
			goto bad;
	} else {
		if ((size_t)(colon - text) > SBX_IMAGE_NAME_MAX ||
		    snprintf(ref->tag, sizeof(ref->tag), "%s", colon + 1) >= (int)sizeof(ref->tag))
			goto bad;
		snprintf(ref->name, sizeof(ref->name), "%.*s", (int)(colon - text), text);
	}
	if (!valid_part(ref->name, SBX_IMAGE_NAME_MAX, ALNUM, ALNUM "._-/:") ||
	    !valid_part(ref->tag, SBX_IMAGE_TAG_MAX, ALNUM "_", ALNUM "_.-") || strstr(ref->name, "..") ||
	    strstr(ref->name, "//") || ref->name[strlen(ref->name) - 1] == '/')
		goto bad;
	return 0;
bad:
	return sbx_fail(err, 0,
			"image name '%s': expected NAME[:TAG], NAME of letters, digits, '.', '_', '-' and '/', "
			"TAG of letters, digits, '.', '_' and '-'",
			text);
}

/* "images/NAME:TAG.json" with '/' (and a registry port's ':') made safe. */
static void record_path(const struct sbx_image_ref *ref, char *out, size_t len)
{
	char name[SBX_IMAGE_NAME_MAX + 1];

	snprintf(name, sizeof(name), "%s", ref->name);
	for (char *p = name; *p; p++)
		if (*p == '/')
			*p = '+';
		else if (*p == ':')
			*p = '%';
	snprintf(out, len, "images/%s:%s.json", name, ref->tag);
}

static int parse_record(char *text, const char *what, struct sbx_image_record *rec, struct sbx_error *err)
{
	const sbx_json *chains;

	memset(rec, 0, sizeof(*rec));
	if (sbx_json_parse(text, what, &rec->doc, err) < 0)
		return -1;
	rec->name = sbx_json_string(sbx_json_get(rec->doc, "name"));
	rec->tag = sbx_json_string(sbx_json_get(rec->doc, "tag"));
	rec->id = sbx_json_string(sbx_json_get(rec->doc, "id"));
	rec->config = sbx_json_get(rec->doc, "config");
	chains = sbx_json_get(rec->doc, "chains");
	if (rec->name == NULL || rec->tag == NULL || rec->id == NULL ||
	    sbx_digest_parse(sbx_json_string(sbx_json_get(rec->doc, "chain")), rec->chain_hex) < 0 ||
	    !sbx_json_is_array(chains) || (rec->config != NULL && !sbx_json_is_object(rec->config)))
		return sbx_fail(err, 0, "%s: not an image record of this sbx (remove it with sbx image rm)", what);
	return 0;
}

int sbx_store_read_record(struct sbx_store *s, const struct sbx_image_ref *ref, struct sbx_image_record *rec,
			  struct sbx_error *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	cleanup_close int fd = -1;

	memset(rec, 0, sizeof(*rec));
	record_path(ref, path, sizeof(path));
	fd = openat(s->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_MISSING, 0, "no image %s:%s in the store %s", ref->name,
				       ref->tag, s->path);
	if (fd < 0)
		return sbx_fail(err, errno, "%s/%s", s->path, path);
	if (sbx_read_fd(fd, path, RECORD_MAX, &text, err) < 0)
		return -1;
	return parse_record(text, path, rec, err);
}

void sbx_image_record_free(struct sbx_image_record *rec)
{
	sbx_json_free(rec->doc);
	rec->doc = NULL;
}

/* Write TEXT to DIR/NAME through a temporary file and a rename. */
static int publish_file(int dirfd, const char *dir, const char *name, const char *text, struct sbx_error *err)
{
	char tmp[PATH_MAX];
	cleanup_close int d = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int fd, r;

	if (d < 0)
		return sbx_fail(err, errno, "%s", dir);
	snprintf(tmp, sizeof(tmp), ".tmp-%d-%s", (int)getpid(), name);
	fd = openat(d, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return sbx_fail(err, errno, "%s/%s", dir, tmp);
	r = sbx_write_all(fd, text, strlen(text));
	if (r == 0)
		r = fsync(fd);
	if (r < 0)
		sbx_fail(err, errno, "writing %s/%s", dir, name);
	close(fd);
	if (r == 0 && renameat(d, tmp, d, name) < 0)
		r = sbx_fail(err, errno, "publishing %s/%s", dir, name);
	if (r < 0)
		unlinkat(d, tmp, 0);
	return r;
}

int sbx_store_write_record(struct sbx_store *s, const struct sbx_image_ref *ref, const char *text,
			   struct sbx_error *err)
{
	char path[PATH_MAX];

	record_path(ref, path, sizeof(path));
	return publish_file(s->dirfd, "images", path + strlen("images/"), text, err);
}

int sbx_store_put_blob(struct sbx_store *s, const char *hex, const char *text, struct sbx_error *err)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	if (faccessat(s->dirfd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return publish_file(s->dirfd, "blobs/sha256", hex, text, err);
}

int sbx_store_record_json(struct sbx_store *s, const struct sbx_image_record *rec, yajl_gen g)
{
	char rootfs[PATH_MAX + 80];
	const sbx_json *doc = rec->doc;

	yajl_gen_map_open(g);
	for (size_t i = 0; i < sbx_json_object_size(doc); i++) {
		const char *key = sbx_json_object_key(doc, i);

		if (strcmp(key, "rootfs") != 0)
			sbx_json_gen_value(g, key, sbx_json_get(doc, key));
	}
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs/%s", s->path, rec->chain_hex);
	sbx_json_gen_str(g, "rootfs", rootfs);
	yajl_gen_map_close(g);
	return 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in directory PATH of the store, sorted; hidden ones skipped. */
static int list_dir(struct sbx_store *s, const char *path, char ***out, size_t *n, struct sbx_error *err)
{
	int fd = openat(s->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	char **names = NULL;
	size_t used = 0;

	*out = NULL;
	*n = 0;
	if (d == NULL) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		return e == ENOENT ? 0 : sbx_fail(err, e, "%s/%s", s->path, path);
	}
	while ((de = readdir(d)) != NULL) {
		char **grown;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		grown = realloc(names, (used + 1) * sizeof(*names));
		if (grown == NULL || (grown[used] = strdup(de->d_name)) == NULL) {
			names = grown ? grown : names;
			for (size_t i = 0; i < used; i++)
				free(names[i]);
			free(names);
			closedir(d);
			return sbx_fail(err, ENOMEM, "listing %s", path);
		}
		names = grown;
		used++;
	}
	closedir(d);
	if (used > 1)
		qsort(names, used, sizeof(*names), compare_names);
	*out = names;
	*n = used;
	return 0;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

int sbx_store_each_record(struct sbx_store *s, int (*fn)(struct sbx_store *, struct sbx_image_record *, void *),
			  void *ctx, struct sbx_error *err)
{
	char **names;
	size_t n;
	int r = 0;

	if (list_dir(s, "images", &names, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && r == 0; i++) {
		char path[PATH_MAX];
		cleanup_free char *text = NULL;
		cleanup_close int fd = -1;
		struct sbx_image_record rec = { 0 };

		if (names[i][0] == '.' || !has_suffix(names[i], ".json"))
			continue;
		snprintf(path, sizeof(path), "images/%s", names[i]);
		fd = openat(s->dirfd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* removed meanwhile */
		if (fd < 0)
			r = sbx_fail(err, errno, "%s/%s", s->path, path);
		else if (sbx_read_fd(fd, path, RECORD_MAX, &text, err) < 0 || parse_record(text, path, &rec, err) < 0)
			r = -1;
		else
			r = fn(s, &rec, ctx);
		sbx_image_record_free(&rec);
	}
	free_names(names, n);
	return r;
}

int sbx_store_remove_record(struct sbx_store *s, const struct sbx_image_ref *ref, struct sbx_error *err)
{
	char path[PATH_MAX];

	record_path(ref, path, sizeof(path));
	if (unlinkat(s->dirfd, path, 0) < 0)
		return errno == ENOENT ? sbx_fail_status(err, SBX_EXIT_IMAGE_MISSING, 0, "no image %s:%s in the store %s",
							 ref->name, ref->tag, s->path)
				       : sbx_fail(err, errno, "removing %s/%s", s->path, path);
	return 0;
}

int sbx_store_open_tree(struct sbx_store *s, const char *hex, uint64_t limit_ns, int status, struct sbx_error *err)
{
	char path[PATH_MAX], what[PATH_MAX * 2];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "rootfs/%s", hex);
	fd = openat(s->dirfd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return sbx_fail_status(err, errno == ENOENT ? SBX_EXIT_IMAGE_MISSING : SBX_EXIT_FAILURE, errno,
				       "%s/%s", s->path, path);
	snprintf(what, sizeof(what), "%s/%s", s->path, path);
	if (sbx_lock_bounded(fd, LOCK_SH, what, limit_ns, status, err) < 0)
		return -1;
	return sbx_steal_fd(&fd);
}

/* ---- gc ---- */

struct referenced {
	char (*hex)[SBX_SHA256_HEX + 1];
	size_t n;
};

static int add_ref(struct referenced *refs, const char *digest)
{
	char hex[SBX_SHA256_HEX + 1];
	char(*grown)[SBX_SHA256_HEX + 1];

	if (sbx_digest_parse(digest, hex) < 0)
		return 0;
	grown = realloc(refs->hex, (refs->n + 1) * sizeof(*grown));
	if (grown == NULL)
		return -1;
	refs->hex = grown;
	memcpy(refs->hex[refs->n++], hex, sizeof(hex));
	return 0;
}

static bool is_referenced(const struct referenced *refs, const char *name)
{
	for (size_t i = 0; i < refs->n; i++)
		if (strcmp(refs->hex[i], name) == 0)
			return true;
	return false;
}

static int collect_refs(struct sbx_store *s, struct sbx_image_record *rec, void *ctx)
{
	struct referenced *refs = ctx;
	const sbx_json *chains = sbx_json_get(rec->doc, "chains");
	int r = add_ref(refs, rec->id) | add_ref(refs, sbx_json_string(sbx_json_get(rec->doc, "manifest")));

	(void)s;
	for (size_t i = 0; i < sbx_json_array_size(chains); i++)
		r |= add_ref(refs, sbx_json_string(sbx_json_array_at(chains, i)));
	return r < 0 ? -1 : 0;
}

struct empty_arg {
	int parent;
	const char *name;
};

static int empty_tree(void *arg, void *out, struct sbx_error *err)
{
	const struct empty_arg *a = arg;
	int fd = openat(a->parent, a->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	(void)out;
	if (fd < 0 || sbx_tree_empty(fd) < 0)
		return sbx_fail(err, errno, "emptying %s", a->name);
	return 0;
}

/* Remove the tree NAME in PARENT: its files belong to the image's ids (the
 * worker made them), so the worker empties it; the directory is ours. */
static int remove_image_tree(int parent, const char *name, struct sbx_error *err)
{
	struct empty_arg a = { parent, name };
	struct stat st;
	char unused;

	/* A leftover that is not a directory (a planted symlink) is only a name. */
	if (fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
		if (unlinkat(parent, name, 0) < 0)
			return sbx_fail(err, errno, "removing %s", name);
		return 0;
	}
	if (sbx_is_host_root()) {
		if (sbx_tree_remove(parent, name) < 0)
			return sbx_fail(err, errno, "removing %s", name);
		return 0;
	}
	if (sbx_imagens_run(empty_tree, &a, &unused, sizeof(unused), err) < 0)
		return -1;
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return sbx_fail(err, errno, "removing %s", name);
	return 0;
}

int sbx_store_discard(struct sbx_store *s, const char *dir, const char *name, struct sbx_error *err)
{
	cleanup_close int parent = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (parent < 0)
		return sbx_fail(err, errno, "%s/%s", s->path, dir);
	return remove_image_tree(parent, name, err);
}

/* Lock NAME in PARENT exclusively without waiting: 0 when taken (FD set),
 * 1 when someone holds it (a running sandbox, an import in progress). */
static int try_lock_entry(int parent, const char *name, int *fd)
{
	*fd = openat(parent, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (*fd < 0)
		return errno == ELOOP ? 0 : -1; /* a symlink: nothing to lock, just remove it */
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 1 : -1;
	return 0;
}

enum gc_kind {
	GC_TREES,     /* unreferenced trees and leftovers */
	GC_BLOBS,     /* unreferenced blobs and leftovers */
	GC_SCRATCH,   /* everything not in use */
	GC_LEFTOVERS, /* only the leftovers of interrupted writes */
};

struct gc_run {
	const struct referenced *refs;
	sbx_gc_report_fn report;
	void *ctx;
	size_t failed;
};

/* Remove the entry VICTIM (published as NAME) of the directory DIR. */
static int gc_remove(struct sbx_store *s, int parent, const char *dir, const char *name, const char *victim,
		     enum gc_kind kind, struct sbx_error *err)
{
	if (kind == GC_TREES || kind == GC_SCRATCH)
		return remove_image_tree(parent, victim, err);
	if (sbx_tree_remove(parent, victim) < 0)
		return sbx_fail(err, errno, "removing %s/%s/%s", s->path, dir, name);
	return 0;
}

/* Every entry is tried: one that cannot be removed is reported and left
 * for a later gc, never a reason to stop. */
static int gc_dir(struct sbx_store *s, const char *dir, enum gc_kind kind, struct gc_run *run, struct sbx_error *err)
{
	cleanup_close int parent = openat(s->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char **names;
	size_t n;

	if (parent < 0)
		return errno == ENOENT ? 0 : sbx_fail(err, errno, "%s/%s", s->path, dir);
	if (list_dir(s, dir, &names, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char what[PATH_MAX], victim[NAME_MAX + 1];
		const char *name = names[i];
		bool leftover = strncmp(name, ".tmp-", 5) == 0;
		struct sbx_error problem = { 0 };
		cleanup_close int fd = -1;
		int locked, r = 0;

		if (kind == GC_LEFTOVERS && !leftover)
			continue;
		if ((kind == GC_TREES || kind == GC_BLOBS) && !leftover && is_referenced(run->refs, name))
			continue;
		snprintf(what, sizeof(what), "%s/%s", dir, name);
		locked = try_lock_entry(parent, name, &fd);
		if (locked == 1 || (locked < 0 && errno == ENOENT))
			continue; /* in use, or gone: left for a later gc */
		if (locked < 0)
			r = sbx_fail(&problem, errno, "%s/%s", s->path, what);
		/* Unpublish first, atomically, then take it apart. */
		snprintf(victim, sizeof(victim), "%s", name);
		if (r == 0 && !leftover && kind != GC_SCRATCH) {
			snprintf(victim, sizeof(victim), ".tmp-gc-%.200s", name);
			if (renameat(parent, name, parent, victim) < 0)
				r = sbx_fail(&problem, errno, "unpublishing %s", what);
		}
		if (r == 0)
			r = gc_remove(s, parent, dir, name, victim, kind, &problem);
		if (r < 0)
			run->failed++;
		if (run->report != NULL)
			run->report(what, r < 0 ? &problem : NULL, run->ctx);
	}
	free_names(names, n);
	return 0;
}

int sbx_store_gc(struct sbx_store *s, sbx_gc_report_fn report, void *ctx, struct sbx_error *err)
{
	struct referenced refs = { 0 };
	struct gc_run run = { &refs, report, ctx, 0 };
	int r;

	if (sbx_store_lock(s, err) < 0)
		return -1;
	r = sbx_store_each_record(s, collect_refs, &refs, err);
	if (r == 0)
		r = gc_dir(s, "rootfs", GC_TREES, &run, err);
	if (r == 0)
		r = gc_dir(s, "blobs/sha256", GC_BLOBS, &run, err);
	run.refs = NULL;
	if (r == 0)
		r = gc_dir(s, "tmp", GC_SCRATCH, &run, err);
	if (r == 0)
		r = gc_dir(s, "images", GC_LEFTOVERS, &run, err);
	sbx_store_unlock(s);
	free(refs.hex);
	if (r == 0 && run.failed > 0)
		r = sbx_fail(err, 0, "gc: %zu entr%s of %s could not be removed (reported above; left for a later gc)",
			     run.failed, run.failed == 1 ? "y" : "ies", s->path);
	return r;
}
