/* `sbx image import`: an OCI image layout, an OCI archive or a docker
 * archive into the store.  Every blob is checked against its digest and
 * size, every layer against the config's diff_ids, before anything is
 * unpacked; trees are built beside the published ones and appear by
 * rename, so a failed or interrupted import changes nothing that is used. */
#ifndef SBX_IMPORT_H
#define SBX_IMPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"
#include "unpack.h"

struct sbx_import_progress {
	const char *phase; /* "checking" or "unpacking" */
	size_t layer;      /* 1-based */
	size_t layers;
	uint64_t bytes; /* done in this phase, over all layers */
};

struct sbx_import_options {
	const char *path;
	const char *name; /* NAME[:TAG], or NULL: from the image's annotations */
	const char *store;
	struct sbx_unpack_limits limits;
	void (*progress)(const struct sbx_import_progress *p, void *ctx);
	void *progress_ctx;
};

struct sbx_import_result {
	struct sbx_image_ref ref;
	char id_hex[SBX_SHA256_HEX + 1];
	size_t layers, layers_unpacked, layers_reused;
	struct sbx_unpack_stats stats;
	char *record; /* the record's JSON text, malloc'd */
	char rootfs[PATH_MAX + 80]; /* the image's tree */
};

/* The caller blocks SIGINT, SIGTERM and SIGHUP (see imagens.h). */
int sbx_image_import(const struct sbx_import_options *o, struct sbx_import_result *res, struct sbx_error *err);

/* The platform images are chosen for: "linux/amd64" on x86-64. */
const char *sbx_image_platform(void);

#endif
