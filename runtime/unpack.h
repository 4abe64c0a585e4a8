/* Unpacking OCI image layers (tar, gzip or zstd) into a root directory.
 * Every byte of a layer is hostile: no entry may create, change or remove
 * anything outside the root.  Each path is resolved inside the root
 * (openat2 RESOLVE_IN_ROOT) for its parent, never followed for its last
 * component, and ".." is refused outright. */
#ifndef SBX_UNPACK_H
#define SBX_UNPACK_H

#include <stdbool.h>
#include <stdint.h>

#include "error.h"

struct sbx_unpack_limits {
	uint64_t max_bytes;   /* uncompressed file data, over all layers */
	uint64_t max_entries; /* over all layers */
	unsigned int max_depth;
};

#define SBX_UNPACK_DEFAULT_LIMITS ((struct sbx_unpack_limits){ 16ULL << 30, 1000000, 256 })

struct sbx_unpack_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t whiteouts;
	uint64_t devices_skipped; /* device nodes and sockets are never created */
	uint64_t xattrs_skipped;
	uint64_t setid_stripped; /* files whose setuid/setgid bits were dropped */
};

#define SBX_UNPACK_OWNERS 1u /* apply the entries' uid/gid (as far as the caller may) */
#define SBX_UNPACK_SETID 2u  /* keep the setuid/setgid bits of files (else dropped) */

/* Apply the layer read from LAYER_FD on top of the tree at ROOTFD; FLAGS
 * are SBX_UNPACK_*.  STATS accumulates across layers and LIMITS apply to
 * the totals. */
int sbx_unpack_layer(int rootfd, int layer_fd, const struct sbx_unpack_limits *limits, unsigned int flags,
		     struct sbx_unpack_stats *stats, struct sbx_error *err);

#endif
