#include "oci.h"

#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"

static const char *const layer_types[] = {
	"application/vnd.oci.image.layer.v1.tar",
	"application/vnd.oci.image.layer.v1.tar+gzip",
	"application/vnd.oci.image.layer.v1.tar+zstd",
	"application/vnd.docker.image.rootfs.diff.tar",
	"application/vnd.docker.image.rootfs.diff.tar.gzip",
	"application/vnd.docker.image.rootfs.diff.tar.zstd",
};

bool sbx_oci_layer_type_ok(const char *media_type)
{
	for (size_t i = 0; media_type != NULL && i < sizeof(layer_types) / sizeof(layer_types[0]); i++)
		if (strcmp(media_type, layer_types[i]) == 0)
			return true;
	return false;
}

static enum sbx_oci_kind kind_of(const char *media_type)
{
	if (media_type == NULL)
		return SBX_OCI_KIND_OTHER;
	if (strcmp(media_type, OCI_INDEX) == 0 || strcmp(media_type, DOCKER_LIST) == 0)
		return SBX_OCI_KIND_INDEX;
	if (strcmp(media_type, OCI_MANIFEST) == 0 || strcmp(media_type, DOCKER_MANIFEST) == 0)
		return SBX_OCI_KIND_MANIFEST;
	return SBX_OCI_KIND_OTHER;
}

bool sbx_oci_safe_relpath(const char *path)
{
	size_t len = path ? strlen(path) : 0;

	if (len == 0 || len > 512 || path[0] == '/' || strspn(path, "abcdefghijklmnopqrstuvwxyz"
							      "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-/") != len)
		return false;
	for (const char *c = path; c != NULL; c = strchr(c, '/')) {
		c += *c == '/';
		if (strncmp(c, "..", 2) == 0 && (c[2] == '/' || c[2] == '\0'))
			return false;
	}
	return true;
}

/* An optional string member: NULL when absent, an error when not a string. */
static int opt_string(const sbx_json *obj, const char *key, const char **out, const char *what,
		      struct sbx_error *err)
{
	const sbx_json *v = sbx_json_get(obj, key);

	*out = NULL;
	if (sbx_json_is_null(v))
		return 0;
	*out = sbx_json_string(v);
	if (*out == NULL)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: \"%s\" is not a string", what, key);
	return 0;
}

static int check_schema(const sbx_json *doc, const char *what, struct sbx_error *err)
{
	uint64_t version;

	if (!sbx_json_is_object(doc))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: not a JSON object", what);
	if (sbx_json_uint64(sbx_json_get(doc, "schemaVersion"), &version) < 0 || version != 2)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: schemaVersion is not 2", what);
	return 0;
}

static int parse_platform(const sbx_json *p, struct sbx_oci_descriptor *d, const char *what,
			  struct sbx_error *err)
{
	if (sbx_json_is_null(p))
		return 0;
	if (!sbx_json_is_object(p))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: platform is not an object", what);
	if (opt_string(p, "os", &d->os, what, err) < 0 || opt_string(p, "architecture", &d->architecture, what, err) < 0 ||
	    opt_string(p, "variant", &d->variant, what, err) < 0)
		return -1;
	return 0;
}

static int parse_descriptor(const sbx_json *v, const char *what, struct sbx_oci_descriptor *d,
			    struct sbx_error *err)
{
	const sbx_json *annotations;

	memset(d, 0, sizeof(*d));
	if (!sbx_json_is_object(v))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: not an object", what);
	if (opt_string(v, "mediaType", &d->media_type, what, err) < 0)
		return -1;
	if (d->media_type == NULL)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: no mediaType", what);
	d->kind = kind_of(d->media_type);
	if (sbx_digest_parse(sbx_json_string(sbx_json_get(v, "digest")), d->hex) < 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "%s: digest is not \"sha256:\" and 64 lowercase hex digits", what);
	if (sbx_json_uint64(sbx_json_get(v, "size"), &d->size) < 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: size is not a number of bytes", what);
	if (!sbx_json_is_null(sbx_json_get(v, "urls")))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "%s: foreign layers (urls) are not fetched by sbx", what);
	if (parse_platform(sbx_json_get(v, "platform"), d, what, err) < 0)
		return -1;
	annotations = sbx_json_get(v, "annotations");
	if (!sbx_json_is_null(annotations) && !sbx_json_is_object(annotations))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: annotations is not an object", what);
	return opt_string(annotations, SBX_OCI_REF_NAME, &d->ref_name, what, err);
}

/* A blob is one kind of document only: CVE-2021-41190 came from blobs that
 * were read as a manifest by one tool and an index by another. */
static int check_kind(const sbx_json *doc, enum sbx_oci_kind want, const char *what, struct sbx_error *err)
{
	const char *media_type;
	bool has_manifests = sbx_json_get(doc, "manifests") != NULL;
	bool has_image = sbx_json_get(doc, "config") != NULL || sbx_json_get(doc, "layers") != NULL;

	if (opt_string(doc, "mediaType", &media_type, what, err) < 0)
		return -1;
	if (media_type != NULL && kind_of(media_type) != want)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: mediaType %s is not an image %s", what,
				       media_type, want == SBX_OCI_KIND_INDEX ? "index" : "manifest");
	if (has_manifests && has_image)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "%s: has both \"manifests\" and \"config\"/\"layers\": refusing an ambiguous "
				       "document",
				       what);
	if (want == SBX_OCI_KIND_INDEX ? !has_manifests : !has_image)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: not an image %s", what,
				       want == SBX_OCI_KIND_INDEX ? "index" : "manifest");
	return 0;
}

static int parse_doc(const char *text, const char *what, sbx_json **doc, struct sbx_error *err)
{
	if (sbx_json_parse(text, what, doc, err) < 0) {
		err->status = SBX_EXIT_IMAGE_REFUSED;
		return -1;
	}
	return 0;
}

int sbx_oci_parse_index(const char *text, const char *what, struct sbx_oci_index *out, struct sbx_error *err)
{
	const sbx_json *list;
	char item[128];

	memset(out, 0, sizeof(*out));
	if (parse_doc(text, what, &out->doc, err) < 0)
		return -1;
	if (check_schema(out->doc, what, err) < 0 || check_kind(out->doc, SBX_OCI_KIND_INDEX, what, err) < 0)
		return -1;
	list = sbx_json_get(out->doc, "manifests");
	if (!sbx_json_is_array(list))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: manifests is not an array", what);
	if (sbx_json_array_size(list) > SBX_OCI_MAX_DESCRIPTORS)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: more than %d manifests", what,
				       SBX_OCI_MAX_DESCRIPTORS);
	for (size_t i = 0; i < sbx_json_array_size(list); i++) {
		snprintf(item, sizeof(item), "%.80s manifests[%zu]", what, i);
		if (parse_descriptor(sbx_json_array_at(list, i), item, &out->manifests[i], err) < 0)
			return -1;
		out->n++;
	}
	return 0;
}

int sbx_oci_parse_manifest(const char *text, const char *what, struct sbx_oci_manifest *out,
			   struct sbx_error *err)
{
	const sbx_json *layers;
	char item[128];

	memset(out, 0, sizeof(*out));
	if (parse_doc(text, what, &out->doc, err) < 0)
		return -1;
	if (check_schema(out->doc, what, err) < 0 || check_kind(out->doc, SBX_OCI_KIND_MANIFEST, what, err) < 0)
		return -1;
	snprintf(item, sizeof(item), "%.100s config", what);
	if (parse_descriptor(sbx_json_get(out->doc, "config"), item, &out->config, err) < 0)
		return -1;
	if (strcmp(out->config.media_type, OCI_CONFIG) != 0 && strcmp(out->config.media_type, DOCKER_CONFIG) != 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: config mediaType %s is not an image config",
				       what, out->config.media_type);
	layers = sbx_json_get(out->doc, "layers");
	if (!sbx_json_is_array(layers) || sbx_json_array_size(layers) == 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: layers is not a non-empty array", what);
	if (sbx_json_array_size(layers) > SBX_OCI_MAX_LAYERS)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: more than %d layers", what,
				       SBX_OCI_MAX_LAYERS);
	for (size_t i = 0; i < sbx_json_array_size(layers); i++) {
		struct sbx_oci_descriptor *d = &out->layers[i];

		snprintf(item, sizeof(item), "%.80s layers[%zu]", what, i);
		if (parse_descriptor(sbx_json_array_at(layers, i), item, d, err) < 0)
			return -1;
		if (!sbx_oci_layer_type_ok(d->media_type))
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
					       "%s: mediaType %s is not a layer sbx can unpack (tar, tar+gzip, "
					       "tar+zstd)",
					       item, d->media_type);
		out->n_layers++;
	}
	return 0;
}

/* NULL, or an array of strings. */
static int string_array(const sbx_json *obj, const char *key, const sbx_json **out, bool env,
			const char *what, struct sbx_error *err)
{
	const sbx_json *v = sbx_json_get(obj, key);

	*out = NULL;
	if (sbx_json_is_null(v))
		return 0;
	if (!sbx_json_is_array(v))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: config.%s is not an array", what, key);
	for (size_t i = 0; i < sbx_json_array_size(v); i++) {
		const char *s = sbx_json_string(sbx_json_array_at(v, i));

		if (s == NULL)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: config.%s[%zu] is not a string",
					       what, key, i);
		if (env && (strchr(s, '=') == NULL || !sbx_valid_env_name(s, (size_t)(strchr(s, '=') - s))))
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
					       "%s: config.Env[%zu] is not NAME=VALUE", what, i);
	}
	*out = v;
	return 0;
}

static int parse_run_config(const sbx_json *c, struct sbx_oci_image_config *out, const char *what,
			    struct sbx_error *err)
{
	if (sbx_json_is_null(c))
		return 0;
	if (!sbx_json_is_object(c))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: config is not an object", what);
	if (string_array(c, "Env", &out->env, true, what, err) < 0 ||
	    string_array(c, "Entrypoint", &out->entrypoint, false, what, err) < 0 ||
	    string_array(c, "Cmd", &out->cmd, false, what, err) < 0 ||
	    opt_string(c, "WorkingDir", &out->working_dir, what, err) < 0 || opt_string(c, "User", &out->user, what, err) < 0)
		return -1;
	if (out->working_dir != NULL && out->working_dir[0] != '\0' && out->working_dir[0] != '/')
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: config.WorkingDir is not absolute", what);
	return 0;
}

int sbx_oci_parse_image_config(const char *text, const char *what, struct sbx_oci_image_config *out,
			       struct sbx_error *err)
{
	const sbx_json *rootfs, *diff_ids;
	const char *type;

	memset(out, 0, sizeof(*out));
	if (parse_doc(text, what, &out->doc, err) < 0)
		return -1;
	if (!sbx_json_is_object(out->doc))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: not a JSON object", what);
	if (opt_string(out->doc, "os", &out->os, what, err) < 0 ||
	    opt_string(out->doc, "architecture", &out->architecture, what, err) < 0 ||
	    opt_string(out->doc, "created", &out->created, what, err) < 0)
		return -1;
	rootfs = sbx_json_get(out->doc, "rootfs");
	if (opt_string(rootfs, "type", &type, what, err) < 0)
		return -1;
	if (type == NULL || strcmp(type, "layers") != 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: rootfs.type is not \"layers\"", what);
	diff_ids = sbx_json_get(rootfs, "diff_ids");
	if (!sbx_json_is_array(diff_ids) || sbx_json_array_size(diff_ids) > SBX_OCI_MAX_LAYERS)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "%s: rootfs.diff_ids is not an array of at most %d",
				       what, SBX_OCI_MAX_LAYERS);
	for (size_t i = 0; i < sbx_json_array_size(diff_ids); i++) {
		if (sbx_digest_parse(sbx_json_string(sbx_json_array_at(diff_ids, i)), out->diff_ids[i]) < 0)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
					       "%s: rootfs.diff_ids[%zu] is not a sha256 digest", what, i);
		out->n_diff_ids++;
	}
	return parse_run_config(sbx_json_get(out->doc, "config"), out, what, err);
}

static int docker_entry(const sbx_json *img, size_t i, struct sbx_docker_manifest *out, struct sbx_error *err)
{
	const sbx_json *layers = sbx_json_get(img, "Layers");
	const sbx_json *tags = sbx_json_get(img, "RepoTags");

	out->config = sbx_json_string(sbx_json_get(img, "Config"));
	if (!sbx_oci_safe_relpath(out->config))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "manifest.json[%zu]: Config is not a plain relative path in the archive", i);
	if (!sbx_json_is_array(layers) || sbx_json_array_size(layers) == 0 ||
	    sbx_json_array_size(layers) > SBX_OCI_MAX_LAYERS)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
				       "manifest.json[%zu]: Layers is not an array of 1 to %d paths", i,
				       SBX_OCI_MAX_LAYERS);
	for (size_t l = 0; l < sbx_json_array_size(layers); l++) {
		out->layers[l] = sbx_json_string(sbx_json_array_at(layers, l));
		if (!sbx_oci_safe_relpath(out->layers[l]))
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
					       "manifest.json[%zu]: Layers[%zu] is not a plain relative path in the archive",
					       i, l);
	}
	out->n_layers = sbx_json_array_size(layers);
	out->repo_tag = sbx_json_string(sbx_json_array_at(tags, 0));
	return 0;
}

static bool has_tag(const sbx_json *img, const char *tag)
{
	const sbx_json *tags = sbx_json_get(img, "RepoTags");

	for (size_t i = 0; i < sbx_json_array_size(tags); i++) {
		const char *t = sbx_json_string(sbx_json_array_at(tags, i));

		if (t != NULL && strcmp(t, tag) == 0)
			return true;
	}
	return false;
}

int sbx_docker_parse_manifest(const char *text, const char *want_tag, struct sbx_docker_manifest *out,
			      struct sbx_error *err)
{
	size_t n, pick = 0;

	memset(out, 0, sizeof(*out));
	if (parse_doc(text, "manifest.json", &out->doc, err) < 0)
		return -1;
	n = sbx_json_array_size(out->doc);
	if (!sbx_json_is_array(out->doc) || n == 0)
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "manifest.json: not a non-empty array");
	if (n > 1) {
		for (pick = 0; want_tag != NULL && pick < n; pick++)
			if (has_tag(sbx_json_array_at(out->doc, pick), want_tag))
				break;
		if (want_tag == NULL || pick == n)
			return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0,
					       "the archive holds %zu images: give --name with one of their RepoTags", n);
	}
	if (!sbx_json_is_object(sbx_json_array_at(out->doc, pick)))
		return sbx_fail_status(err, SBX_EXIT_IMAGE_REFUSED, 0, "manifest.json[%zu]: not an object", pick);
	return docker_entry(sbx_json_array_at(out->doc, pick), pick, out, err);
}

void sbx_oci_index_free(struct sbx_oci_index *x)
{
	sbx_json_free(x->doc);
	x->doc = NULL;
}

void sbx_oci_manifest_free(struct sbx_oci_manifest *x)
{
	sbx_json_free(x->doc);
	x->doc = NULL;
}

void sbx_oci_image_config_free(struct sbx_oci_image_config *x)
{
	sbx_json_free(x->doc);
	x->doc = NULL;
}

void sbx_docker_manifest_free(struct sbx_docker_manifest *x)
{
	sbx_json_free(x->doc);
	x->doc = NULL;
}
