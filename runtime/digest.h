/* sha256 digests of image blobs, with nettle (loaded when an image command
 * needs it, see dynlib.h), and the "sha256:<hex>" form OCI writes them in. */
#ifndef SBX_DIGEST_H
#define SBX_DIGEST_H

#include <nettle/sha2.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define SBX_SHA256_HEX 64

struct sbx_sha256 {
	const struct sbx_nettle *lib;
	struct sha256_ctx ctx;
};

int sbx_sha256_begin(struct sbx_sha256 *h, struct sbx_error *err);
void sbx_sha256_update(struct sbx_sha256 *h, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL. */
void sbx_sha256_end(struct sbx_sha256 *h, char hex[SBX_SHA256_HEX + 1]);

/* The digest of LEN bytes at DATA, in one call. */
int sbx_sha256_data(const void *data, size_t len, char hex[SBX_SHA256_HEX + 1], struct sbx_error *err);

/* Accept only "sha256:" and exactly 64 lowercase hex digits, the form that
 * is also safe as a file name; HEX gets the digits.  Returns -1 otherwise. */
int sbx_digest_parse(const char *digest, char hex[SBX_SHA256_HEX + 1]);

#endif
