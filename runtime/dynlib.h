/* Libraries that only the image commands need, loaded when they run.
 * Linked into sbx, libarchive's dependency chain (libxml2, ICU, nettle...)
 * cost every `sbx run` ~2.5 ms of start-up for code it never calls. */
#ifndef SBX_DYNLIB_H
#define SBX_DYNLIB_H

#include <stddef.h>

#include "error.h"

struct sbx_dynlib_symbol {
	const char *name;
	size_t offset; /* of the function pointer in the caller's table */
};

/* dlopen SONAME and fill the function pointers of TABLE named by SYMBOLS.
 * *HANDLE caches the library: once loaded, nothing is done again.  PACKAGE
 * is the Debian package to name in the error. */
int sbx_dynlib_load(void **handle, const char *soname, const char *package,
		    const struct sbx_dynlib_symbol *symbols, size_t n, void *table, struct sbx_error *err);

#endif
