/* libFuzzer target: the JSON documents of an image (index, manifest,
 * config, a docker archive's manifest.json) come from whoever made the
 * image.  Each parser gets every input; none may crash, leak or read out of
 * bounds, and what they accept must survive being written out again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci.h"

static void rewrite(const sbx_json *doc)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	struct sbx_error err = { 0 };
	char *text = NULL;

	if (g == NULL)
		return;
	sbx_json_gen_value(g, NULL, doc);
	if (sbx_json_gen_text(g, &text, &err) == 0)
		free(text);
	yajl_gen_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sbx_error err = { 0 };
	char *text = malloc(size + 1);
	struct sbx_oci_index *x = calloc(1, sizeof(*x));
	struct sbx_oci_manifest *m = calloc(1, sizeof(*m));
	struct sbx_oci_image_config *c = calloc(1, sizeof(*c));
	struct sbx_docker_manifest *d = calloc(1, sizeof(*d));

	if (text && x && m && c && d) {
		memcpy(text, data, size);
		text[size] = '\0';
		if (sbx_oci_parse_index(text, "fuzz", x, &err) == 0)
			rewrite(x->doc);
		if (sbx_oci_parse_manifest(text, "fuzz", m, &err) == 0)
			rewrite(m->doc);
		if (sbx_oci_parse_image_config(text, "fuzz", c, &err) == 0)
			rewrite(c->doc);
		sbx_docker_parse_manifest(text, size % 2 ? "a:b" : NULL, d, &err);
		sbx_oci_index_free(x);
		sbx_oci_manifest_free(m);
		sbx_oci_image_config_free(c);
		sbx_docker_manifest_free(d);
	}
	free(text);
	free(x);
	free(m);
	free(c);
	free(d);
	return 0;
}
