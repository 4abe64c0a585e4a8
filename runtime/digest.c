#include "digest.h"

#include <string.h>

#include "dynlib.h"
#include "util.h"

#ifndef SBX_LIBNETTLE_SONAME
#define SBX_LIBNETTLE_SONAME "libnettle.so.8"
#endif

struct sbx_nettle {
	void (*init)(struct sha256_ctx *);
	void (*update)(struct sha256_ctx *, size_t, const uint8_t *);
	void (*digest)(struct sha256_ctx *, size_t, uint8_t *);
};

static const struct sbx_dynlib_symbol symbols[] = {
	{ "nettle_sha256_init", offsetof(struct sbx_nettle, init) },
	{ "nettle_sha256_update", offsetof(struct sbx_nettle, update) },
	{ "nettle_sha256_digest", offsetof(struct sbx_nettle, digest) },
};

int sbx_sha256_begin(struct sbx_sha256 *h, struct sbx_error *err)
{
	static struct sbx_nettle lib;
	static void *handle;

	if (sbx_dynlib_load(&handle, SBX_LIBNETTLE_SONAME, "libnettle8", symbols, SBX_ARRAY_SIZE(symbols), &lib,
			    err) < 0)
		return -1;
	h->lib = &lib;
	lib.init(&h->ctx);
	return 0;
}

void sbx_sha256_update(struct sbx_sha256 *h, const void *data, size_t len)
{
	h->lib->update(&h->ctx, len, data);
}

void sbx_sha256_end(struct sbx_sha256 *h, char hex[SBX_SHA256_HEX + 1])
{
	static const char digits[] = "0123456789abcdef";
	uint8_t raw[SHA256_DIGEST_SIZE];

	h->lib->digest(&h->ctx, sizeof(raw), raw);
	for (size_t i = 0; i < sizeof(raw); i++) {
		hex[2 * i] = digits[raw[i] >> 4];
		hex[2 * i + 1] = digits[raw[i] & 15];
	}
	hex[SBX_SHA256_HEX] = '\0';
}

int sbx_sha256_data(const void *data, size_t len, char hex[SBX_SHA256_HEX + 1], struct sbx_error *err)
{
	struct sbx_sha256 h;

	if (sbx_sha256_begin(&h, err) < 0)
		return -1;
	sbx_sha256_update(&h, data, len);
	sbx_sha256_end(&h, hex);
	return 0;
}

int sbx_digest_parse(const char *digest, char hex[SBX_SHA256_HEX + 1])
{
	static const char prefix[] = "sha256:";

	if (digest == NULL || strncmp(digest, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	digest += sizeof(prefix) - 1;
	if (strlen(digest) != SBX_SHA256_HEX || strspn(digest, "0123456789abcdef") != SBX_SHA256_HEX)
		return -1;
	memcpy(hex, digest, SBX_SHA256_HEX + 1);
	return 0;
}
