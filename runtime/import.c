#include "import.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "archive_lib.h"
#include "fstree.h"
#include "idmap.h"
#include "imagens.h"
#include "mounts.h"
#include "oci.h"
#include "util.h"

#define MAX_INDEX_DEPTH 4
#define DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

struct layer {
	int fd;   /* the blob in the source, read once */
	int copy; /* the tar stream, checked and kept private: what is unpacked */
	char digest[SBX_SHA256_HEX + 1]; /* of the blob as stored */
	char diff_id[SBX_SHA256_HEX + 1];
	char chain[SBX_SHA256_HEX + 1];
	uint64_t size;         /* of the blob */
	uint64_t uncompressed; /* of the tar stream */
	const char *media_type;
	char tmp[64]; /* STORE/rootfs/.tmp-... while its tree is built */
	int tree;     /* its fd, locked so that gc leaves it alone */
};

struct image {
	const struct sbx_import_options *o;
	struct sbx_store store;
	int src;              /* the layout (or extracted archive) */
	char scratch[64];     /* STORE/tmp/NAME of the extracted archive, or "" */
	int rootfs;           /* STORE/rootfs */
	struct sbx_oci_index *index;
	struct sbx_oci_manifest *manifest;
	struct sbx_docker_manifest *docker;
	struct sbx_oci_image_config config;
	char *config_text, *manifest_text;
	char config_hex[SBX_SHA256_HEX + 1];
	char manifest_hex[SBX_SHA256_HEX + 1]; /* "" for a docker archive */
	char source_name[SBX_IMAGE_NAME_MAX + SBX_IMAGE_TAG_MAX + 2]; /* annotation or RepoTags */
	struct layer layers[SBX_OCI_MAX_LAYERS];
	size_t n;
	size_t first; /* the first layer to unpack; those below come from a stored tree */
	int base;     /* the stored tree of layers [0, first), or -1 */
	bool owners;  /* whether the worker can keep the layers' owners */
};

const char *sbx_image_platform(void)
{
#if defined(__x86_64__)
	return "linux/amd64";
#elif defined(__aarch64__)
	return "linux/arm64";
#elif defined(__i386__)
	return "linux/386";
#elif defined(__riscv) && __riscv_xlen == 64
	return "linux/riscv64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "linux/ppc64le";
#elif defined(__s390x__)
	return "linux/s390x";
#else
	return "linux/unknown";
#endif
}

static const char *host_arch(void)
{
	return sbx_image_platform() + strlen("linux/");
}

/* Whether an unpacking failure is the image's fault (65) or the host's. */
static int unpack_failed(struct sbx_error *err)
{
	switch (err->err) {
	case ENOSPC:
	case EDQUOT:
	case EIO:
	case ENOMEM:
	case EROFS:
		break;
	default:
		if (err->status == 0 || err->status == SBX_EXIT_FAILURE)
			err->status = SBX_EXIT_IMAGE_REFUSED;
	}
	return -1;
}

/* ---- reading the source ---- */

/* A JSON blob of the layout: its size and digest checked before it is
 * parsed. */
static int read_blob(struct image *im, const char *hex, uint64_t size, const char *what, char **text,
		     struct sbx_error *err)
{
	char path[128], got[SBX_SHA256_HEX + 1];
	cleanup_close int fd = -1;
	struct stat st;

	snprintf(path, sizeof(path), "blobs/sha256/%s", hex);
	fd = sbx_open_file_in_root(im->src, path, err);
	if (fd < 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, err->err, "%s: blob %s is missing or not a file",
				       what, path);
	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "%s", path);
	if ((uint64_t)st.st_size != size)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: blob %s has %lld bytes, its descriptor says %llu",
				       what, path, (long long)st.st_size, (unsigned long long)size);
	if (size > SBX_OCI_MAX_JSON)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: larger than %u bytes", what, SBX_OCI_MAX_JSON);
	if (sbx_read_fd(fd, path, SBX_OCI_MAX_JSON, text, err) < 0 || sbx_sha256_data(*text, strlen(*text), got, err) < 0)
		return -1;
	if (strlen(*text) != size || strcmp(got, hex) != 0) {
		free(*text);
		*text = NULL;
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "%s: blob %s does not match its digest (it has sha256:%s): refusing the image",
				       what, path, got);
	}
	return 0;
}

static bool platform_matches(const struct sbx_oci_descriptor *d)
{
	return d->os == NULL || (strcmp(d->os, "linux") == 0 && d->architecture != NULL &&
				 strcmp(d->architecture, host_arch()) == 0);
}

/* Whether the index entry D is the one named by the user's --name: index
 * entries carry a reference name, either a whole NAME:TAG or just a tag. */
static bool ref_matches(const struct sbx_oci_descriptor *d, const struct sbx_image_ref *want)
{
	char full[sizeof(want->name) + sizeof(want->tag) + 1];

	if (want == NULL || d->ref_name == NULL)
		return true;
	snprintf(full, sizeof(full), "%s:%s", want->name, want->tag);
	return strcmp(d->ref_name, want->tag) == 0 || strcmp(d->ref_name, full) == 0 ||
	       strcmp(d->ref_name, want->name) == 0;
}

static int pick_entry(const struct sbx_oci_index *x, const struct sbx_image_ref *want, const char *what,
		      const struct sbx_oci_descriptor **out, struct sbx_error *err)
{
	const struct sbx_oci_descriptor *pick = NULL;
	size_t matches = 0;
	char seen[256] = "";

	for (size_t i = 0; i < x->n; i++) {
		const struct sbx_oci_descriptor *d = &x->manifests[i];

		if (d->os != NULL && strlen(seen) < sizeof(seen) - 40)
			snprintf(seen + strlen(seen), sizeof(seen) - strlen(seen), "%s%.15s/%.15s", seen[0] ? ", " : "",
				 d->os, d->architecture ? d->architecture : "?");
		if (d->kind == SBX_OCI_KIND_OTHER || !platform_matches(d) || !ref_matches(d, want))
			continue;
		/* An entry naming our platform beats one that names none. */
		if (pick != NULL && pick->os == NULL && d->os != NULL) {
			pick = d;
			matches = 1;
			continue;
		}
		if (pick != NULL && pick->os != NULL && d->os == NULL)
			continue;
		pick = d;
		matches++;
	}
	/* --name names the image in the store; it chooses among the index's
	 * references only when one of them is that name. */
	if (pick == NULL && want != NULL)
		return pick_entry(x, NULL, what, out, err);
	if (pick == NULL)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: no image for %s%s%s%s", what,
				       sbx_image_platform(), seen[0] ? " (it has " : "", seen, seen[0] ? ")" : "");
	if (matches > 1)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "%s: %zu images match: choose one with --name NAME:TAG (by its %s annotation)",
				       what, matches, SBX_OCI_REF_NAME);
	*out = pick;
	return 0;
}

/* From index.json down, through nested indexes, to the manifest for this
 * platform. */
static int load_oci(struct image *im, const struct sbx_image_ref *want, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	const struct sbx_oci_descriptor *d;
	char what[128];
	cleanup_close int fd = sbx_open_file_in_root(im->src, "index.json", err);

	if (fd < 0 || sbx_read_fd(fd, "index.json", SBX_OCI_MAX_JSON, &text, err) < 0)
		return sbx_error_wrap(err, "the image layout");
	im->index = calloc(1, sizeof(*im->index));
	if (im->index == NULL)
		return sbx_fail(err, ENOMEM, "reading the index");
	if (sbx_oci_parse_index(text, "index.json", im->index, err) < 0 || pick_entry(im->index, want, "index.json", &d, err) < 0)
		return -1;
	snprintf(im->source_name, sizeof(im->source_name), "%s", d->ref_name ? d->ref_name : "");
	for (int depth = 0; d->kind == SBX_OCI_KIND_INDEX; depth++) {
		struct sbx_oci_index *nested;
		cleanup_free char *ntext = NULL;

		if (depth >= MAX_INDEX_DEPTH)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "index.json: indexes nested deeper than %d",
					       MAX_INDEX_DEPTH);
		snprintf(what, sizeof(what), "index sha256:%.12s", d->hex);
		nested = calloc(1, sizeof(*nested));
		if (nested == NULL)
			return sbx_fail(err, ENOMEM, "reading the index");
		/* The descriptor that led here lives in the index being replaced:
		 * keep the old one until the nested one is parsed. */
		if (read_blob(im, d->hex, d->size, what, &ntext, err) < 0 ||
		    sbx_oci_parse_index(ntext, what, nested, err) < 0 || pick_entry(nested, NULL, what, &d, err) < 0) {
			sbx_oci_index_free(nested);
			free(nested);
			return -1;
		}
		sbx_oci_index_free(im->index);
		free(im->index);
		im->index = nested;
	}
	snprintf(what, sizeof(what), "manifest sha256:%.12s", d->hex);
	memcpy(im->manifest_hex, d->hex, sizeof(im->manifest_hex));
	im->manifest = calloc(1, sizeof(*im->manifest));
	if (im->manifest == NULL)
		return sbx_fail(err, ENOMEM, "reading the manifest");
	if (read_blob(im, d->hex, d->size, what, &im->manifest_text, err) < 0 ||
	    sbx_oci_parse_manifest(im->manifest_text, what, im->manifest, err) < 0)
		return -1;
	d = &im->manifest->config;
	memcpy(im->config_hex, d->hex, sizeof(im->config_hex));
	if (read_blob(im, d->hex, d->size, "config", &im->config_text, err) < 0 ||
	    sbx_oci_parse_image_config(im->config_text, "config", &im->config, err) < 0)
		return -1;
	im->n = im->manifest->n_layers;
	for (size_t i = 0; i < im->n; i++) {
		struct layer *l = &im->layers[i];
		char path[128];

		d = &im->manifest->layers[i];
		snprintf(path, sizeof(path), "blobs/sha256/%s", d->hex);
		memcpy(l->digest, d->hex, sizeof(l->digest));
		l->size = d->size;
		l->media_type = d->media_type;
		l->fd = sbx_open_file_in_root(im->src, path, err);
		if (l->fd < 0)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, err->err, "layer %zu: blob %s is missing",
					       i + 1, path);
	}
	return 0;
}

/* The hex digest a docker archive's file name promises ("HEX.json",
 * "blobs/sha256/HEX"), or NULL. */
static const char *promised_hex(const char *path, char hex[SBX_SHA256_HEX + 1])
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	char digest[SBX_SHA256_HEX + 8];

	snprintf(digest, sizeof(digest), "sha256:%.64s", base);
	return strlen(base) >= SBX_SHA256_HEX && sbx_digest_parse(digest, hex) == 0 &&
			       (base[SBX_SHA256_HEX] == '\0' || strcmp(base + SBX_SHA256_HEX, ".json") == 0)
		       ? hex
		       : NULL;
}

static int load_docker(struct image *im, const struct sbx_image_ref *want, struct sbx_error *err)
{
	cleanup_free char *text = NULL;
	char want_tag[sizeof(want->name) + sizeof(want->tag) + 1], promised[SBX_SHA256_HEX + 1];
	cleanup_close int fd = sbx_open_file_in_root(im->src, "manifest.json", err);
	cleanup_close int cfd = -1;

	if (fd < 0 || sbx_read_fd(fd, "manifest.json", SBX_OCI_MAX_JSON, &text, err) < 0)
		return sbx_error_wrap(err, "the docker archive");
	if (want != NULL)
		snprintf(want_tag, sizeof(want_tag), "%s:%s", want->name, want->tag);
	im->docker = calloc(1, sizeof(*im->docker));
	if (im->docker == NULL)
		return sbx_fail(err, ENOMEM, "reading manifest.json");
	if (sbx_docker_parse_manifest(text, want ? want_tag : NULL, im->docker, err) < 0)
		return -1;
	snprintf(im->source_name, sizeof(im->source_name), "%s", im->docker->repo_tag ? im->docker->repo_tag : "");
	cfd = sbx_open_file_in_root(im->src, im->docker->config, err);
	if (cfd < 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, err->err, "manifest.json: config %s is missing",
				       im->docker->config);
	if (sbx_read_fd(cfd, im->docker->config, SBX_OCI_MAX_JSON, &im->config_text, err) < 0 ||
	    sbx_sha256_data(im->config_text, strlen(im->config_text), im->config_hex, err) < 0)
		return -1;
	if (promised_hex(im->docker->config, promised) && strcmp(promised, im->config_hex) != 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "config %s does not match the digest its name promises (it has sha256:%s)",
				       im->docker->config, im->config_hex);
	if (sbx_oci_parse_image_config(im->config_text, im->docker->config, &im->config, err) < 0)
		return -1;
	im->n = im->docker->n_layers;
	for (size_t i = 0; i < im->n; i++) {
		struct layer *l = &im->layers[i];

		l->media_type = DOCKER_LAYER;
		l->fd = sbx_open_file_in_root(im->src, im->docker->layers[i], err);
		if (l->fd < 0)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, err->err, "layer %s is missing",
					       im->docker->layers[i]);
	}
	return 0;
}

/* ---- checking layers ---- */

struct hashing_reader {
	int fd;
	struct sbx_sha256 h;
	uint64_t n;
	char buf[1 << 16];
};

static la_ssize_t hashing_read(struct archive *a, void *ctx, const void **buf)
{
	struct hashing_reader *r = ctx;
	ssize_t n;

	(void)a;
	do
		n = read(r->fd, r->buf, sizeof(r->buf));
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		sbx_sha256_update(&r->h, r->buf, (size_t)n);
		r->n += (uint64_t)n;
	}
	*buf = r->buf;
	return n;
}

/* The compression a layer's media type promises: what sbx finds must be
 * it.  (Docker archives name none; their layers are taken as found.) */
static int promised_filter(const struct layer *l)
{
	size_t n = strlen(l->media_type);

	if (n > 5 && (strcmp(l->media_type + n - 5, "+gzip") == 0 || strcmp(l->media_type + n - 5, ".gzip") == 0))
		return ARCHIVE_FILTER_GZIP;
	if (n > 5 && (strcmp(l->media_type + n - 5, "+zstd") == 0 || strcmp(l->media_type + n - 5, ".zstd") == 0))
		return ARCHIVE_FILTER_ZSTD;
	return ARCHIVE_FILTER_NONE;
}

/* Hash what the decompressor did not read (trailing bytes count too). */
static int hash_rest(struct hashing_reader *r, struct sbx_error *err)
{
	const void *unused;
	la_ssize_t n;

	while ((n = hashing_read(NULL, r, &unused)) > 0)
		;
	return n < 0 ? sbx_fail(err, errno, "reading the layer") : 0;
}

/* A private file in the store's scratch space for the copy of a layer:
 * only its fd leads to it, and only this process holds that. */
static int open_copy(struct image *im, struct sbx_error *err)
{
	cleanup_close int tmp = openat(im->store.dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	char name[64];
	int fd;

	if (tmp < 0)
		return sbx_fail(err, errno, "%s/tmp", im->store.path);
	fd = openat(tmp, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR))
		return fd >= 0 ? fd : sbx_fail(err, errno, "a private copy of a layer in %s/tmp", im->store.path);
	/* A file system without O_TMPFILE: a name, gone at once. */
	snprintf(name, sizeof(name), ".tmp-layer-%d", (int)getpid());
	fd = openat(tmp, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return sbx_fail(err, errno, "a private copy of a layer in %s/tmp", im->store.path);
	unlinkat(tmp, name, 0);
	return fd;
}

/* One pass over the layer: the digest of the blob and of the tar stream
 * inside it, and the stream's size, which the limit stops early (a
 * decompression bomb is refused here, before anything is unpacked).  The
 * tar stream is copied as it is hashed, and only that copy is unpacked:
 * whoever can write the source cannot change a layer between its check
 * and its unpacking, the worker unpacks exactly the bytes the diff_id
 * vouches for, and no layer is decompressed twice (the second pass cost
 * an import ~6 % over a bare `tar -xzf`; docs/benchmarks.md). */
static int check_layer(struct image *im, size_t i, uint64_t *total, struct sbx_error *err)
{
	struct layer *l = &im->layers[i];
	const struct sbx_archive_lib *lib;
	struct hashing_reader *r = NULL;
	struct sbx_sha256 diff;
	struct archive *a = NULL;
	struct archive_entry *e;
	char blob_hex[SBX_SHA256_HEX + 1];
	int copy_errno = 0, ret = -1;

	if (sbx_archive_lib(&lib, err) < 0 || sbx_sha256_begin(&diff, err) < 0)
		return -1;
	r = calloc(1, sizeof(*r));
	a = lib->read_new();
	if (r == NULL || a == NULL) {
		sbx_fail(err, ENOMEM, "checking layer %zu", i + 1);
		goto out;
	}
	r->fd = l->fd;
	l->copy = open_copy(im, err);
	if (l->copy < 0 || sbx_sha256_begin(&r->h, err) < 0)
		goto out;
	lib->support_filter_gzip(a);
	lib->support_filter_zstd(a);
	lib->support_filter_none(a);
	lib->support_format_raw(a);
	if (lib->open2(a, r, NULL, hashing_read, NULL, NULL) != ARCHIVE_OK || lib->next_header(a, &e) != ARCHIVE_OK) {
		sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "layer %zu: %s", i + 1, lib->error_string(a));
		goto out;
	}
	if (im->docker == NULL && lib->filter_code(a, 0) != promised_filter(l)) {
		sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				"layer %zu: its mediaType %s does not match its compression (%s)", i + 1,
				l->media_type, lib->filter_code(a, 0) == ARCHIVE_FILTER_NONE ? "none" : "another");
		goto out;
	}
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int rc = lib->data_block(a, &buf, &len, &off);

		if (rc == ARCHIVE_EOF)
			break;
		if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) {
			sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "layer %zu: %s", i + 1, lib->error_string(a));
			goto out;
		}
		sbx_sha256_update(&diff, buf, len);
		l->uncompressed += len;
		*total += len;
		if (copy_errno == 0 && sbx_write_all(l->copy, buf, len) < 0)
			copy_errno = errno;
		if (*total > im->o->limits.max_bytes) {
			sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, EFBIG,
					"layer %zu: the layers unpack to more than %llu bytes (a decompression bomb? "
					"raise --max-bytes if the image is really that large)",
					i + 1, (unsigned long long)im->o->limits.max_bytes);
			goto out;
		}
		if ((l->uncompressed & ((8u << 20) - 1)) < len) {
			if (sbx_imagens_stop_pending(err) < 0)
				goto out;
			if (im->o->progress) {
				struct sbx_import_progress p = { "checking", i + 1, im->n, *total };

				im->o->progress(&p, im->o->progress_ctx);
			}
		}
	}
	if (hash_rest(r, err) < 0)
		goto out;
	if (copy_errno != 0) {
		sbx_fail(err, copy_errno, "layer %zu: copying it into %s/tmp", i + 1, im->store.path);
		goto out;
	}
	sbx_sha256_end(&r->h, blob_hex);
	sbx_sha256_end(&diff, l->diff_id);
	if (im->docker != NULL) {
		memcpy(l->digest, blob_hex, sizeof(l->digest));
		l->size = r->n;
	} else if (r->n != l->size) {
		sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "layer %zu: blob has %llu bytes, its descriptor says %llu",
				i + 1, (unsigned long long)r->n, (unsigned long long)l->size);
		goto out;
	} else if (strcmp(blob_hex, l->digest) != 0) {
		sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				"layer %zu: blob does not match its digest sha256:%s (it has sha256:%s): refusing the image",
				i + 1, l->digest, blob_hex);
		goto out;
	}
	if (strcmp(l->diff_id, im->config.diff_ids[i]) != 0) {
		sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				"layer %zu: its content (sha256:%s) is not the config's diff_id sha256:%s: refusing the image",
				i + 1, l->diff_id, im->config.diff_ids[i]);
		goto out;
	}
	ret = 0;
out:
	if (a != NULL)
		lib->read_free(a);
	free(r);
	return ret;
}

static int check_image(struct image *im, struct sbx_error *err)
{
	const char *os = im->config.os, *arch = im->config.architecture;
	uint64_t total = 0;

	if ((os != NULL && strcmp(os, "linux") != 0) || (arch != NULL && strcmp(arch, host_arch()) != 0))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "the image is for %s/%s, this host runs %s",
				       os ? os : "?", arch ? arch : "?", sbx_image_platform());
	if (im->config.n_diff_ids != im->n)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "the image has %zu layers but its config lists %zu diff_ids", im->n,
				       im->config.n_diff_ids);
	for (size_t i = 0; i < im->n; i++) {
		if (check_layer(im, i, &total, err) < 0)
			return -1;
	}
	return 0;
}

/* OCI ChainID: the first layer's diff_id, then sha256("PARENT DIFF_ID"). */
static int compute_chains(struct image *im, struct sbx_error *err)
{
	for (size_t i = 0; i < im->n; i++) {
		struct layer *l = &im->layers[i];
		char text[2 * (SBX_SHA256_HEX + 8) + 2];

		if (i == 0) {
			memcpy(l->chain, l->diff_id, sizeof(l->chain));
			continue;
		}
		snprintf(text, sizeof(text), "sha256:%s sha256:%s", im->layers[i - 1].chain, l->diff_id);
		if (sbx_sha256_data(text, strlen(text), l->chain, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- building the tree ---- */

static bool tree_exists(struct image *im, const char *hex)
{
	return faccessat(im->rootfs, hex, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static int lock_tree(struct image *im, int fd, int op, const char *name, struct sbx_error *err)
{
	char what[PATH_MAX + 80];

	snprintf(what, sizeof(what), "%s/rootfs/%s", im->store.path, name);
	return sbx_lock_bounded(fd, op, what, sbx_lock_timeout_ns(), SBX_EXIT_FAILURE, err);
}

/* Reuse the longest stored prefix of the chain; make a temporary tree for
 * every level that is not stored yet (each becomes a published tree). */
static int plan_build(struct image *im, struct sbx_error *err)
{
	im->first = 0;
	for (size_t k = im->n; k > 0; k--) {
		if (tree_exists(im, im->layers[k - 1].chain)) {
			im->first = k;
			break;
		}
	}
	if (im->first == im->n)
		return 0;
	if (im->first > 0) {
		im->base = openat(im->rootfs, im->layers[im->first - 1].chain,
				  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (im->base < 0)
			return sbx_fail(err, errno, "opening the stored tree %.12s", im->layers[im->first - 1].chain);
		/* Shared: gc, which locks exclusively, leaves it alone. */
		if (lock_tree(im, im->base, LOCK_SH, im->layers[im->first - 1].chain, err) < 0)
			return -1;
	}
	for (size_t i = im->first; i < im->n; i++) {
		struct layer *l = &im->layers[i];
		int fd;

		snprintf(l->tmp, sizeof(l->tmp), ".tmp-%.16s-%d", l->chain, (int)getpid());
		if (mkdirat(im->rootfs, l->tmp, 0700) < 0) {
			l->tmp[0] = '\0';
			return sbx_fail(err, errno, "creating a tree in %s/rootfs", im->store.path);
		}
		fd = openat(im->rootfs, l->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		l->tree = fd;
		/* Held until the end: gc must not take a tree being built. */
		if (fd < 0)
			return sbx_fail(err, errno, "%s/rootfs/%s", im->store.path, l->tmp);
		if (lock_tree(im, fd, LOCK_EX, l->tmp, err) < 0)
			return -1;
		if (sbx_imagens_give_dir(fd, err) < 0)
			return -1;
	}
	return 0;
}

struct build_out {
	struct sbx_unpack_stats stats;
};

/* In the worker: the tree of every level from the first, each level the
 * one below plus its layer. */
static int build_trees(void *arg, void *out, struct sbx_error *err)
{
	struct image *im = arg;
	struct build_out *b = out;
	bool owners = im->owners;

	for (size_t i = im->first; i < im->n; i++) {
		struct layer *l = &im->layers[i];
		int below = i == im->first ? im->base : im->layers[i - 1].tree;
		int tree = l->tree;

		if (below >= 0 && sbx_tree_clone_links(below, tree, err) < 0)
			return sbx_error_wrap(err, "copying the tree of layer %zu", i);
		if (below < 0) {
			/* The root of the image: root's, as in any image. */
			if (owners && fchown(tree, 0, 0) < 0)
				return sbx_fail(err, errno, "the root of the image");
			fchmod(tree, 0755);
		}
		if (lseek(l->copy, 0, SEEK_SET) < 0)
			return sbx_fail(err, errno, "layer %zu", i + 1);
		if (sbx_unpack_layer(tree, l->copy, &im->o->limits, (owners ? SBX_UNPACK_OWNERS : 0) | SBX_UNPACK_SETID,
				     &b->stats, err) < 0) {
			sbx_error_wrap(err, "layer %zu", i + 1);
			return unpack_failed(err);
		}
		if (im->o->progress) {
			struct sbx_import_progress p = { "unpacking", i + 1, im->n, b->stats.bytes };

			im->o->progress(&p, im->o->progress_ctx);
		}
	}
	return 0;
}

/* ---- publishing ---- */

static void gen_digest(yajl_gen g, const char *key, const char *hex)
{
	char digest[SBX_SHA256_HEX + 8];

	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	sbx_json_gen_str(g, key, digest);
}

static void gen_run_config(yajl_gen g, const struct sbx_oci_image_config *c)
{
	sbx_json_gen_key(g, "config");
	yajl_gen_map_open(g);
	sbx_json_gen_value(g, "Env", c->env);
	sbx_json_gen_value(g, "Entrypoint", c->entrypoint);
	sbx_json_gen_value(g, "Cmd", c->cmd);
	sbx_json_gen_str(g, "WorkingDir", c->working_dir);
	sbx_json_gen_str(g, "User", c->user);
	yajl_gen_map_close(g);
}

static int make_record(struct image *im, const struct sbx_image_ref *ref, char **out, struct sbx_error *err)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	char now[32];
	time_t t = time(NULL);
	struct tm tm;
	uint64_t size = 0;
	int r;

	if (g == NULL)
		return sbx_fail(err, ENOMEM, "writing the image record");
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&t, &tm));
	yajl_gen_map_open(g);
	sbx_json_gen_str(g, "name", ref->name);
	sbx_json_gen_str(g, "tag", ref->tag);
	gen_digest(g, "id", im->config_hex);
	if (im->manifest_hex[0])
		gen_digest(g, "manifest", im->manifest_hex);
	else
		sbx_json_gen_str(g, "manifest", NULL);
	gen_digest(g, "chain", im->layers[im->n - 1].chain);
	sbx_json_gen_key(g, "chains");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < im->n; i++)
		gen_digest(g, NULL, im->layers[i].chain);
	yajl_gen_array_close(g);
	sbx_json_gen_str(g, "platform", sbx_image_platform());
	sbx_json_gen_str(g, "created", im->config.created);
	sbx_json_gen_str(g, "imported", now);
	for (size_t i = 0; i < im->n; i++)
		size += im->layers[i].uncompressed;
	sbx_json_gen_uint(g, "size", size);
	sbx_json_gen_key(g, "layers");
	yajl_gen_array_open(g);
	for (size_t i = 0; i < im->n; i++) {
		yajl_gen_map_open(g);
		gen_digest(g, "digest", im->layers[i].digest);
		gen_digest(g, "diff_id", im->layers[i].diff_id);
		sbx_json_gen_uint(g, "size", im->layers[i].size);
		sbx_json_gen_str(g, "media_type", im->layers[i].media_type);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gen_run_config(g, &im->config);
	yajl_gen_map_close(g);
	r = sbx_json_gen_text(g, out, err);
	yajl_gen_free(g);
	return r;
}

/* Under the store lock: rename each new tree into place (a tree someone
 * published meanwhile is the same content: ours is dropped), then the
 * blobs, then the record that makes the image visible. */
static int publish(struct image *im, const struct sbx_image_ref *ref, char **record, struct sbx_error *err)
{
	int r = 0;

	if (make_record(im, ref, record, err) < 0 || sbx_store_lock(&im->store, err) < 0)
		return -1;
	for (size_t i = im->first; i < im->n && r == 0; i++) {
		struct layer *l = &im->layers[i];

		if (renameat(im->rootfs, l->tmp, im->rootfs, l->chain) == 0)
			l->tmp[0] = '\0';
		else if (errno != EEXIST && errno != ENOTEMPTY)
			r = sbx_fail(err, errno, "publishing %s/rootfs/%s", im->store.path, l->chain);
	}
	if (r == 0)
		r = sbx_store_put_blob(&im->store, im->config_hex, im->config_text, err);
	if (r == 0 && im->manifest_text != NULL)
		r = sbx_store_put_blob(&im->store, im->manifest_hex, im->manifest_text, err);
	if (r == 0)
		r = sbx_store_write_record(&im->store, ref, *record, err);
	sbx_store_unlock(&im->store);
	return r;
}

/* ---- the source ---- */

struct archive_arg {
	int dir, archive;
	const struct sbx_unpack_limits *limits;
};

static int extract_archive(void *arg, void *out, struct sbx_error *err)
{
	const struct archive_arg *a = arg;

	return sbx_unpack_layer(a->dir, a->archive, a->limits, 0, out, err);
}

/* An archive (oci-archive, docker-archive) is unpacked into the store's
 * scratch space and read as a directory from there.  As root that is done
 * by the image worker, like a layer, so that hostile input never meets host
 * root; unprivileged callers unpack it as themselves, so that they can read
 * it back whatever modes its entries have. */
static int open_archive(struct image *im, int fd, struct sbx_error *err)
{
	char path[PATH_MAX + 32];
	struct sbx_unpack_stats stats = { 0 };
	struct archive_arg arg = { .archive = fd, .limits = &im->o->limits };
	cleanup_close int tmp = openat(im->store.dirfd, "tmp", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (tmp < 0)
		return sbx_fail(err, errno, "%s/tmp", im->store.path);
	snprintf(path, sizeof(path), "%s/tmp/import-XXXXXX", im->store.path);
	if (mkdtemp(path) == NULL)
		return sbx_fail(err, errno, "creating a scratch directory in %s/tmp", im->store.path);
	snprintf(im->scratch, sizeof(im->scratch), "%s", strrchr(path, '/') + 1);
	im->src = openat(tmp, im->scratch, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* Locked until the end: gc must not take it meanwhile. */
	if (im->src < 0 || flock(im->src, LOCK_EX) < 0)
		return sbx_fail(err, errno, "%s", path);
	arg.dir = im->src;
	if (sbx_imagens_give_dir(im->src, err) < 0)
		return -1;
	if ((sbx_is_host_root() ? sbx_imagens_run(extract_archive, &arg, &stats, sizeof(stats), err)
				: extract_archive(&arg, &stats, err)) < 0) {
		sbx_error_wrap(err, "reading the archive %s", im->o->path);
		return unpack_failed(err);
	}
	return 0;
}

static int open_source(struct image *im, struct sbx_error *err)
{
	cleanup_close int fd = open(im->o->path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return sbx_fail_status(err, errno == ENOENT ? SBX_EXIT_IMAGE_MISSING : SBX_EXIT_FAILURE, errno, "%s",
				       im->o->path);
	if (fstat(fd, &st) < 0)
		return sbx_fail(err, errno, "%s", im->o->path);
	if (S_ISDIR(st.st_mode)) {
		im->src = sbx_steal_fd(&fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return sbx_fail(err, 0, "%s: neither a directory (an OCI layout) nor an archive file", im->o->path);
	if (fcntl(fd, F_SETFL, 0) < 0)
		return sbx_fail(err, errno, "%s", im->o->path);
	return open_archive(im, fd, err);
}

static bool source_has(struct image *im, const char *file)
{
	struct sbx_error ignored;
	int fd = sbx_open_file_in_root(im->src, file, &ignored);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

static int load_source(struct image *im, struct sbx_error *err)
{
	struct sbx_image_ref want;
	const struct sbx_image_ref *w = NULL;

	if (im->o->name != NULL) {
		if (sbx_image_ref_parse(im->o->name, &want, err) < 0)
			return -1;
		w = &want;
	}
	if (source_has(im, "index.json"))
		return load_oci(im, w, err);
	if (source_has(im, "manifest.json"))
		return load_docker(im, w, err);
	return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
			       "%s: neither an OCI image layout (no index.json) nor a docker archive (no manifest.json)",
			       im->o->path);
}

static int image_ref(struct image *im, struct sbx_image_ref *ref, struct sbx_error *err)
{
	const char *name = im->o->name ? im->o->name : im->source_name;

	if (name[0] == '\0')
		return sbx_fail(err, 0, "%s names no image: give --name NAME[:TAG]", im->o->path);
	return sbx_image_ref_parse(name, ref, err);
}

static void image_release(struct image *im)
{
	struct sbx_error ignored;

	for (size_t i = 0; i < im->n; i++) {
		struct layer *l = &im->layers[i];

		/* What cannot be removed now is left for sbx image gc, which
		 * finds it unlocked once we are gone. */
		if (l->tmp[0] != '\0')
			(void)!sbx_store_discard(&im->store, "rootfs", l->tmp, &ignored);
		sbx_closep(&l->tree);
		sbx_closep(&l->fd);
		sbx_closep(&l->copy);
	}
	if (im->scratch[0] != '\0')
		(void)!sbx_store_discard(&im->store, "tmp", im->scratch, &ignored);
	sbx_closep(&im->src);
	sbx_closep(&im->base);
	sbx_closep(&im->rootfs);
	if (im->index) {
		sbx_oci_index_free(im->index);
		free(im->index);
	}
	if (im->manifest) {
		sbx_oci_manifest_free(im->manifest);
		free(im->manifest);
	}
	if (im->docker) {
		sbx_docker_manifest_free(im->docker);
		free(im->docker);
	}
	sbx_oci_image_config_free(&im->config);
	free(im->config_text);
	free(im->manifest_text);
	sbx_store_close(&im->store);
}

int sbx_image_import(const struct sbx_import_options *o, struct sbx_import_result *res, struct sbx_error *err)
{
	struct image *im = calloc(1, sizeof(*im));
	struct build_out built = { 0 };
	int r = -1;

	memset(res, 0, sizeof(*res));
	if (im == NULL)
		return sbx_fail(err, ENOMEM, "importing");
	im->o = o;
	im->src = im->base = im->rootfs = -1;
	for (size_t i = 0; i < SBX_OCI_MAX_LAYERS; i++)
		im->layers[i].fd = im->layers[i].copy = im->layers[i].tree = -1;
	if (sbx_store_open(o->store, true, &im->store, err) < 0)
		goto out;
	im->rootfs = openat(im->store.dirfd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (im->rootfs < 0) {
		sbx_fail(err, errno, "%s/rootfs", im->store.path);
		goto out;
	}
	if (open_source(im, err) < 0 || load_source(im, err) < 0 || image_ref(im, &res->ref, err) < 0 ||
	    sbx_imagens_stop_pending(err) < 0 || check_image(im, err) < 0 || compute_chains(im, err) < 0 ||
	    plan_build(im, err) < 0)
		goto out;
	/* Decided here: inside the worker's namespace sbx no longer looks
	 * like the caller. */
	im->owners = sbx_imagens_keeps_owners();
	if (im->first < im->n && sbx_imagens_run(build_trees, im, &built, sizeof(built), err) < 0)
		goto out;
	if (sbx_imagens_stop_pending(err) < 0 || publish(im, &res->ref, &res->record, err) < 0)
		goto out;
	memcpy(res->id_hex, im->config_hex, sizeof(res->id_hex));
	snprintf(res->rootfs, sizeof(res->rootfs), "%s/rootfs/%s", im->store.path, im->layers[im->n - 1].chain);
	res->layers = im->n;
	res->layers_reused = im->first;
	res->layers_unpacked = im->n - im->first;
	res->stats = built.stats;
	r = 0;
out:
	image_release(im);
	free(im);
	return r;
}
