#include "dynlib.h"

#include <dlfcn.h>

int sbx_dynlib_load(void **handle, const char *soname, const char *package,
		    const struct sbx_dynlib_symbol *symbols, size_t n, void *table, struct sbx_error *err)
{
	void *h;

	if (*handle != NULL)
		return 0;
	h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		return sbx_fail(err, 0, "loading %s: %s (install %s)", soname, dlerror(), package);
	for (size_t i = 0; i < n; i++) {
		void *fn = dlsym(h, symbols[i].name);

		if (fn == NULL) {
			dlclose(h);
			return sbx_fail(err, 0, "%s has no %s (install a newer %s)", soname, symbols[i].name,
					package);
		}
		*(void **)((char *)table + symbols[i].offset) = fn;
	}
	*handle = h;
	return 0;
}
