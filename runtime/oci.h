/* The JSON documents of OCI images (index, manifest, config) and of docker
 * archives (manifest.json), parsed from untrusted text into plain data.
 * Everything is checked here: types, digests (sha256 only, in the one form
 * that is also a safe file name), media types, and the confusions the
 * image-spec forbids (a blob that is both manifest and index).  Nothing is
 * read from disk; the caller fetches blobs and checks their digests. */
#ifndef SBX_OCI_H
#define SBX_OCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "error.h"
#include "json.h"

#define SBX_OCI_MAX_LAYERS 127 /* as Docker: deeper chains are refused */
#define SBX_OCI_MAX_DESCRIPTORS 256
#define SBX_OCI_MAX_JSON (4u << 20)
#define SBX_OCI_REF_NAME "org.opencontainers.image.ref.name"

enum sbx_oci_kind {
	SBX_OCI_KIND_OTHER,
	SBX_OCI_KIND_INDEX,
	SBX_OCI_KIND_MANIFEST,
};

struct sbx_oci_descriptor {
	enum sbx_oci_kind kind; /* from the media type */
	const char *media_type;
	char hex[SBX_SHA256_HEX + 1];
	uint64_t size;
	const char *os, *architecture, *variant; /* platform, NULL when absent */
	const char *ref_name;                    /* annotation, NULL when absent */
};

struct sbx_oci_index {
	sbx_json *doc; /* the strings above point into it */
	struct sbx_oci_descriptor manifests[SBX_OCI_MAX_DESCRIPTORS];
	size_t n;
};

struct sbx_oci_manifest {
	sbx_json *doc;
	struct sbx_oci_descriptor config;
	struct sbx_oci_descriptor layers[SBX_OCI_MAX_LAYERS];
	size_t n_layers;
};

/* An image's config blob (not a bundle's config.json: oci_config.h). */
struct sbx_oci_image_config {
	sbx_json *doc;
	const char *os, *architecture, *created;
	char diff_ids[SBX_OCI_MAX_LAYERS][SBX_SHA256_HEX + 1];
	size_t n_diff_ids;
	/* The "config" member: arrays of strings or NULL. */
	const sbx_json *env, *entrypoint, *cmd;
	const char *working_dir, *user;
};

/* One image of a docker archive's manifest.json. */
struct sbx_docker_manifest {
	sbx_json *doc;
	const char *config; /* path inside the archive */
	const char *layers[SBX_OCI_MAX_LAYERS];
	size_t n_layers;
	const char *repo_tag; /* the first RepoTags entry, or NULL */
};

/* WHAT names the document in errors ("index.json", "manifest sha256:..."). */
int sbx_oci_parse_index(const char *text, const char *what, struct sbx_oci_index *out, struct sbx_error *err);
int sbx_oci_parse_manifest(const char *text, const char *what, struct sbx_oci_manifest *out,
			   struct sbx_error *err);
int sbx_oci_parse_image_config(const char *text, const char *what, struct sbx_oci_image_config *out,
			       struct sbx_error *err);
/* WANT_TAG picks the image whose RepoTags holds it when the archive has
 * several; NULL takes the only one. */
int sbx_docker_parse_manifest(const char *text, const char *want_tag, struct sbx_docker_manifest *out,
			      struct sbx_error *err);

void sbx_oci_index_free(struct sbx_oci_index *x);
void sbx_oci_manifest_free(struct sbx_oci_manifest *x);
void sbx_oci_image_config_free(struct sbx_oci_image_config *x);
void sbx_docker_manifest_free(struct sbx_docker_manifest *x);

/* Whether a layer media type is one sbx unpacks (tar, gzip, zstd; OCI and
 * Docker names). */
bool sbx_oci_layer_type_ok(const char *media_type);

/* Whether PATH is a plain relative path inside an archive: no "..", no
 * leading "/", nothing but [A-Za-z0-9._+-/]. */
bool sbx_oci_safe_relpath(const char *path);

#endif
